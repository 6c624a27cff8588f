/* mapi/ews.h — the network half that reaches Exchange: the Autodiscover
 * client (autodiscover.c), the connection handle and EWS transport, request
 * builders and response parsers (ews_http.c, ews_call.c, ews_req.c,
 * ews_resp.c, ews_xml.c), safe XML helpers for code that builds its own EWS
 * messages (the engine's features), the store session with the switch
 * message over EWS (session.c, switchmsg_ews.c), and the [handover] a
 * temporary profile carries from switchresmb to the engine (handover.c).
 *
 * Depends on util/, mapi/eid.h (properties), mapi/profile.h (an account's
 * network options), libcurl (inside) and libxml2: this is the only mapi
 * header that includes libxml.  Included by mapi/mapi.h (the umbrella).
 *
 * Ownership: handles (mapi_net, mapi_ad, mapi_session) are freed with their
 * *_free function, which is NULL-safe; XML documents returned are the
 * caller's (xmlFreeDoc); every other pointer returned says who frees it in
 * the line above the prototype. */
#ifndef MAPI_EWS_H
#define MAPI_EWS_H

#include <libxml/tree.h>
#include <stddef.h>
#include <stdint.h>

#include "mapi/budget.h"
#include "mapi/eid.h"
#include "mapi/profile.h"
#include "util/util.h"

/* ==== Autodiscover client (autodiscover.c) ==== */


/* The network handle (below) carries credentials, TLS, proxy, timeouts and
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
/* Autodiscover several addresses at once (issue 13: the target Autodiscover
 * of a batch of mailboxes in one dependent step, not one per mailbox): the
 * searches of addrs[0..n) advance together, each exactly as
 * mapi_ad_discover's (same candidates, redirects, checks, caches, log
 * lines, errors), one request per search still going in each step, every
 * step's requests in one concurrent batch over the handle's connections.
 * outs[i]: a copy of the answer (caller frees with mapi_ad_result_free), or
 * NULL with errs[i] saying why as mapi_ad_discover's err would.  The answers
 * are in ad's per-address cache too (mapi_ad_cached_line), as far as its
 * bound allows.  An address listed twice is searched once.  Returns how many
 * were found. */
size_t mapi_ad_discover_many(mapi_ad *ad, const char *const *addrs, size_t n,
                             mapi_ad_result **outs, sr_err *errs);
/* One handle's part of a mapi_ad_discover_sides call: its addresses and
 * where their answers go (outs/errs as mapi_ad_discover_many's). */
typedef struct mapi_ad_ask {
    mapi_ad *ad;
    const char *const *addrs;
    size_t n;
    mapi_ad_result **outs;
    sr_err *errs;
    /* A redirectAddr ends the search (no request for the other address):
     * outs[i] NULL, errs[i] SR_E_NOTFOUND saying where it redirects, and
     * redirected[i] (when redirected is not NULL; heap, caller frees, else
     * NULL) that address.  For a caller that only wants an answer naming
     * the handle's own server (switchresmb's source probe: a migrated
     * mailbox redirects to its target, which the source cannot answer for).
     * redirectUrl and HTTP 302 are still followed: they lead to an answer
     * for the same address. */
    int stop_at_redirect_addr;
    char **redirected;
    /* This part's log lines at DEBUG (an expected failure, reported once
     * by the caller), the other parts' as usual. */
    int quiet;
} mapi_ad_ask;
/* mapi_ad_discover_many over several handles at once (issue 13: the source
 * probe and the target Autodiscover of a batch in one dependent step): the
 * searches of every part advance together, each step's requests of all
 * handles in one mapi_http_run_many call (a lane per handle's connection
 * pool).  Parts naming the same mapi_ad share its caches; parts on the same
 * mapi_net go in one lane.  Returns how many addresses were found, over all
 * parts. */
size_t mapi_ad_discover_sides(mapi_ad_ask *asks, size_t nasks);
/* The spec's "LegacyExchangeDN properties are different" check: warns with
 * both values and returns SR_E_AMBIGUOUS when profile_dn is set and differs
 * (case-insensitive) from r->legacy_dn. */
sr_code mapi_ad_check_legacy_dn(const mapi_ad_result *r, const char *side,
                                const char *profile_dn, sr_err *err);
