/* mapi/eid.h — MS-OXCDATA data without a network: GUIDs, base64/hex,
 * property tags and types, extended properties as EWS carries them,
 * EntryIDs (entryid.c, props.c), and the switch / recreate message values
 * and their property format (switchmsg.c; docs/switch-message.md).
 *
 * Depends on util/ only.  Included by mapi/mapi.h (the umbrella) and by
 * mapi/ews.h, whose requests and answers carry these properties.
 *
 * Ownership: lists and EntryIDs are plain values the caller owns and
 * releases with their *_clear function; every other pointer returned says
 * who frees it in the line above the prototype. */
#ifndef MAPI_EID_H
#define MAPI_EID_H

#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

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

/* -- base64 (RFC 4648, with padding) -------------------------------------- */
/* Heap string, caller frees; NULL on OOM. */
char *mapi_base64_encode(const void *data, size_t len);
/* Strict: padding required, whitespace (CR LF SP TAB) skipped, anything else
 * is SR_E_PARSE.  *out is heap (caller frees; NUL-terminated for convenience),
 * *out_len its length. */
sr_code mapi_base64_decode(const char *text, uint8_t **out, size_t *out_len, sr_err *err);

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

/* ==== the switch message (switchmsg.c) ==== */

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

typedef enum {
    MAPI_SWITCHMSG_LEGACY = 1,       /* target is on-premises Exchange */
    MAPI_SWITCHMSG_CONTEMPORARY = 2  /* target may be Office 365 (carries the O365 flag) */
} mapi_switchmsg_version;

typedef struct mapi_switchmsg {
    int version;                 /* mapi_switchmsg_version */
    char *target_legacy_dn;      /* owned; "/o=...", or NULL for an Office 365 target on Graph */
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
/* The message as one line of six tab-separated fields: version, target
 * SMTP, target legacyExchangeDN, O365 (0/1), created by, created at (Unix
 * seconds); an absent string is empty.  How a message travels in
 * switchresmb's journal and in the engine's switchmsg command.  Heap; NULL
 * when a field holds a tab or line break, or out of memory. */
char *mapi_switchmsg_to_line(const mapi_switchmsg *m);
/* That line back, validated: SR_OK (the caller clears *m), else SR_E_PARSE
 * (or SR_E_NOMEM) with *m cleared. */
sr_code mapi_switchmsg_from_line(const char *line, mapi_switchmsg *m, sr_err *err);
/* Append the message's properties (named, in MAPI_SWITCHMSG_PSET_GUID) to l.
 * Validates first; SR_E_PARSE on an invalid message. */
sr_code mapi_switchmsg_to_extprops(const mapi_switchmsg *m, mapi_extprops *l, sr_err *err);
/* Read a message from the properties of a GetItem/FindItem answer (other
 * properties in l are ignored).  SR_E_NOTFOUND when none of ours is present
 * (no switch message); SR_E_PARSE when present but missing,
 * mistyped or invalid (cpuu/csv.c turns both into the spec's exit bits).
 * On success the caller owns *m. */
sr_code mapi_switchmsg_from_extprops(const mapi_extprops *l, mapi_switchmsg *m, sr_err *err);

#endif /* MAPI_EID_H */
