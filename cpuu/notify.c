/* notify.c — administrator notifications over SMTP (spec "Notification
 * Format"; our relay keys in docs/cpuu.md).  One RFC 5322 message per send,
 * MIME multipart when something is attached, handed to libcurl's SMTP client. */
#include "cpuu/notify.h"

#include <curl/curl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpuu/engine.h"

#define NOTIFY_LOG_MAX (8u << 20)     /* attach at most this much of the log */
#define NOTIFY_MAX_PROFILES 4096

typedef struct result {
    char *profile;
    int rc, updated;
} result;

struct cpuu_notify {
    const cfg_cpuu *cfg;
    char *log_path;
    char host[256], user[128];
    char *from;
    unsigned counts[CPUU_RC__MAX];
    result *res;                      /* every reported profile, in order */
    size_t n_res;
    unsigned n_sent;
};

/* ---- a growable text buffer ------------------------------------------------ */
typedef struct buf {
    char *p;
    size_t n, cap;
    int oom;
} buf;

static void buf_add(buf *b, const char *s, size_t len)
{
    if (b->oom)
        return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = '\0';
}

static void buf_puts(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int k = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (k < 0) {
        b->oom = 1;
        return;
    }
    buf_add(b, s, (size_t)k);
    free(s);
}

/* base64 of data, lines of 76 characters ending in CRLF when wrap. */
static void buf_base64(buf *b, const unsigned char *d, size_t len, int wrap)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t col = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        char q[4] = { tbl[v >> 18 & 63], tbl[v >> 12 & 63], i + 1 < len ? tbl[v >> 6 & 63] : '=',
                      i + 2 < len ? tbl[v & 63] : '=' };
        buf_add(b, q, 4);
        if (wrap && (col += 4) >= 76) {
            buf_puts(b, "\r\n");
            col = 0;
        }
    }
    if (wrap && col)
        buf_puts(b, "\r\n");
}

/* ---- the message -------------------------------------------------------------- */
static int is_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s >= 0x80)
            return 0;
    return 1;
}

