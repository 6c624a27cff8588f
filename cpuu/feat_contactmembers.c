/* feat_contactmembers.c — the ContactMembers feature: in every contact
 * folder of the target mailbox, the members of personal distribution lists
 * (IPM.DistList) and the contacts' EX e-mail entries are re-pointed through
 * the recipient map (docs/features.md).
 *
 * read:    round 1: one FindItem per contact folder (all folders at once);
 *          round 2: GetItem of every item, 100 ids a request, concurrently,
 *          with DisplayName, EmailAddresses and Members.
 * plan:    one rmap_resolve for every member and EX entry; the EX ones the
 *          source does not know also on the target side (a run before may
 *          have switched them: one more round trip, only then);
 *          per item an Updates element (DL: DeleteItemField +
 *          AppendToItemField of the whole member list, keys kept; contact:
 *          SetItemField per entry).
 * backup:  the items as read before their first change (merged by id).
 * apply:   UpdateItem with 100 changes a request, concurrently.
 * restore: GetItem of the saved items; those that differ get their saved
 *          members / entries back. */
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "ContactMembers"
#define BACKUP_NAME "target.xml"
#define PAGE 1000
#define MAX_PAGES 100          /* 100,000 items per folder */
#define CHUNK 100              /* ids or changes per request */

static const char *const g_fields[] = {"item:ItemClass", "contacts:DisplayName",
                                       "contacts:EmailAddresses", "distributionlist:Members",
                                       NULL};

typedef struct cmstate {
    xmlDocPtr *docs;            /* GetItem answers (items point into them) */
    size_t ndocs;
    xmlNodePtr *items;          /* Contact / DistributionList elements */
    size_t nitems;
    xmlDocPtr scratch;          /* the Updates elements and backup copies */
    const char **uids;          /* per change: item id (points into docs) */
    const char **unames;        /* per change: display name for messages */
    xmlNodePtr *updates, *orig;
    size_t nupd;
} cmstate;

static void plan_clear(cmstate *s)
{
    xmlFreeDoc(s->scratch);
    free(s->uids);
    free(s->unames);
    free(s->updates);
    free(s->orig);
    s->scratch = NULL;
    s->uids = s->unames = NULL;
    s->updates = s->orig = NULL;
    s->nupd = 0;
}

