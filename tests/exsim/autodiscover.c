/* autodiscover.c — POX Autodiscover (Outlook schema 2006 / 2006a): checks the
 * request's shape, then answers settings (User + Account with EXCH, EXPR,
 * EXHTTP on X-ClientCanHandle: ExHttpInfo, WEB, mapiHttp on
 * X-MapiHttpCapability; URLs point at this instance), redirectAddr (migrated
 * mailbox), redirectUrl (--redirect-url), or the documented error responses
 * (500 unknown address, 600 invalid request). */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_REQ "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"
#define NS_RESP "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
#define NS_2006A "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
#define ADMIN_GROUP "Exchange Administrative Group (FYDIBOHF23SPDLT)"

static int is_req_el(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && !strcmp((const char *)n->ns->href, NS_REQ) &&
           !strcmp((const char *)n->name, name);
}

static char *finish(xmlDocPtr doc, size_t *len)
{
    xmlChar *buf = NULL;
    int n = 0;
    xmlDocDumpFormatMemoryEnc(doc, &buf, &n, "utf-8", 1);
    char *out = malloc((size_t)n + 1);
    if (out && buf) {
        memcpy(out, buf, (size_t)n);
        out[n] = '\0';
    }
    xmlFree(buf);
    xmlFreeDoc(doc);
    *len = out ? (size_t)n : 0;
    return out;
}

/* <Autodiscover xmlns=responseschema/2006><Response xmlns=rns> */
static xmlNodePtr new_doc(xmlDocPtr *doc, const char *rns)
{
    *doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewDocNode(*doc, NULL, BAD_CAST "Autodiscover", NULL);
    xmlDocSetRootElement(*doc, root);
    xmlSetNs(root, xmlNewNs(root, BAD_CAST NS_RESP, NULL));
    xmlNodePtr resp = xmlNewChild(root, NULL, BAD_CAST "Response", NULL);
    xmlSetNs(resp, xmlNewNs(resp, BAD_CAST rns, NULL));
    return resp;
}

