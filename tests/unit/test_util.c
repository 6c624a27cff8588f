/* test_util.c — the common layer: errors, atomic writes, strings, UTF-8,
 * string arrays, the clock, the spec codes' names. */
#include "util/codes.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* Linked with -Wl,--wrap=fsync (tests/tests.mk): util's fsync calls land here. */
int __real_fsync(int fd);
int __wrap_fsync(int fd);
static unsigned g_fsyncs;
int __wrap_fsync(int fd)
{
    g_fsyncs++;
    return __real_fsync(fd);
}

/* issue 13: the report files were written durably (2 fsyncs each) though
 * each run writes them again from the journal.  A view is replaced whole,
 * with no fsync; the durable write keeps its two. */
static void test_view_write_is_atomic_not_synced(void)
{
    char dir[] = "/tmp/sr-util-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char *path = sr_asprintf("%s/report.txt", dir);
    sr_err e;
    g_fsyncs = 0;
    CU_ASSERT_EQUAL(sr_write_file_atomic(path, "old\n", 4, 0600, 0, &e), SR_OK);
    CU_ASSERT_EQUAL(g_fsyncs, 2);   /* the file and its directory */
    g_fsyncs = 0;
    sr_view v;
    CU_ASSERT_EQUAL_FATAL(sr_view_open(&v, path, 0640, &e), SR_OK);
    fputs("new ", v.f);
    fputs("view\n", v.f);
    CU_ASSERT_EQUAL(sr_view_commit(&v, &e), SR_OK);
    CU_ASSERT_EQUAL(g_fsyncs, 0);
    size_t len = 0;
    char *got = sr_read_file(path, 100, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_STRING_EQUAL(got, "new view\n");
    free(got);
    struct stat st;
    CU_ASSERT_EQUAL(stat(path, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
    char *cmd = sr_asprintf("ls -A '%s' | grep -c tmp", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    CU_ASSERT_EQUAL(p && fscanf(p, "%d", &n) == 1 ? n : -1, 0);   /* no temp file left */
    if (p)
        pclose(p);
    free(cmd);
    /* a directory that does not exist: an error naming the file, nothing created */
    char *bad = sr_asprintf("%s/no/such/report.txt", dir);
    CU_ASSERT_EQUAL(sr_view_open(&v, bad, 0600, &e), SR_E_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, bad));
    free(bad);
    unlink(path);
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

/* RFC 3629 section 4 (and its examples), plus the cases the two old copies
 * got wrong: F5..F7 leads, overlongs, surrogates, truncation. */
static void test_utf8(void)
{
    static const char *const good[] = {
        "", "ascii", "caf\xC3\xA9", "\xE2\x82\xAC",              /* U+00E9, U+20AC */
        "\xED\x9F\xBF", "\xEE\x80\x80",                          /* U+D7FF, U+E000 */
        "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF",                  /* U+10000, U+10FFFF */
        "\xEF\xBB\xBF\xF0\x9F\x98\x80",                         /* BOM, U+1F600 */
    };
    static const char *const bad[] = {
        "\x80", "\xBF", "a\xC3", "\xC3\x28",                       /* stray / missing continuation */
        "\xC0\xAF", "\xC1\xBF", "\xE0\x80\xAF", "\xE0\x9F\xBF",  /* overlongs */
        "\xF0\x80\x80\xAF", "\xF0\x8F\xBF\xBF",
        "\xED\xA0\x80", "\xED\xBF\xBF",                          /* surrogates */
        "\xF4\x90\x80\x80",                                      /* above U+10FFFF */
        "\xF5\x80\x80\x80", "\xF7\xBF\xBF\xBF", "\xF8\x88\x80\x80\x80",
        "\xFE", "\xFF", "\xE2\x82", "\xF0\x9F\x98",               /* truncated */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CU_ASSERT_TRUE(sr_utf8_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CU_ASSERT_FALSE(sr_utf8_valid(bad[i]));
}

static void test_strv_and_clock(void)
{
    char **v = calloc(3, sizeof *v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    v[0] = sr_strdup("a");
    v[1] = sr_strdup("b");
    sr_strv_free(v);          /* ASan/valgrind: nothing leaks */
    sr_strv_free(NULL);
    long long t0 = sr_now_ms();
    struct timespec ts = { 0, 30 * 1000000L };
    nanosleep(&ts, NULL);
    long long dt = sr_now_ms() - t0;
    CU_ASSERT_TRUE(dt >= 29 && dt < 5000);
}

static void test_cpuu_bits_names(void)
{
    char buf[512];
    CU_ASSERT_STRING_EQUAL(sr_cpuu_bits_describe(0, buf, sizeof buf), "CPUU_CANNOT_START");
    CU_ASSERT_STRING_EQUAL(sr_cpuu_bits_describe(CPUU_SUCCESS | CPUU_INVALID_SWITCH_MSG, buf, sizeof buf),
                           "CPUU_SUCCESS|CPUU_INVALID_SWITCH_MSG");
    CU_ASSERT_STRING_EQUAL(sr_cpuu_bits_describe(CPUU_NO_SWITCH_MSG | 4096, buf, sizeof buf),
                           "CPUU_NO_SWITCH_MSG|0x1000");
    char small[8];
    CU_ASSERT_EQUAL(strlen(sr_cpuu_bits_describe(CPUU_CRASH, small, sizeof small)), 7);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("util", NULL, NULL);
    CU_add_test(s, "error set and prefix", test_err_set_and_prefix);
    CU_add_test(s, "atomic write keeps mode", test_atomic_write_keeps_mode);
    CU_add_test(s, "view write: atomic, not synced", test_view_write_is_atomic_not_synced);
    CU_add_test(s, "strings", test_strings);
    CU_add_test(s, "UTF-8 validation (RFC 3629)", test_utf8);
    CU_add_test(s, "string arrays and the clock", test_strv_and_clock);
    CU_add_test(s, "CPUU exit bit names", test_cpuu_bits_names);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
