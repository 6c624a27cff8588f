/* pipeline.c — the features as a pipeline: each goes on to its next step
 * as soon as its own is ready (run_features' way without a Critical
 * feature), on the waves of waves.c. */
#include <string.h>

#include "cpuu/engine_int.h"

/* ---- the pipeline (issue 13 goal 1: ≤ 6 dependent round trips a side) ----
 * Without a Critical feature (nothing to roll back) and outside a dry run,
 * every feature goes on as soon as its own step is ready instead of waiting
 * for the slowest feature's: its read in the read waves, then its
 * recipients (the keys of the features whose reads ended in the same wave,
 * one batch: a target GetUserSettings travels with the next wave), then its
 * plan and backup, then its writes in the write waves (cpuu_apply_after still
 * orders the writes of one target object).  One wave carries reads, lookups
 * and writes together.  The target's read chains are 1-2 requests after
 * the logon, so no write goes out before the last target read; a read that
 * is not done then meets the objects as written, as a second run does. */
enum { P_READ, P_RESOLVE, P_WRITE, P_DONE };

#define PIPE_WAVES_MAX 16

typedef struct feat_pipe {
    feat_run **v;
    const int *id;
    const char **names;
    size_t n;
    int phase[CFG_F__MAX + 1];
    int cohort[CFG_F__MAX + 1];   /* the wave its read ended in; -1: finish it live */
    int hold;                     /* a folder tree left to the reads is not in (cpuu_trees_attempt):
                                   * read on, plan nothing (plans map folders; the target
                                   * check's end and the profile backup come first) */
    int hold_writes;              /* the switch message the engine writes is not answered
                                   * yet (cpuu_sm_attempt): plan on, write nothing */
} feat_pipe;

/* Both sessions' wave mode for the next attempts. */
static void sessions_do(cpuu_ctx *c, void (*fn)(mapi_session *))
{
    fn(c->src);
    if (c->tgt && c->tgt != c->src)
        fn(c->tgt);
}

/* Plan and backup of v[i] (its recipients are in the map): live, since a
 * plan may ask what its keys did not name (ContactMembers' target EX
 * addresses after an earlier run). */
static void pipe_prepare(cpuu_ctx *c, feat_pipe *p, size_t i, int live_now)
{
    feat_run *f = p->v[i];
    if (!live_now)
        sessions_do(c, mapi_session_wave_live);
    sessions_do(c, mapi_session_wave_reads);
    f->rc = cpuu_prepare_feature(c, f->ops, p->names[i], f->state, &f->st, f->rc, &f->err);
    if (!live_now)
        sessions_do(c, mapi_session_wave_record);
    cpuu_progress("feature end %s", p->names[i]);   /* its write goes with the waves */
    p->phase[i] = f->rc == SR_OK ? P_WRITE : P_DONE;
}

/* The recipients of the features whose reads ended in wave co, in one
 * batch, then their plans.  Deferred (the batch goes with this wave): they
 * wait.  Failed: they finish live after the waves, as resolve_recipients. */
static void pipe_resolve(cpuu_ctx *c, feat_pipe *p, int co)
{
    cpuu_keys k = { 0 }, tk = { 0 };
    sr_err e = { 0 };
    sr_code rc = SR_OK;
    int any = 0;
    for (size_t i = 0; i < p->n && rc == SR_OK; i++) {
        if (p->phase[i] != P_RESOLVE || p->cohort[i] != co)
            continue;
        any = 1;
        if (p->v[i]->ops->keys && p->v[i]->state)
            rc = p->v[i]->ops->keys(c, p->v[i]->state, &k, &tk, &e);
    }
    unsigned long before = cpuu_deferred_calls(c);
    sessions_do(c, mapi_session_wave_reads);
    if (any && rc == SR_OK && k.n + tk.n)
        rc = rmap_resolve_both(c->map, (const char *const *)k.v, k.n, (const char *const *)tk.v,
                               tk.n, &e);
    cpuu_keys_clear(&k);
    cpuu_keys_clear(&tk);
    if (!any || cpuu_deferred_calls(c) != before)
        return;
    if (rc != SR_OK)
        sr_log(SR_LOG_INFO, c->who, "recipients of the features read in wave %d: %s (each feature "
               "resolves its own)", co + 1, e.msg);
    for (size_t i = 0; i < p->n; i++) {
        if (p->phase[i] != P_RESOLVE || p->cohort[i] != co)
            continue;
        if (rc == SR_OK)
            pipe_prepare(c, p, i, 0);
        else
            p->cohort[i] = -1;
    }
}

/* Whether the cpuu_apply_after feature of p->v[i] has writes not yet answered. */
static int pipe_after_pending(const feat_pipe *p, size_t i)
{
    int after = cpuu_apply_after(p->id[i]);
    for (size_t j = 0; after >= 0 && j < p->n; j++) {
        if (p->id[j] != after || p->phase[j] == P_DONE)
            continue;
        const struct feature_ops *o = p->v[j]->ops;
        if (!(p->phase[j] == P_WRITE && o->writes_done && o->writes_done(p->v[j]->state)))
            return 1;
    }
    return 0;
}

