/* actions.c — one function per action of the workflow table (workflow.c).
 *
 * Each action is idempotent: it first looks in the journal (sm_get) for what
 * an earlier, interrupted attempt did, records what it is about to create
 * (sm_put) before creating it, and returns EV_OK or EV_FAIL.  A failing action
 * puts the reason into mb->reason (the report) and sm_err (the journal) and
 * ORs the spec's SwitchResMB exit bits into the mailbox. */
#include "resmb/resmb.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpuu_invoke/cpuu_invoke.h"

/* ---- helpers ------------------------------------------------------------- */

/* Fail the step: reason for the report and the journal, bits for the exit code. */
__attribute__((format(printf, 4, 5)))
static int fail(sm_step *step, resmb_actx *a, unsigned bits, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->mb->reason, sizeof a->mb->reason, fmt, ap);
    va_end(ap);
    sr_err_set(sm_err(step), SR_E_SERVER, "%s", a->mb->reason);
    sm_add_exit_bits(step, bits);
    a->mb->run_bits |= bits;
    return EV_FAIL;
}

/* A journal value as a heap copy (sm_get's string dies at the next call). */
static char *jget(sm_step *step, const char *key)
{
    const char *v = sm_get(step, key);
    return v ? sr_strdup(v) : NULL;
}

static int put_ok(sm_step *step, resmb_actx *a, const char *key, const char *value)
{
    if (sm_put(step, key, value) == SR_OK)
        return 1;
    snprintf(a->mb->reason, sizeof a->mb->reason, "journal: %s", sm_err(step)->msg);
    sm_add_exit_bits(step, RESMB_EXIT_FAILED);
    a->mb->run_bits |= RESMB_EXIT_FAILED;
    return 0;
}

/* Fill what the AD batch found from the journal when this run's batch has
 * nothing (e.g. the directory was down on a resumed run). */
static void load_resolved(sm_step *step, resmb_mb *m)
{
    struct { const char *key; char **dst; } f[] = {
        { "smtp", &m->smtp }, { "legacy_dn", &m->legacy_dn },
        { "display_name", &m->display_name }, { "home_guid", &m->home_guid },
        { "target_smtp", &m->target_smtp },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (!*f[i].dst)
            *f[i].dst = jget(step, f[i].key);
}

/* A worker's requests go one after another (Autodiscover on the target; find,
 * delete, create on the source); these bounds only cap the connections a
 * retry overlapping the next request may open. */
#define RESMB_WORKER_TGT_PARALLEL 2
#define RESMB_WORKER_SRC_PARALLEL 4

/* LogonNetworkSecurity* and [RPCOverHTTP] as a profile account carries them
 * (strings borrowed from c: for the logon decision only). */
static void logon_account(const cfg_resmb *c, mapi_account *ac);
static invoke_opts engine_watch(const resmb_actx *a);
static int engine_dry_run(const resmb_run *run);

mapi_net *resmb_net_new(const resmb_run *run, resmb_side side, unsigned max_parallel, sr_err *err)
{
    int target = side == RESMB_TARGET;
    const cfg_cpuu *cp = run->cpuu;
    const char *ad_url = target ? cp->autodiscover_target_url : cp->autodiscover_source_url;
    int o365 = target && (run->cfg->switch_msg.target == CFG_TARGET_O365 ||
                          (ad_url && mapi_url_is_exchange_online(ad_url)));
    char *secret = NULL;
    if (o365 && cp->client_secret && cfg_secret_decrypt(cp->client_secret, &secret, err) != SR_OK) {
        sr_err_prefix(err, "%s:%d: [Parameters] ClientSecret: ", cp->path, cp->client_secret_line);
        return NULL;
    }
    mapi_netopts o = {
        .user = target && run->admin_trg ? run->admin_trg : run->admin,
        .password = target && run->admin_trg ? run->admin_trg_pw : run->admin_pw,
        .client_id = cp->client_id,
        .client_secret = secret,
        .client_cert_file = cp->client_cert,
        .client_key_file = cp->client_key,
        .token_url = cp->token_url,
        .authority_url = cp->authority_url,
        .resource_url = cp->resource_url,
        .ca_file = run->o->ca_file,
        .connect_timeout_ms = 10000,
        .timeout_ms = 60000,
        .max_parallel = max_parallel,
        .allow_http = run->o->allow_http,
        .exchange_online = o365,   /* a 403 from its EWS then means "EWS blocked for the app" */
    };
    /* ours, for labs: "host:port:addr:port[,...]" as curl --connect-to */
    char *ct_list = getenv("SWITCHRESMB_CONNECT_TO") ? sr_strdup(getenv("SWITCHRESMB_CONNECT_TO")) : NULL;
    const char *ct[9];
    o.connect_to = mapi_connect_to_split(ct_list, ct, 8) ? ct : NULL;
    mapi_account ac = { 0 };
    logon_account(run->cfg, &ac);
    if (target) {   /* [RPCOverHTTP] and LogonNetworkSecurity describe the source */
        ac.rpc.enabled = 0;
        ac.logon = MAPI_LOGON_NEGOTIATE;
    }
    mapi_net *net = NULL;
    if (mapi_netopts_from_account(&ac, o365, target ? "target" : "source", &o, err) == SR_OK)
        net = mapi_net_new(&o, err);
    sr_secret_free(secret);
    free(ct_list);
    return net;
}

void resmb_actx_release(resmb_actx *a)
{
    invoke_end(a->engine);   /* a run that stopped between update and cleanup */
    a->engine = NULL;
    mapi_ad_free(a->tgt_ad);
    mapi_net_free(a->tgt_net);
    mapi_net_free(a->src_net);
    a->tgt_ad = NULL;
    a->tgt_net = a->src_net = NULL;
}

mapi_ad *resmb_target_ad_new(const resmb_run *run, mapi_net *net, sr_err *err)
{
    mapi_ad_opts o = { .side = "target",
                       .configured_url = run->cpuu->autodiscover_target_url,
                       .no_domain_candidates = run->cpuu->autodiscover_target_url != NULL,
                       .use_local_xml = run->cpuu->use_local_autodiscover_xmls,
                       .skip_checking = run->cpuu->skip_autodiscover_checking };
    return mapi_ad_new(net, &o, err);
}

/* ---- QUEUED -> RESOLVED ------------------------------------------------- */
static int act_resolve(sm_step *step, void *ctx)
{
    resmb_actx *a = ctx;
    resmb_mb *m = a->mb;
    const char *done = sm_get(step, "smtp");
    if (done && !m->ad_ok)
        return EV_OK;   /* resolved by an interrupted earlier run */
    if (!m->ad_ok)
        return fail(step, a, m->ad_bits ? m->ad_bits : RESMB_EXIT_FAILED, "%s", m->ad_msg);
    struct { const char *key, *val; } f[] = {
        { "smtp", m->smtp }, { "legacy_dn", m->legacy_dn }, { "display_name", m->display_name },
        { "home_guid", m->home_guid }, { "target_smtp", m->target_smtp },
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].val && !put_ok(step, a, f[i].key, f[i].val))
            return EV_FAIL;
    sr_log(SR_LOG_INFO, m->key, "directory: %s, %s", m->smtp,
           m->legacy_dn ? m->legacy_dn : "(no legacyExchangeDN)");
    return EV_OK;
}

