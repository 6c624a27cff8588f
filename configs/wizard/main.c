/* main.c — cpuu-config: the command line.  Every answer of the interactive
 * wizard is also a long option, so the wizard can be scripted; passwords are
 * never options (argv is readable by every local user through /proc): they
 * come from the terminal, or from a file / descriptor named by an option.
 *
 * Exit status: 0 written (or the check asked for passed); 1 nothing written
 * because the admin declined, or a check (--verify, --test-autodiscover)
 * failed; 2 wrong command line or an invalid answer; 3 a file could not be
 * read, written or encrypted. */
#include "configs/wizard/wizard.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WIZ_VERSION "0.1.0-dev"

enum {
    EXIT_DECLINED = 1, EXIT_USAGE = 2, EXIT_IO = 3,
};

enum {
    O_NEW = 256, O_LOAD, O_OUT, O_NONINTERACTIVE, O_INTERACTIVE, O_LOGON, O_SRC_FOR_TRG,
    O_ADMIN, O_PASSWORD_FILE, O_ADMIN_TRG, O_PASSWORD_TRG_FILE, O_ENCRYPTION, O_DOMAINS,
    O_AD_SOURCE, O_AD_TARGET, O_TEST_AD, O_FEATURES, O_SKIP, O_CRITICAL, O_REMOVE_NICKS,
    O_REMOVE_JUNK, O_OFFLINE, O_BACKUP_OST, O_PROGRESS, O_SILENT, O_NOTIFY_TO, O_NOTIFY_WHEN,
    O_ATTACH, O_PRIORITY, O_NOTIFY_PROFILE, O_SUBJECT, O_BODY, O_SMTP_SERVER, O_SMTP_SECURITY,
    O_SMTP_USER, O_SMTP_PASSWORD_FILE, O_FROM, O_NO_NOTIFY, O_WATCHDOG, O_ATTEMPT,
    O_OPEN_STORE_WAIT, O_FEATURE_WAIT, O_GLOBAL_WAIT, O_STOP_PROCESSES, O_INI_NAME, O_SCRIPTS,
    O_PROFILES_ALL, O_PROFILE, O_DEFAULT_PROFILE, O_LOG, O_ENCRYPT, O_VERIFY, O_HELP, O_VERSION,
};

