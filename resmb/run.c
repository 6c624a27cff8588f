/* run.c — one switchresmb run: set-up (CPUU.ini, engine, credentials,
 * journal, lock), the mailbox list in chunks, the batched directory and
 * mailbox reads per chunk, the worker pool that drives each mailbox through
 * the workflow, and the report with the exit bits.
 *
 * Performance model: per chunk of RESMB_CHUNK mailboxes, one batched set of
 * LDAP searches (ldapdir_resolve) and one concurrent EWS batch
 * (mapi_session_open_many); memory holds one chunk, never the whole list.
 * Workers are forked processes (--jobs); the parent holds no journal handle
 * while workers run (SQLite connections must not cross a fork). */
#include "resmb/resmb.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ldap/ldap_dir.h"

#define RESMB_CHUNK 50
#define RESMB_MAX_JOBS 32

static volatile sig_atomic_t g_stop;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

void resmb_mb_clear(resmb_mb *m)
{
    free(m->smtp);
    free(m->legacy_dn);
    free(m->display_name);
    free(m->home_guid);
    free(m->target_smtp);
    mapi_switchmsg_clear(&m->existing);
    memset(m, 0, sizeof *m);
}

/* ---- the report: lines collect in a temporary file, printed at the end -- */
typedef struct report {
    FILE *f;                 /* per-mailbox lines */
    unsigned bits;           /* OR over the mailboxes */
    unsigned n, done_now, done_before, failed, pending, profile_fail;
} report;

static void report_line(report *r, const char *who, int state, unsigned bits, const char *why)
{
    fprintf(r->f, "  %-44s %-15s exit %-3u %s\n", who, resmb_state_name(state), bits,
            why && *why ? why : "");
    r->n++;
    r->bits |= bits;
    if (bits & RESMB_EXIT_ONE_PROFILE)
        r->profile_fail++;
}

static void describe_bits(FILE *out, unsigned bits)
{
    static const struct { unsigned bit; const char *what; } names[] = {
        { RESMB_EXIT_FAILED, "processing failed with errors" },
        { RESMB_EXIT_CMDLINE, "incorrect command line" },
        { RESMB_EXIT_INI, "incorrect INI parameters" },
        { RESMB_EXIT_ONE_PROFILE, "unable to create one profile" },
        { RESMB_EXIT_ALL_PROFILES, "unable to create all profiles" },
        { RESMB_EXIT_CPUU_CMDLINE, "incorrect CPUU command line" },
        { RESMB_EXIT_CPUU_START, "unable to start CPUU for updating" },
        { RESMB_EXIT_CPUU_CLEANUP, "unable to start CPUU for cleanup" },
    };
    if (!bits) {
        fputs("processing successfully completed", out);
        return;
    }
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (bits & names[i].bit) {
            fprintf(out, "%s%u %s", sep, names[i].bit, names[i].what);
            sep = ", ";
        }
}

/* ---- set-up ----------------------------------------------------------------- */

static char *dir_of(const char *path)
{
    char *c = sr_strdup(path);
    char *d = c ? sr_strdup(dirname(c)) : NULL;
    free(c);
    return d;
}

static char *abs_path(const char *p)
{
    char buf[PATH_MAX];
    return realpath(p, buf) ? sr_strdup(buf) : sr_strdup(p);
}

