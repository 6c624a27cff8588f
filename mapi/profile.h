/* mapi/profile.h — the profile store: Outlook's MAPI profiles as one text
 * file per profile in a private directory (profile.c, profile_text.c; file
 * format in docs/profile-format.md), with locking, backups and temporary
 * profiles.  No network.
 *
 * Depends on util/ only.  Included by mapi/mapi.h (the umbrella); code that
 * only reads or writes profiles may include this header alone.
 *
 * Ownership: profiles are plain structs the caller owns and releases with
 * mapi_profile_clear; the store is a handle freed with mapi_pstore_free;
 * every other pointer returned says who frees it in the line above the
 * prototype. */
#ifndef MAPI_PROFILE_H
#define MAPI_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* The Linux home of Outlook's MAPI profiles: one text file per profile in a
 * private directory (format: docs/profile-format.md).  The store is a handle
 * (mapi_pstore_open); profiles are plain structs the caller owns. */

/* Service providers a profile may hold (spec "AllowAdditionalServices"). */
typedef enum {
    MAPI_SVC_MSEMS = 0,    /* Microsoft Exchange Server */
    MAPI_SVC_MSPST_AB,     /* Personal Address Book */
    MAPI_SVC_MSPST_MS,     /* Personal Folders (.pst) */
    MAPI_SVC_MSUPST_MS,    /* Personal Folders (Unicode .pst) */
    MAPI_SVC_CONTAB,       /* Outlook Address Book */
    MAPI_SVC_EMABLT,       /* Microsoft LDAP Directory */
    MAPI_SVC_INTERSTOR,    /* Internet Folders */
    MAPI_SVC_IMAIL,        /* Internet E-mail */
    MAPI_SVC_OTHER,        /* anything else: name kept in mapi_service.name */
    MAPI_SVC__MAX
} mapi_svc_kind;
/* Case-insensitive; MAPI_SVC_OTHER for an unknown name. */
mapi_svc_kind mapi_svc_from_name(const char *name);

/* Logon network security (spec LogonNetworkSecurity*). */
typedef enum {
    MAPI_LOGON_NEGOTIATE = 0, MAPI_LOGON_NTLM, MAPI_LOGON_ANONYMOUS,
    MAPI_LOGON_KERBEROS, MAPI_LOGON_SMARTCARD, MAPI_LOGON__MAX
} mapi_logon_security;
/* "Negotiate", "NTLM", "Anonymous", "Kerberos", "SmartCard". */
const char *mapi_logon_name(mapi_logon_security s);
int mapi_logon_from_name(const char *name);   /* -1 when unknown */

/* Exchange Proxy Settings (spec section [RPCOverHTTP]). */
typedef struct mapi_rpchttp {
    int enabled;            /* ConnectUsingHTTP */
    char *proxy_server;     /* ProxyServer, owned */
    char *principal_name;   /* PrincipalName, owned, may be "" */
    int ssl_only, mutual_auth, http_first_fast, http_first_slow;
    int auth_ntlm, auth_basic, auth_negotiate;
} mapi_rpchttp;

/* One Exchange account (MSEMS service instance) of a profile. */
typedef struct mapi_account {
    char *home_server;      /* FQDN, or <MailboxGUID>@<domain> (Exchange 2013+) */
    char *legacy_dn;        /* mailbox legacyExchangeDN */
    char *smtp;             /* primary SMTP address */
    char *display_name;     /* may be NULL */
    mapi_logon_security logon;
    mapi_rpchttp rpc;
    char *autodiscover_url; /* may be NULL: where Autodiscover answered */
    char *ews_url;          /* may be NULL: EWS endpoint (the session's URL) */
    int offline;            /* cached mode: uses an OST */
    char *ost_path;         /* may be NULL */
    char **add_mailboxes;   /* additional mailboxes (legacyDN or SMTP), owned */
    size_t n_add_mailboxes;
} mapi_account;

/* Any other service: its name and opaque key=value settings kept verbatim. */
typedef struct mapi_service {
    mapi_svc_kind kind;
    char *name;             /* MAPI service name ("MSPST MS", "FOO BAR"), owned */
    char **keys, **values;  /* parallel, owned */
    size_t n;
} mapi_service;

/* Backup/update markers (spec "CPUU Return Codes": PROFILE_IS_BACKUP,
 * PROFILE_ALREADY_UPDATED, backup lookup on rollback). */
typedef struct mapi_profile_status {
    int is_backup;          /* this profile is a backup copy */
    char *backup_of;        /* name of the original (when is_backup), owned */
    int updated;            /* already switched to the target */
    int64_t updated_at;     /* Unix seconds, 0 = never */
    int temporary;          /* created by *_create_temp: delete after use */
} mapi_profile_status;

typedef struct mapi_profile {
    char *name;                  /* owned */
    int is_default;
    mapi_account *accounts;      /* order = added order; [0] is the primary */
    size_t n_accounts;
    mapi_service *services;      /* non-Exchange services */
    size_t n_services;
    mapi_profile_status status;
    /* [handover] (ours, issue 13): what switchresmb learned about the source
     * mailbox, for the engine that runs on this profile; settings kept
     * verbatim (kind and name unused), n == 0 when there is none.  Meaning
     * and trust rules: mapi_handover_* in mapi/ews.h. */
    mapi_service handover;
} mapi_profile;

