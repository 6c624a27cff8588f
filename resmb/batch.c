/* batch.c — the mailbox list chunk by chunk and the parent's batched reads
 * (run_int.h): journal states, one directory batch and one EWS batch for the
 * switch messages per chunk. */
#include "resmb/run_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

size_t resmb_next_chunk(resmb_cursor *c, resmb_mb *out, size_t max)
{
    size_t n = 0;
    while (n < max && c->list < 2) {
        const cfg_list *l = c->list == 0 ? &c->cfg->mailboxes : &c->cfg->mailboxes_smtp;
        if (c->i >= l->n) {
            c->list++;
            c->i = 0;
            continue;
        }
        resmb_mb *m = &out[n++];
        memset(m, 0, sizeof *m);
        m->key = l->v[c->i].value;
        m->line = l->v[c->i].line;
        m->section = c->list == 0 ? "Mailboxes" : "MailboxesSMTP";
        if (c->list == 1 && c->i < c->cfg->target_mailboxes_smtp.n)
            m->target_given = c->cfg->target_mailboxes_smtp.v[c->i].value;
        c->i++;   /* no key twice: configs refuses a list with duplicates */
    }
    return n;
}

void resmb_chunk_states(resmb_run *run, resmb_mb *mb, size_t n)
{
    sr_err e;
    sm_journal *j = access(run->journal_path, F_OK) == 0 || !run->o->dry_run
                        ? sm_journal_open(run->journal_path, &e) : NULL;
    for (size_t i = 0; i < n; i++) {
        mb[i].state_before = j ? sm_state_of(j, mb[i].key, &e) : -1;
        /* DONE may still be pending: a run killed inside the last action
         * (deleting the temporary profile).  sm_run finishes it here (no
         * network) and does nothing for a mailbox that is really done. */
        if (mb[i].state_before == MB_DONE && !run->o->dry_run) {
            resmb_actx a = { .run = run, .mb = &mb[i] };
            if (sm_run(run->def, j, mb[i].key, &a, NULL, NULL, &e) != SR_OK)
                sr_log(SR_LOG_ERROR, mb[i].key, "%s", e.msg);
        }
    }
    sm_journal_close(j);
}

/* [AD] DCPassword again, for a reconnect (the directory handle keeps none). */
static sr_code dc_password_again(void *arg, char **out, sr_err *err)
{
    return cfg_resmb_dc_password(arg, out, err);
}

void resmb_connect_dir(const resmb_run *run, resmb_shared *sh)
{
    const cfg_resmb *c = run->cfg;
    if (!c->ad.present) {
        snprintf(sh->dir_msg, sizeof sh->dir_msg, "no [AD] section in %s: a [Mailboxes] entry "
                 "(legacyExchangeDN) needs the directory; list SMTP addresses under "
                 "[MailboxesSMTP] instead", c->path);
        return;
    }
    sr_err e;
    char *pw = NULL;
    if (cfg_resmb_dc_password(c, &pw, &e) != SR_OK) {
        snprintf(sh->dir_msg, sizeof sh->dir_msg, "%s", e.msg);
        return;
    }
    const char *ca = getenv("LDAPTLS_CACERT");
    if (!ca || !*ca)
        ca = getenv("TLS_CACERT");
    /* a connection lost mid-run is made again by ldap/ (issue 11), bounded;
     * what stays unanswered fails naming the directory */
    ldapdir_opts o = { .dc = c->ad.dc_name, .account = c->ad.dc_account, .password = pw,
                       .ca_file = ca && *ca ? ca : NULL, .mapping_attr = run->o->mapping_attr,
                       .reconnects = LDAPDIR_RECONNECTS, .password_again = dc_password_again,
                       .password_arg = (void *)c };
    if (ldapdir_connect(&o, &sh->dir, &e) != SR_OK) {
        snprintf(sh->dir_msg, sizeof sh->dir_msg, "directory: %s", e.msg);
        sh->dir = NULL;
    } else {
        sr_log(SR_LOG_INFO, NULL, "directory %s: naming context %s, configuration %s",
               ldapdir_dc(sh->dir), ldapdir_base(sh->dir), ldapdir_config_base(sh->dir));
    }
    sr_secret_free(pw);
}

