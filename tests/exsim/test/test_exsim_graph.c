/* test_exsim_graph.c — the simulator's Microsoft Graph half against a real
 * bin/exsim: app-only RS256 JWTs minted here for a key set in a JWKS file
 * (aud https://graph.microsoft.com, the roles each case needs), refusals
 * (401 without or with a wrong token, 403 without the endpoint's role),
 * users by UPN, id and $filter, messageRules and calendarPermissions round
 * trips seen in /_sim/state and by EWS, mailboxSettings, $batch with
 * dependsOn and 424, and 429 with Retry-After (injected and past 4
 * concurrent requests per mailbox); bodies against the v1.0 CSDL; and the
 * glewlwyd lab's own Graph tokens (tests/lab/entra-lab.sh) accepted. */
#include "tests/common/testutil.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ISSUER "https://sts.windows.net/0b1f2d1e-graph-test/"
#define GRAPH "https://graph.microsoft.com"
#define ALL_ROLES "[\"User.Read.All\",\"MailboxSettings.ReadWrite\",\"Calendars.ReadWrite\",\"Mail.ReadWrite\"," \
                  "\"MailboxConfigItem.ReadWrite\",\"Contacts.ReadWrite\"]"

static char *tmp;
static tu_exsim sim;
static EVP_PKEY *key;
static char *tok_all, *tok_norole, *tok_ews, *tok_expired, *tok_mbs_only;
static char admin_user[64], admin_pass[128];
static tu_seed_mbx mbx[16];

/* ---- JWTs ---------------------------------------------------------------------- */

static char *b64url(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    char *p = out;
    for (char *q = out; *q && *q != '='; q++)
        *p++ = *q == '+' ? '-' : *q == '/' ? '_' : *q;
    *p = '\0';
    return out;
}

static char *bn_b64url(const char *name)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(key, name, &bn))
        return NULL;
    unsigned char buf[600];
    int n = BN_bn2bin(bn, buf);
    BN_free(bn);
    return b64url(buf, (size_t)n);
}

static int write_jwks(const char *path)
{
    char *n = bn_b64url(OSSL_PKEY_PARAM_RSA_N), *e = bn_b64url(OSSL_PKEY_PARAM_RSA_E);
    json_t *j = json_pack("{s:[{s:s,s:s,s:s,s:s,s:s}]}", "keys", "kty", "RSA", "kid", "k1", "use", "sig", "n",
                          n ? n : "", "e", e ? e : "");
    int rc = json_dump_file(j, path, 0);
    json_decref(j);
    free(n);
    free(e);
    return rc;
}

/* A signed token: aud, roles (JSON text) and lifetime relative to now. */
static char *mint(const char *aud, const char *roles_json, long exp_in)
{
    long now = (long)time(NULL);
    json_t *roles = json_loads(roles_json, JSON_DECODE_ANY, NULL);
    json_t *claims = json_pack("{s:s,s:s,s:o,s:s,s:I,s:I,s:I}", "iss", ISSUER, "aud", aud, "roles", roles,
                               "appid", "11111111-2222-3333-4444-555555555555", "iat", (json_int_t)now - 60,
                               "nbf", (json_int_t)now - 60, "exp", (json_int_t)(now + exp_in));
    char *cj = json_dumps(claims, JSON_COMPACT);
    json_decref(claims);
    const char *hj = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}";
    char *h = b64url((const unsigned char *)hj, strlen(hj)), *c = b64url((unsigned char *)cj, strlen(cj));
    free(cj);
    char *signing = sr_asprintf("%s.%s", h, c);
    free(h);
    free(c);
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &siglen, (unsigned char *)signing, strlen(signing)) == 1;
    EVP_MD_CTX_free(md);
    char *s = ok ? b64url(sig, siglen) : NULL;
    char *jwt = s ? sr_asprintf("%s.%s", signing, s) : NULL;
    free(s);
    free(signing);
    return jwt;
}

/* ---- HTTP ---------------------------------------------------------------------- */

typedef struct resp {
    long status;
    char *body;
    size_t len;
    char hdrs[4096];
    size_t hlen;
    json_t *json;
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
    nb[r->len] = '\0';
    return sz * n;
}

static size_t on_hdr(char *p, size_t sz, size_t n, void *ud)
{
    resp *r = ud;
    if (r->hlen + sz * n < sizeof r->hdrs) {
        memcpy(r->hdrs + r->hlen, p, sz * n);
        r->hlen += sz * n;
        r->hdrs[r->hlen] = '\0';
    }
    return sz * n;
}

static void resp_free(resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

static struct curl_slist *prep(CURL *h, const char *method, const char *path, const char *token,
                               const char *body, resp *r)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", sim.url, path);
    memset(r, 0, sizeof *r);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: application/json");
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (token) {
        char *a = sr_asprintf("Authorization: Bearer %s", token);
        hl = curl_slist_append(hl, a);
        free(a);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    return hl;
}

static long call(const char *method, const char *path, const char *token, const char *body, resp *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hl = prep(h, method, path, token, body, r);
    curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    r->json = r->body ? json_loads(r->body, 0, NULL) : NULL;
    return r->status;
}

static const char *err_code(const resp *r)
{
    const char *c = json_string_value(json_object_get(json_object_get(r->json, "error"), "code"));
    return c ? c : "(no error code)";
}

static char *state(void)
{
    return tu_http(sim.url, "/_sim/state", 0);
}

static int state_has(const char *needle)
{
    char *s = state();
    int hit = s && strstr(s, needle) != NULL;
    free(s);
    return hit;
}

/* An EWS call (Basic as the seed's admin); the response body, caller frees. */
static char *ews(const char *op_xml)
{
    char *env = sr_asprintf(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>"
        "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" "
        "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\" "
        "xmlns:m=\"http://schemas.microsoft.com/exchange/services/2006/messages\">"
        "<soap:Header><t:RequestServerVersion Version=\"Exchange2013\"/></soap:Header>"
        "<soap:Body>%s</soap:Body></soap:Envelope>", op_xml);
    char url[512];
    snprintf(url, sizeof url, "%s/EWS/Exchange.asmx", sim.url);
    resp r = { 0 };
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, env);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, admin_user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, admin_pass);
    struct curl_slist *hl = curl_slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    free(env);
    if (r.status != 200)
        fprintf(stderr, "EWS answered %ld: %.300s\n", r.status, r.body ? r.body : "");
    return r.body;
}

/* ---- suite --------------------------------------------------------------------- */

