/* run.c — one run of the engine: the log and CSV (-Log), CPUU.ini with the
 * command-line overrides, the secret from the parent, the profile store, then
 * one mode; the exit bitmask comes back to main. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuu/engine.h"
#include "cpuu/notify.h"

static volatile sig_atomic_t g_abort;

static void on_abort(int sig)
{
    (void)sig;
    g_abort = 1;
}

void cpuu_abort_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_abort;
    sa.sa_flags = SA_RESTART;   /* let the request in flight finish */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    /* A reader that went away (the parent's progress pipe, stdout, a server
     * socket) must give EPIPE and the exit bits, not death by signal 13: our
     * runner starts engines with SIGPIPE at its default, so set it here. */
    signal(SIGPIPE, SIG_IGN);
}

int cpuu_aborted(void)
{
    return g_abort != 0;
}

/* The log file (0600, appended); NULL when it cannot be opened. */
static FILE *open_log(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    FILE *fp = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (fd >= 0 && !fp)
        close(fd);
    if (fp)
        setvbuf(fp, NULL, _IOLBF, 0);
    return fp;
}

static void apply_overrides(cfg_cpuu *c, const cpuu_opts *o)
{
    if (o->features_given) {
        c->features = o->features;
        c->features_given = 1;
        c->skip = 0;
    }
    if (o->skip_given) {
        c->skip = o->skip;
        c->features = 0;
        c->features_given = 0;
    }
    c->effective = c->features_given ? c->features : (CFG_FSET_PROCESSABLE & ~c->skip);
    if (o->critical_given)
        c->critical = o->critical;
    if (o->remove_given)
        c->remove = o->remove;
    if (o->silent >= 0)
        c->silent = o->silent;
    if (o->process_offline_profiles >= 0)
        c->process_offline_profiles = o->process_offline_profiles;
    if (o->keep_ost >= 0)
        c->keep_ost = o->keep_ost;
    if (o->autodiscover_source_url) {
        free(c->autodiscover_source_url);
        c->autodiscover_source_url = sr_strdup(o->autodiscover_source_url);
    }
    if (o->autodiscover_target_url) {
        free(c->autodiscover_target_url);
        c->autodiscover_target_url = sr_strdup(o->autodiscover_target_url);
    }
}

/* Parameters with no meaning on Linux are accepted and said so. */
static void note_not_applicable(const cpuu_opts *o, const cfg_cpuu *c)
{
    if (o->move_dumps_to_remote || c->move_dumps_to_remote)
        sr_log(SR_LOG_INFO, "cpuu", "-MoveDumpsToRemote: not applicable on Linux (no crash dumps)");
    if (o->log_write_directly || c->log_write_directly)
        sr_log(SR_LOG_INFO, "cpuu", "-LogWriteDirectly: not applicable on Linux (the log is always "
               "written directly)");
    if (o->max_local_dumps != CFG_DEFAULT_MAX_LOCAL_DUMPS)
        sr_log(SR_LOG_INFO, "cpuu", "-MaxLocalDumps: not applicable on Linux");
    if (o->disable_logon_through_outlook || c->disable_logon_through_outlook)
        sr_log(SR_LOG_INFO, "cpuu", "-DisableLogonThroughOutlook: no Outlook here; the engine logs "
               "on to the target itself");
    if (c->ask_credentials)
        sr_log(SR_LOG_WARN, "cpuu", "AskCredentials: no prompts in this engine; give the password "
               "in CPUU.ini or on CPUU_SECRET_FD");
}

static char *dir_of(const char *path)
{
    const char *sl = strrchr(path, '/');
    return sl ? sr_asprintf("%.*s", (int)(sl == path ? 1 : sl - path), path) : sr_strdup(".");
}

static void log_exit(unsigned bits)
{
    char buf[400];
    sr_log(SR_LOG_NOTICE, "cpuu", "exit %u (%s)", bits, sr_cpuu_bits_describe(bits, buf, sizeof buf));
}

/* Log + CSV; returns the log stream (NULL: stderr) and sets bits on failure. */
static FILE *open_outputs(cpuu_run_ctx *r, const char *pattern, char **log_path)
{
    *log_path = cpuu_log_expand(pattern);
    FILE *fp = *log_path ? open_log(*log_path) : NULL;
    if (!fp) {
        fprintf(stderr, "cpuu: cannot write the log file %s: %s (exit bit 64 "
                "CPUU_FAILED_TO_WRITE_LOG); logging to stderr\n", *log_path ? *log_path : pattern,
                strerror(errno));
        r->bits |= CPUU_FAILED_TO_WRITE_LOG;
    }
    sr_log_set_stream(fp);
    char *csv = *log_path ? cpuu_csv_path(*log_path) : NULL;
    sr_err e;
    if (!csv || !(r->csv = cpuu_csv_open(csv, &e))) {
        fprintf(stderr, "cpuu: %s (exit bit 64 CPUU_FAILED_TO_WRITE_LOG)\n", csv ? e.msg : "out of memory");
        r->bits |= CPUU_FAILED_TO_WRITE_LOG;
    }
    free(csv);
    return fp;
}

