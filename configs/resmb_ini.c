/* resmb_ini.c — SwitchResMB.ini (spec: "SwitchResMB.ini Parameters"):
 * the section tables, then the checks that span keys and sections. */
#include "configs/ini.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define OFF(f) offsetof(cfg_resmb, f)
#define KEY(n, t, req, f) { .name = n, .type = t, .required = req, .off = OFF(f) }
#define FLAG(n, f) KEY(n, KT_FLAG, 0, f)

static const key_spec settings_keys[] = {
    { .name = "CPUUCmdLine", .type = KT_STR, .required = 1, .off = OFF(settings.cpuu_cmdline),
      .line_off = OFF(settings.cpuu_cmdline_line) },
    { .name = "SrcExchServer", .type = KT_STR, .required = 1, .off = OFF(settings.src_exch_server),
      .host = 1 },
    FLAG("LogonNetworkSecurityNegotiate", settings.logon_negotiate),
    FLAG("LogonNetworkSecurityWinnt", settings.logon_winnt),
    FLAG("LogonNetworkSecurityAnonymous", settings.logon_anonymous),
    FLAG("LogonNetworkSecurityKerberos", settings.logon_kerberos),
    FLAG("LogonNetworkSecuritySmartCard", settings.logon_smartcard),
    FLAG("LeaveTemporaryProfiles", settings.leave_temporary_profiles),
    { .name = NULL },
};

static const key_spec ad_keys[] = {
    { .name = "DCName", .type = KT_STR_NE, .required = 1, .off = OFF(ad.dc_name), .host = 1 },
    KEY("DCAccount", KT_STR_NE, 1, ad.dc_account),
    { .name = "DCPassword", .type = KT_SECRET, .required = 1, .off = OFF(ad.dc_password),
      .line_off = OFF(ad.dc_password_line) },
    { .name = NULL },
};

/* Ours (issue 12): the target directory, keys spelled as in [AD]. */
static const key_spec target_ad_keys[] = {
    { .name = "DCName", .type = KT_STR_NE, .required = 1, .off = OFF(target_ad.dc_name), .host = 1,
      .line_off = OFF(target_ad.dc_name_line) },
    KEY("DCAccount", KT_STR_NE, 1, target_ad.dc_account),
    { .name = "DCPassword", .type = KT_SECRET, .required = 1, .off = OFF(target_ad.dc_password),
      .line_off = OFF(target_ad.dc_password_line) },
    { .name = "CAFile", .type = KT_STR_NE, .off = OFF(target_ad.ca_file),
      .line_off = OFF(target_ad.ca_file_line) },
    { .name = NULL },
};

static const key_spec rpc_keys[] = {
    KEY("ConnectUsingHTTP", KT_FLAG, 1, rpc.connect_using_http),
    { .name = "ProxyServer", .type = KT_STR_NE, .required = 1, .off = OFF(rpc.proxy_server),
      .host = 1 },
    KEY("PrincipalName", KT_STR, 1, rpc.principal_name),
    KEY("SSLOnly", KT_FLAG, 1, rpc.ssl_only),
    KEY("MutualAuth", KT_FLAG, 1, rpc.mutual_auth),
    KEY("HTTPFirstOnFast", KT_FLAG, 1, rpc.http_first_on_fast),
    KEY("HTTPFirstOnSlow", KT_FLAG, 1, rpc.http_first_on_slow),
    { .name = "AuthNtlm", .type = KT_FLAG, .off = OFF(rpc.auth_ntlm), .line_off = OFF(rpc.auth_line) },
    { .name = "AuthBasic", .type = KT_FLAG, .off = OFF(rpc.auth_basic), .line_off = OFF(rpc.auth_line) },
    { .name = "AuthNegotiate", .type = KT_FLAG, .off = OFF(rpc.auth_negotiate),
      .line_off = OFF(rpc.auth_line) },
    { .name = NULL },
};

static const char *const agent_names[] = { "Legacy", "Contemporary", NULL };
static const char *const target_names[] = { "Exchange", "O365", NULL };

static const key_spec switch_keys[] = {
    FLAG("RecreateSwitchMsg", switch_msg.recreate),
    { .name = "MigrationAgentType", .type = KT_ENUM, .required = 1, .off = OFF(switch_msg.agent),
      .names = agent_names, .min = CFG_AGENT_LEGACY },
    { .name = "Target", .type = KT_ENUM, .off = OFF(switch_msg.target), .names = target_names,
      .min = CFG_TARGET_EXCHANGE, .line_off = OFF(switch_msg.target_line) },
    { .name = NULL },
};

