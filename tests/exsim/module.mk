# tests/exsim: the Exchange simulator (a test tool, built to bin/exsim).
PROGRAMS += $(if $(wildcard tests/exsim/main.c),exsim)
exsim_SRCS := $(sort $(wildcard tests/exsim/*.c))
exsim_USES := util
exsim_LDLIBS := -lmicrohttpd $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2) -lpthread \
    $(shell pkg-config --libs krb5-gssapi jansson libcurl libcrypto 2>/dev/null || \
        echo -lgssapi_krb5 -ljansson -lcurl -lcrypto)

TESTS += $(if $(wildcard tests/exsim/test/test_exsim.c),test_exsim)
test_exsim_SRCS := tests/exsim/test/test_exsim.c
test_exsim_USES := testutil util
test_exsim_LDLIBS := -lcunit -lcurl $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