/* ---- one directory object, listed twice under different keys -------------
 * [Mailboxes] by legacyDN and [MailboxesSMTP] by an address or alias may name
 * the same mailbox; it is processed once, for the first entry in file order
 * (chunks come in that order).  DONE entries are resolved too, so a rerun
 * still knows which object an earlier run processed. */

struct resmb_seen {
    char *dn;                /* lower-cased; NULL: free slot */
    const char *section, *key;
    int line;
};

static size_t seen_slot(const resmb_shared *sh, const char *dn)
{
    size_t h = 1469598103934665603ull;
    for (const char *p = dn; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    size_t i = h & (sh->seen_cap - 1);
    while (sh->seen[i].dn && strcmp(sh->seen[i].dn, dn) != 0)
        i = (i + 1) & (sh->seen_cap - 1);
    return i;
}

static int seen_grow(resmb_shared *sh)
{
    size_t cap = sh->seen_cap ? sh->seen_cap * 2 : 256;
    struct resmb_seen *old = sh->seen;
    size_t old_cap = sh->seen_cap;
    if (!(sh->seen = calloc(cap, sizeof *sh->seen))) {
        sh->seen = old;
        return -1;
    }
    sh->seen_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].dn)
            sh->seen[seen_slot(sh, old[i].dn)] = old[i];
    free(old);
    return 0;
}

/* "[Section] line N (key)" of the first entry naming dn (heap), or NULL
 * after recording m as that entry. */
