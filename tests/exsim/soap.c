/* soap.c — the SOAP 1.1 envelope of EWS: parse a request safely, check the
 * envelope, read and validate the headers, validate the operation element,
 * apply impersonation, hand the request to the store's dispatcher, and write
 * the response envelope (with t:ServerVersionInfo) or the fault Exchange
 * sends.  Also the response helpers declared in exsim.h. */
#include "tests/exsim/server.h"
#include "tests/exsim/store.h"
#include "util/util.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_ERRORS "http://schemas.microsoft.com/exchange/services/2006/errors"
#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define NS_XSD "http://www.w3.org/2001/XMLSchema"
#define BUSY_TEXT "The server cannot service this request right now. Try again later."

/* The versions types.xsd knows (ExchangeVersionType). */
static const char *const known_versions[] = {
    "Exchange2007", "Exchange2007_SP1", "Exchange2009", "Exchange2010", "Exchange2010_SP1",
    "Exchange2010_SP2", "Exchange2012", "Exchange2013", "Exchange2013_SP1", "Exchange2015",
    "Exchange2016", "V2015_10_05", "V2016_01_06", "V2016_04_13", "V2016_07_13", "V2016_10_10",
};

static int is_el(xmlNodePtr n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && !strcmp((const char *)n->ns->href, ns) &&
           (!name || !strcmp((const char *)n->name, name));
}

static xmlNodePtr first_el(xmlNodePtr n)
{
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            return n;
    return NULL;
}

static xmlNodePtr child_el(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (is_el(c, ns, name))
            return c;
    return NULL;
}

/* The first element named name (any namespace) at or below n, depth first. */
static xmlNodePtr find_el(xmlNodePtr n, const char *name)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (!strcmp((const char *)n->name, name))
            return n;
        xmlNodePtr hit = find_el(n->children, name);
        if (hit)
            return hit;
    }
    return NULL;
}

/* The value of a user configuration dictionary's entry whose key is key
 * (heap), or NULL. */
static char *dict_value(xmlNodePtr dict, const char *key)
{
    for (xmlNodePtr e = dict ? dict->children : NULL; e; e = e->next) {
        xmlNodePtr k = e->type == XML_ELEMENT_NODE ? find_el(e->children, "DictionaryKey") : NULL;
        xmlNodePtr kv = k ? find_el(k->children, "Value") : NULL;
        xmlChar *kt = kv ? xmlNodeGetContent(kv) : NULL;
        int hit = kt && !strcmp((const char *)kt, key);
        xmlFree(kt);
        xmlNodePtr v = hit ? find_el(e->children, "DictionaryValue") : NULL;
        xmlNodePtr vv = v ? find_el(v->children, "Value") : NULL;
        if (vv) {
            xmlChar *x = xmlNodeGetContent(vv);
            char *out = x ? strdup((const char *)x) : NULL;
            xmlFree(x);
            return out;
        }
    }
    return NULL;
}

/* The operation's name for the counters, and for the request log what it
 * worked on after a tab (stats.c): a user configuration's name and, when a
 * write carries one, its AutomateProcessing value (issue 16's order of
 * Booking's writes is checked from the log). */
static void op_detail(xmlNodePtr op, char *buf, size_t len)
{
    xmlNodePtr name = strstr((const char *)op->name, "UserConfiguration")
                          ? find_el(op->children, "UserConfigurationName") : NULL;
    xmlChar *cfg = name ? xmlGetProp(name, BAD_CAST "Name") : NULL;
    char *ap = cfg ? dict_value(find_el(op->children, "Dictionary"), "AutomateProcessing") : NULL;
    if (cfg)
        snprintf(buf, len, "%s\t%s%s%s", (const char *)op->name, (const char *)cfg,
                 ap ? " AutomateProcessing=" : "", ap ? ap : "");
    else
        snprintf(buf, len, "%s", (const char *)op->name);
    free(ap);
    xmlFree(cfg);
}

/* ---- response envelope -------------------------------------------------- */

