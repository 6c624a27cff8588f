/* test_ldap_ad.c — what only a real Active Directory shows, through the AD
 * client (ldap/ldap_dir.h), against a Samba AD DC (tests/lab/samba-lab.sh).
 *
 * One DC for the whole run, provisioned with an organisation larger than AD's
 * MaxPageSize (2,500 rooms).  Cases: a simple bind over plain ldap:// is
 * refused and the client says TLS is required and how to get it; binds as
 * DOMAIN\user, user@domain and DN over LDAPS and StartTLS; SASL GSSAPI with a
 * ticket from the DC's KDC over TLS and over plain LDAP (sign/seal); paged
 * searches over more than 1,000 objects; batched resolution of all of them;
 * search references from the domain partition; the Autodiscover SCP in the
 * configuration partition.  "fixture:" cases check the lab itself with
 * ldapsearch (schema extension with Microsoft's attributeIDs, loopback only).
 *
 * Ranged retrieval (member;range=0-1499) is not a case: the client reads no
 * attribute that can exceed MaxValRange (it reads proxyAddresses, mail,
 * legacyExchangeDN, the mapping attribute, msExch* — never group members),
 * and Samba does not enforce MaxValRange on a plain request anyway. */
#include "ldap/ldap_dir.h"
#include "tests/common/testutil.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PY "/usr/bin/python3"
enum { MAX_RCPT = 4000, N_ROOMS = 2500, N_USERS = 20, N_EQUIP = 10 };

/* LeakSanitizer (ASan build): Cyrus SASL's GSSAPI plugin (libgssapiv2.so)
 * leaks the credential handle it gets from gss_acquire_cred on binds over
 * TLS (no security layer) — a third-party leak, not ours.  The fast unwinder
 * stops inside MIT Kerberos (no frame pointers), so the suppressions name
 * those libraries; a leak allocated from our code still shows.  Read by LSan
 * only; unused otherwise. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libgssapiv2.so\nleak:libgssapi_krb5.so\nleak:libkrb5.so\n";
}

/* ---- the lab ------------------------------------------------------------ */

static char *tmp_dir, *org_path;
static tu_lab g_lab;
static char *stop_argv[5];   /* prepared before the run: used from a signal handler */

typedef struct {
    char *id, *kind, *smtp, *target, *guid_hex, *problems, *proxies;
} rcpt;
static rcpt rc_list[MAX_RCPT];
static int n_rc;
static char ews_host[256];

static const char *lab(const char *key)
{
    return tu_lab_get(&g_lab, key);
}

/* Something CI has was missing: skipped, and a failure under `make test`. */
static void skip_note(const char *what, const char *why)
{
    tu_skip("%s: %s", what, why);
}

static int read_expect(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[8192];
    while (n_rc < MAX_RCPT && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *fld[7] = { 0 };
        int nf = 0;
        for (char *p = line, *tab; nf < 7; p = tab + 1) {
            fld[nf++] = p;
            if (!(tab = strchr(p, '\t')))
                break;
            *tab = '\0';
        }
        if (nf == 2 && !strcmp(fld[0], "#ews")) {
            snprintf(ews_host, sizeof ews_host, "%s", fld[1]);
            continue;
        }
        if (nf != 7)
            continue;
        rcpt *r = &rc_list[n_rc++];
        r->id = strdup(fld[0]);
        r->kind = strdup(fld[1]);
        r->smtp = strdup(fld[2]);
        r->target = strdup(fld[3]);
        r->guid_hex = strdup(fld[4]);
        r->problems = strdup(fld[5]);
        r->proxies = strdup(fld[6]);
    }
    fclose(f);
    return n_rc > 0 ? 0 : -1;
}

/* Killed (timeout, ^C): stop the DC by its script before dying, so its fixed
 * ports are free for the next run.  Only async-signal-safe calls. */
static void on_signal(int sig)
{
    pid_t p = fork();
    if (p == 0) {
        execvp(stop_argv[0], stop_argv);
        _exit(127);
    }
    if (p > 0)
        waitpid(p, NULL, 0);
    signal(sig, SIG_DFL);
    raise(sig);
}

