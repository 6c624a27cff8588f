/* feat_searchfolders.c — the SearchFolders feature: the source mailbox's
 * search folders (the containers under Finder) copied to the target with
 * their restriction, base folders, traversal, display name and class
 * (docs/features.md).
 *
 * read:    per side, round 1: FindFolder Shallow on `searchfolders` and a
 *          GetFolder of the well-known distinguished folders (their ids map
 *          base folders between the mailboxes whatever the folder language);
 *          round 2: GetFolder of every search folder with SearchParameters.
 * plan:    one rmap_resolve for every address constant of every
 *          restriction; base folders map source id → path ("{inbox}/Projects",
 *          anchored at the nearest distinguished folder) → target id; the
 *          target's search folder of the same name is compared with the
 *          wanted one (restriction, base folder set, traversal).
 * backup:  the target's search folders as read (the first run's is kept).
 * apply:   one CreateFolder with every new search folder and one
 *          UpdateFolder with every changed one, sent concurrently.
 * restore: delete the search folders the backup does not have, then put
 *          back (update or re-create) the ones it has. */
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"
#include "cpuu/searchfolders.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "SearchFolders"
#define BACKUP_NAME "target.xml"
#define MAX_SEARCH_FOLDERS 1000

/* Distinguished folders a search may start from (MS-OXWSCDATA
 * DistinguishedFolderIdNameType); searchfolders last. */
const char *const sf_dist[SF_NDIST + 1] = {"msgfolderroot", "inbox",    "sentitems", "drafts",
                                     "deleteditems",  "junkemail", "outbox",   "calendar",
                                     "contacts",      "tasks",     "notes",    "journal",
                                     "searchfolders", NULL};
#define NDIST SF_NDIST

typedef struct sfstate {
    sf_side src, tgt;
    int same;                      /* updated in place: src is tgt */
    xmlDocPtr want;                /* holds the wanted SearchParameters */
    const char **cnames, **cclasses;
    xmlNodePtr *cparams;
    size_t ncreate;
    const char **uids;
    xmlNodePtr *uparams;
    size_t nupdate;
} sfstate;

void sf_side_clear(sf_side *s)
{
    xmlFreeDoc(s->dist_doc);
    xmlFreeDoc(s->get_doc);
    for (size_t i = 0; i < NDIST; i++)
        free(s->dist_id[i]);
    free(s->sf);
    memset(s, 0, sizeof *s);
}

static void plan_clear(sfstate *s)
{
    xmlFreeDoc(s->want);
    free(s->cnames);
    free(s->cclasses);
    free(s->cparams);
    free(s->uids);
    free(s->uparams);
    s->want = NULL;
    s->cnames = s->cclasses = s->uids = NULL;
    s->cparams = s->uparams = NULL;
    s->ncreate = s->nupdate = 0;
}

static void sfstate_free(void *v)
{
    sfstate *s = v;
    if (!s)
        return;
    sf_side_clear(&s->src);
    if (!s->same)
        sf_side_clear(&s->tgt);
    plan_clear(s);
    free(s);
}

static char *attr(xmlNodePtr n, const char *name)
{
    return mapi_xml_attr(n, name);
}

static char *folder_id(xmlNodePtr f)
{
    return attr(mapi_xml_child(f, EWSF_NS_T, "FolderId"), "Id");
}

/* Round 1 answers into sd: distinguished ids, search folder ids. */
static sr_code take_round1(mapi_ews_call *calls, sf_side *sd, mapi_folders *found, sr_err *err)
{
    sr_code rc = mapi_ews_parse_findfolder(calls[0].resp_op, found, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr *v = NULL;
    size_t n = 0;
    unsigned bad = 0;
    sr_err e = {0};
    ewsf_parse_folders(calls[1].resp_op, &v, &n, &bad, &e);   /* a missing one is no error */
    for (size_t i = 0; i < n && i < NDIST; i++)
        sd->dist_id[i] = v[i] ? folder_id(v[i]) : NULL;
    free(v);
    sd->dist_doc = calls[1].resp;
    calls[1].resp = NULL;
    return SR_OK;
}

/* Round 2: GetFolder with SearchParameters of the folders found. */
static sr_code get_search_folders(mapi_session *s, sf_side *sd, const mapi_folders *found,
                                  sr_err *err)
{
    if (!found->n)
        return SR_OK;
    const char **ids = calloc(found->n, sizeof *ids);
    if (!ids)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < found->n; i++)
        ids[i] = found->v[i].id;
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_call call = {.idempotent = 1};
    call.req = ewsf_req_getfolders(&t, ids, found->n, NULL, 1, err);
    free(ids);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(s, &call, 1, err);
    xmlFreeDoc(call.req);
    xmlNodePtr *v = NULL;
    size_t n = 0;
    unsigned bad = 0;
    if (rc == SR_OK)
        rc = ewsf_parse_folders(call.resp_op, &v, &n, &bad, err);
    sd->get_doc = call.resp;
    if (rc != SR_OK) {
        free(v);
        return rc;
    }
    sd->sf = v;
    for (size_t i = 0; i < n; i++)   /* keep only folders that are searches */
        if (v[i] && mapi_xml_child(v[i], EWSF_NS_T, "SearchParameters"))
            sd->sf[sd->nsf++] = v[i];
    return SR_OK;
}

