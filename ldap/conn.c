/* conn.c — connecting and binding to the DC ([AD] DCName, DCAccount,
 * DCPassword), TLS policy, timeouts, and the RootDSE naming contexts. */
#include "ldap/ldap_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { DEF_CONNECT_MS = 5000, DEF_OP_MS = 15000, DEF_PAGE = 500, DEF_BATCH = 250,
       DEF_MAX_PAGES = 100000 };
typedef enum { MODE_LDAPS, MODE_STARTTLS, MODE_PLAIN } tls_mode;

static struct timeval tv_of(int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    return tv;
}

sr_code ldapdir__ldap_err(ldapdir *d, int rc, const char *what, sr_err *err)
{
    sr_code code;
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_CONNECT_ERROR:
        code = SR_E_CONNECT;
        d->broken = 1;
        break;
    case LDAP_TIMEOUT:
    case LDAP_TIMELIMIT_EXCEEDED:
        code = SR_E_TIMEOUT;
        break;
    case LDAP_INVALID_CREDENTIALS:
    case LDAP_INAPPROPRIATE_AUTH:
    case LDAP_STRONG_AUTH_REQUIRED:
    case LDAP_CONFIDENTIALITY_REQUIRED:
        code = SR_E_AUTH;
        break;
    case LDAP_INSUFFICIENT_ACCESS:
        code = SR_E_ACCESS;
        break;
    case LDAP_SIZELIMIT_EXCEEDED:
    case LDAP_ADMINLIMIT_EXCEEDED:
        code = SR_E_LIMIT;
        break;
    case LDAP_NO_SUCH_OBJECT:
        code = SR_E_NOTFOUND;
        break;
    case LDAP_BUSY:
    case LDAP_UNAVAILABLE:
        code = SR_E_BUSY;
        break;
    case LDAP_NO_MEMORY:
        code = SR_E_NOMEM;
        break;
    case LDAP_INVALID_DN_SYNTAX:   /* a base DN; a bind name is mapped by bind_simple */
        code = SR_E_CONFIG;
        break;
    case LDAP_FILTER_ERROR:
    case LDAP_PARAM_ERROR:
        code = SR_E_INVALID;
        break;
    default:
        code = SR_E_SERVER;
    }
    char *diag = NULL;
    if (d->ld)
        ldap_get_option(d->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    sr_err_set(err, code, "DC %s: %s: %s (LDAP %d)%s%s", d->dc, what, ldap_err2string(rc), rc,
               diag && *diag ? ": " : "", diag && *diag ? diag : "");
    if (diag)
        ldap_memfree(diag);
    if (code == SR_E_BUSY && err)
        err->backoff_ms = 1000;
    return code;
}

