/* profile_text.c — the profile file format (docs/profile-format.md): an
 * INI-like text a person can read while troubleshooting (the reason
 * LeaveTemporaryProfiles exists), written deterministically and parsed
 * strictly with file:line errors.  Also the profile value helpers. */
#include "mapi/eid.h"
#include "mapi/profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PROFILE_MAGIC "switchresmb-profile 1"

/* ---- names of services and logon kinds ------------------------------------------- */

static const char *const svc_names[MAPI_SVC__MAX] = {
    [MAPI_SVC_MSEMS] = "MSEMS", [MAPI_SVC_MSPST_AB] = "MSPST AB",
    [MAPI_SVC_MSPST_MS] = "MSPST MS", [MAPI_SVC_MSUPST_MS] = "MSUPST MS",
    [MAPI_SVC_CONTAB] = "CONTAB", [MAPI_SVC_EMABLT] = "EMABLT",
    [MAPI_SVC_INTERSTOR] = "INTERSTOR", [MAPI_SVC_IMAIL] = "IMAIL",
    [MAPI_SVC_OTHER] = "OTHER",
};

mapi_svc_kind mapi_svc_from_name(const char *name)
{
    for (int k = 0; k < MAPI_SVC_OTHER; k++)
        if (name && sr_streq_ci(name, svc_names[k]))
            return (mapi_svc_kind)k;
    return MAPI_SVC_OTHER;
}

static const char *const logon_names[MAPI_LOGON__MAX] = {
    [MAPI_LOGON_NEGOTIATE] = "Negotiate", [MAPI_LOGON_NTLM] = "NTLM",
    [MAPI_LOGON_ANONYMOUS] = "Anonymous", [MAPI_LOGON_KERBEROS] = "Kerberos",
    [MAPI_LOGON_SMARTCARD] = "SmartCard",
};

const char *mapi_logon_name(mapi_logon_security s)
{
    return (unsigned)s < MAPI_LOGON__MAX ? logon_names[s] : "Negotiate";
}

int mapi_logon_from_name(const char *name)
{
    for (int k = 0; k < MAPI_LOGON__MAX; k++)
        if (name && sr_streq_ci(name, logon_names[k]))
            return k;
    return -1;
}

/* ---- struct helpers ---------------------------------------------------------------- */

void mapi_account_clear(mapi_account *a)
{
    if (!a)
        return;
    free(a->home_server);
    free(a->legacy_dn);
    free(a->smtp);
    free(a->display_name);
    free(a->rpc.proxy_server);
    free(a->rpc.principal_name);
    free(a->autodiscover_url);
    free(a->ews_url);
    free(a->ost_path);
    for (size_t i = 0; i < a->n_add_mailboxes; i++)
        free(a->add_mailboxes[i]);
    free(a->add_mailboxes);
    memset(a, 0, sizeof *a);
}

static void service_clear(mapi_service *s)
{
    free(s->name);
    for (size_t i = 0; i < s->n; i++) {
        free(s->keys[i]);
        free(s->values[i]);
    }
    free(s->keys);
    free(s->values);
    memset(s, 0, sizeof *s);
}

void mapi_profile_clear(mapi_profile *p)
{
    if (!p)
        return;
    free(p->name);
    for (size_t i = 0; i < p->n_accounts; i++)
        mapi_account_clear(&p->accounts[i]);
    free(p->accounts);
    for (size_t i = 0; i < p->n_services; i++)
        service_clear(&p->services[i]);
    free(p->services);
    service_clear(&p->handover);
    free(p->status.backup_of);
    memset(p, 0, sizeof *p);
}

mapi_account *mapi_profile_add_account(mapi_profile *p)
{
    mapi_account *na = realloc(p->accounts, (p->n_accounts + 1) * sizeof *na);
    if (!na)
        return NULL;
    p->accounts = na;
    memset(&na[p->n_accounts], 0, sizeof *na);
    na[p->n_accounts].rpc.auth_ntlm = 1;   /* spec: NTLM unless told otherwise */
    return &na[p->n_accounts++];
}

