/* test_cpuu_notify.c — [Admin notification]: bin/cpuu updates profiles
 * against two Exchange simulators and mails the administrator through real
 * SMTP servers on 127.0.0.1 (tests/integration/smtp_sink.py, Debian's
 * python3-aiosmtpd): plain, STARTTLS with a self-signed certificate made here
 * by openssl, and STARTTLS + AUTH.  Checks: one mail per profile
 * (Profile=current) with the expanded subject/body and priority headers, the
 * success/fail filters, one mail per run (Profile=default), the log and the
 * statistics attachments, TLS verification with and without the CA, AUTH
 * right/wrong with the password never logged, CR/LF in Subject refused at
 * load, no SMTPServer warned about.  All traffic stays on 127.0.0.1. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configs/configs.h"
#include "cpuu_invoke/cpuu_invoke.h"
#include "mapi/mapi.h"
#include "tests/common/testutil.h"

#define SMTP_PASSWORD "sink-Pa55-word-7x"

typedef struct inst {
    pid_t pid;
    int port;
    char url[128];
    char user[64], password[128];
} inst;

typedef tu_seed_mbx mbx;

typedef struct sink {
    pid_t pid;
    int port;
    char dir[512];
} sink;

static char *g_dir, g_store[512], g_ini[512], g_log[512], g_cert[512], g_host[256], g_user[128];
static inst g_src, g_tgt;
static mbx g_a, g_a_tgt;       /* an unmigrated room with a target: updates (10) */
static mbx g_c;                /* an unmigrated mailbox without a switch message (0) */
static sink g_plain, g_tls, g_auth, g_smtps;
static int g_seq;              /* fresh profile names per run */

/* ---- lab ------------------------------------------------------------------------ */
static int read_seed(const char *seed, inst *in, mbx *m, int max)
{
    return tu_seed_read(seed, in->user, sizeof in->user, in->password, sizeof in->password, m, max);
}

static int start_exsim(inst *in, const char *name, const char *seed)
{
    const char *extra[] = { NULL };
    tu_exsim x;
    if (tu_exsim_start(&x, g_dir, name, seed, extra) != 0)
        return -1;
    in->pid = x.pid;
    in->port = x.port;
    snprintf(in->url, sizeof in->url, "%s", x.url);
    return 0;
}

static int pick_mailboxes(mbx *src, int ns, mbx *tgt, int nt)
{
    for (int i = 0; i < ns; i++) {
        const char *at = strchr(src[i].smtp, '@');
        if (!src[i].legacy_dn[0] || !at || src[i].redirect[0])
            continue;
        if (!g_a.smtp[0] && !strcmp(src[i].kind, "room")) {
            for (int k = 0; k < nt; k++)
                if (!strncmp(tgt[k].smtp, src[i].smtp, (size_t)(at - src[i].smtp) + 1) && tgt[k].legacy_dn[0]) {
                    g_a = src[i];
                    g_a_tgt = tgt[k];
                }
            if (g_a.smtp[0])
                continue;
        }
        if (!g_c.smtp[0] && strcmp(src[i].smtp, g_a.smtp))
            g_c = src[i];
    }
    return g_a.smtp[0] && g_c.smtp[0] ? 0 : -1;
}

static void write_switchmsg(const mbx *m, const mbx *t)
{
    mapi_netopts o = { .auth = MAPI_AUTH_BASIC, .user = g_src.user, .password = g_src.password,
                       .allow_http = 1, .connect_timeout_ms = 3000, .timeout_ms = 10000 };
    sr_err e;
    mapi_net *net = mapi_net_new(&o, &e);
    char ews[256];
    snprintf(ews, sizeof ews, "%s/EWS/Exchange.asmx", g_src.url);
    mapi_session_opts so = { .mailbox = m->smtp, .ews_url = ews, .impersonate = 1 };
    mapi_session *s = net ? mapi_session_logon(net, &so, &e) : NULL;
    mapi_switchmsg w = { .version = MAPI_SWITCHMSG_CONTEMPORARY, .target_smtp = (char *)t->smtp,
                         .target_legacy_dn = (char *)t->legacy_dn, .created_by = "test_cpuu_notify",
                         .created_at = 1764000000 };
    if (!s || mapi_session_write_switchmsg(s, &w, 1, &e) != SR_OK)
        fprintf(stderr, "switch message: %s\n", e.msg);
    mapi_session_free(s);
    mapi_net_free(net);
}

