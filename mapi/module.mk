# mapi/: profile store, EntryIDs and properties, Autodiscover, EWS transport,
# store session, switch message.  Public header: mapi/mapi.h.
MODULES += mapi
mapi_SRCS := $(sort $(wildcard mapi/*.c))
mapi_LDLIBS := -lcurl $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2) \
    $(shell pkg-config --libs krb5-gssapi jansson libcrypto 2>/dev/null || echo -lgssapi_krb5 -ljansson -lcrypto)

# Profile store, EntryIDs, properties, switch message format (no network).
TESTS += $(if $(wildcard tests/unit/test_mapi_store.c),test_mapi_store)
test_mapi_store_SRCS := tests/unit/test_mapi_store.c
test_mapi_store_USES := mapi util
test_mapi_store_LDLIBS := -lcunit

# Autodiscover, EWS transport and store session against tests/exsim.
TESTS += $(if $(wildcard tests/integration/test_mapi_ews.c),test_mapi_ews)
test_mapi_ews_SRCS := tests/integration/test_mapi_ews.c
test_mapi_ews_USES := mapi testutil util
test_mapi_ews_LDLIBS := -lcunit

TESTS += test_mapi_ewsreq
test_mapi_ewsreq_SRCS := tests/unit/test_mapi_ewsreq.c
test_mapi_ewsreq_USES := mapi testutil util
test_mapi_ewsreq_LDLIBS := -lcunit -lpthread

# OAuth2 app-only client against glewlwyd (the Entra ID stand-in of
# $SHARED_DIR/labs/oauth-entra-standin.md), started by the test.
TESTS += $(if $(wildcard tests/integration/test_mapi_oauth.c),test_mapi_oauth)
test_mapi_oauth_SRCS := tests/integration/test_mapi_oauth.c
test_mapi_oauth_USES := mapi testutil util
test_mapi_oauth_LDLIBS := -lcunit