static int lab_start(void)
{
    tmp_dir = tu_mkdtemp("ldapad");
    if (!tmp_dir)
        return -1;
    const char *ls = getenv("SAMBA_LAB_SCRIPT");
    char *script = ls && *ls ? strdup(ls) : sr_asprintf("%s/tests/lab/samba-lab.sh", tu_root());
    org_path = sr_asprintf("%s/org.json", tmp_dir);
    stop_argv[0] = "bash";
    stop_argv[1] = g_lab.script;   /* filled by tu_lab_start before it starts anything */
    stop_argv[2] = "stop";
    stop_argv[3] = g_lab.dir;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGHUP, on_signal);
    char *gen = sr_asprintf("%s/tests/lab/orggen.py", tu_root());
    char u[16], r[16], e[16];
    snprintf(u, sizeof u, "%d", N_USERS);
    snprintf(r, sizeof r, "%d", N_ROOMS);
    snprintf(e, sizeof e, "%d", N_EQUIP);
    char *log = sr_asprintf("%s/lab-start.log", tmp_dir);
    char *tsv = sr_asprintf("%s/expect.tsv", tmp_dir);
    char *dir = sr_asprintf("%s/lab", tmp_dir);
    char *gen_argv[] = { PY, gen, "--users", u, "--rooms", r, "--equipment", e, "--seed", "11",
                         "-o", org_path, NULL };
    const char *tsv_args[] = { org_path, NULL };   /* one TSV line per recipient */
    int ok = tu_run(gen_argv, NULL, 60000) == 0 &&
             tu_py_to("tests/py/org_expect_ad.py", tsv_args, tsv) == 0 && read_expect(tsv) == 0 &&
             tu_lab_start(&g_lab, script, dir, org_path, log, 300000) == 0;
    if (ok) {
        char *cat[] = { "tail", "-n", "1", log, NULL };
        tu_run(cat, NULL, 5000);
        ok = !strcmp(lab("LAB_KIND"), "samba");
    }
    free(script);
    free(gen);
    free(log);
    free(tsv);
    free(dir);
    return ok ? 0 : -1;
}

static void lab_stop(void)
{
    tu_lab_free(&g_lab);
    if (tmp_dir)
        tu_rm_rf(tmp_dir);
}

/* ---- helpers -------------------------------------------------------------- */

static ldapdir_opts base_opts(void)
{
    ldapdir_opts o = { 0 };
    o.dc = lab("LAB_LDAPS_URI");
    o.account = lab("LAB_BIND_NT");
    o.password = lab("LAB_PASSWORD");
    o.ca_file = lab("LAB_CA");
    o.connect_timeout_ms = 3000;
    o.op_timeout_ms = 20000;
    return o;
}

static ldapdir *open_dir(const ldapdir_opts *o)
{
    ldapdir *d = NULL;
    sr_err e;
    if (ldapdir_connect(o, &d, &e) != SR_OK)
        printf("\n    connect %s as %s: %s\n", o->dc, o->account ? o->account : "(GSSAPI)", e.msg);
    return d;
}

static int has_ci(const char *hay, const char *needle)
{
    return hay && strcasestr(hay, needle) != NULL;
}

static int count_cb(const ldapdir_entry *e, void *ctx)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static int n_kind(const char *kind)
{
    int n = 0;
    for (int i = 0; i < n_rc; i++)
        n += !strcmp(rc_list[i].kind, kind);
    return n;
}

/* Runs a shell-free command; its stdout into out (NUL-terminated, may be cut). */
static int run_capture(char *const argv[], char *out, size_t len)
{
    char *path = sr_asprintf("%s/capture.out", tmp_dir);
    setenv("LDAPTLS_CACERT", lab("LAB_CA"), 1);     /* for ldapsearch only */
    int rc = tu_run(argv, path, 60000);
    unsetenv("LDAPTLS_CACERT");
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (f) {
        size_t n = fread(out, 1, len - 1, f);
        out[n] = '\0';
        fclose(f);
    }
    free(path);
    return rc;
}

/* ---- binds and TLS -------------------------------------------------------- */