mapi_service *mapi_profile_add_service(mapi_profile *p, const char *name)
{
    if (name && !*name)
        return NULL;
    mapi_service *ns = realloc(p->services, (p->n_services + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    p->services = ns;
    mapi_service *s = &ns[p->n_services];
    memset(s, 0, sizeof *s);
    if (name && !(s->name = sr_strdup(name)))
        return NULL;
    s->kind = name ? mapi_svc_from_name(name) : MAPI_SVC_OTHER;
    p->n_services++;
    return s;
}

/* Service setting keys: letters, digits and "_.:-" (they become "key = value"
 * lines, so '=' and spaces cannot be allowed). */
static int service_key_ok(const char *k)
{
    if (!k || !*k || strlen(k) > 128)
        return 0;
    for (; *k; k++)
        if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
              *k == '_' || *k == '.' || *k == ':' || *k == '-'))
            return 0;
    return 1;
}

sr_code mapi_service_set(mapi_service *s, const char *key, const char *value, sr_err *err)
{
    if (!service_key_ok(key) || strcmp(key, "name") == 0)
        return sr_err_set(err, SR_E_INVALID, "service %s: invalid setting name '%.60s'",
                          s->name, key ? key : "");
    if (!value)
        return sr_err_set(err, SR_E_INVALID, "service %s: %s: NULL value", s->name, key);
    char *v = sr_strdup(value);
    if (!v)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->keys[i], key) == 0) {
            free(s->values[i]);
            s->values[i] = v;
            return SR_OK;
        }
    char **nk = realloc(s->keys, (s->n + 1) * sizeof *nk);
    if (nk)
        s->keys = nk;
    char **nv = nk ? realloc(s->values, (s->n + 1) * sizeof *nv) : NULL;
    if (nv)
        s->values = nv;
    char *k = nv ? sr_strdup(key) : NULL;
    if (!k) {
        free(v);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    s->keys[s->n] = k;
    s->values[s->n++] = v;
    return SR_OK;
}

sr_code mapi_account_add_mailbox(mapi_account *a, const char *mailbox, sr_err *err)
{
    if (!mailbox || !*mailbox)
        return sr_err_set(err, SR_E_INVALID, "additional mailbox: empty");
    char **nm = realloc(a->add_mailboxes, (a->n_add_mailboxes + 1) * sizeof *nm);
    if (!nm)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    a->add_mailboxes = nm;
    if (!(nm[a->n_add_mailboxes] = sr_strdup(mailbox)))
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    a->n_add_mailboxes++;
    return SR_OK;
}

/* ---- writing ------------------------------------------------------------------------ */

typedef struct {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_putn(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 1024;
        while (nc < b->len + n + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_putn(b, s, strlen(s));
}

/* Escape: backslash, control characters, bytes that are not UTF-8, and a
 * trailing blank (so no line ends in invisible whitespace).  The reader's
 * check (sr_utf8_valid) and this one are the same function, so the writer
 * never emits a byte the reader refuses (issue 11: a value unescaped from
 * "\xBD" was written raw). */
static void sb_escaped(sbuf *b, const char *v)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        char tmp[8];
        if (c == '\\')
            sb_puts(b, "\\\\");
        else if (c == '\n')
            sb_puts(b, "\\n");
        else if (c == '\t')
            sb_puts(b, "\\t");
        else if (c == '\r')
            sb_puts(b, "\\r");
        else if (c < 0x20 || c == 0x7F || (c == ' ' && i == n - 1) ||
                 (c >= 0x80 && !sr_utf8_seq(v + i))) {
            snprintf(tmp, sizeof tmp, "\\x%02X", c);
            sb_puts(b, tmp);
        } else if (c >= 0x80) {
            size_t k = sr_utf8_seq(v + i);
            sb_putn(b, v + i, k);
            i += k - 1;
        } else
            sb_putn(b, (const char *)&c, 1);
    }
}

static void kv(sbuf *b, const char *key, const char *value)
{
    if (!value)
        return;     /* absent optional value: no line */
    sb_puts(b, key);
    sb_puts(b, " = ");
    sb_escaped(b, value);
    sb_puts(b, "\n");
}

static void kv_int(sbuf *b, const char *key, long long v)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%lld", v);
    kv(b, key, tmp);
}

/* Always four year digits: strftime's %Y wrote year 486 as "486-...", which
 * the reader refuses (issue 11).  Years outside 0000..9999 have no form the
 * reader accepts: -1, and the caller refuses to write the profile. */
static int kv_time(sbuf *b, const char *key, int64_t t)
{
    char tmp[32];
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return -1;
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    kv(b, key, tmp);
    return 0;
}

