/* test_configs.c — SwitchResMB.ini, CPUU.ini, CPUUCmdLine, notification
 * templates, stored-credential encryption and the in-place DCPassword
 * rewrite (configs/configs.h). */
#include "configs/configs.h"
#include "tests/common/testutil.h"
#include "util/util.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *tmpdir;
static FILE *logfp;     /* captures sr_log output for assertions */

/* ---- helpers ----------------------------------------------------------- */

static char *fixture(const char *rel)
{
    return sr_asprintf("%s/tests/data/%s", tu_root(), rel);
}

static char *write_tmp(const char *name, const char *text)
{
    char *p = sr_asprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(p, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
    return p;
}

static void log_reset(void)
{
    fflush(logfp);
    CU_ASSERT_EQUAL(ftruncate(fileno(logfp), 0), 0);
    rewind(logfp);
}

/* Everything logged since log_reset(); caller frees. */
static char *log_text(void)
{
    fflush(logfp);
    long n = ftell(logfp);
    char *s = calloc(1, (size_t)n + 1);
    rewind(logfp);
    if (n > 0 && fread(s, 1, (size_t)n, logfp) != (size_t)n)
        s[0] = '\0';
    fseek(logfp, 0, SEEK_END);
    return s;
}

static int log_has(const char *needle)
{
    char *s = log_text();
    int r = strstr(s, needle) != NULL;
    if (!r)
        fprintf(stderr, "\nlog lacks [%s]; log was:\n%s\n", needle, s);
    free(s);
    return r;
}

/* Load text as name; expect failure with code and message starting with
 * "<path>:<line>: " and containing `what`. */
static void expect_resmb_error(const char *name, const char *text, sr_code code, int line,
                               const char *what)
{
    char *p = write_tmp(name, text);
    sr_err e;
    cfg_diag d;
    cfg_resmb *c = cfg_resmb_load(p, &d, &e);
    CU_ASSERT_PTR_NULL(c);
    cfg_resmb_free(c);
    CU_ASSERT_EQUAL(e.code, code);
    char *where = sr_asprintf("%s:%d: ", p, line);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, where));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, what));
    if (!strstr(e.msg, where) || !strstr(e.msg, what))
        fprintf(stderr, "\n%s: got [%s], want [%s] and [%s]\n", name, e.msg, where, what);
    CU_ASSERT_TRUE(d.errors >= 1);
    free(where);
    free(p);
}

static void expect_cpuu_error(const char *name, const char *text, int line, const char *what)
{
    char *p = write_tmp(name, text);
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NULL(c);
    cfg_cpuu_free(c);
    CU_ASSERT_EQUAL(e.code, SR_E_CONFIG);
    char *where = sr_asprintf("%s:%d: ", p, line);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, where));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, what));
    if (!strstr(e.msg, where) || !strstr(e.msg, what))
        fprintf(stderr, "\n%s: got [%s], want [%s] and [%s]\n", name, e.msg, where, what);
    free(where);
    free(p);
}

#define ROOM_DN(n) "/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=Room-" n

/* ---- SwitchResMB.ini: the seed's examples --------------------------------- */

static void assert_seed_ad(const cfg_resmb *c, int pw_line)
{
    CU_ASSERT_TRUE(c->ad.present);
    CU_ASSERT_STRING_EQUAL(c->ad.dc_name, "DC.source.domain");
    CU_ASSERT_STRING_EQUAL(c->ad.dc_account, "source\\administrator");
    CU_ASSERT_STRING_EQUAL(c->ad.dc_password, "7F3A62CD00FC1DDDCD");
    CU_ASSERT_EQUAL(c->ad.dc_password_line, pw_line);
}

static void assert_no_flags(const cfg_resmb *c)
{
    CU_ASSERT_EQUAL(c->settings.logon_winnt, 0);
    CU_ASSERT_EQUAL(c->settings.logon_anonymous, 0);
    CU_ASSERT_EQUAL(c->settings.logon_kerberos, 0);
    CU_ASSERT_EQUAL(c->settings.logon_smartcard, 0);
    CU_ASSERT_EQUAL(c->settings.leave_temporary_profiles, 0);
}

static void assert_rooms_dn(const cfg_resmb *c, int first_line)
{
    CU_ASSERT_EQUAL_FATAL(c->mailboxes.n, 3);
    CU_ASSERT_STRING_EQUAL(c->mailboxes.v[0].value, ROOM_DN("1"));
    CU_ASSERT_STRING_EQUAL(c->mailboxes.v[1].value, ROOM_DN("2"));
    CU_ASSERT_STRING_EQUAL(c->mailboxes.v[2].value, ROOM_DN("3"));
    CU_ASSERT_EQUAL(c->mailboxes.v[0].line, first_line);
    CU_ASSERT_EQUAL(c->mailboxes.v[1].line, first_line + 2);
    CU_ASSERT_EQUAL(c->mailboxes.v[2].line, first_line + 4);
}

static cfg_resmb *load_fixture(const char *rel, cfg_diag *d)
{
    char *p = fixture(rel);
    sr_err e;
    cfg_resmb *c = cfg_resmb_load(p, d, &e);
    if (!c)
        fprintf(stderr, "\n%s: %s\n", rel, e.msg);
    free(p);
    return c;
}

static void test_seed_example1(void)
{
    cfg_diag d;
    cfg_resmb *c = load_fixture("switchresmb/seed_ex1_legacy.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.errors, 0);
    CU_ASSERT_EQUAL(d.warnings, 0);
    CU_ASSERT_STRING_EQUAL(c->settings.cpuu_cmdline, "");
    CU_ASSERT_EQUAL(c->settings.cpuu_argc, 0);
    CU_ASSERT_PTR_NULL(c->settings.cpuu_argv[0]);
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server, "Source");
    CU_ASSERT_EQUAL(c->settings.logon_negotiate, 1);
    assert_no_flags(c);
    assert_rooms_dn(c, 19);
    assert_seed_ad(c, 31);
    CU_ASSERT_FALSE(c->rpc.present);
    CU_ASSERT_TRUE(c->switch_msg.present);
    CU_ASSERT_EQUAL(c->switch_msg.agent, CFG_AGENT_LEGACY);
    CU_ASSERT_EQUAL(c->switch_msg.target, CFG_TARGET_NONE);
    CU_ASSERT_EQUAL(c->switch_msg.recreate, 0);
    CU_ASSERT_FALSE(c->mailboxes_smtp.present);
    CU_ASSERT_FALSE(c->target_mailboxes_smtp.present);
    cfg_resmb_free(c);
}

static void test_seed_example2(void)
{
    cfg_diag d;
    cfg_resmb *c = load_fixture("switchresmb/seed_ex2_rpc.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 0);
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server, "Source");
    CU_ASSERT_EQUAL(c->settings.logon_negotiate, 1);
    assert_no_flags(c);
    CU_ASSERT_TRUE(c->rpc.present);
    CU_ASSERT_EQUAL(c->rpc.connect_using_http, 1);
    CU_ASSERT_STRING_EQUAL(c->rpc.proxy_server, "proxy.source.domain");
    CU_ASSERT_STRING_EQUAL(c->rpc.principal_name, "");
    CU_ASSERT_EQUAL(c->rpc.ssl_only, 0);
    CU_ASSERT_EQUAL(c->rpc.mutual_auth, 0);
    CU_ASSERT_EQUAL(c->rpc.http_first_on_fast, 1);
    CU_ASSERT_EQUAL(c->rpc.http_first_on_slow, 0);
    CU_ASSERT_EQUAL(c->rpc.auth_ntlm, 1);
    CU_ASSERT_EQUAL(c->rpc.auth_basic, 0);
    CU_ASSERT_EQUAL(c->rpc.auth_negotiate, 0);
    assert_rooms_dn(c, 34);
    assert_seed_ad(c, 46);
    CU_ASSERT_EQUAL(c->switch_msg.agent, CFG_AGENT_CONTEMPORARY);
    CU_ASSERT_EQUAL(c->switch_msg.target, CFG_TARGET_EXCHANGE);
    cfg_resmb_free(c);
}

static void assert_rooms_smtp(const cfg_list *l, const char *domain, int first_line)
{
    CU_ASSERT_TRUE(l->present);
    CU_ASSERT_EQUAL_FATAL(l->n, 3);
    for (int i = 0; i < 3; i++) {
        char *want = sr_asprintf("Room-%d@%s", i + 1, domain);
        CU_ASSERT_STRING_EQUAL(l->v[i].value, want);
        CU_ASSERT_EQUAL(l->v[i].line, first_line + 2 * i);
        free(want);
    }
}

static void test_seed_example3_ad(void)
{
    cfg_diag d;
    cfg_resmb *c = load_fixture("switchresmb/seed_ex3_ad.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 0);
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server, "");
    CU_ASSERT_EQUAL(c->settings.logon_negotiate, 0);
    assert_no_flags(c);
    CU_ASSERT_FALSE(c->mailboxes.present);
    assert_rooms_smtp(&c->mailboxes_smtp, "source.domain", 12);
    assert_seed_ad(c, 24);
    CU_ASSERT_EQUAL(c->switch_msg.agent, CFG_AGENT_CONTEMPORARY);
    CU_ASSERT_EQUAL(c->switch_msg.target, CFG_TARGET_EXCHANGE);
    CU_ASSERT_FALSE(c->target_mailboxes_smtp.present);
    cfg_resmb_free(c);
}

