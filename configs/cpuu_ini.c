/* cpuu_ini.c — CPUU.ini (spec: "CPUU Parameters": Configuration Parameters,
 * the Management Parameters that may also be written there, and
 * "Notification Format").  Defaults are documented in configs.h. */
#include "configs/ini.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OFF(f) offsetof(cfg_cpuu, f)
#define KEY(n, t, f) { .name = n, .type = t, .off = OFF(f) }
#define FLAG(n, f) KEY(n, KT_FLAG, f)
/* accepted, without effect: the note says why (ini.h, why_ignored) */
#define NA(n, t, f, why) { .name = n, .type = t, .off = OFF(f), .why_ignored = why }
#define NO_OST "not applicable on Linux: there is no Outlook and no OST file on this host"
#define CMDLINE_ONLY(opt) \
    "ignored: the engine reads it from its command line only (-" opt "; in SwitchResMB.ini: " \
    "CPUUCmdLine)"
#define SECONDS(n, f) { .name = n, .type = KT_INT, .off = OFF(f), .min = 0, .max = 7 * 86400 }

/* in cfg_protocol order */
static const char *const protocol_names[] = { "Auto", "EWS", "Graph", NULL };

static const key_spec parameter_keys[] = {
    { .name = "Admin", .type = KT_STR_NE, .off = OFF(admin), .line_off = OFF(admin_line) },
    { .name = "Password", .type = KT_SECRET, .off = OFF(password), .line_off = OFF(password_line) },
    { .name = "AdminTrg", .type = KT_STR_NE, .off = OFF(admin_trg), .line_off = OFF(admin_trg_line) },
    { .name = "PasswordTrg", .type = KT_SECRET, .off = OFF(password_trg),
      .line_off = OFF(password_trg_line) },
    FLAG("AskCredentials", ask_credentials),
    NA("AskSourceCredentialsOnly", KT_FLAG, ask_source_credentials_only,
       "ignored: this engine never prompts for credentials (give Admin/Password, "
       "AdminTrg/PasswordTrg)"),
    KEY("AllowAdditionalServices", KT_WORDS, allow_additional_services),
    { .name = "Skip", .type = KT_FEATURES, .off = OFF(skip), .allowed = CFG_FSET_PROCESSABLE,
      .allow_all = 1, .line_off = OFF(skip_line) },
    { .name = "Features", .type = KT_FEATURES, .off = OFF(features),
      .allowed = CFG_FSET_PROCESSABLE, .line_off = OFF(features_line) },
    { .name = "Critical", .type = KT_FEATURES, .off = OFF(critical),
      .allowed = CFG_FSET_CRITICAL_ALLOWED, .line_off = OFF(critical_line) },
    { .name = "Remove", .type = KT_FEATURES, .off = OFF(remove), .allowed = CFG_FSET(CFG_F_NICKS) },
    FLAG("RemoveJunkEmailMessages", remove_junk_email_messages),
    FLAG("ProcessOfflineProfiles", process_offline_profiles),
    FLAG("KeepOST", keep_ost),
    NA("BackupOST", KT_FLAG, backup_ost, NO_OST),
    NA("CreateRegFileForOSTRecovery", KT_FLAG, create_reg_file_for_ost_recovery,
       "not applicable on Linux: there is no registry and no OST file on this host"),
    NA("UseTargetOST", KT_FLAG, use_target_ost, NO_OST),
    FLAG("Silent", silent),
    FLAG("WatchDog", watchdog),
    NA("StopProcesses", KT_WORDS, stop_processes,
       "not applicable on Linux: no Outlook or other MAPI client runs here to be stopped"),
    { .name = "Attempt", .type = KT_INT, .off = OFF(attempt), .min = 1, .max = 100 },
    SECONDS("OpenStoreWait", open_store_wait),
    SECONDS("FeatureWait", feature_wait),
    SECONDS("GlobalWait", global_wait),
    { .name = "ProcessedDomainsFQDNs", .type = KT_WORDS, .off = OFF(processed_domains_fqdns),
      .line_off = OFF(processed_domains_line) },
    NA("UseLocalAutodiscoverXMLs", KT_FLAG, use_local_autodiscover_xmls,
       "ignored: local Autodiscover XML files are not read; use AutodiscoverSourceURL and "
       "AutodiscoverTargetURL"),
    KEY("AutodiscoverSourceURL", KT_URL, autodiscover_source_url),
    KEY("AutodiscoverTargetURL", KT_URL, autodiscover_target_url),
    KEY("AuthorityURL", KT_URL, authority_url),
    KEY("ResourceURL", KT_URL, resource_url),
    /* ours: OAuth2 app-only for Exchange Online (docs/logon.md) */
    { .name = "ClientId", .type = KT_STR_NE, .off = OFF(client_id), .line_off = OFF(client_id_line) },
    { .name = "ClientSecret", .type = KT_SECRET, .off = OFF(client_secret),
      .line_off = OFF(client_secret_line) },
    { .name = "ClientCertificate", .type = KT_STR_NE, .off = OFF(client_cert),
      .line_off = OFF(client_cert_line) },
    { .name = "ClientCertificateKey", .type = KT_STR_NE, .off = OFF(client_key),
      .line_off = OFF(client_key_line) },
    KEY("TokenURL", KT_URL, token_url),
    /* ours: the protocol per side, Microsoft Graph for Exchange Online (issue 17) */
    { .name = "Protocol", .type = KT_ENUM, .off = OFF(protocol), .names = protocol_names,
      .line_off = OFF(protocol_line) },
    { .name = "ProtocolTrg", .type = KT_ENUM, .off = OFF(protocol_trg), .names = protocol_names,
      .line_off = OFF(protocol_trg_line) },
    KEY("GraphURL", KT_URL, graph_url),
    /* management parameters (spec: "Management Parameters") */
    KEY("Profiles", KT_WORDS, profiles),
    KEY("Undo", KT_WORDS, undo),
    NA("UndoAll", KT_FLAG, undo_all, "ignored: the engine's mode (update, rollback, cleanup) "
       "comes from its command line only (-UndoAll), never from this file"),
    FLAG("DefaultProfile", default_profile),
    NA("LeaveTemporaryProfile", KT_FLAG, leave_temporary_profile,
       CMDLINE_ONLY("LeaveTemporaryProfile")),
    NA("UndoDefaultProfile", KT_FLAG, undo_default_profile,
       "ignored: the engine's mode (update, rollback, cleanup) comes from its command line only "
       "(-UndoDefaultProfile), never from this file"),
    NA("Log", KT_STR_NE, log, CMDLINE_ONLY("Log")),
    NA("MoveDumpsToRemote", KT_FLAG, move_dumps_to_remote,
       "not applicable on Linux: no crash dumps are written"),
    { .name = "MaxLocalDumps", .type = KT_INT, .off = OFF(max_local_dumps), .min = 0, .max = 1000,
      .why_ignored = "not applicable on Linux: no crash dumps are written" },
    NA("LogWriteDirectly", KT_FLAG, log_write_directly,
       "not applicable on Linux: the log is always written directly"),
    NA("Cleanup", KT_FLAG, cleanup, "ignored: the engine's mode (update, rollback, cleanup) "
       "comes from its command line only (-Cleanup), never from this file"),
    NA("DoNotModifyExcludeSCPLookup", KT_FLAG, do_not_modify_exclude_scp_lookup,
       CMDLINE_ONLY("DoNotModifyExcludeSCPLookup")),
    NA("NameTrgStoreAsSrc", KT_FLAG, name_trg_store_as_src, CMDLINE_ONLY("NameTrgStoreAsSrc")),
    NA("SkipAutodiscoverChecking", KT_FLAG, skip_autodiscover_checking,
       CMDLINE_ONLY("SkipAutodiscoverChecking")),
    NA("DisableLogonThroughOutlook", KT_FLAG, disable_logon_through_outlook,
       "not applicable on Linux: there is no Outlook; the engine logs on to the target itself"),
    { .name = NULL },
};

