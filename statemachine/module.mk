# statemachine/: generic table-driven state machine with a SQLite journal.
MODULES += statemachine
statemachine_SRCS := statemachine/statemachine.c
statemachine_LDLIBS := -lsqlite3

TESTS += test_statemachine
test_statemachine_SRCS := tests/unit/test_statemachine.c
test_statemachine_USES := statemachine util
test_statemachine_LDLIBS := -lcunit
