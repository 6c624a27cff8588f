/* graph_batch.c — Microsoft Graph JSON batching (POST /{version}/$batch):
 * up to 20 requests per batch, each with an id, method, relative url,
 * headers (Content-Type whenever there is a body) and dependsOn; answers
 * come back per request, in any order, matched by id.  Graph runs a batch's
 * independent requests concurrently and counts each against the Outlook
 * limit of 4 concurrent requests per app and mailbox, so a batch holds at
 * most 4 independent chains per mailbox, and one batch is in flight at a
 * time.  A sub-request answered 429/503/504 is sent again alone (with the
 * requests that failed only because they depended on it) after its
 * Retry-After, within the handle's budget (max_retries attempts and
 * max_backoff_ms of waiting per request, as EWS requests have). */
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mapi/graph_int.h"

#define ID_LEN 24
#define THROTTLE_FLOOR_MS 100L

static int throttled(long status)
{
    return status == 429 || status == 503 || status == 504;
}

/* Sent again after a throttling answer: 429 and 503 come before any work;
 * a 504 (gateway timeout) may come after it, so a POST (a creation) is
 * not repeated then: its error says so. */
static int resend(const mapi_graph_req *r)
{
    return r->status == 429 || r->status == 503 ||
           (r->status == 504 && r->method && strcmp(r->method, "POST") != 0) ||
           (r->status == 504 && !r->method);
}

/* Index of the request named id among q[0..k), or -1 (ids are
 * case-insensitive in Graph). */
static long find_id(const char *const *ids, size_t k, const char *id)
{
    for (size_t i = 0; id && i < k; i++)
        if (strcasecmp(ids[i], id) == 0)
            return (long)i;
    return -1;
}

/* ---- splitting ----------------------------------------------------------- */

typedef struct width {
    char mailbox[128];
    unsigned chains;
} width;

static width *width_of(width *w, size_t *nw, const char *mailbox)
{
    for (size_t i = 0; i < *nw; i++)
        if (!strcmp(w[i].mailbox, mailbox))
            return &w[i];
    snprintf(w[*nw].mailbox, sizeof w[*nw].mailbox, "%s", mailbox);
    w[*nw].chains = 0;
    return &w[(*nw)++];
}

static int same_version(const mapi_graph_req *a, const mapi_graph_req *b)
{
    return !strcmp(a->version ? a->version : "v1.0", b->version ? b->version : "v1.0");
}

/* Chains a request adds to its mailbox: a dependent continues its
 * dependency's chain unless that already has a dependent (then the two run
 * side by side).  The chains of a chain cover bound the concurrency. */
size_t mapi_graph_batch_split(mapi_graph_req *const *q, const char *const *ids, size_t n)
{
    width w[MAPI_GRAPH_BATCH_MAX];
    unsigned dependents[MAPI_GRAPH_BATCH_MAX] = { 0 };
    size_t nw = 0, k = 0;
    for (; k < n && k < MAPI_GRAPH_BATCH_MAX; k++) {
        if (k && !same_version(q[0], q[k]))   /* one batch goes to one version */
            break;
        char mb[128];
        mapi_graph_path_mailbox(q[k]->path, mb, sizeof mb);
        long d = find_id(ids, k, q[k]->depends_on);
        unsigned add = d < 0 || dependents[d] ? 1 : 0;
        width *x = width_of(w, &nw, mb);
        if (k && mb[0] && x->chains + add > MAPI_GRAPH_MAILBOX_CONCURRENCY)
            break;
        if (d >= 0)
            dependents[d]++;
        x->chains += add;
    }
    return k;
}

/* ---- the request body ----------------------------------------------------- */

