/* engine.c — the network half of one profile update: log on to the source
 * mailbox (folder tree + switch message in one round trip), the target check
 * through a temporary CPUU_{GUID} profile, the profile backup, the features
 * (read → plan → backup → apply; a failed Critical one rolls back the
 * others), then the switch of the profile to the target.  The features'
 * steps and waves: waves.c; the pipeline: pipeline.c (engine_int.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpuu/engine_int.h"
#include "cpuu/graph_feat.h"
#include "mapi/graph.h"

/* Concurrent requests of one wave on a side (the transport's default is 8);
 * the account's request budget still bounds the run as a whole. */
#define WAVE_WIDTH 16

/* an update step's "carry on": every CSV code, 0 included, is a final answer */
#define GO_ON (-1)

static const char *domain_of(const char *smtp)
{
    const char *at = smtp ? strrchr(smtp, '@') : NULL;
    return at ? at + 1 : "";
}

/* An environment value, or the fallback's, or NULL. */
static const char *env2(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    if ((!v || !*v) && fallback)
        v = getenv(fallback);
    return v && *v ? v : NULL;
}

void cpuu_sides_free(cpuu_sides *s)
{
    mapi_session_free(s->src);
    mapi_session_free(s->tgt);
    mapi_ad_free(s->src_ad);
    mapi_ad_free(s->tgt_ad);
    mapi_net_free(s->src_net);
    mapi_net_free(s->tgt_net);
    mapi_graph_free(s->tgt_graph);
    memset(s, 0, sizeof *s);
}

/* The password of one side: the secret from the parent (source, and target
 * unless AdminTrg has its own), else the decrypted INI value.  NULL without
 * an account (Kerberos from the credential cache).  Caller: sr_secret_free. */
