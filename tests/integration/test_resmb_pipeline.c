/* test_resmb_pipeline.c — bin/switchresmb end to end against the slapd lab
 * (source directory) and two Exchange simulators (source and target), all on
 * 127.0.0.1.  The update engine is a small /bin/sh script written here
 * wherever the test is about the orchestrator's reaction to engine outcomes
 * (success, no switch message, hang -> watchdog, crash, cannot start, cleanup
 * cannot start); the real $SR_BIN/cpuu runs when it is built.
 *
 * Organisation: orggen --rooms 60 --seed 3: room-0001..0056 are clean,
 * room-0057 has no target address, room-0058 no legacyExchangeDN; user-0001
 * is in the directory but has no mailbox on the source simulator.  Every case
 * uses its own rooms (the simulators keep what earlier cases wrote), its own
 * state directory and its own profile store. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <glob.h>
#include <jansson.h>
#include <sys/file.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "configs/configs.h"
#include "mapi/mapi.h"
#include "tests/common/testutil.h"

typedef struct inst {
    pid_t pid;
    int port;
    char url[128];
} inst;

static char *g_dir;
static inst g_src, g_tgt;
static tu_lab g_lab;
static char g_ldap_uri[128], g_bind_dn[256], g_ca[512];
static char *g_dc_pw, *g_src_pw, *g_tgt_pw;        /* plaintext (test lab) */
static char *g_dc_enc, *g_src_enc, *g_tgt_enc;     /* stored form */
static char g_fake[512], g_nostart[512];
static int g_case;

/* ---- set-up ---------------------------------------------------------------- */
static int run_py(const char *script, const char *const *args)
{
    return tu_py(script, args);
}

static int start_exsim(inst *in, const char *name, const char *seed)
{
    tu_exsim x;
    if (tu_exsim_start(&x, g_dir, name, seed, NULL) != 0)
        return -1;
    in->pid = x.pid;
    in->port = x.port;
    snprintf(in->url, sizeof in->url, "%s", x.url);
    return 0;
}

/* Passwords of the lab accounts from org.json (source/target admin). */
static char *account_password(const char *org, const char *side)
{
    char out[512];
    snprintf(out, sizeof out, "%s/pw-%s", g_dir, side);
    const char *args[] = { org, side, out, NULL };
    if (tu_py("tests/py/org_password.py", args) != 0)
        return NULL;
    sr_err e;
    return sr_read_file(out, 256, NULL, &e);
}

static int write_text(const char *path, const char *text, mode_t mode)
{
    sr_err e;
    return sr_write_file_atomic(path, text, strlen(text), mode, 0, &e) == SR_OK ? 0 : -1;
}

/* The fake engine: speaks the progress protocol of cpuu_invoke.h; FAKE_MODE
 * picks the outcome; every invocation is appended to $FAKE_LOG. */
static const char fake_script[] =
    "#!/bin/sh\n"
    "echo \"$*\" >>\"$FAKE_LOG\"\n"
    "env | grep '^CPUU_TARGET_DC' >>\"$FAKE_LOG.env\"\n"
    "p=/proc/self/fd/$CPUU_PROGRESS_FD\n"
    "case \"$*\" in *-Cleanup*) echo 'exit 1' >$p; exit 1;; esac\n"
    "test -r \"$SWITCHRESMB_PROFILE_DIR\" || exit 16\n"
    /* slowfirst: the first update waits (bounded: 30 s) until FAKE_RELEASE_AT
     * updates have started, and records how many it saw */
    "if [ \"$FAKE_MODE\" = slowfirst ] && mkdir \"$FAKE_LOG.slow\" 2>/dev/null; then\n"
    "  i=0; n=0\n"
    "  while [ $i -lt 300 ]; do\n"
    "    n=$(grep -vc -- -Cleanup \"$FAKE_LOG\"); [ \"$n\" -ge \"$FAKE_RELEASE_AT\" ] && break\n"
    "    sleep 0.1; i=$((i+1))\n"
    "  done\n"
    "  echo \"$n\" >\"$FAKE_LOG.slow/seen\"\n"
    "fi\n"
    "echo 'openstore begin source' >$p\n"
    "case \"$FAKE_MODE\" in\n"
    "  hang) sleep 30;;\n"
    "  slow) sleep 2;;\n"
    "  pause) sleep 0.2;;\n"
    "  crash) kill -SEGV $$;;\n"
    "esac\n"
    "echo 'openstore end' >$p\n"
    "echo 'feature begin Rules' >$p\n"
    "echo 'feature end Rules' >$p\n"
    "case \"$FAKE_MODE\" in\n"
    "  noswitch) echo 'exit 2' >$p; exit 2;;\n"
    "  featfailed) echo 'featfailed Nicks' >$p;;\n"
    "  critfail) echo 'featfailed Rules' >$p; echo 'exit 4' >$p; exit 4;;\n"
    "  nocleanup) chmod 0644 \"$0\";;\n"
    "esac\n"
    "echo 'exit 1' >$p\n"
    "exit 1\n";

static int suite_init(void)
{
    g_dir = tu_mkdtemp("resmbpipe");
    char org[512], src[512], tgt[512], script[512], mid[512];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(src, sizeof src, "%s/src.xml", g_dir);
    snprintf(tgt, sizeof tgt, "%s/tgt.xml", g_dir);
    const char *og[] = { "--users", "1", "--rooms", "60", "--equipment", "0", "--seed", "3",
                         "--unmigrated-every", "0", "-o", org, NULL };
    const char *sg[] = { "--org", org, "--side", "source", "-o", src, NULL };
    const char *tg[] = { "--org", org, "--side", "target", "-o", tgt, NULL };
    const char *drop[] = { src, "user-0001@src.test", NULL };
    if (run_py("tests/lab/orggen.py", og) != 0 || run_py("tests/exsim/seedgen.py", sg) != 0 ||
        run_py("tests/exsim/seedgen.py", tg) != 0 || run_py("tests/py/seed_drop_mailbox.py", drop) != 0) {
        fprintf(stderr, "orggen/seedgen failed\n");
        return 1;
    }
    if (start_exsim(&g_src, "src", src) != 0 || start_exsim(&g_tgt, "tgt", tgt) != 0)
        return 1;
    char lab_dir[600];
    snprintf(lab_dir, sizeof lab_dir, "%s/lab", g_dir);
    snprintf(script, sizeof script, "%s/tests/lab/slapd-lab.sh", tu_root());
    if (tu_lab_start(&g_lab, script, lab_dir, org, NULL, 60000) != 0) {
        fprintf(stderr, "the slapd lab did not start\n");
        return 1;
    }
    sr_err e;
    snprintf(g_ldap_uri, sizeof g_ldap_uri, "%s", tu_lab_get(&g_lab, "LAB_LDAP_URI"));
    snprintf(g_bind_dn, sizeof g_bind_dn, "%s", tu_lab_get(&g_lab, "LAB_BIND_DN"));
    snprintf(g_ca, sizeof g_ca, "%s", tu_lab_get(&g_lab, "LAB_CA"));
    g_dc_pw = *tu_lab_get(&g_lab, "LAB_PASSWORD") ? sr_strdup(tu_lab_get(&g_lab, "LAB_PASSWORD")) : NULL;
    /* one simulated host for every encryption */
    snprintf(mid, sizeof mid, "%s/machine-id", g_dir);
    write_text(mid, "0123456789abcdef0123456789abcdef\n", 0600);
    setenv("SR_MACHINE_ID_FILE", mid, 1);
    setenv("LDAPTLS_CACERT", g_ca, 1);
    setenv("SWITCHRESMB_ALLOW_HTTP", "1", 1);
    unsetenv("SWITCHRESMB_CPUU");
    unsetenv("SM_CRASH_AT_STEP");
    g_src_pw = account_password(org, "source");
    g_tgt_pw = account_password(org, "target");
    if (!g_dc_pw || !g_src_pw || !g_tgt_pw ||
        cfg_secret_encrypt(g_dc_pw, CFG_ENC_HOST, &g_dc_enc, &e) != SR_OK ||
        cfg_secret_encrypt(g_src_pw, CFG_ENC_HOST, &g_src_enc, &e) != SR_OK ||
        cfg_secret_encrypt(g_tgt_pw, CFG_ENC_HOST, &g_tgt_enc, &e) != SR_OK) {
        fprintf(stderr, "lab passwords: cannot read or encrypt\n");
        return 1;
    }
    snprintf(g_fake, sizeof g_fake, "%s/fake-cpuu", g_dir);
    snprintf(g_nostart, sizeof g_nostart, "%s/nostart-cpuu", g_dir);
    return write_text(g_fake, fake_script, 0755) ||
           write_text(g_nostart, "#!/nonexistent/interpreter\n", 0755);
}

static int suite_clean(void)
{
    inst *all[] = { &g_src, &g_tgt };
    for (int i = 0; i < 2; i++)
        if (all[i]->pid > 0)
            tu_stop(all[i]->pid, 5000);
    tu_lab_free(&g_lab);
    if (g_dir && !getenv("SR_KEEP_TMP"))
        tu_rm_rf(g_dir);
    free(g_dir);
    free(g_dc_pw); free(g_src_pw); free(g_tgt_pw);
    free(g_dc_enc); free(g_src_enc); free(g_tgt_enc);
    return 0;
}

/* ---- one case: its directory, INI files, a run --------------------------- */
typedef struct ccase {
    char dir[512], ini[600], cpuu_ini[600], state[600], profiles[600], fakelog[600], out[600];
    const char *legacy[8];       /* [Mailboxes] */
    const char *smtp[64];        /* [MailboxesSMTP] */
    const char *targets[32];     /* [TargetMailboxesSMTP] (1:1 with smtp when [0] set) */
    int switch_section;          /* write [SwitchMessage] */
    int recreate, leave;
    int no_ad;                   /* leave [AD] out (the spec's third example) */
    int no_admin;                /* no Admin/Password in CPUU.ini */
    int no_src_ad_url;           /* no AutodiscoverSourceURL in CPUU.ini */
    const char *logon;           /* LogonNetworkSecurity* line (NULL → Negotiate=1) */
    const char *cpuu_extra;      /* more CPUU.ini lines */
    const char *ini_extra;       /* more SwitchResMB.ini sections */
    char cmdline[700];           /* CPUUCmdLine ("" → -Silent) */
    char *text;                  /* the run's stdout+stderr */
} ccase;

static void case_init(ccase *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s/case%d", g_dir, ++g_case);
    mkdir(c->dir, 0700);
    snprintf(c->ini, sizeof c->ini, "%s/SwitchResMB.ini", c->dir);
    snprintf(c->cpuu_ini, sizeof c->cpuu_ini, "%s/CPUU.ini", c->dir);
    snprintf(c->state, sizeof c->state, "%s/state", c->dir);
    snprintf(c->profiles, sizeof c->profiles, "%s/profiles", c->dir);
    snprintf(c->fakelog, sizeof c->fakelog, "%s/fake.log", c->dir);
    snprintf(c->out, sizeof c->out, "%s/out.txt", c->dir);
}

