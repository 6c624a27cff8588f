/* mapi/graph.h — Microsoft Graph (REST + JSON) for an Exchange Online target
 * (issue 17 §2): the way to reach an Office 365 mailbox once EWS is blocked
 * for the app or switched off (2027-04-01).
 *
 *   graph.c        the client: app-only bearer token for the Graph audience,
 *                  one request, paging through @odata.nextLink, Graph's error
 *                  JSON as an sr_err, Retry-After;
 *   graph_batch.c  JSON batching ($batch): up to 20 requests per POST,
 *                  dependsOn, per-request results, throttled sub-requests
 *                  retried alone, at most 4 concurrent requests per mailbox;
 *   graph_proto.c  which protocol a side uses (EWS, Graph, Auto).
 *
 * Depends on util/, mapi/ews.h (the network handle: TLS, proxy, OAuth2
 * client, bounded retries) and jansson (the JSON library of mapi/oauth.c).
 * Not included by mapi/mapi.h: only code that speaks Graph needs jansson.
 *
 * Ownership: a mapi_graph is freed with mapi_graph_free (NULL-safe); JSON
 * bodies given to a request stay the caller's; JSON answers (req->resp) are
 * freed with mapi_graph_req_clear; other heap returns say so above them. */
#ifndef MAPI_GRAPH_H
#define MAPI_GRAPH_H

#include <jansson.h>
#include <stddef.h>

#include "mapi/ews.h"
#include "util/util.h"

/* Documented defaults: the global service and its token audience. */
#define MAPI_GRAPH_BASE_URL "https://graph.microsoft.com"
#define MAPI_GRAPH_RESOURCE "https://graph.microsoft.com"
/* JSON batching: "up to 20" requests per $batch (Graph json-batching). */
#define MAPI_GRAPH_BATCH_MAX 20
/* Outlook service limit: 4 concurrent requests per app and mailbox. */
#define MAPI_GRAPH_MAILBOX_CONCURRENCY 4

typedef struct mapi_graph mapi_graph;

typedef struct mapi_graph_opts {
    const char *base_url;   /* NULL → MAPI_GRAPH_BASE_URL; a sovereign cloud
                             * (graph.microsoft.us, microsoftgraph.chinacloudapi.cn)
                             * or a test server */
    const char *resource;   /* token audience; NULL → MAPI_GRAPH_RESOURCE */
    unsigned max_pages;     /* paging bound; 0 → 1000 */
} mapi_graph_opts;

/* A Graph client on its own network handle: net's credentials, TLS, proxy
 * and limits, with the token asked for the Graph resource (a handle caches
 * the token of its one resource, so EWS and Graph tokens never mix; one
 * Graph client per side reuses its connections) and at most
 * MAPI_GRAPH_MAILBOX_CONCURRENCY requests in flight.  net must use OAuth2
 * (Graph has no other app-only logon): else SR_E_CONFIG.  Strings are
 * copied.  Caller frees with mapi_graph_free. */
mapi_graph *mapi_graph_new(const mapi_netopts *net, const mapi_graph_opts *g, sr_err *err);
void mapi_graph_free(mapi_graph *g);

/* One Graph request.  path is relative to the version, starting with '/'
 * ("/users/{id}/mailFolders/inbox/messageRules"; build it with
 * mapi_graph_user_path).  For $batch, id correlates the answer (NULL: the
 * request's index + 1) and depends_on names one earlier request's id. */
typedef struct mapi_graph_req {
    const char *method;       /* "GET" (NULL), "POST", "PATCH", "DELETE" */
    const char *path;
    const char *version;      /* NULL → "v1.0"; "beta" for beta-only APIs */
    json_t *body;             /* borrowed; NULL for none */
    const char *id;           /* $batch only */
    const char *depends_on;   /* $batch only */
    /* outputs */
    long status;              /* HTTP status of this request (0: never answered) */
    json_t *resp;             /* answer body (NULL on 204); freed by mapi_graph_req_clear */
    sr_err err;               /* SR_OK on 2xx, else Graph's code and message */
} mapi_graph_req;

void mapi_graph_req_clear(mapi_graph_req *r);

/* The bearer token for the Graph audience, fetched now or reused: a probe
 * that tells "no token" apart from what Graph answers.  SR_OK or the
 * OAuth2 client's error (its message names the client, never a secret). */
sr_code mapi_graph_token(mapi_graph *g, sr_err *err);

/* Send one request; 429 and 503 (and 504 unless a POST) are retried after
 * Retry-After within the handle's budget (max_retries, max_backoff_ms).
 * Returns r->err.code. */
sr_code mapi_graph_call(mapi_graph *g, mapi_graph_req *r);

/* GET a collection and follow @odata.nextLink (only links on the client's
 * own base URL: the bearer token goes nowhere else), at most max_pages
 * pages (SR_E_LIMIT beyond).  *values gets a new array of every "value"
 * item (caller json_decref's). */
