/* test_mapi_budget.c — the per-account request budget (mapi/budget.h):
 * slots are counted across processes, a process killed while holding slots
 * gives them back (SEM_UNDO), the environment names the budget to a child,
 * and anything that is not our budget leaves requests unlimited. */
#include "mapi/budget.h"

#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_no_budget(void)
{
    mapi_budget_remove();
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_SOURCE), 1);
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_SOURCE), -1);
    sr_err e;
    CU_ASSERT_EQUAL(mapi_budget_create(0, NULL, &e), SR_OK);   /* 0: not limited */
    CU_ASSERT_PTR_NULL(getenv(MAPI_BUDGET_ENV));
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_TARGET), -1);
    CU_ASSERT_NOT_EQUAL(mapi_budget_create(MAPI_BUDGET_MAX_SLOTS + 1, NULL, &e), SR_OK);
}

static void test_counts(void)
{
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_budget_create(3, NULL, &e), SR_OK);
    CU_ASSERT_PTR_NOT_NULL(getenv(MAPI_BUDGET_ENV));
    for (int i = 0; i < 3; i++)
        CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_SOURCE), 1);
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_SOURCE), 0);     /* full */
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_TARGET), 3); /* the other account */
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_NONE), 1);       /* never limited */
    mapi_budget_release(MAPI_BUDGET_SOURCE);
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_SOURCE), 1);
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_SOURCE), 1);
    for (int i = 0; i < 3; i++)
        mapi_budget_release(MAPI_BUDGET_SOURCE);
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_SOURCE), 3);
    mapi_budget_remove();
    CU_ASSERT_PTR_NULL(getenv(MAPI_BUDGET_ENV));
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_SOURCE), 1);     /* gone: unlimited */
}

/* A child that attaches through the environment, takes every slot of
 * side, says so on fd and waits to be killed. */
static pid_t holder(mapi_budget_side side, int n, int fd)
{
    pid_t pid = fork();
    if (pid == 0) {
        mapi_budget_attach_env();
        int got = 0;
        while (got < n && mapi_budget_try(side) == 1)
            got++;
        char c = (char)got;
        if (write(fd, &c, 1) != 1)
            _exit(1);
        for (int i = 0; i < 600; i++)   /* bounded: 60 s */
            usleep(100 * 1000);
        _exit(0);
    }
    return pid;
}

static void test_killed_holder_gives_back(void)
{
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_budget_create(4, NULL, &e), SR_OK);
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    pid_t pid = holder(MAPI_BUDGET_TARGET, 4, p[1]);
    CU_ASSERT_FATAL(pid > 0);
    char got = 0;
    CU_ASSERT_EQUAL(read(p[0], &got, 1), 1);
    CU_ASSERT_EQUAL(got, 4);
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_TARGET), 0);
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_TARGET), 0);   /* the child holds them all */
    kill(pid, SIGKILL);
    int st;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFSIGNALED(st));
    /* the kernel undid the killed process's slots */
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_TARGET), 4);
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_SOURCE), 4);
    close(p[0]);
    close(p[1]);
    mapi_budget_remove();
}

static void test_foreign_ids(void)
{
    mapi_budget_remove();
    setenv(MAPI_BUDGET_ENV, "not-a-number", 1);
    mapi_budget_attach_env();
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_SOURCE), -1);
    /* a set that is not ours (one semaphore, not two) */
    int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
    CU_ASSERT_FATAL(id >= 0);
    char v[24];
    snprintf(v, sizeof v, "%d", id);
    setenv(MAPI_BUDGET_ENV, v, 1);
    mapi_budget_attach_env();
    CU_ASSERT_EQUAL(mapi_budget_free_slots(MAPI_BUDGET_SOURCE), -1);
    CU_ASSERT_EQUAL(mapi_budget_try(MAPI_BUDGET_SOURCE), 1);
    semctl(id, 0, IPC_RMID);
    unsetenv(MAPI_BUDGET_ENV);
}

static int set_exists(int id)
{
    struct semid_ds ds;
    return semctl(id, 0, IPC_STAT, &ds) == 0;
}

static int recorded_id(const char *record)
{
    FILE *f = fopen(record, "r");
    int id = -1;
    if (f && fscanf(f, "%d", &id) != 1)
        id = -1;
    if (f)
        fclose(f);
    return id;
}

/* A run killed by SIGKILL cannot remove its set; the next run over the same
 * record (switchresmb: beside the same journal) does.  A set the record
 * names that is not the one recorded (the id reused after an ipcrm) stays. */
static void test_killed_run_reclaimed(void)
{
    char dir[] = "/tmp/budgetXXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char record[64];
    snprintf(record, sizeof record, "%s/run.budget", dir);
    mapi_budget_remove();
    pid_t pid = fork();
    CU_ASSERT_TRUE_FATAL(pid >= 0);
    if (pid == 0) {   /* a run that makes its set, then dies */
        sr_err e;
        if (mapi_budget_create(5, record, &e) != SR_OK)
            _exit(1);
        kill(getpid(), SIGKILL);
        _exit(2);
    }
    int st;
    waitpid(pid, &st, 0);
    CU_ASSERT_TRUE(WIFSIGNALED(st));
    int old = recorded_id(record);
    CU_ASSERT_TRUE_FATAL(old >= 0);
    CU_ASSERT_TRUE(set_exists(old));   /* left behind */
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_budget_create(5, record, &e), SR_OK);
    CU_ASSERT_FALSE(set_exists(old));   /* the next run removed it */
    int now = recorded_id(record);
    CU_ASSERT_TRUE(now >= 0 && now != old && set_exists(now));
    mapi_budget_remove();
    CU_ASSERT_FALSE(set_exists(now));
    CU_ASSERT_NOT_EQUAL(access(record, F_OK), 0);   /* the record goes with it */

    /* a record whose set was changed since (not the one recorded) */
    int other = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
    CU_ASSERT_TRUE_FATAL(other >= 0);
    FILE *f = fopen(record, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "%d 12345\n", other);
    fclose(f);
    CU_ASSERT_EQUAL(mapi_budget_create(0, record, &e), SR_OK);
    CU_ASSERT_TRUE(set_exists(other));
    semctl(other, 0, IPC_RMID);
    unlink(record);
    rmdir(dir);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mapi_budget", NULL, NULL);
    CU_add_test(s, "no budget: nothing is limited", test_no_budget);
    CU_add_test(s, "slots are counted per account", test_counts);
    CU_add_test(s, "a killed holder gives its slots back", test_killed_holder_gives_back);
    CU_add_test(s, "a foreign or broken id is not used", test_foreign_ids);
    CU_add_test(s, "a set left by a killed run is removed by the next", test_killed_run_reclaimed);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
