/* feat_nicks.c — the Nicks feature: Outlook's autocomplete list (the
 * IPM.Configuration.Autocomplete stream in the Inbox) with every link to a
 * source recipient pointed at its target (docs/features.md).
 *
 * read:    GetUserConfiguration Autocomplete (BinaryData) on the source and
 *          on the target (once when updated in place); strict parse
 *          (nicks.h).  No source stream: nothing to do.  A major version
 *          other than 12 is never read or written (reported unsupported).
 * plan:    one rmap_resolve for the key of every row of both streams (EX
 *          rows: the DN; SMTP rows: the address).  Wanted rows, in order:
 *          the target's rows (a row naming a recipient the source directory
 *          knows is rewritten, the target's own rows stay as they are), then
 *          the source's rows
 *          rewritten; a row whose identity (SMTP address, else email address)
 *          is already wanted is dropped — the first wins.  So a second run
 *          finds every mapped row already in the target and writes nothing.
 *          Remove=Nicks: the target's stream with an empty row set.
 *          The target's metadata blocks are kept; without a target stream
 *          the source's metadata blocks are used.
 * backup:  'B' + the target's stream bytes, or 'N' when it had none (the
 *          first run's backup is kept).
 * apply:   one Update (or Create) UserConfiguration when the new stream
 *          differs from the target's bytes.
 * restore: the backed-up bytes back, or DeleteUserConfiguration. */
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"
#include "cpuu/nicks.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "Nicks"
#define BACKUP_NAME "target.bin"
#define CFG_NAME "Autocomplete"
#define CFG_FOLDER "inbox"

static void side_clear(nk_side *s)
{
    free(s->raw);
    nk_stream_clear(&s->s);
    memset(s, 0, sizeof *s);
}

void nk_state_free(void *v)
{
    nk_state *s = v;
    if (!s)
        return;
    /* in place, src is a view of tgt's stream: its heap parts are tgt's
     * (two streams of their own never share them, unless both are NULL) */
    if (s->src.s.rows == s->tgt.s.rows && s->src.s.extra == s->tgt.s.extra)
        memset(&s->src.s, 0, sizeof s->src.s);
    side_clear(&s->src);
    side_clear(&s->tgt);
    free(s->out);
    free(s);
}

/* GetUserConfiguration on one session into *sd (absent is not an error). */
sr_code nk_get_config(cpuu_ctx *c, mapi_session *ms, nk_side *sd, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(ms);
    mapi_ews_call call = {.idempotent = 1};
    call.req = nk_req_getconfig(&t, CFG_FOLDER, CFG_NAME, err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(ms, &call, 1, err);
    if (rc == SR_OK) {
        rc = nk_parse_getconfig(call.resp_op, &sd->raw, &sd->len, &sd->has_blob, err);
        sd->exists = rc == SR_OK;
        if (rc == SR_E_NOTFOUND)
            rc = SR_OK;
    }
    xmlFreeDoc(call.req);
    xmlFreeDoc(call.resp);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: GetUserConfiguration %s on %s: ", c->who, FEATURE, CFG_NAME,
                      mapi_session_mailbox(ms));
    return rc;
}

sr_code nk_parse_side(cpuu_ctx *c, const char *mailbox, nk_side *sd, feature_stats *st, int *skip,
                      sr_err *err)
{
    if (!sd->has_blob)
        return SR_OK;
    sr_err e = {0};
    sr_code rc = nk_parse(sd->raw, sd->len, &sd->s, &e);
    if (rc == SR_E_UNSUPPORTED) {
        st->unsupported++;
        *skip = 1;
        sr_log(SR_LOG_WARN, c->who, "%s: autocomplete stream of %s left as it is: %s", FEATURE,
               mailbox, e.msg);
        return SR_OK;
    }
    if (rc != SR_OK) {
        *err = e;
        sr_err_prefix(err, "%s: %s: autocomplete stream of %s (%zu bytes): ", c->who, FEATURE,
                      mailbox, sd->len);
        return rc;
    }
    sd->parsed = 1;
    return SR_OK;
}

