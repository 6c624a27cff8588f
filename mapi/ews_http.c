/* ews_http.c — the HTTP layer under Autodiscover and EWS: one curl multi
 * handle per mapi_net (its connection pool is shared by every request, so
 * connections are reused across mailboxes), a share handle for DNS and TLS
 * sessions, concurrent batches, bounded retries, size limits and redacted
 * tracing.  What a response means is decided elsewhere. */
#include "mapi/ews_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct mapi_net {
    mapi_netopts o;             /* strings below are our copies */
    char *user, *password, *client_id, *client_secret, *client_cert_file, *client_key_file;
    char *authority_url, *resource_url, *token_url, *proxy, *ca_file, *ca_dir, *server_version;
    /* the scheme in use: o.auth, or NTLM once Negotiate fell back (see
     * resolve_auth and fall_back) */
    mapi_auth eff_auth;
    int auth_resolved;
    char *noproxy;              /* the environment's no_proxy plus loopback */
    struct curl_slist *connect_to;
    CURLM *multi;
    CURLSH *share;              /* ours, or the borrowed mapi_conns' (then not freed) */
    int share_borrowed;
    unsigned requests, connections;
    unsigned conns_kept;        /* connections opened on this multi handle (fresh_connections) */
    int keep_connections;       /* no fresh start (mapi_net_keep_connections) */
    int trace;                  /* SR_EWS_DEBUG: 1 headers, 2 bodies */
    int ca_dir_only;            /* trust libcurl's hashed CApath alone (no bundle) */
    mapi_oauth_cache oauth;
};

/* Whether dir holds OpenSSL's subject-hash links ("1a2b3c4d.0"), which a
 * CApath lookup needs. */
static int hashed_ca_dir(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    int found = 0;
    for (struct dirent *de; d && !found && (de = readdir(d));) {
        size_t n = strlen(de->d_name), hex = strspn(de->d_name, "0123456789abcdef");
        found = n >= 10 && hex == 8 && de->d_name[8] == '.' && de->d_name[9] >= '0' &&
                de->d_name[9] <= '9';
    }
    if (d)
        closedir(d);
    return found;
}

struct mapi_conns {
    CURLSH *share;
    unsigned opened;            /* connections opened through this share (fresh_connections) */
};

/* Sizes the curl multi handle's cache of idle connections.  With a
 * mapi_conns the cache is the share's (an engine keeps one per side), and
 * curl trims it to the current handle's limit (by default 4 per transfer in
 * progress: after a one-request step, 4) — it must hold a side's
 * connections (max_parallel, several hosts) between mailboxes. */
#define MAPI_CONNS_KEEP 64L

/* A share that holds DNS answers, TLS sessions and the connection cache. */
static CURLSH *conns_share(void)
{
    CURLSH *s = curl_share_init();
    if (s) {
        curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(s, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
    }
    return s;
}

/* The share a handle's transfers use now: a borrowed pool's may have been
 * renewed by another handle (fresh_connections), so it is looked up each
 * time. */
static CURLSH *net_share(const mapi_net *net)
{
    return net->share_borrowed ? net->o.conns->share : net->share;
}

mapi_conns *mapi_conns_new(sr_err *err)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sr_err_set(err, SR_E_INTERNAL, "libcurl could not be initialised");
        return NULL;
    }
    mapi_conns *c = calloc(1, sizeof *c);
    if (!c || !(c->share = conns_share())) {
        free(c);
        sr_err_set(err, SR_E_NOMEM, "out of memory creating the connection pool");
        return NULL;
    }
    return c;
}

void mapi_conns_free(mapi_conns *c)
{
    if (!c)
        return;
    curl_share_cleanup(c->share);
    free(c);
}

const mapi_netopts *mapi_net_opts(const mapi_net *net) { return &net->o; }
mapi_oauth_cache *mapi_net_oauth(mapi_net *net) { return &net->oauth; }
unsigned mapi_net_requests(const mapi_net *net) { return net ? net->requests : 0; }

void mapi_net_keep_connections(mapi_net *net, int on)
{
    if (net)
        net->keep_connections = on != 0;
}
unsigned mapi_net_connections(const mapi_net *net) { return net ? net->connections : 0; }

static int copy_str(char **dst, const char **view, const char *src)
{
    *dst = NULL;
    *view = NULL;
    if (!src)
        return 0;
    if (!(*dst = sr_strdup(src)))
        return -1;
    *view = *dst;
    return 0;
}

static int copy_opts(mapi_net *net, const mapi_netopts *in)
{
    net->o = *in;
    int bad = 0;
    bad |= copy_str(&net->user, &net->o.user, in->user);
    bad |= copy_str(&net->password, &net->o.password, in->password);
    bad |= copy_str(&net->client_id, &net->o.client_id, in->client_id);
    bad |= copy_str(&net->client_secret, &net->o.client_secret, in->client_secret);
    bad |= copy_str(&net->client_cert_file, &net->o.client_cert_file, in->client_cert_file);
    bad |= copy_str(&net->client_key_file, &net->o.client_key_file, in->client_key_file);
    bad |= copy_str(&net->token_url, &net->o.token_url, in->token_url);
    bad |= copy_str(&net->authority_url, &net->o.authority_url,
                    in->authority_url ? in->authority_url : "https://login.microsoftonline.com/common");
    bad |= copy_str(&net->resource_url, &net->o.resource_url,
                    in->resource_url ? in->resource_url : "https://outlook.office365.com");
    bad |= copy_str(&net->proxy, &net->o.proxy, in->proxy);
    bad |= copy_str(&net->ca_file, &net->o.ca_file, in->ca_file);
    bad |= copy_str(&net->ca_dir, &net->o.ca_dir, in->ca_dir);
    bad |= copy_str(&net->server_version, &net->o.server_version,
                    in->server_version ? in->server_version : "Exchange2013_SP1");
    net->o.connect_to = NULL;
    for (const char *const *c = in->connect_to; c && *c; c++) {
        struct curl_slist *l = curl_slist_append(net->connect_to, *c);
        if (!l)
            return -1;
        net->connect_to = l;
    }
    if (!net->o.connect_timeout_ms) net->o.connect_timeout_ms = 10000;
    if (!net->o.timeout_ms) net->o.timeout_ms = 120000;
    if (!net->o.max_response_bytes) net->o.max_response_bytes = 32u << 20;
    if (!net->o.max_retries) net->o.max_retries = 6;
    if (!net->o.max_backoff_ms) net->o.max_backoff_ms = 120000;
    if (!net->o.max_parallel) net->o.max_parallel = 8;
    return bad ? -1 : 0;
}

