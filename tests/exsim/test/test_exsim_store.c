/* test_exsim_store.c — the simulator's store half driven directly: seed
 * made by orggen.py + seedgen.py, requests built from the documented
 * examples (../shared/protocol/ews/examples) or written here, handed to
 * exsim_ews_dispatch, responses checked by XPath and validated against
 * messages.xsd.  Links the store objects only (no HTTP, no soap.c): the
 * three soap.c helpers are re-implemented below the way soap.c builds them. */
#include "tests/exsim/store.h"
#include "tests/common/testutil.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_DECL "xmlns:m=\"" EXSIM_NS_M "\" xmlns:t=\"" EXSIM_NS_T "\""

static char *tmpdir;
static exsim_org *src_org, *tgt_org;
static xmlSchemaPtr schema;
static xmlSchemaValidCtxtPtr vctxt;
static const exsim_account *admin;
/* An ordinary user without Full Access or impersonation rights. */
static exsim_account plain_user = {"user-0001", "user-0001@src.test", "pw", NULL, 0, 0};

/* ---- private stand-ins for soap.c's helpers (same output shape) ---------- */

xmlNodePtr exsim_resp_messages(exsim_req *r, const char *response_name)
{
    xmlNsPtr m = xmlSearchNsByHref(r->resp_doc, r->resp_body, BAD_CAST EXSIM_NS_M);
    xmlNodePtr resp = xmlNewChild(r->resp_body, m, BAD_CAST response_name, NULL);
    return xmlNewChild(resp, m, BAD_CAST "ResponseMessages", NULL);
}

xmlNodePtr exsim_resp_message(xmlNodePtr messages, const char *msg_name, const char *code,
                              const char *text)
{
    xmlNsPtr m = xmlSearchNsByHref(messages->doc, messages, BAD_CAST EXSIM_NS_M);
    int ok = !code || !strcmp(code, "NoError");
    xmlNodePtr msg = xmlNewChild(messages, m, BAD_CAST msg_name, NULL);
    xmlNewProp(msg, BAD_CAST "ResponseClass", BAD_CAST(ok ? "Success" : "Error"));
    if (!ok)
        xmlNewTextChild(msg, m, BAD_CAST "MessageText", BAD_CAST(text ? text : code));
    xmlNewTextChild(msg, m, BAD_CAST "ResponseCode", BAD_CAST(ok ? "NoError" : code));
    if (!ok)
        xmlNewTextChild(msg, m, BAD_CAST "DescriptiveLinkKey", BAD_CAST "0");
    return msg;
}

int exsim_soap_fault(exsim_req *r, const char *faultcode, const char *code, const char *text)
{
    (void)faultcode;
    xmlNodePtr f = xmlNewChild(r->resp_body, r->resp_body->ns, BAD_CAST "Fault", NULL);
    xmlNewTextChild(f, NULL, BAD_CAST "faultcode", BAD_CAST code);
    xmlNewTextChild(f, NULL, BAD_CAST "faultstring", BAD_CAST text);
    return 500;
}

/* ---- request / response plumbing ---------------------------------------- */

typedef struct call {
    xmlDocPtr req, resp;
    int status;
    int valid;              /* response op element valid against messages.xsd */
    const char *mailbox;
} call;

static xmlDocPtr new_resp(xmlNodePtr *body)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr env = xmlNewDocNode(doc, NULL, BAD_CAST "Envelope", NULL);
    xmlDocSetRootElement(doc, env);
    xmlNsPtr s = xmlNewNs(env, BAD_CAST EXSIM_NS_SOAP, BAD_CAST "s");
    xmlSetNs(env, s);
    xmlNewNs(env, BAD_CAST EXSIM_NS_T, BAD_CAST "t");
    xmlNewNs(env, BAD_CAST EXSIM_NS_M, BAD_CAST "m");
    xmlNewNs(env, BAD_CAST "http://www.w3.org/2001/XMLSchema-instance", BAD_CAST "xsi");
    *body = xmlNewChild(env, s, BAD_CAST "Body", NULL);
    return doc;
}

static int validate(xmlNodePtr el)
{
    return el && xmlSchemaValidateOneElement(vctxt, el) == 0;
}

/* The operation element: first element child of soap:Body (or the root
 * itself when an example shows the operation alone). */
static xmlNodePtr op_of(xmlDocPtr doc)
{
    if (!exsim_is(xmlDocGetRootElement(doc), EXSIM_NS_SOAP, "Envelope"))
        return xmlDocGetRootElement(doc);
    for (xmlNodePtr c = exsim_first_el(xmlDocGetRootElement(doc)); c; c = exsim_next_el(c))
        if (exsim_is(c, EXSIM_NS_SOAP, "Body"))
            return exsim_first_el(c);
    return NULL;
}

static int skip_request_check; /* robustness test: schema-invalid requests on purpose */

static void run_doc(call *c, exsim_org *org, const exsim_account *acct, const char *imp,
                    xmlDocPtr req)
{
    memset(c, 0, sizeof *c);
    c->req = req;
    exsim_req r = {.org = org, .account = acct, .impersonated = imp, .op = op_of(req)};
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.op);
    if (!skip_request_check)
        CU_ASSERT(validate(r.op)); /* the request itself is schema-valid */
    c->resp = new_resp(&r.resp_body);
    r.resp_doc = c->resp;
    c->status = exsim_ews_dispatch(&r);
    c->mailbox = r.mailbox;
    c->valid = c->status == 200 && validate(op_of(c->resp));
    if (c->status == 200 && !c->valid)
        xmlDocDump(stderr, c->resp);
}