/* A sink on a free port; extra arguments (NULL-terminated, at most 6). */
static int start_sink(sink *k, const char *name, const char *const *extra)
{
    snprintf(k->dir, sizeof k->dir, "%s/%s", g_dir, name);
    if (mkdir(k->dir, 0700) != 0 || !(k->port = tu_free_port()))
        return -1;
    char script[512], port[16], log[600];
    snprintf(script, sizeof script, "%s/tests/integration/smtp_sink.py", tu_root());
    snprintf(port, sizeof port, "%d", k->port);
    snprintf(log, sizeof log, "%s.log", k->dir);
    char *argv[16] = { "/usr/bin/python3", script, "--port", port, "--outdir", k->dir };
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 15; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    k->pid = tu_spawn(argv, log);
    return k->pid > 0 && tu_wait_port(k->port, 10000) == 0 ? 0 : -1;
}

static int make_cert(void)
{
    char key[512];
    snprintf(g_cert, sizeof g_cert, "%s/smtp-cert.pem", g_dir);
    snprintf(key, sizeof key, "%s/smtp-key.pem", g_dir);
    char *argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                     "-out", g_cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                     "subjectAltName=IP:127.0.0.1", NULL };
    return tu_run(argv, "/dev/null", 20000);
}

static int start_sinks(void)
{
    char key[512], pwfile[512];
    snprintf(key, sizeof key, "%s/smtp-key.pem", g_dir);
    snprintf(pwfile, sizeof pwfile, "%s/smtp-password", g_dir);
    sr_err e;
    if (make_cert() != 0 ||
        sr_write_file_atomic(pwfile, SMTP_PASSWORD, strlen(SMTP_PASSWORD), 0600, 0, &e) != SR_OK)
        return -1;
    const char *tls[] = { "--cert", g_cert, "--key", key, NULL };
    const char *auth[] = { "--cert", g_cert, "--key", key, "--user", "mailer", "--password-file",
                           pwfile, NULL };
    const char *smtps[] = { "--cert", g_cert, "--key", key, "--implicit-tls", NULL };
    return start_sink(&g_plain, "plain", NULL) || start_sink(&g_tls, "tls", tls) ||
           start_sink(&g_auth, "auth", auth) || start_sink(&g_smtps, "smtps", smtps) ? -1 : 0;
}

