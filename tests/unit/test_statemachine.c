/* test_statemachine.c — the generic engine and its journal, including
 * "kill -9 anywhere": crash after journal write N for every N, resume, and
 * compare with an uninterrupted run (STYLE.md, mbsync's test driver). */
#include "statemachine/statemachine.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A toy of the per-mailbox workflow: the actions touch files the way the real
 * ones touch profiles, so leaks and double effects are visible. */
enum { Q, RESOLVED, PROFILE, UPDATED, CLEANED, DONE, FAILED, N_STATES };
enum { EV_START, EV_OK, EV_FAIL, N_EVENTS };
static const char *const st_names[N_STATES] = {
    [Q] = "QUEUED", [RESOLVED] = "RESOLVED", [PROFILE] = "PROFILE_CREATED",
    [UPDATED] = "UPDATED", [CLEANED] = "CLEANED", [DONE] = "DONE", [FAILED] = "FAILED" };
static const char *const ev_names[N_EVENTS] = {
    [EV_START] = "start", [EV_OK] = "ok", [EV_FAIL] = "fail" };
static const unsigned char terminal[N_STATES] = { [DONE] = 1, [FAILED] = 1 };

typedef struct { const char *dir; int fail_resolve; } toy;

static char *path_in(const toy *t, const char *name) { return sr_asprintf("%s/%s", t->dir, name); }

static int act_resolve(sm_step *s, void *ctx)
{
    toy *t = ctx;
    if (t->fail_resolve) {
        sr_err_set(sm_err(s), SR_E_NOTFOUND, "not in directory");
        sm_add_exit_bits(s, 8);
        return EV_FAIL;
    }
    return EV_OK;
}

static int act_create_profile(sm_step *s, void *ctx)
{
    toy *t = ctx;
    const char *name = sm_get(s, "profile");
    char fresh[64];
    if (!name) {   /* record the name before creating, so a resume finds it */
        snprintf(fresh, sizeof fresh, "{profile-%ld}", (long)random());
        if (sm_put(s, "profile", fresh) != SR_OK)
            return EV_FAIL;
        name = fresh;
    }
    char *p = path_in(t, name);
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    free(p);
    if (fd < 0)
        return EV_FAIL;
    close(fd);
    return EV_OK;
}

static int act_update(sm_step *s, void *ctx)
{
    toy *t = ctx;
    const char *name = sm_get(s, "profile");
    char *p = path_in(t, name);
    char buf[16] = "";
    FILE *f = fopen(p, "r+");
    if (f && fgets(buf, sizeof buf, f) == NULL)
        buf[0] = '\0';
    if (f && strcmp(buf, "updated") != 0) {   /* already updated: nothing to do */
        rewind(f);
        fputs("updated", f);
        char *c = path_in(t, "update-count");
        FILE *cf = fopen(c, "a");
        fputs("x", cf);
        fclose(cf);
        free(c);
    }
    if (f)
        fclose(f);
    free(p);
    return f ? EV_OK : EV_FAIL;
}

static int act_cleanup(sm_step *s, void *ctx) { (void)s; (void)ctx; return EV_OK; }

static int act_delete_profile(sm_step *s, void *ctx)
{
    const char *name = sm_get(s, "profile");
    char *p = path_in(ctx, name);
    int ok = unlink(p) == 0 || errno == ENOENT;
    free(p);
    return ok ? EV_OK : EV_FAIL;
}

static const struct sm_row rows[] = {
    { Q,        EV_START, RESOLVED, act_resolve },
    { RESOLVED, EV_OK,    PROFILE,  act_create_profile },
    { RESOLVED, EV_FAIL,  FAILED,   NULL },
    { PROFILE,  EV_OK,    UPDATED,  act_update },
    { PROFILE,  EV_FAIL,  FAILED,   NULL },
    { UPDATED,  EV_OK,    CLEANED,  act_cleanup },
    { UPDATED,  EV_FAIL,  FAILED,   NULL },
    { CLEANED,  EV_OK,    DONE,     act_delete_profile },
    { CLEANED,  EV_FAIL,  FAILED,   NULL },
};

static const sm_def toy_def = {
    .name = "mailbox", .state_names = st_names, .n_states = N_STATES,
    .event_names = ev_names, .n_events = N_EVENTS, .rows = rows,
    .n_rows = sizeof rows / sizeof rows[0], .initial_state = Q, .start_event = EV_START,
    .terminal = terminal,
};

