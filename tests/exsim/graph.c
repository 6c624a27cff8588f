/* graph.c — Microsoft Graph over HTTP: /v1.0/… and /beta/… routed to the
 * handlers of graph.h, each endpoint behind the application role Microsoft's
 * reference names for it, app-only bearer JWTs for the Graph audience,
 * Outlook's throttling (429 + Retry-After: at most graph_concurrency
 * requests in flight per mailbox, and graph_throttle_next injected), and
 * JSON batching ($batch: at most 20 requests, dependsOn, 424 for a failed
 * dependency; https://learn.microsoft.com/graph/json-batching). */
#include "tests/exsim/graph.h"
#include "tests/exsim/server.h"
#include "util/util.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define GRAPH_AUDIENCE "https://graph.microsoft.com"
#define GRAPH_BATCH_MAX 20
#define CT_JSON "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

/* ---- helpers for the handlers ---------------------------------------------- */

int exsim_graph_error(exsim_gcall *c, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    json_decref(c->out);
    c->out = json_pack("{s:{s:s,s:s,s:{s:s,s:s}}}", "error", "code", code, "message", msg,
                       "innerError", "date", date, "request-id", "00000000-0000-0000-0000-000000000000");
    return status;
}

char *exsim_graph_id(const exsim_mbx *m, int kind, uint64_t counter)
{
    char *id = exsim_id_ews(m, kind, counter);
    for (char *p = id; p && *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    return id;
}

xmlNodePtr exsim_graph_folder(exsim_mbx *m, const char *graph_id)
{
    char *ews = strdup(graph_id ? graph_id : "");
    for (char *p = ews; p && *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    uint8_t guid[16];
    int kind = 0;
    uint64_t counter = 0;
    int ok = ews && exsim_id_ews_decode(ews, guid, &kind, &counter) == 0 && kind == EXSIM_KIND_FOLDER &&
             memcmp(guid, m->guid, 16) == 0;
    free(ews);
    xmlNodePtr f = ok ? exsim_store_obj(m, counter) : NULL;
    return f && exsim_is(f, NULL, "folder") ? f : NULL;
}

xmlNodePtr exsim_graph_folder_ref(exsim_mbx *m, const char *ref)
{
    char low[64];
    size_t n = strlen(ref);
    if (n < sizeof low) {
        for (size_t i = 0; i <= n; i++)
            low[i] = (char)(ref[i] >= 'A' && ref[i] <= 'Z' ? ref[i] + 32 : ref[i]);
        xmlNodePtr f = exsim_store_distinguished(m, low);
        if (f)
            return f;
    }
    return exsim_graph_folder(m, ref);
}

json_t *exsim_graph_context(const exsim_gcall *c, const char *fmt, ...)
{
    char tail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tail, sizeof tail, fmt, ap);
    va_end(ap);
    char *s = sr_asprintf("https://graph.microsoft.com/%s/$metadata#%s", c->beta ? "beta" : "v1.0", tail);
    json_t *j = json_string(s ? s : "");
    free(s);
    return j;
}

/* ---- routes ------------------------------------------------------------------ */

/* Application permissions per Microsoft's reference pages (least privileged first). */
#define R_USER "User.Read.All User.ReadWrite.All Directory.Read.All Directory.ReadWrite.All"
#define R_MBS_READ "MailboxSettings.Read MailboxSettings.ReadWrite"
#define R_MBS_WRITE "MailboxSettings.ReadWrite"
#define R_CAL_READ "Calendars.ReadBasic Calendars.Read Calendars.ReadWrite"
#define R_CAL_WRITE "Calendars.ReadWrite"
#define R_CFG_READ "MailboxConfigItem.Read MailboxConfigItem.ReadWrite"
#define R_CFG_WRITE "MailboxConfigItem.ReadWrite"
#define R_MAIL_READ "Mail.ReadBasic Mail.ReadBasic.All Mail.Read Mail.ReadWrite"
#define R_MAIL_WRITE "Mail.ReadWrite"
#define R_CON_READ "Contacts.Read Contacts.ReadWrite"
#define R_CON_WRITE "Contacts.ReadWrite"

typedef int (*graph_handler)(exsim_gcall *c);

typedef struct route {
    const char *pattern;        /* segments after /users/{id}; "*" = any one */
    const char *name;           /* for the /_sim/stats operation name */
    const char *read_roles, *write_roles;
    const char *methods;        /* allowed, space-separated */
    graph_handler fn;
    int beta_only;              /* not in v1.0: 400 there, as Graph answers */
    const char *type;           /* the CSDL type of bodies (graph_csdl.c); NULL: not in v1.0 */
} route;

static const route routes[] = {
    { "", "user", R_USER, NULL, "GET", exsim_graph_user_get, 0, "user" },
    { "mailFolders/inbox/messageRules", "messageRules", R_MBS_READ, R_MBS_WRITE, "GET POST",
      exsim_graph_rules, 0, "messageRule" },
    { "mailFolders/inbox/messageRules/*", "messageRule", R_MBS_READ, R_MBS_WRITE, "GET PATCH DELETE",
      exsim_graph_rules, 0, "messageRule" },
    { "calendar/calendarPermissions", "calendarPermissions", R_CAL_READ, R_CAL_WRITE, "GET POST",
      exsim_graph_calperms, 0, "calendarPermission" },
    { "calendar/calendarPermissions/*", "calendarPermission", R_CAL_READ, R_CAL_WRITE,
      "GET PATCH DELETE", exsim_graph_calperms, 0, "calendarPermission" },
    { "mailboxSettings", "mailboxSettings", R_MBS_READ, R_MBS_WRITE, "GET PATCH",
      exsim_graph_mailbox_settings, 0, "mailboxSettings" },
    { "mailFolders/*/userConfigurations", "userConfigurations", R_CFG_READ, R_CFG_WRITE, "POST",
      exsim_graph_userconfig, 1, NULL },
    { "mailFolders/*/userConfigurations/*", "userConfiguration", R_CFG_READ, R_CFG_WRITE, "GET PATCH DELETE",
      exsim_graph_userconfig, 1, NULL },
    { "contacts", "contacts", R_CON_READ, NULL, "GET", exsim_graph_contacts, 0, "contact" },
    { "contacts/*", "contact", R_CON_READ, R_CON_WRITE, "GET PATCH", exsim_graph_contacts, 0, "contact" },
    { "contactFolders/*/contacts", "contacts", R_CON_READ, NULL, "GET", exsim_graph_contacts, 0, "contact" },
    { "contactFolders", "contactFolders", R_CON_READ, NULL, "GET", exsim_graph_contacts, 0, "contactFolder" },
    { "distributionLists", "distributionLists", R_CON_READ, NULL, "GET", exsim_graph_contacts, 1, NULL },
    { "mailFolders/*", "mailFolder", R_MAIL_READ, R_MAIL_WRITE, "GET PATCH DELETE", exsim_graph_folders, 0,
      "mailFolder" },
    { "mailFolders/*/childFolders", "childFolders", R_MAIL_READ, R_MAIL_WRITE, "GET POST", exsim_graph_folders, 0,
      "mailFolder" },
};

static int word_in(const char *list, const char *w)
{
    size_t n = strlen(w);
    for (const char *p = list; *p;) {
        p += strspn(p, " ");
        size_t k = strcspn(p, " ");
        if (k == n && !strncmp(p, w, n))
            return 1;
        p += k;
    }
    return 0;
}

static const route *match(const exsim_gcall *c)
{
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (routes[i].beta_only && !c->beta)
            continue;
        const char *p = routes[i].pattern;
        int k = 0, ok = 1;
        while (*p && ok) {
            size_t n = strcspn(p, "/");
            ok = k < c->nseg && ((n == 1 && *p == '*') ||
                                 (strlen(c->seg[k]) == n && !strncasecmp(p, c->seg[k], n)));
            k++;
            p += n + (p[n] == '/');
        }
        if (ok && k == c->nseg)
            return &routes[i];
    }
    return NULL;
}

