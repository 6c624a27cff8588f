/* feat_delegates.c — the Delegates feature: the source mailbox's delegates
 * and DeliverMeetingRequests, mapped to target recipients, written to the
 * target mailbox (docs/features.md).
 *
 * read:    GetDelegate IncludePermissions=true on the source and the target.
 * plan:    one rmap_resolve for every source delegate and every target
 *          delegate; desired target list = the mapped source list; the diff
 *          against the target's list gives Add / Update / Remove sets.
 *          Removed are only target delegates that are SOURCE recipients
 *          (left over by a copy), never the target's own delegates.
 * backup:  the target's GetDelegateResponse (the first run's is kept).
 * apply:   RemoveDelegate, UpdateDelegate, AddDelegate — one request each,
 *          in this order (the delegate information object is one message
 *          per mailbox, so the writes are not sent concurrently).
 * restore: converge the target to the backed-up list the same way. */
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "Delegates"
#define BACKUP_NAME "target.xml"

typedef struct plan {
    ewsf_delegates add, upd;
    char **rem;
    size_t nrem;
    const char *deliver;        /* new DeliverMeetingRequests, NULL = unchanged */
} plan;

typedef struct dstate {
    ewsf_delegates src, tgt;
    xmlDocPtr tgt_doc;          /* the target's GetDelegate answer (backup) */
    xmlNodePtr tgt_op;
    plan p;
} dstate;

static void plan_clear(plan *p)
{
    ewsf_delegates_clear(&p->add);
    ewsf_delegates_clear(&p->upd);
    for (size_t i = 0; i < p->nrem; i++)
        free(p->rem[i]);
    free(p->rem);
    memset(p, 0, sizeof *p);
}

static void dstate_free(void *v)
{
    dstate *s = v;
    if (!s)
        return;
    ewsf_delegates_clear(&s->src);
    ewsf_delegates_clear(&s->tgt);
    xmlFreeDoc(s->tgt_doc);
    plan_clear(&s->p);
    free(s);
}

/* GetDelegate on one session into out; when doc is given, the answer's
 * document and its response element are handed over (for the backup). */
static sr_code get_delegates(cpuu_ctx *c, mapi_session *s, ewsf_delegates *out, xmlDocPtr *doc,
                             xmlNodePtr *op, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_call call = {.idempotent = 1};
    call.req = ewsf_req_getdelegate(&t, mapi_session_mailbox(s), err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(s, &call, 1, err);
    if (rc == SR_OK)
        rc = ewsf_parse_getdelegate(call.resp_op, out, err);
    xmlFreeDoc(call.req);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: GetDelegate on %s: ", c->who, FEATURE, mapi_session_mailbox(s));
        xmlFreeDoc(call.resp);
        return rc;
    }
    if (out->bad)
        sr_log(SR_LOG_WARN, c->who, "%s: GetDelegate on %s: %u delegate entries unreadable (%s): "
               "left as they are", FEATURE, mapi_session_mailbox(s), out->bad,
               out->first_bad ? out->first_bad : "?");
    if (doc) {
        *doc = call.resp;
        *op = call.resp_op;
    } else {
        xmlFreeDoc(call.resp);
    }
    return SR_OK;
}

static sr_code d_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    dstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    /* Source and target are different servers (often different mapi_net
     * handles); each read is one round trip on its own server. */
    sr_code rc = SR_OK;
    sr_err e2;   /* the target's own failure after the source's */
    if (c->src != c->tgt)
        rc = get_delegates(c, c->src, &s->src, NULL, NULL, err);
    if (cpuu_read_on(rc))
        rc = cpuu_read_both(rc, get_delegates(c, c->tgt, &s->tgt, &s->tgt_doc, &s->tgt_op,
                                              rc == SR_OK ? err : &e2));
    /* updated in place: the one mailbox is both sides, read once */
    for (size_t i = 0; rc == SR_OK && c->src == c->tgt && i < s->tgt.n; i++)
        rc = ewsf_delegates_add(&s->src, &s->tgt.v[i], err);
    if (rc == SR_OK && c->src == c->tgt && s->tgt.deliver)
        s->src.deliver = sr_strdup(s->tgt.deliver);
    st->seen = (unsigned)(s->src.n + s->src.bad);
    st->unresolved += s->src.bad;   /* unreadable source delegates cannot be carried over */
    return rc;
}

static const ewsf_delegate *find_by_smtp(const ewsf_delegates *l, const char *smtp)
{
    for (size_t i = 0; smtp && i < l->n; i++)
        if (l->v[i].smtp && strcasecmp(l->v[i].smtp, smtp) == 0)
            return &l->v[i];
    return NULL;
}

