/* test_exsim.c — the Exchange simulator's server half, driven by libcurl
 * against real bin/exsim processes on 127.0.0.1: two instances (source and
 * target org) plus a TLS one; authentication, POX Autodiscover, schema
 * rejection of invalid requests, the documented requests as test vectors,
 * impersonation checks, and injection (latency, throttling, HTTP errors,
 * dropped and slow bodies) with the /_sim counters. */
#include "tests/common/testutil.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MARKER "EXSIM-SECRET-MARKER-7731"

typedef struct inst {
    pid_t pid;
    int port;
    char user[128], pass[128], token[128];
    char dump[512], log[512];
} inst;

static char *tmp;
static inst src, tgt, tls;
static char plain_pass[] = "Plain-pw-1!";
static char cert_path[512];
static int tls_ok;
static const char *extra_header;   /* one more request header for the next requests */

/* ---- HTTP client ---------------------------------------------------------- */

typedef struct resp {
    long status;
    CURLcode cc;
    char *body;
    size_t len;
    char hdrs[8192];
    size_t hlen;
    long ms;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    char *nb = realloc(r->body, r->len + sz * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, sz * n);
    r->body = nb;
    r->len += sz * n;
    r->body[r->len] = '\0';
    return sz * n;
}

static size_t on_hdr(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    size_t k = sz * n;
    if (r->hlen + k < sizeof r->hdrs) {
        memcpy(r->hdrs + r->hlen, p, k);
        r->hlen += k;
        r->hdrs[r->hlen] = '\0';
    }
    return k;
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

enum auth { A_NONE, A_BASIC, A_BAD, A_BEARER, A_PLAIN };

/* Prepare (not perform) a request on handle h. */
static struct curl_slist *prep(CURL *h, const inst *in, const char *path, const char *method,
                               const char *body, enum auth a, resp *r)
{
    char url[512];
    snprintf(url, sizeof url, "%s://127.0.0.1:%d%s", in == &tls ? "https" : "http", in->port, path);
    memset(r, 0, sizeof *r);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (in == &tls)
        curl_easy_setopt(h, CURLOPT_CAINFO, cert_path);
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(h, CURLOPT_NOBODY, !strcmp(method, "HEAD") ? 1L : 0L);
    }
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
    if (extra_header)
        hl = curl_slist_append(hl, extra_header);
    char ah[300];
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, NULL);
    curl_easy_setopt(h, CURLOPT_PASSWORD, NULL);
    if (a == A_BASIC || a == A_BAD || a == A_PLAIN) {
        curl_easy_setopt(h, CURLOPT_USERNAME, a == A_PLAIN ? "plain" : in->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, a == A_BASIC ? in->pass : a == A_PLAIN ? plain_pass : "wrong");
    } else if (a == A_BEARER) {
        snprintf(ah, sizeof ah, "Authorization: Bearer %s", in->token);
        hl = curl_slist_append(hl, ah);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    return hl;
}

static void finish(CURL *h, resp *r, CURLcode cc, long t0)
{
    r->cc = cc;
    r->ms = now_ms() - t0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
}

static void do_req_on(CURL *h, const inst *in, const char *path, const char *method,
                      const char *body, enum auth a, resp *r)
{
    struct curl_slist *hl = prep(h, in, path, method, body, a, r);
    long t0 = now_ms();
    finish(h, r, curl_easy_perform(h), t0);
    curl_slist_free_all(hl);
}

static void do_req(const inst *in, const char *path, const char *method, const char *body,
                   enum auth a, resp *r)
{
    CURL *h = curl_easy_init();
    do_req_on(h, in, path, method, body, a, r);
    curl_easy_cleanup(h);
}

static void ews(const inst *in, const char *body, resp *r)
{
    do_req(in, "/EWS/Exchange.asmx", "POST", body, A_BASIC, r);
}

static void sim(const inst *in, const char *path_query)
{
    resp r;
    do_req(in, path_query, "POST", "", A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
}

/* A number from the flat stats JSON: the first "key":N after `after`. */
static long stat_num(const inst *in, const char *after, const char *key)
{
    resp r;
    do_req(in, "/_sim/stats", "GET", NULL, A_NONE, &r);
    long v = -1;
    const char *p = r.body ? r.body : "";
    if (after)
        p = strstr(p, after) ? strstr(p, after) : "";
    char k[200];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *q = strstr(p, k);
    if (q)
        v = strtol(q + strlen(k), NULL, 10);
    free(r.body);
    return v;
}

/* ---- envelopes --------------------------------------------------------------- */

#define ENV_OPEN "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n" \
    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" " \
    "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" " \
    "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">\n"
#define HDR2016 "<soap:Header><t:RequestServerVersion Version=\"Exchange2016\"/></soap:Header>\n"
#define GETFOLDER_INBOX "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>" \
    "<m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>"

static char *envelope(const char *header, const char *op)
{
    return sr_asprintf(ENV_OPEN "%s<soap:Body>%s</soap:Body></soap:Envelope>", header ? header : "", op);
}

static char *impersonating(const char *addr)
{
    char *h = sr_asprintf("<soap:Header><t:RequestServerVersion Version=\"Exchange2016\"/>"
                          "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>%s"
                          "</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></soap:Header>", addr);
    char *e = envelope(h, GETFOLDER_INBOX);
    free(h);
    return e;
}

static char *autod(const char *addr, const char *elem)
{
    return sr_asprintf("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover xmlns=\""
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request>"
        "<%s>%s</%s><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/"
        "outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>", elem, addr, elem);
}

static int has(const resp *r, const char *s)
{
    return r->body && strstr(r->body, s) != NULL;
}

/* ---- instances ----------------------------------------------------------------- */

static int run_py(char *const argv[])
{
    char log[600];
    snprintf(log, sizeof log, "%s/py.log", tmp);
    return tu_run(argv, log, 60000);
}

/* Read the seed's first account; add a "plain" account without rights. */
static int prepare_seed(const char *path, inst *in)
{
    xmlDocPtr d = xmlReadFile(path, NULL, XML_PARSE_NONET);
    if (!d)
        return -1;
    xmlNodePtr root = xmlDocGetRootElement(d), acc = NULL;
    for (xmlNodePtr c = root->children; c && !acc; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "account"))
            acc = c;
    if (!acc) {
        xmlFreeDoc(d);
        return -1;
    }
    xmlChar *u = xmlGetProp(acc, BAD_CAST "name"), *p = xmlGetProp(acc, BAD_CAST "password"),
            *t = xmlGetProp(acc, BAD_CAST "token");
    snprintf(in->user, sizeof in->user, "%s", u ? (char *)u : "");
    snprintf(in->pass, sizeof in->pass, "%s", p ? (char *)p : "");
    snprintf(in->token, sizeof in->token, "%s", t ? (char *)t : "");
    xmlFree(u);
    xmlFree(p);
    xmlFree(t);
    xmlNodePtr plain = xmlNewNode(NULL, BAD_CAST "account");
    xmlNewProp(plain, BAD_CAST "name", BAD_CAST "plain");
    xmlNewProp(plain, BAD_CAST "password", BAD_CAST plain_pass);
    xmlNewProp(plain, BAD_CAST "full-access", BAD_CAST "0");
    xmlNewProp(plain, BAD_CAST "impersonation", BAD_CAST "0");
    xmlAddNextSibling(acc, plain);
    int rc = xmlSaveFile(path, d) > 0 ? 0 : -1;
    xmlFreeDoc(d);
    return rc;
}

