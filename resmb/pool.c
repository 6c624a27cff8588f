/* pool.c — the worker pool (run_int.h): each mailbox of a chunk runs in a
 * forked worker with its own journal and network handles; the parent
 * collects one record per worker through a pipe. */
#include "resmb/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What a worker sends back to the parent (one write, below PIPE_BUF). */
typedef struct rec {
    int idx;
    int state;
    unsigned bits;
    int code;            /* sr_code of a journal/table failure, else SR_OK */
    char reason[1200];
} rec;

static void worker(resmb_run *run, resmb_mb *m, int idx, int wfd)
{
    /* A stop (SIGTERM from systemd, Ctrl-C to the process group) is the
     * parent's business: it starts no new mailbox and waits for the running
     * ones, so a worker finishes its mailbox and its engine is not cut off
     * (docs/switchresmb.md; the runner gives the engine default signals). */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    /* cpuu_invoke writes the secret into a socket the engine may never read
     * (it can exit first): EPIPE there, not death of the worker. */
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
        /* the report shows where the mailbox really is (the journal can
         * still be read on a full disk), not NEW */
        sr_err e2;
        r.state = j ? sm_state_of(j, m->key, &e2) : -1;
        if (r.state < 0)
            r.state = RESMB_STATE_INTERRUPTED;
        r.bits |= RESMB_EXIT_FAILED;
        r.code = e.code;
        snprintf(r.reason, sizeof r.reason, "%s", e.msg);
        sr_log(SR_LOG_ERROR, m->key, "%s", e.msg);
    } else {
        snprintf(r.reason, sizeof r.reason, "%s", m->reason);
        /* the journal's bits are OR-ed over every attempt; report this run's */
        if (m->run_bits || r.state == MB_DONE)
            r.bits = m->run_bits;
    }
    if (j)
        sr_log(SR_LOG_DEBUG, m->key, "journal: %u write(s) in this worker", sm_journal_writes(j));
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
        if (r.code == SR_E_NOSPACE)   /* every next mailbox would fail the same way */
            resmb_request_stop(r.reason);
    }
}

int resmb_run_chunk(resmb_run *run, resmb_mb *mb, size_t n)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return 0;
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    int *got = calloc(n, sizeof *got);
    pid_t *pids = calloc(n, sizeof *pids);
    int running = 0, crashed = 0;
    size_t next = 0;
    while (got && pids && (running > 0 || (next < n && !resmb_stop_requested() && !crashed))) {
        while (running < run->o->jobs && next < n && !resmb_stop_requested() && !crashed) {
            size_t i = next++;
            if (mb[i].state_before == MB_DONE || mb[i].dup_of) {
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
        resmb_progress_pool(mb, n, (unsigned)running);
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
