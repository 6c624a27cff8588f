/* search.c — subtree searches with the paged results control (RFC 2696),
 * streamed one entry at a time, each wait bounded by the operation timeout;
 * and RFC 4515 filter value escaping. */
#include "ldap/ldap_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_VALSETS = 16 };

struct ldapdir_entry {
    LDAP *ld;
    LDAPMessage *msg;
    char *dn;
    struct berval **valsets[MAX_VALSETS];
    int nvalsets;
};

const char *ldapdir_entry_dn(const ldapdir_entry *e) { return e->dn; }

struct berval **ldapdir_entry_values(const ldapdir_entry *e, const char *name, size_t *n)
{
    ldapdir_entry *me = (ldapdir_entry *)e;   /* the value cache is ours to fill */
    *n = 0;
    if (me->nvalsets >= MAX_VALSETS)
        return NULL;
    struct berval **v = ldap_get_values_len(me->ld, me->msg, name);
    if (!v)
        return NULL;
    me->valsets[me->nvalsets++] = v;
    *n = (size_t)ldap_count_values_len(v);
    return v;
}

char *ldapdir_filter_escape(const char *value, size_t len)
{
    char *out = malloc(len * 3 + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == '*' || c == '(' || c == ')' || c == '\\' || c == '\0') {
            static const char hex[] = "0123456789abcdef";
            *p++ = '\\';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        } else {
            *p++ = (char)c;
        }
    }
    *p = '\0';
    return out;
}

static int deliver(ldapdir *d, LDAPMessage *msg, ldapdir_entry_cb cb, void *ctx)
{
    ldapdir_entry e = { .ld = d->ld, .msg = msg };
    e.dn = ldap_get_dn(d->ld, msg);
    int stop = cb(&e, ctx);
    for (int i = 0; i < e.nvalsets; i++)
        ldap_value_free_len(e.valsets[i]);
    ldap_memfree(e.dn);
    return stop;
}

/* The final result of one page: its code and the paging cookie. */
static int page_result(ldapdir *d, LDAPMessage *msg, struct berval **cookie)
{
    int rc = LDAP_SUCCESS;
    LDAPControl **ctrls = NULL;
    int prc = ldap_parse_result(d->ld, msg, &rc, NULL, NULL, NULL, &ctrls, 0);
    if (prc != LDAP_SUCCESS)
        return prc;
    ber_bvfree(*cookie);
    *cookie = NULL;
    LDAPControl *pc = ctrls ? ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL) : NULL;
    if (pc) {
        ber_int_t estimate = 0;
        struct berval c = { 0, NULL };
        if (ldap_parse_pageresponse_control(d->ld, pc, &estimate, &c) == LDAP_SUCCESS) {
            if (c.bv_len > 0)
                *cookie = ber_bvdup(&c);
            ber_memfree(c.bv_val);
        }
    }
    ldap_controls_free(ctrls);
    return rc;
}

/* The paged results control (RFC 2696) asking for size entries.  libldap
 * refuses size 0, the RFC's way to abandon a paged search: encoded here. */
static int page_control(LDAP *ld, int size, struct berval *cookie, LDAPControl **out)
{
    if (size > 0)
        return ldap_create_page_control(ld, size, cookie, 0, out);
    BerElement *ber = ber_alloc_t(LBER_USE_DER);
    if (!ber)
        return LDAP_NO_MEMORY;
    struct berval empty = { 0, "" }, val;
    int rc = LDAP_ENCODING_ERROR;
    if (ber_printf(ber, "{iO}", (ber_int_t)0, cookie ? cookie : &empty) != -1 &&
        ber_flatten2(ber, &val, 0) == 0)
        rc = ldap_control_create(LDAP_CONTROL_PAGEDRESULTS, 0, &val, 1, out);
    ber_free(ber, 1);
    return rc;
}

/* Send one page request of size entries (<0: no paging control) and stream
 * its entries.  Once cb has stopped, the rest of the page (at most size
 * entries) is read and dropped, for the page's cookie: the caller releases it.
 * (An LDAP Abandon of the page would lose it: slapd then refuses the release,
 * "paged results cookie is invalid or old".) */
