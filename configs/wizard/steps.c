/* steps.c — the interactive wizard: the spec's steps in its order (Welcome,
 * Credentials, Advanced Tuning, Features, Offline Profiles, Notification,
 * Self Monitoring, Files, Batch Processed Profiles, Logging), then a summary.
 *
 * Every question shows its current value in brackets: Enter keeps it, "-"
 * clears an optional value, "?" repeats the help.  An answer is checked as
 * soon as it is typed and asked again when wrong (at most ASK_TRIES times:
 * a script feeding wrong answers must end, not loop). */
#include "configs/wizard/wizard.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ASK_TRIES 10

typedef sr_code (*checker)(const char *what, const char *v, sr_err *err);

static sr_err *g_err;   /* where an input error of the current run goes */

static void step(int n, const char *title, const char *help)
{
    printf("\n== Step %d of 10: %s ==\n%s\n", n, title, help);
}

static int input_ended(void)
{
    sr_err_set(g_err, SR_E_USAGE, "input ended before the wizard was finished; nothing written");
    return -1;
}

/* Ask for a text value; `what` names the parameter in messages. */
static int ask_text(const char *q, const char *what, const char *help, char **slot, int optional,
                    checker check)
{
    for (int i = 0; i < ASK_TRIES; i++) {
        printf("%s [%s]: ", q, *slot ? *slot : optional ? "none" : "");
        fflush(stdout);
        char *a = wiz_read_line();
        if (!a)
            return input_ended();
        const char *v = *a ? a : *slot;
        sr_err e;
        if (!strcmp(a, "?")) {
            printf("  %s\n", help);
        } else if (!strcmp(a, "-") && optional) {
            wiz_set(slot, NULL);
            free(a);
            return 0;
        } else if (!v && optional) {
            free(a);
            return 0;
        } else if (!v) {
            printf("  ! %s: a value is needed\n", what);
        } else if (check && check(what, v, &e) != SR_OK) {
            printf("  ! %s\n", e.msg);
        } else {
            if (*a)
                wiz_set(slot, a);
            free(a);
            return 0;
        }
        free(a);
    }
    sr_err_set(g_err, SR_E_USAGE, "%s: no valid answer after %d tries", what, ASK_TRIES);
    return -1;
}

static int ask_choice(const char *q, const char *const *names, int n, int *idx)
{
    for (int i = 0; i < ASK_TRIES; i++) {
        printf("%s [", q);
        for (int k = 0; k < n; k++)
            printf("%s%s", k ? "/" : "", names[k]);
        printf("] (%s): ", names[*idx]);
        fflush(stdout);
        char *a = wiz_read_line();
        if (!a)
            return input_ended();
        int found = *a ? -1 : *idx;
        for (int k = 0; k < n && found < 0; k++)
            if (!strcasecmp(a, names[k]))
                found = k;
        free(a);
        if (found >= 0) {
            *idx = found;
            return 0;
        }
        printf("  ! answer one of the words in brackets\n");
    }
    sr_err_set(g_err, SR_E_USAGE, "%s: no valid answer after %d tries", q, ASK_TRIES);
    return -1;
}

static int ask_yes(const char *q, int *flag)
{
    static const char *const yn[] = { "no", "yes" };
    int idx = !!*flag;
    if (ask_choice(q, yn, 2, &idx))
        return -1;
    *flag = idx;
    return 0;
}

static int ask_int(const char *q, int *v, int min, int max)
{
    for (int i = 0; i < ASK_TRIES; i++) {
        printf("%s [%d]: ", q, *v);
        fflush(stdout);
        char *a = wiz_read_line();
        if (!a)
            return input_ended();
        char *end;
        long n = *a ? strtol(a, &end, 10) : *v;
        int ok = !*a || (!*end && n >= min && n <= max);
        free(a);
        if (ok) {
            *v = (int)n;
            return 0;
        }
        printf("  ! a whole number from %d to %d\n", min, max);
    }
    sr_err_set(g_err, SR_E_USAGE, "%s: no valid answer after %d tries", q, ASK_TRIES);
    return -1;
}

/* A password typed twice, never echoed; Enter keeps a loaded one. */
static int ask_password(const char *what, char **plain, const char *kept)
{
    for (int i = 0; i < ASK_TRIES; i++) {
        char *q = sr_asprintf("%s%s: ", what, kept ? " (Enter keeps the stored one)" : "");
        char *a = wiz_read_secret(q ? q : "Password: ");
        free(q);
        if (!a)
            return input_ended();
        if (!*a && kept) {
            sr_secret_free(a);
            return 0;
        }
        char *b = *a ? wiz_read_secret("Again, to be sure: ") : NULL;
        int same = b && !strcmp(a, b);
        sr_secret_free(b);
        if (same) {
            sr_secret_free(*plain);
            *plain = a;
            return 0;
        }
        int empty = !*a;
        sr_secret_free(a);
        printf("  ! %s\n", empty ? "an empty password cannot be stored" : "the two entries differ");
    }
    sr_err_set(g_err, SR_E_USAGE, "%s: no valid answer after %d tries", what, ASK_TRIES);
    return -1;
}