static int suite_init(void)
{
    g_dir = tu_mkdtemp("cpuunotify");
    if (!g_dir)
        return 1;
    char org[512], src[512], tgt[512];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(src, sizeof src, "%s/src.xml", g_dir);
    snprintf(tgt, sizeof tgt, "%s/tgt.xml", g_dir);
    const char *og[] = { "--users", "3", "--rooms", "3", "--unmigrated-every", "7", "-o", org, NULL };
    const char *sg[] = { "--org", org, "--side", "source", "-o", src, NULL };
    const char *tg[] = { "--org", org, "--side", "target", "-o", tgt, NULL };
    if (tu_py("tests/lab/orggen.py", og) != 0 || tu_py("tests/exsim/seedgen.py", sg) != 0 ||
        tu_py("tests/exsim/seedgen.py", tg) != 0) {
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
    if (start_sinks() != 0) {
        fprintf(stderr, "SMTP sinks did not start\n");
        return 1;
    }
    write_switchmsg(&g_a, &g_a_tgt);
    snprintf(g_store, sizeof g_store, "%s/profiles", g_dir);
    snprintf(g_ini, sizeof g_ini, "%s/CPUU.ini", g_dir);
    snprintf(g_log, sizeof g_log, "%s/CPUU.log", g_dir);
    setenv("SWITCHRESMB_PROFILE_DIR", g_store, 1);
    setenv("CPUU_ALLOW_HTTP", "1", 1);   /* the simulators speak plain HTTP on loopback */
    gethostname(g_host, sizeof g_host);
    const char *u = getenv("USER");
    char *id[] = { "id", "-un", NULL };
    char idout[600];
    snprintf(idout, sizeof idout, "%s/id.txt", g_dir);
    if (tu_run(id, idout, 5000) == 0) {
        sr_err e;
        char *t = sr_read_file(idout, 4096, NULL, &e);
        if (t) {
            t[strcspn(t, "\n")] = '\0';
            snprintf(g_user, sizeof g_user, "%s", t);
        }
        free(t);
    } else if (u) {
        snprintf(g_user, sizeof g_user, "%s", u);
    }
    return 0;
}

static int suite_clean(void)
{
    sink *ks[] = { &g_plain, &g_tls, &g_auth, &g_smtps };
    for (int i = 0; i < 4; i++)
        if (ks[i]->pid > 0)
            tu_stop(ks[i]->pid, 5000);
    if (g_src.pid > 0)
        tu_stop(g_src.pid, 5000);
    if (g_tgt.pid > 0)
        tu_stop(g_tgt.pid, 5000);
    if (g_dir && !getenv("SR_KEEP_TMP"))
        tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */
static char *enc(const char *plain)
{
    char *out = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt(plain, CFG_ENC_USER, &out, &e), SR_OK);
    return out;
}

/* CPUU.ini for the simulators with `notify` as the [Admin notification] section. */
static void write_ini(const char *notify)
{
    char *ps = enc(g_src.password), *pt = enc(g_tgt.password);
    char *text = sr_asprintf("[Parameters]\nAdmin=%s\nPassword=%s\nAdminTrg=%s\nPasswordTrg=%s\n"
                             "AutodiscoverSourceURL=%s/autodiscover/autodiscover.xml\n"
                             "AutodiscoverTargetURL=%s/autodiscover/autodiscover.xml\n"
                             "[Admin notification]\nSMTPAddress=admin1@ops.test admin2@ops.test\n%s",
                             g_src.user, ps, g_tgt.user, pt, g_src.url, g_tgt.url, notify);
    sr_err e;
    CU_ASSERT_EQUAL(sr_write_file_atomic(g_ini, text, strlen(text), 0600, 0, &e), SR_OK);
    free(text);
    free(ps);
    free(pt);
}

static void make_profile(const char *name, const mbx *m)
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
    mapi_pstore *st = mapi_pstore_open(g_store, 0, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    CU_ASSERT_EQUAL(mapi_pstore_create(st, &p, &e), SR_OK);
    mapi_pstore_free(st);
    mapi_profile_clear(&p);
}

/* Fresh profiles "<tag> ok <n>" (will update) and "<tag> nosw <n>" (no
 * switch message); names go to ok/nosw. */
static void make_pair(const char *tag, char *ok, char *nosw, size_t len)
{
    g_seq++;
    snprintf(ok, len, "%s ok %d", tag, g_seq);
    snprintf(nosw, len, "%s nosw %d", tag, g_seq);
    make_profile(ok, &g_a);
    make_profile(nosw, &g_c);
}

static void clear_dir(const sink *k)
{
    char *argv[] = { "find", (char *)k->dir, "-mindepth", "1", "-delete", NULL };
    tu_run(argv, NULL, 5000);
}

/* Run bin/cpuu on the given profiles (NULL-terminated, at most 4) with a
 * fresh log; returns the exit status. */
static int run_cpuu(const char *const *profiles)
{
    char bin[512], out[512];
    snprintf(bin, sizeof bin, "%s/cpuu", tu_bin());
    snprintf(out, sizeof out, "%s/out.txt", g_dir);
    char *argv[16] = { bin, "-INI", g_ini, "-Log", g_log, "-SkipAutodiscoverChecking", "-Features",
                       "-Profiles" };
    int n = 8;
    for (int i = 0; profiles[i] && n < 14; i++)
        argv[n++] = (char *)profiles[i];
    argv[n] = NULL;
    unlink(g_log);
    clear_dir(&g_plain);
    clear_dir(&g_tls);
    clear_dir(&g_auth);
    clear_dir(&g_smtps);
    return tu_run(argv, out, 30000);
}

static char *slurp(const char *path)
{
    sr_err e;
    char *t = sr_read_file(path, 16u << 20, NULL, &e);
    return t ? t : strdup("");
}

static int file_has(const char *path, const char *needle)
{
    char *t = slurp(path);
    int hit = strstr(t, needle) != NULL;
    free(t);
    return hit;
}

/* The sink numbers messages across runs (NNN.txt / NNN.eml); run_cpuu
 * empties the directories, so the files present are this run's, in order. */
static int txt_only(const struct dirent *d)
{
    size_t l = strlen(d->d_name);
    return l > 4 && !strcmp(d->d_name + l - 4, ".txt");
}

/* Number of messages a sink holds; *first gets the lowest number. */
static int mails_from(const sink *k, int *first)
{
    struct dirent **v = NULL;
    int n = scandir(k->dir, &v, txt_only, alphasort);
    if (first)
        *first = n > 0 ? atoi(v[0]->d_name) : 0;
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
    return n < 0 ? 0 : n;
}

static int mails(const sink *k)
{
    return mails_from(k, NULL);
}

/* The text of the i-th message (1-based) of this run (heap). */
static char *mail(const sink *k, int i, const char *ext)
{
    int first = 0;
    mails_from(k, &first);
    char p[600];
    snprintf(p, sizeof p, "%s/%03d.%s", k->dir, first + i - 1, ext);
    return slurp(p);
}

/* The message whose text holds needle (1-based), 0 when none. */
static int find_mail(const sink *k, const char *needle)
{
    int n = mails(k);
    for (int i = 1; i <= n; i++) {
        char *t = mail(k, i, "txt");
        int hit = strstr(t, needle) != NULL;
        free(t);
        if (hit)
            return i;
    }
    return 0;
}

static char *server_line(const sink *k, const char *security, const char *extra)
{
    return sr_asprintf("SMTPServer=127.0.0.1:%d\nSMTPSecurity=%s\n%s", k->port, security, extra ? extra : "");
}

/* ---- tests -------------------------------------------------------------------------- */
static void test_current_all(void)
{
    char ok[64], nosw[64];
    make_pair("Cur", ok, nosw, sizeof ok);
    char *srv = server_line(&g_plain, "none", "Profile=current\nNotification=all\nPriority=high\n");
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, nosw, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS | CPUU_NO_SWITCH_MSG);   /* mail changes no bit */
    CU_ASSERT_EQUAL(mails(&g_plain), 2);
    char want[1024];
    snprintf(want, sizeof want, "Subject: UPDATED: Profile %s on computer %s\n", ok, g_host);
    int i = find_mail(&g_plain, want);
    CU_ASSERT_TRUE(i > 0);
    if (i > 0) {
        char *t = mail(&g_plain, i, "txt"), *raw = mail(&g_plain, i, "eml");
        char body[1024];
        snprintf(body, sizeof body, "Profile %s of user %s on computer %s was UPDATED", ok, g_user, g_host);
        CU_ASSERT_PTR_NOT_NULL(strstr(t, body));
        CU_ASSERT_PTR_NOT_NULL(strstr(t, "RCPT TO: admin1@ops.test admin2@ops.test"));
        CU_ASSERT_PTR_NOT_NULL(strstr(t, "To: admin1@ops.test, admin2@ops.test"));
        CU_ASSERT_PTR_NOT_NULL(strstr(raw, "X-Priority: 1 (Highest)\r\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(raw, "Importance: high\r\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(raw, "Message-ID: <cpuu."));
        CU_ASSERT_PTR_NOT_NULL(strstr(raw, "\r\nDate: ") || !strncmp(raw, "Date: ", 6));
        CU_ASSERT_PTR_NOT_NULL(strstr(raw, "Result: 10 PROFILE_MODIFYING_OK"));
        CU_ASSERT_PTR_NULL(strstr(raw, "multipart"));   /* Attach log=none */
        free(t);
        free(raw);
    }
    snprintf(want, sizeof want, "Subject: NOT UPDATED: Profile %s on computer %s\n", nosw, g_host);
    CU_ASSERT_TRUE(find_mail(&g_plain, want) > 0);
    CU_ASSERT_TRUE(file_has(g_log, "notification sent to admin1@ops.test and others via smtp://127.0.0.1"));
}

static void test_filters(void)
{
    char ok[64], nosw[64];
    make_pair("Flt", ok, nosw, sizeof ok);
    char *srv = server_line(&g_plain, "none", "Profile=current\nNotification=fail\nPriority=low\n");
    write_ini(srv);
    free(srv);
    const char *p1[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p1), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(mails(&g_plain), 0);                 /* fail: a success sends nothing */
    const char *p2[] = { nosw, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p2), CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL(mails(&g_plain), 1);                 /* ...a failure does */
    char *raw = mail(&g_plain, 1, "eml");
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "X-Priority: 5 (Lowest)\r\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "Importance: low\r\n"));
    free(raw);

    make_pair("Flt", ok, nosw, sizeof ok);
    srv = server_line(&g_plain, "none", "Profile=current\nNotification=success\n");
    write_ini(srv);
    free(srv);
    const char *p3[] = { nosw, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p3), CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL(mails(&g_plain), 0);                 /* success: a failure sends nothing */
    const char *p4[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p4), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(mails(&g_plain), 1);
}

static void test_default_with_log(void)
{
    char ok[64], nosw[64];
    make_pair("Def", ok, nosw, sizeof ok);
    char *srv = server_line(&g_plain, "none", "Notification=all\nAttach log=all\n"
                            "Subject=%r for %p (%%)\nFrom=cpuu-test@ops.test\n");
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, nosw, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS | CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL_FATAL(mails(&g_plain), 1);           /* Profile=default: one mail per run */
    char *t = mail(&g_plain, 1, "txt");
    char want[1024];
    snprintf(want, sizeof want, "Subject: NOT UPDATED for %s, %s (%%)\n", ok, nosw);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "MAIL FROM: cpuu-test@ops.test"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "--- part text/plain CPUU.log"));
    /* the attached log holds this run's result lines */
    snprintf(want, sizeof want, "%s: result 10 PROFILE_MODIFYING_OK", ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
    CU_ASSERT_PTR_NULL(strstr(t, g_src.password));
    free(t);
}