static int same_level(const char *a, const char *b)
{
    return strcmp(a ? a : "None", b ? b : "None") == 0;
}

/* Does applying want to have change anything? */
static int differs(const ewsf_delegate *want, const ewsf_delegate *have)
{
    for (int i = 0; i < EWSF_NPERM; i++)
        if (want->perm[i] && !same_level(want->perm[i], have->perm[i]))
            return 1;
    if (want->receive_copies >= 0 && want->receive_copies != (have->receive_copies == 1))
        return 1;
    if (want->view_private >= 0 && want->view_private != (have->view_private == 1))
        return 1;
    return 0;
}

static sr_code add_removal(plan *p, const char *smtp, sr_err *err)
{
    char **nv = realloc(p->rem, (p->nrem + 1) * sizeof *nv);
    if (!nv)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    p->rem = nv;
    if (!(p->rem[p->nrem] = sr_strdup(smtp)))
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    p->nrem++;
    return SR_OK;
}

/* want vs have → Add / Update / Remove.  remove_extra(have entry) decides
 * whether a target delegate not in want goes. */
typedef int (*extra_fn)(void *ctx, const ewsf_delegate *d);

static sr_code diff(const ewsf_delegates *want, const ewsf_delegates *have, extra_fn extra,
                    void *ctx, plan *p, sr_err *err)
{
    sr_code rc = SR_OK;
    for (size_t i = 0; i < want->n && rc == SR_OK; i++) {
        const ewsf_delegate *h = find_by_smtp(have, want->v[i].smtp);
        if (!h)
            rc = ewsf_delegates_add(&p->add, &want->v[i], err);
        else if (differs(&want->v[i], h))
            rc = ewsf_delegates_add(&p->upd, &want->v[i], err);
    }
    for (size_t i = 0; i < have->n && rc == SR_OK; i++)
        if (have->v[i].smtp && !find_by_smtp(want, have->v[i].smtp) && extra(ctx, &have->v[i]))
            rc = add_removal(p, have->v[i].smtp, err);
    if (want->deliver && (!have->deliver || strcmp(want->deliver, have->deliver) != 0))
        p->deliver = want->deliver;
    return rc;
}

/* A target delegate not wanted is removed when it is a source recipient
 * (the source directory knows it): a leftover of a copy. */
static int is_source_leftover(void *ctx, const ewsf_delegate *d)
{
    rmap_status st = rmap_lookup(ctx, d->smtp, NULL);
    return st == RMAP_MAPPED || st == RMAP_NOT_MIGRATED;   /* ambiguous: never remove on a guess */
}

/* The mapped copy of one source delegate into want; 1 when kept out. */
static int map_one(cpuu_ctx *c, const ewsf_delegate *d, ewsf_delegates *want, feature_stats *st,
                   sr_err *err, sr_code *rc)
{
    rmap_target t = {0};
    rmap_status ms = d->smtp ? rmap_lookup(c->map, d->smtp, &t) : RMAP_UNKNOWN;
    if (ms != RMAP_MAPPED) {
        st->unresolved++;
        sr_log(SR_LOG_WARN, c->who, "%s: delegate %s is %s in the target organisation: not added "
               "(a delegate must be a recipient of the target)", FEATURE,
               d->smtp ? d->smtp : d->sid ? d->sid : "?", rmap_status_name(ms));
        return 1;
    }
    if (strcasecmp(t.smtp, mapi_session_mailbox(c->tgt)) == 0) {
        sr_log(SR_LOG_WARN, c->who, "%s: delegate %s maps to the mailbox itself: not added",
               FEATURE, d->smtp);
        return 1;
    }
    ewsf_delegate m = *d;
    m.smtp = (char *)t.smtp;
    m.display_name = (char *)t.display_name;
    m.sid = NULL;   /* a SID of the source forest means nothing in the target */
    for (int i = 0; i < EWSF_NPERM; i++)
        if (d->perm[i] && strcmp(d->perm[i], "Custom") == 0) {
            /* EWS cannot write Custom levels: leave that folder as it is */
            m.perm[i] = NULL;
            st->unsupported++;
            sr_log(SR_LOG_WARN, c->who, "%s: delegate %s has Custom permissions on %s: EWS cannot "
                   "set them; the target folder's permissions stay as they are", FEATURE, d->smtp,
                   ewsf_perm_folders[i]);
        }
    *rc = ewsf_delegates_add(want, &m, err);
    return 0;
}