/* ---- the steps ------------------------------------------------------------------ */

static int s_credentials(wiz *w)
{
    static const char *const logons[] = { "current", "prompt", "manual" };
    static const char *const modes[] = { "user", "host", "unrestricted" };
    step(2, "Credentials",
         "The account the engine uses to open the source and target mailboxes.\n"
         "current = the Kerberos ticket of whoever runs cpuu (not for Office 365);\n"
         "prompt = ask at run time; manual = an account stored, encrypted, in CPUU.ini.");
    int l = (int)w->logon, m = (int)w->enc;
    if (ask_choice("Logon", logons, 3, &l))
        return -1;
    w->logon = (wiz_logon)l;
    if (w->logon == WIZ_LOGON_PROMPT)
        return ask_yes("Use the source credentials for the target mailbox too", &w->ask_source_only);
    if (w->logon != WIZ_LOGON_MANUAL)
        return 0;
    int trg = w->admin_trg != NULL;
    if (ask_text("Account (DOMAIN\\user or user@domain)", "Admin", "The source account.",
                 &w->admin, 0, wiz_check_account) ||
        ask_password("Password", &w->password_plain, w->password_stored) ||
        ask_yes("A different account for the target mailboxes", &trg))
        return -1;
    if (!trg) {
        wiz_set(&w->admin_trg, NULL);
        wiz_set(&w->password_trg_stored, NULL);
    } else if (ask_text("Target account", "AdminTrg", "The target account.", &w->admin_trg, 0,
                        wiz_check_account) ||
               ask_password("Target password", &w->password_trg_plain, w->password_trg_stored)) {
        return -1;
    }
    printf("Who may decrypt the stored passwords: user = this account on this host; host = any\n"
           "account on this host (best for parallel runs); unrestricted = anyone (labs only).\n");
    if (ask_choice("Encryption mode", modes, 3, &m))
        return -1;
    w->enc = (cfg_enc_mode)m;
    if (w->enc == CFG_ENC_UNRESTRICTED)
        printf("  WARNING: unrestricted mode: anyone with this program can decrypt the\n"
               "  passwords. Never use it in production or with administrative accounts.\n");
    return 0;
}

static int s_tuning(wiz *w)
{
    step(3, "Advanced Tuning",
         "Domains: the SMTP domains the engine may switch (needed for profiles with several\n"
         "Exchange accounts, and when source and target share a domain). Autodiscover URLs:\n"
         "give them when DNS does not lead to the right Autodiscover service.");
    for (int round = 0; round < 3; round++) {
        if (ask_text("Processed SMTP domains", "ProcessedDomainsFQDNs",
                     "Blank-separated domain names, e.g. src.example.com.", &w->domains, 1,
                     wiz_check_domains) ||
            ask_text("Source Autodiscover URL", "AutodiscoverSourceURL",
                     "https://autodiscover.src.example.com/autodiscover/autodiscover.xml",
                     &w->ad_source, 1, wiz_check_url) ||
            ask_text("Target Autodiscover URL", "AutodiscoverTargetURL",
                     "https://autodiscover.trg.example.com/autodiscover/autodiscover.xml",
                     &w->ad_target, 1, wiz_check_url) ||
            ask_yes("Test that these Autodiscover URLs answer now", &w->test_autodiscover))
            return -1;
        sr_err e;
        if (!w->test_autodiscover || wiz_test_autodiscover(w, stdout, &e) == SR_OK)
            return 0;
        printf("  ! %s\n  Change the URLs, or answer 'no' to the test question.\n", e.msg);
    }
    sr_err_set(g_err, SR_E_CONNECT, "Autodiscover URLs did not answer after 3 rounds");
    return -1;
}

static sr_code check_processable(const char *what, const char *v, sr_err *err)
{
    return wiz_check_features(what, v, CFG_FSET_PROCESSABLE, err);
}

static sr_code check_critical(const char *what, const char *v, sr_err *err)
{
    return wiz_check_features(what, v, CFG_FSET_CRITICAL_ALLOWED, err);
}