static int start(inst *in, const char *name, const char *seed, const char *extra1, const char *extra2)
{
    char port_file[600], schemas[600], getredir[100];
    snprintf(port_file, sizeof port_file, "%s/%s.port", tmp, name);
    snprintf(in->dump, sizeof in->dump, "%s/%s.dump.xml", tmp, name);
    snprintf(in->log, sizeof in->log, "%s/%s.log", tmp, name);
    snprintf(schemas, sizeof schemas, "%s/protocol/ews", tu_shared());
    snprintf(getredir, sizeof getredir, "https://autodiscover.%s.test/autodiscover/autodiscover.xml", name);
    char *exe = sr_asprintf("%s/exsim", tu_bin());
    char *argv[] = { exe, "--seed", (char *)seed, "--port", "0", "--port-file", port_file,
                     "--schemas", schemas, "--validate-responses", "--dump-on-exit", in->dump,
                     "--get-redirect", getredir, "--redirect-url", "elsewhere.test=https://127.0.0.1:9/x",
                     (char *)extra1, (char *)extra2, NULL };
    in->pid = tu_spawn(argv, in->log);
    free(exe);
    for (int i = 0; i < 500 && in->pid > 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            int ok = fscanf(f, "%d", &in->port) == 1;
            fclose(f);
            if (ok && in->port > 0)
                return tu_wait_port(in->port, 5000);
        }
        if (waitpid(in->pid, NULL, WNOHANG) == in->pid) {
            in->pid = 0;
            return -1;
        }
        usleep(20000);
    }
    return -1;
}

static int make_cert(void)
{
    char key[600], subj[] = "/CN=127.0.0.1";
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", tmp);
    snprintf(key, sizeof key, "%s/key.pem", tmp);
    char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                     "-out", cert_path, "-days", "2", "-subj", subj,
                     "-addext", "subjectAltName=IP:127.0.0.1", NULL };
    char log[600];
    snprintf(log, sizeof log, "%s/openssl.log", tmp);
    return tu_run(argv, log, 60000);
}

static int suite_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tmp = tu_mkdtemp("exsim");
    if (!tmp)
        return -1;
    char org[600], s_seed[600], t_seed[600], orggen[600], seedgen[600];
    snprintf(org, sizeof org, "%s/org.json", tmp);
    snprintf(s_seed, sizeof s_seed, "%s/source.xml", tmp);
    snprintf(t_seed, sizeof t_seed, "%s/target.xml", tmp);
    snprintf(orggen, sizeof orggen, "%s/tests/lab/orggen.py", tu_root());
    snprintf(seedgen, sizeof seedgen, "%s/tests/exsim/seedgen.py", tu_root());
    char *g[] = { "/usr/bin/python3", orggen, "--users", "3", "--rooms", "3", "--equipment", "1",
                  "--seed", "1", "-o", org, NULL };
    char *s1[] = { "/usr/bin/python3", seedgen, "--org", org, "--side", "source", "-o", s_seed, NULL };
    char *s2[] = { "/usr/bin/python3", seedgen, "--org", org, "--side", "target", "-o", t_seed, NULL };
    if (run_py(g) || run_py(s1) || run_py(s2)) {
        fprintf(stderr, "test_exsim: orggen/seedgen failed (see %s/py.log)\n", tmp);
        return -1;
    }
    if (prepare_seed(s_seed, &src) || prepare_seed(t_seed, &tgt))
        return -1;
    if (start(&src, "src", s_seed, "--max-request-bytes=1048576", NULL) ||
        start(&tgt, "tgt", t_seed, NULL, NULL)) {
        fprintf(stderr, "test_exsim: %s/exsim did not start (logs kept in %s)\n", tu_bin(), tmp);
        if (src.pid > 0)
            tu_stop(src.pid, 5000);
        if (tgt.pid > 0)
            tu_stop(tgt.pid, 5000);
        return -1;
    }
    char key[600];
    snprintf(key, sizeof key, "%s/key.pem", tmp);
    tls = tgt;
    if (make_cert() == 0) {
        char *kc = sr_asprintf("--tls-key=%s", key), *cc = sr_asprintf("--tls-cert=%s", cert_path);
        tls_ok = start(&tls, "tls", t_seed, cc, kc) == 0;
        free(kc);
        free(cc);
    }
    return 0;
}

static int suite_clean(void)
{
    if (tls.pid > 0 && tls.pid != tgt.pid)   /* tls starts as a copy of tgt */
        tu_stop(tls.pid, 5000);
    if (tgt.pid > 0)
        tu_stop(tgt.pid, 5000);
    if (src.pid > 0)
        tu_stop(src.pid, 5000);
    if (tmp && !getenv("EXSIM_KEEP"))
        tu_rm_rf(tmp);
    free(tmp);
    curl_global_cleanup();
    return 0;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_auth(void)
{
    char *b = envelope(HDR2016, GETFOLDER_INBOX);
    resp r;
    do_req(&src, "/EWS/Exchange.asmx", "POST", b, A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 401);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.hdrs, "WWW-Authenticate: Negotiate"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.hdrs, "WWW-Authenticate: NTLM"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.hdrs, "WWW-Authenticate: Basic realm="));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.hdrs, "WWW-Authenticate: Bearer "));
    free(r.body);
    do_req(&src, "/EWS/Exchange.asmx", "POST", b, A_BAD, &r);
    CU_ASSERT_EQUAL(r.status, 401);
    free(r.body);
    do_req(&src, "/EWS/Exchange.asmx", "POST", b, A_BEARER, &r);
    CU_ASSERT_NOT_EQUAL(r.status, 401);
    CU_ASSERT_TRUE(has(&r, "ServerVersionInfo"));
    free(r.body);
    /* the other org's token is not valid here */
    inst other = src;
    snprintf(other.token, sizeof other.token, "%s", tgt.token);
    do_req(&other, "/EWS/Exchange.asmx", "POST", b, A_BEARER, &r);
    CU_ASSERT_EQUAL(r.status, 401);
    free(r.body);
    ews(&src, b, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(has(&r, "MajorBuildNumber=\"2507\""));
    free(r.body);
    free(b);
}

