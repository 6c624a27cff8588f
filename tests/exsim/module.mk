# tests/exsim: the Exchange simulator (a test tool, built to bin/exsim).
PROGRAMS += exsim
exsim_SRCS := $(sort $(wildcard tests/exsim/*.c))
exsim_USES := util
# GSSAPI (Negotiate), jansson + libcrypto (JWT, NTLMv2), libcurl (the JWKS fetch)
exsim_LDLIBS := -lmicrohttpd $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2) -lpthread \
    $(shell pkg-config --libs krb5-gssapi jansson libcurl libcrypto 2>/dev/null || \
        echo -lgssapi_krb5 -ljansson -lcurl -lcrypto)
