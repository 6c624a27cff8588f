/* auth_gss.c — Negotiate (SPNEGO/Kerberos, RFC 4559) through MIT GSSAPI:
 * gss_accept_sec_context with acceptor keys from --keytab (an HTTP/<host>
 * key exported from the lab's KDC).  One GSS context per TCP connection.
 * The client's principal (user@REALM) names the seed account, by UPN or
 * as REALM\user. */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gss_cred_id_t acceptor = GSS_C_NO_CREDENTIAL;

/* "major: ...; minor: ..." of a GSS failure into buf. */
static void gss_why(OM_uint32 maj, OM_uint32 min, char *buf, size_t len)
{
    size_t o = 0;
    OM_uint32 ctx = 0, m;
    gss_buffer_desc b;
    do {
        if (GSS_ERROR(gss_display_status(&m, maj, GSS_C_GSS_CODE, GSS_C_NO_OID, &ctx, &b)))
            break;
        o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%.*s", o ? "; " : "", (int)b.length,
                              (char *)b.value);
        gss_release_buffer(&m, &b);
    } while (ctx && o < len);
    ctx = 0;
    do {
        if (!min || GSS_ERROR(gss_display_status(&m, min, GSS_C_MECH_CODE, GSS_C_NO_OID, &ctx, &b)))
            break;
        o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "; %.*s", (int)b.length, (char *)b.value);
        gss_release_buffer(&m, &b);
    } while (ctx && o < len);
}

int exsim_gss_init(void)
{
    gss_key_value_element_desc kv = { "keytab", exsim_srv.keytab };
    gss_key_value_set_desc store = { 1, &kv };
    OM_uint32 maj, min;
    maj = gss_acquire_cred_from(&min, GSS_C_NO_NAME, GSS_C_INDEFINITE, GSS_C_NO_OID_SET, GSS_C_ACCEPT,
                                &store, &acceptor, NULL, NULL);
    if (GSS_ERROR(maj)) {
        char why[512] = "";
        gss_why(maj, min, why, sizeof why);
        fprintf(stderr, "exsim: --keytab %s: no acceptor credentials: %s\n", exsim_srv.keytab, why);
        return -1;
    }
    return 0;
}

void exsim_gss_conn_free(exsim_conn *conn)
{
    OM_uint32 min;
    if (conn->gss_ctx) {
        gss_ctx_id_t ctx = conn->gss_ctx;
        gss_delete_sec_context(&min, &ctx, GSS_C_NO_BUFFER);
        conn->gss_ctx = NULL;
    }
}

/* The seed account of principal "user@REALM". */
static const exsim_account *account_of(const char *principal)
{
    const exsim_account *a = exsim_auth_find(principal);
    const char *at = strrchr(principal, '@');
    if (a || !at)
        return a;
    char nt[512];
    snprintf(nt, sizeof nt, "%s\\%.*s", at + 1, (int)(at - principal), principal);
    return exsim_auth_find(nt);
}

static void accepted(gss_name_t src, exsim_authres *res)
{
    OM_uint32 min;
    gss_buffer_desc nm = GSS_C_EMPTY_BUFFER;
    char principal[512] = "";
    if (!GSS_ERROR(gss_display_name(&min, src, &nm, NULL)))
        snprintf(principal, sizeof principal, "%.*s", (int)nm.length, (char *)nm.value);
    gss_release_buffer(&min, &nm);
    res->acct = principal[0] ? account_of(principal) : NULL;
    if (!res->acct)
        snprintf(res->diag, sizeof res->diag, "Negotiate: %.200s: no such account in this organisation",
                 principal[0] ? principal : "?");
}

void exsim_gss_step(exsim_conn *conn, const unsigned char *tok, size_t len, exsim_authres *res)
{
    if (acceptor == GSS_C_NO_CREDENTIAL) {
        snprintf(res->diag, sizeof res->diag, "Negotiate: this server has no keytab (--keytab)");
        return;
    }
    OM_uint32 maj, min, flags = 0;
    /* A fresh initial token (ASN.1 APPLICATION 0) restarts the exchange. */
    if (conn->gss_ctx && tok[0] == 0x60)
        exsim_gss_conn_free(conn);
    gss_ctx_id_t ctx = conn->gss_ctx ? conn->gss_ctx : GSS_C_NO_CONTEXT;
    gss_buffer_desc in = { len, (void *)tok }, out = GSS_C_EMPTY_BUFFER;
    gss_name_t src = GSS_C_NO_NAME;
    maj = gss_accept_sec_context(&min, &ctx, acceptor, &in, GSS_C_NO_CHANNEL_BINDINGS, &src, NULL,
                                 &out, &flags, NULL, NULL);
    conn->gss_ctx = ctx == GSS_C_NO_CONTEXT ? NULL : ctx;
    if (out.length) {
        res->scheme = "Negotiate";
        res->token = exsim_auth_b64enc(out.value, out.length);
    }
    gss_release_buffer(&min, &out);
    if (GSS_ERROR(maj)) {
        char why[200] = "";
        gss_why(maj, min, why, sizeof why);
        snprintf(res->diag, sizeof res->diag, "Negotiate: refused: %s", why);
        free(res->token);
        res->token = NULL;
        exsim_gss_conn_free(conn);
    } else if (maj == GSS_S_COMPLETE) {
        accepted(src, res);
        exsim_gss_conn_free(conn);
        if (!res->acct) {       /* no mutual-auth token for a refused logon */
            free(res->token);
            res->token = NULL;
        }
    }
    gss_release_name(&min, &src);
}
