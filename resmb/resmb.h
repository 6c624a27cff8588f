/* resmb.h — private to resmb/: the processing pipeline of switchresmb.
 *
 *   workflow.c  the per-mailbox state machine (states, events, the table)
 *   actions.c   one function per action of the table
 *   run.c       the run (resmb_run_all), taken apart in run_int.h:
 *   setup.c     configuration, engine argv, credentials, journal, lock
 *   batch.c     the mailbox list in batches, batched AD/EWS reads
 *   pool.c      the continuous worker pool, batches read ahead
 *   report.c    the report and the exit bits
 *
 * Ownership: resmb_run owns everything it builds; a resmb_mb lives for the
 * chunk it belongs to and is freed by resmb_mb_clear.  Workers are forked
 * child processes: they inherit the run (read-only) and open their own
 * journal handle and network handles, never the parent's. */
#ifndef SR_RESMB_RESMB_H
#define SR_RESMB_RESMB_H

#include <stdio.h>

#include "configs/configs.h"
#include "mapi/graph.h"
#include "mapi/mapi.h"
#include "resmb/cli.h"
#include "statemachine/statemachine.h"

/* ---- the state machine (workflow.c) ------------------------------------- */
typedef enum {
    MB_QUEUED = 0,
    MB_RESOLVED,
    MB_SWITCHMSG_READY,
    MB_PROFILE_CREATED,
    MB_UPDATED,
    MB_CLEANED,
    MB_DONE,
    MB_FAILED,
    MB__NSTATES
} resmb_state;

typedef enum { EV_START = 0, EV_OK, EV_FAIL, EV__NEVENTS } resmb_event;

/* For the report only: a worker that died mid-step (never in the journal). */
#define RESMB_STATE_INTERRUPTED (-2)
/* For the report only: the run stopped (signal, full disk) before this one. */
#define RESMB_STATE_NOT_STARTED (-3)
/* For the report only: another entry names the same directory object. */
#define RESMB_STATE_DUPLICATE (-4)
/* For the report only: Exchange kept throttling this mailbox (a WAIT-class
 * failure) until the run's retry budget ended; a rerun retries it. */
#define RESMB_STATE_THROTTLED (-5)

/* The checked table; NULL with *err set when the table is inconsistent. */
const sm_def *resmb_workflow(sr_err *err);
/* The one-step table that puts a FAILED mailbox back to QUEUED (reruns). */
const sm_def *resmb_workflow_retry(sr_err *err);
const char *resmb_state_name(int state);

/* ---- one run -------------------------------------------------------------- */
typedef struct resmb_opts {
    const char *ini_path;
    const char *state_dir;       /* NULL: $XDG_STATE_HOME/switchresmb or ~/.local/state/switchresmb */
    const char *cpuu_path;       /* NULL: $SWITCHRESMB_CPUU, else cpuu beside this executable */
    int jobs;                    /* concurrent mailboxes (>= 1) */
    int dry_run;
    int restart;
    int allow_http;              /* http:// EWS/Autodiscover (loopback labs) */
    const char *ca_file;         /* extra trust anchors for EWS (NULL: system) */
    const char *mapping_attr;    /* attribute with the target address (NULL: ldap's targetAddress) */
    const char *cpuu_ini;        /* --check --cpuu-ini: check this CPUU.ini instead of the run's */
    int ews_concurrency;         /* requests in flight per Exchange account, the run's processes
                                  * and engines together (mapi/budget.h); 0: not limited */
} resmb_opts;