static void write_account(sbuf *b, const mapi_account *a)
{
    sb_puts(b, "\n[account]\n");
    kv(b, "home-server", a->home_server);
    kv(b, "legacy-dn", a->legacy_dn);
    kv(b, "smtp", a->smtp);
    kv(b, "display-name", a->display_name);
    kv(b, "logon-security", mapi_logon_name(a->logon));
    kv(b, "autodiscover-url", a->autodiscover_url);
    kv(b, "ews-url", a->ews_url);
    kv_int(b, "offline", a->offline);
    kv(b, "ost-path", a->ost_path);
    for (size_t i = 0; i < a->n_add_mailboxes; i++)
        kv(b, "additional-mailbox", a->add_mailboxes[i]);
    kv_int(b, "rpc-connect-using-http", a->rpc.enabled);
    kv(b, "rpc-proxy-server", a->rpc.proxy_server);
    kv(b, "rpc-principal-name", a->rpc.principal_name);
    kv_int(b, "rpc-ssl-only", a->rpc.ssl_only);
    kv_int(b, "rpc-mutual-auth", a->rpc.mutual_auth);
    kv_int(b, "rpc-http-first-on-fast", a->rpc.http_first_fast);
    kv_int(b, "rpc-http-first-on-slow", a->rpc.http_first_slow);
    kv_int(b, "rpc-auth-ntlm", a->rpc.auth_ntlm);
    kv_int(b, "rpc-auth-basic", a->rpc.auth_basic);
    kv_int(b, "rpc-auth-negotiate", a->rpc.auth_negotiate);
}

char *mapi_profile_format(const mapi_profile *p, sr_err *err)
{
    if (!p->name) {
        sr_err_set(err, SR_E_INVALID, "profile: no name");
        return NULL;
    }
    /* A backup's bytes are its original's: write the original name. */
    const char *name = p->status.is_backup && p->status.backup_of ? p->status.backup_of : p->name;
    sbuf b = { 0 };
    sb_puts(&b, PROFILE_MAGIC "\n# MAPI profile of switchresmb; format: docs/profile-format.md\n");
    sb_puts(&b, "\n[profile]\n");
    kv(&b, "name", name);
    kv_int(&b, "default", p->is_default != 0);
    sb_puts(&b, "\n[status]\n");
    kv_int(&b, "temporary", p->status.temporary != 0);
    kv_int(&b, "updated", p->status.updated != 0);
    if (p->status.updated_at && kv_time(&b, "updated-at", p->status.updated_at) != 0) {
        free(b.s);
        sr_err_set(err, SR_E_INVALID, "profile %s: updated-at %lld is outside the years 0000-9999",
                   p->name, (long long)p->status.updated_at);
        return NULL;
    }
    for (size_t i = 0; i < p->n_accounts; i++)
        write_account(&b, &p->accounts[i]);
    for (size_t i = 0; i < p->n_services; i++) {
        const mapi_service *s = &p->services[i];
        sb_puts(&b, "\n[service]\n");
        kv(&b, "name", s->name);
        for (size_t j = 0; j < s->n; j++)
            kv(&b, s->keys[j], s->values[j]);
    }
    if (p->handover.n)
        sb_puts(&b, "\n[handover]\n");
    for (size_t j = 0; j < p->handover.n; j++)
        kv(&b, p->handover.keys[j], p->handover.values[j]);
    if (b.oom) {
        free(b.s);
        sr_err_set(err, SR_E_NOMEM, "profile %s: out of memory", p->name);
        return NULL;
    }
    return b.s;
}

/* ---- parsing -------------------------------------------------------------------------- */

typedef enum { SEC_NONE, SEC_PROFILE, SEC_STATUS, SEC_ACCOUNT, SEC_SERVICE, SEC_HANDOVER } section;

typedef struct {
    const char *what;
    size_t line;
    sr_err *err;
    mapi_profile *p;
    section sec;
    int seen_name;
} pstate;

static sr_code perr(pstate *st, const char *fmt, const char *a, const char *b)
{
    return sr_err_set(st->err, SR_E_PARSE, "%s:%zu: %s%s%s", st->what, st->line, a ? a : "",
                      a ? ": " : "", b ? b : fmt);
}

