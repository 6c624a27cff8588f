/* autodiscover_soap.c — SOAP Autodiscover GetUserSettings (MS-OXWSADISC,
 * and Microsoft's "Get user settings from Exchange by using Autodiscover"):
 * one request names up to 100 users and asks for their UserDN, display
 * name, EWS URLs and mailbox server; answers come back in request order. */
#include "mapi/ews_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define ACTION "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings"

static const char *const g_settings[] = {"UserDisplayName", "UserDN", "InternalEwsUrl",
                                         "ExternalEwsUrl", "InternalMailboxServer",
                                         "ExternalMailboxServer", NULL};

void mapi_ad_user_clear(mapi_ad_user *u)
{
    if (!u)
        return;
    free(u->error);
    free(u->redirect);
    free(u->user_dn);
    free(u->display_name);
    free(u->ews_url);
    free(u->server);
    memset(u, 0, sizeof *u);
}

char *mapi_ad_soap_url(const char *ews_url)
{
    const char *p = ews_url ? strstr(ews_url, "://") : NULL;
    if (!p || (strncmp(ews_url, "https://", 8) != 0 && strncmp(ews_url, "http://", 7) != 0))
        return NULL;
    size_t auth = strcspn(p + 3, "/?#");
    if (!auth)
        return NULL;
    return sr_asprintf("%.*s/autodiscover/autodiscover.svc", (int)(p + 3 + auth - ews_url), ews_url);
}

xmlDocPtr mapi_ad_req_getusersettings(const char *url, const char *const *addrs, size_t n,
                                      sr_err *err)
{
    if (n == 0 || n > MAPI_AD_SOAP_MAX_USERS) {
        sr_err_set(err, SR_E_INVALID, "GetUserSettings: %zu users (1 to %d per request)", n,
                   MAPI_AD_SOAP_MAX_USERS);
        return NULL;
    }
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr env = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL) : NULL;
    if (!env)
        goto oom;
    xmlDocSetRootElement(doc, env);
    xmlNsPtr soap = xmlNewNs(env, BAD_CAST MAPI_NS_SOAP, BAD_CAST "soap");
    xmlNsPtr a = xmlNewNs(env, BAD_CAST MAPI_NS_AD_SOAP, BAD_CAST "a");
    xmlNsPtr wsa = xmlNewNs(env, BAD_CAST NS_WSA, BAD_CAST "wsa");
    xmlSetNs(env, soap);
    xmlNodePtr hdr = xmlNewChild(env, soap, BAD_CAST "Header", NULL);
    if (!hdr || !mapi_xml_add(hdr, a, "RequestedServerVersion", "Exchange2013") ||
        !mapi_xml_add(hdr, wsa, "Action", ACTION) || !mapi_xml_add(hdr, wsa, "To", url ? url : ""))
        goto oom;
    xmlNodePtr body = xmlNewChild(env, soap, BAD_CAST "Body", NULL);
    xmlNodePtr msg = body ? xmlNewChild(body, a, BAD_CAST "GetUserSettingsRequestMessage", NULL) : NULL;
    xmlNodePtr req = msg ? xmlNewChild(msg, a, BAD_CAST "Request", NULL) : NULL;
    xmlNodePtr users = req ? xmlNewChild(req, a, BAD_CAST "Users", NULL) : NULL;
    for (size_t i = 0; users && i < n; i++) {
        xmlNodePtr u = xmlNewChild(users, a, BAD_CAST "User", NULL);
        if (!u || !mapi_xml_add(u, a, "Mailbox", addrs[i]))
            goto oom;
    }
    xmlNodePtr rs = users ? xmlNewChild(req, a, BAD_CAST "RequestedSettings", NULL) : NULL;
    for (size_t i = 0; rs && g_settings[i]; i++)
        if (!mapi_xml_add(rs, a, "Setting", g_settings[i]))
            goto oom;
    if (rs)
        return doc;
oom:
    xmlFreeDoc(doc);
    sr_err_set(err, SR_E_NOMEM, "out of memory building a GetUserSettings request");
    return NULL;
}

static char *child(xmlNodePtr n, const char *name)
{
    return mapi_xml_child_text(n, MAPI_NS_AD_SOAP, name);
}

static void take_setting(mapi_ad_user *u, const char *name, char *value)
{
    char **slot = NULL;
    if (!strcmp(name, "UserDN"))
        slot = &u->user_dn;
    else if (!strcmp(name, "UserDisplayName"))
        slot = &u->display_name;
    else if (!strcmp(name, "InternalEwsUrl") || (!strcmp(name, "ExternalEwsUrl") && !u->ews_url))
        slot = &u->ews_url;
    else if (!strcmp(name, "InternalMailboxServer") ||
             (!strcmp(name, "ExternalMailboxServer") && !u->server))
        slot = &u->server;
    if (slot && value && *value) {
        free(*slot);
        *slot = value;
    } else {
        free(value);
    }
}

static void take_user(xmlNodePtr ur, mapi_ad_user *u)
{
    char *code = child(ur, "ErrorCode");
    if (!code || !strcmp(code, "NoError")) {
        u->code = SR_OK;
    } else {
        char *msg = child(ur, "ErrorMessage");
        u->error = sr_asprintf("%s%s%s", code, msg && *msg ? ": " : "", msg ? msg : "");
        free(msg);
        if (!strcmp(code, "RedirectAddress") || !strcmp(code, "InvalidUser")) {
            u->code = SR_E_NOTFOUND;
            if (code[0] == 'R')
                u->redirect = child(ur, "RedirectTarget");
        } else {
            u->code = SR_E_SERVER;
        }
    }
    free(code);
    xmlNodePtr ss = mapi_xml_child(ur, MAPI_NS_AD_SOAP, "UserSettings");
    for (xmlNodePtr s = mapi_xml_child(ss, MAPI_NS_AD_SOAP, "UserSetting"); s;
         s = mapi_xml_next(s, MAPI_NS_AD_SOAP, "UserSetting")) {
        char *name = child(s, "Name");
        if (name)
            take_setting(u, name, child(s, "Value"));
        free(name);
    }
}

sr_code mapi_ad_parse_getusersettings(xmlNodePtr resp_op, mapi_ad_user *out, size_t n,
                                      sr_err *err)
{
    xmlNodePtr resp = mapi_xml_child(resp_op, MAPI_NS_AD_SOAP, "Response");
    if (!resp)
        return sr_err_set(err, SR_E_PROTOCOL, "GetUserSettings answer without Response");
    char *code = child(resp, "ErrorCode");
    if (code && strcmp(code, "NoError") != 0) {
        char *msg = child(resp, "ErrorMessage");
        sr_code rc = sr_err_set(err, SR_E_SERVER, "GetUserSettings: %s%s%s", code,
                                msg && *msg ? ": " : "", msg ? msg : "");
        free(msg);
        free(code);
        return rc;
    }
    free(code);
    xmlNodePtr urs = mapi_xml_child(resp, MAPI_NS_AD_SOAP, "UserResponses");
    size_t i = 0;
    for (xmlNodePtr ur = mapi_xml_child(urs, MAPI_NS_AD_SOAP, "UserResponse"); ur && i < n;
         ur = mapi_xml_next(ur, MAPI_NS_AD_SOAP, "UserResponse"))
        take_user(ur, &out[i++]);
    if (i != n)
        return sr_err_set(err, SR_E_PROTOCOL, "GetUserSettings: %zu answers for %zu users", i, n);
    return SR_OK;
}