/* Run an operation written as XML text (printf-style). */
static void run(call *c, exsim_org *org, const exsim_account *acct, const char *imp,
                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *op = NULL;
    CU_ASSERT_FATAL(vasprintf(&op, fmt, ap) >= 0);
    va_end(ap);
    char *env = NULL;
    CU_ASSERT_FATAL(asprintf(&env, "<s:Envelope xmlns:s=\"%s\" " NS_DECL "><s:Body>%s</s:Body></s:Envelope>",
                             EXSIM_NS_SOAP, op) >= 0);
    xmlDocPtr req = xmlReadMemory(env, (int)strlen(env), "req.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    if (!req)
        fprintf(stderr, "bad test request: %s\n", env);
    free(op);
    free(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    run_doc(c, org, acct, imp, req);
}

/* Run a documented example request, with addresses replaced (pairs, NULL-ended). */
static void run_example(call *c, exsim_org *org, const exsim_account *acct, const char *imp,
                        const char *file, ...)
{
    char *path = NULL;
    CU_ASSERT_FATAL(asprintf(&path, "%s/protocol/ews/examples/%s", tu_shared(), file) >= 0);
    FILE *f = fopen(path, "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    char *text = calloc(1, 1 << 20);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    fclose(f);
    text[n] = '\0';
    va_list ap;
    va_start(ap, file);
    const char *from;
    while ((from = va_arg(ap, const char *)) != NULL) {
        const char *to = va_arg(ap, const char *);
        char *p;
        while ((p = strstr(text, from)) != NULL) {
            size_t fl = strlen(from), tl = strlen(to);
            memmove(p + tl, p + fl, strlen(p + fl) + 1);
            memcpy(p, to, tl);
        }
    }
    va_end(ap);
    xmlDocPtr req = xmlReadMemory(text, (int)strlen(text), path, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    free(text);
    free(path);
    CU_ASSERT_PTR_NOT_NULL_FATAL(req);
    run_doc(c, org, acct, imp, req);
}

static void done(call *c)
{
    xmlFreeDoc(c->req);
    xmlFreeDoc(c->resp);
}

static xmlXPathObjectPtr xp(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathRegisterNs(ctx, BAD_CAST "m", BAD_CAST EXSIM_NS_M);
    xmlXPathRegisterNs(ctx, BAD_CAST "t", BAD_CAST EXSIM_NS_T);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlXPathFreeContext(ctx);
    return o;
}

static int count(call *c, const char *expr)
{
    xmlXPathObjectPtr o = xp(c->resp, expr);
    int n = o && o->nodesetval ? o->nodesetval->nodeNr : 0;
    xmlXPathFreeObject(o);
    return n;
}

/* String value of an XPath expression (static buffer, "" when none). */
static const char *str(call *c, const char *expr)
{
    static char buf[8][65536];
    static int slot;
    char *out = buf[slot++ % 8];
    xmlXPathObjectPtr o = xp(c->resp, expr);
    xmlChar *s = o ? xmlXPathCastToString(o) : NULL;
    CU_ASSERT(!s || strlen((const char *)s) < sizeof buf[0]);
    snprintf(out, sizeof buf[0], "%s", s ? (const char *)s : "");
    xmlFree(s);
    xmlXPathFreeObject(o);
    return out;
}

#define SRC_USER "user-0001@src.test"
#define IMP SRC_USER
#define DFID(name) "<t:DistinguishedFolderId Id=\"" name "\"/>"

/* ---- fixtures ------------------------------------------------------------ */

static int make_seed(const char *side, char *out, size_t outlen)
{
    char org[512], seedgen[512], orggen[512];
    snprintf(org, sizeof org, "%s/org.json", tmpdir);
    snprintf(orggen, sizeof orggen, "%s/tests/lab/orggen.py", tu_root());
    snprintf(seedgen, sizeof seedgen, "%s/tests/exsim/seedgen.py", tu_root());
    snprintf(out, outlen, "%s/%s.xml", tmpdir, side);
    char *a1[] = {"/usr/bin/python3", orggen, "--users", "6", "--rooms", "3", "--equipment", "1",
                  "--seed", "7", "-o", org, NULL};
    if (!tu_exists(org) && tu_run(a1, NULL, 30000) != 0)
        return -1;
    char *a2[] = {"/usr/bin/python3", seedgen, "--org", org, "--side", (char *)side, "-o", out, NULL};
    return tu_run(a2, NULL, 30000);
}

static int suite_init(void)
{
    char path[512], err[512];
    tmpdir = tu_mkdtemp("exsim-store");
    if (!tmpdir || make_seed("source", path, sizeof path) != 0)
        return -1;
    src_org = exsim_org_load(path, err, sizeof err);
    if (!src_org) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (make_seed("target", path, sizeof path) != 0 ||
        !(tgt_org = exsim_org_load(path, err, sizeof err)))
        return -1;
    admin = exsim_org_auth_basic(src_org, "admin", src_org->accounts[0].password);
    snprintf(path, sizeof path, "%s/protocol/ews/messages.xsd", tu_shared());
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    schema = pc ? xmlSchemaParse(pc) : NULL;
    xmlSchemaFreeParserCtxt(pc);
    vctxt = schema ? xmlSchemaNewValidCtxt(schema) : NULL;
    return admin && vctxt ? 0 : -1;
}

static int suite_clean(void)
{
    exsim_org_free(src_org);
    exsim_org_free(tgt_org);
    xmlSchemaFreeValidCtxt(vctxt);
    xmlSchemaFree(schema);
    if (tmpdir)
        tu_rm_rf(tmpdir);
    free(tmpdir);
    return 0;
}

/* ---- store: accounts, lookup, load errors, dump --------------------------- */

static void test_accounts_and_lookup(void)
{
    const char *pw = src_org->accounts[0].password;
    CU_ASSERT_PTR_NOT_NULL(exsim_org_auth_basic(src_org, "admin@src.test", pw));
    CU_ASSERT_PTR_NOT_NULL(exsim_org_auth_basic(src_org, "SRC\\admin", pw));
    CU_ASSERT_PTR_NOT_NULL(exsim_org_auth_basic(src_org, "src.test\\Admin", pw));
    CU_ASSERT_PTR_NULL(exsim_org_auth_basic(src_org, "OTHER\\admin", pw));
    CU_ASSERT_PTR_NULL(exsim_org_auth_basic(src_org, "admin", "wrong"));
    CU_ASSERT_PTR_NULL(exsim_org_auth_basic(src_org, "nobody", pw));
    CU_ASSERT_PTR_EQUAL(exsim_org_auth_bearer(src_org, src_org->accounts[0].token), admin);
    CU_ASSERT_PTR_NULL(exsim_org_auth_bearer(src_org, "tok-wrong"));
    CU_ASSERT_STRING_EQUAL(exsim_org_domain(src_org), "src.test");
    CU_ASSERT_EQUAL(strlen(exsim_org_deployment_id(src_org)), 36);

    const exsim_mailbox_info *a = exsim_org_find_mailbox(src_org, "USER-0001@SRC.TEST");
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_STRING_EQUAL(a->smtp, "user-0001@src.test");
    CU_ASSERT_PTR_EQUAL(exsim_org_find_mailbox(src_org, "user.0001@src.test"), a); /* smtp: proxy */
    CU_ASSERT_PTR_EQUAL(exsim_org_find_mailbox(src_org, a->legacy_dn), a);
    CU_ASSERT_PTR_EQUAL(exsim_org_find_mailbox(src_org,
        "/o=OldOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=user-0001"), a);
    CU_ASSERT_PTR_NULL(exsim_org_find_mailbox(src_org, "nobody@src.test"));
    /* migrated: Autodiscover redirect to the target address; the 7th is unmigrated */
    CU_ASSERT_STRING_EQUAL(a->redirect_addr, "user-0001@tgt.test");
    const exsim_mailbox_info *u7 = exsim_org_find_mailbox(src_org, "room-0001@src.test");
    CU_ASSERT_PTR_NOT_NULL_FATAL(u7);
    CU_ASSERT_PTR_NULL(u7->redirect_addr);
    CU_ASSERT_PTR_NULL(exsim_org_find_mailbox(tgt_org, "room-0001@tgt.test"));
    CU_ASSERT_PTR_NOT_NULL(exsim_org_find_mailbox(tgt_org, "user-0001@tgt.test"));
}

static void test_load_errors(void)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/bad.xml", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("<exsim-seed format=\"1\" domain=\"x\" deployment-id=\"d\">\n<mailbox smtp=\"a@x\"/>\n</exsim-seed>\n", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(exsim_org_load(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad.xml"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "guid"));
    f = fopen(path, "w");
    fputs("<exsim-seed", f);
    fclose(f);
    CU_ASSERT_PTR_NULL(exsim_org_load(path, err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not well-formed"));
    CU_ASSERT_PTR_NULL(exsim_org_load("/nonexistent/seed.xml", err, sizeof err));
}

static void test_dump_roundtrip(void)
{
    char path[512], err[512];
    xmlDocPtr d = exsim_org_dump(tgt_org);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    snprintf(path, sizeof path, "%s/dump.xml", tmpdir);
    CU_ASSERT(xmlSaveFile(path, d) > 0);
    xmlFreeDoc(d);
    exsim_org *o = exsim_org_load(path, err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(o->nmbx, tgt_org->nmbx);
    CU_ASSERT_EQUAL(o->mbx[0].next_id, tgt_org->mbx[0].next_id);
    CU_ASSERT_PTR_NOT_NULL(exsim_store_distinguished(&o->mbx[0], "inbox"));
    exsim_org_free(o);
}

/* seedgen.py: same org.json → byte-identical seed. */
static void test_seedgen_deterministic(void)
{
    char a[512], b[512], seedgen[512], org[512];
    snprintf(a, sizeof a, "%s/source.xml", tmpdir);
    snprintf(b, sizeof b, "%s/source-again.xml", tmpdir);
    snprintf(org, sizeof org, "%s/org.json", tmpdir);
    snprintf(seedgen, sizeof seedgen, "%s/tests/exsim/seedgen.py", tu_root());
    char *argv[] = {"/usr/bin/python3", seedgen, "--org", org, "--side", "source", "-o", b, NULL};
    CU_ASSERT_EQUAL_FATAL(tu_run(argv, NULL, 30000), 0);
    size_t la = 0, lb = 0;
    sr_err e;
    char *da = sr_read_file(a, 16 << 20, &la, &e), *db = sr_read_file(b, 16 << 20, &lb, &e);
    CU_ASSERT(da && db && la == lb && memcmp(da, db, la) == 0);
    free(da);
    free(db);
}

/* ---- ids ------------------------------------------------------------------ */

static void test_ids(void)
{
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    xmlNodePtr inbox = exsim_store_distinguished(m, "inbox");
    uint64_t ic = exsim_store_id_of(inbox);
    char *id = exsim_id_ews(m, EXSIM_KIND_FOLDER, ic);
    uint8_t g[16];
    int kind;
    uint64_t ctr;
    CU_ASSERT_EQUAL(exsim_id_ews_decode(id, g, &kind, &ctr), 0);
    CU_ASSERT_EQUAL(memcmp(g, m->guid, 16), 0);
    CU_ASSERT_EQUAL(kind, EXSIM_KIND_FOLDER);
    CU_ASSERT_EQUAL(ctr, ic);
    free(id);
    CU_ASSERT_EQUAL(exsim_id_ews_decode("DUMMY", g, &kind, &ctr), -1);
    CU_ASSERT_EQUAL(exsim_id_ews_decode("AAMkAGZhN2IxYTA0LWNiNzItN=", g, &kind, &ctr), -1);

    uint8_t eid[70];
    CU_ASSERT_EQUAL(exsim_id_entryid(m, inbox, eid), 46);
    static const uint8_t zero[4];
    CU_ASSERT_EQUAL(memcmp(eid, zero, 4), 0);            /* Flags */
    CU_ASSERT_EQUAL(memcmp(eid + 4, m->guid, 16), 0);    /* ProviderUID = mailbox GUID */
    CU_ASSERT(eid[20] == 0x01 && eid[21] == 0x00);       /* eitLTPrivateFolder */
    CU_ASSERT_EQUAL(memcmp(eid + 22, m->db_guid, 16), 0);
    CU_ASSERT_EQUAL(eid[43], (uint8_t)ic);               /* GlobalCounter, big-endian */
    /* GUID text → Windows byte layout: first field little-endian */
    uint8_t gb[16];
    CU_ASSERT_EQUAL(exsim_guid_parse("00112233-4455-6677-8899-aabbccddeeff", gb), 0);
    CU_ASSERT(gb[0] == 0x33 && gb[3] == 0x00 && gb[4] == 0x55 && gb[6] == 0x77 && gb[8] == 0x88);
    xmlNodePtr item = exsim_child(inbox, NULL, "item");
    CU_ASSERT_EQUAL(exsim_id_entryid(m, item, eid), 70);
    CU_ASSERT(eid[20] == 0x07);
    CU_ASSERT_EQUAL(exsim_id_entryid_decode(eid, 70, g, &kind, &ctr), 0);
    CU_ASSERT_EQUAL(kind, EXSIM_KIND_ITEM);
    CU_ASSERT_EQUAL(ctr, exsim_store_id_of(item));
}

/* ---- folders ------------------------------------------------------------- */

static void test_getfolder_example(void)
{
    call c;
    run_example(&c, src_org, admin, IMP, "getfolder-1-request.xml", NULL);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetFolderResponseMessage/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Folder/t:DisplayName)"), "Inbox");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Folder/t:TotalCount)"), "3");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Folder/t:UnreadCount)"), "1");
    CU_ASSERT_STRING_EQUAL(c.mailbox, SRC_USER);
    done(&c);
    /* explicit access to another mailbox, and the errors */
    run(&c, src_org, admin, NULL,
        "<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>"
        "<m:FolderIds><t:DistinguishedFolderId Id=\"calendar\"><t:Mailbox><t:EmailAddress>user-0002@src.test"
        "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"
        "<t:FolderId Id=\"DUMMY\"/>"
        "<t:DistinguishedFolderId Id=\"inbox\"><t:Mailbox><t:EmailAddress>ghost@src.test"
        "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//m:GetFolderResponseMessage"), 3);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:CalendarFolder/t:FolderClass)"), "IPF.Appointment");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetFolderResponseMessage[2]/m:ResponseCode)"), "ErrorInvalidIdMalformed");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetFolderResponseMessage[3]/m:ResponseCode)"), "ErrorNonExistentMailbox");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetFolderResponseMessage[3]/m:DescriptiveLinkKey)"), "0");
    done(&c);
}

