/* switchmsg.c — the switch message and the recreate message as values, and
 * their form as named extended properties in our property set
 * (docs/switch-message.md).  No network: the EWS half turns the property
 * list into CreateItem/GetItem XML. */
#include "mapi/eid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void mapi_switchmsg_clear(mapi_switchmsg *m)
{
    if (!m)
        return;
    free(m->target_legacy_dn);
    free(m->target_smtp);
    free(m->created_by);
    memset(m, 0, sizeof *m);
}

/* local@domain: one '@', non-empty parts, a dot in the domain, no spaces,
 * controls or angle brackets.  Syntax only — the directory decides the rest. */
static int smtp_ok(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || strchr(at + 1, '@') || !at[1])
        return 0;
    const char *dot = strchr(at + 1, '.');
    if (!dot || dot == at + 1 || !dot[1] || s[strlen(s) - 1] == '.')
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7F || *p == '<' || *p == '>' || *p == ',' || *p == ';')
            return 0;
    return 1;
}

sr_code mapi_switchmsg_validate(const mapi_switchmsg *m, sr_err *err)
{
    if (m->version != MAPI_SWITCHMSG_LEGACY && m->version != MAPI_SWITCHMSG_CONTEMPORARY)
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: unknown version %d",
                          MAPI_SMP_VERSION, m->version);
    /* An Office 365 target reached over Microsoft Graph may have none: Graph
     * has no legacyExchangeDN (docs/graph.md, "The switch message"). */
    int dn_optional = m->version == MAPI_SWITCHMSG_CONTEMPORARY && m->target_is_o365 == 1;
    if (!(dn_optional && !m->target_legacy_dn) &&
        (!m->target_legacy_dn || strncasecmp(m->target_legacy_dn, "/o=", 3) != 0 ||
         !m->target_legacy_dn[3]))
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: '%.200s' is not a legacyExchangeDN (/o=...)",
                          MAPI_SMP_LEGACYDN, m->target_legacy_dn ? m->target_legacy_dn : "(missing)");
    if (!m->target_smtp || !smtp_ok(m->target_smtp))
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: '%.200s' is not an SMTP address",
                          MAPI_SMP_SMTP, m->target_smtp ? m->target_smtp : "(missing)");
    if (m->target_is_o365 != 0 && m->target_is_o365 != 1)
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: expected 0 or 1", MAPI_SMP_IS_O365);
    /* A Legacy message predates the Office 365 flag: it cannot claim O365. */
    if (m->version == MAPI_SWITCHMSG_LEGACY && m->target_is_o365)
        return sr_err_set(err, SR_E_PARSE, "switch message: version Legacy cannot have %s=true",
                          MAPI_SMP_IS_O365);
    if (m->created_at < 0)
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: negative time", MAPI_SMP_CREATED_AT);
    return SR_OK;
}

/* ---- value text forms (EWS) ----------------------------------------------------- */

static void fmt_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "1970-01-01T00:00:00Z");
}

/* "YYYY-MM-DDTHH:MM:SS[.fff]Z" (EWS xs:dateTime in UTC). */
static int parse_time(const char *s, int64_t *out)
{
    struct tm tm = { 0 };
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 19)
        return -1;
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (strcmp(p, "Z") != 0)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1601)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        return *out = 1, 0;
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        return *out = 0, 0;
    return -1;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -2147483647L - 1 || v > 2147483647L)
        return -1;
    *out = (int)v;
    return 0;
}

/* ---- to properties -------------------------------------------------------------- */

static sr_code add(mapi_extprops *l, const char *name, uint16_t type, const char *value, sr_err *err)
{
    return mapi_extprops_add_named(l, MAPI_SWITCHMSG_PSET_GUID, name, type, value, err) ? SR_OK
                                                                                       : err->code;
}

char *mapi_switchmsg_to_line(const mapi_switchmsg *m)
{
    const char *f[] = { m->target_smtp, m->target_legacy_dn, m->created_by };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i] && strpbrk(f[i], "\t\r\n"))
            return NULL;
    return sr_asprintf("%d\t%s\t%s\t%d\t%s\t%lld", m->version, m->target_smtp ? m->target_smtp : "",
                       m->target_legacy_dn ? m->target_legacy_dn : "", m->target_is_o365,
                       m->created_by ? m->created_by : "", (long long)m->created_at);
}

sr_code mapi_switchmsg_from_line(const char *line, mapi_switchmsg *m, sr_err *err)
{
    memset(m, 0, sizeof *m);
    char *copy = line ? sr_strdup(line) : NULL, *f[6], *p = copy;
    size_t n = 0;
    for (; p && n < 6; n++) {   /* six fields, no more */
        f[n] = p;
        if ((p = strchr(p, '\t')) != NULL)
            *p++ = '\0';
    }
    if (n != 6 || p || !*f[1]) {
        free(copy);
        return sr_err_set(err, SR_E_PARSE, "not a switch message line");
    }
    m->version = atoi(f[0]);
    m->target_is_o365 = atoi(f[3]) != 0;
    m->created_at = strtoll(f[5], NULL, 10);
    sr_code rc = SR_OK;
    if (!(m->target_smtp = sr_strdup(f[1])) || (*f[2] && !(m->target_legacy_dn = sr_strdup(f[2]))) ||
        (*f[4] && !(m->created_by = sr_strdup(f[4]))))
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    free(copy);
    if (rc == SR_OK)
        rc = mapi_switchmsg_validate(m, err);
    if (rc != SR_OK)
        mapi_switchmsg_clear(m);
    return rc;
}