static json_t *one_request(const mapi_graph_req *r, const char *id, const char *const *ids,
                           size_t k)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "id", id, "method", r->method ? r->method : "GET",
                          "url", r->path);
    if (!o)
        return NULL;
    int bad = 0;
    if (r->body) {
        bad |= json_object_set(o, "body", r->body);
        bad |= json_object_set_new(o, "headers",
                                   json_pack("{s:s}", "Content-Type", "application/json"));
    }
    long d = find_id(ids, k, r->depends_on);
    if (d >= 0)
        bad |= json_object_set_new(o, "dependsOn", json_pack("[s]", ids[d]));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *mapi_graph_batch_body(mapi_graph_req *const *q, const char *const *ids, size_t k)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < k; i++) {
        json_t *o = one_request(q[i], ids[i], ids, k);
        if (!o || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    json_t *root = arr ? json_pack("{s:o}", "requests", arr) : NULL;
    char *s = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return s;
}

/* ---- the answer ------------------------------------------------------------ */

/* Retry-After among a sub-response's headers (names are case-insensitive). */
static long header_retry_ms(json_t *headers, long cap_ms)
{
    const char *key;
    json_t *v;
    json_object_foreach(headers, key, v) {
        if (strcasecmp(key, "Retry-After") == 0)
            return mapi_graph_retry_after_ms(json_is_string(v) ? json_string_value(v) : NULL,
                                             cap_ms);
    }
    return -1;
}

static void read_one(json_t *resp, mapi_graph_req *r, long *retry_ms)
{
    json_t *st = json_object_get(resp, "status");
    json_t *body = json_object_get(resp, "body");
    json_decref(r->resp);       /* an id answered twice: the last answer counts */
    r->resp = NULL;
    r->status = json_is_integer(st) ? (long)json_integer_value(st) : 0;
    char what[300];
    snprintf(what, sizeof what, "$batch %s %s", r->method ? r->method : "GET", r->path);
    if (r->status >= 200 && r->status < 300) {
        r->resp = body ? json_incref(body) : NULL;
        sr_err_clear(&r->err);
        return;
    }
    if (!r->status) {
        sr_err_set(&r->err, SR_E_PROTOCOL, "%s: an answer without a status", what);
        return;
    }
    mapi_graph_error_json(r->status, body, what, &r->err);
    if (r->status == 504 && r->method && !strcmp(r->method, "POST"))
        sr_err_prefix(&r->err, "not sent again (it may have been applied): ");
    if (throttled(r->status)) {
        long ms = header_retry_ms(json_object_get(resp, "headers"), 600000L);
        if (ms > *retry_ms)
            *retry_ms = ms;
    }
}

sr_code mapi_graph_batch_read(const char *body, mapi_graph_req *const *q, const char *const *ids,
                              size_t k, long *retry_ms, sr_err *err)
{
    *retry_ms = 0;
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    json_t *arr = json_object_get(root, "responses");
    if (!json_is_array(arr)) {
        json_decref(root);
        return sr_err_set(err, SR_E_PROTOCOL, "the $batch answer has no \"responses\" array");
    }
    for (size_t i = 0; i < k; i++) {
        mapi_graph_req_clear(q[i]);
        sr_err_set(&q[i]->err, SR_E_PROTOCOL, "$batch %s: no answer for id %s", q[i]->path, ids[i]);
    }
    size_t idx;
    json_t *resp;
    json_array_foreach(arr, idx, resp) {
        long i = find_id(ids, k, json_string_value(json_object_get(resp, "id")));
        if (i >= 0)
            read_one(resp, q[i], retry_ms);
    }
    json_decref(root);
    return SR_OK;
}

/* ---- the run ---------------------------------------------------------------- */

typedef struct run {
    mapi_graph *g;
    mapi_graph_req *reqs;
    size_t n;
    char (*idbuf)[ID_LEN];
    const char **ids;           /* per request: its id */
    unsigned char *done;
    unsigned *tries;            /* per request: throttled answers so far */
    long *waited_ms;            /* per request: time waited for it */
} run;

static sr_code validate(run *r, sr_err *err)
{
    for (size_t i = 0; i < r->n; i++) {
        if (!r->reqs[i].path)
            return sr_err_set(err, SR_E_INVALID, "$batch request %zu has no path", i + 1);
        snprintf(r->idbuf[i], ID_LEN, "%zu", i + 1);
        r->ids[i] = r->reqs[i].id ? r->reqs[i].id : r->idbuf[i];
        if (find_id(r->ids, i, r->ids[i]) >= 0)
            return sr_err_set(err, SR_E_INVALID, "$batch: id %s is used twice", r->ids[i]);
        if (r->reqs[i].depends_on && find_id(r->ids, i, r->reqs[i].depends_on) < 0)
            return sr_err_set(err, SR_E_INVALID, "$batch: request %s depends on %s, which is "
                              "not an earlier request", r->ids[i], r->reqs[i].depends_on);
    }
    return SR_OK;
}

/* A pending request whose dependency already finished with a failure gets
 * 424, as Graph answers a dependent of a failed request. */
static void fail_dependents(run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->done[i] || !r->reqs[i].depends_on)
            continue;
        long d = find_id(r->ids, i, r->reqs[i].depends_on);
        if (d >= 0 && r->done[d] && r->reqs[d].err.code != SR_OK) {
            mapi_graph_req_clear(&r->reqs[i]);
            r->reqs[i].status = 424;
            sr_err_set(&r->reqs[i].err, SR_E_INVALID, "$batch %s: not sent: request %s it depends "
                       "on failed", r->reqs[i].path, r->ids[d]);
            r->done[i] = 1;
        }
    }
}

