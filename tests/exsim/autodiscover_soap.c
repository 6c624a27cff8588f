/* autodiscover_soap.c — SOAP Autodiscover (MS-OXWSADISC) GetUserSettings at
 * /autodiscover/autodiscover.svc, answered the way Microsoft's documented
 * examples show (../shared/protocol/autodiscover/soap-getusersettings-*):
 * wsa:Action and ServerVersionInfo in the header, one UserResponse per
 * requested user in order — NoError with StringSettings, InvalidUser for an
 * unknown address, RedirectAddress for a mailbox migrated away — and
 * InvalidSetting errors for settings we do not know. */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define NS_AD "http://schemas.microsoft.com/exchange/2010/Autodiscover"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define MAX_USERS 100

static int is_el(xmlNodePtr n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && !strcmp((const char *)n->ns->href, ns) &&
           !strcmp((const char *)n->name, name);
}

static xmlNodePtr child(xmlNodePtr n, const char *ns, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (is_el(c, ns, name))
            return c;
    return NULL;
}

int exsim_autodiscover_is_soap(const char *body, size_t len)
{
    xmlDocPtr doc = xmlReadMemory(body, (int)len, "autodiscover.svc", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int soap = doc && is_el(xmlDocGetRootElement(doc), NS_SOAP, "Envelope");
    xmlFreeDoc(doc);
    return soap;
}

static char *finish(xmlDocPtr doc, size_t *len)
{
    xmlChar *x = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &x, &n, "UTF-8");
    xmlFreeDoc(doc);
    char *out = x ? malloc((size_t)n + 1) : NULL;
    if (out) {
        memcpy(out, x, (size_t)n);
        out[n] = '\0';
    }
    xmlFree(x);
    *len = out ? (size_t)n : 0;
    return out;
}

/* The response envelope up to Response (ErrorCode/ErrorMessage filled). */
static xmlNodePtr new_response(xmlDocPtr *doc, const char *code, const char *message)
{
    *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr env = xmlNewDocNode(*doc, NULL, BAD_CAST "Envelope", NULL);
    xmlDocSetRootElement(*doc, env);
    xmlNsPtr s = xmlNewNs(env, BAD_CAST NS_SOAP, BAD_CAST "s");
    xmlNsPtr a = xmlNewNs(env, BAD_CAST NS_WSA, BAD_CAST "a");
    xmlSetNs(env, s);
    xmlNodePtr hdr = xmlNewChild(env, s, BAD_CAST "Header", NULL);
    xmlNodePtr act = xmlNewTextChild(hdr, a, BAD_CAST "Action",
                                     BAD_CAST "http://schemas.microsoft.com/exchange/2010/"
                                              "Autodiscover/Autodiscover/GetUserSettingsResponse");
    xmlNewNsProp(act, s, BAD_CAST "mustUnderstand", BAD_CAST "1");
    xmlNodePtr svi = xmlNewChild(hdr, NULL, BAD_CAST "ServerVersionInfo", NULL);
    xmlNsPtr h = xmlNewNs(svi, BAD_CAST NS_AD, BAD_CAST "h");
    xmlSetNs(svi, h);
    static const char *const ver[][2] = {{"MajorVersion", "15"}, {"MinorVersion", "1"},
                                         {"MajorBuildNumber", "2507"}, {"MinorBuildNumber", "6"},
                                         {"Version", "Exchange2013"}};
    for (size_t i = 0; i < sizeof ver / sizeof ver[0]; i++)
        xmlNewTextChild(svi, h, BAD_CAST ver[i][0], BAD_CAST ver[i][1]);
    xmlNodePtr body = xmlNewChild(env, s, BAD_CAST "Body", NULL);
    xmlNodePtr msg = xmlNewChild(body, NULL, BAD_CAST "GetUserSettingsResponseMessage", NULL);
    xmlNsPtr d = xmlNewNs(msg, BAD_CAST NS_AD, NULL);
    xmlSetNs(msg, d);
    xmlNodePtr resp = xmlNewChild(msg, d, BAD_CAST "Response", NULL);
    xmlNewNs(resp, BAD_CAST NS_XSI, BAD_CAST "i");
    xmlNewTextChild(resp, d, BAD_CAST "ErrorCode", BAD_CAST code);
    xmlNewTextChild(resp, d, BAD_CAST "ErrorMessage", BAD_CAST(message ? message : ""));
    return resp;
}

static void setting(xmlNodePtr settings, const char *name, const char *value)
{
    xmlNodePtr s = xmlNewChild(settings, settings->ns, BAD_CAST "UserSetting", NULL);
    xmlNsPtr xsi = xmlSearchNsByHref(settings->doc, settings, BAD_CAST NS_XSI);
    xmlNewNsProp(s, xsi, BAD_CAST "type", BAD_CAST "StringSetting");
    xmlNewTextChild(s, s->ns, BAD_CAST "Name", BAD_CAST name);
    xmlNewTextChild(s, s->ns, BAD_CAST "Value", BAD_CAST value);
}