static const char *const priority_names[] = { "low", "normal", "high", NULL };
static const char *const attach_names[] = { "none", "all", "statistics", NULL };
static const char *const when_names[] = { "all", "success", "fail", NULL };
static const char *const nprofile_names[] = { "default", "current", NULL };
static const char *const security_names[] = { "starttls", "tls", "none", NULL };

#define ENUMK(n, f, tbl) { .name = n, .type = KT_ENUM, .off = OFF(f), .names = tbl }

static const key_spec notify_keys[] = {
    { .name = "SMTPAddress", .type = KT_WORDS, .required = 1, .off = OFF(notify.smtp_addresses) },
    ENUMK("Priority", notify.priority, priority_names),
    ENUMK("Attach log", notify.attach, attach_names),
    ENUMK("Notification", notify.when, when_names),
    ENUMK("Profile", notify.profile, nprofile_names),
    { .name = "Subject", .type = KT_STR, .off = OFF(notify.subject),
      .line_off = OFF(notify.subject_line) },
    { .name = "Body", .type = KT_STR, .off = OFF(notify.body), .line_off = OFF(notify.body_line) },
    /* our extension: the SMTP relay */
    { .name = "SMTPServer", .type = KT_STR_NE, .off = OFF(notify.smtp_server),
      .line_off = OFF(notify.smtp_server_line), .host = 1 },
    { .name = "SMTPSecurity", .type = KT_ENUM, .off = OFF(notify.smtp_security),
      .names = security_names, .line_off = OFF(notify.smtp_security_line) },
    FLAG("SMTPAllowPlain", notify.smtp_allow_plain),
    { .name = "SMTPUser", .type = KT_STR_NE, .off = OFF(notify.smtp_user),
      .line_off = OFF(notify.smtp_user_line) },
    { .name = "SMTPPassword", .type = KT_SECRET, .off = OFF(notify.smtp_password),
      .line_off = OFF(notify.smtp_password_line) },
    { .name = "From", .type = KT_STR_NE, .off = OFF(notify.from), .line_off = OFF(notify.from_line) },
    KEY("SMTPCAFile", KT_STR_NE, notify.smtp_ca_file),
    { .name = NULL },
};