static void test_access_checks(void)
{
    call c;
    /* an ordinary user reads its own mailbox, not another one */
    run(&c, src_org, &plain_user, NULL,
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>"
        DFID("inbox") "<t:DistinguishedFolderId Id=\"inbox\"><t:Mailbox><t:EmailAddress>user-0002@src.test"
        "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetFolderResponseMessage[1]/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetFolderResponseMessage[2]/m:ResponseCode)"), "ErrorAccessDenied");
    done(&c);
    /* impersonating user-0001, the admin acts as that user: no way into user-0002 */
    run(&c, src_org, admin, IMP,
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>"
        "<t:DistinguishedFolderId Id=\"inbox\"><t:Mailbox><t:EmailAddress>user-0002@src.test"
        "</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds></m:GetFolder>");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorAccessDenied");
    done(&c);
    run(&c, src_org, &plain_user, "user-0002@src.test",
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>"
        DFID("inbox") "</m:FolderIds></m:GetFolder>");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorImpersonateUserDenied");
    done(&c);
    /* the admin has no mailbox of its own: a distinguished folder needs a Mailbox */
    run_example(&c, src_org, admin, NULL, "getfolder-1-request.xml", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorMissingEmailAddress");
    done(&c);
    /* unknown operation → SOAP fault */
    run(&c, src_org, admin, IMP, "<m:GetRoomLists/>");
    CU_ASSERT_EQUAL(c.status, 500);
    done(&c);
}

static void test_findfolder_entryids_paging(void)
{
    call c;
    run(&c, src_org, admin, IMP,
        "<m:FindFolder Traversal=\"Deep\"><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape>"
        "<t:AdditionalProperties><t:FieldURI FieldURI=\"folder:DisplayName\"/>"
        "<t:ExtendedFieldURI PropertyTag=\"0x0FFF\" PropertyType=\"Binary\"/></t:AdditionalProperties>"
        "</m:FolderShape><m:IndexedPageFolderView MaxEntriesReturned=\"100\" Offset=\"0\" BasePoint=\"Beginning\"/>"
        "<m:ParentFolderIds>" DFID("msgfolderroot") "</m:ParentFolderIds></m:FindFolder>");
    CU_ASSERT(c.valid);
    int n = count(&c, "//t:Folders/*");
    CU_ASSERT(n >= 14);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@TotalItemsInView)"), str(&c, "string(count(//t:Folders/*))"));
    CU_ASSERT_EQUAL(count(&c, "//t:Folder[t:DisplayName='Archive 2019']"), 1); /* nested */
    /* every folder's PR_ENTRYID decodes to its own EWS id */
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    for (int i = 1; i <= n; i++) {
        char q[160];
        snprintf(q, sizeof q, "string(//t:Folders/*[%d]/t:ExtendedProperty/t:Value)", i);
        size_t len = 0;
        uint8_t *eid = exsim_b64_decode(str(&c, q), &len), g[16];
        int kind;
        uint64_t ctr;
        CU_ASSERT_EQUAL(len, 46);
        CU_ASSERT(eid && exsim_id_entryid_decode(eid, len, g, &kind, &ctr) == 0);
        snprintf(q, sizeof q, "string(//t:Folders/*[%d]/t:FolderId/@Id)", i);
        char *want = exsim_id_ews(m, EXSIM_KIND_FOLDER, ctr);
        CU_ASSERT_STRING_EQUAL(str(&c, q), want);
        free(want);
        free(eid);
    }
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:FindFolder Traversal=\"Shallow\"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
        "<m:IndexedPageFolderView MaxEntriesReturned=\"3\" Offset=\"2\" BasePoint=\"Beginning\"/>"
        "<m:ParentFolderIds>" DFID("msgfolderroot") "</m:ParentFolderIds></m:FindFolder>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Folders/*"), 3);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@IndexedPagingOffset)"), "5");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@IncludesLastItemInRange)"), "false");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@TotalItemsInView)"), "12");
    done(&c);
}

static void test_searchfolder_create_get_delete(void)
{
    call c;
    run_example(&c, src_org, admin, IMP, "createfolder-searchfolder-howto-request.xml",
                "sadie@contoso.com", "user-0002@src.test", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:CreateFolderResponseMessage/@ResponseClass)"), "Success");
    char id[128];
    snprintf(id, sizeof id, "%s", str(&c, "string(//t:SearchFolder/t:FolderId/@Id)"));
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>"
        "<m:FolderIds><t:FolderId Id=\"%s\"/></m:FolderIds></m:GetFolder>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:SearchFolder/t:DisplayName)"), "From Manager");
    CU_ASSERT_EQUAL(count(&c, "//t:SearchParameters/t:BaseFolderIds/t:FolderId"), 1);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:SearchParameters/@Traversal)"), "Deep");
    done(&c);
    /* its contents: mail from user-0002 under the Inbox */
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape>"
        "<m:ParentFolderIds><t:FolderId Id=\"%s\"/></m:ParentFolderIds></m:FindItem>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Items/t:Message"), 1);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:CreateFolder><m:ParentFolderId>" DFID("searchfolders") "</m:ParentFolderId><m:Folders>"
        "<t:Folder><t:DisplayName>From Manager</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorFolderExists");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:DeleteFolder DeleteType=\"HardDelete\"><m:FolderIds><t:FolderId Id=\"%s\"/>" DFID("inbox")
        "<t:FolderId Id=\"%s\"/></m:FolderIds></m:DeleteFolder>", id, id);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeleteFolderResponseMessage[1]/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeleteFolderResponseMessage[2]/m:ResponseCode)"), "ErrorDeleteDistinguishedFolder");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeleteFolderResponseMessage[3]/m:ResponseCode)"), "ErrorFolderNotFound");
    done(&c);
}

static xmlNodePtr folder_named(exsim_mbx *m, xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr f = exsim_child(parent, NULL, "folder"); f; f = exsim_next(f, NULL, "folder"))
        if (strcmp(exsim_attr(f, "name"), name) == 0)
            return f;
    (void)m;
    return NULL;
}