mapi_net *mapi_net_new(const mapi_netopts *opts, sr_err *err)
{
    static const mapi_netopts none = { .auth = MAPI_AUTH_NONE };
    if (!mapi_ews_code_table_sorted()) {   /* a build defect: every lookup could miss */
        sr_err_set(err, SR_E_INTERNAL, "the EWS ResponseCode table is not sorted");
        return NULL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sr_err_set(err, SR_E_INTERNAL, "libcurl could not be initialised");
        return NULL;
    }
    mapi_net *net = calloc(1, sizeof *net);
    if (!net || copy_opts(net, opts ? opts : &none) != 0) {
        mapi_net_free(net);
        sr_err_set(err, SR_E_NOMEM, "out of memory creating the network handle");
        return NULL;
    }
    net->eff_auth = net->o.auth;
    /* loopback never goes through a forward proxy from the environment */
    const char *np = getenv("no_proxy");
    if (!np || !*np)
        np = getenv("NO_PROXY");
    net->noproxy = sr_asprintf("%s%slocalhost,127.0.0.1,::1", np && *np ? np : "",
                               np && *np ? "," : "");
    if ((net->o.auth == MAPI_AUTH_BASIC || net->o.auth == MAPI_AUTH_NTLM) && !net->user) {
        mapi_net_free(net);
        sr_err_set(err, SR_E_CONFIG, "Basic/NTLM authentication needs a user name");
        return NULL;
    }
    net->multi = curl_multi_init();
    net->share_borrowed = net->o.conns != NULL;
    net->share = net->share_borrowed ? net->o.conns->share : curl_share_init();
    if (!net->multi || !net->share) {
        mapi_net_free(net);
        sr_err_set(err, SR_E_NOMEM, "out of memory creating curl handles");
        return NULL;
    }
    if (!net->share_borrowed) {
        curl_share_setopt(net->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(net->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    curl_multi_setopt(net->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)net->o.max_parallel);
    curl_multi_setopt(net->multi, CURLMOPT_MAXCONNECTS, MAPI_CONNS_KEEP);
    const char *dbg = getenv("SR_EWS_DEBUG");
    net->trace = dbg ? atoi(dbg) : 0;
    /* Debian's libcurl has a default CA bundle and a default CApath.  With a
     * CApath its CA cache is off, so every new TLS connection parsed the whole
     * bundle (~140 certificates, ~240 M instructions under callgrind); the
     * hashed directory finds the one issuer needed (~4 M).  The bundle stays
     * when there is no usable CApath, or when the admin names CA files. */
    if (!net->o.ca_file && !net->o.ca_dir)
        net->ca_dir_only = hashed_ca_dir(curl_version_info(CURLVERSION_NOW)->capath);
    return net;
}

void mapi_net_free(mapi_net *net)
{
    if (!net)
        return;
    if (net->multi)
        curl_multi_cleanup(net->multi);
    if (net->share && !net->share_borrowed)
        curl_share_cleanup(net->share);
    curl_slist_free_all(net->connect_to);
    sr_secret_free(net->password);
    sr_secret_free(net->client_secret);
    free(net->user);
    free(net->client_id);
    free(net->client_cert_file);
    free(net->client_key_file);
    free(net->token_url);
    free(net->noproxy);
    free(net->authority_url);
    free(net->resource_url);
    free(net->proxy);
    free(net->ca_file);
    free(net->ca_dir);
    free(net->server_version);
    mapi_oauth_cache_clear(&net->oauth);
    free(net);
    curl_global_cleanup();
}

/* ---- one transfer ------------------------------------------------------- */
enum { X_PENDING, X_RUNNING, X_WAITING, X_DONE };

typedef struct xfer {
    const mapi_http_req *req;
    mapi_http_resp *resp;
    sr_err *err;
    CURL *easy;
    struct curl_slist *hdrs;
    char *buf;
    size_t len, cap, limit;
    int overflow, state, attempts;
    int slot;                   /* holds a slot of the account's budget (budget.h) */
    long long wait_until;
    unsigned waited_ms;
    mapi_auth tried;            /* scheme sent on the last attempt */
    char offered[128];          /* WWW-Authenticate schemes of the last answer */
    char diag[160];             /* reason="..." of Exchange Online's x-ms-diagnostics */
    char errbuf[CURL_ERROR_SIZE];
} xfer;

/* Exchange Online names why it refused a token in x-ms-diagnostics
 * (2000003;reason="The token has expired";error_category=...): keep the
 * reason, printable characters only; it holds no secret. */
static void keep_diagnostics(xfer *x, const char *v, size_t n)
{
    static const char key[] = "reason=\"";
    const char *r = memmem(v, n, key, sizeof key - 1);
    if (!r)
        return;
    r += sizeof key - 1;
    size_t o = 0;
    while (r < v + n && *r != '"' && o + 1 < sizeof x->diag) {
        x->diag[o++] = (*r >= 0x20 && *r < 0x7f) ? *r : '?';
        r++;
    }
    x->diag[o] = '\0';
}

/* Collect the scheme names of WWW-Authenticate headers (no challenge data:
 * NTLM/Negotiate blobs are not for logs). */
static size_t header_cb(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    static const char h[] = "www-authenticate:", d[] = "x-ms-diagnostics:";
    if (n > sizeof d && strncasecmp(p, d, sizeof d - 1) == 0) {
        keep_diagnostics(x, p + sizeof d - 1, n - (sizeof d - 1));
    } else if (n > sizeof h && strncasecmp(p, h, sizeof h - 1) == 0) {
        const char *v = p + sizeof h - 1;
        while (v < p + n && (*v == ' ' || *v == '\t'))
            v++;
        size_t wl = 0;
        while (v + wl < p + n && v[wl] != ' ' && v[wl] != '\r' && v[wl] != '\n' && v[wl] != ',')
            wl++;
        size_t used = strlen(x->offered);
        if (wl && used + wl + 3 < sizeof x->offered)
            snprintf(x->offered + used, sizeof x->offered - used, "%s%.*s", used ? ", " : "",
                     (int)wl, v);
    } else if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        x->offered[0] = '\0';   /* a new answer (after 100 or a redirect) */
        x->diag[0] = '\0';
    }
    return n;
}

static size_t write_cb(char *p, size_t sz, size_t nm, void *ud)
{
    xfer *x = ud;
    size_t n = sz * nm;
    if (x->len + n > x->limit) {
        x->overflow = 1;
        return 0;   /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 16384;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *nb = realloc(x->buf, cap);
        if (!nb)
            return 0;
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, p, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

static sr_code setup_auth(mapi_net *net, xfer *x, CURL *h, const char *token)
{
    const mapi_netopts *o = &net->o;
    x->tried = net->eff_auth;
    switch (net->eff_auth) {
    case MAPI_AUTH_BASIC:
    case MAPI_AUTH_NTLM:
        curl_easy_setopt(h, CURLOPT_HTTPAUTH,
                         net->eff_auth == MAPI_AUTH_BASIC ? CURLAUTH_BASIC : CURLAUTH_NTLM);
        curl_easy_setopt(h, CURLOPT_USERNAME, o->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, o->password ? o->password : "");
        break;
    case MAPI_AUTH_NEGOTIATE:
    case MAPI_AUTH_KERBEROS:
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_NEGOTIATE);
        curl_easy_setopt(h, CURLOPT_USERPWD, ":");   /* use the Kerberos ccache */
        break;
    case MAPI_AUTH_OAUTH2:
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
        curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, token);
        break;
    case MAPI_AUTH_NONE:
        break;
    }
    return SR_OK;
}

/* Options every request gets: URL, schemes, limits, TLS, proxy. */
static void set_common(mapi_net *net, xfer *x, CURL *h)
{
    const mapi_http_req *r = x->req;
    const mapi_netopts *o = &net->o;
    /* SSLOnly wins over the labs' allow_http; the Autodiscover GET probe is
     * unauthenticated and its redirect must lead to https (autodiscover.c) */
    const char *protos = (o->allow_http && !o->ssl_only) || r->plain_http_ok ? "http,https" : "https";
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, protos);
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, protos);
    curl_easy_setopt(h, CURLOPT_SHARE, net_share(net));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "switchresmb/1.0");
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    /* A configured forward proxy; otherwise libcurl follows https_proxy /
     * http_proxy / no_proxy from the environment, as an admin expects. */
    if (o->proxy)
        curl_easy_setopt(h, CURLOPT_PROXY, o->proxy);
    else if (net->noproxy)
        curl_easy_setopt(h, CURLOPT_NOPROXY, net->noproxy);
    if (o->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
    else if (net->ca_dir_only)
        curl_easy_setopt(h, CURLOPT_CAINFO, NULL);
    if (o->ca_dir)
        curl_easy_setopt(h, CURLOPT_CAPATH, o->ca_dir);
    if (net->connect_to)
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, net->connect_to);
    if (r->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
    }
    if (net->trace > 0) {
        curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
        curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, mapi_trace_cb);
        curl_easy_setopt(h, CURLOPT_DEBUGDATA, (void *)(r->who ? r->who : r->url));
    }
}

