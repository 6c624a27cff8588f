/* configs.h — SwitchResMB.ini and CPUU.ini: load, validate, typed structs;
 * stored-credential encryption (the spec's "Encryption Modes"); the
 * CPUUCmdLine tokenizer; notification templates; rewriting DCPassword in place.
 *
 * Reading: our own line-oriented reader (configs/ini.c), not iniparser,
 * because every message must name file:line, duplicates must be caught, and
 * the list sections ([Mailboxes], [MailboxesSMTP], [TargetMailboxesSMTP])
 * hold bare lines — iniparser 4.1 rejects a whole file on the first bare line.
 * Files may be UTF-8 (with or without BOM) or UTF-16LE/BE with a BOM
 * (Notepad's "Unicode"); they are decoded with iconv, line numbers kept.
 * Section and key names are case-insensitive; values keep their case, are
 * trimmed of surrounding blanks, and lose one pair of surrounding double
 * quotes (as Windows' GetPrivateProfileString; not when more quotes are
 * inside).  Lines starting with ';' or '#' are comments; a '#' or ';' after
 * a value is part of it, as on Windows.
 *
 * Diagnostics: every error and warning is logged through sr_log() with
 * "file:line" as `who`; the first error is also returned in sr_err with the
 * message "file:line: [Section] Key: what".  Secrets never appear in either.
 *
 * Ownership: every pointer a function returns says who frees it, above the
 * prototype.  Structs returned by *_load are freed with the matching *_free,
 * which wipes secret fields. */
#ifndef SR_CONFIGS_H
#define SR_CONFIGS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

/* ---- shared bits ----------------------------------------------------------- */

/* Counts of what a load found; every item was already logged.  The two
 * kinds map to the spec's SwitchResMb exit bits 4 (INI) and 32 (CPUUCmdLine). */
typedef struct cfg_diag {
    unsigned errors;          /* config_errors + cmdline_errors */
    unsigned config_errors;   /* incorrect INI parameters (incl. unreadable file) */
    unsigned cmdline_errors;  /* incorrect CPUUCmdLine */
    unsigned warnings;
} cfg_diag;

/* One entry of a list section, with the source line it came from. */
typedef struct cfg_list_entry {
    char *value;              /* trimmed line, case kept */
    int line;
} cfg_list_entry;

typedef struct cfg_list {
    int present;              /* the section header appeared */
    int line;                 /* line of the section header (0 when absent) */
    size_t n;
    cfg_list_entry *v;        /* n entries, in file order */
} cfg_list;

/* ---- features (spec: "What the Utility Updates", "Critical Functionalities") -
 * Bit positions are shared with the engine; append only, never renumber. */
typedef enum {
    CFG_F_ADDBOXES = 0,
    CFG_F_CONTAB,
    CFG_F_CONTACTMEMBERS,
    CFG_F_DELEGATES,
    CFG_F_MOVETOFOLDER,
    CFG_F_NICKS,
    CFG_F_OTHERUSERSFOLDERS,
    CFG_F_PUBLICFAV,
    CFG_F_RULES,
    CFG_F_SRS,
    CFG_F_SEARCHFOLDERS,
    CFG_F_SERVICES,
    CFG_F_SHORTCUTS,
    CFG_F_USERNAMES,
    CFG_F_FAVORITES,
    CFG_F_CALENDAR,
    CFG_F_CONTACTS,
    CFG_F_TASKS,
    CFG_F_NOTES,
    CFG_F_JOURNAL,
    CFG_F_ACTIVITIES,         /* only valid as a Critical value */
    CFG_F_BOOKING,            /* ours, beyond the spec: rooms' booking policies (issue 16) */
    CFG_F__MAX
} cfg_feature;

typedef uint32_t cfg_feature_set;
#define CFG_FSET(f) ((cfg_feature_set)1u << (unsigned)(f))
/* Every feature that Features/Skip may name (all but Activities). */
#define CFG_FSET_PROCESSABLE \
    ((((cfg_feature_set)1u << CFG_F__MAX) - 1u) & ~CFG_FSET(CFG_F_ACTIVITIES))
/* The spec's critical list: Activities AddBoxes CONTAB Delegates Rules SRS
 * SearchFolders Shortcuts; plus ContactMembers (issue 12) and our Booking. */