static void test_seed_example3_target(void)
{
    cfg_diag d;
    cfg_resmb *c = load_fixture("switchresmb/seed_ex3_target.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 0);
    CU_ASSERT_STRING_EQUAL(c->settings.cpuu_cmdline, "");
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server, "");
    CU_ASSERT_FALSE(c->ad.present);
    assert_rooms_smtp(&c->mailboxes_smtp, "source.domain", 12);
    assert_rooms_smtp(&c->target_mailboxes_smtp, "target.domain", 20);
    CU_ASSERT_EQUAL(c->switch_msg.agent, CFG_AGENT_CONTEMPORARY);
    CU_ASSERT_EQUAL(c->switch_msg.target, CFG_TARGET_O365);
    cfg_resmb_free(c);
}

/* ---- SwitchResMB.ini: every parameter, names case-insensitive ------------- */

static void test_full_resmb(void)
{
    log_reset();
    cfg_diag d;
    cfg_resmb *c = load_fixture("switchresmb/full.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 0);
    /* the extra [SwitchMessage] parameter is a note, not a warning */
    CU_ASSERT_TRUE(log_has("full.ini:36: [SwitchMessage] SwitchMsgTemplate: not used"));
    CU_ASSERT_EQUAL_FATAL(c->settings.cpuu_argc, 6);
    const char *want[] = { "-Profiles", "Room One", "Room $2", "-Log", "/var/log/cpuu run.log",
                           "-Silent" };
    for (int i = 0; i < 6; i++)
        CU_ASSERT_STRING_EQUAL(c->settings.cpuu_argv[i], want[i]);
    CU_ASSERT_PTR_NULL(c->settings.cpuu_argv[6]);
    CU_ASSERT_EQUAL(c->settings.cpuu_cmdline_line, 5);
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server,
                           "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0@Source.Example");
    CU_ASSERT_EQUAL(c->settings.logon_negotiate, 0);
    CU_ASSERT_EQUAL(c->settings.logon_winnt, 1);
    CU_ASSERT_EQUAL(c->settings.leave_temporary_profiles, 1);
    CU_ASSERT_STRING_EQUAL(c->ad.dc_name, "dc1.Source.Example");
    CU_ASSERT_STRING_EQUAL(c->ad.dc_account, "SOURCE\\SvcSwitch");
    CU_ASSERT_EQUAL(c->ad.line, 14);
    CU_ASSERT_STRING_EQUAL(c->rpc.proxy_server, "mail.Source.Example");
    CU_ASSERT_STRING_EQUAL(c->rpc.principal_name, "msstd:mail.Source.Example");
    CU_ASSERT_EQUAL(c->rpc.ssl_only, 1);
    CU_ASSERT_EQUAL(c->rpc.mutual_auth, 1);
    CU_ASSERT_EQUAL(c->rpc.http_first_on_fast, 0);
    CU_ASSERT_EQUAL(c->rpc.http_first_on_slow, 1);
    CU_ASSERT_EQUAL(c->rpc.auth_ntlm, 0);
    CU_ASSERT_EQUAL(c->rpc.auth_basic, 1);
    CU_ASSERT_EQUAL(c->rpc.auth_negotiate, 1);
    CU_ASSERT_EQUAL(c->switch_msg.recreate, 1);
    CU_ASSERT_EQUAL(c->switch_msg.agent, CFG_AGENT_CONTEMPORARY);
    CU_ASSERT_EQUAL(c->switch_msg.target, CFG_TARGET_O365);
    CU_ASSERT_EQUAL_FATAL(c->mailboxes.n, 2);
    CU_ASSERT_STRING_EQUAL(c->mailboxes.v[0].value,
                           "/o=SourceOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)"
                           "/cn=Recipients/cn=Conf Room (B=2)");
    CU_ASSERT_EQUAL(c->mailboxes.v[1].line, 40);
    CU_ASSERT_EQUAL_FATAL(c->target_mailboxes_smtp.n, 2);
    CU_ASSERT_STRING_EQUAL(c->mailboxes_smtp.v[0].value, "Conf.Room.B2@Source.Example");
    CU_ASSERT_STRING_EQUAL(c->target_mailboxes_smtp.v[1].value, "beamer@target.example");
    cfg_resmb_free(c);
}

static void test_crlf_bom_comments_unknown(void)
{
    log_reset();
    char *p = write_tmp("crlf.ini", "\xEF\xBB\xBF; comment\r\n[Settings]\r\nCPUUCmdLine=\r\n"
                                    "SrcExchServer=S\r\nColour=blue\r\n# another\r\n"
                                    "[Extra]\r\nwhatever\r\n[MailboxesSMTP]\r\n  a@b.c  \r\n");
    sr_err e;
    cfg_diag d;
    cfg_resmb *c = cfg_resmb_load(p, &d, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 2);
    char *w1 = sr_asprintf("%s:5: [Settings] Colour: unknown parameter", p);
    char *w2 = sr_asprintf("%s:7: unknown section [Extra]", p);
    CU_ASSERT_TRUE(log_has(w1));
    CU_ASSERT_TRUE(log_has(w2));
    CU_ASSERT_STRING_EQUAL(c->settings.src_exch_server, "S");
    CU_ASSERT_EQUAL_FATAL(c->mailboxes_smtp.n, 1);
    CU_ASSERT_STRING_EQUAL(c->mailboxes_smtp.v[0].value, "a@b.c");
    CU_ASSERT_EQUAL(c->mailboxes_smtp.v[0].line, 10);
    free(w1);
    free(w2);
    free(p);
    cfg_resmb_free(c);
}

#define SETTINGS "[Settings]\nCPUUCmdLine=\nSrcExchServer=\n"
#define SMTP1 "[MailboxesSMTP]\nroom-1@source.example\n"
#define RPC_HEAD "[RPCOverHTTP]\nConnectUsingHTTP=1\nProxyServer=p\nPrincipalName=\n"

static void test_resmb_errors(void)
{
    expect_resmb_error("flag.ini", SETTINGS RPC_HEAD "SSLOnly=2\nMutualAuth=0\nHTTPFirstOnFast=1\n"
                       "HTTPFirstOnSlow=0\n" SMTP1, SR_E_CONFIG, 8,
                       "[RPCOverHTTP] SSLOnly: expected 0 or 1, got 2");
    expect_resmb_error("rpcmiss.ini", SETTINGS RPC_HEAD "SSLOnly=0\nMutualAuth=0\nHTTPFirstOnFast=1\n"
                       SMTP1, SR_E_CONFIG, 4, "[RPCOverHTTP] HTTPFirstOnSlow: missing");
    expect_resmb_error("noauth.ini", SETTINGS RPC_HEAD "SSLOnly=0\nMutualAuth=0\nHTTPFirstOnFast=1\n"
                       "HTTPFirstOnSlow=0\nAuthNtlm=0\n" SMTP1, SR_E_CONFIG, 12,
                       "AuthNtlm, AuthBasic and AuthNegotiate are all 0");
    expect_resmb_error("proxy.ini", SETTINGS "[RPCOverHTTP]\nConnectUsingHTTP=1\nProxyServer=\n"
                       "PrincipalName=\nSSLOnly=0\nMutualAuth=0\nHTTPFirstOnFast=1\nHTTPFirstOnSlow=0\n"
                       SMTP1, SR_E_CONFIG, 6, "[RPCOverHTTP] ProxyServer: must not be empty");
    expect_resmb_error("dup.ini", SETTINGS "SrcExchServer=x\n" SMTP1, SR_E_CONFIG, 4,
                       "[Settings] SrcExchServer: duplicate parameter (first at line 3)");
    expect_resmb_error("nosettings.ini", SMTP1, SR_E_CONFIG, 2,
                       "mandatory section [Settings] is missing");
    expect_resmb_error("nocmd.ini", "[Settings]\nSrcExchServer=\n" SMTP1, SR_E_CONFIG, 1,
                       "[Settings] CPUUCmdLine: missing");
    expect_resmb_error("empty.ini", SETTINGS "[Mailboxes]\n[MailboxesSMTP]\n", SR_E_CONFIG, 4,
                       "no mailboxes to process");
    expect_resmb_error("nolists.ini", SETTINGS, SR_E_CONFIG, 3, "no mailboxes to process");
    expect_resmb_error("pairs.ini", SETTINGS SMTP1 "room-2@source.example\n[TargetMailboxesSMTP]\n"
                       "room-1@target.example\n[SwitchMessage]\nMigrationAgentType=Legacy\n",
                       SR_E_CONFIG, 7, "[TargetMailboxesSMTP]: 1 entries, but [MailboxesSMTP] has 2");
    expect_resmb_error("adpw.ini", SETTINGS SMTP1 "[AD]\nDCName=dc\nDCAccount=a\n", SR_E_CONFIG, 6,
                       "[AD] DCPassword: missing");
    expect_resmb_error("adname.ini", SETTINGS SMTP1 "[AD]\nDCName=\nDCAccount=a\nDCPassword=x\n",
                       SR_E_CONFIG, 7, "[AD] DCName: must not be empty");
    expect_resmb_error("target.ini", SETTINGS SMTP1 "[AD]\nDCName=d\nDCAccount=a\nDCPassword=x\n"
                       "[SwitchMessage]\nMigrationAgentType=Contemporary\n", SR_E_CONFIG, 10,
                       "[SwitchMessage] Target: required when MigrationAgentType=Contemporary");
    expect_resmb_error("agent.ini", SETTINGS SMTP1 "[SwitchMessage]\nMigrationAgentType=Modern\n",
                       SR_E_CONFIG, 7,
                       "[SwitchMessage] MigrationAgentType: expected one of Legacy, Contemporary, "
                       "got 'Modern'");
    expect_resmb_error("agentempty.ini", SETTINGS SMTP1 "[SwitchMessage]\nMigrationAgentType=\n",
                       SR_E_CONFIG, 7, "MigrationAgentType: must not be empty");
    expect_resmb_error("dn.ini", "[Settings]\nCPUUCmdLine=\nSrcExchServer=s\n[Mailboxes]\n"
                       "cn=Room-1,ou=x\n", SR_E_CONFIG, 5, "is not a legacyExchangeDN");
    expect_resmb_error("smtp.ini", SETTINGS "[MailboxesSMTP]\nroom one@source\n", SR_E_CONFIG, 5,
                       "'room one@source' is not an SMTP address");
    expect_resmb_error("twice.ini", SETTINGS SMTP1 "Room-1@Source.Example\n", SR_E_CONFIG, 6,
                       "listed twice (first at line 5)");
    expect_resmb_error("before.ini", "CPUUCmdLine=\n" SETTINGS SMTP1, SR_E_CONFIG, 1,
                       "text before the first [Section]");
    expect_resmb_error("header.ini", SETTINGS "[Mailboxes\n" SMTP1, SR_E_CONFIG, 4,
                       "malformed section header");
    expect_resmb_error("dupsec.ini", SETTINGS SMTP1 "[settings]\n", SR_E_CONFIG, 6,
                       "duplicate section [Settings] (first at line 1)");
    expect_resmb_error("noeq.ini", SETTINGS SMTP1 "[AD]\nDCName=d\nDCAccount=a\nDCPassword hunter2\n",
                       SR_E_CONFIG, 9, "[AD]: expected Parameter=Value");
}

