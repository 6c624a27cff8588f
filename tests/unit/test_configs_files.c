/* test_configs_files.c — Windows INI files as admins have them (issue 10):
 * UTF-16LE/BE with a byte order mark, quoted values, "\r\r\n" endings, and a
 * DCPassword rewrite that keeps the file's encoding, line endings, owner,
 * group, mode, ACL and symlink.  Fixtures: tests/data/configs/. */
#include "configs/configs.h"
#include "tests/common/testutil.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <acl/libacl.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir;
static char *host_id;

/* ---- helpers ------------------------------------------------------------- */

static char *fixture(const char *rel)
{
    return sr_asprintf("%s/tests/data/configs/%s", tu_root(), rel);
}

/* Copy fixture rel to tmpdir/rel; returns the copy's path (caller frees). */
static char *copy_fixture(const char *rel, size_t *len_out)
{
    char *src = fixture(rel);
    sr_err e;
    size_t len = 0;
    char *data = sr_read_file(src, 1 << 20, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(data);
    char *dst = sr_asprintf("%s/%s", tmpdir, rel);
    FILE *f = fopen(dst, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
    fclose(f);
    free(data);
    free(src);
    if (len_out)
        *len_out = len;
    return dst;
}

/* Decode a UTF-16 body (no BOM) to UTF-8 with iconv; caller frees. */
static char *utf16_to_utf8(const char *enc, const char *in, size_t len)
{
    iconv_t cd = iconv_open("UTF-8", enc);
    CU_ASSERT_FATAL(cd != (iconv_t)-1);
    char *out = calloc(1, 2 * len + 1), *op = out, *ip = (char *)in;
    size_t il = len, ol = 2 * len;
    CU_ASSERT_NOT_EQUAL(iconv(cd, &ip, &il, &op, &ol), (size_t)-1);
    iconv_close(cd);
    return out;
}

static void expect_error_at(cfg_resmb *c, const sr_err *e, const char *path, int line,
                            const char *what)
{
    CU_ASSERT_PTR_NULL(c);
    cfg_resmb_free(c);
    char *where = sr_asprintf("%s:%d: ", path, line);
    int ok = strstr(e->msg, where) && strstr(e->msg, what);
    CU_ASSERT_TRUE(ok);
    if (!ok)
        fprintf(stderr, "\ngot [%s], want [%s] and [%s]\n", e->msg, where, what);
    free(where);
}

/* ---- reading ------------------------------------------------------------- */

static void test_utf16_resmb(void)
{
    /* DCPassword= empty is refused by the loader (must not be empty), so
     * these fixtures carry a value-less line only for the rewrite tests:
     * load a copy with a value first */
    const char *names[] = { "resmb_utf16le.ini", "resmb_utf16be.ini" };
    for (size_t i = 0; i < 2; i++) {
        char *p = copy_fixture(names[i], NULL);
        sr_err e;
        CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "DCPassword", "srenc1:host:AAAA", &e), SR_OK);
        cfg_resmb *c = cfg_resmb_load(p, NULL, &e);
        if (!c)
            fprintf(stderr, "\n%s: %s\n", names[i], e.msg);
        CU_ASSERT_PTR_NOT_NULL_FATAL(c);
        CU_ASSERT_STRING_EQUAL(c->ad.dc_name, "dc1.src.test");
        CU_ASSERT_STRING_EQUAL(c->ad.dc_account, "SRC\\\xC3\xA9lodie");
        CU_ASSERT_STRING_EQUAL(c->ad.dc_password, "srenc1:host:AAAA");
        CU_ASSERT_EQUAL(c->ad.dc_password_line, 8);
        CU_ASSERT_EQUAL_FATAL(c->mailboxes_smtp.n, 1);
        CU_ASSERT_STRING_EQUAL(c->mailboxes_smtp.v[0].value, "room-1@src.test");
        CU_ASSERT_EQUAL(c->mailboxes_smtp.v[0].line, 10);
        /* Windows' backslash rules: the path keeps its backslashes */
        CU_ASSERT_EQUAL_FATAL(c->settings.cpuu_argc, 4);
        CU_ASSERT_STRING_EQUAL(c->settings.cpuu_argv[1], "C:\\CPUU Logs\\cpuu.log");
        CU_ASSERT_STRING_EQUAL(c->settings.cpuu_argv[3], "C:\\CPUU\\CPUU.ini");
        cfg_resmb_free(c);
        free(p);
    }
}