static int suite_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    tmp = tu_mkdtemp("exsim-graph");
    if (!tmp)
        return -1;
    char org[600], seed[600], orggen[600], seedgen[600], jwks[600], log[600];
    snprintf(org, sizeof org, "%s/org.json", tmp);
    snprintf(seed, sizeof seed, "%s/source.xml", tmp);
    snprintf(jwks, sizeof jwks, "%s/jwks.json", tmp);
    snprintf(log, sizeof log, "%s/py.log", tmp);
    snprintf(orggen, sizeof orggen, "%s/tests/lab/orggen.py", tu_root());
    snprintf(seedgen, sizeof seedgen, "%s/tests/exsim/seedgen.py", tu_root());
    char *g[] = { "/usr/bin/python3", orggen, "--users", "5", "--rooms", "2", "--seed", "3", "-o", org, NULL };
    char *s[] = { "/usr/bin/python3", seedgen, "--org", org, "--side", "source", "-o", seed, NULL };
    if (tu_run(g, log, 30000) != 0 || tu_run(s, log, 30000) != 0) {
        fprintf(stderr, "test_exsim_graph: orggen/seedgen failed (see %s)\n", log);
        return -1;
    }
    if (tu_seed_read(seed, admin_user, sizeof admin_user, admin_pass, sizeof admin_pass, mbx, 16) < 4)
        return -1;
    key = EVP_RSA_gen(2048);
    if (!key || write_jwks(jwks) != 0)
        return -1;
    tok_all = mint(GRAPH, ALL_ROLES, 3600);
    tok_norole = mint(GRAPH, "[]", 3600);
    tok_ews = mint("https://outlook.office365.com", ALL_ROLES, 3600);
    tok_expired = mint(GRAPH, ALL_ROLES, -3600);
    /* the glewlwyd lab's shape: roles as one comma-joined string */
    tok_mbs_only = mint(GRAPH, "\"MailboxSettings.Read,Calendars.Read\"", 3600);
    const char *extra[] = { "--jwks", jwks, "--jwt-issuer", ISSUER, NULL };
    if (!tok_all || !tok_norole || !tok_ews || !tok_expired || !tok_mbs_only ||
        tu_exsim_start(&sim, tmp, "graph", seed, extra) != 0) {
        fprintf(stderr, "test_exsim_graph: exsim did not start (see %s/graph.log)\n", tmp);
        return -1;
    }
    return 0;
}

static int suite_clean(void)
{
    tu_exsim_stop(&sim);
    free(tok_all);
    free(tok_norole);
    free(tok_ews);
    free(tok_expired);
    free(tok_mbs_only);
    EVP_PKEY_free(key);
    if (tmp && !getenv("KEEP_TMP"))
        tu_rm_rf(tmp);
    free(tmp);
    curl_global_cleanup();
    return 0;
}

static char *user_path(int i, const char *tail)
{
    return sr_asprintf("/v1.0/users/%s%s", mbx[i].smtp, tail);
}

/* ---- cases --------------------------------------------------------------------- */

static void test_auth_refusals(void)
{
    char *p = user_path(0, "/mailFolders/inbox/messageRules");
    resp r;
    CU_ASSERT_EQUAL(call("GET", p, NULL, NULL, &r), 401);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "InvalidAuthenticationToken");
    CU_ASSERT_PTR_NOT_NULL(strcasestr(r.hdrs, "WWW-Authenticate: Bearer"));
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_ews, NULL, &r), 401);          /* an EWS token is not a Graph token */
    CU_ASSERT_PTR_NOT_NULL(r.body && strstr(r.body, "audience"));
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_expired, NULL, &r), 401);
    CU_ASSERT_PTR_NOT_NULL(r.body && strstr(r.body, "expired"));
    resp_free(&r);
    char *forged = sr_asprintf("%.*sAA", (int)strlen(tok_all) - 2, tok_all);
    CU_ASSERT_EQUAL(call("GET", p, forged, NULL, &r), 401);
    free(forged);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_norole, NULL, &r), 403);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "ErrorAccessDenied");
    resp_free(&r);
    /* MailboxSettings.Read reads rules but may not write them, nor read users */
    CU_ASSERT_EQUAL(call("GET", p, tok_mbs_only, NULL, &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", p, tok_mbs_only, "{\"displayName\":\"x\",\"sequence\":9,\"actions\":{\"delete\":true}}", &r), 403);
    resp_free(&r);
    char *u = user_path(0, "");
    CU_ASSERT_EQUAL(call("GET", u, tok_mbs_only, NULL, &r), 403);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "Authorization_RequestDenied");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", u, tok_all, NULL, &r), 200);
    resp_free(&r);
    free(u);
    free(p);
}

static void test_users(void)
{
    char *u = user_path(1, "");
    resp r;
    CU_ASSERT_EQUAL(call("GET", u, tok_all, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "mail")), mbx[1].smtp);
    char id[64];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(r.json, "id")) ?: "");
    resp_free(&r);
    char *byid = sr_asprintf("/v1.0/users/%s?$select=id,mail,proxyAddresses", id);
    CU_ASSERT_EQUAL(call("GET", byid, tok_all, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "mail")), mbx[1].smtp);
    CU_ASSERT_TRUE(json_is_array(json_object_get(r.json, "proxyAddresses")));
    CU_ASSERT_PTR_NULL(json_object_get(r.json, "displayName"));        /* not selected */
    resp_free(&r);
    char *f = sr_asprintf("/v1.0/users?$filter=proxyAddresses/any(x:x%%20eq%%20'smtp:%s')", mbx[2].smtp);
    CU_ASSERT_EQUAL(call("GET", f, tok_all, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "value")), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(json_object_get(r.json, "value"), 0),
                                                             "mail")) ?: "", mbx[2].smtp);
    resp_free(&r);
    char *f2 = sr_asprintf("/v1.0/users?$filter=mail%%20eq%%20'nobody@nowhere.test'");
    CU_ASSERT_EQUAL(call("GET", f2, tok_all, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "value")), 0);
    resp_free(&r);
    /* OData: a quote inside a string literal is doubled (an apostrophe is
     * valid in an address); before, the simulator refused it with 400 */
    CU_ASSERT_EQUAL(call("GET", "/v1.0/users?$filter=proxyAddresses/any(x:x%20eq%20'smtp:pat.o%27%27brien@"
                         "partner.example')", tok_all, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "value")), 0);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", "/v1.0/users?$filter=mail%20eq%20'o%27brien@partner.example'", tok_all, NULL,
                         &r), 400);   /* a lone quote ends the literal: the rest is no filter */
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", "/v1.0/users/nobody@nowhere.test", tok_all, NULL, &r), 404);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "Request_ResourceNotFound");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", "/v1.0/users/nobody@nowhere.test/mailboxSettings", tok_all, NULL, &r), 404);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "ErrorInvalidUser");
    resp_free(&r);
    free(f2);
    free(f);
    free(byid);
    free(u);
}

