/* server.h — private interface of the simulator's server half (HTTP, auth,
 * Autodiscover, SOAP envelope, schema validation, injection, counters).
 * The store half never includes this; exsim.h is the shared contract.
 *
 * Threading: MHD runs one thread per connection.  The store is not
 * thread-safe, so every call into it happens under exsim_srv.store_lock;
 * injection and stats have their own locks; the injected round-trip delay
 * is slept with no lock held so concurrency stays observable. */
#ifndef EXSIM_SERVER_H
#define EXSIM_SERVER_H

#include "tests/exsim/exsim.h"

#include <libxml/xmlschemas.h>
#include <pthread.h>
#include <stdint.h>

#define EXSIM_MAX_REDIRECTS 16
/* Graph's Outlook limit: 4 concurrent requests per mailbox per app
 * (https://learn.microsoft.com/graph/throttling-limits, Outlook service limits). */
#define EXSIM_GRAPH_CONCURRENCY 4

/* Schemes offered in WWW-Authenticate (--www-auth). */
#define EXSIM_OFFER_NEGOTIATE 1u
#define EXSIM_OFFER_NTLM 2u
#define EXSIM_OFFER_BASIC 4u
#define EXSIM_OFFER_BEARER 8u

/* Fault injection settings; switchable at run time via /_sim/config. */
typedef struct exsim_inject {
    int rtt_ms;            /* delay before each response */
    int max_concurrency;   /* per account; 0 = unlimited */
    int backoff_ms;        /* BackOffMilliseconds in ErrorServerBusy */
    double fail_rate;      /* 0..1: share of requests answered fail_status */
    unsigned fail_seed;
    long fail_nth;         /* the Nth request (1-based, since last config) fails */
    int fail_status;       /* 500 or 503 */
    long drop_nth;         /* the Nth request's response is cut mid-body */
    int slow_body_ms;      /* pause between response body chunks */
    long throttle_next;    /* the next N EWS requests: ErrorServerBusy (backoff_ms) */
    int ews_blocked;       /* 1: EWS POSTs get HTTP 403, as Exchange Online answers
                            * when EWS is disabled for the app (Autodiscover still works) */
    int graph_concurrency; /* Graph requests in flight per mailbox before 429 (Outlook: 4); 0 = off */
    long graph_throttle_next; /* the next N Graph requests (batch items too): 429 */
    long graph_batch_throttle_next; /* the next N $batch requests: 429 for the whole batch */
    int graph_retry_after; /* Retry-After seconds of a Graph 429 */
    char fail_op[48];      /* every EWS request of this operation (CreateItem) is answered
                            * <Op>ResponseMessage ResponseClass="Error" fail_op_code: one
                            * operation failing among many ("" = off) */
    char fail_op_code[64]; /* its ResponseCode ("" = ErrorInternalServerError) */
} exsim_inject;

/* What injection decided for one request. */
typedef struct exsim_fate {
    int fail_status;       /* non-zero: answer this HTTP error */
    int drop;              /* cut the body after some bytes */
    int rtt_ms;
    int slow_body_ms;
    int ews_blocked;       /* an EWS request is refused with 403 */
} exsim_fate;

typedef struct exsim_server {
    /* command line */
    int port;
    const char *port_file, *pid_file, *seed, *schemas_dir, *dump_on_exit;
    const char *graph_csdl;                     /* --graph-csdl FILE | none */
    const char *tls_cert, *tls_key;
    const char *get_redirect;                   /* 302 target for GET autodiscover */
    const char *redirect_dom[EXSIM_MAX_REDIRECTS]; /* --redirect-url DOMAIN=URL */
    const char *redirect_url[EXSIM_MAX_REDIRECTS];
    int n_redirects;
    int validate_responses;
    int no_bearer;
    unsigned offer;                             /* EXSIM_OFFER_* bits: offered = accepted */
    const char *keytab;                         /* --keytab: Negotiate acceptor keys */
    const char *ntlm_hashes;                    /* --ntlm-hashes: name:NT-hash lines */
    const char *jwks;                           /* --jwks URL|FILE: Bearer = signed JWT */
    const char *jwt_issuer, *jwt_audience, *jwt_role, *jwt_account;
    long clock_offset;                          /* --clock-offset: test hook for expiry */
    size_t max_request_bytes;
    /* run time */
    int tls;
    int bound_port;
    char base_url[128];                         /* http(s)://127.0.0.1:port */
    exsim_org *org;
    xmlSchemaPtr schema;                        /* NULL: validation off (WARNING) */
    pthread_mutex_t store_lock;
} exsim_server;