static char *error_response(const char *code, const char *message, size_t *len)
{
    xmlDocPtr doc;
    xmlNodePtr resp = new_doc(&doc, NS_RESP);
    xmlNodePtr err = xmlNewChild(resp, resp->ns, BAD_CAST "Error", NULL);
    char tbuf[32], id[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(tbuf, sizeof tbuf, "%H:%M:%S.0000000", &tm);
    snprintf(id, sizeof id, "%u", (unsigned)(now * 2654435761u));
    xmlNewProp(err, BAD_CAST "Time", BAD_CAST tbuf);
    xmlNewProp(err, BAD_CAST "Id", BAD_CAST id);
    xmlNewTextChild(err, resp->ns, BAD_CAST "ErrorCode", BAD_CAST code);
    xmlNewTextChild(err, resp->ns, BAD_CAST "Message", BAD_CAST message);
    xmlNewChild(err, resp->ns, BAD_CAST "DebugData", NULL);
    return finish(doc, len);
}

static char *redirect_response(const char *action, const char *elem, const char *value, size_t *len)
{
    xmlDocPtr doc;
    xmlNodePtr resp = new_doc(&doc, NS_2006A);
    xmlNodePtr acc = xmlNewChild(resp, resp->ns, BAD_CAST "Account", NULL);
    xmlNewTextChild(acc, resp->ns, BAD_CAST "Action", BAD_CAST action);
    xmlNewTextChild(acc, resp->ns, BAD_CAST elem, BAD_CAST value);
    return finish(doc, len);
}

static void text(xmlNodePtr parent, const char *name, const char *value)
{
    xmlNewTextChild(parent, parent->ns, BAD_CAST name, BAD_CAST value);
}

/* The org part of a legacyExchangeDN ("/o=Org"), for ServerDN/MdbDN. */
static void org_prefix(const char *legacy_dn, char *out, size_t outlen)
{
    const char *slash = legacy_dn && !strncasecmp(legacy_dn, "/o=", 3) ? strchr(legacy_dn + 1, '/') : NULL;
    if (slash)
        snprintf(out, outlen, "%.*s", (int)(slash - legacy_dn), legacy_dn);
    else
        snprintf(out, outlen, "/o=First Organization");
}

static void add_exch(xmlNodePtr acc, const exsim_mailbox_info *mb, const char *server, const char *ews)
{
    char org[256], sdn[1024], mdb[1100];
    org_prefix(mb->legacy_dn, org, sizeof org);
    snprintf(sdn, sizeof sdn, "%s/ou=%s/cn=Configuration/cn=Servers/cn=%s", org, ADMIN_GROUP, server);
    snprintf(mdb, sizeof mdb, "%s/cn=Microsoft Private MDB", sdn);
    xmlNodePtr p = xmlNewChild(acc, acc->ns, BAD_CAST "Protocol", NULL);
    text(p, "Type", "EXCH");
    text(p, "Server", server);
    text(p, "ServerDN", sdn);
    text(p, "ServerVersion", "73C189CB");   /* 15.1.2507, packed as MS-OXDSCLI says */
    text(p, "MdbDN", mdb);
    text(p, "ASUrl", ews);
    text(p, "EwsUrl", ews);
    text(p, "EmwsUrl", ews);
    text(p, "OOFUrl", ews);
    text(p, "ServerExclusiveConnect", "off");
}

static void add_expr(xmlNodePtr acc, const char *type, const char *ews)
{
    xmlNodePtr p = xmlNewChild(acc, acc->ns, BAD_CAST "Protocol", NULL);
    text(p, "Type", type);
    text(p, "Server", "127.0.0.1");
    text(p, "SSL", exsim_srv.tls ? "On" : "Off");
    text(p, "AuthPackage", "Basic");
    text(p, "ASUrl", ews);
    text(p, "EwsUrl", ews);
    text(p, "EmwsUrl", ews);
    text(p, "OOFUrl", ews);
    text(p, "ServerExclusiveConnect", "on");
    text(p, "CertPrincipalName", "None");
}

/* With X-MapiHttpCapability the answer also names the MAPI/HTTP endpoints. */
static void add_mapihttp(xmlNodePtr acc, const char *server)
{
    xmlNodePtr p = xmlNewChild(acc, acc->ns, BAD_CAST "Protocol", NULL);
    xmlNewProp(p, BAD_CAST "Type", BAD_CAST "mapiHttp");
    xmlNewProp(p, BAD_CAST "Version", BAD_CAST "1");
    static const char *const parts[][2] = { { "MailStore", "emsmdb" }, { "AddressBook", "nspi" } };
    char url[512];
    for (int i = 0; i < 2; i++) {
        xmlNodePtr e = xmlNewChild(p, p->ns, BAD_CAST parts[i][0], NULL);
        snprintf(url, sizeof url, "%s/mapi/%s/?MailboxId=%s", exsim_srv.base_url, parts[i][1], server);
        text(e, "InternalUrl", url);
        text(e, "ExternalUrl", url);
    }
}

static char *settings_response(const exsim_mailbox_info *mb, int exhttp, int mapihttp, size_t *len)
{
    char ews[256], server[256], owa[256];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", exsim_srv.base_url);
    snprintf(owa, sizeof owa, "%s/owa/", exsim_srv.base_url);
    snprintf(server, sizeof server, "%s@%s", mb->mailbox_guid ? mb->mailbox_guid : "",
             exsim_org_domain(exsim_srv.org));
    xmlDocPtr doc;
    xmlNodePtr resp = new_doc(&doc, NS_2006A);
    xmlNodePtr user = xmlNewChild(resp, resp->ns, BAD_CAST "User", NULL);
    text(user, "DisplayName", mb->display_name ? mb->display_name : mb->smtp);
    text(user, "LegacyDN", mb->legacy_dn ? mb->legacy_dn : "");
    text(user, "AutoDiscoverSMTPAddress", mb->smtp);
    text(user, "DeploymentId", exsim_org_deployment_id(exsim_srv.org));
    xmlNodePtr acc = xmlNewChild(resp, resp->ns, BAD_CAST "Account", NULL);
    text(acc, "AccountType", "email");
    text(acc, "Action", "settings");
    text(acc, "MicrosoftOnline", "False");
    add_exch(acc, mb, server, ews);
    add_expr(acc, "EXPR", ews);
    if (exhttp)
        add_expr(acc, "EXHTTP", ews);
    if (mapihttp)
        add_mapihttp(acc, server);
    xmlNodePtr web = xmlNewChild(acc, acc->ns, BAD_CAST "Protocol", NULL);
    text(web, "Type", "WEB");
    xmlNodePtr in = xmlNewChild(web, web->ns, BAD_CAST "Internal", NULL);
    xmlNodePtr o = xmlNewTextChild(in, in->ns, BAD_CAST "OWAUrl", BAD_CAST owa);
    xmlNewProp(o, BAD_CAST "AuthenticationMethod", BAD_CAST "Basic, Fba");
    xmlNodePtr ip = xmlNewChild(in, in->ns, BAD_CAST "Protocol", NULL);
    text(ip, "Type", "EXCH");
    text(ip, "ASUrl", ews);
    return finish(doc, len);
}

/* Request shape: Autodiscover/Request/(EMailAddress|LegacyDN) and
 * AcceptableResponseSchema = 2006a.  Returns the address (xmlFree) or NULL. */
static xmlChar *request_address(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);
    if (!is_req_el(root, "Autodiscover"))
        return NULL;
    xmlNodePtr req = NULL;
    for (xmlNodePtr c = root->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            if (req || !is_req_el(c, "Request"))
                return NULL;
            req = c;
        }
    if (!req)
        return NULL;
    xmlChar *addr = NULL, *schema = NULL;
    int bad = 0;
    for (xmlNodePtr c = req->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if ((is_req_el(c, "EMailAddress") || is_req_el(c, "LegacyDN")) && !addr)
            addr = xmlNodeGetContent(c);
        else if (is_req_el(c, "AcceptableResponseSchema") && !schema)
            schema = xmlNodeGetContent(c);
        else
            bad = 1;
    }
    if (!schema || strcmp((char *)schema, NS_2006A) || !addr || !*addr)
        bad = 1;
    xmlFree(schema);
    if (bad) {
        xmlFree(addr);
        return NULL;
    }
    return addr;
}