int nk_removing(const cpuu_ctx *c)
{
    return c->cfg && (c->cfg->remove & CFG_FSET(CFG_F_NICKS));
}

static sr_code n_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    nk_state *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = SR_OK;
    sr_err e2;   /* the target's own failure after the source's */
    if (c->src != c->tgt && !nk_removing(c))   /* Remove=Nicks needs only the target */
        rc = nk_get_config(c, c->src, &s->src, err);
    if (cpuu_read_on(rc))
        rc = cpuu_read_both(rc, nk_get_config(c, c->tgt, &s->tgt, rc == SR_OK ? err : &e2));
    if (rc == SR_OK && s->tgt.exists && !s->tgt.has_blob) {
        /* a configuration message without a stream: nothing we may rewrite */
        st->unsupported++;
        s->skip = 1;
        sr_log(SR_LOG_WARN, c->who, "%s: %s's %s configuration has no BinaryData: left as it is",
               FEATURE, mapi_session_mailbox(c->tgt), CFG_NAME);
        return SR_OK;
    }
    if (rc == SR_OK && c->src == c->tgt) {   /* in place: the one stream is both sides */
        s->src.exists = s->tgt.exists;
        s->src.has_blob = s->tgt.has_blob;
    }
    if (rc == SR_OK)
        rc = nk_parse_side(c, mapi_session_mailbox(c->tgt), &s->tgt, st, &s->skip, err);
    if (rc == SR_OK && c->src != c->tgt)
        rc = nk_parse_side(c, mapi_session_mailbox(c->src), &s->src, st, &s->skip, err);
    if (rc == SR_OK && c->src == c->tgt && s->tgt.parsed) {
        s->src.parsed = 1;
        s->src.s = s->tgt.s;   /* shared view; freed through tgt only */
    }
    if (rc == SR_OK && !nk_removing(c))
        st->seen = s->src.parsed ? (unsigned)s->src.s.nrows : 0;
    if (rc == SR_OK && nk_removing(c))
        st->seen = s->tgt.parsed ? (unsigned)s->tgt.s.nrows : 0;
    return rc;
}

static int is_ex(const nk_row *r)
{
    char *t = nk_row_string(r, NK_ID_ADDRTYPE);
    int ex = t && strcasecmp(t, "EX") == 0;
    free(t);
    return ex;
}

/* The key a row is resolved by: EX rows their DN (email address, else the
 * Address Book EntryID's DN), other rows their SMTP address.  Heap or NULL. */
static char *row_key(const nk_row *r)
{
    if (is_ex(r)) {
        char *dn = nk_row_string(r, NK_ID_EMAIL);
        if (dn && *dn)
            return dn;
        free(dn);
        size_t n = 0;
        const uint8_t *b = nk_row_binary(r, NK_ID_ENTRYID, &n);
        mapi_eid e;
        sr_err ee;
        if (b && mapi_eid_decode(b, n, &e, &ee) == SR_OK) {
            char *k = e.kind == MAPI_EID_ADDRBOOK && e.x500dn ? sr_strdup(e.x500dn) : NULL;
            mapi_eid_clear(&e);
            if (k)
                return k;
        }
    }
    char *smtp = nk_row_string(r, NK_ID_SMTP);
    if (smtp && *smtp)
        return smtp;
    free(smtp);
    char *em = nk_row_string(r, NK_ID_EMAIL);
    if (em && *em)
        return em;
    free(em);
    return NULL;
}

/* Identity for de-duplication: SMTP address (lower case), else the email
 * address (upper case); heap or NULL. */
static char *row_identity(const nk_row *r)
{
    char *id = nk_row_string(r, NK_ID_SMTP);
    int lower = 1;
    if (!id || !*id) {
        free(id);
        id = nk_row_string(r, NK_ID_EMAIL);
        lower = 0;
    }
    for (char *p = id; p && *p; p++)
        *p = (char)(lower ? tolower((unsigned char)*p) : toupper((unsigned char)*p));
    if (id && !*id) {
        free(id);
        id = NULL;
    }
    return id;
}