/* The source password on CPUU_SECRET_FD (or NULL): the parent sends it
 * once per process, so the first run reads it and the later ones (update,
 * cleanup and switchmsg commands) reuse it. */
static char *process_secret(cpuu_process *proc)
{
    if (!proc->secret_read) {
        sr_err e;
        proc->secret = cpuu_secret_from_fd(&e);
        proc->secret_read = 1;
    }
    return proc->secret;
}

static unsigned run_mode(cpuu_run_ctx *r, cpuu_process *proc)
{
    sr_err e;
    r->secret = process_secret(proc);
    r->store = mapi_pstore_open(NULL, 0, &e);
    if (!r->store) {
        sr_log(SR_LOG_ERROR, "cpuu", "profile store: %s", e.msg);
        fprintf(stderr, "cpuu: profile store: %s (exit bit 16 CPUU_GLOBAL_ERR)\n", e.msg);
        return r->bits | CPUU_GLOBAL_ERR;
    }
    /* Another process's profile lock is waited for at most OpenStoreWait, as
     * the store's network opening is (engine.c): beyond it the parent's
     * watchdog would stop us mid-wait; SR_E_BUSY names the profile instead. */
    if (r->cfg->open_store_wait > 0)
        mapi_pstore_set_lock_timeout(r->store, (unsigned)r->cfg->open_store_wait * 1000u);
    cpuu_mode mode = cpuu_opts_mode(r->opts);
    static const char *const mode_names[] = { "update", "rollback", "cleanup" };
    sr_log(SR_LOG_NOTICE, "cpuu", "%s mode; profiles in %s; INI %s", mode_names[mode],
           mapi_pstore_dir(r->store), r->cfg->path);
    if (mode == CPUU_MODE_UPDATE)
        cpuu_mode_update(r);
    else if (mode == CPUU_MODE_ROLLBACK)
        cpuu_mode_rollback(r);
    else
        cpuu_mode_cleanup(r);
    return r->bits;
}

/* A run's directory connection, kept for the process's next run (keep
 * non-NULL) with no answer of this run's cached, or closed.  One that could
 * not be used is not kept: the next run tries it again. */
static void keep_dir(cpuu_dir *keep, cpuu_dir *d)
{
    if (keep && d->dir) {
        ldapdir_forget(d->dir);
        *keep = *d;
        return;
    }
    cpuu_dir_free(d);
    if (keep)
        memset(keep, 0, sizeof *keep);
}

unsigned cpuu_run(const cpuu_opts *o, cpuu_process *proc)
{
    cpuu_process alone = { 0 };
    cpuu_process *pr = proc ? proc : &alone;
    cpuu_run_ctx r = { .opts = o, .conns = { pr->conns[0], pr->conns[1] }, .src_dir = pr->src_dir, .tgt_dir = pr->tgt_dir };
    char *log_path = NULL;
    sr_log_set_level(SR_LOG_INFO);
    FILE *logfp = open_outputs(&r, o->log ? o->log : "CPUU.log", &log_path);
    sr_err e;
    cfg_diag diag;
    const char *ini = o->ini ? o->ini : "CPUU.ini";
    r.cfg = cfg_cpuu_load(ini, &diag, &e);
    unsigned bits;
    if (!r.cfg) {
        sr_log(SR_LOG_ERROR, "cpuu", "%s; nothing processed", e.msg);
        fprintf(stderr, "cpuu: %s (%u error(s) in %s; see the log); exit bit 16 CPUU_GLOBAL_ERR\n",
                e.msg, diag.errors, ini);
        bits = r.bits | CPUU_GLOBAL_ERR;
    } else {
        apply_overrides(r.cfg, o);
        note_not_applicable(o, r.cfg);
        r.ini_dir = dir_of(r.cfg->path);
        r.notify = cpuu_notify_new(r.cfg, logfp ? log_path : NULL);
        bits = run_mode(&r, pr);
        cpuu_notify_finish(r.notify);   /* never changes bits: a mail is not the update */
        cpuu_notify_free(r.notify);
    }
    log_exit(bits);
    sr_log_set_stream(NULL);
    if (logfp && fclose(logfp) != 0)
        bits |= CPUU_FAILED_TO_WRITE_LOG;
    cpuu_csv_close(r.csv);
    mapi_pstore_free(r.store);
    cfg_cpuu_free(r.cfg);
    keep_dir(proc ? &proc->src_dir : NULL, &r.src_dir);
    keep_dir(proc ? &proc->tgt_dir : NULL, &r.tgt_dir);
    if (!proc)
        sr_secret_free(alone.secret);
    free(r.ini_dir);
    free(log_path);
    return bits;
}