static void test_resmb_error_never_echoes_secret(void)
{
    log_reset();
    char *p = write_tmp("secret.ini", SETTINGS SMTP1 "[AD]\nDCName=d\nDCAccount=a\nDCPassword hunter2\n");
    sr_err e;
    CU_ASSERT_PTR_NULL(cfg_resmb_load(p, NULL, &e));
    CU_ASSERT_PTR_NULL(strstr(e.msg, "hunter2"));
    char *log = log_text();
    CU_ASSERT_PTR_NULL(strstr(log, "hunter2"));
    free(log);
    free(p);
}

static void test_resmb_missing_file(void)
{
    sr_err e;
    cfg_diag d;
    char *p = sr_asprintf("%s/does-not-exist.ini", tmpdir);
    CU_ASSERT_PTR_NULL(cfg_resmb_load(p, &d, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_CONFIG);
    CU_ASSERT_EQUAL(d.config_errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, p));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "No such file"));
    free(p);
}

static void test_resmb_cmdline_errors(void)
{
    expect_resmb_error("cmd.ini", "[Settings]\nCPUUCmdLine=-Profiles \"Room One\nSrcExchServer=\n" SMTP1,
                       SR_E_CMDLINE, 2, "[Settings] CPUUCmdLine: unbalanced double quote");
    /* an INI error and a command line error: both counted, both exit bits */
    char *p = write_tmp("both.ini", "[Settings]\nCPUUCmdLine=a \"b\nSrcExchServer=\n"
                                    "LeaveTemporaryProfiles=yes\n" SMTP1);
    sr_err e;
    cfg_diag d;
    CU_ASSERT_PTR_NULL(cfg_resmb_load(p, &d, &e));
    CU_ASSERT_EQUAL(d.errors, 2);
    CU_ASSERT_EQUAL(d.config_errors, 1);
    CU_ASSERT_EQUAL(d.cmdline_errors, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "2 errors; first: "));
    free(p);
}

static void test_resmb_warnings(void)
{
    log_reset();
    cfg_diag d;
    char *p = write_tmp("warn.ini", "[Settings]\nCPUUCmdLine=\nSrcExchServer=\n"
                                    "[Mailboxes]\n/o=Org/ou=Exchange  Administrative Group/cn=R\n"
                                    "[SwitchMessage]\nMigrationAgentType=Legacy\nTarget=O365\n");
    sr_err e;
    cfg_resmb *c = cfg_resmb_load(p, &d, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 3); /* SrcExchServer empty, two blanks, no AD/targets */
    CU_ASSERT_TRUE(log_has("warn.ini:5: [Mailboxes]"));
    CU_ASSERT_TRUE(log_has("two blanks in a row"));
    CU_ASSERT_TRUE(log_has("warn.ini:8: [SwitchMessage] Target: only used with"));
    CU_ASSERT_TRUE(log_has("warn.ini:6: [SwitchMessage]: creating switch messages needs"));
    cfg_resmb_free(c);
    free(p);
}

/* ---- CPUUCmdLine ----------------------------------------------------------- */

static void expect_tokens(const char *line, size_t n, const char *const *want)
{
    char **argv = NULL;
    size_t argc = 99;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_cpuu_cmdline_tokenize(line, &argv, &argc, &e), SR_OK);
    CU_ASSERT_EQUAL(argc, n);
    for (size_t i = 0; i < n && i < argc; i++)
        CU_ASSERT_STRING_EQUAL(argv[i], want[i]);
    CU_ASSERT_PTR_NULL(argv[argc]);
    cfg_argv_free(argv);
}

static void expect_token_error(const char *line, const char *what)
{
    char **argv = (char **)1;
    sr_err e;
    CU_ASSERT_EQUAL(cfg_cpuu_cmdline_tokenize(line, &argv, NULL, &e), SR_E_CMDLINE);
    CU_ASSERT_PTR_NULL(argv);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, what));
}

static void test_tokenize(void)
{
    expect_tokens("", 0, NULL);
    expect_tokens("   \t ", 0, NULL);
    expect_tokens("-Silent", 1, (const char *[]){ "-Silent" });
    expect_tokens("  a   b\tc ", 3, (const char *[]){ "a", "b", "c" });
    /* Windows: single quotes and shell operators are ordinary characters */
    expect_tokens("'a b' \"c d\"", 3, (const char *[]){ "'a", "b'", "c d" });
    expect_tokens("a|b;c&d>e$f `id`", 2, (const char *[]){ "a|b;c&d>e$f", "`id`" });
    expect_tokens("\"\" x", 2, (const char *[]){ "", "x" });
    /* backslashes are literal unless a double quote follows */
    expect_tokens("-INI C:\\CPUU\\CPUU.ini", 2, (const char *[]){ "-INI", "C:\\CPUU\\CPUU.ini" });
    expect_tokens("\\\\server\\share\\ a\\\\b", 2,
                  (const char *[]){ "\\\\server\\share\\", "a\\\\b" });
    expect_tokens("abc\\", 1, (const char *[]){ "abc\\" });
    /* 2n backslashes + quote: n backslashes, the quote delimits */
    expect_tokens("a\\\\\"b c\" d", 2, (const char *[]){ "a\\b c", "d" });
    expect_tokens("\"C:\\x y\\\\\" z", 2, (const char *[]){ "C:\\x y\\", "z" });
    /* 2n+1 backslashes + quote: n backslashes and a literal quote */
    expect_tokens("a\\\"b", 1, (const char *[]){ "a\"b" });
    expect_tokens("a\\\\\\\"b c", 2, (const char *[]){ "a\\\"b", "c" });
    /* quotes inside an argument */
    expect_tokens("-Log\"C:\\Logs\\cpuu #H.log\"x y", 2,
                  (const char *[]){ "-LogC:\\Logs\\cpuu #H.logx", "y" });
    /* "" inside a quoted part: a literal quote that ends the part */
    expect_tokens("\"a\"\"b\"", 1, (const char *[]){ "a\"b" });
    expect_tokens("\"a\"\"b c", 2, (const char *[]){ "a\"b", "c" });
    expect_tokens("\"\"\"a\"\"\" x", 2, (const char *[]){ "\"a\"", "x" });
    expect_token_error("\"abc", "unbalanced double quote (opened at column 1)");
    expect_token_error("-Profiles \"Room One", "unbalanced double quote (opened at column 11)");
    expect_token_error("a\nb", "line break at column 2");
}

/* ---- CPUU.ini ------------------------------------------------------------------ */

static cfg_cpuu *load_cpuu_fixture(const char *rel, cfg_diag *d)
{
    char *p = fixture(rel);
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, d, &e);
    if (!c)
        fprintf(stderr, "\n%s: %s\n", rel, e.msg);
    free(p);
    return c;
}

static void assert_words(char **v, size_t n, const char *const *want)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    for (size_t i = 0; i < n; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(v[i]);
        CU_ASSERT_STRING_EQUAL(v[i], want[i]);
    }
    CU_ASSERT_PTR_NULL(v[n]);
}