/* <s:Envelope> with the ServerVersionInfo header of an Exchange 2016 CU. */
static xmlDocPtr new_response(xmlNodePtr *body_out)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr env = xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL);
    xmlDocSetRootElement(doc, env);
    xmlNsPtr s = xmlNewNs(env, BAD_CAST EXSIM_NS_SOAP, BAD_CAST "s");
    xmlSetNs(env, s);
    xmlNsPtr t = xmlNewNs(env, BAD_CAST EXSIM_NS_T, BAD_CAST "t");
    xmlNewNs(env, BAD_CAST EXSIM_NS_M, BAD_CAST "m");
    xmlNewNs(env, BAD_CAST NS_XSI, BAD_CAST "xsi");
    xmlNewNs(env, BAD_CAST NS_XSD, BAD_CAST "xsd");
    xmlNodePtr hdr = xmlNewChild(env, s, BAD_CAST "Header", NULL);
    xmlNodePtr svi = xmlNewChild(hdr, t, BAD_CAST "ServerVersionInfo", NULL);
    xmlNewProp(svi, BAD_CAST "MajorVersion", BAD_CAST "15");
    xmlNewProp(svi, BAD_CAST "MinorVersion", BAD_CAST "1");
    xmlNewProp(svi, BAD_CAST "MajorBuildNumber", BAD_CAST "2507");
    xmlNewProp(svi, BAD_CAST "MinorBuildNumber", BAD_CAST "6");
    xmlNewProp(svi, BAD_CAST "Version", BAD_CAST "V2017_07_11");
    *body_out = xmlNewChild(env, s, BAD_CAST "Body", NULL);
    return doc;
}

/* An element in no namespace (xmlNewChild would inherit the parent's). */
static xmlNodePtr unq_child(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = xmlNewDocNode(parent->doc, NULL, BAD_CAST name, NULL);
    if (text)
        xmlNodeAddContent(n, BAD_CAST text);
    return xmlAddChild(parent, n);
}

static void clear_children(xmlNodePtr n)
{
    while (n->children) {
        xmlNodePtr c = n->children;
        xmlUnlinkNode(c);
        xmlFreeNode(c);
    }
}

/* detail extras: a schema violation (line/col/violation) or a back-off hint. */
typedef struct fault_extra {
    int line, col;
    const char *violation;
    int backoff_ms;
} fault_extra;

/* Fill body with <s:Fault> the way Exchange writes it: faultcode in the
 * types namespace (prefix a) unless it is a SOAP code, detail with
 * e:ResponseCode / e:Message and optionally t:MessageXml. */
static void build_fault(xmlNodePtr body, const char *faultcode, const char *code,
                        const char *faultstring, const char *message, const fault_extra *x)
{
    clear_children(body);
    xmlNsPtr s = body->ns;
    xmlNodePtr f = xmlNewChild(body, s, BAD_CAST "Fault", NULL);
    char fc[160];
    xmlNodePtr fcn;
    if (faultcode && (!strncmp(faultcode, "s:", 2) || !strncmp(faultcode, "soap:", 5))) {
        snprintf(fc, sizeof fc, "s:%s", strchr(faultcode, ':') + 1);
        fcn = unq_child(f, "faultcode", fc);
    } else {
        const char *bare = faultcode ? (strchr(faultcode, ':') ? strchr(faultcode, ':') + 1 : faultcode) : code;
        snprintf(fc, sizeof fc, "a:%s", bare);
        fcn = unq_child(f, "faultcode", fc);
        xmlNewNs(fcn, BAD_CAST EXSIM_NS_T, BAD_CAST "a");
    }
    xmlNodePtr fs = unq_child(f, "faultstring", faultstring);
    xmlNodeSetLang(fs, BAD_CAST "en-US");
    xmlNodePtr d = unq_child(f, "detail", NULL);
    xmlNodePtr rc = unq_child(d, "ResponseCode", code);
    xmlSetNs(rc, xmlNewNs(rc, BAD_CAST NS_ERRORS, BAD_CAST "e"));
    xmlNodePtr m = unq_child(d, "Message", message);
    xmlSetNs(m, xmlNewNs(m, BAD_CAST NS_ERRORS, BAD_CAST "e"));
    if (!x)
        return;
    xmlNsPtr t = xmlSearchNsByHref(body->doc, body, BAD_CAST EXSIM_NS_T);
    xmlNodePtr mx = xmlNewChild(d, t, BAD_CAST "MessageXml", NULL);
    char num[32];
    if (x->violation) {
        snprintf(num, sizeof num, "%d", x->line);
        xmlNewTextChild(mx, t, BAD_CAST "LineNumber", BAD_CAST num);
        snprintf(num, sizeof num, "%d", x->col);
        xmlNewTextChild(mx, t, BAD_CAST "LinePosition", BAD_CAST num);
        xmlNewTextChild(mx, t, BAD_CAST "Violation", BAD_CAST x->violation);
    } else {
        snprintf(num, sizeof num, "%d", x->backoff_ms);
        xmlNodePtr v = xmlNewTextChild(mx, t, BAD_CAST "Value", BAD_CAST num);
        xmlNewProp(v, BAD_CAST "Name", BAD_CAST "BackOffMilliseconds");
    }
}