static void test_updatefolder_hidden(void)
{
    call c;
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    xmlNodePtr reports = folder_named(m, exsim_store_distinguished(m, "msgfolderroot"), "Reports");
    CU_ASSERT_PTR_NOT_NULL_FATAL(reports);
    char *rid = exsim_id_ews(m, EXSIM_KIND_FOLDER, exsim_store_id_of(reports));
    run_example(&c, src_org, admin, IMP, "updatefolder-extendedproperty-howto-request.xml",
                "IQywAAAA==", rid, NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateFolderResponseMessage/@ResponseClass)"), "Success");
    done(&c);
    run_example(&c, src_org, admin, IMP, "findfolder-hidden-howto-request.xml", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Folders/*"), 1);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Folders/t:Folder/t:DisplayName)"), "Reports");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Folders/t:Folder/t:ExtendedProperty/t:Value)"), "true");
    done(&c);
    /* rename, and a name that is taken */
    run(&c, src_org, admin, IMP,
        "<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:FolderId Id=\"%s\"/><t:Updates><t:SetFolderField>"
        "<t:FieldURI FieldURI=\"folder:DisplayName\"/><t:Folder><t:DisplayName>Inbox</t:DisplayName></t:Folder>"
        "</t:SetFolderField></t:Updates></t:FolderChange><t:FolderChange><t:FolderId Id=\"%s\"/><t:Updates>"
        "<t:SetFolderField><t:FieldURI FieldURI=\"folder:DisplayName\"/><t:Folder><t:DisplayName>Reports 2"
        "</t:DisplayName></t:Folder></t:SetFolderField><t:DeleteFolderField><t:ExtendedFieldURI PropertyTag=\"4340\" "
        "PropertyType=\"Boolean\"/></t:DeleteFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>",
        rid, rid);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateFolderResponseMessage[1]/m:ResponseCode)"), "ErrorFolderExists");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateFolderResponseMessage[2]/m:ResponseCode)"), "NoError");
    CU_ASSERT_STRING_EQUAL(exsim_attr(reports, "name"), "Reports 2");
    CU_ASSERT_PTR_NULL(exsim_child(reports, EXSIM_NS_T, "ExtendedProperty"));
    done(&c);
    free(rid);
}

/* Every operation of the table is reachable (the table is sorted), and an
 * empty or half-empty operation element never crashes a handler. */
static void test_every_operation_robust(void)
{
    static const char *const ops[] = {
#define EXSIM_NAME(n) #n,
        EXSIM_HANDLERS(EXSIM_NAME)
#undef EXSIM_NAME
    };
    skip_request_check = 1;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        call c;
        run(&c, src_org, admin, IMP, "<m:%s/>", ops[i]);
        CU_ASSERT_EQUAL(c.status, 200);
        if (c.status != 200)
            fprintf(stderr, "%s: status %d\n", ops[i], c.status);
        done(&c);
        run(&c, src_org, admin, IMP, "<m:%s><m:FolderIds><t:FolderId/></m:FolderIds><m:ItemIds><t:ItemId/>"
            "</m:ItemIds><m:Mailbox/><m:ItemChanges><t:ItemChange><t:Updates><t:SetItemField/></t:Updates>"
            "</t:ItemChange></m:ItemChanges></m:%s>", ops[i], ops[i]);
        CU_ASSERT_EQUAL(c.status, 200);
        done(&c);
        run(&c, src_org, admin, IMP, "<m:%s><m:ParentFolderIds><t:DistinguishedFolderId/></m:ParentFolderIds>"
            "<m:FolderIds><t:DistinguishedFolderId/></m:FolderIds><m:UserConfigurationName><t:DistinguishedFolderId "
            "Id=\"inbox\"/></m:UserConfigurationName><m:UserConfiguration><t:UserConfigurationName>"
            "<t:DistinguishedFolderId Id=\"inbox\"/></t:UserConfigurationName></m:UserConfiguration>"
            "<m:SourceIds><t:AlternateId/></m:SourceIds><m:Operations><t:SetRuleOperation/></m:Operations>"
            "<m:DelegateUsers><t:DelegateUser/></m:DelegateUsers><m:UserIds><t:UserId/></m:UserIds></m:%s>",
            ops[i], ops[i]);
        CU_ASSERT_EQUAL(c.status, 200);
        done(&c);
    }
    skip_request_check = 0;
}

/* ---- items --------------------------------------------------------------- */

#define WLINK_FIND \
    "<m:FindItem Traversal=\"Associated\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>" \
    "<t:AdditionalProperties><t:FieldURI FieldURI=\"item:ItemClass\"/>" \
    "<t:ExtendedFieldURI PropertyTag=\"0x6849\" PropertyType=\"Integer\"/>" \
    "<t:ExtendedFieldURI PropertyTag=\"0x684C\" PropertyType=\"Binary\"/>" \
    "</t:AdditionalProperties></m:ItemShape>%s<m:Restriction>%s</m:Restriction>" \
    "<m:ParentFolderIds><t:FolderId Id=\"%s\"/></m:ParentFolderIds></m:FindItem>"

static char *common_views_id(void)
{
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    xmlNodePtr root = exsim_store_distinguished(m, "root");
    for (xmlNodePtr f = exsim_child(root, NULL, "folder"); f; f = exsim_next(f, NULL, "folder"))
        if (strcmp(exsim_attr(f, "name"), "Common Views") == 0)
            return exsim_id_ews(m, EXSIM_KIND_FOLDER, exsim_store_id_of(f));
    return NULL;
}

static void test_finditem_associated_shortcuts(void)
{
    call c;
    char *cv = common_views_id();
    CU_ASSERT_PTR_NOT_NULL_FATAL(cv);
    run(&c, src_org, admin, IMP, WLINK_FIND, "",
        "<t:IsEqualTo><t:FieldURI FieldURI=\"item:ItemClass\"/><t:FieldURIOrConstant>"
        "<t:Constant Value=\"IPM.Microsoft.WunderBar.Link\"/></t:FieldURIOrConstant></t:IsEqualTo>", cv);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Items/t:Message"), 5);
    CU_ASSERT_EQUAL(count(&c, "//t:Message[t:ExtendedProperty/t:ExtendedFieldURI[@PropertyTag='0x6849'] and t:ExtendedProperty/t:Value='4']"), 1);
    /* the calendar link's PidTagWlinkEntryId (0x684C) is the calendar folder's EntryID */
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    uint8_t eid[70];
    size_t n = exsim_id_entryid(m, exsim_store_distinguished(m, "calendar"), eid);
    char *b64 = exsim_b64_encode(eid, n);
    char q[256];
    snprintf(q, sizeof q, "//t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x684C' and t:Value='%s']", b64);
    CU_ASSERT_EQUAL(count(&c, q), 1);
    free(b64);
    done(&c);
    /* Contains + paging */
    run(&c, src_org, admin, IMP, WLINK_FIND,
        "<m:IndexedPageItemView MaxEntriesReturned=\"2\" Offset=\"0\" BasePoint=\"Beginning\"/>",
        "<t:Contains ContainmentMode=\"Substring\" ContainmentComparison=\"IgnoreCase\">"
        "<t:FieldURI FieldURI=\"item:ItemClass\"/><t:Constant Value=\"wunderbar\"/></t:Contains>", cv);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Items/t:Message"), 2);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@TotalItemsInView)"), "5");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@IncludesLastItemInRange)"), "false");
    done(&c);
    free(cv);
    /* the documented associated FindItem (drafts has no FAI here) */
    run_example(&c, src_org, admin, IMP, "finditem-associated-howto-request.xml", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@TotalItemsInView)"), "0");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:RootFolder/@IncludesLastItemInRange)"), "true");
    done(&c);
}

