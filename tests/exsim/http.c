/* http.c — the libmicrohttpd request handler: collects the body, routes
 * /autodiscover/autodiscover.xml, /EWS/Exchange.asmx and the /_sim endpoints, applies
 * authentication (per connection for NTLM/Negotiate), injection (latency, throttling, HTTP errors, dropped and
 * slow bodies) and counts everything in stats. */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CT_XML "text/xml; charset=utf-8"

/* Per-request state kept between MHD calls. */
typedef struct reqctx {
    char *body;
    size_t len, cap;
    int too_big;
    int64_t start_us;
} reqctx;

static void sleep_ms(int ms)
{
    while (ms > 0) {
        int step = ms > 100 ? 100 : ms;
        usleep((useconds_t)step * 1000);
        ms -= step;
    }
}

/* ---- response bodies: plain, cut in the middle, or trickled ------------ */

typedef struct body_src {
    char *buf;
    size_t len;
    int drop;
    int slow_ms;
} body_src;

static ssize_t read_body(void *cls, uint64_t pos, char *out, size_t max)
{
    body_src *b = cls;
    size_t limit = b->drop ? b->len / 2 : b->len;
    if (pos >= limit)
        return b->drop ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = limit - (size_t)pos;
    if (n > max)
        n = max;
    if (b->slow_ms > 0) {
        if (n > 512)
            n = 512;
        if (pos > 0)
            sleep_ms(b->slow_ms);
    }
    memcpy(out, b->buf + pos, n);
    return (ssize_t)n;
}

static void free_body(void *cls)
{
    body_src *b = cls;
    free(b->buf);
    free(b);
}

/* Queue body (taken over) with status; fate may ask to drop or trickle it;
 * auth (may be NULL) adds its WWW-Authenticate token or, on 401, the offer. */
