/* preflight.c — which protocol the Office 365 target speaks, decided once
 * per run (issue 17 §1, §2; docs/graph.md "One probe per run").
 *
 * switchresmb starts many engines (one per worker, each kept for up to 50
 * mailboxes).  Left to themselves, with
 * ProtocolTrg=Auto every engine would pay one EWS request answered 403
 * before it turns to Graph, and with ProtocolTrg=EWS every mailbox would get
 * its switch message before its engine finds EWS blocked.  So the parent
 * probes the target's EWS once, before the first worker forks, and:
 *   - ProtocolTrg=Graph: no probe; Graph (no EWS request reaches the target);
 *   - Auto, 403 blocked: Graph, handed to every engine (CPUU_TARGET_PROTOCOL);
 *   - EWS, 403 blocked: every mailbox fails with the reason before anything
 *     is written (actions.c);
 *   - Auto, EWS refused the app (HTTP 401) but Graph answers for the same
 *     mailbox with the same app: Graph, handed on as for a 403 (ours: the
 *     app most likely has no EWS permission, full_access_as_app; Exchange
 *     Online answers such a token 401 "The token contains no permissions"
 *     rather than 403 "blocked");
 *   - EWS answered: EWS; the probe failed otherwise: undecided, each engine
 *     decides as it would alone (and still moves to Graph on a 403). */
#include "resmb/run_int.h"

#include <stdlib.h>
#include <string.h>

/* Whether the switch messages of this run say "Office 365" (the engine's
 * view: a Contemporary message with Target=O365; without [SwitchMessage],
 * the messages already there, judged by AutodiscoverTargetURL). */
static int target_o365(const resmb_run *run)
{
    const cfg_resmb *c = run->cfg;
    const char *ad = run->cpuu->autodiscover_target_url;
    if (c->switch_msg.present)
        return c->switch_msg.target == CFG_TARGET_O365 && c->switch_msg.agent != CFG_AGENT_LEGACY;
    return ad && mapi_url_is_exchange_online(ad);
}

/* The first mailbox of the batch this run will process: its target. */
static const char *probe_mailbox(const resmb_mb *mb, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *t = mb[i].target_given ? mb[i].target_given : mb[i].target_smtp;
        if (t && mb[i].ad_ok && !mb[i].dup_of && mb[i].state_before != MB_DONE)
            return t;
    }
    return NULL;
}

/* One EWS request to the target mailbox (its folder tree): SR_OK, or why not. */
static sr_code probe_ews(const resmb_run *run, const char *target, sr_err *err)
{
    mapi_net *net = resmb_net_new(run, RESMB_TARGET, 1, err);
    mapi_ad *ad = net ? resmb_target_ad_new(run, net, err) : NULL;
    mapi_session_opts so = { .mailbox = target, .ad = ad, .impersonate = 1 };
    mapi_session *s = ad ? mapi_session_logon(net, &so, err) : NULL;
    mapi_folders f = { 0 };
    sr_code rc = s ? mapi_session_folders(s, &f, err) : err->code;
    mapi_folders_clear(&f);
    mapi_session_free(s);
    mapi_ad_free(ad);
    mapi_net_free(net);
    return rc;
}

/* ProtocolTrg=Auto and EWS refused the app (ews: the 401): Graph when it
 * answers for the same mailbox, said once in the log with why; 0 (and the
 * usual warning about ews) when it does not. */
static int graph_instead(const resmb_run *run, const char *target, const sr_err *ews)
{
    sr_err g;
    sr_err_clear(&g);
    if (resmb_graph_answers(run, target, &g) != SR_OK) {
        sr_log(SR_LOG_INFO, NULL, "target pre-flight: EWS refused the app and Microsoft Graph "
               "did not answer either: %s", g.msg);
        return 0;
    }
    sr_log(SR_LOG_NOTICE, NULL, "target pre-flight (once for the run): %s; Microsoft Graph "
           "answered for %s with the same app: the app most likely has no EWS permission "
           "(full_access_as_app); ProtocolTrg=Auto: every mailbox of this run goes over Microsoft "
           "Graph (docs/graph.md)", ews->msg, target);
    return 1;
}

void resmb_target_preflight(resmb_run *run, const resmb_mb *mb, size_t n)
{
    if (run->tgt_decided)
        return;
    mapi_proto want = (mapi_proto)run->cpuu->protocol_trg;   /* the same values (mapi/graph.h) */
    if (!target_o365(run) || want == MAPI_PROTO_GRAPH) {
        run->tgt_decided = 1;
        run->tgt_proto = target_o365(run) ? MAPI_PROTO_GRAPH : MAPI_PROTO_AUTO;
        if (run->tgt_proto == MAPI_PROTO_GRAPH)
            sr_log(SR_LOG_NOTICE, NULL, "target: ProtocolTrg=Graph: Microsoft Graph only, no EWS "
                   "request to the target (switch messages without the target's EWS Autodiscover)");
        return;
    }
    const char *target = probe_mailbox(mb, n);
    if (!target)
        return;   /* nothing to process in this batch: the next one probes */
    run->tgt_decided = 1;
    sr_err e;
    sr_err_clear(&e);
    sr_code rc = probe_ews(run, target, &e);
    if (rc == SR_E_EWS_BLOCKED) {
        /* the mailbox reasons name their own target, not the probe's */
        const char *why = strstr(e.msg, "EWS is blocked");
        run->tgt_blocked = sr_strdup(why ? why : e.msg);
        run->tgt_proto = mapi_proto_decide(want, 1, rc);
        sr_log(want == MAPI_PROTO_AUTO ? SR_LOG_NOTICE : SR_LOG_ERROR, NULL, "target pre-flight "
               "(once for the run): %s%s", e.msg, want == MAPI_PROTO_AUTO
               ? "; ProtocolTrg=Auto: every mailbox of this run goes over Microsoft Graph"
               : "; ProtocolTrg=EWS: no mailbox can be updated, none is touched");
    } else if (rc == SR_E_AUTH && want == MAPI_PROTO_AUTO && graph_instead(run, target, &e)) {
        run->tgt_proto = MAPI_PROTO_GRAPH;
        run->tgt_refused = 1;
    } else if (rc == SR_OK) {
        run->tgt_proto = MAPI_PROTO_EWS;
        sr_log(SR_LOG_INFO, NULL, "target pre-flight (once for the run): EWS answered for %s",
               target);
    } else {
        sr_log(SR_LOG_WARN, NULL, "target pre-flight: EWS probe of %s failed: %s; each engine "
               "decides the protocol itself", target, e.msg);
    }
}
