/* resolve.c — batched recipient resolution: many mailbox keys OR-ed into one
 * filter per search, answers matched back to keys case-insensitively (AD
 * compares proxyAddresses and legacyExchangeDN so), every answer cached.
 * "Case-insensitively" means full Unicode case folding (libunistring's
 * u8_casefold, NFC): the directory returns SMTP:ÉLODIE@src.test for the key
 * élodie@src.test, and two objects whose addresses differ only in the case
 * of a non-ASCII letter are both matches — an ambiguous key, not a found one. */
#include "ldap/ldap_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicase.h>
#include <uninorm.h>

enum { MAX_KEY = 2048 };

static int has_prefix_ci(const char *s, const char *p)
{
    return strncasecmp(s, p, strlen(p)) == 0;
}

/* [s, s+n) case-folded and NFC-normalised, NUL-terminated; caller frees.
 * Bytes that are not UTF-8 (a directory may hold anything) fold as ASCII,
 * which is how they compared before.  NULL on OOM. */
static char *fold(const char *s, size_t n)
{
    size_t len = 0;
    uint8_t *f = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFC, NULL, &len);
    char *out = malloc((f ? len : n) + 1);
    if (out && f) {
        memcpy(out, f, len);
        out[len] = '\0';
    } else if (out) {
        for (size_t i = 0; i < n; i++)
            out[i] = (char)tolower((unsigned char)s[i]);
        out[n] = '\0';
    }
    free(f);
    return out;
}

/* "smtp:<addr>" or "x500:<dn>", case-folded, then a NUL and the value as
 * written (the filter sends that: the server folds by its own rules, and
 * full folding may change a value's letters, ß → ss); NULL for something
 * that is no mailbox address.  Caller frees. */
static char *normalize(const char *key)
{
    while (isspace((unsigned char)*key))
        key++;
    size_t len = strlen(key);
    while (len && isspace((unsigned char)key[len - 1]))
        len--;
    if (len == 0 || len > MAX_KEY)
        return NULL;
    const char *kind, *val;
    if (has_prefix_ci(key, "smtp:"))
        kind = "smtp:", val = key + 5;
    else if (has_prefix_ci(key, "x500:"))
        kind = "x500:", val = key + 5;
    else if (key[0] == '/')
        kind = "x500:", val = key;
    else
        kind = "smtp:", val = key;
    size_t vlen = len - (size_t)(val - key);
    if (vlen == 0)
        return NULL;
    if (kind[0] == 's') {
        const char *at = memchr(val, '@', vlen);
        if (!at || at == val || at == val + vlen - 1 || memchr(at + 1, '@', vlen - (size_t)(at - val) - 1))
            return NULL;
    } else if (val[0] != '/') {
        return NULL;
    }
    char *folded = fold(val, vlen);
    size_t flen = folded ? strlen(folded) : 0;
    char *out = folded ? malloc(5 + flen + 1 + vlen + 1) : NULL;
    if (out) {
        memcpy(out, kind, 5);
        memcpy(out + 5, folded, flen + 1);
        memcpy(out + 5 + flen + 1, val, vlen);
        out[5 + flen + 1 + vlen] = '\0';
    }
    free(folded);
    return out;
}

static char *bv_str(const struct berval *b)
{
    return b ? strndup(b->bv_val, b->bv_len) : NULL;
}

void ldapdir__recipients_free(ldapdir *d)
{
    for (size_t i = 0; i < d->nrcpts; i++) {
        ldapdir_recipient *r = d->rcpts[i];
        free(r->dn);
        free(r->primary_smtp);
        free(r->legacy_dn);
        free(r->target_address);
        free(r->display_name);
        free(r);
    }
    free(d->rcpts);
    free(d->cache);
    strmap_free(&d->keymap);
    strmap_free(&d->dnmap);
    d->rcpts = NULL;
    d->cache = NULL;
    d->nrcpts = d->caprcpts = d->ncache = d->capcache = 0;
}

