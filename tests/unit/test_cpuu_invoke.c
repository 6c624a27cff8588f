/* test_cpuu_invoke.c — the watchdog and exit decoding, with /bin/sh scripts
 * standing in for the engine (they speak the progress protocol). */
#include "cpuu_invoke/cpuu_invoke.h"

#include <CUnit/Basic.h>
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static invoke_result run_sh(const char *script, invoke_opts o)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
    invoke_result r;
    sr_err e;
    CU_ASSERT_EQUAL(invoke_run(argv, &o, &r, &e), SR_OK);
    return r;
}

static void test_full_bitmask_from_progress_line(void)
{
    /* 512 does not fit an exit status: the "exit" line carries it */
    invoke_result r = run_sh("echo 'exit 513' >&$CPUU_PROGRESS_FD; exit 1",
                             (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.exit_status, 1);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SUCCESS | CPUU_INVALID_SWITCH_MSG);
    char *d = invoke_describe_bits(r.cpuu_bits);
    CU_ASSERT_STRING_EQUAL(d, "CPUU_SUCCESS|CPUU_INVALID_SWITCH_MSG");
    free(d);
    r = run_sh("exit 6", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_NO_SWITCH_MSG | CPUU_SWITCH_ERR);
    d = invoke_describe_bits(0);
    CU_ASSERT_STRING_EQUAL(d, "CPUU_CANNOT_START");
    free(d);
}

/* "unresolved <Name> <n>" lines reach the result (the mailbox's report line);
 * a malformed one is ignored; none → "". */
