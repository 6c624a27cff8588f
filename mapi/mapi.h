/* mapi.h — the Linux stand-in for MAPI: a local profile store, MS-OXCDATA
 * EntryIDs and property tags, the switch message format, and the network half
 * that reaches Exchange (Autodiscover, EWS transport, store session).
 *
 * Parts 1–3 need no network (profile.c, entryid.c, props.c, switchmsg.c);
 * Parts 4–6 talk to Exchange (autodiscover.c, ews_*.c, session.c).
 * Depends on util/ only (and libcurl, libxml2).
 *
 * Ownership: every pointer returned says who frees it in the line above the
 * prototype; *_free functions are NULL-safe. */
#ifndef MAPI_H
#define MAPI_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ==== Part 1: profile store (profile.c) ==== */

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
/* "MSEMS", "MSPST AB", ...; static; "OTHER" for MAPI_SVC_OTHER. */
const char *mapi_svc_name(mapi_svc_kind k);
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
} mapi_profile;

/* Release everything inside p and zero it (not p itself).  NULL-safe. */
void mapi_profile_clear(mapi_profile *p);
void mapi_account_clear(mapi_account *a);
/* Append a zeroed account (owned by p); NULL on OOM. */
mapi_account *mapi_profile_add_account(mapi_profile *p);
/* Append a service of this name with no settings; NULL on OOM. */
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

/* Sorted profile names; *names heap array of heap strings, free with
 * mapi_names_free. */
sr_code mapi_pstore_list(mapi_pstore *st, char ***names, size_t *n, sr_err *err);
void mapi_names_free(char **names, size_t n);
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

/* ==== end Part 1 ==== */

/* ==== Part 2: EntryIDs and properties (entryid.c, props.c) ==== */

/* -- GUIDs --------------------------------------------------------------
 * Bytes as stored on the wire (MS-DTYP GUID: Data1..Data3 little-endian).
 * The text form is "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (lower case, no
 * braces), the way EWS writes PropertySetId. */
typedef struct mapi_guid { uint8_t b[16]; } mapi_guid;
#define MAPI_GUID_STRLEN 36
/* out gets 36 chars + NUL. */
void mapi_guid_format(const mapi_guid *g, char out[MAPI_GUID_STRLEN + 1]);
/* Accepts with or without braces, any case.  SR_E_PARSE on bad text. */
sr_code mapi_guid_parse(const char *text, mapi_guid *g, sr_err *err);
/* Random version-4 GUID from getrandom(2). */
sr_code mapi_guid_random(mapi_guid *g, sr_err *err);
int mapi_guid_eq(const mapi_guid *a, const mapi_guid *b);

/* -- base64 (RFC 4648, with padding) and hex (HexEntryId) ---------------- */
/* Heap string, caller frees; NULL on OOM. */
char *mapi_base64_encode(const void *data, size_t len);
/* Strict: padding required, whitespace (CR LF SP TAB) skipped, anything else
 * is SR_E_PARSE.  *out is heap (caller frees; NUL-terminated for convenience),
 * *out_len its length. */
sr_code mapi_base64_decode(const char *text, uint8_t **out, size_t *out_len, sr_err *err);
/* Upper-case hex, as EWS HexEntryId.  Heap string, caller frees. */
char *mapi_hex_encode(const void *data, size_t len);
/* Either case, even length, no separators.  *out heap, caller frees. */
sr_code mapi_hex_decode(const char *text, uint8_t **out, size_t *out_len, sr_err *err);

/* -- property tags and types (MS-OXCDATA 2.9, 2.11.1) --------------------- */
#define MAPI_PT_UNSPECIFIED 0x0000u
#define MAPI_PT_NULL        0x0001u
#define MAPI_PT_SHORT       0x0002u /* PtypInteger16 */
#define MAPI_PT_LONG        0x0003u /* PtypInteger32 */
#define MAPI_PT_FLOAT       0x0004u
#define MAPI_PT_DOUBLE      0x0005u
#define MAPI_PT_CURRENCY    0x0006u
#define MAPI_PT_APPTIME     0x0007u
#define MAPI_PT_ERROR       0x000Au
#define MAPI_PT_BOOLEAN     0x000Bu
#define MAPI_PT_OBJECT      0x000Du
#define MAPI_PT_I8          0x0014u /* PtypInteger64 */
#define MAPI_PT_STRING8     0x001Eu
#define MAPI_PT_UNICODE     0x001Fu
#define MAPI_PT_SYSTIME     0x0040u
#define MAPI_PT_CLSID       0x0048u
#define MAPI_PT_SVREID      0x00FBu
#define MAPI_PT_SRESTRICT   0x00FDu
#define MAPI_PT_ACTIONS     0x00FEu
#define MAPI_PT_BINARY      0x0102u
#define MAPI_MV_FLAG        0x1000u /* multi-valued: PtypMultiple* = type | 0x1000 */

#define MAPI_PROP_TAG(id, type) ((uint32_t)(((uint32_t)(id) << 16) | ((uint32_t)(type) & 0xFFFFu)))
#define MAPI_PROP_ID(tag)   ((uint16_t)((uint32_t)(tag) >> 16))
#define MAPI_PROP_TYPE(tag) ((uint16_t)((uint32_t)(tag) & 0xFFFFu))

/* EWS PropertyType attribute ("Integer", "StringArray", ...) for a PT_*
 * code; static string, NULL when EWS has no name for it. */
const char *mapi_pt_ews_name(uint16_t type);
/* Inverse of mapi_pt_ews_name (exact, case-sensitive as in the schema);
 * -1 when unknown. */