static int setup_engine(resmb_run *run)
{
    const cfg_resmb *c = run->cfg;
    const resmb_opts *o = run->o;
    static const char *const reserved[] = { "-Profiles", "-Cleanup", "-Undo", "-UndoAll",
                                            "-DefaultProfile", "-UndoDefaultProfile" };
    const char *ini = NULL;
    for (size_t i = 0; i < c->settings.cpuu_argc; i++) {
        const char *t = c->settings.cpuu_argv[i];
        for (size_t k = 0; k < sizeof reserved / sizeof reserved[0]; k++)
            if (sr_streq_ci(t, reserved[k])) {
                sr_log(SR_LOG_ERROR, c->path, "line %d: [Settings] CPUUCmdLine: %s is chosen by "
                       "switchresmb for each mailbox; remove it (exit code 32)",
                       c->settings.cpuu_cmdline_line, t);
                return RESMB_EXIT_CPUU_CMDLINE;
            }
        if (sr_streq_ci(t, "-INI")) {
            if (i + 1 >= c->settings.cpuu_argc) {
                sr_log(SR_LOG_ERROR, c->path, "line %d: [Settings] CPUUCmdLine: -INI without a "
                       "file (exit code 32)", c->settings.cpuu_cmdline_line);
                return RESMB_EXIT_CPUU_CMDLINE;
            }
            ini = c->settings.cpuu_argv[i + 1];
        }
    }
    char *dir = dir_of(c->path);
    run->cpuu_ini_path = ini ? abs_path(ini) : sr_asprintf("%s/CPUU.ini", dir);
    free(dir);
    /* the engine binary */
    const char *env = getenv("SWITCHRESMB_CPUU");
    if (o->cpuu_path) {
        run->cpuu_bin = sr_strdup(o->cpuu_path);
    } else if (env && *env) {
        run->cpuu_bin = sr_strdup(env);
    } else {
        char self[PATH_MAX];
        ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
        self[l > 0 ? l : 0] = '\0';
        char *d = dir_of(l > 0 ? self : ".");
        run->cpuu_bin = sr_asprintf("%s/cpuu", d);
        free(d);
    }
    run->engine_argv = calloc(c->settings.cpuu_argc + 4, sizeof *run->engine_argv);
    if (!run->engine_argv || !run->cpuu_bin || !run->cpuu_ini_path)
        return RESMB_EXIT_FAILED;
    size_t n = 0;
    run->engine_argv[n++] = run->cpuu_bin;
    for (size_t i = 0; i < c->settings.cpuu_argc; i++)
        run->engine_argv[n++] = c->settings.cpuu_argv[i];
    if (!ini) {
        run->engine_argv[n++] = "-INI";
        run->engine_argv[n++] = run->cpuu_ini_path;
    }
    run->engine_argc = n;
    return 0;
}

static int setup_cpuu_ini(resmb_run *run)
{
    cfg_diag d;
    sr_err e;
    if (access(run->cpuu_ini_path, R_OK) != 0) {
        sr_log(SR_LOG_ERROR, run->cfg->path, "CPUU.ini %s: %s (give it with -INI in CPUUCmdLine "
               "or put it beside SwitchResMB.ini; exit code 4)", run->cpuu_ini_path,
               strerror(errno));
        return RESMB_EXIT_INI;
    }
    if (!(run->cpuu = cfg_cpuu_load(run->cpuu_ini_path, &d, &e)))
        return resmb_exit_for_diag(&d);
    const cfg_cpuu *cp = run->cpuu;
    if (!cp->admin || !cp->password) {
        sr_log(SR_LOG_ERROR, cp->path, "[Parameters] Admin/Password: switchresmb reads and writes "
               "switch messages with these credentials; set both (exit code 4)");
        return RESMB_EXIT_INI;
    }
    if (cfg_secret_decrypt(cp->password, &run->admin_pw, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, cp->path, "line %d: [Parameters] Password: %s (exit code 4)",
               cp->password_line, e.msg);
        return RESMB_EXIT_INI;
    }
    run->admin = sr_strdup(cp->admin);
    if (cp->admin_trg && cp->password_trg) {
        if (cfg_secret_decrypt(cp->password_trg, &run->admin_trg_pw, &e) != SR_OK) {
            sr_log(SR_LOG_ERROR, cp->path, "line %d: [Parameters] PasswordTrg: %s (exit code 4)",
                   cp->password_trg_line, e.msg);
            return RESMB_EXIT_INI;
        }
        run->admin_trg = sr_strdup(cp->admin_trg);
    }
    return 0;
}