static const section_spec cpuu_sections[] = {
    { .name = "Parameters", .keys = parameter_keys, .unknown = UNKNOWN_WARN,
      .present_off = OFF(parameters_present), .line_off = OFF(parameters_line) },
    /* the spec names the section [Admin notification]; its parameter table
     * calls it [Notification], so both spellings are accepted */
    { .name = "Admin notification", .alias = "Notification", .keys = notify_keys,
      .unknown = UNKNOWN_WARN, .present_off = OFF(notify.present), .line_off = OFF(notify.line) },
    { .name = NULL },
};

static void set_defaults(cfg_cpuu *c)
{
    c->watchdog = CFG_DEFAULT_WATCHDOG;
    c->attempt = CFG_DEFAULT_ATTEMPT;
    c->max_local_dumps = CFG_DEFAULT_MAX_LOCAL_DUMPS;
    c->stop_processes = ini_split_words(CFG_DEFAULT_STOP_PROCESSES);
    c->notify.priority = CFG_PRIO_NORMAL;
    c->notify.attach = CFG_ATTACH_NONE;
    c->notify.when = CFG_NOTIFY_ALL;
    c->notify.profile = CFG_NPROFILE_DEFAULT;
}

/* Defaults for what only gets a value when absent (strings) */
static void fill_absent(cfg_cpuu *c)
{
    char ***lists[] = { &c->allow_additional_services, &c->processed_domains_fqdns, &c->profiles,
                        &c->undo, &c->notify.smtp_addresses };
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        if (!*lists[i])
            *lists[i] = ini_split_words("");
    if (!c->authority_url)
        c->authority_url = ini_xstrdup(CFG_DEFAULT_AUTHORITY_URL);
    if (!c->resource_url)
        c->resource_url = ini_xstrdup(CFG_DEFAULT_RESOURCE_URL);
    if (!c->notify.subject || !*c->notify.subject) {
        free(c->notify.subject);
        c->notify.subject = ini_xstrdup(CFG_DEFAULT_NOTIFY_SUBJECT);
    }
    if (!c->notify.body || !*c->notify.body) {
        free(c->notify.body);
        c->notify.body = ini_xstrdup(CFG_DEFAULT_NOTIFY_BODY);
    }
}

/* Warn about %x in a template that expands to nothing we know. */
static void check_template(const char *name, const char *t, int line, ini_diag *d)
{
    for (const char *p = t; p && *p; p++) {
        if (*p != '%')
            continue;
        if (p[1] && strchr("RrUuPpHhTtDd%", p[1])) {
            p++;
            continue;
        }
        ini_warn(d, line, "[Admin notification] %s: '%%%c' is not a variable (use %%R %%U %%P %%H "
                          "%%T %%D or %%%%); it is sent as written", name, p[1] ? p[1] : ' ');
    }
}