int mapi_pt_from_ews_name(const char *name);
/* "PT_LONG", "PT_MV_UNICODE", ...; static string, "PT_UNKNOWN" if unknown. */
const char *mapi_pt_name(uint16_t type);
/* "0x0FFF" (digits = 4) or "0x0FFF0102" (digits = 8), upper case. */
void mapi_prop_hex(uint32_t value, int digits, char out[11]);
/* EWS PropertyTag / PropertyId text: "0x0FFF" (hex) or "4095" (decimal);
 * value must be <= max.  SR_E_PARSE otherwise. */
sr_code mapi_prop_parse_num(const char *text, uint32_t max, uint32_t *out, sr_err *err);

/* -- extended properties, as EWS carries them ------------------------------
 * One t:ExtendedProperty: how it is addressed (ExtendedFieldURI) plus its
 * value(s) in EWS text form: Integer/Short/Long as decimal, Boolean as
 * "true"/"false", SystemTime as "YYYY-MM-DDTHH:MM:SSZ", Binary as base64,
 * String as UTF-8 text.  nvalues == 1 for single-valued types; arrays
 * (type & MAPI_MV_FLAG) have nvalues >= 0 and go into t:Values. */
typedef enum {
    MAPI_XP_TAG = 0,    /* PropertyTag="0x...." (id < 0x8000) */
    MAPI_XP_NAME,       /* PropertySetId|DistinguishedPropertySetId + PropertyName */
    MAPI_XP_ID          /* PropertySetId|DistinguishedPropertySetId + PropertyId */
} mapi_xp_kind;

typedef struct mapi_extprop {
    mapi_xp_kind kind;
    /* NAME/ID: exactly one of set_guid (PropertySetId, lower-case 36 chars)
     * or dist_set ("PublicStrings", "Common", ...) is non-empty. */
    char set_guid[MAPI_GUID_STRLEN + 1];
    char dist_set[24];
    uint32_t id;        /* TAG: 16-bit property id; ID: the dispatch id */
    char *name;         /* NAME: PropertyName, owned */
    uint16_t type;      /* PT_* code (with MAPI_MV_FLAG for arrays) */
    size_t nvalues;
    char **values;      /* owned, each NUL-terminated */
} mapi_extprop;

/* A growable list of extended properties; a plain value the caller owns.
 * Initialise with {0}; release with mapi_extprops_clear(). */
typedef struct mapi_extprops {
    mapi_extprop *v;
    size_t n, cap;
} mapi_extprops;

void mapi_extprop_clear(mapi_extprop *p);
void mapi_extprops_clear(mapi_extprops *l);
/* Append a named property in set_guid (PropertySetId text) with one value
 * (value may be NULL for an array type with no value yet).  Copies all
 * strings.  Returns a pointer into l (valid until the next append) or NULL
 * with err set. */
mapi_extprop *mapi_extprops_add_named(mapi_extprops *l, const char *set_guid,
                                      const char *name, uint16_t type,
                                      const char *value, sr_err *err);
/* Append a property addressed by PropertyTag (id < 0x8000). */
mapi_extprop *mapi_extprops_add_tag(mapi_extprops *l, uint16_t id, uint16_t type,
                                    const char *value, sr_err *err);
/* Append one more value to p (copied). */
sr_code mapi_extprop_add_value(mapi_extprop *p, const char *value, sr_err *err);
/* First property in l with kind NAME, set GUID set_guid (case-insensitive)
 * and name (exact); NULL when absent.  Points into l. */
const mapi_extprop *mapi_extprops_find_named(const mapi_extprops *l,
                                             const char *set_guid, const char *name);
/* First property with kind TAG and this id; NULL when absent. */
const mapi_extprop *mapi_extprops_find_tag(const mapi_extprops *l, uint16_t id);

/* -- EntryIDs (MS-OXCDATA 2.2) ---------------------------------------------
 * One flat struct for every kind; only the fields of its kind are used.
 * Strings are UTF-8 (One-Off Unicode names are converted from/to UTF-16LE).
 * mapi_eid_decode() never reads past len; every failure is SR_E_PARSE with
 * the offset and field in err->msg, or SR_E_UNSUPPORTED for a well-formed
 * buffer whose ProviderUID we do not know (the UID is in the message). */
typedef enum {
    MAPI_EID_UNKNOWN = 0,
    MAPI_EID_ADDRBOOK,  /* 2.2.5.2 Address Book EntryID (X500 DN) */
    MAPI_EID_ONEOFF,    /* 2.2.5.1 One-Off EntryID */
    MAPI_EID_CONTACT,   /* 2.2.5.3 Contact Address EntryID */
    MAPI_EID_FOLDER,    /* 2.2.4.1 Folder EntryID */
    MAPI_EID_MESSAGE,   /* 2.2.4.2 Message EntryID */
    MAPI_EID_STORE      /* 2.2.4.3 Store Object EntryID */
} mapi_eid_kind;

/* Address Book EntryID Type field (MS-OXCDATA 2.2.5.2; MAPI PR_DISPLAY_TYPE) */
#define MAPI_AB_DT_MAILUSER      0x00000000u
#define MAPI_AB_DT_DISTLIST      0x00000001u
#define MAPI_AB_DT_FORUM         0x00000002u
#define MAPI_AB_DT_AGENT         0x00000003u
#define MAPI_AB_DT_ORGANIZATION  0x00000004u
#define MAPI_AB_DT_PRIVATE_DISTLIST 0x00000005u
#define MAPI_AB_DT_REMOTE_MAILUSER  0x00000006u
#define MAPI_AB_DT_CONTAINER     0x00000100u
#define MAPI_AB_DT_TEMPLATE      0x00000101u
#define MAPI_AB_DT_ADDRESS_TEMPLATE 0x00000102u
#define MAPI_AB_DT_SEARCH        0x00000200u