/* DCName → URI and TLS mode. */
static sr_code make_uri(const ldapdir_opts *o, char **uri, tls_mode *mode, sr_err *err)
{
    const char *dc = o->dc;
    if (!dc || !*dc || strpbrk(dc, " \t\r\n"))
        return sr_err_set(err, SR_E_CONFIG, "[AD] DCName: expected a host name or ldap[s]:// URI, got '%s'",
                          dc ? dc : "");
    int is_uri = !strncasecmp(dc, "ldap://", 7) || !strncasecmp(dc, "ldaps://", 8);
    int scheme_s = !strncasecmp(dc, "ldaps://", 8);
    if (!is_uri && strstr(dc, "://"))
        return sr_err_set(err, SR_E_CONFIG, "[AD] DCName '%s': only ldap:// and ldaps:// are supported", dc);
    switch (o->tls) {
    case LDAPDIR_TLS_DEFAULT: *mode = (!is_uri || scheme_s) ? MODE_LDAPS : MODE_STARTTLS; break;
    case LDAPDIR_TLS_LDAPS: *mode = MODE_LDAPS; break;
    case LDAPDIR_TLS_STARTTLS: *mode = MODE_STARTTLS; break;
    case LDAPDIR_TLS_NONE: *mode = MODE_PLAIN; break;
    default: return sr_err_set(err, SR_E_CONFIG, "DC %s: unknown TLS mode %d", dc, (int)o->tls);
    }
    if (is_uri && (scheme_s != (*mode == MODE_LDAPS)))
        return sr_err_set(err, SR_E_CONFIG, "DC %s: URI scheme contradicts the TLS mode asked for", dc);
    /* GSSAPI without TLS is protected by its own sign/seal layer (required below). */
    if (*mode == MODE_PLAIN && !o->allow_plain && o->bind != LDAPDIR_BIND_GSSAPI)
        return sr_err_set(err, SR_E_CONFIG,
                          "DC %s: plain ldap:// without TLS refused (credentials would travel in clear)", dc);
    if (is_uri)
        *uri = sr_strdup(dc);
    else if (strchr(dc, ':') && dc[0] != '[' && strchr(dc, ':') != strrchr(dc, ':'))
        *uri = sr_asprintf("%s://[%s]", *mode == MODE_LDAPS ? "ldaps" : "ldap", dc);
    else
        *uri = sr_asprintf("%s://%s", *mode == MODE_LDAPS ? "ldaps" : "ldap", dc);
    if (!*uri)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (!ldap_is_ldap_url(*uri) && !ldap_is_ldaps_url(*uri))
        return sr_err_set(err, SR_E_CONFIG, "[AD] DCName '%s': not a valid host or URI", dc);
    return SR_OK;
}

/* Our own TCP probe, so that "refused" and "no answer" are told apart from a
 * TLS failure (libldap reports all three as "Can't contact LDAP server"). */
static sr_code tcp_probe(ldapdir *d, int timeout_ms, sr_err *err)
{
    LDAPURLDesc *lud = NULL;
    if (ldap_url_parse(d->uri, &lud) != LDAP_URL_SUCCESS)
        return sr_err_set(err, SR_E_CONFIG, "DC %s: cannot parse URI %s", d->dc, d->uri);
    char port[16];
    snprintf(port, sizeof port, "%d", lud->lud_port ? lud->lud_port
                                   : !strcasecmp(lud->lud_scheme, "ldaps") ? 636 : 389);
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int gai = getaddrinfo(lud->lud_host && *lud->lud_host ? lud->lud_host : "localhost", port, &hints, &ai);
    ldap_free_urldesc(lud);
    if (gai != 0)
        return sr_err_set(err, SR_E_CONNECT, "DC %s: cannot resolve host: %s", d->dc, gai_strerror(gai));
    sr_code rc = SR_E_CONNECT;
    int last_errno = 0;
    for (struct addrinfo *a = ai; a && rc != SR_OK; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            rc = SR_OK;
        } else if (errno == EINPROGRESS) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            int n = poll(&p, 1, timeout_ms);
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (n == 0) {
                rc = SR_E_TIMEOUT;
                last_errno = ETIMEDOUT;
            } else if (n > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0) {
                rc = SR_OK;
            } else {
                last_errno = soerr ? soerr : errno;
            }
        } else {
            last_errno = errno;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    if (rc == SR_E_TIMEOUT)
        return sr_err_set(err, SR_E_TIMEOUT, "DC %s: connect timed out after %d ms", d->dc, timeout_ms);
    if (rc != SR_OK)
        return sr_err_set(err, SR_E_CONNECT, "DC %s: connect: %s", d->dc, strerror(last_errno));
    return SR_OK;
}

/* Called by libldap right after the TCP connect, before any TLS handshake. */
static int on_connect(LDAP *ld, Sockbuf *sb, LDAPURLDesc *srv, struct sockaddr *addr,
                      struct ldap_conncb *ctx)
{
    (void)ld; (void)srv; (void)addr;
    ldapdir *d = ctx->lc_arg;
    ber_socket_t fd = -1;
    ber_sockbuf_ctrl(sb, LBER_SB_OPT_GET_FD, &fd);
    pthread_mutex_lock(&d->wd_mu);
    d->conn_fd = fd;
    pthread_mutex_unlock(&d->wd_mu);
    return 0;
}

