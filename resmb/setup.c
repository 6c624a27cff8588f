/* setup.c — before the first mailbox (run_int.h): the engine's command line
 * and CPUU.ini with the admin credentials, the state files (journal, report,
 * lock) and --restart. */
#include "resmb/cli.h"
#include "resmb/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/* The engine installed beside this switchresmb ("cpuu" in its directory). */
static char *bundled_engine(void)
{
    char self[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", self, sizeof self - 1);
    self[l > 0 ? l : 0] = '\0';
    char *d = dir_of(l > 0 ? self : ".");
    char *p = d ? sr_asprintf("%s/cpuu", d) : NULL;
    free(d);
    return p;
}

/* Whether two paths name the same file (a link or another spelling too). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
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
    run->cpuu_ini_path = o->cpuu_ini ? abs_path(o->cpuu_ini)
                       : ini         ? abs_path(ini)
                                     : sr_asprintf("%s/CPUU.ini", dir);
    free(dir);
    /* the engine binary */
    const char *env = getenv("SWITCHRESMB_CPUU");
    char *bundled = bundled_engine();
    if (o->cpuu_path)
        run->cpuu_bin = sr_strdup(o->cpuu_path);
    else if (env && *env)
        run->cpuu_bin = sr_strdup(env);
    else
        run->cpuu_bin = bundled ? sr_strdup(bundled) : NULL;
    run->engine_bundled = run->cpuu_bin && bundled && same_file(run->cpuu_bin, bundled);
    free(bundled);
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

/* Kerberos needs no password: without Admin/Password the source logs on
 * with the process's Kerberos credentials (ticket cache or client keytab),
 * which a Negotiate or Kerberos logon uses; NTLM and Basic need the account. */
static int kerberos_logon(const cfg_resmb *c)
{
    if (c->rpc.present && c->rpc.connect_using_http)
        return c->rpc.auth_negotiate;
    return !c->settings.logon_winnt && !c->settings.logon_anonymous && !c->settings.logon_smartcard;
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
    if ((!cp->admin || !cp->password) && kerberos_logon(run->cfg)) {
        sr_log(SR_LOG_NOTICE, cp->path, "[Parameters] no Admin/Password: the source is reached "
               "with this process's Kerberos credentials (KRB5CCNAME or KRB5_CLIENT_KTNAME)");
    } else if (!cp->admin || !cp->password) {
        sr_log(SR_LOG_ERROR, cp->path, "[Parameters] Admin/Password: switchresmb reads and writes "
               "switch messages with these credentials (NTLM/Basic logon); set both, or log on "
               "with Kerberos (exit code 4)");
        return RESMB_EXIT_INI;
    } else if (cfg_secret_decrypt(cp->password, &run->admin_pw, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, cp->path, "line %d: [Parameters] Password: %s (exit code 4)",
               cp->password_line, cfg_secret_is_ours(cp->password) ? e.msg
               : "not in switchresmb's encrypted form; encrypt it with: cpuu-config --encrypt "
                 "Password <CPUU.ini>");
        return RESMB_EXIT_INI;
    }
    run->admin = cp->admin && cp->password ? sr_strdup(cp->admin) : NULL;
    if (cp->admin_trg && cp->password_trg) {
        if (cfg_secret_decrypt(cp->password_trg, &run->admin_trg_pw, &e) != SR_OK) {
            sr_log(SR_LOG_ERROR, cp->path, "line %d: [Parameters] PasswordTrg: %s (exit code 4)",
                   cp->password_trg_line, cfg_secret_is_ours(cp->password_trg) ? e.msg
                   : "not in switchresmb's encrypted form; encrypt it with: cpuu-config --encrypt "
                     "PasswordTrg <CPUU.ini>");
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

char *resmb_journal_path(const char *ini_path, const char *state_dir)
{
    char *sd = state_dir ? sr_strdup(state_dir) : default_state_dir();
    char *absini = abs_path(ini_path);
    char *j = sd && absini ? sr_asprintf("%s/%016llx.journal", sd, path_hash(absini)) : NULL;
    free(sd);
    free(absini);
    return j;
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

/* The same lock on the SwitchResMB.ini file itself: the state directory's
 * lock alone let two runs with different --state-dir (or the INI reached by
 * another path) process the same mailboxes at once (issue 11).  The file's
 * identity is its inode, whatever the path or state directory.  fd kept open. */
static int lock_ini(const char *ini, int *fd_out)
{
    int fd = open(ini, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) != 0) {
        sr_log(SR_LOG_ERROR, ini, "another switchresmb run is processing this SwitchResMB.ini "
               "(lock on the file held, perhaps with another --state-dir); nothing done");
        if (fd >= 0)
            close(fd);
        return RESMB_EXIT_FAILED;
    }
    *fd_out = fd;
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

void resmb_run_free(resmb_run *run)
{
    if (run->ini_lock_fd >= 0)
        close(run->ini_lock_fd);
    run->ini_lock_fd = -1;
    cfg_cpuu_free(run->cpuu);
    free(run->tgt_blocked);
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

/* docs/switchresmb.md: a DCPassword this host cannot decrypt (another
 * tool's, another host's, damaged) stops the run with 4 before any mailbox,
 * instead of failing every one of them with 1. */
static int check_dc_password(const resmb_run *run)
{
    sr_code (*const decrypt[])(const cfg_resmb *, char **, sr_err *) = {
        cfg_resmb_dc_password, cfg_resmb_target_dc_password,
    };
    const int present[] = { run->cfg->ad.present, run->cfg->target_ad.present };
    for (size_t i = 0; i < 2; i++) {
        char *pw = NULL;
        sr_err e;
        if (present[i] && decrypt[i](run->cfg, &pw, &e) != SR_OK) {
            sr_log(SR_LOG_ERROR, NULL, "%s (exit code 4)", e.msg);
            return RESMB_EXIT_INI;
        }
        sr_secret_free(pw);
    }
    return 0;
}

/* Everything a run checks before its first mailbox; --check runs exactly
 * this (resmb_check), so the two cannot disagree. */
static int resmb_validate(resmb_run *run)
{
    int bits;
    if ((bits = setup_engine(run)) || (bits = setup_cpuu_ini(run)) ||
        (bits = check_dc_password(run)))
        return bits;
    if (!run->o->dry_run && access(run->cpuu_bin, X_OK) != 0) {
        sr_log(SR_LOG_ERROR, run->cpuu_bin, "the update engine cannot be started: %s (set "
               "--cpuu or SWITCHRESMB_CPUU; exit code 64)", strerror(errno));
        return RESMB_EXIT_CPUU_START;
    }
    return 0;
}

int resmb_check(const cfg_resmb *cfg, const resmb_opts *o, FILE *out)
{
    resmb_run run = { .o = o, .cfg = cfg };
    int bits = resmb_validate(&run);
    if (bits)
        fprintf(out, "%s: not valid; a run would stop before its first mailbox with exit code "
                "%d\n", cfg->path, bits);
    else
        resmb_print_summary(out, cfg, run.cpuu);
    if (!bits)
        bits = resmb_graph_probe(&run, out);
    resmb_run_free(&run);
    return bits;
}

int resmb_setup(resmb_run *run, char **sd, char **stem, int *lock_fd)
{
    sr_err e;
    int bits;
    run->ini_lock_fd = -1;
    if (!(run->def = resmb_workflow(&e)) || !(run->retry_def = resmb_workflow_retry(&e))) {
        sr_log(SR_LOG_ERROR, NULL, "%s", e.msg);
        return RESMB_EXIT_FAILED;
    }
    if ((bits = resmb_validate(run)))
        return bits;
    if ((bits = setup_files(run, sd, stem)))
        return bits;
    if (!run->o->dry_run && ((bits = lock_ini(run->cfg->path, &run->ini_lock_fd)) ||
                             (bits = take_lock(*stem, lock_fd))))
        return bits;
    if (run->o->restart && !run->o->dry_run && (bits = restart_journal(run)))
        return bits;
    return 0;
}