static void cmstate_free(void *v)
{
    cmstate *s = v;
    if (!s)
        return;
    for (size_t i = 0; i < s->ndocs; i++)
        xmlFreeDoc(s->docs[i]);
    free(s->docs);
    free(s->items);
    plan_clear(s);
    free(s);
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* Round 1 (and further pages of big folders): the item ids of every
 * contact folder. */
static sr_code find_all(cpuu_ctx *c, char ***ids, size_t *nids, sr_err *err)
{
    size_t nf = 0;
    for (size_t i = 0; i < c->tgt_folders.n; i++)
        nf += c->tgt_folders.v[i].folder_class &&
              strncasecmp(c->tgt_folders.v[i].folder_class, "IPF.Contact", 11) == 0;
    const char **fid = calloc(nf ? nf : 1, sizeof *fid);
    unsigned *offset = calloc(nf ? nf : 1, sizeof *offset);
    mapi_ews_call *calls = calloc(nf ? nf : 1, sizeof *calls);
    sr_code rc = fid && offset && calls ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t k = 0;
    for (size_t i = 0; rc == SR_OK && i < c->tgt_folders.n; i++)
        if (c->tgt_folders.v[i].folder_class &&
            strncasecmp(c->tgt_folders.v[i].folder_class, "IPF.Contact", 11) == 0)
            fid[k++] = c->tgt_folders.v[i].id;
    mapi_ews_target t = mapi_session_target(c->tgt);
    size_t open = nf;   /* folders with pages still to read */
    for (int page = 0; rc == SR_OK && open && page < MAX_PAGES; page++) {
        size_t nc = 0;
        for (size_t i = 0; i < nf && rc == SR_OK; i++) {
            if (!fid[i])
                continue;
            memset(&calls[nc], 0, sizeof calls[nc]);
            calls[nc].idempotent = 1;
            calls[nc].req = ewsf_req_finditems(&t, fid[i], offset[i], PAGE, err);
            rc = calls[nc++].req ? SR_OK : err->code;
        }
        if (rc == SR_OK)
            rc = mapi_session_run(c->tgt, calls, nc, err);
        for (size_t i = 0, j = 0; i < nf && j < nc; i++) {
            if (!fid[i])
                continue;
            int last = 1;
            if (rc == SR_OK)
                rc = ewsf_parse_itemids(calls[j].resp_op, ids, nids, &last, err);
            offset[i] += PAGE;
            if (last) {
                fid[i] = NULL;
                open--;
            }
            xmlFreeDoc(calls[j].req);
            xmlFreeDoc(calls[j].resp);
            j++;
        }
    }
    if (rc == SR_OK && open)
        sr_log(SR_LOG_WARN, c->who, "%s: a contact folder holds more than %d items: only the "
               "first are handled", FEATURE, PAGE * MAX_PAGES);
    free(fid);
    free(offset);
    free(calls);
    return rc;
}

/* Round 2: GetItem of every id, CHUNK per request, all concurrently. */
static sr_code get_all(cpuu_ctx *c, cmstate *s, char **ids, size_t n, sr_err *err)
{
    size_t nc = (n + CHUNK - 1) / CHUNK;
    mapi_ews_call *calls = calloc(nc ? nc : 1, sizeof *calls);
    s->docs = calloc(nc ? nc : 1, sizeof *s->docs);
    s->items = calloc(n ? n : 1, sizeof *s->items);
    if (!calls || !s->docs || !s->items) {
        free(calls);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    mapi_ews_target t = mapi_session_target(c->tgt);
    sr_code rc = SR_OK;
    for (size_t i = 0; i < nc && rc == SR_OK; i++) {
        size_t k = n - i * CHUNK < CHUNK ? n - i * CHUNK : CHUNK;
        calls[i].idempotent = 1;
        calls[i].req = ewsf_req_getitems(&t, (const char *const *)ids + i * CHUNK, k, g_fields, err);
        rc = calls[i].req ? SR_OK : err->code;
    }
    if (rc == SR_OK && nc)
        rc = mapi_session_run(c->tgt, calls, nc, err);
    for (size_t i = 0; i < nc; i++) {
        xmlNodePtr *v = NULL;
        size_t k = 0;
        unsigned bad = 0;
        sr_err e = {0};
        if (rc == SR_OK && calls[i].resp_op)
            ewsf_parse_itemlist(calls[i].resp_op, &v, &k, &bad, &e);   /* gone since: skipped */
        for (size_t j = 0; j < k; j++)
            if (v[j])
                s->items[s->nitems++] = v[j];
        free(v);
        s->docs[s->ndocs++] = calls[i].resp;
        xmlFreeDoc(calls[i].req);
    }
    free(calls);
    return rc;
}

static sr_code cm_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    cmstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    char **ids = NULL;
    size_t n = 0;
    sr_code rc = find_all(c, &ids, &n, err);
    if (rc == SR_OK)
        rc = get_all(c, s, ids, n, err);
    free_ids(ids, n);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: reading the contact folders of %s: ", c->who, FEATURE,
                      mapi_session_mailbox(c->tgt));
    st->seen = (unsigned)s->nitems;
    return rc;
}

/* ---- what an item references ---- */
static int is_dl(xmlNodePtr it)
{
    return xmlStrcmp(it->name, BAD_CAST "DistributionList") == 0;
}

static int is_dn(const char *v)
{
    return v && (strncasecmp(v, "/o=", 3) == 0 || strncasecmp(v, "X500:", 5) == 0);
}

static xmlNodePtr members_of(xmlNodePtr it)
{
    return mapi_xml_child(it, EWSF_NS_T, "Members");
}

static xmlNodePtr entries_of(xmlNodePtr it)
{
    return mapi_xml_child(it, EWSF_NS_T, "EmailAddresses");
}

typedef struct keys {
    char **v;
    size_t n, cap;
} keys;

/* The EX addresses the source side does not know also go to the target side
 * (rmap_resolve_target_unknown): after a first run the target's items hold
 * target-organisation DNs, which are no unresolved references. */