sr_code mapi_graph_get_all(mapi_graph *g, const char *path, const char *version,
                           json_t **values, sr_err *err);

/* Run n requests through $batch: batches of at most MAPI_GRAPH_BATCH_MAX,
 * a request that depends on another in the same batch as it, at most
 * MAPI_GRAPH_MAILBOX_CONCURRENCY concurrent requests per mailbox
 * (/users/{id}/...), one batch in flight at a time.  Sub-requests answered
 * 429/503 (504 unless a POST, which may have been applied) are sent again
 * alone after their Retry-After, each within the handle's budget
 * (max_retries, max_backoff_ms per request, as for EWS).  Every reqs[i] gets its own outcome; a request whose
 * dependency failed gets 424 (as Graph answers).  Returns SR_OK when every
 * request succeeded, else the first failure's code (*err its message). */
sr_code mapi_graph_batch(mapi_graph *g, mapi_graph_req *reqs, size_t n, sr_err *err);

/* "/users/<user, percent-encoded>" followed by rest ("" or "/..."); heap
 * (caller frees), NULL on OOM. */
char *mapi_graph_user_path(const char *user, const char *rest);

/* ---- pure parts (graph.c, graph_batch.c): exposed for unit tests --------- */

/* Graph's error JSON ({"error":{"code","message"}}) and the HTTP status as
 * an sr_err: known Graph codes by name (a sorted table), else by status;
 * 429/503/504 are SR_E_BUSY with cls WAIT.  what names the request.
 * Returns the code set. */
sr_code mapi_graph_error(long status, const char *body, const char *what, sr_err *err);
/* Non-zero when the Graph error-code table is sorted, as bsearch needs. */
int mapi_graph_code_table_sorted(void);

/* A Retry-After value (RFC 9110 10.2.3: delta-seconds or an HTTP-date) in
 * ms from now, capped at cap_ms; -1 when absent or unreadable. */
long mapi_graph_retry_after_ms(const char *value, long cap_ms);

/* The mailbox a request addresses: the {id} of "/users/{id}/...", lower
 * case, into out (size outlen); "" when none.  Decides per-mailbox
 * concurrency. */
void mapi_graph_path_mailbox(const char *path, char *out, size_t outlen);

/* The pending requests q[0..n) (in order, ids[i] the id of q[i]): how many
 * of them (k >= 1 when n > 0) go into the next batch, within
 * MAPI_GRAPH_BATCH_MAX, one version, and MAPI_GRAPH_MAILBOX_CONCURRENCY
 * concurrent requests per mailbox; a dependent runs in its dependency's
 * chain unless that already has a dependent. */
size_t mapi_graph_batch_split(mapi_graph_req *const *q, const char *const *ids, size_t n);

/* The $batch request body for q[0..k): {"requests":[...]} with id, method,
 * url, body with its Content-Type header, and dependsOn when the dependency
 * is in the batch (one outside it finished before).  Heap (caller frees),
 * NULL on OOM. */
char *mapi_graph_batch_body(mapi_graph_req *const *q, const char *const *ids, size_t k);

/* Read a $batch answer into q[0..k) (matched by id, in any order): status,
 * resp and err each; a request left unanswered gets SR_E_PROTOCOL.
 * *retry_ms: the largest Retry-After of a throttled (429/503/504) answer,
 * 0 when none.  SR_E_PROTOCOL when the body is no batch answer. */
sr_code mapi_graph_batch_read(const char *body, mapi_graph_req *const *q, const char *const *ids,
                              size_t k, long *retry_ms, sr_err *err);

/* ---- which protocol a side uses (graph_proto.c) -------------------------- */
/* The values of configs' cfg_protocol (CPUU.ini Protocol, ProtocolTrg), in
 * the same order. */
typedef enum {
    MAPI_PROTO_AUTO = 0,    /* Graph for Exchange Online when EWS is refused, EWS otherwise */
    MAPI_PROTO_EWS,
    MAPI_PROTO_GRAPH
} mapi_proto;

/* "Auto", "EWS", "Graph"; static. */
const char *mapi_proto_name(mapi_proto p);

/* The protocol to use for a side: configured as set; exchange_online for an
 * Office 365 side; ews_probe the outcome of EWS on it (SR_OK, or the code
 * of a failed probe: SR_E_EWS_BLOCKED when EWS answered 403 blocked; SR_OK
 * when not probed).  Auto gives Graph only for Exchange Online with EWS
 * blocked; Graph on a side that is not Exchange Online is returned as is
 * (the caller's validation refuses it).  Never returns MAPI_PROTO_AUTO. */
mapi_proto mapi_proto_decide(mapi_proto configured, int exchange_online, sr_code ews_probe);

#endif /* MAPI_GRAPH_H */
