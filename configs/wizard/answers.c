/* answers.c — the wizard's answers: defaults, loading an existing CPUU.ini
 * (through cfg_cpuu_load, so the wizard reads exactly what the engine reads),
 * and the validators the prompts and the long options share. */
#include "configs/wizard/wizard.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int wiz_set(char **slot, const char *v)
{
    char *n = NULL;
    if (v && *v && !(n = sr_strdup(v)))
        return -1;
    free(*slot);
    *slot = n;
    return 0;
}

/* A secret slot: wipe the old value. */
static int set_secret(char **slot, const char *v)
{
    char *n = NULL;
    if (v && *v && !(n = sr_strdup(v)))
        return -1;
    sr_secret_free(*slot);
    *slot = n;
    return 0;
}

void wiz_defaults(wiz *w)
{
    memset(w, 0, sizeof *w);
    w->logon = WIZ_LOGON_MANUAL;
    /* the spec's tip: host mode suits parallel runs under several accounts */
    w->enc = CFG_ENC_HOST;
    /* the spec's recommended set for resource mailboxes */
    w->fmode = WIZ_FEAT_ONLY;
    wiz_set(&w->features, "Delegates Rules");
    w->silent = 1;
    wiz_set(&w->notify_when, "fail");
    wiz_set(&w->attach, "statistics");
    wiz_set(&w->priority, "normal");
    wiz_set(&w->notify_profile, "current");
    wiz_set(&w->subject, CFG_DEFAULT_NOTIFY_SUBJECT);
    wiz_set(&w->body, CFG_DEFAULT_NOTIFY_BODY);
    wiz_set(&w->smtp_security, "starttls");
    w->watchdog = CFG_DEFAULT_WATCHDOG;
    w->attempt = CFG_DEFAULT_ATTEMPT;
    wiz_set(&w->stop_processes, CFG_DEFAULT_STOP_PROCESSES);
    wiz_set(&w->out_dir, ".");
    wiz_set(&w->ini_name, "CPUU.ini");
    w->mk_update = w->mk_rollback = w->mk_cleanup = 1;
    wiz_set(&w->log, "CPUU_#H_#D_#T.log");
}

void wiz_free(wiz *w)
{
    char **plain[] = { &w->admin, &w->admin_trg, &w->password_stored, &w->password_trg_stored,
                       &w->domains, &w->ad_source, &w->ad_target, &w->features, &w->critical,
                       &w->notify_to, &w->notify_when, &w->attach, &w->priority,
                       &w->notify_profile, &w->subject, &w->body, &w->smtp_server,
                       &w->smtp_security, &w->smtp_user, &w->from, &w->smtp_password_stored,
                       &w->stop_processes, &w->out_dir, &w->ini_name, &w->log };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        free(*plain[i]);
        *plain[i] = NULL;
    }
    set_secret(&w->password_plain, NULL);
    set_secret(&w->password_trg_plain, NULL);
    set_secret(&w->smtp_password_plain, NULL);
    wiz_free_profiles(w);
}

void wiz_free_profiles(wiz *w)
{
    for (size_t i = 0; i < w->n_profiles; i++)
        free(w->profiles[i]);
    free(w->profiles);
    w->profiles = NULL;
    w->n_profiles = 0;
}

int wiz_add_profile(wiz *w, const char *name)
{
    char **n = realloc(w->profiles, (w->n_profiles + 2) * sizeof *n);
    if (!n)
        return -1;
    w->profiles = n;
    if (!(n[w->n_profiles] = sr_strdup(name)))
        return -1;
    n[++w->n_profiles] = NULL;
    return 0;
}

/* ---- loading -------------------------------------------------------------- */

static char *join_features(cfg_feature_set set);

static char *join_words(char *const *v)
{
    size_t len = 1;
    for (size_t i = 0; v && v[i]; i++)
        len += strlen(v[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; s && v && v[i]; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, v[i]);
    }
    return s;
}

