/* feat_wlinks.c — the navigation shortcut features: Favorites, Calendar,
 * Contacts, Tasks, Notes, Journal and Shortcuts (docs/features.md).
 *
 * Outlook keeps every shortcut of the navigation pane as an associated
 * message of class IPM.Microsoft.WunderBar.Link in the mailbox's "Common
 * Views" folder (MS-OXOCFG 2.2.9).  One implementation serves the seven
 * features; each owns the links of its PidTagWlinkSection value(s):
 *   Favorites 1, Calendar 3, Contacts 4, Tasks 5, Notes 6, Journal 7 and
 *   Shortcuts every other value (2 is "NA" in MS-OXOCFG 2.2.9.14, absent
 *   or > 7: the classic Shortcuts pane, which the spec does not number).
 *
 * read:    Common Views of each side (FindFolder under root: EWS has no
 *          distinguished id for it), then FindItem Associated of the links.
 * plan:    per source link: header → copied; normal folder → EntryId of
 *          the target folder at the same path; shared folder → owner's
 *          Address Book EntryID (and StoreEntryId) in target terms via ONE
 *          rmap_resolve; search / public folder links → not processed.
 *          A target link is the copy of a source link when its key (header
 *          id, folder EntryId, owner + folder type) equals the source's key
 *          or the mapped key: it is updated, never duplicated.
 * backup:  the target's links of the sections (id, subject, properties).
 * apply:   CreateItem / UpdateItem, all in one concurrent batch.
 * restore: links created since are deleted, the backed-up ones set back. */
#include "cpuu/feature.h"

#include <libxml/tree.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WL_CLASS "IPM.Microsoft.WunderBar.Link"
#define BACKUP_NAME "target.txt"
#define BATCH 100

/* MS-OXPROPS tags of the PidTagWlink* properties */
enum {
    T_GROUP_HEADER_ID = 0x6842, T_SAVE_STAMP = 0x6847, T_TYPE = 0x6849, T_FLAGS = 0x684A,
    T_ORDINAL = 0x684B, T_ENTRYID = 0x684C, T_RECKEY = 0x684D, T_STORE_EID = 0x684E,
    T_FOLDER_TYPE = 0x684F, T_GROUP_CLSID = 0x6850, T_GROUP_NAME = 0x6851, T_SECTION = 0x6852,
    T_CAL_COLOR = 0x6853, T_AB_EID = 0x6854, T_CLIENT_ID = 0x6890, T_AB_STORE_EID = 0x6891,
    T_RO_GROUP_TYPE = 0x6892
};
static const struct { uint16_t id, type; } k_props[] = {
    {T_GROUP_HEADER_ID, MAPI_PT_BINARY}, {T_SAVE_STAMP, MAPI_PT_LONG}, {T_TYPE, MAPI_PT_LONG},
    {T_FLAGS, MAPI_PT_LONG}, {T_ORDINAL, MAPI_PT_BINARY}, {T_ENTRYID, MAPI_PT_BINARY},
    {T_RECKEY, MAPI_PT_BINARY}, {T_STORE_EID, MAPI_PT_BINARY}, {T_FOLDER_TYPE, MAPI_PT_BINARY},
    {T_GROUP_CLSID, MAPI_PT_BINARY}, {T_GROUP_NAME, MAPI_PT_UNICODE}, {T_SECTION, MAPI_PT_LONG},
    {T_CAL_COLOR, MAPI_PT_LONG}, {T_AB_EID, MAPI_PT_BINARY}, {T_CLIENT_ID, MAPI_PT_BINARY},
    {T_AB_STORE_EID, MAPI_PT_BINARY}, {T_RO_GROUP_TYPE, MAPI_PT_LONG},
};
#define NPROPS (sizeof k_props / sizeof k_props[0])

enum { WBL_NORMAL = 0, WBL_SEARCH = 1, WBL_SHARED = 2, WBL_HEADER = 4 };
#define SIP_PUBLIC_FOLDER 0x1u

/* Which feature: its INI name and its sections (bit n = section n; bit 0 =
 * "every section no other feature owns"). */
typedef struct wl_kind {
    const char *name;
    unsigned sections;
} wl_kind;
#define OTHER_BIT 1u

typedef struct want {
    const mapi_item *src;       /* the source link */
    mapi_extprops props;        /* its properties in target terms */
    char *skey, *dkey;          /* identity: as in the source, as planned */
    const mapi_item *tgt;       /* the target's copy, if any */
    int op;                     /* 0 nothing, 1 create, 2 update */
} want;

typedef struct wstate {
    const wl_kind *k;
    char *src_cv, *tgt_cv;      /* Common Views folder ids */
    mapi_items src, tgt;        /* links of the feature's sections */
    want *w;
    size_t nw;
} wstate;

/* ---- small helpers ---- */

static const char *pval(const mapi_item *it, uint16_t id)
{
    const mapi_extprop *p = mapi_extprops_find_tag(&it->props, id);
    return p && p->nvalues == 1 ? p->values[0] : NULL;
}