static const struct option longopts[] = {
    { "new", no_argument, NULL, O_NEW },
    { "load", required_argument, NULL, O_LOAD },
    { "out", required_argument, NULL, O_OUT },
    { "non-interactive", no_argument, NULL, O_NONINTERACTIVE },
    { "interactive", no_argument, NULL, O_INTERACTIVE },
    { "logon", required_argument, NULL, O_LOGON },
    { "source-credentials-for-target", required_argument, NULL, O_SRC_FOR_TRG },
    { "admin", required_argument, NULL, O_ADMIN },
    { "password-file", required_argument, NULL, O_PASSWORD_FILE },
    { "admin-trg", required_argument, NULL, O_ADMIN_TRG },
    { "password-trg-file", required_argument, NULL, O_PASSWORD_TRG_FILE },
    { "encryption", required_argument, NULL, O_ENCRYPTION },
    { "domains", required_argument, NULL, O_DOMAINS },
    { "autodiscover-source", required_argument, NULL, O_AD_SOURCE },
    { "autodiscover-target", required_argument, NULL, O_AD_TARGET },
    { "test-autodiscover", no_argument, NULL, O_TEST_AD },
    { "features", required_argument, NULL, O_FEATURES },
    { "skip", required_argument, NULL, O_SKIP },
    { "critical", required_argument, NULL, O_CRITICAL },
    { "remove-nicks", required_argument, NULL, O_REMOVE_NICKS },
    { "remove-junk", required_argument, NULL, O_REMOVE_JUNK },
    { "offline", required_argument, NULL, O_OFFLINE },
    { "backup-ost", required_argument, NULL, O_BACKUP_OST },
    { "progress", no_argument, NULL, O_PROGRESS },
    { "silent", no_argument, NULL, O_SILENT },
    { "notify-to", required_argument, NULL, O_NOTIFY_TO },
    { "notify-when", required_argument, NULL, O_NOTIFY_WHEN },
    { "attach", required_argument, NULL, O_ATTACH },
    { "priority", required_argument, NULL, O_PRIORITY },
    { "notify-profile", required_argument, NULL, O_NOTIFY_PROFILE },
    { "subject", required_argument, NULL, O_SUBJECT },
    { "body", required_argument, NULL, O_BODY },
    { "smtp-server", required_argument, NULL, O_SMTP_SERVER },
    { "smtp-security", required_argument, NULL, O_SMTP_SECURITY },
    { "smtp-user", required_argument, NULL, O_SMTP_USER },
    { "smtp-password-file", required_argument, NULL, O_SMTP_PASSWORD_FILE },
    { "from", required_argument, NULL, O_FROM },
    { "no-notify", no_argument, NULL, O_NO_NOTIFY },
    { "watchdog", required_argument, NULL, O_WATCHDOG },
    { "attempt", required_argument, NULL, O_ATTEMPT },
    { "open-store-wait", required_argument, NULL, O_OPEN_STORE_WAIT },
    { "feature-wait", required_argument, NULL, O_FEATURE_WAIT },
    { "global-wait", required_argument, NULL, O_GLOBAL_WAIT },
    { "stop-processes", required_argument, NULL, O_STOP_PROCESSES },
    { "ini-name", required_argument, NULL, O_INI_NAME },
    { "scripts", required_argument, NULL, O_SCRIPTS },
    { "profiles-all", no_argument, NULL, O_PROFILES_ALL },
    { "profile", required_argument, NULL, O_PROFILE },
    { "default-profile", no_argument, NULL, O_DEFAULT_PROFILE },
    { "log", required_argument, NULL, O_LOG },
    { "encrypt", required_argument, NULL, O_ENCRYPT },
    { "verify", required_argument, NULL, O_VERIFY },
    { "help", no_argument, NULL, O_HELP },
    { "version", no_argument, NULL, O_VERSION },
    { NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
    fputs("usage: cpuu-config [--new | --load CPUU.ini] [--out DIR] [--non-interactive] [answers]\n"
          "       cpuu-config --encrypt KEY [--encryption MODE] CPUU.ini\n"
          "       cpuu-config --verify CPUU.ini\n"
          "Writes CPUU.ini and CPUU_Update.sh, CPUU_Rollback.sh, CPUU_Cleanup.sh.\n"
          "On a terminal it asks, step by step; every answer is also an option:\n"
          "  --logon current|prompt|manual  --source-credentials-for-target 0|1\n"
          "  --admin ACCOUNT --password-file FILE  --admin-trg ACCOUNT --password-trg-file FILE\n"
          "  --encryption user|host|unrestricted (default host)\n"
          "  --domains 'D1 D2' --autodiscover-source URL --autodiscover-target URL\n"
          "  --test-autodiscover\n"
          "  --features 'F1 F2' | --skip 'F1 F2' | --features all;  --critical 'F1 F2'\n"
          "  --remove-nicks 0|1 --remove-junk 0|1  --offline never|always|keep-ost\n"
          "  --backup-ost 0|1  --progress | --silent\n"
          "  --notify-to 'A1 A2' --notify-when all|success|fail --attach none|all|statistics\n"
          "  --priority low|normal|high --notify-profile default|current --subject T --body T\n"
          "  --smtp-server HOST[:PORT] --smtp-security starttls|tls|none --from ADDRESS\n"
          "  --smtp-user ACCOUNT --smtp-password-file FILE  --no-notify\n"
          "  --watchdog 0|1 --attempt N --open-store-wait S --feature-wait S --global-wait S\n"
          "  --stop-processes 'P1 P2'  --ini-name NAME  --scripts update,rollback,cleanup|none\n"
          "  --profiles-all | --profile NAME (repeat) | --default-profile   --log NAME\n"
          "Password files: the first line is the password; '-' reads standard input.\n"
          "--encrypt KEY: encrypt one value (Password, PasswordTrg, SMTPPassword) of an\n"
          "existing CPUU.ini in place, read from the terminal without echo (or stdin).\n"
          "--verify: check the file loads and its passwords decrypt here, as this user.\n"
          "--interactive: ask even when standard input is not a terminal.\n"
          "--help, --version\n"
          "See cpuu-config(1).\n", f);
}

static int bad_usage(const char *fmt, const char *arg)
{
    fputs("cpuu-config: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs(" (see --help)\n", stderr);
    return EXIT_USAGE;
}

/* The first line of FILE ("-" = stdin) as a secret. */
static char *read_secret_file(const char *path, sr_err *err)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "re") : stdin;
    if (!f) {
        sr_err_set(err, SR_E_IO, "%s: cannot open the password file", path);
        return NULL;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (f != stdin)
        fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n <= 0) {
        sr_secret_free(line);
        sr_err_set(err, SR_E_CONFIG, "%s: the password file is empty", path);
        return NULL;
    }
    return line;
}