static int has_ctl(const char *s)
{
    for (; s && *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* RFC 2047 B-encoded words of at most 39 input bytes each, never splitting
 * a UTF-8 sequence, folded onto continuation lines. */
static void header_encoded(buf *b, const char *name, const char *v)
{
    buf_printf(b, "%s: ", name);
    if (is_ascii(v)) {
        buf_printf(b, "%s\r\n", v);
        return;
    }
    size_t len = strlen(v), i = 0;
    while (i < len) {
        size_t k = len - i > 39 ? 39 : len - i;
        while (k > 1 && i + k < len && ((unsigned char)v[i + k] & 0xC0) == 0x80)
            k--;
        buf_puts(b, i ? "\r\n =?UTF-8?B?" : "=?UTF-8?B?");
        buf_base64(b, (const unsigned char *)v + i, k, 0);
        buf_puts(b, "?=");
        i += k;
    }
    buf_puts(b, "\r\n");
}

/* Body text: 7bit when plain ASCII with short lines, else base64. */
static void text_part(buf *b, const char *text)
{
    int plain = is_ascii(text);
    size_t run = 0;
    for (const char *p = text; plain && *p; p++)
        run = *p == '\n' ? 0 : run + 1, plain = run < 900;
    buf_puts(b, "Content-Type: text/plain; charset=UTF-8\r\n");
    if (!plain) {
        buf_puts(b, "Content-Transfer-Encoding: base64\r\n\r\n");
        buf_base64(b, (const unsigned char *)text, strlen(text), 1);
        return;
    }
    buf_puts(b, "Content-Transfer-Encoding: 7bit\r\n\r\n");
    for (const char *p = text; *p; p++) {        /* bare LF → CRLF */
        if (*p == '\n' && (p == text || p[-1] != '\r'))
            buf_puts(b, "\r");
        buf_add(b, p, 1);
    }
    buf_puts(b, "\r\n");
}

static void header_common(buf *b, const struct cpuu_notify *n, const char *subject)
{
    static const char *const xprio[] = { "5 (Lowest)", "3 (Normal)", "1 (Highest)" };
    static const char *const importance[] = { "low", "normal", "high" };
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", localtime_r(&now, &tm));
    buf_printf(b, "Date: %s\r\nFrom: %s\r\nTo: ", date, n->from);
    for (size_t i = 0; n->cfg->notify.smtp_addresses[i]; i++)
        buf_printf(b, "%s%s", i ? ", " : "", n->cfg->notify.smtp_addresses[i]);
    buf_puts(b, "\r\n");
    header_encoded(b, "Subject", subject);
    buf_printf(b, "Message-ID: <cpuu.%lld.%ld.%u@%s>\r\n", (long long)now, (long)getpid(), n->n_sent,
               n->host);
    int pr = (int)n->cfg->notify.priority;
    buf_printf(b, "X-Priority: %s\r\nImportance: %s\r\nX-Mailer: cpuu\r\nMIME-Version: 1.0\r\n",
               xprio[pr], importance[pr]);
}

static char *build_message(const struct cpuu_notify *n, const char *subject, const char *body,
                           const char *att_name, const char *att, size_t att_len)
{
    buf b = { 0 };
    header_common(&b, n, subject);
    if (!att) {
        text_part(&b, body);
    } else {
        char boundary[80];
        snprintf(boundary, sizeof boundary, "=_cpuu_%ld_%u_%lld", (long)getpid(), n->n_sent,
                 (long long)time(NULL));
        buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n"
                   "This is a MIME message.\r\n--%s\r\n", boundary, boundary);
        text_part(&b, body);
        buf_printf(&b, "--%s\r\nContent-Type: text/plain; charset=UTF-8; name=\"%s\"\r\n"
                   "Content-Disposition: attachment; filename=\"%s\"\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n", boundary, att_name, att_name);
        buf_base64(&b, (const unsigned char *)att, att_len, 1);
        buf_printf(&b, "--%s--\r\n", boundary);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* ---- attachments ------------------------------------------------------------------ */
static int is_notified(int rc)
{
    /* deliberate skips (our own backup copy, switched by an earlier run) are
     * not news for the admin; they still count in the statistics */
    return rc != CPUU_RC_IS_BACKUP && rc != CPUU_RC_ALREADY_UPDATED;
}

static char *statistics(const struct cpuu_notify *n)
{
    buf b = { 0 };
    unsigned upd = 0;
    for (size_t i = 0; i < n->n_res; i++)
        upd += n->res[i].updated != 0;
    buf_printf(&b, "CPUU statistics for computer %s (user %s)\n\nProfiles reported: %zu\n"
               "Updated: %u\nNot updated: %zu\n\nResults by code:\n", n->host, n->user, n->n_res, upd,
               n->n_res - upd);
    for (int rc = 0; rc < CPUU_RC__MAX; rc++)
        if (n->counts[rc])
            buf_printf(&b, "  %2d %-40s %u\n", rc, cpuu_rc_name(rc), n->counts[rc]);
    buf_puts(&b, "\nFeatures processed:");
    for (int f = 0; f < CFG_F__MAX; f++)
        if (n->cfg->effective & CFG_FSET(f))
            buf_printf(&b, " %s", cfg_feature_name((cfg_feature)f));
    buf_puts(&b, n->cfg->effective ? "\nCritical:" : " none\nCritical:");
    for (int f = 0; f < CFG_F__MAX; f++)
        if (n->cfg->critical & CFG_FSET(f))
            buf_printf(&b, " %s", cfg_feature_name((cfg_feature)f));
    buf_puts(&b, n->cfg->critical ? "\n\nProfiles:\n" : " none\n\nProfiles:\n");
    for (size_t i = 0; i < n->n_res; i++)
        buf_printf(&b, "  %s\t%d\t%s\n", n->res[i].profile, n->res[i].rc, cpuu_rc_name(n->res[i].rc));
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* The attachment Attach log asks for; *name static.  NULL: none (or it could
 * not be read, which is logged and the mail still goes). */
static char *attachment(const struct cpuu_notify *n, const char **name, size_t *len)
{
    if (n->cfg->notify.attach == CFG_ATTACH_STATISTICS) {
        char *s = statistics(n);
        *name = "CPUU-statistics.txt";
        *len = s ? strlen(s) : 0;
        return s;
    }
    if (n->cfg->notify.attach != CFG_ATTACH_ALL)
        return NULL;
    *name = "CPUU.log";
    sr_err e;
    char *t = n->log_path ? sr_read_file(n->log_path, NOTIFY_LOG_MAX, len, &e) : NULL;
    if (!t)
        sr_log(SR_LOG_WARN, "notify", "Attach log=all: %s; the notification goes without it",
               n->log_path ? e.msg : "the log goes to stderr (no log file)");
    return t;
}

/* ---- sending ------------------------------------------------------------------------ */
typedef struct reader {
    const char *p;
    size_t left;
} reader;

static size_t read_cb(char *out, size_t size, size_t nmemb, void *ud)
{
    reader *r = ud;
    size_t k = size * nmemb < r->left ? size * nmemb : r->left;
    memcpy(out, r->p, k);
    r->p += k;
    r->left -= k;
    return k;
}

/* smtp[s]://host[:port] with the security's default port. */
static char *smtp_url(const cfg_cpuu *c)
{
    const char *srv = c->notify.smtp_server;
    int tls = c->notify.smtp_security == CFG_SMTP_TLS;
    const char *close = srv[0] == '[' ? strchr(srv, ']') : NULL;
    int has_port = close ? close[1] == ':' : strchr(srv, ':') && strchr(srv, ':') == strrchr(srv, ':');
    if (!close && strchr(srv, ':') != strrchr(srv, ':'))        /* bare IPv6 literal */
        return sr_asprintf("%s://[%s]:%d", tls ? "smtps" : "smtp", srv, tls ? 465 : 587);
    if (has_port)
        return sr_asprintf("%s://%s", tls ? "smtps" : "smtp", srv);
    return sr_asprintf("%s://%s:%d", tls ? "smtps" : "smtp", srv,
                       tls ? 465 : c->notify.smtp_security == CFG_SMTP_NONE ? 25 : 587);
}

/* libcurl options for one send; returns the recipient list to free. */
static struct curl_slist *setup(CURL *h, const cfg_cpuu *c, const char *url, const char *from,
                                reader *rd, char *errbuf)
{
    char mail_from[400];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    struct curl_slist *rcpt = NULL;
    for (size_t i = 0; c->notify.smtp_addresses[i]; i++) {
        char a[400];
        snprintf(a, sizeof a, "<%s>", c->notify.smtp_addresses[i]);
        rcpt = curl_slist_append(rcpt, a);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, rd);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    if (c->notify.smtp_security == CFG_SMTP_STARTTLS)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (c->notify.smtp_ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->notify.smtp_ca_file);
    return rcpt;
}

/* Decrypted SMTPPassword into *pw (NULL without SMTPUser); -1 logged. */
static int smtp_password(const cfg_cpuu *c, char **pw)
{
    *pw = NULL;
    if (!c->notify.smtp_user)
        return 0;
    sr_err e;
    if (cfg_secret_decrypt(c->notify.smtp_password, pw, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "notify", "%s:%d: [Admin notification] SMTPPassword: %s; notification "
               "not sent", c->path, c->notify.smtp_password_line, e.msg);
        return -1;
    }
    return 0;
}

static void send_mail(struct cpuu_notify *n, const char *subject, const char *body, const char *what)
{
    const cfg_cpuu *c = n->cfg;
    if (has_ctl(subject)) {
        sr_log(SR_LOG_ERROR, "notify", "%s: the subject would hold a control character (CR/LF "
               "header injection); notification not sent", what);
        return;
    }
    const char *att_name = NULL;
    size_t att_len = 0;
    char *att = attachment(n, &att_name, &att_len);
    char *msg = build_message(n, subject, body, att_name, att, att_len);
    free(att);
    char *url = smtp_url(c), *pw = NULL, errbuf[CURL_ERROR_SIZE] = "";
    CURL *h = msg && url ? curl_easy_init() : NULL;
    if (!h || smtp_password(c, &pw) != 0) {
        if (!h)
            sr_log(SR_LOG_ERROR, "notify", "%s: out of memory; notification not sent", what);
        curl_easy_cleanup(h);
        free(msg);
        free(url);
        return;
    }
    reader rd = { msg, strlen(msg) };
    struct curl_slist *rcpt = setup(h, c, url, n->from, &rd, errbuf);
    if (pw) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->notify.smtp_user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, pw);
    }
    CURLcode cc = curl_easy_perform(h);
    long reply = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply);
    if (cc == CURLE_OK)
        sr_log(SR_LOG_NOTICE, "notify", "%s: notification sent to %s%s via %s (SMTP reply %ld)", what,
               c->notify.smtp_addresses[0], c->notify.smtp_addresses[1] ? " and others" : "", url, reply);
    else
        sr_log(SR_LOG_ERROR, "notify", "%s: notification NOT sent via %s: %s%s%s (SMTP reply %ld; "
               "curl error %d); the update result is not affected", what, url, curl_easy_strerror(cc),
               errbuf[0] ? ": " : "", errbuf, reply, (int)cc);
    n->n_sent++;
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
    sr_secret_free(pw);
    free(msg);
    free(url);
}

/* ---- the notifier ------------------------------------------------------------------ */
static void fill_identity(struct cpuu_notify *n)
{
    if (gethostname(n->host, sizeof n->host) != 0 || !n->host[0])
        snprintf(n->host, sizeof n->host, "localhost");
    n->host[sizeof n->host - 1] = '\0';
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(geteuid(), &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(n->user, sizeof n->user, "%s", res->pw_name);
    else
        snprintf(n->user, sizeof n->user, "uid%ld", (long)geteuid());
    const char *admin = n->cfg->admin;
    if (n->cfg->notify.from)
        n->from = sr_strdup(n->cfg->notify.from);
    else if (admin && strchr(admin, '@') && !has_ctl(admin) && !strpbrk(admin, "<>,;\"() "))
        n->from = sr_strdup(admin);
    else
        n->from = sr_asprintf("cpuu@%s", n->host);
}

cpuu_notify *cpuu_notify_new(const cfg_cpuu *cfg, const char *log_path)
{
    if (!cfg || !cfg->notify.present)
        return NULL;
    if (!cfg->notify.smtp_server) {
        sr_log(SR_LOG_WARN, "notify", "%s:%d: [Admin notification] has no SMTPServer, so no "
               "notification is sent (Linux has no Outlook profile to send through; name an SMTP "
               "relay, see docs/cpuu.md)", cfg->path, cfg->notify.line);
        return NULL;
    }
    struct cpuu_notify *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);   /* reference counted; paired in cpuu_notify_free */
    n->cfg = cfg;
    n->log_path = log_path ? sr_strdup(log_path) : NULL;
    fill_identity(n);
    if (!n->from) {
        cpuu_notify_free(n);
        return NULL;
    }
    return n;
}

static void now_strings(char *t, size_t tl, char *d, size_t dl)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(t, tl, "%H:%M:%S", &tm);
    strftime(d, dl, "%Y-%m-%d", &tm);
}