static void test_utf16_errors_name_the_line(void)
{
    sr_err e;
    char *p = fixture("resmb_utf16le_bad_line5.ini");
    expect_error_at(cfg_resmb_load(p, NULL, &e), &e, p, 5, "LogonNetworkSecurityKerberos");
    free(p);
    p = fixture("resmb_utf16le_surrogate_line3.ini");
    expect_error_at(cfg_resmb_load(p, NULL, &e), &e, p, 3, "not valid UTF-16LE");
    free(p);
    p = fixture("resmb_utf16le_nobom.ini");
    expect_error_at(cfg_resmb_load(p, NULL, &e), &e, p, 1, "NUL byte");
    free(p);
    /* Notepad's "ANSI" (Windows-1252): é is one byte 0xE9, not UTF-8 */
    p = fixture("resmb_ansi_line6.ini");
    expect_error_at(cfg_resmb_load(p, NULL, &e), &e, p, 6, "not valid UTF-8 (saved as \"ANSI\"?");
    free(p);
    p = fixture("cpuu_utf16le_bad_line5.ini");
    cfg_cpuu *cc = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NULL(cc);
    cfg_cpuu_free(cc);
    char *where = sr_asprintf("%s:5: [Parameters] Attempt", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, where));
    free(where);
    free(p);
}

static void test_utf16_cpuu_and_quotes(void)
{
    char *p = fixture("cpuu_utf16be.ini");
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, NULL, &e);
    if (!c)
        fprintf(stderr, "\n%s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->admin, "SRC\\Administrator");
    CU_ASSERT_STRING_EQUAL(c->password, "srenc1:host:AAAA");
    CU_ASSERT_EQUAL(c->admin_line, 2);
    CU_ASSERT_EQUAL(c->effective, CFG_FSET(CFG_F_DELEGATES) | CFG_FSET(CFG_F_RULES));
    cfg_cpuu_free(c);
    free(p);
}

static void test_quotes_once(void)
{
    char *p = sr_asprintf("%s/quotes.ini", tmpdir);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("[Settings]\nCPUUCmdLine=\"/opt/a b/cpuu\" -INI \"/etc/x y.ini\"\nSrcExchServer=\"\"\n"
          "[AD]\nDCName=\"\"dc\"\"\nDCAccount=\"SRC\\administrator\"\nDCPassword=\"srenc1:host:AA\"\n"
          "[MailboxesSMTP]\nroom-1@src.test\n", f);
    fclose(f);
    sr_err e;
    cfg_resmb *c = cfg_resmb_load(p, NULL, &e);
    if (!c)
        fprintf(stderr, "\n%s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->ad.dc_account, "SRC\\administrator");
    CU_ASSERT_STRING_EQUAL(c->ad.dc_password, "srenc1:host:AA");
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server, "");
    /* quotes inside: a list of quoted words, kept whole */
    CU_ASSERT_STRING_EQUAL(c->ad.dc_name, "\"\"dc\"\"");
    CU_ASSERT_STRING_EQUAL(c->settings.cpuu_cmdline, "\"/opt/a b/cpuu\" -INI \"/etc/x y.ini\"");
    cfg_resmb_free(c);
    free(p);
}

/* ---- the DCPassword rewrite --------------------------------------------- */

static void test_rewrite_keeps_utf16(void)
{
    size_t olen = 0;
    char *p = copy_fixture("resmb_utf16le.ini", &olen);
    char *orig_path = fixture("resmb_utf16le.ini");
    sr_err e;
    char *orig = sr_read_file(orig_path, 1 << 20, NULL, &e);
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "DCPassword", "srenc1:host:NEW", &e), SR_OK);
    size_t len = 0;
    char *after = sr_read_file(p, 1 << 20, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    CU_ASSERT_EQUAL(memcmp(after, "\xFF\xFE", 2), 0);
    CU_ASSERT_EQUAL(len, olen + 2 * strlen("srenc1:host:NEW"));
    char *a = utf16_to_utf8("UTF-16LE", after + 2, len - 2);
    char *o = utf16_to_utf8("UTF-16LE", orig + 2, olen - 2);
    char *want = sr_asprintf("%.*s%s%s", (int)(strstr(o, "DCPassword=") + 11 - o), o,
                             "srenc1:host:NEW", strstr(o, "DCPassword=") + 11);
    CU_ASSERT_STRING_EQUAL(a, want); /* every other character and CRLF kept */
    free(want);
    free(a);
    free(o);
    free(after);
    free(orig);
    free(orig_path);
    free(p);
}

