/* adcheck.c — "Test Autodiscover service availability" (spec: Advanced
 * Tuning step): the wizard checks that each configured Autodiscover URL
 * answers, without checking credentials.  Any HTTP status counts as an
 * answer (an Autodiscover endpoint usually says 401 to a request without
 * credentials); no connection, a TLS failure or a timeout does not.
 * TLS is verified; CPUU_CA_FILE adds trust anchors as for the engine. */
#include "configs/wizard/wizard.h"

#include <curl/curl.h>
#include <stdlib.h>

#define AD_TIMEOUT_S 15L

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static sr_code probe(const char *what, const char *url, FILE *out, sr_err *err)
{
    CURL *c = curl_easy_init();
    if (!c)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    const char *ca = getenv("CPUU_CA_FILE");
    if (!ca)
        ca = getenv("SWITCHRESMB_CA_FILE");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, AD_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, AD_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "127.0.0.1,::1,localhost");
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fprintf(out, "  %s %s: NO ANSWER (%s)\n", what, url, curl_easy_strerror(rc));
        return sr_err_set(err, rc == CURLE_OPERATION_TIMEDOUT ? SR_E_TIMEOUT
                               : rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR
                                   ? SR_E_TLS : SR_E_CONNECT,
                          "%s %s does not answer: %s", what, url, curl_easy_strerror(rc));
    }
    fprintf(out, "  %s %s: answers (HTTP %ld)\n", what, url, status);
    return SR_OK;
}

sr_code wiz_test_autodiscover(const wiz *w, FILE *out, sr_err *err)
{
    sr_code rc = SR_OK, r;
    if (!w->ad_source && !w->ad_target)
        fprintf(out, "  no Autodiscover URL configured: nothing to test\n");
    if (w->ad_source && (r = probe("AutodiscoverSourceURL", w->ad_source, out, err)) != SR_OK)
        rc = r;
    sr_err e2;
    if (w->ad_target &&
        (r = probe("AutodiscoverTargetURL", w->ad_target, out, rc ? &e2 : err)) != SR_OK && !rc)
        rc = r;
    return rc;
}
