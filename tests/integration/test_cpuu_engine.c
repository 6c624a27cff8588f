/* test_cpuu_engine.c — bin/cpuu end to end against two Exchange simulators
 * (source and target organisations from tests/lab/orggen.py +
 * tests/exsim/seedgen.py), in a private profile store: update (CSV 10, exit
 * bit 1, the profile points at the target, backup copy, no temporary
 * profile left), already updated (2), rollback (12, byte-identical profile),
 * cleanup (14, backups gone), no / invalid switch message (bits 2 / 512),
 * unknown mailbox (4), wrong password (18), the profile checks that need no
 * network (1, 5, 6, 7, 8, 23, 24), CPUU.ini and command-line errors (16),
 * the progress protocol on a pipe and the secret on CPUU_SECRET_FD through
 * cpuu_invoke.  All traffic stays on 127.0.0.1. */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <fcntl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "configs/configs.h"
#include "cpuu_invoke/cpuu_invoke.h"
#include "mapi/mapi.h"
#include "tests/common/testutil.h"

typedef struct inst {
    pid_t pid;
    int port;
    char url[128];
    char user[64], password[128];
} inst;

typedef tu_seed_mbx mbx;

static tu_lab g_lab;            /* the slapd lab (the source AD) */
static char *g_dir, g_store[512], g_ini[512], g_log[512], g_csv[512];
static inst g_src, g_tgt;
static pid_t g_tok = -1;        /* test_ews_blocked's token endpoint, if running */
static pid_t g_gf = -1;         /* test_graph_target's graph_fake.py, if running */
static mbx g_a, g_a_tgt;       /* a room not migrated yet, with its target */
static mbx g_c;                /* another unmigrated mailbox: never gets a switch message */
static mbx g_d;                /* a migrated user (source Autodiscover redirects) */

/* ---- servers ---------------------------------------------------------------- */
static int run_py(const char *script, const char *const *args)
{
    return tu_py(script, args);
}

/* The seed's admin account and its mailboxes (up to max). */
static int read_seed(const char *seed, inst *in, mbx *m, int max)
{
    return tu_seed_read(seed, in->user, sizeof in->user, in->password, sizeof in->password, m, max);
}

static int start_exsim_rtt(inst *in, const char *name, const char *seed, const char *rtt_ms)
{
    const char *extra[] = { rtt_ms ? "--rtt-ms" : NULL, rtt_ms, NULL };
    tu_exsim x;
    if (tu_exsim_start(&x, g_dir, name, seed, extra) != 0)
        return -1;
    in->pid = x.pid;
    in->port = x.port;
    snprintf(in->url, sizeof in->url, "%s", x.url);
    return 0;
}

static int start_exsim(inst *in, const char *name, const char *seed)
{
    return start_exsim_rtt(in, name, seed, NULL);
}

/* A (unmigrated room with a target), C (another unmigrated mailbox), D (a
 * migrated user). */
static int pick_mailboxes(mbx *src, int ns, mbx *tgt, int nt)
{
    for (int i = 0; i < ns; i++) {
        const char *at = strchr(src[i].smtp, '@');
        if (!src[i].legacy_dn[0] || !at)
            continue;
        if (!g_a.smtp[0] && !src[i].redirect[0] && !strcmp(src[i].kind, "room")) {
            for (int k = 0; k < nt; k++)
                if (!strncmp(tgt[k].smtp, src[i].smtp, (size_t)(at - src[i].smtp) + 1) && tgt[k].legacy_dn[0]) {
                    g_a = src[i];
                    g_a_tgt = tgt[k];
                }
            if (g_a.smtp[0])
                continue;
        }
        if (!g_c.smtp[0] && !src[i].redirect[0] && strcmp(src[i].smtp, g_a.smtp))
            g_c = src[i];
        if (!g_d.smtp[0] && src[i].redirect[0] && !strcmp(src[i].kind, "user"))
            g_d = src[i];
    }
    return g_a.smtp[0] && g_c.smtp[0] && g_d.smtp[0] ? 0 : -1;
}

static int suite_init(void)
{
    g_dir = tu_mkdtemp("cpuuengine");
    if (!g_dir)
        return 1;
    char org[512], src[512], tgt[512];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(src, sizeof src, "%s/src.xml", g_dir);
    snprintf(tgt, sizeof tgt, "%s/tgt.xml", g_dir);
    const char *og[] = { "--users", "3", "--rooms", "3", "--unmigrated-every", "7", "-o", org, NULL };
    const char *sg[] = { "--org", org, "--side", "source", "-o", src, NULL };
    const char *tg[] = { "--org", org, "--side", "target", "-o", tgt, NULL };
    if (run_py("tests/lab/orggen.py", og) != 0 || run_py("tests/exsim/seedgen.py", sg) != 0 ||
        run_py("tests/exsim/seedgen.py", tg) != 0) {
        fprintf(stderr, "orggen/seedgen failed\n");
        return 1;
    }
    static mbx sm[64], tm[64];
    int ns = read_seed(src, &g_src, sm, 64), nt = read_seed(tgt, &g_tgt, tm, 64);
    if (ns <= 0 || nt <= 0 || pick_mailboxes(sm, ns, tm, nt) != 0) {
        fprintf(stderr, "seeds lack the mailboxes this test needs\n");
        return 1;
    }
    if (start_exsim(&g_src, "src", src) != 0 || start_exsim(&g_tgt, "tgt", tgt) != 0)
        return 1;
    char lab_dir[600], lab_script[512];
    snprintf(lab_dir, sizeof lab_dir, "%s/lab", g_dir);
    snprintf(lab_script, sizeof lab_script, "%s/tests/lab/slapd-lab.sh", tu_root());
    if (tu_lab_start(&g_lab, lab_script, lab_dir, org, NULL, 30000) != 0) {
        fprintf(stderr, "slapd lab did not start\n");
        return 1;
    }
    snprintf(g_store, sizeof g_store, "%s/profiles", g_dir);
    snprintf(g_ini, sizeof g_ini, "%s/CPUU.ini", g_dir);
    snprintf(g_log, sizeof g_log, "%s/CPUU.log", g_dir);
    snprintf(g_csv, sizeof g_csv, "%s/CPUU.csv", g_dir);
    setenv("SWITCHRESMB_PROFILE_DIR", g_store, 1);
    setenv("CPUU_ALLOW_HTTP", "1", 1);   /* the simulators speak plain HTTP on loopback */
    return 0;
}

static int suite_clean(void)
{
    tu_lab_free(&g_lab);
    if (g_src.pid > 0)
        tu_stop(g_src.pid, 5000);
    if (g_tgt.pid > 0)
        tu_stop(g_tgt.pid, 5000);
    if (g_tok > 0)   /* a fatal assertion left test_ews_blocked early */
        tu_stop(g_tok, 5000);
    if (g_gf > 0)    /* the same for test_graph_target */
        tu_stop(g_gf, 5000);
    if (g_dir && !getenv("SR_KEEP_TMP"))
        tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------ */
static char *enc(const char *plain)
{
    char *out = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt(plain, CFG_ENC_USER, &out, &e), SR_OK);
    return out;
}

/* CPUU.ini for the two simulators; extra lines go to [Parameters]. */
static void write_ini(const char *path, const char *src_password, const char *extra)
{
    char *ps = enc(src_password), *pt = enc(g_tgt.password);
    char *text = sr_asprintf("; written by test_cpuu_engine\n[Parameters]\nAdmin=%s\nPassword=%s\n"
                             "AdminTrg=%s\nPasswordTrg=%s\n"
                             "AutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\n"
                             "AutodiscoverTargetURL=%s/autodiscover/autodiscover.xml\n%s",
                             g_src.user, ps, g_tgt.user, pt, g_src.url, g_tgt.url, extra ? extra : "");
    sr_err e;
    CU_ASSERT_EQUAL(sr_write_file_atomic(path, text, strlen(text), 0600, 0, &e), SR_OK);
    free(text);
    free(ps);
    free(pt);
}

static mapi_pstore *store(void)
{
    sr_err e;
    mapi_pstore *st = mapi_pstore_open(g_store, 0, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    return st;
}

/* A profile for mailbox m; ews_url NULL → the engine uses Autodiscover. */
static void make_profile(const char *name, const mbx *m, const char *ews_url)
{
    mapi_profile p = { 0 };
    sr_err e;
    p.name = sr_strdup(name);
    mapi_account *a = mapi_profile_add_account(&p);
    a->smtp = sr_strdup(m->smtp);
    a->legacy_dn = sr_strdup(m->legacy_dn);
    a->home_server = sr_asprintf("%s@src.test", m->guid);
    a->display_name = sr_strdup("Source store");
    a->logon = MAPI_LOGON_NEGOTIATE;
    a->ews_url = ews_url ? sr_strdup(ews_url) : NULL;
    mapi_service *s = mapi_profile_add_service(&p, "MSUPST MS");
    mapi_service_set(s, "PstPath", "/home/room/archive.pst", &e);
    mapi_pstore *st = store();
    CU_ASSERT_EQUAL(mapi_pstore_create(st, &p, &e), SR_OK);
    mapi_pstore_free(st);
    mapi_profile_clear(&p);
}

static mapi_session *session_on(const inst *in, const char *mailbox, int impersonate, mapi_net **net)
{
    mapi_netopts o = { .auth = MAPI_AUTH_BASIC, .user = in->user, .password = in->password,
                       .allow_http = 1, .connect_timeout_ms = 3000, .timeout_ms = 10000 };
    sr_err e;
    *net = mapi_net_new(&o, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(*net);
    char ews[256];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", in->url);
    mapi_session_opts so = { .mailbox = mailbox, .ews_url = ews, .impersonate = impersonate };
    mapi_session *s = mapi_session_logon(*net, &so, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    return s;
}

static mapi_session *src_session(const char *mailbox, mapi_net **net)
{
    return session_on(&g_src, mailbox, 1, net);
}

static void write_switchmsg(const mbx *m, const mbx *t)
{
    mapi_net *net;
    mapi_session *s = src_session(m->smtp, &net);
    mapi_switchmsg w = { .version = MAPI_SWITCHMSG_CONTEMPORARY, .target_smtp = (char *)t->smtp,
                         .target_legacy_dn = (char *)t->legacy_dn, .created_by = "test_cpuu_engine",
                         .created_at = 1764000000 };
    sr_err e;
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 1, &e), SR_OK);
    mapi_session_free(s);
    mapi_net_free(net);
}

/* A switch message with an unknown version and a non-address target. */
static void write_bad_switchmsg(const mbx *m)
{
    mapi_net *net;
    mapi_session *s = src_session(m->smtp, &net);
    mapi_extprops props = { 0 };
    sr_err e;
    mapi_extprops_add_named(&props, MAPI_SWITCHMSG_PSET_GUID, MAPI_SMP_VERSION, MAPI_PT_LONG, "99", &e);
    mapi_extprops_add_named(&props, MAPI_SWITCHMSG_PSET_GUID, MAPI_SMP_SMTP, MAPI_PT_UNICODE,
                            "not-an-address", &e);
    mapi_extprops_add_named(&props, MAPI_SWITCHMSG_PSET_GUID, MAPI_SMP_LEGACYDN, MAPI_PT_UNICODE,
                            "nowhere", &e);
    mapi_ews_folder_ref inbox = { .distinguished = MAPI_SWITCHMSG_FOLDER };
    CU_ASSERT_EQUAL(mapi_session_create_item(s, &inbox, MAPI_SWITCHMSG_ITEM_CLASS, MAPI_SWITCHMSG_SUBJECT,
                                             &props, 1, NULL, &e), SR_OK);
    mapi_extprops_clear(&props);
    mapi_session_free(s);
    mapi_net_free(net);
}

/* The switch message in m's source mailbox (*sm: caller clears): the
 * read's outcome for the message, SR_E_NOTFOUND when there is none. */
static sr_code read_switchmsg_of(const char *mailbox, mapi_switchmsg *sm)
{
    mapi_net *net;
    mapi_session *s = src_session(mailbox, &net);
    mapi_folders f = { 0 };
    sr_err e, sme;
    memset(sm, 0, sizeof *sm);
    sr_err_clear(&sme);
    CU_ASSERT_EQUAL(mapi_session_open_mailbox(s, &f, sm, &sme, &e), SR_OK);
    mapi_folders_clear(&f);
    mapi_session_free(s);
    mapi_net_free(net);
    return sme.code;
}

/* Run bin/cpuu with -INI ini -Log log and the given arguments; returns the
 * exit status; stdout+stderr go to <dir>/out.txt. */
static int run_cpuu(const char *ini, const char *const *args)
{
    char bin[512], out[512];
    snprintf(bin, sizeof bin, "%s/cpuu", tu_bin());
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    char *argv[40] = { bin, "-INI", (char *)ini, "-Log", g_log };
    int n = 5;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    unlink(out);
    return tu_run(argv, out, 20000);
}

static char *slurp(const char *path)
{
    sr_err e;
    char *t = sr_read_file(path, 4u << 20, NULL, &e);
    return t ? t : strdup("");
}

static int file_has(const char *path, const char *needle)
{
    char *t = slurp(path);
    int hit = strstr(t, needle) != NULL;
    free(t);
    return hit;
}

/* Codes of the last CSV line for profile; -1 when none. */
static int csv_last(const char *profile, int *prev)
{
    char *t = slurp(g_csv), *save = NULL;
    int cur = -1;
    size_t n = strlen(profile);
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (!strncmp(l, profile, n) && l[n] == '\t') {
            cur = atoi(l + n + 1);
            const char *tab = strchr(l + n + 1, '\t');
            if (prev)
                *prev = tab ? atoi(tab + 1) : -1;
        }
    free(t);
    return cur;
}

static char *profile_file(const char *escaped)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.profile", g_store, escaped);
    return slurp(path);
}