static char *serialize(xmlDocPtr doc, size_t *len)
{
    xmlChar *buf = NULL;
    int n = 0;
    xmlDocDumpMemoryEnc(doc, &buf, &n, "utf-8");
    char *out = malloc((size_t)n + 1);
    if (out && buf) {
        memcpy(out, buf, (size_t)n);
        out[n] = '\0';
    }
    xmlFree(buf);
    *len = out ? (size_t)n : 0;
    return out;
}

static char *fault_doc(const char *faultcode, const char *code, const char *faultstring,
                       const char *message, const fault_extra *x, size_t *len)
{
    xmlNodePtr body;
    xmlDocPtr doc = new_response(&body);
    build_fault(body, faultcode, code, faultstring, message, x);
    char *out = serialize(doc, len);
    xmlFreeDoc(doc);
    return out;
}

char *exsim_soap_fault_doc(const char *response_code, const char *text, int backoff_ms,
                           size_t *outlen)
{
    fault_extra x = { .backoff_ms = backoff_ms };
    return fault_doc(NULL, response_code, text, text, backoff_ms > 0 ? &x : NULL, outlen);
}

/* libxml2 messages quote what they saw: keep only text XML 1.0 can carry
 * (a control byte or broken UTF-8 would make our own fault unparsable). */
static void xml_safe(char *s)
{
    while (*s) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            *s++ = '?';
        } else if (c >= 0x80) {
            int len = 4;
            if (xmlGetUTF8Char((const unsigned char *)s, &len) < 0 || len <= 0) {
                *s++ = '?';
            } else {
                s += len;
            }
        } else {
            s++;
        }
    }
}

static char *schema_fault(const char *violation, int line, int col, size_t *len)
{
    char fs[1400], v[1024];
    snprintf(v, sizeof v, "%s", violation);
    xml_safe(v);
    snprintf(fs, sizeof fs, "The request failed schema validation: %s", v);
    fault_extra x = { .line = line, .col = col, .violation = v };
    exsim_stats_count("schema_rejected");
    return fault_doc(NULL, "ErrorSchemaValidation", fs, "The request failed schema validation.", &x, len);
}

/* ---- helpers for handlers (exsim.h) ----------------------------------- */

xmlNodePtr exsim_resp_messages(exsim_req *r, const char *response_name)
{
    xmlNsPtr m = xmlSearchNsByHref(r->resp_doc, r->resp_body, BAD_CAST EXSIM_NS_M);
    xmlNodePtr resp = xmlNewChild(r->resp_body, m, BAD_CAST response_name, NULL);
    return xmlNewChild(resp, m, BAD_CAST "ResponseMessages", NULL);
}

xmlNodePtr exsim_resp_message(xmlNodePtr messages, const char *msg_name,
                              const char *response_code, const char *message_text)
{
    xmlNsPtr m = xmlSearchNsByHref(messages->doc, messages, BAD_CAST EXSIM_NS_M);
    int ok = !response_code || !strcmp(response_code, "NoError");
    xmlNodePtr msg = xmlNewChild(messages, m, BAD_CAST msg_name, NULL);
    xmlNewProp(msg, BAD_CAST "ResponseClass", BAD_CAST(ok ? "Success" : "Error"));
    if (!ok)
        xmlNewTextChild(msg, m, BAD_CAST "MessageText",
                        BAD_CAST(message_text ? message_text : response_code));
    xmlNewTextChild(msg, m, BAD_CAST "ResponseCode", BAD_CAST(ok ? "NoError" : response_code));
    if (!ok)
        xmlNewTextChild(msg, m, BAD_CAST "DescriptiveLinkKey", BAD_CAST "0");
    return msg;
}

