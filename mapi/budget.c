/* budget.c — the per-account request budget of a run (mapi/budget.h): a
 * System V semaphore set, one semaphore per side, slots taken with SEM_UNDO
 * so that the kernel returns a killed process's slots. */
#include "mapi/budget.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

/* semctl's fourth argument: the caller defines it (semctl(2)). */
union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static int g_id = -1;        /* the set in use, -1: no budget */
static int g_created;        /* this process made it (and removes it) */

/* The set's semaphore of a side, or -1 when that side is not limited. */
static int sem_of(mapi_budget_side side)
{
    if (g_id < 0)
        return -1;
    return side == MAPI_BUDGET_SOURCE ? 0 : side == MAPI_BUDGET_TARGET ? 1 : -1;
}

/* The set vanished (removed by its creator, or never ours): go unlimited
 * rather than fail requests over a local bookkeeping object. */
static void lost(const char *what)
{
    sr_log(SR_LOG_WARN, NULL, "request budget (semaphore set %d): %s: %s; requests are no "
           "longer limited here", g_id, what, strerror(errno));
    g_id = -1;
}

/* The record of the set this run made ("<id> <ctime>"), beside its journal,
 * so that the next run over the same journal removes a set that a run
 * killed by SIGKILL could not.  The set is the one recorded only when it
 * is still a private set of ours, of two semaphores, last changed exactly
 * when that run set it up: an id the kernel has given to another set since
 * (after an ipcrm) is left alone. */
static char *g_record;

static void reclaim(const char *record)
{
    sr_err e;
    char *text = sr_read_file(record, 256, NULL, &e);
    long long id = -1, ctime = -1;
    if (text && sscanf(text, "%lld %lld", &id, &ctime) == 2 && id >= 0 && id <= 0x7fffffff) {
        struct semid_ds ds;
        union semun arg = { .buf = &ds };
        if (semctl((int)id, 0, IPC_STAT, arg) == 0 && ds.sem_perm.__key == IPC_PRIVATE &&
            ds.sem_perm.uid == geteuid() && ds.sem_nsems == 2 && (long long)ds.sem_ctime == ctime &&
            semctl((int)id, 0, IPC_RMID) == 0)
            sr_log(SR_LOG_NOTICE, NULL, "request budget: removed semaphore set %lld, left by a "
                   "run that was killed before it could (%s)", id, record);
    }
    free(text);
    unlink(record);
}

static void record_set(const char *record, int id)
{
    struct semid_ds ds;
    union semun arg = { .buf = &ds };
    sr_err e;
    char line[64];
    int n = semctl(id, 0, IPC_STAT, arg) == 0
                ? snprintf(line, sizeof line, "%d %lld\n", id, (long long)ds.sem_ctime) : -1;
    if (n < 0 || sr_write_file_atomic(record, line, (size_t)n, 0600, 0, &e) != SR_OK) {
        sr_log(SR_LOG_WARN, NULL, "request budget: semaphore set %d not recorded in %s (%s): if "
               "this run is killed, `ipcrm -s %d` removes it", id, record,
               n < 0 ? strerror(errno) : e.msg, id);
        return;
    }
    g_record = sr_strdup(record);
}

sr_code mapi_budget_create(unsigned slots, const char *record, sr_err *err)
{
    unsetenv(MAPI_BUDGET_ENV);   /* an outer run's budget is not ours */
    g_id = -1;
    if (record)
        reclaim(record);
    if (slots == 0)
        return SR_OK;
    if (slots > MAPI_BUDGET_MAX_SLOTS)
        return sr_err_set(err, SR_E_INVALID, "request budget: %u slots, at most %d", slots,
                          MAPI_BUDGET_MAX_SLOTS);
    int id = semget(IPC_PRIVATE, 2, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0)
        return sr_err_set(err, SR_E_IO, "request budget: semget: %s", strerror(errno));
    unsigned short init[2] = { (unsigned short)slots, (unsigned short)slots };
    union semun arg = { .array = init };
    char val[24];
    snprintf(val, sizeof val, "%d", id);
    if (semctl(id, 0, SETALL, arg) != 0 || setenv(MAPI_BUDGET_ENV, val, 1) != 0) {
        int saved = errno;
        semctl(id, 0, IPC_RMID);
        unsetenv(MAPI_BUDGET_ENV);
        return sr_err_set(err, SR_E_IO, "request budget: %s", strerror(saved));
    }
    g_id = id;
    g_created = 1;
    if (record)
        record_set(record, id);
    return SR_OK;
}

void mapi_budget_remove(void)
{
    if (g_id >= 0 && g_created)
        semctl(g_id, 0, IPC_RMID);
    if (g_created)
        unsetenv(MAPI_BUDGET_ENV);
    if (g_created && g_record)
        unlink(g_record);
    free(g_record);
    g_record = NULL;
    g_id = -1;
    g_created = 0;
}

void mapi_budget_attach_env(void)
{
    const char *v = getenv(MAPI_BUDGET_ENV);
    if (!v || !*v)
        return;
    char *end;
    errno = 0;
    long id = strtol(v, &end, 10);
    struct semid_ds ds;
    union semun arg = { .buf = &ds };
    /* ours only: two semaphores, and this process may use them (0600) */
    if (errno || *end || id < 0 || id > 0x7fffffff || semctl((int)id, 0, IPC_STAT, arg) != 0 ||
        ds.sem_nsems != 2) {
        sr_log(SR_LOG_WARN, NULL, "%s=%s names no request budget of ours; requests are not "
               "limited", MAPI_BUDGET_ENV, v);
        return;
    }
    g_id = (int)id;
    g_created = 0;
}

static int change(mapi_budget_side side, short by, short flags)
{
    int s = sem_of(side);
    if (s < 0)
        return 1;
    struct sembuf op = { .sem_num = (unsigned short)s, .sem_op = by, .sem_flg = SEM_UNDO | flags };
    for (;;) {
        if (semop(g_id, &op, 1) == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return 0;
        lost(by < 0 ? "taking a slot" : "giving a slot back");
        return 1;
    }
}

int mapi_budget_try(mapi_budget_side side)
{
    return change(side, -1, IPC_NOWAIT);
}

void mapi_budget_release(mapi_budget_side side)
{
    change(side, 1, 0);
}

int mapi_budget_free_slots(mapi_budget_side side)
{
    int s = sem_of(side);
    int v = s < 0 ? -1 : semctl(g_id, s, GETVAL);
    if (s >= 0 && v < 0)
        lost("reading it");
    return v;
}