static int temp_profiles(void)
{
    mapi_pstore *st = store();
    char **names;
    size_t n;
    sr_err e;
    int k = 0;
    if (mapi_pstore_list(st, &names, &n, &e) == SR_OK) {
        for (size_t i = 0; i < n; i++)
            k += !strncmp(names[i], "CPUU_", 5);
        sr_strv_free(names);
    }
    mapi_pstore_free(st);
    return k;
}

/* ---- tests ---------------------------------------------------------------------- */
static void test_update_rollback_cleanup(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Room Two", &g_a, NULL);
    write_switchmsg(&g_a, &g_a_tgt);
    char *before = profile_file("Room%20Two");
    CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(before, g_a.smtp));
    const char *upd[] = { "-Profiles", "Room Two", "-SkipAutodiscoverChecking", "-Features", NULL };
    int rc = run_cpuu(g_ini, upd);
    CU_ASSERT_EQUAL(rc, CPUU_SUCCESS);
    int prev = -2;
    CU_ASSERT_EQUAL(csv_last("Room Two", &prev), 10);
    CU_ASSERT_EQUAL(prev, 0);
    /* the profile now points at the target mailbox */
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, "Room Two", &p, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(p.accounts[0].smtp, g_a_tgt.smtp);
    CU_ASSERT_STRING_EQUAL(p.accounts[0].legacy_dn, g_a_tgt.legacy_dn);
    CU_ASSERT_PTR_NOT_NULL(strstr(p.accounts[0].home_server, "@tgt.test"));
    CU_ASSERT_PTR_NOT_NULL(p.accounts[0].ews_url && strstr(p.accounts[0].ews_url, g_tgt.url));
    CU_ASSERT_EQUAL(p.status.updated, 1);
    CU_ASSERT_EQUAL(p.n_services, 1);
    CU_ASSERT_TRUE(p.accounts[0].display_name && strcmp(p.accounts[0].display_name, "Source store"));
    mapi_profile_clear(&p);
    /* the backup copy holds the original bytes; no temporary profile is left */
    char *bname = mapi_profile_backup_name("Room Two");
    CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), SR_OK);
    CU_ASSERT_EQUAL(p.status.is_backup, 1);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    CU_ASSERT_EQUAL(temp_profiles(), 0);
    CU_ASSERT_TRUE(file_has(g_log, "target check passed"));
    CU_ASSERT_FALSE(file_has(g_log, g_src.password));
    CU_ASSERT_FALSE(file_has(g_log, g_tgt.password));
    struct stat sb;
    CU_ASSERT_EQUAL(stat(g_log, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 077, 0);

    /* again: already updated */
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd), CPUU_CANNOT_START);
    CU_ASSERT_EQUAL(csv_last("Room Two", &prev), 2);
    CU_ASSERT_EQUAL(prev, 10);

    /* rollback: byte for byte */
    const char *undo[] = { "-Undo", "Room Two", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, undo), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Two", NULL), 12);
    char *after = profile_file("Room%20Two");
    CU_ASSERT_STRING_EQUAL(after, before);
    free(after);
    /* no backup any more → 3 */
    CU_ASSERT_EQUAL(run_cpuu(g_ini, undo), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Two", NULL), 3);

    /* update again (leaving the target-check profile), then clean up */
    const char *upd2[] = { "-Profiles", "Room Two", "-SkipAutodiscoverChecking", "-Features",
                           "-LeaveTemporaryProfile", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd2), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(temp_profiles(), 1);
    const char *clean[] = { "-Cleanup", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, clean), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Two", NULL), 14);
    st = store();
    CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), SR_E_NOTFOUND);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    CU_ASSERT_EQUAL(temp_profiles(), 0);
    char bdir[700];
    snprintf(bdir, sizeof bdir, "%s/backups/Room%%20Two", g_store);
    CU_ASSERT_NOT_EQUAL(stat(bdir, &sb), 0);
    /* nothing left to roll back */
    CU_ASSERT_EQUAL(run_cpuu(g_ini, undo), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Two", NULL), 3);
    free(bname);
    free(before);
}

static void test_switch_message_cases(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("No Message", &g_c, NULL);
    const char *a1[] = { "-Profiles", "No Message", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a1), CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL(csv_last("No Message", NULL), 0);
    CU_ASSERT_TRUE(file_has(g_log, "no switch message"));
    /* a migrated mailbox reached through the profile's EWS URL, with an invalid message */
    char ews[256];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", g_src.url);
    make_profile("Bad Message", &g_d, ews);
    write_bad_switchmsg(&g_d);
    const char *a2[] = { "-Profiles", "Bad Message", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a2), CPUU_INVALID_SWITCH_MSG & 0xff);
    CU_ASSERT_EQUAL(csv_last("Bad Message", NULL), 0);
    CU_ASSERT_TRUE(file_has(g_log, "invalid switch message"));
    /* the full mask (512 does not fit an exit status) through cpuu_invoke */
    char bin[512];
    snprintf(bin, sizeof bin, "%s/cpuu", tu_bin());
    char *argv[] = { bin, "-INI", g_ini, "-Log", g_log, "-Profiles", "Bad Message", "No Message",
                     "-SkipAutodiscoverChecking", "-Features", "-Silent", NULL };
    invoke_opts io = { .attempts = 1, .who = "test", .global_wait_s = 20, .watchdog = 1 };
    invoke_result res;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(invoke_run(argv, &io, &res, &e), SR_OK);
    CU_ASSERT_EQUAL(res.outcome, INVOKE_EXITED);
    CU_ASSERT_EQUAL(res.cpuu_bits, CPUU_INVALID_SWITCH_MSG | CPUU_NO_SWITCH_MSG);
}

static void test_unknown_mailbox_and_bad_password(void)
{
    mbx ghost = g_c;
    snprintf(ghost.smtp, sizeof ghost.smtp, "ghost-9999@src.test");
    make_profile("Ghost", &ghost, NULL);
    write_ini(g_ini, g_src.password, NULL);
    const char *a1[] = { "-Profiles", "Ghost", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a1), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Ghost", NULL), 4);
    CU_ASSERT_TRUE(file_has(g_log, "cannot open the source mailbox ghost-9999@src.test"));
    /* wrong password: the mailbox store cannot be opened */
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.ini", g_dir);
    write_ini(bad, "not-the-password", NULL);
    const char *a2[] = { "-Profiles", "No Message", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(bad, a2), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("No Message", NULL), 18);
    CU_ASSERT_TRUE(file_has(g_log, "401") || file_has(g_log, "credential"));
    CU_ASSERT_FALSE(file_has(g_log, "not-the-password"));
    /* the same INI, but the parent hands the right password over CPUU_SECRET_FD */
    char bin[512];
    snprintf(bin, sizeof bin, "%s/cpuu", tu_bin());
    char *argv[] = { bin, "-INI", bad, "-Log", g_log, "-Profiles", "No Message",
                     "-SkipAutodiscoverChecking", "-Features", "-Silent", NULL };
    invoke_opts io = { .attempts = 1, .who = "test", .global_wait_s = 20, .watchdog = 1,
                       .secret = g_src.password };
    invoke_result res;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(invoke_run(argv, &io, &res, &e), SR_OK);
    CU_ASSERT_EQUAL(res.cpuu_bits, CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL(csv_last("No Message", NULL), 0);
}

static void test_progress_lines(void)
{
    write_ini(g_ini, g_src.password, NULL);
    int pfd[2];
    CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
    char fdv[16];
    snprintf(fdv, sizeof fdv, "%d", pfd[1]);
    setenv("CPUU_PROGRESS_FD", fdv, 1);
    const char *a[] = { "-Profiles", "No Message", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_NO_SWITCH_MSG);
    unsetenv("CPUU_PROGRESS_FD");
    close(pfd[1]);
    char lines[4096] = "";
    ssize_t got = read(pfd[0], lines, sizeof lines - 1);
    close(pfd[0]);
    lines[got > 0 ? got : 0] = '\0';
    char want[256];
    snprintf(want, sizeof want, "openstore begin source %s\nopenstore end\n", g_c.smtp);
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "exit 2\n"));
}

