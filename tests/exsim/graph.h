/* graph.h — the simulator's Microsoft Graph half: the contract between
 * graph.c (server side: routing, bearer JWT and roles, throttling, $batch)
 * and the handlers over the store (graph_users.c, graph_rules.c,
 * graph_calendar.c).  Graph reads and writes the SAME store as EWS, so what a
 * Graph client writes shows in GetInboxRules, GetDelegate and /_sim/state.
 *
 * Handlers run with exsim_srv.store_lock held (graph.c takes it); they build
 * c->out (a jansson object, owned by the call) and return the HTTP status.
 * Error bodies have Graph's shape {"error":{"code","message","innerError"}}
 * (https://learn.microsoft.com/graph/errors). */
#ifndef EXSIM_GRAPH_H
#define EXSIM_GRAPH_H

#include "tests/exsim/store.h"

#include <jansson.h>

#define EXSIM_GRAPH_MAX_SEGS 12

typedef struct exsim_gcall {
    exsim_org *org;
    const char *method;                 /* GET POST PATCH DELETE */
    int beta;                           /* /beta rather than /v1.0 */
    exsim_mbx *mbx;                     /* the mailbox /users/{id} names, or NULL */
    const char *user_key;               /* the {id} segment as sent */
    const char *seg[EXSIM_GRAPH_MAX_SEGS]; /* the segments after /users/{id} */
    int nseg;
    const char *filter, *select;        /* $filter, $select (decoded) or NULL */
    json_t *body;                       /* request body (an object) or NULL */
    json_t *out;                        /* answer body; NULL = none (204) */
} exsim_gcall;

/* Set c->out to Graph's error object; returns status for the handler to return. */
int exsim_graph_error(exsim_gcall *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Graph ids of store objects: the EWS id in the URL-safe base64 alphabet
 * ('+' '/' → '-' '_'), which is what translateExchangeIds turns an ewsId into
 * as a restId.  Caller frees. */
char *exsim_graph_id(const exsim_mbx *m, int kind, uint64_t counter);
/* The <folder> of m a Graph folder id names, or NULL. */
xmlNodePtr exsim_graph_folder(exsim_mbx *m, const char *graph_id);
/* A {mailFolderId} segment: a well-known name (Graph's wellKnownName values
 * are EWS's DistinguishedFolderId names, any case) or a Graph folder id. */
xmlNodePtr exsim_graph_folder_ref(exsim_mbx *m, const char *ref);
/* The "@odata.context" URL for what follows $metadata# (e.g. "users/$entity"). */
json_t *exsim_graph_context(const exsim_gcall *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- graph_csdl.c: bodies against the v1.0 metadata (--graph-csdl) ---- */
/* Load the CSDL file; 0 ok, -1 with a message printed. */
int exsim_graph_csdl_load(const char *path);
void exsim_graph_csdl_free(void);
int exsim_graph_csdl_loaded(void);
/* Check v against microsoft.graph.<type>; 0 ok (or no metadata loaded), -1
 * with the ODataException-like reason in err. */
int exsim_graph_csdl_check(json_t *v, const char *type, char *err, size_t errlen);

/* ---- handlers (graph_users.c, graph_rules.c, graph_calendar.c) ---- */
/* GET /users/{id} */
int exsim_graph_user_get(exsim_gcall *c);
/* GET /users?$filter=mail eq '..' | proxyAddresses/any(x:x eq 'smtp:..') */
int exsim_graph_users_list(exsim_gcall *c);
/* /users/{id}/mailFolders/inbox/messageRules[/{rid}] */
int exsim_graph_rules(exsim_gcall *c);
/* /users/{id}/calendar/calendarPermissions[/{pid}] */
int exsim_graph_calperms(exsim_gcall *c);
/* /users/{id}/mailboxSettings */
int exsim_graph_mailbox_settings(exsim_gcall *c);
/* beta /users/{id}/mailFolders/{id}/userConfigurations[/{key}] (graph_userconfig.c) */
int exsim_graph_userconfig(exsim_gcall *c);
/* /users/{id}/contacts[/{id}], /users/{id}/contactFolders/{id}/contacts (graph_contacts.c) */
int exsim_graph_contacts(exsim_gcall *c);
/* graph_search.c: a search folder's t:Restriction as an OData filterQuery
 * (malloc'd; NULL when it holds what the subset cannot say), and back (a new
 * t:Restriction of org's document, unlinked; NULL when unsupported). */
char *exsim_graph_filter_of(xmlNodePtr restriction);
xmlNodePtr exsim_graph_restriction_of(exsim_org *org, const char *filter);
/* /users/{id}/mailFolders/{id}[/childFolders] (graph_folders.c) */
int exsim_graph_folders(exsim_gcall *c);

#endif