/* One wave's attempts; 1 while something is not done. */
static int pipe_wave(cpuu_ctx *c, feat_pipe *p, int w)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->phase[i] != P_READ)
            continue;
        sessions_do(c, mapi_session_wave_reads);
        if (cpuu_read_attempt_held(c, p->v[i], p->hold)) {
            p->phase[i] = p->v[i]->rc == SR_OK ? P_RESOLVE : P_DONE;
            p->cohort[i] = w;
        }
    }
    for (int co = 0; !p->hold && co <= w; co++)
        pipe_resolve(c, p, co);
    int open = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->phase[i] == P_WRITE && !p->hold_writes) {
            int pending = pipe_after_pending(p, i);
            if ((!pending || p->v[i]->ops->early_writes) && cpuu_apply_attempt(c, p->v[i], pending))
                p->phase[i] = P_DONE;
        }
        open |= p->phase[i] != P_DONE && p->cohort[i] >= 0;
    }
    return open;
}

/* What the waves did not finish, live and in table order (the order of
 * writes cpuu_apply_after asks for), as cpuu_read_all and cpuu_apply_all finish theirs. */
static void pipe_live(cpuu_ctx *c, feat_pipe *p)
{
    for (size_t i = 0; i < p->n; i++) {
        if (p->phase[i] != P_READ)
            continue;
        sessions_do(c, mapi_session_wave_reads);
        p->v[i]->state = NULL;
        memset(&p->v[i]->st, 0, sizeof p->v[i]->st);
        p->v[i]->rc = p->v[i]->ops->read(c, &p->v[i]->state, &p->v[i]->st, &p->v[i]->err);
        p->phase[i] = p->v[i]->rc == SR_OK ? P_RESOLVE : P_DONE;
    }
    for (size_t i = 0; i < p->n; i++)
        if (p->phase[i] == P_RESOLVE)
            pipe_prepare(c, p, i, 1);
    for (size_t i = 0; i < p->n; i++) {
        if (p->phase[i] != P_WRITE)
            continue;
        sessions_do(c, mapi_session_wave_step);
        sr_err_clear(&p->v[i]->err);
        p->v[i]->rc = p->v[i]->ops->apply(c, p->v[i]->state, &p->v[i]->st, &p->v[i]->err);
        p->phase[i] = P_DONE;
    }
}

/* The n features (table order, the junk reset last; id[] their cfg_feature
 * or JUNK_ID) through the pipeline, each ended and reported in table order.
 * The folder trees left to the first reads (t) travel with them, as in
 * cpuu_read_all; no plan before they are in.  0, or cpuu_trees_verdict's stop (then
 * nothing was planned or written). */
int cpuu_run_pipeline(cpuu_ctx *c, feat_run **v, const int *id, const char **names,
                 size_t n, read_trees *t)
{
    feat_pipe p = { .v = v, .id = id, .names = names, .n = n };
    if (!n)
        return cpuu_read_all(c, v, names, 0, t);
    int waves = cpuu_waves_on(c, 1);
    if (!waves)
        cpuu_waves_on(c, 0);   /* out of memory on one side: everything live */
    int stop = 0;
    for (int w = 0; waves && w < PIPE_WAVES_MAX; w++) {
        unsigned long before = cpuu_deferred_calls(c);
        cpuu_progress("feature begin %s", names[0]);   /* the watchdog times every wave */
        int in = cpuu_trees_attempt(c, t);
        if (in && (stop = cpuu_trees_verdict(t)))
            break;
        int sm_in = cpuu_sm_attempt(c, t);
        if (sm_in && t->sm.rc != SR_OK) {
            stop = RUN_NO_SWITCHMSG;   /* nothing written: writes waited for it */
            break;
        }
        p.hold = !in;
        p.hold_writes = !sm_in;
        int open = pipe_wave(c, &p, w) || !in || !sm_in;
        /* nothing deferred: the next wave could not get further (a feature
         * whose recipients failed waits for the live pass) */
        if (!open || cpuu_deferred_calls(c) == before)
            break;
        cpuu_progress("feature begin %s", names[0]);   /* and its send (a plan ended the stage) */
        if (!cpuu_waves_send(c))
            break;
    }
    if (waves)
        sessions_do(c, mapi_session_wave_live);
    if (!stop) {
        cpuu_trees_attempt(c, t);
        stop = cpuu_trees_verdict(t);
    }
    if (!stop)
        stop = cpuu_sm_finish(c, t);
    if (stop) {   /* nothing written (hold, hold_writes) */
        if (waves)
            cpuu_waves_on(c, 0);
        return stop;
    }
    p.hold = p.hold_writes = 0;
    pipe_live(c, &p);
    if (waves)
        cpuu_waves_on(c, 0);
    for (size_t i = 0; i < n; i++) {
        cpuu_progress("feature begin %s", names[i]);
        if (cpuu_end_feature(c, v[i]->ops, names[i], v[i]->state, &v[i]->st, v[i]->rc) != SR_OK)
            sr_log(SR_LOG_WARN, c->who, "%s failed: %s (not Critical: continuing)", names[i],
                   v[i]->err.msg);
    }
    return 0;
}

/* Whether run_features may use the pipeline: EWS on both sides, writes
 * (a dry run plans after every read, as it always did) and no Critical
 * feature (a failed Critical one must stop every write before it starts). */
int cpuu_pipeline_fits(const cpuu_run_ctx *r, const cpuu_ctx *c)
{
    return !c->dry_run && !c->graph && c->src && c->tgt &&
           !(r->cfg->effective & r->cfg->critical);
}