/* Does the token's roles claim (NULL = the seed's opaque token: all) hold one of list? */
static int has_any_role(json_t *roles, const char *list)
{
    if (!roles)
        return 1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *r = strtok_r(buf, " ", &save); r; r = strtok_r(NULL, " ", &save))
        if (exsim_jwt_has_role(roles, r))
            return 1;
    return 0;
}

/* ---- CSDL checks ----------------------------------------------------------------- */

/* A request body that does not fit the type: 400 as Graph's OData reader answers. */
static int body_refused(exsim_gcall *c, const char *type)
{
    char err[512];
    if (!c->body || !type || exsim_graph_csdl_check(c->body, type, err, sizeof err) == 0)
        return 0;
    return exsim_graph_error(c, 400, "RequestBodyRead", "%s", err);
}

/* Our own answer (an entity or a collection's value) must fit too: a
 * violation is the simulator's bug, answered 500 and logged. */
static int answer_refused(exsim_gcall *c, int status, const char *type)
{
    char err[512];
    json_t *value = json_object_get(c->out, "value");
    int bad = 0;
    if (!type || status < 200 || status > 299 || !c->out)
        return status;
    if (json_is_array(value)) {
        size_t i;
        json_t *e;
        json_array_foreach(value, i, e)
            bad = bad || exsim_graph_csdl_check(e, type, err, sizeof err);
    } else {
        bad = exsim_graph_csdl_check(c->out, type, err, sizeof err);
    }
    if (!bad)
        return status;
    fprintf(stderr, "exsim: ERROR: graph answer is not a valid %s: %s\n", type, err);
    exsim_stats_count("invalid_responses");
    return exsim_graph_error(c, 500, "InternalServerError", "exsim: the answer violates the metadata: %s", err);
}