static void test_rules_round_trip(void)
{
    char *p = user_path(0, "/mailFolders/inbox/messageRules");
    resp r;
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    json_t *first = json_array_get(json_object_get(r.json, "value"), 0);
    const char *folder = json_string_value(json_object_get(json_object_get(first, "actions"), "moveToFolder"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(folder);
    char *body = sr_asprintf("{\"displayName\":\"Graph rule one\",\"sequence\":7,\"isEnabled\":true,"
                             "\"conditions\":{\"senderContains\":[\"boss\"],\"fromAddresses\":[{\"emailAddress\":"
                             "{\"name\":\"B\",\"address\":\"%s\"}}],\"importance\":\"high\"},"
                             "\"actions\":{\"moveToFolder\":\"%s\",\"stopProcessingRules\":true}}",
                             mbx[3].smtp, folder);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", p, tok_all, body, &r), 201);
    char rid[64];
    snprintf(rid, sizeof rid, "%s", json_string_value(json_object_get(r.json, "id")) ?: "");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(r.json, "conditions"), "importance")) ?: "",
                           "high");
    resp_free(&r);
    free(body);
    CU_ASSERT_TRUE(state_has("Graph rule one"));
    CU_ASSERT_TRUE(state_has("<t:String>boss</t:String>"));
    /* EWS sees the Graph-written rule, and --validate-responses lets it through */
    char *op = sr_asprintf("<m:GetInboxRules><m:MailboxSmtpAddress>%s</m:MailboxSmtpAddress></m:GetInboxRules>",
                           mbx[0].smtp);
    char *e = ews(op);
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e, "Graph rule one") && strstr(e, "NoError"));
    free(e);
    /* refusals: unknown property, wrong type, bad folder id */
    CU_ASSERT_EQUAL(call("POST", p, tok_all, "{\"displayName\":\"x\",\"sequence\":1,\"color\":\"red\","
                                             "\"actions\":{\"delete\":true}}", &r), 400);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "RequestBodyRead");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", p, tok_all, "{\"displayName\":\"x\",\"sequence\":1,"
                                             "\"actions\":{\"delete\":\"yes\"}}", &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", p, tok_all, "{\"displayName\":\"x\",\"sequence\":1,"
                                             "\"actions\":{\"moveToFolder\":\"AAAA\"}}", &r), 400);
    resp_free(&r);
    CU_ASSERT_FALSE(state_has("<t:DisplayName>x</t:DisplayName>"));
    /* PATCH, then DELETE */
    char *one = sr_asprintf("%s/%s", p, rid);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"displayName\":\"Graph rule renamed\",\"isEnabled\":false}", &r), 200);
    CU_ASSERT_EQUAL(json_is_false(json_object_get(r.json, "isEnabled")), 1);
    resp_free(&r);
    CU_ASSERT_TRUE(state_has("Graph rule renamed"));
    CU_ASSERT_FALSE(state_has("Graph rule one"));
    e = ews(op);
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e, "Graph rule renamed"));
    free(e);
    CU_ASSERT_EQUAL(call("DELETE", one, tok_all, NULL, &r), 204);
    resp_free(&r);
    CU_ASSERT_FALSE(state_has("Graph rule renamed"));
    CU_ASSERT_EQUAL(call("GET", one, tok_all, NULL, &r), 404);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "ErrorItemNotFound");
    resp_free(&r);
    /* a seed rule changed and written back as Graph showed it: the store is as before */
    char *r1 = sr_asprintf("%s/R1", p);
    char *s0 = state();
    CU_ASSERT_EQUAL(call("GET", r1, tok_all, NULL, &r), 200);
    json_object_del(r.json, "@odata.context");
    char *orig = json_dumps(r.json, JSON_COMPACT);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", r1, tok_all, "{\"displayName\":\"changed\",\"actions\":{\"delete\":true}}", &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", r1, tok_all, orig, &r), 200);
    resp_free(&r);
    char *s1 = state();
    CU_ASSERT_STRING_EQUAL(s0 ? s0 : "", s1 ? s1 : "-");
    free(s0);
    free(s1);
    free(orig);
    free(r1);
    free(op);
    free(one);
    free(p);
}

static void test_calendar_permissions(void)
{
    char *p = user_path(0, "/calendar/calendarPermissions");
    resp r;
    char *before = state();
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    size_t n0 = json_array_size(json_object_get(r.json, "value"));
    CU_ASSERT_TRUE(n0 >= 1);
    resp_free(&r);
    char *after = state();
    CU_ASSERT_STRING_EQUAL(before ? before : "", after ? after : "-");   /* reading changes nothing */
    free(before);
    free(after);
    char *body = sr_asprintf("{\"emailAddress\":{\"address\":\"%s\"},\"role\":\"read\"}", mbx[4].smtp);
    CU_ASSERT_EQUAL(call("POST", p, tok_all, body, &r), 201);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "role")) ?: "", "read");
    char pid[128];
    snprintf(pid, sizeof pid, "%s", json_string_value(json_object_get(r.json, "id")) ?: "");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", p, tok_all, body, &r), 409);
    resp_free(&r);
    free(body);
    char needle[300];
    snprintf(needle, sizeof needle, "smtp=\"%s\" name=", mbx[4].smtp);
    CU_ASSERT_TRUE(state_has(needle));
    /* to a delegate with private items: EWS GetDelegate shows it */
    char *one = sr_asprintf("%s/%s", p, pid);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"role\":\"delegateWithPrivateEventAccess\"}", &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "role")) ?: "", "delegateWithPrivateEventAccess");
    resp_free(&r);
    CU_ASSERT_FALSE(state_has(needle));
    char *op = sr_asprintf("<m:GetDelegate IncludePermissions=\"true\"><m:Mailbox><t:EmailAddress>%s"
                           "</t:EmailAddress></m:Mailbox></m:GetDelegate>", mbx[0].smtp);
    char *e = ews(op);
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e, mbx[4].smtp));
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e, "<t:ViewPrivateItems>true</t:ViewPrivateItems>"));
    free(e);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"emailAddress\":{\"address\":\"x@y.test\"}}", &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("DELETE", one, tok_all, NULL, &r), 204);
    resp_free(&r);
    e = ews(op);
    CU_ASSERT_PTR_NOT_NULL(e && !strstr(e, mbx[4].smtp));
    free(e);
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "value")), n0);
    resp_free(&r);
    /* a share added and removed again leaves no trace in the store */
    char *s0 = state();
    char *ext = sr_asprintf("{\"emailAddress\":{\"address\":\"ext@partner.test\"},\"role\":\"limitedRead\"}");
    CU_ASSERT_EQUAL(call("POST", p, tok_all, ext, &r), 201);
    char *one_ext = sr_asprintf("%s/%s", p, json_string_value(json_object_get(r.json, "id")) ?: "x");
    resp_free(&r);
    CU_ASSERT_TRUE(state_has("calendar-sharing"));
    CU_ASSERT_EQUAL(call("DELETE", one_ext, tok_all, NULL, &r), 204);
    resp_free(&r);
    char *s1 = state();
    CU_ASSERT_STRING_EQUAL(s0 ? s0 : "", s1 ? s1 : "-");
    free(s0);
    free(s1);
    free(one_ext);
    free(ext);
    /* delegate roles only for users of the organisation */
    CU_ASSERT_EQUAL(call("POST", p, tok_all, "{\"emailAddress\":{\"address\":\"ext@partner.test\"},"
                                             "\"role\":\"delegateWithoutPrivateEventAccess\"}", &r), 400);
    resp_free(&r);
    /* mailboxSettings: the delegates' meeting-message delivery */
    char *ms = user_path(0, "/mailboxSettings");
    CU_ASSERT_EQUAL(call("PATCH", ms, tok_all, "{\"delegateMeetingMessageDeliveryOptions\":\"sendToDelegateOnly\"}", &r), 200);
    resp_free(&r);
    CU_ASSERT_TRUE(state_has("deliver=\"DelegatesOnly\""));
    CU_ASSERT_EQUAL(call("GET", ms, tok_all, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "delegateMeetingMessageDeliveryOptions")) ?: "",
                           "sendToDelegateOnly");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", ms, tok_all, "{\"delegateMeetingMessageDeliveryOptions\":\"toEverybody\"}", &r), 400);
    resp_free(&r);
    free(ms);
    free(op);
    free(one);
    free(p);
}