char *wiz_features_canonical(const char *list)
{
    cfg_feature_set set = 0;
    char *copy = sr_strdup(list ? list : ""), *save = NULL;
    for (char *t = copy ? strtok_r(copy, " ", &save) : NULL; t; t = strtok_r(NULL, " ", &save)) {
        int f = cfg_feature_parse(t);
        if (f >= 0)
            set |= CFG_FSET(f);
    }
    free(copy);
    return join_features(set);
}

static char *join_features(cfg_feature_set set)
{
    char buf[512] = "";
    for (int f = 0; f < CFG_F__MAX; f++)
        if (set & CFG_FSET(f)) {
            if (*buf)
                strcat(buf, " ");
            strcat(buf, cfg_feature_name((cfg_feature)f));
        }
    return sr_strdup(buf);
}

static void take(char **slot, char *owned)
{
    free(*slot);
    *slot = owned && *owned ? owned : (free(owned), NULL);
}

static const char *const prio_names[] = { "low", "normal", "high" };
static const char *const attach_names[] = { "none", "all", "statistics" };
static const char *const when_names[] = { "all", "success", "fail" };
static const char *const nprofile_names[] = { "default", "current" };
static const char *const security_names[] = { "starttls", "tls", "none" };

static void load_notify(wiz *w, const cfg_cpuu *c)
{
    if (!c->notify.present)
        return;
    take(&w->notify_to, join_words(c->notify.smtp_addresses));
    wiz_set(&w->priority, prio_names[c->notify.priority]);
    wiz_set(&w->attach, attach_names[c->notify.attach]);
    wiz_set(&w->notify_when, when_names[c->notify.when]);
    wiz_set(&w->notify_profile, nprofile_names[c->notify.profile]);
    wiz_set(&w->subject, c->notify.subject);
    wiz_set(&w->body, c->notify.body);
    wiz_set(&w->smtp_server, c->notify.smtp_server);
    wiz_set(&w->smtp_security, security_names[c->notify.smtp_security]);
    wiz_set(&w->smtp_user, c->notify.smtp_user);
    wiz_set(&w->smtp_password_stored, c->notify.smtp_password);
    wiz_set(&w->from, c->notify.from);
}

/* One "; cpuu-config: key=value" comment written by put_script_answers. */
static void load_comment(wiz *w, const char *k, const char *v)
{
    if (!strcmp(k, "batch"))
        w->batch = !strcmp(v, "list") ? WIZ_BATCH_LIST : !strcmp(v, "default") ? WIZ_BATCH_DEFAULT
                                                                                : WIZ_BATCH_ALL;
    else if (!strcmp(k, "profile") && wiz_check_profile(v, NULL) == SR_OK)
        wiz_add_profile(w, v);
    else if (!strcmp(k, "log") && *v)
        wiz_set(&w->log, v);
    else if (!strcmp(k, "scripts")) {
        w->mk_update = strstr(v, "update") != NULL;
        w->mk_rollback = strstr(v, "rollback") != NULL;
        w->mk_cleanup = strstr(v, "cleanup") != NULL;
    }
}

static void load_comments(wiz *w, const char *path)
{
    static const char tag[] = "; cpuu-config: ";
    char *buf = sr_read_file(path, 16u << 20, NULL, NULL);
    for (char *save = NULL, *l = buf ? strtok_r(buf, "\n", &save) : NULL; l;
         l = strtok_r(NULL, "\n", &save)) {
        l[strcspn(l, "\r")] = '\0';
        char *eq = strchr(l, '=');
        if (strncmp(l, tag, sizeof tag - 1) || !eq)
            continue;
        *eq = '\0';
        load_comment(w, l + sizeof tag - 1, eq + 1);
    }
    free(buf);
}

static void load_batch(wiz *w, const cfg_cpuu *c)
{
    if (c->default_profile)
        w->batch = WIZ_BATCH_DEFAULT;
    for (size_t i = 0; c->profiles && c->profiles[i]; i++) {
        w->batch = WIZ_BATCH_LIST;
        wiz_add_profile(w, c->profiles[i]);
    }
    if (c->log)
        wiz_set(&w->log, c->log);
}