/* ---- one request --------------------------------------------------------------- */

typedef struct gresult {
    int status;
    json_t *body;               /* owned */
    int retry_after;            /* > 0: Retry-After seconds */
    const char *mailbox;
    char op[64];
} gresult;

static exsim_mbx *find_user(exsim_org *org, const char *key)
{
    uint8_t g[16];
    if (exsim_guid_parse(key, g) == 0)
        return exsim_store_mbx_by_guid(org, g);
    /* {id | userPrincipalName}: a mailbox's UPN is its primary address here;
     * other proxies are found only through $filter, as in Graph. */
    exsim_mbx *m = exsim_store_mbx_by_addr(org, key);
    return m && !strcasecmp(m->info.smtp, key) ? m : NULL;
}

static void sleep_ms(int ms)
{
    while (ms > 0) {
        int step = ms > 100 ? 100 : ms;
        usleep((useconds_t)step * 1000);
        ms -= step;
    }
}

/* GET /users?$filter=…: the directory, not a mailbox. */
static int users_collection(exsim_gcall *c, json_t *roles)
{
    if (strcmp(c->method, "GET"))
        return exsim_graph_error(c, 405, "Request_BadRequest",
                                 "Specified HTTP method is not allowed for the request target.");
    if (!has_any_role(roles, R_USER))
        return exsim_graph_error(c, 403, "Authorization_RequestDenied",
                                 "Insufficient privileges to complete the operation.");
    pthread_mutex_lock(&exsim_srv.store_lock);
    int st = answer_refused(c, exsim_graph_users_list(c), "user");
    pthread_mutex_unlock(&exsim_srv.store_lock);
    return st;
}

/* Method, role and user of a routed request: 0 when it may run (c->mbx
 * set), else the refusal's status. */
static int admit(exsim_gcall *c, json_t *roles, const route *r)
{
    int directory = r->fn == exsim_graph_user_get;
    if (!word_in(r->methods, c->method))
        return exsim_graph_error(c, 405, "BadRequest", "Specified HTTP method is not allowed for the request target.");
    /* Outlook resources answer ErrorAccessDenied, directory ones Authorization_RequestDenied. */
    if (!has_any_role(roles, strcmp(c->method, "GET") ? r->write_roles : r->read_roles))
        return directory ? exsim_graph_error(c, 403, "Authorization_RequestDenied",
                                             "Insufficient privileges to complete the operation.")
                         : exsim_graph_error(c, 403, "ErrorAccessDenied",
                                             "Access is denied. Check credentials and try again.");
    pthread_mutex_lock(&exsim_srv.store_lock);
    c->mbx = find_user(c->org, c->user_key);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    if (c->mbx)
        return 0;
    return directory ? exsim_graph_error(c, 404, "Request_ResourceNotFound", "Resource '%s' does not exist or one "
                                         "of its queried reference-property objects are not present.", c->user_key)
                     : exsim_graph_error(c, 404, "ErrorInvalidUser", "The requested user '%s' is invalid.",
                                         c->user_key);
}

/* Outlook's limits count per mailbox (graph_concurrency in flight; the
 * user object is the directory's and not counted), then the body check,
 * the handler and the answer check under the store lock. */
