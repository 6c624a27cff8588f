/* ews_int.h — private to mapi/: the network half's internals shared by
 * autodiscover.c, ews_http.c, ews_xml.c, ews_req.c, ews_resp.c, oauth.c,
 * session.c and switchmsg_ews.c.  Not for other modules (use mapi/ews.h). */
#ifndef MAPI_EWS_INT_H
#define MAPI_EWS_INT_H

#include <curl/curl.h>
#include <libxml/tree.h>
#include <stddef.h>

#include "mapi/ews.h"

#define MAPI_NS_AD_REQ  "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define MAPI_NS_AD_RESP "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define MAPI_NS_AD_OUTLOOK "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"

/* ---- one HTTP exchange (ews_http.c) ------------------------------------- */
typedef struct mapi_http_req {
    const char *url;
    const char *who;            /* mailbox / address for log lines */
    const char *method;         /* "POST" (default) or "GET" */
    const char *content_type;   /* of body */
    const char *body;           /* NULL for GET */
    size_t body_len;
    int auth;                   /* send credentials (Autodiscover GET probe: 0) */
    int follow_redirects;       /* 0: 3xx is returned to the caller */
    int idempotent;             /* may be resent after it reached the server */
    int soap;                   /* parse SOAP faults / ErrorServerBusy for retries */
    int plain_http_ok;          /* the Autodiscover GET probe goes to http:// by design */
    const char *extra_header;   /* one "Name: value" header or NULL */
    int retry_server_error;     /* HTTP 500 is throttling too (Autodiscover): bounded back-off */
    int throttle_429_504;       /* Graph: 429 (and 504 when idempotent) are throttling like
                                 * 503 (Retry-After) */
} mapi_http_req;

typedef struct mapi_http_resp {
    long status;
    char *body;                 /* NUL-terminated; caller frees */
    size_t len;
    char *location;             /* Location header on 3xx; caller frees */
    long retry_after_s;         /* Retry-After on 503, -1 when absent */
    int attempts;               /* how many times it was sent */
    char *auth_note;            /* on 401: "NTLM as DOM\\user was refused; the server
                                 * offers Negotiate, NTLM" (no secret); caller frees */
} mapi_http_resp;

/* Send several requests concurrently through the handle's multi handle
 * (shared connection pool), with retries per the net options.  Each resps[i]
 * and errs[i] is filled; returns SR_OK when every request produced an HTTP
 * answer (any status), else the first failure's code. */
sr_code mapi_http_run(mapi_net *net, const mapi_http_req *reqs, mapi_http_resp *resps,
                      sr_err *errs, size_t n);
/* One handle's requests in a mapi_http_run_many. */
typedef struct mapi_http_batch {
    mapi_net *net;
    const mapi_http_req *reqs;
    mapi_http_resp *resps;
    sr_err *errs;
    size_t n;
} mapi_http_batch;
/* As mapi_http_run for each batch, every batch's requests at the same time
 * (each on its own handle's connections, logon and budget): the source's
 * and the target's requests of one step in one round trip.  Batches that
 * name the same handle run one after the other.  Returns the first failed
 * batch's code. */
sr_code mapi_http_run_many(const mapi_http_batch *b, size_t nb);
void mapi_http_resp_clear(mapi_http_resp *r);

/* Plain words for a curl failure, naming what it means (the spec's
 * troubleshooting table); sets the project code in *code. Static string. */
const char *mapi_curl_words(CURLcode cc, sr_code *code);
/* Plain words for an HTTP status; static string. */
const char *mapi_http_words(long status, sr_code *code);

/* Redact credentials in one HTTP header line or body chunk for tracing.
 * Returns a heap copy (caller frees). */
char *mapi_trace_redact(const char *data, size_t len, int is_header);
/* CURLOPT_DEBUGFUNCTION writing redacted lines through sr_log; ud = who. */
int mapi_trace_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud);

/* Options and shared state (ews_http.c). */
const mapi_netopts *mapi_net_opts(const mapi_net *net);
/* OAuth2 bearer for the handle (oauth.c); cached until shortly before
 * expiry.  Returns a pointer owned by net, valid until the next call. */