void ldapdir_forget(ldapdir *d)
{
    if (d)
        ldapdir__recipients_free(d);
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Parse one entry into a recipient (reusing one already seen by DN). */
static int recipient_of(ldapdir *d, const ldapdir_entry *e, struct berval **proxies, size_t nprox)
{
    char *ldn = sr_strdup(ldapdir_entry_dn(e));
    if (!ldn)
        return -1;
    lower(ldn);
    int idx = strmap_get(&d->dnmap, ldn);
    if (idx >= 0) {
        free(ldn);
        return idx;
    }
    ldapdir_recipient *r = calloc(1, sizeof *r);
    if (!r || (d->nrcpts == d->caprcpts &&
               !(d->rcpts = reallocarray(d->rcpts, d->caprcpts = d->caprcpts ? d->caprcpts * 2 : 64,
                                         sizeof *d->rcpts)))) {
        free(r);
        free(ldn);
        return -1;
    }
    size_t n;
    struct berval **v;
    r->dn = sr_strdup(ldapdir_entry_dn(e));
    for (size_t i = 0; i < nprox && !r->primary_smtp; i++)
        if (proxies[i]->bv_len > 5 && !strncmp(proxies[i]->bv_val, "SMTP:", 5))
            r->primary_smtp = strndup(proxies[i]->bv_val + 5, proxies[i]->bv_len - 5);
    if (!r->primary_smtp && (v = ldapdir_entry_values(e, "mail", &n)) && n)
        r->primary_smtp = bv_str(v[0]);
    if ((v = ldapdir_entry_values(e, "legacyExchangeDN", &n)) && n)
        r->legacy_dn = bv_str(v[0]);
    if ((v = ldapdir_entry_values(e, d->mapping_attr, &n)) && n)
        r->target_address = bv_str(v[0]);
    if ((v = ldapdir_entry_values(e, "displayName", &n)) && n)
        r->display_name = bv_str(v[0]);
    if ((v = ldapdir_entry_values(e, "msExchMailboxGuid", &n)) && n && v[0]->bv_len == 16) {
        memcpy(r->mailbox_guid, v[0]->bv_val, 16);
        r->has_mailbox_guid = 1;
    }
    r->recipient_type = -1;
    if ((v = ldapdir_entry_values(e, "msExchRecipientTypeDetails", &n)) && n) {
        char *s = bv_str(v[0]);
        r->recipient_type = s ? strtoll(s, NULL, 10) : -1;
        free(s);
    }
    idx = (int)d->nrcpts;
    d->rcpts[d->nrcpts++] = r;
    int bad = !r->dn || strmap_put(&d->dnmap, ldn, idx) != 0;
    free(ldn);
    return bad ? -1 : idx;
}

/* An entry carries normalised value norm: count it for the pending key. */
static void mark(ldapdir *d, const char *norm, int idx)
{
    int ci = strmap_get(&d->keymap, norm);
    if (ci < 0)
        return;
    cache_ent *ce = &d->cache[ci];
    if (!ce->pending || ce->rcpt == idx || ce->rcpt2 == idx)
        return;
    ce->matches++;
    if (ce->rcpt < 0)
        ce->rcpt = idx;
    else if (ce->rcpt2 < 0)
        ce->rcpt2 = idx;
}

/* Returns -1 on OOM. */
static int mark_value(ldapdir *d, const char *prefix, const struct berval *b, int idx)
{
    size_t plen = strlen(prefix);
    if (b->bv_len > MAX_KEY)
        return 0;
    char buf[MAX_KEY + 8];
    memcpy(buf, prefix, plen);
    memcpy(buf + plen, b->bv_val, b->bv_len);
    char *f = fold(buf, plen + b->bv_len);
    if (!f)
        return -1;
    if (!strncmp(f, "smtp:", 5) || !strncmp(f, "x500:", 5))
        mark(d, f, idx);
    free(f);
    return 0;
}

typedef struct { ldapdir *d; int oom; } batch_ctx;

static int on_entry(const ldapdir_entry *e, void *vctx)
{
    batch_ctx *c = vctx;
    size_t nprox = 0, n;
    struct berval **prox = ldapdir_entry_values(e, "proxyAddresses", &nprox);
    int idx = recipient_of(c->d, e, prox, nprox);
    if (idx < 0) {
        c->oom = 1;
        return 1;
    }
    int bad = 0;
    for (size_t i = 0; i < nprox; i++)
        bad |= mark_value(c->d, "", prox[i], idx);
    struct berval **v;
    if ((v = ldapdir_entry_values(e, "mail", &n)))
        for (size_t i = 0; i < n; i++)
            bad |= mark_value(c->d, "smtp:", v[i], idx);
    if ((v = ldapdir_entry_values(e, "legacyExchangeDN", &n)) && n)
        bad |= mark_value(c->d, "x500:", v[0], idx);
    if (bad) {
        c->oom = 1;
        return 1;
    }
    return 0;
}

/* "(|(proxyAddresses=smtp:v)(mail=v)...)" for keys[0..n). */
static char *batch_filter(ldapdir *d, const int *cis, char **norms, size_t n)
{
    size_t cap = 64, len = 0;
    char *f = malloc(cap);
    if (!f)
        return NULL;
    len = (size_t)sprintf(f, "(|");
    for (size_t i = 0; i < n; i++) {
        const char *norm = norms[cis[i]];
        int smtp = norm[0] == 's';
        const char *raw = norm + strlen(norm) + 1;   /* see normalize() */
        char *esc = ldapdir_filter_escape(raw, strlen(raw));
        if (!esc) {
            free(f);
            return NULL;
        }
        size_t need = len + 2 * strlen(esc) + 64;
        if (need > cap) {
            char *nf = realloc(f, cap = need * 2);
            if (!nf) {
                free(esc);
                free(f);
                return NULL;
            }
            f = nf;
        }
        len += (size_t)sprintf(f + len, smtp ? "(proxyAddresses=smtp:%s)(mail=%s)"
                                             : "(proxyAddresses=x500:%s)(legacyExchangeDN=%s)",
                               esc, esc);
        free(esc);
    }
    (void)d;
    strcpy(f + len, ")");
    return f;
}

static sr_code search_batch(ldapdir *d, const int *cis, char **norms, size_t n, sr_err *err)
{
    char *filter = batch_filter(d, cis, norms, n);
    if (!filter)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    const char *attrs[] = { "mail", "proxyAddresses", "legacyExchangeDN", "displayName",
                            "msExchMailboxGuid", "msExchRecipientTypeDetails", d->mapping_attr, NULL };
    batch_ctx c = { d, 0 };
    for (size_t i = 0; i < n; i++) {
        cache_ent *ce = &d->cache[cis[i]];
        ce->pending = 1;
        ce->matches = 0;
        ce->rcpt = ce->rcpt2 = -1;
    }
    sr_code rc = ldapdir_search(d, d->base, filter, attrs, on_entry, &c, err);
    free(filter);
    if (rc == SR_OK && c.oom)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        cache_ent *ce = &d->cache[cis[i]];
        ce->pending = 0;
        if (rc != SR_OK)
            continue;
        ce->answered = 1;
        ce->status = ce->matches == 0 ? LDAPDIR_NOT_FOUND
                   : ce->matches == 1 ? LDAPDIR_FOUND : LDAPDIR_AMBIGUOUS;
    }
    return rc;
}

