/* autodiscover.c — POX Autodiscover client (autodiscover-for-exchange,
 * pox-autodiscover-*): candidate URLs in Outlook's order, redirectAddr /
 * redirectUrl / HTTP 302 with a hop limit, local XML files
 * (UseLocalAutodiscoverXMLs), a per-domain cache of the URL that answered and
 * a per-address cache of results.  Log lines carry what the spec's
 * "Dealing with Autodiscover service issues" table needs: the address, the
 * URL, the transport error or HTTP status, and what it means. */
#include "mapi/ews_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define AD_MAX_HOPS 10      /* "stop redirecting after 10 redirects" */
#define AD_MAX_BYTES (1u << 20)

typedef struct ad_kv { char *key, *val; } ad_kv;

struct mapi_ad {
    mapi_net *net;
    char *side, *configured_url, *local_xml_dir;
    char **scp_urls, **url_domains;
    int exclude_scp, no_domain_candidates, use_local_xml, skip_checking;
    mapi_ad_rewrite_fn rewrite;
    void *rewrite_ctx;
    ad_kv *domain_url;          /* domain → Autodiscover URL that answered */
    size_t n_domain_url;
    mapi_ad_result **results;   /* per address (lower case) */
    size_t n_results;
    unsigned requests;
};

static char **copy_list(const char *const *in)
{
    size_t n = 0;
    while (in && in[n])
        n++;
    char **out = calloc(n + 1, sizeof *out);
    for (size_t i = 0; out && i < n; i++)
        out[i] = sr_strdup(in[i]);
    return out;
}

mapi_ad *mapi_ad_new(mapi_net *net, const mapi_ad_opts *o, sr_err *err)
{
    static const mapi_ad_opts none = { 0 };
    if (!o)
        o = &none;
    mapi_ad *ad = calloc(1, sizeof *ad);
    if (!ad || !net) {
        free(ad);
        sr_err_set(err, ad ? SR_E_INVALID : SR_E_NOMEM, "Autodiscover: %s",
                   ad ? "no network handle" : "out of memory");
        return NULL;
    }
    ad->net = net;
    ad->side = sr_strdup(o->side ? o->side : "source");
    ad->configured_url = o->configured_url && *o->configured_url ? sr_strdup(o->configured_url) : NULL;
    ad->local_xml_dir = o->local_xml_dir ? sr_strdup(o->local_xml_dir) : NULL;
    ad->scp_urls = copy_list(o->scp_urls);
    ad->url_domains = o->url_domains ? copy_list(o->url_domains) : NULL;
    ad->exclude_scp = o->exclude_scp;
    ad->no_domain_candidates = o->no_domain_candidates;
    ad->use_local_xml = o->use_local_xml;
    ad->skip_checking = o->skip_checking;
    ad->rewrite = o->rewrite;
    ad->rewrite_ctx = o->rewrite_ctx;
    if (ad->use_local_xml && !ad->local_xml_dir) {
        mapi_ad_free(ad);
        sr_err_set(err, SR_E_CONFIG, "UseLocalAutodiscoverXMLs=1 needs a directory of <address>.xml files");
        return NULL;
    }
    return ad;
}

void mapi_ad_free(mapi_ad *ad)
{
    if (!ad)
        return;
    free(ad->side); free(ad->configured_url); free(ad->local_xml_dir);
    sr_strv_free(ad->scp_urls);
    sr_strv_free(ad->url_domains);
    for (size_t i = 0; i < ad->n_domain_url; i++) {
        free(ad->domain_url[i].key);
        free(ad->domain_url[i].val);
    }
    free(ad->domain_url);
    for (size_t i = 0; i < ad->n_results; i++)
        mapi_ad_result_free(ad->results[i]);
    free(ad->results);
    free(ad);
}

unsigned mapi_ad_requests(const mapi_ad *ad) { return ad ? ad->requests : 0; }
const char *mapi_ad_side(const mapi_ad *ad) { return ad ? ad->side : "source"; }

