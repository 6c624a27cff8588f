/* waves.c — a feature's steps (plan → backup → apply → end) and the
 * concurrent waves (issue 13) that run the features' reads and writes on
 * both sessions at once, with the folder trees the first reads carry.  Used
 * by run_features (engine.c) and the pipeline (pipeline.c). */
#include <string.h>

#include "cpuu/engine_int.h"

/* A feature's plan and backup after its read (rc: the read's outcome); on
 * failure the caller ends it with cpuu_end_feature. */
sr_code cpuu_prepare_feature(cpuu_ctx *c, const struct feature_ops *ops, const char *name,
                        void *state, feature_stats *st, sr_code rc, sr_err *err)
{
    cpuu_progress("feature begin %s", name);
    if (rc == SR_OK)
        rc = ops->plan(c, state, st, err);
    if (rc == SR_OK && !c->dry_run)
        rc = ops->backup(c, state, err);
    return rc;
}

/* After its apply (or a failed step before; rc): free, report. */
sr_code cpuu_end_feature(cpuu_ctx *c, const struct feature_ops *ops, const char *name,
                    void *state, const feature_stats *st, sr_code rc)
{
    if (ops->free_state)
        ops->free_state(state);
    cpuu_progress("feature end %s", name);
    /* the mailbox's report names a feature that failed, Critical or not
     * (the reason is in our log): a profile that goes on after a failed
     * feature is still PROFILE_MODIFYING_OK, and the admin must see it */
    if (rc != SR_OK)
        cpuu_progress("featfailed %s", name);
    /* the mailbox's report names what was kept unmapped (the names are in our log) */
    if (rc == SR_OK && st->unresolved)
        cpuu_progress("unresolved %s %u", name, st->unresolved);
    if (rc == SR_OK && st->unsupported)   /* items the target could not take */
        cpuu_progress("notcarried %s %u", name, st->unsupported);
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, c->who, "%s: %u seen, %u changed, %u unresolved, %u unsupported%s", name,
               st->seen, st->changed, st->unresolved, st->unsupported, c->dry_run ? " (dry run)" : "");
    return rc;
}

/* One feature after its read: plan → backup → apply (rc: the read's outcome). */
sr_code cpuu_finish_feature(cpuu_ctx *c, const struct feature_ops *ops, const char *name,
                       void *state, feature_stats *st, sr_code rc, sr_err *err)
{
    rc = cpuu_prepare_feature(c, ops, name, state, st, rc, err);
    if (rc == SR_OK && !c->dry_run)
        rc = ops->apply(c, state, st, err);
    return cpuu_end_feature(c, ops, name, state, st, rc);
}

/* How many concurrent read waves before the reads left finish one call at a
 * time: a feature's read chain is 1-3 dependent requests (FindFolder →
 * GetFolder → FindItem), so this only bounds a read whose requests change
 * from one run to the next and would never be answered from the cache. */
#define READ_WAVES_MAX 8

unsigned long cpuu_deferred_calls(const cpuu_ctx *c)
{
    return mapi_session_wave_deferred(c->src) +
           (c->tgt && c->tgt != c->src ? mapi_session_wave_deferred(c->tgt) : 0);
}

/* Start (or, begin = 0, end) the read waves on both sessions. */
int cpuu_waves_on(cpuu_ctx *c, int begin)
{
    mapi_session *side[2] = { c->src, c->tgt != c->src ? c->tgt : NULL };
    sr_err e;
    int ok = 1;
    for (int i = 0; i < 2; i++) {
        if (side[i] && begin)
            ok = ok && mapi_session_wave_begin(side[i], &e) == SR_OK;
        else if (side[i])
            mapi_session_wave_end(side[i]);
    }
    return ok;
}

/* Every request the reads deferred, per side in one concurrent batch. */
int cpuu_waves_send(cpuu_ctx *c)
{
    sr_err e;
    /* both sides at once: a wave costs one round trip, not one per side */
    mapi_session *const side[2] = { c->src, c->tgt != c->src ? c->tgt : NULL };
    if (mapi_session_wave_send_many(side, 2, &e) != SR_OK) {
        sr_log(SR_LOG_INFO, c->who, "concurrent reads: %s (the reads left go one by one)", e.msg);
        return 0;
    }
    return 1;
}