/* Called before libldap closes a socket: the watchdog must not touch it. */
static void on_disconnect(LDAP *ld, Sockbuf *sb, struct ldap_conncb *ctx)
{
    (void)ld; (void)sb;
    ldapdir *d = ctx->lc_arg;
    pthread_mutex_lock(&d->wd_mu);
    d->conn_fd = -1;
    pthread_mutex_unlock(&d->wd_mu);
}

static void *watchdog(void *arg)
{
    ldapdir *d = arg;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += d->connect_timeout_ms / 1000;
    until.tv_nsec += (long)(d->connect_timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&d->wd_mu);
    int rc = 0;
    while (!d->wd_done && rc == 0)
        rc = pthread_cond_timedwait(&d->wd_cv, &d->wd_mu, &until);
    if (!d->wd_done && d->conn_fd >= 0) {
        shutdown(d->conn_fd, SHUT_RDWR);   /* the handshake's read sees EOF */
        d->wd_fired = 1;
    }
    pthread_mutex_unlock(&d->wd_mu);
    return NULL;
}

static sr_code set_options(ldapdir *d, const ldapdir_opts *o, int connect_ms, sr_err *err)
{
    int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;
    struct timeval ntv = tv_of(connect_ms), otv = tv_of(d->op_timeout_ms);
    int ok = ldap_set_option(d->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) == LDAP_OPT_SUCCESS &&
             ldap_set_option(d->ld, LDAP_OPT_REFERRALS,
                             o->chase_referrals ? LDAP_OPT_ON : LDAP_OPT_OFF) == LDAP_OPT_SUCCESS &&
             ldap_set_option(d->ld, LDAP_OPT_NETWORK_TIMEOUT, &ntv) == LDAP_OPT_SUCCESS &&
             ldap_set_option(d->ld, LDAP_OPT_TIMEOUT, &otv) == LDAP_OPT_SUCCESS &&
             ldap_set_option(d->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) == LDAP_OPT_SUCCESS;
    if (ok && o->ca_file)
        ok = ldap_set_option(d->ld, LDAP_OPT_X_TLS_CACERTFILE, o->ca_file) == LDAP_OPT_SUCCESS;
    if (ok && o->ca_dir)
        ok = ldap_set_option(d->ld, LDAP_OPT_X_TLS_CACERTDIR, o->ca_dir) == LDAP_OPT_SUCCESS;
    d->conncb = (ldap_conncb){ .lc_add = on_connect, .lc_del = on_disconnect, .lc_arg = d };
    if (ok)
        ok = ldap_set_option(d->ld, LDAP_OPT_CONNECT_CB, &d->conncb) == LDAP_OPT_SUCCESS;
    /* The per-connection TLS options take effect only in a new context. */
    if (ok)
        ok = ldap_set_option(d->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) == LDAP_OPT_SUCCESS;
    if (!ok)
        return sr_err_set(err, SR_E_TLS, "DC %s: cannot set TLS options (CA file '%s', CA dir '%s')",
                          d->dc, o->ca_file ? o->ca_file : "-", o->ca_dir ? o->ca_dir : "-");
    return SR_OK;
}