static void test_statistics(void)
{
    char ok[64], nosw[64];
    make_pair("Sta", ok, nosw, sizeof ok);
    char *srv = server_line(&g_plain, "none", "Attach log=statistics\n");
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, nosw, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS | CPUU_NO_SWITCH_MSG);
    CU_ASSERT_EQUAL_FATAL(mails(&g_plain), 1);
    char *t = mail(&g_plain, 1, "txt");
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "--- part text/plain CPUU-statistics.txt"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "Profiles reported: 2\nUpdated: 1\nNot updated: 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "10 PROFILE_MODIFYING_OK"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, " 0 PROFILE_WAS_NOT_PROCESSED"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "Features processed: none"));
    free(t);
}

static void test_starttls(void)
{
    char ok[64], nosw[64];
    make_pair("Tls", ok, nosw, sizeof ok);
    char extra[700];
    snprintf(extra, sizeof extra, "Profile=current\nNotification=success\nSMTPCAFile=%s\n", g_cert);
    char *srv = server_line(&g_tls, "starttls", extra);
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(mails(&g_tls), 1);                   /* verified against the test CA */
    /* without the CA the self-signed certificate is not trusted: nothing sent */
    make_pair("Tls", ok, nosw, sizeof ok);
    srv = server_line(&g_tls, "starttls", "Profile=current\nNotification=success\n");
    write_ini(srv);
    free(srv);
    const char *p2[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p2), CPUU_SUCCESS);         /* the update result is not affected */
    CU_ASSERT_EQUAL(mails(&g_tls), 0);
    CU_ASSERT_TRUE(file_has(g_log, "notification NOT sent via smtp://127.0.0.1"));
    CU_ASSERT_TRUE(file_has(g_log, "certificate"));
}