#define CFG_FSET_CRITICAL_ALLOWED                                               \
    (CFG_FSET(CFG_F_ACTIVITIES) | CFG_FSET(CFG_F_ADDBOXES) | CFG_FSET(CFG_F_CONTAB) | \
     CFG_FSET(CFG_F_DELEGATES) | CFG_FSET(CFG_F_RULES) | CFG_FSET(CFG_F_SRS) |    \
     CFG_FSET(CFG_F_SEARCHFOLDERS) | CFG_FSET(CFG_F_SHORTCUTS) |                  \
     CFG_FSET(CFG_F_CONTACTMEMBERS) | CFG_FSET(CFG_F_BOOKING))

/* What the update engine `cpuu` has built (cpuu/features.c); a test checks
 * this against the engine's feature table, so configs/ can refuse a feature
 * the engine lacks without linking it (resmb must not link cpuu).  Update
 * both when a feature file is added. */
#define CFG_FSET_BUILT                                                              \
    (CFG_FSET(CFG_F_DELEGATES) | CFG_FSET(CFG_F_RULES) | CFG_FSET(CFG_F_NICKS) |       \
     CFG_FSET(CFG_F_FAVORITES) | CFG_FSET(CFG_F_CALENDAR) | CFG_FSET(CFG_F_CONTACTS) | \
     CFG_FSET(CFG_F_TASKS) | CFG_FSET(CFG_F_NOTES) | CFG_FSET(CFG_F_JOURNAL) |         \
     CFG_FSET(CFG_F_SHORTCUTS) | CFG_FSET(CFG_F_SEARCHFOLDERS) |                       \
     CFG_FSET(CFG_F_CONTACTMEMBERS) | CFG_FSET(CFG_F_BOOKING))

/* The first feature of set the engine has not built ((cfg_feature)-1 when
 * none; Activities, a Critical-only word, counts as built). */
int cfg_first_unbuilt(cfg_feature_set set);

/* INI name of a feature ("ContactMembers"); static, NULL when out of range. */
const char *cfg_feature_name(cfg_feature f);
/* Feature by INI name, case-insensitive; -1 when unknown. */
int cfg_feature_parse(const char *name);

/* ---- SwitchResMB.ini (spec: "SwitchResMB.ini Parameters") ------------------- */

typedef enum { CFG_AGENT_NONE = 0, CFG_AGENT_LEGACY, CFG_AGENT_CONTEMPORARY } cfg_agent_type;
typedef enum { CFG_TARGET_NONE = 0, CFG_TARGET_EXCHANGE, CFG_TARGET_O365 } cfg_target;

typedef struct cfg_resmb {
    char *path;                       /* as given to cfg_resmb_load */
    struct {
        int present, line;            /* always present after a successful load */
        char *cpuu_cmdline;           /* raw value, may be "" */
        int cpuu_cmdline_line;
        char **cpuu_argv;             /* tokenized, NULL-terminated (may be empty) */
        size_t cpuu_argc;
        char *src_exch_server;        /* may be "" (Outlook 2016/2019) */
        /* 0/1 flags; absent = 0 */
        int logon_negotiate, logon_winnt, logon_anonymous, logon_kerberos, logon_smartcard;
        int leave_temporary_profiles;
    } settings;
    struct {
        int present, line;
        char *dc_name;
        char *dc_account;
        char *dc_password;            /* stored (encrypted) form; decrypt with
                                         cfg_resmb_dc_password() */
        int dc_password_line;
    } ad;
    /* ours, beyond the spec (issue 12, docs/switchresmb.md): the TARGET
     * organisation's directory, which gives the engine the target
     * legacyExchangeDN of mapped recipients in batches */
    struct {
        int present, line;
        char *dc_name;                /* host, host:port or ldap[s]:// URI */
        char *dc_account;
        char *dc_password;            /* stored (encrypted) form; decrypt with
                                         cfg_resmb_target_dc_password() */
        char *ca_file;                /* NULL when absent: LDAPTLS_CACERT, else libldap's */
        int dc_name_line, dc_password_line, ca_file_line;
    } target_ad;
    struct {
        int present, line;
        int connect_using_http;
        char *proxy_server;
        char *principal_name;         /* may be "" */
        int ssl_only, mutual_auth, http_first_on_fast, http_first_on_slow;
        /* optional; when none of the three is given, auth_ntlm = 1 (spec default) */
        int auth_ntlm, auth_basic, auth_negotiate;
        int auth_line;                /* line of the last Auth* key, 0 if none */
    } rpc;
    struct {
        int present, line;
        int recreate;                 /* RecreateSwitchMsg, default 0 */
        cfg_agent_type agent;
        cfg_target target;            /* CFG_TARGET_NONE unless given */
        int target_line;
    } switch_msg;
    cfg_list mailboxes;               /* legacyExchangeDN per entry */
    cfg_list mailboxes_smtp;
    cfg_list target_mailboxes_smtp;   /* empty, or 1:1 with mailboxes_smtp */
} cfg_resmb;