sr_code sf_read_side(cpuu_ctx *c, mapi_session *s, sf_side *sd, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_call calls[2] = {{.idempotent = 1}, {.idempotent = 1}};
    calls[0].req = ewsf_req_find_searchfolders(&t, MAX_SEARCH_FOLDERS, err);
    calls[1].req = calls[0].req ? ewsf_req_getfolders(&t, NULL, 0, sf_dist, 0, err) : NULL;
    sr_code rc = calls[1].req ? mapi_session_run(s, calls, 2, err) : err->code;
    mapi_folders found = {0};
    if (rc == SR_OK)
        rc = take_round1(calls, sd, &found, err);
    for (int i = 0; i < 2; i++) {
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    if (rc == SR_OK && !found.includes_last)
        sr_log(SR_LOG_WARN, c->who, "%s: %s has more than %d search folders: only the first %d "
               "are handled", FEATURE, mapi_session_mailbox(s), MAX_SEARCH_FOLDERS,
               MAX_SEARCH_FOLDERS);
    if (rc == SR_OK)
        rc = get_search_folders(s, sd, &found, err);
    mapi_folders_clear(&found);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: reading the search folders of %s: ", c->who, FEATURE,
                      mapi_session_mailbox(s));
    return rc;
}

static sr_code sf_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    sfstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    s->same = c->src == c->tgt;
    sr_code rc = sf_read_side(c, c->src, &s->src, err);
    sr_err e2;   /* the target's own failure after the source's */
    if (cpuu_read_on(rc) && !s->same)
        rc = cpuu_read_both(rc, sf_read_side(c, c->tgt, &s->tgt, rc == SR_OK ? err : &e2));
    if (s->same)
        s->tgt = s->src;   /* one mailbox, read once; freed once (sfstate_free) */
    st->seen = (unsigned)s->src.nsf;
    return rc;
}

/* ---- base folders: source id → anchored path → target id ---- */
static int dist_index(const sf_side *sd, const char *id)
{
    for (size_t k = 0; id && k < NDIST; k++)
        if (sd->dist_id[k] && strcmp(sd->dist_id[k], id) == 0)
            return (int)k;
    return -1;
}

static const mapi_folder *by_id(const mapi_folders *f, const char *id)
{
    for (size_t i = 0; id && i < f->n; i++)
        if (f->v[i].id && strcmp(f->v[i].id, id) == 0)
            return &f->v[i];
    return NULL;
}

/* "{inbox}/Projects/Archive 2019": names up to the nearest distinguished
 * folder (whose display name depends on the mailbox language).  Heap. */
char *sf_anchored_path(const sf_side *sd, const mapi_folders *f, const char *id)
{
    char *path = NULL;
    for (int depth = 0; id && depth < 64; depth++) {
        int k = dist_index(sd, id);
        const mapi_folder *m = k < 0 ? by_id(f, id) : NULL;
        const char *name = k >= 0 ? sf_dist[k] : m ? m->display_name : NULL;
        if (!name) {
            free(path);
            return NULL;
        }
        char *np = k >= 0 ? sr_asprintf("{%s}%s%s", name, path ? "/" : "", path ? path : "")
                          : sr_asprintf("%s%s%s", name, path ? "/" : "", path ? path : "");
        free(path);
        path = np;
        if (k >= 0 || !path)
            return path;
        id = m->parent_id;
    }
    free(path);
    return NULL;
}