static sr_code side_password(cpuu_run_ctx *r, int target, char **out, sr_err *err)
{
    const cfg_cpuu *c = r->cfg;
    *out = NULL;
    const char *stored = target && c->admin_trg ? c->password_trg : c->password;
    int line = target && c->admin_trg ? c->password_trg_line : c->password_line;
    if (r->secret && !(target && c->admin_trg)) {
        *out = sr_strdup(r->secret);
        return *out ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    if (!stored)
        return SR_OK;
    if (cfg_secret_decrypt(stored, out, err) != SR_OK) {
        sr_err_prefix(err, "%s:%d: [Parameters] %s: ", c->path, line,
                      target && c->admin_trg ? "PasswordTrg" : "Password");
        return err->code;
    }
    return SR_OK;
}

/* The decrypted ClientSecret, or NULL when none is configured. */
static sr_code client_secret(const cfg_cpuu *c, char **out, sr_err *err)
{
    *out = NULL;
    if (!c->client_secret)
        return SR_OK;
    if (cfg_secret_decrypt(c->client_secret, out, err) != SR_OK) {
        sr_err_prefix(err, "%s:%d: [Parameters] ClientSecret: ", c->path, c->client_secret_line);
        return err->code;
    }
    return SR_OK;
}

unsigned cpuu_backoff_budget_ms(const cfg_cpuu *c)
{
    unsigned budget = 120000;   /* the transport's default */
    if (!c->watchdog)
        return budget;
    /* half the shortest phase limit: waiting out a storm must end before the
     * watchdog stops the engine for hanging */
    int lim = c->open_store_wait;
    if (c->feature_wait > 0 && (lim <= 0 || c->feature_wait < lim))
        lim = c->feature_wait;
    if (lim > 0 && (unsigned)lim * 500u < budget)
        budget = (unsigned)lim * 500u;
    return budget < 1000 ? 1000 : budget;
}

/* The network options of one side, then (graph) a Graph client or a
 * network handle on them: both share every credential and limit. */
static void *side_client(cpuu_run_ctx *r, int target, int o365, const mapi_account *acct, int graph,
                         sr_err *err)
{
    const cfg_cpuu *c = r->cfg;
    const char *side = target ? "target" : "source";
    const char *url = target ? c->autodiscover_target_url : c->autodiscover_source_url;
    o365 = o365 || (url && mapi_url_is_exchange_online(url));
    char *password = NULL, *secret = NULL;
    if (side_password(r, target, &password, err) != SR_OK ||
        (o365 && client_secret(c, &secret, err) != SR_OK)) {
        sr_secret_free(password);
        return NULL;
    }
    mapi_netopts o = { 0 };
    o.user = target && c->admin_trg ? c->admin_trg : c->admin;
    o.password = password;
    o.client_id = c->client_id;
    o.client_secret = secret;
    o.client_cert_file = c->client_cert;
    o.client_key_file = c->client_key;
    o.token_url = c->token_url;
    o.authority_url = c->authority_url;
    o.resource_url = c->resource_url;
    o.ca_file = env2("CPUU_CA_FILE", "SWITCHRESMB_CA_FILE");
    const char *http = env2("CPUU_ALLOW_HTTP", "SWITCHRESMB_ALLOW_HTTP");
    o.allow_http = http && !strcmp(http, "1");
    /* labs: names mapped to loopback without DNS (ours, as curl --connect-to) */
    const char *ctv = env2("CPUU_CONNECT_TO", "SWITCHRESMB_CONNECT_TO");
    char *ct_list = ctv ? sr_strdup(ctv) : NULL;
    const char *ct[9];
    o.connect_to = mapi_connect_to_split(ct_list, ct, 8) ? ct : NULL;
    o.exchange_online = o365;   /* a 403 from its EWS then means "EWS blocked for the app" */
    if (c->open_store_wait > 0)
        o.timeout_ms = (long)c->open_store_wait * 1000L;
    o.max_backoff_ms = cpuu_backoff_budget_ms(c);
    /* The engine has nothing above its transport that tries again (a request
     * that gives up fails the profile), so throttling is bounded by the
     * waiting budget, not by a count: under a storm of short back-offs
     * (ErrorServerBusy, 300 ms, four engines on one account) six retries were
     * gone in two seconds and 2 of 100 mailboxes failed (issue 11). */
    o.max_retries = o.max_backoff_ms / 100;
    /* a read wave holds one request per feature and side-read (9 on the
     * target, 9 on the source with the switch message's look: every feature
     * on): all in one round trip, none queued behind another */
    o.max_parallel = WAVE_WIDTH;
    o.conns = r->conns[target != 0];   /* kept by the process: the next mailbox reuses them */
    /* [RPCOverHTTP] describes how the source is reached, not the target */
    mapi_account tacct = { 0 };
    if (acct) {
        tacct = *acct;
        if (target) {   /* LogonNetworkSecurity is the source profile's choice */
            tacct.rpc.enabled = 0;
            tacct.logon = MAPI_LOGON_NEGOTIATE;
        }
    }
    void *net = NULL;
    mapi_graph_opts go = { .base_url = c->graph_url };
    if (mapi_netopts_from_account(acct ? &tacct : NULL, o365, side, &o, err) == SR_OK)
        net = graph ? (void *)mapi_graph_new(&o, &go, err) : (void *)mapi_net_new(&o, err);
    sr_secret_free(password);
    sr_secret_free(secret);
    free(ct_list);
    if (!net)
        sr_err_prefix(err, "%s%s: ", side, graph ? " (Microsoft Graph)" : "");
    return net;
}

mapi_net *cpuu_net_for(cpuu_run_ctx *r, int target, int o365, const mapi_account *acct,
                       sr_err *err)
{
    return side_client(r, target, o365, acct, 0, err);
}

mapi_graph *cpuu_graph_for(cpuu_run_ctx *r, const mapi_account *acct, sr_err *err)
{
    return side_client(r, 1, 1, acct, 1, err);
}

mapi_ad *cpuu_ad_for(cpuu_run_ctx *r, mapi_net *net, int target, const char *account_ad_url,
                     const char *domain, sr_err *err)
{
    const cfg_cpuu *c = r->cfg;
    const char *domains[] = { domain, NULL };
    const char *given = target ? c->autodiscover_target_url : c->autodiscover_source_url;
    const char *conf = given ? given : account_ad_url;
    mapi_ad_opts o = {
        .side = target ? "target" : "source",
        .configured_url = conf,
        /* an Autodiscover URL the admin configured is where Autodiscover is:
         * no guessing from the SMTP domain (and no DNS for guessed names) */
        .no_domain_candidates = given != NULL,
        .exclude_scp = !r->opts->do_not_modify_exclude_scp,
        .use_local_xml = c->use_local_autodiscover_xmls,
        .local_xml_dir = r->ini_dir,
        .url_domains = domains,
        .skip_checking = r->opts->skip_autodiscover_checking,
    };
    return mapi_ad_new(net, &o, err);
}

/* A logon failure → CSV code: an address Exchange does not know is "cannot
 * be resolved" (4), anything else "cannot open mailbox store" (18). */
static int address_unknown(const sr_err *e)
{
    /* mapi reports POX ErrorCode 500 ("the e-mail address cannot be found")
     * as SR_E_NOTFOUND */
    return e->code == SR_E_NOTFOUND;
}

static int logon_rc(const sr_err *e)
{
    return address_unknown(e) ? CPUU_RC_NOT_RESOLVED : CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE;
}

static mapi_session *logon(cpuu_run_ctx *r, cpuu_sides *sd, int target, const mapi_account *acct,
                           const char *smtp, const char *legacy_dn, int impersonate, sr_err *err)
{
    mapi_net **net = target ? &sd->tgt_net : &sd->src_net;
    mapi_ad **ad = target ? &sd->tgt_ad : &sd->src_ad;
    if (!*net && !(*net = cpuu_net_for(r, target, target && sd->tgt_o365, acct, err)))
        return NULL;
    if (!*ad) {
        if (!(*ad = cpuu_ad_for(r, *net, target, target ? NULL : acct->autodiscover_url,
                                domain_of(smtp), err)))
            return NULL;
        /* switchresmb asked the target's Autodiscover for the switch message
         * a moment ago: its answer saves the logon a round trip (issue 13);
         * run alone, the engine asks itself */
        const char *handed = target ? getenv("CPUU_TARGET_AUTODISCOVER") : NULL;
        sr_err he;
        if (handed && *handed && mapi_ad_seed(*ad, handed, &he) != SR_OK)
            sr_log(SR_LOG_INFO, smtp, "CPUU_TARGET_AUTODISCOVER: %s (Autodiscover asks again)", he.msg);
    }
    char *fallback = target ? NULL : mapi_account_fallback_ews_url(acct);
    mapi_session_opts so = { .mailbox = smtp, .ad = *ad, .impersonate = impersonate,
                             .profile_legacy_dn = legacy_dn, .fallback_ews_url = fallback };
    /* The mailbox as the profile knows it: a migrated source mailbox answers
     * Autodiscover with a redirect to the target, so a known EWS URL wins. */
    if (acct->ews_url && *acct->ews_url && sr_streq_ci(smtp, acct->smtp))
        so.ews_url = acct->ews_url;
    mapi_session *s = mapi_session_logon(*net, &so, err);
    free(fallback);
    return s;
}

/* The first read on a mailbox; what it fills is the caller's (arg). */
typedef sr_code (*first_read_fn)(mapi_session *s, void *arg, sr_err *err);

/* Log on and do the first read.  The admin account works by
 * ExchangeImpersonation (imp 1); when the server refuses it
 * (ErrorImpersonateUserDenied) the account may still hold Full Access: once
 * more with explicit access (imp 0, where a caller may start). */
static mapi_session *open_side_from(cpuu_run_ctx *r, cpuu_sides *sd, int target,
                                    const mapi_account *acct, const char *smtp,
                                    const char *legacy_dn, int imp, first_read_fn fn, void *arg,
                                    sr_err *err)
{
    for (; imp >= 0; imp--) {
        mapi_session *s = logon(r, sd, target, acct, smtp, legacy_dn, imp, err);
        if (!s)
            return NULL;
        if (fn(s, arg, err) == SR_OK)
            return s;
        mapi_session_free(s);
        if (!imp || err->code != SR_E_ACCESS)
            return NULL;
        sr_log(SR_LOG_WARN, smtp, "impersonation refused (%s); trying explicit (Full Access) access",
               err->msg);
    }
    return NULL;
}

/* open_side_from with impersonation first. */
static mapi_session *open_side(cpuu_run_ctx *r, cpuu_sides *sd, int target, const mapi_account *acct,
                               const char *smtp, const char *legacy_dn, first_read_fn fn,
                               void *arg, sr_err *err)
{
    return open_side_from(r, sd, target, acct, smtp, legacy_dn, 1, fn, arg, err);
}

typedef struct src_read { mapi_folders *folders; mapi_switchmsg *sm; sr_err *sme; } src_read;

static sr_code read_source(mapi_session *s, void *arg, sr_err *err)
{
    src_read *a = arg;
    mapi_folders_clear(a->folders);   /* a retry starts from nothing */
    mapi_switchmsg_clear(a->sm);
    return mapi_session_open_mailbox(s, a->folders, a->sm, a->sme, err);
}

static sr_code read_folders(mapi_session *s, void *arg, sr_err *err)
{
    mapi_folders_clear(arg);
    return mapi_session_folders(s, arg, err);
}


/* switchresmb read (or wrote) the switch message a moment ago and says so
 * in the profile's [handover] (issue 13): log on with what it learned, ask
 * nothing, and read the folder tree with the features' first reads.  0 when
 * there is no hand-over to trust: the caller opens the mailbox as always. */
static int open_handed(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd, cpuu_ctx *ctx,
                       mapi_switchmsg *sm)
{
    const mapi_account *a = &p->accounts[0];
    mapi_handover h;
    sr_err e;
    int64_t now = (int64_t)time(NULL);
    sr_code rc = mapi_handover_take(p, a, now, &h, &e);
    if (rc != SR_OK) {
        if (rc != SR_E_NOTFOUND)
            sr_log(SR_LOG_INFO, p->name, "%s: ignored, the source mailbox is read as usual", e.msg);
        return 0;
    }
    sd->src = logon(r, sd, 0, a, a->smtp, a->legacy_dn, h.impersonate, &e);
    if (sd->src) {
        *sm = h.switchmsg;   /* moved: h no longer owns it */
        memset(&h.switchmsg, 0, sizeof h.switchmsg);
        ctx->src_tree_later = 1;
        /* left to us to write (issue 13); a dry run writes nothing */
        ctx->sm_write = h.write && !r->opts->dry_run ? sm : NULL;
        if (h.write)
            sr_log(SR_LOG_INFO, p->name, "source %s: switchresmb left the switch message's write "
                   "to the engine: a look with the first reads, the write with the next%s",
                   a->smtp, r->opts->dry_run ? " (not in a dry run)" : "");
        sr_log(SR_LOG_INFO, p->name, "source %s: switch message from switchresmb's [handover] "
               "(%lld s old): not read again", a->smtp, (long long)(now - h.learned_at));
    }
    mapi_handover_clear(&h);
    return sd->src != NULL;
}

/* Source: logon, folder tree and switch message.  Returns GO_ON, else
 * the CSV code (with *extra for the switch-message bits). */
static int open_source(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd, cpuu_ctx *ctx,
                       mapi_switchmsg *sm, unsigned *extra)
{
    const mapi_account *a = &p->accounts[0];
    sr_err e, sme;
    cpuu_progress("openstore begin source %s", a->smtp);
    if (open_handed(r, p, sd, ctx, sm)) {
        cpuu_progress("openstore end");
        sr_log(SR_LOG_INFO, p->name, "switch message: %s -> %s (%s)%s", a->smtp, sm->target_smtp,
               sm->target_legacy_dn ? sm->target_legacy_dn : "no legacyExchangeDN",
               sm->target_is_o365 ? ", Office 365" : "");
        return GO_ON;
    }
    src_read rd = { &ctx->src_folders, sm, &sme };
    sd->src = open_side(r, sd, 0, a, a->smtp, a->legacy_dn, read_source, &rd, &e);
    cpuu_progress("openstore end");
    if (!sd->src) {
        sr_log(SR_LOG_ERROR, p->name, "source mailbox %s: %s", a->smtp, e.msg);
        sr_log(SR_LOG_ERROR, p->name, "cannot open the source mailbox %s; profile not processed",
               a->smtp);
        return logon_rc(&e);
    }
    if (sme.code == SR_E_NOTFOUND) {
        sr_log(SR_LOG_NOTICE, p->name, "no switch message in %s: the mailbox is not switched yet; "
               "profile not processed", a->smtp);
        *extra = cpuu_switchmsg_bits(sme.code);
        return CPUU_RC_WAS_NOT_PROCESSED;
    }
    if (sme.code != SR_OK) {
        sr_log(SR_LOG_ERROR, p->name, "invalid switch message in %s: %s; profile not processed",
               a->smtp, sme.msg);
        *extra = cpuu_switchmsg_bits(sme.code);
        return CPUU_RC_WAS_NOT_PROCESSED;
    }
    sr_log(SR_LOG_INFO, p->name, "switch message: %s -> %s (%s)%s", a->smtp, sm->target_smtp,
           sm->target_legacy_dn ? sm->target_legacy_dn : "no legacyExchangeDN",
           sm->target_is_o365 ? ", Office 365" : "");
    return GO_ON;
}

/* EWS blocked in the target tenant (Exchange Online, HTTP 403): the CSV
 * code is "cannot open mailbox message store" (18), the run gets
 * CPUU_GLOBAL_ERR besides (see docs/cpuu.md), and the reason is logged. */
static int ews_blocked_rc(cpuu_run_ctx *r, const mapi_profile *p, const mapi_switchmsg *sm,
                          unsigned *extra, int first)
{
    sr_log(SR_LOG_ERROR, p->name, "target mailbox %s: %s", sm->target_smtp, r->ews_blocked_err.msg);
    sr_log(SR_LOG_ERROR, p->name, "target check failed: EWS is blocked for this app in the target "
           "tenant%s; profile not updated", first ? "" : " (found earlier in this run: not asked again)");
    *extra |= CPUU_GLOBAL_ERR;
    /* switchresmb's report line says it too (cpuu_invoke.h), not only the bits */
    cpuu_progress("ewsblocked %s", r->cfg->client_id && *r->cfg->client_id ? r->cfg->client_id : "-");
    return CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE;
}

/* The target over Microsoft Graph (issue 17 §3, docs/graph.md): a Graph
 * client and GET /users/{smtp} as the target check (no EWS request goes to
 * the target).  why: how Graph was chosen.  GO_ON, or the CSV code. */
static int graph_target(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd,
                        const mapi_switchmsg *sm, const char *why)
{
    sr_err e;
    sr_err_clear(&e);
    cpuu_progress("openstore begin target %s", sm->target_smtp);
    if (!sd->tgt_graph)
        sd->tgt_graph = cpuu_graph_for(r, &p->accounts[0], &e);
    char *path = sd->tgt_graph ? mapi_graph_user_path(sm->target_smtp, "") : NULL;
    mapi_graph_req q = { .path = path };
    sr_code rc = path ? mapi_graph_call(sd->tgt_graph, &q) : e.code ? e.code : SR_E_NOMEM;
    if (path)
        e = q.err;
    mapi_graph_req_clear(&q);
    free(path);
    cpuu_progress("openstore end");
    if (rc != SR_OK) {
        sr_log(SR_LOG_ERROR, p->name, "target mailbox %s over Microsoft Graph: %s", sm->target_smtp,
               e.code ? e.msg : "out of memory");
        sr_log(SR_LOG_ERROR, p->name, "target check failed over Microsoft Graph (%s); profile not "
               "updated", why);
        return rc == SR_E_NOTFOUND ? CPUU_RC_NOT_RESOLVED : CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE;
    }
    sr_log(SR_LOG_INFO, p->name, "target check passed: %s via Microsoft Graph (%s)", sm->target_smtp,
           why);
    return GO_ON;
}

#define AUTO_BLOCKED "ProtocolTrg=Auto, EWS is blocked in the target tenant"
#define AUTO_REFUSED_TRY "ProtocolTrg=Auto, EWS refused the app (HTTP 401, no EWS permission)"
#define AUTO_REFUSED AUTO_REFUSED_TRY " and Microsoft Graph answered for it"

/* Auto's reason for Graph, as the log says it. */
static const char *auto_why(const cpuu_run_ctx *r)
{
    return r->ews_off_why ? r->ews_off_why : AUTO_BLOCKED;
}

/* switchresmb's pre-flight probed the target's EWS once for its whole run
 * and took Graph (CPUU_TARGET_PROTOCOL=Graph, ours): ProtocolTrg=Auto goes
 * to Graph without paying a 403 or 401 of its own.  CPUU_TARGET_EWS says
 * why: "blocked" (403, the tenant) or "refused" (401: the app has no EWS
 * permission, Graph answered), so the log names the right cause.  Other
 * values, or none: the engine probes as when it runs alone. */
static void take_handed_protocol(cpuu_run_ctx *r)
{
    const char *v = getenv("CPUU_TARGET_PROTOCOL");
    if (r->ews_blocked || !v || strcmp(v, "Graph") != 0)
        return;
    const char *why = getenv("CPUU_TARGET_EWS");
    int refused = why && !strcmp(why, "refused");
    r->ews_blocked = 1;
    r->ews_off_why = refused ? AUTO_REFUSED : AUTO_BLOCKED;
    sr_err_set(&r->ews_blocked_err, SR_E_EWS_BLOCKED, "%s (found by switchresmb's pre-flight, "
               "once for its run)", refused ? "EWS refused this app (HTTP 401, no EWS permission)"
               : "EWS is blocked for this app in the target tenant");
}

/* Auto, an Office 365 target, an app of our own (OAuth2): a 401 from EWS
 * may mean the app has no EWS permission while Graph serves it — the
 * pre-flight's rule (resmb/preflight.c), for an engine run alone. */
static int refused_try_graph(const cpuu_run_ctx *r, const mapi_switchmsg *sm, mapi_proto want)
{
    return want == MAPI_PROTO_AUTO && sm->target_is_o365 && r->cfg->client_id &&
           *r->cfg->client_id;
}

/* EWS answered 401 (ews): Graph when it answers for the same mailbox with
 * the same app, then for every later profile of the run without a second
 * 401; otherwise the 401 stays the reason. */
static int refused_to_graph(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd,
                            const mapi_switchmsg *sm, const sr_err *ews)
{
    sr_log(SR_LOG_NOTICE, p->name, "target mailbox %s: %s; ProtocolTrg=Auto: trying Microsoft "
           "Graph with the same app", sm->target_smtp, ews->msg);
    int rc = graph_target(r, p, sd, sm, AUTO_REFUSED_TRY);
    if (rc != GO_ON) {
        sr_log(SR_LOG_ERROR, p->name, "target check failed: EWS refused the app (%s) and Microsoft "
               "Graph did not answer either; profile not updated", ews->msg);
        return rc;
    }
    r->ews_blocked = 1;
    r->ews_off_why = AUTO_REFUSED;
    sr_err_set(&r->ews_blocked_err, SR_E_EWS_BLOCKED, "EWS refused this app (HTTP 401, no EWS "
               "permission); Microsoft Graph answered");
    return GO_ON;
}

/* A target check in progress: its temporary CPUU_{GUID} profile (made:
 * in the store) and whether its folder tree was left to the first reads. */
typedef struct tgt_check {
    mapi_profile tp;
    int made;
    mapi_proto want;             /* ProtocolTrg */
    int later;                   /* the tree goes with the features' first reads */
} tgt_check;

/* The temporary profile for the target mailbox (a warning when it cannot be made). */
static void tcheck_begin(cpuu_run_ctx *r, const mapi_profile *p, const mapi_switchmsg *sm,
                         tgt_check *tc)
{
    sr_err e;
    mapi_account *ta = mapi_profile_add_account(&tc->tp);
    if (ta && (tc->tp.name = sr_strdup("CPUU_check")) && (ta->smtp = sr_strdup(sm->target_smtp)) &&
        (ta->legacy_dn = sr_strdup(sm->target_legacy_dn)) && (ta->home_server = sr_strdup(""))) {
        ta->logon = p->accounts[0].logon;
        tc->tp.status.temporary = 1;
        tc->made = mapi_pstore_create_temp(r->store, &tc->tp, "CPUU_", &e) == SR_OK;
        if (!tc->made)
            sr_log(SR_LOG_WARN, p->name, "cannot create the temporary target profile: %s", e.msg);
    }
}

/* The check's end once the target tree is read (sd->tgt) or could not be
 * (e): the temporary profile left (-LeaveTemporaryProfile) or deleted, then
 * the decision: GO_ON, or the CSV code. */
static int tcheck_end(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd,
                      const mapi_switchmsg *sm, unsigned *extra, tgt_check *tc, const sr_err *err)
{
    sr_err e = *err;
    mapi_account *ta = tc->tp.n_accounts ? &tc->tp.accounts[0] : NULL;
    if (tc->made && ta && sd->tgt && r->opts->leave_temporary_profile) {
        const mapi_ad_result *ad = mapi_session_ad(sd->tgt);
        free(ta->home_server);
        ta->home_server = sr_strdup(ad && ad->server ? ad->server : "");
        ta->autodiscover_url = ad && ad->ad_url ? sr_strdup(ad->ad_url) : NULL;
        ta->ews_url = sr_strdup(mapi_session_ews_url(sd->tgt));
        (void)mapi_pstore_update(r->store, &tc->tp, NULL);
    }
    sr_err de;
    if (tc->made && !r->opts->leave_temporary_profile &&
        mapi_pstore_delete(r->store, tc->tp.name, &de) != SR_OK)
        sr_log(SR_LOG_WARN, p->name, "cannot delete the temporary profile %s: %s", tc->tp.name, de.msg);
    else if (tc->made && r->opts->leave_temporary_profile)
        sr_log(SR_LOG_NOTICE, p->name, "temporary target profile %s left (-LeaveTemporaryProfile)",
               tc->tp.name);
    mapi_profile_clear(&tc->tp);
    tc->made = 0;
    if (!sd->tgt && e.code == SR_E_EWS_BLOCKED) {
        r->ews_blocked = 1;
        r->ews_blocked_err = e;
        if (mapi_proto_decide(tc->want, 1, SR_E_EWS_BLOCKED) == MAPI_PROTO_GRAPH) {
            sr_log(SR_LOG_NOTICE, p->name, "target mailbox %s: %s", sm->target_smtp, e.msg);
            return graph_target(r, p, sd, sm, AUTO_BLOCKED);
        }
        return ews_blocked_rc(r, p, sm, extra, 1);
    }
    if (!sd->tgt && e.code == SR_E_AUTH && refused_try_graph(r, sm, tc->want))
        return refused_to_graph(r, p, sd, sm, &e);
    if (!sd->tgt) {
        sr_log(SR_LOG_ERROR, p->name, "target mailbox %s: %s", sm->target_smtp, e.msg);
        sr_log(SR_LOG_ERROR, p->name, "target check failed: cannot log on to the target mailbox %s; "
               "profile not updated", sm->target_smtp);
        return address_unknown(&e) ? CPUU_RC_NOT_RESOLVED : CPUU_RC_MODIFYING_FAILED;
    }
    sr_log(SR_LOG_INFO, p->name, "target check passed: %s via %s", sm->target_smtp,
           mapi_session_ews_url(sd->tgt));
    return GO_ON;
}

/* The target check's first read: the folder tree now, or none when the
 * logon asked nothing (Autodiscover answered by switchresmb's hand-over):
 * the tree then travels with the features' first reads (later). */
typedef struct tgt_read {
    mapi_folders *folders;
    const cpuu_sides *sd;
    unsigned ad_before;          /* the target Autodiscover's requests before the logon */
    int later;
} tgt_read;

static sr_code read_target(mapi_session *s, void *arg, sr_err *err)
{
    tgt_read *t = arg;
    if (t->sd->tgt_ad && mapi_ad_requests(t->sd->tgt_ad) == t->ad_before) {
        t->later = 1;
        return SR_OK;
    }
    return read_folders(s, t->folders, err);
}

/* The spec's target check: a temporary CPUU_{GUID} profile for the target
 * mailbox and a logon to it (plus the target folder tree the features use).
 * When the logon sent nothing, the tree goes with the features' first reads
 * (ctx->tgt_tree_later, tc->later) and tcheck_end waits for it: GO_ON. */
static int target_check(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd, cpuu_ctx *ctx,
                        const mapi_switchmsg *sm, unsigned *extra, tgt_check *tc)
{
    const mapi_account *a = &p->accounts[0];
    sr_err e;
    mapi_proto want = (mapi_proto)r->cfg->protocol_trg;
    if (want == MAPI_PROTO_GRAPH && !sm->target_is_o365) {
        sr_log(SR_LOG_ERROR, p->name, "ProtocolTrg=Graph, but the target %s is not Office 365 (the "
               "switch message says so): Microsoft Graph reaches Exchange Online only; profile not "
               "updated", sm->target_smtp);
        return CPUU_RC_MODIFYING_FAILED;
    }
    if (want == MAPI_PROTO_GRAPH)
        return graph_target(r, p, sd, sm, "ProtocolTrg=Graph");
    if (want == MAPI_PROTO_AUTO)
        take_handed_protocol(r);
    if (r->ews_blocked && sm->target_is_o365 &&   /* the tenant said so once: no second probe */
        mapi_proto_decide(want, 1, SR_E_EWS_BLOCKED) == MAPI_PROTO_GRAPH)
        return graph_target(r, p, sd, sm, auto_why(r));
    if (r->ews_blocked && sm->target_is_o365)
        return ews_blocked_rc(r, p, sm, extra, 0);
    r->tgt_exchange_online = sm->target_is_o365;
    tc->want = want;
    tcheck_begin(r, p, sm, tc);
    sd->tgt_o365 = sm->target_is_o365;
    cpuu_progress("openstore begin target %s", sm->target_smtp);
    tgt_read rd = { .folders = &ctx->tgt_folders, .sd = sd,
                    .ad_before = sd->tgt_ad ? mapi_ad_requests(sd->tgt_ad) : 0 };
    sd->tgt = open_side(r, sd, 1, a, sm->target_smtp, sm->target_legacy_dn, read_target, &rd, &e);
    cpuu_progress("openstore end");
    if (sd->tgt && rd.later) {
        tc->later = ctx->tgt_tree_later = 1;
        sr_log(SR_LOG_INFO, p->name, "target %s: the logon asked nothing (Autodiscover answered "
               "already); the target check reads its folder tree with the first reads",
               sm->target_smtp);
        return GO_ON;
    }
    return tcheck_end(r, p, sd, sm, extra, tc, &e);
}

/* The target check whose tree the first reads carried, after that tree
 * failed (e; nothing was planned or written): what the check does with the
 * same failure when it reads at the logon — explicit access once when
 * impersonation was refused, then tcheck_end's decision. */
static int tcheck_late_failed(cpuu_run_ctx *r, const mapi_profile *p, cpuu_sides *sd,
                              cpuu_ctx *ctx, const mapi_switchmsg *sm, unsigned *extra,
                              tgt_check *tc, const sr_err *err)
{
    sr_err e = *err;
    mapi_session_free(sd->tgt);
    sd->tgt = NULL;
    if (e.code == SR_E_ACCESS) {   /* as open_side's second turn */
        sr_log(SR_LOG_WARN, sm->target_smtp, "impersonation refused (%s); trying explicit (Full "
               "Access) access", e.msg);
        sd->tgt = open_side_from(r, sd, 1, &p->accounts[0], sm->target_smtp, sm->target_legacy_dn,
                                 0, read_folders, &ctx->tgt_folders, &e);
    }
    return tcheck_end(r, p, sd, sm, extra, tc, &e);
}

/* A feature the target's Graph cannot take: said per mailbox and feature. */
static void graph_missing(const cpuu_ctx *c, const char *name, const char *why, int critical)
{
    sr_log(critical ? SR_LOG_ERROR : SR_LOG_WARN, c->who, "%s: not carried to %s: %s%s%s%s", name,
           c->graph_user, why ? "not possible on Exchange Online without EWS (" : "not carried over "
           "Microsoft Graph in this version", why ? why : "", why ? ")" : "",
           critical ? "; Critical: profile not updated" : "");
    cpuu_progress("notcarried %s all", name);   /* the mailbox's report line names it */
}

/* Put back what the features in done wrote (rollback after a critical failure). */
static void restore_features(cpuu_ctx *c, cfg_feature_set done)
{
    for (int f = 0; f < CFG_F__MAX; f++) {
        const struct feature_ops *ops =
            (done & CFG_FSET(f)) ? cpuu_feature_ops_for(c, cpuu_feature_ops((cfg_feature)f)) : NULL;
        sr_err e;
        if (!ops || !ops->restore)
            continue;
        sr_code rc = ops->restore(c, &e);
        if (rc == SR_OK)
            sr_log(SR_LOG_NOTICE, c->who, "%s: rolled back", cfg_feature_name((cfg_feature)f));
        else if (rc != SR_E_NOTFOUND)
            sr_log(SR_LOG_ERROR, c->who, "%s: rollback failed: %s", cfg_feature_name((cfg_feature)f), e.msg);
    }
}

#define JUNK_NAME "RemoveJunkEmailMessages"

/* The recipients of every feature that read well, resolved in one batch:
 * each plan's own rmap_resolve then finds them cached, so a mailbox costs
 * one directory round trip (issue 13).  A failed batch is only logged: the
 * plans ask again and report the failure as their own. */
static void resolve_recipients(cpuu_ctx *c, const feat_run *fr)
{
    cpuu_keys k = { 0 }, tk = { 0 };
    sr_err e = { 0 };
    sr_code rc = SR_OK;
    for (int f = 0; f < CFG_F__MAX && rc == SR_OK; f++)
        if (fr[f].ops && fr[f].ops->keys && fr[f].rc == SR_OK && fr[f].state)
            rc = fr[f].ops->keys(c, fr[f].state, &k, &tk, &e);
    if (rc == SR_OK && k.n + tk.n)
        rc = rmap_resolve_both(c->map, (const char *const *)k.v, k.n, (const char *const *)tk.v,
                               tk.n, &e);
    if (rc != SR_OK)
        sr_log(SR_LOG_INFO, c->who, "recipients of all features in one batch: %s (each feature "
               "resolves its own)", e.msg);
    cpuu_keys_clear(&k);
    cpuu_keys_clear(&tk);
}

/* tgt_gate's rc (neither GO_ON nor a CSV code) when the target tree the
 * first reads carried failed: the caller ends the target check
 * (tcheck_late_failed). */
#define TARGET_LATE_FAILED (-4)

/* What a profile held back until the folder trees the first reads carry are
 * in, before any plan: the target check's end (tc->later) and the profile
 * backup (made after it, when it passed). */
typedef struct tgt_gate {
    cpuu_run_ctx *r;
    const mapi_profile *p;
    cpuu_sides *sd;
    const mapi_switchmsg *sm;
    unsigned *extra;
    tgt_check *tc;
    int *made_backup;
    int rc;                      /* GO_ON, TARGET_LATE_FAILED, or the CSV code */
    sr_err tgt_err;              /* TARGET_LATE_FAILED: the target tree's failure */
    int src_failed;              /* the source tree failed too (read it again after) */
} tgt_gate;

/* The profile's backup copy before the first write: GO_ON or the CSV code. */
static int backup_profile(cpuu_run_ctx *r, const mapi_profile *p, int *made_backup)
{
    sr_err e;
    sr_code rc = mapi_pstore_backup(r->store, p->name, &e);
    *made_backup = rc == SR_OK;
    if (rc == SR_E_EXISTS)
        sr_log(SR_LOG_NOTICE, p->name, "a backup copy exists already (kept: it is the state before "
               "the first attempt)");
    else if (rc != SR_OK) {
        sr_log(SR_LOG_ERROR, p->name, "cannot back up the profile: %s", e.msg);
        return CPUU_RC_FAILED_TO_CREATE_BACKUP;
    }
    return GO_ON;
}

/* The gate, once both trees are in: 1 to stop the profile (g->rc says how). */
static int gate_pass(tgt_gate *g, const wave_tree *src, const wave_tree *tgt)
{
    g->src_failed = src->rc != SR_OK;
    if (tgt->rc != SR_OK) {   /* the check's failure: decided with every read thrown away */
        g->rc = TARGET_LATE_FAILED;
        g->tgt_err = tgt->err;
        return 1;
    }
    if (g->tc->later && (g->rc = tcheck_end(g->r, g->p, g->sd, g->sm, g->extra, g->tc,
                                            &tgt->err)) != GO_ON)
        return 1;
    g->tc->later = 0;
    if (g->src_failed || g->r->opts->dry_run)   /* nothing to write: no backup copy */
        return 0;
    return (g->rc = backup_profile(g->r, g->p, g->made_backup)) != GO_ON;
}

/* A non-Critical f that a later Critical feature must follow (cpuu_apply_after):
 * it writes in table order before it, as when every feature wrote in turn. */
static int apply_inline(const cpuu_run_ctx *r, int f)
{
    for (int g = f + 1; g < CFG_F__MAX; g++)
        if (cpuu_apply_after(g) == f && (r->cfg->effective & r->cfg->critical & CFG_FSET(g)))
            return 1;
    return 0;
}

/* The non-Critical features' writes, after every Critical one (cpuu_apply_all),
 * each ended and reported in table order as before; a failure stops none of
 * the others. */
static void write_rest(cpuu_ctx *c, feat_run **ap, const int *ap_id, size_t nap)
{
    if (nap)
        cpuu_progress("feature begin %s", ap_id[0] == JUNK_ID ? JUNK_NAME
                                                             : cfg_feature_name((cfg_feature)ap_id[0]));
    cpuu_apply_all(c, ap, ap_id, nap);
    for (size_t i = 0; i < nap; i++) {
        const char *name = ap_id[i] == JUNK_ID ? JUNK_NAME : cfg_feature_name((cfg_feature)ap_id[i]);
        if (i)
            cpuu_progress("feature begin %s", name);
        if (cpuu_end_feature(c, ap[i]->ops, name, ap[i]->state, &ap[i]->st, ap[i]->rc) != SR_OK)
            sr_log(SR_LOG_WARN, c->who, "%s failed: %s (not Critical: continuing)", name,
                   ap[i]->err.msg);
    }
}

/* The first reads stopped (cpuu_read_all's or cpuu_run_pipeline's verdict): the
 * features were read, never planned, nothing written.  RUN_NO_TREE: the
 * source folder tree a hand-over left to them failed, what the open would
 * have read, so no plan can map folders. */
static int drop_reads(cpuu_ctx *c, feat_run **rd, size_t nrd, const read_trees *t, int verdict)
{
    if (verdict == RUN_NO_TREE)
        sr_log(SR_LOG_ERROR, c->who, "cannot read the source folder tree: %s; profile not "
               "processed", t->side[0].err.msg);
    if (verdict == RUN_NO_SWITCHMSG) {   /* the parent's report line says it, not only the code */
        sr_log(SR_LOG_ERROR, c->who, "cannot write the switch message: %s; nothing written, "
               "profile not processed", t->sm.err.msg);
        cpuu_progress("failed %d %d %.200s", (int)t->sm.err.code, (int)t->sm.err.cls,
                      t->sm.err.msg);
    }
    for (size_t i = 0; i < nrd; i++)
        if (rd[i]->ops->free_state && rd[i]->state)
            rd[i]->ops->free_state(rd[i]->state);
    return verdict;
}

/* Every selected feature; 0 when the profile may be switched, -1 when a
 * Critical feature failed (the others were rolled back), RUN_NO_TREE,
 * RUN_GATE (g, when the profile held something back for the trees: see
 * tgt_gate).  Through the pipeline when it fits (cpuu_pipeline_fits); otherwise
 * all features read first (concurrently, cpuu_read_all), their recipients are
 * resolved in one batch, then each plans, backs up and writes in table
 * order. */
static int run_features(cpuu_run_ctx *r, cpuu_ctx *c, tgt_gate *g)
{
    read_trees t;
    cpuu_trees_begin(c, &t, gate_pass, g);
    feat_run fr[CFG_F__MAX] = { 0 };
    feat_run *rd[CFG_F__MAX + 1];
    const char *rd_names[CFG_F__MAX + 1];
    size_t nrd = 0;
    cfg_feature_set done = 0;
    int f, failed = 0;
    feat_run *ap[CFG_F__MAX + 1];   /* non-Critical features planned and saved, to write */
    int ap_id[CFG_F__MAX + 1];
    size_t nap = 0;
    for (f = 0; f < CFG_F__MAX; f++) {
        if (!(r->cfg->effective & CFG_FSET(f)))
            continue;
        const char *name = cfg_feature_name((cfg_feature)f);
        int critical = (r->cfg->critical & CFG_FSET(f)) != 0;
        const struct feature_ops *base = cpuu_feature_ops((cfg_feature)f);
        fr[f].ops = cpuu_feature_ops_for(c, base);
        if (base && !fr[f].ops) {   /* the target is on Graph and the feature has no Graph way */
            graph_missing(c, name, base->no_graph, critical);
            if (critical) {
                failed = 1;
                break;
            }
            continue;
        }
        if (!fr[f].ops) {
            sr_log(critical ? SR_LOG_ERROR : SR_LOG_INFO, c->who, "%s: not implemented in this version%s",
                   name, critical ? " but Critical: profile not updated" : ": skipped");
            if (critical) {
                failed = 1;
                break;
            }
            continue;
        }
        rd[nrd] = &fr[f];
        rd_names[nrd++] = name;
    }
    /* RemoveJunkEmailMessages (the spec: junk settings may not work there)
     * reads the Inbox's junk rule with the others, one round trip less, and
     * writes after every feature as before; no feature touches that message */
    feat_run junk = { 0 };
    if (!failed && r->cfg->remove_junk_email_messages && c->graph)
        graph_missing(c, JUNK_NAME, cpuu_junk_reset.no_graph, 0);
    else if (!failed && r->cfg->remove_junk_email_messages) {
        junk.ops = &cpuu_junk_reset;
        rd[nrd] = &junk;
        rd_names[nrd++] = JUNK_NAME;
    }
    int stop;
    if (!failed && cpuu_pipeline_fits(r, c)) {
        int rd_id[CFG_F__MAX + 1];
        for (size_t i = 0; i < nrd; i++)
            rd_id[i] = rd[i] == &junk ? JUNK_ID : (int)(rd[i] - fr);
        stop = cpuu_run_pipeline(c, rd, rd_id, rd_names, nrd, &t);
        return stop ? drop_reads(c, rd, nrd, &t, stop) : 0;
    }
    if ((stop = cpuu_read_all(c, rd, rd_names, nrd, &t)))
        return drop_reads(c, rd, nrd, &t, stop);
    /* as when the reads ran one by one: the first Critical read that failed
     * stops everything before a write (the reads after it are dropped) */
    for (int g = 0; !failed && g < f; g++)
        if (fr[g].ops && fr[g].rc != SR_OK && (r->cfg->critical & CFG_FSET(g))) {
            failed = 1;
            f = g;
        }
    if (!failed)
        resolve_recipients(c, fr);
    int last = failed ? f : CFG_F__MAX;   /* a failed Critical read: report it, plan nothing */
    for (f = 0; f < CFG_F__MAX; f++) {
        if (!fr[f].ops || f > last)
            continue;
        const char *name = cfg_feature_name((cfg_feature)f);
        int critical = (r->cfg->critical & CFG_FSET(f)) != 0;
        sr_err *e = &fr[f].err;
        sr_code rc;
        if (failed && f < last) {   /* read, never planned: nothing written */
            if (fr[f].ops->free_state)
                fr[f].ops->free_state(fr[f].state);
            continue;
        }
        if (fr[f].rc == SR_OK)
            done |= CFG_FSET(f);   /* a failed apply may have written part of it */
        if (c->dry_run || critical || apply_inline(r, f)) {
            rc = cpuu_finish_feature(c, fr[f].ops, name, fr[f].state, &fr[f].st, fr[f].rc, e);
        } else if ((rc = cpuu_prepare_feature(c, fr[f].ops, name, fr[f].state, &fr[f].st, fr[f].rc,
                                         e)) == SR_OK) {
            cpuu_progress("feature end %s", name);   /* its write goes with the waves */
            ap[nap] = &fr[f];
            ap_id[nap++] = f;
            continue;
        } else {
            cpuu_end_feature(c, fr[f].ops, name, fr[f].state, &fr[f].st, rc);
        }
        if (rc == SR_OK)
            continue;
        sr_log(critical ? SR_LOG_ERROR : SR_LOG_WARN, c->who, "%s failed: %s%s", name, e->msg,
               critical ? " (Critical: rolling back this profile)" : " (not Critical: continuing)");
        if (critical) {
            failed = 1;
            for (int g = f + 1; g < CFG_F__MAX; g++)   /* read, never planned */
                if (fr[g].ops && fr[g].ops->free_state)
                    fr[g].ops->free_state(fr[g].state);
            break;
        }
    }
    if (failed) {
        for (size_t i = 0; i < nap; i++)   /* planned and saved, never written */
            if (ap[i]->ops->free_state)
                ap[i]->ops->free_state(ap[i]->state);
        goto failed;
    }
    if (junk.ops && c->dry_run) {
        if (cpuu_finish_feature(c, junk.ops, JUNK_NAME, junk.state, &junk.st, junk.rc,
                                &junk.err) != SR_OK)
            sr_log(SR_LOG_WARN, c->who, "%s failed: %s (not Critical: continuing)", JUNK_NAME,
                   junk.err.msg);
    } else if (junk.ops) {
        junk.rc = cpuu_prepare_feature(c, junk.ops, JUNK_NAME, junk.state, &junk.st, junk.rc, &junk.err);
        if (junk.rc == SR_OK) {
            cpuu_progress("feature end %s", JUNK_NAME);
            ap[nap] = &junk;
            ap_id[nap++] = JUNK_ID;
        } else {
            cpuu_end_feature(c, junk.ops, JUNK_NAME, junk.state, &junk.st, junk.rc);
            sr_log(SR_LOG_WARN, c->who, "%s failed: %s (not Critical: continuing)", JUNK_NAME,
                   junk.err.msg);
        }
    }
    write_rest(c, ap, ap_id, nap);
    return 0;
failed:
    if (junk.ops && junk.ops->free_state)   /* read, never planned */
        junk.ops->free_state(junk.state);
    if (!c->dry_run)   /* a dry run wrote nothing: nothing to put back */
        restore_features(c, done);
    return -1;
}

/* Point the primary Exchange account at the target and mark the profile. */
static sr_code switch_profile(cpuu_run_ctx *r, mapi_profile *p, const cpuu_sides *sd,
                              const mapi_switchmsg *sm, sr_err *err)
{
    mapi_account *a = &p->accounts[0];
    const mapi_ad_result *ad = sd->tgt ? mapi_session_ad(sd->tgt) : NULL;
    /* over Graph no EWS logon names the server: Exchange Online's one service
     * name, and no EWS URL (Outlook finds the mailbox by Autodiscover) */
    char *server = sr_strdup(ad && ad->server ? ad->server
                             : sd->tgt_graph ? "outlook.office365.com" : a->home_server);
    /* a switch message for a Graph target may carry no legacyExchangeDN
     * (docs/graph.md): the profile then names the mailbox by SMTP only */
    char *dn = sm->target_legacy_dn ? sr_strdup(sm->target_legacy_dn) : NULL;
    char *smtp = sr_strdup(sm->target_smtp);
    char *ews = sr_strdup(sd->tgt ? mapi_session_ews_url(sd->tgt) : "");
    char *adu = ad && ad->ad_url ? sr_strdup(ad->ad_url) : NULL;
    char *disp = r->opts->name_trg_store_as_src || !ad || !ad->display_name
                     ? (a->display_name ? sr_strdup(a->display_name) : NULL)
                     : sr_strdup(ad->display_name);
    if (!server || (sm->target_legacy_dn && !dn) || !smtp || !ews) {
        free(server); free(dn); free(smtp); free(ews); free(adu); free(disp);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    free(a->home_server); a->home_server = server;
    free(a->legacy_dn); a->legacy_dn = dn;
    free(a->smtp); a->smtp = smtp;
    free(a->ews_url); a->ews_url = ews;
    free(a->autodiscover_url); a->autodiscover_url = adu;
    free(a->display_name); a->display_name = disp;
    if (a->offline && !r->cfg->keep_ost) {   /* an OST belongs to one mailbox: Outlook makes a new one */
        sr_log(SR_LOG_INFO, p->name, "offline profile: the source OST %s is no longer used",
               a->ost_path ? a->ost_path : "(default)");
        free(a->ost_path);
        a->ost_path = NULL;
    }
    p->status.updated = 1;
    p->status.updated_at = (int64_t)time(NULL);
    mapi_handover_drop(p);   /* it described the source: used once */
    return mapi_pstore_update(r->store, p, err);
}

static void ctx_clear(cpuu_ctx *c)
{
    cpuu_ctx_release(c);
    mapi_folders_clear(&c->src_folders);
    mapi_folders_clear(&c->tgt_folders);
    if (c->map)
        sr_log(SR_LOG_DEBUG, "cpuu", "recipient map: %u directory search(es) and EWS call(s)",
               rmap_lookups_made(c->map));
    rmap_free(c->map);
    c->map = NULL;
}

/* Backup, features, switch; the CSV code.  With g (the target check left
 * to the first reads), the check's end and the backup wait for the trees
 * (gate_pass); its TARGET_LATE_FAILED is returned as it is. */
static int update_with_sessions(cpuu_run_ctx *r, mapi_profile *p, cpuu_sides *sd, cpuu_ctx *c,
                                const mapi_switchmsg *sm, cpuu_dirs_req *dq, int *made_backup,
                                tgt_gate *g)
{
    sr_err e;
    const mapi_account *a = &p->accounts[0];
    if ((c->map = rmap_new(NULL, NULL, sd->tgt, &e)))
        rmap_set_dirs(c->map, cpuu_dirs_open, dq);   /* connected on the first lookup */
    if (!c->map ||
        rmap_add(c->map, a->smtp, sm->target_smtp, sm->target_legacy_dn, &e) != SR_OK ||
        rmap_add(c->map, a->legacy_dn, sm->target_smtp, sm->target_legacy_dn, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, p->name, "recipient map: %s", e.msg);
        return CPUU_RC_MODIFYING_FAILED;
    }
    if (sd->tgt_graph)   /* no EWS ResolveNames on a Graph target: its users instead */
        rmap_set_graph(c->map, sd->tgt_graph);
    if (r->opts->dry_run) {
        c->dry_run = 1;
        int run = run_features(r, c, g);
        if (run == RUN_GATE)
            return g->rc;
        if (run == RUN_NO_TREE)   /* nothing could be planned */
            return CPUU_RC_MODIFYING_FAILED;
        if (dq->failed)
            return CPUU_RC_MODIFYING_FAILED;
        sr_log(SR_LOG_NOTICE, p->name, "dry run: profile not changed");
        return CPUU_RC_WAS_NOT_PROCESSED;
    }
    int rc = g ? GO_ON : backup_profile(r, p, made_backup);
    if (rc != GO_ON)
        return rc;
    int run = run_features(r, c, g);
    if (run == RUN_GATE)
        return g->rc;
    if (run != 0)
        return CPUU_RC_MODIFYING_FAILED;
    if (dq->failed) {   /* as when it was connected up front: a precondition, not a feature */
        restore_features(c, r->cfg->effective);
        return CPUU_RC_MODIFYING_FAILED;
    }
    if (switch_profile(r, p, sd, sm, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, p->name, "cannot switch the profile: %s", e.msg);
        restore_features(c, r->cfg->effective);
        return CPUU_RC_MODIFYING_FAILED;
    }
    sr_log(SR_LOG_NOTICE, p->name, "switched to the target mailbox %s (%s)", sm->target_smtp,
           sm->target_legacy_dn ? sm->target_legacy_dn : "no legacyExchangeDN");
    return CPUU_RC_MODIFYING_OK;
}

/* The sides of c as sd holds them now (a fresh recipient map comes with
 * update_with_sessions). */
static void ctx_sides(cpuu_ctx *c, const cpuu_sides *sd)
{
    cpuu_ctx_release(c);
    rmap_free(c->map);
    c->map = NULL;
    c->src = sd->src;
    c->tgt = sd->tgt;
    c->graph = sd->tgt_graph;
}

/* A check that never ended (the recipient map could not be made before
 * its tree): its temporary profile goes as a failed check's would. */
static void tcheck_clear(cpuu_run_ctx *r, tgt_check *tc)
{
    sr_err e;
    if (tc->made && !r->opts->leave_temporary_profile)
        (void)mapi_pstore_delete(r->store, tc->tp.name, &e);
    mapi_profile_clear(&tc->tp);
}

int cpuu_update_profile(cpuu_run_ctx *r, mapi_profile *p, unsigned *extra)
{
    cpuu_sides sd = { 0 };
    mapi_switchmsg sm = { 0 };
    char *bdir = cpuu_backup_dir(r, p->name);
    cpuu_ctx c = { .who = p->name, .backup_dir = bdir, .cfg = r->cfg,
                   .backups_transient = p->status.temporary };
    cpuu_dirs_req dq = { .r = r, .who = p->name };   /* outlives c.map (ctx_clear) */
    tgt_check tc = { 0 };
    *extra = 0;
    int rc = bdir ? open_source(r, p, &sd, &c, &sm, extra) : CPUU_RC_MODIFYING_FAILED;
    if (rc == GO_ON)
        rc = target_check(r, p, &sd, &c, &sm, extra, &tc);
    if (rc == GO_ON) {
        ctx_sides(&c, &sd);
        c.graph_user = sm.target_smtp;
        int made_backup = 0;
        tgt_gate g = { .r = r, .p = p, .sd = &sd, .sm = &sm, .extra = extra, .tc = &tc,
                       .made_backup = &made_backup };
        rc = update_with_sessions(r, p, &sd, &c, &sm, &dq, &made_backup, tc.later ? &g : NULL);
        if (rc == TARGET_LATE_FAILED) {   /* the first reads were thrown away: the check decides */
            ctx_sides(&c, &sd);   /* nothing holds the target session now */
            rc = tcheck_late_failed(r, p, &sd, &c, &sm, extra, &tc, &g.tgt_err);
            c.src_tree_later = g.src_failed;   /* the next reads try it again */
            if (rc == GO_ON) {   /* Graph, or explicit access: the features from the start */
                ctx_sides(&c, &sd);
                rc = update_with_sessions(r, p, &sd, &c, &sm, &dq, &made_backup, NULL);
            }
        }
        if (rc == CPUU_RC_MODIFYING_FAILED && made_backup) {
            sr_err e;   /* nothing was switched: the backup copy must not look like a rollback point */
            if (mapi_pstore_delete_backup(r->store, p->name, &e) != SR_OK && e.code != SR_E_NOTFOUND)
                sr_log(SR_LOG_WARN, p->name, "cannot delete the backup copy: %s", e.msg);
            if (cpuu_rm_backup_dir(bdir) != 0)   /* restored already; stale copies must not linger */
                sr_log(SR_LOG_WARN, p->name, "cannot delete the feature backups in %s", bdir);
        }
    }
    tcheck_clear(r, &tc);
    ctx_clear(&c);
    mapi_switchmsg_clear(&sm);
    cpuu_sides_free(&sd);
    free(bdir);
    return rc;
}

/* Whether the feature backups were taken over Graph (a feature with graph
 * ops left its GFEAT_BACKUP_NAME). */
static int graph_backups(const char *bdir)
{
    int hit = 0;
    for (size_t i = 0; !hit && cpuu_features[i]; i++) {
        if (!cpuu_features[i]->graph)
            continue;
        char *p = sr_asprintf("%s/%s.%s", bdir, cfg_feature_name(cpuu_features[i]->id),
                              GFEAT_BACKUP_NAME);
        hit = p && access(p, F_OK) == 0;
        free(p);
    }
    return hit;
}

sr_code cpuu_restore_features(cpuu_run_ctx *r, const char *name, const mapi_profile *cur,
                              const mapi_profile *orig, sr_err *err)
{
    char *bdir = cpuu_backup_dir(r, name);
    if (!bdir)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    cfg_feature_set have = 0;
    for (int f = 0; f < CFG_F__MAX; f++)
        if (cpuu_backup_dir_has(bdir, cfg_feature_name((cfg_feature)f)))
            have |= CFG_FSET(f);
    sr_code rc = SR_OK;
    if (have && (cur->n_accounts == 0 || orig->n_accounts == 0))
        rc = sr_err_set(err, SR_E_INVALID, "%s: feature backups exist but the profile has no "
                        "Exchange account to reach the mailboxes", name);
    if (rc == SR_OK && have) {
        cpuu_sides sd = { 0 };
        /* feature backups hold what was written to the target mailbox: only it is needed */
        const mapi_account *tgt = &cur->accounts[0];
        cpuu_ctx c = { .who = name, .backup_dir = bdir, .cfg = r->cfg };
        cpuu_progress("openstore begin target %s", tgt->smtp);
        mapi_folders probe = { 0 };   /* one read tells how the admin gets in */
        if (graph_backups(bdir)) {   /* written over Graph: put back over Graph */
            c.graph = sd.tgt_graph = cpuu_graph_for(r, tgt, err);
            c.graph_user = tgt->smtp;
        } else {
            sd.tgt = open_side(r, &sd, 1, tgt, tgt->smtp, NULL, read_folders, &probe, err);
        }
        mapi_folders_clear(&probe);
        cpuu_progress("openstore end");
        if (!sd.tgt && !sd.tgt_graph)
            rc = err->code ? err->code : SR_E_INTERNAL;
        for (int f = 0; rc == SR_OK && f < CFG_F__MAX; f++) {
            const struct feature_ops *ops =
                (have & CFG_FSET(f)) ? cpuu_feature_ops_for(&c, cpuu_feature_ops((cfg_feature)f)) : NULL;
            if ((have & CFG_FSET(f)) && !ops && c.graph)   /* an EWS backup, the target now on Graph */
                sr_log(SR_LOG_WARN, name, "%s: its backup was written over EWS and Microsoft Graph "
                       "cannot put it back: not restored", cfg_feature_name((cfg_feature)f));
            if (!ops || !ops->restore)
                continue;
            c.src = sd.src;
            c.tgt = sd.tgt;
            const char *fname = cfg_feature_name((cfg_feature)f);
            cpuu_progress("feature begin %s", fname);
            sr_code frc = ops->restore(&c, err);
            cpuu_progress("feature end %s", fname);
            if (frc == SR_OK)
                sr_log(SR_LOG_NOTICE, name, "%s: restored from its backup", fname);
            else if (frc != SR_E_NOTFOUND) {
                sr_err_prefix(err, "%s: ", fname);
                rc = frc;
            }
        }
        if (rc == SR_OK && !c.graph) {   /* RemoveJunkEmailMessages' backup, when there is one */
            sr_code jrc = cpuu_junk_reset.restore(&c, err);
            if (jrc == SR_OK)
                sr_log(SR_LOG_NOTICE, name, "RemoveJunkEmailMessages: restored from its backup");
            else if (jrc != SR_E_NOTFOUND)
                rc = jrc;
        }
        cpuu_ctx_release(&c);
        cpuu_sides_free(&sd);
    }
    free(bdir);
    return rc;
}