static void test_unresolved_lines(void)
{
    invoke_result r = run_sh("p=$CPUU_PROGRESS_FD; echo 'feature begin Nicks' >&$p; "
                             "echo 'feature end Nicks' >&$p; echo 'unresolved Nicks 3' >&$p; "
                             "echo 'unresolved Booking' >&$p; echo 'unresolved Booking 2' >&$p; "
                             "echo 'exit 1' >&$p; exit 1", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_STRING_EQUAL(r.unresolved, "Nicks 3, Booking 2");
    r = run_sh("exit 1", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_STRING_EQUAL(r.unresolved, "");
    CU_ASSERT_STRING_EQUAL(r.not_carried, "");
}

/* "notcarried <Name> <n|all>" lines (what the target could not take, e.g.
 * over Microsoft Graph) reach the result beside the unresolved ones;
 * malformed ones are ignored. */
static void test_notcarried_lines(void)
{
    invoke_result r = run_sh("p=$CPUU_PROGRESS_FD; echo 'notcarried Favorites all' >&$p; "
                             "echo 'notcarried Rules 2' >&$p; echo 'notcarried Nicks' >&$p; "
                             "echo 'notcarried Nicks some' >&$p; echo 'unresolved Rules all' >&$p; "
                             "echo 'unresolved Rules 1' >&$p; echo 'exit 1' >&$p; exit 1",
                             (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_STRING_EQUAL(r.not_carried, "Favorites all, Rules 2");
    CU_ASSERT_STRING_EQUAL(r.unresolved, "Rules 1");
}

/* "featfailed <Name>" lines (a feature that failed; a profile goes on
 * after a non-Critical one and is still "modified OK") reach the result as
 * a list of names; malformed ones are ignored. */
static void test_featfailed_lines(void)
{
    invoke_result r = run_sh("p=$CPUU_PROGRESS_FD; echo 'featfailed Nicks' >&$p; "
                             "echo 'featfailed' >&$p; echo 'featfailed Rules extra' >&$p; "
                             "echo 'featfailed Favorites' >&$p; echo 'exit 1' >&$p; exit 1",
                             (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_STRING_EQUAL(r.feat_failed, "Nicks, Favorites");
    CU_ASSERT_STRING_EQUAL(r.not_carried, "");
}

/* "failed <code> <class> <text>" (a command the engine could not carry
 * out, issue 13's switchmsg) reaches the result: the numbers, and the text
 * with control characters made spaces; a line without both numbers is
 * ignored, and a run without one has none. */
static void test_failed_line(void)
{
    invoke_result r = run_sh("p=$CPUU_PROGRESS_FD; printf 'failed 9 2 throttled\tby\\033 it\\n' >&$p; "
                             "echo 'exit 16' >&$p; exit 16", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_GLOBAL_ERR);
    CU_ASSERT_EQUAL(r.failed_code, 9);
    CU_ASSERT_EQUAL(r.failed_class, 2);
    CU_ASSERT_STRING_EQUAL(r.failed, "throttled by  it");
    r = run_sh("echo 'failed x 2 no code' >&$CPUU_PROGRESS_FD; exit 16", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_STRING_EQUAL(r.failed, "");
    r = run_sh("exit 0", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_STRING_EQUAL(r.failed, "");
    CU_ASSERT_EQUAL(r.failed_code, 0);
}

/* -- g2blocked: issue 17 §1, EWS blocked seen only by the engine ----------- */

/* "ewsblocked <app id|->" reaches the result: the app id when it is one
 * token of GUID characters, "" for "-" or anything a report must not carry;
 * no line, or another word that starts the same, is not a block. */
static void test_ewsblocked_line(void)
{
    invoke_result r = run_sh("p=$CPUU_PROGRESS_FD; echo 'ewsblocked 0a1b2c3d-1111-2222-3333-444455556666' >&$p; "
                             "echo 'exit 20' >&$p; exit 20", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SWITCH_ERR | CPUU_GLOBAL_ERR);
    CU_ASSERT_EQUAL(r.ews_blocked, 1);
    CU_ASSERT_STRING_EQUAL(r.ews_app_id, "0a1b2c3d-1111-2222-3333-444455556666");
    r = run_sh("echo 'ewsblocked -' >&$CPUU_PROGRESS_FD; exit 20", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.ews_blocked, 1);
    CU_ASSERT_STRING_EQUAL(r.ews_app_id, "");
    r = run_sh("echo 'ewsblocked <b>id</b>' >&$CPUU_PROGRESS_FD; exit 20", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.ews_blocked, 1);
    CU_ASSERT_STRING_EQUAL(r.ews_app_id, "");
    r = run_sh("echo 'ewsblockedness 1' >&$CPUU_PROGRESS_FD; exit 20", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.ews_blocked, 0);
    r = run_sh("exit 1", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.ews_blocked, 0);
    CU_ASSERT_STRING_EQUAL(r.ews_app_id, "");
}

/* More "notcarried" lines than the report's list holds: the list keeps the
 * first ones whole, in order, and ends ", and N more" — every line is
 * either named or counted (the 160-byte list cut them off silently). */
static void test_notcarried_cut_said(void)
{
    invoke_result r = run_sh("p=$CPUU_PROGRESS_FD; i=0; while [ $i -lt 40 ]; do "
                             "echo \"notcarried DelegateFolderPermissions$i 1234567890\" >&$p; "
                             "i=$((i+1)); done; echo 'exit 1' >&$p; exit 1",
                             (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    const char *more = strstr(r.not_carried, ", and ");
    CU_ASSERT_PTR_NOT_NULL_FATAL(more);
    unsigned n_more = 0;
    char tail[8] = "";
    CU_ASSERT_EQUAL(sscanf(more, ", and %u %7s", &n_more, tail), 2);
    CU_ASSERT_STRING_EQUAL(tail, "more");
    unsigned named = 0;
    for (const char *p = r.not_carried; (p = strstr(p, "DelegateFolderPermissions")) != NULL; p++) {
        char want[48];
        snprintf(want, sizeof want, "DelegateFolderPermissions%u 1234567890", named);
        CU_ASSERT_EQUAL(strncmp(p, want, strlen(want)), 0);   /* whole, in order */
        named++;
    }
    CU_ASSERT_TRUE(named >= 10);   /* the list holds every feature there is */
    CU_ASSERT_EQUAL(named + n_more, 40);
    /* a list that fits says no "more" */
    r = run_sh("p=$CPUU_PROGRESS_FD; for f in Favorites Nicks SearchFolders ContactMembers Booking "
               "DelegateFolderPermissions Rules Shortcuts JunkEmailReset; do "
               "echo \"notcarried $f 4294967295\" >&$p; done; exit 1", (invoke_opts){ .watchdog = 1 });
    CU_ASSERT_PTR_NULL(strstr(r.not_carried, "more"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.not_carried, ", JunkEmailReset 4294967295"));
}
/* -- end g2blocked -- */

static void test_secret_travels_on_a_pipe(void)
{
    /* The expected value sits in a file so that the script text (argv) does
     * not itself contain the secret it checks argv and environment for. */
    char expect[] = "/tmp/sr-invoke-secret-XXXXXX";
    int fd = mkstemp(expect);
    CU_ASSERT_EQUAL_FATAL(write(fd, "s3cr=t pass", 11), 11);
    close(fd);
    invoke_opts o = { .watchdog = 1, .secret = "s3cr=t pass" };
    char *script = sr_asprintf(
        "read -r p <&$CPUU_SECRET_FD || true; [ \"$p\" = \"$(cat %s)\" ] || exit 4; "
        "env | grep -qF \"$p\" && exit 8; "
        "tr '\\0' ' ' </proc/$$/cmdline | grep -qF \"$p\" && exit 16; exit 1", expect);
    invoke_result r = run_sh(script, o);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.exit_status, 1);
    unlink(expect);
    free(script);
}

static void test_engine_that_ignores_the_secret(void)
{
    /* The engine exits before reading the secret: no SIGPIPE for us, and the
     * child starts with SIGPIPE at its default even when we ignore it. */
    void (*old)(int) = signal(SIGPIPE, SIG_IGN);
    invoke_opts o = { .watchdog = 1, .secret = "unread" };
    invoke_result r = run_sh("trap - PIPE; kill -PIPE $$; exit 1", o);
    signal(SIGPIPE, old);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_CRASHED);
    CU_ASSERT_EQUAL(r.term_signal, SIGPIPE);
    signal(SIGPIPE, SIG_DFL);
    r = run_sh("exit 1", o);   /* a dead reader must not kill the parent */
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
}

static void test_open_store_hang_is_killed_and_retried(void)
{
    invoke_opts o = { .watchdog = 1, .open_store_wait_s = 1, .attempts = 2, .kill_grace_ms = 200 };
    long t0 = now_ms();
    invoke_result r = run_sh("echo 'openstore begin room-1' >&$CPUU_PROGRESS_FD; sleep 30", o);
    long took = now_ms() - t0;
    CU_ASSERT_EQUAL(r.outcome, INVOKE_TIMEOUT);
    CU_ASSERT_EQUAL(r.attempts_used, 2);
    CU_ASSERT_STRING_EQUAL(r.stage, "openstore room-1");
    CU_ASSERT_TRUE(took >= 2000 && took < 10000);
}

static void test_feature_hang_then_success_on_restart(void)
{
    char marker[] = "/tmp/sr-invoke-XXXXXX";
    int fd = mkstemp(marker);
    close(fd);
    unlink(marker);
    char *script = sr_asprintf(
        "echo 'feature begin Rules' >&$CPUU_PROGRESS_FD; "
        "if [ ! -e %s ]; then : > %s; sleep 30; fi; "
        "echo 'feature end Rules' >&$CPUU_PROGRESS_FD; echo 'exit 1' >&$CPUU_PROGRESS_FD; exit 1",
        marker, marker);
    invoke_opts o = { .watchdog = 1, .feature_wait_s = 1, .attempts = 3, .kill_grace_ms = 200 };
    invoke_result r = run_sh(script, o);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.attempts_used, 2);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SUCCESS);
    unlink(marker);
    free(script);
}

static void test_global_wait_and_watchdog_off(void)
{
    invoke_opts o = { .watchdog = 1, .global_wait_s = 1, .attempts = 1, .kill_grace_ms = 200 };
    invoke_result r = run_sh("sleep 30", o);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_TIMEOUT);
    CU_ASSERT_STRING_EQUAL(r.stage, "global");
    /* WatchDog=0: no timer fires even with short waits configured */
    o.watchdog = 0;
    r = run_sh("echo 'openstore begin x' >&$CPUU_PROGRESS_FD; sleep 2; exit 1", o);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SUCCESS);
}

static void test_crash_and_cannot_start(void)
{
    invoke_result r = run_sh("kill -SEGV $$", (invoke_opts){ .watchdog = 1, .attempts = 2 });
    CU_ASSERT_EQUAL(r.outcome, INVOKE_CRASHED);
    CU_ASSERT_EQUAL(r.attempts_used, 2);
    CU_ASSERT_TRUE(r.cpuu_bits & CPUU_CRASH);
    char *argv[] = { "/nonexistent/cpuu", NULL };
    invoke_opts o = { .watchdog = 1 };
    sr_err e;
    CU_ASSERT_EQUAL(invoke_run(argv, &o, &r, &e), SR_OK);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_CANNOT_START);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/nonexistent/cpuu"));
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n;
}

/* issue 11: when the second pipe2 or the socketpair failed, run_once returned
 * with the first pipe(s) still open; a long run leaked two fds per failure. */
static void test_no_fd_leak_when_pipes_fail(void)
{
    char *argv[] = { "/bin/true", NULL };
    struct rlimit old;
    CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_NOFILE, &old), 0);
    int lowest = dup(0);   /* the next fd handed out; those above it are free */
    close(lowest);
    /* room for 2: the progress pipe; 4: both pipes, then the socket pair fails */
    for (int room = 2; room <= 4; room += 2) {
        int before = open_fds();
        struct rlimit lim = { .rlim_cur = (rlim_t)(lowest + room), .rlim_max = old.rlim_max };
        CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_NOFILE, &lim), 0);
        invoke_opts o = { .watchdog = 1, .secret = "pw" };
        invoke_result r;
        sr_err e;
        sr_code rc = invoke_run(argv, &o, &r, &e);
        setrlimit(RLIMIT_NOFILE, &old);
        CU_ASSERT_EQUAL(rc, SR_E_IO);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "cannot create pipes"));
        CU_ASSERT_EQUAL(open_fds(), before);
    }
}