/* Undo sb_escaped in place; -1 on a bad escape or an embedded NUL. */
static int unescape(char *s)
{
    char *o = s;
    for (char *i = s; *i; i++) {
        if (*i != '\\') {
            *o++ = *i;
            continue;
        }
        i++;
        if (*i == '\\') *o++ = '\\';
        else if (*i == 'n') *o++ = '\n';
        else if (*i == 't') *o++ = '\t';
        else if (*i == 'r') *o++ = '\r';
        else if (*i == 'x') {
            int v = 0;
            for (int k = 1; k <= 2; k++) {
                char c = i[k];
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
                      : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
                if (d < 0)
                    return -1;
                v = v * 16 + d;
            }
            if (v == 0)
                return -1;
            *o++ = (char)v;
            i += 2;
        } else
            return -1;
    }
    *o = '\0';
    return 0;
}

static sr_code set_str(pstate *st, char **dst, const char *key, const char *v)
{
    if (*dst)
        return perr(st, NULL, key, "duplicate key");
    if (!(*dst = sr_strdup(v)))
        return sr_err_set(st->err, SR_E_NOMEM, "%s: out of memory", st->what);
    return SR_OK;
}

static sr_code set_bool(pstate *st, int *dst, const char *key, const char *v)
{
    if (strcmp(v, "0") && strcmp(v, "1"))
        return perr(st, NULL, key, "expected 0 or 1");
    *dst = v[0] == '1';
    return SR_OK;
}

static sr_code set_time(pstate *st, int64_t *dst, const char *key, const char *v)
{
    struct tm tm = { 0 };
    int n = 0;
    /* digits exactly where the form has them: sscanf alone lets signs and
     * blanks through ("-001", " 1"), which the writer never produces */
    static const char form[] = "dddd-dd-ddTdd:dd:ddZ";
    for (size_t i = 0; i < sizeof form - 1; i++)
        if (form[i] == 'd' ? !(v[i] >= '0' && v[i] <= '9') : v[i] != form[i])
            return perr(st, NULL, key, "expected YYYY-MM-DDTHH:MM:SSZ");
    if (sscanf(v, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 20 || v[n] || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return perr(st, NULL, key, "expected YYYY-MM-DDTHH:MM:SSZ");
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *dst = (int64_t)timegm(&tm);
    return SR_OK;
}

static sr_code key_profile(pstate *st, const char *k, const char *v)
{
    if (!strcmp(k, "name")) {
        st->seen_name = 1;
        return set_str(st, &st->p->name, k, v);
    }
    if (!strcmp(k, "default"))
        return set_bool(st, &st->p->is_default, k, v);
    return perr(st, NULL, k, "unknown key in [profile]");
}

static sr_code key_status(pstate *st, const char *k, const char *v)
{
    mapi_profile_status *s = &st->p->status;
    if (!strcmp(k, "temporary"))
        return set_bool(st, &s->temporary, k, v);
    if (!strcmp(k, "updated"))
        return set_bool(st, &s->updated, k, v);
    if (!strcmp(k, "updated-at"))
        return set_time(st, &s->updated_at, k, v);
    return perr(st, NULL, k, "unknown key in [status]");
}

static sr_code key_account(pstate *st, const char *k, const char *v)
{
    mapi_account *a = &st->p->accounts[st->p->n_accounts - 1];
    static const struct { const char *k; size_t off; } strs[] = {
        { "home-server", offsetof(mapi_account, home_server) },
        { "legacy-dn", offsetof(mapi_account, legacy_dn) },
        { "smtp", offsetof(mapi_account, smtp) },
        { "display-name", offsetof(mapi_account, display_name) },
        { "autodiscover-url", offsetof(mapi_account, autodiscover_url) },
        { "ews-url", offsetof(mapi_account, ews_url) },
        { "ost-path", offsetof(mapi_account, ost_path) },
        { "rpc-proxy-server", offsetof(mapi_account, rpc.proxy_server) },
        { "rpc-principal-name", offsetof(mapi_account, rpc.principal_name) },
    };
    static const struct { const char *k; size_t off; } bools[] = {
        { "offline", offsetof(mapi_account, offline) },
        { "rpc-connect-using-http", offsetof(mapi_account, rpc.enabled) },
        { "rpc-ssl-only", offsetof(mapi_account, rpc.ssl_only) },
        { "rpc-mutual-auth", offsetof(mapi_account, rpc.mutual_auth) },
        { "rpc-http-first-on-fast", offsetof(mapi_account, rpc.http_first_fast) },
        { "rpc-http-first-on-slow", offsetof(mapi_account, rpc.http_first_slow) },
        { "rpc-auth-ntlm", offsetof(mapi_account, rpc.auth_ntlm) },
        { "rpc-auth-basic", offsetof(mapi_account, rpc.auth_basic) },
        { "rpc-auth-negotiate", offsetof(mapi_account, rpc.auth_negotiate) },
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        if (!strcmp(k, strs[i].k))
            return set_str(st, (char **)((char *)a + strs[i].off), k, v);
    for (size_t i = 0; i < sizeof bools / sizeof bools[0]; i++)
        if (!strcmp(k, bools[i].k))
            return set_bool(st, (int *)((char *)a + bools[i].off), k, v);
    if (!strcmp(k, "logon-security")) {
        int l = mapi_logon_from_name(v);
        if (l < 0)
            return perr(st, NULL, k, "expected Negotiate, NTLM, Anonymous, Kerberos or SmartCard");
        a->logon = (mapi_logon_security)l;
        return SR_OK;
    }
    if (!strcmp(k, "additional-mailbox"))
        return mapi_account_add_mailbox(a, v, st->err) == SR_OK ? SR_OK : perr(st, NULL, k, "empty");
    return perr(st, NULL, k, "unknown key in [account]");
}

static sr_code key_service(pstate *st, const char *k, const char *v)
{
    mapi_service *s = &st->p->services[st->p->n_services - 1];
    if (!strcmp(k, "name")) {
        if (s->name)
            return perr(st, NULL, k, "duplicate key");
        if (!*v)
            return perr(st, NULL, k, "empty service name");
        if (!(s->name = sr_strdup(v)))
            return sr_err_set(st->err, SR_E_NOMEM, "%s: out of memory", st->what);
        s->kind = mapi_svc_from_name(v);
        return SR_OK;
    }
    if (!s->name)
        return perr(st, NULL, k, "[service] must start with its name");
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->keys[i], k))
            return perr(st, NULL, k, "duplicate key");
    if (!service_key_ok(k))
        return perr(st, NULL, k, "invalid setting name");
    return mapi_service_set(s, k, v, st->err);
}

/* [handover]: any well-formed key once; what they mean is mapi_handover_*'s
 * business (a stale or foreign one is ignored there, not refused here). */
static sr_code key_handover(pstate *st, const char *k, const char *v)
{
    mapi_service *h = &st->p->handover;
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->keys[i], k))
            return perr(st, NULL, k, "duplicate key");
    if (!service_key_ok(k) || !strcmp(k, "name"))
        return perr(st, NULL, k, "invalid setting name");
    return mapi_service_set(h, k, v, st->err);
}