static json_t *batch_resp(const resp *r, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(r->json, "responses"), i, x)
        if (!strcmp(json_string_value(json_object_get(x, "id")) ?: "", id))
            return x;
    return NULL;
}

static long batch_status(const resp *r, const char *id)
{
    return (long)json_integer_value(json_object_get(batch_resp(r, id), "status"));
}

static long mailbox_requests(const char *smtp)
{
    char *st = tu_http(sim.url, "/_sim/stats", 0);
    json_t *sj = st ? json_loads(st, 0, NULL) : NULL;
    long n = (long)json_integer_value(json_object_get(json_object_get(json_object_get(sj, "mailboxes"), smtp),
                                                      "requests"));
    json_decref(sj);
    free(st);
    return n;
}

static void test_batch(void)
{
    long before = mailbox_requests(mbx[1].smtp);
    char *body = sr_asprintf(
        "{\"requests\":["
        "{\"id\":\"1\",\"method\":\"GET\",\"url\":\"/users/%s/mailFolders/inbox/messageRules\"},"
        "{\"id\":\"2\",\"method\":\"PATCH\",\"url\":\"/users/%s/mailFolders/inbox/messageRules/R999\","
        "\"headers\":{\"Content-Type\":\"application/json\"},\"body\":{\"displayName\":\"z\"}},"
        "{\"id\":\"3\",\"method\":\"POST\",\"url\":\"/users/%s/mailFolders/inbox/messageRules\",\"dependsOn\":[\"2\"],"
        "\"headers\":{\"Content-Type\":\"application/json\"},"
        "\"body\":{\"displayName\":\"never written\",\"sequence\":3,\"actions\":{\"delete\":true}}},"
        "{\"id\":\"4\",\"method\":\"POST\",\"url\":\"/users/%s/mailFolders/inbox/messageRules\",\"dependsOn\":[\"1\"],"
        "\"headers\":{\"Content-Type\":\"application/json\"},"
        "\"body\":{\"displayName\":\"batch written\",\"sequence\":3,\"actions\":{\"markAsRead\":true}}},"
        "{\"id\":\"5\",\"method\":\"GET\",\"url\":\"/users/%s/mailboxSettings\"}]}",
        mbx[1].smtp, mbx[1].smtp, mbx[1].smtp, mbx[1].smtp, mbx[1].smtp);
    resp r;
    CU_ASSERT_EQUAL(call("POST", "/v1.0/$batch", tok_all, body, &r), 200);
    CU_ASSERT_EQUAL(batch_status(&r, "1"), 200);
    CU_ASSERT_EQUAL(batch_status(&r, "2"), 404);
    CU_ASSERT_EQUAL(batch_status(&r, "3"), 424);
    CU_ASSERT_EQUAL(batch_status(&r, "4"), 201);
    CU_ASSERT_EQUAL(batch_status(&r, "5"), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_object_get(batch_resp(&r, "3"), "body"),
                                                                             "error"), "code")) ?: "", "FailedDependency");
    resp_free(&r);
    free(body);
    CU_ASSERT_TRUE(state_has("batch written"));
    /* the batch was about one mailbox: one request more for it in /_sim/stats */
    CU_ASSERT_EQUAL(mailbox_requests(mbx[1].smtp) - before, 1);
    CU_ASSERT_FALSE(state_has("never written"));
    /* 21 requests: refused whole */
    char big[8192] = "{\"requests\":[";
    for (int i = 1; i <= 21; i++) {
        char one[200];
        snprintf(one, sizeof one, "%s{\"id\":\"%d\",\"method\":\"GET\",\"url\":\"/users/%s/mailboxSettings\"}",
                 i > 1 ? "," : "", i, mbx[1].smtp);
        strncat(big, one, sizeof big - strlen(big) - 1);
    }
    strncat(big, "]}", sizeof big - strlen(big) - 1);
    CU_ASSERT_EQUAL(call("POST", "/v1.0/$batch", tok_all, big, &r), 400);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "BadRequest");
    resp_free(&r);
    /* dependsOn naming no earlier request */
    CU_ASSERT_EQUAL(call("POST", "/v1.0/$batch", tok_all,
                         "{\"requests\":[{\"id\":\"1\",\"method\":\"GET\",\"url\":\"/users/x/mailboxSettings\","
                         "\"dependsOn\":[\"9\"]}]}", &r), 400);
    resp_free(&r);
}

static json_t *child_named(const resp *r, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r->json, "value"), i, f)
        if (!strcmp(json_string_value(json_object_get(f, "displayName")) ?: "", name))
            return f;
    return NULL;
}

static void test_search_folders(void)
{
    resp r;
    char *inbox = user_path(0, "/mailFolders/inbox");
    CU_ASSERT_EQUAL(call("GET", inbox, tok_all, NULL, &r), 200);
    char inbox_id[128];
    snprintf(inbox_id, sizeof inbox_id, "%s", json_string_value(json_object_get(r.json, "id")) ?: "");
    resp_free(&r);
    /* the seed's search folders, as EWS keeps them */
    char *finder = user_path(0, "/mailFolders/searchfolders/childFolders");
    CU_ASSERT_EQUAL(call("GET", finder, tok_all, NULL, &r), 200);
    json_t *unread = child_named(&r, "Unread mail"), *team = child_named(&r, "Mail from the team");
    CU_ASSERT_PTR_NOT_NULL_FATAL(unread);
    CU_ASSERT_PTR_NOT_NULL_FATAL(team);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(unread, "@odata.type")) ?: "", "#microsoft.graph.mailSearchFolder");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(unread, "filterQuery")) ?: "", "isRead eq false");
    CU_ASSERT_TRUE(json_is_true(json_object_get(unread, "includeNestedFolders")));
    CU_ASSERT_TRUE(json_is_true(json_object_get(unread, "isSupported")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(unread, "sourceFolderIds"), 0)) ?: "", inbox_id);
    const char *tq = json_string_value(json_object_get(team, "filterQuery")) ?: "";
    CU_ASSERT_PTR_NOT_NULL(strstr(tq, "singleValueExtendedProperties/any(ep:ep/id eq 'String 0x5D01' and ep/value eq '"));
    CU_ASSERT_PTR_NOT_NULL(strstr(tq, " or "));
    CU_ASSERT_EQUAL(json_array_size(json_object_get(team, "sourceFolderIds")), 2);
    CU_ASSERT_TRUE(json_is_false(json_object_get(team, "includeNestedFolders")));
    resp_free(&r);
    /* a new one round-trips its filterQuery and lands in the store as a Restriction */
    const char *q = "isRead eq false and (contains(subject,'it''s report') or singleValueExtendedProperties/any("
                    "ep:ep/id eq 'String 0x5D01' and ep/value eq 'boss@partner.test'))";
    json_t *jb = json_pack("{s:s,s:s,s:b,s:[s],s:s}", "@odata.type", "microsoft.graph.mailSearchFolder",
                           "displayName", "Graph search", "includeNestedFolders", 0, "sourceFolderIds", inbox_id,
                           "filterQuery", q);
    char *body = json_dumps(jb, JSON_COMPACT);
    json_decref(jb);
    CU_ASSERT_EQUAL(call("POST", finder, tok_all, body, &r), 201);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "filterQuery")) ?: "", q);
    char sid[128];
    snprintf(sid, sizeof sid, "%s", json_string_value(json_object_get(r.json, "id")) ?: "");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", finder, tok_all, body, &r), 409);
    resp_free(&r);
    free(body);
    CU_ASSERT_TRUE(state_has("Value=\"it's report\""));
    CU_ASSERT_TRUE(state_has("Value=\"boss@partner.test\""));
    CU_ASSERT_EQUAL(call("POST", finder, tok_all, "{\"@odata.type\":\"microsoft.graph.mailSearchFolder\",\"displayName\":"
                         "\"bad\",\"sourceFolderIds\":[\"inbox\"],\"filterQuery\":\"from/emailAddress/address eq 'x'\"}", &r), 400);
    resp_free(&r);
    CU_ASSERT_FALSE(state_has("name=\"bad\""));
    char *one = sr_asprintf("/v1.0/users/%s/mailFolders/%s", mbx[0].smtp, sid);
    /* as Graph's "Update mailSearchFolder": without its @odata.type the body is a mailFolder's */
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"includeNestedFolders\":true}", &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"@odata.type\":\"microsoft.graph.mailSearchFolder\","
                                               "\"includeNestedFolders\":true}", &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "filterQuery")) ?: "", q);   /* kept */
    CU_ASSERT_TRUE(json_is_true(json_object_get(r.json, "includeNestedFolders")));
    resp_free(&r);
    CU_ASSERT_EQUAL(call("DELETE", one, tok_all, NULL, &r), 204);
    resp_free(&r);
    CU_ASSERT_FALSE(state_has("boss@partner.test"));
    CU_ASSERT_EQUAL(call("DELETE", inbox, tok_all, NULL, &r), 403);
    resp_free(&r);
    free(one);
    free(finder);
    free(inbox);
}