/* Method, body and headers; the body buffer stays the caller's. */
static void set_body(xfer *x, CURL *h)
{
    const mapi_http_req *r = x->req;
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    if (r->body) {
        char ct[160];
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 r->content_type ? r->content_type : "text/xml; charset=utf-8");
        x->hdrs = curl_slist_append(x->hdrs, ct);
        x->hdrs = curl_slist_append(x->hdrs, "Expect:");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    }
    /* a body makes libcurl POST: PATCH (Graph) and DELETE name themselves */
    if (r->method && strcmp(r->method, "GET") != 0 && strcmp(r->method, "POST") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->extra_header)
        x->hdrs = curl_slist_append(x->hdrs, r->extra_header);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
}

static sr_code xfer_start(mapi_net *net, xfer *x, const char *token)
{
    CURL *h = x->easy ? x->easy : curl_easy_init();
    if (!h)
        return sr_err_set(x->err, SR_E_NOMEM, "%s: out of memory", x->req->url);
    curl_easy_reset(h);
    x->easy = h;
    x->len = 0;
    x->overflow = 0;
    x->errbuf[0] = '\0';
    x->offered[0] = '\0';
    x->diag[0] = '\0';
    x->tried = MAPI_AUTH_NONE;
    set_common(net, x, h);
    set_body(x, h);
    if (x->req->auth)
        setup_auth(net, x, h, token);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    x->attempts++;
    net->requests++;
    if (curl_multi_add_handle(net->multi, h) != CURLM_OK)
        return sr_err_set(x->err, SR_E_INTERNAL, "%s: cannot start the transfer", x->req->url);
    x->state = X_RUNNING;
    return SR_OK;
}