/* Read everything on a pipe's read end (the writer closed). */
static void drain(int fd, char *buf, size_t len)
{
    size_t n = 0;
    for (int i = 0; i < 64 && n < len - 1; i++) {
        ssize_t r = read(fd, buf + n, len - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    close(fd);
}

/* Code of the last CSV line for profile in csv; -1: none. */
static int csv_code_in(const char *csv, const char *profile)
{
    char *t = slurp(csv), *save = NULL;
    int cur = -1;
    size_t n = strlen(profile);
    for (char *l = strtok_r(t, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (!strncmp(l, profile, n) && l[n] == '\t')
            cur = atoi(l + n + 1);
    free(t);
    return cur;
}

/* Update with $CPUU_COMMAND_FD holding cmd (NULL: the pipe just closes);
 * returns the exit status, the progress lines in lines. */
static int run_with_command(const char *const *args, const char *cmd, char *lines, size_t len)
{
    int pfd[2], cfd[2];
    CU_ASSERT_FATAL(pipe(pfd) == 0 && pipe(cfd) == 0);
    if (cmd)
        CU_ASSERT_EQUAL(write(cfd[1], cmd, strlen(cmd)), (ssize_t)strlen(cmd));
    close(cfd[1]);   /* after the command: EOF */
    char pv[16], cv[16];
    snprintf(pv, sizeof pv, "%d", pfd[1]);
    snprintf(cv, sizeof cv, "%d", cfd[0]);
    setenv("CPUU_PROGRESS_FD", pv, 1);
    setenv("CPUU_COMMAND_FD", cv, 1);
    int rc = run_cpuu(g_ini, args);
    unsetenv("CPUU_PROGRESS_FD");
    unsetenv("CPUU_COMMAND_FD");
    close(pfd[1]);
    close(cfd[0]);
    drain(pfd[0], lines, len);
    return rc;
}

/* The "exit <bits>" lines in progress output, in order, into bits[]; returns how many. */
static int exit_lines(const char *lines, unsigned *bits, int max)
{
    int n = 0;
    for (const char *l = lines; l && *l && n < max; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (sscanf(l, "exit %u", &bits[n]) == 1)
            n++;
    return n;
}

/* One engine process for many mailboxes ("One engine for many mailboxes",
 * docs/cpuu.md): update commands for other profiles, each with its own log
 * and target Autodiscover line, one answer each; what one command carried
 * (a bad Autodiscover line, a missing switch message) does not reach the
 * next, and a cleanup names its profile. */
static void test_command_pipe_many(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Many One", &g_a, NULL);
    make_profile("Many Two", &g_a, NULL);
    make_profile("Many Three", &g_c, NULL);   /* no switch message */
    make_profile("Many Four", &g_a, NULL);
    write_switchmsg(&g_a, &g_a_tgt);
    char l2[600], l3[600], l4[600], c4[600], cmd[4000], lines[8192], csv[600];
    snprintf(l2, sizeof l2, "%s/many2.log", g_dir);
    snprintf(l3, sizeof l3, "%s/many3.log", g_dir);
    snprintf(l4, sizeof l4, "%s/many4.log", g_dir);
    snprintf(c4, sizeof c4, "%s/many4.cleanup.log", g_dir);
    snprintf(cmd, sizeof cmd, "update Many Two\t%s\tnot an autodiscover answer\n"
             "update Many Three\t%s\t\n" "update Many Four\t%s\t\n" "cleanup Many Four\t%s\n",
             l2, l3, l4, c4);
    const char *upd[] = { "-Profiles", "Many One", "-SkipAutodiscoverChecking", "-Features", NULL };
    run_with_command(upd, cmd, lines, sizeof lines);
    unsigned bits[8];
    CU_ASSERT_EQUAL_FATAL(exit_lines(lines, bits, 8), 5);   /* the argv's update + 4 commands */
    CU_ASSERT_EQUAL(bits[0], CPUU_SUCCESS);
    CU_ASSERT_EQUAL(bits[1], CPUU_SUCCESS);
    CU_ASSERT_TRUE(bits[2] & CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL(bits[3], CPUU_SUCCESS);               /* Three's failure stayed Three's */
    CU_ASSERT_EQUAL(bits[4], CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Many One", NULL), 10);      /* the argv's -Log */
    snprintf(csv, sizeof csv, "%s/many2.csv", g_dir);
    CU_ASSERT_EQUAL(csv_code_in(csv, "Many Two"), 10);
    CU_ASSERT_EQUAL(csv_code_in(csv, "Many One"), -1);   /* every command has its own log */
    snprintf(csv, sizeof csv, "%s/many3.csv", g_dir);
    CU_ASSERT_NOT_EQUAL(csv_code_in(csv, "Many Three"), 10);
    snprintf(csv, sizeof csv, "%s/many4.csv", g_dir);
    CU_ASSERT_EQUAL(csv_code_in(csv, "Many Four"), 10);
    snprintf(csv, sizeof csv, "%s/many4.cleanup.csv", g_dir);
    CU_ASSERT_EQUAL(csv_code_in(csv, "Many Four"), 14);
    /* Two's handed Autodiscover line was used (and refused) for Two only */
    CU_ASSERT_TRUE(file_has(l2, "CPUU_TARGET_AUTODISCOVER"));
    CU_ASSERT_FALSE(file_has(l4, "CPUU_TARGET_AUTODISCOVER"));
    CU_ASSERT_FALSE(file_has(l4, "Many Two"));
}

/* The switchmsg command (issue 13: switchresmb's worker has its kept
 * engine write a switch message over the engine's source connections):
 * "recreate" writes it (read back: the given target), "look" finds it and
 * fails with SR_E_EXISTS in a "failed" line, a line that is not a command
 * fails alone; each gets its own answer and the engine goes on serving. */
static void test_command_switchmsg(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Sm One", &g_a, NULL);
    write_switchmsg(&g_a, &g_a_tgt);
    char ews[300], cmd[3000], lines[8192];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", g_src.url);
    snprintf(cmd, sizeof cmd,
             "switchmsg recreate\t%s\t%s\t0\t%d\t%s\t%s\t0\tby the test\t1765000000\n"
             "switchmsg look\t%s\t%s\t0\t%d\t%s\t%s\t0\t\t0\n"
             "switchmsg sideways\t%s\n"
             "cleanup\n",
             g_a.smtp, ews, MAPI_SWITCHMSG_CONTEMPORARY, g_a_tgt.smtp, g_a_tgt.legacy_dn,
             g_a.smtp, ews, MAPI_SWITCHMSG_CONTEMPORARY, g_a_tgt.smtp, g_a_tgt.legacy_dn, g_a.smtp);
    const char *upd[] = { "-Profiles", "Sm One", "-SkipAutodiscoverChecking", "-Features", NULL };
    run_with_command(upd, cmd, lines, sizeof lines);
    unsigned bits[8];
    CU_ASSERT_EQUAL_FATAL(exit_lines(lines, bits, 8), 5);   /* the update + 4 commands */
    CU_ASSERT_EQUAL(bits[0], CPUU_SUCCESS);
    CU_ASSERT_EQUAL(bits[1], 0);                            /* written */
    CU_ASSERT_EQUAL(bits[2], CPUU_GLOBAL_ERR);              /* found: "look" refuses */
    CU_ASSERT_EQUAL(bits[3], CPUU_GLOBAL_ERR);              /* not a command */
    CU_ASSERT_EQUAL(bits[4], CPUU_SUCCESS);                 /* the cleanup, still served */
    char want[64];
    snprintf(want, sizeof want, "failed %d %d ", (int)SR_E_EXISTS, (int)SR_CLASS_FINAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "switchmsg: not a command this engine reads"));
    mapi_switchmsg sm;
    CU_ASSERT_EQUAL(read_switchmsg_of(g_a.smtp, &sm), SR_OK);
    CU_ASSERT_STRING_EQUAL(sm.target_smtp ? sm.target_smtp : "", g_a_tgt.smtp);
    CU_ASSERT_STRING_EQUAL(sm.created_by ? sm.created_by : "", "by the test");
    mapi_switchmsg_clear(&sm);
}

/* One engine process for update and cleanup (issue 13): "cleanup <log>" on
 * the command pipe after the update's exit line runs the cleanup mode on the
 * same profile, with the CSV rows of the two processes; EOF just ends. */
static void test_command_pipe_cleanup(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Room Once", &g_a, NULL);
    write_switchmsg(&g_a, &g_a_tgt);
    const char *upd[] = { "-Profiles", "Room Once", "-SkipAutodiscoverChecking", "-Features", NULL };
    char clog[600], ccsv[600], cmd[700], lines[4096], want[64];
    snprintf(clog, sizeof clog, "%s/once.cleanup.log", g_dir);
    snprintf(ccsv, sizeof ccsv, "%s/once.cleanup.csv", g_dir);
    snprintf(cmd, sizeof cmd, "cleanup %s\n", clog);
    CU_ASSERT_EQUAL(run_with_command(upd, cmd, lines, sizeof lines), CPUU_SUCCESS);
    snprintf(want, sizeof want, "exit %u\n", (unsigned)CPUU_SUCCESS);
    const char *first = strstr(lines, want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_NOT_NULL(strstr(first + 1, want));   /* the cleanup's own result */
    CU_ASSERT_EQUAL(csv_last("Room Once", NULL), 10);
    CU_ASSERT_EQUAL(csv_code_in(ccsv, "Room Once"), 14);
    CU_ASSERT_TRUE(file_has(clog, "cleanup mode"));
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    char *bname = mapi_profile_backup_name("Room Once");
    CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), SR_E_NOTFOUND);
    mapi_profile_clear(&p);
    free(bname);
    /* another profile, with only EOF on the pipe: one result, and the backup
     * stays for the fresh cleanup process the parent falls back on */
    make_profile("Room Twice", &g_a, NULL);
    write_switchmsg(&g_a, &g_a_tgt);
    const char *upd2[] = { "-Profiles", "Room Twice", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_with_command(upd2, NULL, lines, sizeof lines), CPUU_SUCCESS);
    first = strstr(lines, want);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    CU_ASSERT_PTR_NULL(strstr(first + 1, "exit "));
    CU_ASSERT_EQUAL(csv_last("Room Twice", NULL), 10);
    bname = mapi_profile_backup_name("Room Twice");
    CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), SR_OK);
    mapi_profile_clear(&p);
    const char *clean[] = { "-Cleanup", "-Profiles", "Room Twice", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, clean), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Twice", NULL), 14);
    mapi_pstore_free(st);
    free(bname);
}

/* The implemented features run through the engine (progress lines, feature
 * backups), and roll back with the profile. */
static void test_features_and_critical(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Room Feat", &g_a, NULL);
    int pfd[2];
    CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
    char fdv[16];
    snprintf(fdv, sizeof fdv, "%d", pfd[1]);
    setenv("CPUU_PROGRESS_FD", fdv, 1);
    const char *a[] = { "-Profiles", "Room Feat", "-SkipAutodiscoverChecking", "-Features", "Delegates",
                        "Rules", "-Critical", "Delegates", "Rules", NULL };
    int rc = run_cpuu(g_ini, a);
    unsetenv("CPUU_PROGRESS_FD");
    close(pfd[1]);
    char lines[8192];
    drain(pfd[0], lines, sizeof lines);
    CU_ASSERT_EQUAL(rc, CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Feat", NULL), 10);
    char want[1024];
    snprintf(want, sizeof want, "openstore begin source %s\nopenstore end\nopenstore begin target %s\n"
             "openstore end\nfeature begin Delegates\nfeature end Delegates\nfeature begin Rules\n"
             "feature end Rules\nfeature begin Delegates\nfeature end Delegates\nfeature begin Rules\n"
             "feature end Rules\nexit 1\n", g_a.smtp, g_a_tgt.smtp);
    /* every feature twice: all reads first, then each one's plan, backup and
     * writes (the recipients of all of them resolved in one batch between) */
    /* "unresolved <Feature> <n>" lines (references kept as they were, for
     * switchresmb's report) come between a feature's begin and end; the rest
     * is the exact sequence */
    char rest[8192] = "";
    int unresolved = 0;
    for (char *save = NULL, *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[64];
        unsigned n;
        if (strncmp(l, "notcarried ", 11) == 0)   /* items the target cannot take */
            continue;
        if (sscanf(l, "unresolved %63s %u", name, &n) == 2) {
            CU_ASSERT_TRUE((!strcmp(name, "Delegates") || !strcmp(name, "Rules")) && n > 0);
            unresolved++;
            continue;
        }
        strncat(rest, l, sizeof rest - strlen(rest) - 2);
        strcat(rest, "\n");
    }
    CU_ASSERT_STRING_EQUAL(rest, want);
    CU_ASSERT_TRUE(unresolved <= 2);
    CU_ASSERT_TRUE(file_has(g_log, "Room Feat: Delegates:"));
    const char *u[] = { "-Undo", "Room Feat", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Feat", NULL), 12);
    CU_ASSERT_TRUE(file_has(g_log, "Room Feat: Rules: restored from its backup"));
    char bdir[700];
    struct stat sb;
    snprintf(bdir, sizeof bdir, "%s/backups/Room%%20Feat", g_store);
    CU_ASSERT_NOT_EQUAL(stat(bdir, &sb), 0);
    /* a Critical feature that cannot be updated: the profile stays as it was */
    make_profile("Room Crit", &g_a, NULL);
    char *before = profile_file("Room%20Crit");
    /* -DryRun: the features are read and planned, nothing is changed */
    const char *dry[] = { "-Profiles", "Room Crit", "-SkipAutodiscoverChecking", "-Features", "Rules",
                          "-DryRun", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, dry), CPUU_CANNOT_START);
    CU_ASSERT_EQUAL(csv_last("Room Crit", NULL), 0);
    CU_ASSERT_TRUE(file_has(g_log, "Room Crit: dry run: profile not changed"));
    CU_ASSERT_TRUE(file_has(g_log, "changed, 3 unresolved, 3 unsupported (dry run)"));
    const char *c[] = { "-Profiles", "Room Crit", "-SkipAutodiscoverChecking", "-Features", "SRS",
                        "-Critical", "SRS", NULL };
    /* a feature this engine has not built is refused on the command line,
     * naming it, before any profile is touched (issue 10) */
    CU_ASSERT_EQUAL(run_cpuu(g_ini, c), CPUU_GLOBAL_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Crit", NULL), 0);
    char out[600];
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    CU_ASSERT_TRUE(file_has(out, "-Features: SRS is not built in this engine"));
    char *after = profile_file("Room%20Crit");
    CU_ASSERT_STRING_EQUAL(after, before);
    free(after);
    free(before);
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    char *bname = mapi_profile_backup_name("Room Crit");
    CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), SR_E_NOTFOUND);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    free(bname);
    /* Autodiscover checking (no -SkipAutodiscoverChecking): 127.0.0.1 is not on src.test */
    const char *d[] = { "-Profiles", "Room Crit", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, d), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Crit", NULL), 18);
    CU_ASSERT_TRUE(file_has(g_log, "is not on a source domain (-SkipAutodiscoverChecking allows it)"));
}

/* -Log: #H, #D, #T and %VAR% in the name; the CSV beside it; both 0600. */
static void test_log_name(void)
{
    char bin[512], pattern[512], want[700], host[256] = "";
    snprintf(bin, sizeof bin, "%s/cpuu", tu_bin());
    snprintf(pattern, sizeof pattern, "%s/%%CPUU_TEST_TAG%%_#H.log", g_dir);
    gethostname(host, sizeof host - 1);
    setenv("CPUU_TEST_TAG", "tag42", 1);
    char *argv[] = { bin, "-INI", g_ini, "-Log", pattern, "-Profiles", "P-nodn", "-Features", "-Silent", NULL };
    CU_ASSERT_EQUAL(tu_run(argv, NULL, 20000), CPUU_SWITCH_ERR);
    unsetenv("CPUU_TEST_TAG");
    snprintf(want, sizeof want, "%s/tag42_%s.log", g_dir, host);
    CU_ASSERT_TRUE(file_has(want, "P-nodn: result 5 PROFILE_NOT_EXCHANGE_SERVICE"));
    struct stat sb;
    CU_ASSERT_EQUAL(stat(want, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 077, 0);
    snprintf(want, sizeof want, "%s/tag42_%s.csv", g_dir, host);
    CU_ASSERT_TRUE(file_has(want, "P-nodn\t5\t5\n"));
    CU_ASSERT_EQUAL(stat(want, &sb), 0);
    CU_ASSERT_EQUAL(sb.st_mode & 077, 0);
}

/* A value of the lab's lab.env into out. */
static void lab_env(const char *key, char *out, size_t len)
{
    snprintf(out, len, "%s", tu_lab_get(&g_lab, key));
}

/* "<profile>: Rules: N seen, M changed": M of the last such line; -1 when none. */
static int rules_changed(const char *profile)
{
    char *t = slurp(g_log), key[200];
    snprintf(key, sizeof key, "%s: Rules: ", profile);
    int changed = -1;
    for (char *p = strstr(t, key); p; p = strstr(p + 1, key)) {
        unsigned seen, ch;
        if (sscanf(p + strlen(key), "%u seen, %u changed", &seen, &ch) == 2)
            changed = (int)ch;
    }
    free(t);
    return changed;
}

/* The source directory (env CPUU_SOURCE_DC...) lets the recipient map find
 * target addresses that ResolveNames on the target cannot; a directory that
 * is down fails the profile with the DC named, but only when a feature
 * needs a lookup: the connection is made on the first one. */
static void test_source_directory(void)
{
    char uri[256], dn[256], pw[128], ca[512];
    lab_env("LAB_LDAP_URI", uri, sizeof uri);
    lab_env("LAB_BIND_DN", dn, sizeof dn);
    lab_env("LAB_PASSWORD", pw, sizeof pw);
    lab_env("LAB_CA", ca, sizeof ca);
    CU_ASSERT_FATAL(uri[0] && dn[0] && pw[0]);
    write_ini(g_ini, g_src.password, NULL);
    const char *a[] = { "-Profiles", "Room Dir", "-SkipAutodiscoverChecking", "-Features", "Rules", NULL };
    const char *u[] = { "-Undo", "Room Dir", NULL };
    make_profile("Room Dir", &g_a, NULL);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SUCCESS);   /* without a directory */
    int without = rules_changed("Room Dir");
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    char *stored = enc(pw);
    setenv("CPUU_SOURCE_DC", uri, 1);
    setenv("CPUU_SOURCE_DC_ACCOUNT", dn, 1);
    setenv("CPUU_SOURCE_DC_PASSWORD", stored, 1);
    setenv("CPUU_SOURCE_DC_CA_FILE", ca, 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SUCCESS);
    int with = rules_changed("Room Dir");
    fprintf(stderr, "\n  [rules written: %d without the source directory, %d with it]\n", without, with);
    CU_ASSERT_TRUE(with > without && without >= 0);
    CU_ASSERT_TRUE(file_has(g_log, "source directory"));
    CU_ASSERT_FALSE(file_has(g_log, pw));
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    /* a directory that does not answer */
    setenv("CPUU_SOURCE_DC", "ldap://127.0.0.1:1", 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Dir", NULL), 11);
    CU_ASSERT_TRUE(file_has(g_log, "Room Dir: source directory ldap://127.0.0.1:1:"));
    /* no feature that looks a recipient up: the directory is never dialled
     * (issue 13: a StartTLS bind per run for nothing), so the dead one does
     * not matter */
    const char *none[] = { "-Profiles", "Room Dir", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, none), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Dir", NULL), 10);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    unsetenv("CPUU_SOURCE_DC");
    unsetenv("CPUU_SOURCE_DC_ACCOUNT");
    unsetenv("CPUU_SOURCE_DC_PASSWORD");
    unsetenv("CPUU_SOURCE_DC_CA_FILE");
    free(stored);
}

/* [TargetAD] (ours): CPUU_TARGET_DC* are read by the same code as the
 * source's.  The lab holds the source organisation only, so as a target
 * directory it answers no target identity: those go on to Exchange, and the
 * update writes what it writes without one.  A target directory that does
 * not answer, or a password this host cannot decrypt, fails the profile
 * naming it; its password never reaches the log. */
static void test_target_directory_env(void)
{
    char uri[256], dn[256], pw[128], ca[512];
    lab_env("LAB_LDAP_URI", uri, sizeof uri);
    lab_env("LAB_BIND_DN", dn, sizeof dn);
    lab_env("LAB_PASSWORD", pw, sizeof pw);
    lab_env("LAB_CA", ca, sizeof ca);
    CU_ASSERT_FATAL(uri[0] && dn[0] && pw[0]);
    write_ini(g_ini, g_src.password, NULL);
    const char *a[] = { "-Profiles", "Room TDir", "-SkipAutodiscoverChecking", "-Features", "Rules", NULL };
    const char *u[] = { "-Undo", "Room TDir", NULL };
    make_profile("Room TDir", &g_a, NULL);
    char *stored = enc(pw);
    setenv("CPUU_SOURCE_DC", uri, 1);
    setenv("CPUU_SOURCE_DC_ACCOUNT", dn, 1);
    setenv("CPUU_SOURCE_DC_PASSWORD", stored, 1);
    setenv("CPUU_SOURCE_DC_CA_FILE", ca, 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SUCCESS);
    int without = rules_changed("Room TDir");
    CU_ASSERT_FALSE(file_has(g_log, "target directory"));
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    setenv("CPUU_TARGET_DC", uri, 1);
    setenv("CPUU_TARGET_DC_ACCOUNT", dn, 1);
    setenv("CPUU_TARGET_DC_PASSWORD", stored, 1);
    setenv("CPUU_TARGET_DC_CA_FILE", ca, 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SUCCESS);
    char want[400];
    snprintf(want, sizeof want, "target directory %s for the recipient map", uri);
    CU_ASSERT_TRUE(file_has(g_log, want));
    CU_ASSERT_EQUAL(rules_changed("Room TDir"), without);
    CU_ASSERT_FALSE(file_has(g_log, pw));
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    /* a target directory that does not answer */
    setenv("CPUU_TARGET_DC", "ldap://127.0.0.1:1", 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room TDir", NULL), 11);
    CU_ASSERT_TRUE(file_has(g_log, "Room TDir: target directory ldap://127.0.0.1:1:"));
    /* a password that is not in our stored form: named, never shown */
    setenv("CPUU_TARGET_DC", uri, 1);
    setenv("CPUU_TARGET_DC_PASSWORD", "plain-Not-0urs", 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SWITCH_ERR);
    CU_ASSERT_TRUE(file_has(g_log, "CPUU_TARGET_DC_PASSWORD: "));
    CU_ASSERT_FALSE(file_has(g_log, "plain-Not-0urs"));
    const char *vars[] = { "CPUU_SOURCE_DC", "CPUU_SOURCE_DC_ACCOUNT", "CPUU_SOURCE_DC_PASSWORD",
                           "CPUU_SOURCE_DC_CA_FILE", "CPUU_TARGET_DC", "CPUU_TARGET_DC_ACCOUNT",
                           "CPUU_TARGET_DC_PASSWORD", "CPUU_TARGET_DC_CA_FILE", NULL };
    for (int i = 0; vars[i]; i++)
        unsetenv(vars[i]);
    free(stored);
}

/* An admin account with Full Access but without the impersonation right:
 * the engine falls back to explicit access on both sides. */
static void test_explicit_access(void)
{
    char seed[512], noimp[512];
    snprintf(seed, sizeof seed, "%s/src.xml", g_dir);
    snprintf(noimp, sizeof noimp, "%s/src-noimp.xml", g_dir);
    char *t = slurp(seed), *p = strstr(t, "impersonation=\"1\"");
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    p[15] = '0';
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(sr_write_file_atomic(noimp, t, strlen(t), 0600, 0, &e), SR_OK);
    free(t);
    inst ni = { 0 };
    CU_ASSERT_EQUAL_FATAL(start_exsim(&ni, "noimp", noimp), 0);
    snprintf(ni.user, sizeof ni.user, "%s", g_src.user);
    snprintf(ni.password, sizeof ni.password, "%s", g_src.password);
    mapi_net *net;
    mapi_session *s = session_on(&ni, g_a.smtp, 0, &net);
    mapi_switchmsg w = { .version = MAPI_SWITCHMSG_CONTEMPORARY, .target_smtp = g_a_tgt.smtp,
                         .target_legacy_dn = g_a_tgt.legacy_dn, .created_by = "test_cpuu_engine" };
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 1, &e), SR_OK);
    mapi_session_free(s);
    mapi_net_free(net);
    char ini[512], extra[256];
    snprintf(ini, sizeof ini, "%s/noimp.ini", g_dir);
    snprintf(extra, sizeof extra, "AutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\n", ni.url);
    write_ini(ini, g_src.password, NULL);
    char *txt = slurp(ini), *line = strstr(txt, "AutodiscoverSourceURL=");
    char *end = line ? strchr(line, '\n') : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    char *fixed = sr_asprintf("%.*s%s%s", (int)(line - txt), txt, extra, end + 1);
    CU_ASSERT_EQUAL(sr_write_file_atomic(ini, fixed, strlen(fixed), 0600, 0, &e), SR_OK);
    free(fixed);
    free(txt);
    make_profile("Room Explicit", &g_a, NULL);
    const char *a[] = { "-Profiles", "Room Explicit", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(ini, a), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Explicit", NULL), 10);
    CU_ASSERT_TRUE(file_has(g_log, "trying explicit (Full Access) access"));
    tu_stop(ni.pid, 5000);
    /* cleanup limited by -Profiles (as switchresmb runs it) */
    const char *c[] = { "-Cleanup", "-Profiles", "Room Explicit", "Nobody", NULL };
    CU_ASSERT_EQUAL(run_cpuu(ini, c), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Explicit", NULL), 14);
    CU_ASSERT_EQUAL(csv_last("Nobody", NULL), 0);
}

/* Ctrl-C (SIGINT) during a run: the profile in progress ends, the others are
 * not started, exit bit 8. */
static void test_user_abort(void)
{
    char seed[512], ini[512], extra[256];
    snprintf(seed, sizeof seed, "%s/src.xml", g_dir);
    inst slow = { 0 };
    CU_ASSERT_EQUAL_FATAL(start_exsim_rtt(&slow, "slow", seed, "200"), 0);
    snprintf(ini, sizeof ini, "%s/slow.ini", g_dir);
    snprintf(extra, sizeof extra, "AutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\n", slow.url);
    write_ini(ini, g_src.password, NULL);
    char *txt = slurp(ini), *line = strstr(txt, "AutodiscoverSourceURL="), *end = line ? strchr(line, '\n') : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(end);
    char *fixed = sr_asprintf("%.*s%s%s", (int)(line - txt), txt, extra, end + 1);
    sr_err e;
    CU_ASSERT_EQUAL(sr_write_file_atomic(ini, fixed, strlen(fixed), 0600, 0, &e), SR_OK);
    free(fixed);
    free(txt);
    make_profile("Slow 1", &g_c, NULL);
    make_profile("Slow 2", &g_c, NULL);
    make_profile("Slow 3", &g_c, NULL);
    int pfd[2];
    CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
    char fdv[16], bin[512], out[512];
    snprintf(fdv, sizeof fdv, "%d", pfd[1]);
    setenv("CPUU_PROGRESS_FD", fdv, 1);
    snprintf(bin, sizeof bin, "%s/cpuu", tu_bin());
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    char *argv[] = { bin, "-INI", ini, "-Log", g_log, "-Profiles", "Slow 1", "Slow 2", "Slow 3",
                     "-SkipAutodiscoverChecking", "-Features", NULL };
    pid_t pid = tu_spawn(argv, out);
    unsetenv("CPUU_PROGRESS_FD");
    close(pfd[1]);
    /* wait (bounded) until the first profile's source store is being opened */
    char buf[256];
    struct pollfd pw = { .fd = pfd[0], .events = POLLIN };
    ssize_t got = poll(&pw, 1, 10000) == 1 ? read(pfd[0], buf, sizeof buf - 1) : -1;
    CU_ASSERT_TRUE(got > 0);
    kill(pid, SIGINT);
    int status = -1;
    for (int i = 0; i < 300 && waitpid(pid, &status, WNOHANG) == 0; i++)   /* 15 s at most */
        usleep(50 * 1000);
    if (status == -1)
        status = tu_stop(pid, 2000);
    char rest[1024];
    drain(pfd[0], rest, sizeof rest);
    CU_ASSERT_TRUE(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), CPUU_USER_ABORT | CPUU_NO_SWITCH_MSG);
    CU_ASSERT_PTR_NOT_NULL(strstr(rest, "exit 10\n"));
    CU_ASSERT_EQUAL(csv_last("Slow 1", NULL), 0);
    CU_ASSERT_EQUAL(csv_last("Slow 2", NULL), -1);
    CU_ASSERT_EQUAL(csv_last("Slow 3", NULL), -1);
    CU_ASSERT_TRUE(file_has(g_log, "aborted by the user: 2 profile(s) left unprocessed"));
    tu_stop(slow.pid, 5000);
}

/* <dir>/<smtp>.xml from the fixture template. */
static void write_local_pox(const char *dir, const mbx *m, const inst *in, const char *domain)
{
    char tmpl[600], path[700], ews[200], server[200];
    snprintf(tmpl, sizeof tmpl, "%s/tests/data/cpuu_engine/pox-settings.xml", tu_root());
    snprintf(path, sizeof path, "%s/%s.xml", dir, m->smtp);
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", in->url);
    snprintf(server, sizeof server, "%s@%s", m->guid, domain);
    char *t = slurp(tmpl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(strstr(t, "@EWSURL@"));
    const char *keys[] = { "@SMTP@", "@LEGACYDN@", "@SERVER@", "@EWSURL@" };
    const char *vals[] = { m->smtp, m->legacy_dn, server, ews };
    for (int k = 0; k < 4; k++)
        for (char *p; (p = strstr(t, keys[k])) != NULL;) {
            char *n = sr_asprintf("%.*s%s%s", (int)(p - t), t, vals[k], p + strlen(keys[k]));
            free(t);
            t = n;
        }
    sr_err e;
    CU_ASSERT_EQUAL(sr_write_file_atomic(path, t, strlen(t), 0600, 0, &e), SR_OK);
    free(t);
}

/* UseLocalAutodiscoverXMLs=1: both sides answered from files beside CPUU.ini. */
static void test_local_autodiscover(void)
{
    char dir[600], ini[700];
    snprintf(dir, sizeof dir, "%s/localad", g_dir);
    CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
    write_local_pox(dir, &g_a, &g_src, "src.test");
    write_local_pox(dir, &g_a_tgt, &g_tgt, "tgt.test");
    snprintf(ini, sizeof ini, "%s/CPUU.ini", dir);
    char *ps = enc(g_src.password), *pt = enc(g_tgt.password);
    char *text = sr_asprintf("[Parameters]\nAdmin=%s\nPassword=%s\nAdminTrg=%s\nPasswordTrg=%s\n"
                             "UseLocalAutodiscoverXMLs=1\n", g_src.user, ps, g_tgt.user, pt);
    sr_err e;
    CU_ASSERT_EQUAL(sr_write_file_atomic(ini, text, strlen(text), 0600, 0, &e), SR_OK);
    free(text);
    free(ps);
    free(pt);
    write_switchmsg(&g_a, &g_a_tgt);
    make_profile("Room Local", &g_a, NULL);
    const char *a[] = { "-Profiles", "Room Local", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(ini, a), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Local", NULL), 10);
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, "Room Local", &p, &e), SR_OK);
    char want[800];
    snprintf(want, sizeof want, "%s/%s.xml", dir, g_a_tgt.smtp);
    CU_ASSERT_TRUE(p.accounts[0].autodiscover_url && !strcmp(p.accounts[0].autodiscover_url, want));
    snprintf(want, sizeof want, "%s@tgt.test", g_a_tgt.guid);
    CU_ASSERT_STRING_EQUAL(p.accounts[0].home_server, want);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    /* a mailbox without a file: no Autodiscover answer, named in the log */
    make_profile("Room NoFile", &g_c, NULL);
    const char *b[] = { "-Profiles", "Room NoFile", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(ini, b), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room NoFile", NULL), 4);
    snprintf(want, sizeof want, "%s.xml", g_c.smtp);
    CU_ASSERT_TRUE(file_has(g_log, want));
}

/* -DefaultProfile, -UndoAll, -UndoDefaultProfile. */
static void test_default_profile_and_undo_all(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Room Default", &g_a, NULL);
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, "Room Default", &p, &e), SR_OK);
    p.is_default = 1;
    CU_ASSERT_EQUAL(mapi_pstore_update(st, &p, &e), SR_OK);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    char *before = profile_file("Room%20Default");
    const char *a[] = { "-DefaultProfile", "-SkipAutodiscoverChecking", "-Features", "-NameTrgStoreAsSrc",
                        NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Default", NULL), 10);
    st = store();
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, "Room Default", &p, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(p.accounts[0].display_name, "Source store");   /* -NameTrgStoreAsSrc */
    CU_ASSERT_STRING_EQUAL(p.accounts[0].smtp, g_a_tgt.smtp);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    const char *u[] = { "-UndoAll", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Default", NULL), 12);
    char *after = profile_file("Room%20Default");
    CU_ASSERT_STRING_EQUAL(after, before);
    free(after);
    free(before);
    /* nothing left to undo: -UndoAll finds no backup, -UndoDefaultProfile reports 3 */
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_CANNOT_START);
    const char *ud[] = { "-UndoDefaultProfile", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, ud), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Default", NULL), 3);
}

/* Profile checks that need no network. */
static void add_profile(mapi_pstore *st, const char *name, int accounts, int offline, const char *svc,
                        int with_dn)
{
    mapi_profile p = { 0 };
    sr_err e;
    p.name = sr_strdup(name);
    for (int i = 0; i < accounts; i++) {
        mapi_account *a = mapi_profile_add_account(&p);
        a->smtp = sr_asprintf("acct%d@%s", i, i ? "other.test" : "src.test");
        a->legacy_dn = with_dn ? sr_strdup("/o=SourceOrg/cn=x") : NULL;
        a->home_server = sr_strdup("mail.src.test");
        a->offline = offline;
    }
    if (svc)
        mapi_profile_add_service(&p, svc);
    CU_ASSERT_EQUAL(mapi_pstore_create(st, &p, &e), SR_OK);
    mapi_profile_clear(&p);
}

static void test_profile_checks(void)
{
    mapi_pstore *st = store();
    add_profile(st, "P-none", 0, 0, NULL, 1);
    add_profile(st, "P-multi", 2, 0, NULL, 1);
    add_profile(st, "P-nodn", 1, 0, NULL, 0);
    add_profile(st, "P-offline", 1, 1, NULL, 1);
    add_profile(st, "P-svc", 1, 0, "FOO BAR", 1);
    sr_err e;
    CU_ASSERT_EQUAL(mapi_pstore_backup(st, "P-none", &e), SR_OK);
    mapi_pstore_free(st);
    write_ini(g_ini, g_src.password, NULL);
    const char *a[] = { "-Profiles", "P-none", "P-multi", "P-nodn", "P-offline", "P-svc",
                        "P-none" MAPI_PROFILE_BACKUP_SUFFIX, "P-missing", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("P-none", NULL), 7);
    CU_ASSERT_EQUAL(csv_last("P-multi", NULL), 23);
    CU_ASSERT_EQUAL(csv_last("P-nodn", NULL), 5);
    CU_ASSERT_EQUAL(csv_last("P-offline", NULL), 6);
    CU_ASSERT_EQUAL(csv_last("P-svc", NULL), 8);
    CU_ASSERT_EQUAL(csv_last("P-none" MAPI_PROFILE_BACKUP_SUFFIX, NULL), 1);
    CU_ASSERT_EQUAL(csv_last("P-missing", NULL), 4);
    CU_ASSERT_TRUE(file_has(g_log, "contains multiple Exchange accounts"));
    /* ProcessedDomainsFQDNs: the primary account's domain decides */
    char ini2[512];
    snprintf(ini2, sizeof ini2, "%s/domains.ini", g_dir);
    write_ini(ini2, g_src.password, "ProcessedDomainsFQDNs=other.test\n");
    const char *b[] = { "-Profiles", "P-multi", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(ini2, b), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("P-multi", NULL), 24);
    /* cleanup keeps the backup of a profile that was not updated */
    const char *c[] = { "-Cleanup", "-Profiles", "P-none", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, c), CPUU_CANNOT_START);
    CU_ASSERT_EQUAL(csv_last("P-none", NULL), 0);
    CU_ASSERT_TRUE(file_has(g_log, "P-none: not updated successfully: backups kept for a rollback"));
    st = store();
    mapi_profile p = { 0 };
    char *bname = mapi_profile_backup_name("P-none");
    CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), SR_OK);
    mapi_profile_clear(&p);
    free(bname);
    mapi_pstore_free(st);
}

/* No -Profiles: every profile of the store, backups reported as 1,
 * temporary profiles of other runs left alone. */
static void test_all_profiles(void)
{
    mapi_pstore *st = store();
    mapi_profile t = { 0 };
    sr_err e;
    t.name = sr_strdup("x");
    mapi_account *a = mapi_profile_add_account(&t);
    a->smtp = sr_strdup(g_c.smtp);
    a->legacy_dn = sr_strdup(g_c.legacy_dn);
    a->home_server = sr_strdup("mail.src.test");
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_create_temp(st, &t, NULL, &e), SR_OK);
    mapi_pstore_free(st);
    write_ini(g_ini, g_src.password, NULL);
    const char *all[] = { "-SkipAutodiscoverChecking", "-Features", NULL };
    int rc = run_cpuu(g_ini, all);
    CU_ASSERT_TRUE(rc & CPUU_SWITCH_ERR);   /* the broken P-* profiles */
    CU_ASSERT_TRUE(rc & CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL(csv_last("P-none" MAPI_PROFILE_BACKUP_SUFFIX, NULL), 1);
    CU_ASSERT_EQUAL(csv_last("Room Two", NULL), 2);
    CU_ASSERT_EQUAL(csv_last(t.name, NULL), -1);
    CU_ASSERT_TRUE(file_has(g_log, "temporary profile of another run: not selected"));
    mapi_profile_clear(&t);
}

static void test_config_errors(void)
{
    char ini[512], out[512];
    snprintf(ini, sizeof ini, "%s/broken.ini", g_dir);
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    write_ini(ini, g_src.password, "Features=Rules\nSkip=Delegates\n");
    const char *a[] = { "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(ini, a), CPUU_GLOBAL_ERR);
    CU_ASSERT_TRUE(file_has(out, "broken.ini:"));
    CU_ASSERT_TRUE(file_has(out, "Skip"));
    /* an unknown parameter and an unknown feature on the command line */
    const char *b[] = { "-Bogus", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, b), CPUU_GLOBAL_ERR);
    CU_ASSERT_TRUE(file_has(out, "unknown parameter '-Bogus'"));
    const char *c[] = { "-Features", "Teleport", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, c), CPUU_GLOBAL_ERR);
    CU_ASSERT_TRUE(file_has(out, "unknown feature 'Teleport'"));
    const char *d[] = { "-UndoAll", "-Cleanup", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, d), CPUU_GLOBAL_ERR);
    /* a log that cannot be written: bit 64, the run goes on with the log on stderr */
    char badlog[600];
    snprintf(badlog, sizeof badlog, "%s/no-such-dir/x.log", g_dir);
    const char *f[] = { "-Log", badlog, "-Profiles", "P-nodn", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, f), CPUU_FAILED_TO_WRITE_LOG | CPUU_SWITCH_ERR);
    CU_ASSERT_TRUE(file_has(out, "cannot write the log file"));
    CU_ASSERT_TRUE(file_has(out, "P-nodn: result 5"));
    /* a missing INI */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/none.ini", g_dir);
    const char *e[] = { NULL };
    CU_ASSERT_EQUAL(run_cpuu(missing, e), CPUU_GLOBAL_ERR);
    CU_ASSERT_TRUE(file_has(out, "none.ini"));
}


