/* switchvals.c — per-mailbox outcomes of a resolution for the orchestrator
 * (resmb maps them to its exit bits) and the Exchange Autodiscover SCP
 * lookup. */
#include "ldap/ldap_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keyword that marks an Exchange Autodiscover service connection point. */
#define SCP_AUTODISCOVER_GUID "77378F46-2C66-4aa9-A6A6-3E7A48B19596"

static const char *const outcome_names[] = {
    [LDAPDIR_OUT_OK] = "ok",
    [LDAPDIR_OUT_NOT_FOUND] = "not-found",
    [LDAPDIR_OUT_AMBIGUOUS] = "ambiguous",
    [LDAPDIR_OUT_BAD_KEY] = "bad-key",
    [LDAPDIR_OUT_NO_TARGET] = "no-target-address",
    [LDAPDIR_OUT_NO_LEGACY_DN] = "no-legacy-dn",
    [LDAPDIR_OUT_DIRECTORY_DOWN] = "directory-down",
};
/* Sized by its initialisers: an outcome appended without a name stops the build. */
_Static_assert(sizeof outcome_names / sizeof outcome_names[0] == LDAPDIR_OUT__MAX, "outcome names");

const char *ldapdir_outcome_name(ldapdir_outcome o)
{
    return o >= 0 && o < LDAPDIR_OUT__MAX ? outcome_names[o] : "unknown";
}

ldapdir_outcome ldapdir_outcome_of(const ldapdir_result *r, int need_target)
{
    switch (r->status) {
    case LDAPDIR_FOUND:
        return need_target && !ldapdir_target_smtp(r->rcpt) ? LDAPDIR_OUT_NO_TARGET : LDAPDIR_OUT_OK;
    case LDAPDIR_NOT_FOUND: return LDAPDIR_OUT_NOT_FOUND;
    case LDAPDIR_AMBIGUOUS: return LDAPDIR_OUT_AMBIGUOUS;
    case LDAPDIR_BAD_KEY: return LDAPDIR_OUT_BAD_KEY;
    case LDAPDIR_DIR_ERROR: break;
    }
    return LDAPDIR_OUT_DIRECTORY_DOWN;
}

/* ---- Autodiscover SCP --------------------------------------------------- */

typedef struct { char **urls; int *insite; size_t n, cap; const char *site; int oom; } scp_ctx;

static int on_scp(const ldapdir_entry *e, void *vctx)
{
    scp_ctx *c = vctx;
    size_t nk = 0, nu = 0;
    struct berval **kw = ldapdir_entry_values(e, "keywords", &nk);
    int insite = 0;
    for (size_t i = 0; c->site && i < nk; i++)
        if (kw[i]->bv_len == 5 + strlen(c->site) && !strncasecmp(kw[i]->bv_val, "Site=", 5) &&
            !strncasecmp(kw[i]->bv_val + 5, c->site, strlen(c->site)))
            insite = 1;
    struct berval **u = ldapdir_entry_values(e, "serviceBindingInformation", &nu);
    for (size_t i = 0; i < nu; i++) {
        if (c->n + 2 > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8;
            char **nv = reallocarray(c->urls, cap, sizeof *nv);
            if (nv)
                c->urls = nv;
            int *ni = nv ? reallocarray(c->insite, cap, sizeof *ni) : NULL;
            if (!nv || !ni) {
                c->oom = 1;
                return 1;
            }
            c->insite = ni;
            c->cap = cap;
        }
        if (!(c->urls[c->n] = strndup(u[i]->bv_val, u[i]->bv_len))) {
            c->oom = 1;
            return 1;
        }
        c->insite[c->n++] = insite;
        c->urls[c->n] = NULL;
    }
    return 0;
}

sr_code ldapdir_scp_autodiscover(ldapdir *d, const char *site, char ***urls, size_t *n, sr_err *err)
{
    *urls = NULL;
    *n = 0;
    sr_err_clear(err);
    const char *attrs[] = { "serviceBindingInformation", "keywords", NULL };
    scp_ctx c = { .site = site };
    sr_code rc = ldapdir_search(d, d->config_base,
                                "(&(objectClass=serviceConnectionPoint)(keywords=" SCP_AUTODISCOVER_GUID "))",
                                attrs, on_scp, &c, err);
    if (rc == SR_OK && c.oom)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_OK && c.n == 0)
        rc = sr_err_set(err, SR_E_NOTFOUND, "DC %s: no Autodiscover service connection point under %s",
                        d->dc, d->config_base);
    if (rc != SR_OK) {
        sr_strv_free(c.urls);
        free(c.insite);
        return rc;
    }
    /* Stable partition: the site's own SCPs first, as Outlook orders them. */
    char **sorted = calloc(c.n + 1, sizeof *sorted);
    if (!sorted) {
        sr_strv_free(c.urls);
        free(c.insite);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    size_t k = 0;
    for (int pass = 1; pass >= 0; pass--)
        for (size_t i = 0; i < c.n; i++)
            if (c.insite[i] == pass)
                sorted[k++] = c.urls[i];
    free(c.urls);
    free(c.insite);
    *urls = sorted;
    *n = k;
    return SR_OK;
}
