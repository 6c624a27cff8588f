/* ews_call.c — one EWS round trip per call, many calls at once: serialize
 * the envelopes, send them through the HTTP layer concurrently, parse the
 * answers safely and turn HTTP statuses and SOAP faults into errors that
 * name the mailbox, the URL and the cause. */
#include "mapi/ews_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The first element child of soap:Body, or an error. */
static xmlNodePtr body_op(xmlDocPtr doc)
{
    xmlNodePtr body = mapi_xml_child(xmlDocGetRootElement(doc), MAPI_NS_SOAP, "Body");
    return mapi_xml_child(body, NULL, NULL);
}

static void fault_error(mapi_ews_call *c, xmlDocPtr doc)
{
    char *code = NULL, *text = NULL;
    unsigned backoff = 0;
    mapi_ews_fault(doc, &code, &text, &backoff);
    sr_class k;
    sr_code rc = mapi_ews_code(code, &k);
    if (rc == SR_OK)
        rc = SR_E_SERVER;
    sr_err_set(&c->err, rc, "%s: %s: SOAP fault %s%s%s", c->mailbox ? c->mailbox : "EWS", c->url,
               code ? code : "(no code)", text ? ": " : "", text ? text : "");
    c->err.cls = k;
    c->err.backoff_ms = backoff;
    free(code);
    free(text);
}

/* Exchange Online's EWS hosts: outlook.office365.com and *.outlook.com. */
static int exo_host(const char *url)
{
    const char *h = url ? strstr(url, "://") : NULL;
    if (!h)
        return 0;
    h += 3;
    const char *at = strpbrk(h, "@/");
    if (at && *at == '@')
        h = at + 1;
    size_t n = strcspn(h, ":/?#");
    static const char sfx[] = ".outlook.com";
    size_t ns = sizeof sfx - 1;
    if (n == strlen("outlook.office365.com") && !strncasecmp(h, "outlook.office365.com", n))
        return 1;
    return n > ns && !strncasecmp(h + n - ns, sfx, ns);
}

static int is_exchange_online(const mapi_netopts *o, const char *url)
{
    return (o && o->exchange_online) || exo_host(url);
}

const char *mapi_ews_blocked_advice(char *buf, size_t size, const char *app_id)
{
    const char *id = app_id && *app_id ? app_id : NULL;
    snprintf(buf, size,
             "EWS is blocked for this app in the target tenant (app id %s). "
             "A tenant admin can allow it with Set-OrganizationConfig -EwsEnabled:$true and "
             "-EwsAllowedAppIDs \"<current ids>,%s\" (the command writes the whole list: read the "
             "current value first with Get-OrganizationConfig | Format-List EwsAllowedAppIDs; "
             "a change can take up to 24 h). Microsoft switches EWS in Exchange Online off for "
             "good on 2027-04-01: the way forward is Microsoft Graph",
             id ? id : "unknown: no OAuth client id configured", id ? id : "<appId>");
    return buf;
}

/* Exchange Online answers 403 (not a SOAP fault) when EWS is disabled for
 * the app: say so and what the tenant admin can do about it. */
static void blocked_error(mapi_ews_call *c, const mapi_netopts *o)
{
    char advice[MAPI_EWS_BLOCKED_ADVICE_MAX];
    sr_err_set(&c->err, SR_E_EWS_BLOCKED, "%s: %s: HTTP 403: %s",
               c->mailbox ? c->mailbox : "EWS", c->url,
               mapi_ews_blocked_advice(advice, sizeof advice, o ? o->client_id : NULL));
}

/* Classify one HTTP answer into c's outputs. */
static void take_answer(mapi_ews_call *c, mapi_http_resp *rs, const mapi_netopts *o)
{
    const char *who = c->mailbox ? c->mailbox : "EWS";
    c->http_status = rs->status;
    if (rs->status == 403 && is_exchange_online(o, c->url)) {
        blocked_error(c, o);
        return;
    }
    int xml_like = rs->len > 0 && (rs->status == 200 || rs->status == 500);
    if (!xml_like) {
        sr_code code;
        const char *w = mapi_http_words(rs->status, &code);
        sr_err_set(&c->err, code, "%s: %s: HTTP %ld: %s%s%s", who, c->url, rs->status, w,
                   rs->auth_note ? ": " : "", rs->auth_note ? rs->auth_note : "");
        return;
    }
    sr_err pe;
    sr_err_clear(&pe);
    char what[96];
    snprintf(what, sizeof what, "EWS response (HTTP %ld)", rs->status);
    xmlDocPtr doc = mapi_xml_parse(rs->body, rs->len, what, &pe);
    xmlNodePtr op = doc ? body_op(doc) : NULL;
    if (!op && rs->status == 500) {   /* an error page, not SOAP */
        sr_err_set(&c->err, SR_E_SERVER, "%s: %s: HTTP 500: %s (the answer is not SOAP)", who, c->url,
                   mapi_http_words(500, NULL));
        xmlFreeDoc(doc);
        return;
    }
    if (!doc) {
        sr_err_set(&c->err, pe.code, "%s: %s: %s", who, c->url, pe.msg);
        return;
    }
    if (!op || (op->ns && strcmp((const char *)op->ns->href, MAPI_NS_SOAP) == 0 &&
                strcmp((const char *)op->name, "Fault") == 0)) {
        if (op)
            fault_error(c, doc);
        else
            sr_err_set(&c->err, SR_E_PROTOCOL, "%s: %s: not a SOAP envelope", who, c->url);
        xmlFreeDoc(doc);
        return;
    }
    if (rs->status != 200) {
        sr_err_set(&c->err, SR_E_SERVER, "%s: %s: HTTP %ld with a %s body", who, c->url,
                   rs->status, (const char *)op->name);
        xmlFreeDoc(doc);
        return;
    }
    c->resp = doc;
    c->resp_op = op;
}