static enum MHD_Result send_body_auth(struct MHD_Connection *c, int status, const char *ctype,
                                      char *body, size_t len, const exsim_fate *fate,
                                      const exsim_authres *auth)
{
    struct MHD_Response *r;
    if (fate && (fate->drop || fate->slow_body_ms > 0) && len > 0) {
        body_src *b = calloc(1, sizeof *b);
        if (!b) {
            free(body);
            return MHD_NO;
        }
        *b = (body_src){ .buf = body, .len = len, .drop = fate->drop, .slow_ms = fate->slow_body_ms };
        r = MHD_create_response_from_callback(len, 4096, read_body, b, free_body);
        if (fate->drop)
            exsim_stats_count("dropped");
    } else {
        r = MHD_create_response_from_buffer(len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE
                                                                               : MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    if (ctype)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    exsim_auth_headers(r, status, auth);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result send_body(struct MHD_Connection *c, int status, const char *ctype,
                                 char *body, size_t len, const exsim_fate *fate)
{
    return send_body_auth(c, status, ctype, body, len, fate, NULL);
}

static enum MHD_Result send_401(struct MHD_Connection *c, const exsim_authres *auth)
{
    char *b = strdup("<html><body>401 - Unauthorized</body></html>\n");
    return send_body_auth(c, 401, "text/html", b, b ? strlen(b) : 0, NULL, auth);
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *ctype, const char *text)
{
    char *b = strdup(text);
    return send_body(c, status, ctype, b, b ? strlen(b) : 0, NULL);
}

/* ---- /_sim --------------------------------------------------------------- */

typedef struct qbuf { char s[2048]; size_t len; } qbuf;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    qbuf *q = cls;
    int n = snprintf(q->s + q->len, sizeof q->s - q->len, "%s%s=%s", q->len ? "&" : "", key,
                     value ? value : "");
    if (n > 0 && q->len + (size_t)n < sizeof q->s)
        q->len += (size_t)n;
    return MHD_YES;
}

static enum MHD_Result sim_endpoint(struct MHD_Connection *c, const char *url, const char *method,
                                    reqctx *rc)
{
    if (!strcmp(url, "/_sim/stats") && !strcmp(method, "GET")) {
        size_t len;
        char *j = exsim_stats_json(&len);
        return send_body(c, 200, "application/json", j, len, NULL);
    }
    if (!strcmp(url, "/_sim/state") && !strcmp(method, "GET")) {
        const char *stable = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "stable");
        if (stable && strcmp(stable, "0") && strcmp(stable, "1"))
            return send_text(c, 400, "text/plain", "exsim: /_sim/state: stable must be 0 or 1\n");
        int st = stable && !strcmp(stable, "1");
        pthread_mutex_lock(&exsim_srv.store_lock);
        xmlDocPtr d = st ? exsim_org_dump_stable(exsim_srv.org) : exsim_org_dump(exsim_srv.org);
        pthread_mutex_unlock(&exsim_srv.store_lock);
        xmlChar *buf = NULL;
        int n = 0;
        if (d)
            xmlDocDumpFormatMemoryEnc(d, &buf, &n, "utf-8", 1);
        xmlFreeDoc(d);
        char *copy = buf ? strndup((const char *)buf, (size_t)n) : NULL;
        xmlFree(buf);
        if (!copy)
            return send_text(c, 500, "text/plain", "exsim: state dump failed\n");
        return send_body(c, 200, CT_XML, copy, (size_t)n, NULL);
    }
    if (!strcmp(method, "POST") && (!strcmp(url, "/_sim/config") || !strcmp(url, "/_sim/inject"))) {
        qbuf q = { .len = 0 };
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
        if (rc->len > 0 && q.len + rc->len + 2 < sizeof q.s)
            q.len += (size_t)snprintf(q.s + q.len, sizeof q.s - q.len, "%s%.*s", q.len ? "&" : "",
                                      (int)rc->len, rc->body);
        while (q.len && (q.s[q.len - 1] == '\n' || q.s[q.len - 1] == '\r'))
            q.s[--q.len] = '\0';
        char err[512], msg[600];
        if (exsim_inject_apply(q.s, err, sizeof err)) {
            snprintf(msg, sizeof msg, "exsim: /_sim/config: %s\n", err);
            return send_text(c, 400, "text/plain", msg);
        }
        exsim_inject i = exsim_inject_get();
        snprintf(msg, sizeof msg,
                 "{\"rtt_ms\":%d,\"max_concurrency\":%d,\"backoff_ms\":%d,\"fail_rate\":%g,"
                 "\"fail_seed\":%u,\"fail_nth\":%ld,\"fail_status\":%d,\"drop_nth\":%ld,\"slow_body_ms\":%d,"
                 "\"ews_blocked\":%d,\"graph_concurrency\":%d,\"graph_throttle_next\":%ld,"
                 "\"graph_retry_after\":%d,\"graph_batch_throttle_next\":%ld,"
                 "\"fail_op\":\"%s\",\"fail_op_code\":\"%s\"}\n",
                 i.rtt_ms, i.max_concurrency, i.backoff_ms, i.fail_rate, i.fail_seed, i.fail_nth,
                 i.fail_status, i.drop_nth, i.slow_body_ms, i.ews_blocked, i.graph_concurrency,
                 i.graph_throttle_next, i.graph_retry_after, i.graph_batch_throttle_next, i.fail_op,
                 i.fail_op_code);
        return send_text(c, 200, "application/json", msg);
    }
    if (!strcmp(url, "/_sim/reset-stats") && !strcmp(method, "POST")) {
        exsim_stats_reset();
        exsim_inject_reset_counter();
        return send_text(c, 200, "application/json", "{\"reset\":true}\n");
    }
    return send_text(c, 404, "text/plain", "exsim: unknown /_sim endpoint\n");
}

/* ---- Autodiscover GET (the unauthenticated redirect flow) ----------------- */

static enum MHD_Result autodiscover_get(struct MHD_Connection *c, const exsim_authres *auth)
{
    const exsim_account *acct = auth->acct;
    if (exsim_srv.get_redirect) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, exsim_srv.get_redirect);
        enum MHD_Result ok = MHD_queue_response(c, MHD_HTTP_FOUND, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (!acct)
        return send_401(c, auth);
    /* Authenticated GET carries no request: Exchange answers error 600. */
    return send_text(c, 405, "text/html", "<html><body>405 - Method Not Allowed</body></html>\n");
}

/* ---- counted requests (EWS and Autodiscover POST) ------------------------- */

/* An Autodiscover lookup for many users (GetUserSettings) works for the
 * mailbox its client is processing, which it names in X-AnchorMailbox:
 * the round trip is that mailbox's, not the first looked-up user's. */
static const char *anchor_mailbox(struct MHD_Connection *c, const char *otherwise)
{
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-AnchorMailbox");
    if (!a || !*a)
        return otherwise;
    pthread_mutex_lock(&exsim_srv.store_lock);
    const exsim_mailbox_info *mb = exsim_org_find_mailbox(exsim_srv.org, a);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    return mb ? mb->smtp : otherwise;
}

/* A counted answer on c's connection: its next request starts a step of its own. */
static void conn_counted(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    if (ci && ci->socket_context)
        ((exsim_conn *)ci->socket_context)->counted++;
}

static enum MHD_Result counted(struct MHD_Connection *c, int is_ews, const exsim_authres *auth,
                               reqctx *rc)
{
    const exsim_account *acct = auth->acct;
    exsim_stats_begin();
    exsim_fate fate = exsim_inject_next();
    char op[128];   /* "Operation\tdetail" (stats.c) */
    snprintf(op, sizeof op, "%s", is_ews ? "(ews)" : "Autodiscover");
    const char *mailbox = NULL;
    char *out = NULL;
    size_t outlen = 0;
    int status;
    const char *ctype = CT_XML;
    if (is_ews && fate.ews_blocked) {   /* Exchange Online, EWS disabled: 403, not a SOAP fault */
        sleep_ms(fate.rtt_ms);
        exsim_stats_count("ews_blocked");
        status = 403;
        out = sr_asprintf("<html><body>403 - Forbidden: EWS is not allowed for this application"
                          "</body></html>\n");
        outlen = out ? strlen(out) : 0;
        ctype = "text/html";
        snprintf(op, sizeof op, "(ews blocked)");
    } else if (fate.fail_status) {
        sleep_ms(fate.rtt_ms);
        exsim_stats_count("injected_failures");
        status = fate.fail_status;
        out = sr_asprintf("<html><body>%d - injected by exsim</body></html>\n", status);
        outlen = out ? strlen(out) : 0;
        ctype = "text/html";
        snprintf(op, sizeof op, "(injected)");
    } else if ((is_ews && exsim_inject_take_throttle()) || exsim_inject_enter(acct) != 0) {
        sleep_ms(fate.rtt_ms);
        exsim_stats_count("throttled");
        exsim_inject inj = exsim_inject_get();
        out = exsim_soap_fault_doc("ErrorServerBusy", "The server cannot service this request right now. "
                                   "Try again later.", inj.backoff_ms > 0 ? inj.backoff_ms : 1, &outlen);
        status = 500;
        snprintf(op, sizeof op, "(throttled)");
    } else {
        sleep_ms(fate.rtt_ms);
        if (is_ews)
            status = exsim_ews_handle(acct, rc->body ? rc->body : "", rc->len, &out, &outlen, op,
                                      sizeof op, &mailbox);
        else
            status = exsim_autodiscover_post(rc->body ? rc->body : "", rc->len,
                                             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-ClientCanHandle"),
                                             MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-MapiHttpCapability"),
                                             &out, &outlen, &mailbox);
        exsim_inject_leave(acct);
        if (!is_ews)
            mailbox = anchor_mailbox(c, mailbox);
    }
    if (!out) {
        status = 500;
        out = strdup("exsim: out of memory\n");
        outlen = out ? strlen(out) : 0;
        ctype = "text/plain";
    }
    size_t sent = outlen;
    conn_counted(c);
    enum MHD_Result ok = send_body_auth(c, status, ctype, out, outlen, &fate, auth);
    exsim_stats_end(op, mailbox, status, rc->start_us, exsim_now_us(), rc->len, sent);
    return ok;
}

static int path_is(const char *url, const char *path)
{
    return strcasecmp(url, path) == 0;
}

/* An authenticated (or refused) request to Autodiscover or EWS. */
static enum MHD_Result route(struct MHD_Connection *c, const char *method, int is_ews, int is_ad,
                             const exsim_authres *auth, reqctx *rc)
{
    const exsim_account *acct = auth->acct;
    /* Uncounted answers (challenges, redirects) cost a round trip too. */
    int uncounted = !acct || strcmp(method, "POST");
    if (uncounted)
        sleep_ms(exsim_inject_get().rtt_ms);
    if (is_ad && (!strcmp(method, "GET") || !strcmp(method, "HEAD")))
        return autodiscover_get(c, auth);
    if (!acct) {
        /* A continuation token is a step of a logon, not a refusal. */
        if (!auth->token)
            exsim_stats_count("unauthorized");
        return send_401(c, auth);
    }
    if (strcmp(method, "POST"))
        return send_text(c, 405, "text/html", "<html><body>Method Not Allowed</body></html>\n");
    return counted(c, is_ews, auth, rc);
}

/* When the client began this request.  The first counted request on a
 * connection began when the client opened it: a client that sends two
 * requests at once, one of them on a new connection, must not see them
 * counted as two dependent round trips because the handshake delayed the
 * second.  The handshake includes the logon legs before it (NTLM's
 * NEGOTIATE → 401 CHALLENGE, a Negotiate token exchange): uncounted answers
 * on the same connection, so they do not end its first step. */
static int64_t request_start(struct MHD_Connection *c)
{
    int64_t now = exsim_now_us();
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    exsim_conn *conn = ci ? ci->socket_context : NULL;
    if (!conn)
        return now;
    return conn->counted == 0 && conn->opened_us ? conn->opened_us : now;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls;
    (void)version;
    reqctx *rc = *con_cls;
    if (!rc) {
        if (!(rc = calloc(1, sizeof *rc)))
            return MHD_NO;
        rc->start_us = request_start(c);
        *con_cls = rc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (rc->len + *upload_size > exsim_srv.max_request_bytes) {
            rc->too_big = 1;
        } else if (!rc->too_big) {
            if (rc->len + *upload_size + 1 > rc->cap) {
                size_t cap = (rc->len + *upload_size + 1) * 2;
                char *p = realloc(rc->body, cap);
                if (!p)
                    return MHD_NO;
                rc->body = p;
                rc->cap = cap;
            }
            memcpy(rc->body + rc->len, upload, *upload_size);
            rc->len += *upload_size;
            rc->body[rc->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strncmp(url, "/_sim/", 6))
        return sim_endpoint(c, url, method, rc);
    if (!strncmp(url, "/v1.0/", 6) || !strncmp(url, "/beta/", 6)) {   /* Microsoft Graph */
        if (rc->too_big)
            return send_text(c, 413, "application/json",
                             "{\"error\":{\"code\":\"RequestEntityTooLarge\",\"message\":\"Request entity too large.\"}}");
        conn_counted(c);   /* bearer tokens: no logon legs on the connection */
        return exsim_graph_serve(c, url, method, rc->body, rc->len, rc->start_us);
    }
    int is_ews = path_is(url, "/EWS/Exchange.asmx");
    int is_ad = path_is(url, "/autodiscover/autodiscover.xml") ||
                path_is(url, "/autodiscover/autodiscover.svc");   /* SOAP: GetUserSettings */
    if (!is_ews && !is_ad)
        return send_text(c, 404, "text/html", "<html><body>404 - Not Found</body></html>\n");
    if (rc->too_big)
        return send_text(c, 413, "text/html", "<html><body>413 - Request Entity Too Large</body></html>\n");
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    exsim_authres auth;
    exsim_auth(ci ? ci->socket_context : NULL, authz, &auth);
    enum MHD_Result ok = route(c, method, is_ews, is_ad, &auth, rc);
    exsim_authres_clear(&auth);
    return ok;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    reqctx *rc = *con_cls;
    if (rc) {
        free(rc->body);
        free(rc);
    }
    *con_cls = NULL;
}

static void notify_conn(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    (void)cls;
    (void)c;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        exsim_stats_connection();
        exsim_conn *conn = calloc(1, sizeof *conn);
        if (conn)
            conn->opened_us = exsim_now_us();
        *socket_context = conn;
    } else {
        exsim_conn_free(*socket_context);
        *socket_context = NULL;
    }
}

/* Start the daemon on 127.0.0.1:port (0 = any free port); returns it. */
struct MHD_Daemon *exsim_http_start(int port, const char *cert_pem, const char *key_pem, int *bound)
{
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d;
    if (cert_pem)
        d = MHD_start_daemon(flags | MHD_USE_TLS, 0, NULL, NULL, handle, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_NOTIFY_CONNECTION, notify_conn, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                             MHD_OPTION_HTTPS_MEM_CERT, cert_pem,
                             MHD_OPTION_HTTPS_MEM_KEY, key_pem, MHD_OPTION_END);
    else
        d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL,
                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a,
                             MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                             MHD_OPTION_NOTIFY_CONNECTION, notify_conn, NULL,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_END);
    if (!d)
        return NULL;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *bound = i ? i->port : port;
    return d;
}
