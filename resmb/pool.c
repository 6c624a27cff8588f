/* pool.c — the worker pool (run_int.h): each mailbox runs in a forked
 * worker with its own journal and network handles; the parent collects one
 * record per worker through a pipe.  The pool is continuous: a worker that
 * ends is replaced at once by the next mailbox, whichever batch it is in;
 * the batched reads run ahead of the workers, at most RESMB_WINDOW batches
 * resident, and a batch is reported (in list order) once all of it is done.
 * A worker's engine outlives it: handed back here when its mailbox ends, it
 * goes to the next worker forked, up to RESMB_ENGINE_MAILBOXES (engines.c). */
#include "resmb/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpuu_invoke/cpuu_invoke.h"

/* What a worker sends back to the parent (one write, below PIPE_BUF). */
typedef struct rec {
    int idx;
    int state;
    unsigned bits;
    int code;            /* sr_code of a journal/table failure, else SR_OK */
    int wait;            /* failed for a WAIT-class reason (throttled): retry later */
    /* what this attempt spent, for the report files */
    long long phase_us[RESMB_PH__N];
    unsigned ews_requests, autodiscover_requests;
    char reason[1200];
} rec;
_Static_assert(sizeof(rec) <= PIPE_BUF, "a worker's record must be one atomic pipe write");

/* The engine the pool handed this worker (taken: NULL when none), adopted. */
static void adopt_engine(resmb_actx *a, const resmb_kept_engine *taken)
{
    if (!taken)
        return;
    a->engine = invoke_engine_adopt(taken->pid, taken->prog_fd, taken->cmd_fd,
                                    a->run->engine_argv[0]);
    a->engine_served = taken->served;
    if (!a->engine)
        resmb_engines_forked(taken);   /* out of memory: let it go (EOF ends it) */
}

/* The worker's engine, still waiting for a command, goes back to the pool for
 * the next mailbox unless it has served its share (RESMB_ENGINE_MAILBOXES). */
static void return_engine(resmb_actx *a, const resmb_engines *eng)
{
    unsigned served = a->engine_served + 1;
    if (a->engine && served < RESMB_ENGINE_MAILBOXES && resmb_engines_give_back(eng, a->engine, served)) {
        invoke_engine_drop(a->engine);
        a->engine = NULL;
    }
}

static void worker(resmb_run *run, resmb_mb *m, int idx, int wfd, const resmb_kept_engine *taken,
                   const resmb_engines *eng)
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
    adopt_engine(&a, taken);
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
        r.wait = r.state == MB_FAILED && m->wait_fail;
        /* the journal's bits are OR-ed over every attempt; report this run's */
        if (m->run_bits || r.state == MB_DONE)
            r.bits = m->run_bits;
    }
    if (j)
        sr_log(SR_LOG_DEBUG, m->key, "journal: %u write(s) in this worker", sm_journal_writes(j));
    sm_journal_close(j);
    memcpy(r.phase_us, a.phase_us, sizeof r.phase_us);
    r.ews_requests = mapi_net_requests(a.src_net) + mapi_net_requests(a.tgt_net);
    r.autodiscover_requests = mapi_ad_requests(a.tgt_ad);
    return_engine(&a, eng);   /* before the record: the pool collects it on our exit */
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

/* One batch of the window: read together, reported together. */
typedef struct pbatch {
    resmb_mb mb[RESMB_CHUNK];
    pid_t pid[RESMB_CHUNK];
    unsigned char done[RESMB_CHUNK];
    size_t n;
    size_t next;             /* first mailbox not yet handed to a worker */
    size_t left;             /* mailboxes not done */
    /* throttled mailboxes (issue 15): retried later in this run */
    unsigned char tries[RESMB_CHUNK];
    unsigned char waiting[RESMB_CHUNK];
    long long due_ms[RESMB_CHUNK];
} pbatch;

typedef struct pool {
    resmb_run *run;
    resmb_shared *sh;
    resmb_cursor *cur;
    resmb_report *rep;
    pbatch *slot[RESMB_WINDOW];  /* a ring: head is the oldest batch */
    size_t head, count;
    int running, crashed, eof, nwaiting;
    int rfd, wfd;
    resmb_engines eng;           /* engines between mailboxes (engines.c) */
} pool;

static pbatch *nth(pool *p, size_t k)
{
    return p->slot[(p->head + k) % RESMB_WINDOW];
}