static int run_route(exsim_gcall *c, const route *r, gresult *g)
{
    int outlook = r->fn != exsim_graph_user_get;
    if (outlook && (exsim_inject_take_graph_throttle() || exsim_inject_graph_enter(c->mbx) != 0)) {
        exsim_stats_count("graph_throttled");
        g->retry_after = exsim_inject_get().graph_retry_after;
        return exsim_graph_error(c, 429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.");
    }
    sleep_ms(exsim_inject_get().rtt_ms);        /* the slot is held while "working" */
    pthread_mutex_lock(&exsim_srv.store_lock);
    int st = body_refused(c, r->type);
    if (!st)
        st = answer_refused(c, r->fn(c), r->type);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    if (outlook)
        exsim_inject_graph_leave(c->mbx);
    return st;
}

/* Route, authorise, throttle and run one request; path is decoded and
 * relative to the version ("users/x/mailboxSettings"). */
static void exec_one(json_t *roles, int beta, const char *method, char *path, const char *filter,
                     const char *select, json_t *body, gresult *g)
{
    exsim_gcall c = { .org = exsim_srv.org, .method = method, .beta = beta, .filter = filter,
                      .select = select, .body = body };
    const char *segs[EXSIM_GRAPH_MAX_SEGS + 2];
    int n = 0;
    char *save = NULL;
    for (char *s = strtok_r(path, "/", &save); s && n < EXSIM_GRAPH_MAX_SEGS + 2; s = strtok_r(NULL, "/", &save))
        segs[n++] = s;
    snprintf(g->op, sizeof g->op, "graph %s%s", method, n == 1 ? " users" : "");
    const route *r = NULL;
    if (n == 0 || strcasecmp(segs[0], "users") || n > EXSIM_GRAPH_MAX_SEGS + 1) {
        g->status = exsim_graph_error(&c, 400, "BadRequest", "Resource not found for the segment '%s'.",
                                      n ? segs[0] : "");
    } else if (n == 1) {
        g->status = users_collection(&c, roles);
    } else {
        c.user_key = segs[1];
        for (int i = 2; i < n; i++)
            c.seg[c.nseg++] = segs[i];
        if (!(r = match(&c)))
            g->status = exsim_graph_error(&c, 400, "BadRequest", "Resource not found for the segment '%s'.",
                                          c.seg[c.nseg - 1]);
    }
    if (r) {
        snprintf(g->op, sizeof g->op, "graph %s %s", method, r->name);
        g->status = admit(&c, roles, r);
        if (!g->status) {
            g->mailbox = c.mbx->info.smtp;
            g->status = run_route(&c, r, g);
        }
    }
    g->body = c.out;
}

/* ---- query strings and URLs inside $batch ------------------------------------------ */

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
         : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decode in place ('+' is a space only in a query). */
static void url_decode(char *s, int query)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = query && *s == '+' ? ' ' : *s;
        }
    }
    *o = '\0';
}

/* A batch request's relative URL ("/users/x/…?$filter=…") → path, $filter, $select. */
static void split_url(char *url, char **path, char **filter, char **select)
{
    *filter = *select = NULL;
    char *q = strchr(url, '?');
    if (q) {
        *q++ = '\0';
        char *save = NULL;
        for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq)
                continue;
            *eq = '\0';
            url_decode(kv, 1);
            url_decode(eq + 1, 1);
            if (!strcmp(kv, "$filter"))
                *filter = eq + 1;
            else if (!strcmp(kv, "$select"))
                *select = eq + 1;
        }
    }
    url_decode(url, 0);
    *path = url;
}

/* ---- $batch ------------------------------------------------------------------------ */

static int batch_bad(gresult *g, const char *fmt, const char *arg)
{
    exsim_gcall c = { 0 };
    g->status = exsim_graph_error(&c, 400, "BadRequest", fmt, arg ? arg : "");
    g->body = c.out;
    return -1;
}

/* Check the envelope before anything runs: Graph refuses a malformed batch whole. */
static int batch_check(json_t *reqs, gresult *g)
{
    if (!json_is_array(reqs))
        return batch_bad(g, "Invalid batch payload format.%s", NULL);
    if (json_array_size(reqs) > GRAPH_BATCH_MAX)
        return batch_bad(g, "The number of requests in the batch exceeds the limit of 20.%s", NULL);
    size_t i;
    json_t *r;
    json_array_foreach(reqs, i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        if (!id || !json_string_value(json_object_get(r, "method")) ||
            !json_string_value(json_object_get(r, "url")))
            return batch_bad(g, "Invalid batch payload format: a request lacks id, method or url.%s", NULL);
        for (size_t k = 0; k < i; k++)
            if (!strcmp(id, json_string_value(json_object_get(json_array_get(reqs, k), "id"))))
                return batch_bad(g, "Request id '%s' is used more than once.", id);
        size_t d;
        json_t *dep;
        json_array_foreach(json_object_get(r, "dependsOn"), d, dep) {
            int found = 0;
            for (size_t k = 0; k < i && !found; k++)
                found = json_string_value(dep) &&
                        !strcmp(json_string_value(dep), json_string_value(json_object_get(json_array_get(reqs, k), "id")));
            if (!found)
                return batch_bad(g, "The dependsOn of request '%s' names no earlier request of the batch.", id);
        }
    }
    return 0;
}