sr_code mapi_switchmsg_to_extprops(const mapi_switchmsg *m, mapi_extprops *l, sr_err *err)
{
    sr_err local;
    if (!err)
        err = &local;
    sr_code rc = mapi_switchmsg_validate(m, err);
    if (rc != SR_OK)
        return rc;
    char num[16], when[32];
    snprintf(num, sizeof num, "%d", m->version);
    if ((rc = add(l, MAPI_SMP_VERSION, MAPI_PT_LONG, num, err)) ||
        (m->target_legacy_dn && (rc = add(l, MAPI_SMP_LEGACYDN, MAPI_PT_UNICODE, m->target_legacy_dn, err))) ||
        (rc = add(l, MAPI_SMP_SMTP, MAPI_PT_UNICODE, m->target_smtp, err)) ||
        (rc = add(l, MAPI_SMP_IS_O365, MAPI_PT_BOOLEAN, m->target_is_o365 ? "true" : "false", err)))
        return rc;
    if (m->created_by && (rc = add(l, MAPI_SMP_CREATED_BY, MAPI_PT_UNICODE, m->created_by, err)))
        return rc;
    if (m->created_at) {
        fmt_time(m->created_at, when);
        if ((rc = add(l, MAPI_SMP_CREATED_AT, MAPI_PT_SYSTIME, when, err)))
            return rc;
    }
    return SR_OK;
}

/* ---- from properties ------------------------------------------------------------ */

/* Our property `name` as a single value of `type`; NULL with err set when it
 * is absent (if required), mistyped or multi-valued. */
static const char *get1(const mapi_extprops *l, const char *name, uint16_t type, int required,
                        sr_code *rc, sr_err *err)
{
    const mapi_extprop *p = mapi_extprops_find_named(l, MAPI_SWITCHMSG_PSET_GUID, name);
    *rc = SR_OK;
    if (!p) {
        if (required)
            *rc = sr_err_set(err, SR_E_PARSE, "switch message: property %s missing", name);
        return NULL;
    }
    if (p->type != type || p->nvalues != 1) {
        *rc = sr_err_set(err, SR_E_PARSE, "switch message: property %s: expected one %s value, got %zu of %s",
                         name, mapi_pt_ews_name(type), p->nvalues,
                         mapi_pt_ews_name(p->type) ? mapi_pt_ews_name(p->type) : mapi_pt_name(p->type));
        return NULL;
    }
    return p->values[0];
}

static int has_any(const mapi_extprops *l, const char *const *names)
{
    for (; *names; names++)
        if (mapi_extprops_find_named(l, MAPI_SWITCHMSG_PSET_GUID, *names))
            return 1;
    return 0;
}

static sr_code read_created(const mapi_extprops *l, char **by, int64_t *at, sr_err *err)
{
    sr_code rc;
    const char *s = get1(l, MAPI_SMP_CREATED_BY, MAPI_PT_UNICODE, 0, &rc, err);
    if (rc)
        return rc;
    if (s && !(*by = sr_strdup(s)))
        return sr_err_set(err, SR_E_NOMEM, "switch message: out of memory");
    s = get1(l, MAPI_SMP_CREATED_AT, MAPI_PT_SYSTIME, 0, &rc, err);
    if (rc)
        return rc;
    if (s && parse_time(s, at) != 0)
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: bad time '%.40s'", MAPI_SMP_CREATED_AT, s);
    return SR_OK;
}

static sr_code switchmsg_read(const mapi_extprops *l, mapi_switchmsg *m, sr_err *err)
{
    sr_code rc;
    const char *v = get1(l, MAPI_SMP_VERSION, MAPI_PT_LONG, 1, &rc, err);
    if (rc)
        return rc;
    if (parse_int(v, &m->version) != 0)
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: not an integer '%.40s'", MAPI_SMP_VERSION, v);
    /* Absent O365 flag: a Legacy message has none. */
    const char *o365 = get1(l, MAPI_SMP_IS_O365, MAPI_PT_BOOLEAN, 0, &rc, err);
    if (rc)
        return rc;
    if (o365 && parse_bool(o365, &m->target_is_o365) != 0)
        return sr_err_set(err, SR_E_PARSE, "switch message: %s: not a boolean '%.40s'", MAPI_SMP_IS_O365, o365);
    /* an Office 365 target over Graph may come without one (validate) */
    const char *dn = get1(l, MAPI_SMP_LEGACYDN, MAPI_PT_UNICODE, !m->target_is_o365, &rc, err);
    if (rc)
        return rc;
    const char *smtp = get1(l, MAPI_SMP_SMTP, MAPI_PT_UNICODE, 1, &rc, err);
    if (rc)
        return rc;
    if ((dn && !(m->target_legacy_dn = sr_strdup(dn))) || !(m->target_smtp = sr_strdup(smtp)))
        return sr_err_set(err, SR_E_NOMEM, "switch message: out of memory");
    if ((rc = read_created(l, &m->created_by, &m->created_at, err)))
        return rc;
    return mapi_switchmsg_validate(m, err);
}

sr_code mapi_switchmsg_from_extprops(const mapi_extprops *l, mapi_switchmsg *m, sr_err *err)
{
    static const char *const ours[] = { MAPI_SMP_VERSION, MAPI_SMP_LEGACYDN, MAPI_SMP_SMTP,
                                        MAPI_SMP_IS_O365, NULL };
    sr_err local;
    if (!err)
        err = &local;
    memset(m, 0, sizeof *m);
    if (!l || !has_any(l, ours))
        return sr_err_set(err, SR_E_NOTFOUND, "no switch message (no %s properties)", MAPI_SWITCHMSG_ITEM_CLASS);
    sr_code rc = switchmsg_read(l, m, err);
    if (rc != SR_OK)
        mapi_switchmsg_clear(m);
    return rc;
}