/* Exchange Online with EWS disabled for the app answers 403 on
 * /EWS/Exchange.asmx: an Office 365 target (TargetIsO365) reports the
 * block with what to do, CSV 18 and CPUU_GLOBAL_ERR, and is probed once per
 * run; an on-premises target's 403 stays a plain failure. */
static void write_switchmsg_o365(const mbx *m, const mbx *t, int o365)
{
    mapi_net *net;
    mapi_session *s = src_session(m->smtp, &net);
    mapi_switchmsg w = { .version = MAPI_SWITCHMSG_CONTEMPORARY, .target_smtp = (char *)t->smtp,
                         .target_legacy_dn = (char *)t->legacy_dn, .created_by = "test_cpuu_engine",
                         .created_at = 1764000000, .target_is_o365 = o365 };
    sr_err e;
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 1, &e), SR_OK);
    mapi_session_free(s);
    mapi_net_free(net);
}

static long sim_event(const inst *in, const char *name)
{
    char *j = tu_http(in->url, "/_sim/stats", 0), key[64];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *at = j ? strstr(j, key) : NULL;
    long n = at ? atol(at + strlen(key)) : 0;
    free(j);
    return n;
}

static void sim_set(const inst *in, const char *query)
{
    char path[256];
    snprintf(path, sizeof path, "/_sim/config?%s", query);
    char *r = tu_http(in->url, path, 1);
    CU_ASSERT_PTR_NOT_NULL(r);
    free(r);
}