typedef struct keysets {
    keys all, ex;
} keysets;

static void key_add(keys *k, char *v)
{
    if (!v)
        return;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 64;
        char **nv = realloc(k->v, nc * sizeof *nv);
        if (!nv) {
            free(v);
            return;
        }
        k->v = nv;
        k->cap = nc;
    }
    k->v[k->n++] = v;
}

static void collect(const cmstate *s, keysets *k)
{
    for (size_t i = 0; i < s->nitems; i++) {
        xmlNodePtr it = s->items[i];
        for (xmlNodePtr m = mapi_xml_child(members_of(it), NULL, NULL); m; m = mapi_xml_next(m, NULL, NULL)) {
            char *a = mapi_xml_child_text(mapi_xml_child(m, EWSF_NS_T, "Mailbox"), EWSF_NS_T,
                                          "EmailAddress");
            if (is_dn(a))
                key_add(&k->ex, sr_strdup(a));
            key_add(&k->all, a);
        }
        for (xmlNodePtr e = mapi_xml_child(entries_of(it), NULL, NULL); e; e = mapi_xml_next(e, NULL, NULL)) {
            xmlChar *v = xmlNodeGetContent(e);
            if (v && is_dn((const char *)v)) {
                key_add(&k->all, sr_strdup((const char *)v));
                key_add(&k->ex, sr_strdup((const char *)v));
            }
            xmlFree(v);
        }
    }
}

/* The new value of one address (NULL: keep), reporting what stays. */
static const char *mapped(cpuu_ctx *c, const char *item, const char *addr, int ex,
                          feature_stats *st, int *to_smtp)
{
    rmap_target t = {0};
    rmap_status ms = rmap_lookup(c->map, addr, &t);
    *to_smtp = 0;
    if (ms == RMAP_MAPPED) {
        if (ex && t.legacy_dn)
            return t.legacy_dn;
        *to_smtp = ex;   /* the target DN is unknown: the SMTP address reaches the user */
        return t.smtp;
    }
    if (ms == RMAP_UNKNOWN && !ex)
        return NULL;   /* an external address: nothing to map */
    if (ms == RMAP_UNKNOWN && rmap_target_smtp_of(c->map, addr))
        return NULL;   /* already the target organisation's (a run before switched it) */
    st->unresolved++;
    sr_log(SR_LOG_WARN, c->who, "%s: \"%s\": %s is %s in the target organisation: kept as it is",
           FEATURE, item, addr, rmap_status_name(ms));
    return NULL;
}

static xmlNodePtr tnode(xmlNodePtr parent, xmlNsPtr ns, const char *name)
{
    return xmlNewChild(parent, ns, BAD_CAST name, NULL);
}

static xmlNodePtr field(xmlNodePtr parent, xmlNsPtr ns, const char *el, const char *uri)
{
    xmlNodePtr f = tnode(parent, ns, el);
    xmlNodePtr u = f ? tnode(f, ns, "FieldURI") : NULL;
    if (u)
        xmlNewProp(u, BAD_CAST "FieldURI", BAD_CAST uri);
    return f;
}

/* DL: the whole member list again (DeleteItemField + AppendToItemField);
 * members' Keys kept.  Returns the number of rewritten members. */