static void test_plain_simple_bind_refused(void)
{
    CU_ASSERT_STRING_EQUAL(lab("LAB_PLAIN_SIMPLE_BIND"), "0");
    ldapdir_opts o = base_opts();
    o.dc = lab("LAB_LDAP_URI");
    o.tls = LDAPDIR_TLS_NONE;
    o.allow_plain = 1;
    ldapdir *d = NULL;
    sr_err e;
    sr_code rc = ldapdir_connect(&o, &d, &e);
    CU_ASSERT_EQUAL(rc, SR_E_AUTH);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT_EQUAL(e.cls, SR_CLASS_FINAL);
    printf("\n    message: %s\n", e.msg);
    CU_ASSERT(has_ci(e.msg, o.dc));
    /* Says that TLS is required and how to get it (LDAPS or StartTLS). */
    CU_ASSERT(has_ci(e.msg, "TLS"));
    CU_ASSERT(has_ci(e.msg, "ldaps") || has_ci(e.msg, "StartTLS"));
    CU_ASSERT(!has_ci(e.msg, lab("LAB_PASSWORD")));
    ldapdir_free(d);
}

static void test_bind_forms_over_tls(void)
{
    const char *accounts[] = { "LAB_BIND_NT", "LAB_BIND_UPN", "LAB_BIND_DN" };
    char host[128];
    snprintf(host, sizeof host, "%s", lab("LAB_HOST"));   /* plain host → LDAPS on 636 */
    const char *dcs[] = { lab("LAB_LDAPS_URI"), lab("LAB_LDAP_URI") /* StartTLS */, host };
    for (int a = 0; a < 3; a++) {
        CU_ASSERT_FATAL(*lab(accounts[a]) != '\0');
        for (int i = 0; i < 3; i++) {
            ldapdir_opts o = base_opts();
            o.account = lab(accounts[a]);
            o.dc = dcs[i];
            ldapdir *d = open_dir(&o);
            CU_ASSERT_PTR_NOT_NULL(d);
            if (d) {
                CU_ASSERT(sr_streq_ci(ldapdir_base(d), lab("LAB_BASE")));
                CU_ASSERT(sr_streq_ci(ldapdir_config_base(d), lab("LAB_CONFIG_BASE")));
            }
            ldapdir_free(d);
        }
    }
    /* The DC's answer to a wrong password in DOMAIN\user form. */
    ldapdir_opts o = base_opts();
    o.password = "Wr0ng-Secret-plugh";
    ldapdir *d = NULL;
    sr_err e;
    CU_ASSERT_EQUAL(ldapdir_connect(&o, &d, &e), SR_E_AUTH);
    CU_ASSERT(!has_ci(e.msg, "plugh"));
}

static void test_untrusted_ca(void)
{
    /* The system's CA bundle does not hold the lab's CA: refused, both ways. */
    const char *bundle = "/etc/ssl/certs/ca-certificates.crt";
    if (!tu_exists(bundle)) {
        skip_note("untrusted CA", "no system CA bundle");
        return;
    }
    const char *dcs[] = { lab("LAB_LDAPS_URI"), lab("LAB_LDAP_URI") };
    for (int i = 0; i < 2; i++) {
        ldapdir_opts o = base_opts();
        o.dc = dcs[i];
        o.ca_file = bundle;
        ldapdir *d = NULL;
        sr_err e;
        CU_ASSERT_EQUAL(ldapdir_connect(&o, &d, &e), SR_E_TLS);
        CU_ASSERT(has_ci(e.msg, dcs[i]));
        ldapdir_free(d);
    }
}

