/* graph.c — the Microsoft Graph client: one request, paging, errors and
 * Retry-After.  Graph is REST with JSON bodies over the same HTTP layer as
 * EWS (ews_http.c: TLS, proxy, bounded retries, redacted tracing), on a
 * handle of its own whose OAuth2 token is asked for the Graph audience.
 * Batching is graph_batch.c. */
#include "mapi/graph.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "mapi/ews_int.h"
#include "mapi/graph_int.h"

#define DEFAULT_MAX_PAGES 1000u

struct mapi_graph {
    mapi_net *net;
    char *base;                 /* without a trailing '/' */
    unsigned max_pages;
};

mapi_graph *mapi_graph_new(const mapi_netopts *net, const mapi_graph_opts *g, sr_err *err)
{
    static const mapi_graph_opts none = { 0 };
    if (!g)
        g = &none;
    if (!net || net->auth != MAPI_AUTH_OAUTH2) {
        sr_err_set(err, SR_E_CONFIG, "Microsoft Graph needs the OAuth2 app-only logon "
                   "(client id and secret or certificate): it has no other one for an application");
        return NULL;
    }
    if (!mapi_graph_code_table_sorted()) {   /* a build defect: every lookup could miss */
        sr_err_set(err, SR_E_INTERNAL, "the Graph error-code table is not sorted");
        return NULL;
    }
    mapi_graph *c = calloc(1, sizeof *c);
    const char *base = g->base_url ? g->base_url : MAPI_GRAPH_BASE_URL;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    if (!c || !(c->base = sr_asprintf("%.*s", (int)bl, base))) {
        mapi_graph_free(c);
        sr_err_set(err, SR_E_NOMEM, "out of memory creating the Graph client");
        return NULL;
    }
    mapi_netopts o = *net;
    o.resource_url = g->resource ? g->resource : MAPI_GRAPH_RESOURCE;
    o.max_parallel = MAPI_GRAPH_MAILBOX_CONCURRENCY;
    o.exchange_online = 0;      /* the EWS 403 reading does not apply to Graph */
    o.budget = MAPI_BUDGET_NONE;  /* EWSMaxConcurrency is EWS's; Graph throttles apart (429) */
    c->max_pages = g->max_pages ? g->max_pages : DEFAULT_MAX_PAGES;
    if (!(c->net = mapi_net_new(&o, err))) {
        mapi_graph_free(c);
        return NULL;
    }
    return c;
}

void mapi_graph_free(mapi_graph *g)
{
    if (!g)
        return;
    mapi_net_free(g->net);
    free(g->base);
    free(g);
}

sr_code mapi_graph_token(mapi_graph *g, sr_err *err)
{
    return mapi_oauth_token(g->net, err) ? SR_OK : err->code;
}

const mapi_netopts *mapi_graph_netopts(const mapi_graph *g) { return mapi_net_opts(g->net); }

void mapi_graph_req_clear(mapi_graph_req *r)
{
    if (!r)
        return;
    json_decref(r->resp);
    r->resp = NULL;
    r->status = 0;
    sr_err_clear(&r->err);
}

/* ---- paths ----------------------------------------------------------------- */

/* '@' may stand in a path segment (RFC 3986 pchar): kept readable, as
 * Graph's own examples write /users/{userPrincipalName}. */
static void keep_at(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++, w++) {
        if (r[0] == '%' && r[1] == '4' && r[2] == '0') {
            *w = '@';
            r += 2;
        } else {
            *w = *r;
        }
    }
    *w = '\0';
}

char *mapi_graph_user_path(const char *user, const char *rest)
{
    CURL *h = curl_easy_init();
    char *u = h ? curl_easy_escape(h, user, 0) : NULL;
    if (u)
        keep_at(u);
    char *out = u ? sr_asprintf("/users/%s%s", u, rest ? rest : "") : NULL;
    curl_free(u);
    curl_easy_cleanup(h);
    return out;
}