static int plan_dl(cpuu_ctx *c, xmlNodePtr it, const char *name, xmlNodePtr upd, xmlNsPtr ns,
                   feature_stats *st)
{
    xmlNodePtr mem = members_of(it);
    if (!mem)
        return 0;
    field(upd, ns, "DeleteItemField", "distributionlist:Members");
    xmlNodePtr ap = field(upd, ns, "AppendToItemField", "distributionlist:Members");
    xmlNodePtr dl = ap ? tnode(ap, ns, "DistributionList") : NULL;
    xmlNodePtr copy = dl ? xmlDocCopyNode(mem, upd->doc, 1) : NULL;
    if (!copy)
        return -1;
    xmlAddChild(dl, copy);
    int n = 0;
    for (xmlNodePtr m = mapi_xml_child(copy, NULL, NULL); m; m = mapi_xml_next(m, NULL, NULL)) {
        xmlNodePtr mb = mapi_xml_child(m, EWSF_NS_T, "Mailbox");
        xmlNodePtr ea = mapi_xml_child(mb, EWSF_NS_T, "EmailAddress");
        char *addr = mapi_xml_child_text(mb, EWSF_NS_T, "EmailAddress");
        char *rt = mapi_xml_child_text(mb, EWSF_NS_T, "RoutingType");
        int ex = (rt && strcasecmp(rt, "EX") == 0) || is_dn(addr), to_smtp = 0;
        const char *nv = addr ? mapped(c, name, addr, ex, st, &to_smtp) : NULL;
        if (nv && strcmp(nv, addr) != 0) {
            xmlNodeSetContent(ea, NULL);
            xmlNodeAddContent(ea, BAD_CAST nv);
            xmlNodePtr rtn = mapi_xml_child(mb, EWSF_NS_T, "RoutingType");
            if (to_smtp && rtn) {
                xmlNodeSetContent(rtn, NULL);
                xmlNodeAddContent(rtn, BAD_CAST "SMTP");
            }
            n++;
        }
        free(addr);
        free(rt);
    }
    return n;
}

/* Contact: SetItemField of every EX entry that maps.  Returns the count. */
static int plan_contact(cpuu_ctx *c, xmlNodePtr it, const char *name, xmlNodePtr upd,
                        xmlNsPtr ns, feature_stats *st)
{
    int n = 0;
    for (xmlNodePtr e = mapi_xml_child(entries_of(it), NULL, NULL); e; e = mapi_xml_next(e, NULL, NULL)) {
        xmlChar *v = xmlNodeGetContent(e);
        char *key = mapi_xml_attr(e, "Key");
        int to_smtp = 0;
        const char *nv = v && key && is_dn((const char *)v)
                             ? mapped(c, name, (const char *)v, 1, st, &to_smtp) : NULL;
        if (nv && strcmp(nv, (const char *)v) != 0) {
            xmlNodePtr set = tnode(upd, ns, "SetItemField");
            xmlNodePtr ix = set ? tnode(set, ns, "IndexedFieldURI") : NULL;
            if (ix) {
                xmlNewProp(ix, BAD_CAST "FieldURI", BAD_CAST "contacts:EmailAddress");
                xmlNewProp(ix, BAD_CAST "FieldIndex", BAD_CAST key);
            }
            xmlNodePtr ct = set ? tnode(set, ns, "Contact") : NULL;
            xmlNodePtr eas = ct ? tnode(ct, ns, "EmailAddresses") : NULL;
            xmlNodePtr en = eas ? xmlNewTextChild(eas, ns, BAD_CAST "Entry", BAD_CAST nv) : NULL;
            if (en) {
                xmlNewProp(en, BAD_CAST "Key", BAD_CAST key);
                n++;
            }
        }
        xmlFree(v);
        free(key);
    }
    return n;
}

static const char *id_of(xmlNodePtr it)
{
    xmlNodePtr id = mapi_xml_child(it, EWSF_NS_T, "ItemId");
    xmlAttrPtr a = id ? xmlHasProp(id, BAD_CAST "Id") : NULL;
    return a && a->children ? (const char *)a->children->content : NULL;
}

static const char *name_of(xmlNodePtr it)
{
    xmlNodePtr dn = mapi_xml_child(it, EWSF_NS_T, "DisplayName");
    return dn && dn->children && dn->children->content ? (const char *)dn->children->content
                                                       : "(no name)";
}

static sr_code plan_alloc(cmstate *s, size_t n, sr_err *err)
{
    s->scratch = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = s->scratch ? xmlNewDocNode(s->scratch, NULL, BAD_CAST "Plan", NULL) : NULL;
    if (root) {
        xmlDocSetRootElement(s->scratch, root);
        xmlSetNs(root, xmlNewNs(root, BAD_CAST EWSF_NS_T, BAD_CAST "t"));
    }
    n = n ? n : 1;
    s->uids = calloc(n, sizeof *s->uids);
    s->unames = calloc(n, sizeof *s->unames);
    s->updates = calloc(n, sizeof *s->updates);
    s->orig = calloc(n, sizeof *s->orig);
    if (!root || !s->uids || !s->unames || !s->updates || !s->orig)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    return SR_OK;
}

