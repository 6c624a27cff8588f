# cpuu/: the update engine.  cpuu_core = everything but main.c, so tests link it.
MODULES += cpuu_core
cpuu_core_SRCS := $(sort $(filter-out cpuu/main.c,$(wildcard cpuu/*.c)))
cpuu_core_LDLIBS := -lcurl

PROGRAMS += cpuu
cpuu_SRCS := cpuu/main.c
cpuu_USES := cpuu_core mapi ldap configs util
