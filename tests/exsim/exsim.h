/* exsim.h — internal interface of the Exchange simulator (a test tool, not
 * part of the product).  Two halves meet here:
 *   server side (main.c, http/auth/inject/stats, autodiscover.c, soap.c,
 *                validate.c): HTTP, authentication, Autodiscover, SOAP
 *                envelope, schema validation, fault injection, counters;
 *   store side  (store.c, seed loading/dump, ews_*.c): the organisation's
 *                mailboxes and every EWS operation handler.
 * Ownership is written above each prototype. */
#ifndef EXSIM_H
#define EXSIM_H

#include <libxml/tree.h>
#include <stddef.h>

/* Namespaces (SOAP 1.1 and EWS; see ../shared/protocol/README.md). */
#define EXSIM_NS_SOAP "http://schemas.xmlsoap.org/soap/envelope/"
#define EXSIM_NS_T    "http://schemas.microsoft.com/exchange/services/2006/types"
#define EXSIM_NS_M    "http://schemas.microsoft.com/exchange/services/2006/messages"

/* ---- store side: the organisation (store.c) ---------------------------- */
typedef struct exsim_org exsim_org;

typedef struct exsim_account {
    const char *name;          /* logon name (also accepted: upn, DOMAIN\name) */
    const char *upn;
    const char *password;
    const char *token;         /* OAuth2 bearer token, may be NULL */
    int full_access;           /* Full Access on every mailbox */
    int impersonation;         /* may use ExchangeImpersonation */
} exsim_account;

typedef struct exsim_mailbox_info {
    const char *smtp;          /* primary SMTP address */
    const char *display_name;
    const char *legacy_dn;
    const char *mailbox_guid;
    const char *redirect_addr; /* non-NULL: Autodiscover answers redirectAddr (migrated away) */
} exsim_mailbox_info;

/* Load the seed file (XML written by seedgen.py).  NULL on error with a
 * message in err.  Caller frees with exsim_org_free. */
exsim_org *exsim_org_load(const char *seed_path, char *err, size_t errlen);
void exsim_org_free(exsim_org *org);
/* Organisation-wide values (static for the org's lifetime). */
const char *exsim_org_domain(const exsim_org *org);
const char *exsim_org_deployment_id(const exsim_org *org);
/* Accounts: NULL when unknown or the secret does not match.  Owned by org. */
const exsim_account *exsim_org_auth_basic(const exsim_org *org, const char *user, const char *pass);
const exsim_account *exsim_org_auth_bearer(const exsim_org *org, const char *token);
/* The account `user` names (name, upn, DOMAIN\name; case-insensitive), for
 * logons verified elsewhere (Kerberos, NTLM, JWT).  NULL when unknown. */
const exsim_account *exsim_org_find_account(const exsim_org *org, const char *user);
/* The org's NetBIOS domain name (seed attribute netbios), or NULL. */
const char *exsim_org_netbios(const exsim_org *org);
/* Find a mailbox by primary SMTP, any smtp: proxy or legacyExchangeDN
 * (case-insensitive).  NULL when unknown.  Owned by org. */
const exsim_mailbox_info *exsim_org_find_mailbox(const exsim_org *org, const char *address);
/* The whole state as XML (same shape as the seed).  Caller frees with xmlFreeDoc. */
xmlDocPtr exsim_org_dump(const exsim_org *org);
/* The same without what every write assigns anew (item version, i.e. the
 * ChangeKey, and the next-id counters): equal before an update and after its
 * rollback when the content came back exactly.  Caller frees with xmlFreeDoc. */
xmlDocPtr exsim_org_dump_stable(const exsim_org *org);

/* ---- one EWS request, as the server side hands it to a handler --------- */
typedef struct exsim_req {
    exsim_org *org;
    const exsim_account *account;  /* authenticated caller */
    const char *impersonated;      /* ExchangeImpersonation SMTP address, or NULL */
    const char *server_version;    /* RequestServerVersion/@Version or NULL */
    xmlNodePtr header;             /* soap:Header or NULL (request doc, read-only) */
    xmlNodePtr op;                 /* the operation element (first child of soap:Body) */
    /* Response: the handler builds the operation's response element as the
     * single child of resp_body (a soap:Body in resp_doc) — see soap.c helpers. */
    xmlDocPtr resp_doc;
    xmlNodePtr resp_body;
    /* Set by the handler: the primary SMTP of the mailbox the request touched
     * (for per-mailbox round-trip counters).  Static string owned by org. */
    const char *mailbox;
} exsim_req;

/* Dispatch one validated request to its handler.  Returns the HTTP status:
 * 200 for a normal response (including ResponseClass="Error" messages),
 * 500 when the handler built a SOAP fault.  Unknown operation → 500 fault. */
int exsim_ews_dispatch(exsim_req *r);

/* ---- soap.c helpers for handlers --------------------------------------- */
/* Create <m:{name}><m:ResponseMessages/></m:{name}> under r->resp_body and
 * return the ResponseMessages element (owned by resp_doc). */
xmlNodePtr exsim_resp_messages(exsim_req *r, const char *response_name);
/* Append <m:{msg_name} ResponseClass="Success|Error"> with ResponseCode
 * (and MessageText when code is not NoError) to messages; returns it. */
xmlNodePtr exsim_resp_message(xmlNodePtr messages, const char *msg_name,
                              const char *response_code, const char *message_text);
/* Replace the body with a SOAP fault (faultcode, faultstring, and an
 * EWS ResponseCode in detail).  Returns 500 for the handler to return. */
int exsim_soap_fault(exsim_req *r, const char *faultcode, const char *response_code,
                     const char *text);

#endif