/* The keys cm_plan resolves, for the engine's one batch. */
static sr_code keys_move(keys *k, cpuu_keys *out, sr_code rc, sr_err *err)
{
    for (size_t i = 0; i < k->n; i++)
        if (rc == SR_OK)
            rc = cpuu_keys_take(out, k->v[i], err);
        else
            free(k->v[i]);
    free(k->v);
    return rc;
}

static sr_code cm_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tk, sr_err *err)
{
    (void)c;
    (void)tk;   /* the target side only for what the source leaves unknown (plan) */
    keysets k = {0};
    collect(state, &k);
    free_ids(k.ex.v, k.ex.n);
    return keys_move(&k.all, out, SR_OK, err);
}

static sr_code cm_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    cmstate *s = state;
    plan_clear(s);
    keysets k = {0};
    collect(s, &k);
    sr_code rc = rmap_resolve(c->map, (const char *const *)k.all.v, k.all.n, err);
    if (rc == SR_OK)
        rc = rmap_resolve_target_unknown(c->map, (const char *const *)k.ex.v, k.ex.n, err);
    free_ids(k.all.v, k.all.n);
    free_ids(k.ex.v, k.ex.n);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
        return rc;
    }
    rc = plan_alloc(s, s->nitems, err);
    xmlNodePtr root = s->scratch ? xmlDocGetRootElement(s->scratch) : NULL;
    unsigned ndl = 0, nct = 0;
    for (size_t i = 0; rc == SR_OK && i < s->nitems; i++) {
        xmlNodePtr it = s->items[i];
        const char *id = id_of(it), *name = name_of(it);
        xmlNodePtr upd = id ? tnode(root, root->ns, "Updates") : NULL;
        if (!upd)
            continue;
        int n = is_dl(it) ? plan_dl(c, it, name, upd, root->ns, st)
                          : plan_contact(c, it, name, upd, root->ns, st);
        if (n < 0) {
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        } else if (n == 0) {
            xmlUnlinkNode(upd);
            xmlFreeNode(upd);
        } else {
            xmlNodePtr o = xmlDocCopyNode(it, s->scratch, 1);
            if (o)
                xmlAddChild(root, o);   /* for the backup */
            s->uids[s->nupd] = id;
            s->unames[s->nupd] = name;
            s->updates[s->nupd] = upd;
            s->orig[s->nupd++] = o;
            if (is_dl(it))
                ndl++;
            else
                nct++;
            sr_log(SR_LOG_INFO, c->who, "%s: plan: \"%s\": %d address%s re-pointed", FEATURE,
                   name, n, n == 1 ? "" : "es");
        }
    }
    st->changed = (unsigned)s->nupd;
    sr_log(SR_LOG_INFO, c->who, "%s: %zu contact items; change %u lists and %u contacts", FEATURE,
           s->nitems, ndl, nct);
    return rc;
}

/* ---- backup: <ContactMembers> + the items as first read ---- */
static sr_code cm_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    cmstate *s = state;
    if (c->dry_run || !s->nupd)
        return SR_OK;
    char *old = NULL;
    size_t len = 0;
    sr_err e = {0};
    xmlDocPtr d = NULL;
    if (cpuu_backup_get(c, FEATURE, BACKUP_NAME, &old, &len, &e) == SR_OK) {
        d = mapi_xml_parse(old, len, "ContactMembers backup", err);
        free(old);
        if (!d)
            return err->code;
    } else {
        d = xmlNewDoc(BAD_CAST "1.0");
        xmlNodePtr r = d ? xmlNewDocNode(d, NULL, BAD_CAST "ContactMembers", NULL) : NULL;
        if (!r) {
            xmlFreeDoc(d);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        xmlDocSetRootElement(d, r);
    }
    xmlNodePtr root = xmlDocGetRootElement(d);
    for (size_t i = 0; i < s->nupd; i++) {   /* an item saved before keeps its first state */
        int have = 0;
        for (xmlNodePtr x = mapi_xml_child(root, NULL, NULL); x && !have; x = mapi_xml_next(x, NULL, NULL))
            have = id_of(x) && strcmp(id_of(x), s->uids[i]) == 0;
        xmlNodePtr cp = !have && s->orig[i] ? xmlDocCopyNode(s->orig[i], d, 1) : NULL;
        if (cp)
            xmlAddChild(root, cp);
    }
    xmlReconciliateNs(d, root);
    int n = 0;
    xmlChar *x = ewsf_dump_node(root, &n);
    xmlFreeDoc(d);
    if (!x)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, x, (size_t)n, err);
    xmlFree(x);
    return rc;
}

