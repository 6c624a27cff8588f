/* mapi.h — the Linux stand-in for MAPI, as one include for code that uses
 * all of it.  It only includes the three headers that hold the API:
 *   mapi/profile.h  the local profile store (no network);
 *   mapi/eid.h      MS-OXCDATA GUIDs, property tags, extended properties,
 *                   EntryIDs and the switch message format (no network);
 *   mapi/ews.h      Autodiscover, the EWS transport, builders, parsers, XML
 *                   helpers and the store session (libcurl, libxml2).
 * Include the narrower header when a file needs only one part.
 * Depends on util/ only (and libcurl, libxml2 through mapi/ews.h).
 * Ownership: stated in each sub-header. */
#ifndef MAPI_H
#define MAPI_H

#include "mapi/eid.h"
#include "mapi/ews.h"
#include "mapi/profile.h"

#endif /* MAPI_H */
