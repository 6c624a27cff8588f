/* cpuu_invoke.h — run the update engine as a child process, the way the spec's
 * SwitchResMb runs ClientProfileUpdatingUtility: argv without a shell, the
 * watchdog (OpenStoreWait, FeatureWait, GlobalWait, Attempt), exit decoding.
 *
 * The child talks back on a pipe whose number it finds in CPUU_PROGRESS_FD,
 * one line per event (the engine's side of this protocol lives in cpuu/):
 *     openstore begin <what>     openstore end
 *     feature begin <Name>       feature end <Name>
 *                                twice per feature: around its read (all
 *                                features read first), then around its plan,
 *                                backup and writes
 *     unresolved <Name> <n>      a feature kept n references the recipient
 *                                map could not map (named in the engine's log)
 *     notcarried <Name> <n|all>  n items of a feature (or all of it: "all")
 *                                the target cannot take, e.g. over Microsoft
 *                                Graph (named in the engine's log)
 *     ewsblocked <app id|->      the target tenant refused EWS to the app
 *                                (Exchange Online, HTTP 403): the profile was
 *                                not updated; "-" when no app id is configured
 *     exit <bits>                the full CPUU exit bitmask
 * "exit" exists because the spec's bitmask reaches 512 while a process exit
 * status carries 8 bits: the status alone keeps only the low bits.
 * A command socket (CPUU_COMMAND_FD, read by the engine) lets one engine
 * process serve many mailboxes: after an update of named profiles
 * (-Profiles) the engine writes its "exit <bits>" line as always, then reads
 * commands on that socket, one line each, and answers each with the lines
 * above ending in its own "exit <bits>":
 *     update <profile>\t<log>\t<target Autodiscover line>
 *     cleanup <profile>\t<log>        cleanup [<log>] (the argv's profiles)
 * (cpuu/main.c; an empty <log> is the argv's -Log).  EOF, "quit" or anything
 * else ends the process.  The parent bounds every wait: closing its end (or
 * dying) gives EOF.  Without the variable the engine exits after the update
 * as before.  switchresmb keeps one engine per worker for up to 50
 * mailboxes (invoke_start, invoke_command; docs/cpuu.md "One engine for
 * many mailboxes") and starts a fresh one when it gives no answer.
 * A secret (the decrypted admin password) goes to the child on a second pipe
 * (CPUU_SECRET_FD), never in argv or the environment, where other users or a
 * core dump of the parent's children could read it.
 *
 * Depends on util only (the exit bits are in util/codes.h).  Ownership:
 * invoke_run fills a caller-owned result; an invoke_engine from invoke_start
 * or invoke_engine_adopt is freed by invoke_end, invoke_engine_drop, or
 * invoke_command when the engine gives no answer. */
#ifndef INVOKE_CPUU_INVOKE_H
#define INVOKE_CPUU_INVOKE_H

#include <signal.h>
#include <sys/types.h>

#include "util/codes.h"  /* CPUU_* exit bits */
#include "util/util.h"

typedef struct invoke_opts {
    unsigned open_store_wait_s;  /* OpenStoreWait: max seconds inside "openstore begin" (0: none) */
    unsigned feature_wait_s;     /* FeatureWait: max seconds inside one "feature begin" (0: none) */
    unsigned global_wait_s;      /* GlobalWait: max seconds for one run (0: none) */
    unsigned attempts;           /* Attempt: runs at most, restarting after a hang or crash (0 → 3) */
    int watchdog;                /* WatchDog: 0 disables the three timers */
    unsigned kill_grace_ms;      /* SIGTERM → SIGKILL grace (0 → 2000) */
    const char *secret;          /* sent on CPUU_SECRET_FD; NULL: no secret pipe */
    const char *who;             /* mailbox named in log lines */
    char *const *extra_env;      /* NAME=VALUE entries added to the child's environment; NULL-terminated */
    volatile pid_t *running_pid; /* if set: the running attempt's pid (= its process group), 0
                                    between attempts — for a caller that forwards signals */
    volatile sig_atomic_t *no_restart; /* if set and non-zero when an attempt ends: no further
                                    attempt (the caller was told to stop) */
} invoke_opts;

typedef enum {
    INVOKE_EXITED = 0,           /* the child ended by itself (see cpuu_bits) */
    INVOKE_TIMEOUT,              /* the watchdog stopped every attempt */
    INVOKE_CRASHED,              /* killed by a signal on the last attempt */
    INVOKE_CANNOT_START          /* exec failed (missing file, no permission) */
} invoke_outcome;