static void test_contacts(void)
{
    char *p = user_path(0, "/contacts");
    resp r;
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    json_t *value = json_object_get(r.json, "value");
    CU_ASSERT_EQUAL(json_array_size(value), 2);            /* the two contacts; the DL is no contact */
    /* the first contact was added from the GAL: its address is the EX legacyExchangeDN */
    const char *a0 = json_string_value(json_object_get(json_array_get(json_object_get(json_array_get(value, 0),
                                                                                      "emailAddresses"), 0), "address"));
    CU_ASSERT_PTR_NOT_NULL(a0 && a0[0] == '/');
    char cid[160];
    snprintf(cid, sizeof cid, "%s", json_string_value(json_object_get(json_array_get(value, 0), "id")) ?: "");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_mbs_only, NULL, &r), 403);
    resp_free(&r);
    char *one = sr_asprintf("%s/%s", p, cid);
    char *body = sr_asprintf("{\"emailAddresses\":[{\"address\":\"fixed-%s\",\"name\":\"Fixed\"}]}", mbx[2].smtp);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, body, &r), 200);
    resp_free(&r);
    char needle[200];
    snprintf(needle, sizeof needle, "<t:Entry Key=\"EmailAddress1\">fixed-%s</t:Entry>", mbx[2].smtp);
    CU_ASSERT_TRUE(state_has(needle));
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"jobTitle\":\"x\"}", &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"emailAddresses\":\"a@b\"}", &r), 400);   /* metadata: a collection */
    resp_free(&r);
    char *partner = user_path(0, "/contactFolders/contacts/contacts");
    CU_ASSERT_EQUAL(call("GET", partner, tok_all, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "value")), 2);
    resp_free(&r);
    free(partner);
    free(body);
    free(one);
    free(p);
}

/* The contact subfolders (v1.0) and the personal distribution lists (beta
 * only, read), as ContactMembers over Graph reads them. */
static void test_contact_folders_and_lists(void)
{
    char *p = user_path(0, "/contactFolders");
    resp r;
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    json_t *value = json_object_get(r.json, "value");
    CU_ASSERT_EQUAL(json_array_size(value), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(value, 0), "displayName")) ?: "",
                           "Partner contacts");
    char *sub = sr_asprintf("%s/%s/contacts", p,
                            json_string_value(json_object_get(json_array_get(value, 0), "id")) ?: "x");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", sub, tok_all, NULL, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "value")), 0);   /* only the list "Partners" */
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_mbs_only, NULL, &r), 403);
    resp_free(&r);
    char *v1 = user_path(0, "/distributionLists");
    CU_ASSERT_EQUAL(call("GET", v1, tok_all, NULL, &r), 400);                /* no v1.0 resource */
    resp_free(&r);
    char *dl = sr_asprintf("/beta/users/%s/distributionLists?$select=displayName,members", mbx[0].smtp);
    CU_ASSERT_EQUAL(call("GET", dl, tok_all, NULL, &r), 200);
    value = json_object_get(r.json, "value");
    CU_ASSERT_EQUAL(json_array_size(value), 2);
    json_t *team = json_array_get(value, 0), *partners = json_array_get(value, 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(team, "displayName")) ?: "", "Project team");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(team, "members")), 4);
    json_t *m0 = json_array_get(json_object_get(team, "members"), 0);
    const char *k0 = json_string_value(json_object_get(m0, "key"));
    CU_ASSERT_TRUE(k0 && k0[0] == '/');                                      /* an EX member as stored */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m0, "routingType")) ?: "", "EX");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(m0, "recipientType")) ?: "", "mailbox");
    json_t *p0 = json_array_get(json_object_get(partners, "members"), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p0, "key")) ?: "", "partner@example.org");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p0, "recipientType")) ?: "", "oneOff");
    resp_free(&r);
    free(dl);
    free(v1);
    free(sub);
    free(p);
}

/* Bodies are checked against the v1.0 metadata ($SHARED_DIR, loaded by default). */
static void test_csdl(void)
{
    char *p = user_path(0, "/mailFolders/inbox/messageRules");
    resp r;
    CU_ASSERT_EQUAL(call("POST", p, tok_all, "{\"displayName\":\"c\",\"sequence\":\"7\",\"actions\":{\"delete\":true}}", &r), 400);
    CU_ASSERT_PTR_NOT_NULL(r.body && strstr(r.body, "Edm.Int32"));
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", p, tok_all, "{\"displayName\":\"c\",\"sequence\":7,\"conditions\":{\"importance\":"
                                             "\"urgent\"},\"actions\":{\"delete\":true}}", &r), 400);
    CU_ASSERT_PTR_NOT_NULL(r.body && strstr(r.body, "'urgent' is not valid"));
    resp_free(&r);
    /* nested: only the metadata knows emailAddress has no 'bogus' */
    char *cp = user_path(0, "/calendar/calendarPermissions");
    char *body = sr_asprintf("{\"emailAddress\":{\"address\":\"%s\",\"bogus\":1},\"role\":\"read\"}", mbx[3].smtp);
    CU_ASSERT_EQUAL(call("POST", cp, tok_all, body, &r), 400);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "RequestBodyRead");
    CU_ASSERT_PTR_NOT_NULL(r.body && strstr(r.body, "'bogus' does not exist on type"));
    resp_free(&r);
    char *ms = user_path(0, "/mailboxSettings");
    CU_ASSERT_EQUAL(call("PATCH", ms, tok_all, "{\"timeZone\":5}", &r), 400);
    CU_ASSERT_PTR_NOT_NULL(r.body && strstr(r.body, "Edm.String"));
    resp_free(&r);
    CU_ASSERT_FALSE(state_has(">c</t:DisplayName>"));
    char *stats = tu_http(sim.url, "/_sim/stats", 0);
    CU_ASSERT_PTR_NULL(stats ? strstr(stats, "invalid_responses") : "no stats");   /* our answers all fit */
    free(stats);
    free(ms);
    free(body);
    free(cp);
    free(p);
}