static long pnum(const mapi_item *it, uint16_t id, long dflt)
{
    const char *v = pval(it, id);
    return v ? strtol(v, NULL, 10) : dflt;
}

static int owns(const wl_kind *k, long section)
{
    if (section >= 1 && section <= 7 && section != 2)
        return (k->sections >> section) & 1u;
    return (k->sections & OTHER_BIT) != 0;
}

static sr_code want_list(mapi_extprops *l, sr_err *err)
{
    for (size_t i = 0; i < NPROPS; i++)
        if (!mapi_extprops_add_tag(l, k_props[i].id, k_props[i].type, "", err))
            return err->code;
    return SR_OK;
}

/* Replace (or add) the value of tag id in l. */
static sr_code set_val(mapi_extprops *l, uint16_t id, uint16_t type, const char *v, sr_err *err)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == MAPI_XP_TAG && l->v[i].id == id) {
            mapi_extprop *p = &l->v[i];
            for (size_t j = 0; j < p->nvalues; j++)
                free(p->values[j]);
            p->nvalues = 0;
            return mapi_extprop_add_value(p, v, err);
        }
    return mapi_extprops_add_tag(l, id, type, v, err) ? SR_OK : err->code;
}

static sr_code copy_props(const mapi_extprops *from, mapi_extprops *to, sr_err *err)
{
    for (size_t i = 0; i < from->n; i++) {
        const mapi_extprop *p = &from->v[i];
        if (p->kind != MAPI_XP_TAG || p->nvalues != 1)
            continue;
        if (!mapi_extprops_add_tag(to, (uint16_t)p->id, p->type, p->values[0], err))
            return err->code;
    }
    return SR_OK;
}

/* The identity of a link (see the file comment); heap or NULL. */
static char *link_key(long type, const char *hdr, const char *eid, const char *ab, const char *ft)
{
    if (type == WBL_HEADER)
        return sr_asprintf("H:%s", hdr ? hdr : "");
    if (type == WBL_SHARED)
        return sr_asprintf("S:%s:%s", ab ? ab : "", ft ? ft : "");
    return sr_asprintf("E:%s", eid ? eid : "");
}

static char *item_key(const mapi_item *it)
{
    return link_key(pnum(it, T_TYPE, 0), pval(it, T_GROUP_HEADER_ID), pval(it, T_ENTRYID),
                    pval(it, T_AB_EID), pval(it, T_FOLDER_TYPE));
}

/* ---- read ---- */

/* The id of "Common Views" (a child of the root folder) on session s. */
static sr_code common_views(cpuu_ctx *c, mapi_session *s, char **id, sr_err *err)
{
    /* seven features ask the same question: the answer is kept in the ctx,
     * so a profile costs one FindFolder per side, not seven */
    char **cache = s == c->src ? &c->src_common_views : s == c->tgt ? &c->tgt_common_views : NULL;
    if (cache && *cache) {
        *id = **cache ? sr_strdup(*cache) : NULL;
        return **cache && !*id ? sr_err_set(err, SR_E_NOMEM, "out of memory") : SR_OK;
    }
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_folder_ref root = {.distinguished = "root"};
    mapi_ews_call call = {.idempotent = 1};
    mapi_folders f = {0};
    call.req = mapi_ews_req_findfolder_deep(&t, &root, 0, 1000, err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(s, &call, 1, err);
    if (rc == SR_OK)
        rc = mapi_ews_parse_findfolder(call.resp_op, &f, err);
    xmlFreeDoc(call.req);
    xmlFreeDoc(call.resp);
    *id = NULL;
    for (size_t i = 0; rc == SR_OK && i < f.n && !*id; i++) {
        if (!f.v[i].display_name || strcmp(f.v[i].display_name, "Common Views") != 0)
            continue;
        int top = 1;   /* its parent is the root, which FindFolder does not list */
        for (size_t j = 0; j < f.n && top; j++)
            if (f.v[i].parent_id && f.v[j].id && strcmp(f.v[j].id, f.v[i].parent_id) == 0)
                top = 0;
        if (top && !(*id = sr_strdup(f.v[i].id)))
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    mapi_folders_clear(&f);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: FindFolder under root of %s: ", c->who, mapi_session_mailbox(s));
    else if (cache)
        *cache = sr_strdup(*id ? *id : "");
    return rc;
}

/* The links of k's sections in Common Views of s (none when the folder is
 * absent: a mailbox Outlook never opened). */
static sr_code read_links(cpuu_ctx *c, const wl_kind *k, mapi_session *s, char **cv,
                          mapi_items *out, sr_err *err)
{
    sr_code rc = common_views(c, s, cv, err);
    if (rc != SR_OK || !*cv)
        return rc;
    mapi_extprops want = {0};
    mapi_items all = {0};
    rc = want_list(&want, err);
    mapi_ews_folder_ref f = {.id = *cv};
    if (rc == SR_OK)
        rc = mapi_session_find_fai(s, &f, WL_CLASS, &want, &all, err);
    mapi_extprops_clear(&want);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: links of %s: ", c->who, k->name, mapi_session_mailbox(s));
        mapi_items_clear(&all);
        return rc;
    }
    /* move the items of k's sections into out */
    for (size_t i = 0; i < all.n; i++) {
        if (!owns(k, pnum(&all.v[i], T_SECTION, 0)))
            continue;
        if (out->n == out->cap) {
            size_t nc = out->cap ? out->cap * 2 : 16;
            mapi_item *nv = realloc(out->v, nc * sizeof *nv);
            if (!nv) {
                mapi_items_clear(&all);
                return sr_err_set(err, SR_E_NOMEM, "out of memory");
            }
            out->v = nv;
            out->cap = nc;
        }
        out->v[out->n++] = all.v[i];
        memset(&all.v[i], 0, sizeof all.v[i]);
    }
    mapi_items_clear(&all);
    return SR_OK;
}

static void wstate_free(void *v)
{
    wstate *s = v;
    if (!s)
        return;
    for (size_t i = 0; i < s->nw; i++) {
        mapi_extprops_clear(&s->w[i].props);
        free(s->w[i].skey);
        free(s->w[i].dkey);
    }
    free(s->w);
    mapi_items_clear(&s->src);
    if (s->tgt.v != s->src.v)
        mapi_items_clear(&s->tgt);
    free(s->src_cv);
    free(s->tgt_cv);
    free(s);
}

static sr_code w_read(cpuu_ctx *c, const wl_kind *k, void **state, feature_stats *st, sr_err *err)
{
    wstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    s->k = k;
    sr_code rc = read_links(c, k, c->src, &s->src_cv, &s->src, err);
    sr_err e2;   /* the target's own failure after the source's */
    if (cpuu_read_on(rc) && c->tgt != c->src)
        rc = cpuu_read_both(rc, read_links(c, k, c->tgt, &s->tgt_cv, &s->tgt, rc == SR_OK ? err : &e2));
    else if (rc == SR_OK) {   /* updated in place: one mailbox, read once */
        s->tgt = s->src;
        s->tgt_cv = s->src_cv ? sr_strdup(s->src_cv) : NULL;
    }
    st->seen = (unsigned)s->src.n;
    return rc;
}

/* ---- plan ---- */

static const mapi_folder *folder_by_eid(const mapi_folders *f, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].entryid && f->v[i].entryid_len == n && memcmp(f->v[i].entryid, b, n) == 0)
            return &f->v[i];
    return NULL;
}