/* FNV-1a 64 of the absolute path: one journal per SwitchResMB.ini. */
static unsigned long long path_hash(const char *p)
{
    unsigned long long h = 1469598103934665603ULL;
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static char *default_state_dir(void)
{
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (x && *x == '/')
        return sr_asprintf("%s/switchresmb", x);
    return sr_asprintf("%s/.local/state/switchresmb", home && *home ? home : "/tmp");
}

static int setup_files(resmb_run *run, char **state_dir_out, char **stem_out)
{
    sr_err e;
    char *sd = run->o->state_dir ? sr_strdup(run->o->state_dir) : default_state_dir();
    char *absini = abs_path(run->cfg->path);
    if (!sd || !absini || sr_mkdir_p(sd, 0700, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, sd, "state directory: %s", sd ? e.msg : "out of memory");
        free(sd);
        free(absini);
        return RESMB_EXIT_FAILED;
    }
    char *stem = sr_asprintf("%s/%016llx", sd, path_hash(absini));
    run->journal_path = sr_asprintf("%s.journal", stem);
    run->report_path = sr_asprintf("%s.report.txt", stem);
    free(absini);
    *state_dir_out = sd;
    *stem_out = stem;
    /* the engine and we share one profile store */
    mapi_pstore *st = mapi_pstore_open(NULL, 0, &e);
    if (!st) {
        sr_log(SR_LOG_ERROR, NULL, "profile store: %s", e.msg);
        return RESMB_EXIT_ONE_PROFILE | RESMB_EXIT_ALL_PROFILES;
    }
    run->profile_dir = sr_strdup(mapi_pstore_dir(st));
    mapi_pstore_free(st);
    return 0;
}

/* Only one run per SwitchResMB.ini at a time (cron overlaps). fd kept open. */
static int take_lock(const char *stem, int *fd_out)
{
    char *path = sr_asprintf("%s.lock", stem);
    int fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        sr_log(SR_LOG_ERROR, path, "another switchresmb run is processing this SwitchResMB.ini "
               "(lock held); nothing done");
        if (fd >= 0)
            close(fd);
        free(path);
        return RESMB_EXIT_FAILED;
    }
    free(path);
    *fd_out = fd;
    return 0;
}

static int count_pending(const char *object, int state, unsigned bits, void *arg)
{
    (void)object;
    (void)bits;
    if (state != MB_DONE && state != MB_FAILED)
        (*(unsigned *)arg)++;
    return 0;
}

/* --restart: set the old journal aside, but only when nothing is mid-way. */
static int restart_journal(resmb_run *run)
{
    if (access(run->journal_path, F_OK) != 0)
        return 0;
    sr_err e;
    sm_journal *j = sm_journal_open(run->journal_path, &e);
    unsigned pending = 0;
    if (!j || sm_foreach(j, count_pending, &pending, &e) != SR_OK) {
        sm_journal_close(j);
        sr_log(SR_LOG_ERROR, run->journal_path, "%s", e.msg);
        return RESMB_EXIT_FAILED;
    }
    sm_journal_close(j);
    if (pending) {
        sr_log(SR_LOG_ERROR, run->journal_path, "--restart refused: %u mailbox(es) are mid-way "
               "(temporary profiles may exist); run once without --restart to finish them",
               pending);
        return RESMB_EXIT_FAILED;
    }
    char *old = sr_asprintf("%s.%ld.old", run->journal_path, (long)time(NULL));
    int r = old && rename(run->journal_path, old) == 0 ? 0 : RESMB_EXIT_FAILED;
    if (r == 0) {
        sr_log(SR_LOG_NOTICE, NULL, "--restart: earlier journal kept as %s", old);
        for (const char *sfx = "-wal"; sfx; sfx = *sfx == '-' && sfx[1] == 'w' ? "-shm" : NULL) {
            char *p = sr_asprintf("%s%s", run->journal_path, sfx);
            if (p)
                unlink(p);
            free(p);
        }
    }
    free(old);
    return r;
}

/* ---- the mailbox list, chunk by chunk ------------------------------------- */
typedef struct cursor {
    const cfg_resmb *cfg;
    int list;                /* 0: [Mailboxes], 1: [MailboxesSMTP], 2: end */
    size_t i;
} cursor;

static size_t next_chunk(cursor *c, resmb_mb *out, size_t max)
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

/* ---- batch 1: the directory ----------------------------------------------- */
typedef struct shared {
    ldapdir *dir;            /* NULL: no [AD] or it failed (dir_msg says why) */
    char dir_msg[1200];
    mapi_net *src_net;       /* the parent's, for the batched reads */
    mapi_ad *src_ad;
    sm_journal *j;
} shared;