static char *seen_first(resmb_shared *sh, const char *dn, const resmb_mb *m)
{
    char *low = sr_strdup(dn);
    if (!low || ((sh->seen_n + 1) * 2 > sh->seen_cap && seen_grow(sh) != 0)) {
        free(low);
        return NULL;   /* out of memory: no duplicate detection, never a wrong one */
    }
    for (char *p = low; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    struct resmb_seen *e = &sh->seen[seen_slot(sh, low)];
    if (e->dn) {
        free(low);
        return sr_asprintf("[%s] line %d (%s)", e->section, e->line, e->key);
    }
    *e = (struct resmb_seen){ .dn = low, .section = m->section, .key = m->key, .line = m->line };
    sh->seen_n++;
    return NULL;
}

void resmb_seen_free(resmb_shared *sh)
{
    for (size_t i = 0; i < sh->seen_cap; i++)
        free(sh->seen[i].dn);
    free(sh->seen);
    sh->seen = NULL;
    sh->seen_cap = sh->seen_n = 0;
}

static void resolve_chunk(resmb_shared *sh, resmb_mb *mb, size_t n)
{
    const char **keys = calloc(n, sizeof *keys);
    ldapdir_result *res = calloc(n, sizeof *res);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        keys[k++] = mb[i].key;
    sr_err e;
    if (sh->dir && keys && res && k)
        (void)ldapdir_resolve(sh->dir, keys, k, res, &e);   /* failures: per key, in res */
    for (size_t i = 0, r = 0; i < n; i++) {
        resmb_mb *m = &mb[i];
        ldapdir_result *x = res ? &res[r++] : NULL;
        if (x && sh->dir && ldapdir_outcome_of(x, 0) == LDAPDIR_OUT_OK) {
            char *first = seen_first(sh, x->rcpt->dn, m);
            if (first && m->state_before != MB_DONE) {
                m->dup_of = first;
                continue;
            }
            free(first);
        }
        if (m->state_before == MB_DONE)
            continue;
        m->ad_bits = RESMB_EXIT_FAILED;
        if (!sh->dir || !x) {
            snprintf(m->ad_msg, sizeof m->ad_msg, "%s", sh->dir_msg);
            continue;
        }
        ldapdir_outcome out = ldapdir_outcome_of(x, 0);
        if (out != LDAPDIR_OUT_OK) {   /* ad_bits stays RESMB_EXIT_FAILED: skipped, others go on */
            snprintf(m->ad_msg, sizeof m->ad_msg, "[%s] line %d: %s: %s", m->section, m->line,
                     ldapdir_outcome_name(out), x->msg[0] ? x->msg : "not resolved");
            continue;
        }
        const ldapdir_recipient *rc = x->rcpt;
        if (!rc->primary_smtp) {
            snprintf(m->ad_msg, sizeof m->ad_msg, "[%s] line %d: %s has no primary SMTP address "
                     "in the directory", m->section, m->line, rc->dn);
            continue;
        }
        m->smtp = sr_strdup(rc->primary_smtp);
        m->legacy_dn = rc->legacy_dn ? sr_strdup(rc->legacy_dn) : NULL;
        m->display_name = rc->display_name ? sr_strdup(rc->display_name) : NULL;
        const char *t = ldapdir_target_smtp(rc);
        m->target_smtp = t ? sr_strdup(t) : NULL;
        if (rc->has_mailbox_guid) {
            mapi_guid g;
            char txt[MAPI_GUID_STRLEN + 1];
            memcpy(g.b, rc->mailbox_guid, 16);
            mapi_guid_format(&g, txt);
            const char *dom = strchr(m->smtp, '@');
            m->home_guid = sr_asprintf("%s@%s", txt, dom ? dom + 1 : "");
        }
        m->ad_ok = 1;
    }
    free(keys);
    free(res);
}

/* http(s)://host[:port]/EWS/Exchange.asmx from an Autodiscover URL. */
static char *ews_from_ad_url(const char *url)
{
    const char *h = url ? strstr(url, "://") : NULL;
    if (!h)
        return NULL;
    size_t hl = strcspn(h + 3, "/");
    return sr_asprintf("%.*s/EWS/Exchange.asmx", (int)(h + 3 + hl - url), url);
}

/* The Autodiscover URLs the directory publishes (SCP), when [AD] is there
 * and no AutodiscoverSourceURL is configured: Outlook tries them before the
 * URLs it guesses from the SMTP domain.  NULL when none. */
static char **scp_urls(const resmb_run *run, resmb_shared *sh)
{
    char **urls = NULL;
    size_t n = 0;
    sr_err e;
    if (!sh->dir || run->cpuu->autodiscover_source_url)
        return NULL;
    if (ldapdir_scp_autodiscover(sh->dir, NULL, &urls, &n, &e) != SR_OK) {
        sr_log(SR_LOG_WARN, NULL, "Autodiscover SCP lookup in the directory: %s", e.msg);
        return NULL;
    }
    sr_log(SR_LOG_NOTICE, NULL, "Autodiscover SCP: %zu URL(s) in the directory%s%s", n,
           n ? ", first " : "", n ? urls[0] : "");
    return urls;
}

/* The source Autodiscover handle (made once). */
static mapi_ad *src_ad(resmb_run *run, resmb_shared *sh, sr_err *e)
{
    if (!sh->src_ad) {
        char **scp = scp_urls(run, sh);
        mapi_ad_opts o = { .side = "source",
                           .configured_url = run->cpuu->autodiscover_source_url,
                           .scp_urls = (const char *const *)scp,
                           .no_domain_candidates = run->cpuu->autodiscover_source_url != NULL,
                           .use_local_xml = run->cpuu->use_local_autodiscover_xmls,
                           .skip_checking = run->cpuu->skip_autodiscover_checking };
        sh->src_ad = mapi_ad_new(sh->src_net, &o, e);
        sr_strv_free(scp);
    }
    return sh->src_ad;
}

/* Without [AD] (the spec's third SwitchResMB.ini example): a [MailboxesSMTP]
 * mailbox's legacyExchangeDN, display name and server come from the source
 * Autodiscover, one request per mailbox (POX takes one address at a time).
 * A redirected answer describes another mailbox, so it is refused. */
static void resolve_by_autodiscover(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n)
{
    sr_err e;
    for (size_t i = 0; i < n; i++) {
        resmb_mb *m = &mb[i];
        if (m->state_before == MB_DONE || strcmp(m->section, "MailboxesSMTP") != 0)
            continue;
        const mapi_ad_result *r;
        if (!src_ad(run, sh, &e) || mapi_ad_discover(sh->src_ad, m->key, &r, &e) != SR_OK) {
            snprintf(m->ad_msg, sizeof m->ad_msg, "[%s] line %d: no [AD] section, and the source "
                     "Autodiscover failed: %s", m->section, m->line, e.msg);
            continue;
        }
        if (r->redirects || !r->legacy_dn) {
            snprintf(m->ad_msg, sizeof m->ad_msg, "[%s] line %d: no [AD] section, and the source "
                     "Autodiscover %s%s: add [AD] so the directory can name the source mailbox",
                     m->section, m->line, r->redirects ? "redirects it to " : "gives no LegacyDN",
                     r->redirects && r->smtp ? r->smtp : "");
            continue;
        }
        m->smtp = sr_strdup(m->key);
        m->legacy_dn = sr_strdup(r->legacy_dn);
        m->display_name = r->display_name ? sr_strdup(r->display_name) : NULL;
        m->home_guid = r->server ? sr_strdup(r->server) : NULL;
        m->ad_ok = m->smtp && m->legacy_dn;
        if (m->ad_ok && !run->src_ews_url && r->ews_url)
            run->src_ews_url = sr_strdup(r->ews_url);
    }
}

static void resolve_without_dir(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (mb[i].state_before == MB_DONE)
            continue;
        mb[i].ad_bits = RESMB_EXIT_FAILED;
        snprintf(mb[i].ad_msg, sizeof mb[i].ad_msg, "%s", sh->dir_msg);
    }
    if (!run->cfg->ad.present)
        resolve_by_autodiscover(run, sh, mb, n);
}