static int flag_arg(const char *name, const char *v, int *out)
{
    if (strcmp(v, "0") && strcmp(v, "1"))
        return bad_usage("%s: expected 0 or 1", name);
    *out = *v == '1';
    return 0;
}

static int int_arg(const char *name, const char *v, int min, int max, int *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < min || n > max)
        return bad_usage("%s: expected a whole number in range", name);
    *out = (int)n;
    return 0;
}

static int pick(const char *name, const char *v, const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (!strcasecmp(v, names[i])) {
            *out = i;
            return 0;
        }
    return bad_usage("%s: not one of the allowed values", name);
}

/* Check a value the way the prompt would, and store it. */
static int checked(char **slot, const char *what, const char *v, sr_code rc, const sr_err *e)
{
    (void)what;
    if (rc != SR_OK) {
        fprintf(stderr, "cpuu-config: %s\n", e->msg);
        return EXIT_USAGE;
    }
    return wiz_set(slot, v) ? EXIT_IO : 0;
}

static int set_secret_from(char **slot, const char *path)
{
    sr_err e;
    char *s = read_secret_file(path, &e);
    if (!s) {
        fprintf(stderr, "cpuu-config: %s\n", e.msg);
        return e.code == SR_E_IO ? EXIT_IO : EXIT_USAGE;
    }
    sr_secret_free(*slot);
    *slot = s;
    return 0;
}

static int set_scripts(wiz *w, const char *v)
{
    w->mk_update = w->mk_rollback = w->mk_cleanup = 0;
    if (!strcmp(v, "none"))
        return 0;
    char *copy = sr_strdup(v), *save = NULL;
    int rc = 0;
    for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "update"))
            w->mk_update = 1;
        else if (!strcmp(t, "rollback"))
            w->mk_rollback = 1;
        else if (!strcmp(t, "cleanup"))
            w->mk_cleanup = 1;
        else
            rc = bad_usage("--scripts: '%s' is not update, rollback, cleanup or none", t);
    }
    free(copy);
    return rc;
}

typedef struct run_opts {
    int is_new, load_given, interactive, noninteractive;
    int features_given, skip_given;
    const char *load, *encrypt_key, *verify, *out;
    cfg_enc_mode enc_override;
    int enc_given;
} run_opts;

static const char *const logon_names[] = { "current", "prompt", "manual", NULL };
static const char *const enc_names[] = { "user", "host", "unrestricted", NULL };
static const char *const offline_names[] = { "never", "always", "keep-ost", NULL };

static int apply_choice(wiz *w, int o, const char *v)
{
    sr_err e = { 0 };
    int x;
    switch (o) {
    case O_LOGON:
        return pick("--logon", v, logon_names, &x) ? EXIT_USAGE : (w->logon = (wiz_logon)x, 0);
    case O_OFFLINE:
        return pick("--offline", v, offline_names, &x) ? EXIT_USAGE : (w->offline = (wiz_offline)x, 0);
    case O_ADMIN:
        return checked(&w->admin, "--admin", v, wiz_check_account("--admin", v, &e), &e);
    case O_ADMIN_TRG:
        return checked(&w->admin_trg, "--admin-trg", v, wiz_check_account("--admin-trg", v, &e), &e);
    case O_DOMAINS:
        return checked(&w->domains, "--domains", v, wiz_check_domains("--domains", v, &e), &e);
    case O_AD_SOURCE:
        return checked(&w->ad_source, "", v, wiz_check_url("--autodiscover-source", v, &e), &e);
    case O_AD_TARGET:
        return checked(&w->ad_target, "", v, wiz_check_url("--autodiscover-target", v, &e), &e);
    case O_CRITICAL:
        return checked(&w->critical, "", v,
                       wiz_check_features("--critical", v, CFG_FSET_CRITICAL_ALLOWED, &e), &e);
    case O_NOTIFY_TO:
        return checked(&w->notify_to, "", v, wiz_check_address("--notify-to", v, 1, &e), &e);
    case O_FROM:
        return checked(&w->from, "", v, wiz_check_address("--from", v, 0, &e), &e);
    case O_SMTP_SERVER:
        return checked(&w->smtp_server, "", v, wiz_check_host_port("--smtp-server", v, &e), &e);
    case O_SMTP_USER:
        return checked(&w->smtp_user, "", v, wiz_check_account("--smtp-user", v, &e), &e);
    case O_SUBJECT:
        return checked(&w->subject, "", v, wiz_check_line("--subject", v, &e), &e);
    case O_BODY:
        return checked(&w->body, "", v, wiz_check_line("--body", v, &e), &e);
    case O_STOP_PROCESSES:
        return checked(&w->stop_processes, "", v, wiz_check_line("--stop-processes", v, &e), &e);
    case O_INI_NAME:
        return checked(&w->ini_name, "", v, wiz_check_filename("--ini-name", v, &e), &e);
    case O_LOG:
        return checked(&w->log, "", v, wiz_check_line("--log", v, &e), &e);
    }
    return -1;
}

