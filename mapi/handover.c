/* handover.c — the [handover] section of a temporary profile (issue 13):
 * switchresmb read the source mailbox's switch message a moment ago (or
 * wrote it) and hands it, with the EWS URL and the way in, to the engine it
 * starts on that profile, so the engine's logon costs no round trip.  No
 * network and no secret here: a typed value to and from the profile's
 * settings, and the rules that decide whether the engine may trust it
 * (docs/profile-format.md, "[handover]"). */
#include "mapi/ews.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void mapi_handover_clear(mapi_handover *h)
{
    if (!h)
        return;
    free(h->mailbox);
    free(h->ews_url);
    mapi_switchmsg_clear(&h->switchmsg);
    memset(h, 0, sizeof *h);
}

void mapi_handover_drop(mapi_profile *p)
{
    mapi_service *h = &p->handover;
    for (size_t i = 0; i < h->n; i++) {
        free(h->keys[i]);
        free(h->values[i]);
    }
    free(h->keys);
    free(h->values);
    free(h->name);
    memset(h, 0, sizeof *h);
}

/* ---- text forms ------------------------------------------------------------ */

static void fmt_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "invalid");
}

/* Exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC), as the profile's updated-at. */
static int parse_time(const char *s, int64_t *out)
{
    struct tm tm = { 0 };
    int n = 0;
    if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
                                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
        n != 20 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

static const char *get(const mapi_service *h, const char *key)
{
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->keys[i], key))
            return h->values[i];
    return NULL;
}

/* ---- writing ---------------------------------------------------------------- */

sr_code mapi_handover_put(mapi_profile *p, const mapi_handover *h, sr_err *err)
{
    if (!h->mailbox || !h->ews_url)
        return sr_err_set(err, SR_E_INVALID, "handover: no mailbox or EWS URL");
    sr_code rc = mapi_switchmsg_validate(&h->switchmsg, err);
    if (rc != SR_OK)
        return rc;
    mapi_handover_drop(p);
    mapi_service *s = &p->handover;
    if (!(s->name = sr_strdup("handover")))
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    const mapi_switchmsg *m = &h->switchmsg;
    char when[32], ver[16], sm_when[32];
    fmt_time(h->learned_at, when);
    snprintf(ver, sizeof ver, "%d", m->version);
    fmt_time(m->created_at, sm_when);
    struct { const char *k, *v; } kv[] = {
        { "version", "1" },   /* MAPI_HANDOVER_VERSION */
        { "learned-at", when },
        { "mailbox", h->mailbox },
        { "ews-url", h->ews_url },
        { "access", h->impersonate ? "impersonation" : "explicit" },
        { "switchmsg-version", ver },
        { "switchmsg-target-smtp", m->target_smtp },
        { "switchmsg-target-legacy-dn", m->target_legacy_dn },
        { "switchmsg-target-is-o365", m->target_is_o365 ? "1" : "0" },
        { "switchmsg-created-by", m->created_by },
        { "switchmsg-created-at", m->created_at ? sm_when : NULL },
        { "switchmsg-write", h->write ? "create" : NULL },
    };
    for (size_t i = 0; rc == SR_OK && i < sizeof kv / sizeof kv[0]; i++)
        if (kv[i].v)
            rc = mapi_service_set(s, kv[i].k, kv[i].v, err);
    if (rc != SR_OK)
        mapi_handover_drop(p);
    return rc;
}

/* ---- reading ---------------------------------------------------------------- */

static sr_code bad(sr_err *err, const char *what, const char *value)
{
    return sr_err_set(err, SR_E_PARSE, "[handover] %s: '%.120s' is not valid", what,
                      value ? value : "(missing)");
}