static void case_write(ccase *c)
{
    FILE *f = fopen(c->ini, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "[Settings]\nCPUUCmdLine=%s\nSrcExchServer=\n%s\n"
               "LeaveTemporaryProfiles=%d\n\n", c->cmdline[0] ? c->cmdline : "-Silent",
            c->logon ? c->logon : "LogonNetworkSecurityNegotiate=1", c->leave);
    if (!c->no_ad)
        fprintf(f, "[AD]\nDCName=%s\nDCAccount=%s\nDCPassword=%s\n\n", g_ldap_uri, g_bind_dn,
                g_dc_enc);
    if (c->ini_extra)
        fputs(c->ini_extra, f);
    if (c->switch_section)
        fprintf(f, "[SwitchMessage]\nMigrationAgentType=Contemporary\nTarget=Exchange\n"
                   "RecreateSwitchMsg=%d\n\n", c->recreate);
    if (c->legacy[0]) {
        fputs("[Mailboxes]\n", f);
        for (int i = 0; c->legacy[i]; i++)
            fprintf(f, "%s\n", c->legacy[i]);
    }
    if (c->smtp[0]) {
        fputs("[MailboxesSMTP]\n", f);
        for (int i = 0; c->smtp[i]; i++)
            fprintf(f, "%s\n", c->smtp[i]);
    }
    if (c->targets[0]) {
        fputs("[TargetMailboxesSMTP]\n", f);
        for (int i = 0; c->targets[i]; i++)
            fprintf(f, "%s\n", c->targets[i]);
    }
    fclose(f);
    chmod(c->ini, 0600);
    f = fopen(c->cpuu_ini, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    if (!c->no_admin)
        fprintf(f, "[Parameters]\nAdmin=admin\nPassword=%s\n", g_src_enc);
    else
        fputs("[Parameters]\n", f);
    fprintf(f, "Features=Delegates Rules\nSilent=1\n"
               "AdminTrg=admin\nPasswordTrg=%s\n", g_tgt_enc);
    if (!c->no_src_ad_url)
        fprintf(f, "AutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\n", g_src.url);
    fprintf(f, "AutodiscoverTargetURL=%s/autodiscover/autodiscover.xml\n%s", g_tgt.url,
            c->cpuu_extra ? c->cpuu_extra : "");
    fclose(f);
    chmod(c->cpuu_ini, 0600);
}

/* Run switchresmb on the case; returns its exit status; c->text = output. */
static int case_run(ccase *c, const char *cpuu, const char *mode, const char *const *extra)
{
    char *argv[30] = { NULL };
    char bin[512];
    snprintf(bin, sizeof bin, "%s/switchresmb", tu_bin());
    int n = 0;
    /* SR_STRACE=<file>: count the run's system calls (BENCHMARKS.md) */
    const char *trace = getenv("SR_STRACE");
    if (trace && *trace) {
        argv[n++] = "strace";
        argv[n++] = "-f";
        argv[n++] = "-c";
        argv[n++] = "-o";
        argv[n++] = (char *)trace;
    }
    argv[n++] = bin;
    argv[n++] = "--state-dir";
    argv[n++] = c->state;
    argv[n++] = "--cpuu";
    argv[n++] = (char *)cpuu;
    for (int i = 0; extra && extra[i] && n < 21; i++)
        argv[n++] = (char *)extra[i];
    argv[n++] = c->ini;
    setenv("SWITCHRESMB_PROFILE_DIR", c->profiles, 1);
    setenv("FAKE_LOG", c->fakelog, 1);
    setenv("FAKE_MODE", mode ? mode : "ok", 1);
    int rc = tu_run(argv, c->out, 60000);
    sr_err e;
    free(c->text);
    c->text = sr_read_file(c->out, 1 << 22, NULL, &e);
    if (!c->text)
        c->text = sr_strdup("");
    return rc;
}

static void case_free(ccase *c)
{
    free(c->text);
    c->text = NULL;
}

static int count_sub(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The report line of a mailbox contains all of want. */
static int report_has(const char *text, const char *mailbox, const char *want)
{
    const char *r = text ? strstr(text, "==== switchresmb report") : NULL;
    char key[300];
    snprintf(key, sizeof key, "  %s", mailbox);
    const char *l = r;
    size_t kl = strlen(key);
    while (l && (l = strstr(l, key)) && l[kl] != ' ' && l[kl] != '\n')
        l += kl;
    if (!l)
        return 0;
    if (l[kl] == '\n')   /* a long key stands on its own line; the row follows */
        l += kl + 1;
    size_t len = strcspn(l, "\n");
    char *line = strndup(l, len);
    int ok = strstr(line, want) != NULL;
    if (!ok)
        fprintf(stderr, "\n  report line [%s] lacks [%s]\n", line, want);
    free(line);
    return ok;
}

static int temp_profiles(const ccase *c)
{
    sr_err e;
    mapi_pstore *st = mapi_pstore_open(c->profiles, 0, &e);
    if (!st)
        return 0;   /* never created: no profile */
    char **names;
    size_t n;
    int t = 0;
    if (mapi_pstore_list(st, &names, &n, &e) == SR_OK) {
        for (size_t i = 0; i < n; i++)
            t += mapi_profile_name_is_temp(names[i]);
        sr_strv_free(names);
    }
    mapi_pstore_free(st);
    return t;
}

static char *fake_log(const ccase *c)
{
    sr_err e;
    char *t = sr_read_file(c->fakelog, 1 << 20, NULL, &e);
    return t ? t : sr_strdup("");
}

/* ---- the source mailboxes, as the simulator has them ---------------------- */
static mapi_net *src_net(void)
{
    mapi_netopts o = { .auth = MAPI_AUTH_BASIC, .user = "admin", .password = g_src_pw,
                       .allow_http = 1, .connect_timeout_ms = 3000, .timeout_ms = 10000 };
    sr_err e;
    return mapi_net_new(&o, &e);
}

/* The switch message's target SMTP address in a source mailbox; "" when
 * there is none; NULL when the mailbox could not be read. */
static char *switch_target(const char *mailbox)
{
    mapi_net *n = src_net();
    char url[200];
    snprintf(url, sizeof url, "%s/EWS/Exchange.asmx", g_src.url);
    mapi_session_opts so = { .mailbox = mailbox, .ews_url = url, .impersonate = 1 };
    sr_err e;
    mapi_session *s = n ? mapi_session_logon(n, &so, &e) : NULL;
    mapi_switchmsg m = { 0 };
    mapi_folders f = { 0 };
    sr_err sme;
    char *r = NULL;
    /* the way the program reads it (one round trip with the folder tree) */
    sr_code rc = s ? mapi_session_open_mailbox(s, &f, &m, &sme, &e) : SR_E_CONNECT;
    if (rc == SR_OK && sme.code == SR_OK)
        r = sr_strdup(m.target_smtp);
    else if (rc == SR_OK && sme.code == SR_E_NOTFOUND)
        r = sr_strdup("");
    mapi_switchmsg_clear(&m);
    mapi_folders_clear(&f);
    mapi_session_free(s);
    mapi_net_free(n);
    return r;
}

static void write_switch(const char *mailbox, const char *target)
{
    mapi_net *n = src_net();
    char url[200], dn[200];
    snprintf(url, sizeof url, "%s/EWS/Exchange.asmx", g_src.url);
    snprintf(dn, sizeof dn, "/o=TargetOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                            "/cn=Recipients/cn=%.*s", (int)strcspn(target, "@"), target);
    mapi_session_opts so = { .mailbox = mailbox, .ews_url = url, .impersonate = 1 };
    sr_err e;
    mapi_session *s = mapi_session_logon(n, &so, &e);
    mapi_switchmsg m = { .version = MAPI_SWITCHMSG_CONTEMPORARY, .target_smtp = (char *)target,
                         .target_legacy_dn = dn, .created_at = 1764000000 };
    CU_ASSERT_EQUAL(s ? mapi_session_write_switchmsg(s, &m, 1, &e) : SR_E_CONNECT, SR_OK);
    mapi_session_free(s);
    mapi_net_free(n);
}

static void assert_target(const char *mailbox, const char *want)
{
    char *t = switch_target(mailbox);
    CU_ASSERT_PTR_NOT_NULL(t);
    if (t && strcmp(t, want) != 0)
        fprintf(stderr, "\n  %s: switch message target [%s], want [%s]\n", mailbox, t, want);
    CU_ASSERT_TRUE(t && strcmp(t, want) == 0);
    free(t);
}

static long sim_stat(const inst *in, const char *key, int reset)
{
    char url[200], out[600];
    snprintf(url, sizeof url, "%s/_sim/%s", in->url, reset ? "reset-stats" : "stats");
    snprintf(out, sizeof out, "%s/stats.json", g_dir);
    char *argv[] = { "curl", "-s", "--max-time", "10", "--noproxy", "*", "-o", out,
                     reset ? "-XPOST" : "-G", url, NULL };
    if (tu_run(argv, NULL, 15000) != 0 || reset)
        return -1;
    sr_err e;
    char *j = sr_read_file(out, 1 << 20, NULL, &e);
    char k[96];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = j ? strstr(j, k) : NULL;
    long v = p ? strtol(p + strlen(k), NULL, 10) : -1;
    free(j);
    return v;
}

static const char *legacy_of(int room)
{
    static char buf[4][200];
    static int k;
    char *b = buf[k++ % 4];
    snprintf(b, 200, "/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                     "/cn=Recipients/cn=room-%04d", room);
    return b;
}

#define ROOM(i) room_addr(i, "src")
#define TROOM(i) room_addr(i, "tgt")
static const char *room_addr(int i, const char *side)
{
    static char buf[64][40];
    static int k;
    char *b = buf[k++ % 64];
    snprintf(b, 40, "room-%04d@%s.test", i, side);
    return b;
}

/* ---- the cases -------------------------------------------------------------- */

/* Switch messages created from the directory, [Mailboxes] by legacyDN, a
 * mailbox not in the directory fails alone, temporary profiles deleted; a
 * rerun processes nothing twice and says so. */
static void test_from_directory_and_rerun(void)
{
    ccase c;
    case_init(&c);
    c.legacy[0] = legacy_of(1);
    c.smtp[0] = ROOM(2);
    c.smtp[1] = "missing-room@src.test";
    c.smtp[2] = ROOM(3);
    c.switch_section = 1;
    case_write(&c);
    int rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, legacy_of(1), "DONE"));
    /* a legacyDN longer than the mailbox column stands on its own line, and
     * the row under it keeps the state column where the header puts it */
    char *row = sr_asprintf("  %s\n%*sDONE", legacy_of(1), 47, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, row));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "  mailbox                                      state"));
    free(row);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(2), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(3), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, "missing-room@src.test", "FAILED"));
    CU_ASSERT_TRUE(report_has(c.text, "missing-room@src.test", "not-found"));
    CU_ASSERT_TRUE(report_has(c.text, "missing-room@src.test", "exit 1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "room-0002@src.test: RESOLVED -> SWITCHMSG_READY"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "exit code 1: 1 processing failed with errors"));
    assert_target(ROOM(1), TROOM(1));
    assert_target(ROOM(2), TROOM(2));
    assert_target(ROOM(3), TROOM(3));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    char *log = fake_log(&c);
    CU_ASSERT_EQUAL(count_sub(log, "-Cleanup"), 3);
    CU_ASSERT_EQUAL(count_sub(log, "-Profiles {"), 6);   /* update + cleanup, three mailboxes */
    CU_ASSERT_EQUAL(count_sub(log, "-Silent"), 6);       /* CPUUCmdLine passed on */
    free(log);
    /* the report file beside the journal */
    char cmd[800];
    snprintf(cmd, sizeof cmd, "%s", c.state);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, cmd));
    /* rerun: the done ones are not processed again, the missing one retried */
    rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(2), "done in an earlier run"));
    CU_ASSERT_TRUE(report_has(c.text, "missing-room@src.test", "FAILED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "missing-room@src.test: failed in an earlier run: retrying"));
    log = fake_log(&c);
    CU_ASSERT_EQUAL(count_sub(log, "-Profiles {"), 6);
    free(log);
    /* --restart while nothing is pending: a fresh journal, all processed again */
    const char *restart[] = { "--restart", NULL };
    rc = case_run(&c, g_fake, "ok", restart);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(2), "processed"));
    case_free(&c);
}