static void test_getitem_batch_order(void)
{
    call c;
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        "<m:ParentFolderIds>" DFID("inbox") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", str(&c, "string(//t:Items/t:Message[1]/t:ItemId/@Id)"));
    snprintf(b, sizeof b, "%s", str(&c, "string(//t:Items/t:Message[2]/t:ItemId/@Id)"));
    done(&c);
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    char *gone = exsim_id_ews(m, EXSIM_KIND_ITEM, 99999);
    run(&c, src_org, admin, IMP,
        "<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape><t:AdditionalProperties>"
        "<t:FieldURI FieldURI=\"item:ParentFolderId\"/><t:FieldURI FieldURI=\"item:IsAssociated\"/>"
        "<t:ExtendedFieldURI PropertyTag=\"0x0FFF\" PropertyType=\"Binary\"/></t:AdditionalProperties>"
        "</m:ItemShape><m:ItemIds><t:ItemId Id=\"%s\"/><t:ItemId Id=\"%s\"/><t:ItemId Id=\"%s\"/>"
        "</m:ItemIds></m:GetItem>", a, gone, b);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//m:GetItemResponseMessage"), 3);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetItemResponseMessage[1]/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetItemResponseMessage[2]/m:ResponseCode)"), "ErrorItemNotFound");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetItemResponseMessage[3]/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetItemResponseMessage[1]//t:ItemId/@Id)"), a);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetItemResponseMessage[1]//t:Subject)"), "Status report 1");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetItemResponseMessage[1]//t:IsAssociated)"), "false");
    CU_ASSERT_EQUAL(strlen(str(&c, "string(//m:GetItemResponseMessage[1]//t:ExtendedProperty/t:Value)")), 96);
    done(&c);
    free(gone);
}

static void test_fai_create_update(void)
{
    call c;
    run(&c, src_org, admin, IMP,
        "<m:CreateItem MessageDisposition=\"SaveOnly\"><m:SavedItemFolderId>" DFID("inbox")
        "</m:SavedItemFolderId><m:Items><t:Message><t:ItemClass>IPM.Configuration.Test</t:ItemClass>"
        "<t:Subject>cfg</t:Subject><t:ExtendedProperty><t:ExtendedFieldURI PropertyTag=\"0x7C09\" "
        "PropertyType=\"Binary\"/><t:Value>AAEC</t:Value></t:ExtendedProperty>"
        "<t:IsAssociated>true</t:IsAssociated></t:Message></m:Items></m:CreateItem>");
    CU_ASSERT(c.valid);
    char id[128], ck[128];
    snprintf(id, sizeof id, "%s", str(&c, "string(//t:Message/t:ItemId/@Id)"));
    snprintf(ck, sizeof ck, "%s", str(&c, "string(//t:Message/t:ItemId/@ChangeKey)"));
    CU_ASSERT(strlen(id) > 10);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\" MessageDisposition=\"SaveOnly\"><m:ItemChanges>"
        "<t:ItemChange><t:ItemId Id=\"%s\"/><t:Updates><t:SetItemField>"
        "<t:ExtendedFieldURI PropertyTag=\"0x7C09\" PropertyType=\"Binary\"/><t:Message><t:ExtendedProperty>"
        "<t:ExtendedFieldURI PropertyTag=\"0x7C09\" PropertyType=\"Binary\"/><t:Value>AQID</t:Value>"
        "</t:ExtendedProperty></t:Message></t:SetItemField><t:SetItemField><t:FieldURI FieldURI=\"item:Subject\"/>"
        "<t:Message><t:Subject>cfg2</t:Subject></t:Message></t:SetItemField>"
        "</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateItemResponseMessage/@ResponseClass)"), "Success");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Associated\"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape>"
        "<t:AdditionalProperties><t:ExtendedFieldURI PropertyTag=\"0x7c09\" PropertyType=\"Binary\"/>"
        "</t:AdditionalProperties></m:ItemShape><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI=\"item:ItemClass\"/>"
        "<t:FieldURIOrConstant><t:Constant Value=\"IPM.Configuration.Test\"/></t:FieldURIOrConstant></t:IsEqualTo>"
        "</m:Restriction><m:ParentFolderIds>" DFID("inbox") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Message/t:ExtendedProperty/t:Value)"), "AQID");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Message/t:Subject)"), "cfg2");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Message/t:IsAssociated)"), "true");
    done(&c);
    /* the ChangeKey from CreateItem is stale now: NeverOverwrite refuses */
    run(&c, src_org, admin, IMP,
        "<m:UpdateItem ConflictResolution=\"NeverOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"%s\" "
        "ChangeKey=\"%s\"/><t:Updates><t:SetItemField><t:FieldURI FieldURI=\"item:Subject\"/><t:Message>"
        "<t:Subject>late</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges>"
        "</m:UpdateItem>", id, ck);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorIrresolvableConflict");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"%s\"/>"
        "<t:Updates><t:DeleteItemField><t:ExtendedFieldURI PropertyTag=\"0x7C09\" PropertyType=\"Binary\"/>"
        "</t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>", id);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        "<t:ExtendedFieldURI PropertyTag=\"0x7C09\" PropertyType=\"Binary\"/></t:AdditionalProperties>"
        "</m:ItemShape><m:ItemIds><t:ItemId Id=\"%s\"/></m:ItemIds></m:GetItem>", id);
    CU_ASSERT_EQUAL(count(&c, "//t:ExtendedProperty"), 0);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:DeleteItem DeleteType=\"HardDelete\"><m:ItemIds><t:ItemId Id=\"%s\"/><t:ItemId Id=\"%s\"/>"
        "</m:ItemIds></m:DeleteItem>", id, id);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeleteItemResponseMessage[1]/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeleteItemResponseMessage[2]/m:ResponseCode)"), "ErrorItemNotFound");
    done(&c);
}

static void test_distribution_list(void)
{
    call c;
    run_example(&c, src_org, admin, IMP, "createitem-distributionlist-howto-request.xml",
                "sadie@contoso.com", "user-0002@src.test", "alfred@contoso.com", "user-0003@src.test", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:CreateItemResponseMessage/@ResponseClass)"), "Success");
    char id[128];
    snprintf(id, sizeof id, "%s", str(&c, "string(//t:DistributionList/t:ItemId/@Id)"));
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ExpandDL><m:Mailbox><t:ItemId Id=\"%s\"/></m:Mailbox></m:ExpandDL>", id);
    CU_ASSERT(c.valid);
    int before = count(&c, "//m:DLExpansion/t:Mailbox");
    CU_ASSERT(before >= 2);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"%s\"/>"
        "<t:Updates><t:AppendToItemField><t:FieldURI FieldURI=\"distributionlist:Members\"/>"
        "<t:DistributionList><t:Members><t:Member><t:Mailbox><t:Name>User 0004</t:Name>"
        "<t:EmailAddress>/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=user-0004"
        "</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Mailbox></t:Member></t:Members></t:DistributionList>"
        "</t:AppendToItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        "<t:FieldURI FieldURI=\"distributionlist:Members\"/></t:AdditionalProperties></m:ItemShape>"
        "<m:ItemIds><t:ItemId Id=\"%s\"/></m:ItemIds></m:GetItem>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Members/t:Member"), before + 1);
    CU_ASSERT_EQUAL(count(&c, "//t:Member/t:Mailbox[t:RoutingType='EX']"), 1);
    done(&c);
    /* SetItemField replaces the member list */
    run(&c, src_org, admin, IMP,
        "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"%s\"/>"
        "<t:Updates><t:SetItemField><t:FieldURI FieldURI=\"distributionlist:Members\"/>"
        "<t:DistributionList><t:Members><t:Member><t:Mailbox><t:EmailAddress>user-0004@tgt.test</t:EmailAddress>"
        "<t:RoutingType>SMTP</t:RoutingType></t:Mailbox></t:Member></t:Members></t:DistributionList>"
        "</t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>", id);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ExpandDL><m:Mailbox><t:ItemId Id=\"%s\"/></m:Mailbox></m:ExpandDL>", id);
    CU_ASSERT_EQUAL(count(&c, "//m:DLExpansion/t:Mailbox"), 1);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DLExpansion/t:Mailbox/t:EmailAddress)"), "user-0004@tgt.test");
    done(&c);
}

static void test_sort_and_indexed_fields(void)
{
    call c;
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        "<t:FieldURI FieldURI=\"item:Subject\"/></t:AdditionalProperties></m:ItemShape>"
        "<m:SortOrder><t:FieldOrder Order=\"Descending\"><t:FieldURI FieldURI=\"item:Subject\"/></t:FieldOrder>"
        "</m:SortOrder><m:ParentFolderIds>" DFID("inbox") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Items/t:Message[1]/t:Subject)"), "Status report 3");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Items/t:Message[3]/t:Subject)"), "Status report 1");
    done(&c);
    /* FindItem never returns bodies or member lists: Default omits them, asking is an error */
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape>"
        "<m:ParentFolderIds>" DFID("inbox") DFID("contacts") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Body"), 0);
    CU_ASSERT_EQUAL(count(&c, "//t:Members"), 0);
    CU_ASSERT(count(&c, "//t:DistributionList") >= 1);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        "<t:FieldURI FieldURI=\"distributionlist:Members\"/></t:AdditionalProperties></m:ItemShape>"
        "<m:ParentFolderIds>" DFID("contacts") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorInvalidPropertyRequest");
    done(&c);
    /* a contact: indexed e-mail addresses set and read back (as exchangelib does) */
    run(&c, src_org, admin, IMP,
        "<m:CreateItem MessageDisposition=\"SaveOnly\"><m:Items><t:Contact><t:DisplayName>Ext Person</t:DisplayName>"
        "<t:EmailAddresses><t:Entry Key=\"EmailAddress1\">ext@example.org</t:Entry></t:EmailAddresses>"
        "</t:Contact></m:Items></m:CreateItem>");
    CU_ASSERT(c.valid);
    char id[128];
    snprintf(id, sizeof id, "%s", str(&c, "string(//t:Contact/t:ItemId/@Id)"));
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:UpdateItem ConflictResolution=\"AlwaysOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"%s\"/>"
        "<t:Updates><t:SetItemField><t:IndexedFieldURI FieldURI=\"contacts:EmailAddress\" FieldIndex=\"EmailAddress2\"/>"
        "<t:Contact><t:EmailAddresses><t:Entry Key=\"EmailAddress2\">two@example.org</t:Entry></t:EmailAddresses>"
        "</t:Contact></t:SetItemField><t:DeleteItemField><t:IndexedFieldURI FieldURI=\"contacts:EmailAddress\" "
        "FieldIndex=\"EmailAddress1\"/></t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        "<t:IndexedFieldURI FieldURI=\"contacts:EmailAddress\" FieldIndex=\"EmailAddress2\"/>"
        "<t:FieldURI FieldURI=\"item:ParentFolderId\"/></t:AdditionalProperties></m:ItemShape>"
        "<m:ItemIds><t:ItemId Id=\"%s\"/></m:ItemIds></m:GetItem>", id);
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:EmailAddresses/t:Entry"), 1);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Entry[@Key='EmailAddress2'])"), "two@example.org");
    /* saved without SavedItemFolderId: lands in Contacts */
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    char *cid = exsim_id_ews(m, EXSIM_KIND_FOLDER, exsim_store_id_of(exsim_store_distinguished(m, "contacts")));
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:ParentFolderId/@Id)"), cid);
    free(cid);
    done(&c);
    /* FindFolder with a restriction on the display name */
    run(&c, src_org, admin, IMP,
        "<m:FindFolder Traversal=\"Deep\"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
        "<m:Restriction><t:Contains ContainmentMode=\"Prefixed\" ContainmentComparison=\"IgnoreCase\">"
        "<t:FieldURI FieldURI=\"folder:DisplayName\"/><t:Constant Value=\"team\"/></t:Contains></m:Restriction>"
        "<m:ParentFolderIds>" DFID("root") "</m:ParentFolderIds></m:FindFolder>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Folders/*"), 1);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:CalendarFolder/t:DisplayName)"), "Team Calendar");
    done(&c);
}

