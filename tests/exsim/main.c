/* main.c — bin/exsim: command line, schema and seed loading, the HTTP
 * daemon on 127.0.0.1, port/pid files, clean stop on SIGTERM/SIGINT with an
 * optional state dump.  See tests/exsim/README.md for the options. */
#include "tests/exsim/graph.h"
#include "tests/exsim/server.h"
#include "util/util.h"

#include <errno.h>
#include <getopt.h>
#include <libxml/parser.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

exsim_server exsim_srv = { .store_lock = PTHREAD_MUTEX_INITIALIZER };

static void usage(FILE *f)
{
    fprintf(f,
        "usage: exsim --seed FILE [options]\n"
        "  --port N               listen on 127.0.0.1:N (0 = a free port; default 0)\n"
        "  --port-file F          write the bound port to F\n"
        "  --pid-file F           write the PID to F\n"
        "  --schemas DIR          EWS schemas (messages.xsd); default $SHARED_DIR/protocol/ews\n"
        "  --graph-csdl F|none    Graph v1.0 metadata checking Graph bodies; default\n"
        "                         $SHARED_DIR/protocol/graph/v1.0-cleanMetadata.xml when present\n"
        "  --tls-cert F --tls-key F  serve HTTPS with this PEM certificate/key\n"
        "  --dump-on-exit F       write the store's state (XML) to F on SIGTERM\n"
        "  --validate-responses   validate our own responses (500 + log on violation)\n"
        "  --get-redirect URL     GET/HEAD /autodiscover/autodiscover.xml answers 302 to URL\n"
        "  --redirect-url D=URL   Autodiscover for addresses @D answers redirectUrl URL\n"
        "  --no-bearer            do not offer Bearer in WWW-Authenticate\n"
        "  --www-auth LIST        schemes offered and accepted: negotiate,ntlm,basic,bearer (default all)\n"
        "  --keytab F             Negotiate: Kerberos acceptor keys (HTTP/<host> keytab)\n"
        "  --ntlm-hashes F        NTLM: NAME:NT-HASH lines (else MD4 of the seed passwords)\n"
        "  --jwks URL|FILE        Bearer: RS256 JWTs signed by this key set (URL on 127.0.0.1)\n"
        "  --jwt-issuer ISS --jwt-audience AUD --jwt-role ROLE --jwt-account NAME\n"
        "                         what a JWT must carry (audience default https://outlook.office365.com,\n"
        "                         role full_access_as_app) and the account it acts as (default admin)\n"
        "  --clock-offset S       (tests) the simulator's clock runs S seconds ahead\n"
        "  --max-request-bytes N  request body limit (default 8388608)\n"
        "  injection: --rtt-ms N --max-concurrency K --backoff-ms N --fail-rate P\n"
        "             --fail-seed N --fail-nth N --fail-status S --drop-nth N --slow-body-ms N\n"
        "             --ews-blocked 1   (EWS answers HTTP 403, as Exchange Online with EWS disabled)\n"
        "             --graph-concurrency K (default 4: Graph 429 past K requests in flight per mailbox)\n"
        "             --graph-throttle-next N --graph-retry-after S (the next N Graph requests: 429)\n"
        "             --graph-batch-throttle-next N (the next N $batch requests: 429 for the whole batch)\n"
        "  Graph (/v1.0, /beta): bearer JWTs for aud https://graph.microsoft.com from the same --jwks\n"
        "  and --jwt-issuer, roles checked per endpoint; without --jwks the seed's opaque tokens\n");
}

enum { O_PORT = 1000, O_PORT_FILE, O_PID_FILE, O_SEED, O_SCHEMAS, O_CERT, O_KEY, O_DUMP,
       O_VALRESP, O_GETREDIR, O_REDIRURL, O_NOBEARER, O_WWWAUTH, O_MAXREQ, O_HELP, O_INJECT,
       O_KEYTAB, O_NTLMHASH, O_JWKS, O_JWTISS, O_JWTAUD, O_JWTROLE, O_JWTACCT, O_CLOCK, O_CSDL };