/* The addresses d_plan resolves, for the engine's one batch. */
static sr_code d_keys(cpuu_ctx *c, void *state, cpuu_keys *k, cpuu_keys *tk, sr_err *err)
{
    (void)tk;   /* no target-organisation keys */
    (void)c;
    dstate *s = state;
    sr_code rc = SR_OK;
    for (size_t i = 0; i < s->src.n && rc == SR_OK; i++)
        if (s->src.v[i].smtp)
            rc = cpuu_keys_take(k, sr_strdup(s->src.v[i].smtp), err);
    for (size_t i = 0; i < s->tgt.n && rc == SR_OK; i++)
        if (s->tgt.v[i].smtp)
            rc = cpuu_keys_take(k, sr_strdup(s->tgt.v[i].smtp), err);
    return rc;
}

static sr_code d_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    dstate *s = state;
    size_t nk = s->src.n + s->tgt.n;
    const char **keys = calloc(nk ? nk : 1, sizeof *keys);
    if (!keys)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < s->src.n; i++)
        if (s->src.v[i].smtp)
            keys[k++] = s->src.v[i].smtp;
    for (size_t i = 0; i < s->tgt.n; i++)
        if (s->tgt.v[i].smtp)
            keys[k++] = s->tgt.v[i].smtp;
    sr_code rc = rmap_resolve(c->map, keys, k, err);
    free(keys);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
        return rc;
    }
    ewsf_delegates want = {0};
    for (size_t i = 0; i < s->src.n && rc == SR_OK; i++)
        map_one(c, &s->src.v[i], &want, st, err, &rc);
    if (rc == SR_OK && s->src.deliver)
        want.deliver = sr_strdup(s->src.deliver);
    plan_clear(&s->p);
    if (rc == SR_OK)
        rc = diff(&want, &s->tgt, is_source_leftover, c->map, &s->p, err);
    if (rc == SR_OK && s->p.deliver)   /* keep the string beyond want's life */
        s->p.deliver = s->src.deliver;
    ewsf_delegates_clear(&want);
    st->changed = (unsigned)(s->p.add.n + s->p.upd.n + s->p.nrem);
    for (size_t i = 0; i < s->p.add.n; i++)
        sr_log(SR_LOG_INFO, c->who, "%s: plan: add %s", FEATURE, s->p.add.v[i].smtp);
    for (size_t i = 0; i < s->p.upd.n; i++)
        sr_log(SR_LOG_INFO, c->who, "%s: plan: update %s", FEATURE, s->p.upd.v[i].smtp);
    for (size_t i = 0; i < s->p.nrem; i++)
        sr_log(SR_LOG_INFO, c->who, "%s: plan: remove %s (a source recipient left over)", FEATURE,
               s->p.rem[i]);
    sr_log(SR_LOG_INFO, c->who, "%s: %zu source delegates; add %zu, update %zu, remove %zu%s%s",
           FEATURE, s->src.n, s->p.add.n, s->p.upd.n, s->p.nrem,
           s->p.deliver ? ", DeliverMeetingRequests → " : "", s->p.deliver ? s->p.deliver : "");
    return rc;
}

static sr_code d_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    dstate *s = state;
    if (c->dry_run)
        return SR_OK;
    if (cpuu_backup_exists(c, FEATURE, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    int n = 0;
    xmlChar *x = ewsf_dump_node(s->tgt_op, &n);
    if (!x)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, x, (size_t)n, err);
    xmlFree(x);
    return rc;
}

/* Run one prepared change request; per-delegate failures are logged with
 * the delegate's address, the first one is returned. */
static sr_code run_change(cpuu_ctx *c, const char *what, xmlDocPtr req, const char *const *who,
                          size_t n, sr_err *err)
{
    if (!req)
        return err->code;
    mapi_ews_call call = {.req = req};
    sr_code rc = mapi_session_run(c->tgt, &call, 1, err);
    if (rc == SR_OK && n) {
        sr_code *codes = calloc(n, sizeof *codes);
        char **msgs = calloc(n, sizeof *msgs);
        if (!codes || !msgs) {
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        } else {
            rc = ewsf_parse_delegate_changes(call.resp_op, n, codes, msgs, err);
            unsigned failed = 0;
            const char *first = NULL;
            for (size_t i = 0; i < n; i++) {
                if (codes[i] != SR_OK) {
                    sr_log(SR_LOG_ERROR, c->who, "%s: %s %s: %s", FEATURE, what, who[i],
                           msgs[i] ? msgs[i] : sr_strerror(codes[i]));
                    first = first ? first : who[i];
                    failed++;
                }
                free(msgs[i]);
            }
            if (first)   /* name the delegate; the others of the call went through */
                sr_err_prefix(err, "%u of %zu delegates failed, first %s: ", failed, n, first);
        }
        free(codes);
        free(msgs);
    } else if (rc == SR_OK) {
        rc = ewsf_msg_status(call.resp_op, err);
    }
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: %s on %s: ", c->who, FEATURE, what, mapi_session_mailbox(c->tgt));
    xmlFreeDoc(call.req);
    xmlFreeDoc(call.resp);
    return rc;
}

