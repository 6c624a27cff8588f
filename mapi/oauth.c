/* oauth.c — OAuth2 app-only token for Exchange Online EWS: the
 * client-credentials grant (RFC 6749 4.4) against the token endpoint
 * (token_url, else {AuthorityURL}/oauth2/token), authenticated by a client
 * secret or, as Microsoft recommends, by a certificate: an RS256
 * private_key_jwt client assertion (RFC 7523) with the certificate's SHA-1
 * thumbprint in the x5t header.  The request carries both
 * scope={ResourceURL}/.default (Entra v2) and resource={ResourceURL} (v1).
 * The token is cached in the net handle (one per side) and renewed before it
 * expires.  JSON through jansson, crypto through OpenSSL EVP.  Secrets and
 * tokens travel only in request bodies and headers, never in a log line. */
#include "mapi/ews_int.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define ASSERTION_LIFETIME_S 600
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

void mapi_oauth_cache_clear(mapi_oauth_cache *c)
{
    if (!c)
        return;
    sr_secret_free(c->token);
    c->token = NULL;
    c->expires_at = 0;
}

/* ---- the answer ------------------------------------------------------------ */

static long expires_of(json_t *v)
{
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    if (json_is_string(v))   /* Entra v1 sends numbers as strings */
        return strtol(json_string_value(v), NULL, 10);
    return 3600;
}

/* The first line of an Entra error_description ("AADSTS7000215: Invalid
 * client secret provided. ...\r\nTrace ID: ..."): the rest is noise. */
static void error_words(json_t *root, char *out, size_t outlen)
{
    const char *e = json_string_value(json_object_get(root, "error"));
    const char *d = json_string_value(json_object_get(root, "error_description"));
    size_t dl = d ? strcspn(d, "\r\n") : 0;
    snprintf(out, outlen, "%s%s%.*s", e ? e : "error", d ? ": " : "", (int)dl, d ? d : "");
}

sr_code mapi_oauth_parse(const char *json, char **token, long *expires_in, sr_err *err)
{
    *token = NULL;
    *expires_in = 0;
    if (!json || !*json)
        return sr_err_set(err, SR_E_PARSE, "empty token response");
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return sr_err_set(err, SR_E_PARSE, "the token response is not a JSON object (%s, line %d)",
                          je.text, je.line);
    }
    const char *tok = json_string_value(json_object_get(root, "access_token"));
    const char *type = json_string_value(json_object_get(root, "token_type"));
    sr_code rc = SR_OK;
    if (!tok || !*tok) {
        char words[512];
        error_words(root, words, sizeof words);
        rc = sr_err_set(err, SR_E_AUTH, "no access token in the answer: %s", words);
    } else if (type && strcasecmp(type, "bearer") != 0) {
        rc = sr_err_set(err, SR_E_PROTOCOL, "token_type '%s' is not a bearer token", type);
    } else if (!(*token = sr_strdup(tok))) {
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    } else {
        *expires_in = expires_of(json_object_get(root, "expires_in"));
    }
    if (tok)   /* jansson's copy of the token */
        explicit_bzero((char *)tok, strlen(tok));
    json_decref(root);
    return rc;
}

/* ---- the certificate credential ------------------------------------------ */

/* base64url without padding (RFC 7515); heap. */
static char *b64url(const unsigned char *d, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out)
        return NULL;
    int len = EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (char *p = out; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return out;
}

static char *b64url_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    char *out = s ? b64url((const unsigned char *)s, strlen(s)) : NULL;
    free(s);
    return out;
}

static sr_code load_cert(const char *path, char **x5t, sr_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sr_err_set(err, SR_E_IO, "ClientCertificate %s: %s", path, strerror(errno));
    X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!c)
        return sr_err_set(err, SR_E_PARSE, "ClientCertificate %s: not a PEM certificate", path);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = X509_digest(c, EVP_sha1(), md, &mdlen);
    X509_free(c);
    if (!ok || !(*x5t = b64url(md, mdlen)))
        return sr_err_set(err, SR_E_INTERNAL, "ClientCertificate %s: no thumbprint", path);
    return SR_OK;
}

