# mapi/: profile store, EntryIDs and properties, Autodiscover, EWS transport,
# store session, switch message; Microsoft Graph (graph*.c).  Public headers:
# mapi/mapi.h, and mapi/graph.h for Graph (jansson).
MODULES += mapi
mapi_SRCS := $(sort $(wildcard mapi/*.c))
mapi_LDLIBS := -lcurl $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2) \
    $(shell pkg-config --libs krb5-gssapi jansson libcrypto 2>/dev/null || echo -lgssapi_krb5 -ljansson -lcrypto)