static int wanted(const cfg_cpuu *c, int updated)
{
    return c->notify.when == CFG_NOTIFY_ALL || (c->notify.when == CFG_NOTIFY_SUCCESS) == (updated != 0);
}

/* Expand Subject and Body for vars and send. */
static void send_expanded(struct cpuu_notify *n, const char *profile, int updated, const char *extra_body)
{
    char t[32], d[32];
    now_strings(t, sizeof t, d, sizeof d);
    cfg_notify_vars v = { .updated = updated, .user = n->user, .profile = profile, .host = n->host,
                          .time = t, .date = d };
    char *subject = cfg_notification_expand(n->cfg->notify.subject, &v);
    char *body = cfg_notification_expand(n->cfg->notify.body, &v);
    char *full = body ? sr_asprintf("%s\n%s", body, extra_body ? extra_body : "") : NULL;
    if (subject && full)
        send_mail(n, subject, full, profile);
    free(subject);
    free(body);
    free(full);
}

void cpuu_notify_profile(cpuu_notify *n, const char *profile, int rc, int updated)
{
    if (!n || !profile || n->n_res >= NOTIFY_MAX_PROFILES)
        return;
    if (rc >= 0 && rc < CPUU_RC__MAX)
        n->counts[rc]++;
    result *grown = realloc(n->res, (n->n_res + 1) * sizeof *grown);
    if (!grown)
        return;
    n->res = grown;
    n->res[n->n_res++] = (result){ .profile = sr_strdup(profile), .rc = rc, .updated = updated };
    if (n->cfg->notify.profile != CFG_NPROFILE_CURRENT || !is_notified(rc) || !wanted(n->cfg, updated))
        return;
    if (has_ctl(profile)) {
        sr_log(SR_LOG_ERROR, "notify", "profile name holds a control character: no notification "
               "for it (CR/LF header injection)");
        return;
    }
    char *line = sr_asprintf("\nResult: %d %s\n", rc, cpuu_rc_name(rc));
    send_expanded(n, profile, updated, line);
    free(line);
}

