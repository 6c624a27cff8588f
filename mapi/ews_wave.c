/* ews_wave.c — read waves (issue 13 goal 1): a session's answer cache and
 * the list of reads it deferred.
 *
 * The engine runs every feature's read against a session in "record" mode:
 * a call whose exact request (URL, mailbox, anchor, body) was answered
 * before gets that answer again (a copy); a call never seen is not sent but
 * remembered, and the read fails with SR_E_BUSY ("deferred").  The engine
 * then sends everything remembered in ONE concurrent batch
 * (mapi_session_wave_send_many) and runs the reads again: each read gets one step
 * further per wave, and every feature's step k travels in the same round
 * trip.  The read cache is dropped (mapi_session_wave_end) before any
 * write, so no read answer outlives the state it describes.
 *
 * Writes go the same way in "staged" mode (mapi_session_wave_step before
 * each attempt): an attempt defers only its FIRST unanswered step (one
 * mapi_session_run, all its calls); any later call of the same attempt may
 * depend on that step (GetInboxRules after UpdateInboxRules) and fails
 * deferred without being queued.  A write is sent once: the next attempt
 * builds the same request and gets its kept answer, never a second send. */
#include "mapi/ews_int.h"

#include <stdlib.h>
#include <string.h>

#define OP_DEPTH_MAX 16    /* Envelope/Body/op is 3 deep: far below */

typedef struct wave_answer {
    char *key;
    xmlDocPtr resp;              /* NULL when the call failed */
    unsigned path[OP_DEPTH_MAX]; /* child positions from the root to resp_op */
    unsigned depth;
    long http_status;
    sr_err err;
} wave_answer;

typedef struct wave_pending {
    char *key;
    xmlDocPtr req;               /* our copy */
    char *url, *mailbox;         /* the call's own (NULL: the session's) */
    char *anchor;
    int idempotent;
} wave_pending;

struct mapi_wave {
    int record;                  /* misses are deferred (1) or sent at once (0) */
    int staged;                  /* writes: one step deferred per attempt */
    int attempt_deferred;        /* this attempt deferred its step already */
    unsigned long deferred;      /* calls answered "deferred" so far: a read that got one
                                  * is incomplete, even when its request was already pending */
    wave_answer *a;
    size_t na, capa;
    wave_pending *p;
    size_t np, capp;
};

static void *grow(void *v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return v;
    size_t nc = *cap ? *cap * 2 : 8;
    void *nv = realloc(v, nc * size);
    if (nv)
        *cap = nc;
    return nv;
}

mapi_wave *mapi_wave_new(void)
{
    mapi_wave *w = calloc(1, sizeof *w);
    if (w)
        w->record = 1;
    return w;
}

void mapi_wave_free(mapi_wave *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->na; i++) {
        free(w->a[i].key);
        xmlFreeDoc(w->a[i].resp);
    }
    for (size_t i = 0; i < w->np; i++) {
        free(w->p[i].key);
        xmlFreeDoc(w->p[i].req);
        free(w->p[i].anchor);
        free(w->p[i].url);
        free(w->p[i].mailbox);
    }
    free(w->a);
    free(w->p);
    free(w);
}

void mapi_wave_set_record(mapi_wave *w, int record) { w->record = record; }
void mapi_wave_step(mapi_wave *w)
{
    w->staged = 1;
    w->attempt_deferred = 0;
}
void mapi_wave_reads(mapi_wave *w)
{
    w->staged = 0;
    w->attempt_deferred = 0;
}
unsigned long mapi_wave_deferred(const mapi_wave *w) { return w->deferred; }

/* The exact request, read or write: two identical calls get one answer, a
 * write attempt's never a read's (a check after a write reads anew). */
static char *call_key(const mapi_wave *w, const mapi_ews_call *c)
{
    int len = 0;
    xmlChar *body = c->req ? mapi_xml_dump(c->req, &len) : NULL;
    if (!body)
        return NULL;
    char *k = sr_asprintf("%c\n%s\n%s\n%s\n%s", w->staged ? 'W' : 'R', c->url ? c->url : "",
                          c->mailbox ? c->mailbox : "", c->anchor ? c->anchor : "",
                          (const char *)body);
    xmlFree(body);
    return k;
}

static wave_answer *find_answer(mapi_wave *w, const char *key)
{
    for (size_t i = 0; i < w->na; i++)
        if (!strcmp(w->a[i].key, key))
            return &w->a[i];
    return NULL;
}

static int is_pending(const mapi_wave *w, const char *key)
{
    for (size_t i = 0; i < w->np; i++)
        if (!strcmp(w->p[i].key, key))
            return 1;
    return 0;
}

