/* test_mapi_oauth.c — the OAuth2 app-only client (mapi/oauth.c) against a
 * real OAuth2 server: glewlwyd, the Entra ID stand-in of
 * $SHARED_DIR/labs/oauth-entra-standin.md, started by this test on a free
 * loopback port and stopped by its PID.  Tokens it issues are checked as a
 * resource server would (signature against the JWKS, aud, iss, the
 * full_access_as_app role) by the lab's verify.py. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapi/ews_int.h"
#include "tests/common/testutil.h"

#define CLIENT_ID "00000000-aaaa-bbbb-cccc-000000000001"
#define SECRET "Test-Secret-123"
#define TENANT "11111111-2222-3333-4444-555555555555"
#define ISSUER "https://sts.windows.net/" TENANT "/"
#define EWS_AUD "https://outlook.office365.com"

static char *g_dir;
static int g_port;
static char g_token_url[128], g_jwks[128];
static char g_cert[600], g_key[600];

static int standin(const char *verb)
{
    char script[600], port[16];
    snprintf(script, sizeof script, "%s/labs/oauth/entra-standin.sh", tu_shared());
    snprintf(port, sizeof port, "%d", g_port);
    setenv("DIR", g_dir, 1);
    setenv("PORT", port, 1);
    char log[600];
    snprintf(log, sizeof log, "%s/standin-%s.log", g_dir, verb);
    char *argv[] = { "bash", script, (char *)verb, NULL };
    int rc = tu_run(argv, log, 60000);
    unsetenv("DIR");
    unsetenv("PORT");
    return rc;
}

static int suite_init(void)
{
    if (!(g_dir = tu_mkdtemp("oauth")) || !(g_port = tu_free_port()))
        return -1;
    if (standin("start") != 0) {
        fprintf(stderr, "the glewlwyd stand-in did not start (make deps installs glewlwyd, "
                        "sqlite3, python3-jwt); see %s/standin-start.log\n", g_dir);
        return -1;
    }
    snprintf(g_token_url, sizeof g_token_url, "http://127.0.0.1:%d/api/oauth2/token", g_port);
    snprintf(g_jwks, sizeof g_jwks, "http://127.0.0.1:%d/api/oauth2/jwks", g_port);
    snprintf(g_cert, sizeof g_cert, "%s/client_cert.pem", g_dir);
    snprintf(g_key, sizeof g_key, "%s/client_key.pem", g_dir);
    chmod(g_key, 0600);
    return 0;
}

static int suite_clean(void)
{
    if (g_dir) {
        standin("stop");
        tu_rm_rf(g_dir);
        free(g_dir);
    }
    return 0;
}

static mapi_net *oauth_net(const char *secret, const char *cert, const char *key)
{
    mapi_netopts o = { .client_id = CLIENT_ID, .client_secret = secret,
                       .client_cert_file = cert, .client_key_file = key,
                       .token_url = g_token_url, .allow_http = 1,
                       .connect_timeout_ms = 2000, .timeout_ms = 10000 };
    sr_err e;
    CU_ASSERT_EQUAL(mapi_netopts_from_account(NULL, 1, "target", &o, &e), SR_OK);
    mapi_net *n = mapi_net_new(&o, &e);
    CU_ASSERT_PTR_NOT_NULL(n);
    return n;
}

/* verify.py on the token: 0 when signature, aud, iss and role hold. */
static int verify(const char *token, const char *aud)
{
    char path[700], script[600];
    snprintf(path, sizeof path, "%s/token.jwt", g_dir);
    snprintf(script, sizeof script, "%s/labs/oauth/verify.py", tu_shared());
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fchmod(fileno(f), 0600);
    fputs(token, f);
    fclose(f);
    char log[700];
    snprintf(log, sizeof log, "%s/verify.log", g_dir);
    char *argv[] = { "/usr/bin/python3", script, g_jwks, path, (char *)aud, ISSUER, NULL };
    int rc = tu_run(argv, log, 30000);
    unlink(path);
    return rc;
}

