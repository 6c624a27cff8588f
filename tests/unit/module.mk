# tests/unit: CUnit suites, one binary per module (tests/unit/test_<module>.c).
TESTS += test_util
test_util_SRCS := tests/unit/test_util.c
test_util_USES := util
test_util_LDLIBS := -lcunit
