/* test_ldap_nosasl.c — ldapdir_no_sasl_plugins: a process whose directories
 * all bind simple starts SASL without its plugins (the engine's start-up
 * cost, BENCHMARKS.md per-mailbox CPU), and a GSSAPI bind asked for later is
 * refused with a clear error instead of failing somewhere inside SASL. */
#include <CUnit/Basic.h>
#include <sasl/sasl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ldap/ldap_dir.h"
#include "tests/common/testutil.h"

/* How many client mechanisms from plugins SASL offers when started in a fresh child:
 * with the plugins or (no_plugins) after ldapdir_no_sasl_plugins.  -1: the
 * child failed. */
static int mechanisms_in_child(int no_plugins)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        if (no_plugins)
            ldapdir_no_sasl_plugins();
        unsigned char n = 255;
        if (sasl_client_init(NULL) == SASL_OK) {
            const char **m = sasl_global_listmech();
            n = 0;
            for (int i = 0; m && m[i] && i < 200; i++)
                n += strcmp(m[i], "EXTERNAL") != 0;   /* built into libsasl2, no plugin */
        }
        _exit(write(p[1], &n, 1) == 1 ? 0 : 1);
    }
    close(p[1]);
    unsigned char n = 255;
    ssize_t r = pid > 0 ? read(p[0], &n, 1) : -1;
    close(p[0]);
    int st = 0;
    if (pid > 0)
        waitpid(pid, &st, 0);
    return r == 1 && n != 255 ? n : -1;
}

static void test_no_plugin_loaded(void)
{
    int with = mechanisms_in_child(0);
    CU_ASSERT_FATAL(with >= 0);
    if (with == 0) {
        tu_skip("SASL plugins: none installed here (libsasl2-modules-gssapi-mit, make deps)");
        return;
    }
    CU_ASSERT_EQUAL(mechanisms_in_child(1), 0);
}

static void test_gssapi_refused_after(void)
{
    ldapdir_no_sasl_plugins();
    /* port 1 on loopback: nothing listens, so a connect that were tried
     * would fail as SR_E_CONNECT, not as the refusal checked here */
    ldapdir_opts o = { .dc = "ldap://127.0.0.1:1", .bind = LDAPDIR_BIND_GSSAPI,
                       .connect_timeout_ms = 500 };
    ldapdir *d = NULL;
    sr_err err;
    CU_ASSERT_EQUAL(ldapdir_connect(&o, &d, &err), SR_E_UNSUPPORTED);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "GSSAPI"));
    /* a simple bind is still tried: it reaches the (closed) port */
    o.bind = LDAPDIR_BIND_SIMPLE;
    o.account = "cn=x";
    o.password = "x";
    o.allow_plain = 1;
    o.tls = LDAPDIR_TLS_NONE;
    CU_ASSERT_EQUAL(ldapdir_connect(&o, &d, &err), SR_E_CONNECT);
    CU_ASSERT_PTR_NULL(d);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("ldap_nosasl", NULL, NULL);
    CU_add_test(s, "no SASL plugin is opened", test_no_plugin_loaded);
    CU_add_test(s, "a GSSAPI bind is refused afterwards, a simple one is not", test_gssapi_refused_after);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
