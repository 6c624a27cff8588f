/* test_util.c — the common layer: errors, atomic writes, strings. */
#include "util/util.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_err_set_and_prefix(void)
{
    sr_err e;
    sr_err_clear(&e);
    CU_ASSERT_EQUAL(e.code, SR_OK);
    CU_ASSERT_EQUAL(sr_err_set(&e, SR_E_CONFIG, "%s:%d: bad", "a.ini", 3), SR_E_CONFIG);
    CU_ASSERT_STRING_EQUAL(e.msg, "a.ini:3: bad");
    CU_ASSERT_EQUAL(e.cls, SR_CLASS_FINAL);
    sr_err_prefix(&e, "%s: ", "room-1");
    CU_ASSERT_STRING_EQUAL(e.msg, "room-1: a.ini:3: bad");
    sr_err_set(&e, SR_E_BUSY, "x");
    CU_ASSERT_EQUAL(e.cls, SR_CLASS_WAIT);
    for (int c = 0; c < SR_E__MAX; c++)
        CU_ASSERT_STRING_NOT_EQUAL(sr_strerror((sr_code)c), "unknown error");
}

static void test_atomic_write_keeps_mode(void)
{
    char dir[] = "/tmp/sr-util-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char *path = sr_asprintf("%s/f.ini", dir);
    sr_err e;
    CU_ASSERT_EQUAL(sr_write_file_atomic(path, "one\n", 4, 0640, 1, &e), SR_OK);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
    chmod(path, 0600);
    CU_ASSERT_EQUAL(sr_write_file_atomic(path, "two\n", 4, 0644, 1, &e), SR_OK);
    stat(path, &st);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
    size_t len = 0;
    char *got = sr_read_file(path, 100, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(len, 4);
    CU_ASSERT_STRING_EQUAL(got, "two\n");
    free(got);
    CU_ASSERT_PTR_NULL(sr_read_file(path, 2, NULL, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_LIMIT);
    unlink(path);
    CU_ASSERT_PTR_NULL(sr_read_file(path, 100, NULL, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_NOTFOUND);
    rmdir(dir);
    free(path);
}

static void test_strings(void)
{
    CU_ASSERT_TRUE(sr_streq_ci("SMTP:Room@X", "smtp:room@x"));
    CU_ASSERT_FALSE(sr_streq_ci("abc", "abcd"));
    CU_ASSERT_EQUAL(sr_log_level_parse("DEBUG"), SR_LOG_DEBUG);
    CU_ASSERT_EQUAL(sr_log_level_parse("loud"), -1);
    char *s = sr_asprintf("%d-%s", 7, "x");
    CU_ASSERT_STRING_EQUAL(s, "7-x");
    sr_secret_free(s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("util", NULL, NULL);
    CU_add_test(s, "error set and prefix", test_err_set_and_prefix);
    CU_add_test(s, "atomic write keeps mode", test_atomic_write_keeps_mode);
    CU_add_test(s, "strings", test_strings);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