static sr_code open_tls(ldapdir *d, tls_mode mode, int connect_ms, sr_err *err)
{
    long t0 = sr_now_ms();
    pthread_t th;
    d->wd_done = d->wd_fired = 0;
    int have_wd = pthread_create(&th, NULL, watchdog, d) == 0;
    int rc = ldap_connect(d->ld);
    if (rc == LDAP_SUCCESS && mode == MODE_STARTTLS)
        rc = ldap_start_tls_s(d->ld, NULL, NULL);
    if (have_wd) {
        pthread_mutex_lock(&d->wd_mu);
        d->wd_done = 1;
        pthread_cond_signal(&d->wd_cv);
        pthread_mutex_unlock(&d->wd_mu);
        pthread_join(th, NULL);
    }
    if (rc == LDAP_SUCCESS && !d->wd_fired)
        return SR_OK;
    long spent = sr_now_ms() - t0;
    if (d->wd_fired || rc == LDAP_TIMEOUT || spent >= connect_ms - 50) {
        d->broken = 1;
        return sr_err_set(err, SR_E_TIMEOUT, "DC %s: no answer within %d ms (%s)", d->dc, connect_ms,
                          mode == MODE_PLAIN ? "connect" : "TLS handshake");
    }
    if (mode == MODE_PLAIN)
        return ldapdir__ldap_err(d, rc, "connect", err);
    /* StartTLS: a handshake that fails is LDAP_CONNECT_ERROR; a connection
     * closed before the server answered the request is a DC going away
     * (restarting, issue 11), to be tried again, not a trust problem. */
    if (mode == MODE_STARTTLS && rc == LDAP_SERVER_DOWN)
        return ldapdir__ldap_err(d, rc, "StartTLS (the connection was closed)", err);
    /* The TCP probe succeeded, so a failure here is the TLS layer's. */
    ldapdir__ldap_err(d, rc, mode == MODE_STARTTLS ? "StartTLS" : "LDAPS handshake", err);
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%.900s (server certificate not trusted? give the CA file)", err ? err->msg : "");
    return sr_err_set(err, SR_E_TLS, "%s", msg);
}

static int sasl_interact(LDAP *ld, unsigned flags, void *defaults, void *in)
{
    (void)ld; (void)flags; (void)defaults;
    /* GSSAPI needs no prompts: the identity is the Kerberos ticket's. */
    for (sasl_interact_t *i = in; i && i->id != SASL_CB_LIST_END; i++) {
        i->result = i->defresult ? i->defresult : "";
        i->len = (unsigned)strlen(i->result);
    }
    return LDAP_SUCCESS;
}

static sr_code bind_simple(ldapdir *d, const ldapdir_opts *o, sr_err *err)
{
    const char *who = o->account ? o->account : "";
    if (!*who || !o->password || !*o->password)
        /* RFC 4513 5.1.2: a name with an empty password is an unauthenticated
         * bind that "succeeds" — refuse it instead of reading nothing later. */
        return sr_err_set(err, SR_E_CONFIG, "DC %s: [AD] %s is empty", d->dc,
                          !*who ? "DCAccount" : "DCPassword");
    struct berval cred = { strlen(o->password), (char *)o->password };
    int msgid = -1;
    int rc = ldap_sasl_bind(d->ld, who, LDAP_SASL_SIMPLE, &cred, NULL, NULL, &msgid);
    if (rc != LDAP_SUCCESS)
        return ldapdir__ldap_err(d, rc, "bind", err);
    struct timeval tv = tv_of(d->op_timeout_ms);
    LDAPMessage *res = NULL;
    int got = ldap_result(d->ld, msgid, LDAP_MSG_ALL, &tv, &res);
    if (got == 0) {
        ldap_abandon_ext(d->ld, msgid, NULL, NULL);
        d->broken = 1;
        return sr_err_set(err, SR_E_TIMEOUT, "DC %s: bind as '%s': no answer within %d ms",
                          d->dc, who, d->op_timeout_ms);
    }
    if (got < 0) {
        ldap_get_option(d->ld, LDAP_OPT_RESULT_CODE, &rc);
        return ldapdir__ldap_err(d, rc ? rc : LDAP_SERVER_DOWN, "bind", err);
    }
    int prc = ldap_parse_result(d->ld, res, &rc, NULL, NULL, NULL, NULL, 1);
    if (prc != LDAP_SUCCESS)
        rc = prc;
    if (rc == LDAP_SUCCESS)
        return SR_OK;
    char what[300];
    snprintf(what, sizeof what, "bind as '%s'", who);
    sr_code c = ldapdir__ldap_err(d, rc, what, err);
    if (rc == LDAP_INVALID_DN_SYNTAX) {
        /* slapd takes only DNs; AD also takes DOMAIN\user and user@domain. */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.900s (this server accepts only a DN as DCAccount)", err ? err->msg : "");
        c = sr_err_set(err, SR_E_AUTH, "%s", msg);
    } else if (rc == LDAP_STRONG_AUTH_REQUIRED || rc == LDAP_CONFIDENTIALITY_REQUIRED) {
        /* AD (LDAP signing requirements) refuses simple binds without TLS. */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.600s (the DC requires TLS for a simple bind: give [AD] DCName as a host "
                 "name or ldaps:// URI for LDAPS on port 636, or an ldap:// URI for StartTLS, and a CA "
                 "file that verifies the DC's certificate)", err ? err->msg : "");
        c = sr_err_set(err, SR_E_AUTH, "%s", msg);
    }
    return c;
}

