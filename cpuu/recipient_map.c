/* recipient_map.c — source → target recipients, resolved in batches with a
 * per-run cache (see recipient_map.h and docs/features.md).
 *
 * Order of the sources of truth:
 *   1. pairs given by rmap_add (TargetMailboxesSMTP, switch message);
 *   2. the source directory (ldapdir_resolve: many keys per filter), whose
 *      mapping attribute names the target address;
 *   3. the target directory ([TargetAD], ours), when there is one, for the
 *      target legacyExchangeDN: many target addresses OR-ed into one paged
 *      search; only what it does not find goes on to SOAP Autodiscover
 *      GetUserSettings (100 users a request) or, where that is not served,
 *      ONE concurrent batch of ResolveNames on the target mailbox session
 *      (the schema allows one UnresolvedEntry per request) — both also prove
 *      the target recipient exists;
 *   4. without a source directory: the identity check — the target org
 *      (its directory first, then Exchange as in 3) knows the very same SMTP
 *      address or legacyExchangeDN (migrated mailboxes keep the old
 *      addresses as proxies); nothing else is guessed.
 *   For an Office 365 target over Microsoft Graph (no EWS there), 4 and
 *   rmap_resolve_target ask Graph's users by proxy address instead (a DN as its X500 proxy:
 *   Graph's user has no legacyExchangeDN), in $batch requests of 20.
 * Counting (rmap_lookups_made): every LDAP search request, plus one per
 * concurrent ResolveNames batch (a batch is one dependent round trip). */
#include "cpuu/recipient_map.h"

#include "cpuu/ews_feat.h"
#include "mapi/graph.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESOLVE_BATCH 100   /* ResolveNames requests per concurrent batch */

typedef struct entry {
    char *key;              /* normalised: prefix removed, lower case */
    char *orig;             /* as first met (directory searches keep its case) */
    rmap_status st;
    char *tgt_smtp, *tgt_dn, *display;
    char *src_smtp;         /* source primary SMTP when the source directory knows it */
    int pending;            /* collected in this rmap_resolve call */
} entry;

typedef struct table {
    entry *v;
    size_t n, cap;
    size_t *idx;            /* open addressing: 1 + index into v, 0 = empty */
    size_t nidx;
} table;

struct rmap {
    ldapdir *src_dir, *tgt_dir;
    rmap_dirs_open dirs_open;   /* rmap_set_dirs: called once, on the first lookup */
    void *dirs_arg;
    int dirs_state;             /* 0 not opened, 1 opened, -1 failed (dirs_err) */
    sr_err dirs_err;
    mapi_session *tgt;
    mapi_graph *graph;      /* the target over Graph (then tgt is NULL); borrowed */
    char *gus_url;          /* SOAP Autodiscover beside the target's EWS URL */
    int gus_off;            /* GetUserSettings failed once: ResolveNames from then on */
    table map;              /* source keys */
    table tgt_keys;         /* target-organisation keys → target SMTP (rmap_resolve_target) */
    unsigned lookups;
};

/* ---- keys ---- */
static const char *strip_prefix(const char *k)
{
    while (*k == ' ' || *k == '\t')
        k++;
    static const char *const pfx[] = {"smtp:", "x500:", "ex:", NULL};
    for (int i = 0; pfx[i]; i++)
        if (strncasecmp(k, pfx[i], strlen(pfx[i])) == 0)
            return k + strlen(pfx[i]);
    return k;
}

static char *normalise(const char *key)
{
    const char *k = strip_prefix(key);
    size_t len = strlen(k);
    while (len && (k[len - 1] == ' ' || k[len - 1] == '\t'))
        len--;
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < len; i++)
        s[i] = (char)tolower((unsigned char)k[i]);
    s[len] = '\0';
    return s;
}

static int is_dn(const char *norm) { return norm[0] == '/'; }
static int is_smtp(const char *norm) { return !is_dn(norm) && strchr(norm, '@') && !strchr(norm, ' '); }

/* ---- the cache table ---- */
static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static entry *tfind(table *t, const char *norm)
{
    if (!t->nidx)
        return NULL;
    for (size_t i = hash(norm) & (t->nidx - 1), k = 0; k < t->nidx; i = (i + 1) & (t->nidx - 1), k++) {
        if (!t->idx[i])
            return NULL;
        if (strcmp(t->v[t->idx[i] - 1].key, norm) == 0)
            return &t->v[t->idx[i] - 1];
    }
    return NULL;
}