static void mark_done(pbatch *b, size_t i)
{
    if (!b->done[i]) {
        b->done[i] = 1;
        b->left--;
    }
}

static int may_start(const pool *p)
{
    return !resmb_stop_requested() && !p->crashed;
}

/* A WAIT-class failure: the mailbox waits (1, 2, 4 ... s) and goes again. */
static void throttled(pool *p, pbatch *b, size_t i, const char *why)
{
    unsigned delay = RESMB_WAIT_FIRST_MS << b->tries[i];
    b->tries[i]++;
    b->waiting[i] = 1;
    b->due_ms[i] = sr_now_ms() + (delay < RESMB_WAIT_MAX_MS ? delay : RESMB_WAIT_MAX_MS);
    b->mb[i].state_before = MB_FAILED;   /* what the journal holds now */
    p->nwaiting++;
    sr_log(SR_LOG_WARN, b->mb[i].key, "throttled by Exchange (%s); retry %u of %d in %u ms",
           why, b->tries[i], RESMB_WAIT_RETRIES, delay);
}

/* The report's view of a final record after throttled attempts. */
static void outcome(rec *r, unsigned tries)
{
    char why[sizeof r->reason];
    if (r->wait) {   /* the retry budget ended (or the run stops) */
        r->state = RESMB_STATE_THROTTLED;
        snprintf(why, sizeof why, "throttled by Exchange in %u attempt(s); a rerun retries: %.1000s",
                 tries + 1, r->reason);
        memcpy(r->reason, why, sizeof why);
    } else if (tries && r->state == MB_DONE && !r->reason[0]) {
        snprintf(r->reason, sizeof r->reason, "processed after %u throttled attempt(s)", tries);
    }
}

/* Every attempt's time and requests count, a throttled one's too. */
static void spent(resmb_report *rep, const rec *r)
{
    for (size_t k = 0; k < RESMB_PH__N; k++)
        rep->phase_us[k] += r->phase_us[k] > 0 ? r->phase_us[k] : 0;
    rep->worker_ews_requests += r->ews_requests;
    rep->worker_autodiscover_requests += r->autodiscover_requests;
}

/* A worker's record names its mailbox as slot * RESMB_CHUNK + index: a slot
 * is reused only once all of its batch is done, so no record is stale. */
static void drain(pool *p)
{
    rec r;
    while (read(p->rfd, &r, sizeof r) == (ssize_t)sizeof r) {
        if (r.idx < 0 || r.idx >= RESMB_WINDOW * RESMB_CHUNK || !p->slot[r.idx / RESMB_CHUNK])
            continue;
        spent(p->rep, &r);
        pbatch *b = p->slot[r.idx / RESMB_CHUNK];
        size_t i = (size_t)r.idx % RESMB_CHUNK;
        if (r.wait && b->tries[i] < RESMB_WAIT_RETRIES && may_start(p)) {
            throttled(p, b, i, r.reason);
            continue;
        }
        outcome(&r, b->tries[i]);
        set_result(&b->mb[i], r.state, r.bits, r.reason);
        mark_done(b, i);
        if (r.code == SR_E_NOSPACE)   /* every next mailbox would fail the same way */
            resmb_request_stop(r.reason);
    }
}

/* Mailboxes read but not handed to a worker yet. */
static size_t ready(pool *p)
{
    size_t r = 0;
    for (size_t k = 0; k < p->count; k++)
        r += nth(p, k)->n - nth(p, k)->next;
    return r;
}

/* Read the next batch into a free slot: journal states, the directory
 * batch, the Autodiscover step, the EWS batch.  A mailbox done in an earlier run is done here. */
static void load(pool *p)
{
    size_t s = (p->head + p->count) % RESMB_WINDOW;
    pbatch *b = p->slot[s];
    memset(b->pid, 0, sizeof b->pid);
    memset(b->done, 0, sizeof b->done);
    memset(b->tries, 0, sizeof b->tries);
    memset(b->waiting, 0, sizeof b->waiting);
    b->n = resmb_next_chunk(p->cur, b->mb, RESMB_CHUNK);
    if (b->n == 0) {
        p->eof = 1;
        return;
    }
    b->next = 0;
    b->left = b->n;
    resmb_chunk_states(p->run, b->mb, b->n);
    long long t0 = resmb_now_us();
    resmb_resolve_batch(p->run, p->sh, b->mb, b->n);
    long long t1 = resmb_now_us();
    /* the source probe and the target Autodiscover in one step, then the
     * switch messages, then what the read says is still missing */
    resmb_ad_step(p->run, p->sh, b->mb, b->n);
    resmb_read_chunk(p->run, p->sh, b->mb, b->n);
    resmb_target_ad_batch(p->run, p->sh, b->mb, b->n);
    p->rep->phase_us[RESMB_PH_DIRECTORY] += t1 - t0;
    p->rep->phase_us[RESMB_PH_SWITCHMSG] += resmb_now_us() - t1;
    for (size_t i = 0; i < b->n; i++)   /* a duplicate is processed as its first entry */
        if (b->mb[i].state_before == MB_DONE || b->mb[i].dup_of)
            mark_done(b, i);
    p->count++;
}