static void test_autodiscover(void)
{
    resp r;
    char *q = autod("user-0001@tgt.test", "EMailAddress");
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 401);
    free(r.body);
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_EQUAL(r.status, 200);
    char ews_url[128];
    snprintf(ews_url, sizeof ews_url, "<EwsUrl>http://127.0.0.1:%d/EWS/Exchange.asmx</EwsUrl>", tgt.port);
    CU_ASSERT_TRUE(has(&r, ews_url));
    CU_ASSERT_TRUE(has(&r, "<Action>settings</Action>"));
    CU_ASSERT_TRUE(has(&r, "<AutoDiscoverSMTPAddress>user-0001@tgt.test</AutoDiscoverSMTPAddress>"));
    CU_ASSERT_TRUE(has(&r, "@tgt.test</Server>"));
    CU_ASSERT_TRUE(has(&r, "<Type>EXPR</Type>"));
    CU_ASSERT_TRUE(has(&r, "responseschema/2006a"));
    CU_ASSERT_FALSE(has(&r, "<Type>EXHTTP</Type>"));
    CU_ASSERT_FALSE(has(&r, "mapiHttp"));
    free(r.body);
    q = autod("user-0001@tgt.test", "EMailAddress");
    extra_header = "X-ClientCanHandle: Negotiate, ExHttpInfo";
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    CU_ASSERT_TRUE(has(&r, "<Type>EXHTTP</Type>"));
    free(r.body);
    extra_header = "X-MapiHttpCapability: 1";
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    extra_header = NULL;
    free(q);
    CU_ASSERT_TRUE(has(&r, "<Protocol Type=\"mapiHttp\" Version=\"1\">"));
    CU_ASSERT_TRUE(has(&r, "/mapi/emsmdb/?MailboxId="));
    free(r.body);
    /* migrated source mailbox: redirectAddr to its target address */
    q = autod("user-0001@src.test", "EMailAddress");
    do_req(&src, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_TRUE(has(&r, "<Action>redirectAddr</Action>"));
    CU_ASSERT_TRUE(has(&r, "<RedirectAddr>user-0001@tgt.test</RedirectAddr>"));
    free(r.body);
    /* by legacyExchangeDN */
    q = autod("/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=equip-0001",
              "LegacyDN");
    do_req(&src, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_TRUE(has(&r, "<AutoDiscoverSMTPAddress>equip-0001@src.test<"));
    free(r.body);
    q = autod("nobody@src.test", "EMailAddress");
    do_req(&src, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_TRUE(has(&r, "<ErrorCode>500</ErrorCode>"));
    CU_ASSERT_TRUE(has(&r, "The e-mail address cannot be found."));
    free(r.body);
    q = autod("someone@elsewhere.test", "EMailAddress");
    do_req(&src, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_TRUE(has(&r, "<Action>redirectUrl</Action>"));
    CU_ASSERT_TRUE(has(&r, "<RedirectUrl>https://127.0.0.1:9/x</RedirectUrl>"));
    free(r.body);
    /* wrong AcceptableResponseSchema → 600 Invalid Request */
    q = autod("user-0001@src.test", "EMailAddress");
    char *bad = strstr(q, "2006a");
    bad[4] = 'b';
    do_req(&src, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_TRUE(has(&r, "<ErrorCode>600</ErrorCode>"));
    CU_ASSERT_TRUE(has(&r, "<Message>Invalid Request</Message>"));
    free(r.body);
    do_req(&src, "/autodiscover/autodiscover.xml", "POST", "<not-xml", A_BASIC, &r);
    CU_ASSERT_TRUE(has(&r, "<ErrorCode>600</ErrorCode>"));
    free(r.body);
    /* unauthenticated GET: 302 to the configured URL */
    do_req(&src, "/autodiscover/autodiscover.xml", "GET", NULL, A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 302);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.hdrs, "Location: https://autodiscover.src.test/autodiscover/autodiscover.xml"));
    free(r.body);
}

static void expect_schema_fault(const inst *in, const char *body, const char *what)
{
    resp r;
    ews(in, body, &r);
    int ok = r.status == 500 && has(&r, ">a:ErrorSchemaValidation</faultcode>") &&
             has(&r, "The request failed schema validation") && has(&r, "<t:Violation>") &&
             has(&r, "<e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">"
                     "ErrorSchemaValidation</e:ResponseCode>");
    if (!ok)
        fprintf(stderr, "schema case '%s': HTTP %ld: %.600s\n", what, r.status, r.body ? r.body : "");
    CU_ASSERT_TRUE(ok);
    CU_ASSERT_FALSE(has(&r, MARKER));
    free(r.body);
}

static void test_schema_rejections(void)
{
    char *b;
    b = envelope(HDR2016, "<m:GetFolder Bogus=\"1\"><m:FolderShape><t:BaseShape>Default</t:BaseShape>"
                 "</m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>");
    expect_schema_fault(&src, b, "stray attribute");
    free(b);
    b = envelope(HDR2016, "<m:GetFolder><m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds>"
                 "<m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape></m:GetFolder>");
    expect_schema_fault(&src, b, "wrong element order");
    free(b);
    /* a second operation in the Body is refused, not ignored */
    b = envelope(HDR2016, "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
                 "<m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>"
                 "<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>"
                 "<m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>");
    expect_schema_fault(&src, b, "two operations in the Body");
    free(b);
    b = envelope(HDR2016, "<m:GetEverything><m:FolderIds/></m:GetEverything>");
    expect_schema_fault(&src, b, "unknown operation");
    free(b);
    b = envelope(HDR2016, "<x:GetFolder xmlns:x=\"https://schemas.microsoft.com/exchange/services/2006/messages\">"
                 "<x:FolderShape><t:BaseShape>Default</t:BaseShape></x:FolderShape><x:FolderIds>"
                 "<t:DistinguishedFolderId Id=\"inbox\"/></x:FolderIds></x:GetFolder>");
    expect_schema_fault(&src, b, "wrong namespace");
    free(b);
    b = envelope(HDR2016, "<m:GetFolder><m:FolderShape><t:BaseShape>Everything</t:BaseShape>"
                 "</m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>");
    expect_schema_fault(&src, b, "bad enumeration value");
    free(b);
    b = envelope("<soap:Header><t:RequestServerVersion Version=\"Exchange2016\" Extra=\"x\"/></soap:Header>",
                 GETFOLDER_INBOX);
    expect_schema_fault(&src, b, "invalid SOAP header");
    free(b);
    b = envelope("<soap:Header><t:RequestServerVersion/></soap:Header>", GETFOLDER_INBOX);
    expect_schema_fault(&src, b, "header without its required attribute");
    free(b);
    expect_schema_fault(&src, "this is not XML at all", "non-XML body");
    expect_schema_fault(&src, "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>",
                        "truncated XML");
    /* external entity: the file must never be read into the request */
    char secret[600];
    snprintf(secret, sizeof secret, "%s/secret.txt", tmp);
    FILE *f = fopen(secret, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(MARKER, f);
    fclose(f);
    b = sr_asprintf("<?xml version=\"1.0\"?>\n<!DOCTYPE soap:Envelope [<!ENTITY x SYSTEM \"file://%s\">]>\n"
                    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
                    "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" "
                    "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\"><soap:Body>"
                    "<m:ResolveNames ReturnFullContactData=\"true\"><m:UnresolvedEntry>&x;</m:UnresolvedEntry>"
                    "</m:ResolveNames></soap:Body></soap:Envelope>", secret);
    expect_schema_fault(&src, b, "DTD with external entity");
    free(b);
    /* SOAP 1.2 envelope: VersionMismatch; no operation: schema fault */
    resp r;
    ews(&src, "<e:Envelope xmlns:e=\"http://www.w3.org/2003/05/soap-envelope\"><e:Body/></e:Envelope>", &r);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_TRUE(has(&r, ">s:VersionMismatch</faultcode>"));
    free(r.body);
    expect_schema_fault(&src, ENV_OPEN "<soap:Body></soap:Body></soap:Envelope>", "empty body");
    /* an unknown version (exchangelib's first probe) → ErrorInvalidServerVersion */
    b = envelope("<soap:Header><t:RequestServerVersion Version=\"Exchange2019\"/></soap:Header>", GETFOLDER_INBOX);
    ews(&src, b, &r);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_TRUE(has(&r, "ErrorInvalidServerVersion"));
    CU_ASSERT_TRUE(has(&r, "ServerVersionInfo"));
    free(r.body);
    free(b);
    CU_ASSERT_TRUE(stat_num(&src, "\"events\"", "schema_rejected") >= 10);
}

static void test_documented_examples(void)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/protocol/ews/examples", tu_shared());
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    int n = 0, rejected_ok = 0;
    struct dirent *e;
    sim(&src, "/_sim/reset-stats");
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 12 || strcmp(e->d_name + l - 12, "-request.xml") || !strncmp(e->d_name, "pox-", 4))
            continue;
        char path[900];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        sr_err err;
        char *body = sr_read_file(path, 1 << 20, NULL, &err);
        CU_ASSERT_PTR_NOT_NULL_FATAL(body);
        if (!strstr(body, "Envelope")) {     /* a bare operation element: wrap it */
            const char *op = strstr(body, "?>") ? strstr(body, "?>") + 2 : body;
            char *wrapped = envelope(HDR2016, op);
            free(body);
            body = wrapped;
        }
        resp r;
        ews(&src, body, &r);
        free(body);
        int schema_fault = has(&r, "ErrorSchemaValidation");
        int invalid_resp = has(&r, "schema-invalid");
        /* invalid in the documentation itself (protocol/README.md) */
        if (!strcmp(e->d_name, "expanddl-2-request.xml") ||
            !strcmp(e->d_name, "createuserconfiguration-howto-request.xml")) {
            CU_ASSERT_TRUE(schema_fault);
            rejected_ok += schema_fault;
        } else {
            if (schema_fault || invalid_resp || (r.status != 200 && r.status != 500)) {
                const char *why = r.body && strstr(r.body, "<faultstring") ? strstr(r.body, "<faultstring") : r.body;
                fprintf(stderr, "example %s: HTTP %ld: %.600s\n", e->d_name, r.status, why ? why : "");
            }
            CU_ASSERT_FALSE(schema_fault);
            CU_ASSERT_FALSE(invalid_resp);
            CU_ASSERT_TRUE(has(&r, "ServerVersionInfo"));
        }
        free(r.body);
        n++;
    }
    closedir(d);
    CU_ASSERT_TRUE(n >= 40);
    CU_ASSERT_EQUAL(rejected_ok, 2);
    CU_ASSERT_EQUAL(stat_num(&src, "\"events\"", "invalid_responses"), -1);
}