/* Load and validate.  Returns NULL when any error was found (all of them are
 * logged; the first is in *err, code SR_E_CONFIG or SR_E_CMDLINE); diag may
 * be NULL.  Caller frees the result with cfg_resmb_free(). */
cfg_resmb *cfg_resmb_load(const char *path, cfg_diag *diag, sr_err *err);
/* NULL-safe; wipes the stored password. */
void cfg_resmb_free(cfg_resmb *cfg);

/* Decrypt [AD] DCPassword; errors are prefixed "file:line: [AD] DCPassword: ".
 * *plain_out is a secret: caller frees with sr_secret_free(). */
sr_code cfg_resmb_dc_password(const cfg_resmb *cfg, char **plain_out, sr_err *err);
/* The same for [TargetAD] DCPassword (prefix "file:line: [TargetAD] DCPassword: "). */
sr_code cfg_resmb_target_dc_password(const cfg_resmb *cfg, char **plain_out, sr_err *err);

/* Replace the value of a stored secret in the file at path with `stored`,
 * atomically (temp + fsync + rename), changing no other character: the
 * encoding (BOM, UTF-16) and line endings stay.  A symlink is followed and
 * the real file rewritten; owner, group, mode and ACL are kept (SR_E_ACCESS,
 * file untouched, when the owner cannot be kept).  No such section or no
 * such line in it → SR_E_CONFIG naming the file.  stored must be one line
 * (no CR/LF).  The keys: DCPassword ([AD], SwitchResMB.ini),
 * TargetAD.DCPassword ([TargetAD], SwitchResMB.ini; a key may always be
 * given as Section.Key),
 * Password, PasswordTrg and ClientSecret ([Parameters], CPUU.ini), SMTPPassword ([Admin
 * notification], CPUU.ini).  Another key → SR_E_USAGE. */
sr_code cfg_set_stored_secret(const char *path, const char *key, const char *stored, sr_err *err);

/* ---- CPUUCmdLine -------------------------------------------------------------- */

/* Split CPUUCmdLine (the engine's arguments, no program name) as Windows'
 * CommandLineToArgvW does: blanks separate; a backslash is literal except
 * before a double quote (2n backslashes + " → n and a quote that opens or
 * closes; 2n+1 → n and a literal "); "" inside quotes is a literal " (see
 * configs/cmdline.c).  Nothing is run by a shell, so | ; $ are literal.
 * A quote left open with text after it, or a line break, is SR_E_CMDLINE
 * (message names the column).  On success *argv_out is a NULL-terminated
 * vector (possibly just {NULL}); caller frees with cfg_argv_free(). */
sr_code cfg_cpuu_cmdline_tokenize(const char *cmdline, char ***argv_out, size_t *argc_out,
                                  sr_err *err);
/* NULL-safe. */
void cfg_argv_free(char **argv);

/* ---- CPUU.ini (spec: "CPUU Parameters", "Notification Format") -------------- */

typedef enum { CFG_PRIO_LOW = 0, CFG_PRIO_NORMAL, CFG_PRIO_HIGH } cfg_notify_priority;
typedef enum { CFG_ATTACH_NONE = 0, CFG_ATTACH_ALL, CFG_ATTACH_STATISTICS } cfg_notify_attach;
typedef enum { CFG_NOTIFY_ALL = 0, CFG_NOTIFY_SUCCESS, CFG_NOTIFY_FAIL } cfg_notify_when;
typedef enum { CFG_NPROFILE_DEFAULT = 0, CFG_NPROFILE_CURRENT } cfg_notify_profile;
/* Our extension (Linux has no Outlook profile to send through): how the SMTP
 * relay is reached.  starttls = STARTTLS required; tls = implicit TLS (smtps);
 * none = plain, only to loopback or with SMTPAllowPlain=1. */
typedef enum { CFG_SMTP_STARTTLS = 0, CFG_SMTP_TLS, CFG_SMTP_NONE } cfg_smtp_security;

/* Spec defaults, applied when a parameter is absent. */
#define CFG_DEFAULT_AUTHORITY_URL "https://login.microsoftonline.com/common"
#define CFG_DEFAULT_RESOURCE_URL "https://outlook.office365.com"
#define CFG_DEFAULT_ATTEMPT 3
#define CFG_DEFAULT_WATCHDOG 1
#define CFG_DEFAULT_MAX_LOCAL_DUMPS 10
#define CFG_DEFAULT_STOP_PROCESSES \
    "Communicator.exe Outlook.exe Rim.Desktop.exe Desktopmanager.exe GoogleCalendarSync.exe"