/* A target address the target does not know: the parent's batch asks its
 * Autodiscover once, and the worker fails the mailbox with that answer
 * instead of asking (and logging) it a second time; the other mailbox of
 * the run is done as usual. */
static void test_unknown_target_asked_once(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(19);
    c.smtp[1] = ROOM(20);
    c.targets[0] = "nobody-19@tgt.test";
    c.targets[1] = TROOM(20);
    c.switch_section = 1;
    c.recreate = 1;
    case_write(&c);
    int rc = case_run(&c, g_fake, "ok", NULL);
    int asked = count_sub(c.text, "Cannot get an Autodiscover response for the user 'nobody-19@tgt.test'");
    if (asked != 1 || rc != 1)
        fprintf(stderr, "\n  [unknown target: exit %d, asked %d time(s)]\n%s\n", rc, asked, c.text);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(19), "FAILED"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(19), "nobody-19@tgt.test"));
    CU_ASSERT_EQUAL(asked, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(20), "DONE"));
    case_free(&c);
}

/* [TargetMailboxesSMTP] gives the targets; RecreateSwitchMsg=1 replaces an
 * existing message; LeaveTemporaryProfiles=1 keeps the profiles. */
static void test_target_list_recreate_leave(void)
{
    write_switch(ROOM(5), TROOM(5));
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(4);
    c.smtp[1] = ROOM(5);
    c.targets[0] = TROOM(6);
    c.targets[1] = TROOM(7);
    c.switch_section = 1;
    c.recreate = 1;
    c.leave = 1;
    case_write(&c);
    int rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "exit code 0: processing successfully completed"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(4), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(5), "DONE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "switch message recreated: target room-0007@tgt.test"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "switch message created: target room-0006@tgt.test"));
    assert_target(ROOM(4), TROOM(6));
    assert_target(ROOM(5), TROOM(7));
    CU_ASSERT_EQUAL(temp_profiles(&c), 2);
    /* the kept profile is the source mailbox's */
    sr_err e;
    mapi_pstore *st = mapi_pstore_open(c.profiles, 0, &e);
    char **names;
    size_t n;
    if (st && mapi_pstore_list(st, &names, &n, &e) == SR_OK) {
        int seen = 0;
        for (size_t i = 0; i < n; i++) {
            mapi_profile p;
            if (!mapi_profile_name_is_temp(names[i]) || mapi_pstore_load(st, names[i], &p, &e))
                continue;
            CU_ASSERT_EQUAL(p.n_accounts, 1);
            CU_ASSERT_TRUE(p.status.temporary);
            if (p.n_accounts == 1) {
                seen += strcmp(p.accounts[0].smtp, ROOM(4)) == 0 || strcmp(p.accounts[0].smtp, ROOM(5)) == 0;
                CU_ASSERT_PTR_NOT_NULL(strstr(p.accounts[0].home_server, "@src.test"));
                CU_ASSERT_PTR_NOT_NULL(strstr(p.accounts[0].legacy_dn, "/cn=Recipients/cn=room-000"));
            }
            mapi_profile_clear(&p);
        }
        CU_ASSERT_EQUAL(seen, 2);
        sr_strv_free(names);
    }
    mapi_pstore_free(st);
    case_free(&c);
}

/* No [AD] (the spec's third example): [MailboxesSMTP] mailboxes are resolved
 * by the source Autodiscover (legacyExchangeDN, server) and processed; a
 * [Mailboxes] entry (a legacyExchangeDN) cannot be, and says why. */
static void test_no_ad_autodiscover(void)
{
    /* a source whose Autodiscover answers for its own mailboxes (the suite's
     * source redirects every migrated one to the target) */
    char org[600], seed[600];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(seed, sizeof seed, "%s/src-noredirect.xml", g_dir);
    const char *sg[] = { "--org", org, "--side", "source", "--no-redirect", "-o", seed, NULL };
    CU_ASSERT_EQUAL_FATAL(run_py("tests/exsim/seedgen.py", sg), 0);
    tu_exsim nr;
    CU_ASSERT_EQUAL_FATAL(tu_exsim_start(&nr, g_dir, "srcnr", seed, NULL), 0);
    inst saved = g_src;
    g_src.pid = nr.pid;
    g_src.port = nr.port;
    snprintf(g_src.url, sizeof g_src.url, "%s", nr.url);
    ccase c;
    case_init(&c);
    c.no_ad = 1;
    c.legacy[0] = legacy_of(9);
    c.smtp[0] = ROOM(8);
    c.targets[0] = TROOM(8);
    c.switch_section = 1;
    c.leave = 1;
    case_write(&c);
    int rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(8), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, legacy_of(9), "FAILED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "list SMTP addresses under [MailboxesSMTP] instead"));
    assert_target(ROOM(8), TROOM(8));
    /* the temporary profile carries what Autodiscover said */
    sr_err e;
    mapi_pstore *st = mapi_pstore_open(c.profiles, 0, &e);
    char **names;
    size_t n;
    int seen = 0;
    if (st && mapi_pstore_list(st, &names, &n, &e) == SR_OK) {
        for (size_t i = 0; i < n; i++) {
            mapi_profile p;
            if (!mapi_profile_name_is_temp(names[i]) || mapi_pstore_load(st, names[i], &p, &e))
                continue;
            if (p.n_accounts == 1 && strcmp(p.accounts[0].smtp, ROOM(8)) == 0) {
                seen++;
                CU_ASSERT_PTR_NOT_NULL(strstr(p.accounts[0].legacy_dn, "/cn=Recipients/cn=room-0008"));
                CU_ASSERT_PTR_NOT_NULL(strstr(p.accounts[0].home_server, "@src.test"));
            }
            mapi_profile_clear(&p);
        }
        sr_strv_free(names);
    }
    CU_ASSERT_EQUAL(seen, 1);
    mapi_pstore_free(st);
    case_free(&c);
    g_src = saved;
    tu_exsim_stop(&nr);
}

/* [AD] and no AutodiscoverSourceURL: the source Autodiscover URL comes from
 * the directory's SCP (https://mail.src.test/Autodiscover/Autodiscover.xml in
 * the lab), tried first as Outlook does; mail.src.test is mapped to a TLS
 * simulator on loopback (no DNS). */
static void test_scp_autodiscover(void)
{
    char org[600], seed[600], cert[600], key[600];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(seed, sizeof seed, "%s/src-scp.xml", g_dir);
    snprintf(cert, sizeof cert, "%s/scp-cert.pem", g_dir);
    snprintf(key, sizeof key, "%s/scp-key.pem", g_dir);
    const char *sg[] = { "--org", org, "--side", "source", "--no-redirect", "-o", seed, NULL };
    CU_ASSERT_EQUAL_FATAL(run_py("tests/exsim/seedgen.py", sg), 0);
    char *ossl[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                     "-subj", "/CN=mail.src.test",
                     "-addext", "subjectAltName=DNS:mail.src.test,IP:127.0.0.1",
                     "-keyout", key, "-out", cert, NULL };
    CU_ASSERT_EQUAL_FATAL(tu_run(ossl, "/dev/null", 30000), 0);
    const char *tls[] = { "--tls-cert", cert, "--tls-key", key, NULL };
    tu_exsim x;
    CU_ASSERT_EQUAL_FATAL(tu_exsim_start(&x, g_dir, "srcscp", seed, tls), 0);
    inst saved = g_src;
    g_src.pid = x.pid;
    g_src.port = x.port;
    snprintf(g_src.url, sizeof g_src.url, "%s", x.url);
    char map[128];
    snprintf(map, sizeof map, "mail.src.test:443:127.0.0.1:%d", x.port);
    setenv("SWITCHRESMB_CONNECT_TO", map, 1);
    ccase c;
    case_init(&c);
    c.no_src_ad_url = 1;
    c.smtp[0] = ROOM(11);
    c.targets[0] = TROOM(11);
    c.switch_section = 1;
    case_write(&c);
    const char *extra[] = { "--ca-file", cert, NULL };
    int rc = case_run(&c, g_fake, "ok", extra);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "Autodiscover SCP: 1 URL(s) in the directory, first "
                                          "https://mail.src.test/Autodiscover/Autodiscover.xml"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(11), "DONE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "switch message created: target room-0011@tgt.test"));
    unsetenv("SWITCHRESMB_CONNECT_TO");
    case_free(&c);
    g_src = saved;
    tu_exsim_stop(&x);
}

/* Kerberos needs no password in CPUU.ini: the run goes on without
 * Admin/Password and each mailbox says that Kerberos had no credentials
 * (the lab has no KDC here; the end-to-end tests log on with one);
 * Winnt (NTLM) without them is an INI error, exit code 4. */
static void test_kerberos_without_password(void)
{
    ccase c;
    case_init(&c);
    c.no_admin = 1;
    c.logon = "LogonNetworkSecurityKerberos=1";
    c.smtp[0] = ROOM(10);
    c.switch_section = 1;
    case_write(&c);
    char cc[700];
    snprintf(cc, sizeof cc, "FILE:%s/no-ticket.cc", c.dir);
    setenv("KRB5CCNAME", cc, 1);
    setenv("KRB5_CLIENT_KTNAME", cc, 1);   /* not a keytab either */
    int rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "no Admin/Password"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "no Kerberos credentials"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(10), "FAILED"));
    case_free(&c);
    case_init(&c);
    c.no_admin = 1;
    c.logon = "LogonNetworkSecurityWinnt=1";
    c.smtp[0] = ROOM(10);
    case_write(&c);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "Admin/Password"));
    unsetenv("KRB5CCNAME");
    unsetenv("KRB5_CLIENT_KTNAME");
    case_free(&c);
}

/* No switch message and no [SwitchMessage]: that mailbox is not processed
 * (the engine never runs for it); one that has a message goes on. */
static void test_no_switch_message(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(8);
    c.smtp[1] = ROOM(5);   /* has one since the previous case */
    case_write(&c);
    int rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(8), "FAILED"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(8), "no switch message"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(5), "DONE"));
    char *log = fake_log(&c);
    CU_ASSERT_EQUAL(count_sub(log, "-Profiles {"), 2);   /* only room-0005 */
    free(log);
    assert_target(ROOM(8), "");
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    /* the message appears (e.g. written by the sync agent): a rerun retries
     * the failed mailbox only, and then everything is done: exit 0 */
    write_switch(ROOM(8), TROOM(8));
    rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(8), "retried after an earlier failure"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(5), "done in an earlier run"));
    rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(8), "done in an earlier run"));
    log = fake_log(&c);
    CU_ASSERT_EQUAL(count_sub(log, "-Profiles {"), 4);   /* room-0005 once, room-0008 once */
    free(log);
    case_free(&c);
}