/* PR_SEARCH_KEY: "<ADDRTYPE>:<ADDRESS>" upper case ASCII + NUL (binary). */
static sr_code set_search_key(nk_row *r, const char *type, const char *addr, sr_err *err)
{
    if (!nk_row_find(r, NK_ID_SEARCH_KEY))
        return SR_OK;
    char *k = sr_asprintf("%s:%s", type, addr);
    if (!k)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (char *p = k; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    sr_code rc = nk_row_set_binary(r, NK_ID_SEARCH_KEY, (const uint8_t *)k, strlen(k) + 1, err);
    free(k);
    return rc;
}

/* Address Book EntryID of the row re-encoded with dn (other kinds kept). */
static sr_code set_entryid_dn(nk_row *r, const char *dn, sr_err *err)
{
    size_t n = 0;
    const uint8_t *b = nk_row_binary(r, NK_ID_ENTRYID, &n);
    mapi_eid e;
    sr_err ee;
    if (!b || mapi_eid_decode(b, n, &e, &ee) != SR_OK)
        return SR_OK;
    sr_code rc = SR_OK;
    if (e.kind == MAPI_EID_ADDRBOOK) {
        free(e.x500dn);
        e.x500dn = sr_strdup(dn);
        uint8_t *o = NULL;
        size_t ol = 0;
        rc = e.x500dn ? mapi_eid_encode(&e, &o, &ol, err) : sr_err_set(err, SR_E_NOMEM, "out of memory");
        if (rc == SR_OK)
            rc = nk_row_set_binary(r, NK_ID_ENTRYID, o, ol, err);
        free(o);
    }
    mapi_eid_clear(&e);
    return rc;
}

/* Point one row at its target recipient t. */
static sr_code rewrite_row(nk_row *r, const char *old_smtp, const rmap_target *t, sr_err *err)
{
    sr_code rc = SR_OK;
    if (is_ex(r) && t->legacy_dn) {
        rc = nk_row_set_string(r, NK_ID_EMAIL, t->legacy_dn, err);
        if (rc == SR_OK)
            rc = set_entryid_dn(r, t->legacy_dn, err);
        if (rc == SR_OK)
            rc = set_search_key(r, "EX", t->legacy_dn, err);
    } else {
        /* SMTP row, or an EX row whose target DN is unknown: an SMTP row */
        if (is_ex(r)) {
            rc = nk_row_set_string(r, NK_ID_ADDRTYPE, "SMTP", err);
            nk_row_remove(r, NK_ID_ENTRYID);   /* the source DN's entry id would dangle */
        }
        if (rc == SR_OK)
            rc = nk_row_set_string(r, NK_ID_EMAIL, t->smtp, err);
        if (rc == SR_OK)
            rc = set_search_key(r, "SMTP", t->smtp, err);
    }
    if (rc == SR_OK)
        rc = nk_row_set_string(r, NK_ID_SMTP, t->smtp, err);
    /* the nickname Outlook matches on was the old address: follow it */
    char *nick = rc == SR_OK ? nk_row_string(r, NK_ID_NICKNAME) : NULL;
    if (nick && old_smtp && strcasecmp(nick, old_smtp) == 0)
        rc = nk_row_set_string(r, NK_ID_NICKNAME, t->smtp, err);
    free(nick);
    return rc;
}

/* The wanted row set being built, with identities for de-duplication. */
typedef struct want {
    nk_row *rows;
    char **ids;
    size_t n;
} want;

static void want_clear(want *w)
{
    for (size_t i = 0; i < w->n; i++) {
        nk_row_clear(&w->rows[i]);
        free(w->ids[i]);
    }
    free(w->rows);
    free(w->ids);
    memset(w, 0, sizeof *w);
}

/* A target row already naming its target recipient (same SMTP address and,
 * for EX rows with a known target DN, that DN) that the source directory
 * does not know as a source key: the target's own, left byte-identical. */
static int in_target_terms(cpuu_ctx *c, const nk_row *r, const char *key, const rmap_target *t)
{
    if (rmap_source_smtp(c->map, key))
        return 0;
    char *smtp = nk_row_string(r, NK_ID_SMTP);
    int same = smtp && strcasecmp(smtp, t->smtp) == 0;
    free(smtp);
    if (same && is_ex(r) && t->legacy_dn) {
        char *dn = nk_row_string(r, NK_ID_EMAIL);
        same = dn && strcasecmp(dn, t->legacy_dn) == 0;
        free(dn);
    }
    return same;
}

/* Add a copy of r, mapped when its key is a mapped source recipient;
 * *status says what the map answered.  Dropped when its identity is already
 * wanted.  A target row already in target terms is not rewritten: without
 * a source directory the map's identity check calls the target's own
 * recipients MAPPED too, and an EX row whose target DN the map cannot return
 * would be turned into an SMTP row for nothing. */
static sr_code want_add(cpuu_ctx *c, want *w, const nk_row *r, int from_target,
                        rmap_status *status, sr_err *err)
{
    nk_row row;
    sr_code rc = nk_row_copy(&row, r, err);
    if (rc != SR_OK)
        return rc;
    char *key = row_key(&row);
    rmap_target t = {0};
    *status = key ? rmap_lookup(c->map, key, &t) : RMAP_UNKNOWN;
    if (*status == RMAP_MAPPED && !(from_target && in_target_terms(c, &row, key, &t))) {
        char *old = nk_row_string(&row, NK_ID_SMTP);
        rc = rewrite_row(&row, old, &t, err);
        free(old);
    }
    free(key);
    char *id = rc == SR_OK ? row_identity(&row) : NULL;
    for (size_t i = 0; rc == SR_OK && id && i < w->n; i++)
        if (w->ids[i] && strcmp(w->ids[i], id) == 0) {
            free(id);
            nk_row_clear(&row);
            return SR_OK;
        }
    nk_row *nr = rc == SR_OK ? realloc(w->rows, (w->n + 1) * sizeof *nr) : NULL;
    if (nr)
        w->rows = nr;
    char **ni = nr ? realloc(w->ids, (w->n + 1) * sizeof *ni) : NULL;
    if (ni)
        w->ids = ni;
    if (rc == SR_OK && (!nr || !ni))
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc != SR_OK) {
        free(id);
        nk_row_clear(&row);
        return rc;
    }
    w->rows[w->n] = row;
    w->ids[w->n++] = id;
    return SR_OK;
}