/* ---- outcome of one attempt --------------------------------------------- */
/* A 500 may be a broken server rather than a busy one: few tries (with the
 * back-off 0.5 s, 1 s: 1.5 s at most) before the candidate search moves on. */
#define SERVER_ERROR_TRIES 3
static int may_retry(const mapi_net *net, const xfer *x, unsigned delay_ms)
{
    return (unsigned)x->attempts <= net->o.max_retries &&
           x->waited_ms + delay_ms <= net->o.max_backoff_ms;
}

/* A throttling wait is never shorter than this: a server asking for 1 ms
 * would otherwise use up a caller's attempts at once (the engine bounds
 * throttling by its waiting budget, see cpuu_net_for). */
#define THROTTLE_FLOOR_MS 100u

/* Up to a quarter more than asked, so that engines throttled together do
 * not come back together (the server's value is a minimum). */
static unsigned jittered(unsigned delay_ms)
{
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)sr_now_ms();
    seed = seed * 1103515245u + 12345u;
    return delay_ms + (delay_ms / 4 ? (seed >> 8) % (delay_ms / 4 + 1) : 0);
}

static void schedule_retry(xfer *x, unsigned delay_ms)
{
    x->state = X_WAITING;
    x->wait_until = sr_now_ms() + delay_ms;
    x->waited_ms += delay_ms;
}

/* A response code the table classes as transient (SR_CLASS_WAIT: back off;
 * SR_CLASS_RETRY: try again shortly), as a SOAP fault (the whole request was
 * refused: always safe to resend) or, for reads, as the first response
 * message.  Returns the class (SR_CLASS_NONE: not transient); *backoff_ms
 * from MessageXml, *name gets the code (heap, caller frees). */
static sr_class soap_transient(const xfer *x, int message_level_ok, unsigned *backoff_ms,
                               char **name)
{
    *backoff_ms = 0;
    *name = NULL;
    xmlDocPtr doc = mapi_xml_parse(x->buf, x->len, "throttling check", NULL);
    if (!doc)
        return SR_CLASS_NONE;
    char *code = NULL, *text = NULL;
    xmlNodePtr m = NULL;
    if (!mapi_ews_fault(doc, &code, &text, backoff_ms) && message_level_ok) {
        xmlNodePtr body = mapi_xml_child(xmlDocGetRootElement(doc), MAPI_NS_SOAP, "Body");
        xmlNodePtr op = mapi_xml_child(body, NULL, NULL);
        xmlNodePtr msgs = mapi_xml_child(op, NULL, "ResponseMessages");
        m = mapi_xml_child(msgs, NULL, NULL);
        code = mapi_xml_child_text(m, NULL, "ResponseCode");
    }
    const mapi_ews_code_entry *e = code ? mapi_ews_code_lookup(code) : NULL;
    sr_class cls = e && (e->cls == SR_CLASS_WAIT || e->cls == SR_CLASS_RETRY) ? e->cls
                                                                              : SR_CLASS_NONE;
    if (cls != SR_CLASS_NONE && m)
        *backoff_ms = mapi_ews_backoff(m);
    if (cls != SR_CLASS_NONE)
        *name = code;
    else
        free(code);
    free(text);
    xmlFreeDoc(doc);
    return cls;
}

static void xfer_curl_failed(mapi_net *net, xfer *x, CURLcode cc)
{
    const mapi_http_req *r = x->req;
    const char *who = r->who ? r->who : "request";
    if (x->overflow) {
        sr_err_set(x->err, SR_E_LIMIT, "%s: %s: the response is larger than the limit of %zu bytes",
                   who, r->url, x->limit);
        x->state = X_DONE;
        return;
    }
    sr_code code;
    const char *words = mapi_curl_words(cc, &code);
    /* Refused connections never carried the request; broken ones may have,
     * so only reads are resent then. */
    int unsent = cc == CURLE_COULDNT_CONNECT;
    int broken = cc == CURLE_GOT_NOTHING || cc == CURLE_RECV_ERROR || cc == CURLE_SEND_ERROR ||
                 cc == CURLE_PARTIAL_FILE || cc == CURLE_OPERATION_TIMEDOUT;
    unsigned delay = 250u * (unsigned)x->attempts;
    if ((unsent || (broken && r->idempotent)) && may_retry(net, x, delay)) {
        sr_log(SR_LOG_INFO, who, "%s: %s; retrying in %u ms (attempt %d)", r->url, words, delay,
               x->attempts + 1);
        schedule_retry(x, delay);
        return;
    }
    /* a write cut off in flight may or may not have been applied: say so */
    sr_err_set(x->err, code, "%s: %s: %s (%s)%s%s", who, r->url, words,
               x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc),
               x->attempts > 1 ? " after retries" : "",
               broken && !r->idempotent ? "; the request may have been applied by the server" : "");
    x->state = X_DONE;
}

static void xfer_throttled(mapi_net *net, xfer *x, const char *what, unsigned delay)
{
    const char *who = x->req->who ? x->req->who : "request";
    delay = jittered(delay < THROTTLE_FLOOR_MS ? THROTTLE_FLOOR_MS : delay);
    if (may_retry(net, x, delay)) {
        sr_log(SR_LOG_NOTICE, who, "%s: throttled by the server (%s); waiting %u ms (attempt %d)",
               x->req->url, what, delay, x->attempts + 1);
        schedule_retry(x, delay);
        return;
    }
    sr_err_set(x->err, SR_E_BUSY,
               "%s: %s: the server kept throttling (%s); gave up after %d attempts and %u ms of waiting",
               who, x->req->url, what, x->attempts, x->waited_ms);
    x->err->backoff_ms = delay;
    x->state = X_DONE;
}

