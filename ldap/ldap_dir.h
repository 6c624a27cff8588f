/* ldap_dir.h — the Active Directory client (DESIGN.md, module ldap/): connect
 * and bind to the DC named by [AD] DCName, paged searches, batched recipient
 * resolution with a per-run cache, the Exchange Autodiscover SCP lookup, and
 * the per-mailbox outcome of a resolution.
 * Built on OpenLDAP's libldap; depends on util/ only (no configs/: the caller
 * passes plain values in ldapdir_opts).
 *
 * Ownership: an ldapdir handle owns every recipient it returns (valid until
 * ldapdir_free).  The password in ldapdir_opts is used for the
 * bind only: never kept, logged, or put in an error message.
 * A handle is used by one thread at a time; open one per worker. */
#ifndef SR_LDAP_DIR_H
#define SR_LDAP_DIR_H

#include <stddef.h>

#include "util/util.h"

struct berval;   /* <lber.h> */

/* How the connection is protected.  DEFAULT: a plain host (DCName) gets
 * ldaps:// (port 636) with certificate verification; an ldap:// URI gets
 * StartTLS; an ldaps:// URI gets LDAPS.  NONE (no TLS at all) is refused
 * unless allow_plain is set — except with GSSAPI, whose sign/seal layer is
 * then required instead (over TLS it is switched off: AD refuses both). */
typedef enum {
    LDAPDIR_TLS_DEFAULT = 0,
    LDAPDIR_TLS_LDAPS,
    LDAPDIR_TLS_STARTTLS,
    LDAPDIR_TLS_NONE
} ldapdir_tls;

typedef enum {
    LDAPDIR_BIND_SIMPLE = 0,   /* DCAccount + DCPassword */
    LDAPDIR_BIND_GSSAPI        /* SASL GSSAPI (Kerberos ticket of the process) */
} ldapdir_bind;

/* The attribute that names a source object's target mailbox, when
 * ldapdir_opts.mapping_attr is NULL.  The spec's Directory Synchronization
 * Agent may write a custom attribute instead (e.g. extensionAttribute10):
 * set mapping_attr to its name.  Values "SMTP:x@y", "smtp:x@y" or "x@y". */
#define LDAPDIR_DEFAULT_MAPPING_ATTR "targetAddress"

typedef struct ldapdir_opts {
    const char *dc;            /* DCName: "host", "host:port", or an ldap[s]:// URI */
    const char *account;       /* DCAccount: "DOMAIN\user", "user@domain" or a DN */
    const char *password;      /* DCPassword, decrypted (plaintext); not kept */
    ldapdir_bind bind;
    ldapdir_tls tls;
    int allow_plain;           /* permit LDAPDIR_TLS_NONE (tests, labs) */
    const char *ca_file;       /* like TLS_CACERT / LDAPTLS_CACERT; NULL: libldap's default */
    const char *ca_dir;        /* like TLS_CACERTDIR */
    const char *base;          /* search base; NULL: RootDSE defaultNamingContext */
    const char *config_base;   /* NULL: RootDSE configurationNamingContext */
    const char *mapping_attr;  /* NULL: LDAPDIR_DEFAULT_MAPPING_ATTR */
    int connect_timeout_ms;    /* 0: 5000 — TCP connect and TLS handshake */
    int op_timeout_ms;         /* 0: 15000 — every bind / search / page */
    int page_size;             /* 0: 500 (AD's MaxPageSize is 1000); <0: no paging */
    int max_pages;             /* pages per search; 0: 100000 (a server whose cookie
                                  never ends cannot keep us forever) */
    int batch_size;            /* keys OR-ed into one filter; 0: 250 */
    int chase_referrals;       /* 0 (default): referrals are not followed */
    /* A directory that goes away (DC restarted, connection dropped, refused
     * for a while): with reconnects > 0, ldapdir_connect tries again after a
     * failure of class RETRY, and ldapdir_resolve connects a lost handle again
     * in place (its cache and the recipients it returned stay valid) and asks
     * the batch again — up to reconnects times each, pausing 1, 2, 3 ...
     * times reconnect_pause_ms (0: 1000) in between.  0: never (the default).
     * The password is not kept: password_again gives it for each reconnect
     * (*out on the heap; the handle frees it with sr_secret_free); NULL: the
     * bind needs none (GSSAPI). */
    int reconnects;
    int reconnect_pause_ms;
    sr_code (*password_again)(void *arg, char **out, sr_err *err);
    void *password_arg;        /* borrowed: must outlive the handle */
} ldapdir_opts;