static void resolve_chunk(shared *sh, resmb_mb *mb, size_t n)
{
    const char **keys = calloc(n, sizeof *keys);
    ldapdir_result *res = calloc(n, sizeof *res);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (mb[i].state_before != MB_DONE)
            keys[k++] = mb[i].key;
    sr_err e;
    if (sh->dir && keys && res && k)
        ldapdir_resolve(sh->dir, keys, k, res, &e);
    for (size_t i = 0, r = 0; i < n; i++) {
        resmb_mb *m = &mb[i];
        if (m->state_before == MB_DONE)
            continue;
        ldapdir_result *x = res ? &res[r++] : NULL;
        m->ad_bits = RESMB_EXIT_FAILED;
        if (!sh->dir || !x) {
            snprintf(m->ad_msg, sizeof m->ad_msg, "%s", sh->dir_msg);
            continue;
        }
        ldapdir_outcome out = ldapdir_outcome_of(x, 0);
        if (out != LDAPDIR_OUT_OK) {
            m->ad_bits = (unsigned)ldapdir_outcome_exit_bits(out);
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

/* ---- batch 2: the switch messages of the chunk in one EWS round trip ------ */

/* http(s)://host[:port]/EWS/Exchange.asmx from an Autodiscover URL. */
static char *ews_from_ad_url(const char *url)
{
    const char *h = url ? strstr(url, "://") : NULL;
    if (!h)
        return NULL;
    size_t hl = strcspn(h + 3, "/");
    return sr_asprintf("%.*s/EWS/Exchange.asmx", (int)(h + 3 + hl - url), url);
}

/* The source Autodiscover handle (made once). */
static mapi_ad *src_ad(resmb_run *run, shared *sh, sr_err *e)
{
    if (!sh->src_ad) {
        mapi_ad_opts o = { .side = "source",
                           .configured_url = run->cpuu->autodiscover_source_url,
                           .no_domain_candidates = run->cpuu->autodiscover_source_url != NULL,
                           .use_local_xml = run->cpuu->use_local_autodiscover_xmls,
                           .skip_checking = run->cpuu->skip_autodiscover_checking };
        sh->src_ad = mapi_ad_new(sh->src_net, &o, e);
    }
    return sh->src_ad;
}

/* Without [AD] (the spec's third SwitchResMB.ini example): a [MailboxesSMTP]
 * mailbox's legacyExchangeDN, display name and server come from the source
 * Autodiscover, one request per mailbox (POX takes one address at a time).
 * A redirected answer describes another mailbox, so it is refused. */
static void resolve_by_autodiscover(resmb_run *run, shared *sh, resmb_mb *mb, size_t n)
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

/* No directory: [AD] absent (Autodiscover resolves [MailboxesSMTP]) or its
 * connection failed (every mailbox fails with the reason). */
static void resolve_without_dir(resmb_run *run, shared *sh, resmb_mb *mb, size_t n)
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

/* The source EWS endpoint: Autodiscover of the first mailbox that is not
 * redirected (a migrated mailbox's Autodiscover points at the target). */
static void find_src_ews(resmb_run *run, shared *sh, resmb_mb *mb, size_t n)
{
    sr_err e;
    if (run->src_ews_url)
        return;
    if (!src_ad(run, sh, &e)) {
        sr_log(SR_LOG_ERROR, NULL, "source Autodiscover: %s", e.msg);
        return;
    }
    /* One probe.  A migrated mailbox's Autodiscover redirects to the target,
     * which the client then reports as errors; that is expected here, so the
     * probe's own lines are kept out of the log unless debugging, and its
     * outcome is logged once below. */
    FILE *quiet = sr_log_get_level() < SR_LOG_DEBUG ? fopen("/dev/null", "w") : NULL;
    int tries = 0;
    char probe[1100] = "";
    for (size_t i = 0; i < n && tries < 1 && !run->src_ews_url; i++) {
        if (!mb[i].ad_ok)
            continue;
        tries++;
        const mapi_ad_result *r;
        if (quiet)
            sr_log_set_stream(quiet);
        sr_code rc = mapi_ad_discover(sh->src_ad, mb[i].smtp, &r, &e);
        sr_log_set_stream(stdout);
        if (rc != SR_OK)
            snprintf(probe, sizeof probe, "%.1000s", e.msg);
        else if (r->redirects)
            snprintf(probe, sizeof probe, "%.200s is redirected to %.200s", mb[i].smtp,
                     r->smtp ? r->smtp : "?");
        else if (r->ews_url)
            run->src_ews_url = sr_strdup(r->ews_url);
    }
    if (quiet)
        fclose(quiet);
    if (!run->src_ews_url && run->cpuu->autodiscover_source_url && tries) {
        run->src_ews_url = ews_from_ad_url(run->cpuu->autodiscover_source_url);
        sr_log(SR_LOG_NOTICE, NULL, "source EWS endpoint taken from AutodiscoverSourceURL: %s "
               "(Autodiscover did not name the source server: %s)", run->src_ews_url, probe);
    } else if (!run->src_ews_url && tries) {
        sr_log(SR_LOG_ERROR, NULL, "no source EWS endpoint: %s; set AutodiscoverSourceURL in "
               "CPUU.ini", probe);
    }
    if (run->src_ews_url)
        sr_log(SR_LOG_INFO, NULL, "source EWS endpoint %s", run->src_ews_url);
}

static void read_chunk(resmb_run *run, shared *sh, resmb_mb *mb, size_t n)
{
    find_src_ews(run, sh, mb, n);
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
        mapi_folders *f = calloc(k, sizeof *f);
        mapi_switchmsg *msgs = calloc(k, sizeof *msgs);
        sr_err *sme = calloc(k, sizeof *sme), *errs = calloc(k, sizeof *errs);
        if (f && msgs && sme && errs) {
            mapi_session_open_many(s, k, f, msgs, sme, errs);
            for (size_t j = 0; j < k; j++) {
                resmb_mb *m = &mb[idx[j]];
                m->read_done = 1;
                if (errs[j].code != SR_OK) {
                    m->read_code = errs[j].code;
                    snprintf(m->read_msg, sizeof m->read_msg, "%s", errs[j].msg);
                } else {
                    m->read_code = sme[j].code;
                    snprintf(m->read_msg, sizeof m->read_msg, "%s", sme[j].msg);
                    m->existing = msgs[j];
                    memset(&msgs[j], 0, sizeof msgs[j]);
                }
                mapi_folders_clear(&f[j]);
                mapi_switchmsg_clear(&msgs[j]);
            }
        }
        free(f);
        free(msgs);
        free(sme);
        free(errs);
    }
    for (size_t j = 0; j < k; j++)
        mapi_session_free(s[j]);
    free(s);
    free(idx);
}

/* ---- --dry-run: what would happen, nothing written ------------------------ */
static void plan_one(const resmb_run *run, const resmb_mb *m, report *rep)
{
    char why[600];
    const cfg_resmb *c = run->cfg;
    int resumes = m->state_before >= MB_SWITCHMSG_READY && m->state_before != MB_FAILED;
    int st = resumes ? m->state_before : MB_QUEUED;
    unsigned bits = 0;
    if (resumes) {
        snprintf(why, sizeof why, "would resume after %s", resmb_state_name(m->state_before));
    } else if (!m->ad_ok) {
        bits = m->ad_bits;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: %s", m->ad_msg);
    } else if (!m->read_done || (m->read_code != SR_OK && m->read_code != SR_E_NOTFOUND &&
                                 m->read_code != SR_E_PARSE)) {
        bits = RESMB_EXIT_FAILED;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: source mailbox not read: %s", m->read_msg);
    } else if (m->read_code == SR_OK && (!c->switch_msg.present || !c->switch_msg.recreate)) {
        snprintf(why, sizeof why, "switch message present (target %s); would update",
                 m->existing.target_smtp);
    } else if (!c->switch_msg.present) {
        bits = RESMB_EXIT_FAILED;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: no switch message and no [SwitchMessage] section");
    } else {
        const char *t = m->target_given ? m->target_given : m->target_smtp;
        if (!t) {
            bits = RESMB_EXIT_FAILED;
            st = MB_FAILED;
            snprintf(why, sizeof why, "would fail: no target address for the switch message "
                     "(no [TargetMailboxesSMTP] entry, none in the directory)");
        } else {
            snprintf(why, sizeof why, "would %s the switch message -> %s (%s); would update",
                     m->read_code == SR_OK ? "recreate" : "create", t,
                     m->target_given ? "[TargetMailboxesSMTP]" : "directory");
        }
    }
    if (!bits && st != MB_FAILED && m->ad_ok && !m->legacy_dn) {
        bits = RESMB_EXIT_ONE_PROFILE;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: no legacyExchangeDN in the directory, so no "
                 "temporary profile");
    }
    report_line(rep, m->key, st, bits, why);
}

/* ---- the worker pool ----------------------------------------------------- */
typedef struct rec {
    int idx;
    int state;
    unsigned bits;
    char reason[1200];
} rec;

static void worker(resmb_run *run, resmb_mb *m, int idx, int wfd)
{
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    /* cpuu_invoke writes the secret into a pipe the engine may never read
     * (it can exit first): EPIPE there, not death of the worker.  The engine
     * inherits the ignored SIGPIPE (exec keeps SIG_IGN); it gets EPIPE too. */
    signal(SIGPIPE, SIG_IGN);
    rec r = { .idx = idx, .state = -1 };
    sr_err e;
    sm_journal *j = sm_journal_open(run->journal_path, &e);
    resmb_actx a = { .run = run, .mb = m };
    /* a mailbox that failed before: finish an interrupted failure, then
     * requeue it, then the normal table */
    int retry = m->state_before == MB_FAILED;
    if (!j || (retry && (sm_run(run->def, j, m->key, &a, NULL, NULL, &e) != SR_OK ||
                         sm_run(run->retry_def, j, m->key, &a, NULL, NULL, &e) != SR_OK)) ||
        sm_run(run->def, j, m->key, &a, &r.state, &r.bits, &e) != SR_OK) {
        r.state = -1;
        r.bits |= RESMB_EXIT_FAILED;
        snprintf(r.reason, sizeof r.reason, "%s", e.msg);
        sr_log(SR_LOG_ERROR, m->key, "%s", e.msg);
    } else {
        snprintf(r.reason, sizeof r.reason, "%s", m->reason);
        /* the journal's bits are OR-ed over every attempt; report this run's */
        if (m->run_bits || r.state == MB_DONE)
            r.bits = m->run_bits;
    }
    sm_journal_close(j);
    resmb_actx_release(&a);
    ssize_t w = write(wfd, &r, sizeof r);
    (void)w;
    fflush(stdout);
    fflush(stderr);
    _exit(0);
}

/* The parent's copy of a mailbox's outcome (printed in list order later). */
static void set_result(resmb_mb *m, int state, unsigned bits, const char *why)
{
    m->has_result = 1;
    m->result_state = state;
    m->result_bits = bits;
    snprintf(m->reason, sizeof m->reason, "%s", why);
}

/* Collect the records of finished workers (non-blocking). */
static void drain(int rfd, resmb_mb *mb, int *got)
{
    rec r;
    while (read(rfd, &r, sizeof r) == (ssize_t)sizeof r) {
        got[r.idx] = 1;
        set_result(&mb[r.idx], r.state, r.bits, r.reason);
    }
}

/* Run the chunk's mailboxes, `jobs` at a time.  Returns 1 when a worker was
 * stopped by the crash-test hook (the whole run then stops). */
static int run_chunk(resmb_run *run, resmb_mb *mb, size_t n)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return 0;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int *got = calloc(n, sizeof *got);
    pid_t *pids = calloc(n, sizeof *pids);
    int running = 0, crashed = 0;
    size_t next = 0;
    while (got && pids && (running > 0 || (next < n && !g_stop && !crashed))) {
        while (running < run->o->jobs && next < n && !g_stop && !crashed) {
            size_t i = next++;
            if (mb[i].state_before == MB_DONE) {
                got[i] = 1;
                continue;
            }
            fflush(NULL);   /* no buffered line may be written twice */
            pid_t pid = fork();
            if (pid == 0) {
                close(p[0]);
                worker(run, &mb[i], (int)i, p[1]);
            }
            if (pid < 0) {
                set_result(&mb[i], RESMB_STATE_INTERRUPTED, RESMB_EXIT_FAILED,
                           "cannot start a worker process");
                got[i] = 1;
                continue;
            }
            pids[i] = pid;
            running++;
        }
        if (running == 0)
            break;
        int st;
        pid_t w = waitpid(-1, &st, 0);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        running--;
        drain(p[0], mb, got);
        for (size_t i = 0; i < n; i++)
            if (pids[i] == w && !got[i]) {
                got[i] = 1;
                int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                crashed |= code == SM_CRASH_EXIT;
                char why[200];
                snprintf(why, sizeof why, "worker stopped (status %d); a rerun resumes it", code);
                set_result(&mb[i], RESMB_STATE_INTERRUPTED, RESMB_EXIT_FAILED, why);
            }
    }
    drain(p[0], mb, got);
    close(p[0]);
    close(p[1]);
    free(got);
    free(pids);
    return crashed;
}