static void test_gssapi(void)
{
    if (strcmp(lab("LAB_SASL_GSSAPI"), "1") != 0) {
        skip_note("SASL GSSAPI", "the lab's own GSSAPI self-check failed (LAB_SASL_GSSAPI=0)");
        return;
    }
    setenv("KRB5_CONFIG", lab("LAB_KRB5_CONFIG"), 1);
    setenv("KRB5CCNAME", lab("LAB_KRB5CCNAME"), 1);   /* the admin's TGT from the DC's KDC */
    unsetenv("KRB5_CLIENT_KTNAME");
    /* Over TLS no SASL layer is allowed (AD); over plain LDAP sign/seal is required. */
    const char *dcs[] = { lab("LAB_LDAPS_URI"), lab("LAB_LDAP_URI"), lab("LAB_LDAP_URI") };
    const ldapdir_tls modes[] = { LDAPDIR_TLS_DEFAULT, LDAPDIR_TLS_DEFAULT, LDAPDIR_TLS_NONE };
    for (int i = 0; i < 3; i++) {
        ldapdir_opts o = base_opts();
        o.bind = LDAPDIR_BIND_GSSAPI;
        o.account = NULL;
        o.password = NULL;
        o.dc = dcs[i];
        o.tls = modes[i];
        o.allow_plain = modes[i] == LDAPDIR_TLS_NONE;
        ldapdir *d = open_dir(&o);
        CU_ASSERT_PTR_NOT_NULL(d);
        if (d) {
            const char *attrs[] = { "mail", NULL };
            int count = 0;
            sr_err e;
            char filter[320];
            snprintf(filter, sizeof filter, "(mail=%s)", rc_list[0].smtp);
            CU_ASSERT_EQUAL(ldapdir_search(d, ldapdir_base(d), filter, attrs, count_cb, &count, &e), SR_OK);
            CU_ASSERT_EQUAL(count, 1);
        }
        ldapdir_free(d);
    }
    /* Without a ticket: a clear failure naming the DC, not a crash. */
    char *empty = sr_asprintf("FILE:%s/no-such-ccache", tmp_dir);
    setenv("KRB5CCNAME", empty, 1);
    free(empty);
    ldapdir_opts o = base_opts();
    o.bind = LDAPDIR_BIND_GSSAPI;
    ldapdir *d = NULL;
    sr_err e;
    CU_ASSERT_NOT_EQUAL(ldapdir_connect(&o, &d, &e), SR_OK);
    CU_ASSERT_PTR_NULL(d);
    CU_ASSERT(has_ci(e.msg, o.dc));
    unsetenv("KRB5CCNAME");
}

/* ---- more objects than MaxPageSize ---------------------------------------- */

static void test_paging_beyond_max_page_size(void)
{
    const char *attrs[] = { "mail", "msExchRecipientTypeDetails", NULL };
    char base[512];
    snprintf(base, sizeof base, "OU=Resources,%s", lab("LAB_BASE"));
    /* Default page size (500), AD's maximum (1000), and above it: a DC caps
     * pages at MaxPageSize — every object must arrive either way. */
    const int sizes[] = { 0, 1000, 2000 };
    for (int i = 0; i < 3; i++) {
        ldapdir_opts o = base_opts();
        o.page_size = sizes[i];
        ldapdir *d = open_dir(&o);
        CU_ASSERT_PTR_NOT_NULL_FATAL(d);
        int count = 0;
        sr_err e;
        unsigned long s0 = ldapdir_search_count(d);
        CU_ASSERT_EQUAL(ldapdir_search(d, base, "(msExchRecipientTypeDetails=16)", attrs, count_cb, &count, &e),
                        SR_OK);
        unsigned long pages = ldapdir_search_count(d) - s0;
        printf("\n    page size %d: %d rooms in %lu pages", sizes[i], count, pages);
        CU_ASSERT_EQUAL(count, n_kind("room"));
        CU_ASSERT(count > 1000);
        if (sizes[i] == 0)
            CU_ASSERT(pages >= (unsigned long)(count / 500));
        if (sizes[i] == 1000)
            CU_ASSERT(pages >= 3);
        ldapdir_free(d);
    }
}

static int hexval(char c)
{
    return c >= 'a' ? c - 'a' + 10 : c - '0';
}