/* One attempt at a read in a wave: 1 when it ran to its end (its outcome
 * stands), 0 when a request was deferred (what it built is thrown away). */
static int read_attempt(cpuu_ctx *c, feat_run *fr)
{
    unsigned long before = cpuu_deferred_calls(c);
    fr->state = NULL;
    memset(&fr->st, 0, sizeof fr->st);
    sr_err_clear(&fr->err);
    fr->rc = fr->ops->read(c, &fr->state, &fr->st, &fr->err);
    if (cpuu_deferred_calls(c) == before)
        return 1;
    if (fr->ops->free_state)
        fr->ops->free_state(fr->state);
    fr->state = NULL;
    return 0;
}

/* read_attempt while a folder tree left to the first reads is not in yet
 * (held): a read that ran to its end may have walked the empty tree (say
 * ContactMembers, the target's contact folders), so its outcome is thrown
 * away and it runs again once the trees are in, its requests answered from
 * the wave's cache. */
int cpuu_read_attempt_held(cpuu_ctx *c, feat_run *fr, int held)
{
    if (!read_attempt(c, fr))
        return 0;
    if (!held)
        return 1;
    if (fr->ops->free_state)
        fr->ops->free_state(fr->state);
    fr->state = NULL;
    return 0;
}

static void tree_begin(wave_tree *t, mapi_session *s, mapi_folders *out, int *later)
{
    *t = (wave_tree){ .s = s, .out = out, .done = !*later, .rc = SR_OK };
    *later = 0;
}

/* One attempt at t in a wave: as read_attempt, 1 when it ran to its end
 * (t->rc is its outcome).  Outside a wave (or after wave_live) it ends. */
static int tree_attempt(cpuu_ctx *c, wave_tree *t)
{
    if (t->done)
        return 1;
    unsigned long before = cpuu_deferred_calls(c);
    mapi_session_wave_reads(t->s);
    mapi_folders_clear(t->out);
    sr_err_clear(&t->err);
    t->rc = mapi_session_folders(t->s, t->out, &t->err);
    return t->done = cpuu_deferred_calls(c) == before;
}

void cpuu_trees_begin(cpuu_ctx *c, read_trees *t, trees_gate_fn pass, tgt_gate *g)
{
    tree_begin(&t->side[0], c->src, &c->src_folders, &c->src_tree_later);
    tree_begin(&t->side[1], c->tgt, &c->tgt_folders, &c->tgt_tree_later);
    t->pass = pass;
    t->gate = g;
    t->judged = t->verdict = 0;
    /* c keeps it until it is written: a second run of the features (the
     * target check's late decision, explicit access) writes it then */
    t->sm = (wave_sm){ .m = c->sm_write, .done = !c->sm_write, .rc = SR_OK };
}

int cpuu_sm_attempt(cpuu_ctx *c, read_trees *t)
{
    wave_sm *s = &t->sm;
    if (s->done)
        return 1;
    unsigned long before = cpuu_deferred_calls(c);
    mapi_session_wave_reads(c->src);
    sr_err_clear(&s->err);
    /* a look, then the create: idempotent, so a retried engine or a resumed
     * run never writes a second one */
    s->rc = mapi_session_write_switchmsg(c->src, s->m, 0, &s->err);
    if (!(s->done = cpuu_deferred_calls(c) == before))
        return 0;
    if (s->rc == SR_E_EXISTS) {   /* switchresmb's look found none: an earlier attempt's */
        sr_log(SR_LOG_NOTICE, c->who, "switch message found in the source mailbox (an earlier "
               "attempt wrote it): not written again");
        s->rc = SR_OK;
    } else if (s->rc == SR_OK) {
        sr_log(SR_LOG_NOTICE, c->who, "switch message written: target %s", s->m->target_smtp);
    }
    if (s->rc == SR_OK)
        c->sm_write = NULL;
    return 1;
}