static void test_rewrite_crcrlf_and_bom_first_line(void)
{
    size_t olen = 0;
    char *p = copy_fixture("resmb_bom_ad_first_crcrlf.ini", &olen);
    setenv("SR_MACHINE_ID_FILE", host_id, 1);
    char *stored = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("S3cret", CFG_ENC_HOST, &stored, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "DCPassword", stored, &e), SR_OK);
    size_t len = 0;
    char *after = sr_read_file(p, 1 << 20, &len, &e);
    CU_ASSERT_EQUAL(len, olen - 3 + strlen(stored));
    char *needle = sr_asprintf("\r\r\nDCPassword=%s\r\r\n[Settings]", stored);
    CU_ASSERT_PTR_NOT_NULL(strstr(after, needle));
    CU_ASSERT_EQUAL(memcmp(after, "\xEF\xBB\xBF[AD]\r\r\n", 9), 0);
    cfg_resmb *c = cfg_resmb_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *plain = NULL;
    CU_ASSERT_EQUAL(cfg_resmb_dc_password(c, &plain, &e), SR_OK);
    if (plain)
        CU_ASSERT_STRING_EQUAL(plain, "S3cret");
    sr_secret_free(plain);
    cfg_resmb_free(c);
    free(needle);
    free(after);
    free(stored);
    free(p);
}

static const char plain_ini[] = "[Settings]\nCPUUCmdLine=\nSrcExchServer=\n[AD]\nDCName=dc\n"
                                "DCAccount=a\nDCPassword=old\n[MailboxesSMTP]\nr@x.y\n";

static char *write_plain(const char *name)
{
    char *p = sr_asprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(plain_ini, f);
    fclose(f);
    return p;
}

static void test_rewrite_keeps_owner_mode_acl(void)
{
    char *p = write_plain("owned.ini");
    CU_ASSERT_EQUAL_FATAL(chmod(p, 0640), 0);
    int root = geteuid() == 0;
    if (root)
        CU_ASSERT_EQUAL_FATAL(chown(p, 4321, 8765), 0);
    acl_t acl = acl_from_text("u::rw-,u:4242:r--,g::r--,m::r--,o::---");
    CU_ASSERT_PTR_NOT_NULL_FATAL(acl);
    int have_acl = acl_set_file(p, ACL_TYPE_ACCESS, acl) == 0;
    acl_free(acl);
    /* a file system without ACLs would make this test weaker: say so loudly */
    CU_ASSERT_TRUE(have_acl);
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "DCPassword", "srenc1:host:NEW", &e), SR_OK);
    struct stat st;
    CU_ASSERT_EQUAL_FATAL(stat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
    if (root) {
        CU_ASSERT_EQUAL(st.st_uid, 4321);
        CU_ASSERT_EQUAL(st.st_gid, 8765);
    } else {
        fprintf(stderr, "\nnot root: owner/group change not tested\n");
        CU_FAIL("owner/group kept: needs root to set up");
    }
    acl_t got = acl_get_file(p, ACL_TYPE_ACCESS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    char *text = acl_to_any_text(got, NULL, ',', TEXT_NUMERIC_IDS);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "user:4242:r--"));
    if (!strstr(text, "user:4242:r--"))
        fprintf(stderr, "\nACL after rewrite: %s\n", text);
    acl_free(text);
    acl_free(got);
    free(p);
}