/* The engine kept after its update (invoke_start): it answers command after
 * command on CPUU_COMMAND_FD (invoke_command) and stays; EOF ends it (invoke_end). */
static invoke_engine *start_sh(const char *script, invoke_opts o, invoke_result *r)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
    invoke_engine *kept = NULL;
    sr_err e;
    CU_ASSERT_EQUAL(invoke_start(argv, &o, r, &kept, &e), SR_OK);
    return kept;
}

static void test_kept_engine_answers_its_commands(void)
{
    const char *sh = "p=$CPUU_PROGRESS_FD; echo 'unresolved Rules 2' >&$p; echo 'exit 513' >&$p; "
                     "while read c <&$CPUU_COMMAND_FD; do case \"$c\" in "
                     "'cleanup /tmp/a b.log') echo 'exit 1' >&$p;; "
                     "'update {P2}	/tmp/p2.log	0	x') echo 'unresolved Nicks 1' >&$p; "
                     "echo 'exit 8193' >&$p;; "
                     "*) exit 16;; esac; done";
    invoke_opts o = { .watchdog = 1, .global_wait_s = 10 };
    invoke_result r;
    invoke_engine *k = start_sh(sh, o, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SUCCESS | CPUU_INVALID_SWITCH_MSG);   /* the update's */
    CU_ASSERT_STRING_EQUAL(r.unresolved, "Rules 2");
    CU_ASSERT_EQUAL(invoke_command(&k, "cleanup /tmp/a b.log", &o, &r), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);   /* it stays for the next command */
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SUCCESS);
    CU_ASSERT_STRING_EQUAL(r.unresolved, "");   /* each command's lines are its own */
    CU_ASSERT_EQUAL(invoke_command(&k, "update {P2}\t/tmp/p2.log\t0\tx", &o, &r), 1);
    CU_ASSERT_EQUAL(r.cpuu_bits, 8193u);
    CU_ASSERT_STRING_EQUAL(r.unresolved, "Nicks 1");
    CU_ASSERT_EQUAL(invoke_command(&k, "quit", &o, &r), 0);   /* gone without an answer */
    CU_ASSERT_PTR_NULL(k);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_GLOBAL_ERR);
    /* invoke_run gives no command pipe: the engine exits after its update */
    r = run_sh("[ -z \"$CPUU_COMMAND_FD\" ] && echo 'exit 1' >&$CPUU_PROGRESS_FD", o);
    CU_ASSERT_EQUAL(r.cpuu_bits, CPUU_SUCCESS);
}