static void test_cpuu_recommended_and_defaults(void)
{
    cfg_diag d;
    cfg_cpuu *c = load_cpuu_fixture("cpuu/recommended.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(d.warnings, 0);
    CU_ASSERT_TRUE(c->features_given);
    CU_ASSERT_EQUAL(c->features, CFG_FSET(CFG_F_DELEGATES) | CFG_FSET(CFG_F_RULES));
    CU_ASSERT_EQUAL(c->effective, c->features);
    CU_ASSERT_EQUAL(c->silent, 1);
    /* spec defaults */
    CU_ASSERT_STRING_EQUAL(c->authority_url, "https://login.microsoftonline.com/common");
    CU_ASSERT_STRING_EQUAL(c->resource_url, "https://outlook.office365.com");
    CU_ASSERT_EQUAL(c->attempt, 3);
    CU_ASSERT_EQUAL(c->watchdog, 1);
    CU_ASSERT_EQUAL(c->use_local_autodiscover_xmls, 0);
    CU_ASSERT_EQUAL(c->ask_source_credentials_only, 0);
    CU_ASSERT_EQUAL(c->max_local_dumps, 10);
    assert_words(c->stop_processes, 5,
                 (const char *[]){ "Communicator.exe", "Outlook.exe", "Rim.Desktop.exe",
                                   "Desktopmanager.exe", "GoogleCalendarSync.exe" });
    CU_ASSERT_PTR_NULL(c->admin);
    CU_ASSERT_PTR_NULL(c->autodiscover_source_url);
    CU_ASSERT_PTR_NULL(c->processed_domains_fqdns[0]);
    CU_ASSERT_FALSE(c->notify.present);
    CU_ASSERT_STRING_EQUAL(c->notify.subject, CFG_DEFAULT_NOTIFY_SUBJECT);
    CU_ASSERT_STRING_EQUAL(c->notify.body, CFG_DEFAULT_NOTIFY_BODY);
    CU_ASSERT_EQUAL(c->notify.priority, CFG_PRIO_NORMAL);
    CU_ASSERT_EQUAL(c->notify.profile, CFG_NPROFILE_DEFAULT);
    cfg_cpuu_free(c);
}

static void test_cpuu_full(void)
{
    cfg_diag d;
    log_reset();
    cfg_cpuu *c = load_cpuu_fixture("cpuu/full.ini", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    /* the two passwords are the Windows wizard's form: each warned, naming
     * the command that encrypts it */
    CU_ASSERT_EQUAL(d.warnings, 2);
    CU_ASSERT_TRUE(log_has("full.ini:6: [Parameters] Password: not in switchresmb's encrypted "
                           "form (clear text, or encrypted by the Windows wizard); encrypt it "
                           "with: cpuu-config --encrypt Password "));
    CU_ASSERT_TRUE(log_has("full.ini:8: [Parameters] PasswordTrg: not in"));
    /* accepted without effect: said so, with the reason */
    CU_ASSERT_TRUE(log_has("[Parameters] BackupOST: not applicable on Linux: there is no Outlook"));
    CU_ASSERT_TRUE(log_has("[Parameters] StopProcesses: not applicable on Linux"));
    CU_ASSERT_TRUE(log_has("[Parameters] CreateRegFileForOSTRecovery: not applicable on Linux"));
    CU_ASSERT_TRUE(log_has("[Parameters] UseTargetOST: not applicable on Linux"));
    CU_ASSERT_TRUE(log_has("[Parameters] AskSourceCredentialsOnly: ignored: "));
    /* the engine resets the junk e-mail rule (cpuu/feat_junk.c): no note */
    char *all = log_text();
    CU_ASSERT_PTR_NULL(strstr(all, "RemoveJunkEmailMessages:"));
    free(all);
    CU_ASSERT_TRUE(log_has("[Parameters] Log: ignored: the engine reads it from its command line"));
    CU_ASSERT_STRING_EQUAL(c->admin, "SOURCE\\SvcCpuu");
    CU_ASSERT_STRING_EQUAL(c->password, "7F3A62CD00FC1DDDCD");
    CU_ASSERT_STRING_EQUAL(c->admin_trg, "svc-cpuu@target.example");
    CU_ASSERT_STRING_EQUAL(c->password_trg, "0011AABB");
    CU_ASSERT_EQUAL(c->ask_credentials, 1);
    CU_ASSERT_EQUAL(c->ask_source_credentials_only, 1);
    assert_words(c->allow_additional_services, 2, (const char *[]){ "MSEMS", "EMABLT" });
    CU_ASSERT_FALSE(c->allow_all_services);
    CU_ASSERT_FALSE(c->features_given);
    CU_ASSERT_EQUAL(c->skip, CFG_FSET(CFG_F_NICKS) | CFG_FSET(CFG_F_PUBLICFAV));
    CU_ASSERT_EQUAL(c->effective, CFG_FSET_PROCESSABLE & ~c->skip);
    CU_ASSERT_EQUAL(c->critical,
                    CFG_FSET(CFG_F_RULES) | CFG_FSET(CFG_F_SHORTCUTS) | CFG_FSET(CFG_F_ACTIVITIES));
    CU_ASSERT_EQUAL(c->remove, CFG_FSET(CFG_F_NICKS));
    int flags[] = { c->remove_junk_email_messages, c->process_offline_profiles, c->keep_ost,
                    c->backup_ost, c->create_reg_file_for_ost_recovery, c->use_target_ost,
                    c->silent, c->use_local_autodiscover_xmls, c->default_profile,
                    c->leave_temporary_profile, c->move_dumps_to_remote, c->log_write_directly,
                    c->do_not_modify_exclude_scp_lookup, c->name_trg_store_as_src,
                    c->skip_autodiscover_checking, c->disable_logon_through_outlook };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CU_ASSERT_EQUAL(flags[i], 1);
    CU_ASSERT_EQUAL(c->watchdog, 0);
    CU_ASSERT_EQUAL(c->undo_all, 0);
    CU_ASSERT_EQUAL(c->undo_default_profile, 0);
    CU_ASSERT_EQUAL(c->cleanup, 0);
    assert_words(c->stop_processes, 2, (const char *[]){ "Outlook.exe", "Teams.exe" });
    CU_ASSERT_EQUAL(c->attempt, 5);
    CU_ASSERT_EQUAL(c->open_store_wait, 120);
    CU_ASSERT_EQUAL(c->feature_wait, 600);
    CU_ASSERT_EQUAL(c->global_wait, 3600);
    assert_words(c->processed_domains_fqdns, 2, (const char *[]){ "source.example", "target.example" });
    CU_ASSERT_STRING_EQUAL(c->autodiscover_source_url,
                           "https://autodiscover.source.example/autodiscover/autodiscover.xml");
    CU_ASSERT_STRING_EQUAL(c->autodiscover_target_url,
                           "https://autodiscover.target.example/autodiscover/autodiscover.xml");
    CU_ASSERT_STRING_EQUAL(c->authority_url, "https://login.example/tenant");
    CU_ASSERT_STRING_EQUAL(c->resource_url, "https://outlook.example");
    assert_words(c->profiles, 2, (const char *[]){ "Outlook", "Room" });
    assert_words(c->undo, 1, (const char *[]){ "Old" });
    CU_ASSERT_STRING_EQUAL(c->log, "%username%_CPUU_#H_#D_#T.log");
    CU_ASSERT_EQUAL(c->max_local_dumps, 3);
    CU_ASSERT_TRUE(c->notify.present);
    assert_words(c->notify.smtp_addresses, 2,
                 (const char *[]){ "address1@domain.com", "address2@domain.com" });
    CU_ASSERT_EQUAL(c->notify.priority, CFG_PRIO_HIGH);
    CU_ASSERT_EQUAL(c->notify.attach, CFG_ATTACH_STATISTICS);
    CU_ASSERT_EQUAL(c->notify.when, CFG_NOTIFY_FAIL);
    CU_ASSERT_EQUAL(c->notify.profile, CFG_NPROFILE_CURRENT);
    CU_ASSERT_STRING_EQUAL(c->notify.subject, "%R: Profile %P on computer %H");
    CU_ASSERT_STRING_EQUAL(c->notify.body, "%u/%p on %h: %r at %t %d (100%%)");
    cfg_cpuu_free(c);
}

#define PARAMS "[Parameters]\n"

/* Our OAuth2 app-only keys (docs/logon.md): values kept, pairs checked. */
static void test_cpuu_oauth_keys(void)
{
    char *p = write_tmp("oauth.ini", PARAMS "ClientId=00000000-aaaa-bbbb-cccc-000000000001\n"
                        "ClientSecret=srenc1:host:AAAA\nClientCertificate=/etc/sr/app.pem\n"
                        "ClientCertificateKey=/etc/sr/app.key\n"
                        "TokenURL=https://login.microsoftonline.com/t1/oauth2/v2.0/token\n");
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->client_id, "00000000-aaaa-bbbb-cccc-000000000001");
    CU_ASSERT_STRING_EQUAL(c->client_secret, "srenc1:host:AAAA");
    CU_ASSERT_EQUAL(c->client_secret_line, 3);
    CU_ASSERT_STRING_EQUAL(c->client_cert, "/etc/sr/app.pem");
    CU_ASSERT_STRING_EQUAL(c->client_key, "/etc/sr/app.key");
    CU_ASSERT_STRING_EQUAL(c->token_url, "https://login.microsoftonline.com/t1/oauth2/v2.0/token");
    cfg_cpuu_free(c);
    free(p);
    expect_cpuu_error("cs.ini", PARAMS "ClientSecret=AB\n", 2, "ClientSecret: needs ClientId");
    expect_cpuu_error("cc.ini", PARAMS "ClientId=x\nClientCertificate=/a.pem\n", 3,
                      "ClientCertificate and ClientCertificateKey go together");
    expect_cpuu_error("tu.ini", PARAMS "TokenURL=login.example/token\n", 2,
                      "TokenURL: expected an http:// or https:// URL");
}

/* Our protocol keys (issue 17, docs/cpuu.md): defaults, values, refusals. */
static void test_cpuu_protocol_keys(void)
{
    char *p = write_tmp("proto0.ini", PARAMS "Attempt=2\n");
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->protocol, CFG_PROTO_AUTO);
    CU_ASSERT_EQUAL(c->protocol_trg, CFG_PROTO_AUTO);
    CU_ASSERT_PTR_NULL(c->graph_url);
    cfg_cpuu_free(c);
    free(p);
    p = write_tmp("proto1.ini", PARAMS "ClientId=app\nClientSecret=srenc1:h:AA\nProtocol=ews\n"
                  "ProtocolTrg=GRAPH\nGraphURL=https://graph.microsoft.us\n");
    c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->protocol, CFG_PROTO_EWS);
    CU_ASSERT_EQUAL(c->protocol_trg, CFG_PROTO_GRAPH);
    CU_ASSERT_EQUAL(c->protocol_trg_line, 5);
    CU_ASSERT_STRING_EQUAL(c->graph_url, "https://graph.microsoft.us");
    cfg_cpuu_free(c);
    free(p);
    expect_cpuu_error("ps.ini", PARAMS "Attempt=2\nProtocol=Graph\n", 3,
                      "Protocol: Graph is for an Office 365 target only");
    expect_cpuu_error("pt.ini", PARAMS "ProtocolTrg=Graph\n", 2,
                      "ProtocolTrg: Graph needs the OAuth2 app-only logon");
    expect_cpuu_error("pv.ini", PARAMS "ProtocolTrg=REST\n", 2,
                      "ProtocolTrg: expected one of Auto, EWS, Graph, got 'REST'");
    expect_cpuu_error("pu.ini", PARAMS "GraphURL=graph.example\n", 2,
                      "GraphURL: expected an http:// or https:// URL");
}