extern exsim_server exsim_srv;

/* ---- http.c ---- */
struct MHD_Daemon;
/* Start the daemon on 127.0.0.1:port (0: a free port, *bound gets it).
 * cert_pem/key_pem non-NULL: HTTPS.  NULL on failure. */
struct MHD_Daemon *exsim_http_start(int port, const char *cert_pem, const char *key_pem, int *bound);

/* ---- graph.c ---- */
struct MHD_Connection;
/* Serve one /v1.0/… or /beta/… request (body complete); start_us for stats. */
enum MHD_Result exsim_graph_serve(struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *body, size_t len, int64_t start_us);

/* ---- validate.c ---- */
/* Compile DIR/messages.xsd; 0 ok, -1 (message printed) when absent/broken. */
int exsim_schema_load(const char *dir);
void exsim_schema_free(void);
/* Validate one element in place.  0 valid; -1 invalid with the first error's
 * text/line/column in the out-params (msg buffer of msglen). */
int exsim_schema_validate(xmlNodePtr el, char *msg, size_t msglen, int *line, int *col);

/* ---- auth.c, auth_ntlm.c, auth_gss.c, auth_jwt.c ---- */
/* One TCP connection's logon state.  NTLM and Negotiate authenticate the
 * connection, not the request (IIS does the same; libcurl sends no
 * Authorization header on later requests of an authenticated connection).
 * Owned by http.c's connection notifier; only that connection's thread
 * touches it. */
typedef struct exsim_conn {
    void *gss_ctx;                  /* gss_ctx_id_t of a running Negotiate exchange */
    int ntlm_step;                  /* 0 none, 1 CHALLENGE sent */
    unsigned ntlm_flags;            /* flags agreed in the CHALLENGE */
    unsigned char ntlm_chal[8];     /* its server challenge */
    const exsim_account *acct;      /* set once the connection is authenticated */
    const char *acct_scheme;        /* "NTLM" or "Negotiate" */
    int64_t opened_us;              /* when the client's connection was accepted */
    long counted;                   /* requests counted on it so far (not the logon legs) */
} exsim_conn;

/* The outcome of one request's logon. */
typedef struct exsim_authres {
    const exsim_account *acct;      /* NULL: 401 */
    const char *scheme;             /* with token: "NTLM"/"Negotiate" */
    char *token;                    /* base64 continuation or mutual-auth token (malloc'd) */
    int bearer_error;               /* a JWT was refused: Bearer error + x-ms-diagnostics */
    char diag[256];                 /* why refused, never a secret (logged; x-ms-diagnostics) */
} exsim_authres;

/* Load what the offered schemes need (keytab check, NT hashes, JWKS).
 * 0 ok; -1 with a message printed. */
int exsim_auth_init(void);
void exsim_auth_cleanup(void);
/* Authenticate one request.  conn may be NULL (then NTLM/Negotiate refuse).
 * Takes store_lock itself for account lookups; caller must NOT hold it.
 * Free res->token with exsim_authres_clear. */
void exsim_auth(exsim_conn *conn, const char *authorization, exsim_authres *res);
void exsim_authres_clear(exsim_authres *res);
void exsim_conn_free(exsim_conn *conn);
/* Add the WWW-Authenticate headers for res: a continuation/mutual token,
 * or (res NULL or no token) every offered challenge, Bearer carrying the
 * refusal when a JWT was refused. */
struct MHD_Response;
void exsim_auth_headers(struct MHD_Response *resp, int status, const exsim_authres *res);

/* Helpers shared by the auth files (auth.c). */
/* Base64 (url: the base64url alphabet, padding optional) → malloc'd bytes;
 * NULL when malformed. */
unsigned char *exsim_auth_b64dec(const char *in, size_t len, int url, size_t *outlen);
char *exsim_auth_b64enc(const unsigned char *in, size_t len);
/* The account user names, looked up under store_lock. */
const exsim_account *exsim_auth_find(const char *user);
/* Time as the simulator sees it (clock_offset applied). */
long long exsim_auth_now(void);