static void test_implicit_tls_and_encoded_subject(void)
{
    char ok[64], nosw[64];
    make_pair("Smtps", ok, nosw, sizeof ok);
    char extra[700];
    snprintf(extra, sizeof extra, "Profile=current\nSMTPCAFile=%s\n"
             "Subject=R\xc3\xa9sum\xc3\xa9 %%R \xe2\x80\x94 profile %%P, a subject long enough to fold\n",
             g_cert);
    char *srv = server_line(&g_smtps, "tls", extra);
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS);
    CU_ASSERT_EQUAL_FATAL(mails(&g_smtps), 1);
    char *t = mail(&g_smtps, 1, "txt"), *raw = mail(&g_smtps, 1, "eml");
    char want[1024];
    snprintf(want, sizeof want, "Subject: R\xc3\xa9sum\xc3\xa9 UPDATED \xe2\x80\x94 profile %s, a subject "
             "long enough to fold\n", ok);
    CU_ASSERT_PTR_NOT_NULL(strstr(t, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "Subject: =?UTF-8?B?"));
    CU_ASSERT_PTR_NOT_NULL(strstr(raw, "?=\r\n =?UTF-8?B?"));       /* folded encoded words */
    for (const char *c = raw; *c; c++)                                  /* 7-bit on the wire */
        if ((unsigned char)*c >= 0x80) {
            CU_FAIL("8-bit byte in the message");
            break;
        }
    CU_ASSERT_TRUE(file_has(g_log, "via smtps://127.0.0.1"));
    free(t);
    free(raw);
}