static int new_slot(ldapdir *d, char *norm);

/* Index of norm in the cache, adding it (unanswered) when new; -1 on OOM. */
static int cache_slot(ldapdir *d, char ***norms, size_t *capnorms, char *norm)
{
    int ci = strmap_get(&d->keymap, norm);
    if (ci < 0)
        ci = new_slot(d, norm);
    /* norms covers every slot, old ones too: a key left unanswered by a lost
     * connection is searched again on the reconnected handle (issue 11) */
    if (ci >= 0 && (size_t)ci >= *capnorms) {
        size_t cap = d->capcache;
        char **nn = reallocarray(*norms, cap, sizeof *nn);
        if (!nn)
            return -1;
        *norms = nn;
        *capnorms = cap;
    }
    return ci;
}

static int new_slot(ldapdir *d, char *norm)
{
    int ci;
    if (d->ncache == d->capcache) {
        size_t cap = d->capcache ? d->capcache * 2 : 256;
        cache_ent *c = reallocarray(d->cache, cap, sizeof *c);
        if (!c)
            return -1;
        d->cache = c;
        d->capcache = cap;
    }
    ci = (int)d->ncache;
    if (strmap_put(&d->keymap, norm, ci) != 0)
        return -1;
    d->cache[d->ncache++] = (cache_ent){ .status = LDAPDIR_DIR_ERROR, .rcpt = -1, .rcpt2 = -1 };
    return ci;
}

static void describe(ldapdir *d, ldapdir_result *r, const cache_ent *ce, const sr_err *err)
{
    r->msg[0] = '\0';
    switch (r->status) {
    case LDAPDIR_FOUND:
        break;
    case LDAPDIR_NOT_FOUND:
        snprintf(r->msg, sizeof r->msg, "DC %s: '%s': not found in proxyAddresses, mail or legacyExchangeDN",
                 d->dc, r->key);
        break;
    case LDAPDIR_AMBIGUOUS:
        snprintf(r->msg, sizeof r->msg, "DC %s: '%s': ambiguous, %u objects carry it (%s; %s)", d->dc,
                 r->key, ce->matches, d->rcpts[ce->rcpt]->dn, d->rcpts[ce->rcpt2]->dn);
        break;
    case LDAPDIR_BAD_KEY:
        snprintf(r->msg, sizeof r->msg, "DC %s: '%s': not an SMTP address, legacyExchangeDN or X500 address",
                 d->dc, r->key);
        break;
    case LDAPDIR_DIR_ERROR:
        snprintf(r->msg, sizeof r->msg, "'%.100s': not resolved: %.200s", r->key,
                 err && err->msg[0] ? err->msg : "directory error");
        break;
    }
}