int exsim_soap_fault(exsim_req *r, const char *faultcode, const char *response_code,
                     const char *text)
{
    build_fault(r->resp_body, faultcode, response_code ? response_code : "ErrorInternalServerError",
                text ? text : "", text ? text : "", NULL);
    return 500;
}

/* ---- request side ------------------------------------------------------- */

static xmlDocPtr parse_request(const char *body, size_t len, char *err, size_t errlen,
                               int *line, int *col)
{
    xmlParserCtxtPtr pc = xmlNewParserCtxt();
    if (!pc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* NONET: no network; no NOENT/DTDLOAD: entities are never substituted. */
    xmlDocPtr doc = xmlCtxtReadMemory(pc, body, (int)len, "request.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        xmlErrorPtr e = xmlCtxtGetLastError(pc);
        snprintf(err, errlen, "%s", e && e->message ? e->message : "Data at the root level is invalid.");
        size_t n = strlen(err);
        while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == ' '))
            err[--n] = '\0';
        *line = e ? e->line : 1;
        *col = e ? e->int2 : 1;
    } else if (doc->intSubset || doc->extSubset) {
        snprintf(err, errlen, "For security reasons DTD is prohibited in this XML document.");
        *line = doc->intSubset ? (int)xmlGetLineNo((xmlNodePtr)doc->intSubset) : 1;
        if (*line <= 0)
            *line = 1;
        *col = 0;
        xmlFreeDoc(doc);
        doc = NULL;
    }
    xmlFreeParserCtxt(pc);
    return doc;
}

/* The SMTP address named in t:ExchangeImpersonation/t:ConnectingSID. */
static const char *impersonation_address(xmlNodePtr imp)
{
    xmlNodePtr sid = child_el(imp, EXSIM_NS_T, "ConnectingSID");
    xmlNodePtr a = first_el(sid ? sid->children : NULL);
    return a ? (const char *)xmlNodeGetContent(a) : NULL;   /* caller xmlFree()s */
}

typedef struct hdr_result {
    char *out;           /* a fault when the headers refuse the request */
    size_t outlen;
    int status;
    const char *impersonated;
    const char *version;
} hdr_result;

static int check_headers(xmlNodePtr header, const exsim_account *acct, hdr_result *h)
{
    char msg[1024];
    int line, col;
    for (xmlNodePtr c = header ? header->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (!is_el(c, EXSIM_NS_T, NULL)) {
            xmlChar *mu = xmlGetNsProp(c, BAD_CAST "mustUnderstand", BAD_CAST EXSIM_NS_SOAP);
            int must = mu && !strcmp((char *)mu, "1");
            xmlFree(mu);
            if (must) {
                snprintf(msg, sizeof msg, "SOAP header %s was not understood.", (const char *)c->name);
                h->out = fault_doc("s:MustUnderstand", "ErrorInvalidRequest", msg, msg, NULL, &h->outlen);
                return h->status = 500;
            }
            continue;
        }
        if (!strcmp((const char *)c->name, "RequestServerVersion") && xmlHasProp(c, BAD_CAST "Version")) {
            /* (a missing Version is left to the schema to report) */
            xmlChar *v = xmlGetProp(c, BAD_CAST "Version");
            int known = 0;
            for (size_t i = 0; v && i < sizeof known_versions / sizeof known_versions[0]; i++)
                known |= !strcmp((char *)v, known_versions[i]);
            xmlFree(v);
            if (!known) {
                const char *t = "The specified server version is invalid.";
                h->out = fault_doc(NULL, "ErrorInvalidServerVersion", t, t, NULL, &h->outlen);
                return h->status = 500;
            }
            h->version = (const char *)xmlHasProp(c, BAD_CAST "Version")->children->content;
        }
        if (exsim_schema_validate(c, msg, sizeof msg, &line, &col)) {
            h->out = schema_fault(msg, line, col, &h->outlen);
            return h->status = 500;
        }
    }
    xmlNodePtr imp = child_el(header, EXSIM_NS_T, "ExchangeImpersonation");
    if (!imp)
        return 0;
    if (!acct->impersonation) {
        const char *t = "The account does not have permission to impersonate the requested user.";
        h->out = fault_doc(NULL, "ErrorImpersonateUserDenied", t, t, NULL, &h->outlen);
        return h->status = 500;
    }
    char *addr = (char *)impersonation_address(imp);
    const exsim_mailbox_info *mb = addr ? exsim_org_find_mailbox(exsim_srv.org, addr) : NULL;
    xmlFree(addr);
    /* A migrated mailbox (redirect_addr set) still lives here: Autodiscover
     * points clients at the target, but the source mailbox is where the
     * switch message is read and written, as with the spec's legacy agents. */
    if (!mb) {
        const char *t = "The SMTP address has no mailbox associated with it.";
        h->out = fault_doc(NULL, "ErrorNonExistentMailbox", t, t, NULL, &h->outlen);
        return h->status = 500;
    }
    h->impersonated = mb->smtp;
    return 0;
}

