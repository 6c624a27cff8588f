/* auth.c — HTTP authentication as Exchange offers it: Basic and OAuth2
 * bearer are accepted; NTLM/Negotiate are advertised (as Exchange does) but
 * a client that tries them is refused with the same 401.  --www-auth
 * narrows the offer (a server whose virtual directory allows Basic only). */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

static int b64val(int c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decode standard base64 (padding optional); NULL when malformed. */
static char *b64decode(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n / 4 * 3 + 4);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '=')
            break;
        int v = b64val((unsigned char)in[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    if (strlen(out) != o) {     /* embedded NUL: refuse */
        sr_secret_free(out);
        return NULL;
    }
    return out;
}

static const char *skip_scheme(const char *h, const char *scheme)
{
    size_t n = strlen(scheme);
    if (strncasecmp(h, scheme, n) != 0 || h[n] != ' ')
        return NULL;
    h += n;
    while (*h == ' ')
        h++;
    return h;
}

const exsim_account *exsim_auth(const char *authorization)
{
    if (!authorization || !exsim_srv.org)
        return NULL;
    const char *v;
    if ((v = skip_scheme(authorization, "Basic")) != NULL) {
        char *plain = b64decode(v);
        if (!plain)
            return NULL;
        char *colon = strchr(plain, ':');
        const exsim_account *a = NULL;
        if (colon) {
            *colon = '\0';
            a = exsim_org_auth_basic(exsim_srv.org, plain, colon + 1);
        }
        sr_secret_free(plain);
        return a;
    }
    if ((v = skip_scheme(authorization, "Bearer")) != NULL && *v)
        return exsim_org_auth_bearer(exsim_srv.org, v);
    return NULL;
}

void exsim_auth_challenge(struct MHD_Response *resp)
{
    unsigned o = exsim_srv.offer;
    if (o & EXSIM_OFFER_NEGOTIATE)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Negotiate");
    if (o & EXSIM_OFFER_NTLM)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "NTLM");
    if (o & EXSIM_OFFER_BASIC)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"127.0.0.1\"");
    if ((o & EXSIM_OFFER_BEARER) && !exsim_srv.no_bearer)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
            "Bearer client_id=\"00000002-0000-0ff1-ce00-000000000000\", "
            "trusted_issuers=\"00000001-0000-0000-c000-000000000000@*\", "
            "token_types=\"app_asserted_user_v1 service_asserted_app_v1\", "
            "authorization_uri=\"https://login.windows.net/common/oauth2/authorize\", "
            "error=\"invalid_token\"");
}