/* The tenant's token endpoint (tests/py/token_endpoint.py) for app client_id
 * on 127.0.0.1; it hands out the target lab account's bearer token, so exsim
 * takes the logon and the block comes after it, as in Exchange Online.
 * Returns its PID (stopped by the caller), fills url; -1 when it did not start. */
static pid_t start_token_endpoint(const char *client_id, const char *secret, char *url, size_t n)
{
    char org[512], sec[512], port_s[16], log[512];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(sec, sizeof sec, "%s/client.secret", g_dir);
    snprintf(log, sizeof log, "%s/token.log", g_dir);
    sr_err e;
    if (sr_write_file_atomic(sec, secret, strlen(secret), 0600, 0, &e) != SR_OK)
        return -1;
    int port = tu_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    char script[4096];
    snprintf(script, sizeof script, "%s/tests/py/token_endpoint.py", tu_root());
    char *argv[] = { "/usr/bin/python3", script, org, "target", port_s, (char *)client_id, sec, NULL };
    pid_t pid = port > 0 ? tu_spawn(argv, log) : -1;
    if (pid > 0 && tu_wait_port(port, 10000) != 0) {
        tu_stop(pid, 3000);
        return -1;
    }
    snprintf(url, n, "http://127.0.0.1:%d/tenant-0001/oauth2/v2.0/token", port);
    return pid;
}