static const mapi_folder *folder_by_id(const mapi_folders *f, const char *id)
{
    for (size_t i = 0; id && i < f->n; i++)
        if (f->v[i].id && strcmp(f->v[i].id, id) == 0)
            return &f->v[i];
    return NULL;
}

/* Does folder a in fa sit at the same path (names up to the top) as b in fb? */
static int same_path(const mapi_folders *fa, const mapi_folder *a, const mapi_folders *fb,
                     const mapi_folder *b)
{
    for (int depth = 0; depth < 64; depth++) {
        if (!a || !b)
            return !a && !b;
        if (!a->display_name || !b->display_name || strcmp(a->display_name, b->display_name) != 0)
            return 0;
        a = folder_by_id(fa, a->parent_id);
        b = folder_by_id(fb, b->parent_id);
    }
    return 0;
}

static const mapi_folder *target_twin(const cpuu_ctx *c, const mapi_folder *sf)
{
    for (size_t i = 0; i < c->tgt_folders.n; i++)
        if (same_path(&c->src_folders, sf, &c->tgt_folders, &c->tgt_folders.v[i]))
            return &c->tgt_folders.v[i];
    return NULL;
}

/* The X500 DN inside a base64 Address Book EntryID; heap or NULL. */
static char *ab_dn(const char *b64)
{
    uint8_t *b = NULL;
    size_t n = 0;
    sr_err e = {0};
    mapi_eid eid = {0};
    char *dn = NULL;
    if (b64 && mapi_base64_decode(b64, &b, &n, &e) == SR_OK &&
        mapi_eid_decode(b, n, &eid, &e) == SR_OK && eid.kind == MAPI_EID_ADDRBOOK && eid.x500dn)
        dn = sr_strdup(eid.x500dn);
    mapi_eid_clear(&eid);
    free(b);
    return dn;
}

/* b64 EntryID re-encoded by fn; heap base64 or NULL (with the reason in e). */
typedef void (*eid_fix)(mapi_eid *e, const char *dn);
static void fix_ab(mapi_eid *e, const char *dn) { free(e->x500dn); e->x500dn = sr_strdup(dn); }
static void fix_store(mapi_eid *e, const char *dn)
{
    free(e->mailbox_dn);
    e->mailbox_dn = sr_strdup(dn);
    /* the Exchange 2013+ tail names the source mailbox (DN, SMTP): drop it */
    free(e->store_ext);
    e->store_ext = NULL;
    e->store_ext_len = 0;
}

