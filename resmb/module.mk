# resmb/: the switchresmb executable (for now: the command line front end).
PROGRAMS += switchresmb
switchresmb_SRCS := resmb/main.c resmb/password.c resmb/summary.c
switchresmb_USES := configs util
switchresmb_LDLIBS :=