static void test_ews_blocked(void)
{
    const char *app = "5f3c9a1e-7b2d-4e8f-9a06-c1d2e3f4a5b6", *secret = "lab~Cl1ent.Secret-0001";
    char token_url[128], grants[600];
    g_tok = start_token_endpoint(app, secret, token_url, sizeof token_url);
    CU_ASSERT_FATAL(g_tok > 0);
    snprintf(grants, sizeof grants, "%s/client.secret.grants", g_dir);
    char *es = enc(secret);
    /* EWS mode: the block is reported (Auto would move on to Graph) */
    char *oauth = sr_asprintf("ClientId=%s\nClientSecret=%s\nTokenURL=%s\nProtocolTrg=EWS\n", app,
                              es, token_url);
    write_ini(g_ini, g_src.password, oauth);
    free(oauth);
    free(es);
    make_profile("Blocked One", &g_a, NULL);
    make_profile("Blocked Two", &g_a, NULL);
    write_switchmsg_o365(&g_a, &g_a_tgt, 1);
    sim_set(&g_tgt, "ews_blocked=1");
    long before = sim_event(&g_tgt, "ews_blocked");
    const char *upd[] = { "-Profiles", "Blocked One", "Blocked Two", "-SkipAutodiscoverChecking",
                          "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd), CPUU_SWITCH_ERR | CPUU_GLOBAL_ERR);
    CU_ASSERT_EQUAL(csv_last("Blocked One", NULL), CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE);
    CU_ASSERT_EQUAL(csv_last("Blocked Two", NULL), CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE);
    CU_ASSERT_TRUE(file_has(g_log, "EWS is blocked for this app in the target tenant"));
    CU_ASSERT_TRUE(file_has(g_log, "Set-OrganizationConfig -EwsEnabled:$true"));
    CU_ASSERT_TRUE(file_has(g_log, "-EwsAllowedAppIDs"));
    CU_ASSERT_TRUE(file_has(g_log, "writes the whole list"));
    CU_ASSERT_TRUE(file_has(g_log, "24 h"));
    CU_ASSERT_TRUE(file_has(g_log, "2027-04-01"));
    CU_ASSERT_TRUE(file_has(g_log, "Microsoft Graph"));
    CU_ASSERT_TRUE(file_has(g_log, "not asked again"));
    /* the block names the app the admin must allow, and the token was real */
    char *named = sr_asprintf("(app id %s)", app), *allow = sr_asprintf(",%s\"", app);
    CU_ASSERT_TRUE(file_has(g_log, named));
    CU_ASSERT_TRUE(file_has(g_log, allow));
    CU_ASSERT_FALSE(file_has(g_log, secret));
    CU_ASSERT_TRUE(tu_exists(grants));
    free(named);
    free(allow);
    /* one probe for the run (exsim counts a block only after a valid bearer
     * token: a refused one gets 401); the second profile is answered from it */
    CU_ASSERT_EQUAL(sim_event(&g_tgt, "ews_blocked") - before, 1);
    CU_ASSERT_EQUAL(temp_profiles(), 0);
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, "Blocked One", &p, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(p.accounts[0].smtp, g_a.smtp);   /* untouched */
    CU_ASSERT_EQUAL(p.status.updated, 0);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);

    /* an on-premises target (no O365 flag, a loopback host): a 403 is no block */
    write_switchmsg_o365(&g_a, &g_a_tgt, 0);
    const char *one[] = { "-Profiles", "Blocked One", "-SkipAutodiscoverChecking", "-Features", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, one), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Blocked One", NULL), CPUU_RC_MODIFYING_FAILED);
    sim_set(&g_tgt, "reset=1");
    write_switchmsg(&g_a, &g_a_tgt);
    tu_stop(g_tok, 5000);
    g_tok = -1;
    write_ini(g_ini, g_src.password, NULL);
}

/* graph_fake.py's state: {rules, perms, settings, writes} by mailbox. */
static json_t *fake_state(const char *base, const char *part, const char *mbx_lc)
{
    char *body = tu_http(base, "/_fake/state", 0);
    json_t *all = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    json_t *v = json_incref(json_object_get(json_object_get(all, part), mbx_lc));
    json_decref(all);
    return v;
}

static int count_lines(const char *path, const char *needle)
{
    char *s = slurp(path);
    int n = 0;
    for (const char *p = s; p && (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(s);
    return n;
}

/* Issue 17 §3: an Office 365 target over Microsoft Graph (ProtocolTrg=Graph)
 * against tests/py/graph_fake.py: a Critical feature Graph cannot carry
 * fails the profile and the others are taken back; Rules and Delegates
 * written (no EWS request reaches the target), JSON backups beside the
 * others, a second run writes nothing, Favorites reported as impossible
 * without EWS, and rollback puts the target back as it was. */
#define GRAPH_APP "0b6f2c4e-1d3a-4f5b-8c7d-9e0f1a2b3c4d"
#define GRAPH_SECRET "lab~Graph.Secret-0002"

/* graph_fake.py for GRAPH_APP with the target mailbox g_a_tgt (g_gf); base
 * its URL, mb the mailbox as its state names it.  0, or -1 when it did not start. */
static int start_graph_fake(char *base, size_t nb, char *mb, size_t nm)
{
    char sec[600], log[600], port_s[16], script[600];
    snprintf(sec, sizeof sec, "%s/graph.secret", g_dir);
    snprintf(log, sizeof log, "%s/graph_fake.log", g_dir);
    snprintf(script, sizeof script, "%s/tests/py/graph_fake.py", tu_root());
    sr_err e;
    if (sr_write_file_atomic(sec, GRAPH_SECRET, strlen(GRAPH_SECRET), 0600, 0, &e) != SR_OK)
        return -1;
    int port = tu_free_port();
    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(base, nb, "http://127.0.0.1:%d", port);
    size_t i;
    for (i = 0; g_a_tgt.smtp[i] && i < nm - 1; i++)
        mb[i] = (char)tolower((unsigned char)g_a_tgt.smtp[i]);
    mb[i] = 0;
    char *argv[] = { "/usr/bin/python3", script, port_s, GRAPH_APP, sec, (char *)g_a_tgt.smtp, NULL };
    g_gf = port > 0 ? tu_spawn(argv, log) : -1;
    return g_gf > 0 && tu_wait_port(port, 10000) == 0 ? 0 : -1;
}

static void test_graph_target(void)
{
    const char *app = GRAPH_APP, *secret = GRAPH_SECRET;
    char base[64], mb[256];
    size_t i;
    CU_ASSERT_FATAL(start_graph_fake(base, sizeof base, mb, sizeof mb) == 0);
    json_t *perms0 = fake_state(base, "perms", mb);   /* Outlook's own entry only */
    CU_ASSERT_EQUAL(json_array_size(perms0), 1);
    /* the source directory maps the delegates (no EWS ResolveNames on a Graph target) */
    char uri[256], dn[256], pw[128], ca[512];
    lab_env("LAB_LDAP_URI", uri, sizeof uri);
    lab_env("LAB_BIND_DN", dn, sizeof dn);
    lab_env("LAB_PASSWORD", pw, sizeof pw);
    lab_env("LAB_CA", ca, sizeof ca);
    char *stored = enc(pw);
    setenv("CPUU_SOURCE_DC", uri, 1);
    setenv("CPUU_SOURCE_DC_ACCOUNT", dn, 1);
    setenv("CPUU_SOURCE_DC_PASSWORD", stored, 1);
    setenv("CPUU_SOURCE_DC_CA_FILE", ca, 1);
    char *es = enc(secret);
    char *extra = sr_asprintf("ClientId=%s\nClientSecret=%s\nTokenURL=%s/token\nGraphURL=%s\n"
                              "ProtocolTrg=Graph\n", app, es, base, base);
    write_ini(g_ini, g_src.password, extra);
    free(extra);
    free(es);
    make_profile("Room Graph", &g_a, NULL);
    make_profile("Room Graph Again", &g_a, NULL);
    write_switchmsg_o365(&g_a, &g_a_tgt, 1);
    long tgt_before = sim_event(&g_tgt, "requests_total");
    /* a Critical feature Graph cannot carry fails the profile before anything
     * is written (every feature reads before any writes) */
    make_profile("Room Graph Crit", &g_a, NULL);
    const char *crit[] = { "-Profiles", "Room Graph Crit", "-SkipAutodiscoverChecking", "-Features",
                           "Rules", "Favorites", "-Critical", "Favorites", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, crit), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Graph Crit", NULL), CPUU_RC_MODIFYING_FAILED);
    CU_ASSERT_TRUE(file_has(g_log, "Room Graph Crit: Favorites: not carried to"));
    CU_ASSERT_TRUE(file_has(g_log, "Critical: profile not updated"));
    json_t *rules0 = fake_state(base, "rules", mb), *wc = fake_state(base, "writes", mb);
    CU_ASSERT_EQUAL(json_array_size(rules0), 0);
    CU_ASSERT_EQUAL(json_integer_value(wc), 0);   /* nothing written, nothing to take back */
    json_decref(rules0);
    json_decref(wc);
    const char *upd[] = { "-Profiles", "Room Graph", "-SkipAutodiscoverChecking", "-Features",
                          "Delegates", "Rules", "Favorites", NULL };
    int pfd[2];
    CU_ASSERT_EQUAL_FATAL(pipe(pfd), 0);
    char fdv[16], lines[8192];
    snprintf(fdv, sizeof fdv, "%d", pfd[1]);
    setenv("CPUU_PROGRESS_FD", fdv, 1);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd), CPUU_SUCCESS);
    unsetenv("CPUU_PROGRESS_FD");
    close(pfd[1]);
    drain(pfd[0], lines, sizeof lines);
    /* switchresmb's report line names what the target could not take */
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "notcarried Favorites all\n"));
    CU_ASSERT_EQUAL(csv_last("Room Graph", NULL), 10);
    CU_ASSERT_EQUAL(sim_event(&g_tgt, "requests_total"), tgt_before);   /* no EWS to the target */
    CU_ASSERT_TRUE(file_has(g_log, "via Microsoft Graph (ProtocolTrg=Graph)"));
    CU_ASSERT_TRUE(file_has(g_log, "Room Graph: Favorites: not carried to"));
    CU_ASSERT_TRUE(file_has(g_log, "not possible on Exchange Online without EWS"));
    /* items: as many rules and delegates on the target as the engine planned */
    json_t *rules = fake_state(base, "rules", mb), *perms = fake_state(base, "perms", mb);
    int created = count_lines(g_log, "Room Graph: Rules: plan: create rule");
    int added = count_lines(g_log, "Room Graph: Delegates: plan: add ");
    CU_ASSERT_TRUE(created > 0);
    CU_ASSERT_EQUAL((int)json_array_size(rules), created);
    CU_ASSERT_TRUE(added > 0);
    CU_ASSERT_EQUAL((int)json_array_size(perms), 1 + added);
    for (i = 1; i < json_array_size(perms); i++) {
        const char *role = json_string_value(json_object_get(json_array_get(perms, i), "role"));
        CU_ASSERT_TRUE(role && (!strncmp(role, "delegateWith", 12) || !strcmp(role, "read")));
    }
    json_t *w1 = fake_state(base, "writes", mb);
    CU_ASSERT_TRUE(json_integer_value(w1) >= created + added);
    /* the backups, as JSON, beside the others */
    char bk[700];
    snprintf(bk, sizeof bk, "%s/backups/Room%%20Graph/Rules.target.json", g_store);
    CU_ASSERT_TRUE(tu_exists(bk));
    snprintf(bk, sizeof bk, "%s/backups/Room%%20Graph/Delegates.target.json", g_store);
    CU_ASSERT_TRUE(tu_exists(bk));
    /* the same source again (another profile of the mailbox): nothing to write */
    const char *again[] = { "-Profiles", "Room Graph Again", "-SkipAutodiscoverChecking", "-Features",
                            "Delegates", "Rules", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, again), CPUU_SUCCESS);
    json_t *w2 = fake_state(base, "writes", mb);
    CU_ASSERT_TRUE(json_equal(w1, w2));
    CU_ASSERT_TRUE(file_has(g_log, "source rules; 0 to write to the target over Microsoft Graph"));
    /* rollback: the target as it was before the first run */
    const char *u[] = { "-Undo", "Room Graph", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Graph", NULL), 12);
    CU_ASSERT_TRUE(file_has(g_log, "Room Graph: Rules: restored from its backup"));
    CU_ASSERT_TRUE(file_has(g_log, "Room Graph: Delegates: restored from its backup"));
    json_t *rules3 = fake_state(base, "rules", mb), *perms3 = fake_state(base, "perms", mb);
    CU_ASSERT_EQUAL(json_array_size(rules3), 0);
    CU_ASSERT_TRUE(json_equal(perms3, perms0));
    json_t *set3 = fake_state(base, "settings", mb);   /* the fake's default again */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(set3, "delegateMeetingMessageDeliveryOptions")),
                           "sendToDelegateAndInformationToPrincipal");
    json_decref(set3);
    CU_ASSERT_EQUAL(sim_event(&g_tgt, "requests_total"), tgt_before);
    /* Graph reaches Exchange Online only: an on-premises target is refused */
    write_switchmsg_o365(&g_a, &g_a_tgt, 0);
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd), CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Room Graph", NULL), CPUU_RC_MODIFYING_FAILED);
    CU_ASSERT_TRUE(file_has(g_log, "Microsoft Graph reaches Exchange Online only"));
    unsetenv("CPUU_SOURCE_DC");
    unsetenv("CPUU_SOURCE_DC_ACCOUNT");
    unsetenv("CPUU_SOURCE_DC_PASSWORD");
    unsetenv("CPUU_SOURCE_DC_CA_FILE");
    free(stored);
    write_switchmsg(&g_a, &g_a_tgt);
    write_ini(g_ini, g_src.password, NULL);
    json_decref(rules);
    json_decref(perms);
    json_decref(rules3);
    json_decref(perms3);
    json_decref(perms0);
    json_decref(w1);
    json_decref(w2);
    tu_stop(g_gf, 5000);
    g_gf = -1;
}

