/* test_testutil.c — the test helpers' own promises (tests/common/testutil.h). */
#include "tests/common/testutil.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* A test binary killed mid-run (here: a child standing in for it, SIGKILLed)
 * leaves no server behind: what it started with tu_spawn ends with it. */
static void test_spawn_dies_with_parent(void)
{
    int p[2];
    CU_ASSERT_EQUAL_FATAL(pipe(p), 0);
    pid_t test = fork();
    CU_ASSERT_TRUE_FATAL(test >= 0);
    if (test == 0) {
        char *argv[] = { "sleep", "30", NULL };
        pid_t server = tu_spawn(argv, NULL);
        ssize_t w = write(p[1], &server, sizeof server);
        (void)w;
        for (int i = 0; i < 300; i++)   /* bounded: 30 s */
            usleep(100000);
        _exit(0);
    }
    close(p[1]);
    pid_t server = -1;
    CU_ASSERT_EQUAL_FATAL(read(p[0], &server, sizeof server), (ssize_t)sizeof server);
    close(p[0]);
    CU_ASSERT_TRUE_FATAL(server > 0);
    usleep(100000);   /* the server runs */
    CU_ASSERT_EQUAL(kill(server, 0), 0);
    kill(test, SIGKILL);
    int st;
    waitpid(test, &st, 0);
    int gone = 0;
    for (int i = 0; i < 300 && !gone; i++) {   /* bounded: 3 s */
        gone = kill(server, 0) != 0 && errno == ESRCH;
        if (!gone)
            usleep(10000);
    }
    CU_ASSERT_TRUE(gone);
    if (!gone)
        kill(server, SIGKILL);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("testutil", NULL, NULL);
    CU_add_test(s, "tu_spawn: a server ends with the test that started it", test_spawn_dies_with_parent);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned f = CU_get_number_of_failures();
    CU_cleanup_registry();
    return f ? 1 : 0;
}