static int s_features(wiz *w)
{
    static const char *const fm[] = { "all", "only", "skip" };
    step(4, "Features",
         "What the engine carries over besides the switch itself. all = every feature;\n"
         "only = just the listed ones (Delegates Rules suits resource mailboxes);\n"
         "skip = all but the listed ones. Critical features make a profile fail (and be\n"
         "rolled back) when they cannot be updated.");
    int f = (int)w->fmode;
    if (ask_choice("Features to process", fm, 3, &f))
        return -1;
    w->fmode = (wiz_featmode)f;
    if (w->fmode == WIZ_FEAT_ALL)
        wiz_set(&w->features, NULL);
    else if (ask_text(w->fmode == WIZ_FEAT_ONLY ? "Process only" : "Skip",
                      w->fmode == WIZ_FEAT_ONLY ? "Features" : "Skip",
                      "Blank-separated feature names.", &w->features, 0, check_processable))
        return -1;
    return ask_text("Critical features", "Critical",
                    "Any of: Activities AddBoxes CONTAB Delegates Rules SRS SearchFolders Shortcuts.",
                    &w->critical, 1, check_critical) ||
           ask_yes("Remove all nicknames (Remove=Nicks)", &w->remove_nicks) ||
           ask_yes("Remove junk e-mail settings", &w->remove_junk) ? -1 : 0;
}

static int s_offline(wiz *w)
{
    static const char *const om[] = { "never", "always", "keep-ost" };
    step(5, "Offline Profiles",
         "Cached-mode (offline) profiles: never process them, always, or only keeping the\n"
         "OST file (legacy agents' remote users).");
    int o = (int)w->offline;
    if (ask_choice("Process offline profiles", om, 3, &o))
        return -1;
    w->offline = (wiz_offline)o;
    return w->offline == WIZ_OFFLINE_NEVER ? 0 : ask_yes("Back up the OST file", &w->backup_ost);
}

static sr_code check_addresses(const char *what, const char *v, sr_err *err)
{
    return wiz_check_address(what, v, 1, err);
}

static sr_code check_address(const char *what, const char *v, sr_err *err)
{
    return wiz_check_address(what, v, 0, err);
}

static sr_code check_word(const char *what, const char *v, const char *const *ok, sr_err *err)
{
    for (; *ok; ok++)
        if (!strcasecmp(v, *ok))
            return SR_OK;
    return sr_err_set(err, SR_E_CONFIG, "%s: '%s' is not one of the listed values", what, v);
}

static sr_code check_when(const char *what, const char *v, sr_err *err)
{
    static const char *const ok[] = { "all", "success", "fail", NULL };
    return check_word(what, v, ok, err);
}

static sr_code check_attach(const char *what, const char *v, sr_err *err)
{
    static const char *const ok[] = { "none", "all", "statistics", NULL };
    return check_word(what, v, ok, err);
}

static sr_code check_security(const char *what, const char *v, sr_err *err)
{
    static const char *const ok[] = { "starttls", "tls", "none", NULL };
    return check_word(what, v, ok, err);
}

static int s_mail(wiz *w)
{
    return ask_text("Send to (addresses)", "SMTPAddress", "name@example.com, blank-separated.",
                    &w->notify_to, 0, check_addresses) ||
           ask_text("Send when (all/success/fail)", "Notification", "all, success or fail.",
                    &w->notify_when, 0, check_when) ||
           ask_text("Attach (none/all/statistics)", "Attach log", "none, all or statistics.",
                    &w->attach, 0, check_attach) ||
           ask_text("Subject", "Subject", "%R result, %P profile, %U user, %H host, %T, %D.",
                    &w->subject, 0, wiz_check_line) ||
           ask_text("Body", "Body", "One line; the same variables as the subject.", &w->body, 0,
                    wiz_check_line) ||
           ask_text("SMTP relay (host[:port])", "SMTPServer", "The relay that takes the mail.",
                    &w->smtp_server, 0, wiz_check_host_port) ||
           ask_text("Relay security (starttls/tls/none)", "SMTPSecurity",
                    "none only for a relay on 127.0.0.1.", &w->smtp_security, 0, check_security) ||
           ask_text("Sender address", "From", "Empty: the account when it is an address.",
                    &w->from, 1, check_address) ||
           ask_text("Relay account", "SMTPUser", "Empty: no AUTH.", &w->smtp_user, 1,
                    wiz_check_account) ||
           (w->smtp_user && ask_password("Relay password", &w->smtp_password_plain,
                                         w->smtp_password_stored)) ? -1 : 0;
}

static int s_notification(wiz *w)
{
    step(6, "Notification",
         "Whether cpuu shows progress and warnings, and whether it mails results to an\n"
         "administrator through an SMTP relay.");
    int progress = !w->silent, mail = w->notify_to != NULL;
    if (ask_yes("Show progress and warnings", &progress) ||
        ask_yes("Send e-mail notifications", &mail))
        return -1;
    w->silent = !progress;
    if (!mail) {
        wiz_set(&w->notify_to, NULL);
        return 0;
    }
    return s_mail(w);
}