/* One mailbox per engine outcome. */
static void engine_case(int room, const char *cpuu, const char *mode, const char *cpuu_extra,
                        int want_rc, const char *want_reason)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(room);
    c.switch_section = 1;
    c.cpuu_extra = cpuu_extra;
    case_write(&c);
    time_t t0 = time(NULL);
    int rc = case_run(&c, cpuu, mode, NULL);
    if (rc != want_rc)
        fprintf(stderr, "\n  engine mode %s: exit %d, want %d\n%s\n", mode, rc, want_rc, c.text);
    CU_ASSERT_EQUAL(rc, want_rc);
    CU_ASSERT_TRUE(time(NULL) - t0 < 20);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(room), want_rc ? "FAILED" : "DONE"));
    if (want_reason)
        CU_ASSERT_TRUE(report_has(c.text, ROOM(room), want_reason));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);   /* deleted on failure too */
    case_free(&c);
}

static void test_engine_outcomes(void)
{
    engine_case(9, g_fake, "noswitch", NULL, 1, "CPUU_NO_SWITCH_MSG");
    engine_case(10, g_fake, "hang", "WatchDog=1\nOpenStoreWait=1\nAttempt=1\n", 1, "watchdog");
    engine_case(11, g_fake, "crash", "Attempt=1\n", 1, "signal");
    engine_case(12, g_nostart, "ok", NULL, 64, "cannot start");
    /* the update runs, then the engine cannot be started for cleanup */
    engine_case(13, g_fake, "nocleanup", NULL, 128, "cannot start");
    chmod(g_fake, 0755);
    /* a feature failed and the profile went on (not Critical): done, and
     * the report names the feature; a Critical one: failed, named too */
    engine_case(22, g_fake, "featfailed", NULL, 0, "failed, not Critical (the engine log says why): Nicks");
    engine_case(23, g_fake, "critfail", NULL, 1, "CPUU_SWITCH_ERR (failed: Rules;");
}

/* No temporary profile for a mailbox without legacyExchangeDN: 16 when it is
 * the only one, 8 when another mailbox got its profile. */
static void test_profile_bits(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(58);
    c.switch_section = 1;
    case_write(&c);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 16);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(58), "legacyExchangeDN"));
    case_free(&c);
    case_init(&c);
    c.smtp[0] = ROOM(58);
    c.smtp[1] = ROOM(14);
    c.switch_section = 1;
    case_write(&c);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 8);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(14), "DONE"));
    case_free(&c);
}

/* --dry-run writes nothing: no switch message, no journal, no engine run. */
static void test_dry_run(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(15);
    c.smtp[1] = ROOM(57);   /* no target address in the directory */
    c.smtp[2] = "user-0001@src.test";   /* in the directory, not on Exchange (issue 10) */
    c.switch_section = 1;
    case_write(&c);
    const char *dry[] = { "--dry-run", NULL };
    int rc = case_run(&c, g_fake, "ok", dry);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(15), "would create the switch message -> room-0015@tgt.test"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(57), "no target address"));
    /* it said "would create ... would update", and the run then failed on it */
    CU_ASSERT_TRUE(report_has(c.text, "user-0001@src.test", "would fail: source mailbox not opened"));
    CU_ASSERT_PTR_NULL(strstr(c.text, "would create the switch message -> user-0001@tgt.test"));
    /* the summary counts the FAILED rows (it said 0 failed) */
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "3 mailbox(es): 0 processed now, 0 done in earlier runs, "
                                          "2 failed"));
    if (!strstr(c.text, "2 failed"))
        fprintf(stderr, "\n%s\n", c.text);
    assert_target(ROOM(15), "");
    char *log = fake_log(&c);
    CU_ASSERT_EQUAL(log[0], '\0');
    free(log);
    char **names = NULL;
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    (void)names;
    case_free(&c);
}

/* The JSON report: a DUPLICATE row was not processed, so it carries no
 * started/finished times (the journal's times under its key are the first
 * entry's); a processed row has both. */
static void check_duplicate_rows_untimed(const ccase *c, int want_dups)
{
    char pat[700];
    snprintf(pat, sizeof pat, "%s/*.report.json", c->state);
    glob_t g;
    CU_ASSERT_EQUAL_FATAL(glob(pat, 0, NULL, &g), 0);
    json_t *doc = g.gl_pathc == 1 ? json_load_file(g.gl_pathv[0], 0, NULL) : NULL;
    globfree(&g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    int dups = 0, timed = 0;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(doc, "mailboxes"), i, row) {
        const char *st = json_string_value(json_object_get(row, "state"));
        int has = json_object_get(row, "started") || json_object_get(row, "finished");
        if (st && !strcmp(st, "DUPLICATE")) {
            dups++;
            CU_ASSERT_FALSE(has);
        } else if (st && !strcmp(st, "DONE")) {
            timed += has;
        }
    }
    CU_ASSERT_EQUAL(dups, want_dups);
    CU_ASSERT_EQUAL(timed, 2);
    json_decref(doc);
}

/* Issue 10: one mailbox listed by legacyDN in [Mailboxes] and by address in
 * [MailboxesSMTP] (and by a secondary smtp: proxy) was processed twice, the
 * second failing; now once, the others reported as duplicates without bit 1,
 * also on a rerun. */
static void test_duplicate_entries(void)
{
    ccase c;
    case_init(&c);
    c.legacy[0] = legacy_of(20);
    c.smtp[0] = ROOM(21);
    c.smtp[1] = ROOM(20);          /* the [Mailboxes] object again */
    c.smtp[2] = "room.0020@src.test";   /* its secondary smtp: proxy */
    c.switch_section = 1;
    case_write(&c);
    int rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    if (rc != 0)
        fprintf(stderr, "\n%s\n", c.text);
    CU_ASSERT_TRUE(report_has(c.text, legacy_of(20), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(21), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(20), "DUPLICATE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(20), "exit 0 "));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(20), "[MailboxesSMTP] line 21: the same directory "
                                                "object as [Mailboxes] line 18 ("));
    CU_ASSERT_TRUE(report_has(c.text, "room.0020@src.test", "DUPLICATE"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "2 duplicate(s) not processed again"));
    char *log = fake_log(&c);
    CU_ASSERT_EQUAL(count_sub(log, "-Profiles {"), 4);   /* update + cleanup, two mailboxes */
    free(log);
    assert_target(ROOM(20), TROOM(20));
    check_duplicate_rows_untimed(&c, 2);
    /* a rerun: the DONE entry still claims the object */
    rc = case_run(&c, g_fake, "ok", NULL);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(20), "DUPLICATE"));
    log = fake_log(&c);
    CU_ASSERT_EQUAL(count_sub(log, "-Profiles {"), 4);
    free(log);
    case_free(&c);
}

/* --mapping-attr: the target address read from the attribute the admin names
 * (the lab writes it to extensionAttribute15 too); an attribute the objects
 * do not carry leaves every mailbox without a target. */
static void test_mapping_attr(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(15);
    c.switch_section = 1;
    case_write(&c);
    const char *ext15[] = { "--dry-run", "--mapping-attr", "extensionAttribute15", NULL };
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", ext15), 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(15), "would create the switch message -> room-0015@tgt.test"));
    const char *ext3[] = { "--dry-run", "--mapping-attr", "extensionAttribute3", NULL };
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", ext3), 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(15), "no target address"));
    assert_target(ROOM(15), "");
    case_free(&c);
}

/* [TargetAD] (ours, issue 12) reaches the engine in its environment only:
 * DC, account, the password in its STORED form and the CA file; neither
 * form of the password is in the engine's argv or in switchresmb's output. */
static void test_target_ad_env(void)
{
    static const char plain[] = "TgtDc-Secret-93";
    char *stored = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt(plain, CFG_ENC_HOST, &stored, &e), SR_OK);
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(14);
    c.switch_section = 1;
    char *extra = sr_asprintf("[TargetAD]\nDCName=ldaps://dc.tgt.test:3269\nDCAccount=TGT\\svc\n"
                              "DCPassword=%s\nCAFile=%s\n\n", stored, g_ca);
    c.ini_extra = extra;
    case_write(&c);
    const char *check[] = { "--check", NULL };
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", check), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "[TargetAD] DCPassword: encrypted by switchresmb, "
                                          "decrypts here"));
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 0);
    char *envf = sr_asprintf("%s.env", c.fakelog);
    char *env = sr_read_file(envf, 1 << 20, NULL, &e), *argv = sr_read_file(c.fakelog, 1 << 20, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(env);
    CU_ASSERT_PTR_NOT_NULL_FATAL(argv);
    char *want[4] = { sr_asprintf("CPUU_TARGET_DC=ldaps://dc.tgt.test:3269\n"),
                      sr_asprintf("CPUU_TARGET_DC_ACCOUNT=TGT\\svc\n"),
                      sr_asprintf("CPUU_TARGET_DC_PASSWORD=%s\n", stored),
                      sr_asprintf("CPUU_TARGET_DC_CA_FILE=%s\n", g_ca) };
    for (int i = 0; i < 4; i++) {
        if (!strstr(env, want[i]))
            fprintf(stderr, "\n  engine env lacks %s  env was:\n%s\n", want[i], env);
        CU_ASSERT_PTR_NOT_NULL(strstr(env, want[i]));
        free(want[i]);
    }
    CU_ASSERT_PTR_NULL(strstr(env, plain));
    CU_ASSERT_PTR_NULL(strstr(argv, plain));
    CU_ASSERT_PTR_NULL(strstr(argv, stored));
    CU_ASSERT_PTR_NULL(strstr(argv, "dc.tgt.test"));
    CU_ASSERT_PTR_NULL(strstr(c.text, plain));
    CU_ASSERT_PTR_NULL(strstr(c.text, stored));
    free(env);
    free(argv);
    free(envf);
    free(extra);
    free(stored);
    case_free(&c);
}

/* Killed after journal write N (SM_CRASH_AT_STEP), then rerun: the same end
 * as an uninterrupted run, no leaked profile, no mailbox updated twice. */
static void test_crash_resume(void)
{
    static const int steps[] = { 1, 2, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21 };
    int room = 16, crashed = 0;
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++, room++) {
        ccase c;
        case_init(&c);
        c.smtp[0] = ROOM(room);
        c.switch_section = 1;
        case_write(&c);
        char n[16];
        snprintf(n, sizeof n, "%d", steps[k]);
        setenv("SM_CRASH_AT_STEP", n, 1);
        const char *one[] = { "--jobs", "1", NULL };
        int rc = case_run(&c, g_fake, "ok", one);
        unsetenv("SM_CRASH_AT_STEP");
        CU_ASSERT_TRUE(rc == 99 || rc == 0);
        crashed += rc == 99;
        rc = case_run(&c, g_fake, "ok", one);
        if (rc != 0)
            fprintf(stderr, "\n  crash at %d: rerun exit %d\n%s\n", steps[k], rc, c.text);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_TRUE(report_has(c.text, ROOM(room), "DONE"));
        assert_target(ROOM(room), TROOM(room));
        if (temp_profiles(&c) != 0)
            fprintf(stderr, "\n  crash at %d: a temporary profile is left\n%s\n", steps[k], c.text);
        CU_ASSERT_EQUAL(temp_profiles(&c), 0);
        char *log = fake_log(&c);
        int upd = count_sub(log, "-Profiles {") - count_sub(log, "-Cleanup");
        if (upd != 1 || count_sub(log, "-Cleanup") != 1)
            fprintf(stderr, "\n  crash at %d: engine log\n%s\n", steps[k], log);
        CU_ASSERT_EQUAL(upd, 1);
        CU_ASSERT_EQUAL(count_sub(log, "-Cleanup"), 1);
        free(log);
        case_free(&c);
    }
    fprintf(stderr, "\n  [%d of %zu crash points hit before the end]\n", crashed,
            sizeof steps / sizeof steps[0]);
    CU_ASSERT_TRUE(crashed >= 10);
}