/* The chunk's report lines, in the order of the INI lists. */
static void report_chunk(const resmb_mb *mb, size_t n, report *rep)
{
    for (size_t i = 0; i < n; i++) {
        const resmb_mb *m = &mb[i];
        if (m->state_before == MB_DONE) {
            /* the journal's bits are OR-ed over every attempt: not this run's */
            report_line(rep, m->key, MB_DONE, 0, "done in an earlier run; not processed again");
            rep->done_before++;
            continue;
        }
        if (!m->has_result)
            continue;   /* not started (stopped by a signal) */
        char buf[200];
        const char *why = m->reason;
        if (m->result_state == MB_DONE && !why[0]) {
            snprintf(buf, sizeof buf, "processed%s",
                     m->state_before == MB_FAILED ? " (retried after an earlier failure)"
                     : m->state_before > MB_QUEUED ? " (resumed)" : "");
            why = buf;
        }
        report_line(rep, m->key, m->result_state, m->result_bits, why);
        if (m->result_state == MB_DONE)
            rep->done_now++;
        else if (m->result_state == RESMB_STATE_INTERRUPTED)
            rep->pending++;
        else
            rep->failed++;
    }
}

/* States at the start of this run for the chunk; the journal is closed again
 * before any fork. */
static void chunk_states(resmb_run *run, resmb_mb *mb, size_t n)
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