static int reindex(table *t, size_t nidx)
{
    size_t *idx = calloc(nidx, sizeof *idx);
    if (!idx)
        return -1;
    for (size_t e = 0; e < t->n; e++) {
        size_t i = hash(t->v[e].key) & (nidx - 1);
        while (idx[i])
            i = (i + 1) & (nidx - 1);
        idx[i] = e + 1;
    }
    free(t->idx);
    t->idx = idx;
    t->nidx = nidx;
    return 0;
}

/* Add an entry for norm (taking ownership of norm); NULL on OOM. */
static entry *tadd(table *t, char *norm, const char *orig)
{
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        entry *nv = realloc(t->v, nc * sizeof *nv);
        if (!nv)
            return NULL;
        t->v = nv;
        t->cap = nc;
    }
    if ((t->n + 1) * 2 > t->nidx && reindex(t, t->nidx ? t->nidx * 2 : 128) != 0)
        return NULL;
    char *o = sr_strdup(strip_prefix(orig));
    if (!o)
        return NULL;
    entry *e = &t->v[t->n];
    memset(e, 0, sizeof *e);
    e->key = norm;
    e->orig = o;
    e->st = RMAP_UNKNOWN;
    size_t i = hash(norm) & (t->nidx - 1);
    while (t->idx[i])
        i = (i + 1) & (t->nidx - 1);
    t->idx[i] = ++t->n;
    return e;
}

static void tfree(table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        entry *e = &t->v[i];
        free(e->key);
        free(e->orig);
        free(e->tgt_smtp);
        free(e->tgt_dn);
        free(e->display);
        free(e->src_smtp);
    }
    free(t->v);
    free(t->idx);
    memset(t, 0, sizeof *t);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? sr_strdup(v) : NULL;
}

/* ---- public ---- */
rmap *rmap_new(ldapdir *src_dir, ldapdir *tgt_dir, mapi_session *tgt, sr_err *err)
{
    rmap *m = calloc(1, sizeof *m);
    if (!m) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    m->src_dir = src_dir;
    m->tgt_dir = tgt_dir;
    m->tgt = tgt;
    return m;
}

void rmap_free(rmap *m)
{
    if (!m)
        return;
    tfree(&m->map);
    tfree(&m->tgt_keys);
    free(m->gus_url);
    free(m);
}