/* One-Off EntryID flags word (MAPI_ONE_OFF_* in MAPIDEFS.H) */
#define MAPI_ONEOFF_UNICODE      0x8000u
#define MAPI_ONEOFF_NO_RICH_INFO 0x0001u

/* Folder/Message EntryID FolderType/MessageType (MS-OXCDATA 2.2.4) */
#define MAPI_EIT_PRIVATE_FOLDER        0x0001u
#define MAPI_EIT_PUBLIC_FOLDER         0x0003u
#define MAPI_EIT_MAPPED_PUBLIC_FOLDER  0x0005u
#define MAPI_EIT_PRIVATE_MESSAGE       0x0007u
#define MAPI_EIT_PUBLIC_MESSAGE        0x0009u
#define MAPI_EIT_MAPPED_PUBLIC_MESSAGE 0x000Bu
#define MAPI_EIT_PUBLIC_NEWSGROUP_FOLDER 0x000Cu

/* Store EntryID: which store the wrapped provider points at. */
typedef enum { MAPI_STORE_PRIVATE = 0, MAPI_STORE_PUBLIC } mapi_store_kind;

typedef struct mapi_eid {
    mapi_eid_kind kind;
    mapi_guid provider_uid;     /* as read/written; fixed for AB/OneOff/Contact/Store */

    /* ADDRBOOK */
    uint32_t ab_type;           /* MAPI_AB_DT_* */
    char *x500dn;               /* legacyExchangeDN, ASCII */

    /* ONEOFF: the 16-bit flags word after Version, kept raw so unknown bits
     * survive a round trip; MAPI_ONEOFF_UNICODE selects UTF-16LE strings. */
    uint16_t oneoff_flags;
    char *display_name, *addr_type, *address;

    /* CONTACT */
    uint32_t contact_type;      /* Type field: 0x04 user / 0x05 DL (PR_DISPLAY_TYPE_EX style) */
    uint32_t contact_index;     /* which address of the contact: 0..2 e-mail, 3..5 fax */
    uint8_t *contact_eid;       /* the contact's Message EntryID, owned */
    size_t contact_eid_len;

    /* FOLDER and MESSAGE (provider_uid = the store's mailbox GUID) */
    uint16_t object_type;       /* MAPI_EIT_* */
    mapi_guid folder_db_guid;
    uint8_t folder_counter[6];  /* GlobalCounter, big-endian as stored */
    mapi_guid message_db_guid;  /* MESSAGE only */
    uint8_t message_counter[6];

    /* STORE */
    mapi_store_kind store_kind; /* from WrappedProviderUID */
    uint32_t wrapped_flags;
    uint32_t wrapped_type;      /* 0x0C private mailbox, 0x06 public folders (usual) */
    char *server;               /* ServerShortname: NetBIOS/FQDN or <MailboxGUID>@<domain> */
    char *mailbox_dn;           /* MailboxDN (legacyExchangeDN); NULL/"" for public */
    /* Exchange 2013+ extension after MailboxDN (MS-OXCDATA 2.2.4.3: v2 adds
     * DN/FQDN, v3 adds SMTP address and offsets); kept as opaque bytes so a
     * decode+encode round trip is byte-identical. */
    uint8_t *store_ext;
    size_t store_ext_len;
} mapi_eid;

/* Fixed ProviderUIDs (MS-OXCDATA 2.2.5.x, 2.2.4.3) */
extern const mapi_guid MAPI_UID_ADDRBOOK;   /* DCA740C8C042101AB4B908002B2FE182 */
extern const mapi_guid MAPI_UID_ONEOFF;     /* 812B1FA4BEA310199D6E00DD010F5402 */
extern const mapi_guid MAPI_UID_CONTACT;    /* FE42AA0A18C71A10E8850B651C240000 */
extern const mapi_guid MAPI_UID_STORE;      /* 38A1BB1005E5101AA1BB08002B2A56C2 */
extern const mapi_guid MAPI_UID_WRAP_PRIVATE; /* 1B55FA20AA6611CD9BC800AA002FC45A */
extern const mapi_guid MAPI_UID_WRAP_PUBLIC;  /* 1C830210AA6611CD9BC800AA002FC45A */

/* Release the strings/buffers inside e (not e itself) and zero it. */
void mapi_eid_clear(mapi_eid *e);
/* Decode; on success the caller owns *e and releases it with mapi_eid_clear.
 * On failure *e is cleared. */
sr_code mapi_eid_decode(const uint8_t *buf, size_t len, mapi_eid *e, sr_err *err);
/* Encode e; *out heap (caller frees), *out_len its size.  SR_E_INVALID for a
 * missing field (e.g. ADDRBOOK without x500dn). */
sr_code mapi_eid_encode(const mapi_eid *e, uint8_t **out, size_t *out_len, sr_err *err);
/* Static name of a kind ("AddressBook", "OneOff", ...). */
const char *mapi_eid_kind_name(mapi_eid_kind k);

/* ==== end Part 2 ==== */

/* ==== Part 3: switch message values and format (switchmsg.c) ==== */

/* The switch message (spec "Updating Microsoft Outlook Offline Profiles"):
 * a hidden (associated, FAI) item in the source mailbox telling CPUU where the
 * mailbox went.  Format: docs/switch-message.md.  The same property set and
 * folder hold the "recreate message" (target mailbox was recreated, so the
 * OST of an offline profile can be kept). */
#define MAPI_SWITCHMSG_PSET_GUID     "c65c9a03-0be6-409a-8848-59e644c7e68d"
#define MAPI_SWITCHMSG_ITEM_CLASS    "IPM.Note.SwitchResMb.SwitchMessage"
#define MAPI_RECREATEMSG_ITEM_CLASS  "IPM.Note.SwitchResMb.RecreateMessage"
/* EWS DistinguishedFolderId of the folder whose associated contents hold both. */
#define MAPI_SWITCHMSG_FOLDER        "inbox"
#define MAPI_SWITCHMSG_SUBJECT       "SwitchResMb switch message"