/* ---- the switchmsg command (main.c) -------------------------------------- */

/* A switchmsg command's fields: the first three point into the command
 * line; the message (mapi_switchmsg_to_line's form, the rest of the line)
 * is c's own. */
typedef struct sm_cmd {
    const char *how, *mailbox, *ews_url;
    mapi_logon_security logon;
    mapi_switchmsg m;
} sm_cmd;

/* 1 when line is a switchmsg command; then *msg_err says whether its
 * message parsed (c->m is set only when it did). */
static int sm_cmd_parse(char *line, sm_cmd *c, sr_err *msg_err)
{
    char *f[5];
    size_t n = 0;
    memset(c, 0, sizeof *c);
    for (char *p = line; p && n < 5; n++) {   /* four fields, then the message */
        f[n] = p;
        if (n < 4 && (p = strchr(p, '\t')) != NULL)
            *p++ = '\0';
    }
    if (n != 5 || !*f[1] || !*f[2] ||
        (strcmp(f[0], "create") && strcmp(f[0], "look") && strcmp(f[0], "recreate")))
        return 0;
    c->how = f[0];
    c->mailbox = f[1];
    c->ews_url = f[2];
    c->logon = (mapi_logon_security)atoi(f[3]);
    sr_err_clear(msg_err);
    (void)mapi_switchmsg_from_line(f[4], &c->m, msg_err);
    return 1;
}

/* Write it over this process's source connections; SR_OK or *e. */
static sr_code sm_cmd_write(cpuu_run_ctx *r, const sm_cmd *c, sr_err *e)
{
    mapi_account acct = { .smtp = (char *)c->mailbox, .logon = c->logon };
    mapi_net *net = cpuu_net_for(r, 0, 0, &acct, e);
    if (!net)
        return e->code;
    mapi_session_opts so = { .mailbox = c->mailbox, .ews_url = c->ews_url, .impersonate = 1 };
    mapi_session *s = mapi_session_logon(net, &so, e);
    sr_code rc = !s ? e->code
               : !strcmp(c->how, "create") ? mapi_session_create_switchmsg(s, &c->m, e)
               : mapi_session_write_switchmsg(s, &c->m, !strcmp(c->how, "recreate"), e);
    mapi_session_free(s);
    mapi_net_free(net);
    return rc;
}

unsigned cpuu_switchmsg_command(const cpuu_opts *o, cpuu_process *proc, char *line)
{
    sm_cmd c;
    sr_err e;
    sr_err_clear(&e);
    if (!sm_cmd_parse(line, &c, &e)) {
        cpuu_progress("failed %d %d %s", SR_E_USAGE, SR_CLASS_FINAL,
                      "switchmsg: not a command this engine reads");
        return CPUU_GLOBAL_ERR;
    }
    if (e.code != SR_OK) {   /* the message itself: as its write would have refused it */
        cpuu_progress("failed %d %d %.200s", (int)e.code, (int)e.cls, e.msg);
        return CPUU_GLOBAL_ERR;
    }
    cpuu_run_ctx r = { .opts = o, .conns = { proc->conns[0], proc->conns[1] } };
    /* no log of its own: what goes wrong is in the "failed" line and the
     * worker's log; the mapi layer's warnings go where switchresmb's do */
    sr_log_set_level(SR_LOG_WARN);
    r.secret = process_secret(proc);
    cfg_diag diag;
    r.cfg = cfg_cpuu_load(o->ini ? o->ini : "CPUU.ini", &diag, &e);
    sr_code rc = r.cfg ? SR_OK : e.code;
    if (r.cfg) {
        apply_overrides(r.cfg, o);
        rc = sm_cmd_write(&r, &c, &e);
    }
    cfg_cpuu_free(r.cfg);
    mapi_switchmsg_clear(&c.m);
    if (rc == SR_OK)
        return 0;
    cpuu_progress("failed %d %d %.200s", (int)e.code, (int)e.cls, e.msg);
    return CPUU_GLOBAL_ERR;
}