static const char *redirect_for(const char *addr)
{
    const char *at = strrchr(addr, '@');
    for (int i = 0; at && i < exsim_srv.n_redirects; i++)
        if (sr_streq_ci(at + 1, exsim_srv.redirect_dom[i]))
            return exsim_srv.redirect_url[i];
    return NULL;
}

int exsim_autodiscover_post(const char *body, size_t len, const char *client_can_handle,
                            const char *mapi_http, char **out, size_t *outlen, const char **mailbox)
{
    *mailbox = NULL;
    if (exsim_autodiscover_is_soap(body, len))
        return exsim_autodiscover_soap(body, len, out, outlen, mailbox);
    xmlDocPtr doc = xmlReadMemory(body, (int)len, "autodiscover.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlChar *addr = doc && !doc->intSubset ? request_address(doc) : NULL;
    xmlFreeDoc(doc);
    if (!addr) {
        *out = error_response("600", "Invalid Request", outlen);
        return 200;
    }
    const char *url = redirect_for((const char *)addr);
    if (url) {
        *out = redirect_response("redirectUrl", "RedirectUrl", url, outlen);
        xmlFree(addr);
        return 200;
    }
    pthread_mutex_lock(&exsim_srv.store_lock);
    const exsim_mailbox_info *mb = exsim_org_find_mailbox(exsim_srv.org, (const char *)addr);
    if (!mb)
        *out = error_response("500", "The e-mail address cannot be found.", outlen);
    else if (mb->redirect_addr && !sr_streq_ci(mb->redirect_addr, (const char *)addr))
        *out = redirect_response("redirectAddr", "RedirectAddr", mb->redirect_addr, outlen);
    else
        *out = settings_response(mb, client_can_handle && strcasestr(client_can_handle, "ExHttpInfo"),
                                 mapi_http && atoi(mapi_http) >= 1, outlen);
    if (mb)
        *mailbox = mb->smtp;
    pthread_mutex_unlock(&exsim_srv.store_lock);
    xmlFree(addr);
    return 200;
}