/* ---- RESOLVED -> SWITCHMSG_READY ---------------------------------------- */

/* The target mailbox's legacyExchangeDN from the target's Autodiscover. */
static sr_code target_legacy_dn(resmb_actx *a, const char *target, char **dn, char **smtp,
                                sr_err *err)
{
    const resmb_run *run = a->run;
    if (!a->mb->tgt_ad_line && a->mb->tgt_ad_err)   /* the batch found it unknown */
        return sr_err_set(err, SR_E_NOTFOUND, "%s", a->mb->tgt_ad_err);
    if (!a->tgt_net && !(a->tgt_net = resmb_net_new(run, RESMB_TARGET, RESMB_WORKER_TGT_PARALLEL, err)))
        return err->code;
    if (!a->tgt_ad && !(a->tgt_ad = resmb_target_ad_new(run, a->tgt_net, err)))
        return err->code;
    /* the parent's batch asked already (target_batch.c): its answer, as if
     * this handle had got it; without one, ask as before */
    sr_err se;
    if (a->mb->tgt_ad_line && mapi_ad_seed(a->tgt_ad, a->mb->tgt_ad_line, &se) != SR_OK)
        sr_log(SR_LOG_DEBUG, a->mb->key, "the batch's target Autodiscover answer: %s", se.msg);
    const mapi_ad_result *r;
    if (mapi_ad_discover(a->tgt_ad, target, &r, err) != SR_OK)
        return err->code;
    if (!r->legacy_dn)
        return sr_err_set(err, SR_E_PROTOCOL, "target Autodiscover for %s gave no LegacyDN", target);
    *dn = sr_strdup(r->legacy_dn);
    *smtp = sr_strdup(r->smtp ? r->smtp : target);
    return SR_OK;
}

/* Write the switch message: recreate (delete the old ones first), create
 * after a look (none must exist), or, blind, create at once because this
 * run's batched read has just found none (issue 13: the look would only
 * repeat that read). */
typedef enum { SM_CREATE, SM_RECREATE, SM_CREATE_BLIND } sm_write;

/* The worker's kept engine writes it over the engine's source connections
 * (issue 13): a warm connection, no logon handshake, and no connection of
 * the worker's own.  1 when it answered (*rc its outcome, *err on failure);
 * 0 when it was not asked (none kept, [RPCOverHTTP], a field that cannot
 * travel in a command line) or gave no answer (it is gone then). */
static int engine_writes(resmb_actx *a, const mapi_switchmsg *msg, sm_write how, sr_code *rc,
                         sr_err *err)
{
    const resmb_run *run = a->run;
    static const char *const hows[] = { [SM_CREATE] = "look", [SM_RECREATE] = "recreate",
                                        [SM_CREATE_BLIND] = "create" };
    if (!a->engine || run->cfg->rpc.present || !a->mb->smtp || !run->src_ews_url ||
        !msg->target_smtp || strpbrk(a->mb->smtp, "\t\r\n") ||
        strpbrk(run->src_ews_url, "\t\r\n"))
        return 0;
    mapi_account ac = { 0 };
    logon_account(run->cfg, &ac);
    char *line = mapi_switchmsg_to_line(msg);
    char *cmd = line ? sr_asprintf("switchmsg %s\t%s\t%s\t%d\t%s", hows[how], a->mb->smtp,
                                   run->src_ews_url, (int)ac.logon, line) : NULL;
    free(line);
    if (!cmd)
        return 0;
    invoke_opts io = engine_watch(a);
    invoke_result res;
    int answered = invoke_command(&a->engine, cmd, &io, &res);
    free(cmd);
    if (!answered) {
        sr_log(SR_LOG_INFO, a->mb->key, "the kept engine gave no answer to the switch message: "
               "written by the worker");
        return 0;
    }
    if (res.cpuu_bits == 0) {
        *rc = SR_OK;
        return 1;
    }
    sr_code code = res.failed[0] && res.failed_code > 0 && res.failed_code < SR_E__MAX
                       ? (sr_code)res.failed_code : SR_E_SERVER;
    *rc = sr_err_set(err, code, "%s", res.failed[0] ? res.failed : "the engine could not write it");
    if (res.failed_class >= SR_CLASS_NONE && res.failed_class <= SR_CLASS_FINAL)
        err->cls = (sr_class)res.failed_class;
    return 1;
}

static sr_code write_switchmsg(resmb_actx *a, const mapi_switchmsg *msg, sm_write how, sr_err *err)
{
    const resmb_run *run = a->run;
    sr_code rc;
    int had_engine = a->engine != NULL;
    if (engine_writes(a, msg, how, &rc, err))
        return rc;
    /* an engine that died may have sent it: look first, and one found is
     * this attempt's (the caller recreates it on SR_E_EXISTS) */
    if (had_engine && !a->engine && how == SM_CREATE_BLIND)
        how = SM_CREATE;
    if (!a->src_net && !(a->src_net = resmb_net_new(run, RESMB_SOURCE, RESMB_WORKER_SRC_PARALLEL, err)))
        return err->code;
    mapi_session_opts so = { .mailbox = a->mb->smtp, .ews_url = run->src_ews_url,
                             .impersonate = 1 };
    mapi_session *s = mapi_session_logon(a->src_net, &so, err);
    if (!s)
        return err->code;
    rc = how == SM_CREATE_BLIND ? mapi_session_create_switchmsg(s, msg, err)
                                : mapi_session_write_switchmsg(s, msg, how == SM_RECREATE, err);
    mapi_session_free(s);
    return rc;
}

/* The pre-flight found EWS blocked in the target tenant and the target is
 * not to be reached over Graph (ProtocolTrg=EWS): the mailbox fails with
 * that reason before anything is written to it.  The spec's SwitchResMB
 * bitmask has no bit of its own for this: 1, "processing failed with
 * errors" (docs/graph.md).  0 when the mailbox may go on. */
