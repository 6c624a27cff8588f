/* summary.c — `switchresmb --check`: what a run would process, in words. */
#include "resmb/cli.h"

#include <stdlib.h>

static const char *yes_no(int v)
{
    return v ? "yes" : "no";
}

static void print_features(FILE *out, const char *label, cfg_feature_set set)
{
    fprintf(out, "  %s:", label);
    if (!set)
        fputs(" (none)", out);
    for (int f = 0; f < CFG_F__MAX; f++)
        if (set & CFG_FSET(f))
            fprintf(out, " %s", cfg_feature_name((cfg_feature)f));
    fputc('\n', out);
}

static void print_password_state(FILE *out, const cfg_resmb *c, const char *sec,
                                 sr_code (*decrypt)(const cfg_resmb *, char **, sr_err *))
{
    char *plain = NULL;
    sr_err err;
    if (decrypt(c, &plain, &err) == SR_OK) {
        fprintf(out, "  [%s] DCPassword: encrypted by switchresmb, decrypts here\n", sec);
        sr_secret_free(plain);
        return;
    }
    fprintf(out, "  [%s] DCPassword: NOT usable on this host (see the warning)\n", sec);
    sr_log(SR_LOG_WARN, NULL, "%s", err.msg);
}

static void print_list(FILE *out, const char *sec, const cfg_list *l)
{
    if (!l->present)
        return;
    fprintf(out, "  [%s]: %zu entr%s\n", sec, l->n, l->n == 1 ? "y" : "ies");
    for (size_t i = 0; i < l->n; i++)
        fprintf(out, "    line %d: %s\n", l->v[i].line, l->v[i].value);
}

static void print_resmb(FILE *out, const cfg_resmb *c)
{
    fprintf(out, "%s: valid\n", c->path);
    fprintf(out, "  CPUU command line: %zu argument(s)", c->settings.cpuu_argc);
    for (size_t i = 0; i < c->settings.cpuu_argc; i++)
        fprintf(out, " [%s]", c->settings.cpuu_argv[i]);
    fprintf(out, "\n  source Exchange server: %s\n",
            *c->settings.src_exch_server ? c->settings.src_exch_server : "(empty)");
    fprintf(out, "  logon security: negotiate=%d winnt=%d anonymous=%d kerberos=%d smartcard=%d\n",
            c->settings.logon_negotiate, c->settings.logon_winnt, c->settings.logon_anonymous,
            c->settings.logon_kerberos, c->settings.logon_smartcard);
    fprintf(out, "  leave temporary profiles: %s\n", yes_no(c->settings.leave_temporary_profiles));
    if (c->ad.present) {
        fprintf(out, "  [AD] domain controller %s, account %s\n", c->ad.dc_name, c->ad.dc_account);
        print_password_state(out, c, "AD", cfg_resmb_dc_password);
    }
    if (c->target_ad.present) {
        fprintf(out, "  [TargetAD] target domain controller %s, account %s%s%s\n",
                c->target_ad.dc_name, c->target_ad.dc_account,
                c->target_ad.ca_file ? ", CA file " : "",
                c->target_ad.ca_file ? c->target_ad.ca_file : "");
        print_password_state(out, c, "TargetAD", cfg_resmb_target_dc_password);
    }
    if (c->rpc.present)
        fprintf(out, "  [RPCOverHTTP] http=%d proxy %s principal '%s' ssl-only=%d mutual=%d "
                     "fast=%d slow=%d ntlm=%d basic=%d negotiate=%d\n",
                c->rpc.connect_using_http, c->rpc.proxy_server, c->rpc.principal_name,
                c->rpc.ssl_only, c->rpc.mutual_auth, c->rpc.http_first_on_fast,
                c->rpc.http_first_on_slow, c->rpc.auth_ntlm, c->rpc.auth_basic,
                c->rpc.auth_negotiate);
    if (c->switch_msg.present)
        fprintf(out, "  [SwitchMessage] agent %s, target %s, recreate %s\n",
                c->switch_msg.agent == CFG_AGENT_LEGACY ? "Legacy" : "Contemporary",
                c->switch_msg.target == CFG_TARGET_O365       ? "O365"
                : c->switch_msg.target == CFG_TARGET_EXCHANGE ? "Exchange"
                                                              : "-",
                yes_no(c->switch_msg.recreate));
    print_list(out, "Mailboxes", &c->mailboxes);
    print_list(out, "MailboxesSMTP", &c->mailboxes_smtp);
    print_list(out, "TargetMailboxesSMTP", &c->target_mailboxes_smtp);
}

static void print_cpuu(FILE *out, const cfg_cpuu *p)
{
    fprintf(out, "%s: valid\n", p->path);
    print_features(out, "features processed", p->effective);
    print_features(out, "critical", p->critical);
    print_features(out, "removed", p->remove);
    fprintf(out, "  silent %s, watchdog %s, attempts %d, waits open-store %ds feature %ds global %ds\n",
            yes_no(p->silent), yes_no(p->watchdog), p->attempt, p->open_store_wait,
            p->feature_wait, p->global_wait);
    fprintf(out, "  authority %s, resource %s\n", p->authority_url, p->resource_url);
    if (p->notify.present)
        fprintf(out, "  notifications to %s%s\n", p->notify.smtp_addresses[0],
                p->notify.smtp_addresses[1] ? " and others" : "");
}

void resmb_print_summary(FILE *out, const cfg_resmb *cfg, const cfg_cpuu *cpuu)
{
    print_resmb(out, cfg);
    if (cpuu)
        print_cpuu(out, cpuu);
}

int resmb_exit_for_diag(const cfg_diag *d)
{
    int bits = 0;
    if (d->config_errors)
        bits |= RESMB_EXIT_INI;
    if (d->cmdline_errors)
        bits |= RESMB_EXIT_CPUU_CMDLINE;
    return bits ? bits : RESMB_EXIT_INI;
}
