# cpuu_invoke/: run the engine as a child under the watchdog; decode its exit.
MODULES += cpuu_invoke
cpuu_invoke_SRCS := cpuu_invoke/cpuu_invoke.c
cpuu_invoke_LDLIBS :=
