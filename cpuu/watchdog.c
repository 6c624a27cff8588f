/* watchdog.c — cpuu run by hand (a logon script, CPUU_Update.sh, cron) runs
 * under the spec's watchdog too, not only when switchresmb starts it
 * (spec "CPUU Parameters": WatchDog launches a process that watches for
 * hangs, stops the engine after OpenStoreWait / FeatureWait / GlobalWait and
 * restarts it, at most Attempt times).
 *
 * The watchdog is cpuu_invoke's, the one switchresmb's runner uses: this
 * process becomes the parent and runs itself again as the engine, with
 * CPUU_PROGRESS_FD set — which is also how the engine knows it is already
 * watched (by switchresmb or by us) and must not start another watchdog.
 * Signals a user sends (Ctrl-C, SIGTERM, SIGHUP) go on to the engine, which
 * finishes the profile in progress (CPUU_USER_ABORT).  A password given on
 * CPUU_SECRET_FD is read once here and handed to every attempt. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuu/engine.h"
#include "cpuu_invoke/cpuu_invoke.h"

int cpuu_watchdog_run(int argc, char **argv, unsigned *bits);

static volatile pid_t g_engine;
static volatile sig_atomic_t g_stop;

/* The user's signal is for the engine; and once told to stop, the watchdog
 * restarts nothing. */
static void forward(int sig)
{
    g_stop = 1;
    pid_t p = g_engine;
    if (p > 0)
        kill(-p, sig);
}

/* The watchdog values of CPUU.ini, or 0 when the engine should run unwatched
 * (WatchDog=0, or a CPUU.ini the engine itself will report as broken). */
static int watch_config(const cpuu_opts *o, invoke_opts *w)
{
    FILE *devnull = fopen("/dev/null", "w");
    sr_log_set_stream(devnull);   /* the engine logs the same problems itself */
    cfg_diag d = { 0 };
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(o->ini ? o->ini : "CPUU.ini", &d, &e);
    sr_log_set_stream(NULL);
    if (devnull)
        fclose(devnull);
    int on = c && c->watchdog;
    if (on) {
        w->watchdog = 1;
        w->attempts = (unsigned)c->attempt;
        w->open_store_wait_s = (unsigned)c->open_store_wait;
        w->feature_wait_s = (unsigned)c->feature_wait;
        w->global_wait_s = (unsigned)c->global_wait;
    }
    cfg_cpuu_free(c);
    return on;
}

static unsigned watched_run(char **child_argv, invoke_opts *w)
{
    struct sigaction sa = { .sa_handler = forward };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    invoke_result r;
    sr_err e;
    if (invoke_run(child_argv, w, &r, &e) != SR_OK || r.outcome == INVOKE_CANNOT_START) {
        fprintf(stderr, "cpuu: watchdog: %s\n", e.msg);
        return CPUU_GLOBAL_ERR;
    }
    if (r.outcome == INVOKE_TIMEOUT) {
        fprintf(stderr, "cpuu: watchdog: the engine hung in %s on each of %u attempts; stopped "
                        "(exit bits include 32)\n", r.stage, r.attempts_used);
        return r.cpuu_bits | CPUU_CRASH;
    }
    if (r.outcome == INVOKE_CRASHED)
        fprintf(stderr, "cpuu: watchdog: the engine died of signal %d on each of %u attempts\n",
                r.term_signal, r.attempts_used);
    return r.cpuu_bits;
}

/* 1 = the engine ran under the watchdog and *bits is its result; 0 = run
 * the engine in this process (already watched, WatchDog=0, help, bad argv). */
int cpuu_watchdog_run(int argc, char **argv, unsigned *bits)
{
    if (getenv("CPUU_PROGRESS_FD"))
        return 0;
    cpuu_opts o;
    sr_err e;
    int parsed = cpuu_opts_parse(argc, argv, &o, &e) == SR_OK && !o.help;
    invoke_opts w = { .who = "cpuu", .running_pid = &g_engine, .no_restart = &g_stop };
    int on = parsed && watch_config(&o, &w);
    cpuu_opts_clear(&o);
    char self[4096];
    ssize_t n = on ? readlink("/proc/self/exe", self, sizeof self - 1) : -1;
    if (n <= 0)
        return 0;
    self[n] = '\0';
    char **child_argv = calloc((size_t)argc + 1, sizeof *child_argv);
    if (!child_argv)
        return 0;
    child_argv[0] = self;
    for (int i = 1; i < argc; i++)
        child_argv[i] = argv[i];
    char *secret = cpuu_secret_from_fd(&e);
    w.secret = secret;
    *bits = watched_run(child_argv, &w);
    sr_secret_free(secret);
    free(child_argv);
    return 1;
}