/* The target id for a source base folder element; NULL when the target has
 * no such folder (*what names it).  Heap. */
static char *map_base(cpuu_ctx *c, sfstate *s, xmlNodePtr b, char **what)
{
    char *id = attr(b, "Id");
    *what = NULL;
    if (!id)
        return NULL;
    if (xmlStrcmp(b->name, BAD_CAST "DistinguishedFolderId") == 0) {
        for (size_t k = 0; k < NDIST; k++)
            if (strcmp(sf_dist[k], id) == 0 && s->tgt.dist_id[k]) {
                *what = id;
                return sr_strdup(s->tgt.dist_id[k]);
            }
        *what = id;
        return NULL;
    }
    char *path = sf_anchored_path(&s->src, &c->src_folders, id);
    free(id);
    *what = path;
    if (!path)
        return NULL;
    for (size_t i = 0; i < c->tgt_folders.n; i++) {
        char *tp = sf_anchored_path(&s->tgt, &c->tgt_folders, c->tgt_folders.v[i].id);
        int hit = tp && strcmp(tp, path) == 0;
        free(tp);
        if (hit)
            return sr_strdup(c->tgt_folders.v[i].id);
    }
    for (size_t k = 0; k < NDIST; k++) {   /* a distinguished folder itself */
        char *anchor = sr_asprintf("{%s}", sf_dist[k]);
        int hit = anchor && strcmp(anchor, path) == 0 && s->tgt.dist_id[k];
        free(anchor);
        if (hit)
            return sr_strdup(s->tgt.dist_id[k]);
    }
    return NULL;
}

/* Replace the base folders of p (a copy in the wanted document) with the
 * target's FolderIds; 0 when one has no target folder (logged). */
static int rewrite_bases(cpuu_ctx *c, sfstate *s, xmlNodePtr p, const char *name)
{
    xmlNodePtr bases = mapi_xml_child(p, EWSF_NS_T, "BaseFolderIds");
    xmlNodePtr nb = xmlNewNode(bases ? bases->ns : NULL, BAD_CAST "BaseFolderIds");
    int ok = bases && nb;
    for (xmlNodePtr b = mapi_xml_child(bases, NULL, NULL); ok && b; b = mapi_xml_next(b, NULL, NULL)) {
        char *what = NULL;
        char *tid = map_base(c, s, b, &what);
        if (!tid) {
            sr_log(SR_LOG_WARN, c->who, "%s: search folder \"%s\": base folder %s has no folder "
                   "of the same path in the target mailbox: not copied", FEATURE, name,
                   what ? what : "(unknown)");
            ok = 0;
        } else {
            xmlNodePtr f = xmlNewChild(nb, bases->ns, BAD_CAST "FolderId", NULL);
            ok = f && xmlNewProp(f, BAD_CAST "Id", BAD_CAST tid);
        }
        free(what);
        free(tid);
    }
    if (ok) {
        xmlReplaceNode(bases, nb);
        xmlFreeNode(bases);
    } else {
        xmlFreeNode(nb);
    }
    return ok;
}

/* ---- recipients in restrictions ---- */
static int is_address(const char *v)
{
    if (!v || !*v)
        return 0;
    if (strncasecmp(v, "/o=", 3) == 0 || strncasecmp(v, "X500:", 5) == 0)
        return 1;   /* DNs have spaces ("Exchange Administrative Group") */
    return !strchr(v, ' ') && strchr(v, '@') != NULL;
}

typedef struct keys {
    const char **v;
    size_t n, cap;
    xmlChar **own;   /* the attribute copies v points at */
} keys;

static void collect_constants(xmlNodePtr n, keys *k, int depth)
{
    for (xmlNodePtr ch = n ? n->children : NULL; ch && depth < 64; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(ch->name, BAD_CAST "Constant") == 0) {
            xmlChar *v = xmlGetProp(ch, BAD_CAST "Value");
            if (v && is_address((const char *)v) && k->n < k->cap) {
                k->own[k->n] = v;
                k->v[k->n++] = (const char *)v;
                continue;
            }
            xmlFree(v);
        }
        collect_constants(ch, k, depth + 1);
    }
}

static size_t count_constants(xmlNodePtr n, int depth)
{
    size_t c = 0;
    for (xmlNodePtr ch = n ? n->children : NULL; ch && depth < 64; ch = ch->next)
        if (ch->type == XML_ELEMENT_NODE)
            c += (xmlStrcmp(ch->name, BAD_CAST "Constant") == 0) + count_constants(ch, depth + 1);
    return c;
}