static void test_throttling(void)
{
    char *p = user_path(2, "/mailboxSettings");
    resp r;
    char *cfg = tu_http(sim.url, "/_sim/config?graph_throttle_next=1&graph_retry_after=7", 1);
    CU_ASSERT_PTR_NOT_NULL(cfg && strstr(cfg, "\"graph_throttle_next\":1"));
    free(cfg);
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 429);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "ApplicationThrottled");
    CU_ASSERT_PTR_NOT_NULL(strcasestr(r.hdrs, "Retry-After: 7"));
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    resp_free(&r);
    /* the user object is the directory's: Outlook's throttling does not count it */
    cfg = tu_http(sim.url, "/_sim/config?graph_throttle_next=1", 1);
    free(cfg);
    char *u = user_path(2, "");
    CU_ASSERT_EQUAL(call("GET", u, tok_all, NULL, &r), 200);
    resp_free(&r);
    free(u);
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 429);       /* still pending for Outlook */
    resp_free(&r);
    /* inside a batch the 429 is the item's, with its Retry-After */
    cfg = tu_http(sim.url, "/_sim/config?graph_throttle_next=1", 1);
    free(cfg);
    char *b = sr_asprintf("{\"requests\":[{\"id\":\"a\",\"method\":\"GET\",\"url\":\"/users/%s/mailboxSettings\"},"
                          "{\"id\":\"b\",\"method\":\"GET\",\"url\":\"/users/%s/mailboxSettings\"}]}",
                          mbx[2].smtp, mbx[2].smtp);
    CU_ASSERT_EQUAL(call("POST", "/v1.0/$batch", tok_all, b, &r), 200);
    CU_ASSERT_EQUAL(batch_status(&r, "a"), 429);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(batch_resp(&r, "a"), "headers"),
                                                             "Retry-After")) ?: "", "7");
    CU_ASSERT_EQUAL(batch_status(&r, "b"), 200);
    resp_free(&r);
    free(b);
    /* a whole batch refused: nothing in it runs */
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    const char *was = json_string_value(json_object_get(r.json, "delegateMeetingMessageDeliveryOptions")) ?: "";
    const char *want = strcmp(was, "sendToDelegateOnly") ? "sendToDelegateOnly" : "sendToDelegateAndPrincipal";
    resp_free(&r);
    cfg = tu_http(sim.url, "/_sim/config?graph_batch_throttle_next=1", 1);
    free(cfg);
    char *wb = sr_asprintf("{\"requests\":[{\"id\":\"w\",\"method\":\"PATCH\",\"url\":\"/users/%s/mailboxSettings\","
                           "\"headers\":{\"Content-Type\":\"application/json\"},\"body\":"
                           "{\"delegateMeetingMessageDeliveryOptions\":\"%s\"}}]}", mbx[2].smtp, want);
    CU_ASSERT_EQUAL(call("POST", "/v1.0/$batch", tok_all, wb, &r), 429);
    CU_ASSERT_PTR_NOT_NULL(strcasestr(r.hdrs, "Retry-After: 7"));
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    CU_ASSERT_STRING_NOT_EQUAL(json_string_value(json_object_get(r.json, "delegateMeetingMessageDeliveryOptions")) ?: "",
                               want);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", "/v1.0/$batch", tok_all, wb, &r), 200);
    CU_ASSERT_EQUAL(batch_status(&r, "w"), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "delegateMeetingMessageDeliveryOptions")) ?: "",
                           want);
    resp_free(&r);
    free(wb);
    /* six at once on one mailbox, each held 1.5 s: four pass, the rest get 429 */
    cfg = tu_http(sim.url, "/_sim/config?rtt_ms=1500", 1);
    free(cfg);
    enum { N = 6 };
    CURLM *m = curl_multi_init();
    CURL *h[N];
    resp rs[N];
    struct curl_slist *hl[N];
    for (int i = 0; i < N; i++) {
        h[i] = curl_easy_init();
        hl[i] = prep(h[i], "GET", p, tok_all, NULL, &rs[i]);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    for (int guard = 0; running && guard < 3000; guard++) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    int ok = 0, throttled = 0;
    for (int i = 0; i < N; i++) {
        long st = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
        ok += st == 200;
        throttled += st == 429;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        curl_slist_free_all(hl[i]);
        resp_free(&rs[i]);
    }
    curl_multi_cleanup(m);
    cfg = tu_http(sim.url, "/_sim/config?rtt_ms=0", 1);
    free(cfg);
    CU_ASSERT_EQUAL(ok, 4);
    CU_ASSERT_EQUAL(throttled, N - 4);
    char *stats = tu_http(sim.url, "/_sim/stats", 0);
    CU_ASSERT_PTR_NOT_NULL(stats && strstr(stats, "graph_throttled"));
    free(stats);
    free(p);
}