/* Report and free the oldest batches that are complete (all of them, when
 * nothing runs any more: after a stop, what did not start is reported so). */
static void retire(pool *p, int all)
{
    while (p->count && (nth(p, 0)->left == 0 || all)) {
        pbatch *b = nth(p, 0);
        for (size_t i = 0; i < b->n; i++)
            if (b->waiting[i]) {   /* the run stops while it waits */
                set_result(&b->mb[i], RESMB_STATE_THROTTLED, RESMB_EXIT_FAILED,
                           "throttled by Exchange; the run stopped before its retry; "
                           "a rerun retries");
                b->waiting[i] = 0;
                p->nwaiting--;
            }
        resmb_progress_chunk_done(b->mb, b->n);
        resmb_report_chunk(p->rep, b->mb, b->n);
        resmb_checkpoint(p->run);
        for (size_t i = 0; i < b->n; i++)
            resmb_mb_clear(&b->mb[i]);
        b->n = 0;
        p->head = (p->head + 1) % RESMB_WINDOW;
        p->count--;
    }
}

static void start_one(pool *p, size_t s, size_t i)
{
    pbatch *b = p->slot[s];
    resmb_kept_engine taken;
    int have = resmb_engines_take(&p->eng, &taken);
    fflush(NULL);   /* no buffered line may be written twice */
    pid_t pid = fork();
    if (pid == 0) {
        close(p->rfd);
        resmb_engines_in_worker(&p->eng);
        worker(p->run, &b->mb[i], (int)(s * RESMB_CHUNK + i), p->wfd, have ? &taken : NULL, &p->eng);
    }
    if (have && pid < 0)
        resmb_engines_put_back(&p->eng, &taken);
    else if (have)
        resmb_engines_forked(&taken);
    if (pid < 0) {
        set_result(&b->mb[i], RESMB_STATE_INTERRUPTED, RESMB_EXIT_FAILED,
                   "cannot start a worker process");
        mark_done(b, i);
        return;
    }
    b->pid[i] = pid;
    p->running++;
}

/* A throttled mailbox whose wait is over: its switch message is read again
 * (the batch's read may be what was throttled), then a worker takes it. */
static void start_due(pool *p)
{
    long long now = sr_now_ms();
    for (size_t k = 0; k < p->count && may_start(p); k++) {
        size_t s = (p->head + k) % RESMB_WINDOW;
        pbatch *b = p->slot[s];
        for (size_t i = 0; i < b->n && p->running < p->run->o->jobs && may_start(p); i++) {
            if (!b->waiting[i] || b->due_ms[i] > now)
                continue;
            b->waiting[i] = 0;
            p->nwaiting--;
            resmb_mb *m = &b->mb[i];
            mapi_switchmsg_clear(&m->existing);
            m->existing_current = 0;
            m->read_done = 0;
            m->read_code = SR_OK;
            m->read_cls = SR_CLASS_NONE;
            m->read_msg[0] = m->reason[0] = '\0';
            m->wait_fail = 0;
            m->run_bits = 0;
            long long t0 = resmb_now_us();
            resmb_read_chunk(p->run, p->sh, m, 1);
            p->rep->phase_us[RESMB_PH_SWITCHMSG] += resmb_now_us() - t0;
            start_one(p, s, i);
        }
    }
}

/* Sleep until the first throttled mailbox is due (bounded), or a signal. */
static void wait_due(pool *p)
{
    long long first = -1;
    for (size_t k = 0; k < p->count; k++)
        for (size_t i = 0; i < nth(p, k)->n; i++)
            if (nth(p, k)->waiting[i] && (first < 0 || nth(p, k)->due_ms[i] < first))
                first = nth(p, k)->due_ms[i];
    long long d = first - sr_now_ms();
    if (d > 0)
        usleep((useconds_t)(d < RESMB_WAIT_MAX_MS ? d : RESMB_WAIT_MAX_MS) * 1000);
}