static void load_params(wiz *w, const cfg_cpuu *c)
{
    w->logon = c->admin ? WIZ_LOGON_MANUAL : c->ask_credentials ? WIZ_LOGON_PROMPT
                                                               : WIZ_LOGON_CURRENT;
    w->ask_source_only = c->ask_source_credentials_only;
    wiz_set(&w->admin, c->admin);
    wiz_set(&w->password_stored, c->password);
    wiz_set(&w->admin_trg, c->admin_trg);
    wiz_set(&w->password_trg_stored, c->password_trg);
    take(&w->domains, join_words(c->processed_domains_fqdns));
    wiz_set(&w->ad_source, c->autodiscover_source_url);
    wiz_set(&w->ad_target, c->autodiscover_target_url);
    w->fmode = c->features_given ? WIZ_FEAT_ONLY : c->skip ? WIZ_FEAT_SKIP : WIZ_FEAT_ALL;
    take(&w->features, w->fmode == WIZ_FEAT_ALL ? NULL
                       : join_features(w->fmode == WIZ_FEAT_ONLY ? c->features : c->skip));
    take(&w->critical, join_features(c->critical));
    w->remove_nicks = !!(c->remove & CFG_FSET(CFG_F_NICKS));
    w->remove_junk = c->remove_junk_email_messages;
    w->offline = !c->process_offline_profiles ? WIZ_OFFLINE_NEVER
                 : c->keep_ost ? WIZ_OFFLINE_KEEP_OST : WIZ_OFFLINE_ALWAYS;
    w->backup_ost = c->backup_ost;
    w->silent = c->silent;
    w->watchdog = c->watchdog;
    w->attempt = c->attempt;
    w->open_store_wait = c->open_store_wait;
    w->feature_wait = c->feature_wait;
    w->global_wait = c->global_wait;
    take(&w->stop_processes, join_words(c->stop_processes));
}

sr_code wiz_load(wiz *w, const char *path, sr_err *err)
{
    cfg_diag d = { 0 };
    cfg_cpuu *c = cfg_cpuu_load(path, &d, err);
    if (!c)
        return err->code ? err->code : SR_E_CONFIG;
    load_params(w, c);
    load_notify(w, c);
    load_batch(w, c);
    load_comments(w, path);
    if (c->password && !strncmp(c->password, "srenc1:", 7)) {
        const char *m = c->password + 7;
        for (int i = 0; i <= CFG_ENC_UNRESTRICTED; i++) {
            const char *n = cfg_enc_mode_name((cfg_enc_mode)i);
            if (!strncmp(m, n, strlen(n)) && m[strlen(n)] == ':')
                w->enc = (cfg_enc_mode)i;
        }
    }
    /* the files go beside the loaded CPUU.ini unless --out says otherwise */
    const char *slash = strrchr(path, '/');
    if (slash) {
        char *dir = strndup(path, (size_t)(slash - path) + (slash == path));
        take(&w->out_dir, dir);
        wiz_set(&w->ini_name, slash + 1);
    } else {
        wiz_set(&w->ini_name, path);
    }
    cfg_cpuu_free(c);
    return SR_OK;
}

/* ---- validators ------------------------------------------------------------ */

