/* target_batch.c — the target Autodiscover of a batch in the parent
 * (run_int.h, issue 13): for every mailbox of the batch whose switch message
 * will be written, the target address's Autodiscover, and for every one
 * whose message stays, the Autodiscover of the target it names (its
 * engine's target logon), all of them at once
 * (mapi_ad_discover_many: one dependent step for the batch, not one per
 * mailbox in its worker), over the parent's target handle, made once per
 * run and kept.  Each answer travels to the worker as the hand-over line
 * (resmb_mb.tgt_ad_line, inherited by the fork); the worker seeds its own
 * handle with it (actions.c), so neither it nor its engine asks again.  A
 * mailbox whose answer is missing here is left to the worker, which asks
 * itself as before and fails with the same message; one whose address the
 * target does not know (SR_E_NOTFOUND) fails in its worker with the batch's
 * message, without asking again.
 *
 * On a run's first batches (the source probe still due, resmb_ad_step) the
 * target addresses the directory gives go out BEFORE the read, in one step
 * with the source probe (issue 13 goal 6): a first run finds no switch
 * message, so those are the addresses it needs; after the read,
 * resmb_target_ad_batch asks only what that step did not answer. */
#include "resmb/run_int.h"

#include <stdlib.h>
#include <string.h>

/* The target the engine logs on to when the switch message is kept as it
 * is: the one the message names (read by the batch a moment ago). */
static const char *kept_target(const resmb_mb *m)
{
    return m->existing_current && m->existing.target_smtp && strchr(m->existing.target_smtp, '@')
               ? m->existing.target_smtp : NULL;
}

/* The address whose target Autodiscover m will need, or NULL: a mailbox
 * this run takes through the switch-message step (not one a resumed run
 * finds past it), over EWS; either its message is to be written (none found
 * by the batched read, or [SwitchMessage] recreate: act_switchmsg asks for
 * the target address), or the message found stays (its engine's target
 * logon asks for the target the message names; issue 13: handed over, it
 * asks nothing). */
static const char *target_ad_for(const resmb_run *run, const resmb_mb *m, sr_code read_code)
{
    const cfg_resmb *c = run->cfg;
    int st = m->state_before;
    if (!(st < 0 || st == MB_QUEUED || st == MB_RESOLVED || st == MB_FAILED) || m->dup_of ||
        !m->ad_ok)
        return NULL;
    if (run->tgt_blocked && run->tgt_proto != MAPI_PROTO_GRAPH)
        return NULL;   /* the mailbox fails before its switch message (ews_blocked) */
    int write = read_code == SR_E_NOTFOUND || read_code == SR_E_PARSE ||
                (read_code == SR_OK && c->switch_msg.recreate);
    if (write && c->switch_msg.present) {
        int o365 = c->switch_msg.agent != CFG_AGENT_LEGACY && c->switch_msg.target == CFG_TARGET_O365;
        return run->tgt_proto == MAPI_PROTO_GRAPH && o365 ? NULL   /* Graph: no Autodiscover */
                                                           : resmb_mb_target(m);
    }
    if (read_code != SR_OK || write || m->existing.target_is_o365 ||
        run->tgt_proto == MAPI_PROTO_GRAPH)
        return NULL;   /* no message kept, or an Office 365 target (Graph may take it) */
    return kept_target(m);
}

static const char *needs_target_ad(const resmb_run *run, const resmb_mb *m)
{
    return m->read_done ? target_ad_for(run, m, m->read_code) : NULL;
}

/* What resmb_ad_step asks for m before the read: what needs_target_ad
 * would pick if the read found no switch message (a first run), over EWS. */
static const char *early_target_ad(const resmb_run *run, const resmb_mb *m)
{
    return run->tgt_proto == MAPI_PROTO_GRAPH ? NULL : target_ad_for(run, m, SR_E_NOTFOUND);
}

/* The parent's target handle and Autodiscover (made once, kept for the run). */
static mapi_ad *parent_target_ad(resmb_run *run, resmb_shared *sh, sr_err *e)
{
    if (!sh->tgt_net) {
        if (!(sh->tgt_net = resmb_net_new(run, RESMB_TARGET, RESMB_BATCH_PARALLEL, e)))
            return NULL;
        /* ahead of the workers, a step more costs nothing; new connections
         * (an NTLM handshake each) for every batch would */
        mapi_net_keep_connections(sh->tgt_net, 1);
    }
    if (!sh->tgt_ad)
        sh->tgt_ad = resmb_target_ad_new(run, sh->tgt_net, e);
    return sh->tgt_ad;
}

