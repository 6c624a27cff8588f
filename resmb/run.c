/* run.c — one switchresmb run (resmb_run_all): set up, then the continuous
 * worker pool (which reads the batches ahead and reports them) or, for
 * --dry-run, batch by batch the reads and the plan; finally the report and
 * the exit bits.  The parts live in setup.c, batch.c, pool.c and
 * report.c (run_int.h describes them and the performance model). */
#include "resmb/run_int.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;
static char g_stop_why[1200];   /* set outside signal handlers only */

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

int resmb_stop_requested(void)
{
    return g_stop != 0;
}

void resmb_request_stop(const char *why)
{
    if (!g_stop_why[0])
        snprintf(g_stop_why, sizeof g_stop_why, "%s", why);
    g_stop = 1;
}

/* Fold the batch's WAL back into the journal: bounded growth on any disk. */
void resmb_checkpoint(const resmb_run *run)
{
    sr_err e;
    sm_journal *j = run->o->dry_run ? NULL : sm_journal_open(run->journal_path, &e);
    if (j && sm_journal_checkpoint(j, &e) != SR_OK)
        sr_log(SR_LOG_WARN, NULL, "%s", e.msg);
    sm_journal_close(j);
}

/* After a stop every mailbox not reached still gets its report line. */
static void report_rest(resmb_run *run, resmb_cursor *cur, resmb_mb *mb, resmb_report *rep)
{
    size_t n;
    while (mb && (n = resmb_next_chunk(cur, mb, RESMB_CHUNK)) > 0) {
        resmb_chunk_states(run, mb, n);
        resmb_report_chunk(rep, mb, n);
        for (size_t i = 0; i < n; i++)
            resmb_mb_clear(&mb[i]);
    }
}

const char *resmb_mb_target(const resmb_mb *m)
{
    return m->target_given ? m->target_given : m->target_smtp;
}

void resmb_mb_clear(resmb_mb *m)
{
    free(m->smtp);
    free(m->legacy_dn);
    free(m->display_name);
    free(m->home_guid);
    free(m->target_smtp);
    free(m->dup_of);
    free(m->tgt_ad_line);
    free(m->tgt_ad_err);
    mapi_switchmsg_clear(&m->existing);
    memset(m, 0, sizeof *m);
}

/* One budget per account for the run (mapi/budget.h): made before the first
 * request and before any worker, so every process of the run inherits it. */
static int budget_start(const resmb_run *run, const resmb_opts *o)
{
    sr_err e;
    /* recorded beside the journal, whose lock this run holds: the next run
     * removes a set this one leaves when SIGKILLed */
    char *record = sr_asprintf("%s.budget", run->journal_path);
    sr_code rc = record ? mapi_budget_create((unsigned)o->ews_concurrency, record, &e)
                        : sr_err_set(&e, SR_E_NOMEM, "out of memory");
    free(record);
    if (rc != SR_OK) {
        sr_log(SR_LOG_ERROR, NULL, "%s", e.msg);
        return 0;
    }
    if (o->ews_concurrency)
        sr_log(SR_LOG_INFO, NULL, "at most %d request(s) in flight per Exchange account "
               "(source, target), engines included", o->ews_concurrency);
    return 1;
}

/* Once every worker is gone all slots are free again: the kernel gave back
 * what a killed engine held (SEM_UNDO).  Anything else is a leak worth a line. */
static void budget_end(const resmb_opts *o)
{
    static const mapi_budget_side sides[] = { MAPI_BUDGET_SOURCE, MAPI_BUDGET_TARGET };
    static const char *const names[] = { "source", "target" };
    for (size_t i = 0; o->ews_concurrency && i < 2; i++) {
        int left = mapi_budget_free_slots(sides[i]);
        if (left >= 0 && left != o->ews_concurrency)
            sr_log(SR_LOG_WARN, NULL, "request budget (%s): %d of %d slot(s) free at the end",
                   names[i], left, o->ews_concurrency);
        else if (left >= 0)
            sr_log(SR_LOG_INFO, NULL, "request budget (%s): all %d slot(s) free at the end",
                   names[i], left);
    }
    mapi_budget_remove();
}

