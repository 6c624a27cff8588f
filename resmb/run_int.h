/* run_int.h — private to the run's files (resmb/run*.c, setup.c, batch.c,
 * pool.c, report.c): one switchresmb run taken apart by what each part does.
 *
 *   run.c     resmb_run_all: the pool or the dry run's plan, signals, the
 *             exit code
 *   setup.c   CPUU.ini, the engine's argv, credentials, state files, lock,
 *             --restart
 *   batch.c   the mailbox list batch by batch, the journal states, the
 *             batched directory reads and the batched switch-message reads
 *   target_batch.c  the batch's target Autodiscover, all addresses at once
 *   pool.c    the worker processes that drive each mailbox through the
 *             workflow, `jobs` at a time, continuously; throttled retries
 *   report.c  the report lines, --dry-run's plan, the exit bits of the run
 *   report_files.c  the JSON, CSV and HTML reports beside the journal
 *
 * Performance model: per batch of RESMB_CHUNK mailboxes, one batched set of
 * LDAP searches (ldapdir_resolve), one concurrent EWS batch
 * (mapi_session_open_many) and one concurrent target Autodiscover batch
 * (mapi_ad_discover_many), read ahead of a continuous worker pool; memory
 * holds RESMB_WINDOW batches, never the whole list.
 * Workers are forked processes (--jobs); the parent holds no journal handle
 * while workers run (SQLite connections must not cross a fork).
 *
 * Depends on resmb.h, ldap/, mapi/, statemachine/.  Ownership: resmb_run's
 * members are freed by resmb_run_free; resmb_shared's by its owner
 * (resmb_run_all); a report's FILE by its owner. */
#ifndef SR_RESMB_RUN_INT_H
#define SR_RESMB_RUN_INT_H

#include <stdio.h>
#include <sys/types.h>

#include "ldap/ldap_dir.h"
#include "resmb/resmb.h"

/* Mailboxes per chunk: one LDAP batch and one EWS batch each; bounds memory. */
#define RESMB_CHUNK 50
/* The parent's batched reads may use as many connections per side as
 * Exchange's default throttling policy lets one account hold
 * (EwsMaxConcurrency 27). */
#define RESMB_BATCH_PARALLEL 27

/* ---- run.c ------------------------------------------------------------------ */
/* Non-zero once SIGTERM/SIGINT arrived: no new worker starts. */
int resmb_stop_requested(void);
/* Stop starting mailboxes for a reason that is not a signal (a full disk);
 * why is printed once at the end.  Not for signal handlers. */
void resmb_request_stop(const char *why);
/* Fold the journal's WAL back (bounded growth); nothing in a dry run. */
void resmb_checkpoint(const resmb_run *run);

/* ---- setup.c ---------------------------------------------------------------- */
/* Workflow tables, engine argv, CPUU.ini and credentials, state directory,
 * journal and report paths, the lock (not in a dry run), --restart.  Returns
 * 0 or the exit bits; *sd and *stem (heap) are set once the state directory
 * exists, *lock_fd once the lock is held. */
int resmb_setup(resmb_run *run, char **sd, char **stem, int *lock_fd);
/* The journal of ini_path in state_dir (NULL: the default), as a run names
 * it.  Caller frees; NULL on OOM. */
char *resmb_journal_path(const char *ini_path, const char *state_dir);
/* Release what resmb_setup and the batches stored in run (not run itself). */
void resmb_run_free(resmb_run *run);

/* ---- batch.c ---------------------------------------------------------------- */
/* Where the walk over [Mailboxes] then [MailboxesSMTP] stands. */
typedef struct resmb_cursor {
    const cfg_resmb *cfg;
    int list;                /* 0: [Mailboxes], 1: [MailboxesSMTP], 2: end */
    size_t i;
} resmb_cursor;

/* What the parent's batches share for the whole run. */
typedef struct resmb_shared {
    ldapdir *dir;            /* NULL: no [AD] or it failed (dir_msg says why) */
    char dir_msg[1200];
    mapi_net *src_net;       /* the parent's, for the batched reads */
    mapi_ad *src_ad;
    mapi_net *tgt_net;       /* the parent's target handle and Autodiscover, made on first
                                use and kept for the run (target_batch.c) */
    mapi_ad *tgt_ad;
    int probed;              /* resmb_ad_step sent this batch's source probe: resmb_read_chunk
                                sends none */
    sm_journal *j;
    /* directory objects already named by an earlier entry: lower-cased DN →
     * that entry (section and key borrowed from the config, which outlives
     * the run); one open-addressing table for the run, ≈ 100 bytes a mailbox */
    struct resmb_seen *seen;
    size_t seen_cap, seen_n;
} resmb_shared;
/* Free the seen-DN table. */
void resmb_seen_free(resmb_shared *sh);

/* Fill out[0..max) with the next mailboxes (zeroed first); 0 at the end. */
size_t resmb_next_chunk(resmb_cursor *c, resmb_mb *out, size_t max);
/* Each mailbox's journal state at the start of this run (state_before); a
 * DONE left pending by a killed run is finished here.  The journal is closed
 * again before any fork. */
