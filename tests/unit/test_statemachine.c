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

/* ---- a counting VFS: wraps SQLite's default VFS to count syncs and to see
 * whether the WAL holds writes not yet synced (a power cut could lose them) */
typedef struct {
    sqlite3_file base;
    sqlite3_file *real;     /* the wrapped file, allocated right after this struct */
    int is_wal;
} cnt_file;

static sqlite3_vfs *g_real_vfs;
static unsigned g_syncs;          /* xSync calls on any journal file */
static int g_wal_dirty;           /* WAL written since its last sync */
static int g_watch;               /* check barriers in the toy's actions */
static unsigned g_barrier_misses; /* a barrier action ran with unsynced WAL writes */

#define REAL(f) (((cnt_file *)(f))->real)
static int c_close(sqlite3_file *f) { int rc = REAL(f)->pMethods->xClose(REAL(f)); return rc; }
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{ return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
    if (((cnt_file *)f)->is_wal)
        g_wal_dirty = 1;
    return REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 n)
{ return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int c_sync(sqlite3_file *f, int flags)
{
    g_syncs++;
    if (((cnt_file *)f)->is_wal)
        g_wal_dirty = 0;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n) { return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int c_lock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xLock(REAL(f), l); }
static int c_unlock(sqlite3_file *f, int l) { return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int c_reserved(sqlite3_file *f, int *r)
{ return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r); }
static int c_fcntl(sqlite3_file *f, int op, void *a)
{ return REAL(f)->pMethods->xFileControl(REAL(f), op, a); }
static int c_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int c_dev(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int c_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{ return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p); }
static int c_shmlock(sqlite3_file *f, int off, int n, int fl)
{ return REAL(f)->pMethods->xShmLock(REAL(f), off, n, fl); }
static void c_shmbarrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int c_shmunmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{ return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{ return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods cnt_io = {
    3, c_close, c_read, c_write, c_truncate, c_sync, c_size, c_lock, c_unlock, c_reserved,
    c_fcntl, c_sector, c_dev, c_shmmap, c_shmlock, c_shmbarrier, c_shmunmap, c_fetch, c_unfetch,
};

static int c_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)v;
    cnt_file *cf = (cnt_file *)f;
    cf->real = (sqlite3_file *)(cf + 1);
    cf->is_wal = (flags & SQLITE_OPEN_WAL) != 0;
    int rc = g_real_vfs->xOpen(g_real_vfs, name, cf->real, flags, out);
    /* methods version 3 forwards to a version-3 file (the unix VFS's files) */
    cf->base.pMethods = rc == SQLITE_OK && cf->real->pMethods ? &cnt_io : NULL;
    return rc;
}

/* Make the counting VFS the default; sm_journal_open uses the default VFS. */
static void counting_vfs_install(void)
{
    static sqlite3_vfs v;
    if (g_real_vfs)
        return;
    g_real_vfs = sqlite3_vfs_find(NULL);
    v = *g_real_vfs;
    v.zName = "sr-counting";
    v.szOsFile = (int)sizeof(cnt_file) + g_real_vfs->szOsFile;
    v.xOpen = c_open;
    v.pAppData = NULL;
    sqlite3_vfs_register(&v, 1);
}

/* Called where a toy action is about to act outside the journal in a
 * SM_SYNC_BEFORE row: everything journaled so far must be on disk. */
static void barrier_point(void)
{
    if (g_watch && g_wal_dirty)
        g_barrier_misses++;
}

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
    barrier_point();
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
    barrier_point();
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

static int act_cleanup(sm_step *s, void *ctx) { (void)s; (void)ctx; barrier_point(); return EV_OK; }

static int act_delete_profile(sm_step *s, void *ctx)
{
    const char *name = sm_get(s, "profile");
    barrier_point();
    char *p = path_in(ctx, name);
    int ok = unlink(p) == 0 || errno == ENOENT;
    free(p);
    return ok ? EV_OK : EV_FAIL;
}

/* As in resmb/workflow.c: resolving only reads, every other action acts
 * outside the journal, so its row is a barrier. */
static const struct sm_row rows[] = {
    { Q,        EV_START, RESOLVED, act_resolve,        0 },
    { RESOLVED, EV_OK,    PROFILE,  act_create_profile, SM_SYNC_BEFORE },
    { RESOLVED, EV_FAIL,  FAILED,   NULL,               0 },
    { PROFILE,  EV_OK,    UPDATED,  act_update,         SM_SYNC_BEFORE },
    { PROFILE,  EV_FAIL,  FAILED,   NULL,               0 },
    { UPDATED,  EV_OK,    CLEANED,  act_cleanup,        SM_SYNC_BEFORE },
    { UPDATED,  EV_FAIL,  FAILED,   NULL,               0 },
    { CLEANED,  EV_OK,    DONE,     act_delete_profile, SM_SYNC_BEFORE },
    { CLEANED,  EV_FAIL,  FAILED,   NULL,               0 },
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
    struct sm_row bad[] = { { Q, EV_START, RESOLVED, act_resolve, 0 },
                            { Q, EV_START, DONE, NULL, 0 } };
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

/* The per-mailbox reads of the status and report files (sm_foreach_info)
 * look up one object's log rows: they must use an index, not scan the whole
 * log once per object (quadratic in the list: 10,000 mailboxes made the report
 * at the end of a run the slowest part of it). */
static int plan_row(void *arg, int n, char **v, char **names)
{
    (void)names;
    if (n >= 4 && v[3])
        strncat(arg, v[3], 255 - strlen(arg));
    return 0;
}

static void test_log_is_indexed_by_object(void)
{
    char *dir = fresh_dir();
    char *jp = sr_asprintf("%s/j.db", dir);
    sr_err e;
    sm_journal *j = sm_journal_open(jp, &e);
    toy t = { .dir = dir };
    CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room@src.test", &t, NULL, NULL, &e), SR_OK);
    sm_journal_close(j);
    sqlite3 *db;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(jp, &db), SQLITE_OK);
    char plan[256] = "";
    CU_ASSERT_EQUAL(sqlite3_exec(db, "EXPLAIN QUERY PLAN SELECT ts FROM log WHERE object = 'x'"
                                 " AND phase = 'end' ORDER BY seq DESC LIMIT 1",
                                 plan_row, plan, NULL), SQLITE_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(plan, "INDEX"));
    CU_ASSERT_PTR_NULL(strstr(plan, "SCAN log"));
    if (!strstr(plan, "INDEX"))
        fprintf(stderr, "\n  query plan: %s\n", plan);
    sqlite3_close(db);
    rm_dir(dir);
    free(jp);
    free(dir);
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

/* issue 13: the journal synced at every commit (synchronous=FULL: 11 syncs
 * per toy object, 2 per step and 1 per sm_put, and the checkpoints).  Now it syncs only at the
 * table's barriers and at the terminal state, and at every barrier nothing
 * journaled is left unsynced (the counting VFS watches the WAL's writes). */
static void test_syncs_only_at_barriers(void)
{
    counting_vfs_install();
    char *dir = fresh_dir();
    char *jp = sr_asprintf("%s/j.db", dir);
    sr_err e;
    sm_journal *j = sm_journal_open(jp, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    toy t = { .dir = dir };
    enum { N = 20 };
    g_syncs = 0;
    g_barrier_misses = 0;
    g_watch = 1;
    for (int i = 0; i < N; i++) {
        char obj[64];
        snprintf(obj, sizeof obj, "room-%d@src.test", i);
        int final = -1;
        CU_ASSERT_EQUAL(sm_run(&toy_def, j, obj, &t, &final, NULL, &e), SR_OK);
        CU_ASSERT_EQUAL(final, DONE);
        CU_ASSERT_FALSE(g_wal_dirty);   /* a terminal state is on disk */
    }
    g_watch = 0;
    unsigned syncs = g_syncs;
    /* per object: 4 barrier begins, 1 put in a barrier row, the terminal end;
     * the WAL's auto-checkpoints (WAL and database, every 64 pages) come on
     * top: 150 for 20 objects when written, 250 with synchronous=FULL */
    fprintf(stderr, "\n  [journal syncs: %u for %d objects]\n", syncs, N);
    CU_ASSERT_EQUAL(g_barrier_misses, 0);
    CU_ASSERT_TRUE(syncs >= 6 * N);
    CU_ASSERT_TRUE(syncs <= 8 * N);
    /* a step outside any barrier (resolving, failing) syncs nothing until
     * the terminal state */
    t.fail_resolve = 1;
    g_syncs = 0;
    CU_ASSERT_EQUAL(sm_run(&toy_def, j, "room-x@src.test", &t, NULL, NULL, &e), SR_OK);
    CU_ASSERT_EQUAL(g_syncs, 1);
    sm_journal_close(j);
    rm_dir(dir);
    free(jp);
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
    CU_add_test(s, "the log is indexed by object", test_log_is_indexed_by_object);
    CU_add_test(s, "disk full names the directory", test_disk_full_is_named);
    CU_add_test(s, "journal syncs only at barriers and terminal states",
                test_syncs_only_at_barriers);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