static EVP_PKEY *load_key(const char *path, sr_err *err)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    if (!f) {
        sr_err_set(err, SR_E_IO, "ClientCertificateKey %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & S_IROTH)) {
        fclose(f);
        sr_err_set(err, SR_E_ACCESS, "ClientCertificateKey %s is readable by every user: "
                   "chmod 600 it (the key is the application's credential)", path);
        return NULL;
    }
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
        EVP_PKEY_free(k);
        sr_err_set(err, SR_E_PARSE, "ClientCertificateKey %s: not an unencrypted PEM RSA key "
                   "(RS256 needs RSA)", path);
        return NULL;
    }
    return k;
}

static char *rs256(EVP_PKEY *k, const char *input)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t sl = 0;
    unsigned char *sig = NULL;
    char *out = NULL;
    if (ctx && EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
        EVP_DigestSign(ctx, NULL, &sl, (const unsigned char *)input, strlen(input)) == 1 &&
        (sig = malloc(sl)) &&
        EVP_DigestSign(ctx, sig, &sl, (const unsigned char *)input, strlen(input)) == 1)
        out = b64url(sig, sl);
    free(sig);
    EVP_MD_CTX_free(ctx);
    return out;
}

static json_t *assertion_claims(const char *client_id, const char *aud, sr_err *err)
{
    mapi_guid g;
    char jti[MAPI_GUID_STRLEN + 1];
    if (mapi_guid_random(&g, err) != SR_OK)
        return NULL;
    mapi_guid_format(&g, jti);
    json_int_t now = (json_int_t)time(NULL);
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud, "iss", client_id,
                     "sub", client_id, "jti", jti, "nbf", now, "iat", now,
                     "exp", now + ASSERTION_LIFETIME_S);
}

/* The signed client assertion for aud (the token URL); heap (a credential:
 * caller frees with sr_secret_free). */
static char *client_assertion(const mapi_netopts *o, const char *aud, sr_err *err)
{
    char *x5t = NULL, *out = NULL, *h = NULL, *p = NULL, *input = NULL, *sig = NULL;
    if (load_cert(o->client_cert_file, &x5t, err) != SR_OK)
        return NULL;
    EVP_PKEY *k = load_key(o->client_key_file, err);
    json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "x5t", x5t);
    json_t *cl = k ? assertion_claims(o->client_id, aud, err) : NULL;
    if (k && hdr && cl && (h = b64url_json(hdr)) && (p = b64url_json(cl)) &&
        (input = sr_asprintf("%s.%s", h, p)) && (sig = rs256(k, input)))
        out = sr_asprintf("%s.%s", input, sig);
    if (k && !out && err->code == SR_OK)
        sr_err_set(err, SR_E_CRYPTO, "cannot sign the client assertion with %s", o->client_key_file);
    json_decref(hdr);
    json_decref(cl);
    EVP_PKEY_free(k);
    free(x5t); free(h); free(p); free(input); free(sig);
    return out;
}

/* ---- the request ------------------------------------------------------------ */

static char *token_url_of(const mapi_netopts *o)
{
    if (o->token_url)
        return sr_strdup(o->token_url);
    size_t l = strlen(o->authority_url);
    while (l > 0 && o->authority_url[l - 1] == '/')
        l--;
    return sr_asprintf("%.*s/oauth2/token", (int)l, o->authority_url);
}

/* "k=v" pairs, values escaped; the secret part is wiped by the caller. */
static char *token_form(const mapi_netopts *o, const char *cred_key, const char *cred)
{
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    char *scope_raw = sr_asprintf("%s/.default", o->resource_url);
    char *id = curl_easy_escape(h, o->client_id, 0);
    char *res = curl_easy_escape(h, o->resource_url, 0);
    char *scope = scope_raw ? curl_easy_escape(h, scope_raw, 0) : NULL;
    char *c = curl_easy_escape(h, cred, 0);
    char *form = NULL;
    if (id && res && scope && c)
        form = sr_asprintf("grant_type=client_credentials&client_id=%s&scope=%s&resource=%s%s&%s=%s",
                           id, scope, res,
                           strcmp(cred_key, "client_assertion") ? ""
                               : "&client_assertion_type=" ASSERTION_TYPE,
                           cred_key, c);
    if (c)
        explicit_bzero(c, strlen(c));
    curl_free(id);
    curl_free(res);
    curl_free(scope);
    curl_free(c);
    free(scope_raw);
    curl_easy_cleanup(h);
    return form;
}