/* 20 mailboxes: a bounded number of LDAP searches and EWS round trips. */
static void test_bounded_requests(void)
{
    ccase c;
    case_init(&c);
    for (int i = 0; i < 20; i++)
        c.smtp[i] = ROOM(30 + i);
    c.switch_section = 1;
    case_write(&c);
    sim_stat(&g_src, NULL, 1);
    const char *info[] = { "--log-level", "info", "--jobs", "4", NULL };
    int rc = case_run(&c, g_fake, "ok", info);
    CU_ASSERT_EQUAL(rc, 0);
    const char *p = strstr(c.text, "directory: ");
    long searches = -1;
    for (; p; p = strstr(p + 1, "directory: "))
        if (strstr(p, " LDAP search request(s)") && strstr(p, " LDAP search request(s)") - p < 40)
            searches = strtol(p + 11, NULL, 10);
    long reqs = sim_stat(&g_src, "requests_total", 0);
    long rt = sim_stat(&g_src, "max_round_trips", 0);
    fprintf(stderr, "\n  [20 mailboxes: %ld LDAP searches, %ld source EWS requests, "
                    "max %ld dependent round trips per mailbox]\n", searches, reqs, rt);
    CU_ASSERT_TRUE(searches >= 1 && searches <= 2);
    CU_ASSERT_TRUE(reqs > 0 && reqs <= 1 + 2 * 20 + 3 * 20);
    /* constant, whatever the number of mailboxes: the batched read (two
     * requests per mailbox, in waves of the connection's parallelism) and the
     * write of the switch message (look, then create) */
    CU_ASSERT_TRUE(rt >= 1 && rt <= 5);
    for (int i = 0; i < 20; i++)
        CU_ASSERT_TRUE(report_has(c.text, ROOM(30 + i), "DONE"));
    case_free(&c);
}

/* One run per SwitchResMB.ini at a time; CPUUCmdLine may not choose the
 * profiles (exit 32); --restart is refused while a mailbox is mid-way. */
static void test_lock_cmdline_restart(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(52);
    c.switch_section = 1;
    case_write(&c);
    /* a run that stops after its first journal write leaves the mailbox mid-way */
    setenv("SM_CRASH_AT_STEP", "1", 1);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 99);
    unsetenv("SM_CRASH_AT_STEP");
    const char *restart[] = { "--restart", NULL };
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", restart), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "--restart refused: 1 mailbox(es) are mid-way"));
    /* hold the run lock as a concurrent run would */
    char pat[700];
    snprintf(pat, sizeof pat, "%s/*.lock", c.state);
    glob_t g;
    CU_ASSERT_EQUAL_FATAL(glob(pat, 0, NULL, &g), 0);
    CU_ASSERT_EQUAL_FATAL(g.gl_pathc, 1);
    char *lock = sr_strdup(g.gl_pathv[0]);
    globfree(&g);
    int fd = open(lock, O_RDWR | O_CLOEXEC);
    CU_ASSERT_TRUE_FATAL(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "another switchresmb run is processing this SwitchResMB.ini"));
    close(fd);
    free(lock);
    /* issue 11: the lock is on the INI itself, so another --state-dir does
     * not make a second concurrent run of the same INI */
    fd = open(c.ini, O_RDONLY | O_CLOEXEC);
    CU_ASSERT_TRUE_FATAL(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    snprintf(c.state, sizeof c.state, "%s/other-state", c.dir);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "perhaps with another --state-dir"));
    close(fd);
    snprintf(c.state, sizeof c.state, "%s/state", c.dir);
    /* lock released: the run resumes the mailbox and finishes it */
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(52), "processed (resumed)"));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    /* CPUUCmdLine naming the profiles */
    snprintf(c.cmdline, sizeof c.cmdline, "-Silent -Profiles Mine");
    case_write(&c);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 32);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "CPUUCmdLine: -Profiles is chosen by switchresmb"));
    case_free(&c);
}

/* SIGTERM (systemd stop): no new mailbox starts, the running one ends its
 * step (here: the watchdog stops a hanging engine), exit 1; a rerun finishes. */
static void test_sigterm(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(53);
    c.smtp[1] = ROOM(54);
    c.switch_section = 1;
    c.cpuu_extra = "WatchDog=1\nOpenStoreWait=2\nAttempt=1\n";
    case_write(&c);
    char bin[512];
    snprintf(bin, sizeof bin, "%s/switchresmb", tu_bin());
    char *argv[] = { bin, "--state-dir", c.state, "--cpuu", g_fake, "--jobs", "1", c.ini, NULL };
    setenv("SWITCHRESMB_PROFILE_DIR", c.profiles, 1);
    setenv("FAKE_LOG", c.fakelog, 1);
    setenv("FAKE_MODE", "hang", 1);
    pid_t pid = tu_spawn(argv, c.out);
    CU_ASSERT_TRUE_FATAL(pid > 0);
    /* wait (bounded) until the engine runs for the first mailbox */
    for (int i = 0; i < 100 && !tu_exists(c.fakelog); i++)
        usleep(50 * 1000);
    int st = tu_stop(pid, 15000);
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    sr_err e;
    c.text = sr_read_file(c.out, 1 << 22, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.text);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "stopped by a signal before every mailbox was processed"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(53), "watchdog"));
    CU_ASSERT_PTR_NULL(strstr(c.text, "room-0054@src.test: QUEUED -> RESOLVED"));
    /* issue 11: the report lists every mailbox, the unreached ones too */
    CU_ASSERT_TRUE(report_has(c.text, ROOM(54), "NOT STARTED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "1 not started"));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    CU_ASSERT_EQUAL(case_run(&c, g_fake, "ok", NULL), 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(53), "retried after an earlier failure"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(54), "processed"));
    case_free(&c);
}

/* Files of the profile store other than what a clean run may leave. */
static int store_leftovers(const ccase *c, const char *what)
{
    char *cmd = sr_asprintf("cd '%s' 2>/dev/null && find . -type f | grep -c '%s'", c->profiles, what);
    FILE *p = popen(cmd, "r");
    int n = 0;
    if (p && fscanf(p, "%d", &n) != 1)
        n = 0;
    if (p)
        pclose(p);
    free(cmd);
    return n;
}

/* issue 11: killed after an action's side effect and before the journal
 * recorded it (SM_CRASH_AFTER_ACTION), with the real engine: profile created
 * (3), engine updated (4, the engine then answers PROFILE_ALREADY_UPDATED),
 * engine cleaned (5), profile deleted (6).  The rerun must end DONE with
 * exit 0 and leave no profile, backup profile or side file behind. */
static void test_crash_after_action_real_engine(void)
{
    char cpuu[512];
    snprintf(cpuu, sizeof cpuu, "%s/cpuu", tu_bin());
    CU_ASSERT_TRUE_FATAL(tu_exists(cpuu));
    static const int rooms[] = { 28, 29, 59, 60 };   /* free rooms; 57, 58: the lab's faults */
    for (int n = 3; n <= 6; n++) {
        int room = rooms[n - 3];
        ccase c;
        case_init(&c);
        c.smtp[0] = ROOM(room);
        c.switch_section = 1;
        char logp[600];
        snprintf(logp, sizeof logp, "%s/cpuu.log", c.dir);
        snprintf(c.cmdline, sizeof c.cmdline, "-Log %s -SkipAutodiscoverChecking", logp);
        case_write(&c);
        char nn[8];
        snprintf(nn, sizeof nn, "%d", n);
        setenv("SM_CRASH_AFTER_ACTION", nn, 1);
        int rc = case_run(&c, cpuu, "ok", NULL);
        unsetenv("SM_CRASH_AFTER_ACTION");
        CU_ASSERT_EQUAL(rc, 99);
        if (rc != 99 || getenv("SR_DEBUG_CRASH"))
            fprintf(stderr, "\n  crash after action %d: first run exit %d\n%s\n", n, rc, c.text);
        rc = case_run(&c, cpuu, "ok", NULL);
        if (rc != 0)
            fprintf(stderr, "\n  crash after action %d: rerun exit %d\n%s\n", n, rc, c.text);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_TRUE(report_has(c.text, ROOM(room), "DONE"));
        assert_target(ROOM(room), TROOM(room));
        int left = store_leftovers(&c, ".");
        if (left) {
            char *cmd = sr_asprintf("cd '%s' && find . -type f >&2", c.profiles);
            fprintf(stderr, "\n  crash after action %d: files left in the store:\n", n);
            CU_ASSERT_EQUAL(system(cmd), 0);
            free(cmd);
        }
        CU_ASSERT_EQUAL(left, 0);
        case_free(&c);
    }
}

/* issue 11: a full disk under the journal.  A real tmpfs (own mount
 * namespace, so nothing outlives the test) of 1 MiB, filled but for a
 * little: the run stops with "disk full under <dir>", the exit status is the
 * printed bitmask, every mailbox has its real state in the report (none is
 * NEW); after space is freed a rerun ends with exit 0 and nothing left. */
static void test_disk_full(void)
{
    ccase c;
    case_init(&c);
    for (int i = 0; i < 25; i++)
        c.smtp[i] = ROOM(i < 20 ? 30 + i : i - 19);   /* rooms 30..49, 1..5 */
    c.switch_section = 1;
    case_write(&c);
    mkdir(c.state, 0700);
    if (unshare(CLONE_NEWNS) != 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
        mount("tmpfs", c.state, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        CU_FAIL("disk full: cannot mount a tmpfs (needs root); the case did not run");
        fprintf(stderr, "\n  disk full: mount: %s\n", strerror(errno));
        case_free(&c);
        return;
    }
    char fill[700];
    snprintf(fill, sizeof fill, "%s/fill", c.state);
    FILE *f = fopen(fill, "w");
    static char block[4096];
    while (f && fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0)
        ;
    if (f)
        fclose(f);
    struct stat st;
    CU_ASSERT_TRUE(stat(fill, &st) == 0 && truncate(fill, st.st_size - 96 * 1024) == 0);
    const char *one[] = { "--jobs", "2", NULL };
    int rc = case_run(&c, g_fake, "ok", one);
    char want[700];
    snprintf(want, sizeof want, "disk full under %s", c.state);
    if (!strstr(c.text, want))
        fprintf(stderr, "\n  disk full: exit %d\n%s\n", rc, c.text);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, want));
    char code[40];
    snprintf(code, sizeof code, "exit code %d:", rc);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, code));      /* exit status = printed bitmask */
    CU_ASSERT_TRUE(rc & 1);
    for (int i = 0; i < 25; i++)
        CU_ASSERT_TRUE(report_has(c.text, c.smtp[i], "@"));   /* every mailbox listed */
    CU_ASSERT_PTR_NULL(strstr(c.text, " NEW "));
    CU_ASSERT_TRUE(count_sub(c.text, "NOT STARTED") > 0);
    unlink(fill);
    rc = case_run(&c, g_fake, "ok", one);
    if (rc != 0)
        fprintf(stderr, "\n  disk full, rerun: exit %d\n%s\n", rc, c.text);
    CU_ASSERT_EQUAL(rc, 0);
    for (int i = 0; i < 25; i++)
        CU_ASSERT_TRUE(report_has(c.text, c.smtp[i], "DONE"));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    CU_ASSERT_EQUAL(store_leftovers(&c, "."), 0);
    umount2(c.state, MNT_DETACH);
    case_free(&c);
}