static void test_resolve_all_rooms(void)
{
    ldapdir_opts o = base_opts();
    ldapdir *d = open_dir(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const char **keys = calloc((size_t)n_rc, sizeof *keys);
    const rcpt **who = calloc((size_t)n_rc, sizeof *who);
    int n = 0;
    for (int i = 0; i < n_rc; i++)
        if (!strcmp(rc_list[i].kind, "room") && !strcmp(rc_list[i].problems, "-")) {
            who[n] = &rc_list[i];
            keys[n++] = rc_list[i].smtp;
        }
    ldapdir_result *out = calloc((size_t)n, sizeof *out);
    sr_err e;
    unsigned long s0 = ldapdir_search_count(d);
    CU_ASSERT_EQUAL(ldapdir_resolve(d, keys, (size_t)n, out, &e), SR_OK);
    unsigned long searches = ldapdir_search_count(d) - s0;
    int found = 0, target_ok = 0, guid_ok = 0, with_target = 0;
    for (int i = 0; i < n; i++) {
        if (out[i].status != LDAPDIR_FOUND)
            continue;
        found++;
        const ldapdir_recipient *r = out[i].rcpt;
        if (who[i]->target[0]) {
            with_target++;
            const char *t = ldapdir_target_smtp(r);
            target_ok += t && !strcasecmp(t, who[i]->target + 5);   /* after "SMTP:" */
        }
        unsigned char g[16];
        for (int k = 0; k < 16; k++)
            g[k] = (unsigned char)(hexval(who[i]->guid_hex[2 * k]) << 4 | hexval(who[i]->guid_hex[2 * k + 1]));
        guid_ok += r->has_mailbox_guid && !memcmp(r->mailbox_guid, g, 16) && r->recipient_type == 16;
    }
    printf("\n    %d rooms: %d found, %d/%d targets, %d guids, %lu searches", n, found, target_ok,
           with_target, guid_ok, searches);
    CU_ASSERT(n > 1000);
    CU_ASSERT_EQUAL(found, n);
    CU_ASSERT_EQUAL(target_ok, with_target);
    CU_ASSERT_EQUAL(guid_ok, n);
    CU_ASSERT(searches <= (unsigned long)(n / 100 + 5));   /* batched, never one per key */
    free(out);
    free(keys);
    free(who);
    ldapdir_free(d);
}

static void test_duplicate_proxy_ambiguous(void)
{
    const rcpt *dup = NULL;
    for (int i = 0; i < n_rc && !dup; i++)
        if (strstr(rc_list[i].problems, "duplicate-proxy"))
            dup = &rc_list[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(dup);
    /* The shared proxy is the "smtp:shared-..." one. */
    char key[512] = "";
    const char *p = strstr(dup->proxies, "smtp:shared-");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    size_t l = strcspn(p + 5, "|");
    CU_ASSERT_FATAL(l < sizeof key);
    memcpy(key, p + 5, l);
    key[l] = '\0';
    ldapdir_opts o = base_opts();
    ldapdir *d = open_dir(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const char *k = key;
    ldapdir_result r;
    sr_err e;
    CU_ASSERT_EQUAL(ldapdir_resolve(d, &k, 1, &r, &e), SR_OK);
    CU_ASSERT_EQUAL(r.status, LDAPDIR_AMBIGUOUS);
    CU_ASSERT_EQUAL(r.matches, 2);
    CU_ASSERT(has_ci(r.msg, key));
    ldapdir_free(d);
}

/* ---- partitions: references and the SCP ------------------------------------- */

static void test_references_not_followed(void)
{
    /* AD answers a subtree search of the domain with search references to the
     * other partitions (configuration, schema): skipped, not an error, and
     * nothing from the configuration partition leaks in. */
    ldapdir_opts o = base_opts();
    ldapdir *d = open_dir(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    const char *attrs[] = { "cn", NULL };
    int count = 0;
    sr_err e;
    CU_ASSERT_EQUAL(ldapdir_search(d, ldapdir_base(d), "(objectClass=serviceConnectionPoint)", attrs,
                                   count_cb, &count, &e), SR_OK);
    CU_ASSERT_EQUAL(count, 0);
    count = 0;
    CU_ASSERT_EQUAL(ldapdir_search(d, ldapdir_config_base(d), "(objectClass=serviceConnectionPoint)", attrs,
                                   count_cb, &count, &e), SR_OK);
    CU_ASSERT(count >= 1);
    ldapdir_free(d);
}

static void test_scp(void)
{
    ldapdir_opts o = base_opts();
    o.config_base = NULL;                /* from the RootDSE's configurationNamingContext */
    ldapdir *d = open_dir(&o);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT(sr_streq_ci(ldapdir_config_base(d), lab("LAB_CONFIG_BASE")));
    char **urls = NULL;
    size_t n = 0;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(ldapdir_scp_autodiscover(d, "Default-First-Site-Name", &urls, &n, &e), SR_OK);
    char want[400];
    snprintf(want, sizeof want, "https://%s/Autodiscover/Autodiscover.xml", ews_host);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT(n >= 1 && sr_streq_ci(urls[0], want));
    sr_strv_free(urls);
    ldapdir_free(d);
}

/* ---- fixture self-tests (the lab, through ldapsearch) ----------------------- */

static void test_fixture_schema(void)
{
    /* The Exchange attributes exist with Microsoft's attributeIDs. */
    static const char *want[][2] = {
        { "targetAddress", "1.2.840.113556.1.2.352" },
        { "extensionAttribute3", "1.2.840.113556.1.2.425" },
        { "extensionAttribute11", "1.2.840.113556.1.2.599" },
        { "msExchMailboxGuid", "1.2.840.113556.1.4.7000.102.11058" },
        { "msExchRecipientTypeDetails", "1.2.840.113556.1.4.7000.102.50855" },
    };
    char *base = sr_asprintf("CN=Schema,%s", lab("LAB_CONFIG_BASE"));
    char *pw = sr_asprintf("%s/lab/password", tmp_dir);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *filter = sr_asprintf("(lDAPDisplayName=%s)", want[i][0]);
        char *argv[] = { "ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-H", (char *)lab("LAB_LDAPS_URI"),
                         "-x", "-D", (char *)lab("LAB_BIND_DN"), "-y", pw, "-b", base, filter,
                         "attributeID", NULL };
        char out[4096];
        CU_ASSERT_EQUAL(run_capture(argv, out, sizeof out), 0);
        char *line = sr_asprintf("attributeID: %s\n", want[i][1]);
        CU_ASSERT_PTR_NOT_NULL(strstr(out, line));
        free(line);
        free(filter);
    }
    free(base);
    free(pw);
}

static void test_fixture_loopback_only(void)
{
    /* Every socket of the DC is bound to 127.0.0.1. */
    char *pidarg = sr_asprintf("%s", lab("LAB_PID"));
    char *argv[] = { "ss", "-ltnpH", NULL };
    char out[16384];
    CU_ASSERT_EQUAL(run_capture(argv, out, sizeof out), 0);
    char *needle = sr_asprintf("pid=%s,", pidarg);
    int mine = 0, wild = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, needle))
            continue;
        mine++;
        wild += strstr(line, "127.0.0.1:") == NULL;
    }
    CU_ASSERT(mine >= 3);      /* 389, 636, the KDC at least */
    CU_ASSERT_EQUAL(wild, 0);
    free(needle);
    free(pidarg);
}