static sr_code bind_gssapi(ldapdir *d, tls_mode mode, sr_err *err)
{
    /* AD refuses GSSAPI sign/seal inside TLS (one protection layer only), and
     * without TLS it is sign/seal that protects the connection: ask for it. */
    const char *secprops = mode == MODE_PLAIN ? "minssf=56" : "maxssf=0";
    if (ldap_set_option(d->ld, LDAP_OPT_X_SASL_SECPROPS, secprops) != LDAP_OPT_SUCCESS)
        return sr_err_set(err, SR_E_UNSUPPORTED, "DC %s: SASL not available in this libldap", d->dc);
    int rc = ldap_sasl_interactive_bind_s(d->ld, NULL, "GSSAPI", NULL, NULL, LDAP_SASL_QUIET,
                                          sasl_interact, NULL);
    if (rc == LDAP_SUCCESS)
        return SR_OK;
    if (rc == LDAP_AUTH_UNKNOWN || rc == LDAP_NOT_SUPPORTED)
        return sr_err_set(err, SR_E_UNSUPPORTED, "DC %s: SASL GSSAPI not available: %s",
                          d->dc, ldap_err2string(rc));
    sr_code c = ldapdir__ldap_err(d, rc, "SASL GSSAPI bind (Kerberos ticket?)", err);
    if (c == SR_E_SERVER || c == SR_E_INVALID) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%.1000s", err ? err->msg : "GSSAPI bind failed");
        c = sr_err_set(err, SR_E_AUTH, "%s", msg);
    }
    return c;
}

/* RootDSE: defaultNamingContext / configurationNamingContext (AD), else the
 * first namingContexts value (slapd), configuration = CN=Configuration,<base>. */
static sr_code read_rootdse(ldapdir *d, const ldapdir_opts *o, sr_err *err)
{
    char *attrs[] = { "defaultNamingContext", "configurationNamingContext", "namingContexts", NULL };
    struct timeval tv = tv_of(d->op_timeout_ms);
    LDAPMessage *res = NULL;
    d->searches++;
    int rc = ldap_search_ext_s(d->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
                               NULL, NULL, &tv, 1, &res);
    char *found[3] = { NULL, NULL, NULL };
    if (rc == LDAP_SUCCESS) {
        LDAPMessage *e = ldap_first_entry(d->ld, res);
        for (int i = 0; e && i < 3; i++) {
            struct berval **v = ldap_get_values_len(d->ld, e, attrs[i]);
            if (v && v[0])
                found[i] = strndup(v[0]->bv_val, v[0]->bv_len);
            ldap_value_free_len(v);
        }
    }
    if (res)
        ldap_msgfree(res);
    if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT && rc != LDAP_INSUFFICIENT_ACCESS) {
        free(found[0]); free(found[1]); free(found[2]);
        return ldapdir__ldap_err(d, rc, "read RootDSE", err);
    }
    d->base = o->base ? sr_strdup(o->base) : found[0] ? sr_strdup(found[0]) : found[2] ? sr_strdup(found[2]) : NULL;
    d->config_base = o->config_base ? sr_strdup(o->config_base) : found[1] ? sr_strdup(found[1])
                   : d->base ? sr_asprintf("CN=Configuration,%s", d->base) : NULL;
    free(found[0]); free(found[1]); free(found[2]);
    if (!d->base)
        return sr_err_set(err, SR_E_CONFIG, "DC %s: no search base given and the RootDSE names none", d->dc);
    return SR_OK;
}

