/* auth.c — HTTP authentication as Exchange offers it.  Each scheme is on
 * when --www-auth offers it, and what is offered is exactly what is
 * accepted:
 *   Basic      the seed's account passwords;
 *   NTLM       NTLMv2 checked against NT hashes (auth_ntlm.c);
 *   Negotiate  Kerberos through MIT GSSAPI and a keytab (auth_gss.c);
 *   Bearer     the seed's opaque tokens, or with --jwks a signed JWT
 *              checked as Exchange Online does (auth_jwt.c).
 * NTLM and Negotiate authenticate the TCP connection (exsim_conn). */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <microhttpd.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- helpers ------------------------------------------------------------- */

unsigned char *exsim_auth_b64dec(const char *in, size_t len, int url, size_t *outlen)
{
    while (len && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return NULL;
    size_t padded = (len + 3) / 4 * 4;
    char *s = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!s || !out) {
        free(s);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (url && (ch == '+' || ch == '/'))
            ch = '!';           /* not in the url alphabet: make it fail */
        else if (url && ch == '-')
            ch = '+';
        else if (url && ch == '_')
            ch = '/';
        s[i] = ch;
    }
    memset(s + len, '=', padded - len);
    s[padded] = '\0';
    /* EVP_DecodeBlock counts the padding as zero bytes: take them off. */
    int n = padded ? EVP_DecodeBlock(out, (unsigned char *)s, (int)padded) : 0;
    free(s);
    if (n < 0) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)n - (padded - len);
    return out;
}

char *exsim_auth_b64enc(const unsigned char *in, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

const exsim_account *exsim_auth_find(const char *user)
{
    pthread_mutex_lock(&exsim_srv.store_lock);
    const exsim_account *a = exsim_org_find_account(exsim_srv.org, user);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    return a;
}

long long exsim_auth_now(void)
{
    return (long long)time(NULL) + exsim_srv.clock_offset;
}

static const char *skip_scheme(const char *h, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncasecmp(h, scheme, n) != 0 || (h[n] != ' ' && h[n] != '\0'))
        return NULL;
    h += n;
    while (*h == ' ')
        h++;
    return h;
}

/* ---- life cycle ---------------------------------------------------------- */

int exsim_auth_init(void)
{
    if ((exsim_srv.offer & EXSIM_OFFER_NTLM) && exsim_ntlm_init())
        return -1;
    if ((exsim_srv.offer & EXSIM_OFFER_NEGOTIATE) && exsim_srv.keytab && exsim_gss_init())
        return -1;
    if (exsim_srv.jwks && exsim_jwt_init())
        return -1;
    return 0;
}

void exsim_auth_cleanup(void)
{
    exsim_ntlm_cleanup();
    exsim_jwt_cleanup();
}

void exsim_authres_clear(exsim_authres *res)
{
    free(res->token);
    memset(res, 0, sizeof *res);
}

void exsim_conn_free(exsim_conn *conn)
{
    if (!conn)
        return;
    exsim_gss_conn_free(conn);
    free(conn);
}

/* ---- one request --------------------------------------------------------- */

static void auth_basic(const char *v, exsim_authres *res)
{
    size_t n;
    unsigned char *raw = exsim_auth_b64dec(v, strlen(v), 0, &n);
    if (!raw || memchr(raw, '\0', n)) {
        free(raw);
        snprintf(res->diag, sizeof res->diag, "Basic: malformed credentials");
        return;
    }
    char *plain = malloc(n + 1);
    if (plain) {
        memcpy(plain, raw, n);
        plain[n] = '\0';
    }
    OPENSSL_cleanse(raw, n);
    free(raw);
    char *colon = plain ? strchr(plain, ':') : NULL;
    if (colon) {
        *colon = '\0';
        pthread_mutex_lock(&exsim_srv.store_lock);
        res->acct = exsim_org_auth_basic(exsim_srv.org, plain, colon + 1);
        pthread_mutex_unlock(&exsim_srv.store_lock);
        if (!res->acct)
            snprintf(res->diag, sizeof res->diag, "Basic: %.100s: unknown user or wrong password", plain);
    }
    sr_secret_free(plain);
}