static void test_auth(void)
{
    char ok[64], nosw[64];
    make_pair("Auth", ok, nosw, sizeof ok);
    char *pw = enc(SMTP_PASSWORD), *bad = enc("wrong-Secret-99");
    char extra[1200];
    snprintf(extra, sizeof extra, "Profile=current\nSMTPCAFile=%s\nSMTPUser=mailer\nSMTPPassword=%s\n",
             g_cert, pw);
    char *srv = server_line(&g_auth, "starttls", extra);
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(mails(&g_auth), 1);
    CU_ASSERT_EQUAL(find_mail(&g_auth, "AUTH: yes"), 1);
    CU_ASSERT_FALSE(file_has(g_log, SMTP_PASSWORD));

    make_pair("Auth", ok, nosw, sizeof ok);
    snprintf(extra, sizeof extra, "Profile=current\nSMTPCAFile=%s\nSMTPUser=mailer\nSMTPPassword=%s\n",
             g_cert, bad);
    srv = server_line(&g_auth, "starttls", extra);
    write_ini(srv);
    free(srv);
    const char *p2[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p2), CPUU_SUCCESS);
    CU_ASSERT_EQUAL(mails(&g_auth), 0);
    CU_ASSERT_TRUE(file_has(g_log, "notification NOT sent via smtp://127.0.0.1"));
    CU_ASSERT_TRUE(file_has(g_log, "Login denied"));
    CU_ASSERT_FALSE(file_has(g_log, "wrong-Secret-99"));
    CU_ASSERT_FALSE(file_has(g_log, SMTP_PASSWORD));
    free(pw);
    free(bad);
}

static void test_config_cases(void)
{
    char ok[64], nosw[64];
    make_pair("Cfg", ok, nosw, sizeof ok);
    /* CR in Subject (line 12 of the INI) is refused at load */
    char *srv = server_line(&g_plain, "none", "Subject=%R\rBcc: victim@else.test\n");
    write_ini(srv);
    free(srv);
    const char *p[] = { ok, NULL };
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_GLOBAL_ERR);
    char want[700];
    snprintf(want, sizeof want, "%s:12: [Admin notification] Subject: contains a control character", g_ini);
    CU_ASSERT_TRUE(file_has(g_log, want));
    CU_ASSERT_EQUAL(mails(&g_plain), 0);
    /* no SMTPServer: the update runs, one warning names the section */
    write_ini("Profile=current\n");
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_SUCCESS);
    snprintf(want, sizeof want, "%s:8: [Admin notification] has no SMTPServer", g_ini);
    CU_ASSERT_TRUE(file_has(g_log, want));
    CU_ASSERT_EQUAL(mails(&g_plain), 0);
    /* plain SMTP to a non-loopback relay is a config error (checked before any traffic) */
    write_ini("SMTPServer=relay.example:25\nSMTPSecurity=none\n");
    CU_ASSERT_EQUAL(run_cpuu(p), CPUU_GLOBAL_ERR);
    CU_ASSERT_TRUE(file_has(g_log, "SMTPSecurity: 'none' sends mail in clear to relay.example"));
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cpuu_notify", suite_init, suite_clean);
    CU_add_test(s, "Profile=current, Notification=all, priority headers", test_current_all);
    CU_add_test(s, "Notification=fail / success filters", test_filters);
    CU_add_test(s, "Profile=default, Attach log=all", test_default_with_log);
    CU_add_test(s, "Attach log=statistics", test_statistics);
    CU_add_test(s, "STARTTLS with and without the CA", test_starttls);
    CU_add_test(s, "implicit TLS (smtps), RFC 2047 subject", test_implicit_tls_and_encoded_subject);
    CU_add_test(s, "AUTH right and wrong password", test_auth);
    CU_add_test(s, "CR in Subject, no SMTPServer, plain to a remote relay", test_config_cases);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