sr_code sf_side_keys(const sf_side *src, cpuu_keys *out, sr_err *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < src->nsf; i++)
        cap += count_constants(src->sf[i], 0);
    keys k = {.cap = cap};
    k.v = calloc(cap ? cap : 1, sizeof *k.v);
    k.own = calloc(cap ? cap : 1, sizeof *k.own);
    sr_code rc = k.v && k.own ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == SR_OK && i < src->nsf; i++)
        collect_constants(mapi_xml_child(src->sf[i], EWSF_NS_T, "SearchParameters"), &k, 0);
    for (size_t i = 0; i < k.n; i++) {
        if (rc == SR_OK)
            rc = cpuu_keys_take(out, sr_strdup(k.v[i]), err);
        xmlFree(k.own[i]);
    }
    free(k.v);
    free(k.own);
    return rc;
}

/* The addresses sf_side_resolve resolves, for the engine's one batch. */
static sr_code sf_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tk, sr_err *err)
{
    (void)c;
    (void)tk;   /* no target-organisation keys */
    sfstate *s = state;
    return s ? sf_side_keys(&s->src, out, err) : SR_OK;
}

sr_code sf_side_resolve(cpuu_ctx *c, const sf_side *src, sr_err *err)
{
    size_t cap = 0;
    for (size_t i = 0; i < src->nsf; i++)
        cap += count_constants(src->sf[i], 0);
    keys k = {.cap = cap};
    k.v = calloc(cap ? cap : 1, sizeof *k.v);
    k.own = calloc(cap ? cap : 1, sizeof *k.own);
    sr_code rc = k.v && k.own ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == SR_OK && i < src->nsf; i++)
        collect_constants(mapi_xml_child(src->sf[i], EWSF_NS_T, "SearchParameters"), &k, 0);
    if (rc == SR_OK && k.n)
        rc = rmap_resolve(c->map, k.v, k.n, err);
    for (size_t i = 0; i < k.n; i++)
        xmlFree(k.own[i]);
    free(k.v);
    free(k.own);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

/* A legacyExchangeDN constant mapped to an SMTP address (the target's DN is
 * unknown): when it is compared with a sender's EX address property, compare
 * the sender's SMTP address property instead (MS-OXPROPS: PidTagSenderEmail
 * Address 0x0C1F → PidTagSenderSmtpAddress 0x5D01, PidTagSentRepresenting
 * EmailAddress 0x0065 → PidTagSentRepresentingSmtpAddress 0x5D02), which
 * Exchange fills for EX and SMTP senders alike.  1 when the path was moved. */
static int smtp_path(xmlNodePtr constant)
{
    xmlNodePtr p = constant->parent ? constant->parent->prev : NULL;
    while (p && p->type != XML_ELEMENT_NODE)
        p = p->prev;
    if (!p || xmlStrcmp(p->name, BAD_CAST "ExtendedFieldURI") != 0)
        return 0;
    char *tag = mapi_xml_attr(p, "PropertyTag");
    long v = tag ? strtol(tag, NULL, 0) : -1;
    free(tag);
    const char *to = v == 0x0C1F ? "0x5D01" : v == 0x0065 ? "0x5D02" : NULL;
    if (to)
        xmlSetProp(p, BAD_CAST "PropertyTag", BAD_CAST to);
    return to != NULL;
}

/* Rewrite the address constants under n through the map; returns -1 on a
 * lookup error (directory down), else the number rewritten. */