static int apply_enum(wiz *w, int o, const char *v)
{
    static const char *const when[] = { "all", "success", "fail", NULL };
    static const char *const attach[] = { "none", "all", "statistics", NULL };
    static const char *const prio[] = { "low", "normal", "high", NULL };
    static const char *const nprof[] = { "default", "current", NULL };
    static const char *const sec[] = { "starttls", "tls", "none", NULL };
    int x;
    switch (o) {
    case O_NOTIFY_WHEN:
        return pick("--notify-when", v, when, &x) ? EXIT_USAGE : wiz_set(&w->notify_when, when[x]);
    case O_ATTACH:
        return pick("--attach", v, attach, &x) ? EXIT_USAGE : wiz_set(&w->attach, attach[x]);
    case O_PRIORITY:
        return pick("--priority", v, prio, &x) ? EXIT_USAGE : wiz_set(&w->priority, prio[x]);
    case O_NOTIFY_PROFILE:
        return pick("--notify-profile", v, nprof, &x) ? EXIT_USAGE
                                                      : wiz_set(&w->notify_profile, nprof[x]);
    case O_SMTP_SECURITY:
        return pick("--smtp-security", v, sec, &x) ? EXIT_USAGE : wiz_set(&w->smtp_security, sec[x]);
    }
    return -1;
}

static int apply_number(wiz *w, int o, const char *v)
{
    switch (o) {
    case O_SRC_FOR_TRG: return flag_arg("--source-credentials-for-target", v, &w->ask_source_only);
    case O_REMOVE_NICKS: return flag_arg("--remove-nicks", v, &w->remove_nicks);
    case O_REMOVE_JUNK: return flag_arg("--remove-junk", v, &w->remove_junk);
    case O_BACKUP_OST: return flag_arg("--backup-ost", v, &w->backup_ost);
    case O_WATCHDOG: return flag_arg("--watchdog", v, &w->watchdog);
    case O_ATTEMPT: return int_arg("--attempt", v, 1, 100, &w->attempt);
    case O_OPEN_STORE_WAIT: return int_arg("--open-store-wait", v, 0, 86400, &w->open_store_wait);
    case O_FEATURE_WAIT: return int_arg("--feature-wait", v, 0, 86400, &w->feature_wait);
    case O_GLOBAL_WAIT: return int_arg("--global-wait", v, 0, 604800, &w->global_wait);
    }
    return -1;
}

static int apply_features(wiz *w, run_opts *r, int o, const char *v)
{
    sr_err e;
    if (o == O_FEATURES)
        r->features_given = 1;
    else
        r->skip_given = 1;
    if (r->features_given && r->skip_given)
        return bad_usage("%s: --features and --skip exclude each other (spec: Features "
                         "cannot be used along with Skip)", o == O_FEATURES ? "--features" : "--skip");
    if (o == O_FEATURES && !strcasecmp(v, "all")) {
        w->fmode = WIZ_FEAT_ALL;
        return wiz_set(&w->features, NULL);
    }
    w->fmode = o == O_FEATURES ? WIZ_FEAT_ONLY : WIZ_FEAT_SKIP;
    return checked(&w->features, "", v,
                   wiz_check_features(o == O_FEATURES ? "--features" : "--skip", v,
                                      CFG_FSET_PROCESSABLE, &e), &e);
}