/* issue 11: a throttling storm of short back-offs.  The source answers its
 * next 30 EWS requests with ErrorServerBusy, BackOffMilliseconds=100: more
 * answers than the transport's default 6 retries, about 4 s of the
 * engine's waiting budget.  The engine waits it out (before: the profile
 * failed, CPUU_SWITCH_ERR, after 7 attempts of one request). */
/* Auto (the default) with EWS blocked in the Office 365 target tenant: the
 * EWS probe gets 403 once, the engine moves on to Graph (issue 17 §2/§3). */
/* graph_fake.py, the tenant's token endpoint (one for both audiences: the
 * lab token for EWS, a Graph token for Graph), an INI with ProtocolTrg Auto
 * (the default) and the target's EWS blocked: 0, or -1 when something did
 * not start. */
static int graph_auto_begin(char *base, size_t nb, char *mb, size_t nm)
{
    char token_url[128];
    if (start_graph_fake(base, nb, mb, nm) != 0)
        return -1;
    g_tok = start_token_endpoint(GRAPH_APP, GRAPH_SECRET, token_url, sizeof token_url);
    if (g_tok <= 0)
        return -1;
    char *es = enc(GRAPH_SECRET);
    char *extra = sr_asprintf("ClientId=%s\nClientSecret=%s\nTokenURL=%s\nGraphURL=%s\n", GRAPH_APP,
                              es, token_url, base);
    write_ini(g_ini, g_src.password, extra);
    free(extra);
    free(es);
    sim_set(&g_tgt, "ews_blocked=1");
    return 0;
}

static void graph_auto_end(void)
{
    sim_set(&g_tgt, "reset=1");
    write_switchmsg(&g_a, &g_a_tgt);
    write_ini(g_ini, g_src.password, NULL);
    tu_stop(g_tok, 5000);
    g_tok = -1;
    tu_stop(g_gf, 5000);
    g_gf = -1;
}

/* The Graph update of profile wrote rules to the fake; its -Undo takes them
 * away again (CSV 12); then the Graph case ends (graph_auto_end). */
static void graph_auto_undone(const char *base, const char *mb, const char *profile)
{
    json_t *rules = fake_state(base, "rules", mb);
    CU_ASSERT_TRUE(json_array_size(rules) > 0);
    json_decref(rules);
    const char *u[] = { "-Undo", profile, NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last(profile, NULL), 12);
    rules = fake_state(base, "rules", mb);
    CU_ASSERT_EQUAL(json_array_size(rules), 0);
    json_decref(rules);
    graph_auto_end();
}

static void test_graph_auto(void)
{
    char base[64], mb[256];
    CU_ASSERT_FATAL(graph_auto_begin(base, sizeof base, mb, sizeof mb) == 0);
    make_profile("Room Auto", &g_a, NULL);
    write_switchmsg_o365(&g_a, &g_a_tgt, 1);
    long blocked = sim_event(&g_tgt, "ews_blocked");
    const char *upd[] = { "-Profiles", "Room Auto", "-SkipAutodiscoverChecking", "-Features", "Rules",
                          NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Auto", NULL), 10);
    CU_ASSERT_EQUAL(sim_event(&g_tgt, "ews_blocked") - blocked, 1);
    CU_ASSERT_TRUE(file_has(g_log, "Room Auto: target check passed: "));
    CU_ASSERT_TRUE(file_has(g_log, "via Microsoft Graph (ProtocolTrg=Auto, EWS is blocked in the "
                                   "target tenant)"));
    graph_auto_undone(base, mb, "Room Auto");
}

static void test_throttling_storm(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Room Storm", &g_a, NULL);
    write_switchmsg(&g_a, &g_a_tgt);
    long before = sim_event(&g_src, "throttled");
    sim_set(&g_src, "throttle_next=30&backoff_ms=100");
    const char *a[] = { "-Profiles", "Room Storm", "-SkipAutodiscoverChecking", "-Features", NULL };
    int rc = run_cpuu(g_ini, a);
    long throttled = sim_event(&g_src, "throttled") - before;
    sim_set(&g_src, "reset=1");
    CU_ASSERT_EQUAL(rc, CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Storm", NULL), 10);
    CU_ASSERT_EQUAL(throttled, 30);   /* the storm really happened */
    CU_ASSERT_TRUE(file_has(g_log, "throttled by the server"));
    const char *u[] = { "-Undo", "Room Storm", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
}

/* issue 11: the source directory stopped and started again.  It is reached
 * through tests/faults/drop_proxy.py, "down" (every connection closed at
 * once) when the engine starts and up again 1.5 s later: the engine's own
 * directory connection is made again, bounded, and the profile is updated
 * (before: only switchresmb reconnected; the engine failed the profile,
 * CPUU_SWITCH_ERR, as 9 of 100 mailboxes in the fault suite). */
static void test_source_directory_restart(void)
{
    char uri[256], dn[256], pw[128], ca[512];
    lab_env("LAB_LDAP_URI", uri, sizeof uri);
    lab_env("LAB_BIND_DN", dn, sizeof dn);
    lab_env("LAB_PASSWORD", pw, sizeof pw);
    lab_env("LAB_CA", ca, sizeof ca);
    const char *colon = strrchr(uri, ':');
    CU_ASSERT_PTR_NOT_NULL_FATAL(colon);
    char port_file[600], down[600], proxy[512], target[64], dc[96];
    snprintf(port_file, sizeof port_file, "%s/dcproxy.port", g_dir);
    snprintf(down, sizeof down, "%s/dc-down", g_dir);
    snprintf(proxy, sizeof proxy, "%s/tests/faults/drop_proxy.py", tu_root());
    snprintf(target, sizeof target, "127.0.0.1:%d", atoi(colon + 1));
    FILE *f = fopen(down, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fclose(f);
    char *argv[] = { "/usr/bin/python3", proxy, "--target", target, "--port-file", port_file,
                     "--down-file", down, NULL };
    pid_t px = tu_spawn(argv, NULL);
    CU_ASSERT_TRUE_FATAL(px > 0);
    for (int i = 0; i < 100 && !tu_exists(port_file); i++)
        usleep(50 * 1000);
    sr_err e;
    char *port = sr_read_file(port_file, 64, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(port);
    snprintf(dc, sizeof dc, "ldap://127.0.0.1:%d", atoi(port));
    free(port);
    pid_t up = fork();   /* the DC comes back 1.5 s into the engine's run */
    if (up == 0) {
        usleep(1500 * 1000);
        unlink(down);
        _exit(0);
    }
    CU_ASSERT_TRUE_FATAL(up > 0);
    write_ini(g_ini, g_src.password, NULL);
    make_profile("Room Restart", &g_a, NULL);
    char *stored = enc(pw);
    setenv("CPUU_SOURCE_DC", dc, 1);
    setenv("CPUU_SOURCE_DC_ACCOUNT", dn, 1);
    setenv("CPUU_SOURCE_DC_PASSWORD", stored, 1);
    setenv("CPUU_SOURCE_DC_CA_FILE", ca, 1);
    const char *a[] = { "-Profiles", "Room Restart", "-SkipAutodiscoverChecking", "-Features", "Rules",
                        NULL };
    int rc = run_cpuu(g_ini, a);
    int st;
    waitpid(up, &st, 0);
    tu_stop(px, 5000);
    if (rc != CPUU_SUCCESS) {   /* say why: the log's end */
        char *t = slurp(g_log);
        size_t l = t ? strlen(t) : 0;
        fprintf(stderr, "\n  directory restart: exit %d\n%s\n", rc, t ? t + (l > 3000 ? l - 3000 : 0) : "");
        free(t);
    }
    CU_ASSERT_EQUAL(rc, CPUU_SUCCESS);
    CU_ASSERT_EQUAL(csv_last("Room Restart", NULL), 10);
    CU_ASSERT_TRUE(file_has(g_log, "connecting again"));   /* the directory really was down */
    CU_ASSERT_FALSE(file_has(g_log, pw));
    unsetenv("CPUU_SOURCE_DC");
    unsetenv("CPUU_SOURCE_DC_ACCOUNT");
    unsetenv("CPUU_SOURCE_DC_PASSWORD");
    unsetenv("CPUU_SOURCE_DC_CA_FILE");
    free(stored);
    const char *u[] = { "-Undo", "Room Restart", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, u), CPUU_SUCCESS);
}

/* Requests the simulator in has counted for mailbox smtp so far. */
static long sim_requests(const inst *in, const char *smtp)
{
    char *text = tu_http(in->url, "/_sim/stats", 0);
    json_t *j = text ? json_loads(text, 0, NULL) : NULL, *v;
    const char *k;
    long n = 0;
    json_object_foreach(json_object_get(j, "mailboxes"), k, v)
        if (sr_streq_ci(k, smtp))
            n = (long)json_integer_value(json_object_get(v, "requests"));
    json_decref(j);
    free(text);
    return n;
}

/* A profile of m on the source's EWS URL whose [handover] (written `age`
 * seconds ago for mailbox `mailbox`) says m holds a switch message to t;
 * then key = value over it when key is set. */
static void make_handed_profile(const char *name, const mbx *m, const mbx *t, long age,
                                const char *mailbox, const char *key, const char *value)
{
    char ews[256];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", g_src.url);
    make_profile(name, m, ews);
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, name, &p, &e), SR_OK);
    int64_t at = (int64_t)time(NULL) - age;
    mapi_handover h = { .mailbox = (char *)mailbox, .ews_url = ews, .impersonate = 1, .learned_at = at,
                        .switchmsg = { .version = MAPI_SWITCHMSG_CONTEMPORARY,
                                       .target_smtp = (char *)t->smtp,
                                       .target_legacy_dn = (char *)t->legacy_dn,
                                       .created_by = "test_cpuu_engine", .created_at = at } };
    CU_ASSERT_EQUAL(mapi_handover_put(&p, &h, &e), SR_OK);
    if (key)
        CU_ASSERT_EQUAL(mapi_service_set(&p.handover, key, value, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_pstore_update(st, &p, &e), SR_OK);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
}

/* Issue 13: switchresmb's [handover] spares the engine's source logon its
 * reads.  g_c holds no switch message: an engine that trusts a hand-over
 * saying it does updates the profile without one request to g_c; an engine
 * that asks the server (stale, foreign, malformed hand-over) finds none. */
static void test_handover(void)
{
    write_ini(g_ini, g_src.password, NULL);
    static const struct {
        const char *name;
        long age;
        int foreign;
        const char *key, *value;
    } c[] = {
        { "Handed Fresh", 5, 0, NULL, NULL },
        { "Handed Stale", MAPI_HANDOVER_MAX_AGE_S + 60, 0, NULL, NULL },
        { "Handed Future", -(MAPI_HANDOVER_SKEW_S + 60), 0, NULL, NULL },
        { "Handed Foreign", 5, 1, NULL, NULL },
        { "Handed Version 2", 5, 0, "version", "2" },
        { "Handed Bad Message", 5, 0, "switchmsg-target-smtp", "nobody" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int fresh = i == 0;
        make_handed_profile(c[i].name, &g_c, &g_a_tgt, c[i].age, c[i].foreign ? g_a.smtp : g_c.smtp,
                            c[i].key, c[i].value);
        long before = sim_requests(&g_src, g_c.smtp);
        const char *a[] = { "-Profiles", c[i].name, "-SkipAutodiscoverChecking", "-Features", NULL };
        int rc = run_cpuu(g_ini, a);
        long asked = sim_requests(&g_src, g_c.smtp) - before;
        if (rc != (fresh ? CPUU_SUCCESS : CPUU_NO_SWITCH_MSG) || (fresh ? asked != 0 : asked < 1))
            fprintf(stderr, "\n  [%s: exit %d, %ld source request(s)]\n", c[i].name, rc, asked);
        CU_ASSERT_EQUAL(rc, fresh ? CPUU_SUCCESS : CPUU_NO_SWITCH_MSG);
        CU_ASSERT_EQUAL(csv_last(c[i].name, NULL), fresh ? 10 : 0);
        CU_ASSERT_TRUE(fresh ? asked == 0 : asked >= 1);
        CU_ASSERT_TRUE(file_has(g_log, fresh ? "from switchresmb's [handover]" : "ignored, the source "
                                "mailbox is read as usual"));
    }
    /* trusted, but the source answers nothing: the folder tree, read with the
     * first feature's reads instead of at the logon, fails the profile (11),
     * which stays as it was */
    make_handed_profile("Handed No Tree", &g_c, &g_a_tgt, 5, g_c.smtp, NULL, NULL);
    sim_set(&g_src, "fail_rate=1&fail_status=500");
    const char *nt[] = { "-Profiles", "Handed No Tree", "-SkipAutodiscoverChecking", "-Features",
                         "Delegates", NULL };
    int rc = run_cpuu(g_ini, nt);
    sim_set(&g_src, "reset=1");
    CU_ASSERT_EQUAL(rc, CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Handed No Tree", NULL), 11);
    CU_ASSERT_TRUE(file_has(g_log, "cannot read the source folder tree"));
    /* used once: the updated profile keeps none; its backup (the state before) does */
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    sr_err e;
    CU_ASSERT_EQUAL(mapi_pstore_load(st, "Handed Fresh", &p, &e), SR_OK);
    CU_ASSERT_EQUAL(p.status.updated, 1);
    CU_ASSERT_EQUAL(p.handover.n, 0);
    mapi_profile_clear(&p);
    CU_ASSERT_EQUAL(mapi_pstore_load(st, "Handed No Tree", &p, &e), SR_OK);
    CU_ASSERT_EQUAL(p.status.updated, 0);
    CU_ASSERT_STRING_EQUAL(p.accounts[0].smtp, g_c.smtp);
    mapi_profile_clear(&p);
    /* nothing left for the tests after this one */
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        mapi_pstore_delete_backup(st, c[i].name, &e);
        CU_ASSERT_EQUAL(mapi_pstore_delete(st, c[i].name, &e), SR_OK);
    }
    mapi_pstore_delete_backup(st, "Handed No Tree", &e);
    CU_ASSERT_EQUAL(mapi_pstore_delete(st, "Handed No Tree", &e), SR_OK);
    mapi_pstore_free(st);
}

/* Whether the engine log holds needle after its first `from` bytes (the log
 * is appended to by every run). */
static int log_has_since(long from, const char *needle)
{
    char *t = slurp(g_log);
    int hit = (long)strlen(t) >= from && strstr(t + from, needle) != NULL;
    free(t);
    return hit;
}

static long log_size(void)
{
    struct stat sb;
    return stat(g_log, &sb) == 0 ? (long)sb.st_size : 0;
}

/* The target Autodiscover answer for t handed over as switchresmb hands it
 * (CPUU_TARGET_AUTODISCOVER: redirects, address, SMTP, display name,
 * LegacyDN, deployment id, EWS URL, external EWS URL, server, AD URL). */
static void hand_target_autodiscover(const mbx *t)
{
    char line[1024];
    snprintf(line, sizeof line, "0\t%s\t%s\t\t%s\t\t%s/EWS/Exchange.asmx\t\t\t", t->smtp, t->smtp,
             t->legacy_dn, g_tgt.url);
    setenv("CPUU_TARGET_AUTODISCOVER", line, 1);
}

/* Issue 13: with the source's [handover] and the target's Autodiscover
 * answer handed over, the target check's logon asks nothing and its folder
 * tree travels with the features' first reads.  Its outcomes stay the
 * check's: an unknown target mailbox is "cannot be resolved" (4) with or
 * without features, and nothing is written before the tree is known good
 * (no backup copy, no temporary profile left, the profile as it was); a
 * known one is updated (10). */
static void test_target_tree_in_first_wave(void)
{
    write_ini(g_ini, g_src.password, NULL);
    mbx ghost = g_a_tgt;
    const char *at = strchr(g_a_tgt.smtp, '@');
    snprintf(ghost.smtp, sizeof ghost.smtp, "ghost-9999%s", at ? at : "@tgt.test");
    snprintf(ghost.legacy_dn, sizeof ghost.legacy_dn, "%.200s-ghost", g_a_tgt.legacy_dn);
    static const struct {
        const char *name, *feature;
        int known;
    } c[] = {
        { "Late Ghost", "Delegates", 0 },
        { "Late Ghost Bare", NULL, 0 },
        { "Late Known", "Delegates", 1 },
    };
    mapi_pstore *st = store();
    sr_err e;
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        const mbx *t = c[i].known ? &g_a_tgt : &ghost;
        make_handed_profile(c[i].name, &g_c, t, 5, g_c.smtp, NULL, NULL);
        hand_target_autodiscover(t);
        long from = log_size();
        const char *a[] = { "-Profiles", c[i].name, "-SkipAutodiscoverChecking", "-Features",
                            c[i].feature, NULL };
        int rc = run_cpuu(g_ini, a);
        unsetenv("CPUU_TARGET_AUTODISCOVER");
        if (rc != (c[i].known ? CPUU_SUCCESS : CPUU_SWITCH_ERR))
            fprintf(stderr, "\n  [%s: exit %d]\n", c[i].name, rc);
        CU_ASSERT_EQUAL(rc, c[i].known ? CPUU_SUCCESS : CPUU_SWITCH_ERR);
        CU_ASSERT_EQUAL(csv_last(c[i].name, NULL), c[i].known ? 10 : 4);
        CU_ASSERT_TRUE(log_has_since(from, "the target check reads its folder tree with the first reads"));
        CU_ASSERT_TRUE(log_has_since(from, c[i].known ? "target check passed"
                                     : "target check failed: cannot log on to the target mailbox"));
        CU_ASSERT_EQUAL(temp_profiles(), 0);
        mapi_profile p = { 0 };
        char *bname = mapi_profile_backup_name(c[i].name);
        CU_ASSERT_EQUAL(mapi_pstore_load(st, bname, &p, &e), c[i].known ? SR_OK : SR_E_NOTFOUND);
        mapi_profile_clear(&p);
        free(bname);
        CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, c[i].name, &p, &e), SR_OK);
        CU_ASSERT_EQUAL(p.status.updated, c[i].known);
        CU_ASSERT_STRING_EQUAL(p.accounts[0].smtp, c[i].known ? g_a_tgt.smtp : g_c.smtp);
        mapi_profile_clear(&p);
        mapi_pstore_delete_backup(st, c[i].name, &e);
        CU_ASSERT_EQUAL(mapi_pstore_delete(st, c[i].name, &e), SR_OK);
    }
    mapi_pstore_free(st);
}

/* The same with the tenant's EWS blocked (Auto, Office 365): the 403 meets
 * the target tree in the first read wave; the reads are thrown away, the
 * check goes to Graph as when it read alone, and the features start again
 * over Graph (CSV 10). */
static void test_target_tree_late_graph(void)
{
    char base[64], mb[256];
    CU_ASSERT_FATAL(graph_auto_begin(base, sizeof base, mb, sizeof mb) == 0);
    make_handed_profile("Late Auto", &g_a, &g_a_tgt, 5, g_a.smtp, "switchmsg-target-is-o365", "1");
    hand_target_autodiscover(&g_a_tgt);
    long blocked = sim_event(&g_tgt, "ews_blocked"), from = log_size();
    const char *upd[] = { "-Profiles", "Late Auto", "-SkipAutodiscoverChecking", "-Features", "Rules",
                          NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, upd), CPUU_SUCCESS);
    unsetenv("CPUU_TARGET_AUTODISCOVER");
    CU_ASSERT_EQUAL(csv_last("Late Auto", NULL), 10);
    /* the tree's FindFolder and Rules' first target read, in one wave (read
     * alone, the tree met the 403 by itself a round trip earlier) */
    CU_ASSERT_EQUAL(sim_event(&g_tgt, "ews_blocked") - blocked, 2);
    CU_ASSERT_TRUE(log_has_since(from, "the target check reads its folder tree with the first reads"));
    CU_ASSERT_TRUE(log_has_since(from, "via Microsoft Graph (ProtocolTrg=Auto, EWS is blocked in the "
                                       "target tenant)"));
    CU_ASSERT_EQUAL(temp_profiles(), 0);
    graph_auto_undone(base, mb, "Late Auto");
}