/* Status + body → token or an error naming the cause. */
static sr_code read_answer(const mapi_http_resp *rs, char **tok, long *exp, sr_err *err)
{
    int json = rs->body && rs->len && rs->body[0] == '{';
    if (rs->status == 200)
        return mapi_oauth_parse(rs->body, tok, exp, err);
    if (json) {
        sr_err pe;
        sr_err_clear(&pe);
        char *t = NULL;
        mapi_oauth_parse(rs->body, &t, exp, &pe);
        sr_secret_free(t);
        return sr_err_set(err, rs->status >= 500 ? SR_E_SERVER : SR_E_AUTH, "HTTP %ld: %s",
                          rs->status, pe.msg);
    }
    if (rs->status == 400 || rs->status == 401 || rs->status == 403)
        return sr_err_set(err, SR_E_AUTH, "HTTP %ld without an explanation: the client was refused "
                          "(check the client id, the secret or certificate, and that the app is "
                          "registered in this tenant)", rs->status);
    sr_code c;
    const char *w = mapi_http_words(rs->status, &c);
    return sr_err_set(err, c, "HTTP %ld: %s", rs->status, w);
}

static sr_code fetch_token(mapi_net *net, const char *url, char **tok, long *exp, sr_err *err)
{
    const mapi_netopts *o = mapi_net_opts(net);
    int cert = o->client_cert_file && o->client_key_file;
    char *cred = cert ? client_assertion(o, url, err) : sr_strdup(o->client_secret);
    if (!cred)
        return err->code != SR_OK ? err->code : sr_err_set(err, SR_E_NOMEM, "out of memory");
    char *form = token_form(o, cert ? "client_assertion" : "client_secret", cred);
    sr_secret_free(cred);
    if (!form)
        return sr_err_set(err, SR_E_NOMEM, "out of memory building the token request");
    mapi_http_req rq = { .url = url, .who = "oauth2", .method = "POST",
                         .content_type = "application/x-www-form-urlencoded",
                         .body = form, .body_len = strlen(form), .auth = 0 };
    mapi_http_resp rs;
    sr_err he;
    sr_code rc = mapi_http_run(net, &rq, &rs, &he, 1);
    sr_secret_free(form);
    if (rc != SR_OK)
        *err = he;
    else
        rc = read_answer(&rs, tok, exp, err);
    if (rs.body)
        explicit_bzero(rs.body, rs.len);
    mapi_http_resp_clear(&rs);
    return rc;
}

const char *mapi_oauth_token(mapi_net *net, sr_err *err)
{
    mapi_oauth_cache *c = mapi_net_oauth(net);
    const mapi_netopts *o = mapi_net_opts(net);
    if (c->token && sr_now_ms() < c->expires_at)
        return c->token;
    mapi_oauth_cache_clear(c);
    int cert = o->client_cert_file && o->client_key_file;
    if (!o->client_id || (!cert && !o->client_secret)) {
        sr_err_set(err, SR_E_CONFIG, "OAuth2 needs a client id and a client secret or certificate");
        return NULL;
    }
    char *url = token_url_of(o);
    if (!url) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    char *tok = NULL;
    long exp = 0;
    sr_err e;
    sr_err_clear(&e);
    if (fetch_token(net, url, &tok, &exp, &e) != SR_OK) {
        sr_err_set(err, e.code, "OAuth2 token for client %s from %s (resource %s, %s): %s",
                   o->client_id, url, o->resource_url, cert ? "certificate" : "client secret", e.msg);
        free(url);
        return NULL;
    }
    sr_log(SR_LOG_INFO, "oauth2", "token for client %s from %s, valid %ld s", o->client_id, url, exp);
    free(url);
    /* renew early so a batch never starts with a dying token: a minute
     * before a long-lived one expires, half-way through a short one */
    c->token = tok;
    c->expires_at = sr_now_ms() + (exp > 120 ? exp - 60 : exp / 2) * 1000LL;
    return c->token;
}