static int has_ctl(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

sr_code wiz_check_line(const char *what, const char *v, sr_err *err)
{
    if (v && has_ctl(v))
        return sr_err_set(err, SR_E_CONFIG, "%s: contains a control character (one line, "
                          "printable characters only)", what);
    return SR_OK;
}

/* One bare address: local@domain.tld, nothing a mail header could misread. */
static int is_address(const char *a, size_t n)
{
    const char *at = memchr(a, '@', n);
    if (!at || at == a || at == a + n - 1 || memchr(at + 1, '@', n - (size_t)(at - a) - 1))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (strchr("<>,;\"()[]\\ \t", a[i]) || (unsigned char)a[i] < 0x21)
            return 0;
    const char *dot = memchr(at + 1, '.', n - (size_t)(at - a) - 1);
    return dot && dot != at + 1 && dot != a + n - 1;
}

sr_code wiz_check_address(const char *what, const char *v, int many, sr_err *err)
{
    if (!v || !*v)
        return sr_err_set(err, SR_E_CONFIG, "%s: an address is needed (name@domain.example)", what);
    int count = 0;
    for (const char *p = v; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (!n)
            break;
        if (!is_address(p, n))
            return sr_err_set(err, SR_E_CONFIG, "%s: '%.*s' is not an e-mail address "
                              "(name@domain.example, no brackets, commas or quotes)", what, (int)n, p);
        count++;
        p += n;
    }
    if (count > 1 && !many)
        return sr_err_set(err, SR_E_CONFIG, "%s: one address only", what);
    return SR_OK;
}

static int http_allowed(void)
{
    const char *a = getenv("CPUU_ALLOW_HTTP");
    if (!a)
        a = getenv("SWITCHRESMB_ALLOW_HTTP");
    return a && !strcmp(a, "1");
}

sr_code wiz_check_url(const char *what, const char *v, sr_err *err)
{
    const char *rest = NULL;
    if (v && !strncasecmp(v, "https://", 8))
        rest = v + 8;
    else if (v && !strncasecmp(v, "http://", 7) && http_allowed())
        rest = v + 7;
    else
        return sr_err_set(err, SR_E_CONFIG, "%s: '%s' is not an https:// URL (Autodiscover "
                          "carries credentials; http:// only in labs with CPUU_ALLOW_HTTP=1)",
                          what, v ? v : "");
    if (!*rest || *rest == '/' || strpbrk(v, " \t\"<>") || has_ctl(v))
        return sr_err_set(err, SR_E_CONFIG, "%s: '%s' has no host name or holds blanks", what, v);
    return SR_OK;
}

sr_code wiz_check_features(const char *what, const char *v, cfg_feature_set allowed, sr_err *err)
{
    for (const char *p = v ? v : ""; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (!n)
            break;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(n < 63 ? n : 63), p);
        int f = cfg_feature_parse(name);
        if (f < 0 || !(allowed & CFG_FSET(f))) {
            char *known = join_features(allowed);   /* the configs table, in its order */
            sr_err_set(err, SR_E_CONFIG, "%s: '%s' %s (here: %s)", what, name,
                       f < 0 ? "is not a feature" : "cannot be used here", known ? known : "");
            free(known);
            return SR_E_CONFIG;
        }
        p += n;
    }
    return SR_OK;
}

/* ProcessedDomainsFQDNs: the spec allows blanks between names, nothing else. */
sr_code wiz_check_domains(const char *what, const char *v, sr_err *err)
{
    if (!v || strpbrk(v, ",;@/\t") || !strchr(v, '.'))
        return sr_err_set(err, SR_E_CONFIG, "%s: domain names separated by blanks only, for "
                          "example 'src.example.com other.example.com'", what);
    return wiz_check_line(what, v, err);
}

sr_code wiz_check_account(const char *what, const char *v, sr_err *err)
{
    if (!v || !*v || strpbrk(v, " \t") || has_ctl(v))
        return sr_err_set(err, SR_E_CONFIG, "%s: expected DOMAIN\\user or user@domain, without "
                          "blanks", what);
    return SR_OK;
}

/* docs/profile-format.md "Valid names". */
sr_code wiz_check_profile(const char *v, sr_err *err)
{
    size_t n = v ? strlen(v) : 0;
    if (!n || n > 64 || strchr(v, '/') || *v == '.' || has_ctl(v))
        return sr_err_set(err, SR_E_CONFIG, "profile name '%s': 1 to 64 characters, no '/', no "
                          "control characters, not starting with '.'", v ? v : "");
    return SR_OK;
}