/* rows of `have` not byte-equal to any of `in` */
static unsigned count_not_in(const nk_row *have, size_t nh, const nk_row *in, size_t ni)
{
    unsigned k = 0;
    for (size_t i = 0; i < nh; i++) {
        size_t j = 0;
        while (j < ni && !nk_row_equal(&have[i], &in[j]))
            j++;
        k += j == ni;
    }
    return k;
}

static sr_code resolve_all(cpuu_ctx *c, nk_state *s, sr_err *err)
{
    size_t cap = s->tgt.s.nrows + (c->src != c->tgt ? s->src.s.nrows : 0), k = 0;
    char **keys = calloc(cap ? cap : 1, sizeof *keys);
    if (!keys)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->tgt.s.nrows; i++)
        if ((keys[k] = row_key(&s->tgt.s.rows[i])))
            k++;
    for (size_t i = 0; c->src != c->tgt && i < s->src.s.nrows; i++)
        if ((keys[k] = row_key(&s->src.s.rows[i])))
            k++;
    sr_code rc = rmap_resolve(c->map, (const char *const *)keys, k, err);
    for (size_t i = 0; i < k; i++)
        free(keys[i]);
    free(keys);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

/* The new stream: metadata of base, rows of w; serialised into s->out when
 * it differs from the target's bytes. */