static sr_code open_section(pstate *st, const char *line)
{
    if (st->sec == SEC_HANDOVER)
        return perr(st, NULL, line, "[handover] is the last section");
    if (!strcmp(line, "[profile]")) {
        if (st->seen_name || st->sec != SEC_NONE)
            return perr(st, NULL, line, "must come first and only once");
        st->sec = SEC_PROFILE;
    } else if (!strcmp(line, "[status]")) {
        if (st->sec != SEC_PROFILE)
            return perr(st, NULL, line, "must follow [profile], once");
        st->sec = SEC_STATUS;
    } else if (!strcmp(line, "[account]")) {
        if (st->sec < SEC_STATUS)
            return perr(st, NULL, line, "must follow [status]");
        if (st->sec == SEC_SERVICE)
            return perr(st, NULL, line, "[account] sections come before [service] sections");
        if (!mapi_profile_add_account(st->p))
            return sr_err_set(st->err, SR_E_NOMEM, "%s: out of memory", st->what);
        st->sec = SEC_ACCOUNT;
    } else if (!strcmp(line, "[service]")) {
        if (st->sec < SEC_STATUS)
            return perr(st, NULL, line, "must follow [status]");
        if (!mapi_profile_add_service(st->p, NULL))   /* its "name" key follows */
            return sr_err_set(st->err, SR_E_NOMEM, "%s: out of memory", st->what);
        st->sec = SEC_SERVICE;
    } else if (!strcmp(line, "[handover]")) {
        if (st->sec < SEC_STATUS)
            return perr(st, NULL, line, "must follow [status]");
        st->sec = SEC_HANDOVER;
    } else {
        return perr(st, NULL, line, "unknown section");
    }
    return SR_OK;
}