/* The answer to the batch's search for m (res, errs: as
 * mapi_ad_discover_many's) kept on m for its worker. */
static void keep_answer(resmb_mb *m, const mapi_ad_result *res, const sr_err *err)
{
    free(m->tgt_ad_line);
    free(m->tgt_ad_err);
    m->tgt_ad_line = mapi_ad_result_line(res);   /* NULL: the worker asks itself */
    /* an address the target does not know stays unknown: the worker
     * fails with this answer instead of asking (and logging) again;
     * anything else (a timeout, a refused logon) it tries itself */
    m->tgt_ad_err = !res && err->code == SR_E_NOTFOUND ? sr_strdup(err->msg) : NULL;
}

/* One batch of target Autodiscover searches: the addresses picked from the
 * mailboxes, and where the answers go until they are kept on them. */
typedef struct ad_batch {
    const char **addrs;
    size_t *idx;                /* addrs[j] is mb[idx[j]]'s */
    mapi_ad_result **res;
    sr_err *errs;
    size_t k;
} ad_batch;

typedef const char *(*pick_fn)(const resmb_run *run, const resmb_mb *m);

/* The addresses pick chooses, and the parent's target handle to ask them
 * on (b->k = 0 when there is none: each worker then makes its own and says
 * why if it cannot). */
static void batch_open(ad_batch *b, resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n,
                       pick_fn pick)
{
    memset(b, 0, sizeof *b);
    b->addrs = calloc(n ? n : 1, sizeof *b->addrs);
    b->idx = calloc(n ? n : 1, sizeof *b->idx);
    b->res = calloc(n ? n : 1, sizeof *b->res);
    b->errs = calloc(n ? n : 1, sizeof *b->errs);
    for (size_t i = 0; b->addrs && b->idx && b->res && b->errs && i < n; i++)
        if ((b->addrs[b->k] = pick(run, &mb[i])) != NULL)
            b->idx[b->k++] = i;
    sr_err e;
    if (b->k && !parent_target_ad(run, sh, &e)) {
        sr_log(SR_LOG_WARN, NULL, "target Autodiscover for the batch: %s; the workers ask themselves",
               e.msg);
        b->k = 0;
    }
}

/* The answers kept on their mailboxes; b freed. */
static void batch_close(ad_batch *b, resmb_mb *mb)
{
    for (size_t j = 0; j < b->k; j++) {
        keep_answer(&mb[b->idx[j]], b->res[j], &b->errs[j]);
        mapi_ad_result_free(b->res[j]);
    }
    free(b->addrs);
    free(b->idx);
    free(b->res);
    free(b->errs);
}

void resmb_ad_step(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n)
{
    if (run->src_ews_url || !sh->dir)
        return;   /* no probe due, or no directory to name the targets: as before */
    ad_batch b;
    batch_open(&b, run, sh, mb, n, early_target_ad);
    mapi_ad_ask tgt = { .ad = sh->tgt_ad, .addrs = b.addrs, .n = b.k, .outs = b.res, .errs = b.errs };
    sh->probed = resmb_src_probe(run, sh, mb, n, b.k ? &tgt : NULL);
    batch_close(&b, mb);
}

/* What the batch after the read asks for m: what it needs, unless
 * resmb_ad_step answered that address already (the read changed nothing). */
static const char *still_needed(const resmb_run *run, const resmb_mb *m)
{
    const char *addr = needs_target_ad(run, m);
    const char *early = addr ? early_target_ad(run, m) : NULL;
    int answered = (m->tgt_ad_line || m->tgt_ad_err) && early && sr_streq_ci(early, addr);
    return answered ? NULL : addr;
}

void resmb_target_ad_batch(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n)
{
    ad_batch b;
    batch_open(&b, run, sh, mb, n, still_needed);
    if (b.k)
        (void)mapi_ad_discover_many(sh->tgt_ad, b.addrs, b.k, b.res, b.errs);
    batch_close(&b, mb);
}