static int apply_other(wiz *w, run_opts *r, int o, const char *v)
{
    sr_err e;
    int x;
    switch (o) {
    case O_PASSWORD_FILE: return set_secret_from(&w->password_plain, v);
    case O_PASSWORD_TRG_FILE: return set_secret_from(&w->password_trg_plain, v);
    case O_SMTP_PASSWORD_FILE: return set_secret_from(&w->smtp_password_plain, v);
    case O_ENCRYPTION:
        if (pick("--encryption", v, enc_names, &x))
            return EXIT_USAGE;
        r->enc_override = (cfg_enc_mode)x;
        r->enc_given = 1;
        return 0;
    case O_TEST_AD: w->test_autodiscover = 1; return 0;
    case O_PROGRESS: w->silent = 0; return 0;
    case O_SILENT: w->silent = 1; return 0;
    case O_NO_NOTIFY: return wiz_set(&w->notify_to, NULL);
    case O_SCRIPTS: return set_scripts(w, v);
    case O_PROFILES_ALL: w->batch = WIZ_BATCH_ALL; wiz_free_profiles(w); return 0;
    case O_DEFAULT_PROFILE: w->batch = WIZ_BATCH_DEFAULT; wiz_free_profiles(w); return 0;
    case O_PROFILE:
        if (wiz_check_profile(v, &e) != SR_OK)
            return fprintf(stderr, "cpuu-config: --profile: %s\n", e.msg), EXIT_USAGE;
        if (w->batch != WIZ_BATCH_LIST)
            wiz_free_profiles(w);
        w->batch = WIZ_BATCH_LIST;
        return wiz_add_profile(w, v) ? EXIT_IO : 0;
    case O_OUT: return wiz_set(&w->out_dir, v);
    case O_FEATURES: case O_SKIP: return apply_features(w, r, o, v);
    }
    return -1;
}

static int apply(wiz *w, run_opts *r, int o, const char *v)
{
    int rc = apply_choice(w, o, v);
    if (rc < 0)
        rc = apply_enum(w, o, v);
    if (rc < 0)
        rc = apply_number(w, o, v);
    if (rc < 0)
        rc = apply_other(w, r, o, v);
    return rc < 0 ? EXIT_USAGE : rc;
}

/* First pass: what kind of run, and --load before the answers are applied. */
static int scan_mode(int argc, char **argv, run_opts *r)
{
    int o;
    opterr = 0;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (o) {
        case O_NEW: r->is_new = 1; break;
        case O_LOAD: r->load = optarg; r->load_given = 1; break;
        case O_OUT: r->out = optarg; break;
        case O_INTERACTIVE: r->interactive = 1; break;
        case O_NONINTERACTIVE: r->noninteractive = 1; break;
        case O_ENCRYPT: r->encrypt_key = optarg; break;
        case O_VERIFY: r->verify = optarg; break;
        case O_HELP: usage(stdout); exit(0);
        case O_VERSION: puts("cpuu-config " WIZ_VERSION); exit(0);
        case '?':
            return bad_usage("unknown option or missing value: %s", argv[optind - 1]);
        default: break;
        }
    }
    if (r->is_new && r->load_given)
        return bad_usage("%s: --new and --load exclude each other", "--new");
    return 0;
}

/* ---- --encrypt and --verify ------------------------------------------------------ */

static int do_encrypt(const run_opts *r, int argc, char **argv)
{
    if (optind != argc - 1)
        return bad_usage("%s: --encrypt needs exactly one CPUU.ini argument", "--encrypt");
    const char *path = argv[optind], *key = r->encrypt_key, *sec = "Parameters";
    if (!strcasecmp(key, "SMTPPassword"))
        sec = "Admin notification";
    else if (strcasecmp(key, "Password") && strcasecmp(key, "PasswordTrg") &&
             strcasecmp(key, "ClientSecret"))
        return bad_usage("--encrypt %s: only Password, PasswordTrg, ClientSecret or SMTPPassword",
                         key);
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "cpuu-config: warning: %s is readable by others (mode %03o); chmod 600 "
                        "it\n", path, (unsigned)(st.st_mode & 0777));
    char *plain = wiz_read_secret(isatty(STDIN_FILENO) ? "Value to encrypt: " : "");
    if (!plain || !*plain) {
        sr_secret_free(plain);
        fprintf(stderr, "cpuu-config: no value read; %s unchanged\n", path);
        return EXIT_USAGE;
    }
    sr_err e;
    char *stored = NULL;
    sr_code rc = cfg_secret_encrypt(plain, r->enc_given ? r->enc_override : CFG_ENC_HOST,
                                    &stored, &e);
    sr_secret_free(plain);
    if (rc == SR_OK) {
        /* the one rewrite of a stored secret (configs/rewrite.c): encoding,
         * line endings, owner, mode, ACL and symlinks kept; [Notification]
         * is accepted for [Admin notification] */
        rc = cfg_set_stored_secret(path, key, stored, &e);
    }
    free(stored);
    if (rc != SR_OK) {
        fprintf(stderr, "cpuu-config: %s\n", e.msg);
        return rc == SR_E_CONFIG || rc == SR_E_INVALID ? EXIT_USAGE : EXIT_IO;
    }
    printf("%s: [%s] %s encrypted\n", path, sec, key);
    return 0;
}

