# statemachine/: generic table-driven state machine with a SQLite journal.
MODULES += statemachine
statemachine_SRCS := statemachine/statemachine.c
statemachine_LDLIBS := -lsqlite3