static char *reencode(const char *b64, mapi_eid_kind kind, eid_fix fn, const char *dn, sr_err *e)
{
    uint8_t *b = NULL, *o = NULL;
    size_t n = 0, on = 0;
    mapi_eid eid = {0};
    char *out = NULL;
    if (mapi_base64_decode(b64, &b, &n, e) == SR_OK && mapi_eid_decode(b, n, &eid, e) == SR_OK) {
        if (eid.kind != kind)
            sr_err_set(e, SR_E_UNSUPPORTED, "a %s EntryID", mapi_eid_kind_name(eid.kind));
        else {
            fn(&eid, dn);
            if (mapi_eid_encode(&eid, &o, &on, e) == SR_OK)
                out = mapi_base64_encode(o, on);
        }
    }
    mapi_eid_clear(&eid);
    free(b);
    free(o);
    return out;
}

/* Every owner DN of a shared link and the source mailbox itself, in ONE batch. */
static sr_code resolve_all(cpuu_ctx *c, wstate *s, sr_err *err)
{
    const char **keys = calloc(s->src.n + 1, sizeof *keys);
    char **dns = calloc(s->src.n + 1, sizeof *dns);
    if (!keys || !dns) {
        free(keys);
        free(dns);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    size_t n = 0;
    keys[n++] = mapi_session_mailbox(c->src);
    for (size_t i = 0; i < s->src.n; i++)
        if (pnum(&s->src.v[i], T_TYPE, 0) == WBL_SHARED &&
            (dns[i] = ab_dn(pval(&s->src.v[i], T_AB_EID))))
            keys[n++] = dns[i];
    sr_code rc = rmap_resolve(c->map, keys, n, err);
    for (size_t i = 0; i < s->src.n; i++)
        free(dns[i]);
    free(dns);
    free(keys);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, s->k->name);
    return rc;
}

/* The keys resolve_all resolves, for the engine's one batch. */
static sr_code w_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tk, sr_err *err)
{
    (void)tk;   /* no target-organisation keys */
    wstate *s = state;
    if (!s)
        return SR_OK;
    sr_code rc = cpuu_keys_take(out, sr_strdup(mapi_session_mailbox(c->src)), err);
    for (size_t i = 0; i < s->src.n && rc == SR_OK; i++)
        if (pnum(&s->src.v[i], T_TYPE, 0) == WBL_SHARED)
            rc = cpuu_keys_take(out, ab_dn(pval(&s->src.v[i], T_AB_EID)), err);
    return rc;
}

/* The target mailbox's own legacyExchangeDN (for its StoreEntryIds). */
static const char *own_target_dn(cpuu_ctx *c)
{
    rmap_target t = {0};
    if (rmap_lookup(c->map, mapi_session_mailbox(c->src), &t) == RMAP_MAPPED && t.legacy_dn)
        return t.legacy_dn;
    const mapi_ad_result *ad = mapi_session_ad(c->tgt);
    return ad && ad->legacy_dn ? ad->legacy_dn : NULL;
}

/* StoreEntryId of w in terms of mailbox dn (when present); 1 when kept. */
static int fix_store_eid(cpuu_ctx *c, want *w, const char *dn, sr_err *err, sr_code *rc)
{
    const char *v = pval(w->src, T_STORE_EID);
    if (!v)
        return 0;
    sr_err e = {0};
    char *nv = dn ? reencode(v, MAPI_EID_STORE, fix_store, dn, &e) : NULL;
    if (!nv) {
        sr_log(SR_LOG_WARN, c->who, "link \"%s\": StoreEntryId kept as it is (%s)",
               w->src->subject ? w->src->subject : "", dn ? e.msg : "no target mailbox DN");
        return 1;
    }
    *rc = set_val(&w->props, T_STORE_EID, MAPI_PT_BINARY, nv, err);
    free(nv);
    return 0;
}

/* Plan one normal folder link; 1 = not carried over. */
static int plan_normal(cpuu_ctx *c, wstate *s, want *w, feature_stats *st, sr_err *err,
                       sr_code *rc)
{
    const char *subj = w->src->subject ? w->src->subject : "";
    const char *eid64 = pval(w->src, T_ENTRYID);
    uint8_t *b = NULL;
    size_t n = 0;
    sr_err e = {0};
    const mapi_folder *sf = NULL;
    if (eid64 && mapi_base64_decode(eid64, &b, &n, &e) == SR_OK)
        sf = folder_by_eid(&c->src_folders, b, n);
    free(b);
    if (!sf) {
        /* not a folder of the source mailbox (a PST or another store):
         * such links are local to the computer; carried over unchanged */
        st->unsupported++;
        sr_log(SR_LOG_WARN, c->who, "%s: link \"%s\" points to no folder of the source mailbox "
               "(PST or other store): copied unchanged, not updated", s->k->name, subj);
        return 0;
    }
    const mapi_folder *tf = target_twin(c, sf);
    if (!tf || !tf->entryid) {
        st->unsupported++;
        sr_log(SR_LOG_WARN, c->who, "%s: link \"%s\": folder \"%s\" has no counterpart in the "
               "target mailbox: not carried over", s->k->name, subj, sf->display_name);
        return 1;
    }
    char *nv = mapi_base64_encode(tf->entryid, tf->entryid_len);
    if (!nv) {
        *rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        return 1;
    }
    *rc = set_val(&w->props, T_ENTRYID, MAPI_PT_BINARY, nv, err);
    /* RecordKey of a folder is its EntryID when it was derived from it */
    const char *rk = pval(w->src, T_RECKEY);
    if (*rc == SR_OK && rk && strcmp(rk, eid64) == 0)
        *rc = set_val(&w->props, T_RECKEY, MAPI_PT_BINARY, nv, err);
    free(nv);
    if (*rc == SR_OK && fix_store_eid(c, w, own_target_dn(c), err, rc))
        st->unresolved++;
    return 0;
}

