/* ews_autodiscover_pox.c — the POX Autodiscover format (pox-autodiscover-request
 * / -response-for-exchange, MS-OXDSCLI): the request body for an address and
 * the response parsed into a mapi_ad_result or a redirect.  The search that
 * uses them is in autodiscover.c. */
#include "mapi/ews_int.h"

#include <stdlib.h>
#include <string.h>

void mapi_ad_result_free(mapi_ad_result *r)
{
    if (!r)
        return;
    free(r->address); free(r->smtp); free(r->display_name); free(r->legacy_dn);
    free(r->deployment_id); free(r->ews_url); free(r->ews_url_external); free(r->server);
    free(r->ad_url);
    free(r);
}

mapi_ad_result *mapi_ad_result_dup(const mapi_ad_result *r)
{
    mapi_ad_result *d = r ? calloc(1, sizeof *d) : NULL;
    if (!d)
        return NULL;
    const char *const src[] = { r->address, r->smtp, r->display_name, r->legacy_dn, r->deployment_id,
                                r->ews_url, r->ews_url_external, r->server, r->ad_url };
    char **dst[] = { &d->address, &d->smtp, &d->display_name, &d->legacy_dn, &d->deployment_id,
                     &d->ews_url, &d->ews_url_external, &d->server, &d->ad_url };
    for (size_t i = 0; i < sizeof src / sizeof src[0]; i++)
        if (src[i] && !(*dst[i] = sr_strdup(src[i]))) {
            mapi_ad_result_free(d);
            return NULL;
        }
    d->redirects = r->redirects;
    return d;
}

/* ---- POX request and response -------------------------------------------- */
char *mapi_ad_build_pox(const char *address, sr_err *err)
{
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root = doc ? xmlNewDocNode(doc, NULL, (const xmlChar *)"Autodiscover", NULL) : NULL;
    if (!root) {
        xmlFreeDoc(doc);
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    xmlDocSetRootElement(doc, root);
    xmlSetNs(root, xmlNewNs(root, (const xmlChar *)MAPI_NS_AD_REQ, NULL));
    xmlNodePtr req = xmlNewChild(root, NULL, (const xmlChar *)"Request", NULL);
    mapi_xml_add(req, NULL, "EMailAddress", address);
    mapi_xml_add(req, NULL, "AcceptableResponseSchema", MAPI_NS_AD_OUTLOOK);
    int len = 0;
    xmlChar *out = mapi_xml_dump(doc, &len);
    xmlFreeDoc(doc);
    char *s = out ? sr_strdup((const char *)out) : NULL;
    xmlFree(out);
    if (!s)
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    return s;
}

/* Pick the EWS URLs: EXCH (inside the organisation) first, then EXPR. */
static void take_protocols(xmlNodePtr account, mapi_ad_result *r)
{
    for (xmlNodePtr p = mapi_xml_child(account, NULL, "Protocol"); p;
         p = mapi_xml_next(p, NULL, "Protocol")) {
        char *type = mapi_xml_child_text(p, NULL, "Type");
        char *ews = mapi_xml_child_text(p, NULL, "EwsUrl");
        if (type && strcmp(type, "EXCH") == 0) {
            if (!r->server)
                r->server = mapi_xml_child_text(p, NULL, "Server");
            if (ews && !r->ews_url) {
                r->ews_url = ews;
                ews = NULL;
            }
        } else if (type && strcmp(type, "EXPR") == 0 && ews && !r->ews_url_external) {
            r->ews_url_external = ews;
            ews = NULL;
        }
        free(type);
        free(ews);
    }
    if (!r->ews_url && r->ews_url_external)
        r->ews_url = sr_strdup(r->ews_url_external);
}

static sr_code pox_error(xmlNodePtr resp, const char *what, sr_err *err)
{
    xmlNodePtr e = mapi_xml_child(resp, NULL, "Error");
    char *code = mapi_xml_child_text(e, NULL, "ErrorCode");
    char *msg = mapi_xml_child_text(e, NULL, "Message");
    /* POX ErrorCode 500: "The e-mail address cannot be found" — the server
     * answered and does not know the address: a not-found, not a fault. */
    sr_code rc = code && strcmp(code, "500") == 0 ? SR_E_NOTFOUND : SR_E_SERVER;
    sr_err_set(err, rc, "%s: Autodiscover error %s: %s", what, code ? code : "?",
               msg ? msg : "(no message)");
    free(code);
    free(msg);
    return rc;
}

/* Action=settings: the User and the EWS URLs of the Account. */
static sr_code parse_settings(xmlNodePtr resp, xmlNodePtr acct, const char *what,
                              mapi_ad_result **out, sr_err *err)
{
    mapi_ad_result *r = calloc(1, sizeof *r);
    if (!r)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    xmlNodePtr user = mapi_xml_child(resp, NULL, "User");
    r->display_name = mapi_xml_child_text(user, NULL, "DisplayName");
    r->legacy_dn = mapi_xml_child_text(user, NULL, "LegacyDN");
    r->deployment_id = mapi_xml_child_text(user, NULL, "DeploymentId");
    r->smtp = mapi_xml_child_text(user, NULL, "AutoDiscoverSMTPAddress");
    take_protocols(acct, r);
    if (!r->ews_url) {
        mapi_ad_result_free(r);
        return sr_err_set(err, SR_E_PROTOCOL, "%s: settings without an EWS URL (EwsUrl)", what);
    }
    *out = r;
    return SR_OK;
}

sr_code mapi_ad_parse_pox(const char *xml, size_t len, const char *what, mapi_ad_result **out,
                          char **redirect_addr, char **redirect_url, sr_err *err)
{
    *out = NULL;
    *redirect_addr = *redirect_url = NULL;
    xmlDocPtr doc = mapi_xml_parse(xml, len, what, err);
    if (!doc)
        return SR_E_PARSE;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr resp = mapi_xml_child(root, NULL, "Response");
    sr_code rc = SR_OK;
    if (strcmp((const char *)root->name, "Autodiscover") != 0 || !resp) {
        rc = sr_err_set(err, SR_E_PROTOCOL, "%s: not an Autodiscover response", what);
    } else if (mapi_xml_child(resp, NULL, "Error")) {
        rc = pox_error(resp, what, err);
    } else {
        xmlNodePtr acct = mapi_xml_child(resp, NULL, "Account");
        char *action = mapi_xml_child_text(acct, NULL, "Action");
        if (action && strcmp(action, "redirectAddr") == 0) {
            if (!(*redirect_addr = mapi_xml_child_text(acct, NULL, "RedirectAddr")) || !**redirect_addr)
                rc = sr_err_set(err, SR_E_PROTOCOL, "%s: redirectAddr without an address", what);
        } else if (action && strcmp(action, "redirectUrl") == 0) {
            if (!(*redirect_url = mapi_xml_child_text(acct, NULL, "RedirectUrl")) || !**redirect_url)
                rc = sr_err_set(err, SR_E_PROTOCOL, "%s: redirectUrl without a URL", what);
        } else if (action && strcmp(action, "settings") == 0) {
            rc = parse_settings(resp, acct, what, out, err);
        } else {
            rc = sr_err_set(err, SR_E_PROTOCOL, "%s: unknown Autodiscover Action '%s'", what,
                            action ? action : "(none)");
        }
        free(action);
    }
    if (rc != SR_OK) {
        free(*redirect_addr);
        free(*redirect_url);
        *redirect_addr = *redirect_url = NULL;
    }
    xmlFreeDoc(doc);
    return rc;
}