static int map_constants(cpuu_ctx *c, xmlNodePtr n, const char *name, feature_stats *st, int depth)
{
    int changed = 0;
    for (xmlNodePtr ch = n ? n->children : NULL; ch && depth < 64; ch = ch->next) {
        if (ch->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrcmp(ch->name, BAD_CAST "Constant") != 0) {
            int r = map_constants(c, ch, name, st, depth + 1);
            if (r < 0)
                return -1;
            changed += r;
            continue;
        }
        xmlChar *v = xmlGetProp(ch, BAD_CAST "Value");
        if (v && is_address((const char *)v)) {
            rmap_target t = {0};
            rmap_status ms = rmap_lookup(c->map, (const char *)v, &t);
            int dn = strncasecmp((const char *)v, "/o=", 3) == 0 ||
                     strncasecmp((const char *)v, "X500:", 5) == 0;
            const char *nv = ms != RMAP_MAPPED ? NULL : dn && t.legacy_dn ? t.legacy_dn : t.smtp;
            sr_log(SR_LOG_DEBUG, c->who, "%s: \"%s\": %s is %s (target %s, %s)", FEATURE, name,
                   (const char *)v, rmap_status_name(ms), t.smtp ? t.smtp : "-",
                   t.legacy_dn ? t.legacy_dn : "-");
            if (ms == RMAP_ERROR) {
                xmlFree(v);
                return -1;
            }
            if (nv) {
                if (strcmp(nv, (const char *)v) != 0) {
                    xmlSetProp(ch, BAD_CAST "Value", BAD_CAST nv);
                    changed++;
                }
                if (dn && nv == t.smtp && !smtp_path(ch))
                    sr_log(SR_LOG_WARN, c->who, "%s: search folder \"%s\": the target's "
                           "legacyExchangeDN of %s is unknown: compared by SMTP address %s",
                           FEATURE, name, (const char *)v, nv);
            } else {
                st->unresolved++;
                sr_log(SR_LOG_WARN, c->who, "%s: search folder \"%s\": %s is %s in the target "
                       "organisation: kept as it is", FEATURE, name, (const char *)v,
                       rmap_status_name(ms));
            }
        }
        xmlFree(v);
    }
    return changed;
}

int sf_map_constants(cpuu_ctx *c, xmlNodePtr params, const char *name, feature_stats *st)
{
    return map_constants(c, params, name, st, 0);
}

/* ---- comparing two SearchParameters ---- */
static int base_set_equal(xmlNodePtr a, xmlNodePtr b)
{
    xmlNodePtr ba = mapi_xml_child(a, EWSF_NS_T, "BaseFolderIds");
    xmlNodePtr bb = mapi_xml_child(b, EWSF_NS_T, "BaseFolderIds");
    size_t na = 0, nb = 0, hits = 0;
    for (xmlNodePtr x = mapi_xml_child(ba, NULL, NULL); x; x = mapi_xml_next(x, NULL, NULL))
        na++;
    for (xmlNodePtr y = mapi_xml_child(bb, NULL, NULL); y; y = mapi_xml_next(y, NULL, NULL)) {
        nb++;
        char *iy = attr(y, "Id");
        for (xmlNodePtr x = mapi_xml_child(ba, NULL, NULL); iy && x; x = mapi_xml_next(x, NULL, NULL)) {
            char *ix = attr(x, "Id");   /* ChangeKeys differ between reads: ignored */
            int same = ix && strcmp(ix, iy) == 0 && !xmlStrcmp(x->name, y->name);
            free(ix);
            if (same) {
                hits++;
                break;
            }
        }
        free(iy);
    }
    return na == nb && hits == nb;
}

static int same_params(xmlNodePtr a, xmlNodePtr b)
{
    char *ta = attr(a, "Traversal"), *tb = attr(b, "Traversal");
    int same = strcmp(ta ? ta : "Shallow", tb ? tb : "Shallow") == 0;
    free(ta);
    free(tb);
    char *ra = same ? ewsf_canon(mapi_xml_child(a, EWSF_NS_T, "Restriction")) : NULL;
    char *rb = same ? ewsf_canon(mapi_xml_child(b, EWSF_NS_T, "Restriction")) : NULL;
    same = same && ra && rb && strcmp(ra, rb) == 0 && base_set_equal(a, b);
    free(ra);
    free(rb);
    return same;
}

static xmlNodePtr params_of(xmlNodePtr f)
{
    return mapi_xml_child(f, EWSF_NS_T, "SearchParameters");
}

static xmlNodePtr tgt_named(const sf_side *t, const char *name)
{
    for (size_t i = 0; name && i < t->nsf; i++) {
        char *n = mapi_xml_child_text(t->sf[i], EWSF_NS_T, "DisplayName");
        int hit = n && strcasecmp(n, name) == 0;
        free(n);
        if (hit)
            return t->sf[i];
    }
    return NULL;
}