/* Set by ldapdir_no_sasl_plugins: SASL was (or will be) started without its
 * mechanisms, so a GSSAPI bind cannot work in this process. */
static int no_sasl_plugins;

void ldapdir_no_sasl_plugins(void)
{
    static char dev_null[] = "/dev/null";   /* sasl_set_path takes a char * */
    /* Cyrus SASL reads its plugin path once, in the sasl_client_init that
     * libldap's first ldap_initialize makes; /dev/null is never a directory,
     * so no plugin is opened.  Simple binds do not go through SASL. */
    if (!no_sasl_plugins && sasl_set_path(SASL_PATH_TYPE_PLUGIN, dev_null) == SASL_OK)
        no_sasl_plugins = 1;
}

static sr_code open_and_bind(ldapdir *d, const ldapdir_opts *o, sr_err *err)
{
    tls_mode mode = MODE_LDAPS;
    if (o->bind == LDAPDIR_BIND_GSSAPI && no_sasl_plugins)
        return sr_err_set(err, SR_E_UNSUPPORTED,
                          "DC %s: GSSAPI asked for in a process that started SASL without its plugins "
                          "(ldapdir_no_sasl_plugins)", d->dc);
    sr_code rc = make_uri(o, &d->uri, &mode, err);
    if (rc != SR_OK)
        return rc;
    if (o->ca_file && access(o->ca_file, R_OK) != 0)
        return sr_err_set(err, SR_E_CONFIG, "DC %s: CA file %s: %s", d->dc, o->ca_file, strerror(errno));
    int connect_ms = d->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : DEF_CONNECT_MS;
    if ((rc = tcp_probe(d, connect_ms, err)) != SR_OK)
        return rc;
    int lrc = ldap_initialize(&d->ld, d->uri);
    if (lrc != LDAP_SUCCESS)
        return ldapdir__ldap_err(d, lrc, "initialize", err);
    if ((rc = set_options(d, o, connect_ms, err)) != SR_OK ||
        (rc = open_tls(d, mode, connect_ms, err)) != SR_OK)
        return rc;
    rc = o->bind == LDAPDIR_BIND_GSSAPI ? bind_gssapi(d, mode, err) : bind_simple(d, o, err);
    if (rc != SR_OK)
        return rc;
    return read_rootdse(d, o, err);
}

/* The options of o without the password, strings copied into the handle. */
static sr_code keep_opts(ldapdir *d, const ldapdir_opts *o, sr_err *err)
{
    d->o = *o;
    d->o.password = NULL;
    const char **fields[] = { &d->o.dc, &d->o.account, &d->o.ca_file, &d->o.ca_dir, &d->o.base,
                              &d->o.config_base };
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        if (!*fields[i])
            continue;
        if (!(d->owned[i] = sr_strdup(*fields[i])))
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        *fields[i] = d->owned[i];
    }
    return SR_OK;
}

/* Drop the connection (if any) and what was read over it; then connect,
 * bind and read the RootDSE again. */
static sr_code connect_once(ldapdir *d, const char *password, sr_err *err)
{
    if (d->ld)
        ldap_unbind_ext_s(d->ld, NULL, NULL);
    d->ld = NULL;
    free(d->uri);
    free(d->base);
    free(d->config_base);
    d->uri = d->base = d->config_base = NULL;
    d->broken = 0;
    ldapdir_opts o = d->o;
    o.password = password;
    sr_code rc = open_and_bind(d, &o, err);
    if (rc != SR_OK)
        d->broken = 1;
    return rc;
}