/* Send q[0..k) as one $batch; every request gets its outcome. */
static void send_batch(run *r, mapi_graph_req **q, const char **qids, size_t k, long *retry_ms)
{
    *retry_ms = 0;
    char *body = mapi_graph_batch_body(q, qids, k);
    char *url = mapi_graph_url(r->g, q[0]->version, "/$batch");
    long status = 0;
    json_t *resp = NULL;
    sr_err e;
    sr_err_clear(&e);
    sr_code rc = body && url ? mapi_graph_http(r->g, "POST", url, body, "graph", &status, &resp, &e)
                             : sr_err_set(&e, SR_E_NOMEM, "out of memory");
    char *text = rc == SR_OK ? json_dumps(resp, 0) : NULL;
    if (rc == SR_OK && (!text || mapi_graph_batch_read(text, q, qids, k, retry_ms, &e) != SR_OK))
        rc = e.code != SR_OK ? e.code : sr_err_set(&e, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc != SR_OK && i < k; i++) {
        mapi_graph_req_clear(q[i]);
        q[i]->status = status;
        q[i]->err = e;
    }
    free(text);
    json_decref(resp);
    free(body);
    free(url);
}

/* Decide after a batch: final outcomes are done; throttled requests (and
 * those that failed only because a throttled one failed) stay pending when
 * the budget allows one more round.  Returns how long to wait, or -1. */
static long settle(run *r, mapi_graph_req **q, size_t k, long retry_ms)
{
    const mapi_netopts *o = mapi_graph_netopts(r->g);
    unsigned most = 0;
    for (size_t j = 0; j < k; j++)
        if (throttled(q[j]->status) && r->tries[q[j] - r->reqs] > most)
            most = r->tries[q[j] - r->reqs];
    long delay = retry_ms > 0 ? retry_ms : 1000L * (long)(most + 1);
    if (delay < THROTTLE_FLOOR_MS)
        delay = THROTTLE_FLOOR_MS;
    int again = 0;
    for (size_t j = 0; j < k; j++) {
        size_t i = (size_t)(q[j] - r->reqs);
        long d = find_id(r->ids, i, r->reqs[i].depends_on);
        /* the EWS budget, per request: attempts and total waiting */
        int budget = r->tries[i] < o->max_retries &&
                     r->waited_ms[i] + delay <= (long)o->max_backoff_ms;
        int retry = budget && (resend(q[j]) ||
                               (q[j]->status == 424 && d >= 0 && !r->done[d]));
        r->done[i] = !retry;
        if (retry) {
            r->tries[i]++;
            r->waited_ms[i] += delay;
        }
        again |= retry;
    }
    return again ? delay : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static sr_code run_all(run *r, mapi_graph_req **q, const char **qids)
{
    /* every round finishes a request or spends a request's throttling budget */
    size_t cap = r->n * (mapi_graph_netopts(r->g)->max_retries + 2);
    for (size_t round = 0; round < cap; round++) {
        fail_dependents(r);
        size_t m = 0;
        for (size_t i = 0; i < r->n; i++)
            if (!r->done[i]) {
                q[m] = &r->reqs[i];
                qids[m++] = r->ids[i];
            }
        if (!m)
            return SR_OK;
        size_t k = mapi_graph_batch_split(q, qids, m);
        long retry_ms;
        send_batch(r, q, qids, k, &retry_ms);
        long delay = settle(r, q, k, retry_ms);
        if (delay >= 0) {
            sr_log(SR_LOG_NOTICE, "graph", "$batch: throttled (HTTP 429/503/504); sending the "
                   "throttled requests again in %ld ms", delay);
            sleep_ms(delay);
        }
    }
    return SR_E_INTERNAL;
}

sr_code mapi_graph_batch(mapi_graph *g, mapi_graph_req *reqs, size_t n, sr_err *err)
{
    run r = { .g = g, .reqs = reqs, .n = n };
    r.idbuf = calloc(n ? n : 1, sizeof *r.idbuf);
    r.ids = calloc(n ? n : 1, sizeof *r.ids);
    r.done = calloc(n ? n : 1, 1);
    r.tries = calloc(n ? n : 1, sizeof *r.tries);
    r.waited_ms = calloc(n ? n : 1, sizeof *r.waited_ms);
    mapi_graph_req **q = calloc(n ? n : 1, sizeof *q);
    const char **qids = calloc(n ? n : 1, sizeof *qids);
    sr_code rc = SR_OK;
    sr_err_clear(err);
    for (size_t i = 0; i < n; i++)
        mapi_graph_req_clear(&reqs[i]);
    if (!r.idbuf || !r.ids || !r.done || !r.tries || !r.waited_ms || !q || !qids)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    else if ((rc = validate(&r, err)) == SR_OK && run_all(&r, q, qids) != SR_OK)
        rc = sr_err_set(err, SR_E_INTERNAL, "$batch: requests left unsent");
    for (size_t i = 0; rc == SR_OK && i < n; i++)
        if (reqs[i].err.code != SR_OK) {
            *err = reqs[i].err;
            rc = err->code;
        }
    free(r.idbuf);
    free(r.ids);
    free(r.done);
    free(r.tries);
    free(r.waited_ms);
    free(q);
    free(qids);
    return rc;
}