/* Find or create the entry of key; *fresh = 1 when created now. */
static entry *get_entry(table *t, const char *key, int *fresh, sr_err *err)
{
    char *norm = normalise(key);
    if (!norm) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    entry *e = tfind(t, norm);
    *fresh = !e;
    if (e) {
        free(norm);
        return e;
    }
    e = tadd(t, norm, key);
    if (!e) {
        free(norm);
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    return e;
}

sr_code rmap_add(rmap *m, const char *src_key, const char *tgt_smtp, const char *tgt_legacy_dn,
                 sr_err *err)
{
    if (!src_key || !*src_key)
        return SR_OK;   /* e.g. a profile account without legacyExchangeDN: nothing to add */
    if (!tgt_smtp || !*tgt_smtp)
        return sr_err_set(err, SR_E_INVALID, "recipient map: no target address for %s", src_key);
    int fresh;
    entry *e = get_entry(&m->map, src_key, &fresh, err);
    if (!e)
        return err->code;
    e->st = RMAP_MAPPED;
    set_str(&e->tgt_smtp, strip_prefix(tgt_smtp));
    set_str(&e->tgt_dn, tgt_legacy_dn);
    return SR_OK;
}

/* Step 2: the source directory for every pending entry. */
static sr_code resolve_source(rmap *m, entry **p, size_t n, sr_err *err)
{
    const char **keys = calloc(n, sizeof *keys);
    ldapdir_result *res = calloc(n, sizeof *res);
    if (!keys || !res) {
        free(keys);
        free(res);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = p[i]->orig;
    unsigned long before = ldapdir_search_count(m->src_dir);
    sr_code rc = ldapdir_resolve(m->src_dir, keys, n, res, err);
    m->lookups += (unsigned)(ldapdir_search_count(m->src_dir) - before);
    for (size_t i = 0; i < n; i++) {
        entry *e = p[i];
        switch (res[i].status) {
        case LDAPDIR_FOUND: {
            const char *t = ldapdir_target_smtp(res[i].rcpt);
            set_str(&e->src_smtp, res[i].rcpt->primary_smtp);
            set_str(&e->display, res[i].rcpt->display_name);
            if (t) {
                e->st = RMAP_MAPPED;
                set_str(&e->tgt_smtp, t);
            } else {
                e->st = RMAP_NOT_MIGRATED;
            }
            break;
        }
        case LDAPDIR_AMBIGUOUS: e->st = RMAP_AMBIGUOUS; break;
        case LDAPDIR_DIR_ERROR: e->st = RMAP_ERROR; break;
        default: e->st = RMAP_UNKNOWN; break;
        }
    }
    free(keys);
    free(res);
    if (rc != SR_OK)
        sr_err_prefix(err, "recipient map: source directory %s: ", ldapdir_dc(m->src_dir));
    return rc;
}

/* The target directory (ldapdir_resolve: up to its batch size of keys
 * OR-ed into one paged search), for step 3 (identity = 0: p[i]'s target
 * address → its legacyExchangeDN) or for an identity check (identity = 1:
 * does the target org carry p[i]'s very key?).  Found → MAPPED with the
 * target's primary SMTP and legacyExchangeDN.  What it does not find is
 * moved to the front, p[0..*nmiss): with a target session it keeps its
 * status for the per-address path (GetUserSettings / ResolveNames), which
 * also knows objects this directory does not hold (another forest, Exchange
 * Online); without one it is decided here: not migrated / unknown. */
static sr_code from_target_dir(rmap *m, entry **p, size_t n, int identity, size_t *nmiss,
                               sr_err *err)
{
    const char **keys = calloc(n ? n : 1, sizeof *keys);
    ldapdir_result *res = calloc(n ? n : 1, sizeof *res);
    *nmiss = 0;
    if (!keys || !res) {
        free(keys);
        free(res);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = identity ? p[i]->orig : p[i]->tgt_smtp;
    unsigned long before = ldapdir_search_count(m->tgt_dir);
    sr_code rc = ldapdir_resolve(m->tgt_dir, keys, n, res, err);
    m->lookups += (unsigned)(ldapdir_search_count(m->tgt_dir) - before);
    for (size_t i = 0; i < n; i++) {
        entry *e = p[i];
        const ldapdir_recipient *r = res[i].rcpt;
        if (res[i].status == LDAPDIR_FOUND && r->primary_smtp) {
            e->st = RMAP_MAPPED;
            set_str(&e->tgt_smtp, r->primary_smtp);
            if (r->legacy_dn)
                set_str(&e->tgt_dn, r->legacy_dn);
            if (r->display_name)
                set_str(&e->display, r->display_name);
        } else if (res[i].status == LDAPDIR_DIR_ERROR) {
            e->st = RMAP_ERROR;
        } else if (res[i].status == LDAPDIR_AMBIGUOUS) {
            e->st = RMAP_AMBIGUOUS;
        } else if (m->tgt) {
            p[(*nmiss)++] = e;   /* i >= *nmiss: nothing unvisited is overwritten */
        } else {
            e->st = identity ? RMAP_UNKNOWN : RMAP_NOT_MIGRATED;
        }
    }
    free(keys);
    free(res);
    if (rc != SR_OK)
        sr_err_prefix(err, "recipient map: target directory %s: ", ldapdir_dc(m->tgt_dir));
    return rc;
}

/* ResolveNames of entries[i]->query on the target, RESOLVE_BATCH requests per
 * concurrent batch.  found[i]: 1 resolved (smtp/name filled), 0 no match,
 * 2 several matches.  Transport failures fail the whole call. */
typedef struct rn_job {
    const char *query;
    int found;
    char *smtp, *name;
} rn_job;

static sr_code resolve_names(rmap *m, rn_job *jobs, size_t n, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(m->tgt);
    t.mailbox = NULL;   /* ResolveNames addresses the directory, not a mailbox */
    for (size_t off = 0; off < n; off += RESOLVE_BATCH) {
        size_t k = n - off < RESOLVE_BATCH ? n - off : RESOLVE_BATCH;
        mapi_ews_call *calls = calloc(k, sizeof *calls);
        if (!calls)
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        sr_code rc = SR_OK;
        for (size_t i = 0; i < k && rc == SR_OK; i++) {
            calls[i].req = ewsf_req_resolvenames(&t, jobs[off + i].query, err);
            calls[i].idempotent = 1;
            if (!calls[i].req)
                rc = err->code;
        }
        if (rc == SR_OK) {
            m->lookups++;
            rc = mapi_session_run(m->tgt, calls, k, err);
        }
        for (size_t i = 0; i < k; i++) {
            rn_job *j = &jobs[off + i];
            if (rc == SR_OK) {
                sr_err e = {0};
                sr_code r = ewsf_parse_resolvenames(calls[i].resp_op, &j->smtp, &j->name, &e);
                j->found = r == SR_OK ? 1 : r == SR_E_AMBIGUOUS ? 2 : 0;
                if (r != SR_OK && r != SR_E_NOTFOUND && r != SR_E_AMBIGUOUS) {
                    *err = e;
                    rc = r;
                }
            }
            xmlFreeDoc(calls[i].req);
            xmlFreeDoc(calls[i].resp);
        }
        free(calls);
        if (rc != SR_OK) {
            sr_err_prefix(err, "recipient map: ResolveNames on %s: ", mapi_session_mailbox(m->tgt));
            return rc;
        }
    }
    return SR_OK;
}

static void jobs_free(rn_job *jobs, size_t n)
{
    for (size_t i = 0; jobs && i < n; i++) {
        free(jobs[i].smtp);
        free(jobs[i].name);
    }
    free(jobs);
}

/* Queries for ResolveNames: "SMTP:addr" or "EX:/o=..." (exact forms). */
static char *query_of(const char *norm_or_orig)
{
    const char *k = strip_prefix(norm_or_orig);
    return sr_asprintf("%s%s", k[0] == '/' ? "EX:" : "SMTP:", k);
}

/* Step 3 by SOAP Autodiscover: GetUserSettings of the nv target addresses
 * (100 a request) and ResolveNames of the identity checks p[nv..n), all in
 * ONE concurrent batch, through the target session (so in the engine's
 * waves it travels with the features' requests; deferred there: SR_E_BUSY,
 * nothing decided, the next call with the same keys gets the answers).
 * NoError → MAPPED with the target's UserDN (the legacyExchangeDN EX
 * addresses need); InvalidUser / RedirectAddress → not migrated.  Returns
 * SR_E_UNSUPPORTED (nothing decided) when the endpoint does not answer
 * GetUserSettings: the caller falls back to ResolveNames. */
static sr_code target_from_gus(rmap *m, entry **p, size_t n, size_t nv, sr_err *err)
{
    size_t ng = (nv + MAPI_AD_SOAP_MAX_USERS - 1) / MAPI_AD_SOAP_MAX_USERS, nr = n - nv;
    mapi_ews_call *calls = calloc(ng + nr ? ng + nr : 1, sizeof *calls);
    const char **addrs = calloc(nv ? nv : 1, sizeof *addrs);
    mapi_ad_user *us = calloc(nv ? nv : 1, sizeof *us);
    rn_job *jobs = calloc(nr ? nr : 1, sizeof *jobs);
    char **q = calloc(nr ? nr : 1, sizeof *q);
    sr_code rc = calls && addrs && us && jobs && q ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    mapi_ews_target t = mapi_session_target(m->tgt);
    t.mailbox = NULL;
    for (size_t i = 0; i < nv && rc == SR_OK; i++)
        addrs[i] = strip_prefix(p[i]->tgt_smtp);
    for (size_t g = 0; g < ng && rc == SR_OK; g++) {
        size_t off = g * MAPI_AD_SOAP_MAX_USERS;
        size_t k = nv - off < MAPI_AD_SOAP_MAX_USERS ? nv - off : MAPI_AD_SOAP_MAX_USERS;
        calls[g] = (mapi_ews_call){.url = m->gus_url, .mailbox = "Autodiscover",
                                   .anchor = mapi_session_mailbox(m->tgt), .idempotent = 1};
        calls[g].req = mapi_ad_req_getusersettings(m->gus_url, addrs + off, k, err);
        rc = calls[g].req ? SR_OK : err->code;
    }
    for (size_t i = 0; i < nr && rc == SR_OK; i++) {
        q[i] = query_of(p[nv + i]->orig);
        jobs[i].query = q[i];
        calls[ng + i] = (mapi_ews_call){.url = mapi_session_ews_url(m->tgt),
                                        .mailbox = mapi_session_mailbox(m->tgt), .idempotent = 1};
        calls[ng + i].req = q[i] ? ewsf_req_resolvenames(&t, q[i], err) : NULL;
        rc = calls[ng + i].req ? SR_OK : q[i] ? err->code : sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    if (rc == SR_OK) {   /* with the identity checks' ResolveNames: one batch */
        unsigned long deferred = mapi_session_wave_deferred(m->tgt);
        sr_err ignored = {0};
        mapi_session_run_at(m->tgt, calls, ng + nr, &ignored);   /* per call below */
        if (mapi_session_wave_deferred(m->tgt) != deferred)
            rc = sr_err_set(err, SR_E_BUSY, "recipient map: %s: deferred to the next concurrent wave",
                            mapi_session_mailbox(m->tgt));
        else
            m->lookups++;
    }
    for (size_t g = 0; g < ng && rc == SR_OK; g++) {
        size_t off = g * MAPI_AD_SOAP_MAX_USERS;
        size_t k = nv - off < MAPI_AD_SOAP_MAX_USERS ? nv - off : MAPI_AD_SOAP_MAX_USERS;
        sr_err e = {0};
        if (calls[g].err.code != SR_OK ||
            mapi_ad_parse_getusersettings(calls[g].resp_op, us + off, k, &e) != SR_OK) {
            sr_log(SR_LOG_WARN, NULL, "recipient map: GetUserSettings at %s failed (%s): "
                   "target identities by ResolveNames instead", m->gus_url,
                   calls[g].err.code != SR_OK ? calls[g].err.msg : e.msg);
            m->gus_off = 1;
            rc = SR_E_UNSUPPORTED;
        }
    }
    for (size_t i = 0; i < nr && rc == SR_OK; i++) {
        rn_job *j = &jobs[i];
        sr_err e = {0};
        sr_code r = calls[ng + i].err.code != SR_OK ? (e = calls[ng + i].err, e.code)
                    : ewsf_parse_resolvenames(calls[ng + i].resp_op, &j->smtp, &j->name, &e);
        j->found = r == SR_OK ? 1 : r == SR_E_AMBIGUOUS ? 2 : 0;
        if (r != SR_OK && r != SR_E_NOTFOUND && r != SR_E_AMBIGUOUS) {
            *err = e;
            rc = r;
            sr_err_prefix(err, "recipient map: ResolveNames on %s: ", mapi_session_mailbox(m->tgt));
        }
    }
    for (size_t i = 0; i < nv && rc == SR_OK; i++) {
        entry *e = p[i];
        if (us[i].code == SR_OK) {
            e->st = RMAP_MAPPED;
            if (us[i].user_dn)
                set_str(&e->tgt_dn, us[i].user_dn);
            if (us[i].display_name)
                set_str(&e->display, us[i].display_name);
        } else {
            e->st = us[i].code == SR_E_NOTFOUND ? RMAP_NOT_MIGRATED : RMAP_ERROR;
        }
    }
    for (size_t i = 0; i < nr && rc == SR_OK; i++) {
        entry *e = p[nv + i];
        if (jobs[i].found == 1) {
            e->st = RMAP_MAPPED;
            set_str(&e->tgt_smtp, jobs[i].smtp);
            if (jobs[i].name)
                set_str(&e->display, jobs[i].name);
        } else {
            e->st = jobs[i].found == 2 ? RMAP_AMBIGUOUS : RMAP_UNKNOWN;
        }
    }
    for (size_t i = 0; calls && i < ng + nr; i++) {
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    for (size_t i = 0; us && i < nv; i++)
        mapi_ad_user_clear(&us[i]);
    for (size_t i = 0; q && i < nr; i++)
        free(q[i]);
    free(q);
    jobs_free(jobs, nr);
    free(us);
    free(addrs);
    free(calls);
    return rc;
}

/* Step 3 without a target directory and step 4, in ONE ResolveNames batch:
 * the first nv entries are mapped source recipients whose target address
 * must exist in the target org (no match → NOT_MIGRATED); the others are
 * identity checks — does the target org know this very key (no match →
 * UNKNOWN)? */
static sr_code target_from_ews(rmap *m, entry **p, size_t n, size_t nv, sr_err *err)
{
    if (nv && !m->gus_off && !m->gus_url)
        m->gus_url = mapi_ad_soap_url(mapi_session_ews_url(m->tgt));
    if (nv && !m->gus_off && m->gus_url) {
        sr_code r = target_from_gus(m, p, n, nv, err);
        if (r != SR_E_UNSUPPORTED)
            return r;
    }
    rn_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    char **q = calloc(n ? n : 1, sizeof *q);
    sr_code rc = jobs && q ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == SR_OK; i++) {
        q[i] = query_of(i >= nv ? p[i]->orig : p[i]->tgt_smtp);
        jobs[i].query = q[i];
        if (!q[i])
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    if (rc == SR_OK && n)
        rc = resolve_names(m, jobs, n, err);
    for (size_t i = 0; i < n && rc == SR_OK; i++) {
        entry *e = p[i];
        if (jobs[i].found == 1) {
            e->st = RMAP_MAPPED;
            set_str(&e->tgt_smtp, jobs[i].smtp);
            if (jobs[i].name)
                set_str(&e->display, jobs[i].name);
        } else if (i >= nv) {
            e->st = jobs[i].found == 2 ? RMAP_AMBIGUOUS : RMAP_UNKNOWN;
        } else {
            e->st = jobs[i].found == 2 ? RMAP_AMBIGUOUS : RMAP_NOT_MIGRATED;
        }
    }
    for (size_t i = 0; q && i < n; i++)
        free(q[i]);
    free(q);
    jobs_free(jobs, n);
    return rc;
}

void rmap_set_dirs(rmap *m, rmap_dirs_open open, void *arg)
{
    m->dirs_open = open;
    m->dirs_arg = arg;
    m->dirs_state = 0;
}

/* The directories, opened now if rmap_set_dirs deferred them. */
static sr_code open_dirs(rmap *m, sr_err *err)
{
    if (!m->dirs_open || m->dirs_state == 1)
        return SR_OK;
    if (m->dirs_state == 0) {
        ldapdir *src = NULL, *tgt = NULL;
        sr_code rc = m->dirs_open(m->dirs_arg, &src, &tgt, &m->dirs_err);
        m->dirs_state = rc == SR_OK ? 1 : -1;
        if (rc == SR_OK) {
            m->src_dir = src;
            m->tgt_dir = tgt;
            return SR_OK;
        }
    }
    *err = m->dirs_err;
    return err->code;
}

/* "/users?$filter=proxyAddresses/any(...)" for one SMTP address or, as
 * "x500:" proxy, a legacyExchangeDN (a migrated mailbox keeps its old DN as
 * an X500 proxy address), percent-encoded; an OData string doubles its
 * quotes (OData URL conventions 5.1.1.6.1).  Heap, NULL on OOM. */
static char *users_by_proxy(const char *addr)
{
    static const char keep[] = "-._~@";
    size_t l = strlen(addr);
    char *enc = malloc(l * 6 + 1), *o = enc;
    for (const char *c = addr; enc && *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (isalnum(u) || strchr(keep, u))
            *o++ = *c;
        else
            o += sprintf(o, u == '\'' ? "%%27%%27" : "%%%02X", u);
    }
    if (enc)
        *o = '\0';
    char *path = enc ? sr_asprintf("/users?$filter=proxyAddresses/any(x:x%%20eq%%20'%s:%s')"
                                   "&$select=mail,displayName", is_dn(addr) ? "x500" : "smtp", enc)
                     : NULL;
    free(enc);
    return path;
}

/* Steps 3 and 4 over Microsoft Graph, in $batch requests of 20 (one
 * dependent round trip each): the first nv entries are mapped source
 * recipients whose target address must be a user of the target org; the
 * others are identity checks of SMTP and DN keys.  Answers as
 * target_from_ews. */
static sr_code target_from_graph(rmap *m, entry **p, size_t n, size_t nv, sr_err *err)
{
    mapi_graph_req *reqs = calloc(n ? n : 1, sizeof *reqs);
    size_t *of = calloc(n ? n : 1, sizeof *of), k = 0;
    sr_code rc = reqs && of ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == SR_OK; i++) {
        const char *addr = i < nv ? p[i]->tgt_smtp : p[i]->key;
        if (!addr || !(is_smtp(addr) || is_dn(addr))) {
            p[i]->st = i < nv ? RMAP_NOT_MIGRATED : RMAP_UNKNOWN;
            continue;
        }
        of[k] = i;
        if (!(reqs[k++].path = users_by_proxy(addr)))
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    if (rc == SR_OK && k) {
        rc = mapi_graph_batch(m->graph, reqs, k, err);
        m->lookups += (unsigned)((k + MAPI_GRAPH_BATCH_MAX - 1) / MAPI_GRAPH_BATCH_MAX);
        if (rc != SR_OK)
            sr_err_prefix(err, "recipient map: Microsoft Graph users: ");
    }
    for (size_t j = 0; j < k && rc == SR_OK; j++) {
        entry *e = p[of[j]];
        json_t *v = json_object_get(reqs[j].resp, "value");
        size_t nf = json_is_array(v) ? json_array_size(v) : 0;
        const char *mail = nf == 1 ? json_string_value(json_object_get(json_array_get(v, 0), "mail")) : NULL;
        const char *name = nf == 1 ? json_string_value(json_object_get(json_array_get(v, 0), "displayName")) : NULL;
        if (mail && *mail) {
            e->st = RMAP_MAPPED;
            set_str(&e->tgt_smtp, mail);
            if (name)
                set_str(&e->display, name);
        } else {
            e->st = nf > 1 ? RMAP_AMBIGUOUS : of[j] < nv ? RMAP_NOT_MIGRATED : RMAP_UNKNOWN;
        }
    }
    for (size_t j = 0; reqs && j < k; j++) {
        free((char *)reqs[j].path);
        mapi_graph_req_clear(&reqs[j]);
    }
    free(reqs);
    free(of);
    return rc;
}

void rmap_set_graph(rmap *m, mapi_graph *g)
{
    m->graph = g;
}

/* The pending entries with status st. */
static size_t select_pending(table *t, rmap_status st, entry **out)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].pending && t->v[i].st == st)
            out[k++] = &t->v[i];
    return k;
}

static sr_code collect(table *t, const char *const *keys, size_t n, size_t *npend, sr_err *err)
{
    *npend = 0;
    for (size_t i = 0; i < n; i++) {
        if (!keys[i] || !*keys[i])
            continue;
        int fresh;
        entry *e = get_entry(t, keys[i], &fresh, err);
        if (!e)
            return err->code;
        if (!fresh && e->st == RMAP_ERROR && !e->pending)
            e->st = RMAP_UNKNOWN;   /* an error is no answer: ask again */
        else if (!fresh)
            continue;
        if (!e->pending) {
            e->pending = 1;
            (*npend)++;
        }
    }
    return SR_OK;
}

static void clear_pending(table *t, sr_code rc)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i].pending && rc != SR_OK)   /* unverified answers are no answers */
            t->v[i].st = RMAP_ERROR;
        t->v[i].pending = 0;
    }
}