/* Retry a transient EWS response code by its class (never by its name). */
static int transient_code(mapi_net *net, xfer *x, long status)
{
    unsigned backoff;
    char *name;
    sr_class cls = soap_transient(x, status == 200 && x->req->idempotent, &backoff, &name);
    if (cls == SR_CLASS_NONE)
        return 0;
    char what[120];
    unsigned delay = backoff ? backoff
                             : (cls == SR_CLASS_WAIT ? 1000u : 250u) * (unsigned)x->attempts;
    snprintf(what, sizeof what, "%s, BackOffMilliseconds=%u", name, backoff);
    free(name);
    xfer_throttled(net, x, what, delay);
    return 1;
}

static int offers(const char *offered, const char *scheme)
{
    size_t l = strlen(scheme);
    for (const char *p = offered; (p = strcasestr(p, scheme)); p += l)
        if ((p == offered || p[-1] == ' ') && (p[l] == '\0' || p[l] == ','))
            return 1;
    return 0;
}

/* The next rung of a Negotiate logon after a 401 (libcurl never falls back
 * itself): Kerberos → NTLM when the server offers NTLM, → Basic when it
 * offers only Basic and the channel is TLS (or a loopback lab allows http);
 * only with an account and password.  MAPI_AUTH_NONE: no further rung. */
static mapi_auth next_rung(const mapi_net *net, const xfer *x)
{
    const mapi_netopts *o = &net->o;
    if (o->auth != MAPI_AUTH_NEGOTIATE || !o->user || !o->password)
        return MAPI_AUTH_NONE;
    if (x->tried == MAPI_AUTH_NEGOTIATE && offers(x->offered, "NTLM"))
        return MAPI_AUTH_NTLM;
    int tls = strncasecmp(x->req->url, "https://", 8) == 0;
    if ((x->tried == MAPI_AUTH_NEGOTIATE || x->tried == MAPI_AUTH_NTLM) &&
        offers(x->offered, "Basic") && (tls || o->allow_http))
        return MAPI_AUTH_BASIC;
    return MAPI_AUTH_NONE;
}

/* Fall back (once per rung for the whole handle) and send the request again. */
static int fall_back(mapi_net *net, xfer *x)
{
    if (x->tried != net->eff_auth && net->eff_auth != MAPI_AUTH_NONE && x->attempts < 4) {
        schedule_retry(x, 0);   /* another request of the batch already moved on */
        return 1;
    }
    mapi_auth next = next_rung(net, x);
    if (next == MAPI_AUTH_NONE)
        return 0;
    sr_log(SR_LOG_NOTICE, x->req->who ? x->req->who : "logon",
           "%s: %s refused with HTTP 401 (server offers %s); falling back to %s as %s",
           x->req->url, mapi_auth_name(x->tried), x->offered, mapi_auth_name(next), net->o.user);
    net->eff_auth = next;
    schedule_retry(x, 0);
    return 1;
}

/* HTTP 401 on an authenticated request: fall back, or say what was tried
 * and what the server offers (no secret, no challenge data). */
static int refused_logon(mapi_net *net, xfer *x)
{
    if (fall_back(net, x))
        return 1;
    const mapi_netopts *o = &net->o;
    const char *who = x->req->who ? x->req->who : "logon";
    int named = (x->tried == MAPI_AUTH_BASIC || x->tried == MAPI_AUTH_NTLM) && o->user;
    char *note = sr_asprintf("%s%s%s was refused%s%s%s; the server offers %s", mapi_auth_name(x->tried),
                             named ? " as " : "", named ? o->user : "",
                             x->diag[0] ? " (" : "", x->diag, x->diag[0] ? ")" : "",
                             x->offered[0] ? x->offered : "no scheme (no WWW-Authenticate)");
    sr_log(SR_LOG_WARN, who, "%s: HTTP 401: %s", x->req->url, note ? note : "logon refused");
    free(x->resp->auth_note);
    x->resp->auth_note = note;
    return 0;
}

static void xfer_finish(mapi_net *net, xfer *x, CURLcode cc)
{
    long conns = 0, status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &conns);
    net->connections += (unsigned)conns;
    net->conns_kept += (unsigned)conns;
    if (net->share_borrowed)
        net->o.conns->opened += (unsigned)conns;
    if (cc != CURLE_OK) {
        xfer_curl_failed(net, x, cc);
        return;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    /* Graph throttles with 429 (and 503/504), each with Retry-After
     * (Microsoft Graph throttling guidance); a 504 (gateway timeout) may
     * come after the work was done, so only a request safe to repeat is
     * sent again then */
    if (status == 503 || (x->req->throttle_429_504 &&
                          (status == 429 || (status == 504 && x->req->idempotent)))) {
        curl_off_t ra = -1;
        curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &ra);
        char what[64];
        snprintf(what, sizeof what, "HTTP %ld, Retry-After %lld s", status, (long long)ra);
        xfer_throttled(net, x, what, ra > 0 ? (unsigned)ra * 1000u : 1000u * (unsigned)x->attempts);
        return;
    }
    /* A 500 carrying ErrorServerBusy is throttling whatever the request
     * (Autodiscover's POX answers so under a storm too): the throttling
     * budget, not the broken-server tries below. */
    if (x->buf && (status == 500 || (status == 200 && x->req->soap)) && transient_code(net, x, status))
        return;
    if (status == 500 && x->req->retry_server_error && x->attempts < SERVER_ERROR_TRIES) {
        xfer_throttled(net, x, "HTTP 500", 500u * (unsigned)x->attempts);
        return;
    }
    if (status == 401 && x->req->auth && refused_logon(net, x))
        return;
    mapi_http_resp *rs = x->resp;
    rs->status = status;
    rs->body = x->buf ? x->buf : sr_strdup("");
    rs->len = x->len;
    x->buf = NULL;
    x->cap = x->len = 0;
    char *loc = NULL;
    if (status >= 300 && status < 400 &&
        curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
        rs->location = sr_strdup(loc);
    x->state = X_DONE;
}