static sr_code one_page(ldapdir *d, const char *base, const char *filter, char **attrs, int size,
                        struct berval **cookie, ldapdir_entry_cb cb, void *ctx, int *stopped,
                        sr_err *err)
{
    LDAPControl *pctrl = NULL, *sctrls[2] = { NULL, NULL };
    if (size >= 0) {
        int rc = page_control(d->ld, size, *cookie, &pctrl);
        if (rc != LDAP_SUCCESS)
            return ldapdir__ldap_err(d, rc, "create paged results control", err);
        sctrls[0] = pctrl;
    }
    struct timeval tv = { d->op_timeout_ms / 1000, (d->op_timeout_ms % 1000) * 1000 };
    int msgid = -1;
    d->searches++;
    int rc = ldap_search_ext(d->ld, base, LDAP_SCOPE_SUBTREE, filter, attrs, 0, sctrls, NULL,
                             &tv, LDAP_NO_LIMIT, &msgid);
    if (pctrl)
        ldap_control_free(pctrl);
    if (rc != LDAP_SUCCESS)
        return ldapdir__ldap_err(d, rc, "search", err);
    long deadline = sr_now_ms() + d->op_timeout_ms;
    for (;;) {
        long left = deadline - sr_now_ms();
        struct timeval wait = { left > 0 ? left / 1000 : 0, left > 0 ? (left % 1000) * 1000 : 0 };
        LDAPMessage *msg = NULL;
        int got = left > 0 ? ldap_result(d->ld, msgid, LDAP_MSG_ONE, &wait, &msg) : 0;
        if (got == 0) {
            ldap_abandon_ext(d->ld, msgid, NULL, NULL);
            d->broken = 1;   /* late answers would confuse the next search */
            return sr_err_set(err, SR_E_TIMEOUT, "DC %s: search under %s: no answer within %d ms",
                              d->dc, base, d->op_timeout_ms);
        }
        if (got < 0) {
            int lrc = LDAP_SERVER_DOWN;
            ldap_get_option(d->ld, LDAP_OPT_RESULT_CODE, &lrc);
            if (lrc == LDAP_SUCCESS)
                lrc = LDAP_SERVER_DOWN;
            return ldapdir__ldap_err(d, lrc, "search (connection lost mid-search)", err);
        }
        if (got == LDAP_RES_SEARCH_ENTRY) {
            if (!*stopped && deliver(d, msg, cb, ctx))
                *stopped = 1;
        } else if (got == LDAP_RES_SEARCH_RESULT) {
            rc = page_result(d, msg, cookie);
            ldap_msgfree(msg);
            if (rc == LDAP_SUCCESS)
                return SR_OK;
            if (rc == LDAP_SIZELIMIT_EXCEEDED)
                return sr_err_set(err, SR_E_LIMIT,
                                  "DC %s: search under %s: server size limit exceeded (%s)", d->dc, base,
                                  d->page_size > 0 ? "paged results refused by the server"
                                                   : "paging disabled");
            return ldapdir__ldap_err(d, rc, "search", err);
        }
        /* Referrals (search references) are not chased by default: skipped. */
        ldap_msgfree(msg);
    }
}

/* Tell the server we want no more pages of the search that cookie continues:
 * a page request of size 0 with it (RFC 2696), so its state is freed now, not
 * when the connection closes (AD keeps a few per connection).  The request
 * must repeat the search's filter and attributes (Samba refuses it otherwise). */
static void release_cookie(ldapdir *d, const char *base, const char *filter, char **attrs,
                           struct berval **cookie)
{
    int stopped = 1;   /* a server that still sends entries: none delivered */
    sr_err e;
    if (one_page(d, base, filter, attrs, 0, cookie, NULL, NULL, &stopped, &e) != SR_OK)
        sr_log(SR_LOG_DEBUG, d->dc, "releasing a paged search: %s", e.msg);
}

sr_code ldapdir_search(ldapdir *d, const char *base, const char *filter,
                       const char *const *attrs, ldapdir_entry_cb cb, void *ctx, sr_err *err)
{
    if (d->broken)
        return sr_err_set(err, SR_E_CONNECT, "DC %s: connection lost earlier; reconnect", d->dc);
    struct berval *cookie = NULL;
    int stopped = 0, pages = 0, size = d->page_size > 0 ? d->page_size : -1;
    sr_code rc;
    do {
        rc = one_page(d, base, filter, (char **)attrs, size, &cookie, cb, ctx, &stopped, err);
        pages++;
    } while (rc == SR_OK && cookie && !stopped && pages < d->max_pages);
    int capped = rc == SR_OK && cookie && !stopped;
    if (rc == SR_OK && cookie)   /* stopped by cb, or at the cap: the server may let go */
        release_cookie(d, base, filter, (char **)attrs, &cookie);
    ber_bvfree(cookie);
    if (capped)
        return sr_err_set(err, SR_E_LIMIT, "DC %s: search under %s: more than %d pages of %d "
                          "entries; stopped (results incomplete)", d->dc, base, d->max_pages,
                          d->page_size);
    return rc;
}