/* Whether url's host equals or ends with "."+one of domains (NULL-terminated). */
int mapi_ad_url_on_domains(const char *url, const char *const *domains);
/* Autodiscover once per mailbox (issue 13): switchresmb hands the answer it
 * got for the target to the engine it starts (CPUU_TARGET_AUTODISCOVER), so
 * the engine's logon asks no second time.  mapi_ad_cached_line: the cached
 * answer for address as one line of tab-separated fields (no secret in it),
 * heap (caller frees); NULL when none is cached or a value cannot go on one
 * line.  mapi_ad_seed: that line into ad's per-address cache, as if
 * Autodiscover had answered; SR_E_PARSE when it is not such a line. */
char *mapi_ad_cached_line(const mapi_ad *ad, const char *address);
/* The same line for a result (NULL-safe); heap, caller frees; NULL as above. */
char *mapi_ad_result_line(const mapi_ad_result *r);
sr_code mapi_ad_seed(mapi_ad *ad, const char *line, sr_err *err);
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

/* ==== EWS transport (ews_*.c) ==== */

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
    unsigned max_retries;         /* per request (throttling, connection); 0 → 6.  A
                                     throttling wait is at least 100 ms, so
                                     max_backoff_ms / 100 retries leave the
                                     waiting budget alone to bound throttling */
    unsigned max_backoff_ms;      /* total waiting per request; 0 → 120000 */
    unsigned max_parallel;        /* concurrent requests of one batch; 0 → 8 */
    const char *server_version;   /* RequestServerVersion; NULL → Exchange2013_SP1 */
    const char *const *connect_to;/* CURLOPT_CONNECT_TO "host:port:addr:port", NULL-terminated */
    int allow_http;               /* accept http:// endpoints and redirects (tests) */
    int exchange_online;          /* the side is Office 365 (Target=O365, TargetIsO365): an
                                   * HTTP 403 from EWS means EWS is blocked for the app, as
                                   * it does from outlook.office365.com / *.outlook.com */
    mapi_budget_side budget;      /* whose account's request budget (mapi/budget.h) every
                                   * authenticated request takes a slot of; NONE: unlimited.
                                   * mapi_netopts_from_account sets it from its side */
    struct mapi_conns *conns;     /* a connection pool kept beyond this handle (borrowed; it
                                   * outlives the handle); NULL: the handle's own, closed
                                   * with it */
} mapi_netopts;

/* A pool of open connections (and DNS answers, TLS sessions) that outlives
 * the network handles using it: an engine serving many mailboxes keeps one,
 * so the next mailbox's requests go on the connections of the last one
 * (curl reuses a connection only for the same host, port, TLS settings and,
 * for NTLM/Negotiate, the same credentials).  One thread at a time, like the
 * handles.  Caller frees with mapi_conns_free (NULL-safe) after every handle
 * using it. */
typedef struct mapi_conns mapi_conns;
mapi_conns *mapi_conns_new(sr_err *err);
void mapi_conns_free(mapi_conns *c);

/* Caller frees with mapi_net_free.  Reads SR_EWS_DEBUG (1 headers, 2 bodies)
 * for redacted HTTP tracing.  A handle (and the mapi_ad / mapi_session
 * objects using it) belongs to one thread at a time; concurrency comes from
 * batches (mapi_ews_run), bulk runs give each worker its own handle. */
mapi_net *mapi_net_new(const mapi_netopts *opts, sr_err *err);
void mapi_net_free(mapi_net *net);
/* Requests sent (including retries) and TCP connections opened by net. */
unsigned mapi_net_requests(const mapi_net *net);
/* A batch with more requests than the handle's idle connections starts on
 * them all the same, opening only what it lacks (no fresh start, see
 * fresh_connections in ews_http.c): a new connection's NTLM handshake may
 * then cost its request one step more, but a handle serving batch after
 * batch opens its connections once.  For batches off a mailbox's critical
 * path (switchresmb's read-ahead); off by default. */
void mapi_net_keep_connections(mapi_net *net, int on);
unsigned mapi_net_connections(const mapi_net *net);

/* One EWS call.  The caller builds req with a mapi_ews_req_* builder (it
 * owns req and frees it with xmlFreeDoc); the transport fills the outputs. */