/* With --validate-responses: a handler's schema-invalid answer becomes a
 * loud 500 naming the operation, so store mistakes cannot hide. */
static int check_response(exsim_req *r, const char *op, int status)
{
    xmlNodePtr el = first_el(r->resp_body->children);
    if (!exsim_srv.validate_responses || !el || is_el(el, EXSIM_NS_SOAP, "Fault"))
        return status;
    char msg[1024], text[1400];
    int line, col;
    if (exsim_schema_validate(el, msg, sizeof msg, &line, &col) == 0)
        return status;
    snprintf(text, sizeof text, "exsim: the %s handler built a schema-invalid %s: %s",
             op, (const char *)el->name, msg);
    xml_safe(text);
    fprintf(stderr, "exsim: ERROR: %s\n", text);
    exsim_stats_count("invalid_responses");
    build_fault(r->resp_body, NULL, "ErrorInternalServerError", text, text, NULL);
    return 500;
}

static int envelope_error(xmlNodePtr env, char **out, size_t *outlen)
{
    if (is_el(env, NS_SOAP12, "Envelope")) {
        const char *t = "The SOAP version of the request is not supported; use SOAP 1.1.";
        *out = fault_doc("s:VersionMismatch", "ErrorInvalidRequest", t, t, NULL, outlen);
        return 500;
    }
    char v[256];
    snprintf(v, sizeof v, "The root element must be {%s}Envelope, got {%s}%s.", EXSIM_NS_SOAP,
             env && env->ns ? (const char *)env->ns->href : "", env ? (const char *)env->name : "");
    *out = schema_fault(v, env ? (int)xmlGetLineNo(env) : 1, 0, outlen);
    return 500;
}

/* fail_op injection: the operation answers one error message, as Exchange
 * does for a request it refuses per item (<Op>Response / <Op>ResponseMessage,
 * the shape of CreateItem, DeleteItem, GetItem, ...), and changes nothing. */