/* Property names in MAPI_SWITCHMSG_PSET_GUID (EWS PropertyType in brackets). */
#define MAPI_SMP_VERSION     "SwitchMsgVersion"  /* Integer: mapi_switchmsg_version */
#define MAPI_SMP_LEGACYDN    "TargetLegacyDN"    /* String */
#define MAPI_SMP_SMTP        "TargetSmtp"        /* String */
#define MAPI_SMP_IS_O365     "TargetIsO365"      /* Boolean */
#define MAPI_SMP_CREATED_BY  "CreatedBy"         /* String: tool and host */
#define MAPI_SMP_CREATED_AT  "CreatedAt"         /* SystemTime */
#define MAPI_SMP_RECREATED   "MailboxRecreated"  /* Boolean (recreate message) */

/* Spec codes (CPUU CSV / exit): no switch message / invalid switch message. */
#define MAPI_CPUU_NO_SWITCH_MSG      2
#define MAPI_CPUU_INVALID_SWITCH_MSG 512

typedef enum {
    MAPI_SWITCHMSG_LEGACY = 1,       /* target is on-premises Exchange */
    MAPI_SWITCHMSG_CONTEMPORARY = 2  /* target may be Office 365 (carries the O365 flag) */
} mapi_switchmsg_version;

typedef struct mapi_switchmsg {
    int version;                 /* mapi_switchmsg_version */
    char *target_legacy_dn;      /* owned; "/o=..." */
    char *target_smtp;           /* owned; "user@domain" */
    int target_is_o365;          /* 0/1; must be 0 with LEGACY */
    char *created_by;            /* owned, may be NULL ("switchresmb 1.0 on host") */
    int64_t created_at;          /* Unix seconds UTC, 0 = unknown */
} mapi_switchmsg;

/* Release the strings in m and zero it (not m itself).  NULL-safe. */
void mapi_switchmsg_clear(mapi_switchmsg *m);
/* SR_OK, or SR_E_PARSE naming the bad field: version unknown, SMTP not an
 * address, legacy DN not starting with "/o=", LEGACY with the O365 flag. */
sr_code mapi_switchmsg_validate(const mapi_switchmsg *m, sr_err *err);
/* Append the message's properties (named, in MAPI_SWITCHMSG_PSET_GUID) to l.
 * Validates first; SR_E_PARSE on an invalid message. */
sr_code mapi_switchmsg_to_extprops(const mapi_switchmsg *m, mapi_extprops *l, sr_err *err);
/* Read a message from the properties of a GetItem/FindItem answer (other
 * properties in l are ignored).  SR_E_NOTFOUND when none of ours is present
 * (no switch message → CPUU code 2); SR_E_PARSE when present but missing,
 * mistyped or invalid (→ code 512).  On success the caller owns *m. */
sr_code mapi_switchmsg_from_extprops(const mapi_extprops *l, mapi_switchmsg *m, sr_err *err);
/* The spec code for a result of mapi_switchmsg_from_extprops (0 for SR_OK,
 * MAPI_CPUU_NO_SWITCH_MSG for SR_E_NOTFOUND, else MAPI_CPUU_INVALID_SWITCH_MSG). */
int mapi_switchmsg_cpuu_code(sr_code rc);

/* The recreate message: the mailbox was recreated at created_at by created_by. */
typedef struct mapi_recreatemsg {
    char *created_by;            /* owned, may be NULL */
    int64_t created_at;          /* Unix seconds UTC */
} mapi_recreatemsg;
void mapi_recreatemsg_clear(mapi_recreatemsg *m);
sr_code mapi_recreatemsg_to_extprops(const mapi_recreatemsg *m, mapi_extprops *l, sr_err *err);
/* SR_E_NOTFOUND when MAPI_SMP_RECREATED is absent, SR_E_PARSE when invalid. */
sr_code mapi_recreatemsg_from_extprops(const mapi_extprops *l, mapi_recreatemsg *m, sr_err *err);

/* ==== end Part 3 ==== */

/* ==== Part 4: Autodiscover client (autodiscover.c) ==== */

/* The network handle (Part 5) carries credentials, TLS, proxy, timeouts and
 * the shared connection pool; Autodiscover and EWS both go through it. */
typedef struct mapi_net mapi_net;

/* Test hook: rewrite a candidate URL before it is used (e.g. map
 * https://src.example/... to http://127.0.0.1:PORT/...).  Returns a heap
 * string (mapi frees it) or NULL to keep the URL. */
typedef char *(*mapi_ad_rewrite_fn)(void *ctx, const char *url);

/* Where and how to look (CPUU.ini [Autodiscover]/Advanced Tuning, command
 * line).  Strings are copied by mapi_ad_new. */
typedef struct mapi_ad_opts {
    const char *side;               /* "source" or "target": log lines, checks */
    const char *configured_url;     /* AutodiscoverSourceURL/TargetURL: tried first */
    const char *const *scp_urls;    /* from the ldap module's SCP lookup, NULL-terminated */
    int exclude_scp;                /* ExcludeScpLookup: ignore scp_urls (CPUU sets it
                                     * unless -DoNotModifyExcludeSCPLookup) */
    int no_domain_candidates;       /* only configured/SCP URLs (no https://domain, ...):
                                     * for same source/target SMTP domains (spec) */
    int use_local_xml;              /* UseLocalAutodiscoverXMLs=1 */
    const char *local_xml_dir;      /* files named "<address>.xml" (lower case) */
    const char *const *url_domains; /* source/target domains the URL host must be on */
    int skip_checking;              /* -SkipAutodiscoverChecking */
    mapi_ad_rewrite_fn rewrite;     /* tests only; NULL in production */
    void *rewrite_ctx;
} mapi_ad_opts;