void resmb_resolve_batch(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n)
{
    if (sh->dir)
        resolve_chunk(sh, mb, n);
    else
        resolve_without_dir(run, sh, mb, n);
    resmb_target_preflight(run, mb, n);
}

/* The source EWS endpoint: Autodiscover of the first mailbox the batch
 * resolved (once per run, as long as none has answered).  A migrated
 * mailbox's Autodiscover redirects to its target address: the source
 * cannot name its own server for it, and asking the source about the
 * target address would cost a round trip for nothing, so the probe ends at
 * a redirectAddr (a redirectUrl or a 302 still leads to the answer for the
 * same address and is followed).  That outcome is expected: the probe's
 * own lines go at DEBUG (its part only, not also's), and it is logged once
 * below.  also: more searches (the batch's target Autodiscover,
 * target_batch.c) sent in the same steps, or NULL.  Returns 1 when a probe
 * was due (sent, or nothing to send it for). */
int resmb_src_probe(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n, mapi_ad_ask *also)
{
    sr_err e;
    if (run->src_ews_url)
        return 0;
    if (!src_ad(run, sh, &e)) {
        sr_log(SR_LOG_ERROR, NULL, "source Autodiscover: %s", e.msg);
        if (also)
            (void)mapi_ad_discover_sides(also, 1);
        return 1;
    }
    size_t i = 0;
    while (i < n && !mb[i].ad_ok)
        i++;
    int tries = i < n;
    const char *addr = tries ? mb[i].smtp : NULL;
    mapi_ad_result *r = NULL;
    char *redirected = NULL;
    sr_err pe;
    mapi_ad_ask asks[2] = { { .ad = sh->src_ad, .addrs = &addr, .n = tries, .outs = &r, .errs = &pe,
                              .stop_at_redirect_addr = 1, .redirected = &redirected,
                              .quiet = sr_log_get_level() < SR_LOG_DEBUG } };
    if (also)
        asks[1] = *also;
    if (tries || also)
        (void)mapi_ad_discover_sides(asks + !tries, (size_t)tries + (also != NULL));
    /* an answer is for addr itself (a redirectAddr ends the search): a
     * redirectUrl or 302 on the way only moved to another URL; but one the
     * handle had cached from a search that followed redirectAddr is not */
    char probe[1100] = "";
    if (tries && !redirected && r && r->redirects && r->smtp && !sr_streq_ci(r->smtp, addr))
        redirected = sr_strdup(r->smtp);
    if (tries && redirected)
        snprintf(probe, sizeof probe, "%.200s is redirected to %.200s", addr, redirected);
    else if (tries && !r)
        snprintf(probe, sizeof probe, "%.1000s", pe.msg);
    else if (tries && r->ews_url)
        run->src_ews_url = sr_strdup(r->ews_url);
    mapi_ad_result_free(r);
    free(redirected);
    /* [RPCOverHTTP] ProxyServer names the source's Exchange front end */
    mapi_account oa = { .rpc = { .enabled = run->cfg->rpc.present && run->cfg->rpc.connect_using_http,
                                 .proxy_server = run->cfg->rpc.proxy_server } };
    char *fallback = tries && !run->src_ews_url ? mapi_account_fallback_ews_url(&oa) : NULL;
    if (fallback) {
        run->src_ews_url = fallback;
        sr_log(SR_LOG_NOTICE, NULL, "source EWS endpoint of the Outlook Anywhere host "
               "([RPCOverHTTP] ProxyServer): %s (Autodiscover did not name the source server: %s)",
               fallback, probe);
    } else if (!run->src_ews_url && run->cpuu->autodiscover_source_url && tries) {
        run->src_ews_url = ews_from_ad_url(run->cpuu->autodiscover_source_url);
        sr_log(SR_LOG_NOTICE, NULL, "source EWS endpoint taken from AutodiscoverSourceURL: %s "
               "(Autodiscover did not name the source server: %s)", run->src_ews_url, probe);
    } else if (!run->src_ews_url && tries) {
        sr_log(SR_LOG_ERROR, NULL, "no source EWS endpoint: %s; set AutodiscoverSourceURL in "
               "CPUU.ini", probe);
    }
    if (run->src_ews_url)
        sr_log(SR_LOG_INFO, NULL, "source EWS endpoint %s", run->src_ews_url);
    return 1;
}