#define KV(n, kt, unk, f) \
    { .name = n, .keys = kt, .unknown = unk, .present_off = OFF(f.present), .line_off = OFF(f.line) }
#define LIST(n, f) \
    { .name = n, .is_list = 1, .present_off = OFF(f.present), .line_off = OFF(f.line), .list_off = OFF(f) }

static const section_spec resmb_sections[] = {
    KV("Settings", settings_keys, UNKNOWN_WARN, settings),
    KV("AD", ad_keys, UNKNOWN_WARN, ad),
    KV("TargetAD", target_ad_keys, UNKNOWN_WARN, target_ad),
    KV("RPCOverHTTP", rpc_keys, UNKNOWN_WARN, rpc),
    KV("SwitchMessage", switch_keys, UNKNOWN_NOTE, switch_msg),
    LIST("Mailboxes", mailboxes),
    LIST("MailboxesSMTP", mailboxes_smtp),
    LIST("TargetMailboxesSMTP", target_mailboxes_smtp),
    { .name = NULL },
};

/* ---- checks across keys and sections -------------------------------------- */

static int is_smtp_address(const char *s)
{
    const char *at = strchr(s, '@');
    if (!at || at == s || !at[1] || strchr(at + 1, '@'))
        return 0;
    if (strpbrk(s, " \t=<>,;\"()[]\\"))
        return 0;
    return at[1] != '.' && s[strlen(s) - 1] != '.';
}

/* Sorting indices by value (ASCII case-insensitive, then line) puts every
 * repeat right after its first occurrence: n log n, where comparing each
 * entry with all earlier ones took minutes for 100,000 lines. */
static const cfg_list *sort_list;

