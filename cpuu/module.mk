# cpuu/: the update engine.  cpuu_core = everything but main.c and watchdog.c
# (the standalone watchdog around the engine), so tests link it.
MODULES += cpuu_core
cpuu_core_SRCS := $(sort $(filter-out cpuu/main.c cpuu/watchdog.c,$(wildcard cpuu/*.c)))
cpuu_core_LDLIBS := -lcurl

PROGRAMS += cpuu
cpuu_SRCS := cpuu/main.c cpuu/watchdog.c
cpuu_USES := cpuu_core cpuu_invoke mapi ldap configs util
