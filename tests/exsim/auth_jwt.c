/* auth_jwt.c — Bearer tokens checked as Exchange Online checks them: an
 * RS256 JWT whose signature verifies against the issuer's JWKS (--jwks, a
 * file or an http URL on 127.0.0.1, read once at start), whose iss is
 * --jwt-issuer, whose aud is --jwt-audience (string or array), which is
 * inside exp/nbf (5 minutes' leeway, as Microsoft's libraries allow), and
 * whose roles (string, comma-separated, or array) hold --jwt-role.  An
 * app-only token then acts as --jwt-account (default: the seed account
 * "admin").  Refusals carry Exchange Online's
 * x-ms-diagnostics header naming the cause (the numbers are EXO's as far as
 * they are known; see README). */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_KEYS 16
#define LEEWAY_S 300

typedef struct jwk { char *kid; EVP_PKEY *key; } jwk;

static jwk keys[MAX_KEYS];
static int n_keys;
static const exsim_account *app_account;

/* ---- JWKS ----------------------------------------------------------------- */

static BIGNUM *b64url_bn(const char *s)
{
    size_t n;
    unsigned char *raw = s ? exsim_auth_b64dec(s, strlen(s), 1, &n) : NULL;
    BIGNUM *bn = raw ? BN_bin2bn(raw, (int)n, NULL) : NULL;
    free(raw);
    return bn;
}

static EVP_PKEY *rsa_from_jwk(json_t *k)
{
    BIGNUM *n = b64url_bn(json_string_value(json_object_get(k, "n")));
    BIGNUM *e = b64url_bn(json_string_value(json_object_get(k, "e")));
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (n && e && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return pkey;
}

typedef struct membuf { char *data; size_t len; } membuf;

static int membuf_add(membuf *b, const char *p, size_t n)
{
    if (b->len + n > (1u << 20))
        return -1;
    char *d = realloc(b->data, b->len + n + 1);
    if (!d)
        return -1;
    memcpy(d + b->len, p, n);
    b->data = d;
    b->len += n;
    d[b->len] = '\0';
    return 0;
}

static size_t collect(char *p, size_t sz, size_t nm, void *ud)
{
    return membuf_add(ud, p, sz * nm) == 0 ? sz * nm : 0;
}

/* The JWKS document: a file, or an http(s) URL that must be on 127.0.0.1. */
static char *jwks_text(const char *src)
{
    if (strncmp(src, "http://", 7) && strncmp(src, "https://", 8)) {
        sr_err e;
        char *t = sr_read_file(src, 1 << 20, NULL, &e);
        if (!t)
            fprintf(stderr, "exsim: --jwks %s: %s\n", src, e.msg);
        return t;
    }
    const char *host = strstr(src, "://") + 3;
    if (strncmp(host, "127.0.0.1:", 10) && strncmp(host, "127.0.0.1/", 10)) {
        fprintf(stderr, "exsim: --jwks %s: only 127.0.0.1 is allowed\n", src);
        return NULL;
    }
    membuf b = { 0 };
    CURL *c = curl_easy_init();
    long code = 0;
    CURLcode rc = CURLE_FAILED_INIT;
    if (c) {
        curl_easy_setopt(c, CURLOPT_URL, src);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
    }
    if (rc != CURLE_OK || code != 200 || !b.data) {
        fprintf(stderr, "exsim: --jwks %s: %s (HTTP %ld)\n", src, curl_easy_strerror(rc), code);
        free(b.data);
        return NULL;
    }
    return b.data;
}

static int load_jwks(const char *src)
{
    char *text = jwks_text(src);
    if (!text)
        return -1;
    json_error_t je;
    json_t *doc = json_loads(text, 0, &je);
    free(text);
    json_t *arr = doc ? json_object_get(doc, "keys") : NULL;
    size_t i;
    json_t *k;
    json_array_foreach(arr, i, k) {
        const char *kty = json_string_value(json_object_get(k, "kty"));
        if (!kty || strcmp(kty, "RSA") || n_keys == MAX_KEYS)
            continue;
        EVP_PKEY *pk = rsa_from_jwk(k);
        if (!pk)
            continue;
        const char *kid = json_string_value(json_object_get(k, "kid"));
        keys[n_keys].kid = kid ? strdup(kid) : NULL;
        keys[n_keys++].key = pk;
    }
    json_decref(doc);
    if (n_keys == 0) {
        fprintf(stderr, "exsim: --jwks %s: no RSA key found%s%s\n", src, doc ? "" : ": ",
                doc ? "" : je.text);
        return -1;
    }
    return 0;
}

int exsim_jwt_init(void)
{
    if (!exsim_srv.jwt_issuer) {
        fprintf(stderr, "exsim: --jwks needs --jwt-issuer\n");
        return -1;
    }
    if (!exsim_srv.jwt_audience)
        exsim_srv.jwt_audience = "https://outlook.office365.com";
    if (!exsim_srv.jwt_role)
        exsim_srv.jwt_role = "full_access_as_app";
    if (!exsim_srv.jwt_account)
        exsim_srv.jwt_account = "admin";
    app_account = exsim_org_find_account(exsim_srv.org, exsim_srv.jwt_account);
    if (!app_account) {
        fprintf(stderr, "exsim: --jwt-account %s: no such account in the seed\n", exsim_srv.jwt_account);
        return -1;
    }
    return load_jwks(exsim_srv.jwks);
}

void exsim_jwt_cleanup(void)
{
    for (int i = 0; i < n_keys; i++) {
        free(keys[i].kid);
        EVP_PKEY_free(keys[i].key);
    }
    n_keys = 0;
}

/* ---- one token ------------------------------------------------------------ */

static json_t *segment_json(const char *s, size_t len)
{
    size_t n;
    unsigned char *raw = exsim_auth_b64dec(s, len, 1, &n);
    json_t *j = raw ? json_loadb((const char *)raw, n, 0, NULL) : NULL;
    free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static EVP_PKEY *key_for(const char *kid)
{
    for (int i = 0; i < n_keys; i++)
        if (kid ? keys[i].kid && !strcmp(keys[i].kid, kid) : n_keys == 1)
            return keys[i].key;
    return NULL;
}

static int signature_ok(EVP_PKEY *key, const char *jwt, size_t signed_len, const char *sig, size_t siglen)
{
    size_t n;
    unsigned char *raw = exsim_auth_b64dec(sig, siglen, 1, &n);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = raw && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(md, raw, n, (const unsigned char *)jwt, signed_len) == 1;
    EVP_MD_CTX_free(md);
    free(raw);
    return ok;
}

static int aud_ok(json_t *aud, const char *want)
{
    if (json_is_string(aud))
        return !strcmp(json_string_value(aud), want);
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), want))
            return 1;
    return 0;
}

