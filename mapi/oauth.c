/* oauth.c — OAuth2 client-credentials token for Office 365 EWS
 * (how-to-authenticate-an-ews-application-by-using-oauth): POST
 * {AuthorityURL}/oauth2/token with grant_type=client_credentials,
 * client_id, client_secret, resource={ResourceURL}; the token is cached in
 * the net handle until shortly before it expires.  The secret travels only
 * in the request body (never a URL or a log line). */
#include "mapi/ews_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

void mapi_oauth_cache_clear(mapi_oauth_cache *c)
{
    if (!c)
        return;
    sr_secret_free(c->token);
    c->token = NULL;
    c->expires_at = 0;
}

/* Value of a top-level "key": "string" or "key": number in a flat JSON
 * object; heap string or NULL.  Enough for token answers, which are flat. */
static char *json_field(const char *json, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = strchr(json, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, kl) != 0 || p[kl + 1] != '"')
            continue;
        const char *v = p + kl + 2;
        while (isspace((unsigned char)*v))
            v++;
        if (*v != ':')
            continue;
        v++;
        while (isspace((unsigned char)*v))
            v++;
        if (*v == '"') {
            const char *e = ++v;
            while (*e && *e != '"') {
                if (*e == '\\' && e[1])
                    e++;
                e++;
            }
            if (*e != '"')
                return NULL;
            return strndup(v, (size_t)(e - v));
        }
        size_t n = strspn(v, "0123456789");
        return n ? strndup(v, n) : NULL;
    }
    return NULL;
}

sr_code mapi_oauth_parse(const char *json, char **token, long *expires_in, sr_err *err)
{
    *token = NULL;
    *expires_in = 0;
    if (!json)
        return sr_err_set(err, SR_E_PARSE, "empty token response");
    char *tok = json_field(json, "access_token");
    if (!tok || !*tok) {
        sr_secret_free(tok);
        char *e = json_field(json, "error");
        char *d = json_field(json, "error_description");
        sr_err_set(err, SR_E_AUTH, "no access token in the answer%s%s%s%s",
                   e ? ": " : "", e ? e : "", d ? " — " : "", d ? d : "");
        free(e);
        free(d);
        return SR_E_AUTH;
    }
    char *exp = json_field(json, "expires_in");
    *expires_in = exp ? strtol(exp, NULL, 10) : 3600;
    free(exp);
    *token = tok;
    return SR_OK;
}

static char *token_form(CURL *h, const mapi_netopts *o)
{
    char *id = curl_easy_escape(h, o->client_id, 0);
    char *sec = curl_easy_escape(h, o->client_secret, 0);
    char *res = curl_easy_escape(h, o->resource_url, 0);
    char *form = NULL;
    if (id && sec && res)
        form = sr_asprintf("grant_type=client_credentials&client_id=%s&client_secret=%s&resource=%s",
                           id, sec, res);
    if (sec)
        explicit_bzero(sec, strlen(sec));
    curl_free(id);
    curl_free(sec);
    curl_free(res);
    return form;
}

const char *mapi_oauth_token(mapi_net *net, sr_err *err)
{
    mapi_oauth_cache *c = mapi_net_oauth(net);
    const mapi_netopts *o = mapi_net_opts(net);
    if (c->token && sr_now_ms() < c->expires_at)
        return c->token;
    mapi_oauth_cache_clear(c);
    if (!o->client_id || !o->client_secret) {
        sr_err_set(err, SR_E_CONFIG, "OAuth2 needs a client id and a client secret");
        return NULL;
    }
    CURL *h = curl_easy_init();
    char *form = h ? token_form(h, o) : NULL;
    char *url = sr_asprintf("%s/oauth2/token", o->authority_url);
    if (h)
        curl_easy_cleanup(h);
    if (!form || !url) {
        sr_secret_free(form);
        free(url);
        sr_err_set(err, SR_E_NOMEM, "out of memory building the token request");
        return NULL;
    }
    mapi_http_req rq = { .url = url, .who = "oauth2", .method = "POST",
                         .content_type = "application/x-www-form-urlencoded",
                         .body = form, .body_len = strlen(form), .auth = 0 };
    mapi_http_resp rs;
    sr_err e;
    sr_code rc = mapi_http_run(net, &rq, &rs, &e, 1);
    sr_secret_free(form);
    char *tok = NULL;
    long exp = 0;
    if (rc == SR_OK) {
        rc = mapi_oauth_parse(rs.body, &tok, &exp, &e);
        if (rc == SR_OK && rs.status != 200)
            rc = sr_err_set(&e, SR_E_AUTH, "HTTP %ld", rs.status);
        else if (rc != SR_OK && rs.status != 200)
            e.code = rc = SR_E_AUTH;
    }
    if (rc != SR_OK) {
        sr_err_set(err, rc, "OAuth2 token from %s (resource %s): %s", url, o->resource_url, e.msg);
        if (rs.body)
            explicit_bzero(rs.body, rs.len);
        mapi_http_resp_clear(&rs);
        sr_secret_free(tok);
        free(url);
        return NULL;
    }
    explicit_bzero(rs.body, rs.len);
    mapi_http_resp_clear(&rs);
    free(url);
    /* renew a minute early so a batch never starts with a dying token */
    c->token = tok;
    c->expires_at = sr_now_ms() + (exp > 120 ? exp - 60 : exp) * 1000LL;
    return c->token;
}