/* The spec's example subject; the body is our wording with the same variables. */
#define CFG_DEFAULT_NOTIFY_SUBJECT "%R: Profile %P on computer %H"
#define CFG_DEFAULT_NOTIFY_BODY                                                     \
    "Profile %P of user %U on computer %H was %R by the profile updating utility " \
    "(processed at %T on %D). The CPUU log file has the details."

/* Our extension (issue 17, docs/cpuu.md): the protocol a side speaks.  The
 * same values, in the same order, as mapi_proto (mapi/graph.h), which
 * decides Auto; configs/ depends on no other module, so it has its own. */
typedef enum { CFG_PROTO_AUTO = 0, CFG_PROTO_EWS, CFG_PROTO_GRAPH } cfg_protocol;

typedef struct cfg_cpuu {
    char *path;
    int parameters_present, parameters_line;
    /* source lines of keys that cross-checks and callers point at (0 = absent) */
    int admin_line, password_line, admin_trg_line, password_trg_line;
    int skip_line, features_line, critical_line, processed_domains_line;
    /* [Parameters] — configuration parameters */
    char *admin;                      /* NULL when absent; requires password */
    char *password;                   /* stored (encrypted) form or NULL */
    char *admin_trg;                  /* requires password_trg */
    char *password_trg;
    int ask_credentials;              /* 0/1, default 0 */
    int ask_source_credentials_only;  /* default 0 */
    char **allow_additional_services; /* NULL-terminated, may be {NULL}; "All" kept */
    int allow_all_services;           /* AllowAdditionalServices=All */
    int features_given;               /* Features had a non-empty value */
    cfg_feature_set features;         /* as written (Features=) */
    cfg_feature_set skip;             /* Skip= (All → every processable feature) */
    cfg_feature_set effective;        /* what the engine processes */
    cfg_feature_set critical;
    cfg_feature_set remove;           /* Remove= (only Nicks is defined) */
    int remove_junk_email_messages, process_offline_profiles, keep_ost, backup_ost;
    int create_reg_file_for_ost_recovery, use_target_ost, silent;
    int watchdog;                     /* default 1 */
    char **stop_processes;            /* NULL-terminated; default CFG_DEFAULT_STOP_PROCESSES */
    int attempt;                      /* default 3 */
    int open_store_wait, feature_wait, global_wait; /* seconds; 0 = not set (no limit) */
    char **processed_domains_fqdns;   /* NULL-terminated, may be {NULL} */
    int use_local_autodiscover_xmls;  /* default 0 */
    char *autodiscover_source_url;    /* NULL when absent */
    char *autodiscover_target_url;
    char *authority_url;              /* default CFG_DEFAULT_AUTHORITY_URL */
    char *resource_url;               /* default CFG_DEFAULT_RESOURCE_URL */
    /* our extension (docs/logon.md): the Exchange Online app registration
     * for OAuth2 app-only logon; NULL when absent */
    char *client_id;                  /* ClientId: the application (client) id */
    char *client_secret;              /* ClientSecret: stored (encrypted) form */
    char *client_cert;                /* ClientCertificate: PEM certificate file */
    char *client_key;                 /* ClientCertificateKey: PEM RSA key file (mode 600) */
    char *token_url;                  /* TokenURL: whole token endpoint */
    int client_id_line, client_secret_line, client_cert_line, client_key_line;
    /* our extension (issue 17): Protocol (source: EWS only; Graph refused,
     * the source is never Office 365), ProtocolTrg (default Auto), GraphURL
     * (Graph's base URL, NULL → https://graph.microsoft.com: sovereign
     * clouds) */
    cfg_protocol protocol, protocol_trg;
    int protocol_line, protocol_trg_line;
    char *graph_url;
    /* [Parameters] — management parameters that may also be written there */
    char **profiles;                  /* Profiles=, NULL-terminated */
    char **undo;                      /* Undo=, NULL-terminated */
    int undo_all, default_profile, leave_temporary_profile, undo_default_profile;
    char *log;                        /* Log=, NULL when absent */
    int move_dumps_to_remote;
    int max_local_dumps;              /* default 10 */
    int log_write_directly, cleanup, do_not_modify_exclude_scp_lookup;
    int name_trg_store_as_src, skip_autodiscover_checking, disable_logon_through_outlook;
    /* [Admin notification] */
    struct {
        int present, line;
        char **smtp_addresses;        /* NULL-terminated, at least one when present */
        cfg_notify_priority priority; /* default normal */
        cfg_notify_attach attach;     /* default none */
        cfg_notify_when when;         /* default all */
        cfg_notify_profile profile;   /* default "default" (spec) */
        char *subject;                /* default CFG_DEFAULT_NOTIFY_SUBJECT */
        char *body;                   /* default CFG_DEFAULT_NOTIFY_BODY */
        int subject_line, body_line;
        /* our extension: the SMTP relay (docs/cpuu.md "Notifications") */
        char *smtp_server;            /* "host[:port]"; NULL → not sent (warned) */
        cfg_smtp_security smtp_security; /* default starttls */
        int smtp_allow_plain;         /* SMTPAllowPlain, default 0 */
        char *smtp_user;              /* NULL when absent; requires smtp_password */
        char *smtp_password;          /* stored (encrypted) form; decrypt with
                                         cfg_secret_decrypt */
        char *from;                   /* From=; NULL → the caller picks the default */
        char *smtp_ca_file;           /* SMTPCAFile=; NULL → system trust store */
        int smtp_server_line, smtp_security_line, smtp_user_line, smtp_password_line, from_line;
    } notify;
} cfg_cpuu;