static void test_impersonation(void)
{
    resp r;
    char *b = impersonating("nobody@src.test");
    ews(&src, b, &r);
    free(b);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_TRUE(has(&r, "ErrorNonExistentMailbox"));
    free(r.body);
    b = impersonating("equip-0001@src.test");
    do_req(&src, "/EWS/Exchange.asmx", "POST", b, A_PLAIN, &r);
    CU_ASSERT_EQUAL(r.status, 500);
    CU_ASSERT_TRUE(has(&r, "ErrorImpersonateUserDenied"));
    free(r.body);
    ews(&src, b, &r);
    free(b);
    CU_ASSERT_FALSE(has(&r, "ErrorImpersonateUserDenied"));
    CU_ASSERT_FALSE(has(&r, "ErrorNonExistentMailbox"));
    free(r.body);
}

static void test_latency(void)
{
    char *q = autod("user-0002@tgt.test", "EMailAddress");
    resp r;
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    long base = r.ms;
    free(r.body);
    sim(&tgt, "/_sim/config?rtt_ms=250");
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    CU_ASSERT_TRUE(r.ms >= 250);
    CU_ASSERT_TRUE(has(&r, "<Action>settings</Action>"));
    free(r.body);
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_NONE, &r);   /* the challenge too */
    CU_ASSERT_EQUAL(r.status, 401);
    CU_ASSERT_TRUE(r.ms >= 250);
    free(r.body);
    sim(&tgt, "/_sim/config?rtt_ms=0");
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    CU_ASSERT_TRUE(r.ms < 250 || base >= 250);
    free(r.body);
    free(q);
}