/* What Autodiscover answered for one address (Action=settings). */
typedef struct mapi_ad_result {
    char *address;          /* the address asked for first */
    char *smtp;             /* AutoDiscoverSMTPAddress, or the redirected address */
    char *display_name;
    char *legacy_dn;        /* User/LegacyDN */
    char *deployment_id;
    char *ews_url;          /* EXCH EwsUrl, else EXPR EwsUrl */
    char *ews_url_external; /* EXPR EwsUrl (may be NULL) */
    char *server;           /* EXCH Server */
    char *ad_url;           /* the Autodiscover URL (or local file) that answered */
    int redirects;          /* redirectAddr/redirectUrl/3xx hops taken */
} mapi_ad_result;

typedef struct mapi_ad mapi_ad;
/* net is borrowed (must outlive the result).  Caller frees with mapi_ad_free. */
mapi_ad *mapi_ad_new(mapi_net *net, const mapi_ad_opts *opts, sr_err *err);
void mapi_ad_free(mapi_ad *ad);
/* Autodiscover one address: candidates in Outlook's order (the URL that
 * answered for this domain before, configured_url, scp_urls,
 * https://DOMAIN/autodiscover/autodiscover.xml, https://autodiscover.DOMAIN/...,
 * then an unauthenticated GET to http://autodiscover.DOMAIN/... whose 302 must
 * point to https), redirectAddr/redirectUrl/3xx (max 10 hops; a redirectAddr
 * to the address sent stops), local XML, per-domain cache of the URL that
 * answered and per-address results.  A failed candidate is logged with the
 * address, the URL and the cause; the search moves on to the next.
 * *out is owned by ad and stays valid until the next mapi_ad_discover on ad
 * (the per-address cache is bounded, MAPI_AD_CACHE_MAX entries, oldest
 * dropped, so memory does not grow with the mailbox list) or mapi_ad_free;
 * keep a copy (mapi_ad_result_dup) for longer.  Errors name the address, the
 * URL and the cause in plain words. */
#define MAPI_AD_CACHE_MAX 64
sr_code mapi_ad_discover(mapi_ad *ad, const char *address, const mapi_ad_result **out,
                         sr_err *err);
/* The spec's "LegacyExchangeDN properties are different" check: warns with
 * both values and returns SR_E_AMBIGUOUS when profile_dn is set and differs
 * (case-insensitive) from r->legacy_dn. */
sr_code mapi_ad_check_legacy_dn(const mapi_ad_result *r, const char *side,
                                const char *profile_dn, sr_err *err);
/* Whether url's host equals or ends with "."+one of domains (NULL-terminated). */
int mapi_ad_url_on_domains(const char *url, const char *const *domains);
/* Counters for tests and benchmarks: HTTP requests sent by this handle. */
unsigned mapi_ad_requests(const mapi_ad *ad);
/* "source"/"target" as given in the options (static for ad's lifetime). */
const char *mapi_ad_side(const mapi_ad *ad);
/* Parse a POX response body (exposed for unit tests); *out caller frees
 * with mapi_ad_result_free.  Sets *redirect_addr / *redirect_url (heap,
 * caller frees) instead of *out for redirects. */
sr_code mapi_ad_parse_pox(const char *xml, size_t len, const char *what,
                          mapi_ad_result **out, char **redirect_addr, char **redirect_url,
                          sr_err *err);
void mapi_ad_result_free(mapi_ad_result *r);
/* Deep copy; caller frees with mapi_ad_result_free.  NULL on OOM. */
mapi_ad_result *mapi_ad_result_dup(const mapi_ad_result *r);
/* The POX request body for an address; heap string (caller frees). */
char *mapi_ad_build_pox(const char *address, sr_err *err);

/* ==== end Part 4 ==== */

/* ==== Part 5: EWS transport (ews_*.c) ==== */

#include <libxml/tree.h>

typedef enum {
    MAPI_AUTH_BASIC = 0,
    MAPI_AUTH_NTLM,         /* user "DOMAIN\\name" or a UPN, and the password */
    MAPI_AUTH_NEGOTIATE,    /* SPNEGO Kerberos from KRB5CCNAME or a client keytab
                             * (KRB5_CLIENT_KTNAME); NTLM with user/password when
                             * Kerberos has no credentials or the server refuses it
                             * and offers NTLM (libcurl does not fall back itself) */
    MAPI_AUTH_OAUTH2,       /* client-credentials token (oauth.c) */
    MAPI_AUTH_NONE,
    MAPI_AUTH_KERBEROS      /* SPNEGO Kerberos only: no NTLM fallback */
} mapi_auth;
/* "Basic", "NTLM", "Negotiate", "OAuth2", "none", "Kerberos"; static. */
const char *mapi_auth_name(mapi_auth a);

/* Connection options.  Zero values mean the documented default.  Every
 * string is copied by mapi_net_new (secrets wiped when the handle is freed). */