static void test_user_configurations(void)
{
    char *ac = sr_asprintf("/beta/users/%s/mailFolders/Inbox/userConfigurations/Autocomplete", mbx[0].smtp);
    resp r;
    CU_ASSERT_EQUAL(call("GET", ac, tok_all, NULL, &r), 200);
    const char *bin = json_string_value(json_object_get(r.json, "binaryData"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(bin);
    CU_ASSERT_TRUE(strlen(bin) > 40);
    char needle[128];
    snprintf(needle, sizeof needle, "<t:BinaryData>%.60s", bin);
    CU_ASSERT_TRUE(state_has(needle));                  /* the very bytes EWS keeps */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "id")) ?: "", "Autocomplete");
    char *back = sr_asprintf("{\"binaryData\":\"%s\"}", bin);     /* bin lives in r */
    resp_free(&r);
    /* Nicks' rollback: other bytes, then the old ones again: the store as before */
    char *s0 = state();
    CU_ASSERT_EQUAL(call("PATCH", ac, tok_all, "{\"binaryData\":\"AAAA\"}", &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", ac, tok_all, back, &r), 200);
    resp_free(&r);
    char *s1 = state();
    CU_ASSERT_STRING_EQUAL(s0 ? s0 : "", s1 ? s1 : "-");
    free(s0);
    free(s1);
    free(back);
    CU_ASSERT_EQUAL(call("GET", ac, tok_mbs_only, NULL, &r), 403);
    resp_free(&r);
    char *v1 = sr_asprintf("/v1.0/users/%s/mailFolders/inbox/userConfigurations/Autocomplete", mbx[0].smtp);
    CU_ASSERT_EQUAL(call("GET", v1, tok_all, NULL, &r), 400);           /* beta only */
    resp_free(&r);
    free(v1);
    char *coll = sr_asprintf("/beta/users/%s/mailFolders/inbox/userConfigurations", mbx[0].smtp);
    CU_ASSERT_EQUAL(call("POST", coll, tok_all,
                         "{\"id\":\"GraphTest\",\"binaryData\":\"AAEC\",\"structuredData\":[{\"keyEntry\":"
                         "{\"type\":\"string\",\"values\":[\"k\"]},\"valueEntry\":{\"type\":\"integer32\","
                         "\"values\":[\"5\"]}}]}", &r), 201);
    resp_free(&r);
    CU_ASSERT_TRUE(state_has("IPM.Configuration.GraphTest"));
    CU_ASSERT_TRUE(state_has("<t:Type>Integer32</t:Type>"));
    char *op = sr_asprintf("<m:GetUserConfiguration><m:UserConfigurationName Name=\"GraphTest\">"
                           "<t:DistinguishedFolderId Id=\"inbox\"><t:Mailbox><t:EmailAddress>%s</t:EmailAddress>"
                           "</t:Mailbox></t:DistinguishedFolderId></m:UserConfigurationName>"
                           "<m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>",
                           mbx[0].smtp);
    char *e = ews(op);
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e, "<t:BinaryData>AAEC</t:BinaryData>"));
    free(e);
    char *one = sr_asprintf("%s/GraphTest", coll);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"binaryData\":\"AAED\"}", &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "structuredData")), 1);   /* kept */
    resp_free(&r);
    CU_ASSERT_TRUE(state_has("AAED"));
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"binaryData\":\"not base64!\"}", &r), 400);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", one, tok_all, "{\"dictionary\":[]}", &r), 400);
    CU_ASSERT_STRING_EQUAL(err_code(&r), "RequestBodyRead");
    resp_free(&r);
    CU_ASSERT_EQUAL(call("POST", coll, tok_all, "{\"id\":\"GraphTest\"}", &r), 409);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("DELETE", one, tok_all, NULL, &r), 204);
    resp_free(&r);
    CU_ASSERT_FALSE(state_has("IPM.Configuration.GraphTest"));
    free(op);
    free(one);
    free(coll);
    free(ac);
}

/* A room's booking settings: the Calendar dictionary as structuredData. */
static void test_calendar_dictionary(void)
{
    int room = -1;
    for (int i = 0; i < 16 && room < 0 && mbx[i].smtp[0]; i++)
        if (!strcmp(mbx[i].kind, "room"))
            room = i;
    CU_ASSERT_TRUE_FATAL(room >= 0);
    char *p = sr_asprintf("/beta/users/%s/mailFolders/calendar/userConfigurations/Calendar", mbx[room].smtp);
    resp r;
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    json_t *sd = json_object_get(r.json, "structuredData"), *book = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(sd, i, e)
        if (!strcmp(json_string_value(json_array_get(json_object_get(json_object_get(e, "keyEntry"), "values"), 0)) ?: "",
                    "BookInPolicyLegacyDN"))
            book = json_object_get(e, "valueEntry");
    CU_ASSERT_PTR_NOT_NULL_FATAL(book);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(book, "type")) ?: "", "stringArray");
    /* write the whole dictionary back with one book-in entry: EWS sees exactly that */
    json_t *patch = json_pack("{s:[{s:{s:s,s:[s]},s:{s:s,s:[s]}}]}", "structuredData", "keyEntry", "type", "string",
                              "values", "BookInPolicyLegacyDN", "valueEntry", "type", "stringArray", "values",
                              "/o=Graph/cn=only-one");
    char *body = json_dumps(patch, JSON_COMPACT);
    json_decref(patch);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("PATCH", p, tok_all, body, &r), 200);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(r.json, "structuredData")), 1);
    resp_free(&r);
    char *op = sr_asprintf("<m:GetUserConfiguration><m:UserConfigurationName Name=\"Calendar\">"
                           "<t:DistinguishedFolderId Id=\"calendar\"><t:Mailbox><t:EmailAddress>%s</t:EmailAddress>"
                           "</t:Mailbox></t:DistinguishedFolderId></m:UserConfigurationName>"
                           "<m:UserConfigurationProperties>Dictionary</m:UserConfigurationProperties>"
                           "</m:GetUserConfiguration>", mbx[room].smtp);
    char *x = ews(op);
    CU_ASSERT_PTR_NOT_NULL(x && strstr(x, "<t:Value>/o=Graph/cn=only-one</t:Value>") &&
                           strstr(x, "<t:Type>StringArray</t:Type>") && !strstr(x, "ResourceDelegates"));
    free(x);
    CU_ASSERT_EQUAL(call("PATCH", p, tok_all, "{\"structuredData\":[{\"keyEntry\":{\"type\":\"String\","
                                             "\"values\":[\"k\"]}}]}", &r), 400);   /* the enum is lower-camel */
    resp_free(&r);
    free(op);
    free(body);
    free(p);
}

static void test_folders(void)
{
    char *rules = user_path(0, "/mailFolders/inbox/messageRules/R1");
    resp r;
    CU_ASSERT_EQUAL(call("GET", rules, tok_all, NULL, &r), 200);
    char target[128];
    snprintf(target, sizeof target, "%s",
             json_string_value(json_object_get(json_object_get(r.json, "actions"), "moveToFolder")) ?: "-");
    resp_free(&r);
    char *inbox = user_path(0, "/mailFolders/inbox");
    CU_ASSERT_EQUAL(call("GET", inbox, tok_all, NULL, &r), 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "displayName")) ?: "", "Inbox");
    CU_ASSERT_TRUE(json_integer_value(json_object_get(r.json, "totalItemCount")) >= 1);
    resp_free(&r);
    /* the rule's folder id is the id Graph lists the folder under */
    char *kids = user_path(0, "/mailFolders/inbox/childFolders");
    CU_ASSERT_EQUAL(call("GET", kids, tok_all, NULL, &r), 200);
    int found = 0;
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r.json, "value"), i, f)
        found |= !strcmp(json_string_value(json_object_get(f, "id")) ?: "", target);
    CU_ASSERT_TRUE(found);
    resp_free(&r);
    char *byid = sr_asprintf("/v1.0/users/%s/mailFolders/%s", mbx[0].smtp, target);
    CU_ASSERT_EQUAL(call("GET", byid, tok_all, NULL, &r), 200);
    resp_free(&r);
    CU_ASSERT_EQUAL(call("GET", byid, tok_mbs_only, NULL, &r), 403);   /* Mail.* needed */
    resp_free(&r);
    free(byid);
    free(kids);
    free(inbox);
    free(rules);
}

/* Exchange Online with EWS switched off for the app: EWS 403, Graph still serves. */
static void test_ews_blocked(void)
{
    char *cfg = tu_http(sim.url, "/_sim/config?ews_blocked=1", 1);
    CU_ASSERT_PTR_NOT_NULL(cfg && strstr(cfg, "\"ews_blocked\":1"));
    free(cfg);
    char *op = sr_asprintf("<m:GetInboxRules><m:MailboxSmtpAddress>%s</m:MailboxSmtpAddress></m:GetInboxRules>",
                           mbx[0].smtp);
    char *e = ews(op);                              /* prints the 403 it got */
    CU_ASSERT_PTR_NOT_NULL(e && strstr(e, "403"));
    free(e);
    char *p = user_path(0, "/mailFolders/inbox/messageRules");
    resp r;
    CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 200);
    resp_free(&r);
    cfg = tu_http(sim.url, "/_sim/config?ews_blocked=0", 1);
    free(cfg);
    free(p);
    free(op);
}