sr_code wiz_check_filename(const char *what, const char *v, sr_err *err)
{
    if (!v || !*v || strchr(v, '/') || !strcmp(v, ".") || !strcmp(v, "..") || has_ctl(v))
        return sr_err_set(err, SR_E_CONFIG, "%s: a file name without '/' is needed", what);
    return SR_OK;
}

sr_code wiz_check_host_port(const char *what, const char *v, sr_err *err)
{
    if (!v || !*v || strpbrk(v, " \t/@") || has_ctl(v))
        return sr_err_set(err, SR_E_CONFIG, "%s: expected host or host:port, got '%s'", what,
                          v ? v : "");
    const char *colon = strrchr(v, ':');
    if (colon && v[0] != '[') {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || port < 1 || port > 65535)
            return sr_err_set(err, SR_E_CONFIG, "%s: port in '%s' is not 1-65535", what, v);
    }
    return SR_OK;
}

static sr_code check_credentials(const wiz *w, sr_err *err)
{
    if (w->logon != WIZ_LOGON_MANUAL)
        return SR_OK;
    if (!w->admin)
        return sr_err_set(err, SR_E_CONFIG, "Admin: manual credentials need an account");
    if (!w->password_plain && !w->password_stored)
        return sr_err_set(err, SR_E_CONFIG, "Password: the account %s needs a password", w->admin);
    if (w->admin_trg && !w->password_trg_plain && !w->password_trg_stored)
        return sr_err_set(err, SR_E_CONFIG, "PasswordTrg: the account %s needs a password",
                          w->admin_trg);
    return SR_OK;
}

static sr_code check_notify(const wiz *w, sr_err *err)
{
    sr_code rc = SR_OK;
    if (!w->notify_to)
        return SR_OK;
    if ((rc = wiz_check_address("SMTPAddress", w->notify_to, 1, err)) ||
        (rc = wiz_check_line("Subject", w->subject, err)) ||
        (rc = wiz_check_line("Body", w->body, err)))
        return rc;
    if (w->smtp_server && (rc = wiz_check_host_port("SMTPServer", w->smtp_server, err)))
        return rc;
    if (w->from && (rc = wiz_check_address("From", w->from, 0, err)))
        return rc;
    if (w->smtp_user && !w->smtp_password_plain && !w->smtp_password_stored)
        return sr_err_set(err, SR_E_CONFIG, "SMTPPassword: the relay account %s needs a password",
                          w->smtp_user);
    return SR_OK;
}

sr_code wiz_check_all(const wiz *w, sr_err *err)
{
    sr_code rc;
    if ((rc = check_credentials(w, err)))
        return rc;
    if (w->ad_source && (rc = wiz_check_url("AutodiscoverSourceURL", w->ad_source, err)))
        return rc;
    if (w->ad_target && (rc = wiz_check_url("AutodiscoverTargetURL", w->ad_target, err)))
        return rc;
    if (w->fmode != WIZ_FEAT_ALL &&
        (rc = wiz_check_features(w->fmode == WIZ_FEAT_ONLY ? "Features" : "Skip", w->features,
                                 CFG_FSET_PROCESSABLE, err)))
        return rc;
    if ((rc = wiz_check_features("Critical", w->critical, CFG_FSET_CRITICAL_ALLOWED, err)))
        return rc;
    if ((rc = check_notify(w, err)))
        return rc;
    if ((rc = wiz_check_filename("--ini-name", w->ini_name, err)) ||
        (rc = wiz_check_line("Log", w->log, err)))
        return rc;
    if (w->batch == WIZ_BATCH_LIST && !w->n_profiles)
        return sr_err_set(err, SR_E_CONFIG, "Profiles: the list of profiles is empty");
    for (size_t i = 0; i < w->n_profiles; i++)
        if ((rc = wiz_check_profile(w->profiles[i], err)))
            return rc;
    return SR_OK;
}