typedef struct mapi_netopts {
    mapi_auth auth;
    const char *user;             /* Basic/NTLM: "DOMAIN\\name" or a UPN */
    const char *password;         /* secret */
    const char *client_id;        /* OAuth2 (application id) */
    const char *client_secret;    /* OAuth2, secret (or the certificate below) */
    const char *client_cert_file; /* OAuth2: PEM certificate of the app (x5t thumbprint) */
    const char *client_key_file;  /* OAuth2: PEM private key signing the RS256 assertion */
    const char *authority_url;    /* AuthorityURL; NULL → https://login.microsoftonline.com/common */
    const char *resource_url;     /* ResourceURL; NULL → https://outlook.office365.com */
    const char *token_url;        /* whole token endpoint; NULL → authority_url + "/oauth2/token" */
    const char *proxy;            /* explicit HTTP forward proxy "host[:port]"; NULL → the
                                   * environment's https_proxy/no_proxy (libcurl's rules) */
    int ssl_only;                 /* [RPCOverHTTP] SSLOnly: https only, even when allow_http */
    const char *ca_file;          /* extra trust anchors; TLS is always verified */
    const char *ca_dir;
    long connect_timeout_ms;      /* 0 → 10000 */
    long timeout_ms;              /* whole request; 0 → 120000 */
    size_t max_response_bytes;    /* 0 → 32 MiB; larger answers fail with SR_E_LIMIT */
    unsigned max_retries;         /* per request (throttling, connection); 0 → 6 */
    unsigned max_backoff_ms;      /* total waiting per request; 0 → 120000 */
    unsigned max_parallel;        /* concurrent requests of one batch; 0 → 8 */
    const char *server_version;   /* RequestServerVersion; NULL → Exchange2013_SP1 */
    const char *const *connect_to;/* CURLOPT_CONNECT_TO "host:port:addr:port", NULL-terminated */
    int allow_http;               /* accept http:// endpoints and redirects (tests) */
} mapi_netopts;

/* Caller frees with mapi_net_free.  Reads SR_EWS_DEBUG (1 headers, 2 bodies)
 * for redacted HTTP tracing.  A handle (and the mapi_ad / mapi_session
 * objects using it) belongs to one thread at a time; concurrency comes from
 * batches (mapi_ews_run), bulk runs give each worker its own handle. */
mapi_net *mapi_net_new(const mapi_netopts *opts, sr_err *err);
void mapi_net_free(mapi_net *net);
/* Requests sent (including retries) and TCP connections opened by net. */
unsigned mapi_net_requests(const mapi_net *net);
unsigned mapi_net_connections(const mapi_net *net);

/* One EWS call.  The caller builds req with a mapi_ews_req_* builder (it
 * owns req and frees it with xmlFreeDoc); the transport fills the outputs. */
typedef struct mapi_ews_call {
    const char *url;          /* EWS endpoint */
    const char *mailbox;      /* for log lines and errors */
    xmlDocPtr req;            /* SOAP envelope */
    int idempotent;           /* reads: safe to resend after a broken connection */
    /* outputs */
    xmlDocPtr resp;           /* response envelope; caller frees (xmlFreeDoc) */
    xmlNodePtr resp_op;       /* the m:*Response element inside resp */
    long http_status;
    sr_err err;               /* per-call outcome */
} mapi_ews_call;

/* Run n calls concurrently (bounded by max_parallel) over the shared
 * connection pool; ErrorServerBusy (BackOffMilliseconds) and HTTP 503
 * (Retry-After) are retried within the limits.  Returns SR_OK when every call
 * succeeded at the SOAP level, else the first failing call's code (each
 * calls[i].err has its own outcome).  Per-item ResponseCodes are the
 * parsers' business. */
sr_code mapi_ews_run(mapi_net *net, mapi_ews_call *calls, size_t n, sr_err *err);

/* EWS ResponseCode → project code and class (one sorted table); unknown
 * codes are SR_E_SERVER / FINAL.  "NoError" → SR_OK. */
sr_code mapi_ews_code(const char *response_code, sr_class *cls);

/* -- request builders (ews_req.c): each returns a new envelope whose Body's
 * first child is the operation; caller frees with xmlFreeDoc.  impersonate
 * (NULL = none) adds the ExchangeImpersonation header; mailbox (NULL = the
 * caller's own) addresses distinguished folders of another mailbox. ------- */
typedef struct mapi_ews_target {
    const char *impersonate;      /* PrimarySmtpAddress for ExchangeImpersonation */
    const char *mailbox;          /* explicit access: DistinguishedFolderId/Mailbox */
    const char *server_version;   /* NULL → Exchange2013_SP1 */
} mapi_ews_target;

/* A folder reference: a distinguished id ("msgfolderroot", "inbox", ...) or
 * an EWS FolderId. */
typedef struct mapi_ews_folder_ref {
    const char *distinguished;
    const char *id;
    const char *change_key;       /* optional with id */
} mapi_ews_folder_ref;

/* -- for code that builds or reads EWS messages mapi has no builder for
 * (the engine's features): the envelope and namespace-checked navigation.
 * Everything returned points into the document or is heap (said below). */
#define MAPI_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define MAPI_NS_T "http://schemas.microsoft.com/exchange/services/2006/types"
#define MAPI_NS_M "http://schemas.microsoft.com/exchange/services/2006/messages"
typedef struct mapi_ews_env {
    xmlDocPtr doc;              /* the envelope; the caller frees it (xmlFreeDoc) */
    xmlNodePtr body;            /* soap:Body: add the operation element here */
    xmlNsPtr ns_t, ns_m;        /* the t: and m: namespaces declared on the envelope */
} mapi_ews_env;
/* A SOAP envelope with RequestServerVersion and, when t->impersonate is set,
 * ExchangeImpersonation.  SR_E_NOMEM on failure (nothing to free). */
sr_code mapi_ews_env_new(mapi_ews_env *e, const mapi_ews_target *t, sr_err *err);
/* First element child (or next sibling) of n with this local name and
 * namespace (ns NULL = any); NULL when none. */