/* Does the list "a,b c" hold role? */
static int list_has(const char *list, const char *role)
{
    size_t rl = strlen(role);
    for (const char *p = list; *p;) {
        p += strspn(p, ", ");
        size_t n = strcspn(p, ", ");
        if (n == rl && !strncmp(p, role, n))
            return 1;
        p += n;
    }
    return 0;
}

int exsim_jwt_has_role(json_t *roles, const char *role)
{
    if (json_is_string(roles))
        return list_has(json_string_value(roles), role);
    size_t i;
    json_t *v;
    json_array_foreach(roles, i, v)
        if (json_is_string(v) && !strcmp(json_string_value(v), role))
            return 1;
    return 0;
}

#define REFUSE(...) do { snprintf(res->diag, sizeof res->diag, __VA_ARGS__); goto out; } while (0)

/* The claims' checks, signature already verified; the role only when
 * role is non-NULL (Graph checks it per endpoint, after the audience). */
static void check_claims(json_t *c, const char *audience, const char *role, exsim_authres *res)
{
    long long now = exsim_auth_now();
    json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
    const char *iss = json_string_value(json_object_get(c, "iss"));
    if (!iss || strcmp(iss, exsim_srv.jwt_issuer))
        REFUSE("2000001;reason=\"The issuer of the token is not trusted: %.100s\";error_category=\"invalid_issuer\"",
               iss ? iss : "(none)");
    if (!aud_ok(json_object_get(c, "aud"), audience))
        REFUSE("2000003;reason=\"The audience claim value is invalid for this resource: expected %.100s\";"
               "error_category=\"invalid_resource\"", audience);
    if (!json_is_integer(exp) || json_integer_value(exp) + LEEWAY_S <= now)
        REFUSE("2000003;reason=\"The token has expired\";error_category=\"invalid_lifetime\"");
    if (nbf && (!json_is_integer(nbf) || json_integer_value(nbf) > now + LEEWAY_S))
        REFUSE("2000003;reason=\"The token is not valid yet (nbf)\";error_category=\"invalid_lifetime\"");
    if (role && !exsim_jwt_has_role(json_object_get(c, "roles"), role))
        REFUSE("2000008;reason=\"The token contains no permission %.60s\";error_category=\"invalid_grant\"",
               role);
    res->acct = app_account;
out:
    return;
}

json_t *exsim_jwt_verify(const char *jwt, const char *audience, const char *role, exsim_authres *res)
{
    res->bearer_error = 1;
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    json_t *hdr = NULL, *claims = NULL;
    if (!d2 || strchr(d2 + 1, '.'))
        REFUSE("2000001;reason=\"The token is malformed (not a JWS)\";error_category=\"invalid_token\"");
    hdr = segment_json(jwt, (size_t)(d1 - jwt));
    claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *alg = hdr ? json_string_value(json_object_get(hdr, "alg")) : NULL;
    if (!hdr || !claims)
        REFUSE("2000001;reason=\"The token is malformed\";error_category=\"invalid_token\"");
    if (!alg || strcmp(alg, "RS256"))
        REFUSE("2000001;reason=\"The token's algorithm %.20s is not accepted (RS256)\";"
               "error_category=\"invalid_signature\"", alg ? alg : "(none)");
    EVP_PKEY *key = key_for(json_string_value(json_object_get(hdr, "kid")));
    if (!key)
        REFUSE("2000001;reason=\"The token's signing key is not in the issuer's key set\";"
               "error_category=\"invalid_signature\"");
    if (!signature_ok(key, jwt, (size_t)(d2 - jwt), d2 + 1, strlen(d2 + 1)))
        REFUSE("2000001;reason=\"The token signature is invalid\";error_category=\"invalid_signature\"");
    check_claims(claims, audience, role, res);
out:
    if (res->acct)
        res->bearer_error = 0;
    else if (strncmp(res->diag, "2000", 4) != 0)
        snprintf(res->diag, sizeof res->diag, "2000001;reason=\"The token is invalid\";error_category=\"invalid_token\"");
    json_decref(hdr);
    if (!res->acct) {
        json_decref(claims);
        claims = NULL;
    }
    return claims;
}

void exsim_jwt_check(const char *jwt, exsim_authres *res)
{
    json_decref(exsim_jwt_verify(jwt, exsim_srv.jwt_audience, exsim_srv.jwt_role, res));
}
