/* mapi.h — the Linux stand-in for MAPI: a local profile store, MS-OXCDATA
 * EntryIDs and property tags, the switch message format, and the network half
 * that reaches Exchange (Autodiscover, EWS transport, store session).
 *
 * Parts 1–3 need no network (profile.c, entryid.c, props.c, switchmsg.c);
 * Parts 4–6 talk to Exchange (autodiscover.c, ews_*.c, session.c).
 * Depends on util/ only (and libcurl, libxml2).
 *
 * Ownership: every pointer returned says who frees it in the line above the
 * prototype; *_free functions are NULL-safe. */
#ifndef MAPI_H
#define MAPI_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ==== Part 1: profile store (profile.c) ==== */

/* ==== end Part 1 ==== */

/* ==== Part 2: EntryIDs and properties (entryid.c, props.c) ==== */

/* ==== end Part 2 ==== */

/* ==== Part 3: switch message values and format (switchmsg.c) ==== */

/* ==== end Part 3 ==== */

/* ==== Part 4: Autodiscover client (autodiscover.c) ==== */

/* ==== end Part 4 ==== */

/* ==== Part 5: EWS transport (ews_*.c) ==== */

/* ==== end Part 5 ==== */

/* ==== Part 6: store session (session.c) ==== */

/* ==== end Part 6 ==== */

#endif /* MAPI_H */