static sr_code finish_plan(cpuu_ctx *c, nk_state *s, const nk_stream *base, want *w,
                           feature_stats *st, sr_err *err)
{
    nk_stream ns = *base;
    ns.rows = w->rows;
    ns.nrows = w->n;
    uint8_t *out = NULL;
    size_t ol = 0;
    sr_code rc = nk_serialize(&ns, &out, &ol, err);
    if (rc != SR_OK)
        return rc;
    const nk_stream *cur = s->tgt.parsed ? &s->tgt.s : NULL;
    if (s->tgt.has_blob && ol == s->tgt.len && memcmp(out, s->tgt.raw, ol) == 0) {
        free(out);
        st->changed = 0;
    } else {
        s->out = out;
        s->out_len = ol;
        st->changed = count_not_in(w->rows, w->n, cur ? cur->rows : NULL, cur ? cur->nrows : 0) +
                      (cur ? count_not_in(cur->rows, cur->nrows, w->rows, w->n) : 0);
        if (!st->changed)   /* same rows, other bytes (order): still a change */
            st->changed = 1;
    }
    sr_log(SR_LOG_INFO, c->who, "%s: %u rows in the new list, %u changed%s", FEATURE,
           (unsigned)w->n, st->changed, s->out ? "" : " (target already up to date)");
    return SR_OK;
}

sr_code nk_keys(cpuu_ctx *c, void *state, cpuu_keys *k, cpuu_keys *tk, sr_err *err)
{
    (void)tk;   /* no target-organisation keys */
    nk_state *s = state;
    if (s->skip || nk_removing(c) || !s->src.parsed)   /* n_plan resolves nothing then */
        return SR_OK;
    sr_code rc = SR_OK;
    for (size_t i = 0; i < s->tgt.s.nrows && rc == SR_OK; i++)
        rc = cpuu_keys_take(k, row_key(&s->tgt.s.rows[i]), err);
    for (size_t i = 0; c->src != c->tgt && i < s->src.s.nrows && rc == SR_OK; i++)
        rc = cpuu_keys_take(k, row_key(&s->src.s.rows[i]), err);
    return rc;
}

sr_code nk_plan(cpuu_ctx *c, nk_state *s, const char *tgt_name, feature_stats *st, sr_err *err)
{
    want w = {0};
    if (s->skip)
        return SR_OK;
    if (nk_removing(c)) {
        if (!s->tgt.parsed)
            return SR_OK;
        sr_log(SR_LOG_INFO, c->who, "%s: Remove=Nicks: the %zu nicknames of %s are removed",
               FEATURE, s->tgt.s.nrows, tgt_name);
        return finish_plan(c, s, &s->tgt.s, &w, st, err);
    }
    if (!s->src.parsed) {
        sr_log(SR_LOG_INFO, c->who, "%s: %s has no autocomplete list: nothing to do", FEATURE,
               mapi_session_mailbox(c->src));
        return SR_OK;
    }
    sr_code rc = resolve_all(c, s, err);
    rmap_status ms;
    int in_place = c->src == c->tgt;
    for (size_t i = 0; rc == SR_OK && !in_place && s->tgt.parsed && i < s->tgt.s.nrows; i++)
        rc = want_add(c, &w, &s->tgt.s.rows[i], 1, &ms, err);
    for (size_t i = 0; rc == SR_OK && i < s->src.s.nrows; i++) {
        const nk_row *r = &s->src.s.rows[i];
        rc = want_add(c, &w, r, 0, &ms, err);
        /* external SMTP addresses are fine as they are; an EX reference
         * or a source recipient without a target is not */
        if (rc == SR_OK && ms != RMAP_MAPPED && (ms != RMAP_UNKNOWN || is_ex(r))) {
            char *k = row_key(r);
            st->unresolved++;
            sr_log(SR_LOG_WARN, c->who, "%s: nickname %s is %s in the target organisation: kept "
                   "as it is", FEATURE, k ? k : "(no address)", rmap_status_name(ms));
            free(k);
        }
    }
    if (rc == SR_OK)
        rc = finish_plan(c, s, s->tgt.parsed ? &s->tgt.s : &s->src.s, &w, st, err);
    want_clear(&w);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

static sr_code n_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    return nk_plan(c, state, mapi_session_mailbox(c->tgt), st, err);
}