static void connect_dir(const resmb_run *run, shared *sh)
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
    ldapdir_opts o = { .dc = c->ad.dc_name, .account = c->ad.dc_account, .password = pw,
                       .ca_file = ca && *ca ? ca : NULL, .mapping_attr = run->o->mapping_attr };
    if (ldapdir_connect(&o, &sh->dir, &e) != SR_OK) {
        snprintf(sh->dir_msg, sizeof sh->dir_msg, "directory: %s", e.msg);
        sh->dir = NULL;
    }
    sr_secret_free(pw);
}

/* ---- the run -------------------------------------------------------------- */
static void print_report(resmb_run *run, report *rep, unsigned code, FILE *out)
{
    fprintf(out, "\n==== switchresmb report: %s ====\n", run->cfg->path);
    fprintf(out, "  %-44s %-15s %-8s %s\n", "mailbox", "state", "bits", "details");
    rewind(rep->f);
    char line[2048];
    while (fgets(line, sizeof line, rep->f))
        fputs(line, out);
    fprintf(out, "  ---\n  %u mailbox(es): %u processed now, %u done in earlier runs, %u failed, "
            "%u interrupted\n", rep->n, rep->done_now, rep->done_before, rep->failed,
            rep->pending);
    fprintf(out, "  journal %s\n  exit code %u: ", run->journal_path, code);
    describe_bits(out, code);
    fputc('\n', out);
}