/* Hand ready mailboxes to free workers, oldest batch first. */
static void start_workers(pool *p)
{
    start_due(p);
    for (size_t k = 0; k < p->count && may_start(p); k++) {
        size_t s = (p->head + k) % RESMB_WINDOW;
        pbatch *b = p->slot[s];
        while (b->next < b->n && p->running < p->run->o->jobs && may_start(p)) {
            size_t i = b->next++;
            if (!b->done[i])
                start_one(p, s, i);
        }
    }
}

/* A worker ended: without a record it died mid-step. */
/* The status line: what the batches in the window have finished so far. */
static void progress(pool *p)
{
    unsigned done = 0, failed = 0;
    for (size_t k = 0; k < p->count; k++)
        resmb_progress_count(nth(p, k)->mb, nth(p, k)->n, &done, &failed);
    resmb_progress_pool(done, failed, (unsigned)p->running);
}

static void reaped(pool *p, pid_t w, int st)
{
    p->running--;
    drain(p);
    progress(p);
    for (size_t k = 0; k < p->count; k++) {
        pbatch *b = nth(p, k);
        for (size_t i = 0; i < b->n; i++) {
            if (b->pid[i] != w)
                continue;
            b->pid[i] = 0;
            if (b->done[i] || b->waiting[i])   /* its record came: done, or throttled */
                return;
            int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            p->crashed |= code == SM_CRASH_EXIT;
            char why[200];
            snprintf(why, sizeof why, "worker stopped (status %d); a rerun resumes it", code);
            set_result(&b->mb[i], RESMB_STATE_INTERRUPTED, RESMB_EXIT_FAILED, why);
            mark_done(b, i);
            return;
        }
    }
}

/* Read ahead while a slot is free and the workers would soon run dry. */
static int want_load(pool *p)
{
    return !p->eof && p->count < RESMB_WINDOW && may_start(p) &&
           ready(p) <= (size_t)p->run->o->jobs;
}

static void pool_loop(pool *p)
{
    for (;;) {
        retire(p, 0);
        if (want_load(p)) {
            load(p);
            continue;
        }
        start_workers(p);
        if (p->running == 0) {
            if (p->nwaiting && may_start(p) && ready(p) == 0 && !want_load(p)) {
                wait_due(p);
                continue;
            }
            if (!want_load(p) && (ready(p) == 0 || !may_start(p)))
                break;
            continue;
        }
        int st;
        /* with a throttled mailbox waiting, look again every 50 ms */
        pid_t w = waitpid(-1, &st, p->nwaiting ? WNOHANG : 0);
        if (w == 0) {
            usleep(50 * 1000);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            break;
        reaped(p, w, st);
    }
    drain(p);
    retire(p, 1);
}

int resmb_run_pool(resmb_run *run, resmb_shared *sh, resmb_cursor *cur, struct resmb_report *rep)
{
    pool p = { .run = run, .sh = sh, .cur = cur, .rep = rep };
    int fd[2];
    if (pipe2(fd, O_CLOEXEC) != 0) {
        sr_log(SR_LOG_ERROR, NULL, "no pipe for the worker pool: %s", strerror(errno));
        return 0;
    }
    p.rfd = fd[0];
    p.wfd = fd[1];
    fcntl(p.rfd, F_SETFL, O_NONBLOCK);
    int ok = 1;
    for (size_t s = 0; s < RESMB_WINDOW; s++)
        ok &= (p.slot[s] = calloc(1, sizeof *p.slot[s])) != NULL;
    sr_err e;
    /* no socket for the engines: each mailbox starts its own, as before */
    if (resmb_engines_init(&p.eng, (size_t)run->o->jobs, &e) != SR_OK)
        sr_log(SR_LOG_WARN, NULL, "%s: one engine process per mailbox", e.msg);
    if (ok)
        pool_loop(&p);
    else
        sr_log(SR_LOG_ERROR, NULL, "out of memory for the worker pool");
    resmb_engines_free(&p.eng);
    close(p.rfd);
    close(p.wfd);
    for (size_t s = 0; s < RESMB_WINDOW; s++)
        free(p.slot[s]);
    return p.crashed;
}