/* Plan a link to another user's folder; 1 = not carried over. */
static int plan_shared(cpuu_ctx *c, wstate *s, want *w, feature_stats *st, sr_err *err,
                       sr_code *rc)
{
    const char *subj = w->src->subject ? w->src->subject : "";
    const char *ab = pval(w->src, T_AB_EID);
    char *dn = ab_dn(ab);
    rmap_target t = {0};
    rmap_status ms = dn ? rmap_lookup(c->map, dn, &t) : RMAP_UNKNOWN;
    if (ms != RMAP_MAPPED || !t.legacy_dn) {
        st->unresolved++;
        sr_log(SR_LOG_WARN, c->who, "%s: shared folder link \"%s\": owner %s is %s in the target "
               "organisation: link kept as it is", s->k->name, subj, dn ? dn : "(no owner)",
               ms == RMAP_MAPPED ? "without legacyExchangeDN" : rmap_status_name(ms));
        free(dn);
        return 0;
    }
    sr_err e = {0};
    char *nv = reencode(ab, MAPI_EID_ADDRBOOK, fix_ab, t.legacy_dn, &e);
    if (!nv) {
        *rc = sr_err_set(err, e.code ? e.code : SR_E_NOMEM, "%s: %s: link \"%s\": %s", c->who,
                         s->k->name, subj, e.msg);
        free(dn);
        return 1;
    }
    *rc = set_val(&w->props, T_AB_EID, MAPI_PT_BINARY, nv, err);
    free(nv);
    free(dn);
    if (*rc == SR_OK && fix_store_eid(c, w, t.legacy_dn, err, rc))
        st->unresolved++;
    return 0;
}

static sr_code w_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    wstate *s = state;
    if (!s->src.n)
        return SR_OK;
    sr_code rc = resolve_all(c, s, err);
    if (rc != SR_OK)
        return rc;
    s->w = calloc(s->src.n, sizeof *s->w);
    if (!s->w)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->src.n && rc == SR_OK; i++) {
        const mapi_item *it = &s->src.v[i];
        want *w = &s->w[s->nw];
        long type = pnum(it, T_TYPE, 0), flags = pnum(it, T_FLAGS, 0);
        const char *subj = it->subject ? it->subject : "";
        if (type == WBL_SEARCH || (flags & SIP_PUBLIC_FOLDER)) {
            st->unsupported++;
            sr_log(SR_LOG_WARN, c->who, "%s: link \"%s\" to a %s folder: not processed (the "
                   "spec excludes search and public folder favorites)", s->k->name, subj,
                   type == WBL_SEARCH ? "search" : "public");
            continue;
        }
        w->src = it;
        if ((rc = copy_props(&it->props, &w->props, err)) != SR_OK)
            break;
        int skip = 0;
        if (type == WBL_SHARED)
            skip = plan_shared(c, s, w, st, err, &rc);
        else if (type != WBL_HEADER)
            skip = plan_normal(c, s, w, st, err, &rc);
        if (skip || rc != SR_OK) {
            mapi_extprops_clear(&w->props);
            memset(w, 0, sizeof *w);
            continue;
        }
        const mapi_item tmp = {.props = w->props};
        w->skey = item_key(it);
        w->dkey = item_key(&tmp);
        if (!w->skey || !w->dkey)
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        s->nw++;
    }
    /* match the target's copies, then decide create / update / nothing */
    char *used = calloc(s->tgt.n + 1, 1);
    if (!used && rc == SR_OK)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->nw && rc == SR_OK; i++) {
        want *w = &s->w[i];
        for (size_t j = 0; j < s->tgt.n && !w->tgt; j++) {
            char *k = used[j] ? NULL : item_key(&s->tgt.v[j]);
            if (k && (strcmp(k, w->dkey) == 0 || strcmp(k, w->skey) == 0)) {
                w->tgt = &s->tgt.v[j];
                used[j] = 1;
            }
            free(k);
        }
        w->op = w->tgt ? 0 : 1;
        for (size_t p = 0; w->tgt && p < w->props.n; p++) {
            const char *have = pval(w->tgt, (uint16_t)w->props.v[p].id);
            if (!have || strcmp(have, w->props.v[p].values[0]) != 0)
                w->op = 2;
        }
        if (w->op)
            st->changed++;
        if (w->op)
            sr_log(SR_LOG_INFO, c->who, "%s: link \"%s\": %s", s->k->name,
                   w->src->subject ? w->src->subject : "", w->op == 1 ? "create" : "update");
    }
    free(used);
    return rc;
}