/* The reconnects both programs use (switchresmb's batches, the engine's
 * recipient map): 1 + 2 + 3 s of pauses ride out a DC restart. */
#define LDAPDIR_RECONNECTS 3

typedef struct ldapdir ldapdir;

/* Connect, bind, read the RootDSE.  On failure *out is NULL and err names the
 * DC, with code: SR_E_CONNECT (refused/unreachable/dropped, class RETRY),
 * SR_E_TIMEOUT (RETRY), SR_E_TLS (certificate not trusted, FINAL), SR_E_AUTH
 * (wrong account/password, FINAL), SR_E_CONFIG (bad options, FINAL),
 * SR_E_UNSUPPORTED (GSSAPI not available), SR_E_SERVER (other LDAP errors).
 * Caller frees *out with ldapdir_free. */
sr_code ldapdir_connect(const ldapdir_opts *opts, ldapdir **out, sr_err *err);
/* Unbind and free everything, the cache included.  NULL-safe. */
void ldapdir_free(ldapdir *d);

/* For a process whose every directory binds simple (an account and a
 * password), called before its first ldapdir_connect: libldap's one-time
 * SASL start then opens none of the Cyrus SASL plugins (GSSAPI, SCRAM, ...:
 * ten dlopen()s, ~6 M instructions per engine start, BENCHMARKS.md
 * per-mailbox CPU).  Afterwards ldapdir_connect refuses a GSSAPI bind
 * (SR_E_UNSUPPORTED).  Process-wide; without effect once SASL has started. */
void ldapdir_no_sasl_plugins(void);

/* Number of LDAP search requests sent so far (every page counts). */
unsigned long ldapdir_search_count(const ldapdir *d);
/* The DC as given (for messages).  Static for the handle's life. */
const char *ldapdir_dc(const ldapdir *d);
/* Naming contexts in use.  Owned by the handle. */
const char *ldapdir_base(const ldapdir *d);
const char *ldapdir_config_base(const ldapdir *d);

/* ---- generic paged search ---------------------------------------------- */
/* Called once per entry: dn and, for each requested attribute, its values.
 * Return non-zero to stop. */
typedef struct ldapdir_entry ldapdir_entry;
typedef int (*ldapdir_entry_cb)(const ldapdir_entry *e, void *ctx);
const char *ldapdir_entry_dn(const ldapdir_entry *e);
/* Values of attribute name (case-insensitive); *n gets the count.  The
 * returned array lives until the callback returns. */
struct berval **ldapdir_entry_values(const ldapdir_entry *e, const char *name, size_t *n);

/* Subtree search under base with the paged results control (RFC 2696),
 * page after page until the server's cookie is empty.  filter must already be
 * escaped (ldapdir_filter_escape).  A dropped connection → SR_E_CONNECT; a
 * server size limit (paging refused or disabled) → SR_E_LIMIT; more pages than
 * max_pages → SR_E_LIMIT (the entries of the pages read were delivered).
 * When cb stops the search, no further page is asked for and the server's
 * cookie is released (a page request of size 0, RFC 2696's abandon): SR_OK. */
sr_code ldapdir_search(ldapdir *d, const char *base, const char *filter,
                       const char *const *attrs, ldapdir_entry_cb cb, void *ctx,
                       sr_err *err);

/* RFC 4515 escaping of an assertion value of len bytes (NUL allowed):
 * '*' '(' ')' '\' and NUL become \2a \28 \29 \5c \00.  Caller frees; NULL on OOM. */
char *ldapdir_filter_escape(const char *value, size_t len);