/* issue 11: SIGTERM to the whole process group (Ctrl-C; systemd's default
 * KillMode sends it to every process): the workers do not die with it; the
 * running mailbox is finished, the next one is NOT STARTED, exit 1. */
static void test_sigterm_process_group(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(3);
    c.smtp[1] = ROOM(4);
    c.switch_section = 1;
    case_write(&c);
    char bin[512];
    snprintf(bin, sizeof bin, "%s/switchresmb", tu_bin());
    /* setsid: its own process group, so the group kill spares this test */
    char *argv[] = { "setsid", bin, "--state-dir", c.state, "--cpuu", g_fake, "--jobs", "1",
                     c.ini, NULL };
    setenv("SWITCHRESMB_PROFILE_DIR", c.profiles, 1);
    setenv("FAKE_LOG", c.fakelog, 1);
    setenv("FAKE_MODE", "slow", 1);
    pid_t pid = tu_spawn(argv, c.out);
    CU_ASSERT_TRUE_FATAL(pid > 0);
    for (int i = 0; i < 200 && !tu_exists(c.fakelog); i++)
        usleep(50 * 1000);
    usleep(200 * 1000);
    CU_ASSERT_EQUAL(kill(-pid, SIGTERM), 0);
    int st = -1;
    for (int i = 0; i < 300 && waitpid(pid, &st, WNOHANG) == 0; i++)
        usleep(50 * 1000);
    if (waitpid(pid, &st, WNOHANG) == 0) {
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    sr_err e;
    c.text = sr_read_file(c.out, 1 << 22, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c.text);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(3), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(4), "NOT STARTED"));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    case_free(&c);
}

/* issue 11: the directory connection lost mid-run.  A proxy in front of the
 * slapd lab closes every connection older than 1 s; the first chunk of 50
 * mailboxes takes longer than that (each engine pauses 0.2 s: 46 mailboxes
 * on 4 workers before the next chunk is read take at least 2.3 s, however
 * fast the rest of a mailbox is), so the second chunk's batch finds the
 * connection gone: switchresmb reconnects (bounded) and every mailbox ends
 * DONE, exit 0 (before: the second chunk failed, and SIGPIPE could kill). */
static void test_directory_connection_lost(void)
{
    char port_file[600], proxy[512], target[64];
    snprintf(port_file, sizeof port_file, "%s/proxy.port", g_dir);
    snprintf(proxy, sizeof proxy, "%s/tests/faults/drop_proxy.py", tu_root());
    const char *p = strrchr(g_ldap_uri, ':');
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    snprintf(target, sizeof target, "127.0.0.1:%d", atoi(p + 1));
    char *argv[] = { "/usr/bin/python3", proxy, "--target", target, "--port-file", port_file,
                     "--max-age-ms", "1000", NULL };
    pid_t pid = tu_spawn(argv, NULL);
    CU_ASSERT_TRUE_FATAL(pid > 0);
    for (int i = 0; i < 100 && !tu_exists(port_file); i++)
        usleep(50 * 1000);
    sr_err e;
    char *port = sr_read_file(port_file, 64, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(port);
    char saved[sizeof g_ldap_uri];
    snprintf(saved, sizeof saved, "%s", g_ldap_uri);
    snprintf(g_ldap_uri, sizeof g_ldap_uri, "ldap://127.0.0.1:%d", atoi(port));
    free(port);
    ccase c;
    case_init(&c);
    for (int i = 0; i < 55; i++)   /* two chunks (RESMB_CHUNK 50); 57, 58 are the lab's faults */
        c.smtp[i] = ROOM(i + 1);
    c.switch_section = 1;
    case_write(&c);
    const char *jobs[] = { "--jobs", "4", NULL };
    int rc = case_run(&c, g_fake, "pause", jobs);
    snprintf(g_ldap_uri, sizeof g_ldap_uri, "%s", saved);
    tu_stop(pid, 5000);
    if (rc != 0 || !strstr(c.text, "reconnecting"))
        fprintf(stderr, "\n  directory lost: exit %d\n%s\n", rc, c.text);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "reconnecting"));   /* the fault really happened */
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(count_sub(c.text, " DONE "), 55);
    case_free(&c);
}

/* -DryRun in CPUUCmdLine: the real engine plans, writes nothing, and exits
 * with no bit (CSV 0).  A dry run that went well is a success, exit 0 (it
 * was 64, "unable to start CPUU for updating"). */
static void test_engine_dry_run(void)
{
    char cpuu[512];
    snprintf(cpuu, sizeof cpuu, "%s/cpuu", tu_bin());
    if (!tu_exists(cpuu)) {
        tu_skip("%s is not built; the engine dry-run case did not run", cpuu);
        return;
    }
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(51);   /* the real-engine case's room: the dry run changes nothing */
    c.switch_section = 1;
    char logp[600];
    snprintf(logp, sizeof logp, "%s/cpuu.log", c.dir);
    snprintf(c.cmdline, sizeof c.cmdline, "-Log %s -SkipAutodiscoverChecking -DryRun", logp);
    case_write(&c);
    int rc = case_run(&c, cpuu, "ok", NULL);
    if (rc != 0)
        fprintf(stderr, "\n  engine dry run: exit %d\n%s\n", rc, c.text);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(51), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(51), "engine dry run"));
    sr_err e;
    char *l = sr_read_file(logp, 1 << 20, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(l && strstr(l, "dry run: profile not changed"));
    free(l);
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    case_free(&c);
}

/* One engine process per mailbox (issue 13): the update's engine stays for
 * the cleanup (CPUU_COMMAND_FD).  tests/py/engine_wrap.py stands as cpuu,
 * logs every start and hurts the kept engine on request: fault "" (none),
 * "kill" (killed while waiting), "hang" (stopped while waiting: GlobalWait
 * must end it).  Returns the exit status; c->text is the run's output. */
static int wrapped_run(ccase *c, const char *fault, const char *cpuu_extra, char *log, size_t size)
{
    char cpuu[512], wrap[600], csv[600];
    snprintf(cpuu, sizeof cpuu, "%s/cpuu", tu_bin());
    snprintf(wrap, sizeof wrap, "%s/tests/py/engine_wrap.py", tu_root());
    snprintf(log, size, "%s/cpuu.log", c->dir);
    snprintf(csv, sizeof csv, "%s/cpuu.csv", c->dir);
    snprintf(c->cmdline, sizeof c->cmdline, "-Log %s -SkipAutodiscoverChecking", log);
    c->switch_section = 1;
    c->cpuu_extra = cpuu_extra;
    case_write(c);
    setenv("ENGINE_WRAP_REAL", cpuu, 1);
    setenv("ENGINE_WRAP_LOG", c->fakelog, 1);
    setenv("ENGINE_WRAP_FAULT", fault, 1);
    const char *one[] = { "--jobs", "1", NULL };
    int rc = case_run(c, wrap, "ok", one);
    unsetenv("ENGINE_WRAP_FAULT");
    if (rc != 0) {
        sr_err e;
        char *l = sr_read_file(log, 1 << 20, NULL, &e);
        fprintf(stderr, "\n  fault '%s': exit %d\n%s\n---- engine log:\n%s\n", fault, rc, c->text,
                l ? l : "(none)");
        free(l);
    }
    snprintf(log, size, "%s", csv);
    return rc;
}

/* The engine's CSV lines ("profile<TAB>code<TAB>previous") with code rc ("14":
 * cleanup done, spec "CPUU CSV"); counts what really ran, wherever. */
static int csv_results(const char *csv, const char *rc)
{
    sr_err e;
    char *t = sr_read_file(csv, 1 << 20, NULL, &e);
    char *needle = sr_asprintf("\t%s\t", rc);
    int n = t ? count_sub(t, needle) : -1;
    free(needle);
    free(t);
    return n;
}

/* How many temporary profiles (kept: LeaveTemporaryProfiles=1) point at
 * the target mailbox want after the engine's update. */
static int profiles_on(const ccase *c, const char *want)
{
    sr_err e;
    mapi_pstore *st = mapi_pstore_open(c->profiles, 0, &e);
    char **names = NULL;
    size_t n = 0;
    int hits = 0;
    if (st && mapi_pstore_list(st, &names, &n, &e) == SR_OK)
        for (size_t i = 0; i < n; i++) {
            mapi_profile p = { 0 };
            if (mapi_profile_name_is_temp(names[i]) && mapi_pstore_load(st, names[i], &p, &e) == SR_OK &&
                p.n_accounts && p.accounts[0].smtp && !strcmp(p.accounts[0].smtp, want))
                hits++;
            mapi_profile_clear(&p);
        }
    sr_strv_free(names);
    mapi_pstore_free(st);
    return hits;
}

static void test_one_engine_process(void)
{
    char cpuu[512], csv[700];
    snprintf(cpuu, sizeof cpuu, "%s/cpuu", tu_bin());
    CU_ASSERT_TRUE_FATAL(tu_exists(cpuu));
    /* three mailboxes, each with its own target, nothing hurt: one engine
     * process serves all three (the worker's, handed from mailbox to
     * mailbox), no -Cleanup start, and every profile points at its own
     * target — nothing of one mailbox reached the next */
    ccase c;
    case_init(&c);
    static const int rooms[] = { 9, 12, 14 };
    for (int i = 0; i < 3; i++)
        c.smtp[i] = ROOM(rooms[i]);
    c.leave = 1;
    c.recreate = 1;   /* an earlier case may have given a room one: each is written */
    int rc = wrapped_run(&c, "", NULL, csv, sizeof csv);
    CU_ASSERT_EQUAL(rc, 0);
    char *log = fake_log(&c);
    int starts = count_sub(log, "\n"), fresh = count_sub(log, "-Cleanup");
    fprintf(stderr, "\n  [3 mailboxes: %d engine process(es), %d fresh cleanup(s)]\n", starts, fresh);
    CU_ASSERT_EQUAL(starts, 1);
    CU_ASSERT_EQUAL(fresh, 0);
    CU_ASSERT_EQUAL(csv_results(csv, "14"), 3);   /* every cleanup ran, in the kept engine */
    /* the first mailbox's worker writes its switch message itself (no engine
     * yet); the next two have the kept engine write theirs over its source
     * connections (issue 13: no connection of the worker's own) */
    CU_ASSERT_EQUAL(count_sub(c.text, "switch message created") +
                    count_sub(c.text, "switch message recreated"), 3);
    CU_ASSERT_EQUAL(count_sub(c.text, "written by the kept engine"), 2);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(report_has(c.text, ROOM(rooms[i]), "DONE"));
        assert_target(ROOM(rooms[i]), TROOM(rooms[i]));
        CU_ASSERT_EQUAL(profiles_on(&c, TROOM(rooms[i])), 1);
    }
    free(log);
    case_free(&c);

    /* killed while waiting, stopped while waiting (GlobalWait 5 s): a fresh
     * cleanup runs and the mailbox ends DONE as without the fault */
    static const struct { const char *fault; int room; } hurt[] = { { "kill", 13 }, { "hang", 50 } };
    for (size_t k = 0; k < sizeof hurt / sizeof hurt[0]; k++) {
        case_init(&c);
        c.smtp[0] = ROOM(hurt[k].room);
        long t0 = sr_now_ms();
        rc = wrapped_run(&c, hurt[k].fault, "WatchDog=1\nGlobalWait=5\n", csv, sizeof csv);
        long took = sr_now_ms() - t0;
        log = fake_log(&c);
        fprintf(stderr, "  [%s: exit %d after %ld ms; engine starts:\n%s]\n", hurt[k].fault, rc, took,
                log);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT_TRUE(report_has(c.text, ROOM(hurt[k].room), "DONE"));
        assert_target(ROOM(hurt[k].room), TROOM(hurt[k].room));
        CU_ASSERT_EQUAL(count_sub(log, "\n"), 2);       /* the update, then a fresh cleanup */
        CU_ASSERT_EQUAL(count_sub(log, "-Cleanup"), 1);
        CU_ASSERT_EQUAL(csv_results(csv, "14"), 1);
        CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "gave no answer to its command"));
        CU_ASSERT_EQUAL(temp_profiles(&c), 0);
        CU_ASSERT_TRUE(took < 30000);   /* bounded: GlobalWait, not for ever */
        free(log);
        case_free(&c);
    }
}