int cpuu_sm_finish(cpuu_ctx *c, read_trees *t)
{
    cpuu_sm_attempt(c, t);
    return t->sm.rc != SR_OK ? RUN_NO_SWITCHMSG : 0;
}

/* An attempt at every tree not in yet; 1 when both are in. */
int cpuu_trees_attempt(cpuu_ctx *c, read_trees *t)
{
    int in = tree_attempt(c, &t->side[0]);
    return tree_attempt(c, &t->side[1]) && in;
}

/* Once both trees are in (cpuu_trees_attempt said so): 0 to go on, RUN_GATE or
 * RUN_NO_TREE (the same answer every time). */
int cpuu_trees_verdict(read_trees *t)
{
    if (!t->judged) {
        t->judged = 1;
        t->verdict = t->gate && t->pass(t->gate, &t->side[0], &t->side[1]) ? RUN_GATE
                     : t->side[0].rc != SR_OK ? RUN_NO_TREE : 0;
    }
    return t->verdict;
}

/* The reads of n features (in table order) as concurrent waves (issue 13):
 * every read runs against the sessions' answer caches; the requests none
 * could answer go out together, per side in one batch, and the reads run
 * again, one step further each wave, so a mailbox pays the longest read
 * chain instead of the sum of all of them.  The reads a bounded number of
 * waves did not finish run live.  The waves count as the first feature's
 * read for the progress protocol (its watchdog stage); the others follow
 * in order as before.  The folder trees left to the first reads (t) travel
 * with them; once they are in, cpuu_trees_verdict: 0, or why nothing may be
 * planned (the reads left then stay unread). */
int cpuu_read_all(cpuu_ctx *c, feat_run **v, const char **names, size_t n, read_trees *t)
{
    int done[CFG_F__MAX + 1] = { 0 };
    if (!n) {
        t->side[0].done = 1;   /* no plan maps the source's folders: not read */
        if (t->side[1].done) {
            int stop = cpuu_trees_verdict(t);
            return stop ? stop : cpuu_sm_finish(c, t);
        }
    }
    if (n)
        cpuu_progress("feature begin %s", names[0]);
    /* a Graph target reads over its own client, outside the sessions' caches */
    int waves = !c->graph && c->src && cpuu_waves_on(c, 1);
    if (!waves && !c->graph && c->src)
        cpuu_waves_on(c, 0);   /* out of memory on one side: every read live */
    int stop = 0;
    for (int w = 0; waves && w < READ_WAVES_MAX; w++) {
        size_t open = 0;
        int in = cpuu_trees_attempt(c, t);
        if (!in)
            open++;
        else if ((stop = cpuu_trees_verdict(t)))
            break;
        if (!cpuu_sm_attempt(c, t))
            open++;
        for (size_t i = 0; i < n; i++) {
            if (!done[i] && !(done[i] = cpuu_read_attempt_held(c, v[i], !in)))
                open++;
        }
        if (!open || !cpuu_waves_send(c))
            break;
    }
    if (waves) {
        mapi_session_wave_live(c->src);
        if (c->tgt && c->tgt != c->src)
            mapi_session_wave_live(c->tgt);
    }
    if (!stop) {
        cpuu_trees_attempt(c, t);
        stop = cpuu_trees_verdict(t);
    }
    if (!stop)   /* no plan (and so no write) before the switch message is there */
        stop = cpuu_sm_finish(c, t);
    for (size_t i = 0; i < n; i++) {
        if (i)
            cpuu_progress("feature begin %s", names[i]);
        if (!done[i] && !stop) {   /* from nothing, as a wave's attempt: no count twice */
            v[i]->state = NULL;
            memset(&v[i]->st, 0, sizeof v[i]->st);
            v[i]->rc = v[i]->ops->read(c, &v[i]->state, &v[i]->st, &v[i]->err);
        }
        cpuu_progress("feature end %s", names[i]);
    }
    if (waves)
        cpuu_waves_on(c, 0);
    return stop;
}

