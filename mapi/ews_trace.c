/* ews_trace.c — what a transport failure means in plain words (the spec's
 * "Dealing with Autodiscover service issues" table), and HTTP tracing on
 * demand (SR_EWS_DEBUG=1 headers, 2 bodies) with credentials, cookies, NTLM
 * blobs, client secrets and tokens redacted before anything is written. */
#include "mapi/ews_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- plain words (the spec's "Dealing with Autodiscover service issues") - */
const char *mapi_curl_words(CURLcode cc, sr_code *code)
{
    sr_code c = SR_E_CONNECT;
    const char *w;
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
        w = "the server name or address could not be resolved"; break;
    case CURLE_COULDNT_RESOLVE_PROXY:
        w = "the proxy server name could not be resolved"; break;
    case CURLE_COULDNT_CONNECT:
        w = "a connection with the server could not be established"; break;
    case CURLE_OPERATION_TIMEDOUT:
        c = SR_E_TIMEOUT; w = "the server did not answer in time"; break;
    case CURLE_PEER_FAILED_VERIFICATION:
        c = SR_E_TLS; w = "the server's certificate is not trusted (TLS verification failed)"; break;
    case CURLE_SSL_CONNECT_ERROR:
        c = SR_E_TLS; w = "the TLS handshake with the server failed (certificate not trusted or not TLS)"; break;
    case CURLE_SSL_CACERT_BADFILE:
        c = SR_E_TLS; w = "the CA file or directory could not be read"; break;
    case CURLE_SSL_CERTPROBLEM:
        c = SR_E_TLS; w = "a problem with the local client certificate"; break;
    case CURLE_WRITE_ERROR:
        c = SR_E_LIMIT; w = "the response is larger than the configured limit"; break;
    case CURLE_GOT_NOTHING:
        w = "the server closed the connection without answering"; break;
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
        w = "the connection broke while talking to the server"; break;
    case CURLE_TOO_MANY_REDIRECTS:
        c = SR_E_PROTOCOL; w = "too many HTTP redirects"; break;
    case CURLE_UNSUPPORTED_PROTOCOL:
        c = SR_E_PROTOCOL; w = "the URL scheme is not allowed (https is required)"; break;
    case CURLE_URL_MALFORMAT:
        c = SR_E_INVALID; w = "the URL is malformed"; break;
    case CURLE_LOGIN_DENIED:
        c = SR_E_AUTH; w = "authorization was refused: credentials are invalid"; break;
    case CURLE_OUT_OF_MEMORY:
        c = SR_E_NOMEM; w = "out of memory"; break;
    default:
        c = SR_E_PROTOCOL; w = curl_easy_strerror(cc); break;
    }
    if (code)
        *code = c;
    return w;
}

const char *mapi_http_words(long status, sr_code *code)
{
    sr_code c = SR_E_SERVER;
    const char *w = "the server reported an error";
    switch (status) {
    case 401: c = SR_E_AUTH; w = "authorization was refused: credentials are invalid"; break;
    case 403: c = SR_E_ACCESS; w = "access is denied for the account used"; break;
    case 404: c = SR_E_NOTFOUND; w = "no service at this URL (wrong URL)"; break;
    case 456: c = SR_E_AUTH; w = "multi-factor authentication is required"; break;
    case 500: w = "internal server error"; break;
    case 502: case 504: w = "a gateway or proxy could not reach the server"; break;
    case 503: c = SR_E_BUSY; w = "the service is unavailable (busy or throttling)"; break;
    default:
        if (status >= 300 && status < 400) { c = SR_E_PROTOCOL; w = "unexpected HTTP redirect"; }
        else if (status >= 400 && status < 500) { c = SR_E_PROTOCOL; w = "the server refused the request"; }
        break;
    }
    if (code)
        *code = c;
    return w;
}

/* ---- redaction for tracing ---------------------------------------------- */
static const char *const secret_headers[] = {
    "authorization:", "proxy-authorization:", "cookie:", "set-cookie:",
    "www-authenticate:", "proxy-authenticate:",
};

static void redact_header_line(char *line)
{
    for (size_t i = 0; i < sizeof secret_headers / sizeof secret_headers[0]; i++) {
        size_t n = strlen(secret_headers[i]);
        if (strncasecmp(line, secret_headers[i], n) != 0)
            continue;
        char *p = line + n;
        while (*p == ' ')
            p++;
        /* keep the scheme name ("Basic", "NTLM", "Bearer") — it helps and is no secret */
        char *sp = p;
        while (*sp && *sp != ' ' && *sp != '\r' && *sp != '\n' && *sp != ';' && *sp != '=')
            sp++;
        char *keep_end = (*sp == ' ' && i != 2 && i != 3) ? sp : p;
        char *eol = keep_end + strcspn(keep_end, "\r\n");
        const char *tag = keep_end == p ? "[redacted]" : " [redacted]";
        size_t tl = strlen(tag);
        if ((size_t)(eol - keep_end) >= tl) {
            memcpy(keep_end, tag, tl);
            memmove(keep_end + tl, eol, strlen(eol) + 1);
        } else {
            memset(keep_end, '*', (size_t)(eol - keep_end));
        }
        return;
    }
}

/* Blank the value after key up to a delimiter in place. */
static void blank_after(char *s, const char *key, const char *stops)
{
    size_t kl = strlen(key);
    for (char *p = strcasestr(s, key); p; p = strcasestr(p + kl, key)) {
        char *v = p + kl;
        size_t n = strcspn(v, stops);
        memset(v, '*', n);
    }
}

char *mapi_trace_redact(const char *data, size_t len, int is_header)
{
    char *s = malloc(len + 1);
    if (!s)
        return NULL;
    memcpy(s, data, len);
    s[len] = '\0';
    for (size_t i = 0; i < len; i++)  /* binary bodies: keep the trace printable */
        if (s[i] == '\0')
            s[i] = '.';
    if (is_header) {
        for (char *line = s; line && *line;) {
            redact_header_line(line);
            char *nl = strchr(line, '\n');
            line = nl ? nl + 1 : NULL;
        }
        return s;
    }
    blank_after(s, "client_secret=", "&\r\n");
    blank_after(s, "client_assertion=", "&\r\n");   /* a signed credential, replayable */
    blank_after(s, "password=", "&\r\n");
    blank_after(s, "\"access_token\":\"", "\"");
    blank_after(s, "\"access_token\": \"", "\"");
    blank_after(s, "\"refresh_token\":\"", "\"");
    blank_after(s, "\"refresh_token\": \"", "\"");
    blank_after(s, "\"id_token\":\"", "\"");
    blank_after(s, "Password>", "<");
    return s;
}

int mapi_trace_cb(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    (void)h;
    const char *who = ud;
    int level = 0;
    const char *dir = "";
    switch (type) {
    case CURLINFO_HEADER_OUT: level = 1; dir = ">"; break;
    case CURLINFO_HEADER_IN: level = 1; dir = "<"; break;
    case CURLINFO_DATA_OUT: level = 2; dir = ">>"; break;
    case CURLINFO_DATA_IN: level = 2; dir = "<<"; break;
    default: return 0;
    }
    const char *env = getenv("SR_EWS_DEBUG");
    if (!env || atoi(env) < level)
        return 0;
    char *r = mapi_trace_redact(data, size, level == 1);
    if (r) {
        size_t n = strlen(r);
        while (n && (r[n - 1] == '\n' || r[n - 1] == '\r'))
            r[--n] = '\0';
        sr_log(SR_LOG_NOTICE, who, "http %s %s", dir, r);
        free(r);
    }
    return 0;
}
