/* netauth.c — the one logon decision (profile account + INI → transport
 * options) both programs make for each side, and the Kerberos credential
 * probe the transport uses to fall back from Negotiate to NTLM explicitly
 * (libcurl's Negotiate never does). */
#include "mapi/ews_int.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t mapi_connect_to_split(char *list, const char **out, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = list ? strtok_r(list, ",", &save) : NULL; t && n < max;
         t = strtok_r(NULL, ",", &save))
        out[n++] = t;
    out[n] = NULL;
    return n;
}

const char *mapi_auth_name(mapi_auth a)
{
    switch (a) {
    case MAPI_AUTH_BASIC: return "Basic";
    case MAPI_AUTH_NTLM: return "NTLM";
    case MAPI_AUTH_NEGOTIATE: return "Negotiate";
    case MAPI_AUTH_OAUTH2: return "OAuth2";
    case MAPI_AUTH_KERBEROS: return "Kerberos";
    case MAPI_AUTH_NONE: break;
    }
    return "none";
}

static int host_is(const char *host, size_t hl, const char *name)
{
    size_t nl = strlen(name);
    if (hl == nl)
        return strncasecmp(host, name, nl) == 0;
    return hl > nl && host[hl - nl - 1] == '.' && strncasecmp(host + hl - nl, name, nl) == 0;
}

int mapi_url_is_exchange_online(const char *url)
{
    const char *h = url ? strstr(url, "://") : NULL;
    if (!h)
        return 0;
    h += 3;
    size_t hl = strcspn(h, ":/?#");
    return host_is(h, hl, "outlook.office365.com") || host_is(h, hl, "outlook.office.com") ||
           host_is(h, hl, "outlook.com");
}

char *mapi_account_fallback_ews_url(const mapi_account *a)
{
    if (!a || !a->rpc.enabled || !a->rpc.proxy_server || !*a->rpc.proxy_server)
        return NULL;
    return sr_asprintf("https://%s/EWS/Exchange.asmx", a->rpc.proxy_server);
}

/* Text of a GSSAPI status (major then minor), for the "why" of a refusal. */
static void gss_words(OM_uint32 maj, OM_uint32 min, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (int pass = 0; pass < 2; pass++) {
        OM_uint32 ctx = 0, m2;
        gss_buffer_desc b = GSS_C_EMPTY_BUFFER;
        int type = pass ? GSS_C_MECH_CODE : GSS_C_GSS_CODE;
        OM_uint32 st = pass ? min : maj;
        if (pass && !min)
            break;
        if (GSS_ERROR(gss_display_status(&m2, st, type, GSS_C_NO_OID, &ctx, &b)))
            break;
        int n = snprintf(out + used, outlen - used, "%s%.*s", used ? ": " : "", (int)b.length,
                         (const char *)b.value);
        gss_release_buffer(&m2, &b);
        if (n < 0 || (size_t)n >= outlen - used)
            break;
        used += (size_t)n;
    }
}

int mapi_krb5_has_credentials(char *why, size_t whylen)
{
    OM_uint32 min = 0, life = 0;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_OID_set_desc mechs = { 1, (gss_OID)gss_mech_krb5 };
    OM_uint32 maj = gss_acquire_cred(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs,
                                     GSS_C_INITIATE, &cred, NULL, NULL);
    if (!GSS_ERROR(maj))
        maj = gss_inquire_cred(&min, cred, NULL, &life, NULL, NULL);
    if (cred != GSS_C_NO_CREDENTIAL) {
        OM_uint32 m2;
        gss_release_cred(&m2, &cred);
    }
    if (GSS_ERROR(maj)) {
        if (why)
            gss_words(maj, min, why, whylen);
        return 0;
    }
    return 1;
}

static sr_code decide_oauth(const char *side, mapi_netopts *o, sr_err *err)
{
    o->auth = MAPI_AUTH_OAUTH2;
    if (!o->client_id || !*o->client_id)
        return sr_err_set(err, SR_E_CONFIG, "%s is Exchange Online: OAuth2 needs the application's "
                          "client id (CPUU.ini ClientId)", side);
    int cert = o->client_cert_file && o->client_key_file;
    if (!cert && !(o->client_secret && *o->client_secret))
        return sr_err_set(err, SR_E_CONFIG, "%s is Exchange Online: OAuth2 needs a client secret "
                          "(ClientSecret) or a certificate and its key (ClientCertificate, "
                          "ClientCertificateKey)", side);
    if ((o->client_cert_file != NULL) != (o->client_key_file != NULL))
        return sr_err_set(err, SR_E_CONFIG, "%s: ClientCertificate and ClientCertificateKey go "
                          "together", side);
    return SR_OK;
}