/* Run n requests at once (curl multi); fills rs. */
static void concurrent(const inst *in, const char *path, const char *body, int n, resp *rs)
{
    CURLM *m = curl_multi_init();
    CURL *h[8];
    struct curl_slist *hl[8];
    long t0 = now_ms();
    for (int i = 0; i < n; i++) {
        h[i] = curl_easy_init();
        hl[i] = prep(h[i], in, path, "POST", body, A_BASIC, &rs[i]);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    for (int loops = 0; running && loops < 3000; loops++) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    for (int i = 0; i < n; i++) {
        finish(h[i], &rs[i], CURLE_OK, t0);
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        curl_slist_free_all(hl[i]);
    }
    curl_multi_cleanup(m);
}

static void test_throttling(void)
{
    sim(&tgt, "/_sim/reset-stats");
    sim(&tgt, "/_sim/config?max_concurrency=1&rtt_ms=800&backoff_ms=2500");
    char *b = envelope(HDR2016, GETFOLDER_INBOX);
    resp rs[3];
    concurrent(&tgt, "/EWS/Exchange.asmx", b, 3, rs);
    int busy = 0, served = 0;
    for (int i = 0; i < 3; i++) {
        if (rs[i].status == 500 && strstr(rs[i].body ? rs[i].body : "", ">a:ErrorServerBusy</faultcode>") &&
            strstr(rs[i].body, "<t:Value Name=\"BackOffMilliseconds\">2500</t:Value>"))
            busy++;
        else if (rs[i].status == 200)
            served++;
        free(rs[i].body);
    }
    CU_ASSERT_TRUE(busy >= 1);
    CU_ASSERT_TRUE(served >= 1);
    CU_ASSERT_TRUE(stat_num(&tgt, "\"events\"", "throttled") >= 1);
    CU_ASSERT_TRUE(stat_num(&tgt, NULL, "max_in_flight") >= 2);
    /* without the limit all three are served concurrently */
    sim(&tgt, "/_sim/reset-stats");
    sim(&tgt, "/_sim/config?max_concurrency=0&rtt_ms=600");
    long t0 = now_ms();
    concurrent(&tgt, "/EWS/Exchange.asmx", b, 3, rs);
    long took = now_ms() - t0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(rs[i].status, 200);
        free(rs[i].body);
    }
    CU_ASSERT_TRUE(took < 1500);   /* 3 x 600 ms would be serial */
    CU_ASSERT_EQUAL(stat_num(&tgt, NULL, "max_in_flight"), 3);
    sim(&tgt, "/_sim/config?reset=1");
    free(b);
}

static void test_faults(void)
{
    char *b = envelope(HDR2016, GETFOLDER_INBOX);
    resp r;
    sim(&tgt, "/_sim/config?fail_nth=2&fail_status=503");
    ews(&tgt, b, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
    ews(&tgt, b, &r);
    CU_ASSERT_EQUAL(r.status, 503);
    free(r.body);
    ews(&tgt, b, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
    /* a rate with a seed: some fail, some do not, reproducibly */
    int fails[2] = { 0, 0 };
    for (int round = 0; round < 2; round++) {
        sim(&tgt, "/_sim/config?reset=1&fail_rate=0.5&fail_seed=7&fail_status=500");
        for (int i = 0; i < 20; i++) {
            ews(&tgt, b, &r);
            fails[round] += r.status == 500 && !has(&r, "ServerVersionInfo");
            free(r.body);
        }
    }
    CU_ASSERT_TRUE(fails[0] > 0 && fails[0] < 20);
    CU_ASSERT_EQUAL(fails[0], fails[1]);
    /* dropped connection mid-body: the client sees a transfer error */
    sim(&tgt, "/_sim/config?reset=1&drop_nth=1");
    ews(&tgt, b, &r);
    CU_ASSERT_TRUE(r.cc == CURLE_PARTIAL_FILE || r.cc == CURLE_RECV_ERROR);
    free(r.body);
    ews(&tgt, b, &r);
    CU_ASSERT_EQUAL(r.cc, CURLE_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
    /* slow body: the same answer, trickled */
    sim(&tgt, "/_sim/config?reset=1&slow_body_ms=150");
    ews(&tgt, b, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(r.len > 512 ? r.ms >= 150 : 1);
    CU_ASSERT_TRUE(has(&r, "</s:Envelope>"));
    free(r.body);
    sim(&tgt, "/_sim/config?reset=1");
    resp bad;
    do_req(&tgt, "/_sim/config?rtt_ms=banana", "POST", "", A_NONE, &bad);
    CU_ASSERT_EQUAL(bad.status, 400);
    CU_ASSERT_TRUE(has(&bad, "rtt_ms"));
    free(bad.body);
    free(b);
}

static void test_stats_and_round_trips(void)
{
    sim(&tgt, "/_sim/reset-stats");
    char *q = autod("room-0001@tgt.test", "EMailAddress");
    CURL *h = curl_easy_init();
    resp r;
    for (int i = 0; i < 3; i++) {
        do_req_on(h, &tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
        CU_ASSERT_EQUAL(r.status, 200);
        free(r.body);
    }
    curl_easy_cleanup(h);
    /* keep-alive: one connection for the three, one for this stats GET */
    CU_ASSERT_EQUAL(stat_num(&tgt, NULL, "connections"), 2);
    CU_ASSERT_EQUAL(stat_num(&tgt, NULL, "requests_total"), 3);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0001@tgt.test", "round_trips"), 3);
    /* three at once add one dependent round trip, not three */
    sim(&tgt, "/_sim/config?rtt_ms=600");
    resp rs[3];
    concurrent(&tgt, "/autodiscover/autodiscover.xml", q, 3, rs);
    for (int i = 0; i < 3; i++)
        free(rs[i].body);
    sim(&tgt, "/_sim/config?reset=1");
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0001@tgt.test", "requests"), 6);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0001@tgt.test", "round_trips"), 4);
    CU_ASSERT_TRUE(stat_num(&tgt, NULL, "bytes_out") > 1000);
    CU_ASSERT_EQUAL(stat_num(&tgt, NULL, "Autodiscover"), 6);
    free(q);
    /* EWS: the mailbox the handler touched is counted */
    char *imp = impersonating("room-0002@tgt.test");
    for (int i = 0; i < 2; i++) {
        ews(&tgt, imp, &r);
        CU_ASSERT_EQUAL(r.status, 200);
        free(r.body);
    }
    free(imp);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0002@tgt.test", "round_trips"), 2);
    CU_ASSERT_EQUAL(stat_num(&tgt, NULL, "GetFolder"), 2);
    do_req(&tgt, "/_sim/state", "GET", NULL, A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(has(&r, "room-0001@tgt.test"));
    free(r.body);
}


/* A TCP connection to in, opened now (-1 on failure); reads time out. */
static int open_raw(const inst *in)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)in->port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { .tv_sec = 10 };
    if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
                    connect(fd, (struct sockaddr *)&a, sizeof a))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* POST body to path on the open connection fd with in's bearer token; the
 * answer's status (0 if none came). Closes fd. */
static int raw_post(int fd, const inst *in, const char *path, const char *body)
{
    char *req = sr_asprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                            "Content-Type: text/xml; charset=utf-8\r\nContent-Length: %zu\r\n"
                            "Connection: close\r\n\r\n%s", path, in->token, strlen(body), body);
    int status = 0;
    if (write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n > 12) {
            buf[n] = '\0';
            status = atoi(buf + 9);   /* "HTTP/1.1 200" */
        }
        for (int i = 0; i < 1000 && n > 0; i++)   /* drain to EOF */
            n = read(fd, buf, sizeof buf);
    }
    free(req);
    close(fd);
    return status;
}