static const struct option opts[] = {
    { "port", required_argument, NULL, O_PORT },
    { "port-file", required_argument, NULL, O_PORT_FILE },
    { "pid-file", required_argument, NULL, O_PID_FILE },
    { "seed", required_argument, NULL, O_SEED },
    { "schemas", required_argument, NULL, O_SCHEMAS },
    { "graph-csdl", required_argument, NULL, O_CSDL },
    { "tls-cert", required_argument, NULL, O_CERT },
    { "tls-key", required_argument, NULL, O_KEY },
    { "dump-on-exit", required_argument, NULL, O_DUMP },
    { "validate-responses", no_argument, NULL, O_VALRESP },
    { "get-redirect", required_argument, NULL, O_GETREDIR },
    { "redirect-url", required_argument, NULL, O_REDIRURL },
    { "no-bearer", no_argument, NULL, O_NOBEARER },
    { "www-auth", required_argument, NULL, O_WWWAUTH },
    { "max-request-bytes", required_argument, NULL, O_MAXREQ },
    { "keytab", required_argument, NULL, O_KEYTAB },
    { "ntlm-hashes", required_argument, NULL, O_NTLMHASH },
    { "jwks", required_argument, NULL, O_JWKS },
    { "jwt-issuer", required_argument, NULL, O_JWTISS },
    { "jwt-audience", required_argument, NULL, O_JWTAUD },
    { "jwt-role", required_argument, NULL, O_JWTROLE },
    { "jwt-account", required_argument, NULL, O_JWTACCT },
    { "clock-offset", required_argument, NULL, O_CLOCK },
    { "help", no_argument, NULL, O_HELP },
    { "rtt-ms", required_argument, NULL, O_INJECT },
    { "max-concurrency", required_argument, NULL, O_INJECT },
    { "backoff-ms", required_argument, NULL, O_INJECT },
    { "fail-rate", required_argument, NULL, O_INJECT },
    { "fail-seed", required_argument, NULL, O_INJECT },
    { "fail-nth", required_argument, NULL, O_INJECT },
    { "fail-status", required_argument, NULL, O_INJECT },
    { "drop-nth", required_argument, NULL, O_INJECT },
    { "slow-body-ms", required_argument, NULL, O_INJECT },
    { "ews-blocked", required_argument, NULL, O_INJECT },
    { "graph-concurrency", required_argument, NULL, O_INJECT },
    { "graph-throttle-next", required_argument, NULL, O_INJECT },
    { "graph-retry-after", required_argument, NULL, O_INJECT },
    { "graph-batch-throttle-next", required_argument, NULL, O_INJECT },
    { NULL, 0, NULL, 0 },
};

static int parse_offer(const char *list)
{
    static const struct { const char *name; unsigned bit; } names[] = {
        { "negotiate", EXSIM_OFFER_NEGOTIATE }, { "ntlm", EXSIM_OFFER_NTLM },
        { "basic", EXSIM_OFFER_BASIC }, { "bearer", EXSIM_OFFER_BEARER },
    };
    exsim_srv.offer = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        size_t i;
        for (i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strlen(names[i].name) == n && !strncasecmp(p, names[i].name, n))
                break;
        if (i == sizeof names / sizeof names[0]) {
            fprintf(stderr, "exsim: --www-auth: unknown scheme '%.*s' (negotiate, ntlm, basic, bearer)\n",
                    (int)n, p);
            return -1;
        }
        exsim_srv.offer |= names[i].bit;
        p += n + (p[n] == ',');
    }
    return 0;
}