/* An engine serves at most RESMB_ENGINE_MAILBOXES (50) mailboxes, then a
 * fresh one takes over: 55 mailboxes through one worker, two engine starts. */
static void test_engine_mailbox_limit(void)
{
    char csv[700];
    ccase c;
    case_init(&c);
    for (int i = 0; i < 55; i++)
        c.smtp[i] = ROOM(i + 1);
    int rc = wrapped_run(&c, "", NULL, csv, sizeof csv);
    char *log = fake_log(&c);
    int starts = count_sub(log, "\n"), done = count_sub(c.text, " DONE ");
    fprintf(stderr, "\n  [55 mailboxes: exit %d, %d DONE, %d engine start(s)]\n", rc, done, starts);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(starts, 2);
    CU_ASSERT_EQUAL(count_sub(log, "-Cleanup"), 0);
    CU_ASSERT_EQUAL(csv_results(csv, "14"), 55);
    free(log);
    case_free(&c);
}

/* The kept engine killed while it works on the second mailbox's update
 * (Attempt=1): that mailbox fails as a single engine killed in its update
 * would (exit bit 1, FAILED), the third runs on a fresh engine and is done. */
/* Rooms 16, 17, 18 through one worker: the second is the kept engine's
 * first command. */
static void three_rooms(ccase *c)
{
    case_init(c);
    for (int i = 0; i < 3; i++)
        c->smtp[i] = ROOM(16 + i);
}

static void test_kept_engine_killed_mid_batch(void)
{
    char csv[700];
    ccase c;
    three_rooms(&c);
    setenv("ENGINE_WRAP_COMMAND", "1", 1);   /* the first "update" command: mailbox 2's */
    int rc = wrapped_run(&c, "kill-command", "Attempt=1\n", csv, sizeof csv);
    unsetenv("ENGINE_WRAP_COMMAND");
    char *log = fake_log(&c);
    fprintf(stderr, "\n  [killed mid-command: exit %d; engine starts:\n%s]\n", rc, log);
    CU_ASSERT_EQUAL(rc, 1);   /* SwitchResMB bit 1: processing failed with errors */
    CU_ASSERT_TRUE(report_has(c.text, ROOM(16), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(17), "FAILED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "update: the engine died without an answer"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(18), "DONE"));
    assert_target(ROOM(18), TROOM(18));
    CU_ASSERT_EQUAL(count_sub(log, "\n"), 2);   /* the first engine, then a fresh one */
    CU_ASSERT_EQUAL(count_sub(log, "-Cleanup"), 0);
    CU_ASSERT_EQUAL(csv_results(csv, "14"), 2);  /* cleanups of mailboxes 1 and 3 */
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    free(log);
    case_free(&c);
}

/* The kept engine killed while it writes a switch message (issue 13: the
 * worker has its kept engine write it): the worker writes it itself (looks
 * first: the engine may have written it), the update runs in a fresh
 * engine, and every mailbox ends DONE with its own target; the next
 * mailbox's switch message is written by the fresh engine, kept. */
static void test_kept_engine_killed_switchmsg(void)
{
    char csv[700];
    ccase c;
    three_rooms(&c);
    c.recreate = 1;   /* rooms an earlier case gave one: each is written again */
    setenv("ENGINE_WRAP_COMMAND", "1", 1);   /* the first "switchmsg" command: mailbox 2's */
    setenv("ENGINE_WRAP_KIND", "switchmsg", 1);
    int rc = wrapped_run(&c, "kill-command", NULL, csv, sizeof csv);
    unsetenv("ENGINE_WRAP_COMMAND");
    unsetenv("ENGINE_WRAP_KIND");
    char *log = fake_log(&c);
    fprintf(stderr, "\n  [killed writing a switch message: exit %d; engine starts:\n%s]\n", rc, log);
    CU_ASSERT_EQUAL(rc, 0);
    for (int r = 16; r <= 18; r++) {
        CU_ASSERT_TRUE(report_has(c.text, ROOM(r), "DONE"));
        assert_target(ROOM(r), TROOM(r));
    }
    CU_ASSERT_EQUAL(count_sub(c.text, "switch message recreated") +   /* none yet: created */
                    count_sub(c.text, "switch message created"), 3);
    CU_ASSERT_EQUAL(count_sub(c.text, "written by the kept engine"), 1);   /* mailbox 3's */
    CU_ASSERT_EQUAL(count_sub(log, "\n"), 2);   /* the first engine, then a fresh one */
    CU_ASSERT_EQUAL(csv_results(csv, "14"), 3);
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    free(log);
    case_free(&c);
}

/* Issue 13: a worker that holds a kept engine leaves the switch message's
 * write to it ([handover] switchmsg-write=create): the engine looks with
 * its first reads and writes with the next, before anything reaches the
 * target.  Three rooms without a message through one worker: the first
 * room's worker writes its own (the engine is a wrapper, not the one
 * installed beside switchresmb: it gets no write before it has answered the
 * command protocol; round_trips.sh has the installed one write the first
 * room's too); the second's kept engine is
 * SIGKILLed as its update begins, and with Attempt=2 a fresh engine runs it
 * again from the same profile (a look first: never a second message); the
 * third's is written by that engine, kept.  Every room DONE, each message
 * naming its own target. */
static void test_engine_writes_switchmsg(void)
{
    char csv[700];
    ccase c;
    case_init(&c);
    static const int rooms[] = { 56, 59, 60 };   /* no case before gives them a message */
    for (int i = 0; i < 3; i++)
        c.smtp[i] = ROOM(rooms[i]);
    setenv("ENGINE_WRAP_COMMAND", "1", 1);   /* the first "update" command: the second room's */
    int rc = wrapped_run(&c, "kill-command", "Attempt=2\n", csv, sizeof csv);
    unsetenv("ENGINE_WRAP_COMMAND");
    char *log = fake_log(&c);
    int by_engine = count_sub(c.text, "written by the engine with its first reads");
    if (rc != 0 || by_engine != 2)
        fprintf(stderr, "\n  [engine writes the switch message: exit %d, %d by the engine; engine "
                "starts:\n%s]\n%s\n", rc, by_engine, log, c.text);
    CU_ASSERT_EQUAL(rc, 0);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_TRUE(report_has(c.text, ROOM(rooms[i]), "DONE"));
        assert_target(ROOM(rooms[i]), TROOM(rooms[i]));
    }
    CU_ASSERT_EQUAL(count_sub(c.text, "switch message created"), 3);
    CU_ASSERT_EQUAL(by_engine, 2);
    CU_ASSERT_EQUAL(count_sub(log, "\n"), 2);   /* the first engine, then a fresh one */
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    free(log);
    case_free(&c);
}

/* A continuous pool: one slow mailbox does not hold back the mailboxes
 * beyond its batch.  The first update waits until 53 updates have started
 * (itself and 52 others); with batches of RESMB_CHUNK (50) run one after the
 * other it could see at most 50 and timed out.  Counted, not timed. */
static void test_continuous_pool(void)
{
    ccase c;
    case_init(&c);
    for (int i = 0; i < 55; i++)
        c.smtp[i] = ROOM(i + 1);
    c.switch_section = 1;
    case_write(&c);
    setenv("FAKE_RELEASE_AT", "53", 1);
    const char *jobs[] = { "--jobs", "3", NULL };
    int rc = case_run(&c, g_fake, "slowfirst", jobs);
    unsetenv("FAKE_RELEASE_AT");
    char seen_path[700];
    snprintf(seen_path, sizeof seen_path, "%s.slow/seen", c.fakelog);
    sr_err e;
    char *seen = sr_read_file(seen_path, 64, NULL, &e);
    long n = seen ? strtol(seen, NULL, 10) : -1;
    fprintf(stderr, "\n  [the slow mailbox saw %ld update(s) start; 53 = no wave barrier]\n", n);
    free(seen);
    CU_ASSERT_TRUE(n >= 53);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(count_sub(c.text, " DONE "), 55);
    /* the report keeps the list's order */
    const char *r = strstr(c.text, "==== switchresmb report");
    const char *a = r ? strstr(r, ROOM(1)) : NULL, *b = r ? strstr(r, ROOM(55)) : NULL;
    CU_ASSERT_TRUE(a && b && a < b);
    case_free(&c);
}

/* POST /_sim/config?query to a simulator; 0 when it took it. */
static int sim_config(const inst *in, const char *query)
{
    char url[300];
    snprintf(url, sizeof url, "%s/_sim/config?%s", in->url, query);
    char *argv[] = { "curl", "-sf", "--max-time", "10", "--noproxy", "*", "-o", "/dev/null",
                     "-XPOST", url, NULL };
    return tu_run(argv, NULL, 15000);
}

/* Issue 15: a WAIT-class failure (Exchange throttling the mailbox) is retried
 * later in the same run; when the retry budget ends the mailbox is reported
 * THROTTLED, not FAILED.  The source simulator answers the next N EWS
 * requests with ErrorServerBusy (throttle_next); the transport's own retries
 * (7 attempts per request) give up first, then switchresmb's. */
static void test_throttled_retry(void)
{
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(44);
    c.switch_section = 1;
    case_write(&c);
    const char *one[] = { "--jobs", "1", NULL };
    /* 14 busy answers: one or two attempts fail, the next one gets through */
    CU_ASSERT_EQUAL_FATAL(sim_config(&g_src, "throttle_next=14&backoff_ms=1"), 0);
    int rc = case_run(&c, g_fake, "ok", one);
    if (rc != 0)
        fprintf(stderr, "\n  throttled, recovers: exit %d\n%s\n", rc, c.text);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(44), "DONE"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(44), "throttled attempt"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "throttled by Exchange"));
    case_free(&c);
    /* throttled for good: the budget ends, THROTTLED (not FAILED), exit 1 */
    case_init(&c);
    c.smtp[0] = ROOM(45);
    c.switch_section = 1;
    case_write(&c);
    CU_ASSERT_EQUAL_FATAL(sim_config(&g_src, "throttle_next=100000&backoff_ms=1"), 0);
    rc = case_run(&c, g_fake, "ok", one);
    CU_ASSERT_EQUAL(sim_config(&g_src, "throttle_next=0&backoff_ms=1000"), 0);
    if (rc != 1)
        fprintf(stderr, "\n  throttled for good: exit %d\n%s\n", rc, c.text);
    CU_ASSERT_EQUAL(rc, 1);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(45), "THROTTLED"));
    CU_ASSERT_TRUE(report_has(c.text, ROOM(45), "in 4 attempt(s)"));
    CU_ASSERT_FALSE(report_has(c.text, ROOM(45), "FAILED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "0 failed"));
    /* a rerun, no longer throttled, finishes it */
    rc = case_run(&c, g_fake, "ok", one);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(45), "DONE"));
    case_free(&c);
}

