/* engine.h — the update engine's private interface (cpuu/ only): the
 * command line as parsed, the spec's CSV return codes and exit bits in one
 * table, the run (log, CSV, progress, profile store) and the three modes.
 * Files: main.c (argv), run.c (one run), modes.c (profile selection, checks
 * without network, rollback, cleanup), engine.c (one profile's update over
 * the network), csv.c (codes, bits, CSV), logfile.c (-Log), progress.c.
 *
 * Flow: main.c parses argv into cpuu_opts (cpuu_opts_parse), cpuu_run opens
 * the log/CSV/progress channel, loads CPUU.ini, applies command-line
 * overrides, opens the profile store and runs one mode; it returns the spec's
 * exit bitmask (the process exits with bits & 0xff after writing
 * "exit <bits>" on the progress channel).
 *
 * Ownership: cpuu_opts_parse fills a caller-owned struct whose arrays point
 * into argv (nothing to free but cpuu_opts_clear).  Everything cpuu_run
 * creates it frees. */
#ifndef CPUU_ENGINE_H
#define CPUU_ENGINE_H

#include <stdio.h>

#include "configs/configs.h"
#include "cpuu/feature.h"
#include "mapi/mapi.h"
#include "util/codes.h"
#include "util/util.h"

/* ---- the spec's "CPUU Return Codes" (CSV) --------------------------------- */
/* The codes themselves (cpuu_rc, CPUU_RC_*) and the exit bits: util/codes.h. */

/* The spec's name ("PROFILE_MODIFYING_OK"); static, "?" when out of range. */
const char *cpuu_rc_name(int rc);

typedef enum { CPUU_MODE_UPDATE = 0, CPUU_MODE_ROLLBACK, CPUU_MODE_CLEANUP } cpuu_mode;

/* What one profile's outcome adds to the exit bitmask, per mode (the spec's
 * "Exit Codes" table); extra = CPUU_NO_SWITCH_MSG / CPUU_INVALID_SWITCH_MSG
 * when the profile stopped at the switch message, else 0. */
unsigned cpuu_rc_bits(cpuu_mode mode, int rc, unsigned extra);
/* The exit bit for a switch message outcome: 0 for SR_OK, CPUU_NO_SWITCH_MSG
 * for SR_E_NOTFOUND (none), else CPUU_INVALID_SWITCH_MSG. */
unsigned cpuu_switchmsg_bits(sr_code sm_code);

/* ---- the command line ------------------------------------------------------- */
typedef struct cpuu_opts {
    const char *ini;                  /* -INI; default "CPUU.ini" */
    const char *log;                  /* -Log; default "CPUU.log" (or Log= in the INI) */
    const char **profiles;            /* -Profiles, NULL-terminated (NULL: not given) */
    const char **undo;                /* -Undo names */
    int default_profile, undo_all, undo_default_profile, cleanup, help;
    int leave_temporary_profile, skip_autodiscover_checking, do_not_modify_exclude_scp;
    int name_trg_store_as_src, disable_logon_through_outlook;
    int move_dumps_to_remote, log_write_directly, max_local_dumps; /* accepted, no effect */
    /* configuration parameters given on the command line (override CPUU.ini) */
    int features_given, skip_given, critical_given, remove_given;
    cfg_feature_set features, skip, critical, remove;
    int silent, process_offline_profiles, keep_ost;   /* -1: not given */
    const char *autodiscover_source_url, *autodiscover_target_url;
    const char **processed_domains;   /* NULL: not given */
    int dry_run;                      /* -DryRun: plan and log, write nothing */
} cpuu_opts;

/* Parse argv (argv[0] skipped).  SR_E_USAGE with a message naming the
 * argument.  Arrays are heap (cpuu_opts_clear), strings point into argv. */
sr_code cpuu_opts_parse(int argc, char **argv, cpuu_opts *o, sr_err *err);
void cpuu_opts_clear(cpuu_opts *o);
void cpuu_usage(FILE *fp);
cpuu_mode cpuu_opts_mode(const cpuu_opts *o);

/* ---- log file, CSV, progress ---------------------------------------------- */
/* -Log pattern → path: #H host, #D date (YYYYMMDD), #T time (HHMMSS), %VAR%
 * environment (unknown variables stay as written).  Heap, caller frees. */
char *cpuu_log_expand(const char *pattern);
/* The CSV beside the log: "x.log" → "x.csv", else "<log>.csv".  Heap. */
char *cpuu_csv_path(const char *log_path);