/* Release everything inside p and zero it (not p itself).  NULL-safe. */
void mapi_profile_clear(mapi_profile *p);
void mapi_account_clear(mapi_account *a);
/* Append a zeroed account (owned by p); NULL on OOM. */
mapi_account *mapi_profile_add_account(mapi_profile *p);
/* Append a service of this name with no settings (name NULL: no name yet,
 * the file parser's case; the caller sets name and kind); NULL on OOM or
 * an empty name. */
mapi_service *mapi_profile_add_service(mapi_profile *p, const char *name);
sr_code mapi_service_set(mapi_service *s, const char *key, const char *value, sr_err *err);
sr_code mapi_account_add_mailbox(mapi_account *a, const char *mailbox, sr_err *err);

/* Profile names: 1..MAPI_PROFILE_NAME_MAX bytes of valid UTF-8, no '/', no
 * control characters, not starting with '.' or ending with
 * MAPI_PROFILE_BACKUP_SUFFIX.  SR_E_INVALID otherwise.  (64 as Outlook; the
 * escaped file name then stays far below NAME_MAX.) */
#define MAPI_PROFILE_NAME_MAX 64
sr_code mapi_profile_name_check(const char *name, sr_err *err);

typedef struct mapi_pstore mapi_pstore;

/* Open (creating with 0700) the store directory: dir if non-NULL, else
 * $SWITCHRESMB_PROFILE_DIR, else $XDG_DATA_HOME/switchresmb/profiles, else
 * ~/.local/share/switchresmb/profiles.  An existing directory writable by
 * group/others is refused (SR_E_ACCESS) unless repair is non-zero, which
 * chmods it to 0700 and logs a warning.  Caller frees with mapi_pstore_free. */
mapi_pstore *mapi_pstore_open(const char *dir, int repair, sr_err *err);
void mapi_pstore_free(mapi_pstore *st);
/* The directory in use (owned by st). */
const char *mapi_pstore_dir(const mapi_pstore *st);
/* How long update/delete/backup wait for another process's lock on the same
 * profile before failing with SR_E_BUSY (default 10000 ms). */
void mapi_pstore_set_lock_timeout(mapi_pstore *st, unsigned ms);

/* Sorted profile names; *names a NULL-terminated heap array of heap strings
 * (NULL when there are none), *n their count; free with sr_strv_free. */
sr_code mapi_pstore_list(mapi_pstore *st, char ***names, size_t *n, sr_err *err);
/* Load a profile; SR_E_NOTFOUND if absent, SR_E_PARSE ("file:line: ...")
 * when the file is corrupt.  Caller owns *p (mapi_profile_clear). */
sr_code mapi_pstore_load(mapi_pstore *st, const char *name, mapi_profile *p, sr_err *err);
/* Write a new profile; SR_E_EXISTS if the name is taken.  Setting
 * is_default clears it on every other profile. */
sr_code mapi_pstore_create(mapi_pstore *st, const mapi_profile *p, sr_err *err);
/* Replace an existing profile under its lock; SR_E_NOTFOUND if absent. */
sr_code mapi_pstore_update(mapi_pstore *st, const mapi_profile *p, sr_err *err);
/* Delete under its lock; SR_E_NOTFOUND if absent. */
sr_code mapi_pstore_delete(mapi_pstore *st, const char *name, sr_err *err);
/* Name of the default profile (heap, caller frees) or NULL with SR_E_NOTFOUND. */
char *mapi_pstore_default(mapi_pstore *st, sr_err *err);

/* Temporary profiles: p->name is replaced by "{GUID}" (prefix NULL, for
 * SwitchResMB) or "CPUU_{GUID}" (prefix "CPUU_", the engine's target check),
 * marked temporary, and created.  The new name is left in p->name. */
sr_code mapi_pstore_create_temp(mapi_pstore *st, mapi_profile *p, const char *prefix, sr_err *err);
/* Non-zero when name looks like "{GUID}" / "CPUU_{GUID}". */
int mapi_profile_name_is_temp(const char *name);
/* Non-zero when name ends with MAPI_PROFILE_BACKUP_SUFFIX (a backup copy). */
int mapi_profile_name_is_backup(const char *name);

/* Backups (rollback): the backup of "X" is the profile named
 * "X" MAPI_PROFILE_BACKUP_SUFFIX, whose file is a byte copy of X's file; it
 * lists and loads with status.is_backup = 1 and backup_of = "X" (derived from
 * the name, so restore gives back X's bytes exactly).  Ordinary names may not
 * end with the suffix. */
#define MAPI_PROFILE_BACKUP_SUFFIX ".cpuu-backup"
/* Heap string, caller frees; NULL on OOM. */
char *mapi_profile_backup_name(const char *name);
/* SR_E_EXISTS if a backup already exists (keep the oldest one: it is the
 * pre-switch state). */
sr_code mapi_pstore_backup(mapi_pstore *st, const char *name, sr_err *err);
/* Put the backup back as X (replacing X) and delete the backup;
 * SR_E_NOTFOUND when there is no backup (PROFILE_BACKUP_NOT_FOUND). */
sr_code mapi_pstore_restore(mapi_pstore *st, const char *name, sr_err *err);
sr_code mapi_pstore_delete_backup(mapi_pstore *st, const char *name, sr_err *err);

/* Serialise / parse the file format (exposed for tests and tools).
 * mapi_profile_format returns a heap string, caller frees.  mapi_profile_parse
 * names errors "<what>:<line>: ..." using what (a file name). */
char *mapi_profile_format(const mapi_profile *p, sr_err *err);
sr_code mapi_profile_parse(const char *text, size_t len, const char *what,
                           mapi_profile *p, sr_err *err);

#endif /* MAPI_PROFILE_H */