/* What the run knows about the whole job; built once, shared read-only. */
typedef struct resmb_run {
    const resmb_opts *o;
    const cfg_resmb *cfg;
    cfg_cpuu *cpuu;
    char *cpuu_ini_path;         /* absolute */
    char *cpuu_bin;
    int engine_bundled;          /* cpuu_bin is the engine installed beside this switchresmb
                                  * (the same file): it reads [handover], even in its first
                                  * run, before it has answered our command protocol */
    char **engine_argv;          /* cpuu + CPUUCmdLine tokens (+ -INI ...), NULL-terminated */
    size_t engine_argc;
    char *journal_path;
    char *report_path;
    char *profile_dir;           /* SWITCHRESMB_PROFILE_DIR for the engine and us */
    char *src_ews_url;           /* source EWS endpoint (Autodiscover once per run) */
    char *admin, *admin_pw;      /* CPUU.ini Admin / Password (decrypted: secret) */
    char *admin_trg, *admin_trg_pw;
    const sm_def *def;
    const sm_def *retry_def;
    int ini_lock_fd;             /* flock on SwitchResMB.ini (-1: none); set by resmb_setup */
    /* The Office 365 target's protocol, decided once per run in the parent
     * before the first worker forks (preflight.c): MAPI_PROTO_AUTO while
     * undecided (each engine then probes for itself). */
    mapi_proto tgt_proto;
    int tgt_decided;             /* the pre-flight ran (or had nothing to decide) */
    char *tgt_blocked;           /* the pre-flight's EWS answered 403 blocked: why, else NULL */
    int tgt_refused;             /* Auto: EWS answered 401 and Graph answered (not blocked) */
} resmb_run;

/* One mailbox of the current chunk, with what the batches found. */
typedef struct resmb_mb {
    const char *key;             /* as written in the INI (borrowed from cfg) */
    int read_open_failed;        /* the mailbox itself could not be opened (read_code) */
    char *dup_of;                /* "[Section] line N (key)" of the first entry naming the same
                                    directory object: this one is not processed (heap) */
    int line;                    /* its line in SwitchResMB.ini */
    const char *section;         /* "Mailboxes" or "MailboxesSMTP" */
    const char *target_given;    /* [TargetMailboxesSMTP] entry, or NULL */
    int state_before;            /* journal state at the start of the run (-1: new) */
    /* AD batch */
    int ad_ok;
    unsigned ad_bits;
    char *smtp, *legacy_dn, *display_name, *home_guid;  /* home_guid: "<guid>@<domain>" or NULL */
    char *target_smtp;           /* where the switch message must point, or NULL */
    char ad_msg[1200];
    /* EWS batch: the switch message in the source mailbox */
    int read_done;
    sr_code read_code;           /* SR_OK (present), SR_E_NOTFOUND, SR_E_PARSE, else failure */
    char read_msg[1200];
    mapi_switchmsg existing;
    int existing_current;        /* existing is what the mailbox holds now (read, or written
                                    by this worker): the engine gets it in [handover] */
    int64_t existing_at;         /* when that was read or written (Unix seconds) */
    sr_class read_cls;           /* the read's error class (SR_CLASS_WAIT: throttled) */
    /* target Autodiscover batch: the answer for the switch message's target, as
       mapi_ad_result_line gives it (heap), or NULL: the worker asks itself */
    char *tgt_ad_line;
    /* or, when the batch found the target address unknown (SR_E_NOTFOUND:
       asking again would only repeat it), that error (heap), else NULL */
    char *tgt_ad_err;
    /* filled by the actions (in the worker) */
    int sm_engine;               /* the switch message (existing) is the engine's to write:
                                    its [handover] says switchmsg-write=create (issue 13) */
    int sm_handed;               /* this worker wrote that [handover] into a new profile */
    char reason[1200];
    unsigned run_bits;           /* exit bits set in this run (the journal ORs over all runs) */
    int wait_fail;               /* the failure was WAIT-class (throttled): retry later */
    /* the worker's result, in the parent (reason above) */
    int has_result, result_state;
    unsigned result_bits;
} resmb_mb;

void resmb_mb_clear(resmb_mb *m);
/* The target address m's switch message is written for: its
 * [TargetMailboxesSMTP] entry, else the directory's (NULL: none). */
const char *resmb_mb_target(const resmb_mb *m);

/* Where a run spends its time, for the report's "time per phase": the
 * parent's batched reads count in the first two, the workers' actions in
 * all of them (summed over mailboxes). */