static void test_kept_engine_without_answer(void)
{
    invoke_opts o = { .watchdog = 1, .global_wait_s = 1, .kill_grace_ms = 200 };
    invoke_result r;
    /* it hangs after the command: the watchdog (GlobalWait from the command) stops it */
    invoke_engine *k = start_sh("echo 'exit 1' >&$CPUU_PROGRESS_FD; read c <&$CPUU_COMMAND_FD; "
                                "sleep 30", o, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    long t0 = now_ms();
    CU_ASSERT_EQUAL(invoke_command(&k, "cleanup", &o, &r), 0);
    CU_ASSERT_PTR_NULL(k);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_TIMEOUT);
    CU_ASSERT_TRUE(now_ms() - t0 < 5000);
    /* killed while it works on the command: crashed, with its signal */
    k = start_sh("echo 'exit 1' >&$CPUU_PROGRESS_FD; read c <&$CPUU_COMMAND_FD; kill -KILL $$", o, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(invoke_command(&k, "update x", &o, &r), 0);
    CU_ASSERT_PTR_NULL(k);
    CU_ASSERT_EQUAL(r.outcome, INVOKE_CRASHED);
    CU_ASSERT_EQUAL(r.term_signal, SIGKILL);
    CU_ASSERT_TRUE((r.cpuu_bits & CPUU_CRASH) != 0);
    /* it dies before the command: no answer, and no SIGPIPE for us */
    k = start_sh("echo 'exit 1' >&$CPUU_PROGRESS_FD; kill -KILL $$", o, &r);
    if (k) {   /* it may have died before start returned: then nothing is kept */
        CU_ASSERT_EQUAL(invoke_command(&k, "cleanup", &o, &r), 0);
        CU_ASSERT_PTR_NULL(k);
    } else {
        CU_ASSERT_EQUAL(r.outcome, INVOKE_CRASHED);
    }
    /* a command is one line */
    k = start_sh("echo 'exit 1' >&$CPUU_PROGRESS_FD; read c <&$CPUU_COMMAND_FD; "
                 "echo 'exit 1' >&$CPUU_PROGRESS_FD", o, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    CU_ASSERT_EQUAL(invoke_command(&k, "cleanup\nquit", &o, &r), 0);
    CU_ASSERT_PTR_NULL(k);
}

static void test_kept_engine_ended(void)
{
    char mark[] = "/tmp/sr-invoke-eof-XXXXXX";
    int fd = mkstemp(mark);
    CU_ASSERT_TRUE_FATAL(fd >= 0);
    close(fd);
    unlink(mark);
    char *sh = sr_asprintf("echo 'exit 1' >&$CPUU_PROGRESS_FD; read c <&$CPUU_COMMAND_FD || "
                           "touch %s", mark);
    invoke_opts o = { .watchdog = 1, .global_wait_s = 10 };
    invoke_result r;
    invoke_engine *k = start_sh(sh, o, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    long t0 = now_ms();
    invoke_end(k);   /* EOF on its pipe: it ends by itself, at once */
    CU_ASSERT_TRUE(now_ms() - t0 < 1500);
    CU_ASSERT_EQUAL(access(mark, F_OK), 0);
    unlink(mark);
    free(sh);
    /* one that ignores EOF is stopped, bounded */
    k = start_sh("echo 'exit 1' >&$CPUU_PROGRESS_FD; read c <&$CPUU_COMMAND_FD; sleep 30", o, &r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(k);
    t0 = now_ms();
    invoke_end(k);
    CU_ASSERT_TRUE(now_ms() - t0 < 6000);
    invoke_end(NULL);
}

int main(void)
{
    sr_log_set_level(SR_LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("cpuu_invoke", NULL, NULL);
    CU_add_test(s, "full bitmask from the progress line", test_full_bitmask_from_progress_line);
    CU_add_test(s, "unresolved lines reach the result", test_unresolved_lines);
    CU_add_test(s, "notcarried lines reach the result", test_notcarried_lines);
    CU_add_test(s, "featfailed lines reach the result", test_featfailed_lines);
    CU_add_test(s, "ewsblocked line reaches the result", test_ewsblocked_line);
    CU_add_test(s, "failed line reaches the result", test_failed_line);
    CU_add_test(s, "notcarried: a cut list says how many more", test_notcarried_cut_said);
    CU_add_test(s, "secret travels on a pipe", test_secret_travels_on_a_pipe);
    CU_add_test(s, "engine that never reads the secret", test_engine_that_ignores_the_secret);
    CU_add_test(s, "open store hang: killed, retried", test_open_store_hang_is_killed_and_retried);
    CU_add_test(s, "feature hang, success on restart", test_feature_hang_then_success_on_restart);
    CU_add_test(s, "global wait; watchdog off", test_global_wait_and_watchdog_off);
    CU_add_test(s, "crash; cannot start", test_crash_and_cannot_start);
    CU_add_test(s, "no fd leak when pipes cannot be made", test_no_fd_leak_when_pipes_fail);
    CU_add_test(s, "kept engine answers command after command", test_kept_engine_answers_its_commands);
    CU_add_test(s, "kept engine: hang, death, two lines", test_kept_engine_without_answer);
    CU_add_test(s, "kept engine ended by EOF, bounded", test_kept_engine_ended);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