/* ---- the glewlwyd lab (tests/lab/entra-lab.sh): real issuer, JWKS over HTTP ---- */

/* KEY=VALUE of DIR/entra.env into out; 0 ok. */
static int env_get(const char *file, const char *key, char *out, size_t outlen)
{
    FILE *f = fopen(file, "r");
    char line[1024];
    size_t kl = strlen(key);
    int rc = -1;
    while (f && rc && fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == '=') {
            snprintf(out, outlen, "%.*s", (int)strcspn(line + kl + 1, "\n"), line + kl + 1);
            rc = 0;
        }
    if (f)
        fclose(f);
    return rc;
}

/* A client_credentials token for the Graph resource; the secret goes by
 * libcurl's Basic auth, never through argv. Heap, or NULL. */
static char *lab_token(const char *env)
{
    char url[256], cid[128], secret_file[600];
    if (env_get(env, "ENTRA_TOKEN_URL", url, sizeof url) || env_get(env, "ENTRA_CLIENT_ID", cid, sizeof cid) ||
        env_get(env, "ENTRA_SECRET_FILE", secret_file, sizeof secret_file))
        return NULL;
    sr_err e;
    char *secret = sr_read_file(secret_file, 4096, NULL, &e);
    if (!secret)
        return NULL;
    secret[strcspn(secret, "\r\n")] = '\0';
    resp r = { 0 };
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "grant_type=client_credentials&scope=https%3A%2F%2Fgraph.microsoft.com"
                                            "%2F.default&resource=https%3A%2F%2Fgraph.microsoft.com");
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, cid);
    curl_easy_setopt(h, CURLOPT_PASSWORD, secret);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    sr_secret_free(secret);
    json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(j, "access_token"));
    char *tok = t ? strdup(t) : NULL;
    json_decref(j);
    free(r.body);
    return tok;
}

/* Whether the token's roles claim (array or comma-joined string) names role. */
static int token_has_role(const char *jwt, const char *role)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2)
        return 0;
    size_t n = (size_t)(d2 - d1 - 1);
    char *b = malloc(n + 4);
    unsigned char *raw = malloc(n + 4);
    if (!b || !raw) {
        free(b);
        free(raw);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        b[i] = d1[1 + i] == '-' ? '+' : d1[1 + i] == '_' ? '/' : d1[1 + i];
    while (n % 4)
        b[n++] = '=';
    b[n] = '\0';
    int len = EVP_DecodeBlock(raw, (unsigned char *)b, (int)n);
    json_t *c = len > 0 ? json_loadb((char *)raw, (size_t)len, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
    json_t *roles = json_object_get(c, "roles");
    int hit = 0;
    if (json_is_string(roles)) {
        char *list = strdup(json_string_value(roles)), *save = NULL;
        for (char *w = strtok_r(list, ", ", &save); w && !hit; w = strtok_r(NULL, ", ", &save))
            hit = !strcmp(w, role);
        free(list);
    }
    size_t i;
    json_t *v;
    json_array_foreach(roles, i, v)
        hit |= json_is_string(v) && !strcmp(json_string_value(v), role);
    json_decref(c);
    free(b);
    free(raw);
    return hit;
}

static void test_glewlwyd_tokens(void)
{
    char dir[600], env[700], log[700], script[700], jwks[256], iss[256], seed[600];
    snprintf(dir, sizeof dir, "%s/entra", tmp);
    snprintf(env, sizeof env, "%s/entra.env", dir);
    snprintf(log, sizeof log, "%s/entra.log", tmp);
    snprintf(script, sizeof script, "%s/tests/lab/entra-lab.sh", tu_root());
    snprintf(seed, sizeof seed, "%s/source.xml", tmp);
    char *start[] = { "bash", script, "start", dir, NULL };
    char *stop[] = { "bash", script, "stop", dir, NULL };
    if (tu_run(start, log, 60000) != 0) {
        tu_skip("the glewlwyd lab did not start (make deps: glewlwyd sqlite3); see %s", log);
        tu_run(stop, NULL, 30000);
        return;
    }
    char *tok = lab_token(env);
    CU_ASSERT_PTR_NOT_NULL(tok);
    tu_exsim lab = { 0 };
    int up = !env_get(env, "ENTRA_JWKS_URL", jwks, sizeof jwks) && !env_get(env, "ENTRA_ISSUER", iss, sizeof iss);
    const char *extra[] = { "--jwks", jwks, "--jwt-issuer", iss, NULL };
    up = up && tu_exsim_start(&lab, tmp, "graph-lab", seed, extra) == 0;
    CU_ASSERT_TRUE(up);
    if (up && tok) {
        tu_exsim keep = sim;                /* call() talks to `sim` */
        sim = lab;
        char *p = user_path(0, "/mailFolders/inbox/messageRules");
        resp r;
        /* the lab's roles are one comma-joined string, as glewlwyd sends them */
        CU_ASSERT_EQUAL(call("GET", p, tok, NULL, &r), 200);
        resp_free(&r);
        char *cal = user_path(0, "/calendar/calendarPermissions");
        CU_ASSERT_EQUAL(call("GET", cal, tok, NULL, &r), 200);
        resp_free(&r);
        /* the lab app holds User.Read.All (tests/lab/entra-lab.sh), which
         * the engine's target identities and `switchresmb --check` need */
        char *u = user_path(0, "");
        CU_ASSERT_TRUE(token_has_role(tok, "User.Read.All"));
        CU_ASSERT_EQUAL(call("GET", u, tok, NULL, &r), 200);
        resp_free(&r);
        CU_ASSERT_EQUAL(call("GET", p, tok_all, NULL, &r), 401);       /* our key is not the lab's */
        resp_free(&r);
        free(u);
        free(cal);
        free(p);
        sim = keep;
    }
    tu_exsim_stop(&lab);
    free(tok);
    tu_run(stop, NULL, 30000);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("exsim graph", suite_init, suite_clean);
    CU_add_test(s, "auth refusals", test_auth_refusals);
    CU_add_test(s, "users", test_users);
    CU_add_test(s, "messageRules round trip", test_rules_round_trip);
    CU_add_test(s, "calendarPermissions and mailboxSettings", test_calendar_permissions);
    CU_add_test(s, "$batch", test_batch);
    CU_add_test(s, "userConfigurations (beta)", test_user_configurations);
    CU_add_test(s, "userConfigurations: Calendar dictionary", test_calendar_dictionary);
    CU_add_test(s, "mailFolders", test_folders);
    CU_add_test(s, "mailSearchFolder", test_search_folders);
    CU_add_test(s, "contacts", test_contacts);
    CU_add_test(s, "contactFolders, distributionLists (beta)", test_contact_folders_and_lists);
    CU_add_test(s, "CSDL checks", test_csdl);
    CU_add_test(s, "throttling", test_throttling);
    CU_add_test(s, "EWS blocked, Graph open", test_ews_blocked);
    CU_add_test(s, "glewlwyd lab tokens", test_glewlwyd_tokens);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures() + (int)CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