void mapi_graph_path_mailbox(const char *path, char *out, size_t outlen)
{
    if (!outlen)
        return;
    out[0] = '\0';
    if (!path)
        return;
    path += path[0] == '/';     /* a $batch url may come without the leading '/' */
    if (strncasecmp(path, "users/", 6) != 0)
        return;
    const char *id = path + 6;
    size_t l = strcspn(id, "/?");
    if (l >= outlen)
        l = outlen - 1;
    for (size_t i = 0; i < l; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    out[l] = '\0';
}

char *mapi_graph_url(const mapi_graph *g, const char *version, const char *path)
{
    return sr_asprintf("%s/%s%s%s", g->base, version ? version : "v1.0",
                       path[0] == '/' ? "" : "/", path);
}

/* ---- errors ------------------------------------------------------------------ */

/* Graph's error codes (Microsoft Graph "Error responses", and the Outlook
 * and directory codes seen on /users/{id}/...), sorted by strcmp. */
typedef struct graph_code {
    const char *name;
    sr_code code;
} graph_code;

static const graph_code graph_codes[] = {
    { "ApplicationThrottled", SR_E_BUSY },
    { "Authorization_IdentityNotFound", SR_E_AUTH },
    { "Authorization_RequestDenied", SR_E_ACCESS },
    { "ErrorAccessDenied", SR_E_ACCESS },
    { "ErrorInvalidUser", SR_E_NOTFOUND },
    { "ErrorItemNotFound", SR_E_NOTFOUND },
    { "ErrorQuotaExceeded", SR_E_NOSPACE },
    { "InvalidAuthenticationToken", SR_E_AUTH },
    { "MailboxNotEnabledForRESTAPI", SR_E_UNSUPPORTED },
    { "Request_ResourceNotFound", SR_E_NOTFOUND },
    { "ResourceNotFound", SR_E_NOTFOUND },
    { "TooManyRequests", SR_E_BUSY },
    { "accessDenied", SR_E_ACCESS },
    { "activityLimitReached", SR_E_BUSY },
    { "generalException", SR_E_SERVER },
    { "invalidRequest", SR_E_INVALID },
    { "itemNotFound", SR_E_NOTFOUND },
    { "nameAlreadyExists", SR_E_EXISTS },
    { "quotaLimitReached", SR_E_NOSPACE },
    { "serviceNotAvailable", SR_E_BUSY },
    { "unauthenticated", SR_E_AUTH },
};
#define N_CODES (sizeof graph_codes / sizeof graph_codes[0])

int mapi_graph_code_table_sorted(void)
{
    for (size_t i = 1; i < N_CODES; i++)
        if (strcmp(graph_codes[i - 1].name, graph_codes[i].name) >= 0)
            return 0;
    return 1;
}

static int code_cmp(const void *k, const void *e)
{
    return strcmp(k, *(const char *const *)e);
}

static sr_code by_status(long status)
{
    switch (status) {
    case 400: return SR_E_INVALID;      /* we sent what Graph does not take */
    case 401: return SR_E_AUTH;
    case 403: return SR_E_ACCESS;       /* typically an application role not granted */
    case 404: return SR_E_NOTFOUND;
    case 409: return SR_E_EXISTS;
    case 413: return SR_E_LIMIT;
    case 424: return SR_E_INVALID;      /* a request it depended on failed */
    case 429: case 503: case 504: return SR_E_BUSY;
    case 507: return SR_E_NOSPACE;      /* mailbox quota */
    default: return status >= 500 ? SR_E_SERVER : SR_E_PROTOCOL;
    }
}

static const char *status_hint(long status)
{
    switch (status) {
    case 401: return " (the token was refused: check the app's tenant and the Graph audience)";
    case 403: return " (grant the app the Graph application permission this needs, with admin consent)";
    case 424: return " (a request it depends on failed)";
    default: return "";
    }
}

sr_code mapi_graph_error_json(long status, json_t *body, const char *what, sr_err *err)
{
    json_t *e = json_object_get(body, "error");
    const char *name = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    sr_code c = by_status(status);
    if (c != SR_E_BUSY && name) {
        const graph_code *hit = bsearch(name, graph_codes, N_CODES, sizeof graph_codes[0], code_cmp);
        if (hit)
            c = hit->code;
    }
    size_t ml = msg ? strcspn(msg, "\r\n") : 0;
    if (ml > 400)
        ml = 400;
    sr_err_set(err, c, "%s: HTTP %ld%s%s%s%.*s%s", what ? what : "Graph", status,
               name ? " " : "", name ? name : "", msg ? ": " : "", (int)ml, msg ? msg : "",
               status_hint(status));
    if (c == SR_E_BUSY)
        err->cls = SR_CLASS_WAIT;
    return c;
}

sr_code mapi_graph_error(long status, const char *body, const char *what, sr_err *err)
{
    json_t *j = body && *body ? json_loads(body, 0, NULL) : NULL;
    sr_code c = mapi_graph_error_json(status, j, what, err);
    json_decref(j);
    return c;
}

long mapi_graph_retry_after_ms(const char *value, long cap_ms)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (!*value)
        return -1;
    long ms;
    if (isdigit((unsigned char)*value)) {
        char *end;
        long s = strtol(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end)
            return -1;
        ms = s > cap_ms / 1000 ? cap_ms : s * 1000;
    } else {
        time_t t = curl_getdate(value, NULL);   /* an HTTP-date */
        if (t == (time_t)-1)
            return -1;
        time_t now = time(NULL);
        ms = t <= now ? 0 : (long)(t - now) > cap_ms / 1000 ? cap_ms : (long)(t - now) * 1000;
    }
    return ms > cap_ms ? cap_ms : ms;
}