static void write_report_file(resmb_run *run, report *rep, unsigned code)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return;
    print_report(run, rep, code, m);
    fclose(m);
    sr_err e;
    if (sr_write_file_atomic(run->report_path, buf, len, 0600, 0, &e) != SR_OK)
        sr_log(SR_LOG_WARN, NULL, "report file: %s", e.msg);
    free(buf);
}

static void run_free(resmb_run *run)
{
    cfg_cpuu_free(run->cpuu);
    free(run->cpuu_ini_path);
    free(run->cpuu_bin);
    free(run->engine_argv);
    free(run->journal_path);
    free(run->report_path);
    free(run->profile_dir);
    free(run->src_ews_url);
    free(run->admin);
    free(run->admin_trg);
    sr_secret_free(run->admin_pw);
    sr_secret_free(run->admin_trg_pw);
}

static int setup(resmb_run *run, char **sd, char **stem, int *lock_fd)
{
    sr_err e;
    int bits;
    if (!(run->def = resmb_workflow(&e)) || !(run->retry_def = resmb_workflow_retry(&e))) {
        sr_log(SR_LOG_ERROR, NULL, "%s", e.msg);
        return RESMB_EXIT_FAILED;
    }
    if ((bits = setup_engine(run)) || (bits = setup_cpuu_ini(run)))
        return bits;
    if (!run->o->dry_run && access(run->cpuu_bin, X_OK) != 0) {
        sr_log(SR_LOG_ERROR, run->cpuu_bin, "the update engine cannot be started: %s (set "
               "--cpuu or SWITCHRESMB_CPUU; exit code 64)", strerror(errno));
        return RESMB_EXIT_CPUU_START;
    }
    if ((bits = setup_files(run, sd, stem)))
        return bits;
    if (!run->o->dry_run && (bits = take_lock(*stem, lock_fd)))
        return bits;
    if (run->o->restart && !run->o->dry_run && (bits = restart_journal(run)))
        return bits;
    return 0;
}

