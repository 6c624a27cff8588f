# cpuu/: the update engine.  cpuu_core = everything but main.c and watchdog.c
# (the standalone watchdog around the engine), so tests link it.
MODULES += cpuu_core
cpuu_core_SRCS := $(sort $(filter-out cpuu/main.c cpuu/watchdog.c,$(wildcard cpuu/*.c)))
cpuu_core_LDLIBS := -lcurl

PROGRAMS += $(if $(wildcard cpuu/main.c),cpuu)
cpuu_SRCS := cpuu/main.c cpuu/watchdog.c
cpuu_USES := cpuu_core cpuu_invoke mapi ldap configs util

# Engine: modes, profiles, CSV, exit bits (against exsim + slapd lab).
TESTS += $(if $(wildcard tests/integration/test_cpuu_engine.c),test_cpuu_engine)
test_cpuu_engine_SRCS := tests/integration/test_cpuu_engine.c
test_cpuu_engine_USES := cpuu_core cpuu_invoke mapi ldap configs testutil util
test_cpuu_engine_LDLIBS := -lcunit

# Recipient map and the features (against exsim + slapd lab).
TESTS += $(if $(wildcard tests/integration/test_cpuu_features.c),test_cpuu_features)
test_cpuu_features_SRCS := tests/integration/test_cpuu_features.c
test_cpuu_features_USES := cpuu_core mapi ldap configs testutil util
test_cpuu_features_LDLIBS := -lcunit
TESTS += test_nicks_stream
test_nicks_stream_SRCS := tests/unit/test_nicks_stream.c
test_nicks_stream_USES := cpuu_core mapi ldap configs util
test_nicks_stream_LDLIBS := -lcunit
TESTS += test_cpuu_notify
test_cpuu_notify_SRCS := tests/integration/test_cpuu_notify.c
test_cpuu_notify_USES := cpuu_core mapi ldap configs testutil util
test_cpuu_notify_LDLIBS := -lcunit