/* ---- delegates ----------------------------------------------------------- */

static void test_delegates(void)
{
    call c;
    run_example(&c, src_org, admin, NULL, "getdelegate-1-request.xml", "user3@example.com", SRC_USER, NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(/*/*/m:GetDelegateResponse/@ResponseClass)"), "Success");
    CU_ASSERT_EQUAL(count(&c, "//m:DelegateUser"), 2);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeliverMeetingRequests)"), "DelegatesAndSendInformationToMe");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUser[1]//t:CalendarFolderPermissionLevel)"), "Editor");
    done(&c);
    run_example(&c, src_org, admin, NULL, "adddelegate-1-request.xml", "user2@example.com", SRC_USER,
                "user1@example.com", "user-0005@src.test", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUserResponseMessageType/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUser/t:UserId/t:DisplayName)"), "User 0005");
    done(&c);
    run_example(&c, src_org, admin, NULL, "adddelegate-1-request.xml", "user2@example.com", SRC_USER,
                "user1@example.com", "user-0005@src.test", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUserResponseMessageType/m:ResponseCode)"), "ErrorDelegateAlreadyExists");
    done(&c);
    run_example(&c, src_org, admin, NULL, "adddelegate-1-request.xml", "user2@example.com", SRC_USER,
                "user1@example.com", "ghost@src.test", NULL);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUserResponseMessageType/m:ResponseCode)"), "ErrorDelegateNoUser");
    done(&c);
    run(&c, src_org, admin, NULL,
        "<m:UpdateDelegate><m:Mailbox><t:EmailAddress>" SRC_USER "</t:EmailAddress></m:Mailbox>"
        "<m:DelegateUsers><t:DelegateUser><t:UserId><t:PrimarySmtpAddress>user.0005@src.test</t:PrimarySmtpAddress>"
        "</t:UserId><t:ViewPrivateItems>true</t:ViewPrivateItems></t:DelegateUser></m:DelegateUsers>"
        "<m:DeliverMeetingRequests>DelegatesOnly</m:DeliverMeetingRequests></m:UpdateDelegate>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUser/t:ViewPrivateItems)"), "true");
    done(&c);
    run(&c, src_org, admin, NULL,
        "<m:RemoveDelegate><m:Mailbox><t:EmailAddress>" SRC_USER "</t:EmailAddress></m:Mailbox><m:UserIds>"
        "<t:UserId><t:PrimarySmtpAddress>user-0005@src.test</t:PrimarySmtpAddress></t:UserId>"
        "<t:UserId><t:PrimarySmtpAddress>user-0006@src.test</t:PrimarySmtpAddress></t:UserId></m:UserIds></m:RemoveDelegate>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUserResponseMessageType[1]/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DelegateUserResponseMessageType[2]/m:ResponseCode)"), "ErrorNotDelegate");
    done(&c);
    run(&c, src_org, admin, NULL,
        "<m:GetDelegate IncludePermissions=\"false\"><m:Mailbox><t:EmailAddress>" SRC_USER
        "</t:EmailAddress></m:Mailbox></m:GetDelegate>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//m:DelegateUser"), 2);
    CU_ASSERT_EQUAL(count(&c, "//t:DelegatePermissions"), 0);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:DeliverMeetingRequests)"), "DelegatesOnly");
    done(&c);
    run(&c, src_org, &plain_user, NULL,
        "<m:GetDelegate IncludePermissions=\"true\"><m:Mailbox><t:EmailAddress>user-0002@src.test"
        "</t:EmailAddress></m:Mailbox></m:GetDelegate>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:GetDelegateResponse/m:ResponseCode)"), "ErrorAccessDenied");
    done(&c);
}

/* ---- inbox rules ----------------------------------------------------------- */

static void test_inbox_rules(void)
{
    call c;
    run(&c, src_org, admin, NULL,
        "<m:GetInboxRules><m:MailboxSmtpAddress>" SRC_USER "</m:MailboxSmtpAddress></m:GetInboxRules>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//m:InboxRules/t:Rule"), 4);
    /* organisation addresses in conditions come back as EX legacyExchangeDNs */
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Rule[1]/t:Conditions/t:FromAddresses/t:Address/t:RoutingType)"), "EX");
    CU_ASSERT_EQUAL(count(&c, "//t:Rule/t:Actions/t:MoveToFolder/t:FolderId"), 1);
    CU_ASSERT_EQUAL(count(&c, "//t:Rule/t:Actions/t:ForwardToRecipients/t:Address"), 1);
    done(&c);
    /* the documented request as is: its folder id is not one of ours */
    run_example(&c, src_org, admin, IMP, "updateinboxrules-create-howto-request.xml",
                "sadie@contoso.com", "user-0002@src.test", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateInboxRulesResponse/m:ResponseCode)"), "ErrorInboxRulesValidationError");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:RuleOperationError//t:FieldURI)"), "Action:MoveToFolder");
    done(&c);
    /* with the folder id of this mailbox's Inbox */
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    char *inbox = exsim_id_ews(m, EXSIM_KIND_FOLDER, exsim_store_id_of(exsim_store_distinguished(m, "inbox")));
    run_example(&c, src_org, admin, IMP, "updateinboxrules-create-howto-request.xml",
                "sadie@contoso.com", "user-0002@src.test",
                "AAMkADg1OWUwODcyLTg4M2MtNDAyMS05YjI0LTI5ZGM5OTU4Njk3YwAuAAAAAADPriAxh444TpHj2GoQxWQNAQAN+VjmVZl5Rq1ymCq5eFKOAAAAABSxAAA=",
                inbox, NULL);
    free(inbox);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateInboxRulesResponse/@ResponseClass)"), "Success");
    done(&c);
    run(&c, src_org, admin, IMP, "<m:GetInboxRules/>");
    CU_ASSERT_EQUAL(count(&c, "//m:InboxRules/t:Rule"), 5);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Rule[5]/t:RuleId)"), "R5");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>true</m:RemoveOutlookRuleBlob><m:Operations>"
        "<t:SetRuleOperation><t:Rule><t:RuleId>R2</t:RuleId><t:DisplayName>Renamed</t:DisplayName>"
        "<t:Priority>2</t:Priority><t:IsEnabled>false</t:IsEnabled><t:Actions><t:Delete>true</t:Delete></t:Actions>"
        "</t:Rule></t:SetRuleOperation><t:DeleteRuleOperation><t:RuleId>R5</t:RuleId></t:DeleteRuleOperation>"
        "</m:Operations></m:UpdateInboxRules>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateInboxRulesResponse/m:ResponseCode)"), "NoError");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:UpdateInboxRules><m:Operations><t:DeleteRuleOperation><t:RuleId>R1</t:RuleId></t:DeleteRuleOperation>"
        "<t:DeleteRuleOperation><t:RuleId>R77</t:RuleId></t:DeleteRuleOperation></m:Operations></m:UpdateInboxRules>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:UpdateInboxRulesResponse/m:ResponseCode)"), "ErrorInboxRulesValidationError");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:RuleOperationError/t:OperationIndex)"), "1");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:RuleOperationError//t:ErrorCode)"), "RuleNotFound");
    done(&c);
    /* an EX address nobody here has (e.g. a source DN written to the target) */
    run(&c, tgt_org, &tgt_org->accounts[0], "user-0001@tgt.test",
        "<m:UpdateInboxRules><m:Operations><t:CreateRuleOperation><t:Rule><t:DisplayName>x</t:DisplayName>"
        "<t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:FromAddresses><t:Address>"
        "<t:EmailAddress>/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=user-0002"
        "</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Address></t:FromAddresses></t:Conditions>"
        "<t:Actions><t:Delete>true</t:Delete></t:Actions></t:Rule></t:CreateRuleOperation></m:Operations>"
        "</m:UpdateInboxRules>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:RuleOperationError//t:ErrorCode)"), "RecipientDoesNotExist");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:RuleOperationError//t:FieldURI)"), "Condition:FromAddresses");
    done(&c);
    run(&c, src_org, admin, IMP, "<m:GetInboxRules/>");
    CU_ASSERT_EQUAL(count(&c, "//m:InboxRules/t:Rule"), 4); /* R1 kept: all or nothing */
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Rule[t:RuleId='R2']/t:DisplayName)"), "Renamed");
    done(&c);
}