void resmb_chunk_states(resmb_run *run, resmb_mb *mb, size_t n);
/* Connect to [AD] once per run; on failure sh->dir stays NULL, dir_msg says why. */
void resmb_connect_dir(const resmb_run *run, resmb_shared *sh);
/* Batch 1: resolve the chunk's mailboxes (ad_ok, smtp, ...) — in the
 * directory when connected; [AD] absent → [MailboxesSMTP] mailboxes resolved
 * by the source Autodiscover (legacyExchangeDN, server), the rest fail saying
 * why; [AD] failed → every mailbox fails with dir_msg.  The one entry for the
 * dry-run loop and the worker pool alike. */
void resmb_resolve_batch(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n);
/* Once per run, with the first batch that has a mailbox to process (from
 * resmb_resolve_batch, in the parent): the Office 365 target's protocol
 * (run->tgt_proto, tgt_blocked) for every worker and engine of the run
 * (preflight.c).  Does nothing once decided. */
void resmb_target_preflight(resmb_run *run, const resmb_mb *mb, size_t n);

/* Whether Microsoft Graph answers for the target mailbox (graph_check.c):
 * a token for the Graph audience with CPUU.ini's app, then GET
 * /users/{mailbox}.  SR_OK, or the code with why in err. */
sr_code resmb_graph_answers(const resmb_run *run, const char *mailbox, sr_err *err);
/* The source EWS endpoint (run->src_ews_url), while none is known: the
 * source Autodiscover of the batch's first resolved mailbox, ending at a
 * redirectAddr (a migrated mailbox: the source cannot name its server),
 * its lines at DEBUG, its outcome logged once; then the fallbacks
 * ([RPCOverHTTP] ProxyServer, AutodiscoverSourceURL).  also (or NULL): more
 * Autodiscover searches sent in the same steps.  Returns 1 when a probe was
 * due (0: the endpoint is known, also was not sent). */
int resmb_src_probe(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n, mapi_ad_ask *also);
/* Batch 2: the switch messages of the chunk in one EWS round trip (read_*),
 * after resmb_src_probe (unless resmb_ad_step sent it for this batch). */
void resmb_read_chunk(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n);
/* Batch 1b (target_batch.c), before batch 2, not in a dry run: when the
 * source probe is due and the directory resolved the batch, the probe and
 * the target Autodiscover of every mailbox whose switch message would be
 * written if the read finds none (over EWS) in ONE step; the answers on
 * the mailboxes (tgt_ad_line, tgt_ad_err) as resmb_target_ad_batch keeps
 * them.  Otherwise nothing (the probe goes with batch 2, as before). */
void resmb_ad_step(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n);
/* Batch 3 (target_batch.c), after batch 2, not in a dry run: the target
 * Autodiscover of every mailbox whose switch message will be written over
 * EWS, all at once over the parent's kept target handle; each answer into
 * m->tgt_ad_line for its worker (NULL: the worker asks itself, as before).
 * An address resmb_ad_step answered already is not asked again. */
void resmb_target_ad_batch(resmb_run *run, resmb_shared *sh, resmb_mb *mb, size_t n);

/* ---- pool.c ----------------------------------------------------------------- */
/* Batches resident at once: the one being worked on, the next one read ahead
 * so that no worker waits for the batched reads, and one more so that a slow
 * mailbox holds back no mailbox beyond its own batch's successor.  Memory is
 * RESMB_WINDOW * RESMB_CHUNK mailboxes, whatever the length of the list. */
#define RESMB_WINDOW 3
/* A mailbox that failed for a WAIT-class reason (Exchange throttling it) is
 * retried later in the same run, after 1, 2, 4 s: three times, so that a
 * throttled tenant costs a run seconds, not hours; then it is reported as
 * THROTTLED (not failed) and a rerun goes on. */
#define RESMB_WAIT_RETRIES 3
#define RESMB_WAIT_FIRST_MS 1000u
#define RESMB_WAIT_MAX_MS 30000u
/* Run every mailbox from *cur, `jobs` at a time, each in a forked worker;
 * a finished worker takes the next mailbox at once.  Batches are read
 * (resmb_chunk_states, _resolve_batch, _read_chunk) ahead of the workers and
 * reported (resmb_report_chunk) in list order once complete.  Stops starting
 * mailboxes on a stop request; what did not start is reported so.  Returns 1
 * when a worker was stopped by the crash-test hook (the run then stops). */
/* ---- engines.c: engines kept between mailboxes --------------------------------- */
/* An engine (cpuu_invoke.h) serves at most this many mailboxes, one after
 * the other, then ends.  A bound, not a target: after 50 the start-up it
 * saves is under 2% of what one process per mailbox paid, while a leak or a
 * corrupted heap in the engine lives no longer than one batch (RESMB_CHUNK). */