/* [RPCOverHTTP]: the strongest method the admin ticked; none → NTLM (spec). */
static void decide_rpc(const mapi_account *a, mapi_netopts *o)
{
    if (a->rpc.auth_negotiate)
        o->auth = MAPI_AUTH_NEGOTIATE;
    else if (a->rpc.auth_ntlm || !a->rpc.auth_basic)
        o->auth = MAPI_AUTH_NTLM;
    else
        o->auth = MAPI_AUTH_BASIC;
    o->ssl_only = a->rpc.ssl_only;
}

static sr_code decide_logon(const mapi_account *a, const char *side, mapi_netopts *o, sr_err *err)
{
    switch (a->logon) {
    case MAPI_LOGON_NEGOTIATE: o->auth = MAPI_AUTH_NEGOTIATE; return SR_OK;
    case MAPI_LOGON_NTLM: o->auth = MAPI_AUTH_NTLM; return SR_OK;
    case MAPI_LOGON_KERBEROS: o->auth = MAPI_AUTH_KERBEROS; return SR_OK;
    case MAPI_LOGON_ANONYMOUS:
        return sr_err_set(err, SR_E_UNSUPPORTED, "%s: LogonNetworkSecurityAnonymous: Exchange Web "
                          "Services never accept an anonymous logon to a mailbox; use Negotiate, "
                          "Winnt (NTLM) or Kerberos", side);
    case MAPI_LOGON_SMARTCARD:
        return sr_err_set(err, SR_E_UNSUPPORTED, "%s: LogonNetworkSecuritySmartCard: a smart card "
                          "needs an interactive user at the card reader, which a scheduled run does "
                          "not have; use Kerberos (a service keytab) or Negotiate", side);
    default:
        return sr_err_set(err, SR_E_CONFIG, "%s: unknown logon network security %d", side, (int)a->logon);
    }
}

static sr_code check_creds(const char *side, const mapi_netopts *o, sr_err *err)
{
    if ((o->auth == MAPI_AUTH_BASIC || o->auth == MAPI_AUTH_NTLM) &&
        !(o->user && *o->user && o->password))
        return sr_err_set(err, SR_E_CONFIG, "%s: %s logon needs an account and its password "
                          "(CPUU.ini Admin/Password%s)", side, mapi_auth_name(o->auth),
                          strcmp(side, "target") ? "" : " or AdminTrg/PasswordTrg");
    if (o->auth == MAPI_AUTH_BASIC && !o->ssl_only)
        sr_log(SR_LOG_WARN, side, "[RPCOverHTTP] AuthBasic without SSLOnly=1: the password would "
               "cross any plain-HTTP hop in clear; only https:// is used unless a test allows http");
    return SR_OK;
}

sr_code mapi_netopts_from_account(const mapi_account *a, int exchange_online, const char *side,
                                  mapi_netopts *o, sr_err *err)
{
    if (!side)
        side = "source";
    sr_code rc = SR_OK;
    if (exchange_online)
        rc = decide_oauth(side, o, err);
    else if (a && a->rpc.enabled)
        decide_rpc(a, o);
    else if (a)
        rc = decide_logon(a, side, o, err);
    else
        o->auth = MAPI_AUTH_NEGOTIATE;
    if (rc == SR_OK && !exchange_online)
        rc = check_creds(side, o, err);
    if (rc != SR_OK)
        return rc;
    /* one budget per account: the side names the account (mapi/budget.h) */
    o->budget = strcmp(side, "target") == 0 ? MAPI_BUDGET_TARGET : MAPI_BUDGET_SOURCE;
    if (o->auth == MAPI_AUTH_OAUTH2)
        sr_log(SR_LOG_INFO, side, "logon: OAuth2 app-only as client %s (%s)", o->client_id,
               o->client_cert_file ? "certificate" : "client secret");
    else if (o->auth == MAPI_AUTH_NEGOTIATE && o->user && o->password)
        sr_log(SR_LOG_INFO, side, "logon: Negotiate (Kerberos; NTLM as %s when Kerberos has no "
               "credentials or is refused)%s", o->user, o->ssl_only ? ", https only" : "");
    else
        sr_log(SR_LOG_INFO, side, "logon: %s%s%s%s", mapi_auth_name(o->auth),
               o->user && o->auth != MAPI_AUTH_NEGOTIATE && o->auth != MAPI_AUTH_KERBEROS ? " as " : "",
               o->user && o->auth != MAPI_AUTH_NEGOTIATE && o->auth != MAPI_AUTH_KERBEROS ? o->user : "",
               o->ssl_only ? ", https only" : "");
    return SR_OK;
}