static sr_code read_switchmsg(const mapi_service *h, mapi_switchmsg *m, sr_err *err)
{
    const char *ver = get(h, "switchmsg-version"), *o365 = get(h, "switchmsg-target-is-o365");
    const char *at = get(h, "switchmsg-created-at"), *smtp = get(h, "switchmsg-target-smtp");
    const char *dn = get(h, "switchmsg-target-legacy-dn"), *by = get(h, "switchmsg-created-by");
    char *end = NULL;
    long v = ver ? strtol(ver, &end, 10) : 0;
    if (!ver || !*ver || *end || v < 0 || v > 100)
        return bad(err, "switchmsg-version", ver);
    m->version = (int)v;
    if (!o365 || (strcmp(o365, "0") && strcmp(o365, "1")))
        return bad(err, "switchmsg-target-is-o365", o365);
    m->target_is_o365 = o365[0] == '1';
    if (at && parse_time(at, &m->created_at) != 0)
        return bad(err, "switchmsg-created-at", at);
    if ((smtp && !(m->target_smtp = sr_strdup(smtp))) || (dn && !(m->target_legacy_dn = sr_strdup(dn))) ||
        (by && !(m->created_by = sr_strdup(by))))
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_code rc = mapi_switchmsg_validate(m, err);
    if (rc != SR_OK)
        sr_err_prefix(err, "[handover] ");
    return rc;
}

/* Whether h may stand for a's mailbox at now; SR_E_INVALID says why not. */
static sr_code trusted(const mapi_handover *h, const mapi_account *a, int64_t now, sr_err *err)
{
    if (!a || !a->smtp || !sr_streq_ci(h->mailbox, a->smtp))
        return sr_err_set(err, SR_E_INVALID, "[handover] is for %s, not for this profile's %s",
                          h->mailbox, a && a->smtp ? a->smtp : "(no account)");
    if (!a->ews_url || strcmp(h->ews_url, a->ews_url) != 0)
        return sr_err_set(err, SR_E_INVALID, "[handover] names EWS %s, the profile %s", h->ews_url,
                          a->ews_url ? a->ews_url : "none");
    /* a clock step backwards must not make an old hand-over look young */
    if (h->learned_at > now + MAPI_HANDOVER_SKEW_S)
        return sr_err_set(err, SR_E_INVALID, "[handover] learned %lld s in the future",
                          (long long)(h->learned_at - now));
    if (now - h->learned_at > MAPI_HANDOVER_MAX_AGE_S)
        return sr_err_set(err, SR_E_INVALID, "[handover] is %lld s old (at most %d s are trusted)",
                          (long long)(now - h->learned_at), MAPI_HANDOVER_MAX_AGE_S);
    return SR_OK;
}

static sr_code parse(const mapi_service *h, mapi_handover *out, sr_err *err)
{
    const char *ver = get(h, "version"), *when = get(h, "learned-at"), *acc = get(h, "access");
    const char *mbx = get(h, "mailbox"), *url = get(h, "ews-url");
    if (!ver || strcmp(ver, "1") != 0)
        return sr_err_set(err, SR_E_PARSE, "[handover] version '%.40s': only version 1 is known",
                          ver ? ver : "(missing)");
    if (!when || parse_time(when, &out->learned_at) != 0)
        return bad(err, "learned-at", when);
    if (!acc || (strcmp(acc, "impersonation") && strcmp(acc, "explicit")))
        return bad(err, "access", acc);
    out->impersonate = !strcmp(acc, "impersonation");
    if (!mbx || !strchr(mbx, '@'))
        return bad(err, "mailbox", mbx);
    if (!url || (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)))
        return bad(err, "ews-url", url);
    const char *wr = get(h, "switchmsg-write");
    if (wr && strcmp(wr, "create") != 0)
        return bad(err, "switchmsg-write", wr);
    out->write = wr != NULL;
    if (!(out->mailbox = sr_strdup(mbx)) || !(out->ews_url = sr_strdup(url)))
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    return read_switchmsg(h, &out->switchmsg, err);
}

sr_code mapi_handover_take(const mapi_profile *p, const mapi_account *a, int64_t now,
                           mapi_handover *out, sr_err *err)
{
    memset(out, 0, sizeof *out);
    if (!p->handover.n)
        return sr_err_set(err, SR_E_NOTFOUND, "no [handover] in the profile");
    sr_code rc = parse(&p->handover, out, err);
    if (rc == SR_OK)
        rc = trusted(out, a, now, err);
    if (rc != SR_OK)
        mapi_handover_clear(out);
    return rc;
}