void mapi_http_resp_clear(mapi_http_resp *r)
{
    if (!r)
        return;
    free(r->body);
    free(r->location);
    free(r->auth_note);
    memset(r, 0, sizeof *r);
    r->retry_after_s = -1;
}

/* A request that counts against the account (Exchange counts the
 * authenticated ones) first takes a slot of its budget, shared with the
 * run's other processes; 0: none free, it waits.  Never blocks: this
 * process may hold slots whose answers only this loop collects. */
static int take_slot(const mapi_net *net, xfer *x)
{
    if (!x->req->auth || net->o.budget == MAPI_BUDGET_NONE)
        return 1;
    x->slot = mapi_budget_try(net->o.budget);
    return x->slot;
}

static void give_slot(const mapi_net *net, xfer *x)
{
    if (x->slot)
        mapi_budget_release(net->o.budget);
    x->slot = 0;
}

/* How often a request waiting for a budget slot looks again. */
#define BUDGET_POLL_MS 10

static size_t start_ready(mapi_net *net, xfer *xs, size_t n, size_t running, const char *token,
                          size_t *done, int *starved)
{
    long long now = sr_now_ms();
    *starved = 0;
    for (size_t i = 0; i < n && running < net->o.max_parallel && !*starved; i++) {
        xfer *x = &xs[i];
        if (x->state != X_PENDING && (x->state != X_WAITING || x->wait_until > now))
            continue;
        if (!take_slot(net, x)) {
            *starved = 1;
        } else if (xfer_start(net, x, token) == SR_OK) {
            running++;
        } else {
            give_slot(net, x);
            x->state = X_DONE;
            (*done)++;
        }
    }
    return running;
}

static long poll_wait_ms(const xfer *xs, size_t n, size_t running, int starved)
{
    if (starved)
        return BUDGET_POLL_MS;
    if (running)
        return 100;
    long long now = sr_now_ms(), next = now + 1000;
    for (size_t i = 0; i < n; i++)
        if (xs[i].state == X_WAITING && xs[i].wait_until < next)
            next = xs[i].wait_until;
    return next > now ? (long)(next - now) : 0;
}

/* One handle's batch in a run (mapi_http_run_many): the transfers of one
 * side go on that side's multi handle, connections and budget; the lanes
 * of a run advance together in one loop, so the sides' requests are on the
 * wire at the same time (issue 13: one dependent step for both). */
typedef struct lane {
    mapi_net *net;
    xfer *xs;
    size_t n, done, running;
    const char *token;
    int starved;
    long long hard;             /* no answer after this: the rest time out */
    sr_code rc;                 /* the batch's outcome (lane_open, lane_close) */
} lane;

static void lane_begin(lane *l)
{
    l->done = l->running = 0;
    l->starved = 0;
    for (size_t i = 0; i < l->n; i++)   /* a second pass leaves finished ones alone */
        l->done += l->xs[i].state == X_DONE;
    const mapi_netopts *o = &l->net->o;
    l->hard = sr_now_ms() + (o->timeout_ms + 1000) * (long long)(o->max_retries + 1) +
              o->max_backoff_ms;
}

static int lane_active(const lane *l)
{
    return l->xs && l->done < l->n && sr_now_ms() < l->hard;
}

/* Start what may start, let libcurl work, take the finished transfers. */
static void lane_step(lane *l)
{
    mapi_net *net = l->net;
    l->running = start_ready(net, l->xs, l->n, l->running, l->token, &l->done, &l->starved);
    int still = 0;
    curl_multi_perform(net->multi, &still);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(net->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode cc = m->data.result;
        curl_multi_remove_handle(net->multi, m->easy_handle);
        l->running--;
        give_slot(net, x);
        xfer_finish(net, x, cc);
        if (x->state == X_DONE)
            l->done++;
    }
}

/* The transfers a lane could not finish in its time. */
static void lane_end(lane *l)
{
    for (size_t i = 0; i < l->n; i++) {
        xfer *x = &l->xs[i];
        if (x->state == X_DONE)
            continue;
        if (x->state == X_RUNNING)
            curl_multi_remove_handle(l->net->multi, x->easy);
        give_slot(l->net, x);
        sr_err_set(x->err, SR_E_TIMEOUT, "%s: %s: no answer within the time limit",
                   x->req->who ? x->req->who : "request", x->req->url);
    }
}

#define LANE_WAITFDS 64

/* Another lane's sockets, for the poll of the first: libcurl 7.88 has no
 * call that waits on two multi handles, so the second one's sockets
 * (curl_multi_fdset) ride along as extra descriptors.  *timeout_ms drops
 * to that lane's own timer; a lane whose sockets are not all known (none
 * yet, or more than fit) is looked at again soon. */
static size_t lane_fds(const lane *l, struct curl_waitfd *w, size_t cap, long *timeout_ms)
{
    fd_set rd, wr, ex;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    int maxfd = -1;
    if (curl_multi_fdset(l->net->multi, &rd, &wr, &ex, &maxfd) != CURLM_OK)
        maxfd = -1;
    long t = -1;
    if (curl_multi_timeout(l->net->multi, &t) == CURLM_OK && t >= 0 && t < *timeout_ms)
        *timeout_ms = t;
    size_t k = 0;
    for (int fd = 0; fd <= maxfd; fd++) {
        short ev = (short)((FD_ISSET(fd, &rd) ? CURL_WAIT_POLLIN : 0) |
                           (FD_ISSET(fd, &wr) ? CURL_WAIT_POLLOUT : 0) |
                           (FD_ISSET(fd, &ex) ? CURL_WAIT_POLLPRI : 0));
        if (!ev)
            continue;
        if (k == cap) {
            k = cap + 1;
            break;
        }
        w[k++] = (struct curl_waitfd){ .fd = fd, .events = ev };
    }
    if ((maxfd < 0 || k > cap) && l->running && *timeout_ms > 10)
        *timeout_ms = 10;
    return k > cap ? cap : k;
}