/* UpdateItem of every planned change, CHUNK per request, concurrently. */
static sr_code write_changes(cpuu_ctx *c, cmstate *s, sr_err *err)
{
    size_t nc = (s->nupd + CHUNK - 1) / CHUNK;
    if (!nc)
        return SR_OK;
    mapi_ews_call *calls = calloc(nc, sizeof *calls);
    if (!calls)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    mapi_ews_target t = mapi_session_target(c->tgt);
    sr_code rc = SR_OK;
    for (size_t i = 0; i < nc && rc == SR_OK; i++) {
        size_t k = s->nupd - i * CHUNK < CHUNK ? s->nupd - i * CHUNK : CHUNK;
        calls[i].req = ewsf_req_updateitems(&t, s->uids + i * CHUNK, s->updates + i * CHUNK, k, err);
        rc = calls[i].req ? SR_OK : err->code;
    }
    if (rc == SR_OK)
        rc = mapi_session_run(c->tgt, calls, nc, err);
    unsigned failed = 0;
    const char *first = NULL;
    sr_err fe = {0};
    for (size_t i = 0; i < nc; i++) {
        xmlNodePtr *v = NULL;
        size_t k = 0;
        unsigned bad = 0;
        sr_err e = {0};
        if (rc == SR_OK && ewsf_parse_itemlist(calls[i].resp_op, &v, &k, &bad, &e) != SR_OK)
            for (size_t j = 0; j < k; j++)
                if (!v[j]) {
                    const char *nm = s->unames[i * CHUNK + j];
                    sr_log(SR_LOG_ERROR, c->who, "%s: \"%s\": UpdateItem refused: %s", FEATURE,
                           nm, e.msg);
                    if (!first) {
                        first = nm;
                        fe = e;
                    }
                    failed++;
                }
        free(v);
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    free(calls);
    if (rc == SR_OK && failed) {
        *err = fe;
        rc = fe.code;
        sr_err_prefix(err, "%u of %zu items refused, first \"%s\": ", failed, s->nupd, first);
    }
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: UpdateItem on %s: ", c->who, FEATURE,
                      mapi_session_mailbox(c->tgt));
    return rc;
}

static sr_code cm_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u item changes not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    return write_changes(c, state, err);
}

