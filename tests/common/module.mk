# tests/common: helpers for tests that start real servers (not part of the product).
MODULES += testutil
testutil_SRCS := tests/common/testutil.c
testutil_LDLIBS := -lcunit -lcurl $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