/* Keys that can be checked for identity on the target (addresses). */
static size_t keep_addresses(entry **p, size_t k)
{
    size_t j = 0;
    for (size_t i = 0; i < k; i++)
        if (is_smtp(p[i]->key) || is_dn(p[i]->key))
            p[j++] = p[i];
    return j;
}

sr_code rmap_resolve_both(rmap *m, const char *const *keys, size_t n, const char *const *tkeys,
                          size_t nt, sr_err *err)
{
    size_t np = 0, ntp = 0;
    sr_code rc = collect(&m->map, keys, n, &np, err);
    if (rc == SR_OK)
        rc = collect(&m->tgt_keys, tkeys, nt, &ntp, err);
    if (rc == SR_OK && np + ntp)   /* something to ask: now the directories are needed */
        rc = open_dirs(m, err);
    entry **p = rc == SR_OK && np + ntp ? calloc(m->map.n + m->tgt_keys.n, sizeof *p) : NULL;
    if (rc == SR_OK && np + ntp && !p)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t nv = 0, nid = 0;   /* p[0..nv) verify, p[nv..nv+nid) identity */
    if (p && np) {
        /* fresh entries start UNKNOWN: that is the selection of step 2 / 4 */
        size_t k = select_pending(&m->map, RMAP_UNKNOWN, p);
        int identity = !m->src_dir;
        if (!identity) {
            rc = resolve_source(m, p, k, err);
            k = rc == SR_OK ? select_pending(&m->map, RMAP_MAPPED, p) : 0;
        } else {
            k = keep_addresses(p, k);
        }
        /* the target directory first; only its misses go on, one by one */
        if (k && m->tgt_dir && rc == SR_OK)
            rc = from_target_dir(m, p, k, identity, &k, err);
        /* over Graph the directory's answer stands: Graph writes SMTP
         * addresses (no target legacyExchangeDN to fetch) and refuses an
         * unknown delegate itself; a verify batch would cost a round trip */
        if ((m->tgt || (m->graph && identity)) && rc == SR_OK)
            *(identity ? &nid : &nv) = k;
    }
    if (p && ntp && rc == SR_OK) {
        entry **q = p + nv + nid;
        size_t k = keep_addresses(q, select_pending(&m->tgt_keys, RMAP_UNKNOWN, q));
        if (k && m->tgt_dir)
            rc = from_target_dir(m, q, k, 1, &k, err);
        if ((m->tgt || m->graph) && rc == SR_OK)
            nid += k;
    }
    if (rc == SR_OK && nv + nid)
        rc = m->tgt ? target_from_ews(m, p, nv + nid, nv, err) : target_from_graph(m, p, nv + nid, nv, err);
    if (rc != SR_OK)
        rc = err->code;
    clear_pending(&m->map, rc);
    clear_pending(&m->tgt_keys, rc);
    free(p);
    return rc;
}