void cpuu_notify_finish(cpuu_notify *n)
{
    if (!n || n->cfg->notify.profile != CFG_NPROFILE_DEFAULT)
        return;
    /* one mail for the run: the profiles the filter selects; %P lists them and
     * %R is UPDATED only when each of them was */
    buf names = { 0 }, lines = { 0 };
    int all_updated = 1;
    size_t k = 0;
    for (size_t i = 0; i < n->n_res; i++) {
        const result *r = &n->res[i];
        if (!r->profile || !is_notified(r->rc) || !wanted(n->cfg, r->updated) || has_ctl(r->profile))
            continue;
        buf_printf(&names, "%s%s", k++ ? ", " : "", r->profile);
        buf_printf(&lines, "  %s: %d %s\n", r->profile, r->rc, cpuu_rc_name(r->rc));
        all_updated &= r->updated != 0;
    }
    if (k && !names.oom && !lines.oom) {
        char *extra = sr_asprintf("\nResults:\n%s", lines.p);
        if (extra)
            send_expanded(n, names.p, all_updated, extra);
        free(extra);
    } else if (!k) {
        sr_log(SR_LOG_INFO, "notify", "no profile result matches Notification=%s: nothing sent",
               n->cfg->notify.when == CFG_NOTIFY_FAIL ? "fail" : n->cfg->notify.when == CFG_NOTIFY_SUCCESS
                                                              ? "success" : "all");
    }
    free(names.p);
    free(lines.p);
}

void cpuu_notify_free(cpuu_notify *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_res; i++)
        free(n->res[i].profile);
    free(n->res);
    free(n->from);
    free(n->log_path);
    free(n);
    curl_global_cleanup();
}