static sr_code parse_kv(pstate *st, char *line)
{
    char *eq = strstr(line, " = ");
    size_t n = strlen(line);
    char empty[1] = "";
    char *v = empty;
    if (eq) {
        *eq = '\0';
        v = eq + 3;
    } else if (n >= 2 && strcmp(line + n - 2, " =") == 0) {
        line[n - 2] = '\0';    /* "key =": an empty value whose blank an editor trimmed */
    } else {
        return perr(st, "expected 'key = value'", NULL, NULL);
    }
    char *k = line;
    if (!*k)
        return perr(st, "empty key", NULL, NULL);
    if (unescape(v) != 0)
        return perr(st, NULL, k, "bad escape in value");
    switch (st->sec) {
    case SEC_PROFILE: return key_profile(st, k, v);
    case SEC_STATUS: return key_status(st, k, v);
    case SEC_ACCOUNT: return key_account(st, k, v);
    case SEC_SERVICE: return key_service(st, k, v);
    case SEC_HANDOVER: return key_handover(st, k, v);
    case SEC_NONE: break;
    }
    return perr(st, NULL, k, "key outside a section");
}

/* Whole-file checks after the last line. */
static sr_code parse_finish(pstate *st)
{
    if (st->sec < SEC_STATUS)
        return perr(st, "missing [profile] or [status] section", NULL, NULL);
    if (!st->p->name)
        return perr(st, NULL, "[profile]", "name missing");
    for (size_t i = 0; i < st->p->n_services; i++)
        if (!st->p->services[i].name)
            return perr(st, NULL, "[service]", "name missing");
    if (mapi_profile_name_check(st->p->name, st->err) != SR_OK) {
        char why[sizeof st->err->msg];
        snprintf(why, sizeof why, "%s", st->err->msg);
        return perr(st, NULL, "[profile] name", why);
    }
    return SR_OK;
}

static sr_code parse_lines(pstate *st, char *text, size_t len)
{
    char *end = text + len, *line = text;
    while (line < end) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        if (!nl) {
            st->line++;
            return perr(st, "incomplete last line (no newline)", NULL, NULL);
        }
        *nl = '\0';
        st->line++;
        if (memchr(line, '\0', (size_t)(nl - line)))
            return perr(st, "NUL byte in line", NULL, NULL);
        if (nl > line && nl[-1] == '\r')
            return perr(st, "CR at end of line (edit with a Unix editor)", NULL, NULL);
        for (const unsigned char *c = (const unsigned char *)line; *c; c++)
            if (*c < 0x20 || *c == 0x7F) {
                char what[64];
                snprintf(what, sizeof what, "raw control character 0x%02X in column %zu (write it escaped)",
                         *c, (size_t)(c - (const unsigned char *)line) + 1);
                return perr(st, NULL, NULL, what);
            }
        if (!sr_utf8_valid(line))
            return perr(st, "not valid UTF-8", NULL, NULL);
        sr_code rc = SR_OK;
        if (st->line == 1) {
            if (strcmp(line, PROFILE_MAGIC))
                rc = perr(st, "not a profile file (expected '" PROFILE_MAGIC "')", NULL, NULL);
        } else if (line[0] == '[') {
            rc = open_section(st, line);
        } else if (line[0] && line[0] != '#') {
            rc = parse_kv(st, line);
        }
        if (rc != SR_OK)
            return rc;
        line = nl + 1;
    }
    return SR_OK;
}

sr_code mapi_profile_parse(const char *text, size_t len, const char *what,
                           mapi_profile *p, sr_err *err)
{
    sr_err local;
    if (!err)
        err = &local;
    memset(p, 0, sizeof *p);
    pstate st = { what ? what : "profile", 0, err, p, SEC_NONE, 0 };
    char *copy = malloc(len + 1);
    if (!copy)
        return sr_err_set(err, SR_E_NOMEM, "%s: out of memory", st.what);
    memcpy(copy, text, len);
    copy[len] = '\0';
    sr_code rc = len == 0 ? perr(&st, "empty file", NULL, NULL) : parse_lines(&st, copy, len);
    if (rc == SR_OK)
        rc = parse_finish(&st);
    free(copy);
    if (rc != SR_OK)
        mapi_profile_clear(p);
    return rc;
}