sr_code rmap_resolve(rmap *m, const char *const *keys, size_t n, sr_err *err)
{
    return rmap_resolve_both(m, keys, n, NULL, 0, err);
}

rmap_status rmap_lookup(rmap *m, const char *key, rmap_target *t)
{
    char *norm = key ? normalise(key) : NULL;
    entry *e = norm ? tfind(&m->map, norm) : NULL;
    free(norm);
    if (!e)
        return RMAP_UNKNOWN;
    if (t && e->st == RMAP_MAPPED) {
        t->smtp = e->tgt_smtp;
        t->legacy_dn = e->tgt_dn;
        t->display_name = e->display;
    }
    return e->st;
}

const char *rmap_source_smtp(rmap *m, const char *key)
{
    char *norm = key ? normalise(key) : NULL;
    entry *e = norm ? tfind(&m->map, norm) : NULL;
    free(norm);
    return e ? e->src_smtp : NULL;
}

sr_code rmap_resolve_target(rmap *m, const char *const *keys, size_t n, sr_err *err)
{
    return rmap_resolve_both(m, NULL, 0, keys, n, err);
}

const char *rmap_target_smtp_of(rmap *m, const char *key)
{
    char *norm = key ? normalise(key) : NULL;
    entry *e = norm ? tfind(&m->tgt_keys, norm) : NULL;
    free(norm);
    return e && e->st == RMAP_MAPPED ? e->tgt_smtp : NULL;
}

const char *rmap_status_name(rmap_status s)
{
    switch (s) {
    case RMAP_MAPPED: return "mapped";
    case RMAP_NOT_MIGRATED: return "not-migrated";
    case RMAP_UNKNOWN: return "unknown";
    case RMAP_AMBIGUOUS: return "ambiguous";
    case RMAP_ERROR: return "error";
    }
    return "?";
}

unsigned rmap_lookups_made(const rmap *m)
{
    return m ? m->lookups : 0;
}

sr_code rmap_resolve_target_unknown(rmap *m, const char *const *keys, size_t n, sr_err *err)
{
    const char **u = calloc(n ? n : 1, sizeof *u);
    if (!u)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (keys[i] && rmap_lookup(m, keys[i], NULL) == RMAP_UNKNOWN)
            u[k++] = keys[i];
    sr_code rc = k ? rmap_resolve_target(m, u, k, err) : SR_OK;
    free(u);
    return rc;
}