static int ews_blocked(sm_step *step, resmb_actx *a)
{
    const resmb_run *run = a->run;
    if (!run->tgt_blocked || run->tgt_proto == MAPI_PROTO_GRAPH)
        return 0;
    load_resolved(step, a->mb);
    const char *t = resmb_mb_target(a->mb);
    fail(step, a, RESMB_EXIT_FAILED, "target %s: %s; set CPUU.ini ProtocolTrg=Graph or Auto "
         "(docs/graph.md); mailbox not touched", t ? t : "(unknown)", run->tgt_blocked);
    return 1;
}

/* The target's legacyExchangeDN and SMTP address for the switch message:
 * over EWS from the target's Autodiscover; over Microsoft Graph none (Graph
 * has no legacyExchangeDN, and the app may have no EWS permission at all:
 * the engine and Outlook find the mailbox by its SMTP address). */
static sr_code target_identity(resmb_actx *a, const char *target, mapi_switchmsg *msg, sr_err *err)
{
    if (a->run->tgt_proto == MAPI_PROTO_GRAPH && msg->target_is_o365) {
        msg->target_smtp = sr_strdup(target);
        return msg->target_smtp ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    return target_legacy_dn(a, target, &msg->target_legacy_dn, &msg->target_smtp, err);
}

/* Whether the engine may write this mailbox's switch message itself, with
 * its first reads (issue 13: no round trip of its own): the engine reads
 * [handover] — the worker holds a kept engine (one that answered our
 * command protocol), or the engine is the one installed beside us, so a
 * worker's first mailbox leaves it too (another --cpuu engine gets its
 * message from the worker until it has answered the protocol) — it
 * reaches the source as the profile says (not through [RPCOverHTTP]'s
 * proxy settings, which [handover] does not carry), and a dry run writes
 * nothing. */
static int engine_may_write(const resmb_actx *a)
{
    return (a->engine || a->run->engine_bundled) && !a->run->cfg->rpc.present &&
           a->run->src_ews_url && !engine_dry_run(a->run);
}

/* What m's source mailbox holds now, or, by_engine, holds once its engine
 * wrote it: the switch message [handover] carries (msg is moved into m). */
static void know_switchmsg(resmb_mb *m, mapi_switchmsg *msg, int by_engine)
{
    mapi_switchmsg_clear(&m->existing);
    m->existing = *msg;
    memset(msg, 0, sizeof *msg);
    m->existing_current = 1;
    m->existing_at = (int64_t)time(NULL);
    m->sm_engine = by_engine;
}

/* Whether the journal leaves the switch message to the engine. */
static int left_to_engine(sm_step *step)
{
    const char *v = sm_get(step, "switchmsg");
    return v && !strcmp(v, "engine");
}

/* A mailbox whose journal says the engine writes its switch message
 * (switchmsg=engine) in a process that did not decide it (a resumed run,
 * a worker after a crash): the message from the journal, for [handover]. */
static int engine_write_resume(sm_step *step, resmb_actx *a)
{
    resmb_mb *m = a->mb;
    if (m->sm_engine || !left_to_engine(step))
        return 1;
    mapi_switchmsg msg;
    sr_err e;
    if (mapi_switchmsg_from_line(sm_get(step, "switchmsg_msg"), &msg, &e) != SR_OK) {
        fail(step, a, RESMB_EXIT_FAILED, "journal: the switch message left to the engine: %s; "
             "rerun with --restart", e.msg);
        return 0;
    }
    know_switchmsg(m, &msg, 1);
    return 1;
}

static int act_switchmsg(sm_step *step, void *ctx)
{
    resmb_actx *a = ctx;
    resmb_mb *m = a->mb;
    const cfg_resmb *cfg = a->run->cfg;
    if (ews_blocked(step, a))
        return EV_FAIL;
    if (sm_get(step, "switchmsg"))
        return EV_OK;
    load_resolved(step, m);
    if (!m->read_done)
        return fail(step, a, RESMB_EXIT_FAILED, "source mailbox not read: %s",
                    m->read_msg[0] ? m->read_msg : "no answer");
    if (m->read_code != SR_OK && m->read_code != SR_E_NOTFOUND && m->read_code != SR_E_PARSE) {
        m->wait_fail = m->read_cls == SR_CLASS_WAIT;   /* throttled: the pool retries later */
        return fail(step, a, RESMB_EXIT_FAILED, "source mailbox %s: %s", m->smtp, m->read_msg);
    }
    int have = m->read_code == SR_OK;
    if (!cfg->switch_msg.present) {
        if (have)
            return put_ok(step, a, "switchmsg", "present") ? EV_OK : EV_FAIL;
        return fail(step, a, RESMB_EXIT_FAILED,
                    "%s switch message in the source mailbox %s, and no [SwitchMessage] section "
                    "to create one: mailbox not processed",
                    m->read_code == SR_E_PARSE ? "invalid" : "no", m->smtp);
    }
    if (have && !cfg->switch_msg.recreate)
        return put_ok(step, a, "switchmsg", "present") ? EV_OK : EV_FAIL;
    const char *target = resmb_mb_target(m);
    if (!target)
        return fail(step, a, RESMB_EXIT_FAILED,
                    "no target address for the switch message: no [TargetMailboxesSMTP] entry "
                    "and no target address in the directory");
    sr_err e;
    mapi_switchmsg msg = { .version = cfg->switch_msg.agent == CFG_AGENT_LEGACY
                                          ? MAPI_SWITCHMSG_LEGACY : MAPI_SWITCHMSG_CONTEMPORARY };
    msg.target_is_o365 = msg.version == MAPI_SWITCHMSG_CONTEMPORARY &&
                         cfg->switch_msg.target == CFG_TARGET_O365;
    if (target_identity(a, target, &msg, &e) != SR_OK) {
        mapi_switchmsg_clear(&msg);
        return fail(step, a, RESMB_EXIT_FAILED, "target mailbox %s: %s", target, e.msg);
    }
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    msg.created_by = sr_asprintf("switchresmb %s on %s", RESMB_VERSION, host);
    msg.created_at = (int64_t)time(NULL);
    /* an earlier attempt may have written it before being killed */
    int retried = sm_get(step, "switchmsg_target") != NULL;
    if (!put_ok(step, a, "switchmsg_target", msg.target_smtp)) {
        mapi_switchmsg_clear(&msg);
        return EV_FAIL;
    }
    int recreate = have || m->read_code == SR_E_PARSE;
    /* an attempt killed after its CreateItem left one the batch did not see */
    sm_write how = recreate ? SM_RECREATE : retried ? SM_CREATE : SM_CREATE_BLIND;
    char *line = !recreate && engine_may_write(a) ? mapi_switchmsg_to_line(&msg) : NULL;
    if (line) {   /* the engine looks and writes it with its first reads */
        int ok = put_ok(step, a, "switchmsg_msg", line) && put_ok(step, a, "switchmsg", "engine");
        free(line);
        if (!ok) {
            mapi_switchmsg_clear(&msg);
            return EV_FAIL;
        }
        sr_log(SR_LOG_INFO, m->key, "switch message to write: target %s (%s); the engine writes "
               "it with its first reads", msg.target_smtp,
               m->target_given ? "[TargetMailboxesSMTP]" : "directory");
        know_switchmsg(m, &msg, 1);
        return EV_OK;
    }
    int engine_kept = a->engine != NULL;
    sr_code rc = write_switchmsg(a, &msg, how, &e);
    int by_engine = engine_kept && a->engine;
    /* found by a look after an earlier attempt or a kept engine that died
     * mid-write: ours, written again */
    if (rc == SR_E_EXISTS && (retried || (engine_kept && !a->engine)))
        rc = write_switchmsg(a, &msg, SM_RECREATE, &e);
    if (rc != SR_OK) {
        mapi_switchmsg_clear(&msg);
        m->wait_fail = e.cls == SR_CLASS_WAIT;
        return fail(step, a, RESMB_EXIT_FAILED, "cannot write the switch message: %s", e.msg);
    }
    sr_log(SR_LOG_NOTICE, m->key, "switch message %s: target %s (%s)%s%s",
           recreate ? "recreated" : "created", msg.target_smtp,
           m->target_given ? "[TargetMailboxesSMTP]" : "directory",
           msg.target_legacy_dn ? "" : ", no legacyExchangeDN (Microsoft Graph target)",
           by_engine ? "; written by the kept engine" : "");
    know_switchmsg(m, &msg, 0);
    return put_ok(step, a, "switchmsg", recreate ? "recreated" : "created") ? EV_OK : EV_FAIL;
}

/* ---- SWITCHMSG_READY -> PROFILE_CREATED --------------------------------- */

static char *new_profile_name(sr_err *err)
{
    mapi_guid g;
    char txt[MAPI_GUID_STRLEN + 1];
    if (mapi_guid_random(&g, err) != SR_OK)
        return NULL;
    mapi_guid_format(&g, txt);
    for (char *p = txt; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return sr_asprintf("{%s}", txt);
}

static mapi_logon_security logon_of(const cfg_resmb *c)
{
    if (c->settings.logon_winnt)
        return MAPI_LOGON_NTLM;
    if (c->settings.logon_kerberos)
        return MAPI_LOGON_KERBEROS;
    if (c->settings.logon_smartcard)
        return MAPI_LOGON_SMARTCARD;
    if (c->settings.logon_anonymous)
        return MAPI_LOGON_ANONYMOUS;
    return MAPI_LOGON_NEGOTIATE;
}

static void logon_account(const cfg_resmb *c, mapi_account *ac)
{
    ac->logon = logon_of(c);
    if (!c->rpc.present)
        return;
    ac->rpc.enabled = c->rpc.connect_using_http;
    ac->rpc.proxy_server = c->rpc.proxy_server;
    ac->rpc.principal_name = c->rpc.principal_name;
    ac->rpc.ssl_only = c->rpc.ssl_only;
    ac->rpc.mutual_auth = c->rpc.mutual_auth;
    ac->rpc.http_first_fast = c->rpc.http_first_on_fast;
    ac->rpc.http_first_slow = c->rpc.http_first_on_slow;
    ac->rpc.auth_ntlm = c->rpc.auth_ntlm;
    ac->rpc.auth_basic = c->rpc.auth_basic;
    ac->rpc.auth_negotiate = c->rpc.auth_negotiate;
}

/* [handover] (issue 13): the switch message this run read or wrote a
 * moment ago, so the engine's logon on the profile asks the server nothing.
 * Only when we know what the mailbox holds now (a resumed run may not) and
 * by impersonation, the way this run's reads got in.  Without it the engine
 * asks as before, so a failure here is only logged. */
static sr_code hand_over(const resmb_mb *m, const mapi_account *ac, mapi_profile *p, sr_err *err)
{
    if (!m->existing_current || !ac->ews_url)
        return SR_OK;
    /* its age is the age of what we know: a read made long ahead of the
     * worker (the read-ahead window) is not handed over as young */
    mapi_handover h = { .mailbox = ac->smtp, .ews_url = ac->ews_url, .impersonate = 1,
                        .learned_at = m->existing_at, .switchmsg = m->existing,
                        .write = m->sm_engine };
    sr_err e;
    if (mapi_handover_put(p, &h, &e) == SR_OK)
        return SR_OK;
    if (m->sm_engine)   /* the engine's to write: without it nobody would */
        return sr_err_set(err, e.code, "the switch message left to the engine: %s", e.msg);
    sr_log(SR_LOG_INFO, m->key, "no [handover] for the engine: %s", e.msg);
    return SR_OK;
}

/* The source mailbox's temporary profile, as Outlook would have it. */
static sr_code build_profile(const resmb_run *run, const resmb_mb *m, const char *name,
                             mapi_profile *p, sr_err *err)
{
    const cfg_resmb *c = run->cfg;
    const char *home = *c->settings.src_exch_server ? c->settings.src_exch_server : m->home_guid;
    if (!home)
        return sr_err_set(err, SR_E_CONFIG, "no home server: SrcExchServer is empty and the "
                          "directory has no msExchMailboxGuid for %s", m->smtp);
    if (!m->legacy_dn)
        return sr_err_set(err, SR_E_NOTFOUND, "the directory has no legacyExchangeDN for %s", m->smtp);
    memset(p, 0, sizeof *p);
    p->name = sr_strdup(name);
    p->status.temporary = 1;
    mapi_account *ac = mapi_profile_add_account(p);
    if (!p->name || !ac)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    ac->home_server = sr_strdup(home);
    ac->legacy_dn = sr_strdup(m->legacy_dn);
    ac->smtp = sr_strdup(m->smtp);
    ac->display_name = m->display_name ? sr_strdup(m->display_name) : NULL;
    ac->autodiscover_url = run->cpuu->autodiscover_source_url
                               ? sr_strdup(run->cpuu->autodiscover_source_url) : NULL;
    ac->ews_url = run->src_ews_url ? sr_strdup(run->src_ews_url) : NULL;
    logon_account(c, ac);
    /* the profile owns its strings */
    ac->rpc.proxy_server = ac->rpc.proxy_server ? sr_strdup(ac->rpc.proxy_server) : NULL;
    ac->rpc.principal_name = ac->rpc.principal_name ? sr_strdup(ac->rpc.principal_name) : NULL;
    return hand_over(m, ac, p, err);
}

static int act_create_profile(sm_step *step, void *ctx)
{
    resmb_actx *a = ctx;
    resmb_mb *m = a->mb;
    sr_err e;
    load_resolved(step, m);
    if (!engine_write_resume(step, a))
        return EV_FAIL;
    char *name = jget(step, "profile");
    if (!name) {
        /* the name goes to the journal before the profile exists */
        if (!(name = new_profile_name(&e)))
            return fail(step, a, RESMB_EXIT_ONE_PROFILE, "temporary profile: %s", e.msg);
        if (!put_ok(step, a, "profile", name)) {
            free(name);
            return EV_FAIL;
        }
    }
    mapi_pstore *st = mapi_pstore_open(a->run->profile_dir, 0, &e);
    mapi_profile p = { 0 };
    int ev = EV_OK;
    if (!st) {
        ev = fail(step, a, RESMB_EXIT_ONE_PROFILE, "profile store: %s", e.msg);
    } else if (mapi_pstore_load(st, name, &p, &e) == SR_OK) {
        sr_log(SR_LOG_INFO, m->key, "temporary profile %s already exists (resumed)", name);
    } else if (build_profile(a->run, m, name, &p, &e) != SR_OK ||
               mapi_pstore_create(st, &p, &e) != SR_OK) {
        ev = fail(step, a, RESMB_EXIT_ONE_PROFILE, "cannot create the temporary profile %s: %s",
                  name, e.msg);
    } else {
        sr_log(SR_LOG_INFO, m->key, "temporary profile %s created in %s", name,
               mapi_pstore_dir(st));
        m->sm_handed = m->sm_engine;   /* its [handover] is young: engine_step keeps it */
    }
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    free(name);
    return ev;
}

/* ---- PROFILE_CREATED -> UPDATED -> CLEANED: the engine ------------------ */

/* The engine's log for this step when CPUUCmdLine has no -Log (NULL then:
 * the engine writes where CPUUCmdLine says).  Without -Log the engine would
 * write CPUU.log/.csv into whatever directory we were started from: keep
 * them with the journal.  *has_log says which; NULL otherwise only when out
 * of memory. */
static char *engine_log(const resmb_run *run, const char *profile, int cleanup, int *has_log)
{
    *has_log = 0;
    for (size_t i = 1; i < run->engine_argc; i++)
        *has_log |= sr_streq_ci(run->engine_argv[i], "-Log");
    if (*has_log)
        return NULL;
    size_t base = strlen(run->journal_path);
    if (base > 8 && strcmp(run->journal_path + base - 8, ".journal") == 0)
        base -= 8;
    return sr_asprintf("%.*s.%s.%s.log", (int)base, run->journal_path, profile,
                       cleanup ? "cleanup" : "update");
}

/* The spec's watchdog ([Parameters] OpenStoreWait, FeatureWait, GlobalWait,
 * Attempt, WatchDog) for one engine of this mailbox. */
static invoke_opts engine_watch(const resmb_actx *a)
{
    const cfg_cpuu *cp = a->run->cpuu;
    return (invoke_opts){
        .open_store_wait_s = (unsigned)cp->open_store_wait,
        .feature_wait_s = (unsigned)cp->feature_wait,
        .global_wait_s = (unsigned)cp->global_wait,
        .attempts = (unsigned)cp->attempt,
        .watchdog = cp->watchdog,
        .who = a->mb->key,
    };
}

/* The target Autodiscover answer for the engine (one line, or NULL): the
 * one this worker got or was given for the switch message's target address;
 * when it wrote no switch message, the parent's batch answer for the target
 * the message found names (target_batch.c).  The engine takes a line only
 * for the address its logon asks for, so a line for another address costs
 * nothing but is not used. */
static char *handed_target_ad(const resmb_actx *a, const char *tgt_addr)
{
    char *line = mapi_ad_cached_line(a->tgt_ad, tgt_addr);
    if (!line && !a->tgt_ad && a->mb->tgt_ad_line)
        line = sr_strdup(a->mb->tgt_ad_line);
    return line;
}

/* Start the engine for the update (kept: it stays for the cleanup when it
 * can, invoke_start) or a fresh cleanup (kept NULL). */
static sr_code run_engine(resmb_actx *a, const char *profile, int cleanup, unsigned attempts,
                          invoke_result *res, invoke_engine **kept, sr_err *err)
{
    const resmb_run *run = a->run;
    char **argv = calloc(run->engine_argc + 7, sizeof *argv);
    if (!argv)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < run->engine_argc; i++)
        argv[n++] = run->engine_argv[i];
    int has_log;
    char *log = engine_log(run, profile, cleanup, &has_log);
    if (!has_log) {
        if (!log) {
            free(argv);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        argv[n++] = "-Log";
        argv[n++] = log;
    }
    if (cleanup)
        argv[n++] = "-Cleanup";
    argv[n++] = "-Profiles";
    argv[n++] = (char *)profile;
    argv[n] = NULL;
    /* the engine's environment (docs/cpuu.md): our profile store, the
     * source directory for its recipient map ([AD]; the password stays in
     * its stored, encrypted form), and the TLS choices of this run */
    const cfg_resmb *c = run->cfg;
    const char *ldap_ca = getenv("LDAPTLS_CACERT");
    char *envv[24] = { NULL };
    size_t ne = 0;
    envv[ne++] = sr_asprintf("SWITCHRESMB_PROFILE_DIR=%s", run->profile_dir);
    if (c->ad.present) {
        envv[ne++] = sr_asprintf("CPUU_SOURCE_DC=%s", c->ad.dc_name);
        envv[ne++] = sr_asprintf("CPUU_SOURCE_DC_ACCOUNT=%s", c->ad.dc_account);
        envv[ne++] = sr_asprintf("CPUU_SOURCE_DC_PASSWORD=%s", c->ad.dc_password);
        if (ldap_ca && *ldap_ca)
            envv[ne++] = sr_asprintf("CPUU_SOURCE_DC_CA_FILE=%s", ldap_ca);
        if (run->o->mapping_attr)
            envv[ne++] = sr_asprintf("CPUU_SOURCE_DC_MAPPING_ATTR=%s", run->o->mapping_attr);
    }
    if (c->target_ad.present) {   /* ours (issue 12): the target identities, in batches */
        const char *ca = c->target_ad.ca_file ? c->target_ad.ca_file : ldap_ca;
        envv[ne++] = sr_asprintf("CPUU_TARGET_DC=%s", c->target_ad.dc_name);
        envv[ne++] = sr_asprintf("CPUU_TARGET_DC_ACCOUNT=%s", c->target_ad.dc_account);
        envv[ne++] = sr_asprintf("CPUU_TARGET_DC_PASSWORD=%s", c->target_ad.dc_password);
        if (ca && *ca)
            envv[ne++] = sr_asprintf("CPUU_TARGET_DC_CA_FILE=%s", ca);
    }
    if (run->tgt_proto != MAPI_PROTO_AUTO)   /* ours: the pre-flight's decision (preflight.c) */
        envv[ne++] = sr_asprintf("CPUU_TARGET_PROTOCOL=%s", mapi_proto_name(run->tgt_proto));
    if (run->tgt_proto == MAPI_PROTO_GRAPH && (run->tgt_blocked || run->tgt_refused))
        envv[ne++] = sr_asprintf("CPUU_TARGET_EWS=%s", run->tgt_refused ? "refused" : "blocked");
    /* the target's Autodiscover answer we got for the switch message: the
     * engine's logon then asks no second time (issue 13) */
    const char *tgt_addr = resmb_mb_target(a->mb);
    char *handed = handed_target_ad(a, tgt_addr);
    if (handed)
        envv[ne++] = sr_asprintf("CPUU_TARGET_AUTODISCOVER=%s", handed);
    free(handed);
    if (run->o->allow_http)
        envv[ne++] = sr_asprintf("CPUU_ALLOW_HTTP=1");
    if (run->o->ca_file)
        envv[ne++] = sr_asprintf("CPUU_CA_FILE=%s", run->o->ca_file);
    invoke_opts io = engine_watch(a);
    io.secret = run->admin_pw;
    io.extra_env = envv;
    if (attempts)
        io.attempts = attempts;
    sr_code rc = kept ? invoke_start(argv, &io, res, kept, err) : invoke_run(argv, &io, res, err);
    if (kept && *kept)
        a->engine_served = 0;   /* a new engine: its first mailbox */
    for (size_t i = 0; i < ne; i++)
        free(envv[i]);
    free(log);
    free(argv);
    return rc;
}

/* The command for the worker's kept engine (cpuu/main.c): everything that
 * belongs to this mailbox — its temporary profile, its log, the target's
 * Autodiscover answer (or none) — travels in it, so nothing of the previous
 * mailbox stays in the engine.  NULL when it cannot be one line of fields
 * (a tab or newline in the log path) or out of memory. */
static char *engine_command(const resmb_actx *a, const char *profile, int cleanup)
{
    int has_log;
    char *log = engine_log(a->run, profile, cleanup, &has_log);
    if ((!has_log && !log) || (log && strpbrk(log, "\t\r\n"))) {
        free(log);
        return NULL;
    }
    const char *tgt = resmb_mb_target(a->mb);
    char *handed = cleanup ? NULL : handed_target_ad(a, tgt);
    char *cmd = cleanup ? sr_asprintf("cleanup %s\t%s", profile, log ? log : "")
                        : sr_asprintf("update %s\t%s\t%s", profile, log ? log : "",
                                      handed ? handed : "");
    free(handed);
    free(log);
    return cmd;
}

/* The step in the worker's kept engine.  1 when it answered (res: its
 * result; it stays for the next command); 0 when it could not be asked
 * (*asked 0: it stays) or gave no answer (*asked 1: it is gone, res says how). */
static int served_step(resmb_actx *a, const char *profile, int cleanup, invoke_result *res,
                       int *asked)
{
    char *cmd = engine_command(a, profile, cleanup);
    *asked = cmd != NULL;
    if (!cmd)
        return 0;
    invoke_opts io = engine_watch(a);
    int answered = invoke_command(&a->engine, cmd, &io, res);
    free(cmd);
    return answered;
}

/* Whether the temporary profile says it was updated.  An update that ended
 * but was not journaled (killed in between: power cut, full disk) is resumed,
 * and the engine then rightly answers 2 PROFILE_ALREADY_UPDATED with no
 * success bit: the step is done, not CPUU_CANNOT_START (issue 11). */
static int profile_updated(const resmb_run *run, const char *name)
{
    sr_err e;
    mapi_pstore *st = mapi_pstore_open(run->profile_dir, 0, &e);
    mapi_profile p = { 0 };
    int updated = st && mapi_pstore_load(st, name, &p, &e) == SR_OK && p.status.updated;
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    return updated;
}

/* Hard failures among the engine's bits (64/128/256 are log/dump warnings). */
#define ENGINE_ERR_BITS (CPUU_NO_SWITCH_MSG | CPUU_SWITCH_ERR | CPUU_USER_ABORT | \
                         CPUU_GLOBAL_ERR | CPUU_CRASH | CPUU_INVALID_SWITCH_MSG)

/* The engine found EWS blocked in the target tenant (its "ewsblocked" line)
 * though the pre-flight did not (blocked since, or the probe failed
 * otherwise): the report line says it as the pre-flight's would, with the
 * engine's bits; the engine wrote nothing to the target. */
static int engine_blocked(sm_step *step, resmb_actx *a, const char *what, const char *bits,
                          const invoke_result *res)
{
    char advice[MAPI_EWS_BLOCKED_ADVICE_MAX];
    load_resolved(step, a->mb);
    const char *t = resmb_mb_target(a->mb);
    return fail(step, a, RESMB_EXIT_FAILED, "%s: the engine reported %s: target %s: %s; set "
                "CPUU.ini ProtocolTrg=Graph or Auto (docs/graph.md); profile not updated", what,
                bits ? bits : "?", t ? t : "(unknown)",
                mapi_ews_blocked_advice(advice, sizeof advice, res->ews_app_id));
}

/* What a processed mailbox's report line adds (the names are in the engine
 * log): references kept as they were, which the admin looks up, and what the
 * target could not take (over Microsoft Graph: whole features), never silent. */
static void processed_reason(resmb_mb *mb, const invoke_result *res)
{
    if (!res->unresolved[0] && !res->not_carried[0] && !res->feat_failed[0])
        return;
    char buf[3 * INVOKE_LIST_MAX + 200];
    snprintf(buf, sizeof buf, "processed%s%s%s%s%s%s",
             res->feat_failed[0] ? "; failed, not Critical (the engine log says why): " : "",
             res->feat_failed,
             res->unresolved[0] ? "; references kept unresolved (named in the engine log): " : "",
             res->unresolved,
             res->not_carried[0] ? "; not carried to the target (named in the engine log): " : "",
             res->not_carried);
    size_t n = strlen(buf);   /* the lists are bounded, the reason too: cut visibly */
    if (n >= sizeof mb->reason)
        memcpy(buf + sizeof mb->reason - 4, "...", 4);
    memcpy(mb->reason, buf, n < sizeof mb->reason ? n + 1 : sizeof mb->reason);
}

/* -DryRun in CPUUCmdLine: the engine plans and writes nothing, and says so
 * with CSV 0 and no exit bit (CPUU_CANNOT_START) even when all went well. */
static int engine_dry_run(const resmb_run *run)
{
    for (size_t i = 1; i < run->engine_argc; i++)
        if (sr_streq_ci(run->engine_argv[i], "-DryRun"))
            return 1;
    return 0;
}

/* Before an update whose switch message the engine is to write: the
 * profile needs a young [handover] saying so (the engine trusts one at most
 * 600 s old).  A profile this worker made a moment ago has it; one an
 * earlier process made (a resumed run, a worker after a crash) gets it
 * again from the journal.  0 when it cannot: the step failed. */
static int engine_write_prepare(sm_step *step, resmb_actx *a, const char *profile)
{
    resmb_mb *m = a->mb;
    if (!left_to_engine(step) || m->sm_handed)
        return 1;
    if (!engine_write_resume(step, a))
        return 0;
    sr_err e;
    sr_err_clear(&e);
    mapi_pstore *st = mapi_pstore_open(a->run->profile_dir, 0, &e);
    mapi_profile p = { 0 };
    sr_code rc = st ? mapi_pstore_load(st, profile, &p, &e) : e.code;
    if (rc == SR_OK && !p.n_accounts)
        rc = sr_err_set(&e, SR_E_PARSE, "no account");
    if (rc == SR_OK) {
        m->existing_at = (int64_t)time(NULL);
        rc = hand_over(m, &p.accounts[0], &p, &e);
    }
    if (rc == SR_OK)
        rc = mapi_pstore_update(st, &p, &e);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    if (rc != SR_OK) {
        fail(step, a, RESMB_EXIT_FAILED, "temporary profile %s: the switch message left to the "
             "engine cannot be handed over: %s", profile, e.msg);
        return 0;
    }
    m->sm_handed = 1;
    return 1;
}

/* After a good update: the switch message the engine was to write is
 * there (the engine writes nothing to the target before it). */
static int engine_write_done(sm_step *step, resmb_actx *a)
{
    if (!left_to_engine(step))
        return EV_OK;
    const resmb_mb *m = a->mb;
    sr_log(SR_LOG_NOTICE, m->key, "switch message created: target %s (%s); written by the engine "
           "with its first reads", m->existing.target_smtp ? m->existing.target_smtp : "?",
           m->target_given ? "[TargetMailboxesSMTP]" : "directory");
    return put_ok(step, a, "switchmsg", "created") ? EV_OK : EV_FAIL;
}

static int engine_step(sm_step *step, resmb_actx *a, int cleanup)
{
    const char *what = cleanup ? "cleanup" : "update";
    unsigned start_bit = cleanup ? RESMB_EXIT_CPUU_CLEANUP : RESMB_EXIT_CPUU_START;
    if (!cleanup && ews_blocked(step, a))   /* resumed past its switch message */
        return EV_FAIL;
    char *profile = jget(step, "profile");
    if (!profile)
        return fail(step, a, RESMB_EXIT_FAILED, "journal has no temporary profile name");
    if (!cleanup && !engine_write_prepare(step, a, profile)) {
        free(profile);
        return EV_FAIL;
    }
    invoke_result res;
    sr_err e;
    memset(&res, 0, sizeof res);
    sr_code rc = SR_OK;
    /* The worker's kept engine (the pool's, or the one this mailbox's update
     * started) runs the step.  Without one a fresh engine runs it, kept for
     * what follows.  When the kept one gives no answer (killed, hung, gone)
     * it counted as the update's first attempt: a fresh engine gets the
     * attempts left (Attempt=1: none, the mailbox fails as a single engine
     * that died would), and a cleanup is run by a fresh engine as always. */
    int asked = 0;
    unsigned attempts = a->run->cpuu->attempt > 0 ? (unsigned)a->run->cpuu->attempt : 3;
    int answered = a->engine && served_step(a, profile, cleanup, &res, &asked);
    if (!answered && cleanup) {
        if (asked)
            sr_log(SR_LOG_INFO, a->mb->key, "cleanup: in a fresh engine process");
        rc = run_engine(a, profile, 1, 0, &res, NULL, &e);
    } else if (!answered && (!asked || attempts > 1)) {
        invoke_end(a->engine);   /* one it could not ask: a fresh one for this mailbox */
        a->engine = NULL;
        rc = run_engine(a, profile, 0, asked ? attempts - 1 : 0, &res, &a->engine, &e);
    }
    int already = !cleanup && rc == SR_OK && res.outcome == INVOKE_EXITED &&
                  !(res.cpuu_bits & (ENGINE_ERR_BITS | CPUU_SUCCESS)) &&
                  profile_updated(a->run, profile);
    free(profile);
    if (rc != SR_OK)
        return fail(step, a, start_bit, "cannot start %s for %s: %s", a->run->cpuu_bin, what, e.msg);
    char *bits = invoke_describe_bits(res.cpuu_bits);
    int ev = EV_OK;
    switch (res.outcome) {
    case INVOKE_CANNOT_START:
        ev = fail(step, a, start_bit, "cannot start %s for %s", a->run->cpuu_bin, what);
        break;
    case INVOKE_TIMEOUT:
        ev = fail(step, a, RESMB_EXIT_FAILED, "%s: the watchdog stopped the engine at %s after %u "
                  "attempt(s)", what, res.stage[0] ? res.stage : "?", res.attempts_used);
        break;
    case INVOKE_CRASHED:
        if (res.term_signal)
            ev = fail(step, a, RESMB_EXIT_FAILED, "%s: the engine was killed by signal %d (%u "
                      "attempt(s))", what, res.term_signal, res.attempts_used);
        else   /* a kept engine another worker started: its status is not ours to read */
            ev = fail(step, a, RESMB_EXIT_FAILED, "%s: the engine died without an answer (%u "
                      "attempt(s))", what, res.attempts_used);
        break;
    case INVOKE_EXITED:
        if ((res.cpuu_bits & ENGINE_ERR_BITS) && res.ews_blocked)
            ev = engine_blocked(step, a, what, bits, &res);
        else if ((res.cpuu_bits & ENGINE_ERR_BITS) && res.failed[0])
            ev = fail(step, a, RESMB_EXIT_FAILED, "%s: the engine reported %s: cannot write the "
                      "switch message: %s", what, bits ? bits : "?", res.failed);
        else if (res.cpuu_bits & ENGINE_ERR_BITS)
            ev = fail(step, a, RESMB_EXIT_FAILED, "%s: the engine reported %s%s%s%s", what,
                      bits ? bits : "?", res.feat_failed[0] ? " (failed: " : "", res.feat_failed,
                      res.feat_failed[0] ? "; the engine log says why)" : "");
        else if (already)
            sr_log(SR_LOG_NOTICE, a->mb->key, "update: the profile was updated by an interrupted "
                   "run (PROFILE_ALREADY_UPDATED): done");
        else if (!cleanup && !(res.cpuu_bits & CPUU_SUCCESS) && engine_dry_run(a->run))
            /* a successful dry run; the journal still records the mailbox as
             * done, so the report says how to process it for real */
            snprintf(a->mb->reason, sizeof a->mb->reason, "engine dry run (-DryRun in "
                     "CPUUCmdLine): profile not changed; --restart processes it for real");
        else if (!cleanup && !(res.cpuu_bits & CPUU_SUCCESS))
            /* CPUU_CANNOT_START from an update: it found nothing it could start on */
            ev = fail(step, a, RESMB_EXIT_CPUU_START, "update: the engine reported "
                      "CPUU_CANNOT_START (exit status %d)", res.exit_status);
        else {
            sr_log(SR_LOG_INFO, a->mb->key, "%s: the engine reported %s", what, bits ? bits : "?");
            if (!cleanup)
                processed_reason(a->mb, &res);
        }
        break;
    }
    free(bits);
    if (ev == EV_OK && !cleanup)
        ev = engine_write_done(step, a);
    /* a failed mailbox's engine that answered stays for the next one: each
     * command is a run of its own */
    return ev;
}

/* ---- the end: the temporary profile goes, or stays on request ------------ */

/* Delete the recorded temporary profile unless LeaveTemporaryProfiles=1.
 * Returns 0, or -1 with the reason appended. */
static int drop_profile_now(sm_step *step, resmb_actx *a)
{
    char *name = jget(step, "profile");
    if (!name)
        return 0;
    int r = 0;
    if (a->run->cfg->settings.leave_temporary_profiles) {
        sr_log(SR_LOG_NOTICE, a->mb->key, "temporary profile %s kept (LeaveTemporaryProfiles=1)",
               name);
    } else {
        sr_err e;
        mapi_pstore *st = mapi_pstore_open(a->run->profile_dir, 0, &e);
        sr_code rc = st ? mapi_pstore_delete(st, name, &e) : e.code;
        if (rc == SR_OK || rc == SR_E_NOTFOUND) {
            sr_log(SR_LOG_INFO, a->mb->key, "temporary profile %s deleted", name);
        } else {
            size_t l = strlen(a->mb->reason);
            snprintf(a->mb->reason + l, sizeof a->mb->reason - l, "%scannot delete temporary "
                     "profile %s: %s", l ? "; " : "", name, e.msg);
            r = -1;
        }
        mapi_pstore_free(st);
    }
    free(name);
    return r;
}

/* drop_profile_now, its time counted as the profile phase. */
static int drop_profile(sm_step *step, resmb_actx *a)
{
    long long t0 = resmb_now_us();
    int r = drop_profile_now(step, a);
    a->phase_us[RESMB_PH_PROFILE] += resmb_now_us() - t0;
    return r;
}

int resmb_act_finish(sm_step *step, void *ctx)
{
    resmb_actx *a = ctx;
    if (drop_profile(step, a) != 0) {
        sm_add_exit_bits(step, RESMB_EXIT_FAILED);
        a->mb->run_bits |= RESMB_EXIT_FAILED;
        return EV_FAIL;   /* terminal anyway; the bit tells the admin */
    }
    return EV_OK;
}

int resmb_act_fail(sm_step *step, void *ctx)
{
    resmb_actx *a = ctx;
    if (!a->mb->reason[0]) {
        /* resumed inside this action: the reason is in the journal */
        char *r = jget(step, "reason");
        snprintf(a->mb->reason, sizeof a->mb->reason, "%s",
                 r ? r : "interrupted while failing (see the journal)");
        free(r);
    } else {
        sm_put(step, "reason", a->mb->reason);
    }
    drop_profile(step, a);
    return EV_OK;
}

/* FAILED -> QUEUED on a rerun: forget what the failed attempt recorded, so
 * every action starts afresh (a kept temporary profile stays in the store). */
int resmb_act_requeue(sm_step *step, void *ctx)
{
    static const char *const keys[] = { "smtp", "legacy_dn", "display_name", "home_guid",
                                         "target_smtp", "switchmsg", "switchmsg_target",
                                         "profile", "reason" };
    resmb_actx *a = ctx;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (sm_get(step, keys[i]) && sm_put(step, keys[i], NULL) != SR_OK)
            return fail(step, a, RESMB_EXIT_FAILED, "journal: %s", sm_err(step)->msg);
    sr_log(SR_LOG_NOTICE, a->mb->key, "failed in an earlier run: retrying");
    return EV_START;
}

/* ---- the public actions: each one timed for the report's phases ---------- */

/* Add the time since t0 to the phase's total; returns ev. */
static int timed(void *ctx, resmb_phase ph, long long t0, int ev)
{
    resmb_actx *a = ctx;
    a->phase_us[ph] += resmb_now_us() - t0;
    return ev;
}

int resmb_act_resolve(sm_step *step, void *ctx)
{
    long long t0 = resmb_now_us();
    return timed(ctx, RESMB_PH_DIRECTORY, t0, act_resolve(step, ctx));
}

int resmb_act_switchmsg(sm_step *step, void *ctx)
{
    long long t0 = resmb_now_us();
    return timed(ctx, RESMB_PH_SWITCHMSG, t0, act_switchmsg(step, ctx));
}

int resmb_act_create_profile(sm_step *step, void *ctx)
{
    long long t0 = resmb_now_us();
    return timed(ctx, RESMB_PH_PROFILE, t0, act_create_profile(step, ctx));
}

int resmb_act_update(sm_step *step, void *ctx)
{
    long long t0 = resmb_now_us();
    return timed(ctx, RESMB_PH_UPDATE, t0, engine_step(step, ctx, 0));
}

int resmb_act_cleanup(sm_step *step, void *ctx)
{
    long long t0 = resmb_now_us();
    return timed(ctx, RESMB_PH_CLEANUP, t0, engine_step(step, ctx, 1));
}