void resmb_read_chunk(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n)
{
    if (sh->probed)   /* the batch's Autodiscover step probed already (resmb_ad_step) */
        sh->probed = 0;
    else
        (void)resmb_src_probe(run, sh, mb, n, NULL);
    mapi_session **s = calloc(n, sizeof *s);
    size_t *idx = calloc(n, sizeof *idx);
    size_t k = 0;
    sr_err e;
    for (size_t i = 0; s && idx && i < n; i++) {
        resmb_mb *m = &mb[i];
        /* NEW (-1), QUEUED, RESOLVED, SWITCHMSG_READY (its action may be the one
         * a killed run left pending), and FAILED (retried from the start) */
        int need = m->state_before <= MB_SWITCHMSG_READY || m->state_before == MB_FAILED;
        if (!need || !m->ad_ok)
            continue;
        if (!run->src_ews_url) {
            snprintf(m->read_msg, sizeof m->read_msg, "no source EWS endpoint (set "
                     "AutodiscoverSourceURL in CPUU.ini)");
            continue;
        }
        mapi_session_opts so = { .mailbox = m->smtp, .ews_url = run->src_ews_url, .impersonate = 1 };
        if (!(s[k] = mapi_session_logon(sh->src_net, &so, &e))) {
            snprintf(m->read_msg, sizeof m->read_msg, "%s", e.msg);
            continue;
        }
        idx[k++] = i;
    }
    if (k) {
        mapi_switchmsg *msgs = calloc(k, sizeof *msgs);
        sr_err *sme = calloc(k, sizeof *sme), *errs = calloc(k, sizeof *errs);
        if (msgs && sme && errs) {
            /* the switch messages only: the engine reads the folder tree it
             * needs with its first reads, in the same round trip (issue 13) */
            mapi_session_open_many(s, k, NULL, msgs, sme, errs);
            for (size_t j = 0; j < k; j++) {
                resmb_mb *m = &mb[idx[j]];
                m->read_done = 1;
                if (errs[j].code != SR_OK) {
                    /* e.g. ErrorNonExistentMailbox is SR_E_NOTFOUND too: not
                     * "no switch message", the mailbox is missing */
                    m->read_open_failed = 1;
                    m->read_code = errs[j].code;
                    m->read_cls = errs[j].cls;
                    snprintf(m->read_msg, sizeof m->read_msg, "%s", errs[j].msg);
                } else {
                    m->read_code = sme[j].code;
                    snprintf(m->read_msg, sizeof m->read_msg, "%s", sme[j].msg);
                    m->existing = msgs[j];
                    m->existing_current = sme[j].code == SR_OK;
                    m->existing_at = (int64_t)time(NULL);
                    memset(&msgs[j], 0, sizeof msgs[j]);
                }
                mapi_switchmsg_clear(&msgs[j]);
            }
        }
        free(msgs);
        free(sme);
        free(errs);
    }
    for (size_t j = 0; j < k; j++)
        mapi_session_free(s[j]);
    free(s);
    free(idx);
}