static int verify_one(const char *path, const char *key, const char *stored)
{
    if (!stored)
        return 0;
    char *plain = NULL;
    sr_err e;
    sr_code rc = cfg_secret_decrypt(stored, &plain, &e);
    sr_secret_free(plain);
    if (rc == SR_OK)
        printf("%s: %s: decrypts here\n", path, key);
    else
        printf("%s: %s: does NOT decrypt here: %s\n", path, key, e.msg);
    return rc != SR_OK;
}

static int do_verify(const char *path)
{
    cfg_diag d = { 0 };
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(path, &d, &e);
    if (!c) {
        fprintf(stderr, "cpuu-config: %s\n", e.msg);
        return EXIT_DECLINED;
    }
    int bad = verify_one(path, "Password", c->password) +
              verify_one(path, "PasswordTrg", c->password_trg) +
              verify_one(path, "SMTPPassword", c->notify.smtp_password);
    printf("%s: %s\n", path, bad ? "NOT usable here" : "valid");
    cfg_cpuu_free(c);
    return bad ? EXIT_DECLINED : 0;
}

/* ---- the wizard -------------------------------------------------------------------- */

static int run_wizard(wiz *w, const run_opts *r, int argc, char **argv)
{
    int o, rc;
    run_opts rr = *r;
    optind = 1;
    while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (o == O_NEW || o == O_LOAD || o == O_INTERACTIVE || o == O_NONINTERACTIVE)
            continue;
        if ((rc = apply(w, &rr, o, optarg)))
            return rc;
    }
    if (optind != argc)
        return bad_usage("unexpected argument: %s", argv[optind]);
    if (rr.enc_given)
        w->enc = rr.enc_override;
    int interactive = r->interactive || (!r->noninteractive && isatty(STDIN_FILENO));
    sr_err e = { 0 };
    if (interactive) {
        int res = wiz_interactive(w, !r->is_new && !r->load_given, &e);
        if (res > 0) {
            puts("Nothing written.");
            return EXIT_DECLINED;
        }
        if (res < 0) {
            fprintf(stderr, "cpuu-config: %s\n", e.msg);
            return e.code == SR_E_IO ? EXIT_IO : EXIT_USAGE;
        }
    } else {
        if (wiz_check_all(w, &e) != SR_OK) {
            fprintf(stderr, "cpuu-config: %s\n", e.msg);
            return EXIT_USAGE;
        }
        if (w->test_autodiscover && wiz_test_autodiscover(w, stdout, &e) != SR_OK) {
            fprintf(stderr, "cpuu-config: %s; nothing written\n", e.msg);
            return EXIT_DECLINED;
        }
        wiz_summary(w, stdout);
    }
    if (wiz_write(w, &e) != SR_OK) {
        fprintf(stderr, "cpuu-config: %s\n", e.msg);
        return EXIT_IO;
    }
    return 0;
}

int main(int argc, char **argv)
{
    run_opts r = { 0 };
    int rc = scan_mode(argc, argv, &r);
    if (rc)
        return rc;
    if (r.encrypt_key || r.verify) {
        if (r.encrypt_key && r.verify)
            return bad_usage("%s: --encrypt and --verify exclude each other", "--verify");
        if (r.encrypt_key) {
            /* --encryption is the one answer --encrypt reads */
            optind = 1;
            int o;
            while ((o = getopt_long(argc, argv, "", longopts, NULL)) != -1)
                if (o == O_ENCRYPTION && pick("--encryption", optarg, enc_names, &rc) == 0) {
                    r.enc_override = (cfg_enc_mode)rc;
                    r.enc_given = 1;
                }
            return do_encrypt(&r, argc, argv);
        }
        return do_verify(r.verify);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    wiz w;
    wiz_defaults(&w);
    sr_err e;
    if (r.load_given && wiz_load(&w, r.load, &e) != SR_OK) {
        fprintf(stderr, "cpuu-config: %s\n", e.msg);
        wiz_free(&w);
        return EXIT_USAGE;
    }
    rc = run_wizard(&w, &r, argc, argv);
    wiz_free(&w);
    curl_global_cleanup();
    return rc;
}