static void test_secret(void)
{
    mapi_net *net = oauth_net(SECRET, NULL, NULL);
    sr_err e;
    sr_err_clear(&e);
    const char *t = mapi_oauth_token(net, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(verify(t, EWS_AUD), 0);
    /* a token for EWS is not one for another audience */
    CU_ASSERT_NOT_EQUAL(verify(t, "https://graph.microsoft.com"), 0);
    mapi_net_free(net);
}

static void test_certificate(void)
{
    for (int i = 0; i < 2; i++) {   /* each assertion is new (jti is single-use) */
        mapi_net *net = oauth_net(NULL, g_cert, g_key);
        sr_err e;
        sr_err_clear(&e);
        const char *t = mapi_oauth_token(net, &e);
        CU_ASSERT_PTR_NOT_NULL(t);
        if (!t)
            fprintf(stderr, "certificate: %s\n", e.msg);
        else
            CU_ASSERT_EQUAL(verify(t, EWS_AUD), 0);
        mapi_net_free(net);
    }
}

static void test_refusals(void)
{
    sr_err e;
    sr_err_clear(&e);
    mapi_net *net = oauth_net("Wrong-Secret-999", NULL, NULL);
    CU_ASSERT_PTR_NULL(mapi_oauth_token(net, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_AUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "HTTP 403"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, CLIENT_ID));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_token_url));
    CU_ASSERT_PTR_NULL(strstr(e.msg, "Wrong-Secret"));
    mapi_net_free(net);
    /* a certificate the app registration does not know */
    char other_key[700], other_cert[700], log[700];
    snprintf(other_key, sizeof other_key, "%s/other_key.pem", g_dir);
    snprintf(other_cert, sizeof other_cert, "%s/other_cert.pem", g_dir);
    snprintf(log, sizeof log, "%s/openssl.log", g_dir);
    char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", other_key,
                     "-out", other_cert, "-days", "1", "-subj", "/CN=other", NULL };
    CU_ASSERT_EQUAL_FATAL(tu_run(argv, log, 60000), 0);
    chmod(other_key, 0600);
    net = oauth_net(NULL, other_cert, other_key);
    CU_ASSERT_PTR_NULL(mapi_oauth_token(net, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_AUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "certificate"));
    mapi_net_free(net);
    /* a key every local user can read is refused before any request */
    chmod(other_key, 0644);
    net = oauth_net(NULL, other_cert, other_key);
    CU_ASSERT_PTR_NULL(mapi_oauth_token(net, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_ACCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "chmod 600"));
    mapi_net_free(net);
}

/* Cached per handle; renewed from the server once the cache says expired. */
static void test_cache_and_refresh(void)
{
    mapi_net *net = oauth_net(SECRET, NULL, NULL);
    sr_err e;
    sr_err_clear(&e);
    const char *t1 = mapi_oauth_token(net, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t1);
    char *first = strdup(t1);
    CU_ASSERT_STRING_EQUAL(mapi_oauth_token(net, &e), first);   /* cached */
    unsigned before = mapi_net_requests(net);
    mapi_net_oauth(net)->expires_at = sr_now_ms() - 1;        /* as if its time was up */
    const char *t2 = mapi_oauth_token(net, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t2);
    CU_ASSERT_EQUAL(mapi_net_requests(net), before + 1);
    CU_ASSERT_STRING_NOT_EQUAL(t2, first);
    CU_ASSERT_EQUAL(verify(t2, EWS_AUD), 0);
    sr_secret_free(first);
    mapi_net_free(net);
}

/* With full tracing (SR_EWS_DEBUG=2: headers and bodies), neither the
 * secret, the signed assertion nor the token reaches the log. */
static void test_no_secret_in_trace(void)
{
    char path[700];
    snprintf(path, sizeof path, "%s/trace.log", g_dir);
    FILE *log = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    setenv("SR_EWS_DEBUG", "2", 1);
    sr_log_set_stream(log);
    sr_log_level old = sr_log_get_level();
    sr_log_set_level(SR_LOG_DEBUG);
    sr_err e;
    sr_err_clear(&e);
    mapi_net *a = oauth_net(SECRET, NULL, NULL);
    mapi_net *b = oauth_net(NULL, g_cert, g_key);
    const char *ta = mapi_oauth_token(a, &e);
    const char *tb = mapi_oauth_token(b, &e);
    char *tok_a = ta ? strdup(ta) : NULL, *tok_b = tb ? strdup(tb) : NULL;
    mapi_net_free(a);
    mapi_net_free(b);
    sr_log_set_level(old);
    sr_log_set_stream(stdout);
    unsetenv("SR_EWS_DEBUG");
    fclose(log);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok_a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tok_b);
    sr_err re;
    char *text = sr_read_file(path, 1 << 22, NULL, &re);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "client_secret=***"));        /* it was traced */
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "client_assertion=***"));
    CU_ASSERT_PTR_NULL(strstr(text, SECRET));
    CU_ASSERT_PTR_NULL(strstr(text, tok_a + strlen(tok_a) - 40));     /* the signature part */
    CU_ASSERT_PTR_NULL(strstr(text, tok_b + strlen(tok_b) - 40));
    CU_ASSERT_PTR_NULL(strstr(text, "client_assertion=ey"));
    free(text);
    sr_secret_free(tok_a);
    sr_secret_free(tok_b);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mapi_oauth_glewlwyd", suite_init, suite_clean);
    CU_add_test(s, "client secret: token verified (JWKS, aud, iss, role)", test_secret);
    CU_add_test(s, "certificate: RS256 private_key_jwt with x5t", test_certificate);
    CU_add_test(s, "wrong secret, unknown certificate, readable key", test_refusals);
    CU_add_test(s, "cached, renewed when expired", test_cache_and_refresh);
    CU_add_test(s, "no secret, assertion or token in a full trace", test_no_secret_in_trace);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