static int injected_op_error(exsim_req *r, const char *code)
{
    const char *op = (const char *)r->op->name;
    char rn[96], mn[112];
    snprintf(rn, sizeof rn, "%sResponse", op);
    snprintf(mn, sizeof mn, "%sResponseMessage", op);
    /* one message per item or folder of the request, as Exchange answers */
    static const char *const lists[] = { "Items", "ItemChanges", "ItemIds", "Folders",
                                         "FolderChanges", "FolderIds" };
    unsigned count = 0;
    for (size_t i = 0; !count && i < sizeof lists / sizeof lists[0]; i++) {
        xmlNodePtr list = exsim_child(r->op, EXSIM_NS_M, lists[i]);
        for (xmlNodePtr k = list ? list->children : NULL; k; k = k->next)
            count += k->type == XML_ELEMENT_NODE;
    }
    xmlNodePtr msgs = exsim_resp_messages(r, rn);
    size_t n = strlen(op);
    int find_or_delete = !strncmp(op, "Find", 4) || !strncmp(op, "Delete", 6) ||
                         !strcmp(op, "EmptyFolder");
    for (unsigned i = 0; i < (count ? count : 1); i++) {
        xmlNodePtr msg = exsim_error_msg(msgs, mn, code);
        /* ItemInfo / FolderInfo response messages carry their (empty) list
         * on errors too */
        if (msg && !find_or_delete && n > 4 && !strcmp(op + n - 4, "Item"))
            exsim_m(r, msg, "Items", NULL);
        else if (msg && !find_or_delete && n > 6 && !strcmp(op + n - 6, "Folder"))
            exsim_m(r, msg, "Folders", NULL);
    }
    r->mailbox = r->impersonated;
    return 200;
}

int exsim_ews_handle(const exsim_account *acct, const char *body, size_t len,
                     char **out, size_t *outlen, char *opbuf, size_t opbuflen,
                     const char **mailbox)
{
    char msg[1024];
    int line = 0, col = 0;
    *mailbox = NULL;
    snprintf(opbuf, opbuflen, "(invalid)");
    xmlDocPtr doc = parse_request(body, len, msg, sizeof msg, &line, &col);
    if (!doc) {
        *out = schema_fault(msg, line, col, outlen);
        return 500;
    }
    xmlNodePtr env = xmlDocGetRootElement(doc);
    xmlNodePtr hdr = child_el(env, EXSIM_NS_SOAP, "Header");
    xmlNodePtr bod = child_el(env, EXSIM_NS_SOAP, "Body");
    xmlNodePtr op = bod ? first_el(bod->children) : NULL;
    int status;
    if (!is_el(env, EXSIM_NS_SOAP, "Envelope")) {
        status = envelope_error(env, out, outlen);
        goto done;
    }
    if (!op) {
        *out = schema_fault("The SOAP Body must hold one operation element.",
                            (int)xmlGetLineNo(bod ? bod : env), 0, outlen);
        status = 500;
        goto done;
    }
    xmlNodePtr extra = first_el(op->next);
    if (extra) {
        /* Exchange deserialises exactly one operation from the Body; a second
         * element is a schema violation, never silently ignored */
        snprintf(msg, sizeof msg, "The element 'Body' in namespace '%s' has invalid child "
                 "element '%s' in namespace '%s'.", EXSIM_NS_SOAP, (const char *)extra->name,
                 extra->ns && extra->ns->href ? (const char *)extra->ns->href : "");
        *out = schema_fault(msg, (int)xmlGetLineNo(extra), 0, outlen);
        status = 500;
        goto done;
    }
    op_detail(op, opbuf, opbuflen);
    if (exsim_schema_validate(op, msg, sizeof msg, &line, &col)) {
        *out = schema_fault(msg, line, col, outlen);
        status = 500;
        goto done;
    }
    hdr_result h = { 0 };
    pthread_mutex_lock(&exsim_srv.store_lock);
    status = check_headers(hdr, acct, &h);
    if (status) {
        pthread_mutex_unlock(&exsim_srv.store_lock);
        *out = h.out;
        *outlen = h.outlen;
        goto done;
    }
    exsim_req r = { .org = exsim_srv.org, .account = acct, .impersonated = h.impersonated,
                    .server_version = h.version, .header = hdr, .op = op };
    r.resp_doc = new_response(&r.resp_body);
    exsim_inject inj = exsim_inject_get();
    if (inj.fail_op[0] && !strcmp((const char *)op->name, inj.fail_op))
        status = injected_op_error(&r, inj.fail_op_code[0] ? inj.fail_op_code
                                                           : "ErrorInternalServerError");
    else
        status = exsim_ews_dispatch(&r);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    status = check_response(&r, (const char *)op->name, status);
    *mailbox = r.mailbox ? r.mailbox : r.impersonated;
    *out = serialize(r.resp_doc, outlen);
    xmlFreeDoc(r.resp_doc);
done:
    xmlFreeDoc(doc);
    return status;
}