static void check_pairs(cfg_cpuu *c, ini_diag *d)
{
    if (c->admin && !c->password)
        ini_error(d, c->admin_line, SR_E_CONFIG, "[Parameters] Admin: needs Password as well");
    if (c->password && !c->admin)
        ini_error(d, c->password_line, SR_E_CONFIG, "[Parameters] Password: needs Admin as well");
    if (c->admin_trg && !c->password_trg)
        ini_error(d, c->admin_trg_line, SR_E_CONFIG, "[Parameters] AdminTrg: needs PasswordTrg as well");
    if (c->password_trg && !c->admin_trg)
        ini_error(d, c->password_trg_line, SR_E_CONFIG,
                  "[Parameters] PasswordTrg: needs AdminTrg as well");
    if ((c->client_secret || c->client_cert) && !c->client_id)
        ini_error(d, c->client_secret ? c->client_secret_line : c->client_cert_line, SR_E_CONFIG,
                  "[Parameters] %s: needs ClientId as well",
                  c->client_secret ? "ClientSecret" : "ClientCertificate");
    if ((c->client_cert != NULL) != (c->client_key != NULL))
        ini_error(d, c->client_cert ? c->client_cert_line : c->client_key_line, SR_E_CONFIG,
                  "[Parameters] %s: ClientCertificate and ClientCertificateKey go together",
                  c->client_cert ? "ClientCertificate" : "ClientCertificateKey");
}

/* A control character in a header value could start a new header (CR/LF
 * injection); Body may hold tabs, nothing else. */
static void check_header_value(const char *name, const char *v, int line, int allow_tab, ini_diag *d)
{
    for (const unsigned char *p = (const unsigned char *)v; p && *p; p++)
        if ((*p < 0x20 && !(allow_tab && *p == '\t')) || *p == 0x7f) {
            ini_error(d, line, SR_E_CONFIG, "[Admin notification] %s: contains a control character "
                      "(0x%02x); CR/LF would inject mail headers", name, *p);
            return;
        }
}

static int is_loopback(const char *hostport)
{
    return !strncmp(hostport, "127.0.0.1", 9) ? hostport[9] == '\0' || hostport[9] == ':'
         : !strncmp(hostport, "[::1]", 5) ? hostport[5] == '\0' || hostport[5] == ':'
         : !strcmp(hostport, "::1");
}

/* Our SMTP keys: credentials never cross the network in clear. */
static void check_smtp(cfg_cpuu *c, ini_diag *d)
{
    check_header_value("Subject", c->notify.subject, c->notify.subject_line, 0, d);
    check_header_value("Body", c->notify.body, c->notify.body_line, 1, d);
    check_header_value("From", c->notify.from, c->notify.from_line, 0, d);
    for (size_t i = 0; c->notify.smtp_addresses && c->notify.smtp_addresses[i]; i++)
        if (strpbrk(c->notify.smtp_addresses[i], "<>,;\"()"))
            ini_error(d, c->notify.line, SR_E_CONFIG, "[Admin notification] SMTPAddress: '%s' "
                      "must be a bare address (no < > , ; \" ( ))", c->notify.smtp_addresses[i]);
    if (c->notify.from && (!strchr(c->notify.from, '@') || strpbrk(c->notify.from, "<>,;\"() ")))
        ini_error(d, c->notify.from_line, SR_E_CONFIG,
                  "[Admin notification] From: '%s' is not a bare SMTP address", c->notify.from);
    if (c->notify.smtp_user && !c->notify.smtp_password)
        ini_error(d, c->notify.smtp_user_line, SR_E_CONFIG,
                  "[Admin notification] SMTPUser: needs SMTPPassword as well");
    if (c->notify.smtp_password && !c->notify.smtp_user)
        ini_error(d, c->notify.smtp_password_line, SR_E_CONFIG,
                  "[Admin notification] SMTPPassword: needs SMTPUser as well");
    const char *srv = c->notify.smtp_server;
    if (srv && strpbrk(srv, " /@?#"))
        ini_error(d, c->notify.smtp_server_line, SR_E_CONFIG,
                  "[Admin notification] SMTPServer: expected host[:port], got '%s'", srv);
    if (c->notify.smtp_security == CFG_SMTP_NONE && srv && !is_loopback(srv) &&
        !c->notify.smtp_allow_plain)
        ini_error(d, c->notify.smtp_security_line, SR_E_CONFIG,
                  "[Admin notification] SMTPSecurity: 'none' sends mail%s in clear to %s; allowed "
                  "only to 127.0.0.1/::1 or with SMTPAllowPlain=1",
                  c->notify.smtp_user ? " and credentials" : "", srv);
}