/* auth_ntlm.c: one NTLM message (raw bytes); conn keeps the state. */
void exsim_ntlm_step(exsim_conn *conn, const unsigned char *msg, size_t len, exsim_authres *res);
int exsim_ntlm_init(void);
void exsim_ntlm_cleanup(void);
/* auth_gss.c: one Negotiate token (raw bytes). */
void exsim_gss_step(exsim_conn *conn, const unsigned char *tok, size_t len, exsim_authres *res);
int exsim_gss_init(void);
void exsim_gss_conn_free(exsim_conn *conn);
/* auth_jwt.c: a bearer JWT (compact serialisation). */
void exsim_jwt_check(const char *jwt, exsim_authres *res);
/* The same checks for any audience; role NULL skips the role check (Graph
 * checks roles per endpoint).  Accepted: res->acct set and the claims
 * returned (caller json_decref's them); refused: NULL, res->diag says why. */
struct json_t;
struct json_t *exsim_jwt_verify(const char *jwt, const char *audience, const char *role,
                                exsim_authres *res);
/* Whether a roles claim (array, or one comma/space-separated string) holds role. */
int exsim_jwt_has_role(struct json_t *roles, const char *role);
int exsim_jwt_init(void);
void exsim_jwt_cleanup(void);

/* ---- soap.c (server-side parts) ---- */
/* Handle one EWS POST body of an authenticated caller.  Fills *out (malloc'd, caller frees), returns the
 * HTTP status; *op_name gets the operation's name (static or into opbuf),
 * *mailbox the mailbox touched (static, owned by org) or NULL. */
int exsim_ews_handle(const exsim_account *acct, const char *body, size_t len,
                     char **out, size_t *outlen, char *opbuf, size_t opbuflen,
                     const char **mailbox);
/* A stand-alone fault envelope (no request needed), e.g. ErrorServerBusy. */
char *exsim_soap_fault_doc(const char *response_code, const char *text,
                           int backoff_ms, size_t *outlen);

/* ---- autodiscover.c ---- */
/* Handle one POX POST (caller authenticated it).  Returns HTTP status and a
 * malloc'd body; *mailbox as above. */
int exsim_autodiscover_post(const char *body, size_t len, const char *client_can_handle,
                            const char *mapi_http, char **out, size_t *outlen, const char **mailbox);

/* ---- autodiscover_soap.c ---- */
/* Whether a POST body is a SOAP envelope (then it goes to the SOAP handler). */
int exsim_autodiscover_is_soap(const char *body, size_t len);
/* Handle one SOAP Autodiscover POST (GetUserSettings; caller authenticated
 * it).  Returns HTTP status and a malloc'd body; *mailbox the first user. */
int exsim_autodiscover_soap(const char *body, size_t len, char **out, size_t *outlen,
                            const char **mailbox);

/* ---- inject.c ---- */
void exsim_inject_init(const exsim_inject *initial);
/* Apply "k=v&k=v" settings; 0 ok, -1 with a message in err. */
int exsim_inject_apply(const char *query, char *err, size_t errlen);
/* Parse one option name/value into *inj (command line or query). */
int exsim_inject_set(exsim_inject *inj, const char *key, const char *val);
/* Decide the fate of the next counted request. */
exsim_fate exsim_inject_next(void);
exsim_inject exsim_inject_get(void);
/* Throttling: register a request for account; returns 0 admitted, -1 throttled
 * (no slot taken).  exsim_inject_leave releases an admitted slot. */
int exsim_inject_enter(const exsim_account *acct);
void exsim_inject_leave(const exsim_account *acct);
void exsim_inject_reset_counter(void);
/* 1 when this EWS request is one of throttle_next (and counts it down). */
int exsim_inject_take_throttle(void);
/* Graph: the same for graph_throttle_next, and the per-mailbox in-flight
 * count against graph_concurrency (key: the mailbox). */
int exsim_inject_take_graph_throttle(void);
int exsim_inject_take_graph_batch_throttle(void);
int exsim_inject_graph_enter(const void *mailbox);
void exsim_inject_graph_leave(const void *mailbox);

/* ---- stats.c ---- */
void exsim_stats_init(void);
void exsim_stats_connection(void);
/* In-flight accounting (for max in flight). */
void exsim_stats_begin(void);
/* One finished request: operation name, mailbox (may be NULL), HTTP status,
 * start/end (monotonic µs), bytes in/out. */
void exsim_stats_end(const char *op, const char *mailbox, int status,
                     int64_t start_us, int64_t end_us, size_t in, size_t out);
void exsim_stats_count(const char *what);   /* "throttled", "schema_rejected", ... */
void exsim_stats_reset(void);
/* JSON text, malloc'd. */
char *exsim_stats_json(size_t *len);
int64_t exsim_now_us(void);

#endif