xmlNodePtr mapi_xml_child(xmlNodePtr n, const char *ns, const char *name);
xmlNodePtr mapi_xml_next(xmlNodePtr n, const char *ns, const char *name);
/* Text content of a child element; heap string (caller frees) or NULL. */
char *mapi_xml_child_text(xmlNodePtr n, const char *ns, const char *name);
/* Heap copy of an attribute (caller frees) or NULL. */
char *mapi_xml_attr(xmlNodePtr n, const char *name);
/* Add a child element in namespace ns with optional text (escaped). */
xmlNodePtr mapi_xml_add(xmlNodePtr parent, xmlNsPtr ns, const char *name, const char *text);


/* FindFolder Traversal=Deep under root: DisplayName, FolderClass,
 * ParentFolderId, PR_ENTRYID (0x0FFF Binary).  Paged: offset/max_entries. */
xmlDocPtr mapi_ews_req_findfolder_deep(const mapi_ews_target *t, const mapi_ews_folder_ref *root,
                                       unsigned offset, unsigned max_entries, sr_err *err);
/* FindItem Traversal=Associated in folder, restricted to ItemClass ==
 * item_class (NULL = all), returning ItemClass, Subject and the listed
 * extended properties (only their addressing is used). */
xmlDocPtr mapi_ews_req_finditem_fai(const mapi_ews_target *t, const mapi_ews_folder_ref *folder,
                                    const char *item_class, const mapi_extprops *want,
                                    unsigned offset, unsigned max_entries, sr_err *err);
/* GetItem for n ids (one request; callers chunk) with the listed extended
 * properties. */
xmlDocPtr mapi_ews_req_getitem(const mapi_ews_target *t, const char *const *ids, size_t n,
                               const mapi_extprops *want, sr_err *err);
/* CreateItem of one message (associated = FAI) with ItemClass, Subject and
 * extended properties, saved in folder (MessageDisposition=SaveOnly). */
xmlDocPtr mapi_ews_req_createitem(const mapi_ews_target *t, const mapi_ews_folder_ref *folder,
                                  const char *item_class, const char *subject,
                                  const mapi_extprops *props, int associated, sr_err *err);
/* UpdateItem: set every property of set, delete every property of del
 * (values ignored); ConflictResolution=AlwaysOverwrite. */
xmlDocPtr mapi_ews_req_updateitem(const mapi_ews_target *t, const char *id, const char *change_key,
                                  const mapi_extprops *set, const mapi_extprops *del, sr_err *err);
/* DeleteItem of n ids, DeleteType=HardDelete. */
xmlDocPtr mapi_ews_req_deleteitem(const mapi_ews_target *t, const char *const *ids, size_t n,
                                  sr_err *err);

/* -- response parsers (ews_resp.c): typed results from a response op ----- */
typedef struct mapi_folder {
    char *id, *change_key;
    char *parent_id;
    char *display_name;
    char *folder_class;       /* may be NULL */
    uint8_t *entryid;         /* PR_ENTRYID bytes, may be NULL */
    size_t entryid_len;
} mapi_folder;

typedef struct mapi_folders {
    mapi_folder *v;
    size_t n, cap;
    int includes_last;        /* the last page was read */
} mapi_folders;
void mapi_folders_clear(mapi_folders *f);

typedef struct mapi_item {
    char *id, *change_key;
    char *item_class, *subject;
    mapi_extprops props;
    sr_code code;             /* per-item outcome (GetItem), SR_OK or the error */
    char *response_code;      /* raw EWS ResponseCode when not NoError */
} mapi_item;

typedef struct mapi_items {
    mapi_item *v;
    size_t n, cap;
    int includes_last;
} mapi_items;
void mapi_items_clear(mapi_items *l);

/* Append the folders of a FindFolderResponse to out.  Errors carry the
 * ResponseCode and MessageText. */
sr_code mapi_ews_parse_findfolder(xmlNodePtr resp_op, mapi_folders *out, sr_err *err);
/* Append the items of a FindItem / GetItem / CreateItem / UpdateItem
 * response to out (GetItem: one mapi_item per requested id, in order, with
 * code set for missing ones). */
sr_code mapi_ews_parse_items(xmlNodePtr resp_op, mapi_items *out, sr_err *err);
/* Check every ResponseMessage of a response (DeleteItem etc.): SR_OK when all
 * are NoError; otherwise the first error, naming its ResponseCode. */
sr_code mapi_ews_parse_status(xmlNodePtr resp_op, sr_err *err);

/* ==== end Part 5 ==== */

/* ==== Part 6: store session (session.c, switchmsg_ews.c) ==== */

/* How to open a mailbox. */
typedef struct mapi_session_opts {
    const char *mailbox;       /* primary SMTP address of the mailbox */
    const char *ews_url;       /* known EWS URL; NULL → Autodiscover through ad */
    mapi_ad *ad;               /* borrowed; used when ews_url is NULL */
    int impersonate;           /* ExchangeImpersonation instead of explicit access */
    const char *profile_legacy_dn; /* when set, compared with Autodiscover's LegacyDN */
} mapi_session_opts;

typedef struct mapi_session mapi_session;
/* Resolve the EWS URL (Autodiscover, cached per domain) and remember how to
 * address the mailbox; no EWS request yet.  net is borrowed.  Caller frees
 * with mapi_session_free. */
mapi_session *mapi_session_logon(mapi_net *net, const mapi_session_opts *o, sr_err *err);
void mapi_session_free(mapi_session *s);
/* Static for the session's lifetime. */
const char *mapi_session_ews_url(const mapi_session *s);
const char *mapi_session_mailbox(const mapi_session *s);
/* Autodiscover answer used by the logon (the session's own copy), or NULL
 * when ews_url was given. */
const mapi_ad_result *mapi_session_ad(const mapi_session *s);

/* The whole folder tree under msgfolderroot in one FindFolder Deep (paged
 * only beyond 1000 folders).  *out caller clears with mapi_folders_clear. */