static void auth_bearer(const char *v, exsim_authres *res)
{
    if (exsim_srv.jwks) {
        exsim_jwt_check(v, res);
        return;
    }
    pthread_mutex_lock(&exsim_srv.store_lock);
    res->acct = exsim_org_auth_bearer(exsim_srv.org, v);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    if (!res->acct)
        snprintf(res->diag, sizeof res->diag, "Bearer: unknown token");
}

/* NTLM or Negotiate: a token for the connection's exchange. */
static void auth_conn_scheme(exsim_conn *conn, const char *scheme, const char *v, exsim_authres *res)
{
    if (!conn) {
        snprintf(res->diag, sizeof res->diag, "%s: no connection state", scheme);
        return;
    }
    size_t n;
    unsigned char *raw = exsim_auth_b64dec(v, strlen(v), 0, &n);
    if (!raw || n == 0) {
        free(raw);
        snprintf(res->diag, sizeof res->diag, "%s: malformed token", scheme);
        return;
    }
    conn->acct = NULL;          /* a new exchange starts over */
    if (!strcmp(scheme, "NTLM"))
        exsim_ntlm_step(conn, raw, n, res);
    else
        exsim_gss_step(conn, raw, n, res);
    free(raw);
    if (res->acct) {
        conn->acct = res->acct;
        conn->acct_scheme = scheme;
    }
}

void exsim_auth(exsim_conn *conn, const char *authorization, exsim_authres *res)
{
    memset(res, 0, sizeof *res);
    if (!exsim_srv.org)
        return;
    if (!authorization || !*authorization) {
        if (conn && conn->acct)
            res->acct = conn->acct;
        return;
    }
    unsigned o = exsim_srv.offer;
    const char *v;
    if ((v = skip_scheme(authorization, "Basic")) != NULL && (o & EXSIM_OFFER_BASIC))
        auth_basic(v, res);
    else if ((v = skip_scheme(authorization, "Bearer")) != NULL && (o & EXSIM_OFFER_BEARER) && *v)
        auth_bearer(v, res);
    else if ((v = skip_scheme(authorization, "NTLM")) != NULL && (o & EXSIM_OFFER_NTLM))
        auth_conn_scheme(conn, "NTLM", v, res);
    else if ((v = skip_scheme(authorization, "Negotiate")) != NULL && (o & EXSIM_OFFER_NEGOTIATE))
        auth_conn_scheme(conn, "Negotiate", v, res);
    else
        snprintf(res->diag, sizeof res->diag, "scheme '%.*s' not offered",
                 (int)strcspn(authorization, " "), authorization);
    if (res->acct)
        fprintf(stderr, "exsim: auth: %.*s: accepted as %s\n", (int)strcspn(authorization, " "),
                authorization, res->acct->name);
    else if (res->diag[0])
        fprintf(stderr, "exsim: auth: refused: %s\n", res->diag);
}

/* ---- challenges ---------------------------------------------------------- */

static void add_bearer(struct MHD_Response *resp, const exsim_authres *res)
{
    char h[1024];
    snprintf(h, sizeof h,
             "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", "
             "trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", "
             "token_types=\"app_asserted_user_v1 service_asserted_app_v1\", "
             "authorization_uri=\"https://login.windows.net/common/oauth2/authorize\", "
             "error=\"invalid_token\"");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, h);
    /* Exchange Online names the cause of a refused token in this header. */
    if (res && res->bearer_error && res->diag[0])
        MHD_add_response_header(resp, "x-ms-diagnostics", res->diag);
}

void exsim_auth_headers(struct MHD_Response *resp, int status, const exsim_authres *res)
{
    if (res && res->token && res->scheme) {
        char *h = sr_asprintf("%s %s", res->scheme, res->token);
        if (h)
            MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, h);
        free(h);
        return;
    }
    if (status != 401)
        return;
    unsigned o = exsim_srv.offer;
    if (o & EXSIM_OFFER_NEGOTIATE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Negotiate");
    if (o & EXSIM_OFFER_NTLM)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "NTLM");
    if (o & EXSIM_OFFER_BASIC)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"127.0.0.1\"");
    if ((o & EXSIM_OFFER_BEARER) && !exsim_srv.no_bearer)
        add_bearer(resp, res);
}