static int s_monitoring(wiz *w)
{
    step(7, "Self Monitoring",
         "The watchdog restarts a hung engine; the waits (seconds, 0 = no limit) say when\n"
         "it counts as hung.");
    return ask_yes("Run under the watchdog", &w->watchdog) ||
           ask_int("Attempts", &w->attempt, 1, 100) ||
           ask_int("Open store wait (s)", &w->open_store_wait, 0, 86400) ||
           ask_int("Feature wait (s)", &w->feature_wait, 0, 86400) ||
           ask_int("Global wait (s)", &w->global_wait, 0, 604800) ||
           ask_text("Processes to stop first", "StopProcesses", "Names, blank-separated.",
                    &w->stop_processes, 1, wiz_check_line) ? -1 : 0;
}

static sr_code check_dir(const char *what, const char *v, sr_err *err)
{
    return wiz_check_line(what, v, err);
}

static int s_files(wiz *w)
{
    step(8, "Files",
         "Where CPUU.ini and the scripts CPUU_Update.sh, CPUU_Rollback.sh and\n"
         "CPUU_Cleanup.sh go.");
    return ask_text("Directory", "--out", "Created when missing.", &w->out_dir, 0, check_dir) ||
           ask_text("Configuration file name", "--ini-name", "Usually CPUU.ini.", &w->ini_name,
                    0, wiz_check_filename) ||
           ask_yes("Write CPUU_Update.sh", &w->mk_update) ||
           ask_yes("Write CPUU_Rollback.sh", &w->mk_rollback) ||
           ask_yes("Write CPUU_Cleanup.sh", &w->mk_cleanup) ? -1 : 0;
}

static int s_batch(wiz *w)
{
    static const char *const bm[] = { "all", "list", "default" };
    step(9, "Batch Processed Profiles",
         "Which profiles the scripts process: all, a list, or the default profile.");
    int b = (int)w->batch;
    if (ask_choice("Profiles", bm, 3, &b))
        return -1;
    w->batch = (wiz_batch)b;
    if (w->batch != WIZ_BATCH_LIST)
        return 0;
    if (w->n_profiles) {
        int keep = 1;
        if (ask_yes("Keep the listed profiles", &keep))
            return -1;
        if (keep)
            return 0;
        wiz_free_profiles(w);
    }
    printf("One profile name per line; an empty line ends the list.\n");
    for (int i = 0; i < 1000; i++) {
        printf("Profile %zu: ", w->n_profiles + 1);
        fflush(stdout);
        char *a = wiz_read_line();
        if (!a)
            return input_ended();
        sr_err e;
        if (!*a && w->n_profiles) {
            free(a);
            return 0;
        }
        if (wiz_check_profile(a, &e) != SR_OK)
            printf("  ! %s\n", e.msg);
        else
            wiz_add_profile(w, a);
        free(a);
    }
    return 0;
}

static int s_logging(wiz *w)
{
    step(10, "Logging",
         "The engine's log file name: #H host, #D date, #T time, %VAR% an environment\n"
         "value (%USERNAME%_CPUU.log). The CSV of return codes is written beside it.");
    return ask_text("Log file", "Log", "Relative names are taken from the current directory.",
                    &w->log, 0, wiz_check_line);
}

static int s_welcome(wiz *w)
{
    static const char *const nl[] = { "new", "load" };
    int c = 0;
    printf("cpuu-config: writes CPUU.ini and the scripts that run cpuu.\n"
           "Enter keeps the value in brackets, '-' clears it, '?' explains.\n");
    if (ask_choice("Create a new configuration or load an existing one", nl, 2, &c))
        return -1;
    if (!c)
        return 0;
    char *path = NULL;
    if (ask_text("CPUU.ini to load", "--load", "Path of an existing CPUU.ini.", &path, 0,
                 wiz_check_line))
        return -1;
    sr_code rc = wiz_load(w, path, g_err);
    free(path);
    return rc == SR_OK ? 0 : -1;
}

int wiz_interactive(wiz *w, int welcome, sr_err *err)
{
    g_err = err;
    if (welcome && s_welcome(w))
        return -1;
    if (s_credentials(w) || s_tuning(w) || s_features(w) || s_offline(w) || s_notification(w) ||
        s_monitoring(w) || s_files(w))
        return -1;
    int scripts = w->mk_update || w->mk_rollback;
    if (scripts && s_batch(w))
        return -1;
    if ((scripts || w->mk_cleanup) && s_logging(w))
        return -1;
    if (wiz_check_all(w, err) != SR_OK)
        return -1;
    wiz_summary(w, stdout);
    int go = 1;
    if (ask_yes("Write these files", &go))
        return -1;
    return go ? 0 : 1;
}