typedef enum {
    RESMB_PH_DIRECTORY = 0,      /* directory resolution */
    RESMB_PH_SWITCHMSG,          /* switch-message reads and writes, target Autodiscover */
    RESMB_PH_UPDATE,             /* the engine's update */
    RESMB_PH_CLEANUP,            /* the engine's cleanup */
    RESMB_PH_PROFILE,            /* temporary profile create and delete */
    RESMB_PH__N
} resmb_phase;
/* The phase's name in the report files ("directory", "engine_update", ...). */
const char *resmb_phase_name(resmb_phase ph);
/* Microseconds on the monotonic clock (phase timings). */
long long resmb_now_us(void);

/* Context handed to every action. */
typedef struct resmb_actx {
    const resmb_run *run;
    resmb_mb *mb;
    mapi_net *src_net, *tgt_net; /* the worker's own, created on first use */
    mapi_ad *tgt_ad;
    struct invoke_engine *engine; /* the worker's engine, waiting for a command (cpuu_invoke.h):
                                     handed over by the pool, or started for the update and
                                     kept for the cleanup and the next mailbox; or NULL */
    unsigned engine_served;       /* mailboxes it served before this one */
    long long phase_us[RESMB_PH__N];  /* time spent in each phase's actions */
} resmb_actx;

/* ---- actions (actions.c): each returns EV_OK or EV_FAIL ------------------- */
int resmb_act_resolve(sm_step *step, void *ctx);
int resmb_act_switchmsg(sm_step *step, void *ctx);
int resmb_act_create_profile(sm_step *step, void *ctx);
int resmb_act_update(sm_step *step, void *ctx);
int resmb_act_cleanup(sm_step *step, void *ctx);
int resmb_act_finish(sm_step *step, void *ctx);
int resmb_act_fail(sm_step *step, void *ctx);
int resmb_act_requeue(sm_step *step, void *ctx);
void resmb_actx_release(resmb_actx *a);

/* Which organisation a network handle talks to (its credentials). */
typedef enum { RESMB_SOURCE = 0, RESMB_TARGET } resmb_side;

/* Network handle for one side with the run's credentials (the target's
 * AdminTrg/PasswordTrg when set, else Admin/Password).  Caller frees with
 * mapi_net_free. */
mapi_net *resmb_net_new(const resmb_run *run, resmb_side side, unsigned max_parallel, sr_err *err);

/* The target's Autodiscover as CPUU.ini configures it (AutodiscoverTargetURL,
 * UseLocalAutodiscoverXMLs, SkipAutodiscoverChecking); net is borrowed.
 * Caller frees with mapi_ad_free. */
mapi_ad *resmb_target_ad_new(const resmb_run *run, mapi_net *net, sr_err *err);
/* ---- the run (run.c) ------------------------------------------------------- */
/* Process every mailbox of cfg; returns the exit code (spec bitmask). */
int resmb_run_all(const cfg_resmb *cfg, const resmb_opts *o);
/* --status (status.c): print the journal's view of every mailbox; returns the
 * bitmask a run would report now.  Runs nothing, writes nothing. */
int resmb_status(const cfg_resmb *cfg, const resmb_opts *o);
/* --check: exactly the validation a run does before its first mailbox
 * (resmb_validate in setup.c: CPUUCmdLine, CPUU.ini and its credentials,
 * DCPassword, the engine), then the summary on out.  Returns the exit code
 * the run would have returned for it (0 when valid). */
int resmb_check(const cfg_resmb *cfg, const resmb_opts *o, FILE *out);
/* --check, for an Office 365 target that may speak Graph (ProtocolTrg Graph
 * or Auto, graph_check.c): one token and one GET of the first target
 * mailbox, reported on out.  Returns RESMB_EXIT_FAILED when ProtocolTrg is
 * Graph and the probe failed, RESMB_EXIT_INI for ProtocolTrg=Graph with a
 * target that is not Office 365, else 0. */
int resmb_graph_probe(const resmb_run *run, FILE *out);

#endif
