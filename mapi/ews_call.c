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

sr_code mapi_ews_run(mapi_net *net, mapi_ews_call *calls, size_t n, sr_err *err)
{
    mapi_http_req *rq = calloc(n ? n : 1, sizeof *rq);
    mapi_http_resp *rs = calloc(n ? n : 1, sizeof *rs);
    sr_err *es = calloc(n ? n : 1, sizeof *es);
    xmlChar **bodies = calloc(n ? n : 1, sizeof *bodies);
    char **anchors = calloc(n ? n : 1, sizeof *anchors);
    if (!rq || !rs || !es || !bodies || !anchors) {
        free(rq); free(rs); free(es); free(bodies); free(anchors);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        mapi_ews_call *c = &calls[i];
        c->resp = NULL;
        c->resp_op = NULL;
        c->http_status = 0;
        sr_err_clear(&c->err);
        int len = 0;
        bodies[i] = c->req ? mapi_xml_dump(c->req, &len) : NULL;
        /* Exchange Online routes by it (and on premises it is harmless) */
        const char *anchor = c->anchor ? c->anchor : c->mailbox;
        if (anchor && strchr(anchor, '@') && !strpbrk(anchor, "\r\n"))
            anchors[i] = sr_asprintf("X-AnchorMailbox: %s", anchor);
        rq[i] = (mapi_http_req){ .url = c->url, .who = c->mailbox, .method = "POST",
                                 .content_type = "text/xml; charset=utf-8",
                                 .body = (const char *)bodies[i], .body_len = (size_t)len,
                                 .auth = 1, .idempotent = c->idempotent, .soap = 1,
                                 .extra_header = anchors[i] };
    }
    mapi_http_run(net, rq, rs, es, n);
    sr_code rc = SR_OK;
    for (size_t i = 0; i < n; i++) {
        mapi_ews_call *c = &calls[i];
        if (!bodies[i])
            sr_err_set(&c->err, SR_E_INVALID, "%s: no request document", c->url);
        else if (es[i].code != SR_OK)
            c->err = es[i];
        else
            take_answer(c, &rs[i], mapi_net_opts(net));
        if (c->err.code != SR_OK) {
            sr_log(SR_LOG_WARN, NULL, "%s", c->err.msg);   /* the message names the mailbox */
            if (rc == SR_OK) {
                rc = c->err.code;
                if (err)
                    *err = c->err;
            }
        }
        mapi_http_resp_clear(&rs[i]);
        xmlFree(bodies[i]);
        free(anchors[i]);
    }
    free(rq); free(rs); free(es); free(bodies); free(anchors);
    return rc;
}