static void test_cpuu_errors(void)
{
    expect_cpuu_error("fs.ini", PARAMS "Skip=Nicks\nFeatures=Rules\n", 3,
                      "Features: cannot be used together with Skip (line 2)");
    expect_cpuu_error("unk.ini", PARAMS "Features=Rules Gadgets\n", 2,
                      "[Parameters] Features: unknown feature 'Gadgets'");
    expect_cpuu_error("act.ini", PARAMS "Features=Activities\n", 2, "not allowed here: 'Activities'");
    expect_cpuu_error("crit.ini", PARAMS "Critical=Rules Nicks\n", 2,
                      "[Parameters] Critical: not allowed here: 'Nicks' (allowed: AddBoxes CONTAB "
                      "ContactMembers Delegates Rules SRS SearchFolders Shortcuts Activities "
                      "Booking)");
    expect_cpuu_error("critall.ini", PARAMS "Critical=All\n", 2, "unknown feature 'All'");
    expect_cpuu_error("rm.ini", PARAMS "Remove=Rules\n", 2, "Remove: not allowed here: 'Rules'");
    expect_cpuu_error("adm.ini", PARAMS "Admin=x\\y\n", 2, "Admin: needs Password");
    expect_cpuu_error("pwt.ini", PARAMS "\nPasswordTrg=AB\n", 3, "PasswordTrg: needs AdminTrg");
    expect_cpuu_error("att.ini", PARAMS "Attempt=0\n", 2, "Attempt: expected a whole number from 1");
    expect_cpuu_error("wait.ini", PARAMS "GlobalWait=10s\n", 2, "GlobalWait: expected a whole number");
    expect_cpuu_error("flag.ini", PARAMS "Silent=true\n", 2, "[Parameters] Silent: expected 0 or 1, got true");
    expect_cpuu_error("url.ini", PARAMS "AuthorityURL=login.example\n", 2,
                      "AuthorityURL: expected an http:// or https:// URL");
    expect_cpuu_error("dup.ini", PARAMS "Silent=1\nsilent=0\n", 3, "duplicate parameter (first at line 2)");
    expect_cpuu_error("prio.ini", "[Admin notification]\nSMTPAddress=a@b.c\nPriority=urgent\n", 3,
                      "[Admin notification] Priority: expected one of low, normal, high, got 'urgent'");
    expect_cpuu_error("att2.ini", "[Admin notification]\nSMTPAddress=a@b.c\nAttach log=some\n", 3,
                      "Attach log: expected one of none, all, statistics");
    expect_cpuu_error("when.ini", "[Admin notification]\nSMTPAddress=a@b.c\nNotification=never\n", 3,
                      "Notification: expected one of all, success, fail");
    expect_cpuu_error("prof.ini", "[Admin notification]\nSMTPAddress=a@b.c\nProfile=other\n", 3,
                      "Profile: expected one of default, current");
    expect_cpuu_error("nosmtp.ini", "[Admin notification]\nPriority=low\n", 1,
                      "[Admin notification] SMTPAddress: missing");
    expect_cpuu_error("badsmtp.ini", "[Admin notification]\nSMTPAddress=admin\n", 1,
                      "'admin' is not an SMTP address");
}

/* Our SMTP relay keys: parsed, defaults, and the checks that keep
 * credentials off the wire in clear and CR/LF out of headers. */
#define NOTIF "[Admin notification]\nSMTPAddress=a@b.c\n"

static void test_cpuu_smtp_keys(void)
{
    char *p = write_tmp("smtpdef.ini", NOTIF);
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NULL(c->notify.smtp_server);
    CU_ASSERT_EQUAL(c->notify.smtp_security, CFG_SMTP_STARTTLS);
    CU_ASSERT_PTR_NULL(c->notify.from);
    cfg_cpuu_free(c);
    free(p);
    p = write_tmp("smtpall.ini", NOTIF "SMTPServer=relay.example:587\nSMTPSecurity=tls\n"
                  "SMTPUser=mailer\nSMTPPassword=srenc1:x\nFrom=cpuu@src.example\n"
                  "SMTPCAFile=/etc/ca.pem\n");
    c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->notify.smtp_server, "relay.example:587");
    CU_ASSERT_EQUAL(c->notify.smtp_security, CFG_SMTP_TLS);
    CU_ASSERT_STRING_EQUAL(c->notify.smtp_user, "mailer");
    CU_ASSERT_STRING_EQUAL(c->notify.smtp_password, "srenc1:x");
    CU_ASSERT_EQUAL(c->notify.smtp_password_line, 6);
    CU_ASSERT_STRING_EQUAL(c->notify.from, "cpuu@src.example");
    CU_ASSERT_STRING_EQUAL(c->notify.smtp_ca_file, "/etc/ca.pem");
    cfg_cpuu_free(c);
    free(p);
    p = write_tmp("smtplo.ini", NOTIF "SMTPServer=127.0.0.1:2525\nSMTPSecurity=none\n");
    c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(c);
    cfg_cpuu_free(c);
    free(p);
    p = write_tmp("smtpplain.ini", NOTIF "SMTPServer=relay.example\nSMTPSecurity=none\nSMTPAllowPlain=1\n");
    c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(c);
    cfg_cpuu_free(c);
    free(p);
    expect_cpuu_error("smtpnone.ini", NOTIF "SMTPServer=relay.example\nSMTPSecurity=none\n", 4,
                      "SMTPSecurity: 'none' sends mail in clear to relay.example");
    expect_cpuu_error("smtpsec.ini", NOTIF "SMTPSecurity=ssl\n", 3,
                      "SMTPSecurity: expected one of starttls, tls, none");
    expect_cpuu_error("smtpusr.ini", NOTIF "SMTPUser=mailer\n", 3, "SMTPUser: needs SMTPPassword");
    expect_cpuu_error("smtpsrv.ini", NOTIF "SMTPServer=smtp://relay\n", 3,
                      "SMTPServer: expected host[:port]");
    expect_cpuu_error("smtpcr.ini", NOTIF "Subject=%R\rBcc: victim@x.example\n", 3,
                      "[Admin notification] Subject: contains a control character (0x0d)");
    expect_cpuu_error("smtpfrom.ini", NOTIF "From=Admin <a@b.c>\n", 3, "From: 'Admin <a@b.c>' is not a bare");
    expect_cpuu_error("smtpaddr.ini", "[Admin notification]\nSMTPAddress=a@b.c,x@y.z\n", 1,
                      "must be a bare address");
}