#define INVOKE_LIST_MAX 512     /* every feature with a 10-digit count and its name */

typedef struct invoke_result {
    invoke_outcome outcome;
    int exit_status;             /* 0..255 when the last attempt exited */
    int term_signal;             /* signal that ended the last attempt, else 0 */
    unsigned cpuu_bits;          /* "exit" line if sent, else the exit status; CPUU_CRASH added on a signal */
    unsigned attempts_used;
    char stage[96];              /* where the watchdog fired: "openstore <what>", "feature Rules", "global" */
    /* the last attempt's "unresolved" lines ("Booking 2, Nicks 1") and its
     * "notcarried" lines ("Favorites all, Rules 2"), or "": what does not
     * fit ends the list as ", and N more", never dropped silently */
    char unresolved[INVOKE_LIST_MAX];
    char not_carried[INVOKE_LIST_MAX];
    /* the features that failed ("featfailed" lines: "Nicks, Rules"), Critical
     * or not (a profile goes on after a non-Critical one), or "" */
    char feat_failed[INVOKE_LIST_MAX];
    int ews_blocked;             /* an "ewsblocked" line came */
    char ews_app_id[72];         /* its app id, "" for "-" */
    /* a command's "failed <code> <class> <text>" line (cpuu/main.c, the
     * switchmsg command): what went wrong, printable characters only; ""
     * when none came */
    int failed_code, failed_class;
    char failed[200];
} invoke_result;

/* Run argv[0] (absolute or relative path; no PATH search, no shell) under the
 * watchdog.  Returns SR_OK when an outcome was reached (any of the four), an
 * error only when the parent itself failed (pipe/fork).  Logs every restart. */
sr_code invoke_run(char *const argv[], const invoke_opts *opts, invoke_result *res, sr_err *err);

/* An engine that has answered its update and waits for one command. */
typedef struct invoke_engine invoke_engine;

/* invoke_run, with a command socket on CPUU_COMMAND_FD: when the last
 * attempt's engine wrote its "exit" line and still runs (it waits for a
 * command), res holds the update's result and *kept the engine; else *kept
 * is NULL and res is what invoke_run would give. */
sr_code invoke_start(char *const argv[], const invoke_opts *opts, invoke_result *res,
                     invoke_engine **kept, sr_err *err);

/* Send command (one line) to a kept engine that serves many: "update
 * <profile>\t<log>\t<target Autodiscover line>" or "cleanup <profile>\t<log>"
 * (cpuu/main.c), and watch it under opts' watchdog (GlobalWait counted from
 * the command) until its "exit" line.  Returns 1 when it answered: res is
 * the command's result and *e waits for the next command.  Returns 0 when it
 * died, hung or ended without an answer: res says how (INVOKE_CRASHED with
 * term_signal 0 when it was not our child and its status is unknown), the
 * engine is stopped and freed, *e is NULL. */
int invoke_command(invoke_engine **e, const char *command, const invoke_opts *opts,
                   invoke_result *res);

/* Handing a kept engine to another process (switchresmb's workers give it
 * back to the pool, which gives it to the next worker): its process id and
 * descriptors (prog: read end of its progress pipe, cmd: its command socket),
 * still owned by e. */
pid_t invoke_engine_pid(const invoke_engine *e);
void invoke_engine_fds(const invoke_engine *e, int *prog_fd, int *cmd_fd);
/* An engine from its process id and descriptors, as invoke_engine_fds gave
 * them (they become e's; prog is argv[0] for log lines, copied).  It need
 * not be our child: its end is then seen as its progress pipe closing.
 * NULL when out of memory (the descriptors stay the caller's). */
invoke_engine *invoke_engine_adopt(pid_t pid, int prog_fd, int cmd_fd, const char *prog);
/* Close our descriptors of e and free it, leaving the engine alone (another
 * process holds it).  NULL-safe. */
void invoke_engine_drop(invoke_engine *e);

/* Let a kept engine go without a command (EOF: it exits; stopped after 2 s
 * if it does not).  NULL-safe; frees e. */
void invoke_end(invoke_engine *e);

/* "CPUU_SUCCESS|CPUU_NO_SWITCH_MSG" (or "CPUU_CANNOT_START" for 0).  Caller frees. */
char *invoke_describe_bits(unsigned bits);

#endif