int main(void)
{
    /* Only our options decide trust: no CA from the caller's environment. */
    unsetenv("LDAPTLS_CACERT");
    unsetenv("LDAPTLS_CACERTDIR");
    unsetenv("LDAPTLS_REQCERT");
    if (lab_start() != 0) {
        lab_stop();
        fprintf(stderr, "test_ldap_ad: could not start the Samba AD DC lab\n");
        return 1;
    }
    printf("lab: %s, %d recipients (%d rooms)\n", lab("LAB_KIND"), n_rc, n_kind("room"));
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("ldap_ad", NULL, NULL);
    CU_add_test(s, "plain ldap:// simple bind refused: TLS required", test_plain_simple_bind_refused);
    CU_add_test(s, "DOMAIN\\user, user@domain, DN over LDAPS and StartTLS", test_bind_forms_over_tls);
    CU_add_test(s, "certificate from an untrusted CA", test_untrusted_ca);
    CU_add_test(s, "SASL GSSAPI with a ticket from the DC's KDC", test_gssapi);
    CU_add_test(s, "paged search beyond MaxPageSize", test_paging_beyond_max_page_size);
    CU_add_test(s, "resolve 2,500 rooms in batches", test_resolve_all_rooms);
    CU_add_test(s, "duplicate proxy is ambiguous", test_duplicate_proxy_ambiguous);
    CU_add_test(s, "search references not followed", test_references_not_followed);
    CU_add_test(s, "Autodiscover SCP in the configuration partition", test_scp);
    CU_add_test(s, "fixture: Exchange schema with Microsoft's attributeIDs", test_fixture_schema);
    CU_add_test(s, "fixture: DC bound to 127.0.0.1 only", test_fixture_loopback_only);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    lab_stop();
    return failed ? 1 : 0;
}