static int by_value_then_line(const void *a, const void *b)
{
    const cfg_list_entry *x = &sort_list->v[*(const size_t *)a], *y = &sort_list->v[*(const size_t *)b];
    int c = strcasecmp(x->value, y->value);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* first[i] = index of the first entry equal to entry i, or i itself.
 * Caller frees; NULL on OOM (duplicates then go unreported). */
static size_t *first_occurrences(const cfg_list *l)
{
    size_t *order = malloc((l->n ? l->n : 1) * sizeof *order);
    size_t *first = malloc((l->n ? l->n : 1) * sizeof *first);
    if (!order || !first) {
        free(order);
        free(first);
        return NULL;
    }
    for (size_t i = 0; i < l->n; i++)
        order[i] = i;
    sort_list = l;
    qsort(order, l->n, sizeof *order, by_value_then_line);
    for (size_t k = 0; k < l->n; k++)
        first[order[k]] = k && strcasecmp(l->v[order[k]].value, l->v[order[k - 1]].value) == 0
                              ? first[order[k - 1]] : order[k];
    free(order);
    return first;
}

static void check_list(const char *sec, const cfg_list *l, int legacy_dn, ini_diag *d)
{
    size_t *first = first_occurrences(l);
    for (size_t i = 0; i < l->n; i++) {
        const cfg_list_entry *e = &l->v[i];
        if (legacy_dn) {
            if (strncasecmp(e->value, "/o=", 3) != 0)
                ini_error(d, e->line, SR_E_CONFIG,
                          "[%s]: '%s' is not a legacyExchangeDN (it starts with /o=)", sec, e->value);
            else if (strstr(e->value, "  "))
                ini_warn(d, e->line,
                         "[%s]: '%s' contains two blanks in a row; Exchange names use single "
                         "blanks (copied from a PDF?)", sec, e->value);
        } else if (!is_smtp_address(e->value)) {
            ini_error(d, e->line, SR_E_CONFIG, "[%s]: '%s' is not an SMTP address (one per line%s)",
                      sec, e->value, strpbrk(e->value, "#;")
                                         ? "; a comment after an address is part of the line"
                                         : "");
        }
        if (first && first[i] != i)
            ini_error(d, e->line, SR_E_CONFIG, "[%s]: '%s' is listed twice (first at line %d)",
                      sec, e->value, l->v[first[i]].line);
    }
    free(first);
}

static void check_mailbox_lists(cfg_resmb *c, int last_line, ini_diag *d)
{
    check_list("Mailboxes", &c->mailboxes, 1, d);
    check_list("MailboxesSMTP", &c->mailboxes_smtp, 0, d);
    check_list("TargetMailboxesSMTP", &c->target_mailboxes_smtp, 0, d);
    if (c->mailboxes.n == 0 && c->mailboxes_smtp.n == 0) {
        int line = c->mailboxes.present ? c->mailboxes.line
                 : c->mailboxes_smtp.present ? c->mailboxes_smtp.line : last_line;
        ini_error(d, line, SR_E_CONFIG,
                  "no mailboxes to process: [Mailboxes] and [MailboxesSMTP] are both %s",
                  c->mailboxes.present || c->mailboxes_smtp.present ? "empty or missing" : "missing");
    }
    const cfg_list *t = &c->target_mailboxes_smtp;
    if (t->n && t->n != c->mailboxes_smtp.n)
        ini_error(d, t->line, SR_E_CONFIG,
                  "[TargetMailboxesSMTP]: %zu entries, but [MailboxesSMTP] has %zu; the two lists "
                  "pair up one to one, in order", t->n, c->mailboxes_smtp.n);
    if (t->n && !c->switch_msg.present)
        ini_warn(d, t->line, "[TargetMailboxesSMTP] is only used to create switch messages, "
                             "and there is no [SwitchMessage] section");
}

static void check_switch_message(cfg_resmb *c, ini_diag *d)
{
    if (!c->switch_msg.present)
        return;
    if (c->switch_msg.agent == CFG_AGENT_CONTEMPORARY && c->switch_msg.target == CFG_TARGET_NONE)
        ini_error(d, c->switch_msg.line, SR_E_CONFIG,
                  "[SwitchMessage] Target: required when MigrationAgentType=Contemporary "
                  "(Exchange or O365)");
    if (c->switch_msg.agent == CFG_AGENT_LEGACY && c->switch_msg.target != CFG_TARGET_NONE)
        ini_note(d, c->switch_msg.target_line,
                 "[SwitchMessage] Target: only used with MigrationAgentType=Contemporary; ignored");
    if (!c->ad.present && c->target_mailboxes_smtp.n == 0)
        ini_warn(d, c->switch_msg.line,
                 "[SwitchMessage]: creating switch messages needs target addresses, from [AD] "
                 "or from [TargetMailboxesSMTP]; neither is given");
}

static void check_settings(cfg_resmb *c, ini_diag *d)
{
    int n = c->settings.logon_negotiate + c->settings.logon_winnt + c->settings.logon_anonymous +
            c->settings.logon_kerberos + c->settings.logon_smartcard;
    if (n > 1)
        ini_warn(d, c->settings.line,
                 "[Settings]: %d LogonNetworkSecurity* parameters are 1; a profile uses one method", n);
    if (c->mailboxes.n && !*c->settings.src_exch_server)
        ini_warn(d, c->settings.line,
                 "[Settings] SrcExchServer: empty, but [Mailboxes] (legacyExchangeDN, Outlook 2013 "
                 "style) needs the source server name");
    sr_err terr;
    if (cfg_cpuu_cmdline_tokenize(c->settings.cpuu_cmdline, &c->settings.cpuu_argv,
                                  &c->settings.cpuu_argc, &terr) != SR_OK)
        ini_error(d, c->settings.cpuu_cmdline_line, SR_E_CMDLINE, "[Settings] CPUUCmdLine: %s",
                  terr.msg);
}

static void check_rpc(cfg_resmb *c, ini_diag *d)
{
    if (!c->rpc.present)
        return;
    if (!c->rpc.auth_line) {
        c->rpc.auth_ntlm = 1; /* spec: NTLM unless told otherwise */
        return;
    }
    if (!c->rpc.auth_ntlm && !c->rpc.auth_basic && !c->rpc.auth_negotiate)
        ini_error(d, c->rpc.auth_line, SR_E_CONFIG,
                  "[RPCOverHTTP]: AuthNtlm, AuthBasic and AuthNegotiate are all 0; enable one "
                  "(NTLM is used when none of them is given)");
}

/* What ldap/conn.c will accept as DCName, checked here so that the message
 * names file:line instead of failing every mailbox at run time. */
static const char *dc_name_problem(const char *dc)
{
    if (strpbrk(dc, " \t"))
        return "a host name, host:port or ldap[s]:// URI has no blanks";
    if (strstr(dc, "://") && strncasecmp(dc, "ldap://", 7) != 0 && strncasecmp(dc, "ldaps://", 8) != 0)
        return "only ldap:// and ldaps:// URIs are supported";
    const char *host = strstr(dc, "://") ? strstr(dc, "://") + 3 : dc;
    if (!*host || *host == '/' || *host == ':')
        return "no host name";
    return NULL;
}

/* [TargetAD]: the DC name and the CA file (the password is checked where it
 * is decrypted, as [AD]'s: a foreign one stops the run with exit code 4). */
static void check_target_ad(cfg_resmb *c, ini_diag *d)
{
    if (!c->target_ad.present)
        return;
    const char *why = c->target_ad.dc_name ? dc_name_problem(c->target_ad.dc_name) : NULL;
    if (why)
        ini_error(d, c->target_ad.dc_name_line, SR_E_CONFIG, "[TargetAD] DCName: '%s': %s",
                  c->target_ad.dc_name, why);
    const char *ca = c->target_ad.ca_file;
    if (ca && access(ca, R_OK) != 0)
        ini_error(d, c->target_ad.ca_file_line, SR_E_CONFIG,
                  "[TargetAD] CAFile: cannot read '%s': %s", ca, strerror(errno));
}

static void cross_checks(cfg_resmb *c, int last_line, ini_diag *d)
{
    if (!c->settings.present) {
        ini_error(d, last_line, SR_E_CONFIG, "end of file: mandatory section [Settings] is missing");
    } else if (c->settings.cpuu_cmdline && c->settings.src_exch_server) {
        check_settings(c, d);
    }
    check_rpc(c, d);
    check_target_ad(c, d);
    check_switch_message(c, d);
    check_mailbox_lists(c, last_line, d);
}

cfg_resmb *cfg_resmb_load(const char *path, cfg_diag *diag, sr_err *err)
{
    ini_diag d;
    ini_diag_init(&d, path ? path : "(null)", err);
    cfg_resmb *c = calloc(1, sizeof *c);
    if (!c) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    c->path = ini_xstrdup(path);
    ini_doc doc = { 0 };
    if (!path)
        ini_error(&d, 0, SR_E_CONFIG, "no configuration file given");
    else if (ini_doc_read(&doc, path, &d) == 0) {
        ini_apply(&doc, resmb_sections, c, &d);
        cross_checks(c, doc.last_line, &d);
    }
    ini_doc_free(&doc);
    if (diag)
        *diag = d.counts;
    if (d.counts.errors) {
        if (d.counts.errors > 1 && err)
            sr_err_prefix(err, "%u errors; first: ", d.counts.errors);
        cfg_resmb_free(c);
        return NULL;
    }
    return c;
}

static void free_list(cfg_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].value);
    free(l->v);
}