static void test_rewrite_follows_symlink(void)
{
    char *dir = sr_asprintf("%s/real", tmpdir);
    CU_ASSERT_EQUAL(mkdir(dir, 0700), 0);
    char *real = sr_asprintf("%s/real/SwitchResMB.ini", tmpdir);
    char *p = write_plain("real/SwitchResMB.ini");
    char *link = sr_asprintf("%s/link.ini", tmpdir);
    CU_ASSERT_EQUAL_FATAL(symlink(real, link), 0);
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(link, "DCPassword", "srenc1:host:NEW", &e), SR_OK);
    struct stat st;
    CU_ASSERT_EQUAL(lstat(link, &st), 0);
    CU_ASSERT_TRUE(S_ISLNK(st.st_mode));
    char *text = sr_read_file(real, 1 << 20, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\nDCPassword=srenc1:host:NEW\n"));
    free(text);
    free(link);
    free(p);
    free(real);
    free(dir);
}

/* Duplicates are found by sorting (the check was quadratic); each repeat
 * still names the line of the first occurrence, in file order. */
static void test_duplicates_name_first_line(void)
{
    char *p = sr_asprintf("%s/dups.ini", tmpdir);
    FILE *f = fopen(p, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("[Settings]\nCPUUCmdLine=\nSrcExchServer=\n[MailboxesSMTP]\n" /* lines 1-4 */
          "b@x.test\na@x.test\nB@X.test\nc@x.test\nA@x.TEST\nb@x.test\n", f);
    fclose(f);
    FILE *logf = tmpfile();
    sr_log_set_stream(logf);
    sr_log_set_level(SR_LOG_ERROR);
    sr_err e;
    cfg_diag d;
    cfg_resmb *c = cfg_resmb_load(p, &d, &e);
    sr_log_set_stream(NULL);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(d.errors, 3);
    char *first = sr_asprintf("%s:7: [MailboxesSMTP]: 'B@X.test' is listed twice (first at line 5)", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, first));
    rewind(logf);
    char text[4096] = "";
    size_t got = fread(text, 1, sizeof text - 1, logf);
    text[got] = '\0';
    fclose(logf);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ":9: [MailboxesSMTP]: 'A@x.TEST' is listed twice (first at line 6)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ":10: [MailboxesSMTP]: 'b@x.test' is listed twice (first at line 5)"));
    /* in file order: each found after the file's name (a bare ":10:" also
     * matches a log line's time stamp at minute 10 of the hour, 03:10:30Z,
     * and the test failed then) */
    const char *l7 = strstr(text, "dups.ini:7:"), *l9 = strstr(text, "dups.ini:9:"),
               *l10 = strstr(text, "dups.ini:10:");
    CU_ASSERT_TRUE(l7 && l9 && l10 && l7 < l9 && l9 < l10);
    free(first);
    free(p);
}

/* ---- main ----------------------------------------------------------------- */

static int suite_init(void)
{
    tmpdir = tu_mkdtemp("configs-files");
    if (!tmpdir)
        return 1;
    sr_log_set_level(SR_LOG_ERROR);
    host_id = sr_asprintf("%s/machine-id", tmpdir);
    FILE *f = fopen(host_id, "w");
    if (!f)
        return 1;
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    return 0;
}

static int suite_clean(void)
{
    tu_rm_rf(tmpdir);
    free(tmpdir);
    free(host_id);
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("configs_files", suite_init, suite_clean);
    CU_add_test(s, "UTF-16LE/BE SwitchResMB.ini", test_utf16_resmb);
    CU_add_test(s, "UTF-16 errors name the right line", test_utf16_errors_name_the_line);
    CU_add_test(s, "UTF-16BE CPUU.ini, quoted values", test_utf16_cpuu_and_quotes);
    CU_add_test(s, "one pair of quotes stripped", test_quotes_once);
    CU_add_test(s, "rewrite keeps UTF-16LE and CRLF", test_rewrite_keeps_utf16);
    CU_add_test(s, "rewrite: \\r\\r\\n and a BOM before [AD]", test_rewrite_crcrlf_and_bom_first_line);
    CU_add_test(s, "rewrite keeps owner, group, mode, ACL", test_rewrite_keeps_owner_mode_acl);
    CU_add_test(s, "rewrite follows a symlink", test_rewrite_follows_symlink);
    CU_add_test(s, "duplicates name the first line, in file order", test_duplicates_name_first_line);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