#define RESMB_ENGINE_MAILBOXES 50

/* An engine between two workers: its process id, the read end of its
 * progress pipe, its command socket, and the mailboxes it has served. */
typedef struct resmb_kept_engine {
    pid_t pid;
    int prog_fd, cmd_fd;
    unsigned served;
} resmb_kept_engine;

/* The pool's idle engines (at most one per worker) and the socket workers
 * hand theirs back on.  Owned by the pool (resmb_engines_free). */
typedef struct resmb_engines {
    int rfd, wfd;
    resmb_kept_engine *idle;
    size_t n, cap;
} resmb_engines;

sr_code resmb_engines_init(resmb_engines *k, size_t cap, sr_err *err);
/* Ends every idle engine (EOF on its command socket).  NULL-safe contents. */
void resmb_engines_free(resmb_engines *k);
/* Pool: take in the engines workers handed back. */
void resmb_engines_collect(resmb_engines *k);
/* Pool, before forking a worker: an idle engine for it (1) or none (0). */
int resmb_engines_take(resmb_engines *k, resmb_kept_engine *out);
/* Pool: the fork failed, the engine stays idle. */
void resmb_engines_put_back(resmb_engines *k, const resmb_kept_engine *e);
/* Pool, after the fork: its copies of the worker's engine go. */
void resmb_engines_forked(const resmb_kept_engine *taken);
/* Worker, first thing: the copies of the idle engines go. */
void resmb_engines_in_worker(resmb_engines *k);
/* Worker: hand its engine (still waiting for a command) back, with the
 * mailboxes it has served; 1 when sent (the caller then drops its
 * descriptors with invoke_engine_drop). */
struct invoke_engine;
int resmb_engines_give_back(const resmb_engines *k, struct invoke_engine *e, unsigned served);

struct resmb_report;
int resmb_run_pool(resmb_run *run, resmb_shared *sh, resmb_cursor *cur, struct resmb_report *rep);

/* ---- report.c --------------------------------------------------------------- */
/* Lines collect in a temporary file and are printed at the end. */
typedef struct resmb_report {
    FILE *f;                 /* per-mailbox lines */
    unsigned bits;           /* OR over the mailboxes */
    unsigned n, done_now, done_before, failed, pending, profile_fail, not_started, duplicates;
    FILE *rows;              /* one line of JSON per mailbox, for the report files: an
                                unlinked temporary file (0600), so a long list is never
                                held in memory (issue 13 goal 7) */
    int rows_failed;         /* the temporary file could not be made or written */
    /* what the parent's batches spent */
    unsigned long ldap_searches;
    unsigned ews_requests, autodiscover_requests;
    /* what the workers' own handles spent (target Autodiscover, switch-message
     * writes), sent back with their records; the engine's are its own */
    unsigned long worker_ews_requests, worker_autodiscover_requests;
    /* time per phase: the parent's batched reads plus every worker's actions */
    long long phase_us[RESMB_PH__N];
    long long start_us;      /* resmb_now_us() when the run began (wall time) */
} resmb_report;

/* The chunk's report lines, in the order of the INI lists. */
void resmb_report_chunk(resmb_report *rep, const resmb_mb *mb, size_t n);
/* --dry-run: the line saying what would happen to m (nothing is written). */
void resmb_report_plan(resmb_report *rep, const resmb_run *run, const resmb_mb *m);
/* The run's exit bits (the spec's SwitchResMB bitmask) from the mailboxes'
 * bits; stopped: the run ended before every mailbox was processed. */
unsigned resmb_report_exit_bits(const resmb_report *rep, int stopped);
/* Print the report to stdout and, unless a dry run, to run->report_path and
 * the JSON, CSV and HTML files beside it. */
void resmb_report_finish(resmb_report *rep, const resmb_run *run, unsigned code);

/* ---- progress.c --------------------------------------------------------------- */
/* The status line on a terminal (stderr a tty; otherwise all of these do nothing). */
void resmb_progress_start(unsigned total);
/* Add the finished (done, failed) mailboxes of mb[0..n) to *done, *failed. */
void resmb_progress_count(const resmb_mb *mb, size_t n, unsigned *done, unsigned *failed);
/* While batches run: their finished mailboxes (on top of the retired
 * batches') and the running workers. */
void resmb_progress_pool(unsigned done, unsigned failed, unsigned running);
/* A batch is retired: its results join the totals. */
void resmb_progress_chunk_done(const resmb_mb *mb, size_t n);
void resmb_progress_end(void);

/* ---- report_files.c ---------------------------------------------------------- */
/* Keep one mailbox's line for the report files. */
void resmb_report_record(resmb_report *rep, const resmb_mb *m, int state, unsigned bits,
                         const char *why);
/* <stem>.report.json, .report.csv and .report.html beside run->report_path. */
void resmb_report_write_files(resmb_report *rep, const resmb_run *run, unsigned code);
/* Free what resmb_report_record kept. */
void resmb_report_release(resmb_report *rep);

#endif