/* ---- backup (text: one link per "L" line, its properties on "P" lines) ---- */

static void put_esc(FILE *f, const char *v)
{
    for (; v && *v; v++) {
        if (*v == '\\' || *v == '\t' || *v == '\n' || *v == '\r')
            fprintf(f, "\\%c", *v == '\t' ? 't' : *v == '\n' ? 'n' : *v == '\r' ? 'r' : '\\');
        else
            fputc(*v, f);
    }
}

static char *serialize(const mapi_items *l, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f)
        return NULL;
    fputs("wlinks 1\n", f);
    for (size_t i = 0; i < l->n; i++) {
        fputs("L\t", f);
        put_esc(f, l->v[i].id);
        fputc('\t', f);
        put_esc(f, l->v[i].subject);
        fputc('\n', f);
        for (size_t p = 0; p < l->v[i].props.n; p++) {
            const mapi_extprop *x = &l->v[i].props.v[p];
            if (x->kind != MAPI_XP_TAG || x->nvalues != 1)
                continue;
            fprintf(f, "P\t%04X\t%04X\t", (unsigned)x->id, (unsigned)x->type);
            put_esc(f, x->values[0]);
            fputc('\n', f);
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static void unesc(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : *s == 'r' ? '\r' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Parse a backup into items (id, subject, props). */
static sr_code parse_backup(char *buf, const char *path, mapi_items *out, sr_err *err)
{
    unsigned line = 0;
    char *save = NULL;
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        line++;
        if (line == 1) {
            if (strcmp(l, "wlinks 1") != 0)
                return sr_err_set(err, SR_E_PARSE, "%s:1: not a navigation shortcut backup", path);
            continue;
        }
        char *f[4] = {0};
        int nf = 0;
        for (char *p = l; nf < 4; nf++) {
            f[nf] = p;
            char *t = strchr(p, '\t');
            if (!t) {
                nf++;
                break;
            }
            *t = '\0';
            p = t + 1;
        }
        if (strcmp(f[0], "L") == 0 && nf == 3) {
            if (out->n == out->cap) {
                size_t nc = out->cap ? out->cap * 2 : 16;
                mapi_item *nv = realloc(out->v, nc * sizeof *nv);
                if (!nv)
                    return sr_err_set(err, SR_E_NOMEM, "out of memory");
                out->v = nv;
                out->cap = nc;
            }
            mapi_item *it = &out->v[out->n++];
            memset(it, 0, sizeof *it);
            unesc(f[1]);
            unesc(f[2]);
            it->id = sr_strdup(f[1]);
            it->subject = sr_strdup(f[2]);
            it->item_class = sr_strdup(WL_CLASS);
        } else if (strcmp(f[0], "P") == 0 && nf == 4 && out->n) {
            unesc(f[3]);
            unsigned long id = strtoul(f[1], NULL, 16), ty = strtoul(f[2], NULL, 16);
            if (id == 0 || id > 0x7FFF || ty > 0xFFFF ||
                !mapi_extprops_add_tag(&out->v[out->n - 1].props, (uint16_t)id, (uint16_t)ty,
                                       f[3], err))
                return sr_err_set(err, SR_E_PARSE, "%s:%u: bad property line", path, line);
        } else {
            return sr_err_set(err, SR_E_PARSE, "%s:%u: unexpected line", path, line);
        }
    }
    return SR_OK;
}

static sr_code w_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    wstate *s = state;
    if (c->dry_run)
        return SR_OK;
    if (cpuu_backup_exists(c, s->k->name, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    size_t len = 0;
    char *buf = serialize(&s->tgt, &len);
    if (!buf)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, s->k->name);
    sr_code rc = cpuu_backup_put(c, s->k->name, BACKUP_NAME, buf, len, err);
    free(buf);
    return rc;
}

/* ---- apply / restore: one concurrent batch of Create/UpdateItem ---- */

typedef struct wop {
    const mapi_item *cur;       /* update: the item; NULL = create */
    const mapi_extprops *set;
    mapi_extprops del;          /* update: properties to remove */
    const char *subject;
} wop;

/* The element named name among the children of n (any namespace). */
static xmlNodePtr child_named(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

/* The operation element (first element of the SOAP Body) of a request. */
static xmlNodePtr req_op(xmlDocPtr d)
{
    xmlNodePtr b = child_named(xmlDocGetRootElement(d), "Body");
    for (xmlNodePtr c = b ? b->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

/* Move the items of `from` (a one-item CreateItem / UpdateItem request) into
 * `into`'s container: one request carries many items (EWS allows it). */
static sr_code merge_req(xmlDocPtr into, xmlDocPtr from, const char *container, sr_err *err)
{
    xmlNodePtr a = child_named(req_op(into), container), b = child_named(req_op(from), container);
    if (!a || !b)
        return sr_err_set(err, SR_E_INTERNAL, "request without %s", container);
    for (xmlNodePtr c = b->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        xmlNodePtr cp = xmlDocCopyNode(c, into, 1);
        if (!cp || !xmlAddChild(a, cp)) {
            xmlFreeNode(cp);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
    }
    return SR_OK;
}

/* Creates in one CreateItem, updates in one UpdateItem (per BATCH items),
 * both sent concurrently: one round trip for the whole write. */
static sr_code run_ops(cpuu_ctx *c, const char *feature, const char *cv, wop *ops, size_t n,
                       sr_err *err)
{
    mapi_ews_target t = mapi_session_target(c->tgt);
    mapi_ews_folder_ref f = {.id = cv};
    sr_code rc = SR_OK;
    size_t ncalls = 0;
    mapi_ews_call *calls = calloc(2 * (n / BATCH + 1), sizeof *calls);
    if (!calls)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (int upd = 0; upd < 2 && rc == SR_OK; upd++) {
        size_t inbatch = 0;
        for (size_t i = 0; i < n && rc == SR_OK; i++) {
            wop *o = &ops[i];
            if ((o->cur != NULL) != upd)
                continue;
            xmlDocPtr d = o->cur ? mapi_ews_req_updateitem(&t, o->cur->id, NULL, o->set,
                                                           o->del.n ? &o->del : NULL, err)
                                 : mapi_ews_req_createitem(&t, &f, WL_CLASS, o->subject, o->set,
                                                           1, err);
            if (!d) {
                rc = err->code;
                break;
            }
            if (inbatch == 0 || inbatch == BATCH) {
                calls[ncalls++].req = d;
                inbatch = 1;
                continue;
            }
            rc = merge_req(calls[ncalls - 1].req, d, upd ? "ItemChanges" : "Items", err);
            xmlFreeDoc(d);
            inbatch++;
        }
    }
    if (rc == SR_OK && ncalls)
        rc = mapi_session_run(c->tgt, calls, ncalls, err);
    /* a link the server refused (ErrorQuotaExceeded, ErrorAccessDenied)
     * was not written, and the feature says so, never counts it written */
    size_t refused = 0;
    sr_code first = SR_OK;
    char first_code[64] = "";
    for (size_t i = 0; i < ncalls; i++) {
        if (rc == SR_OK) {
            mapi_items tmp = {0};
            size_t bad = 0;
            rc = mapi_ews_parse_items(calls[i].resp_op, &tmp, err);
            const mapi_item *r = rc == SR_OK ? mapi_items_refused(&tmp, &bad) : NULL;
            if (r && !refused) {
                first = r->code;
                snprintf(first_code, sizeof first_code, "%s",
                         r->response_code ? r->response_code : "?");
            }
            refused += bad;
            mapi_items_clear(&tmp);
        }
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    free(calls);
    if (rc == SR_OK && refused)
        rc = sr_err_set(err, first, "%zu of %zu link write(s) refused, the others written; "
                        "first: %s", refused, n, first_code);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: writing links to %s: ", c->who, feature,
                      mapi_session_mailbox(c->tgt));
    return rc;
}

static sr_code w_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    (void)st;
    wstate *s = state;
    if (c->dry_run)
        return SR_OK;
    size_t n = 0;
    for (size_t i = 0; i < s->nw; i++)
        n += s->w[i].op != 0;
    if (!n)
        return SR_OK;
    if (!s->tgt_cv)
        return sr_err_set(err, SR_E_NOTFOUND, "%s: %s: the target mailbox %s has no Common Views "
                          "folder (open it once in Outlook, then run again)", c->who, s->k->name,
                          mapi_session_mailbox(c->tgt));
    wop *ops = calloc(n, sizeof *ops);
    if (!ops)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    n = 0;
    for (size_t i = 0; i < s->nw; i++)
        if (s->w[i].op)
            ops[n++] = (wop){.cur = s->w[i].op == 2 ? s->w[i].tgt : NULL, .set = &s->w[i].props,
                             .subject = s->w[i].src->subject};
    sr_code rc = run_ops(c, s->k->name, s->tgt_cv, ops, n, err);
    free(ops);
    return rc;
}

static const mapi_item *item_by_id(const mapi_items *l, const char *id)
{
    for (size_t i = 0; id && i < l->n; i++)
        if (l->v[i].id && strcmp(l->v[i].id, id) == 0)
            return &l->v[i];
    return NULL;
}

static sr_code w_restore(cpuu_ctx *c, const wl_kind *k, sr_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    sr_code rc = cpuu_backup_get(c, k->name, BACKUP_NAME, &buf, &len, err);
    if (rc != SR_OK)
        return rc;
    mapi_items bk = {0}, cur = {0};
    char *cv = NULL, *path = sr_asprintf("%s/%s", k->name, BACKUP_NAME);
    rc = parse_backup(buf, path ? path : BACKUP_NAME, &bk, err);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, k->name);
    if (rc == SR_OK)
        rc = read_links(c, k, c->tgt, &cv, &cur, err);
    wop *ops = calloc(bk.n + 1, sizeof *ops);
    const char **dels = calloc(cur.n + 1, sizeof *dels);
    size_t nops = 0, ndel = 0;
    if (rc == SR_OK && (!ops || !dels))
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == SR_OK && i < bk.n; i++) {
        const mapi_item *now = item_by_id(&cur, bk.v[i].id);
        wop *o = &ops[nops];
        *o = (wop){.cur = now, .set = &bk.v[i].props, .subject = bk.v[i].subject};
        int differs = !now;
        for (size_t p = 0; now && p < now->props.n && rc == SR_OK; p++) {
            const mapi_extprop *x = &now->props.v[p];
            if (x->kind != MAPI_XP_TAG || x->nvalues != 1)
                continue;
            const mapi_extprop *b = mapi_extprops_find_tag(&bk.v[i].props, (uint16_t)x->id);
            if (!b) {
                differs = 1;
                if (!mapi_extprops_add_tag(&o->del, (uint16_t)x->id, x->type, x->values[0], err))
                    rc = err->code;
            } else if (strcmp(b->values[0], x->values[0]) != 0) {
                differs = 1;
            }
        }
        for (size_t p = 0; now && p < bk.v[i].props.n; p++)
            if (!mapi_extprops_find_tag(&now->props, (uint16_t)bk.v[i].props.v[p].id))
                differs = 1;
        if (differs)
            nops++;
        else
            mapi_extprops_clear(&o->del);
    }
    for (size_t i = 0; rc == SR_OK && i < cur.n; i++)
        if (!item_by_id(&bk, cur.v[i].id))
            dels[ndel++] = cur.v[i].id;
    if (rc == SR_OK && !c->dry_run && nops && !cv)
        rc = sr_err_set(err, SR_E_NOTFOUND, "%s: %s: no Common Views folder in %s", c->who,
                        k->name, mapi_session_mailbox(c->tgt));
    if (rc == SR_OK && !c->dry_run && nops)
        rc = run_ops(c, k->name, cv, ops, nops, err);
    if (rc == SR_OK && !c->dry_run && ndel) {
        rc = mapi_session_delete_items(c->tgt, dels, ndel, err);
        if (rc != SR_OK)
            sr_err_prefix(err, "%s: %s: deleting links: ", c->who, k->name);
    }
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, c->who, "%s: restored: %zu links set back, %zu removed%s", k->name,
               nops, ndel, c->dry_run ? " (dry run)" : "");
    for (size_t i = 0; ops && i < bk.n; i++)
        mapi_extprops_clear(&ops[i].del);
    free(ops);
    free(dels);
    mapi_items_clear(&bk);
    mapi_items_clear(&cur);
    free(cv);
    free(path);
    free(buf);
    return rc;
}

/* ---- the seven features ---- */

/* Graph has no API for the navigation-pane links (the common views' link
 * items): on an Exchange Online target without EWS they cannot be written. */
#define WL_NO_GRAPH "Graph has no API for Outlook's navigation-pane links"

#define WL_FEATURE(var, ID, NAME, SECTIONS)                                                    \
    static const wl_kind k_##var = {NAME, SECTIONS};                                           \
    static sr_code var##_read(cpuu_ctx *c, void **s, feature_stats *st, sr_err *e)           \
    {                                                                                          \
        return w_read(c, &k_##var, s, st, e);                                                  \
    }                                                                                          \
    static sr_code var##_restore(cpuu_ctx *c, sr_err *e) { return w_restore(c, &k_##var, e); } \
    const struct feature_ops cpuu_feat_##var = {.id = ID,                                     \
                                                .read = var##_read,                           \
                                                .plan = w_plan,                               \
                                                .backup = w_backup,                           \
                                                .apply = w_apply,                             \
                                                .restore = var##_restore,                     \
                                                .free_state = wstate_free,                    \
                                                .keys = w_keys,                               \
                                                .graph = NULL,                                \
                                                .no_graph = WL_NO_GRAPH};

WL_FEATURE(favorites, CFG_F_FAVORITES, "Favorites", 1u << 1)
WL_FEATURE(calendar, CFG_F_CALENDAR, "Calendar", 1u << 3)
WL_FEATURE(contacts, CFG_F_CONTACTS, "Contacts", 1u << 4)
WL_FEATURE(tasks, CFG_F_TASKS, "Tasks", 1u << 5)
WL_FEATURE(notes, CFG_F_NOTES, "Notes", 1u << 6)
WL_FEATURE(journal, CFG_F_JOURNAL, "Journal", 1u << 7)
WL_FEATURE(shortcuts, CFG_F_SHORTCUTS, "Shortcuts", OTHER_BIT)