/* Child positions from the document's root element down to op. */
static unsigned op_path(xmlNodePtr op, unsigned *path)
{
    unsigned rev[OP_DEPTH_MAX], d = 0;
    for (xmlNodePtr n = op; n && n->type == XML_ELEMENT_NODE && n->parent &&
                            n->parent->type == XML_ELEMENT_NODE && d < OP_DEPTH_MAX;
         n = n->parent) {
        unsigned i = 0;
        for (xmlNodePtr s = n->parent->children; s && s != n; s = s->next)
            i++;
        rev[d++] = i;
    }
    for (unsigned i = 0; i < d; i++)
        path[i] = rev[d - 1 - i];
    return d;
}

static xmlNodePtr follow(xmlDocPtr doc, const unsigned *path, unsigned depth)
{
    xmlNodePtr n = xmlDocGetRootElement(doc);
    for (unsigned d = 0; n && d < depth; d++) {
        n = n->children;
        for (unsigned i = 0; n && i < path[d]; i++)
            n = n->next;
    }
    return n;
}

/* Hand a remembered answer to c as the transport would (a copy: the caller
 * frees c->resp). */
static sr_code replay(const wave_answer *a, mapi_ews_call *c)
{
    c->http_status = a->http_status;
    c->err = a->err;
    c->resp = NULL;
    c->resp_op = NULL;
    if (a->resp) {
        c->resp = xmlCopyDoc(a->resp, 1);
        c->resp_op = c->resp ? follow(c->resp, a->path, a->depth) : NULL;
        if (!c->resp_op) {
            xmlFreeDoc(c->resp);
            c->resp = NULL;
            return sr_err_set(&c->err, SR_E_NOMEM, "out of memory");
        }
    }
    return c->err.code;
}

static sr_code defer(mapi_wave *w, const mapi_ews_call *c, char *key)
{
    wave_pending *np = grow(w->p, &w->capp, w->np + 1, sizeof *w->p);
    if (!np) {
        free(key);
        return SR_E_NOMEM;
    }
    w->p = np;
    wave_pending *p = &w->p[w->np];
    *p = (wave_pending){ .key = key, .req = xmlCopyDoc(c->req, 1), .idempotent = c->idempotent,
                         .anchor = c->anchor ? sr_strdup(c->anchor) : NULL,
                         .url = c->url ? sr_strdup(c->url) : NULL,
                         .mailbox = c->mailbox ? sr_strdup(c->mailbox) : NULL };
    if (!p->req || (c->anchor && !p->anchor) || (c->url && !p->url) ||
        (c->mailbox && !p->mailbox)) {
        xmlFreeDoc(p->req);
        free(p->anchor);
        free(p->url);
        free(p->mailbox);
        free(key);
        return SR_E_NOMEM;
    }
    w->np++;
    return SR_OK;
}

/* Remember one answered call (the cache takes c->resp's copy). */
static sr_code keep(mapi_wave *w, char *key, const mapi_ews_call *c)
{
    wave_answer *na = grow(w->a, &w->capa, w->na + 1, sizeof *w->a);
    if (!na) {
        free(key);
        return SR_E_NOMEM;
    }
    w->a = na;
    wave_answer *a = &w->a[w->na];
    *a = (wave_answer){ .key = key, .http_status = c->http_status, .err = c->err };
    if (c->resp && c->resp_op) {
        a->depth = op_path(c->resp_op, a->path);
        if (!(a->resp = xmlCopyDoc(c->resp, 1))) {
            free(key);
            return SR_E_NOMEM;
        }
    }
    w->na++;
    return SR_OK;
}

/* Not recording: send only the calls with no kept answer (a write answered
 * in a wave must not go twice), keep their answers, replay the others.  The
 * outcome is the first failed call's, in call order, as mapi_ews_run's. */