/* A client that sends two requests at once, the second on a connection it
 * is still opening, waits one round trip, not two: the second request began
 * when its connection was opened, even if its bytes came after the first
 * answer (a slow handshake). */
static void test_round_trip_on_new_connection(void)
{
    sim(&tgt, "/_sim/reset-stats");
    char *q = autod("room-0003@tgt.test", "EMailAddress");
    int fd = open_raw(&tgt);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    resp r;
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BEARER, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
    CU_ASSERT_EQUAL(raw_post(fd, &tgt, "/autodiscover/autodiscover.xml", q), 200);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0003@tgt.test", "requests"), 2);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0003@tgt.test", "round_trips"), 1);
    /* a request sent after the answer on a connection opened after it is
     * a dependent step */
    CU_ASSERT_EQUAL(raw_post(open_raw(&tgt), &tgt, "/autodiscover/autodiscover.xml", q), 200);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0003@tgt.test", "round_trips"), 2);
    free(q);
}

/* An unauthenticated POST on the open connection fd, kept open: the status
 * of the answer (a logon leg: 401), its whole answer read. */
static int raw_challenge(int fd, const char *path, const char *body)
{
    char *req = sr_asprintf("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml; "
                            "charset=utf-8\r\nContent-Length: %zu\r\n\r\n%s", path, strlen(body), body);
    int status = 0;
    char buf[8192];
    size_t got = 0;
    if (write(fd, req, strlen(req)) == (ssize_t)strlen(req)) {
        for (int i = 0; i < 100 && got < sizeof buf - 1; i++) {   /* headers, then the body */
            ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = '\0';
            const char *end = strstr(buf, "\r\n\r\n");
            const char *cl = strcasestr(buf, "Content-Length:");
            if (end && cl && got >= (size_t)(end + 4 - buf) + strtoul(cl + 15, NULL, 10))
                break;
        }
        if (got > 12)
            status = atoi(buf + 9);
    }
    free(req);
    return status;
}

/* The same with a logon leg first on the new connection (NTLM's NEGOTIATE →
 * 401 CHALLENGE before the request itself): the handshake still does not
 * make the request a step of its own. */