typedef struct mapi_ews_call {
    const char *url;          /* EWS endpoint */
    const char *mailbox;      /* for log lines and errors; X-AnchorMailbox when an address */
    const char *anchor;       /* X-AnchorMailbox instead of mailbox (NULL: mailbox): the
                               * mailbox a directory lookup works for */
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
/* mapi_ews_run: an HTTP 403 from an Exchange Online EWS endpoint (the side
 * marked exchange_online, or a host outlook.office365.com / *.outlook.com)
 * is SR_E_EWS_BLOCKED, its message naming the app id (OAuth client id), the
 * two Set-OrganizationConfig settings that allow it, the 2027-04-01 end of
 * EWS in Exchange Online and Microsoft Graph as the way forward. */

/* That message without its mailbox and URL: "EWS is blocked for this app in
 * the target tenant (app id ...)", the settings, the date, Graph — in buf
 * (MAPI_EWS_BLOCKED_ADVICE_MAX holds it whole), which is returned.  app_id
 * NULL or "": named as unknown.  switchresmb puts it in a mailbox's report
 * line when only its engine met the block (its progress line "ewsblocked"). */
#define MAPI_EWS_BLOCKED_ADVICE_MAX 768
const char *mapi_ews_blocked_advice(char *buf, size_t size, const char *app_id);

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
/* Parse untrusted XML (an answer, a backup file): no network, no DTD, no
 * entity expansion.  what names the document in errors (SR_E_PARSE, with
 * libxml's line).  Caller frees the result with xmlFreeDoc; NULL on error. */
xmlDocPtr mapi_xml_parse(const char *buf, size_t len, const char *what, sr_err *err);
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
/* The items an answer refused (mapi_ews_parse_items keeps a per-item error
 * and goes on, GetItem's missing items): how many in *n_refused, and the
 * first one, or NULL when none.  For a write (CreateItem, UpdateItem) a
 * refused item was not written. */
const mapi_item *mapi_items_refused(const mapi_items *l, size_t *n_refused);
/* Check every ResponseMessage of a response (DeleteItem etc.): SR_OK when all
 * are NoError; otherwise the first error, naming its ResponseCode. */
sr_code mapi_ews_parse_status(xmlNodePtr resp_op, sr_err *err);

/* -- SOAP Autodiscover GetUserSettings (autodiscover_soap.c; MS-OXWSADISC):
 * the target identities of many users at once (up to 100 per request), on
 * premises and in Exchange Online alike. ---------------------------------- */
#define MAPI_NS_AD_SOAP "http://schemas.microsoft.com/exchange/2010/Autodiscover"
#define MAPI_AD_SOAP_MAX_USERS 100
typedef struct mapi_ad_user {
    sr_code code;            /* SR_OK; SR_E_NOTFOUND (InvalidUser, or redirect set) ; other */
    char *error;             /* ErrorCode and ErrorMessage when not NoError */
    char *redirect;          /* RedirectAddress target, or NULL */
    char *user_dn;           /* UserDN (the legacyExchangeDN) */
    char *display_name;      /* UserDisplayName */
    char *ews_url;           /* InternalEwsUrl, else ExternalEwsUrl */
    char *server;            /* InternalMailboxServer, else ExternalMailboxServer */
} mapi_ad_user;
void mapi_ad_user_clear(mapi_ad_user *u);
/* The SOAP Autodiscover URL beside an EWS URL:
 * scheme://authority/autodiscover/autodiscover.svc.  Heap, NULL when ews_url
 * is not an absolute http(s) URL. */
char *mapi_ad_soap_url(const char *ews_url);
/* GetUserSettingsRequestMessage for n (1..100) addresses; url goes to wsa:To. */
xmlDocPtr mapi_ad_req_getusersettings(const char *url, const char *const *addrs, size_t n,
                                      sr_err *err);
/* A GetUserSettingsResponseMessage into out[0..n) (answers in request
 * order).  SR_OK when the request as a whole succeeded (per-user outcomes in
 * out[i].code); else the top-level ErrorCode. */
sr_code mapi_ad_parse_getusersettings(xmlNodePtr resp_op, mapi_ad_user *out, size_t n,
                                      sr_err *err);
/* The requests go out as calls (url, mailbox "Autodiscover", anchor: the
 * mailbox being processed as X-AnchorMailbox, by which Exchange Online
 * routes Autodiscover and the simulator counts the lookup in that mailbox's
 * round trips) in the caller's batch: cpuu's recipient map sends them with
 * its other requests (issue 13). */

/* ==== store session (session.c, switchmsg_ews.c) ==== */

/* How to open a mailbox. */
typedef struct mapi_session_opts {
    const char *mailbox;       /* primary SMTP address of the mailbox */
    const char *ews_url;       /* known EWS URL; NULL → Autodiscover through ad */
    mapi_ad *ad;               /* borrowed; used when ews_url is NULL */
    int impersonate;           /* ExchangeImpersonation instead of explicit access */
    const char *profile_legacy_dn; /* when set, compared with Autodiscover's LegacyDN */
    const char *fallback_ews_url;  /* when Autodiscover finds nothing (not for an address
                                    * it says is unknown): the Outlook Anywhere host's EWS,
                                    * mapi_account_fallback_ews_url; NULL = none */
} mapi_session_opts;

typedef struct mapi_session mapi_session;
/* Resolve the EWS URL (Autodiscover, cached per domain) and remember how to
 * address the mailbox; no EWS request yet.  net is borrowed.  Caller frees
 * with mapi_session_free. */
mapi_session *mapi_session_logon(mapi_net *net, const mapi_session_opts *o, sr_err *err);
void mapi_session_free(mapi_session *s);
/* Static for the session's lifetime. */
const char *mapi_session_ews_url(const mapi_session *s);
/* The network handle the session was opened with (borrowed): for batches
 * that mix this session's EWS calls with other endpoints (SOAP Autodiscover). */
mapi_net *mapi_session_net(const mapi_session *s);
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
/* Create one item; *id_out heap (caller frees, may be NULL). */
sr_code mapi_session_create_item(mapi_session *s, const mapi_ews_folder_ref *folder,
                                 const char *item_class, const char *subject,
                                 const mapi_extprops *props, int associated,
                                 char **id_out, sr_err *err);
sr_code mapi_session_delete_items(mapi_session *s, const char *const *ids, size_t n,
                                  sr_err *err);
/* Low level: run prepared calls for this session (url/mailbox filled in). */
sr_code mapi_session_run(mapi_session *s, mapi_ews_call *calls, size_t n, sr_err *err);
/* Read waves (issue 13 goal 1: every feature's k-th read in one round trip).
 * Between begin and end the session answers each exact request it has an
 * answer for (a copy; errors included) without the network.  Recording (after
 * begin), a request it has no answer for is not sent: it is kept for
 * mapi_session_wave_send_many and the call fails with SR_E_BUSY ("deferred"), so
 * a caller runs its reads again after each send, one step further each time,
 * and counts with wave_deferred whether a read met a deferral (its outcome
 * then means nothing).  After wave_live unknown requests go out at once (and
 * are answered from then on).  For reads only: end drops every answer before
 * anything is written.  A session in no wave runs every call live. */
sr_code mapi_session_wave_begin(mapi_session *s, sr_err *err);
unsigned long mapi_session_wave_deferred(const mapi_session *s);
/* Every deferred request of up to MAPI_WAVE_SIDES_MAX sessions (NULL
 * entries skipped) in ONE concurrent batch per session, all batches on the
 * wire at the same time: a mailbox's source and target reads of one wave
 * cost one round trip, not two.  Sessions on the same mapi_net are sent one
 * after the other.  The answers are kept (a failed call's error too: the
 * read that asked gets it). */
#define MAPI_WAVE_SIDES_MAX 4
sr_code mapi_session_wave_send_many(mapi_session *const *s, size_t n, sr_err *err);
void mapi_session_wave_live(mapi_session *s);
/* Recording again after wave_live (a step between waves ran live). */
void mapi_session_wave_record(mapi_session *s);
void mapi_session_wave_end(mapi_session *s);
/* Writes as waves (issue 13): called before each attempt of a staged
 * sequence (a feature's apply run again after every send), it makes the
 * attempt defer only its first unanswered step (one session_run); a later
 * call of the attempt may depend on it and fails SR_E_BUSY unqueued.  A
 * write answered in a wave is never sent again: the next attempt builds the
 * same request and gets the kept answer, and after wave_live only requests
 * with no answer go out.  No-op outside a wave. */
void mapi_session_wave_step(mapi_session *s);
/* The next attempts are reads again (after wave_step): every unknown call
 * is deferred.  A read's answers and a write attempt's are kept apart, so a
 * check read after a write (GetInboxRules after UpdateInboxRules) is never
 * answered with what the same request read before the write.  No-op
 * outside a wave. */
void mapi_session_wave_reads(mapi_session *s);
/* As mapi_session_run, for calls that name their own url and mailbox (SOAP
 * Autodiscover beside the session's EWS URL): through the session's wave. */
sr_code mapi_session_run_at(mapi_session *s, mapi_ews_call *calls, size_t n, sr_err *err);
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
/* Split a "host:port:addr:port[,...]" list (as curl --connect-to; labs map
 * names to loopback without DNS) in place into out (at most max entries,
 * then a NULL); returns the count.  list NULL → 0. */
size_t mapi_connect_to_split(char *list, const char **out, size_t max);

/* -- the switch message over EWS (switchmsg_ews.c; format in mapi/eid.h) ------ */
/* Append the switch message's property addresses (for FindItem/GetItem). */
sr_code mapi_switchmsg_want(mapi_extprops *l, sr_err *err);
/* Folder tree and switch message in ONE concurrent round trip (FindFolder
 * Deep on msgfolderroot + FindItem Associated).  Returns the transport/EWS
 * outcome; the switch message's own outcome goes to *sm_err (SR_OK,
 * SR_E_NOTFOUND, SR_E_PARSE).  Caller clears *folders and *m. */
sr_code mapi_session_open_mailbox(mapi_session *s, mapi_folders *folders, mapi_switchmsg *m,
                                  sr_err *sm_err, sr_err *err);
/* The same for n mailboxes at once (bulk runs): all 2n reads in one
 * concurrent batch, so n mailboxes cost one dependent round trip.  The
 * sessions must share one mapi_net.  Arrays have n entries; per mailbox,
 * errs[i] / sm_errs[i] say what happened; returns the first failure.
 * folders NULL: the switch messages only (n reads; switchresmb, whose engine
 * reads the tree it needs with its own first reads). */
sr_code mapi_session_open_many(mapi_session *const *s, size_t n, mapi_folders *folders,
                               mapi_switchmsg *msgs, sr_err *sm_errs, sr_err *errs);
/* Create the switch message.  When one exists: SR_E_EXISTS unless recreate
 * (RecreateSwitchMsg=1), which deletes every old one first. */
sr_code mapi_session_write_switchmsg(mapi_session *s, const mapi_switchmsg *m, int recreate,
                                     sr_err *err);
/* Create the switch message without looking first (one CreateItem): for a
 * caller that has just read the mailbox and found none (issue 13: a second
 * FindItem would only repeat that read).  Anyone else uses write_switchmsg. */
sr_code mapi_session_create_switchmsg(mapi_session *s, const mapi_switchmsg *m, sr_err *err);

/* ==== hand-over (handover.c; docs/profile-format.md "[handover]") ==== */
/* What switchresmb learned about the source mailbox a moment ago, written
 * into the temporary profile so the engine it starts there need not ask the
 * server again (issue 13): the switch message now in the mailbox, the EWS
 * URL and the way the admin account got in.  No secret.  The engine trusts
 * it only when it is version 1, at most MAPI_HANDOVER_MAX_AGE_S old and not
 * more than MAPI_HANDOVER_SKEW_S in the future, and for the profile's own
 * mailbox and EWS URL; otherwise it asks the server as before. */
#define MAPI_HANDOVER_MAX_AGE_S 600
#define MAPI_HANDOVER_SKEW_S 60
typedef struct mapi_handover {
    char *mailbox;              /* primary SMTP address of the source mailbox */
    char *ews_url;              /* its EWS endpoint */
    int impersonate;            /* 1 ExchangeImpersonation, 0 explicit access */
    int64_t learned_at;         /* when switchresmb read or wrote that (Unix seconds): its age */
    mapi_switchmsg switchmsg;   /* the switch message in the mailbox, or (write) to put there */
    int write;                  /* 1: not written yet: the engine writes it (a look, then a
                                 * create) before it writes anything to the target */
} mapi_handover;
/* Release the strings in h and zero it.  NULL-safe. */
void mapi_handover_clear(mapi_handover *h);
/* Write h as p's [handover] settings (replacing any; p owns the copies).
 * SR_E_INVALID / SR_E_PARSE when h is incomplete or its message invalid. */
sr_code mapi_handover_put(mapi_profile *p, const mapi_handover *h, sr_err *err);
/* p's [handover] if the engine may trust it for account a at time now:
 * SR_OK with *out filled (caller clears with mapi_handover_clear);
 * SR_E_NOTFOUND none; SR_E_PARSE malformed or another version; SR_E_INVALID
 * stale, from the future, or for another mailbox or EWS URL.  err says which. */
sr_code mapi_handover_take(const mapi_profile *p, const mapi_account *a, int64_t now,
                           mapi_handover *out, sr_err *err);
/* Remove p's [handover] (it is used once: an updated profile keeps none). */
void mapi_handover_drop(mapi_profile *p);

#endif /* MAPI_EWS_H */