typedef struct cpuu_csv cpuu_csv;
/* Open (append, 0600).  NULL with err on failure.  Free with cpuu_csv_close. */
cpuu_csv *cpuu_csv_open(const char *path, sr_err *err);
/* "<profile>\t<current>\t<previous>\n"; SR_E_IO on a write failure. */
sr_code cpuu_csv_write(cpuu_csv *c, const char *profile, int current, int previous, sr_err *err);
void cpuu_csv_close(cpuu_csv *c);

/* Progress protocol, child side (cpuu_invoke.h): lines on $CPUU_PROGRESS_FD.
 * Without the variable (or with a bad fd) every call is a no-op. */
void cpuu_progress_init(void);
void cpuu_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The secret on $CPUU_SECRET_FD (read to EOF, trailing newline dropped);
 * NULL without one.  Caller frees with sr_secret_free. */
char *cpuu_secret_from_fd(sr_err *err);
/* The command pipe on $CPUU_COMMAND_FD (cpuu_invoke.h), or -1 without one. */
int cpuu_command_fd(void);
/* One command line from fd, without its newline; NULL on EOF or error.
 * Caller frees. */
char *cpuu_command_read(int fd);

/* ---- one run ---------------------------------------------------------------- */
/* A directory of the recipient map, connected once per run on first use. */
typedef struct cpuu_dir {
    ldapdir *dir;                     /* NULL until connected */
    int tried;
    sr_err err;                       /* why it could not be used (when tried and NULL) */
} cpuu_dir;

#define CPUU_SOURCE_DC_ENV "CPUU_SOURCE_DC"   /* [AD], from switchresmb */
#define CPUU_TARGET_DC_ENV "CPUU_TARGET_DC"   /* [TargetAD] (ours) */

/* The handle stays in the run (cpuu_dirs_open connects it); freed here. */
void cpuu_dir_free(cpuu_dir *d);

/* What outlives one run in an engine that serves several (main.c: the
 * command loop on CPUU_COMMAND_FD): the secret, which the parent sends once,
 * and the connection pool, so a further mailbox opens no new connection.
 * Nothing about a mailbox is kept here.  main.c owns and frees it. */
typedef struct cpuu_process {
    char *secret;                     /* from CPUU_SECRET_FD, or NULL; sr_secret_free */
    int secret_read;                  /* the pipe was read (it can be read once) */
    mapi_conns *conns[2];             /* source, target (a wave that must start on fresh
                                       * connections renews one side only); NULL: each
                                       * handle has its own connections */
    /* the recipient map's directory connections (run-wide CPUU_*_DC), kept
     * bound; one that could not be used is tried again by the next run */
    cpuu_dir src_dir, tgt_dir;
} cpuu_process;

typedef struct cpuu_run_ctx {
    const cpuu_opts *opts;
    mapi_conns *conns[2];             /* the process's (cpuu_process), borrowed, or NULL */
    cfg_cpuu *cfg;                    /* loaded and overridden */
    mapi_pstore *store;
    cpuu_csv *csv;
    char *secret;                     /* from CPUU_SECRET_FD (source password), or NULL */
    char *ini_dir;                    /* directory of CPUU.ini (local Autodiscover XMLs) */
    cpuu_dir src_dir;                 /* source directory for the recipient map (env) */
    cpuu_dir tgt_dir;                 /* target directory (env, ours: [TargetAD]) */
    int tgt_exchange_online;          /* the profile in progress targets Office 365 (TargetIsO365) */
    int ews_blocked;                  /* the target tenant refused EWS (HTTP 403) this run: */
    sr_err ews_blocked_err;           /* probed once, every later profile gets the same answer */
    const char *ews_off_why;          /* Auto's reason for Graph in the log (static), or NULL */
    unsigned bits;                    /* exit bitmask so far */
    unsigned n_done;                  /* profiles with a final "OK" code */
    struct cpuu_notify *notify;       /* [Admin notification] sender (notify.h), or NULL */
} cpuu_run_ctx;

/* The recipient map's directories for one profile, opened on the map's
 * first lookup (rmap_set_dirs; cpuu/directory.c): at most one connection
 * per directory and run (cpuu_dir), none when no feature looks anything up.
 * arg is a cpuu_dirs_req that outlives the map; a directory that cannot be
 * used is logged with who and fails the lookup. */
typedef struct cpuu_dirs_req {
    cpuu_run_ctx *r;
    const char *who;
    int failed;   /* set by cpuu_dirs_open: the profile fails, Critical or not */
} cpuu_dirs_req;
sr_code cpuu_dirs_open(void *arg, ldapdir **src, ldapdir **tgt, sr_err *err);

