/* graph_check.c — switchresmb --check for an Office 365 target (issue 17
 * §2): when the target may speak Microsoft Graph (CPUU.ini ProtocolTrg Graph
 * or Auto, our keys), one token for the Graph audience and one GET
 * /users/{first target mailbox} say, before any mailbox is touched, whether
 * Graph would work: no token (the app registration), 403 (an application
 * permission not granted), the mailbox unknown, or OK. */
#include "resmb/run_int.h"

#include <stdlib.h>
#include <string.h>

#include "mapi/graph.h"

/* What the app needs on Graph for the target-side features (docs/cpuu.md). */
#define GRAPH_ROLES "User.Read.All, MailboxSettings.ReadWrite, Mail.ReadWrite, " \
                    "Calendars.ReadWrite, Contacts.ReadWrite"

static int target_is_o365(const resmb_run *run)
{
    const char *ad = run->cpuu->autodiscover_target_url;
    return run->cfg->switch_msg.target == CFG_TARGET_O365 ||
           (ad && mapi_url_is_exchange_online(ad));
}

/* The first target mailbox: [TargetMailboxesSMTP], else the address that
 * moved ([MailboxesSMTP]); NULL when the file names none by SMTP. */
static const char *first_target(const cfg_resmb *c)
{
    if (c->target_mailboxes_smtp.n)
        return c->target_mailboxes_smtp.v[0].value;
    return c->mailboxes_smtp.n ? c->mailboxes_smtp.v[0].value : NULL;
}

/* The OAuth2 app-only options of the target (resmb_net_new's, with the
 * Graph resource set by mapi_graph_new); *secret heap, caller frees. */
static sr_code graph_netopts(const resmb_run *run, mapi_netopts *o, char **secret, sr_err *err)
{
    const cfg_cpuu *cp = run->cpuu;
    *secret = NULL;
    if (cp->client_secret && cfg_secret_decrypt(cp->client_secret, secret, err) != SR_OK) {
        sr_err_prefix(err, "%s:%d: [Parameters] ClientSecret: ", cp->path, cp->client_secret_line);
        return err->code;
    }
    *o = (mapi_netopts){ .auth = MAPI_AUTH_OAUTH2, .client_id = cp->client_id,
                         .client_secret = *secret, .client_cert_file = cp->client_cert,
                         .client_key_file = cp->client_key, .token_url = cp->token_url,
                         .authority_url = cp->authority_url, .ca_file = run->o->ca_file,
                         .connect_timeout_ms = 10000, .timeout_ms = 30000,
                         .max_backoff_ms = 30000, .allow_http = run->o->allow_http };
    return SR_OK;
}

/* One line naming the cause and the fix; token: the token was had.  A
 * Graph error message already names the mailbox, the URL and Graph's code. */
static void say(FILE *out, const char *mailbox, int token, const mapi_graph_req *r)
{
    const char *fix = r->status == 403 ? "; the target features need the application permissions "
                                         GRAPH_ROLES
                    : r->status == 404 ? "; is it an Exchange Online mailbox of this tenant?"
                    : !token           ? "; check ClientId, ClientSecret/ClientCertificate, "
                                         "AuthorityURL/TokenURL (docs/logon.md)"
                                       : "";
    if (!token)
        fprintf(out, "Graph (target): no token: %s%s\n", r->err.msg, fix);
    else if (r->err.code == SR_OK)
        fprintf(out, "Graph (target): OK: a token for the Graph audience, and %s answered\n",
                mailbox);
    else
        fprintf(out, "Graph (target): %s%s\n", r->err.msg, fix);
}

/* A token for the Graph audience, then GET /users/{mb}: r holds the
 * answer, or in r->err why there is none (its path is freed here).
 * Returns whether the token was had. */
static int graph_get_user(const resmb_run *run, const char *mb, mapi_graph_req *r)
{
    mapi_netopts o;
    char *secret = NULL;
    sr_err e;
    sr_err_clear(&e);
    mapi_graph_opts go = { .base_url = run->cpuu->graph_url };
    mapi_graph *g = graph_netopts(run, &o, &secret, &e) == SR_OK ? mapi_graph_new(&o, &go, &e) : NULL;
    int token = g && mapi_graph_token(g, &e) == SR_OK;
    char *path = token ? mapi_graph_user_path(mb, "?$select=id,mail") : NULL;
    if (path) {
        r->path = path;
        mapi_graph_call(g, r);
        r->path = NULL;
    } else {
        r->err = e.code ? e : (sr_err){ .code = SR_E_NOMEM, .msg = "out of memory" };
    }
    free(path);
    mapi_graph_free(g);
    sr_secret_free(secret);
    return token;
}

int resmb_graph_probe(const resmb_run *run, FILE *out)
{
    const cfg_cpuu *cp = run->cpuu;
    mapi_proto p = (mapi_proto)cp->protocol_trg;   /* the same values (mapi/graph.h) */
    if (!target_is_o365(run) && p == MAPI_PROTO_GRAPH) {
        fprintf(out, "Graph (target): %s:%d: [Parameters] ProtocolTrg=Graph, but the target is not "
                "Office 365 (SwitchResMB.ini Target, AutodiscoverTargetURL): Graph serves "
                "Exchange Online only; use EWS or Auto\n", cp->path, cp->protocol_trg_line);
        return RESMB_EXIT_INI;
    }
    if (!target_is_o365(run) || p == MAPI_PROTO_EWS)
        return 0;
    const char *mb = first_target(run->cfg);
    if (!cp->client_id || !mb) {
        fprintf(out, "Graph (target): not probed: %s; ProtocolTrg=%s %s\n",
                !cp->client_id ? "no ClientId (OAuth2 app-only) in CPUU.ini"
                               : "no target mailbox named by SMTP address",
                mapi_proto_name(p), p == MAPI_PROTO_AUTO ? "stays on EWS" : "cannot work");
        return 0;
    }
    mapi_graph_req r = { 0 };
    int token = graph_get_user(run, mb, &r);
    say(out, mb, token, &r);
    int bits = r.err.code != SR_OK && p == MAPI_PROTO_GRAPH ? RESMB_EXIT_FAILED : 0;
    if (bits)
        fprintf(out, "Graph (target): ProtocolTrg=Graph: a run would fail every mailbox\n");
    mapi_graph_req_clear(&r);
    return bits;
}

sr_code resmb_graph_answers(const resmb_run *run, const char *mailbox, sr_err *err)
{
    mapi_graph_req r = { 0 };
    (void)graph_get_user(run, mailbox, &r);
    sr_code rc = r.err.code;
    if (rc != SR_OK)
        *err = r.err;
    mapi_graph_req_clear(&r);
    return rc;
}