/* The feature whose writes must have been answered before f's begin, or
 * -1.  Two writes to the same target object never share a wave: Booking's
 * AutomateProcessing decides what happens to meeting requests whose
 * delivery Delegates' AddDelegate sets (Booking's first write, the policy
 * lists, goes earlier: feature_ops.early_writes); the junk reset rewrites
 * Inbox rule messages that Rules' UpdateInboxRules rewrites too (Rules'
 * later read does not hold it back: feature_ops.writes_done). */
int cpuu_apply_after(int f)
{
    return f == CFG_F_BOOKING ? CFG_F_DELEGATES : f == JUNK_ID ? CFG_F_RULES : -1;
}

/* How many concurrent write waves before the applies left run live: the
 * longest chains are Delegates' AddDelegate (with Booking's policy lists)
 * then Booking's AutomateProcessing, and Rules' UpdateInboxRules then the
 * junk reset (with Rules' GetInboxRules): 2 waves; a per-rule refusal costs
 * Rules one step more. */
#define APPLY_WAVES_MAX 8

/* One attempt at an apply in a write wave (the sessions staged: only its
 * first unanswered step is queued): 1 when it ran to its end (fr->rc is its
 * outcome), 0 when a step was deferred (its counts are put back; the next
 * attempt gets the answered steps' kept answers, nothing is sent twice). */
int cpuu_apply_attempt(cpuu_ctx *c, feat_run *fr, int after_pending)
{
    unsigned long before = cpuu_deferred_calls(c);
    feature_stats st = fr->st;
    mapi_session_wave_step(c->src);
    if (c->tgt && c->tgt != c->src)
        mapi_session_wave_step(c->tgt);
    sr_err_clear(&fr->err);
    c->after_pending = after_pending;
    c->held = 0;
    fr->rc = fr->ops->apply(c, fr->state, &fr->st, &fr->err);
    int ended = cpuu_deferred_calls(c) == before && !c->held;
    c->after_pending = c->held = 0;
    if (ended)
        return 1;
    fr->st = st;
    return 0;
}

/* Whether the cpuu_apply_after feature of v[i], when in the list, still has
 * writes not answered (it has not ended, nor said its writes are done). */
static int after_pending(feat_run **v, const int *id, const int *done, size_t n, size_t i)
{
    int after = cpuu_apply_after(id[i]);
    for (size_t j = 0; after >= 0 && j < n; j++)
        if (id[j] == after && !done[j] &&
            !(v[j]->ops->writes_done && v[j]->ops->writes_done(v[j]->state)))
            return 1;
    return 0;
}

/* The applies of n planned, backed-up features (table order; id[] their
 * cfg_feature or JUNK_ID) as concurrent write waves (issue 13): each runs
 * again after every send, one step further each time, so a mailbox pays the
 * longest write chain instead of the sum.  Each outcome lands in v[i]->rc
 * as when it ran alone.  A Graph target writes one feature after another. */
void cpuu_apply_all(cpuu_ctx *c, feat_run **v, const int *id, size_t n)
{
    int done[CFG_F__MAX + 1] = { 0 };
    int waves = n > 1 && !c->graph && c->src && cpuu_waves_on(c, 1);
    if (!waves && !c->graph && c->src)
        cpuu_waves_on(c, 0);   /* out of memory on one side: every apply live */
    for (int w = 0; waves && w < APPLY_WAVES_MAX; w++) {
        size_t open = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i])
                continue;
            int pending = after_pending(v, id, done, n, i);
            if ((pending && !v[i]->ops->early_writes) ||
                !(done[i] = cpuu_apply_attempt(c, v[i], pending)))
                open++;
        }
        if (!open || !cpuu_waves_send(c))
            break;
    }
    if (waves) {   /* what is left goes live: answered steps are not sent again */
        mapi_session_wave_live(c->src);
        if (c->tgt && c->tgt != c->src)
            mapi_session_wave_live(c->tgt);
    }
    for (size_t i = 0; i < n; i++) {
        if (!done[i]) {
            sr_err_clear(&v[i]->err);
            v[i]->rc = v[i]->ops->apply(c, v[i]->state, &v[i]->st, &v[i]->err);
        }
    }
    if (waves)
        cpuu_waves_on(c, 0);
}