/* Issue 13: switchresmb may leave the switch message's write to the engine
 * ([handover] switchmsg-write=create).  A dry run writes nothing; the update
 * writes it with its reads (the message then names the handed target); a
 * second engine with the same hand-over (a retried attempt) finds it and
 * writes no second one.  Last in the suite: g_c holds a switch message
 * afterwards. */
static void test_handover_write(void)
{
    write_ini(g_ini, g_src.password, NULL);
    make_handed_profile("Write Dry", &g_c, &g_a_tgt, 5, g_c.smtp, "switchmsg-write", "create");
    const char *dry[] = { "-Profiles", "Write Dry", "-SkipAutodiscoverChecking", "-Features",
                          "-DryRun", NULL };
    CU_ASSERT_EQUAL(run_cpuu(g_ini, dry), CPUU_CANNOT_START);
    CU_ASSERT_TRUE(file_has(g_log, "(not in a dry run)"));
    mapi_switchmsg sm;
    sr_err e;
    CU_ASSERT_EQUAL(read_switchmsg_of(g_c.smtp, &sm), SR_E_NOTFOUND);   /* the dry run wrote nothing */
    mapi_switchmsg_clear(&sm);
    /* the write fails (the source answers 500 to the second request, the
     * look's or the CreateItem's): nothing written, the profile stays, CSV
     * 11, and a "failed" progress line for switchresmb's report */
    make_handed_profile("Write Fails", &g_c, &g_a_tgt, 5, g_c.smtp, "switchmsg-write", "create");
    const char *wf[] = { "-Profiles", "Write Fails", "-SkipAutodiscoverChecking", "-Features", NULL };
    char lines[4096];
    sim_set(&g_src, "fail_nth=2&fail_status=500");
    int rc = run_with_command(wf, NULL, lines, sizeof lines);
    sim_set(&g_src, "reset=1");
    CU_ASSERT_EQUAL(rc, CPUU_SWITCH_ERR);
    CU_ASSERT_EQUAL(csv_last("Write Fails", NULL), 11);
    CU_ASSERT_TRUE(file_has(g_log, "cannot write the switch message: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(lines, "failed "));
    mapi_pstore *st = store();
    mapi_profile p = { 0 };
    CU_ASSERT_EQUAL(mapi_pstore_load(st, "Write Fails", &p, &e), SR_OK);
    CU_ASSERT_EQUAL(p.status.updated, 0);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    CU_ASSERT_EQUAL(read_switchmsg_of(g_c.smtp, &sm), SR_E_NOTFOUND);
    mapi_switchmsg_clear(&sm);
    static const char *const names[] = { "Write Once", "Write Again" };
    for (int i = 0; i < 2; i++) {
        make_handed_profile(names[i], &g_c, &g_a_tgt, 5, g_c.smtp, "switchmsg-write", "create");
        const char *a[] = { "-Profiles", names[i], "-SkipAutodiscoverChecking", "-Features", NULL };
        CU_ASSERT_EQUAL(run_cpuu(g_ini, a), CPUU_SUCCESS);
        CU_ASSERT_EQUAL(csv_last(names[i], NULL), 10);
        CU_ASSERT_TRUE(file_has(g_log, i ? "switch message found in the source mailbox (an earlier "
                                           "attempt wrote it): not written again"
                                         : "switch message written: target "));
    }
    CU_ASSERT_EQUAL(read_switchmsg_of(g_c.smtp, &sm), SR_OK);
    CU_ASSERT_STRING_EQUAL(sm.target_smtp ? sm.target_smtp : "", g_a_tgt.smtp);
    mapi_switchmsg_clear(&sm);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cpuu_engine", suite_init, suite_clean);
    CU_add_test(s, "update, already updated, rollback, cleanup", test_update_rollback_cleanup);
    CU_add_test(s, "no / invalid switch message", test_switch_message_cases);
    CU_add_test(s, "unknown mailbox, wrong password, secret fd", test_unknown_mailbox_and_bad_password);
    CU_add_test(s, "progress lines", test_progress_lines);
    CU_add_test(s, "update then cleanup in one process (CPUU_COMMAND_FD)", test_command_pipe_cleanup);
    CU_add_test(s, "switchmsg command: written over the engine's connections", test_command_switchmsg);
    CU_add_test(s, "one process, many profiles: update/cleanup commands, nothing carried over",
                test_command_pipe_many);
    CU_add_test(s, "features, Critical, Autodiscover checking", test_features_and_critical);
    CU_add_test(s, "source directory for the recipient map", test_source_directory);
    CU_add_test(s, "target directory (CPUU_TARGET_DC, ours) for the recipient map",
                test_target_directory_env);
    CU_add_test(s, "explicit access when impersonation is refused", test_explicit_access);
    CU_add_test(s, "user abort (SIGINT)", test_user_abort);
    CU_add_test(s, "UseLocalAutodiscoverXMLs", test_local_autodiscover);
    CU_add_test(s, "-DefaultProfile, -UndoAll, -UndoDefaultProfile", test_default_profile_and_undo_all);
    CU_add_test(s, "profile checks 1 5 6 7 8 23 24 4", test_profile_checks);
    CU_add_test(s, "every profile of the store", test_all_profiles);
    CU_add_test(s, "CPUU.ini and command-line errors", test_config_errors);
    CU_add_test(s, "-Log name expansion", test_log_name);
    CU_add_test(s, "EWS blocked in an Office 365 target tenant (HTTP 403)", test_ews_blocked);
    CU_add_test(s, "Office 365 target over Microsoft Graph: Rules, Delegates, rollback",
                test_graph_target);
    CU_add_test(s, "Office 365 target, Auto: EWS blocked, then Microsoft Graph", test_graph_auto);
    CU_add_test(s, "a throttling storm of short back-offs is waited out", test_throttling_storm);
    CU_add_test(s, "the source directory stopped and started again", test_source_directory_restart);
    CU_add_test(s, "[handover]: trusted when fresh and own, else the engine asks", test_handover);
    CU_add_test(s, "the target check's tree in the first read wave: unknown mailbox (4), known (10)",
                test_target_tree_in_first_wave);
    CU_add_test(s, "the target check's tree in the first read wave: EWS blocked, Auto → Graph",
                test_target_tree_late_graph);
    CU_add_test(s, "[handover] switchmsg-write: the engine writes the switch message once",
                test_handover_write);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