/* ---- user configuration ---------------------------------------------------- */

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Walk an autocomplete stream; count EX rows whose PR_EMAIL_ADDRESS is a
 * known legacyExchangeDN and SMTP rows.  0 when the layout is consistent. */
static int walk_autocomplete(const uint8_t *b, size_t n, int *ex, int *smtp)
{
    size_t off = 16;
    uint32_t rows = le32(b + 12);
    for (uint32_t r = 0; r < rows; r++) {
        if (off + 4 > n)
            return -1;
        uint32_t props = le32(b + off);
        off += 4;
        char type[8] = "", addr[512] = "";
        for (uint32_t i = 0; i < props; i++) {
            if (off + 16 > n)
                return -1;
            uint32_t tag = le32(b + off), pt = tag & 0xFFFF;
            off += 16;
            if (pt != 0x001F && pt != 0x0102)
                continue;
            uint32_t len = le32(b + off);
            off += 4;
            if (off + len > n)
                return -1;
            if (tag == 0x3002001F || tag == 0x3003001F) { /* UTF-16LE ASCII text */
                char *dst = tag == 0x3002001F ? type : addr;
                size_t cap = tag == 0x3002001F ? sizeof type : sizeof addr, k = 0;
                for (; k + 1 < cap && 2 * k + 1 < len && b[off + 2 * k]; k++)
                    dst[k] = (char)b[off + 2 * k];
                dst[k] = '\0';
            }
            off += len;
        }
        if (strcmp(type, "EX") == 0 && exsim_org_find_mailbox(src_org, addr))
            (*ex)++;
        else if (strcmp(type, "SMTP") == 0)
            (*smtp)++;
    }
    return off + 4 + 8 == n && le32(b + off) == 0 ? 0 : -1;
}

static void test_user_configuration(void)
{
    call c;
    run(&c, src_org, admin, IMP,
        "<m:GetUserConfiguration><m:UserConfigurationName Name=\"Autocomplete\">" DFID("inbox")
        "</m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties>"
        "</m:GetUserConfiguration>");
    CU_ASSERT(c.valid);
    size_t n = 0;
    uint8_t *blob = exsim_b64_decode(str(&c, "string(//t:BinaryData)"), &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(blob);
    CU_ASSERT(n > 16 && blob[0] == 0x0D && blob[1] == 0xF0 && blob[4] == 12); /* metadata, major 12 */
    CU_ASSERT(blob[12] >= 1);                                                 /* rows */
    int ex = 0, smtp = 0;
    CU_ASSERT_EQUAL(walk_autocomplete(blob, n, &ex, &smtp), 0);
    CU_ASSERT(ex >= 3);   /* rows naming organisation recipients by legacyExchangeDN */
    CU_ASSERT(smtp >= 1); /* and an external SMTP row */
    free(blob);
    CU_ASSERT_EQUAL(count(&c, "//m:UserConfiguration/t:ItemId"), 1);
    done(&c);
    run_example(&c, src_org, admin, IMP, "getuserconfiguration-dictionary-howto-request.xml", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorItemNotFound");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:CreateUserConfiguration><m:UserConfiguration><t:UserConfigurationName Name=\"TestConfig\">"
        DFID("drafts") "</t:UserConfigurationName><t:Dictionary><t:DictionaryEntry><t:DictionaryKey>"
        "<t:Type>String</t:Type><t:Value>Key1</t:Value></t:DictionaryKey><t:DictionaryValue><t:Type>Integer32"
        "</t:Type><t:Value>1</t:Value></t:DictionaryValue></t:DictionaryEntry></t:Dictionary>"
        "</m:UserConfiguration></m:CreateUserConfiguration>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run_example(&c, src_org, admin, IMP, "updateuserconfiguration-dictionary-howto-request.xml", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run_example(&c, src_org, admin, IMP, "getuserconfiguration-dictionary-howto-request.xml", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    CU_ASSERT(count(&c, "//t:Dictionary/t:DictionaryEntry") >= 1);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:UserConfigurationName/@Name)"), "TestConfig");
    done(&c);
    run_example(&c, src_org, admin, IMP, "deleteuserconfiguration-howto-request.xml",
                "ContosoDraftSettings", "TestConfig", NULL);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "NoError");
    done(&c);
    run_example(&c, src_org, admin, IMP, "deleteuserconfiguration-howto-request.xml",
                "ContosoDraftSettings", "TestConfig", NULL);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorItemNotFound");
    done(&c);
}

/* ---- ResolveNames, ConvertId ------------------------------------------------ */

static void test_resolve_names(void)
{
    call c;
    run_example(&c, src_org, admin, IMP, "resolvenames-1-request.xml", NULL);
    CU_ASSERT(c.valid);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ResolveNames ReturnFullContactData=\"true\"><m:UnresolvedEntry>SMTP:user.0002@src.test"
        "</m:UnresolvedEntry></m:ResolveNames>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResolveNamesResponseMessage/@ResponseClass)"), "Success");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Resolution/t:Mailbox/t:EmailAddress)"), "user-0002@src.test");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Contact/t:EmailAddresses/t:Entry)"), "SMTP:user-0002@src.test");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ResolveNames ReturnFullContactData=\"false\"><m:UnresolvedEntry>"
        "/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=room-0001"
        "</m:UnresolvedEntry></m:ResolveNames>");
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Resolution/t:Mailbox/t:EmailAddress)"), "room-0001@src.test");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ResolveNames ReturnFullContactData=\"false\" SearchScope=\"ActiveDirectory\"><m:UnresolvedEntry>room"
        "</m:UnresolvedEntry></m:ResolveNames>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResolveNamesResponseMessage/@ResponseClass)"), "Warning");
    CU_ASSERT_EQUAL(count(&c, "//t:Resolution"), 3);
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ResolveNames ReturnFullContactData=\"false\" SearchScope=\"Contacts\"><m:UnresolvedEntry>Project"
        "</m:UnresolvedEntry></m:ResolveNames>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//t:Resolution/t:Mailbox/t:MailboxType)"), "PrivateDL");
    done(&c);
    run(&c, src_org, admin, IMP,
        "<m:ResolveNames ReturnFullContactData=\"false\"><m:UnresolvedEntry>zzz</m:UnresolvedEntry></m:ResolveNames>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorNameResolutionNoResults");
    done(&c);
}