/* Wait until a lane has something to do: the first active lane's multi
 * handle is polled with the others' sockets. */
static void lanes_wait(lane *ls, size_t nl)
{
    lane *first = NULL;
    long timeout = 1000;
    struct curl_waitfd w[LANE_WAITFDS];
    size_t nw = 0;
    for (size_t i = 0; i < nl; i++) {
        lane *l = &ls[i];
        if (!lane_active(l))
            continue;
        long t = poll_wait_ms(l->xs, l->n, l->running, l->starved);
        if (t < timeout)
            timeout = t;
        if (!first)
            first = l;
        else
            nw += lane_fds(l, w + nw, LANE_WAITFDS - nw, &timeout);
    }
    if (first)
        curl_multi_poll(first->net->multi, nw ? w : NULL, (unsigned)nw, (int)timeout, NULL);
}

static void run_lanes(lane *ls, size_t nl)
{
    for (size_t i = 0; i < nl; i++)
        if (ls[i].xs)
            lane_begin(&ls[i]);
    for (;;) {
        int busy = 0;
        for (size_t i = 0; i < nl; i++) {
            if (!lane_active(&ls[i]))
                continue;
            lane_step(&ls[i]);
            busy |= ls[i].done < ls[i].n;
        }
        if (!busy)
            break;
        lanes_wait(ls, nl);
    }
    for (size_t i = 0; i < nl; i++)
        if (ls[i].xs)
            lane_end(&ls[i]);
}

/* A bearer token can be revoked or expire early: on HTTP 401, fetch a new
 * one once and resend the refused requests (they were not processed). */
static const char *renew_if_refused(mapi_net *net, xfer *xs, size_t n)
{
    size_t refused = 0;
    for (size_t i = 0; i < n; i++)
        refused += xs[i].state == X_DONE && xs[i].resp->status == 401 && xs[i].req->auth;
    if (!refused)
        return NULL;
    mapi_oauth_cache_clear(mapi_net_oauth(net));
    sr_err e;
    sr_err_clear(&e);
    const char *token = mapi_oauth_token(net, &e);
    if (!token)
        return NULL;
    sr_log(SR_LOG_INFO, "oauth2", "bearer token refused (HTTP 401): renewed, resending %zu request(s)",
           refused);
    for (size_t i = 0; i < n; i++) {
        if (xs[i].resp->status != 401 || !xs[i].req->auth)
            continue;
        mapi_http_resp_clear(xs[i].resp);
        sr_err_clear(xs[i].err);
        xs[i].state = X_PENDING;
    }
    lane l = { .net = net, .xs = xs, .n = n, .token = token };
    run_lanes(&l, 1);
    return token;
}

/* Once per handle, before the first authenticated request: Negotiate and
 * Kerberos need Kerberos credentials.  Without them Negotiate falls back to
 * NTLM (when it has an account and password); otherwise the logon cannot
 * work and the error says how to provide a ticket. */
static sr_code resolve_auth(mapi_net *net, sr_err *err)
{
    if (net->auth_resolved ||
        (net->eff_auth != MAPI_AUTH_NEGOTIATE && net->eff_auth != MAPI_AUTH_KERBEROS))
        return SR_OK;
    net->auth_resolved = 1;
    char why[256];
    if (mapi_krb5_has_credentials(why, sizeof why))
        return SR_OK;
    const mapi_netopts *o = &net->o;
    if (net->eff_auth == MAPI_AUTH_NEGOTIATE && o->user && o->password) {
        sr_log(SR_LOG_NOTICE, "logon", "Negotiate: Kerberos has no credentials (%s); using NTLM as %s",
               why, o->user);
        net->eff_auth = MAPI_AUTH_NTLM;
        return SR_OK;
    }
    const char *cc = getenv("KRB5CCNAME"), *kt = getenv("KRB5_CLIENT_KTNAME");
    net->auth_resolved = 0;   /* a ticket may appear (kinit) before the next try */
    return sr_err_set(err, SR_E_AUTH, "%s logon: no Kerberos credentials (%s; KRB5CCNAME=%s, "
                      "KRB5_CLIENT_KTNAME=%s)%s; get a ticket with kinit, or point "
                      "KRB5_CLIENT_KTNAME at the service account's keytab",
                      mapi_auth_name(net->eff_auth), why, cc ? cc : "(default)", kt ? kt : "(unset)",
                      net->eff_auth == MAPI_AUTH_NEGOTIATE ? " and no account/password for NTLM" : "");
}

/* NTLM (and Negotiate falling back to it) authenticates a connection, not a
 * request.  In a batch that opens new connections beside idle authenticated
 * ones, libcurl moves a new connection's handshake (after its 401) onto an
 * authenticated connection the moment that one is freed: the request then
 * starts a round trip after the others of its batch, and the server sees
 * one dependent step more (issue 13; round_trips.sh).  Such a batch starts
 * with no idle connection: each request opens its own and does its
 * handshake there, all at the same time.  A batch the kept connections can
 * carry keeps them.  With a borrowed pool (an engine serving many
 * mailboxes) the idle connections are the pool's: the pool gets a new share
 * (its old connections close), and the connections this batch opens are
 * kept for the next mailbox, whose batches then fit. */