/* One handle's calls as HTTP requests (mapi_ews_run_many). */
typedef struct ews_batch {
    mapi_net *net;
    mapi_ews_call *calls;
    size_t n;
    mapi_http_req *rq;
    mapi_http_resp *rs;
    sr_err *es;
    xmlChar **bodies;
    char **anchors;
} ews_batch;

static void batch_free(ews_batch *b)
{
    free(b->rq); free(b->rs); free(b->es); free(b->bodies); free(b->anchors);
    b->rq = NULL;
    b->rs = NULL;
    b->es = NULL;
    b->bodies = NULL;
    b->anchors = NULL;
}

static sr_code batch_build(ews_batch *b)
{
    size_t n = b->n ? b->n : 1;
    b->rq = calloc(n, sizeof *b->rq);
    b->rs = calloc(n, sizeof *b->rs);
    b->es = calloc(n, sizeof *b->es);
    b->bodies = calloc(n, sizeof *b->bodies);
    b->anchors = calloc(n, sizeof *b->anchors);
    if (!b->rq || !b->rs || !b->es || !b->bodies || !b->anchors) {
        batch_free(b);
        return SR_E_NOMEM;
    }
    for (size_t i = 0; i < b->n; i++) {
        mapi_ews_call *c = &b->calls[i];
        c->resp = NULL;
        c->resp_op = NULL;
        c->http_status = 0;
        sr_err_clear(&c->err);
        int len = 0;
        b->bodies[i] = c->req ? mapi_xml_dump(c->req, &len) : NULL;
        /* Exchange Online routes by it (and on premises it is harmless) */
        const char *anchor = c->anchor ? c->anchor : c->mailbox;
        if (anchor && strchr(anchor, '@') && !strpbrk(anchor, "\r\n"))
            b->anchors[i] = sr_asprintf("X-AnchorMailbox: %s", anchor);
        b->rq[i] = (mapi_http_req){ .url = c->url, .who = c->mailbox, .method = "POST",
                                    .content_type = "text/xml; charset=utf-8",
                                    .body = (const char *)b->bodies[i], .body_len = (size_t)len,
                                    .auth = 1, .idempotent = c->idempotent, .soap = 1,
                                    .extra_header = b->anchors[i] };
    }
    return SR_OK;
}

/* The answers into the calls; the first failure's code (and *err). */
static sr_code batch_take(ews_batch *b, sr_err *err)
{
    sr_code rc = SR_OK;
    for (size_t i = 0; i < b->n; i++) {
        mapi_ews_call *c = &b->calls[i];
        if (!b->bodies[i])
            sr_err_set(&c->err, SR_E_INVALID, "%s: no request document", c->url);
        else if (b->es[i].code != SR_OK)
            c->err = b->es[i];
        else
            take_answer(c, &b->rs[i], mapi_net_opts(b->net));
        if (c->err.code != SR_OK) {
            sr_log(SR_LOG_WARN, NULL, "%s", c->err.msg);   /* the message names the mailbox */
            if (rc == SR_OK) {
                rc = c->err.code;
                if (err)
                    *err = c->err;
            }
        }
        mapi_http_resp_clear(&b->rs[i]);
        xmlFree(b->bodies[i]);
        free(b->anchors[i]);
    }
    batch_free(b);
    return rc;
}

sr_code mapi_ews_run_many(mapi_ews_batch *v, size_t nv, sr_err *err)
{
    ews_batch *bs = calloc(nv ? nv : 1, sizeof *bs);
    mapi_http_batch *hb = calloc(nv ? nv : 1, sizeof *hb);
    size_t nh = 0;
    sr_code rc = SR_OK;
    if (!bs || !hb) {
        free(bs);
        free(hb);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    for (size_t k = 0; k < nv; k++) {
        bs[k] = (ews_batch){ .net = v[k].net, .calls = v[k].calls, .n = v[k].n };
        if (batch_build(&bs[k]) != SR_OK) {
            for (size_t i = 0; i < v[k].n; i++)
                sr_err_set(&v[k].calls[i].err, SR_E_NOMEM, "out of memory");
            if (rc == SR_OK)
                rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
            continue;
        }
        hb[nh++] = (mapi_http_batch){ .net = bs[k].net, .reqs = bs[k].rq, .resps = bs[k].rs,
                                      .errs = bs[k].es, .n = bs[k].n };
    }
    mapi_http_run_many(hb, nh);
    for (size_t k = 0; k < nv; k++) {
        if (!bs[k].rq)
            continue;
        sr_code one = batch_take(&bs[k], rc == SR_OK ? err : NULL);
        if (rc == SR_OK)
            rc = one;
    }
    free(bs);
    free(hb);
    return rc;
}

sr_code mapi_ews_run(mapi_net *net, mapi_ews_call *calls, size_t n, sr_err *err)
{
    mapi_ews_batch b = { .net = net, .calls = calls, .n = n };
    return mapi_ews_run_many(&b, 1, err);
}
