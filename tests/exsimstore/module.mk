# tests/exsimstore: only this fragment — the CUnit test of the Exchange
# simulator's store half (tests/exsim/store*.c, ids.c, ews_*.c), linked
# without the server half (main.c, http, soap.c): the test carries its own
# stand-ins for the three soap.c helpers.  Lives one level under tests/ so
# the Makefile's `tests/*/module.mk` wildcard picks it up.
TESTS += test_exsim_store
test_exsim_store_SRCS := tests/exsim/test/test_exsim_store.c \
    $(sort $(wildcard tests/exsim/store*.c tests/exsim/ids.c tests/exsim/ews_*.c))
test_exsim_store_USES := testutil util
test_exsim_store_LDLIBS := -lcunit $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