static const char **smtps_of(const ewsf_delegates *l)
{
    const char **v = calloc(l->n ? l->n : 1, sizeof *v);
    for (size_t i = 0; v && i < l->n; i++)
        v[i] = l->v[i].smtp;
    return v;
}

/* Remove → Update (with DeliverMeetingRequests) → Add; continue after a
 * failed step so one bad delegate does not block the others. */
static sr_code write_plan(cpuu_ctx *c, const plan *p, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(c->tgt);
    const char *mbx = mapi_session_mailbox(c->tgt);
    sr_code first = SR_OK;
    sr_err e = {0};
    if (p->nrem) {
        xmlDocPtr rq = ewsf_req_removedelegate(&t, mbx, (const char *const *)p->rem, p->nrem, &e);
        if (run_change(c, "RemoveDelegate", rq, (const char *const *)p->rem, p->nrem, &e) != SR_OK &&
            first == SR_OK) {
            first = e.code;
            *err = e;
        }
    }
    if (p->upd.n || (p->deliver && !p->add.n)) {
        const char **who = smtps_of(&p->upd);
        xmlDocPtr rq = who ? ewsf_req_updatedelegate(&t, mbx, p->upd.v, p->upd.n, p->deliver, &e)
                           : NULL;
        if (!who)
            sr_err_set(&e, SR_E_NOMEM, "out of memory");
        if (run_change(c, "UpdateDelegate", rq, who, p->upd.n, &e) != SR_OK && first == SR_OK) {
            first = e.code;
            *err = e;
        }
        free(who);
    }
    if (p->add.n) {
        const char **who = smtps_of(&p->add);
        xmlDocPtr rq = who ? ewsf_req_adddelegate(&t, mbx, p->add.v, p->add.n, p->deliver, &e) : NULL;
        if (!who)
            sr_err_set(&e, SR_E_NOMEM, "out of memory");
        if (run_change(c, "AddDelegate", rq, who, p->add.n, &e) != SR_OK && first == SR_OK) {
            first = e.code;
            *err = e;
        }
        free(who);
    }
    return first;
}

static sr_code d_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    dstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u delegate changes not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    return write_plan(c, &s->p, err);
}

static int remove_any(void *ctx, const ewsf_delegate *d)
{
    (void)ctx;
    (void)d;
    return 1;
}

static void exact(ewsf_delegate *d)
{
    for (int i = 0; i < EWSF_NPERM; i++)
        if (!d->perm[i])
            d->perm[i] = sr_strdup("None");
    if (d->receive_copies < 0)
        d->receive_copies = 0;
    if (d->view_private < 0)
        d->view_private = 0;
}

static sr_code d_restore(cpuu_ctx *c, sr_err *err)
{
    xmlDocPtr doc = NULL;
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "Delegates", NULL, &doc, err);
    if (rc != SR_OK)
        return rc;
    ewsf_delegates saved = {0}, cur = {0};
    rc = ewsf_parse_getdelegate(xmlDocGetRootElement(doc), &saved, err);
    xmlFreeDoc(doc);
    for (size_t i = 0; i < saved.n; i++)   /* exactly the saved state: absent = None/false */
        exact(&saved.v[i]);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: backup: ", c->who, FEATURE);
    if (rc == SR_OK)
        rc = get_delegates(c, c->tgt, &cur, NULL, NULL, err);
    plan p = {0};
    if (rc == SR_OK)
        rc = diff(&saved, &cur, remove_any, NULL, &p, err);
    if (rc == SR_OK && !c->dry_run)
        rc = write_plan(c, &p, err);
    sr_log(SR_LOG_INFO, c->who, "%s: restore: add %zu, update %zu, remove %zu", FEATURE, p.add.n,
           p.upd.n, p.nrem);
    plan_clear(&p);
    ewsf_delegates_clear(&saved);
    ewsf_delegates_clear(&cur);
    return rc;
}

/* the same over Microsoft Graph (feat_delegates_graph.c) */
extern const struct feature_ops cpuu_feat_delegates_graph;

const struct feature_ops cpuu_feat_delegates = {
    .id = CFG_F_DELEGATES,
    .read = d_read,
    .keys = d_keys,
    .plan = d_plan,
    .backup = d_backup,
    .apply = d_apply,
    .restore = d_restore,
    .free_state = dstate_free,
    .graph = &cpuu_feat_delegates_graph,
};
