# mapi/: profile store, EntryIDs and properties, Autodiscover, EWS transport,
# store session, switch message.  Public header: mapi/mapi.h.
MODULES += mapi
mapi_SRCS := $(sort $(wildcard mapi/*.c))
mapi_LDLIBS := -lcurl $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