static void test_round_trip_after_logon_leg(void)
{
    sim(&tgt, "/_sim/reset-stats");
    char *q = autod("room-0003@tgt.test", "EMailAddress");
    int fd = open_raw(&tgt);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    resp r;
    do_req(&tgt, "/autodiscover/autodiscover.xml", "POST", q, A_BEARER, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
    CU_ASSERT_EQUAL(raw_challenge(fd, "/autodiscover/autodiscover.xml", q), 401);
    CU_ASSERT_EQUAL(raw_post(fd, &tgt, "/autodiscover/autodiscover.xml", q), 200);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0003@tgt.test", "requests"), 2);
    CU_ASSERT_EQUAL(stat_num(&tgt, "room-0003@tgt.test", "round_trips"), 1);
    free(q);
}

/* ---- /_sim/state?stable=1 ------------------------------------------------------ */

/* One EWS operation on room-0001@tgt.test (impersonated); the answer's
 * first ItemId (heap) when want_id, else NULL. */
static char *room_op(const char *op, int want_id)
{
    char *env = sr_asprintf(ENV_OPEN "<soap:Header><t:RequestServerVersion Version=\"Exchange2016\"/>"
                            "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>"
                            "room-0001@tgt.test</t:PrimarySmtpAddress></t:ConnectingSID>"
                            "</t:ExchangeImpersonation></soap:Header><soap:Body>%s</soap:Body>"
                            "</soap:Envelope>", op);
    resp r;
    ews(&tgt, env, &r);
    free(env);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_TRUE(has(&r, "NoError"));
    char *id = NULL;
    const char *p = want_id && r.body ? strstr(r.body, "ItemId Id=\"") : NULL;
    if (p) {
        p += strlen("ItemId Id=\"");
        id = strndup(p, strcspn(p, "\""));
    }
    free(r.body);
    return id;
}

static char *create_mail(const char *subject)
{
    char *op = sr_asprintf("<m:CreateItem MessageDisposition=\"SaveOnly\"><m:SavedItemFolderId>"
                           "<t:DistinguishedFolderId Id=\"inbox\"/></m:SavedItemFolderId><m:Items>"
                           "<t:Message><t:Subject>%s</t:Subject></t:Message></m:Items></m:CreateItem>",
                           subject);
    char *id = room_op(op, 1);
    free(op);
    CU_ASSERT_PTR_NOT_NULL(id);
    return id;
}

static void set_subject(const char *id, const char *subject)
{
    char *op = sr_asprintf("<m:UpdateItem MessageDisposition=\"SaveOnly\" ConflictResolution="
                           "\"AlwaysOverwrite\"><m:ItemChanges><t:ItemChange><t:ItemId Id=\"%s\"/>"
                           "<t:Updates><t:SetItemField><t:FieldURI FieldURI=\"item:Subject\"/>"
                           "<t:Message><t:Subject>%s</t:Subject></t:Message></t:SetItemField>"
                           "</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>", id, subject);
    free(room_op(op, 0));
    free(op);
}

static void delete_mail(const char *id)
{
    char *op = sr_asprintf("<m:DeleteItem DeleteType=\"HardDelete\"><m:ItemIds><t:ItemId Id=\"%s\"/>"
                           "</m:ItemIds></m:DeleteItem>", id);
    free(room_op(op, 0));
    free(op);
}

static char *state_dump(const char *query)
{
    resp r;
    char path[64];
    snprintf(path, sizeof path, "/_sim/state%s", query);
    do_req(&tgt, path, "GET", NULL, A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    return r.body ? r.body : strdup("");
}

/* The stable dump leaves out only what every write assigns anew (the item's
 * version, the next-id counters): an update undone and an item created and
 * deleted leave it byte-identical, while the full dump shows both, and a
 * real change shows in it. */
static void test_stable_state(void)
{
    char *s0 = state_dump("?stable=1");   /* before any write to the target */
    char *x = create_mail("stable A");
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    char *s1 = state_dump("?stable=1"), *f1 = state_dump("");
    CU_ASSERT_PTR_NULL(strstr(s1, "\" version=\""));
    CU_ASSERT_PTR_NULL(strstr(s1, "next-id=\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(f1, "next-id=\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(s1, " id=\""));      /* object ids stay */
    CU_ASSERT_PTR_NOT_NULL(strstr(s1, "stable A"));

    set_subject(x, "stable B");
    char *s2 = state_dump("?stable=1");
    CU_ASSERT_STRING_NOT_EQUAL(s1, s2);                 /* content changes show */
    CU_ASSERT_PTR_NOT_NULL(strstr(s2, "stable B"));
    set_subject(x, "stable A");
    char *s3 = state_dump("?stable=1"), *f3 = state_dump("?stable=0");
    CU_ASSERT_STRING_EQUAL(s1, s3);
    CU_ASSERT_STRING_NOT_EQUAL(f1, f3);                 /* the version moved */
    CU_ASSERT_PTR_NOT_NULL(strstr(f3, " version=\"3\""));

    char *y = create_mail("stable C");
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    delete_mail(y);
    char *s4 = state_dump("?stable=1");
    CU_ASSERT_STRING_EQUAL(s1, s4);                     /* next-id moved, hidden */

    /* a rule created and removed: the rules' next-id moved, hidden; a rule
     * list rewritten leaves no trace either */
    free(room_op("<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>true</m:RemoveOutlookRuleBlob>"
                 "<m:Operations><t:CreateRuleOperation><t:Rule><t:DisplayName>stable rule"
                 "</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled>"
                 "<t:Conditions><t:ContainsSubjectStrings><t:String>x</t:String>"
                 "</t:ContainsSubjectStrings></t:Conditions><t:Actions><t:Delete>true</t:Delete>"
                 "</t:Actions></t:Rule></t:CreateRuleOperation></m:Operations></m:UpdateInboxRules>", 0));
    char *s5 = state_dump("?stable=1");
    const char *name = strstr(s5, "stable rule<");
    const char *rid = NULL;   /* the RuleId just before the new rule's name */
    for (const char *p = strstr(s5, "<t:RuleId>"); p && name && p < name; p = strstr(p + 1, "<t:RuleId>"))
        rid = p;
    CU_ASSERT_PTR_NOT_NULL_FATAL(rid);
    rid += strlen("<t:RuleId>");
    char *op = sr_asprintf("<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>true</m:RemoveOutlookRuleBlob>"
                           "<m:Operations><t:DeleteRuleOperation><t:RuleId>%.*s</t:RuleId>"
                           "</t:DeleteRuleOperation></m:Operations></m:UpdateInboxRules>",
                           (int)strcspn(rid, "<"), rid);
    free(room_op(op, 0));
    free(op);
    char *s6 = state_dump("?stable=1");
    CU_ASSERT_STRING_EQUAL(s1, s6);
    free(s5);
    free(s6);

    resp r;
    do_req(&tgt, "/_sim/state?stable=yes", "GET", NULL, A_NONE, &r);
    CU_ASSERT_EQUAL(r.status, 400);
    free(r.body);
    delete_mail(x);
    char *s7 = state_dump("?stable=1");
    CU_ASSERT_STRING_EQUAL(s0, s7);   /* the writes left no trace (no stray declaration) */
    free(s0);
    free(s7);
    free(x);
    free(y);
    free(s1);
    free(f1);
    free(s2);
    free(s3);
    free(f3);
    free(s4);
}

static void test_tls(void)
{
    CU_ASSERT_TRUE_FATAL(tls_ok);
    char *q = autod("user-0001@tgt.test", "EMailAddress");
    resp r;
    do_req(&tls, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
    free(q);
    CU_ASSERT_EQUAL(r.cc, CURLE_OK);
    char ews_url[128];
    snprintf(ews_url, sizeof ews_url, "<EwsUrl>https://127.0.0.1:%d/EWS/Exchange.asmx</EwsUrl>", tls.port);
    CU_ASSERT_TRUE(has(&r, ews_url));
    CU_ASSERT_TRUE(has(&r, "<SSL>On</SSL>"));
    free(r.body);
}

/* Last: SIGTERM stops the source cleanly and dumps its state. */
static void test_stop_and_dump(void)
{
    int st = tu_stop(src.pid, 5000);
    src.pid = 0;
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    sr_err e;
    char *dump = sr_read_file(src.dump, 16 << 20, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dump);
    CU_ASSERT_PTR_NOT_NULL(strstr(dump, "user-0001@src.test"));
    free(dump);
    char *log = sr_read_file(src.log, 1 << 20, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(log && strstr(log, "exsim: listening on http://127.0.0.1:"));
    CU_ASSERT_PTR_NULL(log ? strstr(log, src.pass) : NULL);   /* no secret in the log */
    free(log);
}

static void test_request_limit(void)
{
    size_t n = 1100000;
    char *big = malloc(n + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    memset(big, ' ', n);
    big[n] = '\0';
    memcpy(big, "<x>", 3);
    resp r;
    ews(&src, big, &r);
    CU_ASSERT_EQUAL(r.status, 413);
    free(r.body);
    free(big);
    char *b = envelope(HDR2016, GETFOLDER_INBOX);   /* the connection pool still works */
    ews(&src, b, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    free(r.body);
    free(b);
}

/* A fleet bench counts 10,000 rooms (BENCHMARKS.md, issue 13 goal 5): every
 * mailbox that had a request is in /_sim/stats, beyond the 4,096 the counters
 * once held (the rest were dropped silently, so d covered the first 4,096). */
#define MANY_ROOMS 4200
static void test_stats_many_mailboxes(void)
{
    char org[600], seed[600], orggen[600], seedgen[600], rooms[16];
    snprintf(org, sizeof org, "%s/many-org.json", tmp);
    snprintf(seed, sizeof seed, "%s/many.xml", tmp);
    snprintf(orggen, sizeof orggen, "%s/tests/lab/orggen.py", tu_root());
    snprintf(seedgen, sizeof seedgen, "%s/tests/exsim/seedgen.py", tu_root());
    snprintf(rooms, sizeof rooms, "%d", MANY_ROOMS);
    char *g[] = { "/usr/bin/python3", orggen, "--users", "1", "--rooms", rooms, "--equipment", "0",
                  "--seed", "1", "--unmigrated-every", "0", "--no-problems", "-o", org, NULL };
    char *sg[] = { "/usr/bin/python3", seedgen, "--org", org, "--side", "target", "-o", seed, NULL };
    CU_ASSERT_EQUAL_FATAL(run_py(g), 0);
    CU_ASSERT_EQUAL_FATAL(run_py(sg), 0);
    inst many = { 0 };
    CU_ASSERT_EQUAL_FATAL(prepare_seed(seed, &many), 0);
    CU_ASSERT_EQUAL_FATAL(start(&many, "many", seed, NULL, NULL), 0);
    CURL *h = curl_easy_init();
    int ok = 0;
    for (int i = 1; i <= MANY_ROOMS; i++) {   /* one keep-alive connection: ~1 s */
        char addr[64];
        snprintf(addr, sizeof addr, "room-%04d@tgt.test", i);
        char *q = autod(addr, "EMailAddress");
        resp r;
        do_req_on(h, &many, "/autodiscover/autodiscover.xml", "POST", q, A_BASIC, &r);
        ok += r.status == 200;
        free(r.body);
        free(q);
    }
    curl_easy_cleanup(h);
    CU_ASSERT_EQUAL(ok, MANY_ROOMS);
    resp r;
    do_req(&many, "/_sim/stats", "GET", NULL, A_NONE, &r);
    int counted = 0;
    for (const char *p = r.body ? r.body : ""; (p = strstr(p, "\"round_trips\":")); p++)
        counted++;
    free(r.body);
    CU_ASSERT_EQUAL(counted, MANY_ROOMS);
    CU_ASSERT_EQUAL(stat_num(&many, "\"room-4200@tgt.test\"", "requests"), 1);
    CU_ASSERT_EQUAL(stat_num(&many, "\"room-0001@tgt.test\"", "requests"), 1);
    CU_ASSERT_EQUAL(tu_stop(many.pid, 20000), 0);
}

/* Without schemas the simulator still serves, but says loudly that it
 * does not validate. */
static void test_without_schemas(void)
{
    char seed[600], port_file[600], log[600];
    snprintf(seed, sizeof seed, "%s/target.xml", tmp);
    snprintf(port_file, sizeof port_file, "%s/noschema.port", tmp);
    snprintf(log, sizeof log, "%s/noschema.log", tmp);
    char *exe = sr_asprintf("%s/exsim", tu_bin());
    char *argv[] = { exe, "--seed", seed, "--port", "0", "--port-file", port_file,
                     "--schemas", "/nonexistent/ews", NULL };
    inst ns = tgt;
    ns.pid = tu_spawn(argv, log);
    free(exe);
    ns.port = 0;
    for (int i = 0; i < 500 && ns.port <= 0; i++) {
        FILE *f = fopen(port_file, "r");
        if (f) {
            if (fscanf(f, "%d", &ns.port) != 1)
                ns.port = 0;
            fclose(f);
        }
        if (ns.port <= 0)
            usleep(20000);
    }
    CU_ASSERT_TRUE_FATAL(ns.port > 0);
    char *b = envelope(HDR2016, "<m:GetFolder Bogus=\"1\"><m:FolderShape><t:BaseShape>Default</t:BaseShape>"
                       "</m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></m:FolderIds></m:GetFolder>");
    resp r;
    ews(&ns, b, &r);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_FALSE(has(&r, "ErrorSchemaValidation"));
    free(r.body);
    free(b);
    CU_ASSERT_EQUAL(tu_stop(ns.pid, 5000), 0);
    sr_err e;
    char *text = sr_read_file(log, 1 << 20, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(text && strstr(text, "WARNING") && strstr(text, "NOT validated"));
    free(text);
}

static void test_bad_command_lines(void)
{
    char *exe = sr_asprintf("%s/exsim", tu_bin());
    char *a1[] = { exe, "--port", "0", NULL };
    CU_ASSERT_EQUAL(tu_run(a1, "/dev/null", 10000), 2);
    char *a2[] = { exe, "--seed", "/nonexistent/seed.xml", NULL };
    CU_ASSERT_EQUAL(tu_run(a2, "/dev/null", 10000), 1);
    char *a3[] = { exe, "--seed", "x", "--fail-rate", "2", NULL };
    CU_ASSERT_EQUAL(tu_run(a3, "/dev/null", 10000), 2);
    free(exe);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("exsim server", suite_init, suite_clean);
    CU_add_test(s, "authentication", test_auth);
    CU_add_test(s, "POX autodiscover", test_autodiscover);
    CU_add_test(s, "schema rejections", test_schema_rejections);
    CU_add_test(s, "documented requests", test_documented_examples);
    CU_add_test(s, "impersonation", test_impersonation);
    CU_add_test(s, "latency", test_latency);
    CU_add_test(s, "throttling", test_throttling);
    CU_add_test(s, "faults", test_faults);
    CU_add_test(s, "stats and round trips", test_stats_and_round_trips);
    CU_add_test(s, "a round trip on a new connection", test_round_trip_on_new_connection);
    CU_add_test(s, "a round trip after a logon leg", test_round_trip_after_logon_leg);
    CU_add_test(s, "stable state dump", test_stable_state);
    CU_add_test(s, "tls", test_tls);
    CU_add_test(s, "request size limit", test_request_limit);
    CU_add_test(s, "without schemas", test_without_schemas);
    CU_add_test(s, "stats count every mailbox, more than 4,096", test_stats_many_mailboxes);
    CU_add_test(s, "bad command lines", test_bad_command_lines);
    CU_add_test(s, "stop and dump", test_stop_and_dump);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    /* a suite whose set-up failed ran nothing: that is a failure too */
    int failed = (int)CU_get_number_of_failures() + (int)CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