static void pause_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static long pause_for(const ldapdir *d, int attempt)
{
    return (long)attempt * (d->o.reconnect_pause_ms > 0 ? d->o.reconnect_pause_ms : 1000);
}

sr_code ldapdir__reconnect(ldapdir *d, int attempt, sr_err *err)
{
    pause_ms(pause_for(d, attempt));
    char *pw = NULL;
    if (d->o.password_again && d->o.password_again(d->o.password_arg, &pw, err) != SR_OK) {
        sr_err_prefix(err, "DC %s: reconnect: ", d->dc);
        return err->code;
    }
    sr_code rc = connect_once(d, pw, err);
    sr_secret_free(pw);
    return rc;
}

sr_code ldapdir_connect(const ldapdir_opts *o, ldapdir **out, sr_err *err)
{
    *out = NULL;
    sr_err_clear(err);
    ldapdir *d = calloc(1, sizeof *d);
    if (!d)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    pthread_mutex_init(&d->wd_mu, NULL);
    pthread_cond_init(&d->wd_cv, NULL);
    d->conn_fd = -1;
    d->dc = sr_strdup(o->dc ? o->dc : "");
    d->mapping_attr = sr_strdup(o->mapping_attr && *o->mapping_attr ? o->mapping_attr
                                                                    : LDAPDIR_DEFAULT_MAPPING_ATTR);
    d->op_timeout_ms = o->op_timeout_ms > 0 ? o->op_timeout_ms : DEF_OP_MS;
    d->page_size = o->page_size == 0 ? DEF_PAGE : o->page_size;
    d->max_pages = o->max_pages > 0 ? o->max_pages : DEF_MAX_PAGES;
    d->batch_size = o->batch_size > 0 ? o->batch_size : DEF_BATCH;
    sr_code rc = SR_E_NOMEM;
    if (!d->dc || !d->mapping_attr || keep_opts(d, o, err) != SR_OK)
        sr_err_set(err, rc, "out of memory");
    else if (strspn(d->mapping_attr, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
             != strlen(d->mapping_attr))
        rc = sr_err_set(err, SR_E_CONFIG, "DC %s: mapping attribute '%s' is not an attribute name",
                        d->dc, d->mapping_attr);
    else
        rc = connect_once(d, o->password, err);
    /* a DC that is restarting refuses for a while: the caller's password is
     * still in hand, so no password_again here */
    for (int a = 1; rc != SR_OK && sr_default_class(rc) == SR_CLASS_RETRY && a <= o->reconnects; a++) {
        sr_log(SR_LOG_WARN, d->dc, "%s; connecting again in %ld ms (%d of %d)", err->msg,
               pause_for(d, a), a, o->reconnects);
        pause_ms(pause_for(d, a));
        rc = connect_once(d, o->password, err);
    }
    if (rc != SR_OK) {
        ldapdir_free(d);
        return rc;
    }
    sr_log(SR_LOG_DEBUG, d->dc, "connected (%s), base %s", d->uri, d->base);
    *out = d;
    return SR_OK;
}

void ldapdir_free(ldapdir *d)
{
    if (!d)
        return;
    if (d->ld)
        ldap_unbind_ext_s(d->ld, NULL, NULL);
    ldapdir__recipients_free(d);
    free(d->dc);
    free(d->uri);
    free(d->base);
    free(d->config_base);
    free(d->mapping_attr);
    for (size_t i = 0; i < sizeof d->owned / sizeof *d->owned; i++)
        free(d->owned[i]);
    pthread_mutex_destroy(&d->wd_mu);
    pthread_cond_destroy(&d->wd_cv);
    free(d);
}

unsigned long ldapdir_search_count(const ldapdir *d) { return d->searches; }
const char *ldapdir_dc(const ldapdir *d) { return d->dc; }
const char *ldapdir_base(const ldapdir *d) { return d->base; }
const char *ldapdir_config_base(const ldapdir *d) { return d->config_base; }
