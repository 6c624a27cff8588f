/* progress.c — one status line on a terminal (run_int.h): when stderr is a
 * terminal, switchresmb rewrites a single line in place — done / failed /
 * running / queued, mailboxes per second and the time left — while the log
 * goes on to stdout as before.  Not a terminal: nothing here is printed. */
#include "resmb/run_int.h"

#include <time.h>
#include <unistd.h>

static struct {
    int on;
    unsigned total, done, failed;   /* done/failed: finished chunks */
    double start, last;
} g;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void resmb_progress_start(unsigned total)
{
    g.on = isatty(STDERR_FILENO);
    g.total = total;
    g.done = g.failed = 0;
    g.start = g.last = now_s();
}

static void draw(unsigned done, unsigned failed, unsigned running, int force)
{
    double t = now_s();
    if (!g.on || (!force && t - g.last < 0.2))
        return;
    g.last = t;
    unsigned finished = done + failed;
    unsigned queued = g.total > finished + running ? g.total - finished - running : 0;
    double rate = t > g.start ? finished / (t - g.start) : 0;
    char eta[32] = "--:--:--";
    if (rate > 0) {
        long s = (long)((g.total - finished) / rate);
        snprintf(eta, sizeof eta, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    }
    fprintf(stderr, "\r%u/%u  done %u  failed %u  running %u  queued %u  %.1f mailboxes/s  "
            "ETA %s\033[K", finished, g.total, done, failed, running, queued, rate, eta);
    fflush(stderr);
}

void resmb_progress_count(const resmb_mb *mb, size_t n, unsigned *done, unsigned *failed)
{
    for (size_t i = 0; i < n; i++) {
        if (mb[i].state_before == MB_DONE || (mb[i].has_result && mb[i].result_state == MB_DONE))
            (*done)++;
        else if (mb[i].has_result)
            (*failed)++;
    }
}

void resmb_progress_pool(unsigned done, unsigned failed, unsigned running)
{
    draw(g.done + done, g.failed + failed, running, 0);
}

void resmb_progress_chunk_done(const resmb_mb *mb, size_t n)
{
    resmb_progress_count(mb, n, &g.done, &g.failed);
    draw(g.done, g.failed, 0, 1);
}

void resmb_progress_end(void)
{
    if (!g.on)
        return;
    draw(g.done, g.failed, 0, 1);
    fputc('\n', stderr);
}
