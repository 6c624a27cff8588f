/* ews_xml.c — safe XML parsing, small tree helpers, the SOAP fault reader
 * and the one sorted table of EWS ResponseCodes (evolution-ews's
 * ews-errors.c idea).  No request or response semantics here. */
#include "mapi/ews_int.h"

#include <libxml/parser.h>
#include <stdlib.h>
#include <string.h>

xmlDocPtr mapi_xml_parse(const char *buf, size_t len, const char *what, sr_err *err)
{
    if (!buf || len == 0) {
        sr_err_set(err, SR_E_PARSE, "%s: empty XML document", what);
        return NULL;
    }
    if (len > 0x7fffffff) {
        sr_err_set(err, SR_E_LIMIT, "%s: XML document too large", what);
        return NULL;
    }
    /* NONET: never fetch anything; no NOENT/DTDLOAD: entities stay
     * unexpanded and no external subset is read. */
    xmlDocPtr doc = xmlReadMemory(buf, (int)len, NULL, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *xe = xmlGetLastError();
        sr_err_set(err, SR_E_PARSE, "%s: malformed XML%s%s (line %d)", what,
                   xe && xe->message ? ": " : "", xe && xe->message ? xe->message : "",
                   xe ? xe->line : 0);
        if (err) {  /* libxml's messages end in a newline */
            char *nl = strchr(err->msg, '\n');
            if (nl)
                memmove(nl, nl + 1, strlen(nl + 1) + 1);
        }
        return NULL;
    }
    if (doc->intSubset || !xmlDocGetRootElement(doc)) {
        sr_err_set(err, SR_E_PARSE, "%s: %s", what,
                   doc->intSubset ? "a DTD is not allowed in a response" : "no root element");
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

static int node_is(xmlNodePtr n, const char *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE)
        return 0;
    if (name && strcmp((const char *)n->name, name) != 0)
        return 0;
    if (ns && (!n->ns || !n->ns->href || strcmp((const char *)n->ns->href, ns) != 0))
        return 0;
    return 1;
}

xmlNodePtr mapi_xml_child(xmlNodePtr n, const char *ns, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (node_is(c, ns, name))
            return c;
    return NULL;
}

xmlNodePtr mapi_xml_next(xmlNodePtr n, const char *ns, const char *name)
{
    for (xmlNodePtr c = n ? n->next : NULL; c; c = c->next)
        if (node_is(c, ns, name))
            return c;
    return NULL;
}

char *mapi_xml_child_text(xmlNodePtr n, const char *ns, const char *name)
{
    xmlNodePtr c = mapi_xml_child(n, ns, name);
    if (!c)
        return NULL;
    xmlChar *t = xmlNodeGetContent(c);
    char *s = sr_strdup(t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

char *mapi_xml_attr(xmlNodePtr n, const char *name)
{
    xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
    if (!v)
        return NULL;
    char *s = sr_strdup((const char *)v);
    xmlFree(v);
    return s;
}

xmlChar *mapi_xml_dump(xmlDocPtr doc, int *len)
{
    xmlChar *out = NULL;
    xmlDocDumpMemoryEnc(doc, &out, len, "UTF-8");
    return out;
}

xmlNodePtr mapi_xml_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text)
{
    /* xmlNewTextChild escapes text; values are never pasted into markup. */
    return xmlNewTextChild(parent, ns, (const xmlChar *)name, (const xmlChar *)text);
}

/* ---- ResponseCode table: sorted by name (strcmp order) for bsearch ------ */
static const mapi_ews_code_entry ews_codes[] = {
    { "ErrorAccessDenied", SR_E_ACCESS, SR_CLASS_FINAL },
    { "ErrorConnectionFailed", SR_E_CONNECT, SR_CLASS_RETRY },
    { "ErrorCorruptData", SR_E_PARSE, SR_CLASS_FINAL },
    { "ErrorExceededConnectionCount", SR_E_BUSY, SR_CLASS_WAIT },
    { "ErrorExceededFindCountLimit", SR_E_LIMIT, SR_CLASS_FINAL },
    { "ErrorExceededSubscriptionCount", SR_E_BUSY, SR_CLASS_WAIT },
    { "ErrorFolderNotFound", SR_E_NOTFOUND, SR_CLASS_FINAL },
    { "ErrorImpersonateUserDenied", SR_E_ACCESS, SR_CLASS_FINAL },
    { "ErrorImpersonationDenied", SR_E_ACCESS, SR_CLASS_FINAL },
    { "ErrorImpersonationFailed", SR_E_ACCESS, SR_CLASS_FINAL },
    { "ErrorIncorrectSchemaVersion", SR_E_PROTOCOL, SR_CLASS_FINAL },
    { "ErrorInternalServerError", SR_E_SERVER, SR_CLASS_FINAL },
    { "ErrorInternalServerTransientError", SR_E_SERVER, SR_CLASS_RETRY },
    { "ErrorInvalidChangeKey", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorInvalidExtendedProperty", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorInvalidExtendedPropertyValue", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorInvalidIdMalformed", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorInvalidOperation", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorInvalidPropertyRequest", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorInvalidRequest", SR_E_PROTOCOL, SR_CLASS_FINAL },
    { "ErrorInvalidSchemaVersionForMailboxVersion", SR_E_PROTOCOL, SR_CLASS_FINAL },
    { "ErrorInvalidServerVersion", SR_E_PROTOCOL, SR_CLASS_FINAL },
    { "ErrorInvalidSmtpAddress", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorItemNotFound", SR_E_NOTFOUND, SR_CLASS_FINAL },
    { "ErrorItemSave", SR_E_SERVER, SR_CLASS_FINAL },
    { "ErrorMailboxMoveInProgress", SR_E_BUSY, SR_CLASS_WAIT },
    { "ErrorMailboxStoreUnavailable", SR_E_SERVER, SR_CLASS_RETRY },
    { "ErrorMissingEmailAddress", SR_E_INVALID, SR_CLASS_FINAL },
    { "ErrorNameResolutionNoResults", SR_E_NOTFOUND, SR_CLASS_FINAL },
    { "ErrorNoRespondingCASInDestinationSite", SR_E_SERVER, SR_CLASS_RETRY },
    { "ErrorNonExistentMailbox", SR_E_NOTFOUND, SR_CLASS_FINAL },
    { "ErrorQuotaExceeded", SR_E_LIMIT, SR_CLASS_FINAL },
    { "ErrorSchemaValidation", SR_E_PROTOCOL, SR_CLASS_FINAL },
    { "ErrorServerBusy", SR_E_BUSY, SR_CLASS_WAIT },
    { "ErrorTimeoutExpired", SR_E_TIMEOUT, SR_CLASS_RETRY },
    { "ErrorTooManyObjectsOpened", SR_E_BUSY, SR_CLASS_WAIT },
    { "NoError", SR_OK, SR_CLASS_NONE },
};

static int code_cmp(const void *key, const void *elem)
{
    return strcmp((const char *)key, ((const mapi_ews_code_entry *)elem)->name);
}

const mapi_ews_code_entry *mapi_ews_code_lookup(const char *response_code)
{
    if (!response_code)
        return NULL;
    return bsearch(response_code, ews_codes, sizeof ews_codes / sizeof ews_codes[0],
                   sizeof ews_codes[0], code_cmp);
}

sr_code mapi_ews_code(const char *response_code, sr_class *cls)
{
    const mapi_ews_code_entry *e = mapi_ews_code_lookup(response_code);
    if (cls)
        *cls = e ? e->cls : SR_CLASS_FINAL;
    return e ? e->code : SR_E_SERVER;
}

/* bsearch needs the table sorted: mapi_net_new refuses to start otherwise,
 * and the unit test checks it too. */
int mapi_ews_code_table_sorted(void)
{
    for (size_t i = 1; i < sizeof ews_codes / sizeof ews_codes[0]; i++)
        if (strcmp(ews_codes[i - 1].name, ews_codes[i].name) >= 0)
            return 0;
    return 1;
}

/* BackOffMilliseconds lives in MessageXml as
 * <t:Value Name="BackOffMilliseconds">N</t:Value> (ews-throttling-in-exchange). */
static unsigned backoff_in(xmlNodePtr msgxml)
{
    for (xmlNodePtr v = mapi_xml_child(msgxml, NULL, "Value"); v;
         v = mapi_xml_next(v, NULL, "Value")) {
        char *name = mapi_xml_attr(v, "Name");
        int hit = name && strcmp(name, "BackOffMilliseconds") == 0;
        free(name);
        if (!hit)
            continue;
        xmlChar *t = xmlNodeGetContent(v);
        char *end = NULL;
        unsigned long ms = t ? strtoul((const char *)t, &end, 10) : 0;
        int ok = t && end != (char *)t;
        xmlFree(t);
        return ok && ms < 3600000ul ? (unsigned)ms : 0;
    }
    return 0;
}

unsigned mapi_ews_backoff(xmlNodePtr response_message)
{
    return backoff_in(mapi_xml_child(response_message, NULL, "MessageXml"));
}

int mapi_ews_fault(xmlDocPtr doc, char **code, char **text, unsigned *backoff_ms)
{
    *code = *text = NULL;
    *backoff_ms = 0;
    xmlNodePtr env = xmlDocGetRootElement(doc);
    xmlNodePtr body = mapi_xml_child(env, MAPI_NS_SOAP, "Body");
    xmlNodePtr fault = mapi_xml_child(body, MAPI_NS_SOAP, "Fault");
    if (!fault)
        return 0;
    *text = mapi_xml_child_text(fault, NULL, "faultstring");
    xmlNodePtr detail = mapi_xml_child(fault, NULL, "detail");
    *code = mapi_xml_child_text(detail, NULL, "ResponseCode");
    if (!*code)
        *code = mapi_xml_child_text(fault, NULL, "faultcode");
    *backoff_ms = backoff_in(mapi_xml_child(detail, NULL, "MessageXml"));
    return 1;
}