static char *fresh_dir(void)
{
    char tmpl[] = "/tmp/sr-sm-XXXXXX";
    return sr_strdup(mkdtemp(tmpl));
}

static int count_files(const char *dir, const char *prefix)
{
    char *cmd = sr_asprintf("ls -1 '%s' | grep -c '^%s' ", dir, prefix);
    FILE *p = popen(cmd, "r");
    int n = -1;
    if (p && fscanf(p, "%d", &n) != 1)
        n = -1;
    if (p)
        pclose(p);
    free(cmd);
    return n;
}

static int read_count(const char *dir)
{
    char *c = sr_asprintf("%s/update-count", dir);
    struct stat st;
    int n = stat(c, &st) == 0 ? (int)st.st_size : 0;
    free(c);
    return n;
}

static void rm_dir(const char *dir)
{
    char *cmd = sr_asprintf("rm -rf '%s'", dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
    free(cmd);
}

static void test_table_is_valid(void)
{
    sr_err e;
    CU_ASSERT_EQUAL(sm_def_check(&toy_def, &e), SR_OK);
    struct sm_row bad[] = { { Q, EV_START, RESOLVED, act_resolve }, { Q, EV_START, DONE, NULL } };
    sm_def d = toy_def;
    d.rows = bad;
    d.n_rows = 2;
    CU_ASSERT_EQUAL(sm_def_check(&d, &e), SR_E_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "appears twice"));
}

/* A state or event left out of a designated-initializer name array is NULL
 * (a static_assert on the array's size cannot see it): the check must. */
static void test_table_names_every_state(void)
{
    sr_err e;
    const char *states[N_STATES] = {
        [Q] = "QUEUED", [RESOLVED] = "RESOLVED", [PROFILE] = "PROFILE_CREATED",
        [CLEANED] = "CLEANED", [DONE] = "DONE", [FAILED] = "FAILED" };   /* no UPDATED */
    sm_def d = toy_def;
    d.state_names = states;
    CU_ASSERT_EQUAL(sm_def_check(&d, &e), SR_E_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "state 3 has no name"));
    states[UPDATED] = "";
    CU_ASSERT_EQUAL(sm_def_check(&d, &e), SR_E_INTERNAL);
    states[UPDATED] = "UPDATED";
    CU_ASSERT_EQUAL(sm_def_check(&d, &e), SR_OK);
    const char *events[N_EVENTS] = { [EV_START] = "start", [EV_FAIL] = "fail" };
    d.event_names = events;
    CU_ASSERT_EQUAL(sm_def_check(&d, &e), SR_E_INTERNAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "event 1 has no name"));
    d.event_names = ev_names;
    d.state_names = NULL;
    CU_ASSERT_EQUAL(sm_def_check(&d, &e), SR_E_INTERNAL);
}