static int parse_args(int argc, char **argv, exsim_inject *inj)
{
    int c, idx = 0;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
        switch (c) {
        case O_PORT:
            exsim_srv.port = (int)strtol(optarg, &end, 10);
            if (*end || exsim_srv.port < 0 || exsim_srv.port > 65535) {
                fprintf(stderr, "exsim: --port: expected 0..65535, got '%s'\n", optarg);
                return -1;
            }
            break;
        case O_PORT_FILE: exsim_srv.port_file = optarg; break;
        case O_PID_FILE: exsim_srv.pid_file = optarg; break;
        case O_SEED: exsim_srv.seed = optarg; break;
        case O_SCHEMAS: exsim_srv.schemas_dir = optarg; break;
        case O_CSDL: exsim_srv.graph_csdl = optarg; break;
        case O_CERT: exsim_srv.tls_cert = optarg; break;
        case O_KEY: exsim_srv.tls_key = optarg; break;
        case O_DUMP: exsim_srv.dump_on_exit = optarg; break;
        case O_VALRESP: exsim_srv.validate_responses = 1; break;
        case O_GETREDIR: exsim_srv.get_redirect = optarg; break;
        case O_NOBEARER: exsim_srv.no_bearer = 1; break;
        case O_KEYTAB: exsim_srv.keytab = optarg; break;
        case O_NTLMHASH: exsim_srv.ntlm_hashes = optarg; break;
        case O_JWKS: exsim_srv.jwks = optarg; break;
        case O_JWTISS: exsim_srv.jwt_issuer = optarg; break;
        case O_JWTAUD: exsim_srv.jwt_audience = optarg; break;
        case O_JWTROLE: exsim_srv.jwt_role = optarg; break;
        case O_JWTACCT: exsim_srv.jwt_account = optarg; break;
        case O_CLOCK:
            exsim_srv.clock_offset = strtol(optarg, &end, 10);
            if (*end || !*optarg) {
                fprintf(stderr, "exsim: --clock-offset: expected seconds, got '%s'\n", optarg);
                return -1;
            }
            break;
        case O_WWWAUTH:
            if (parse_offer(optarg))
                return -1;
            break;
        case O_REDIRURL: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || !eq[1] || exsim_srv.n_redirects == EXSIM_MAX_REDIRECTS) {
                fprintf(stderr, "exsim: --redirect-url: expected DOMAIN=URL, got '%s'\n", optarg);
                return -1;
            }
            *eq = '\0';
            exsim_srv.redirect_dom[exsim_srv.n_redirects] = optarg;
            exsim_srv.redirect_url[exsim_srv.n_redirects++] = eq + 1;
            break;
        }
        case O_MAXREQ: {
            long long v = strtoll(optarg, &end, 10);
            if (*end || v < 1024) {
                fprintf(stderr, "exsim: --max-request-bytes: expected >= 1024, got '%s'\n", optarg);
                return -1;
            }
            exsim_srv.max_request_bytes = (size_t)v;
            break;
        }
        case O_INJECT:
            if (exsim_inject_set(inj, opts[idx].name, optarg)) {
                fprintf(stderr, "exsim: --%s: bad value '%s'\n", opts[idx].name, optarg);
                return -1;
            }
            break;
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "exsim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!exsim_srv.seed) {
        fprintf(stderr, "exsim: --seed FILE is required\n");
        return -1;
    }
    if (!exsim_srv.tls_cert != !exsim_srv.tls_key) {
        fprintf(stderr, "exsim: --tls-cert and --tls-key go together\n");
        return -1;
    }
    return 0;
}

static void load_schemas(void)
{
    char def[4096];
    const char *dir = exsim_srv.schemas_dir;
    if (!dir) {
        const char *sh = getenv("SHARED_DIR");
        snprintf(def, sizeof def, "%s/protocol/ews", sh && *sh ? sh : "../shared");
        dir = def;
    }
    if (exsim_schema_load(dir) != 0)
        fprintf(stderr, "exsim: WARNING: EWS schemas not loaded from %s: requests are NOT validated "
                        "(give --schemas DIR or set SHARED_DIR)\n", dir);
}

/* The Graph v1.0 metadata: given, or the shared copy when there is one. */
static int load_csdl(void)
{
    char def[4096];
    const char *path = exsim_srv.graph_csdl;
    if (path && !strcmp(path, "none"))
        return 0;
    if (!path) {
        const char *sh = getenv("SHARED_DIR");
        snprintf(def, sizeof def, "%s/protocol/graph/v1.0-cleanMetadata.xml", sh && *sh ? sh : "../shared");
        if (access(def, R_OK) != 0) {
            fprintf(stderr, "exsim: WARNING: no Graph metadata at %s: Graph bodies are NOT checked "
                            "(give --graph-csdl FILE or set SHARED_DIR)\n", def);
            return 0;
        }
        path = def;
    }
    return exsim_graph_csdl_load(path);
}

static int write_small(const char *path, long value)
{
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld\n", value);
    sr_err e;
    if (sr_write_file_atomic(path, buf, (size_t)n, 0644, 0, &e) != SR_OK) {
        fprintf(stderr, "exsim: %s\n", e.msg);
        return -1;
    }
    return 0;
}