static int status_of(json_t *responses, const char *id)
{
    size_t i;
    json_t *r;
    json_array_foreach(responses, i, r)
        if (!strcmp(json_string_value(json_object_get(r, "id")), id))
            return (int)json_integer_value(json_object_get(r, "status"));
    return 0;
}

static json_t *one_response(const char *id, gresult *g)
{
    json_t *h = json_pack("{s:s}", "Content-Type", "application/json");
    if (g->retry_after > 0)
        json_object_set_new(h, "Retry-After", json_sprintf("%d", g->retry_after));
    json_t *r = json_pack("{s:s,s:i,s:o}", "id", id, "status", g->status, "headers", h);
    if (g->body)
        json_object_set_new(r, "body", g->body);
    g->body = NULL;
    return r;
}

static int has_content_type(json_t *headers)
{
    const char *k;
    json_t *v;
    json_object_foreach(headers, k, v)
        if (!strcasecmp(k, "Content-Type"))
            return 1;
    return 0;
}

static void run_batch(json_t *roles, int beta, json_t *doc, gresult *g)
{
    json_t *reqs = json_object_get(doc, "requests");
    if (batch_check(reqs, g))
        return;
    json_t *responses = json_array();
    size_t i;
    json_t *r;
    const char *mailbox = NULL;
    int mixed = 0;
    /* In request order: dependsOn only names earlier requests (batch_check). */
    json_array_foreach(reqs, i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        gresult one = { 0 };
        size_t d;
        json_t *dep;
        json_array_foreach(json_object_get(r, "dependsOn"), d, dep) {
            int st = status_of(responses, json_string_value(dep));
            if (st < 200 || st > 299) {
                exsim_gcall c = { 0 };
                one.status = exsim_graph_error(&c, 424, "FailedDependency",
                                               "The request '%s' it depends on failed.", json_string_value(dep));
                one.body = c.out;
                break;
            }
        }
        json_t *body = json_object_get(r, "body");
        if (!one.status && body && !has_content_type(json_object_get(r, "headers"))) {
            exsim_gcall c = { 0 };
            one.status = exsim_graph_error(&c, 400, "BadRequest",
                                           "Content-Type header must be specified for a request with a body.");
            one.body = c.out;
        }
        if (!one.status) {
            char *url = strdup(json_string_value(json_object_get(r, "url")));
            char *path = NULL, *filter = NULL, *select = NULL;
            if (url)
                split_url(url, &path, &filter, &select);
            exec_one(roles, beta, json_string_value(json_object_get(r, "method")), path ? path : (char *)"",
                     filter, select, json_is_object(body) ? body : NULL, &one);
            free(url);
        }
        if (one.mailbox && mailbox && strcmp(one.mailbox, mailbox))
            mixed = 1;
        if (one.mailbox && !mailbox)
            mailbox = one.mailbox;
        json_array_append_new(responses, one_response(id, &one));
    }
    /* One round trip for the mailbox when the whole batch was about one. */
    g->mailbox = mixed ? NULL : mailbox;
    g->status = 200;
    g->body = json_pack("{s:o}", "responses", responses);
    snprintf(g->op, sizeof g->op, "graph $batch");
}

/* ---- the HTTP side ------------------------------------------------------------------ */

static enum MHD_Result send_json(struct MHD_Connection *conn, gresult *g, int auth_challenge, size_t *sent)
{
    char *text = g->body ? json_dumps(g->body, JSON_COMPACT) : NULL;
    size_t len = text ? strlen(text) : 0;
    *sent = len;
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, text ? text : (char *)"",
                                                                text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (text)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_JSON);
    if (g->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", g->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (auth_challenge)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", "
                                "client_id=\"00000003-0000-0000-c000-000000000000\"");
    MHD_add_response_header(resp, "request-id", "00000000-0000-0000-0000-000000000000");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)g->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

/* The bearer token: its roles (NULL with *all = 1: the seed's opaque token
 * when no --jwks is given), or -1 with g filled as a 401. */
