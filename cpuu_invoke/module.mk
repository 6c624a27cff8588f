# cpuu_invoke/: run the engine as a child under the watchdog; decode its exit.
MODULES += cpuu_invoke
cpuu_invoke_SRCS := cpuu_invoke/cpuu_invoke.c
cpuu_invoke_LDLIBS :=

TESTS += test_cpuu_invoke
test_cpuu_invoke_SRCS := tests/unit/test_cpuu_invoke.c
test_cpuu_invoke_USES := cpuu_invoke util
test_cpuu_invoke_LDLIBS := -lcunit