/* The engine writes the switch message (the one installed beside
 * switchresmb: every mailbox, the worker's first too) and the source refuses
 * its CreateItem (fail_op injection: that operation alone fails, the reads
 * work): each mailbox fails naming the engine's reason, nothing reaches the
 * target (the engine writes nothing there before the message is in), and
 * the journal keeps the message for a rerun. */
static void test_engine_switchmsg_refused(void)
{
    char cpuu[512], logp[600];
    snprintf(cpuu, sizeof cpuu, "%s/cpuu", tu_bin());
    ccase c;
    case_init(&c);
    static const int rooms[] = { 56, 59 };   /* no case before gives them a message */
    for (int i = 0; i < 2; i++)
        c.smtp[i] = ROOM(rooms[i]);
    c.switch_section = 1;
    snprintf(logp, sizeof logp, "%s/cpuu.log", c.dir);
    snprintf(c.cmdline, sizeof c.cmdline, "-Log %s -SkipAutodiscoverChecking", logp);
    case_write(&c);
    CU_ASSERT_EQUAL_FATAL(sim_config(&g_src, "fail_op=CreateItem&fail_op_code=ErrorQuotaExceeded"), 0);
    sim_stat(&g_tgt, NULL, 1);
    const char *one[] = { "--jobs", "1", NULL };
    int rc = case_run(&c, cpuu, "ok", one);
    CU_ASSERT_EQUAL(sim_config(&g_src, "fail_op=&fail_op_code="), 0);
    if (rc != 1)
        fprintf(stderr, "\n  [engine's switch message refused: exit %d]\n%s\n", rc, c.text);
    CU_ASSERT_EQUAL(rc, 1);   /* SwitchResMB bit 1: processing failed with errors */
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_TRUE(report_has(c.text, ROOM(rooms[i]), "FAILED"));
        CU_ASSERT_TRUE(report_has(c.text, ROOM(rooms[i]), "cannot write the switch message"));
        CU_ASSERT_TRUE(report_has(c.text, ROOM(rooms[i]), "ErrorQuotaExceeded"));
        char *t = switch_target(ROOM(rooms[i]));
        CU_ASSERT_TRUE(t && !*t);   /* read, and none was written */
        free(t);
    }
    CU_ASSERT_TRUE(sim_stat(&g_tgt, "AddDelegate", 0) <= 0);
    CU_ASSERT_TRUE(sim_stat(&g_tgt, "UpdateInboxRules", 0) <= 0);
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    case_free(&c);
}

/* Today's dependent round trips per mailbox, the highest seen (source 4-5 in
 * the whole suite: the switch-message read, its CreateItem, the engine's two
 * read waves, its logon answered by the profile's [handover]; it was 8 alone,
 * 9 in the suite; target 9: every feature reads, one batched identity
 * lookup, then the writes; it was 14-15 with a lookup per feature) plus one
 * for the spread between runs; issue 13's goal is 6 per side. */
#define RT_BOUND_SOURCE 6
#define RT_BOUND_TARGET 7

/* The real engine, when it is built. */
static void test_real_engine(void)
{
    char cpuu[512];
    snprintf(cpuu, sizeof cpuu, "%s/cpuu", tu_bin());
    if (!tu_exists(cpuu)) {
        tu_skip("%s is not built; the real-engine case did not run", cpuu);
        return;
    }
    ccase c;
    case_init(&c);
    c.smtp[0] = ROOM(51);
    c.switch_section = 1;
    char logp[600];
    snprintf(logp, sizeof logp, "%s/cpuu.log", c.dir);
    /* the lab's Autodiscover URLs are on 127.0.0.1, not on the mail domains */
    snprintf(c.cmdline, sizeof c.cmdline, "-Log %s -SkipAutodiscoverChecking", logp);
    case_write(&c);
    sim_stat(&g_src, NULL, 1);
    sim_stat(&g_tgt, NULL, 1);
    int rc = case_run(&c, cpuu, "ok", NULL);
    /* issue 13: dependent round trips per mailbox and side (switchresmb and
     * the engine together), small room, Delegates + Rules.  The bound is
     * the goal, 6 a side, plus one for the spread between runs. */
    long rt_src = sim_stat(&g_src, "max_round_trips", 0);
    long rt_tgt = sim_stat(&g_tgt, "max_round_trips", 0);
    fprintf(stderr, "\n  [real engine: exit %d; dependent round trips: source %ld, target %ld]\n",
            rc, rt_src, rt_tgt);
    CU_ASSERT_TRUE(rt_src >= 1 && rt_src <= RT_BOUND_SOURCE);
    CU_ASSERT_TRUE(rt_tgt >= 1 && rt_tgt <= RT_BOUND_TARGET);
    if (rc != 0) {
        sr_err e;
        char *l = sr_read_file(logp, 1 << 20, NULL, &e);
        fprintf(stderr, "%s\n---- engine log %s:\n%s\n", c.text, logp, l ? l : "(none)");
        free(l);
        snprintf(logp, sizeof logp, "%s/cpuu.csv", c.dir);
        l = sr_read_file(logp, 1 << 20, NULL, &e);
        fprintf(stderr, "---- engine csv %s:\n%s\n", logp, l ? l : "(none)");
        free(l);
    }
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(51), "DONE"));
    assert_target(ROOM(51), TROOM(51));
    CU_ASSERT_EQUAL(temp_profiles(&c), 0);
    case_free(&c);

    /* the same room again (a new journal): its switch message is there now
     * and stays; the parent's batch asks the target Autodiscover for the
     * target it names and hands the answer to the engine, whose target
     * logon then asks nothing (issue 13; before, the engine asked itself) */
    case_init(&c);
    c.smtp[0] = ROOM(51);
    c.switch_section = 1;
    snprintf(logp, sizeof logp, "%s/cpuu.log", c.dir);
    snprintf(c.cmdline, sizeof c.cmdline, "-Log %s -SkipAutodiscoverChecking", logp);
    case_write(&c);
    rc = case_run(&c, cpuu, "ok", NULL);
    sr_err e;
    char *l = sr_read_file(logp, 1 << 20, NULL, &e);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_TRUE(report_has(c.text, ROOM(51), "DONE"));
    CU_ASSERT_PTR_NULL(strstr(c.text, "switch message created"));   /* it stayed */
    CU_ASSERT_TRUE(l && strstr(l, "the answer switchresmb got"));
    if (rc != 0 || !l || !strstr(l, "the answer switchresmb got"))
        fprintf(stderr, "%s\n---- engine log %s:\n%s\n", c.text, logp, l ? l : "(none)");
    free(l);
    assert_target(ROOM(51), TROOM(51));
    case_free(&c);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("resmb_pipeline", suite_init, suite_clean);
    CU_add_test(s, "from the directory, [Mailboxes], not in AD, rerun", test_from_directory_and_rerun);
    CU_add_test(s, "[TargetMailboxesSMTP], recreate, LeaveTemporaryProfiles", test_target_list_recreate_leave);
    CU_add_test(s, "unknown target address: asked once, in the batch", test_unknown_target_asked_once);
    CU_add_test(s, "no switch message, no [SwitchMessage]", test_no_switch_message);
    CU_add_test(s, "no [AD]: [MailboxesSMTP] resolved by Autodiscover", test_no_ad_autodiscover);
    CU_add_test(s, "Kerberos: no password needed; Winnt needs one", test_kerberos_without_password);
    CU_add_test(s, "Autodiscover URL from the directory's SCP", test_scp_autodiscover);
    CU_add_test(s, "engine outcomes -> exit bits", test_engine_outcomes);
    CU_add_test(s, "profile creation bits 8/16", test_profile_bits);
    CU_add_test(s, "--dry-run writes nothing", test_dry_run);
    CU_add_test(s, "one mailbox under two keys: processed once", test_duplicate_entries);
    CU_add_test(s, "--mapping-attr names the target attribute", test_mapping_attr);
    CU_add_test(s, "[TargetAD] reaches the engine's environment, never argv or output",
                test_target_ad_env);
    CU_add_test(s, "crash at journal write N, resume", test_crash_resume);
    CU_add_test(s, "20 mailboxes: bounded LDAP/EWS", test_bounded_requests);
    CU_add_test(s, "lock, CPUUCmdLine, --restart refused", test_lock_cmdline_restart);
    CU_add_test(s, "SIGTERM: graceful stop, rerun finishes", test_sigterm);
    CU_add_test(s, "SIGTERM to the process group: running mailbox finished",
                test_sigterm_process_group);
    CU_add_test(s, "real engine", test_real_engine);
    CU_add_test(s, "-DryRun in CPUUCmdLine: a good dry run is a success", test_engine_dry_run);
    CU_add_test(s, "real engine: one process for many mailboxes; fallback cleanup when it dies or hangs",
                test_one_engine_process);
    CU_add_test(s, "real engine: an engine serves 50 mailboxes, then a fresh one", test_engine_mailbox_limit);
    CU_add_test(s, "real engine: kept engine killed mid-batch: that mailbox fails, the next "
                "runs on a fresh engine", test_kept_engine_killed_mid_batch);
    CU_add_test(s, "real engine: kept engine killed writing a switch message: the worker writes it",
                test_kept_engine_killed_switchmsg);
    CU_add_test(s, "real engine: the engine's switch message refused: the mailbox fails with "
                "its reason, the target untouched", test_engine_switchmsg_refused);
    CU_add_test(s, "real engine: the kept engine writes the switch message with its reads; "
                "killed, a fresh one writes no second", test_engine_writes_switchmsg);
    CU_add_test(s, "continuous pool: a slow mailbox holds back no batch", test_continuous_pool);
    CU_add_test(s, "throttled mailbox: retried in the run, THROTTLED when the budget ends",
                test_throttled_retry);
    CU_add_test(s, "disk full under the journal: clear stop, rerun finishes", test_disk_full);
    CU_add_test(s, "directory connection lost mid-run: reconnected", test_directory_connection_lost);
    CU_add_test(s, "crash after an action, real engine: resumed, nothing left",
                test_crash_after_action_real_engine);
    /* TU_ONLY=<part of a name> or =<whole name>: run only those cases */
    const char *only = getenv("TU_ONLY");
    for (CU_pTest t = s->pTest; only && *only && t; t = t->pNext)
        if (only[0] == '=' ? strcmp(t->pName, only + 1) != 0 : !strstr(t->pName, only))
            CU_set_test_active(t, CU_FALSE);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    int init_failed = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed || init_failed ? 1 : 0;
}