/* SearchFolders, ContactMembers and our Booking in Features and Critical. */
static void test_cpuu_new_features(void)
{
    char *p = write_tmp("newfeat.ini", "[Parameters]\nFeatures=Delegates Rules Booking SearchFolders "
                                       "ContactMembers\nCritical=Booking ContactMembers SearchFolders\n");
    sr_err e;
    cfg_diag d;
    cfg_cpuu *c = cfg_cpuu_load(p, &d, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    cfg_feature_set want = CFG_FSET(CFG_F_BOOKING) | CFG_FSET(CFG_F_CONTACTMEMBERS) |
                           CFG_FSET(CFG_F_SEARCHFOLDERS);
    CU_ASSERT_EQUAL(c->critical & want, want);
    CU_ASSERT_EQUAL(c->effective & want, want);
    CU_ASSERT_EQUAL(d.warnings, 0);
    cfg_cpuu_free(c);
    free(p);
}

/* Issue 10: Critical=SearchFolders passed and then every profile failed with
 * CSV 11; a feature the engine has not built is an error naming it. */
static void test_cpuu_unbuilt_feature(void)
{
    expect_cpuu_error("crit.ini", PARAMS "Features=Delegates Rules\nCritical=SRS\n", 3,
                      "[Parameters] Critical: SRS is not built in this engine");
    expect_cpuu_error("feat.ini", PARAMS "Features=Rules CONTAB\n", 2,
                      "[Parameters] Features: CONTAB is not built in this engine (it has: "
                      "ContactMembers Delegates ");   /* the list from CFG_FSET_BUILT */
    log_reset();
    char *p = write_tmp("skip.ini", PARAMS "Skip=SRS Nicks\n");
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(c);
    CU_ASSERT_TRUE(log_has("skip.ini:2: [Parameters] Skip: SRS is not built in this engine; "
                           "skipping it changes nothing"));
    cfg_cpuu_free(c);
    free(p);
}

/* Issue 10: keys that do nothing here are said so; a management parameter
 * written into CPUU.ini does not change the engine's mode; ';' between
 * domains is refused; a comment after a host name is part of it. */
static void test_cpuu_ignored_and_refused(void)
{
    log_reset();
    cfg_diag d;
    char *p = write_tmp("mgmt.ini", PARAMS "Cleanup=1\nUndoAll=1\nColour=blue\n");
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(p, &d, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(log_has("mgmt.ini:2: [Parameters] Cleanup: ignored: the engine's mode (update, "
                           "rollback, cleanup) comes from its command line only (-Cleanup)"));
    CU_ASSERT_TRUE(log_has("mgmt.ini:3: [Parameters] UndoAll: ignored: "));
    CU_ASSERT_TRUE(log_has("mgmt.ini:4: [Parameters] Colour: unknown parameter; ignored"));
    CU_ASSERT_EQUAL(d.warnings, 1);
    CU_ASSERT_EQUAL(c->cleanup, 1); /* kept for the record; the engine's mode ignores it */
    cfg_cpuu_free(c);
    free(p);
    expect_cpuu_error("fqdn.ini", PARAMS "ProcessedDomainsFQDNs=src.test;tgt.test\n", 2,
                      "[Parameters] ProcessedDomainsFQDNs: 'src.test;tgt.test' holds ';'; "
                      "separate domain names with blanks only");
    expect_cpuu_error("fqdn2.ini", PARAMS "ProcessedDomainsFQDNs=src.test, tgt.test\n", 2,
                      "holds ','");
    /* and in SwitchResMB.ini */
    log_reset();
    p = write_tmp("hash.ini", "[Settings]\nCPUUCmdLine=\nSrcExchServer=\n[AD]\n"
                              "DCName=dc1.src.test   # the old one\nDCAccount=a\nDCPassword=x\n"
                              SMTP1);
    cfg_resmb *r = cfg_resmb_load(p, &d, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_STRING_EQUAL(r->ad.dc_name, "dc1.src.test   # the old one");
    CU_ASSERT_TRUE(log_has("hash.ini:5: [AD] DCName: 'dc1.src.test   # the old one' holds '#'"));
    cfg_resmb_free(r);
    free(p);
    expect_resmb_error("hash2.ini", SETTINGS "[MailboxesSMTP]\nroom-1@src.test ; old\n",
                       SR_E_CONFIG, 5, "a comment after an address is part of the line");
}

static void test_cpuu_skip_all_and_alias(void)
{
    log_reset();
    char *p = write_tmp("skipall.ini", "[Parameters]\nSkip=All\nAllowAdditionalServices=All\n"
                                       "Frobnicate=1\nCritical=Rules\n[notification]\nSMTPAddress=a@b.c\n"
                                       "Subject=%Q done\n");
    sr_err e;
    cfg_diag d;
    cfg_cpuu *c = cfg_cpuu_load(p, &d, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(c->skip, CFG_FSET_PROCESSABLE);
    CU_ASSERT_EQUAL(c->effective, 0);
    CU_ASSERT_TRUE(c->allow_all_services);
    CU_ASSERT_TRUE(c->notify.present);
    CU_ASSERT_EQUAL(c->notify.when, CFG_NOTIFY_ALL);
    CU_ASSERT_EQUAL(c->notify.attach, CFG_ATTACH_NONE);
    CU_ASSERT_STRING_EQUAL(c->notify.body, CFG_DEFAULT_NOTIFY_BODY);
    CU_ASSERT_EQUAL(d.warnings, 3);
    CU_ASSERT_TRUE(log_has("skipall.ini:4: [Parameters] Frobnicate: unknown parameter"));
    CU_ASSERT_TRUE(log_has("skipall.ini:5: [Parameters] Critical: Rules is not processed"));
    CU_ASSERT_TRUE(log_has("skipall.ini:8: [Admin notification] Subject: '%Q' is not a variable"));
    cfg_cpuu_free(c);
    free(p);
}

static void test_feature_table(void)
{
    const char *names[] = { "AddBoxes", "CONTAB", "ContactMembers", "Delegates", "MoveToFolder",
                            "Nicks", "OtherUsersFolders", "PublicFav", "Rules", "SRS",
                            "SearchFolders", "Services", "Shortcuts", "UserNames", "Favorites",
                            "Calendar", "Contacts", "Tasks", "Notes", "Journal", "Activities",
                            "Booking" };
    CU_ASSERT_EQUAL(sizeof names / sizeof names[0], CFG_F__MAX);
    for (int f = 0; f < CFG_F__MAX; f++) {
        CU_ASSERT_STRING_EQUAL(cfg_feature_name((cfg_feature)f), names[f]);
        CU_ASSERT_EQUAL(cfg_feature_parse(names[f]), f);
    }
    CU_ASSERT_EQUAL(cfg_feature_parse("contab"), CFG_F_CONTAB);
    CU_ASSERT_EQUAL(cfg_feature_parse("All"), -1);
    CU_ASSERT_PTR_NULL(cfg_feature_name(CFG_F__MAX));
}

static void test_notification_expand(void)
{
    cfg_notify_vars v = { .updated = 1, .user = "jdoe", .profile = "Outlook", .host = "ws-7",
                          .time = "10:15", .date = "2026-11-25" };
    char *s = cfg_notification_expand(CFG_DEFAULT_NOTIFY_SUBJECT, &v);
    CU_ASSERT_STRING_EQUAL(s, "UPDATED: Profile Outlook on computer ws-7");
    free(s);
    s = cfg_notification_expand("%r|%u|%p|%h|%t|%d|%%|%X|%", &v);
    CU_ASSERT_STRING_EQUAL(s, "UPDATED|jdoe|Outlook|ws-7|10:15|2026-11-25|%|%X|%");
    free(s);
    v.updated = 0;
    v.user = NULL;
    s = cfg_notification_expand("%R by [%U] 100%%", &v);
    CU_ASSERT_STRING_EQUAL(s, "NOT UPDATED by [] 100%");
    free(s);
    s = cfg_notification_expand(CFG_DEFAULT_NOTIFY_BODY, &v);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Profile Outlook of user  on computer ws-7 was NOT UPDATED"));
    CU_ASSERT_PTR_NULL(strchr(s, '%'));
    free(s);
    s = cfg_notification_expand(NULL, NULL);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
}

/* ---- stored credentials ---------------------------------------------------- */

static char *host_a, *host_b;

static void use_host(const char *idfile)
{
    setenv("SR_MACHINE_ID_FILE", idfile, 1);
}

static void roundtrip(cfg_enc_mode mode)
{
    use_host(host_a);
    char *stored = NULL, *plain = NULL, *stored2 = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("S3cret pass=word;", mode, &stored, &e), SR_OK);
    char *prefix = sr_asprintf("srenc1:%s:", cfg_enc_mode_name(mode));
    CU_ASSERT_EQUAL(strncmp(stored, prefix, strlen(prefix)), 0);
    CU_ASSERT_PTR_NULL(strstr(stored, "S3cret"));
    CU_ASSERT_TRUE(cfg_secret_is_ours(stored));
    CU_ASSERT_EQUAL(cfg_secret_decrypt(stored, &plain, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(plain, "S3cret pass=word;");
    sr_secret_free(plain);
    /* a fresh nonce each time: the same password never gives the same value */
    CU_ASSERT_EQUAL(cfg_secret_encrypt("S3cret pass=word;", mode, &stored2, &e), SR_OK);
    CU_ASSERT_STRING_NOT_EQUAL(stored, stored2);
    free(stored2);
    free(prefix);
    free(stored);
}

static void test_secret_roundtrips(void)
{
    roundtrip(CFG_ENC_USER);
    roundtrip(CFG_ENC_HOST);
    log_reset();
    roundtrip(CFG_ENC_UNRESTRICTED);
    CU_ASSERT_TRUE(log_has("never in production"));
    CU_ASSERT_EQUAL(cfg_enc_mode_parse("HOST"), CFG_ENC_HOST);
    CU_ASSERT_EQUAL(cfg_enc_mode_parse("machine"), -1);
}

static void test_secret_wrong_host_and_user(void)
{
    sr_err e;
    char *sh = NULL, *su = NULL, *sx = NULL, *plain = NULL;
    use_host(host_a);
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("pw", CFG_ENC_HOST, &sh, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("pw", CFG_ENC_USER, &su, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("pw", CFG_ENC_UNRESTRICTED, &sx, &e), SR_OK);
    /* another user, same host */
    CU_ASSERT_EQUAL(cfg_secret_decrypt_as(su, getuid() + 1, &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NULL(plain);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "another user"));
    CU_ASSERT_EQUAL(cfg_secret_decrypt_as(sh, getuid() + 1, &plain, &e), SR_OK);
    sr_secret_free(plain);
    /* another host */
    use_host(host_b);
    CU_ASSERT_EQUAL(cfg_secret_decrypt(sh, &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NULL(plain);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "encrypted on another host"));
    CU_ASSERT_EQUAL(cfg_secret_decrypt(su, &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_EQUAL(cfg_secret_decrypt(sx, &plain, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(plain, "pw");
    sr_secret_free(plain);
    /* no host id at all */
    char *missing = sr_asprintf("%s/no-machine-id", tmpdir);
    use_host(missing);
    CU_ASSERT_EQUAL(cfg_secret_decrypt(sh, &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "cannot read the host id"));
    free(missing);
    use_host(host_a);
    free(sh);
    free(su);
    free(sx);
}

static void test_secret_tampered_and_foreign(void)
{
    sr_err e;
    char *s = NULL, *plain = NULL;
    use_host(host_a);
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("password", CFG_ENC_HOST, &s, &e), SR_OK);
    /* flip one ciphertext byte (well past the key id and nonce) */
    size_t n = strlen(s);
    char *t = sr_strdup(s);
    t[n - 6] = t[n - 6] == 'A' ? 'B' : 'A';
    CU_ASSERT_EQUAL(cfg_secret_decrypt(t, &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NULL(plain);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "altered"));
    /* the mode label is authenticated too */
    char *relabel = sr_asprintf("srenc1:unrestricted:%s", s + strlen("srenc1:host:"));
    CU_ASSERT_EQUAL(cfg_secret_decrypt(relabel, &plain, &e), SR_E_CRYPTO);
    /* truncated / not base64 */
    CU_ASSERT_EQUAL(cfg_secret_decrypt("srenc1:host:AAAA", &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "damaged"));
    CU_ASSERT_EQUAL(cfg_secret_decrypt("srenc1:host:!!!", &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_EQUAL(cfg_secret_decrypt("srenc1:galaxy:AAAA", &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no known encryption mode"));
    CU_ASSERT_EQUAL(cfg_secret_decrypt("srenc9:host:AAAA", &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "version"));
    /* the spec's Windows-encrypted example */
    CU_ASSERT_FALSE(cfg_secret_is_ours("7F3A62CD00FC1DDDCD"));
    CU_ASSERT_EQUAL(cfg_secret_decrypt("7F3A62CD00FC1DDDCD", &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "encrypted by another tool"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "switchresmb <SwitchResMB.ini> -"));
    CU_ASSERT_PTR_NULL(plain);
    free(t);
    CU_ASSERT_EQUAL(cfg_secret_encrypt("", CFG_ENC_HOST, &t, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NULL(t);
    free(relabel);
    free(s);
}

static void test_resmb_dc_password_foreign(void)
{
    cfg_resmb *c = load_fixture("switchresmb/seed_ex1_legacy.ini", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *plain = NULL;
    sr_err e;
    CU_ASSERT_EQUAL(cfg_resmb_dc_password(c, &plain, &e), SR_E_CRYPTO);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "seed_ex1_legacy.ini:31: [AD] DCPassword: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "another tool"));
    char *cmd = sr_asprintf("re-encrypt it with: switchresmb %s -", c->path);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, cmd));
    free(cmd);
    CU_ASSERT_PTR_NULL(plain);
    cfg_resmb_free(c);
}

/* ---- DCPassword rewrite ------------------------------------------------------ */

static const char rewrite_before[] =
    "; keep me\r\n[Settings]\r\nCPUUCmdLine=-Silent\r\nSrcExchServer=\r\n"
    "DCPassword=not-this-one\r\n[ ad ]\r\nDCName=dc\r\n; DCPassword=nor-this\r\n"
    "dcpassword  =  OLDVALUE   \r\nDCAccount=a\r\n[MailboxesSMTP]\r\nr@x.y";

static void test_rewrite_dcpassword(void)
{
    use_host(host_a);
    char *p = write_tmp("rw.ini", rewrite_before);
    CU_ASSERT_EQUAL(chmod(p, 0640), 0);
    char *stored = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("Pa55 word", CFG_ENC_HOST, &stored, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "DCPassword", stored, &e), SR_OK);
    size_t len = 0;
    char *after = sr_read_file(p, 1 << 20, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(after);
    const char *old = strstr(rewrite_before, "OLDVALUE");
    size_t pre = (size_t)(old - rewrite_before), tail = strlen(old + 8);
    CU_ASSERT_EQUAL(len, strlen(rewrite_before) - 8 + strlen(stored));
    CU_ASSERT_EQUAL(memcmp(after, rewrite_before, pre), 0);
    CU_ASSERT_EQUAL(memcmp(after + pre, stored, strlen(stored)), 0);
    CU_ASSERT_EQUAL(memcmp(after + pre + strlen(stored), old + 8, tail), 0);
    struct stat st;
    CU_ASSERT_EQUAL(stat(p, &st), 0);
    CU_ASSERT_EQUAL(st.st_mode & 07777, 0640);
    /* and the file still loads, with a password that decrypts */
    cfg_resmb *c = cfg_resmb_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *plain = NULL;
    CU_ASSERT_EQUAL(cfg_resmb_dc_password(c, &plain, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(plain, "Pa55 word");
    sr_secret_free(plain);
    cfg_resmb_free(c);
    free(after);
    free(stored);
    free(p);
}

static void expect_rewrite_error(const char *name, const char *text, const char *what)
{
    char *p = write_tmp(name, text);
    sr_err e;
    CU_ASSERT_EQUAL(cfg_set_stored_secret(p, "DCPassword", "srenc1:host:AAAA", &e), SR_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, p));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, what));
    char *now = sr_read_file(p, 4096, NULL, &e);
    CU_ASSERT_STRING_EQUAL(now, text); /* untouched */
    free(now);
    free(p);
}

static void test_rewrite_errors(void)
{
    expect_rewrite_error("noad.ini", SETTINGS SMTP1, "no [AD] section");
    expect_rewrite_error("nopw.ini", SETTINGS "[AD]\nDCName=d\n" SMTP1 "DCPassword=x\n",
                         "[AD] has no DCPassword line");
    expect_rewrite_error("twopw.ini", SETTINGS "[AD]\nDCPassword=\nDCPassword=x\n",
                         "appears 2 times");
    sr_err e;
    char *missing = sr_asprintf("%s/nope.ini", tmpdir);
    CU_ASSERT_EQUAL(cfg_set_stored_secret(missing, "DCPassword", "x", &e), SR_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "nope.ini"));
    CU_ASSERT_EQUAL(cfg_set_stored_secret(missing, "DCPassword", "a\nb", &e), SR_E_INVALID);
    free(missing);
}

/* ---- [TargetAD] (ours, issue 12) ------------------------------------------------ */

static void test_target_ad(void)
{
    use_host(host_a);
    char *ca = write_tmp("target-ca.pem", "-----BEGIN CERTIFICATE-----\n");
    char *stored = NULL;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_secret_encrypt("tgt pw", CFG_ENC_HOST, &stored, &e), SR_OK);
    char *text = sr_asprintf(SETTINGS SMTP1 "[AD]\nDCName=dc.src\nDCAccount=a\nDCPassword=%s\n"
                             "[targetad]\nDCName=ldaps://dc.tgt:3269\nDCAccount=tgt\\svc\n"
                             "DCPassword=%s\nCAFile=%s\n", stored, stored, ca);
    char *p = write_tmp("tad.ini", text);
    cfg_resmb *c = cfg_resmb_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_TRUE(c->target_ad.present);
    CU_ASSERT_EQUAL(c->target_ad.line, 10);
    CU_ASSERT_STRING_EQUAL(c->target_ad.dc_name, "ldaps://dc.tgt:3269");
    CU_ASSERT_STRING_EQUAL(c->target_ad.dc_account, "tgt\\svc");
    CU_ASSERT_STRING_EQUAL(c->target_ad.ca_file, ca);
    CU_ASSERT_EQUAL(c->target_ad.dc_password_line, 13);
    char *plain = NULL;
    CU_ASSERT_EQUAL(cfg_resmb_target_dc_password(c, &plain, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(plain, "tgt pw");
    sr_secret_free(plain);
    cfg_resmb_free(c);
    /* absent: not present, and the password says "not configured" */
    char *p2 = write_tmp("notad.ini", SETTINGS SMTP1);
    c = cfg_resmb_load(p2, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_FALSE(c->target_ad.present);
    CU_ASSERT_EQUAL(cfg_resmb_target_dc_password(c, &plain, &e), SR_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "[TargetAD] DCPassword: not configured"));
    cfg_resmb_free(c);
    free(p2);
    free(p);
    free(text);
    free(stored);
    free(ca);
}

static void test_target_ad_errors(void)
{
    expect_resmb_error("tadpw.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=dc\nDCAccount=a\n",
                       SR_E_CONFIG, 6, "[TargetAD] DCPassword: missing");
    expect_resmb_error("tadacct.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=dc\nDCAccount=\n"
                       "DCPassword=x\n", SR_E_CONFIG, 8, "[TargetAD] DCAccount: must not be empty");
    expect_resmb_error("tadscheme.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=https://dc.tgt\n"
                       "DCAccount=a\nDCPassword=x\n", SR_E_CONFIG, 7,
                       "[TargetAD] DCName: 'https://dc.tgt': only ldap:// and ldaps:// URIs");
    expect_resmb_error("tadblank.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=dc one\n"
                       "DCAccount=a\nDCPassword=x\n", SR_E_CONFIG, 7,
                       "[TargetAD] DCName: 'dc one': a host name");
    expect_resmb_error("tadnohost.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=ldaps://\n"
                       "DCAccount=a\nDCPassword=x\n", SR_E_CONFIG, 7, "no host name");
    expect_resmb_error("tadca.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=dc\nDCAccount=a\n"
                       "DCPassword=x\nCAFile=/nonexistent/ca.pem\n", SR_E_CONFIG, 10,
                       "[TargetAD] CAFile: cannot read '/nonexistent/ca.pem'");
    expect_resmb_error("tadpwempty.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=dc\nDCAccount=a\n"
                       "DCPassword=\n", SR_E_CONFIG, 9, "[TargetAD] DCPassword: must not be empty");
    /* a foreign password loads, and names file:line and the command when decrypted */
    char *p = write_tmp("tadforeign.ini", SETTINGS SMTP1 "[TargetAD]\nDCName=dc\nDCAccount=a\n"
                        "DCPassword=7F3A62CD00FC1DDDCD\n");
    sr_err e;
    cfg_resmb *c = cfg_resmb_load(p, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char *plain = NULL;
    CU_ASSERT_EQUAL(cfg_resmb_target_dc_password(c, &plain, &e), SR_E_CRYPTO);
    char *want = sr_asprintf("%s:9: [TargetAD] DCPassword: not in switchresmb's encrypted format", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, want));
    free(want);
    want = sr_asprintf("switchresmb --target-ad %s -", p);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, want));
    CU_ASSERT_PTR_NULL(strstr(e.msg, "7F3A62CD00FC1DDDCD"));
    free(want);
    cfg_resmb_free(c);
    free(p);
}

/* TargetAD.DCPassword rewrites [TargetAD]'s line only; DCPassword stays [AD]'s. */
static void test_rewrite_target_dcpassword(void)
{
    const char *text = SETTINGS SMTP1 "[AD]\nDCName=d\nDCAccount=a\nDCPassword=SRC\n"
                       "[TargetAD]\nDCName=t\nDCAccount=a\nDCPassword=TGT\n";
    char *p = write_tmp("rwt.ini", text);
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "targetad.DCPassword", "srenc1:host:NEWT", &e),
                          SR_OK);
    char *now = sr_read_file(p, 4096, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, "DCPassword=SRC\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(now, "DCPassword=srenc1:host:NEWT\n"));
    CU_ASSERT_PTR_NULL(strstr(now, "TGT"));
    free(now);
    CU_ASSERT_EQUAL_FATAL(cfg_set_stored_secret(p, "DCPassword", "srenc1:host:NEWS", &e), SR_OK);
    now = sr_read_file(p, 4096, NULL, &e);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, "[AD]\nDCName=d\nDCAccount=a\nDCPassword=srenc1:host:NEWS\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(now, "DCPassword=srenc1:host:NEWT\n"));
    free(now);
    free(p);
    p = write_tmp("rwt2.ini", SETTINGS SMTP1 "[AD]\nDCPassword=x\n");
    CU_ASSERT_EQUAL(cfg_set_stored_secret(p, "TargetAD.DCPassword", "srenc1:host:A", &e), SR_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no [TargetAD] section"));
    CU_ASSERT_EQUAL(cfg_set_stored_secret(p, "Nowhere.DCPassword", "srenc1:host:A", &e), SR_E_USAGE);
    free(p);
}

/* ---- main ------------------------------------------------------------------------ */

static int suite_init(void)
{
    tmpdir = tu_mkdtemp("configs");
    if (!tmpdir)
        return 1;
    logfp = tmpfile();
    if (!logfp)
        return 1;
    sr_log_set_stream(logfp);
    sr_log_set_level(SR_LOG_DEBUG);
    host_a = sr_asprintf("%s/machine-id-a", tmpdir);
    host_b = sr_asprintf("%s/machine-id-b", tmpdir);
    FILE *f = fopen(host_a, "w");
    fputs("0123456789abcdef0123456789abcdef\n", f);
    fclose(f);
    f = fopen(host_b, "w");
    fputs("fedcba9876543210fedcba9876543210\n", f);
    fclose(f);
    return 0;
}

static int suite_clean(void)
{
    sr_log_set_stream(NULL);
    fclose(logfp);
    tu_rm_rf(tmpdir);
    free(tmpdir);
    free(host_a);
    free(host_b);
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("configs", suite_init, suite_clean);
    CU_add_test(s, "seed example 1 (Exchange 2010, Outlook 2013)", test_seed_example1);
    CU_add_test(s, "seed example 2 (RPC over HTTP)", test_seed_example2);
    CU_add_test(s, "seed example 3 with [AD]", test_seed_example3_ad);
    CU_add_test(s, "seed example 3 with [TargetMailboxesSMTP]", test_seed_example3_target);
    CU_add_test(s, "every SwitchResMB.ini parameter", test_full_resmb);
    CU_add_test(s, "CRLF, BOM, comments, unknown keys", test_crlf_bom_comments_unknown);
    CU_add_test(s, "SwitchResMB.ini errors name file:line", test_resmb_errors);
    CU_add_test(s, "errors never echo a password line", test_resmb_error_never_echoes_secret);
    CU_add_test(s, "missing file", test_resmb_missing_file);
    CU_add_test(s, "CPUUCmdLine errors (exit bit 32)", test_resmb_cmdline_errors);
    CU_add_test(s, "SwitchResMB.ini warnings", test_resmb_warnings);
    CU_add_test(s, "CPUUCmdLine tokenizer", test_tokenize);
    CU_add_test(s, "CPUU.ini recommended values and defaults", test_cpuu_recommended_and_defaults);
    CU_add_test(s, "every CPUU.ini parameter", test_cpuu_full);
    CU_add_test(s, "CPUU.ini errors name file:line", test_cpuu_errors);
    CU_add_test(s, "CPUU.ini OAuth2 keys (ours)", test_cpuu_oauth_keys);
    CU_add_test(s, "CPUU.ini Protocol/ProtocolTrg/GraphURL (ours)", test_cpuu_protocol_keys);
    CU_add_test(s, "[Admin notification] SMTP relay keys", test_cpuu_smtp_keys);
    CU_add_test(s, "CPUU.ini: a feature the engine lacks is an error", test_cpuu_unbuilt_feature);
    CU_add_test(s, "CPUU.ini: ignored keys said so, ';' refused, inline '#'",
                test_cpuu_ignored_and_refused);
    CU_add_test(s, "Skip=All, [Notification] alias, warnings", test_cpuu_skip_all_and_alias);
    CU_add_test(s, "Features/Critical: SearchFolders, ContactMembers, Booking", test_cpuu_new_features);
    CU_add_test(s, "feature table", test_feature_table);
    CU_add_test(s, "notification templates", test_notification_expand);
    CU_add_test(s, "encryption round trip in each mode", test_secret_roundtrips);
    CU_add_test(s, "wrong host / wrong user", test_secret_wrong_host_and_user);
    CU_add_test(s, "tampered and foreign values", test_secret_tampered_and_foreign);
    CU_add_test(s, "foreign DCPassword names file:line", test_resmb_dc_password_foreign);
    CU_add_test(s, "DCPassword rewrite changes only the value", test_rewrite_dcpassword);
    CU_add_test(s, "DCPassword rewrite errors", test_rewrite_errors);
    CU_add_test(s, "[TargetAD] loads, password decrypts", test_target_ad);
    CU_add_test(s, "[TargetAD] errors name file:line and key", test_target_ad_errors);
    CU_add_test(s, "TargetAD.DCPassword rewrite", test_rewrite_target_dcpassword);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