static void test_convert_id(void)
{
    call c;
    /* exchangelib's version probe */
    run(&c, src_org, admin, NULL,
        "<m:ConvertId DestinationFormat=\"EntryId\"><m:SourceIds><t:AlternateId Id=\"DUMMY\" Format=\"EwsId\" "
        "Mailbox=\"DUMMY\"/></m:SourceIds></m:ConvertId>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ResponseCode)"), "ErrorInvalidIdMalformed");
    done(&c);
    exsim_mbx *m = exsim_store_mbx_by_addr(src_org, SRC_USER);
    xmlNodePtr cal = exsim_store_distinguished(m, "calendar");
    char *ews = exsim_id_ews(m, EXSIM_KIND_FOLDER, exsim_store_id_of(cal));
    run(&c, src_org, admin, NULL,
        "<m:ConvertId DestinationFormat=\"HexEntryId\"><m:SourceIds><t:AlternateId Id=\"%s\" Format=\"EwsId\" "
        "Mailbox=\"" SRC_USER "\"/></m:SourceIds></m:ConvertId>", ews);
    CU_ASSERT(c.valid);
    char hex[200];
    snprintf(hex, sizeof hex, "%s", str(&c, "string(//m:AlternateId/@Id)"));
    CU_ASSERT_EQUAL(strlen(hex), 92);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:AlternateId/@Format)"), "HexEntryId");
    done(&c);
    run(&c, src_org, admin, NULL,
        "<m:ConvertId DestinationFormat=\"EwsId\"><m:SourceIds><t:AlternateId Id=\"%s\" Format=\"HexEntryId\" "
        "Mailbox=\"" SRC_USER "\"/></m:SourceIds></m:ConvertId>", hex);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:AlternateId/@Id)"), ews);
    done(&c);
    free(ews);
    /* an item: EwsId → EntryId (base64 Message EntryID, 70 bytes) → EwsLegacyId */
    xmlNodePtr item = exsim_child(exsim_store_distinguished(m, "inbox"), NULL, "item");
    ews = exsim_id_ews(m, EXSIM_KIND_ITEM, exsim_store_id_of(item));
    run(&c, src_org, admin, NULL,
        "<m:ConvertId DestinationFormat=\"EntryId\"><m:SourceIds><t:AlternateId Id=\"%s\" Format=\"EwsId\" "
        "Mailbox=\"" SRC_USER "\"/></m:SourceIds></m:ConvertId>", ews);
    CU_ASSERT(c.valid);
    char b64[200];
    snprintf(b64, sizeof b64, "%s", str(&c, "string(//m:AlternateId/@Id)"));
    size_t n = 0;
    uint8_t *eid = exsim_b64_decode(b64, &n);
    CU_ASSERT_EQUAL(n, 70);
    CU_ASSERT(eid && eid[20] == 0x07);
    free(eid);
    done(&c);
    run(&c, src_org, admin, NULL,
        "<m:ConvertId DestinationFormat=\"EwsLegacyId\"><m:SourceIds><t:AlternateId Id=\"%s\" Format=\"EntryId\" "
        "Mailbox=\"" SRC_USER "\"/><t:AlternateId Id=\"AAAA\" Format=\"EntryId\" Mailbox=\"" SRC_USER "\"/>"
        "</m:SourceIds></m:ConvertId>", b64);
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ConvertIdResponseMessage[1]/m:AlternateId/@Id)"), ews);
    CU_ASSERT_STRING_EQUAL(str(&c, "string(//m:ConvertIdResponseMessage[2]/m:ResponseCode)"), "ErrorInvalidIdMalformed");
    done(&c);
    free(ews);
}

/* ---- target side: the post-migration state ---------------------------------- */

static void test_target_side(void)
{
    call c;
    const exsim_account *tadm = &tgt_org->accounts[0];
    run(&c, tgt_org, tadm, "user-0001@tgt.test",
        "<m:GetInboxRules/>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Rule"), 0);
    done(&c);
    run(&c, tgt_org, tadm, "user-0001@tgt.test",
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>"
        "<m:ParentFolderIds>" DFID("contacts") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Items/*"), 3);
    done(&c);
    /* copied content still names source recipients (what CPUU fixes) */
    run(&c, tgt_org, tadm, "user-0001@tgt.test",
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        "<t:IndexedFieldURI FieldURI=\"contacts:EmailAddress\" FieldIndex=\"EmailAddress1\"/></t:AdditionalProperties>"
        "</m:ItemShape><m:ParentFolderIds>" DFID("contacts") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Contact/t:EmailAddresses/t:Entry[starts-with(., '/o=SourceOrg/')]"), 1);
    CU_ASSERT_EQUAL(count(&c, "//t:Contact/t:EmailAddresses/t:Entry[contains(., '@src.test')]"), 1);
    done(&c);
}

/* Properties Exchange computes (MS-OXPROPS) are returned, restricted on and
 * sorted by whether or not the seed stored them. */
#define XP(tag, type) "<t:ExtendedFieldURI PropertyTag=\"" tag "\" PropertyType=\"" type "\"/>"
static void test_computed_props(void)
{
    call c;
    /* FindFolder restricted on PR_CONTAINER_CLASS finds the contact folders */
    run(&c, src_org, admin, IMP,
        "<m:FindFolder Traversal=\"Deep\"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
        "<m:Restriction><t:IsEqualTo>" XP("0x3613", "String")
        "<t:FieldURIOrConstant><t:Constant Value=\"IPF.Contact\"/></t:FieldURIOrConstant></t:IsEqualTo>"
        "</m:Restriction><m:ParentFolderIds>" DFID("msgfolderroot") "</m:ParentFolderIds></m:FindFolder>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:ContactsFolder"), 2);
    done(&c);
    /* GetFolder: subfolders, content and unread counts, modification time */
    run(&c, src_org, admin, IMP,
        "<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>"
        XP("0x360A", "Boolean") XP("0x3602", "Integer") XP("0x3603", "Integer")
        XP("0x3008", "SystemTime") "</t:AdditionalProperties></m:FolderShape>"
        "<m:FolderIds>" DFID("inbox") DFID("drafts") "</m:FolderIds></m:GetFolder>");
    CU_ASSERT(c.valid);
    CU_ASSERT_STRING_EQUAL(str(&c, "string((//t:Folder)[1]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x360A']/t:Value)"), "true");
    CU_ASSERT_STRING_EQUAL(str(&c, "string((//t:Folder)[1]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x3602']/t:Value)"), "3");
    CU_ASSERT_STRING_EQUAL(str(&c, "string((//t:Folder)[1]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x3603']/t:Value)"), "1");
    CU_ASSERT_STRING_EQUAL(str(&c, "string((//t:Folder)[2]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x360A']/t:Value)"), "false");
    CU_ASSERT_EQUAL(strlen(str(&c, "string((//t:Folder)[1]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x3008']/t:Value)")), 20);
    done(&c);
    /* FindItem sorted by the article number, newest first; unread by MessageFlags */
    run(&c, src_org, admin, IMP,
        "<m:FindItem Traversal=\"Shallow\"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape>"
        "<t:AdditionalProperties>" XP("0x0E23", "Integer") XP("0x0E07", "Integer") XP("0x0E08", "Integer")
        "</t:AdditionalProperties></m:ItemShape>"
        "<m:Restriction><t:IsEqualTo>" XP("0x0E07", "Integer")
        "<t:FieldURIOrConstant><t:Constant Value=\"1\"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>"
        "<m:SortOrder><t:FieldOrder Order=\"Descending\">" XP("0x0E23", "Integer") "</t:FieldOrder></m:SortOrder>"
        "<m:ParentFolderIds>" DFID("inbox") "</m:ParentFolderIds></m:FindItem>");
    CU_ASSERT(c.valid);
    CU_ASSERT_EQUAL(count(&c, "//t:Items/*"), 2);   /* the three mails, one unread */
    long first = atol(str(&c, "string((//t:Items/*)[1]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x0E23']/t:Value)"));
    long last = atol(str(&c, "string((//t:Items/*)[2]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x0E23']/t:Value)"));
    CU_ASSERT_TRUE(first > last && last > 0);
    CU_ASSERT_TRUE(atol(str(&c, "string((//t:Items/*)[1]/t:ExtendedProperty[t:ExtendedFieldURI/@PropertyTag='0x0E08']/t:Value)")) > 100);
    done(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("exsim_store", suite_init, suite_clean);
    CU_add_test(s, "accounts and mailbox lookup", test_accounts_and_lookup);
    CU_add_test(s, "seed load errors", test_load_errors);
    CU_add_test(s, "dump round trip", test_dump_roundtrip);
    CU_add_test(s, "seedgen deterministic", test_seedgen_deterministic);
    CU_add_test(s, "EWS ids and EntryIDs", test_ids);
    CU_add_test(s, "GetFolder (documented example, errors)", test_getfolder_example);
    CU_add_test(s, "access checks", test_access_checks);
    CU_add_test(s, "FindFolder deep, PR_ENTRYID, paging", test_findfolder_entryids_paging);
    CU_add_test(s, "search folder create/get/find/delete", test_searchfolder_create_get_delete);
    CU_add_test(s, "UpdateFolder and hidden folders (documented examples)", test_updatefolder_hidden);
    CU_add_test(s, "every operation reachable and robust", test_every_operation_robust);
    CU_add_test(s, "FindItem associated shortcuts", test_finditem_associated_shortcuts);
    CU_add_test(s, "GetItem batch order", test_getitem_batch_order);
    CU_add_test(s, "FAI create/update/delete", test_fai_create_update);
    CU_add_test(s, "distribution list", test_distribution_list);
    CU_add_test(s, "FindItem SortOrder, indexed fields, FindFolder restriction", test_sort_and_indexed_fields);
    CU_add_test(s, "delegates", test_delegates);
    CU_add_test(s, "inbox rules", test_inbox_rules);
    CU_add_test(s, "user configuration", test_user_configuration);
    CU_add_test(s, "ResolveNames", test_resolve_names);
    CU_add_test(s, "ConvertId", test_convert_id);
    CU_add_test(s, "target side", test_target_side);
    CU_add_test(s, "computed properties: returned, restricted on, sorted by", test_computed_props);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    unsigned suite_fails = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return fails || suite_fails ? 1 : 0;
}