const char *mapi_oauth_token(mapi_net *net, sr_err *err);
/* Parse an OAuth2 token JSON answer; *token caller frees (sr_secret_free). */
sr_code mapi_oauth_parse(const char *json, char **token, long *expires_in, sr_err *err);
/* oauth.c state inside mapi_net. */
typedef struct mapi_oauth_cache {
    char *token;
    long long expires_at;       /* monotonic ms */
} mapi_oauth_cache;
mapi_oauth_cache *mapi_net_oauth(mapi_net *net);
void mapi_oauth_cache_clear(mapi_oauth_cache *c);


/* ---- several handles' EWS calls at once (ews_call.c) -------------------- */
typedef struct mapi_ews_batch {
    mapi_net *net;
    mapi_ews_call *calls;
    size_t n;
} mapi_ews_batch;
/* As mapi_ews_run for each batch, all of them on the wire at the same time
 * (mapi_http_run_many); the outcome is the first failed call's, batch by
 * batch in order. */
sr_code mapi_ews_run_many(mapi_ews_batch *v, size_t nv, sr_err *err);

/* ---- read waves (ews_wave.c): a session's answer cache and deferred reads;
 * see mapi_session_wave_begin in mapi/ews.h ------------------------------- */
typedef struct mapi_wave mapi_wave;
mapi_wave *mapi_wave_new(void);      /* recording; NULL on OOM */
void mapi_wave_free(mapi_wave *w);   /* NULL-safe */
void mapi_wave_set_record(mapi_wave *w, int record);
/* Staged (writes): a new attempt, which defers only its first unanswered step. */
void mapi_wave_step(mapi_wave *w);
/* Reads again: every unknown call deferred; answers apart from the staged ones. */
void mapi_wave_reads(mapi_wave *w);
unsigned long mapi_wave_deferred(const mapi_wave *w);
/* As mapi_ews_run, through the cache: answered calls get their answer again;
 * otherwise, recording, the unknown calls are deferred (staged: only in the
 * attempt's first step) and every call fails with SR_E_BUSY; not recording,
 * the unknown calls are sent and their answers kept. */
sr_code mapi_wave_run(mapi_wave *w, mapi_net *net, mapi_ews_call *calls, size_t n, sr_err *err);
/* One session's deferred calls in a mapi_wave_send_many. */
typedef struct mapi_wave_side {
    mapi_wave *w;
    mapi_net *net;
    const char *url, *mailbox;
} mapi_wave_side;
/* Every deferred call of several sessions' waves (each its own handle) in
 * one concurrent batch per handle, all on the wire at the same time; the
 * answers are kept. */
sr_code mapi_wave_send_many(const mapi_wave_side *v, size_t nv, sr_err *err);

/* ---- XML (ews_xml.c) ------------------------------------------------------ */
/* mapi_xml_parse/child/next/child_text/attr/add: public, in mapi/ews.h. */
/* Serialize a document; *len gets the size; caller frees with xmlFree. */
xmlChar *mapi_xml_dump(xmlDocPtr doc, int *len);

/* ---- EWS envelope, errors (ews_xml.c) ------------------------------------ */
/* mapi_ews_env, mapi_ews_env_new: public, in mapi/ews.h. */

/* Response code table entry (sorted by name for bsearch). */
typedef struct mapi_ews_code_entry {
    const char *name;
    sr_code code;
    sr_class cls;
} mapi_ews_code_entry;
const mapi_ews_code_entry *mapi_ews_code_lookup(const char *response_code);
/* Read a SOAP fault / ErrorServerBusy answer: response code, text and
 * BackOffMilliseconds (0 when absent).  Returns 1 when the doc is a fault. */
int mapi_ews_fault(xmlDocPtr doc, char **code, char **text, unsigned *backoff_ms);
/* Non-zero when the ResponseCode table is sorted, as bsearch needs. */
int mapi_ews_code_table_sorted(void);
/* Back-off of a response message (MessageXml Value Name=BackOffMilliseconds). */
unsigned mapi_ews_backoff(xmlNodePtr response_message);

/* The network handle a session was opened on (session.c). */
mapi_net *mapi_session_net(const mapi_session *s);

/* ---- request builders (ews_req.c) and parsers (ews_resp.c) ----------------
 * Declared in mapi/ews.h so tests and other callers can use them. */

#endif