static sr_code run_missing(mapi_wave *w, mapi_net *net, mapi_ews_call *calls, char **keys,
                           size_t n, sr_err *err)
{
    size_t *idx = calloc(n, sizeof *idx), m = 0;
    mapi_ews_call *send = calloc(n, sizeof *send);
    if (!idx || !send) {
        free(idx);
        free(send);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (!keys[i] || !find_answer(w, keys[i])) {
            idx[m] = i;
            send[m++] = calls[i];
        }
    (void)mapi_ews_run(net, send, m, NULL);
    for (size_t j = 0; j < m; j++) {
        calls[idx[j]] = send[j];
        if (keys[idx[j]]) {
            (void)keep(w, keys[idx[j]], &calls[idx[j]]);   /* takes the key; a miss: a resend */
            keys[idx[j]] = NULL;
        }
    }
    sr_code rc = SR_OK;
    for (size_t i = 0, j = 0; i < n; i++) {
        sr_code one;
        if (j < m && idx[j] == i) {
            one = calls[i].err.code;
            j++;
        } else {
            one = replay(find_answer(w, keys[i]), &calls[i]);
        }
        if (one != SR_OK && rc == SR_OK) {
            rc = one;
            if (err)
                *err = calls[i].err;
        }
    }
    free(idx);
    free(send);
    return rc;
}

sr_code mapi_wave_run(mapi_wave *w, mapi_net *net, mapi_ews_call *calls, size_t n, sr_err *err)
{
    size_t missing = 0;
    char **keys = calloc(n ? n : 1, sizeof *keys);
    if (!keys)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        if (!(keys[i] = call_key(w, &calls[i])) || !find_answer(w, keys[i]))
            missing++;
    sr_code rc = SR_OK;
    if (missing && !w->record) {   /* the last pass: what was not sent in a wave goes now */
        rc = run_missing(w, net, calls, keys, n, err);
    } else if (missing) {
        /* staged: a step after this attempt's deferred one may depend on it */
        int queue = !(w->staged && w->attempt_deferred);
        w->attempt_deferred = 1;
        for (size_t i = 0; i < n; i++) {
            if (queue && keys[i] && !find_answer(w, keys[i]) && !is_pending(w, keys[i])) {
                (void)defer(w, &calls[i], keys[i]);   /* takes the key; out of memory: the
                                                       * live pass sends it */
                keys[i] = NULL;
            }
            sr_err_set(&calls[i].err, SR_E_BUSY, "%s: deferred to the next concurrent wave",
                       calls[i].mailbox ? calls[i].mailbox : "");
            calls[i].resp = NULL;
            calls[i].resp_op = NULL;
        }
        w->deferred++;
        rc = sr_err_set(err, SR_E_BUSY, "%s: deferred to the next concurrent wave",
                        n && calls[0].mailbox ? calls[0].mailbox : "");
    } else {
        for (size_t i = 0; i < n; i++) {
            sr_code one = replay(find_answer(w, keys[i]), &calls[i]);
            if (one != SR_OK && rc == SR_OK) {
                rc = one;
                if (err)
                    *err = calls[i].err;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(keys);
    return rc;
}

/* The deferred calls of a wave as EWS calls (NULL when there are none or
 * out of memory: *err says which). */
static mapi_ews_call *pending_calls(mapi_wave *w, const char *url, const char *mailbox,
                                    sr_err *err)
{
    size_t n = w->np;
    mapi_ews_call *calls = n ? calloc(n, sizeof *calls) : NULL;
    if (n && !calls)
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; calls && i < n; i++)
        calls[i] = (mapi_ews_call){ .url = w->p[i].url ? w->p[i].url : url,
                                    .mailbox = w->p[i].mailbox ? w->p[i].mailbox : mailbox,
                                    .anchor = w->p[i].anchor, .req = w->p[i].req,
                                    .idempotent = w->p[i].idempotent };
    return calls;
}

/* Each sent call's outcome kept for the read that asked (a failed one fails
 * that read, as when it was sent alone); the wave's queue emptied. */
static sr_code keep_sent(mapi_wave *w, mapi_ews_call *calls, sr_err *err)
{
    sr_code rc = SR_OK;
    for (size_t i = 0; i < w->np; i++) {
        if (rc == SR_OK && keep(w, w->p[i].key, &calls[i]) != SR_OK)
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        else if (rc != SR_OK)
            free(w->p[i].key);
        xmlFreeDoc(calls[i].resp);
        xmlFreeDoc(w->p[i].req);
        free(w->p[i].anchor);
        free(w->p[i].url);
        free(w->p[i].mailbox);
    }
    free(calls);
    w->np = 0;
    return rc;
}

sr_code mapi_wave_send_many(const mapi_wave_side *v, size_t nv, sr_err *err)
{
    mapi_ews_batch *b = calloc(nv ? nv : 1, sizeof *b);
    if (!b)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_code rc = SR_OK;
    size_t nb = 0;
    for (size_t k = 0; k < nv && rc == SR_OK; k++) {
        if (!v[k].w || !v[k].w->np)
            continue;
        mapi_ews_call *calls = pending_calls(v[k].w, v[k].url, v[k].mailbox, err);
        if (!calls)
            rc = SR_E_NOMEM;
        else
            b[nb++] = (mapi_ews_batch){ .net = v[k].net, .calls = calls, .n = v[k].w->np };
    }
    if (rc == SR_OK)
        mapi_ews_run_many(b, nb, NULL);
    /* each call's outcome is kept for its read; keep_sent frees the calls */
    for (size_t k = 0, j = 0; k < nv && j < nb; k++) {
        if (!v[k].w || !v[k].w->np)
            continue;
        if (rc == SR_OK) {
            if (keep_sent(v[k].w, b[j].calls, err) != SR_OK)
                rc = SR_E_NOMEM;
        } else {
            free(b[j].calls);   /* not sent: the reads' live pass sends them */
        }
        j++;
    }
    free(b);
    return rc;
}