static int authenticate(const char *authz, json_t **roles, gresult *g)
{
    exsim_gcall c = { 0 };
    *roles = NULL;
    const char *tok = authz && !strncasecmp(authz, "Bearer ", 7) ? authz + 7 : NULL;
    while (tok && *tok == ' ')
        tok++;
    if (!tok || !*tok) {
        g->status = exsim_graph_error(&c, 401, "InvalidAuthenticationToken", "Access token is empty.");
        g->body = c.out;
        return -1;
    }
    exsim_authres res = { 0 };
    if (exsim_srv.jwks) {
        json_t *claims = exsim_jwt_verify(tok, GRAPH_AUDIENCE, NULL, &res);
        if (claims) {
            *roles = json_incref(json_object_get(claims, "roles"));
            if (!*roles)
                *roles = json_array();       /* a token without roles may call nothing */
            json_decref(claims);
            return 0;
        }
    } else {
        pthread_mutex_lock(&exsim_srv.store_lock);
        res.acct = exsim_org_auth_bearer(exsim_srv.org, tok);
        pthread_mutex_unlock(&exsim_srv.store_lock);
        if (res.acct)
            return 0;
        snprintf(res.diag, sizeof res.diag, "unknown token");
    }
    fprintf(stderr, "exsim: graph: token refused: %s\n", res.diag);
    /* Graph names the cause in the message ("Access token validation failure. Invalid audience."). */
    const char *reason = strstr(res.diag, "reason=\"");
    g->status = exsim_graph_error(&c, 401, "InvalidAuthenticationToken", "Access token validation failure. %.*s",
                                  reason ? (int)strcspn(reason + 8, "\"") : (int)strlen(res.diag),
                                  reason ? reason + 8 : res.diag);
    g->body = c.out;
    return -1;
}

enum MHD_Result exsim_graph_serve(struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *body, size_t len, int64_t start_us)
{
    exsim_stats_begin();
    exsim_fate fate = exsim_inject_next();
    int beta = !strncmp(url, "/beta/", 6);
    char *path = strdup(url + 6);
    gresult g = { 0 };
    json_t *roles = NULL, *doc = NULL;
    int challenge = 0;
    snprintf(g.op, sizeof g.op, "graph %s", method);
    if (!path) {
        g.status = 500;
    } else if (authenticate(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
                            &roles, &g)) {
        exsim_stats_count("unauthorized");
        challenge = 1;
    } else if (fate.fail_status) {
        exsim_gcall c = { 0 };
        exsim_stats_count("injected_failures");
        g.status = exsim_graph_error(&c, fate.fail_status, fate.fail_status == 503 ? "ServiceNotAvailable"
                                                                                     : "InternalServerError",
                                     "Injected by exsim.");
        g.body = c.out;
    } else if (len && !(doc = json_loadb(body, len, 0, NULL), json_is_object(doc))) {
        exsim_gcall c = { 0 };
        g.status = exsim_graph_error(&c, 400, "BadRequest", "Unable to read JSON request payload. Please ensure "
                                     "Content-Type header is set and payload is of valid JSON format.");
        g.body = c.out;
    } else if (!strcmp(path, "$batch")) {
        if (strcmp(method, "POST")) {
            exsim_gcall c = { 0 };
            g.status = exsim_graph_error(&c, 405, "BadRequest", "Specified HTTP method is not allowed for the request target.");
            g.body = c.out;
        } else if (exsim_inject_take_graph_batch_throttle()) {
            /* Graph's global limits can refuse a batch whole, before any item runs. */
            exsim_gcall c = { 0 };
            exsim_stats_count("graph_throttled");
            g.retry_after = exsim_inject_get().graph_retry_after;
            g.status = exsim_graph_error(&c, 429, "TooManyRequests", "Too many requests.");
            g.body = c.out;
            snprintf(g.op, sizeof g.op, "graph $batch");
        } else {
            run_batch(roles, beta, doc, &g);
        }
    } else {
        exec_one(roles, beta, method, path, MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "$filter"),
                 MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "$select"), doc, &g);
    }
    json_decref(doc);
    json_decref(roles);
    free(path);
    size_t sent = 0;
    enum MHD_Result ok = send_json(conn, &g, challenge, &sent);
    json_decref(g.body);
    exsim_stats_end(g.op, g.mailbox, g.status, start_us, exsim_now_us(), len, sent);
    return ok;
}