int resmb_run_all(const cfg_resmb *cfg, const resmb_opts *o)
{
    long long t_start = resmb_now_us();
    setvbuf(stdout, NULL, _IOLBF, 0);
    sr_log_set_stream(stdout);
    resmb_run run = { .o = o, .cfg = cfg };
    char *sd = NULL, *stem = NULL;
    int lock_fd = -1;
    int bits = resmb_setup(&run, &sd, &stem, &lock_fd);
    if (bits) {
        fprintf(stdout, "switchresmb: nothing processed; exit code %d\n", bits);
        resmb_run_free(&run);
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

    /* the report lines wait in a temporary file (memory must not grow with
     * the list); in memory when no file can be made (a full /tmp) */
    char *rep_mem = NULL;
    size_t rep_len = 0;
    resmb_report rep = { .f = tmpfile(), .start_us = t_start };
    if (!rep.f)
        rep.f = open_memstream(&rep_mem, &rep_len);
    resmb_shared sh = { 0 };
    sr_err e;
    if (!budget_start(&run, o)) {
        bits = RESMB_EXIT_FAILED;
        goto out;
    }
    if (!rep.f || !(sh.src_net = resmb_net_new(&run, RESMB_SOURCE, RESMB_BATCH_PARALLEL, &e))) {
        sr_log(SR_LOG_ERROR, NULL, "%s", rep.f ? e.msg : "no temporary file for the report");
        bits = RESMB_EXIT_FAILED;
        goto out;
    }
    resmb_connect_dir(&run, &sh);
    if (!sh.dir)
        sr_log(SR_LOG_ERROR, NULL, "%s", sh.dir_msg);
    resmb_cursor cur = { .cfg = cfg };
    resmb_mb *mb = calloc(RESMB_CHUNK, sizeof *mb);
    size_t n;
    int crashed = 0;
    if (!o->dry_run)
        resmb_progress_start((unsigned)(cfg->mailboxes.n + cfg->mailboxes_smtp.n));
    while (o->dry_run && mb && !g_stop && (n = resmb_next_chunk(&cur, mb, RESMB_CHUNK)) > 0) {
        resmb_chunk_states(&run, mb, n);
        resmb_resolve_batch(&run, &sh, mb, n);
        resmb_read_chunk(&run, &sh, mb, n);
        for (size_t i = 0; i < n; i++) {
            if (mb[i].state_before != MB_DONE)
                resmb_report_plan(&rep, &run, &mb[i]);
            else
                resmb_report_chunk(&rep, &mb[i], 1);
            resmb_mb_clear(&mb[i]);
        }
    }
    if (!o->dry_run && mb)
        crashed = resmb_run_pool(&run, &sh, &cur, &rep);
    if (g_stop && !crashed)
        report_rest(&run, &cur, mb, &rep);
    free(mb);
    if (!o->dry_run)
        resmb_progress_end();
    if (crashed) {
        sr_log(SR_LOG_ERROR, NULL, "a worker was stopped by the crash-test hook (SM_CRASH_AT_STEP "
               "or SM_CRASH_AFTER_ACTION); run stopped");
        fflush(stdout);
        mapi_budget_remove();
        _exit(SM_CRASH_EXIT);
    }
    int stopped = g_stop || rep.not_started;
    if (stopped && g_stop_why[0])
        sr_log(SR_LOG_ERROR, NULL, "%s: run stopped; free space and run again to resume",
               g_stop_why);
    else if (stopped)
        sr_log(SR_LOG_WARN, NULL, "stopped by a signal before every mailbox was processed; "
               "a rerun resumes");
    bits = (int)resmb_report_exit_bits(&rep, stopped);
    if (sh.dir)
        sr_log(SR_LOG_INFO, NULL, "directory: %lu LDAP search request(s)",
               ldapdir_search_count(sh.dir));
    sr_log(SR_LOG_INFO, NULL, "source EWS (batched reads): %u request(s) over %u connection(s), "
           "%u Autodiscover request(s)", mapi_net_requests(sh.src_net),
           mapi_net_connections(sh.src_net), sh.src_ad ? mapi_ad_requests(sh.src_ad) : 0);
    if (sh.tgt_net)
        sr_log(SR_LOG_INFO, NULL, "target Autodiscover (batched): %u request(s) over %u connection(s)",
               mapi_ad_requests(sh.tgt_ad), mapi_net_connections(sh.tgt_net));
    rep.ldap_searches = sh.dir ? ldapdir_search_count(sh.dir) : 0;
    rep.ews_requests = mapi_net_requests(sh.src_net) + mapi_net_requests(sh.tgt_net);
    rep.autodiscover_requests = (sh.src_ad ? mapi_ad_requests(sh.src_ad) : 0) +
                                mapi_ad_requests(sh.tgt_ad);
    resmb_report_finish(&rep, &run, (unsigned)bits);
out:
    budget_end(o);
    if (rep.f)
        fclose(rep.f);
    free(rep_mem);
    resmb_report_release(&rep);
    ldapdir_free(sh.dir);
    resmb_seen_free(&sh);
    mapi_ad_free(sh.src_ad);
    mapi_net_free(sh.src_net);
    mapi_ad_free(sh.tgt_ad);
    mapi_net_free(sh.tgt_net);
    if (lock_fd >= 0)
        close(lock_fd);
    resmb_run_free(&run);
    free(sd);
    free(stem);
    return bits;
}