/* The spec: "do not use semicolon, comma or any other separators except
 * space" — a;b would silently be one domain that matches nothing. */
static void check_domains(cfg_cpuu *c, ini_diag *d)
{
    for (size_t i = 0; c->processed_domains_fqdns && c->processed_domains_fqdns[i]; i++) {
        const char *w = c->processed_domains_fqdns[i], *bad = strpbrk(w, ";,");
        if (bad) {
            ini_error(d, c->processed_domains_line, SR_E_CONFIG,
                      "[Parameters] ProcessedDomainsFQDNs: '%s' holds '%c'; separate domain names "
                      "with blanks only (the spec forbids ';' and ',')", w, *bad);
            return;
        }
    }
}

/* Password values must be our stored form; a clear-text one would sit in a
 * file for anyone who can read it (and would not decrypt anyway). */
static void check_stored(const char *key, const char *v, int line, ini_diag *d)
{
    if (!v || cfg_secret_is_ours(v) || strncmp(v, "srenc", 5) == 0)
        return;
    ini_warn(d, line, "[Parameters] %s: not in switchresmb's encrypted form (clear text, or "
             "encrypted by the Windows wizard); encrypt it with: cpuu-config --encrypt %s %s",
             key, key, d->path);
}

/* A feature named in Features or Critical that the engine has not built
 * would fail every profile late (CSV 11); refuse it here, naming it.  Skip
 * naming one changes nothing, so it only gets a note. */
static void check_built(cfg_cpuu *c, ini_diag *d)
{
    const struct { const char *key; cfg_feature_set set; int line, error; } named[] = {
        { "Features", c->features, c->features_line, 1 },
        { "Critical", c->critical, c->critical_line, 1 },
        { "Skip", c->skip_line ? c->skip : 0, c->skip_line, 0 },
    };
    char built[400] = "";   /* the list comes from the one table, never a copy */
    for (int f = 0, used = 0; f < CFG_F__MAX && used < (int)sizeof built; f++)
        if (CFG_FSET_BUILT & CFG_FSET(f))
            used += snprintf(built + used, sizeof built - (size_t)used, "%s%s", used ? " " : "",
                             cfg_feature_name((cfg_feature)f));
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
        cfg_feature_set left = named[i].set;
        int f;
        while ((f = cfg_first_unbuilt(left)) >= 0) {
            left &= ~CFG_FSET(f);
            if (named[i].error)
                ini_error(d, named[i].line, SR_E_CONFIG, "[Parameters] %s: %s is not built in this "
                          "engine (it has: %s)", named[i].key, cfg_feature_name((cfg_feature)f),
                          built);
            else if (c->skip != CFG_FSET_PROCESSABLE) /* Skip=All says nothing of one */
                ini_note(d, named[i].line, "[Parameters] Skip: %s is not built in this engine; "
                         "skipping it changes nothing", cfg_feature_name((cfg_feature)f));
        }
    }
}

/* The spec leaves Office 365 sources out (their profiles are not
 * processed), so the source speaks EWS; Graph has no logon but OAuth2
 * app-only. */
static void check_protocols(cfg_cpuu *c, ini_diag *d)
{
    if (c->protocol == CFG_PROTO_GRAPH)
        ini_error(d, c->protocol_line, SR_E_CONFIG, "[Parameters] Protocol: Graph is for an Office "
                  "365 target only (ProtocolTrg); the source is never Office 365 (such profiles "
                  "are not processed), so it speaks EWS: use EWS or Auto");
    if (c->protocol_trg == CFG_PROTO_GRAPH && !c->client_id)
        ini_error(d, c->protocol_trg_line, SR_E_CONFIG, "[Parameters] ProtocolTrg: Graph needs the "
                  "OAuth2 app-only logon: ClientId with ClientSecret or ClientCertificate");
}