/* Load and validate CPUU.ini.  NULL on any error (all logged, first in *err,
 * code SR_E_CONFIG).  Caller frees with cfg_cpuu_free(). */
cfg_cpuu *cfg_cpuu_load(const char *path, cfg_diag *diag, sr_err *err);
/* NULL-safe; wipes the stored passwords. */
void cfg_cpuu_free(cfg_cpuu *cfg);

/* Values for the notification variables (spec "Notification Format"). */
typedef struct cfg_notify_vars {
    int updated;                      /* %R: "UPDATED" / "NOT UPDATED" */
    const char *user;                 /* %U */
    const char *profile;              /* %P */
    const char *host;                 /* %H */
    const char *time;                 /* %T */
    const char *date;                 /* %D */
} cfg_notify_vars;

/* Expand %R %U %P %H %T %D (either case) and %% in tmpl; an unknown %x is
 * kept as written.  tmpl NULL → "".  NULL vars fields expand to "".
 * Caller frees the result with free(); NULL only on OOM. */
char *cfg_notification_expand(const char *tmpl, const cfg_notify_vars *vars);

/* ---- stored credentials (spec: "Encryption Modes") --------------------------
 * Stored form: "srenc1:<mode>:<base64(key id[4] | nonce[24] | ciphertext)>",
 * XChaCha20-Poly1305 (libsodium), key = BLAKE2b over a purpose label and:
 *   user          the host id and the uid (only this user on this host)
 *   host          the host id (any user on this host) — suits parallel runs
 *   unrestricted  a key built into the program (test labs only)
 * The host id is the content of /etc/machine-id, or of the file named by env
 * SR_MACHINE_ID_FILE (tests use it to act as another host).  The key id lets
 * decryption tell "another host/user" from "altered".
 * Threat model, honestly: /etc/machine-id and uids are readable by every
 * local user, so "host" and "user" stop a copied file from being decrypted
 * elsewhere, not a local user who can read the file and run this code —
 * keep SwitchResMB.ini mode 600 (the encrypt command warns otherwise). */
typedef enum { CFG_ENC_USER = 0, CFG_ENC_HOST, CFG_ENC_UNRESTRICTED } cfg_enc_mode;

/* "user" / "host" / "unrestricted"; static. */
const char *cfg_enc_mode_name(cfg_enc_mode m);
/* Mode by name; -1 when unknown. */
int cfg_enc_mode_parse(const char *s);

/* Encrypt plain for the current host/uid.  Unrestricted mode logs a warning.
 * *out is the stored form (not secret): caller frees with free(). */
sr_code cfg_secret_encrypt(const char *plain, cfg_enc_mode mode, char **out, sr_err *err);
/* Decrypt a stored value as the current uid.  Foreign (non-srenc) values,
 * another host/user, and altered values fail with SR_E_CRYPTO and a message
 * saying which.  *plain_out: caller frees with sr_secret_free(). */
sr_code cfg_secret_decrypt(const char *stored, char **plain_out, sr_err *err);
/* For tests: decrypt as if running as uid. */
sr_code cfg_secret_decrypt_as(const char *stored, uid_t uid, char **plain_out, sr_err *err);
/* Whether a value is in our stored format (any version we know). */
int cfg_secret_is_ours(const char *stored);

#endif