/* ---- batched recipient resolution --------------------------------------- */
typedef enum {
    LDAPDIR_FOUND = 0,       /* exactly one object */
    LDAPDIR_NOT_FOUND,       /* no object carries the key */
    LDAPDIR_AMBIGUOUS,       /* more than one object: an error, never a pick */
    LDAPDIR_BAD_KEY,         /* not an SMTP address, legacyExchangeDN or X500 address */
    LDAPDIR_DIR_ERROR        /* the directory failed before this key was answered */
} ldapdir_status;

typedef struct ldapdir_recipient {
    char *dn;
    char *primary_smtp;          /* the "SMTP:" proxy, else mail; NULL if none */
    char *legacy_dn;             /* legacyExchangeDN; NULL when absent */
    char *target_address;        /* first value of the mapping attribute, as stored */
    char *display_name;
    unsigned char mailbox_guid[16];  /* msExchMailboxGuid, AD byte order */
    int has_mailbox_guid;
    long long recipient_type;    /* msExchRecipientTypeDetails; -1 when absent */
} ldapdir_recipient;

typedef struct ldapdir_result {
    const char *key;             /* the caller's key (borrowed) */
    ldapdir_status status;
    const ldapdir_recipient *rcpt;  /* FOUND only; owned by the handle */
    unsigned matches;            /* objects that carry the key */
    char msg[320];               /* why, naming the DC and the key; "" when FOUND */
} ldapdir_result;

/* Resolve n keys: SMTP addresses ("a@b" or "SMTP:a@b"), legacyExchangeDNs
 * ("/o=...") and X500 addresses ("X500:/o=...").  Keys are matched against
 * proxyAddresses, mail and legacyExchangeDN case-insensitively, as AD does,
 * batch_size keys per search; answers (found or not) are cached so a key is
 * never searched twice in the handle's life.  out[i] answers keys[i].
 * Returns SR_OK when every search completed; on a directory failure returns
 * its code (err names the DC) and the unanswered keys get LDAPDIR_DIR_ERROR.
 * A lost connection is made again first when the handle was opened with
 * opts.reconnects (see there); each attempt is logged (WARN, "reconnecting"). */
sr_code ldapdir_resolve(ldapdir *d, const char *const *keys, size_t n,
                        ldapdir_result *out, sr_err *err);

/* Forget every cached answer (the connection stays bound): a process that
 * serves many mailboxes asks the directory afresh for each one.  Recipients
 * from earlier answers are freed. */
void ldapdir_forget(ldapdir *d);

/* The target SMTP address from a recipient's mapping attribute ("SMTP:" or
 * "smtp:" prefix removed).  Borrowed pointer into rcpt; NULL when absent or
 * not an SMTP address. */
const char *ldapdir_target_smtp(const ldapdir_recipient *rcpt);

/* ---- outcomes for the orchestrator --------------------------------------- */
typedef enum {
    LDAPDIR_OUT_OK = 0,
    LDAPDIR_OUT_NOT_FOUND,       /* mailbox key not in the directory */
    LDAPDIR_OUT_AMBIGUOUS,       /* key on several objects (duplicate proxy) */
    LDAPDIR_OUT_BAD_KEY,         /* list entry is no address at all */
    LDAPDIR_OUT_NO_TARGET,       /* object lacks the mapping attribute */
    LDAPDIR_OUT_NO_LEGACY_DN,    /* needed legacyExchangeDN is missing */
    LDAPDIR_OUT_DIRECTORY_DOWN,  /* connection/bind/search failure (see sr_err class) */
    LDAPDIR_OUT__MAX
} ldapdir_outcome;

/* Static name ("not-found", ...). */
const char *ldapdir_outcome_name(ldapdir_outcome o);
/* Outcome of one resolution, when the caller needs a target (need_target). */
ldapdir_outcome ldapdir_outcome_of(const ldapdir_result *r, int need_target);

/* ---- Autodiscover SCP ------------------------------------------------------ */
/* Autodiscover URLs from the serviceConnectionPoint objects (keyword
 * 77378F46-2C66-4aa9-A6A6-3E7A48B19596) under the configuration partition;
 * those whose "Site=" keyword equals site (may be NULL) come first.
 * *urls is a NULL-terminated array; caller frees with sr_strv_free (util.h). */
sr_code ldapdir_scp_autodiscover(ldapdir *d, const char *site, char ***urls,
                                 size_t *n, sr_err *err);

#endif