static void cross_checks(cfg_cpuu *c, ini_diag *d)
{
    check_pairs(c, d);
    check_protocols(c, d);
    check_domains(c, d);
    check_stored("Password", c->password, c->password_line, d);
    check_stored("PasswordTrg", c->password_trg, c->password_trg_line, d);
    for (size_t i = 0; c->allow_additional_services && c->allow_additional_services[i]; i++)
        if (sr_streq_ci(c->allow_additional_services[i], "All"))
            c->allow_all_services = 1;
    c->features_given = c->features != 0;
    if (c->features && c->skip)
        ini_error(d, c->features_line, SR_E_CONFIG,
                  "[Parameters] Features: cannot be used together with Skip (line %d); keep one",
                  c->skip_line);
    check_built(c, d);
    c->effective = c->features_given ? c->features : (CFG_FSET_PROCESSABLE & ~c->skip);
    cfg_feature_set idle = c->critical & ~c->effective & ~CFG_FSET(CFG_F_ACTIVITIES);
    for (int f = 0; f < CFG_F__MAX; f++)
        if (idle & CFG_FSET(f))
            ini_warn(d, c->critical_line,
                     "[Parameters] Critical: %s is not processed (Features/Skip), so it cannot fail",
                     cfg_feature_name((cfg_feature)f));
    if (c->notify.present) {
        for (size_t i = 0; c->notify.smtp_addresses && c->notify.smtp_addresses[i]; i++)
            if (!strchr(c->notify.smtp_addresses[i], '@'))
                ini_error(d, c->notify.line, SR_E_CONFIG,
                          "[Admin notification] SMTPAddress: '%s' is not an SMTP address",
                          c->notify.smtp_addresses[i]);
        if (c->notify.smtp_addresses && !c->notify.smtp_addresses[0])
            ini_error(d, c->notify.line, SR_E_CONFIG,
                      "[Admin notification] SMTPAddress: must name at least one address");
        check_template("Subject", c->notify.subject, c->notify.subject_line, d);
        check_template("Body", c->notify.body, c->notify.body_line, d);
        check_smtp(c, d);
    }
}

cfg_cpuu *cfg_cpuu_load(const char *path, cfg_diag *diag, sr_err *err)
{
    ini_diag d;
    ini_diag_init(&d, path ? path : "(null)", err);
    cfg_cpuu *c = calloc(1, sizeof *c);
    if (!c) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    c->path = ini_xstrdup(path);
    set_defaults(c);
    ini_doc doc = { 0 };
    if (!path)
        ini_error(&d, 0, SR_E_CONFIG, "no configuration file given");
    else if (ini_doc_read(&doc, path, &d) == 0) {
        ini_apply(&doc, cpuu_sections, c, &d);
        if (!c->parameters_present)
            ini_warn(&d, doc.last_line, "no [Parameters] section; every parameter has its default");
        cross_checks(c, &d);
    }
    ini_doc_free(&doc);
    fill_absent(c);
    if (diag)
        *diag = d.counts;
    if (d.counts.errors) {
        if (d.counts.errors > 1 && err)
            sr_err_prefix(err, "%u errors; first: ", d.counts.errors);
        cfg_cpuu_free(c);
        return NULL;
    }
    return c;
}

void cfg_cpuu_free(cfg_cpuu *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->admin);
    sr_secret_free(c->password);
    free(c->admin_trg);
    sr_secret_free(c->password_trg);
    cfg_argv_free(c->allow_additional_services);
    cfg_argv_free(c->stop_processes);
    cfg_argv_free(c->processed_domains_fqdns);
    free(c->autodiscover_source_url);
    free(c->autodiscover_target_url);
    free(c->authority_url);
    free(c->resource_url);
    free(c->client_id);
    sr_secret_free(c->client_secret);
    free(c->client_cert);
    free(c->client_key);
    free(c->token_url);
    free(c->graph_url);
    cfg_argv_free(c->profiles);
    cfg_argv_free(c->undo);
    free(c->log);
    cfg_argv_free(c->notify.smtp_addresses);
    free(c->notify.subject);
    free(c->notify.body);
    free(c->notify.smtp_server);
    free(c->notify.smtp_user);
    sr_secret_free(c->notify.smtp_password);
    free(c->notify.from);
    free(c->notify.smtp_ca_file);
    free(c);
}