static char *lower_dup(const char *s)
{
    char *d = sr_strdup(s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static const char *domain_of(const char *address)
{
    const char *at = strrchr(address, '@');
    return at ? at + 1 : address;
}

/* A search's log line: at DEBUG when its caller asked for quiet (an
 * expected failure it reports once itself, mapi_ad_ask.quiet). */
static void ad_log(int quiet, sr_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void ad_log(int quiet, sr_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sr_vlog(quiet ? SR_LOG_DEBUG : level, who, fmt, ap);
    va_end(ap);
}

/* ---- URL host checks ------------------------------------------------------ */
static int url_host(const char *url, char *host, size_t cap)
{
    const char *p = strstr(url, "://");
    if (!p)
        return -1;
    p += 3;
    const char *at = NULL;
    size_t n = strcspn(p, "/?#");
    for (const char *q = p; q < p + n; q++)
        if (*q == '@')
            at = q;
    if (at) {   /* user info in a URL: never ours, and never followed */
        n -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    size_t hl = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ":/?#");
    if (hl > n)
        hl = n;
    if (hl == 0 || hl >= cap)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    return 0;
}

int mapi_ad_url_on_domains(const char *url, const char *const *domains)
{
    char host[256];
    if (!url || url_host(url, host, sizeof host) != 0)
        return 0;
    size_t hl = strlen(host);
    for (const char *const *d = domains; d && *d; d++) {
        size_t dl = strlen(*d);
        if (dl == 0 || dl > hl)
            continue;
        if (strcasecmp(host + hl - dl, *d) == 0 && (hl == dl || host[hl - dl - 1] == '.'))
            return 1;
    }
    return 0;
}

static int is_https(const char *url)
{
    return url && strncasecmp(url, "https://", 8) == 0;
}

sr_code mapi_ad_check_legacy_dn(const mapi_ad_result *r, const char *side, const char *profile_dn,
                                sr_err *err)
{
    if (!r || !profile_dn || !*profile_dn || !r->legacy_dn || sr_streq_ci(r->legacy_dn, profile_dn))
        return SR_OK;
    sr_log(SR_LOG_WARN, r->address,
           "User LegacyExchangeDN properties are different: from the %s Autodiscover response: '%s', "
           "from the profile: '%s' (the Autodiscover URL %s may point to the wrong Exchange organisation)",
           side ? side : "source", r->legacy_dn, profile_dn, r->ad_url ? r->ad_url : "?");
    return sr_err_set(err, SR_E_AMBIGUOUS,
                      "%s: LegacyExchangeDN from the %s Autodiscover response '%s' differs from the profile's '%s'",
                      r->address, side ? side : "source", r->legacy_dn, profile_dn);
}

/* ---- caches ------------------------------------------------------------- */
static const char *cached_url(const mapi_ad *ad, const char *domain)
{
    for (size_t i = 0; i < ad->n_domain_url; i++)
        if (strcasecmp(ad->domain_url[i].key, domain) == 0)
            return ad->domain_url[i].val;
    return NULL;
}

static void remember_url(mapi_ad *ad, const char *domain, const char *url)
{
    for (size_t i = 0; i < ad->n_domain_url; i++)
        if (strcasecmp(ad->domain_url[i].key, domain) == 0) {
            char *v = sr_strdup(url);
            if (v) {
                free(ad->domain_url[i].val);
                ad->domain_url[i].val = v;
            }
            return;
        }
    ad_kv *n = realloc(ad->domain_url, (ad->n_domain_url + 1) * sizeof *n);
    if (!n)
        return;
    ad->domain_url = n;
    n[ad->n_domain_url].key = lower_dup(domain);
    n[ad->n_domain_url].val = sr_strdup(url);
    if (n[ad->n_domain_url].key && n[ad->n_domain_url].val)
        ad->n_domain_url++;
}

static const mapi_ad_result *cached_result(const mapi_ad *ad, const char *address)
{
    for (size_t i = 0; i < ad->n_results; i++)
        if (sr_streq_ci(ad->results[i]->address, address))
            return ad->results[i];
    return NULL;
}

static const mapi_ad_result *keep_result(mapi_ad *ad, mapi_ad_result *r)
{
    if (ad->n_results >= MAPI_AD_CACHE_MAX) {   /* bounded: drop the oldest */
        mapi_ad_result_free(ad->results[0]);
        memmove(ad->results, ad->results + 1, (ad->n_results - 1) * sizeof *ad->results);
        ad->n_results--;
    }
    mapi_ad_result **n = realloc(ad->results, (ad->n_results + 1) * sizeof *n);
    if (!n) {
        mapi_ad_result_free(r);
        return NULL;
    }
    ad->results = n;
    n[ad->n_results++] = r;
    return r;
}

/* ---- candidates ----------------------------------------------------------
 * Outlook's order (autodiscover-for-exchange): the configured URL, SCP URLs
 * from AD, https://domain/..., https://autodiscover.domain/..., then an
 * unauthenticated GET to http://autodiscover.domain/... whose redirect is
 * followed when it is https.  A URL that answered for the domain before
 * goes first. */
typedef struct cand { char *url; int get_probe; } cand;

static void cand_add(cand *c, size_t *n, size_t cap, char *url, int probe)
{
    if (!url)
        return;
    for (size_t i = 0; i < *n; i++)
        if (c[i].get_probe == probe && strcasecmp(c[i].url, url) == 0) {
            free(url);
            return;
        }
    if (*n >= cap) {
        free(url);
        return;
    }
    c[*n].url = url;
    c[*n].get_probe = probe;
    (*n)++;
}

static size_t build_candidates(const mapi_ad *ad, const char *domain, cand *c, size_t cap)
{
    size_t n = 0;
    const char *hit = cached_url(ad, domain);
    if (hit)
        cand_add(c, &n, cap, sr_strdup(hit), 0);
    if (ad->configured_url)
        cand_add(c, &n, cap, sr_strdup(ad->configured_url), 0);
    for (size_t i = 0; !ad->exclude_scp && ad->scp_urls && ad->scp_urls[i]; i++)
        cand_add(c, &n, cap, sr_strdup(ad->scp_urls[i]), 0);
    if (!ad->no_domain_candidates) {
        cand_add(c, &n, cap, sr_asprintf("https://%s/autodiscover/autodiscover.xml", domain), 0);
        cand_add(c, &n, cap, sr_asprintf("https://autodiscover.%s/autodiscover/autodiscover.xml", domain), 0);
        cand_add(c, &n, cap, sr_asprintf("http://autodiscover.%s/autodiscover/autodiscover.xml", domain), 1);
    }
    return n;
}

/* ---- one attempt ---------------------------------------------------------- */
typedef enum { TRY_FAILED, TRY_SETTINGS, TRY_REDIR_ADDR, TRY_REDIR_URL } try_result;

typedef struct attempt {
    mapi_ad_result *res;
    char *next;                 /* redirect address or URL */
    sr_err err;                 /* why it failed */
} attempt;

static void trace_failure(const mapi_ad *ad, int quiet, const char *address, const char *url,
                          const sr_err *e)
{
    ad_log(quiet, SR_LOG_WARN, address,
           "Failed to get Autodiscover response for email '%s' on %s. Autodiscover URL: '%s'. %s",
           address, ad->side, url, e->msg);
}

/* One candidate's request, built (try_prepare) apart from sending it, so
 * that several searches' requests can go in one mapi_http_run batch. */
typedef struct tryreq {
    char *wire, *body;
    mapi_http_req rq;
} tryreq;

static int try_prepare(mapi_ad *ad, const char *address, const char *url, int get_probe,
                       tryreq *t, attempt *a)
{
    t->wire = ad->rewrite ? ad->rewrite(ad->rewrite_ctx, url) : NULL;
    t->body = get_probe ? NULL : mapi_ad_build_pox(address, &a->err);
    if (!get_probe && !t->body) {
        free(t->wire);
        t->wire = NULL;
        return 0;
    }
    t->rq = (mapi_http_req){ .url = t->wire ? t->wire : url, .who = address,
                             .method = get_probe ? "GET" : "POST",
                             .content_type = "text/xml; charset=utf-8", .body = t->body,
                             .body_len = t->body ? strlen(t->body) : 0, .auth = !get_probe,
                             .idempotent = 1, .plain_http_ok = get_probe,
                             /* CAS under load answers 500/503: a short bounded back-off */
                             .retry_server_error = !get_probe };
    ad->requests++;
    return 1;
}

/* What the answer (or the transport failure he) to a prepared request means. */
static try_result try_finish(mapi_ad *ad, int quiet, const char *address, const char *url,
                             int get_probe, tryreq *t, mapi_http_resp *rs, const sr_err *he,
                             attempt *a)
{
    try_result out = TRY_FAILED;
    if (he->code != SR_OK) {
        a->err = *he;
    } else if (rs->status >= 300 && rs->status < 400) {
        if (!rs->location) {
            sr_err_set(&a->err, SR_E_PROTOCOL, "HTTP %ld redirect without a Location", rs->status);
        } else if (!is_https(rs->location)) {
            sr_err_set(&a->err, SR_E_PROTOCOL,
                       "HTTP %ld redirect to '%s' refused: an Autodiscover redirect must be https",
                       rs->status, rs->location);
        } else {
            a->next = sr_strdup(rs->location);
            out = TRY_REDIR_URL;
        }
    } else if (get_probe) {
        sr_err_set(&a->err, SR_E_NOTFOUND, "HTTP %ld: no redirect to an Autodiscover service", rs->status);
    } else if (rs->status != 200) {
        sr_code c;
        const char *w = mapi_http_words(rs->status, &c);
        sr_err_set(&a->err, c, "HTTP status code %ld received: %s%s%s", rs->status, w,
                   rs->auth_note ? ": " : "", rs->auth_note ? rs->auth_note : "");
    } else {
        char *raddr = NULL, *rurl = NULL;
        if (mapi_ad_parse_pox(rs->body, rs->len, "Autodiscover response", &a->res, &raddr, &rurl,
                              &a->err) == SR_OK) {
            out = a->res ? TRY_SETTINGS : raddr ? TRY_REDIR_ADDR : TRY_REDIR_URL;
            a->next = raddr ? raddr : rurl;
        }
    }
    mapi_http_resp_clear(rs);
    free(t->body);
    free(t->wire);
    t->body = t->wire = NULL;
    if (out == TRY_FAILED)
        trace_failure(ad, quiet, address, url, &a->err);
    return out;
}

/* ---- local XML files (UseLocalAutodiscoverXMLs=1) -------------------------
 * One file per address, "<dir>/<address in lower case>.xml", holding a POX
 * response; redirectAddr moves to the other address's file. */
/* An address used as a file name: no path separators, no dot files, no
 * control characters (a redirectAddr comes from a file's content). */
static int safe_file_name(const char *a)
{
    if (!a[0] || a[0] == '.' || strlen(a) > 200)
        return 0;
    for (const char *p = a; *p; p++)
        if (*p == '/' || *p == '\\' || (unsigned char)*p < 0x20)
            return 0;
    return 1;
}

static sr_code discover_local(mapi_ad *ad, const char *address, const mapi_ad_result **out,
                              sr_err *err)
{
    char *addr = lower_dup(address);
    for (int hop = 0; addr && hop <= AD_MAX_HOPS; hop++) {
        if (!safe_file_name(addr)) {
            sr_err_set(err, SR_E_INVALID, "Autodiscover: '%s' cannot name a local XML file", addr);
            free(addr);
            return SR_E_INVALID;
        }
        char *path = sr_asprintf("%s/%s.xml", ad->local_xml_dir, addr);
        sr_err e;
        sr_err_clear(&e);
        size_t len = 0;
        char *xml = path ? sr_read_file(path, AD_MAX_BYTES, &len, &e) : NULL;
        mapi_ad_result *r = NULL;
        char *raddr = NULL, *rurl = NULL;
        sr_code rc = xml ? mapi_ad_parse_pox(xml, len, path, &r, &raddr, &rurl, &e) : e.code;
        free(xml);
        if (rc == SR_OK && r) {
            r->address = sr_strdup(address);
            r->ad_url = path;
            r->redirects = hop;
            if (!r->smtp)
                r->smtp = sr_strdup(addr);
            free(addr);
            *out = keep_result(ad, r);
            return *out ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        if (rc == SR_OK && raddr && !sr_streq_ci(raddr, addr)) {
            free(addr);
            addr = lower_dup(raddr);
            free(raddr);
            free(path);
            continue;
        }
        if (rc == SR_OK)
            sr_err_set(&e, SR_E_PROTOCOL, "%s: %s is not usable in a local file", path,
                       raddr ? "a redirectAddr to the same address" : "redirectUrl");
        free(raddr);
        free(rurl);
        free(path);
        free(addr);
        sr_log(SR_LOG_WARN, address, "Cannot get an Autodiscover response for the user '%s' from the local files: %s",
               address, e.msg);
        return sr_err_set(err, e.code == SR_E_IO ? SR_E_NOTFOUND : e.code,
                          "Cannot get an Autodiscover response on %s for '%s': %s", ad->side, address, e.msg);
    }
    free(addr);
    return sr_err_set(err, SR_E_PROTOCOL, "Cannot get an Autodiscover response on %s for '%s': more than %d redirects in the local files",
                      ad->side, address, AD_MAX_HOPS);
}

/* ---- the search ----------------------------------------------------------- */
typedef struct search {
    mapi_ad *ad;                /* the handle it asks through */
    int stop_addr, quiet;       /* mapi_ad_ask's stop_at_redirect_addr, quiet */
    char *redirected;           /* stopped at a redirectAddr to this address */
    const char *address;        /* the address asked for */
    char *addr;                 /* current address (after redirectAddr) */
    char *url;                  /* explicit next URL (redirectUrl / 302) */
    char *last_url;
    int hops, stop;
    sr_err last;
    /* the round under way: the candidates for the current address/URL */
    cand c[16];
    size_t nc, ci;
    int in_round, done;
    const mapi_ad_result *out;  /* found (owned by ad's cache) */
    mapi_ad_result *copy;       /* mapi_ad_discover_many: its own copy of out */
    int want_copy;
} search;

static int err_rank(sr_code c)
{
    switch (c) {
    case SR_E_AUTH: case SR_E_TLS: case SR_E_ACCESS: case SR_E_PROTOCOL: case SR_E_LIMIT:
        return 3;
    case SR_E_SERVER: case SR_E_PARSE:
        return 2;
    case SR_E_CONNECT: case SR_E_TIMEOUT: case SR_E_BUSY:
        return 1;
    default:
        return 0;
    }
}

static int url_allowed(mapi_ad *ad, search *s, const char *url)
{
    if (ad->skip_checking || !ad->url_domains || mapi_ad_url_on_domains(url, (const char *const *)ad->url_domains))
        return 1;
    sr_err e;
    sr_err_set(&e, SR_E_CONFIG,
               "the Autodiscover URL '%s' is not on a %s domain (-SkipAutodiscoverChecking allows it)",
               url, ad->side);
    ad_log(s->quiet, SR_LOG_WARN, s->addr, "%s", e.msg);
    if (err_rank(SR_E_CONFIG) >= err_rank(s->last.code)) {
        s->last = e;
        free(s->last_url);
        s->last_url = sr_strdup(url);
    }
    return 0;
}

/* Follow one answer; returns 1 when the search moved (redirect), 0 when the
 * next candidate should be tried, -1 when it must stop. */
static int follow(search *s, const char *url, try_result t, attempt *a)
{
    if (t == TRY_FAILED) {
        /* keep the most telling failure: a refused credential says more
         * than the unauthenticated probe that found nothing after it */
        if (err_rank(a->err.code) >= err_rank(s->last.code)) {
            s->last = a->err;
            free(s->last_url);
            s->last_url = sr_strdup(url);
        }
        return 0;
    }
    if (t == TRY_REDIR_ADDR && s->stop_addr) {   /* asked to end here (mapi_ad_ask) */
        sr_err_set(&s->last, SR_E_NOTFOUND, "Autodiscover on %s redirects '%s' to the address '%s' "
                   "(not followed)", s->ad->side, s->addr, a->next);
        free(s->redirected);
        s->redirected = a->next;
        a->next = NULL;
        return -1;
    }
    if (++s->hops > AD_MAX_HOPS) {
        sr_err_set(&s->last, SR_E_PROTOCOL, "more than %d Autodiscover redirects (a redirect loop?)",
                   AD_MAX_HOPS);
        return -1;
    }
    if (t == TRY_REDIR_ADDR) {
        if (sr_streq_ci(a->next, s->addr)) {
            sr_err_set(&s->last, SR_E_PROTOCOL, "redirectAddr points back to the address sent ('%s')",
                       s->addr);
            return -1;
        }
        ad_log(s->quiet, SR_LOG_INFO, s->addr, "Autodiscover redirects to the address '%s'", a->next);
        free(s->addr);
        s->addr = a->next;
        a->next = NULL;
        return 1;
    }
    if (!is_https(a->next)) {
        sr_err_set(&s->last, SR_E_PROTOCOL, "redirect to '%s' refused: Autodiscover redirects must be https",
                   a->next);
        return -1;
    }
    ad_log(s->quiet, SR_LOG_INFO, s->addr, "Autodiscover redirects to the URL '%s'", a->next);
    free(s->url);
    s->url = a->next;
    a->next = NULL;
    return 1;
}

static const mapi_ad_result *found(mapi_ad *ad, search *s, const char *address, const char *url,
                                   int probe, mapi_ad_result *r)
{
    r->address = sr_strdup(address);
    r->ad_url = sr_strdup(url);
    r->redirects = s->hops;
    if (!r->smtp)
        r->smtp = sr_strdup(s->addr);
    if (!probe)
        remember_url(ad, domain_of(s->addr), url);
    ad_log(s->quiet, SR_LOG_INFO, address, "Autodiscover (%s) answered at '%s': EWS URL '%s'", ad->side,
           url, r->ews_url);
    return keep_result(ad, r);
}

/* The searches advance one request at a time, each in Outlook's order: a
 * round goes over the candidates for the current address (or the one URL a
 * redirect named) until one answers, redirects (a new round) or stops; a
 * round that ends without either ends the search.  Several searches advance
 * together (mapi_ad_discover_many), each step's requests in one batch. */
static void round_end(search *s)
{
    for (size_t i = 0; i < s->nc; i++)
        free(s->c[i].url);
    s->nc = s->ci = 0;
    s->in_round = 0;
}

/* The candidate s sends next, or NULL when the search has ended. */
static const cand *search_next(search *s)
{
    mapi_ad *ad = s->ad;
    if (s->done || s->out || s->stop || !s->addr) {
        s->done = 1;
        return NULL;
    }
    if (!s->in_round) {
        if (s->url) {
            s->c[0].url = s->url;
            s->c[0].get_probe = 0;
            s->url = NULL;
            s->nc = 1;
        } else {
            s->nc = build_candidates(ad, domain_of(s->addr), s->c, 16);
        }
        s->ci = 0;
        s->in_round = 1;
    }
    while (s->ci < s->nc && !url_allowed(ad, s, s->c[s->ci].url))
        s->ci++;
    if (s->ci < s->nc)
        return &s->c[s->ci];
    round_end(s);   /* no candidate moved the search: it ends */
    s->done = 1;
    return NULL;
}

/* What the answer to s's current candidate means for s. */
static void search_took(search *s, try_result t, attempt *a)
{
    mapi_ad *ad = s->ad;
    const cand *c = &s->c[s->ci];
    if (t == TRY_SETTINGS) {
        if (!(s->out = found(ad, s, s->address, c->url, c->get_probe, a->res))) {
            sr_err_set(&s->last, SR_E_NOMEM, "out of memory");
            s->ci++;
        } else {
            if (s->want_copy)   /* before a later answer can push it out of the cache */
                s->copy = mapi_ad_result_dup(s->out);
            round_end(s);
            s->done = 1;
        }
    } else {
        int f = follow(s, c->url, t, a);
        if (f < 0) {
            s->stop = 1;
            free(s->last_url);
            s->last_url = sr_strdup(c->url);
        }
        if (f != 0)
            round_end(s);
        else
            s->ci++;
    }
    free(a->next);
    a->next = NULL;
}

/* Bound on the steps of a search: a round per hop (at most AD_MAX_HOPS + 1),
 * each at most 16 candidates, one request a step. */
#define AD_MAX_STEPS ((AD_MAX_HOPS + 2) * 16)

/* Advance searches ss[0..n) together until each has ended: every step sends
 * one request per search still going, the step's requests of every handle
 * in one mapi_http_run_many call (one batch per mapi_net, so that the
 * source's and the target's requests are on the wire at the same time). */
static void search_run(search *ss, size_t n)
{
    tryreq *t = calloc(n, sizeof *t);
    mapi_http_req *rq = calloc(n, sizeof *rq);
    mapi_http_resp *rs = calloc(n, sizeof *rs);
    sr_err *he = calloc(n, sizeof *he);
    attempt *a = calloc(n, sizeof *a);
    size_t *idx = calloc(n, sizeof *idx), *grp = calloc(n, sizeof *grp);
    mapi_http_batch *hb = calloc(n, sizeof *hb);
    if (!t || !rq || !rs || !he || !a || !idx || !grp || !hb) {
        for (size_t i = 0; i < n; i++)
            sr_err_set(&ss[i].last, SR_E_NOMEM, "out of memory");
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {   /* the searches' handles: one batch each */
        grp[i] = i;
        for (size_t j = 0; j < i && grp[i] == i; j++)
            if (ss[j].ad->net == ss[i].ad->net)
                grp[i] = grp[j];
    }
    for (unsigned step = 0; n && step < AD_MAX_STEPS; step++) {
        size_t k = 0, nb = 0;
        for (size_t g = 0; g < n; g++) {
            if (grp[g] != g)
                continue;
            size_t first = k;
            for (size_t i = g; i < n; i++) {
                if (grp[i] != g)
                    continue;
                const cand *c = search_next(&ss[i]);
                if (!c)
                    continue;
                memset(&a[k], 0, sizeof a[k]);
                if (!try_prepare(ss[i].ad, ss[i].addr, c->url, c->get_probe, &t[k], &a[k])) {
                    search_took(&ss[i], TRY_FAILED, &a[k]);
                    continue;
                }
                rq[k] = t[k].rq;
                idx[k++] = i;
            }
            if (k > first)
                hb[nb++] = (mapi_http_batch){ .net = ss[g].ad->net, .reqs = rq + first,
                                              .resps = rs + first, .errs = he + first,
                                              .n = k - first };
        }
        if (!k) {   /* nothing sent: every search ended (or only failed builds) */
            int going = 0;
            for (size_t i = 0; i < n; i++)
                going |= !ss[i].done;
            if (!going)
                break;
            continue;
        }
        (void)mapi_http_run_many(hb, nb);   /* per request in he[] */
        for (size_t j = 0; j < k; j++) {
            search *s = &ss[idx[j]];
            const cand *c = &s->c[s->ci];
            try_result tr = try_finish(s->ad, s->quiet, s->addr, c->url, c->get_probe, &t[j], &rs[j],
                                       &he[j], &a[j]);
            search_took(s, tr, &a[j]);
        }
    }
    free(t); free(rq); free(rs); free(he); free(a); free(idx); free(grp); free(hb);
}

/* The search's failure, logged and in err, as the spec's table wants it. */
static sr_code search_failed(const search *s, sr_err *err)
{
    const mapi_ad *ad = s->ad;
    const char *address = s->address;
    if (s->redirected) {   /* where the caller asked it to end: not a failure of the service */
        ad_log(s->quiet, SR_LOG_INFO, address, "%s", s->last.msg);
        return sr_err_set(err, SR_E_NOTFOUND, "%s: %s", address, s->last.msg);
    }
    ad_log(s->quiet, SR_LOG_WARN, address,
           "Cannot get an Autodiscover response for the user '%s' from the URL: '%s'.", address,
           s->last_url ? s->last_url : "(none)");
    ad_log(s->quiet, SR_LOG_ERROR, address, "Cannot get an Autodiscover response on %s. %s", ad->side,
           s->last.msg);
    return sr_err_set(err, s->last.code == SR_OK ? SR_E_NOTFOUND : s->last.code,
                      "%s: Cannot get an Autodiscover response on %s (last URL '%s'): %s", address,
                      ad->side, s->last_url ? s->last_url : "(none)", s->last.msg);
}

static void search_init(search *s, mapi_ad *ad, const char *address)
{
    memset(s, 0, sizeof *s);
    s->ad = ad;
    s->address = address;
    s->addr = sr_strdup(address);
    sr_err_set(&s->last, SR_E_CONFIG, "no Autodiscover URL to try");
}

static void search_clear(search *s)
{
    round_end(s);
    free(s->addr);
    free(s->url);
    free(s->last_url);
    free(s->redirected);
    mapi_ad_result_free(s->copy);
    s->addr = s->url = s->last_url = s->redirected = NULL;
    s->copy = NULL;
}

/* ---- hand-over between processes (issue 13: Autodiscover once) ---------- */
#define LINE_FIELDS 9

/* The line's string fields, in order, after the redirect count. */
static void line_fields(mapi_ad_result *r, char **f[LINE_FIELDS])
{
    char **v[LINE_FIELDS] = { &r->address, &r->smtp, &r->display_name, &r->legacy_dn,
                              &r->deployment_id, &r->ews_url, &r->ews_url_external, &r->server,
                              &r->ad_url };
    memcpy(f, v, sizeof v);
}

char *mapi_ad_cached_line(const mapi_ad *ad, const char *address)
{
    return mapi_ad_result_line(ad && address ? cached_result(ad, address) : NULL);
}

char *mapi_ad_result_line(const mapi_ad_result *r)
{
    if (!r || !r->address || !r->ews_url)
        return NULL;
    mapi_ad_result c = *r;
    char **f[LINE_FIELDS];
    line_fields(&c, f);
    size_t len = 16;
    for (int i = 0; i < LINE_FIELDS; i++) {
        const char *v = *f[i] ? *f[i] : "";
        if (strpbrk(v, "\t\r\n"))   /* a line of tab-separated fields: no room for these */
            return NULL;
        len += strlen(v) + 1;
    }
    char *out = malloc(len);
    if (!out)
        return NULL;
    size_t n = (size_t)snprintf(out, len, "%d", r->redirects);
    for (int i = 0; i < LINE_FIELDS; i++)
        n += (size_t)snprintf(out + n, len - n, "\t%s", *f[i] ? *f[i] : "");
    return out;
}

sr_code mapi_ad_seed(mapi_ad *ad, const char *line, sr_err *err)
{
    mapi_ad_result *r = line ? calloc(1, sizeof *r) : NULL;
    if (!r)
        return sr_err_set(err, line ? SR_E_NOMEM : SR_E_INVALID, "no hand-over line");
    char **f[LINE_FIELDS];
    line_fields(r, f);
    const char *p = line;   /* "N\tf1\t...\tf9"; a field may be empty */
    char *end;
    long red = strtol(p, &end, 10);
    int i = 0, ok = end != p && *end == '\t' && red >= 0 && red <= 10;
    for (p = end; ok && *p == '\t' && i < LINE_FIELDS; i++) {
        p++;
        size_t n = strcspn(p, "\t");
        if (n && !(*f[i] = strndup(p, n)))
            ok = 0;
        p += n;
    }
    ok = ok && i == LINE_FIELDS && !*p && r->address && strchr(r->address, '@') && r->ews_url;
    if (!ok) {
        mapi_ad_result_free(r);
        return sr_err_set(err, SR_E_PARSE, "not an Autodiscover hand-over line");
    }
    r->redirects = (int)red;
    if (!keep_result(ad, r))
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_log(SR_LOG_INFO, r->address, "Autodiscover (%s): the answer switchresmb got: EWS URL '%s'",
           ad->side, r->ews_url);
    return SR_OK;
}

sr_code mapi_ad_discover(mapi_ad *ad, const char *address, const mapi_ad_result **out, sr_err *err)
{
    *out = NULL;
    if (!ad || !address || !strchr(address, '@'))
        return sr_err_set(err, SR_E_INVALID, "Autodiscover: '%s' is not an SMTP address",
                          address ? address : "(null)");
    if ((*out = cached_result(ad, address)))
        return SR_OK;
    if (ad->use_local_xml)
        return discover_local(ad, address, out, err);
    search s;
    search_init(&s, ad, address);
    search_run(&s, 1);
    sr_code rc = SR_OK;
    if (!(*out = s.out))
        rc = search_failed(&s, err);
    search_clear(&s);
    return rc;
}

size_t mapi_ad_discover_many(mapi_ad *ad, const char *const *addrs, size_t n, mapi_ad_result **outs,
                             sr_err *errs)
{
    mapi_ad_ask one = { .ad = ad, .addrs = addrs, .n = n, .outs = outs, .errs = errs };
    return mapi_ad_discover_sides(&one, 1);
}

/* What needs no request (a bad address, the cache, local files), answered
 * now; the rest of ask's addresses become searches ss[*k...), run[i] set. */
static void sides_begin(mapi_ad_ask *q, size_t *same, unsigned char *run, search *ss, size_t *k)
{
    for (size_t i = 0; i < q->n; i++) {
        q->outs[i] = NULL;
        sr_err_clear(&q->errs[i]);
        if (q->redirected)
            q->redirected[i] = NULL;
    }
    for (size_t i = 0; i < q->n; i++) {
        const char *const *addrs = q->addrs;
        same[i] = i;
        for (size_t j = 0; j < i && same[i] == i; j++)
            if (addrs[i] && addrs[j] && sr_streq_ci(addrs[i], addrs[j]))
                same[i] = j;
        if (same[i] != i)
            continue;
        const mapi_ad_result *r = NULL;
        mapi_ad *ad = q->ad;
        if (!ad || !addrs[i] || !strchr(addrs[i], '@') || cached_result(ad, addrs[i]) || ad->use_local_xml) {
            if (mapi_ad_discover(ad, addrs[i], &r, &q->errs[i]) == SR_OK &&
                !(q->outs[i] = mapi_ad_result_dup(r)))
                sr_err_set(&q->errs[i], SR_E_NOMEM, "out of memory");
            continue;
        }
        run[i] = 1;
        search_init(&ss[*k], ad, addrs[i]);
        ss[*k].want_copy = 1;
        ss[*k].stop_addr = q->stop_at_redirect_addr;
        ss[(*k)++].quiet = q->quiet;
    }
}

/* The ask's answers from its searches ss[*k...) (cleared), then its
 * repeated addresses; returns how many were found. */
static size_t sides_end(mapi_ad_ask *q, const size_t *same, const unsigned char *run, search *ss,
                        size_t *k)
{
    size_t nfound = 0;
    for (size_t i = 0; i < q->n; i++) {
        if (!run[i])
            continue;
        search *s = &ss[(*k)++];
        if (s->copy) {
            q->outs[i] = s->copy;
            s->copy = NULL;
        } else if (s->out) {
            sr_err_set(&q->errs[i], SR_E_NOMEM, "out of memory");
        } else {
            search_failed(s, &q->errs[i]);
            if (q->redirected && s->redirected) {
                q->redirected[i] = s->redirected;
                s->redirected = NULL;
            }
        }
        search_clear(s);
    }
    for (size_t i = 0; i < q->n; i++) {
        if (same[i] != i) {
            q->errs[i] = q->errs[same[i]];
            if (q->outs[same[i]] && !(q->outs[i] = mapi_ad_result_dup(q->outs[same[i]])))
                sr_err_set(&q->errs[i], SR_E_NOMEM, "out of memory");
            if (q->redirected && q->redirected[same[i]])
                q->redirected[i] = sr_strdup(q->redirected[same[i]]);
        }
        nfound += q->outs[i] != NULL;
    }
    return nfound;
}

size_t mapi_ad_discover_sides(mapi_ad_ask *asks, size_t nasks)
{
    size_t total = 0, nfound = 0;
    for (size_t a = 0; a < nasks; a++)
        total += asks[a].n;
    search *ss = total ? calloc(total, sizeof *ss) : NULL;
    size_t *same = total ? calloc(total, sizeof *same) : NULL;   /* first index of the same address */
    unsigned char *run = total ? calloc(total, 1) : NULL;
    if (total && (!ss || !same || !run)) {
        for (size_t a = 0; a < nasks; a++)
            for (size_t i = 0; i < asks[a].n; i++) {
                asks[a].outs[i] = NULL;
                if (asks[a].redirected)
                    asks[a].redirected[i] = NULL;
                sr_err_set(&asks[a].errs[i], SR_E_NOMEM, "out of memory");
            }
        free(ss); free(same); free(run);
        return 0;
    }
    size_t k = 0;
    for (size_t a = 0, off = 0; a < nasks; off += asks[a++].n)
        sides_begin(&asks[a], same + off, run + off, ss, &k);
    search_run(ss, k);
    k = 0;
    for (size_t a = 0, off = 0; a < nasks; off += asks[a++].n)
        nfound += sides_end(&asks[a], same + off, run + off, ss, &k);
    free(ss); free(same); free(run);
    return nfound;
}