static sr_code resolve_once(ldapdir *d, const char *const *keys, size_t n, ldapdir_result *out,
                            sr_err *err)
{
    sr_err_clear(err);
    /* norms[ci]: the normalised key of cache slot ci, for this call only. */
    char **norms = NULL;
    size_t capnorms = 0;
    int *slot_of = malloc((n ? n : 1) * sizeof *slot_of);
    int *todo = malloc((n ? n : 1) * sizeof *todo);
    for (size_t i = 0; i < n; i++)
        out[i] = (ldapdir_result){ .key = keys[i] ? keys[i] : "", .status = LDAPDIR_DIR_ERROR };
    if (!slot_of || !todo) {
        free(slot_of);
        free(todo);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        slot_of[i] = -1;
    sr_code rc = SR_OK;
    size_t ntodo = 0;
    for (size_t i = 0; i < n && rc == SR_OK; i++) {
        char *norm = keys[i] ? normalize(keys[i]) : NULL;
        if (!norm) {
            out[i].status = LDAPDIR_BAD_KEY;
            continue;
        }
        int ci = cache_slot(d, &norms, &capnorms, norm);
        if (ci < 0) {
            free(norm);
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
            break;
        }
        slot_of[i] = ci;
        cache_ent *ce = &d->cache[ci];
        if (ce->answered || ce->pending) {
            free(norm);
            continue;
        }
        ce->pending = 1;          /* queued: keeps duplicates out of todo */
        norms[ci] = norm;
        todo[ntodo++] = ci;
    }
    for (size_t i = 0; i < ntodo; i++)
        d->cache[todo[i]].pending = 0;
    for (size_t at = 0; at < ntodo && rc == SR_OK; at += (size_t)d->batch_size) {
        size_t cnt = ntodo - at < (size_t)d->batch_size ? ntodo - at : (size_t)d->batch_size;
        rc = search_batch(d, todo + at, norms, cnt, err);
    }
    for (size_t i = 0; i < n; i++) {
        if (slot_of[i] < 0) {
            describe(d, &out[i], NULL, err);
            continue;
        }
        const cache_ent *ce = &d->cache[slot_of[i]];
        out[i].status = ce->answered ? ce->status : LDAPDIR_DIR_ERROR;
        out[i].matches = ce->answered ? ce->matches : 0;
        out[i].rcpt = out[i].status == LDAPDIR_FOUND ? d->rcpts[ce->rcpt] : NULL;
        describe(d, &out[i], ce, err);
    }
    for (size_t i = 0; i < ntodo; i++)
        free(norms[todo[i]]);
    free(norms);
    free(slot_of);
    free(todo);
    return rc;
}

/* A lost connection (class RETRY) is made again in place, so answers
 * already cached and recipients already returned stay valid, and the keys
 * still unanswered are asked again (issue 11: a DC restarted mid-run). */
sr_code ldapdir_resolve(ldapdir *d, const char *const *keys, size_t n, ldapdir_result *out, sr_err *err)
{
    sr_code rc = resolve_once(d, keys, n, out, err);
    int a = 1;
    for (; rc != SR_OK && sr_default_class(rc) == SR_CLASS_RETRY && a <= d->o.reconnects; a++) {
        sr_log(SR_LOG_WARN, d->dc, "%s; reconnecting (%d of %d)", err->msg, a, d->o.reconnects);
        sr_err re;
        if (ldapdir__reconnect(d, a, &re) != SR_OK) {
            sr_log(SR_LOG_WARN, d->dc, "reconnect %d of %d: %s", a, d->o.reconnects, re.msg);
            /* TLS worked on this handle before: a failed handshake now is
             * the DC going away (LDAPS cannot tell), so it is tried again */
            if (sr_default_class(re.code) != SR_CLASS_RETRY && re.code != SR_E_TLS) {
                *err = re;   /* e.g. the password refused now: no further attempt */
                rc = re.code;
                break;
            }
            continue;   /* still down: the batch's answers stay as they were */
        }
        rc = resolve_once(d, keys, n, out, err);
    }
    if (rc != SR_OK && a > 1)
        sr_log(SR_LOG_ERROR, d->dc, "directory: %s; gave up after %d reconnect(s)", err->msg, a - 1);
    return rc;
}

const char *ldapdir_target_smtp(const ldapdir_recipient *r)
{
    const char *t = r ? r->target_address : NULL;
    if (!t || !*t)
        return NULL;
    if (has_prefix_ci(t, "smtp:"))
        t += 5;
    else if (strchr(t, ':'))
        return NULL;   /* X500:, X400: ... are no SMTP target */
    return strchr(t, '@') && *t != '@' ? t : NULL;
}