static void fresh_connections(mapi_net *net, const mapi_http_req *reqs, size_t n)
{
    size_t n_auth = 0;
    for (size_t i = 0; i < n; i++)
        n_auth += reqs[i].auth != 0;
    unsigned kept = net->share_borrowed ? net->o.conns->opened : net->conns_kept;
    if (n_auth < 2 || !kept || kept >= n_auth || net->keep_connections ||
        (net->eff_auth != MAPI_AUTH_NTLM && net->eff_auth != MAPI_AUTH_NEGOTIATE))
        return;
    CURLM *m = curl_multi_init();
    CURLSH *s = net->share_borrowed ? conns_share() : NULL;
    if (!m || (net->share_borrowed && !s)) {
        if (m)
            curl_multi_cleanup(m);
        if (s)
            curl_share_cleanup(s);
        return;   /* the batch goes on the old handles: correct, one step more */
    }
    curl_multi_cleanup(net->multi);   /* no transfer is attached between batches */
    net->multi = m;
    if (s) {
        /* one thread, no transfer attached: nothing uses the old share now */
        if (curl_share_cleanup(net->o.conns->share) != CURLSHE_OK)
            sr_log(SR_LOG_WARN, NULL, "connection pool: the old share is still in use; kept");
        net->o.conns->share = s;
        net->o.conns->opened = 0;
    }
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)net->o.max_parallel);
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, MAPI_CONNS_KEEP);
    net->conns_kept = 0;
}

/* Fail every request of a batch with e (before any was sent). */
static sr_code batch_fail(const mapi_http_batch *b, const sr_err *e)
{
    for (size_t j = 0; j < b->n; j++)
        b->errs[j] = *e;
    return e->code;
}

/* A batch's lane: its logon prepared (Kerberos or NTLM chosen, an OAuth2
 * token fetched), its transfers set up.  SR_OK, or the batch's failure
 * (every request carries it; the lane then has no transfers). */
static sr_code lane_open(const mapi_http_batch *b, lane *l)
{
    mapi_net *net = b->net;
    size_t n = b->n;
    *l = (lane){ .net = net, .n = n };
    for (size_t i = 0; i < n; i++) {
        memset(&b->resps[i], 0, sizeof b->resps[i]);
        b->resps[i].retry_after_s = -1;
        sr_err_clear(&b->errs[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (!b->reqs[i].auth)
            continue;
        sr_err e;
        sr_err_clear(&e);
        if (resolve_auth(net, &e) != SR_OK)
            return batch_fail(b, &e);
        break;
    }
    for (size_t i = 0; i < n && net->o.auth == MAPI_AUTH_OAUTH2 && !l->token; i++) {
        if (!b->reqs[i].auth)
            continue;
        sr_err e;
        sr_err_clear(&e);
        if (!(l->token = mapi_oauth_token(net, &e)))
            return batch_fail(b, &e);
    }
    if (!(l->xs = calloc(n ? n : 1, sizeof *l->xs))) {
        sr_err e;
        sr_err_set(&e, SR_E_NOMEM, "out of memory");
        return batch_fail(b, &e);
    }
    fresh_connections(net, b->reqs, n);
    for (size_t i = 0; i < n; i++) {
        l->xs[i] = (xfer){ .req = &b->reqs[i], .resp = &b->resps[i], .err = &b->errs[i],
                           .limit = net->o.max_response_bytes, .state = X_PENDING };
    }
    return SR_OK;
}

/* After the run: a refused token renewed once (its requests again), the
 * transfers freed.  The batch's outcome: the first failure's code. */
static sr_code lane_close(const mapi_http_batch *b, lane *l)
{
    if (l->token)
        l->token = renew_if_refused(b->net, l->xs, l->n);
    sr_code rc = SR_OK;
    for (size_t i = 0; i < b->n; i++) {
        b->resps[i].attempts = l->xs[i].attempts;
        if (l->xs[i].easy)
            curl_easy_cleanup(l->xs[i].easy);
        curl_slist_free_all(l->xs[i].hdrs);
        free(l->xs[i].buf);
        if (rc == SR_OK && b->errs[i].code != SR_OK)
            rc = b->errs[i].code;
    }
    free(l->xs);
    l->xs = NULL;
    return rc;
}

/* Whether two batches share a handle: one multi handle cannot tell whose
 * transfer finished, so such batches run one after the other. */
static int shared_net(const mapi_http_batch *b, size_t nb)
{
    for (size_t k = 1; k < nb; k++)
        for (size_t j = 0; j < k; j++)
            if (b[j].net == b[k].net)
                return 1;
    return 0;
}

sr_code mapi_http_run_many(const mapi_http_batch *b, size_t nb)
{
    sr_code rc = SR_OK;
    if (nb > 1 && shared_net(b, nb)) {
        for (size_t k = 0; k < nb; k++) {
            sr_code one = mapi_http_run_many(&b[k], 1);
            if (rc == SR_OK)
                rc = one;
        }
        return rc;
    }
    lane one, *ls = nb > 1 ? calloc(nb, sizeof *ls) : &one;
    if (!ls) {
        sr_err e;
        sr_err_set(&e, SR_E_NOMEM, "out of memory");
        for (size_t k = 0; k < nb; k++)
            batch_fail(&b[k], &e);
        return SR_E_NOMEM;
    }
    for (size_t k = 0; k < nb; k++)
        ls[k].rc = lane_open(&b[k], &ls[k]);
    run_lanes(ls, nb);
    for (size_t k = 0; k < nb; k++) {
        if (ls[k].xs)
            ls[k].rc = lane_close(&b[k], &ls[k]);
        if (rc == SR_OK)
            rc = ls[k].rc;
    }
    if (ls != &one)
        free(ls);
    return rc;
}

sr_code mapi_http_run(mapi_net *net, const mapi_http_req *reqs, mapi_http_resp *resps,
                      sr_err *errs, size_t n)
{
    mapi_http_batch b = { .net = net, .reqs = reqs, .resps = resps, .errs = errs, .n = n };
    return mapi_http_run_many(&b, 1);
}