sr_code mapi_session_folders(mapi_session *s, mapi_folders *out, sr_err *err);
/* Associated (FAI) items of folder with ItemClass == item_class, with the
 * extended properties listed in want.  out caller clears. */
sr_code mapi_session_find_fai(mapi_session *s, const mapi_ews_folder_ref *folder,
                              const char *item_class, const mapi_extprops *want,
                              mapi_items *out, sr_err *err);
/* GetItem of n ids in chunks of 100 requests run concurrently. */
sr_code mapi_session_get_items(mapi_session *s, const char *const *ids, size_t n,
                               const mapi_extprops *want, mapi_items *out, sr_err *err);
/* Create one item; *id_out heap (caller frees, may be NULL). */
sr_code mapi_session_create_item(mapi_session *s, const mapi_ews_folder_ref *folder,
                                 const char *item_class, const char *subject,
                                 const mapi_extprops *props, int associated,
                                 char **id_out, sr_err *err);
sr_code mapi_session_update_item(mapi_session *s, const char *id, const char *change_key,
                                 const mapi_extprops *set, const mapi_extprops *del,
                                 sr_err *err);
sr_code mapi_session_delete_items(mapi_session *s, const char *const *ids, size_t n,
                                  sr_err *err);
/* Low level: run prepared calls for this session (url/mailbox filled in). */
sr_code mapi_session_run(mapi_session *s, mapi_ews_call *calls, size_t n, sr_err *err);
/* Builders' addressing for this session. */
mapi_ews_target mapi_session_target(const mapi_session *s);
/* The one logon decision both programs use for every Autodiscover and EWS
 * request of a side (netauth.c).  In order:
 *  - exchange_online (Target=O365, or an Exchange Online URL): OAuth2
 *    app-only; needs o->client_id and a secret or certificate + key;
 *  - a (may be NULL → Negotiate) with [RPCOverHTTP] enabled: AuthNegotiate →
 *    Negotiate, else AuthNtlm → NTLM, else AuthBasic → Basic (none given →
 *    NTLM, the spec's default); SSLOnly → o->ssl_only;
 *  - else LogonNetworkSecurity: Negotiate → Negotiate (Kerberos, then NTLM),
 *    NTLM (Winnt) → NTLM, Kerberos → Kerberos only; Anonymous and SmartCard
 *    are refused (SR_E_UNSUPPORTED) with the reason.
 * ProxyServer is the Outlook Anywhere host (mapi_account_fallback_ews_url),
 * never an HTTP forward proxy.  Credentials (user/password, client_*) are the
 * caller's, already in *o; a scheme that needs one it lacks is SR_E_CONFIG.
 * side ("source"/"target") names the side in messages and the log line that
 * says what was chosen (never a secret).  Strings in o stay borrowed. */
sr_code mapi_netopts_from_account(const mapi_account *a, int exchange_online, const char *side,
                                  mapi_netopts *o, sr_err *err);
/* Whether url's host is Exchange Online (outlook.office365.com,
 * outlook.office.com, *.outlook.com). */
int mapi_url_is_exchange_online(const char *url);
/* "https://<ProxyServer>/EWS/Exchange.asmx" for an account with [RPCOverHTTP]
 * ConnectUsingHTTP and a ProxyServer (the Exchange front end to use when
 * Autodiscover gives nothing); heap (caller frees) or NULL. */
char *mapi_account_fallback_ews_url(const mapi_account *a);
/* Whether the GSSAPI library can get Kerberos initiator credentials now
 * (KRB5CCNAME ticket, or a client keytab via KRB5_CLIENT_KTNAME).  0 with the
 * reason in why when not. */
int mapi_krb5_has_credentials(char *why, size_t whylen);

/* -- the switch message over EWS (switchmsg_ews.c; format in Part 3) ------ */
/* Append the switch message's property addresses (for FindItem/GetItem). */
sr_code mapi_switchmsg_want(mapi_extprops *l, sr_err *err);
/* Read the switch message.  SR_E_NOTFOUND: none (CPUU code 2); SR_E_PARSE:
 * present but invalid (code 512); other codes: the mailbox could not be
 * read.  On success the caller owns *m (mapi_switchmsg_clear) and *item_id
 * (heap, may be NULL). */
sr_code mapi_session_read_switchmsg(mapi_session *s, mapi_switchmsg *m, char **item_id, sr_err *err);
/* Folder tree and switch message in ONE concurrent round trip (FindFolder
 * Deep on msgfolderroot + FindItem Associated).  Returns the transport/EWS
 * outcome; the switch message's own outcome goes to *sm_err (SR_OK,
 * SR_E_NOTFOUND, SR_E_PARSE).  Caller clears *folders and *m. */
sr_code mapi_session_open_mailbox(mapi_session *s, mapi_folders *folders, mapi_switchmsg *m,
                                  sr_err *sm_err, sr_err *err);
/* The same for n mailboxes at once (bulk runs): all 2n reads in one
 * concurrent batch, so n mailboxes cost one dependent round trip.  The
 * sessions must share one mapi_net.  Arrays have n entries; per mailbox,
 * errs[i] / sm_errs[i] say what happened; returns the first failure. */
sr_code mapi_session_open_many(mapi_session *const *s, size_t n, mapi_folders *folders,
                               mapi_switchmsg *msgs, sr_err *sm_errs, sr_err *errs);
/* Create the switch message.  When one exists: SR_E_EXISTS unless recreate
 * (RecreateSwitchMsg=1), which deletes every old one first. */
sr_code mapi_session_write_switchmsg(mapi_session *s, const mapi_switchmsg *m, int recreate,
                                     sr_err *err);

/* ==== end Part 6 ==== */

#endif /* MAPI_H */