static void test_straight_run_and_failure(void)
{
    char *dir = fresh_dir();
    char *jp = sr_asprintf("%s/journal.db", dir);
    sr_err e;
    sm_journal *j = sm_journal_open(jp, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    toy t = { .dir = dir };
    int final = -1;
    unsigned bits = 0;
    CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room-1@src.test", &t, &final, &bits, &e), SR_OK);
    CU_ASSERT_EQUAL(final, DONE);
    CU_ASSERT_EQUAL(bits, 0);
    CU_ASSERT_EQUAL(count_files(dir, "{profile"), 0);
    CU_ASSERT_EQUAL(read_count(dir), 1);
    t.fail_resolve = 1;
    CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room-2@src.test", &t, &final, &bits, &e), SR_OK);
    CU_ASSERT_EQUAL(final, FAILED);
    CU_ASSERT_EQUAL(bits, 8);
    /* a finished object is not run again */
    CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room-1@src.test", &t, &final, &bits, &e), SR_OK);
    CU_ASSERT_EQUAL(read_count(dir), 1);
    CU_ASSERT_EQUAL(sm_state_of(j, "room-2@src.test", &e), FAILED);
    CU_ASSERT_EQUAL(sm_state_of(j, "nobody@src.test", &e), -1);
    struct stat st;
    CU_ASSERT_EQUAL(stat(jp, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 077, 0);
    sm_journal_close(j);
    rm_dir(dir);
    free(jp);
    free(dir);
}

/* Crash right after journal write N, for every N; resume; the end state must
 * equal an uninterrupted run: DONE, no leftover profile, exactly one update. */
static void test_crash_anywhere_then_resume(void)
{
    unsigned total;
    {
        char *dir = fresh_dir();
        char *jp = sr_asprintf("%s/j.db", dir);
        sr_err e;
        sm_journal *j = sm_journal_open(jp, &e);
        toy t = { .dir = dir };
        sm_run(&toy_def, j, "room@src.test", &t, NULL, NULL, &e);
        total = sm_journal_writes(j);
        sm_journal_close(j);
        rm_dir(dir);
        free(jp);
        free(dir);
    }
    CU_ASSERT_TRUE_FATAL(total >= 9);
    for (unsigned n = 1; n <= total; n++) {
        char *dir = fresh_dir();
        char *jp = sr_asprintf("%s/j.db", dir);
        toy t = { .dir = dir };
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            sr_log_set_level(SR_LOG_ERROR);
            sr_err e;
            char at[16];   /* the way the crash tests of the programs set it */
            snprintf(at, sizeof at, "%u", n);
            setenv("SM_CRASH_AT_STEP", at, 1);
            sm_journal *j = sm_journal_open(jp, &e);
            sm_run(&toy_def, j, "room@src.test", &t, NULL, NULL, &e);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        CU_ASSERT_TRUE(WIFEXITED(status));
        CU_ASSERT_EQUAL(WEXITSTATUS(status), SM_CRASH_EXIT);   /* every N <= total is reached */
        sr_err e;
        sm_journal *j = sm_journal_open(jp, &e);
        int final = -1;
        CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room@src.test", &t, &final, NULL, &e), SR_OK);
        CU_ASSERT_EQUAL(final, DONE);
        CU_ASSERT_EQUAL(count_files(dir, "{profile"), 0);
        CU_ASSERT_EQUAL(read_count(dir), 1);
        sm_journal_close(j);
        rm_dir(dir);
        free(jp);
        free(dir);
    }
}

/* The window after an action and before its end is journaled: the resumed
 * action must see its own earlier effect and not repeat it (the toy's update
 * checks the profile file first, as an idempotent action must). */
static void test_crash_after_action_then_resume(void)
{
    for (unsigned n = 1; n <= 5; n++) {
        char *dir = fresh_dir();
        char *jp = sr_asprintf("%s/j.db", dir);
        toy t = { .dir = dir };
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            sr_log_set_level(SR_LOG_ERROR);
            sr_err e;
            char at[16];
            snprintf(at, sizeof at, "%u", n);
            setenv("SM_CRASH_AFTER_ACTION", at, 1);
            sm_journal *j = sm_journal_open(jp, &e);
            sm_run(&toy_def, j, "room@src.test", &t, NULL, NULL, &e);
            _exit(0);
        }
        int status;
        waitpid(pid, &status, 0);
        CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == SM_CRASH_EXIT);
        sr_err e;
        sm_journal *j = sm_journal_open(jp, &e);
        CU_ASSERT_EQUAL(sm_state_of(j, "room@src.test", &e), n == 1 ? RESOLVED : n == 2 ? PROFILE
                        : n == 3 ? UPDATED : n == 4 ? CLEANED : DONE);   /* begun, not ended */
        int final = -1;
        CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room@src.test", &t, &final, NULL, &e), SR_OK);
        CU_ASSERT_EQUAL(final, DONE);
        CU_ASSERT_EQUAL(count_files(dir, "{profile"), 0);
        CU_ASSERT_EQUAL(read_count(dir), 1);
        sm_journal_close(j);
        rm_dir(dir);
        free(jp);
        free(dir);
    }
}

/* Overwrite one column of an object's journal row, as a damaged disk would. */
static void damage(const char *jp, const char *column, long value)
{
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(jp, &db), SQLITE_OK);
    char *sql = sr_asprintf("UPDATE objects SET %s = %ld", column, value);
    CU_ASSERT_EQUAL(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    free(sql);
    sqlite3_close(db);
}

/* issue 11: sm_run indexed terminal[state] with a value read from the
 * journal.  Every column that indexes the table is range-checked and named. */
static void test_damaged_journal_is_refused(void)
{
    static const struct { const char *col; long v; } cases[] = {
        { "state", 57 }, { "state", -3 }, { "from_state", 1000000 }, { "event", 99 },
        { "pending", 7 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *dir = fresh_dir();
        char *jp = sr_asprintf("%s/j.db", dir);
        sr_err e;
        sm_journal *j = sm_journal_open(jp, &e);
        toy t = { .dir = dir, .fail_resolve = 1 };
        CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room@src.test", &t, NULL, NULL, &e), SR_OK);
        sm_journal_close(j);
        damage(jp, cases[i].col, cases[i].v);
        j = sm_journal_open(jp, &e);
        CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room@src.test", &t, NULL, NULL, &e), SR_E_PARSE);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "damaged journal"));
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, cases[i].col));
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "room@src.test"));
        sm_journal_close(j);
        rm_dir(dir);
        free(jp);
        free(dir);
    }
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* issue 11: at SQLite's defaults the WAL grew ~250 KiB per mailbox.  The
 * journal bounds it on its own, and a checkpoint empties it. */