void cfg_resmb_free(cfg_resmb *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->settings.cpuu_cmdline);
    cfg_argv_free(c->settings.cpuu_argv);
    free(c->settings.src_exch_server);
    free(c->ad.dc_name);
    free(c->ad.dc_account);
    sr_secret_free(c->ad.dc_password);
    free(c->target_ad.dc_name);
    free(c->target_ad.dc_account);
    sr_secret_free(c->target_ad.dc_password);
    free(c->target_ad.ca_file);
    free(c->rpc.proxy_server);
    free(c->rpc.principal_name);
    free_list(&c->mailboxes);
    free_list(&c->mailboxes_smtp);
    free_list(&c->target_mailboxes_smtp);
    free(c);
}

/* Decrypt a stored DC password of section sec, reporting file:line. */
static sr_code dc_password(const cfg_resmb *c, const char *sec, const char *stored, int line,
                           const char *how, char **plain_out, sr_err *err)
{
    *plain_out = NULL;
    if (!stored)
        return sr_err_set(err, SR_E_CONFIG, "%s: [%s] DCPassword: not configured", c->path, sec);
    if (!cfg_secret_is_ours(stored) && strncmp(stored, "srenc", 5) != 0)
        return sr_err_set(err, SR_E_CRYPTO,
                          "%s:%d: [%s] DCPassword: not in switchresmb's encrypted format (it was "
                          "encrypted by another tool, e.g. the Windows utility); re-encrypt it "
                          "with: switchresmb %s%s -", c->path, line, sec, how, c->path);
    sr_code rc = cfg_secret_decrypt(stored, plain_out, err);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s:%d: [%s] DCPassword: ", c->path, line, sec);
    return rc;
}

sr_code cfg_resmb_dc_password(const cfg_resmb *c, char **plain_out, sr_err *err)
{
    return dc_password(c, "AD", c->ad.present ? c->ad.dc_password : NULL, c->ad.dc_password_line,
                       "", plain_out, err);
}

sr_code cfg_resmb_target_dc_password(const cfg_resmb *c, char **plain_out, sr_err *err)
{
    return dc_password(c, "TargetAD", c->target_ad.present ? c->target_ad.dc_password : NULL,
                       c->target_ad.dc_password_line, "--target-ad ", plain_out, err);
}