int resmb_run_all(const cfg_resmb *cfg, const resmb_opts *o)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sr_log_set_stream(stdout);
    resmb_run run = { .o = o, .cfg = cfg };
    char *sd = NULL, *stem = NULL;
    int lock_fd = -1;
    int bits = setup(&run, &sd, &stem, &lock_fd);
    if (bits) {
        fprintf(stdout, "switchresmb: nothing processed; exit code %d\n", bits);
        run_free(&run);
        free(sd);
        free(stem);
        return bits;
    }
    sr_log(SR_LOG_NOTICE, NULL, "%s: %zu + %zu mailbox(es), %d worker(s)%s; journal %s",
           cfg->path, cfg->mailboxes.n, cfg->mailboxes_smtp.n, o->jobs,
           o->dry_run ? ", DRY RUN (nothing is written)" : "", run.journal_path);
    struct sigaction sa = { .sa_handler = on_stop };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    report rep = { .f = tmpfile() };
    shared sh = { 0 };
    sr_err e;
    if (!rep.f || !(sh.src_net = resmb_net_new(&run, 0, 27, &e))) {
        sr_log(SR_LOG_ERROR, NULL, "%s", rep.f ? e.msg : "no temporary file for the report");
        bits = RESMB_EXIT_FAILED;
        goto out;
    }
    connect_dir(&run, &sh);
    if (!sh.dir)
        sr_log(SR_LOG_ERROR, NULL, "%s", sh.dir_msg);
    cursor cur = { .cfg = cfg };
    resmb_mb *mb = calloc(RESMB_CHUNK, sizeof *mb);
    size_t n;
    int crashed = 0;
    while (mb && !g_stop && !crashed && (n = next_chunk(&cur, mb, RESMB_CHUNK)) > 0) {
        chunk_states(&run, mb, n);
        if (sh.dir)
            resolve_chunk(&sh, mb, n);
        else
            resolve_without_dir(&run, &sh, mb, n);
        read_chunk(&run, &sh, mb, n);
        if (o->dry_run) {
            for (size_t i = 0; i < n; i++)
                if (mb[i].state_before != MB_DONE)
                    plan_one(&run, &mb[i], &rep);
                else
                    report_chunk(&mb[i], 1, &rep);
        } else {
            crashed = run_chunk(&run, mb, n);
            report_chunk(mb, n, &rep);
        }
        for (size_t i = 0; i < n; i++)
            resmb_mb_clear(&mb[i]);
    }
    free(mb);
    if (crashed) {
        sr_log(SR_LOG_ERROR, NULL, "a worker was stopped by SM_CRASH_AT_STEP; run stopped");
        fflush(stdout);
        _exit(SM_CRASH_EXIT);
    }
    if (g_stop || cur.list < 2) {
        sr_log(SR_LOG_WARN, NULL, "stopped by a signal before every mailbox was processed; "
               "a rerun resumes");
        rep.bits |= RESMB_EXIT_FAILED;
    }
    bits = (int)rep.bits;
    /* 16 instead of 8 when no mailbox got its temporary profile */
    if (rep.profile_fail && rep.profile_fail == rep.n)
        bits = (bits & ~RESMB_EXIT_ONE_PROFILE) | RESMB_EXIT_ALL_PROFILES;
    if (sh.dir)
        sr_log(SR_LOG_INFO, NULL, "directory: %lu LDAP search request(s)",
               ldapdir_search_count(sh.dir));
    print_report(&run, &rep, (unsigned)bits, stdout);
    if (!o->dry_run)
        write_report_file(&run, &rep, (unsigned)bits);
out:
    if (rep.f)
        fclose(rep.f);
    ldapdir_free(sh.dir);
    mapi_ad_free(sh.src_ad);
    mapi_net_free(sh.src_net);
    if (lock_fd >= 0)
        close(lock_fd);
    run_free(&run);
    free(sd);
    free(stem);
    return bits;
}