/* ---- one request ---------------------------------------------------------- */

sr_code mapi_graph_http(mapi_graph *g, const char *method, const char *url, const char *body,
                        const char *who, long *status, json_t **resp, sr_err *err)
{
    *status = 0;
    *resp = NULL;
    int read = !method || !strcmp(method, "GET");
    mapi_http_req rq = { .url = url, .who = who, .method = method ? method : "GET",
                         .content_type = "application/json", .body = body,
                         .body_len = body ? strlen(body) : 0, .auth = 1,
                         .idempotent = read || !strcmp(method, "DELETE") || !strcmp(method, "PATCH"),
                         .extra_header = "Accept: application/json", .throttle_429_504 = 1 };
    mapi_http_resp rs;
    sr_err he;
    sr_code rc = mapi_http_run(g->net, &rq, &rs, &he, 1);
    if (rc != SR_OK) {
        *err = he;
        mapi_http_resp_clear(&rs);
        return rc;
    }
    *status = rs.status;
    if (rs.status >= 200 && rs.status < 300) {
        if (rs.len && !(*resp = json_loads(rs.body, 0, NULL)))
            rc = sr_err_set(err, SR_E_PROTOCOL, "%s: %s: the answer is not JSON", who, url);
    } else {
        char what[300];
        snprintf(what, sizeof what, "%s: %s %s", who, rq.method, url);
        rc = mapi_graph_error(rs.status, rs.body, what, err);
    }
    mapi_http_resp_clear(&rs);
    return rc;
}

sr_code mapi_graph_call(mapi_graph *g, mapi_graph_req *r)
{
    mapi_graph_req_clear(r);
    char who[128];
    mapi_graph_path_mailbox(r->path, who, sizeof who);
    char *url = mapi_graph_url(g, r->version, r->path);
    char *body = r->body ? json_dumps(r->body, JSON_COMPACT) : NULL;
    if (!url || (r->body && !body)) {
        free(url);
        free(body);
        return sr_err_set(&r->err, SR_E_NOMEM, "out of memory");
    }
    sr_code rc = mapi_graph_http(g, r->method, url, body, who[0] ? who : "graph", &r->status,
                                 &r->resp, &r->err);
    sr_log(rc == SR_OK ? SR_LOG_DEBUG : SR_LOG_INFO, who[0] ? who : "graph", "%s %s: HTTP %ld",
           r->method ? r->method : "GET", url, r->status);
    free(url);
    free(body);
    return rc;
}

/* ---- paging ----------------------------------------------------------------- */

/* A nextLink is followed only on our own base URL: the bearer token must
 * never be sent to a host an answer names. */
static int own_link(const mapi_graph *g, const char *link)
{
    size_t bl = strlen(g->base);
    return strncmp(link, g->base, bl) == 0 && link[bl] == '/';
}

static sr_code one_page(mapi_graph *g, const char *url, json_t *all, char **next, sr_err *err)
{
    long status;
    json_t *page = NULL;
    *next = NULL;
    sr_code rc = mapi_graph_http(g, "GET", url, NULL, "graph", &status, &page, err);
    if (rc != SR_OK)
        return rc;
    json_t *v = json_object_get(page, "value");
    const char *link = json_string_value(json_object_get(page, "@odata.nextLink"));
    if (!json_is_array(v))
        rc = sr_err_set(err, SR_E_PROTOCOL, "%s: a collection answer without \"value\"", url);
    else if (json_array_extend(all, v) != 0)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    else if (link && !own_link(g, link))
        rc = sr_err_set(err, SR_E_PROTOCOL, "%s: @odata.nextLink leads away from %s (%s): "
                        "not followed", url, g->base, link);
    else if (link && !(*next = sr_strdup(link)))
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    json_decref(page);
    return rc;
}

sr_code mapi_graph_get_all(mapi_graph *g, const char *path, const char *version,
                           json_t **values, sr_err *err)
{
    *values = NULL;
    json_t *all = json_array();
    char *url = mapi_graph_url(g, version, path);
    if (!all || !url) {
        json_decref(all);
        free(url);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    sr_code rc = SR_OK;
    unsigned pages = 0;
    while (url && rc == SR_OK) {
        if (++pages > g->max_pages) {
            rc = sr_err_set(err, SR_E_LIMIT, "%s: more than %u pages: stopped", path, g->max_pages);
            break;
        }
        char *next = NULL;
        rc = one_page(g, url, all, &next, err);
        free(url);
        url = next;
    }
    free(url);
    if (rc != SR_OK)
        json_decref(all);
    else
        *values = all;
    return rc;
}