static sr_code plan_alloc(sfstate *s, sr_err *err)
{
    size_t n = s->src.nsf ? s->src.nsf : 1;
    s->want = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = s->want ? xmlNewDocNode(s->want, NULL, BAD_CAST "Wanted", NULL) : NULL;
    if (root)
        xmlDocSetRootElement(s->want, root);
    s->cnames = calloc(n, sizeof *s->cnames);
    s->cclasses = calloc(n, sizeof *s->cclasses);
    s->cparams = calloc(n, sizeof *s->cparams);
    s->uids = calloc(n, sizeof *s->uids);
    s->uparams = calloc(n, sizeof *s->uparams);
    if (!root || !s->cnames || !s->cclasses || !s->cparams || !s->uids || !s->uparams)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    return SR_OK;
}

/* Plan one source search folder: create, update or nothing. */
static sr_code plan_one(cpuu_ctx *c, sfstate *s, xmlNodePtr src, feature_stats *st, sr_err *err)
{
    /* names and classes point into the source answer (kept until free) */
    xmlNodePtr dn = mapi_xml_child(src, EWSF_NS_T, "DisplayName");
    xmlNodePtr fc = mapi_xml_child(src, EWSF_NS_T, "FolderClass");
    const char *name = dn && dn->children ? (const char *)dn->children->content : NULL;
    if (!name) {
        st->unsupported++;
        sr_log(SR_LOG_WARN, c->who, "%s: a search folder without a name: not copied", FEATURE);
        return SR_OK;
    }
    xmlNodePtr p = xmlDocCopyNode(params_of(src), s->want, 1);
    if (!p)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    xmlAddChild(xmlDocGetRootElement(s->want), p);
    if (map_constants(c, p, name, st, 0) < 0)
        return sr_err_set(err, SR_E_CONNECT, "%s: %s: search folder \"%s\": the recipient map "
                          "failed", c->who, FEATURE, name);
    if (!rewrite_bases(c, s, p, name)) {
        st->unsupported++;
        return SR_OK;
    }
    xmlNodePtr have = tgt_named(&s->tgt, name);
    if (!have) {
        s->cnames[s->ncreate] = name;
        s->cclasses[s->ncreate] = fc && fc->children ? (const char *)fc->children->content : NULL;
        s->cparams[s->ncreate++] = p;
        sr_log(SR_LOG_INFO, c->who, "%s: plan: create \"%s\"", FEATURE, name);
    } else if (!same_params(p, params_of(have))) {
        xmlNodePtr fid = mapi_xml_child(have, EWSF_NS_T, "FolderId");
        xmlAttrPtr a = fid ? xmlHasProp(fid, BAD_CAST "Id") : NULL;
        if (!a || !a->children)
            return sr_err_set(err, SR_E_PROTOCOL, "%s: %s: target search folder \"%s\" without "
                              "an id", c->who, FEATURE, name);
        s->uids[s->nupdate] = (const char *)a->children->content;
        s->uparams[s->nupdate++] = p;
        sr_log(SR_LOG_INFO, c->who, "%s: plan: update \"%s\"", FEATURE, name);
    }
    return SR_OK;
}

static sr_code sf_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    sfstate *s = state;
    plan_clear(s);
    sr_code rc = plan_alloc(s, err);
    if (rc == SR_OK)
        rc = sf_side_resolve(c, &s->src, err);
    for (size_t i = 0; rc == SR_OK && i < s->src.nsf; i++)
        rc = plan_one(c, s, s->src.sf[i], st, err);
    st->changed = (unsigned)(s->ncreate + s->nupdate);
    sr_log(SR_LOG_INFO, c->who, "%s: %zu source search folders; create %zu, update %zu", FEATURE,
           s->src.nsf, s->ncreate, s->nupdate);
    return rc;
}

/* The target's search folders as one document <SearchFolders>...</>. */
static xmlChar *dump_side(const sf_side *sd, int *len)
{
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = d ? xmlNewDocNode(d, NULL, BAD_CAST "SearchFolders", NULL) : NULL;
    if (!root) {
        xmlFreeDoc(d);
        return NULL;
    }
    xmlDocSetRootElement(d, root);
    for (size_t i = 0; i < sd->nsf; i++) {
        xmlNodePtr cp = xmlDocCopyNode(sd->sf[i], d, 1);
        if (cp)
            xmlAddChild(root, cp);
    }
    xmlReconciliateNs(d, root);
    xmlChar *x = ewsf_dump_node(root, len);
    xmlFreeDoc(d);
    return x;
}