static void dump_state(void)
{
    pthread_mutex_lock(&exsim_srv.store_lock);
    xmlDocPtr d = exsim_org_dump(exsim_srv.org);
    pthread_mutex_unlock(&exsim_srv.store_lock);
    xmlChar *buf = NULL;
    int n = 0;
    if (d)
        xmlDocDumpFormatMemoryEnc(d, &buf, &n, "utf-8", 1);
    sr_err e;
    if (!buf || sr_write_file_atomic(exsim_srv.dump_on_exit, buf, (size_t)n, 0600, 0, &e) != SR_OK)
        fprintf(stderr, "exsim: --dump-on-exit %s: %s\n", exsim_srv.dump_on_exit,
                buf ? e.msg : "the store gave no state");
    xmlFree(buf);
    xmlFreeDoc(d);
}

static char *read_pem(const char *path, const char *what)
{
    sr_err e;
    char *s = sr_read_file(path, 1 << 20, NULL, &e);
    if (!s)
        fprintf(stderr, "exsim: --%s %s: %s\n", what, path, e.msg);
    return s;
}

int main(int argc, char **argv)
{
    exsim_inject inj = { .fail_status = 500, .backoff_ms = 1000,
                         .graph_concurrency = EXSIM_GRAPH_CONCURRENCY, .graph_retry_after = 1 };
    exsim_srv.max_request_bytes = 8u << 20;
    exsim_srv.offer = EXSIM_OFFER_NEGOTIATE | EXSIM_OFFER_NTLM | EXSIM_OFFER_BASIC | EXSIM_OFFER_BEARER;
    if (parse_args(argc, argv, &inj))
        return 2;
    xmlInitParser();
    exsim_inject_init(&inj);
    exsim_stats_init();
    char err[1024] = "";
    exsim_srv.org = exsim_org_load(exsim_srv.seed, err, sizeof err);
    if (!exsim_srv.org) {
        fprintf(stderr, "exsim: --seed %s: %s\n", exsim_srv.seed, err);
        return 1;
    }
    load_schemas();
    if (load_csdl())
        return 1;
    if (exsim_auth_init())
        return 1;
    char *cert = NULL, *key = NULL;
    if (exsim_srv.tls_cert) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            fprintf(stderr, "exsim: this libmicrohttpd has no TLS support\n");
            return 1;
        }
        cert = read_pem(exsim_srv.tls_cert, "tls-cert");
        key = cert ? read_pem(exsim_srv.tls_key, "tls-key") : NULL;
        if (!key)
            return 1;
        exsim_srv.tls = 1;
    }
    /* Threads inherit this mask, so only sigwait below sees the signals. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct MHD_Daemon *d = exsim_http_start(exsim_srv.port, cert, key, &exsim_srv.bound_port);
    if (!d) {
        fprintf(stderr, "exsim: cannot listen on 127.0.0.1:%d: %s\n", exsim_srv.port, strerror(errno));
        return 1;
    }
    snprintf(exsim_srv.base_url, sizeof exsim_srv.base_url, "%s://127.0.0.1:%d",
             exsim_srv.tls ? "https" : "http", exsim_srv.bound_port);
    /* The port file comes last: tests take it as "ready". */
    if ((exsim_srv.pid_file && write_small(exsim_srv.pid_file, (long)getpid())) ||
        (exsim_srv.port_file && write_small(exsim_srv.port_file, exsim_srv.bound_port))) {
        MHD_stop_daemon(d);
        return 1;
    }
    printf("exsim: listening on %s (org %s, schemas %s)\n", exsim_srv.base_url,
           exsim_org_domain(exsim_srv.org), exsim_srv.schema ? "loaded" : "ABSENT");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    if (exsim_srv.dump_on_exit)
        dump_state();
    fprintf(stderr, "exsim: stopped (signal %d)\n", sig);
    exsim_auth_cleanup();
    exsim_org_free(exsim_srv.org);
    exsim_schema_free();
    exsim_graph_csdl_free();
    sr_secret_free(key);
    free(cert);
    xmlCleanupParser();
    return 0;
}