static sr_code n_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    nk_state *s = state;
    if (c->dry_run || !s->out)
        return SR_OK;
    if (cpuu_backup_exists(c, FEATURE, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    uint8_t *b = malloc(s->tgt.len + 1);
    if (!b)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    b[0] = s->tgt.has_blob ? 'B' : 'N';
    if (s->tgt.has_blob && s->tgt.len)
        memcpy(b + 1, s->tgt.raw, s->tgt.len);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, b, s->tgt.has_blob ? s->tgt.len + 1 : 1,
                                 err);
    free(b);
    return rc;
}

/* One Create/Update/DeleteUserConfiguration on the target. */
static sr_code write_config(cpuu_ctx *c, const char *what, xmlDocPtr req, sr_err *err)
{
    if (!req)
        return err->code;
    mapi_ews_call call = {.req = req};
    sr_code rc = mapi_session_run(c->tgt, &call, 1, err);
    if (rc == SR_OK)
        rc = nk_parse_status(call.resp_op, err);
    xmlFreeDoc(call.req);
    xmlFreeDoc(call.resp);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: %s %s on %s: ", c->who, FEATURE, what, CFG_NAME,
                      mapi_session_mailbox(c->tgt));
    return rc;
}

static sr_code put_stream(cpuu_ctx *c, int create, const uint8_t *b, size_t n, sr_err *err)
{
    char *b64 = mapi_base64_encode(b, n);
    if (!b64)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    mapi_ews_target t = mapi_session_target(c->tgt);
    xmlDocPtr rq = nk_req_setconfig(&t, CFG_FOLDER, CFG_NAME, create, b64, err);
    free(b64);
    return write_config(c, create ? "CreateUserConfiguration" : "UpdateUserConfiguration", rq, err);
}

static sr_code n_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    nk_state *s = state;
    if (!s->out)
        return SR_OK;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u nickname changes not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    return put_stream(c, !s->tgt.exists, s->out, s->out_len, err);
}

static sr_code n_restore(cpuu_ctx *c, sr_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    sr_code rc = cpuu_backup_get(c, FEATURE, BACKUP_NAME, &buf, &len, err);
    if (rc != SR_OK)
        return rc;
    if (len < 1 || (buf[0] != 'B' && buf[0] != 'N') || (buf[0] == 'N' && len != 1)) {
        free(buf);
        return sr_err_set(err, SR_E_PARSE, "%s: %s: backup %s/%s.%s is not a Nicks backup", c->who,
                          FEATURE, c->backup_dir, FEATURE, BACKUP_NAME);
    }
    nk_side cur = {0};
    rc = nk_get_config(c, c->tgt, &cur, err);
    if (rc == SR_OK && buf[0] == 'N' && cur.exists && !c->dry_run) {
        mapi_ews_target t = mapi_session_target(c->tgt);
        rc = write_config(c, "DeleteUserConfiguration",
                          nk_req_deleteconfig(&t, CFG_FOLDER, CFG_NAME, err), err);
    } else if (rc == SR_OK && buf[0] == 'B' && !c->dry_run &&
               !(cur.has_blob && cur.len == len - 1 && memcmp(cur.raw, buf + 1, len - 1) == 0)) {
        rc = put_stream(c, !cur.exists, (const uint8_t *)buf + 1, len - 1, err);
    }
    sr_log(SR_LOG_INFO, c->who, "%s: restore: %s", FEATURE,
           buf[0] == 'N' ? "the target had no autocomplete list" : "previous list put back");
    side_clear(&cur);
    free(buf);
    return rc;
}

extern const struct feature_ops cpuu_feat_nicks_graph;

const struct feature_ops cpuu_feat_nicks = {
    .id = CFG_F_NICKS,
    .read = n_read,
    .keys = nk_keys,
    .plan = n_plan,
    .backup = n_backup,
    .apply = n_apply,
    .restore = n_restore,
    .free_state = nk_state_free,
    .graph = &cpuu_feat_nicks_graph,
};