static sr_code sf_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    sfstate *s = state;
    if (c->dry_run)
        return SR_OK;
    if (cpuu_backup_exists(c, FEATURE, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    int n = 0;
    xmlChar *x = dump_side(&s->tgt, &n);
    if (!x)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, x, (size_t)n, err);
    xmlFree(x);
    return rc;
}

/* Run up to three prepared changes concurrently; every failed folder is
 * logged with its name, the first failure returned. */
typedef struct change {
    const char *what;            /* "create", "update", "delete" */
    xmlDocPtr req;
    const char *const *names;    /* per folder, for the messages */
    size_t n;
} change;

static sr_code run_changes(cpuu_ctx *c, change *ch, size_t nch, sr_err *err)
{
    mapi_ews_call calls[3] = {{0}};
    size_t k = 0;
    sr_code first = SR_OK;
    for (size_t i = 0; i < nch; i++)
        if (ch[i].n)
            calls[k++].req = ch[i].req;
    if (k)
        first = mapi_session_run(c->tgt, calls, k, err);
    k = 0;
    for (size_t i = 0; i < nch; i++) {
        if (!ch[i].n)
            continue;
        mapi_ews_call *cl = &calls[k++];
        xmlNodePtr *v = NULL;
        size_t n = 0;
        unsigned bad = 0;
        sr_err e = {0};
        sr_code rc = cl->resp_op ? ewsf_parse_folders(cl->resp_op, &v, &n, &bad, &e) : cl->err.code;
        /* deferred into a write wave (waves.c cpuu_apply_all) is no failure: said at the end */
        for (size_t j = 0; rc != SR_OK && rc != SR_E_BUSY && j < ch[i].n; j++)
            if (!cl->resp_op || (j < n && !v[j]))
                sr_log(SR_LOG_ERROR, c->who, "%s: %s \"%s\" on %s failed", FEATURE, ch[i].what,
                       ch[i].names[j], mapi_session_mailbox(c->tgt));
        if (rc != SR_OK && first == SR_OK) {
            first = rc;
            *err = cl->resp_op ? e : cl->err;
            sr_err_prefix(err, "%s: %s: %s of %u search folders on %s: ", c->who, FEATURE,
                          ch[i].what, bad ? bad : (unsigned)ch[i].n, mapi_session_mailbox(c->tgt));
        }
        free(v);
        xmlFreeDoc(cl->resp);
    }
    return first;
}

static sr_code write_plan(cpuu_ctx *c, sfstate *s, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(c->tgt);
    change ch[2] = {{.what = "create", .names = s->cnames, .n = s->ncreate},
                    {.what = "update", .n = s->nupdate}};
    const char **unames = calloc(s->nupdate ? s->nupdate : 1, sizeof *unames);
    if (!unames)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->nupdate; i++)
        unames[i] = s->uids[i];
    ch[1].names = unames;
    sr_code rc = SR_OK;
    if (s->ncreate)
        ch[0].req = ewsf_req_create_searchfolders(&t, s->cnames, s->cclasses, s->cparams,
                                                  s->ncreate, err);
    if (s->nupdate)
        ch[1].req = ewsf_req_set_searchparams(&t, s->uids, s->uparams, s->nupdate, err);
    if ((s->ncreate && !ch[0].req) || (s->nupdate && !ch[1].req))
        rc = err->code;
    if (rc == SR_OK)
        rc = run_changes(c, ch, 2, err);
    xmlFreeDoc(ch[0].req);
    xmlFreeDoc(ch[1].req);
    free(unames);
    return rc;
}

static sr_code sf_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    sfstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u search folder changes not written",
               FEATURE, st->changed);
        return SR_OK;
    }
    return write_plan(c, s, err);
}

/* ---- rollback ---- */
static xmlNodePtr saved_with_id(xmlNodePtr root, const char *id)
{
    for (xmlNodePtr f = mapi_xml_child(root, NULL, NULL); id && f; f = mapi_xml_next(f, NULL, NULL)) {
        char *fid = folder_id(f);
        int hit = fid && strcmp(fid, id) == 0;
        free(fid);
        if (hit)
            return f;
    }
    return NULL;
}