/* The value of one known setting for mb, or NULL (InvalidSetting). */
static const char *value_of(const exsim_mailbox_info *mb, const char *name, const char *ews,
                            const char *server)
{
    if (!strcmp(name, "UserDisplayName"))
        return mb->display_name ? mb->display_name : mb->smtp;
    if (!strcmp(name, "UserDN"))
        return mb->legacy_dn ? mb->legacy_dn : "";
    if (!strcmp(name, "UserDeploymentId"))
        return exsim_org_deployment_id(exsim_srv.org);
    if (!strcmp(name, "InternalEwsUrl") || !strcmp(name, "ExternalEwsUrl"))
        return ews;
    if (!strcmp(name, "InternalMailboxServer") || !strcmp(name, "ExternalMailboxServer"))
        return server;
    if (!strcmp(name, "CasVersion"))
        return "15.01.2507.006";
    return NULL;
}

static void user_response(xmlNodePtr list, const char *addr, xmlNodePtr requested)
{
    xmlNsPtr d = list->ns, xsi = xmlSearchNsByHref(list->doc, list, BAD_CAST NS_XSI);
    xmlNodePtr ur = xmlNewChild(list, d, BAD_CAST "UserResponse", NULL);
    const exsim_mailbox_info *mb = exsim_org_find_mailbox(exsim_srv.org, addr);
    int redirect = mb && mb->redirect_addr && !sr_streq_ci(mb->redirect_addr, addr);
    const char *code = !mb ? "InvalidUser" : redirect ? "RedirectAddress" : "NoError";
    char msg[512];
    snprintf(msg, sizeof msg, "%s", !mb ? "Invalid user: '" : redirect ? "Redirection address." : "No error.");
    if (!mb)
        snprintf(msg, sizeof msg, "Invalid user: '%s'", addr);
    xmlNewTextChild(ur, d, BAD_CAST "ErrorCode", BAD_CAST code);
    xmlNewTextChild(ur, d, BAD_CAST "ErrorMessage", BAD_CAST msg);
    xmlNodePtr rt = xmlNewTextChild(ur, d, BAD_CAST "RedirectTarget",
                                    redirect ? BAD_CAST mb->redirect_addr : NULL);
    if (!redirect)
        xmlNewNsProp(rt, xsi, BAD_CAST "nil", BAD_CAST "true");
    xmlNodePtr errs = xmlNewChild(ur, d, BAD_CAST "UserSettingErrors", NULL);
    xmlNodePtr settings = xmlNewChild(ur, d, BAD_CAST "UserSettings", NULL);
    if (!mb || redirect)
        return;
    char ews[256], server[256];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", exsim_srv.base_url);
    snprintf(server, sizeof server, "%s@%s", mb->mailbox_guid ? mb->mailbox_guid : "",
             exsim_org_domain(exsim_srv.org));
    for (xmlNodePtr s = child(requested, NS_AD, "Setting"); s; s = s->next) {
        if (!is_el(s, NS_AD, "Setting"))
            continue;
        xmlChar *name = xmlNodeGetContent(s);
        const char *v = name ? value_of(mb, (const char *)name, ews, server) : NULL;
        if (v) {
            setting(settings, (const char *)name, v);
        } else if (name) {
            xmlNodePtr e = xmlNewChild(errs, d, BAD_CAST "UserSettingError", NULL);
            xmlNewTextChild(e, d, BAD_CAST "ErrorCode", BAD_CAST "InvalidSetting");
            xmlNewTextChild(e, d, BAD_CAST "ErrorMessage",
                            BAD_CAST "The requested setting is invalid or is not supported.");
            xmlNewTextChild(e, d, BAD_CAST "SettingName", name);
        }
        xmlFree(name);
    }
}

int exsim_autodiscover_soap(const char *body, size_t len, char **out, size_t *outlen,
                            const char **mailbox)
{
    *mailbox = NULL;
    xmlDocPtr req = xmlReadMemory(body, (int)len, "autodiscover.svc", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNodePtr env = req ? xmlDocGetRootElement(req) : NULL;
    xmlNodePtr msg = child(child(env, NS_SOAP, "Body"), NS_AD, "GetUserSettingsRequestMessage");
    xmlNodePtr r = child(msg, NS_AD, "Request");
    xmlNodePtr users = child(r, NS_AD, "Users"), requested = child(r, NS_AD, "RequestedSettings");
    size_t n = 0;
    for (xmlNodePtr u = users ? users->children : NULL; u; u = u->next)
        n += is_el(u, NS_AD, "User");
    xmlDocPtr doc;
    xmlNodePtr resp;
    if (!users || !requested || n == 0) {
        resp = new_response(&doc, "InvalidRequest", "The request is invalid.");
    } else if (n > MAX_USERS) {
        resp = new_response(&doc, "InvalidRequest", "The request exceeds the maximum number of "
                                                    "users (100).");
    } else {
        resp = new_response(&doc, "NoError", NULL);
        xmlNodePtr list = xmlNewChild(resp, resp->ns, BAD_CAST "UserResponses", NULL);
        pthread_mutex_lock(&exsim_srv.store_lock);
        for (xmlNodePtr u = users->children; u; u = u->next) {
            if (!is_el(u, NS_AD, "User"))
                continue;
            xmlChar *addr = xmlNodeGetContent(child(u, NS_AD, "Mailbox"));
            user_response(list, addr ? (const char *)addr : "", requested);
            if (!*mailbox && addr) {
                const exsim_mailbox_info *mb = exsim_org_find_mailbox(exsim_srv.org, (const char *)addr);
                *mailbox = mb ? mb->smtp : NULL;
            }
            xmlFree(addr);
        }
        pthread_mutex_unlock(&exsim_srv.store_lock);
    }
    xmlFreeDoc(req);
    *out = finish(doc, outlen);
    return 200;
}