static void test_wal_stays_small(void)
{
    char *dir = fresh_dir();
    char *jp = sr_asprintf("%s/j.db", dir), *wal = sr_asprintf("%s-wal", jp);
    sr_err e;
    sm_journal *j = sm_journal_open(jp, &e);
    toy t = { .dir = dir };
    long biggest = 0;
    for (int i = 0; i < 120; i++) {
        char obj[64];
        snprintf(obj, sizeof obj, "room-%d@src.test", i);
        CU_ASSERT_EQUAL(sm_run(&toy_def, j, obj, &t, NULL, NULL, &e), SR_OK);
        if (file_size(wal) > biggest)
            biggest = file_size(wal);
    }
    CU_ASSERT_TRUE(biggest > 0);   /* it is a WAL journal */
    CU_ASSERT_TRUE(biggest <= 512 * 1024);
    CU_ASSERT_EQUAL(sm_journal_checkpoint(j, &e), SR_OK);
    CU_ASSERT_EQUAL(file_size(wal), 0);
    sm_journal_close(j);
    rm_dir(dir);
    free(jp);
    free(wal);
    free(dir);
}

/* Runs in a child with its own mount namespace: a 512 KiB tmpfs, filled up
 * but for a little; exit 0 when the journal said "disk full under <dir>". */
static int disk_full_child(const char *mnt)
{
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", mnt, "tmpfs", 0, "size=512k,mode=0700") != 0) {
        fprintf(stderr, "disk full test: cannot mount a tmpfs (needs root): %s\n", strerror(errno));
        return 3;
    }
    char *jp = sr_asprintf("%s/j.db", mnt), *fill = sr_asprintf("%s/fill", mnt);
    sr_err e;
    sm_journal *j = sm_journal_open(jp, &e);
    if (!j)
        return 4;
    FILE *f = fopen(fill, "w");
    static char block[4096];
    while (f && fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0)
        ;
    if (f)
        fclose(f);
    truncate(fill, file_size(fill) - 48 * 1024);   /* room for a few mailboxes */
    toy t = { .dir = mnt };
    sr_code rc = SR_OK;
    for (int i = 0; i < 1000 && rc == SR_OK; i++) {
        char obj[64];
        snprintf(obj, sizeof obj, "room-%d@src.test", i);
        rc = sm_run(&toy_def, j, obj, &t, NULL, NULL, &e);
    }
    char *want = sr_asprintf("disk full under %s", mnt);
    int ok = rc == SR_E_NOSPACE && strstr(e.msg, want) != NULL;
    if (!ok)
        fprintf(stderr, "disk full test: code %d: %s\n", rc, e.msg);
    umount2(mnt, MNT_DETACH);
    return ok ? 0 : 1;
}

/* issue 11: a full disk under the journal is one clear error, SR_E_NOSPACE
 * naming the directory (a real tmpfs, not a simulated write error). */
static void test_disk_full_is_named(void)
{
    char *dir = fresh_dir();
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sr_log_set_level(SR_LOG_ERROR);
        _exit(disk_full_child(dir));
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT_TRUE(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
    rm_dir(dir);
    free(dir);
}

int main(void)
{
    sr_log_set_level(SR_LOG_WARN);
    srandom((unsigned)getpid());
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("statemachine", NULL, NULL);
    CU_add_test(s, "table check", test_table_is_valid);
    CU_add_test(s, "table check: every state and event has a name", test_table_names_every_state);
    CU_add_test(s, "straight run and failure path", test_straight_run_and_failure);
    CU_add_test(s, "crash after any journal write, then resume", test_crash_anywhere_then_resume);
    CU_add_test(s, "crash after an action, before its end, then resume",
                test_crash_after_action_then_resume);
    CU_add_test(s, "damaged journal values are refused", test_damaged_journal_is_refused);
    CU_add_test(s, "WAL stays small and checkpoints", test_wal_stays_small);
    CU_add_test(s, "disk full names the directory", test_disk_full_is_named);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