/* Delete the current search folders the backup does not have. */
static sr_code restore_deletes(cpuu_ctx *c, const sf_side *cur, xmlNodePtr root, sr_err *err)
{
    const char **ids = calloc(cur->nsf ? cur->nsf : 1, sizeof *ids);
    char **own = calloc(cur->nsf ? cur->nsf : 1, sizeof *own);
    size_t n = 0;
    sr_code rc = ids && own ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == SR_OK && i < cur->nsf; i++) {
        char *id = folder_id(cur->sf[i]);
        if (id && !saved_with_id(root, id))
            ids[n] = own[n] = id, n++;
        else
            free(id);
    }
    mapi_ews_target t = mapi_session_target(c->tgt);
    change ch = {.what = "delete", .names = ids, .n = n};
    if (rc == SR_OK && n && !c->dry_run) {
        ch.req = ewsf_req_deletefolders(&t, ids, n, err);
        rc = ch.req ? run_changes(c, &ch, 1, err) : err->code;
        xmlFreeDoc(ch.req);
    }
    sr_log(SR_LOG_INFO, c->who, "%s: restore: delete %zu", FEATURE, n);
    for (size_t i = 0; own && i < n; i++)
        free(own[i]);
    free(own);
    free(ids);
    return rc;
}

/* Put back the saved folders: update the changed ones, re-create the gone. */
static sr_code restore_saved(cpuu_ctx *c, sfstate *s, xmlNodePtr root, sr_err *err)
{
    for (xmlNodePtr f = mapi_xml_child(root, NULL, NULL); f; f = mapi_xml_next(f, NULL, NULL)) {
        xmlNodePtr fid = mapi_xml_child(f, EWSF_NS_T, "FolderId");
        xmlAttrPtr a = fid ? xmlHasProp(fid, BAD_CAST "Id") : NULL;
        const char *id = a && a->children ? (const char *)a->children->content : NULL;
        xmlNodePtr have = NULL;
        for (size_t i = 0; id && i < s->tgt.nsf && !have; i++) {
            char *cid = folder_id(s->tgt.sf[i]);
            have = cid && strcmp(cid, id) == 0 ? s->tgt.sf[i] : NULL;
            free(cid);
        }
        if (have && !same_params(params_of(f), params_of(have))) {
            s->uids[s->nupdate] = id;
            s->uparams[s->nupdate++] = params_of(f);
        } else if (!have && params_of(f)) {
            xmlNodePtr dn = mapi_xml_child(f, EWSF_NS_T, "DisplayName");
            xmlNodePtr fc = mapi_xml_child(f, EWSF_NS_T, "FolderClass");
            s->cnames[s->ncreate] = dn && dn->children ? (const char *)dn->children->content : "";
            s->cclasses[s->ncreate] = fc && fc->children ? (const char *)fc->children->content
                                                         : NULL;
            s->cparams[s->ncreate++] = params_of(f);
        }
    }
    sr_log(SR_LOG_INFO, c->who, "%s: restore: update %zu, re-create %zu", FEATURE, s->nupdate,
           s->ncreate);
    return c->dry_run ? SR_OK : write_plan(c, s, err);
}

static sr_code sf_restore(cpuu_ctx *c, sr_err *err)
{
    xmlDocPtr doc = NULL;
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "SearchFolders", "SearchFolders", &doc, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    size_t saved = 0;
    for (xmlNodePtr f = mapi_xml_child(root, NULL, NULL); f; f = mapi_xml_next(f, NULL, NULL))
        saved++;
    sfstate s = {0};
    rc = sf_read_side(c, c->tgt, &s.tgt, err);
    if (rc == SR_OK)
        rc = restore_deletes(c, &s.tgt, root, err);
    s.src.nsf = saved;   /* sizes the plan arrays */
    if (rc == SR_OK)
        rc = plan_alloc(&s, err);
    if (rc == SR_OK)
        rc = restore_saved(c, &s, root, err);
    s.src.nsf = 0;
    sf_side_clear(&s.tgt);
    plan_clear(&s);
    xmlFreeDoc(doc);
    return rc;
}

extern const struct feature_ops cpuu_feat_searchfolders_graph;

const struct feature_ops cpuu_feat_searchfolders = {
    .id = CFG_F_SEARCHFOLDERS,
    .read = sf_read,
    .keys = sf_keys,
    .plan = sf_plan,
    .backup = sf_backup,
    .apply = sf_apply,
    .restore = sf_restore,
    .free_state = sfstate_free,
    .graph = &cpuu_feat_searchfolders_graph,
};