/* ---- rollback ---- */
static int same_child(xmlNodePtr a, xmlNodePtr b, const char *name)
{
    char *x = ewsf_canon(mapi_xml_child(a, EWSF_NS_T, name));
    char *y = ewsf_canon(mapi_xml_child(b, EWSF_NS_T, name));
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

/* Updates putting the saved members / entries back. */
static int restore_updates(xmlNodePtr saved, xmlNodePtr upd, xmlNsPtr ns)
{
    if (is_dl(saved)) {
        field(upd, ns, "DeleteItemField", "distributionlist:Members");
        xmlNodePtr mem = members_of(saved);
        if (mem && mapi_xml_child(mem, NULL, NULL)) {
            xmlNodePtr ap = field(upd, ns, "AppendToItemField", "distributionlist:Members");
            xmlNodePtr dl = ap ? tnode(ap, ns, "DistributionList") : NULL;
            xmlNodePtr cp = dl ? xmlDocCopyNode(mem, upd->doc, 1) : NULL;
            if (!cp)
                return -1;
            xmlAddChild(dl, cp);
        }
        return 1;
    }
    int n = 0;
    for (xmlNodePtr e = mapi_xml_child(entries_of(saved), NULL, NULL); e; e = mapi_xml_next(e, NULL, NULL)) {
        char *key = mapi_xml_attr(e, "Key");
        xmlNodePtr set = key ? tnode(upd, ns, "SetItemField") : NULL;
        xmlNodePtr ix = set ? tnode(set, ns, "IndexedFieldURI") : NULL;
        xmlNodePtr ct = ix ? tnode(set, ns, "Contact") : NULL;
        xmlNodePtr eas = ct ? tnode(ct, ns, "EmailAddresses") : NULL;
        xmlNodePtr cp = eas ? xmlDocCopyNode(e, upd->doc, 1) : NULL;
        if (cp) {
            xmlNewProp(ix, BAD_CAST "FieldURI", BAD_CAST "contacts:EmailAddress");
            xmlNewProp(ix, BAD_CAST "FieldIndex", BAD_CAST key);
            xmlAddChild(eas, cp);
            n++;
        }
        free(key);
    }
    return n;
}

static sr_code cm_restore(cpuu_ctx *c, sr_err *err)
{
    xmlDocPtr doc = NULL;
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "ContactMembers", "ContactMembers", &doc, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    size_t n = 0;
    for (xmlNodePtr x = mapi_xml_child(root, NULL, NULL); x; x = mapi_xml_next(x, NULL, NULL))
        n++;
    char **ids = calloc(n ? n : 1, sizeof *ids);
    cmstate s = {0};
    rc = ids ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t k = 0;
    for (xmlNodePtr x = mapi_xml_child(root, NULL, NULL); rc == SR_OK && x; x = mapi_xml_next(x, NULL, NULL))
        if (id_of(x))
            ids[k++] = sr_strdup(id_of(x));
    if (rc == SR_OK)
        rc = get_all(c, &s, ids, k, err);
    if (rc == SR_OK)
        rc = plan_alloc(&s, k, err);
    xmlNodePtr proot = s.scratch ? xmlDocGetRootElement(s.scratch) : NULL;
    for (xmlNodePtr x = mapi_xml_child(root, NULL, NULL); rc == SR_OK && x; x = mapi_xml_next(x, NULL, NULL)) {
        xmlNodePtr cur = NULL;
        for (size_t i = 0; i < s.nitems && !cur; i++)
            cur = id_of(s.items[i]) && id_of(x) && !strcmp(id_of(s.items[i]), id_of(x)) ? s.items[i] : NULL;
        if (!cur) {
            sr_log(SR_LOG_WARN, c->who, "%s: restore: \"%s\" is gone from the target: skipped",
                   FEATURE, name_of(x));
            continue;
        }
        if (same_child(x, cur, is_dl(x) ? "Members" : "EmailAddresses"))
            continue;
        xmlNodePtr upd = tnode(proot, proot->ns, "Updates");
        if (!upd || restore_updates(x, upd, proot->ns) <= 0)
            continue;
        s.uids[s.nupd] = id_of(cur);
        s.unames[s.nupd] = name_of(x);
        s.updates[s.nupd++] = upd;
    }
    sr_log(SR_LOG_INFO, c->who, "%s: restore: %zu items", FEATURE, s.nupd);
    if (rc == SR_OK && !c->dry_run)
        rc = write_changes(c, &s, err);
    for (size_t i = 0; i < s.ndocs; i++)
        xmlFreeDoc(s.docs[i]);
    free(s.docs);
    free(s.items);
    plan_clear(&s);
    free_ids(ids, k);
    xmlFreeDoc(doc);
    return rc;
}

/* the same over Microsoft Graph (feat_contactmembers_graph.c) */
extern const struct feature_ops cpuu_feat_contactmembers_graph;

const struct feature_ops cpuu_feat_contactmembers = {
    .id = CFG_F_CONTACTMEMBERS,
    .read = cm_read,
    .keys = cm_keys,
    .plan = cm_plan,
    .backup = cm_backup,
    .apply = cm_apply,
    .restore = cm_restore,
    .free_state = cmstate_free,
    .graph = &cpuu_feat_contactmembers_graph,
};