/* The user's abort (SIGINT, SIGHUP): the profile in progress is finished,
 * the rest are not started (cleanup reports them as 16), and the run gets
 * CPUU_USER_ABORT.  cpuu_abort_init installs the handlers (first thing in main). */
void cpuu_abort_init(void);
int cpuu_aborted(void);

/* Everything from CPUU.ini parse to the last CSV line.  Returns the exit bits.
 * proc (NULL-safe: a run of its own) keeps the secret and the connections for
 * the next run in this process; it is borrowed. */
unsigned cpuu_run(const cpuu_opts *o, cpuu_process *proc);
/* The switchmsg command (main.c): switchresmb's worker has this process
 * write a mailbox's switch message over its kept source connections, so the
 * worker opens none of its own (issue 13).  line: "<how>\t<mailbox>\t<EWS
 * URL>\t<logon>\t<version>\t<target SMTP>\t<target legacyExchangeDN>\t<O365
 * 0/1>\t<created by>\t<created at>", how "create" (none exists: the
 * parent's read just found none), "look" (create after a look; one found is
 * an error) or "recreate"; modified in place.  0, or CPUU_GLOBAL_ERR after a
 * "failed <code> <class> <text>" progress line. */
unsigned cpuu_switchmsg_command(const cpuu_opts *o, cpuu_process *proc, char *line);

/* Modes (modes.c): each handles every selected profile, writes the CSV and
 * ORs bits into r->bits. */
void cpuu_mode_update(cpuu_run_ctx *r);
void cpuu_mode_rollback(cpuu_run_ctx *r);
void cpuu_mode_cleanup(cpuu_run_ctx *r);

/* Per-profile state under the store: <store>/backups/<escaped name>/ (feature
 * backups, 0700) and <store>/backups/<escaped name>.status (last CSV code).
 * Heap, caller frees. */
char *cpuu_backup_dir(const cpuu_run_ctx *r, const char *profile);
int cpuu_status_prev(const cpuu_run_ctx *r, const char *profile);
/* Remove a profile's feature-backup directory (flat files); 0 when gone. */
int cpuu_rm_backup_dir(const char *dir);
/* Whether bdir holds a backup file of this feature ("<feature>.<name>"). */
int cpuu_backup_dir_has(const char *bdir, const char *feature);
void cpuu_status_save(const cpuu_run_ctx *r, const char *profile, int rc);
/* CSV line + status file + log line; ORs the bits. */
void cpuu_report(cpuu_run_ctx *r, cpuu_mode mode, const char *profile, int rc, unsigned extra);

/* engine.c: the network half of one profile. */
typedef struct cpuu_sides {
    mapi_net *src_net, *tgt_net;
    mapi_ad *src_ad, *tgt_ad;
    mapi_session *src, *tgt;
    int tgt_o365;               /* the switch message says the target is Office 365 */
    struct mapi_graph *tgt_graph;   /* the target over Microsoft Graph (then tgt is NULL) */
} cpuu_sides;
void cpuu_sides_free(cpuu_sides *s);
/* How long one request may wait out throttling in total (ms): 120 s, or
 * half the watchdog's shortest phase limit (OpenStoreWait, FeatureWait). */
unsigned cpuu_backoff_budget_ms(const cfg_cpuu *c);
/* Network handle for one side ("source"/"target") with the configured
 * credentials and the logon decision of mapi_netopts_from_account (OAuth2
 * when o365, or the side's Autodiscover URL is Exchange Online); errors name
 * the side and the INI line. */
mapi_net *cpuu_net_for(cpuu_run_ctx *r, int target, int o365, const mapi_account *acct,
                       sr_err *err);
/* The Graph client of the target (issue 17 §3): the target's credentials
 * (OAuth2 app-only) and GraphURL.  Free with mapi_graph_free. */
struct mapi_graph *cpuu_graph_for(cpuu_run_ctx *r, const mapi_account *acct, sr_err *err);
mapi_ad *cpuu_ad_for(cpuu_run_ctx *r, mapi_net *net, int target, const char *account_ad_url,
                     const char *domain, sr_err *err);
/* Update one profile (already loaded and checked); returns its CSV code and
 * sets *extra (switch message bits). */
int cpuu_update_profile(cpuu_run_ctx *r, mapi_profile *p, unsigned *extra);
/* Rollback: restore every feature's backup for this profile (network when
 * there are backups).  SR_OK when nothing needed restoring. */
sr_code cpuu_restore_features(cpuu_run_ctx *r, const char *name, const mapi_profile *cur,
                              const mapi_profile *orig, sr_err *err);

#endif
