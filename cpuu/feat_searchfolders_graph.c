/* feat_searchfolders_graph.c — the SearchFolders feature for a target on
 * Microsoft Graph (issue 17 §3, docs/graph.md); the source stays EWS.
 *
 * read:    the source's search folders over EWS (searchfolders.h); the
 *          target's under its well-known `searchfolders` folder (v1.0
 *          mailSearchFolder: displayName, filterQuery, sourceFolderIds,
 *          includeNestedFolders, isSupported), where Outlook shows them.
 * plan:    one rmap_resolve for the address constants; each source folder's
 *          restriction, its constants mapped, becomes a filterQuery
 *          (graph_search.c); its base folders, by path anchored at the
 *          nearest distinguished folder, become the target's Graph folder
 *          ids; Traversal Deep is includeNestedFolders.  The target's search
 *          folder of the same name is its copy: the same definition →
 *          nothing, else PATCH; none → POST.  A folder whose restriction
 *          or base folders Graph cannot take, or whose copy Graph marks
 *          isSupported = false, is reported per mailbox, never dropped
 *          silently.
 * backup:  the target's search folders as Graph returned them
 *          (SearchFolders.target.json; the first run's is kept).
 * apply:   the POSTs and PATCHes in $batch requests.
 * restore: DELETE search folders not in the backup, PATCH changed ones
 *          back, POST missing ones again (they get new ids). */
#include "cpuu/feature.h"
#include "cpuu/graph_feat.h"
#include "cpuu/searchfolders.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "SearchFolders"
#define FINDER "/mailFolders/searchfolders/childFolders"
#define SEARCH_TYPE "microsoft.graph.mailSearchFolder"

/* Distinguished folders that are also Graph's well-known mailFolder names
 * (mailFolder resource); calendar, contacts, tasks, notes and journal are
 * not mail folders in Graph. */
static const char *const graph_wellknown[] = {"msgfolderroot", "inbox",     "sentitems",
                                              "drafts",        "deleteditems", "junkemail",
                                              "outbox",        "searchfolders", NULL};

typedef struct gstate {
    sf_side src;
    json_t *tgt;                /* the target's search folders */
    json_t *ops;                /* [{method, path, body, what}] */
    json_t *ids;                /* anchored path → the target's Graph folder id ("": none) */
    xmlDocPtr work;             /* the mapped copies of the source's SearchParameters */
} gstate;

static void gstate_free(void *v)
{
    gstate *s = v;
    if (!s)
        return;
    sf_side_clear(&s->src);
    json_decref(s->tgt);
    json_decref(s->ops);
    json_decref(s->ids);
    xmlFreeDoc(s->work);
    free(s);
}

static sr_code g_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    gstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = sf_read_side(c, c->src, &s->src, err);
    st->seen = (unsigned)s->src.nsf;
    return rc == SR_OK ? gfeat_get_all(c, FEATURE, FINDER, &s->tgt, err) : rc;
}

static sr_code g_keys(cpuu_ctx *c, void *state, cpuu_keys *k, cpuu_keys *tk, sr_err *err)
{
    (void)c;
    (void)tk;   /* no target-organisation keys */
    gstate *s = state;
    return s ? sf_side_keys(&s->src, k, err) : SR_OK;
}

/* ---- base folders: anchored path → the target's Graph folder id ---- */
static int wellknown(const char *name)
{
    for (int i = 0; graph_wellknown[i]; i++)
        if (strcmp(graph_wellknown[i], name) == 0)
            return 1;
    return 0;
}

/* The child of folder id named name, NULL when none (heap). */
static sr_code child_named(cpuu_ctx *c, const char *id, const char *name, char **out, sr_err *err)
{
    char *rest = sr_asprintf("/mailFolders/%s/childFolders", id);
    json_t *kids = NULL;
    sr_code rc = rest ? gfeat_get_all(c, FEATURE, rest, &kids, err)
                      : sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t i;
    json_t *k;
    json_array_foreach(kids, i, k) {
        const char *dn = json_string_value(json_object_get(k, "displayName"));
        if (!*out && dn && strcmp(dn, name) == 0)
            *out = sr_strdup(json_string_value(json_object_get(k, "id")));
    }
    json_decref(kids);
    free(rest);
    return rc;
}

/* "{inbox}/Projects/X" → the target's folder id in *out (NULL: none). */
static sr_code resolve_path(cpuu_ctx *c, const char *path, char **out, sr_err *err)
{
    *out = NULL;
    const char *close = path[0] == '{' ? strchr(path, '}') : NULL;
    char *anchor = close ? strndup(path + 1, (size_t)(close - path - 1)) : NULL;
    if (!anchor || !wellknown(anchor)) {
        free(anchor);
        return SR_OK;
    }
    char *rest = sr_asprintf("/mailFolders/%s", anchor);
    json_t *got = NULL;
    sr_code rc = rest ? gfeat_get(c, FEATURE, rest, &got, err)
                      : sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_E_NOTFOUND) {
        sr_err_clear(err);
        rc = SR_OK;
    }
    char *cur = rc == SR_OK ? sr_strdup(json_string_value(json_object_get(got, "id"))) : NULL;
    json_decref(got);
    free(rest);
    free(anchor);
    char *names = sr_strdup(close + 1), *save = NULL;
    for (char *n = names ? strtok_r(names, "/", &save) : NULL; rc == SR_OK && cur && n;
         n = strtok_r(NULL, "/", &save)) {
        char *next = NULL;
        rc = child_named(c, cur, n, &next, err);
        free(cur);
        cur = next;
    }
    free(names);
    if (rc == SR_OK)
        *out = cur;
    else
        free(cur);
    return rc;
}

/* The anchored path of one BaseFolderIds child of the source.  Heap. */
static char *base_path(cpuu_ctx *c, gstate *s, xmlNodePtr b)
{
    char *id = mapi_xml_attr(b, "Id");
    char *path = NULL;
    if (id && xmlStrcmp(b->name, BAD_CAST "DistinguishedFolderId") == 0)
        path = sr_asprintf("{%s}", id);
    else if (id)
        path = sf_anchored_path(&s->src, &c->src_folders, id);
    free(id);
    return path;
}

/* sourceFolderIds for the base folders of params; *missing names the
 * first without a counterpart on the target (then NULL is returned). */
static sr_code map_bases(cpuu_ctx *c, gstate *s, xmlNodePtr params, json_t **ids, char **missing,
                         sr_err *err)
{
    xmlNodePtr bases = mapi_xml_child(params, EWSF_NS_T, "BaseFolderIds");
    json_t *a = json_array();
    sr_code rc = a ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    *ids = NULL;
    *missing = NULL;
    for (xmlNodePtr b = mapi_xml_child(bases, NULL, NULL); rc == SR_OK && b && !*missing;
         b = mapi_xml_next(b, NULL, NULL)) {
        char *path = base_path(c, s, b);
        const char *known = path ? json_string_value(json_object_get(s->ids, path)) : NULL;
        char *gid = known && *known ? sr_strdup(known) : NULL;
        if (path && !known) {
            rc = resolve_path(c, path, &gid, err);
            json_object_set_new(s->ids, path, json_string(gid ? gid : ""));
        }
        if (rc == SR_OK && gid)
            json_array_append_new(a, json_string(gid));
        else if (rc == SR_OK)
            *missing = path ? sr_strdup(path) : sr_strdup("(a folder the source tree lacks)");
        free(gid);
        free(path);
    }
    if (rc == SR_OK && !*missing && json_array_size(a) == 0)
        *missing = sr_strdup("(none given)");
    if (rc == SR_OK && !*missing)
        *ids = json_incref(a);
    json_decref(a);
    return rc;
}

/* ---- plan ---- */
static json_t *target_named(json_t *tgt, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(tgt, i, f) {
        const char *dn = json_string_value(json_object_get(f, "displayName"));
        if (dn && strcasecmp(dn, name) == 0)
            return f;
    }
    return NULL;
}

static int same_ids(json_t *a, json_t *b)
{
    if (json_array_size(a) != json_array_size(b))
        return 0;
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(a, i, x) {
        int hit = 0;
        json_array_foreach(b, j, y) hit |= json_equal(x, y);
        if (!hit)
            return 0;
    }
    return 1;
}

/* Whether the search definitions of two mailSearchFolders agree. */
static int same_search(json_t *a, json_t *b)
{
    const char *qa = json_string_value(json_object_get(a, "filterQuery"));
    const char *qb = json_string_value(json_object_get(b, "filterQuery"));
    return qa && qb && gfeat_filter_same(qa, qb) &&
           json_is_true(json_object_get(a, "includeNestedFolders")) ==
               json_is_true(json_object_get(b, "includeNestedFolders")) &&
           same_ids(json_object_get(a, "sourceFolderIds"), json_object_get(b, "sourceFolderIds"));
}

/* The mailSearchFolder body of one source folder (params mapped), or NULL
 * when Graph cannot take it (notes say why). */
static sr_code want_of(cpuu_ctx *c, gstate *s, const char *name, xmlNodePtr params,
                       gfeat_notes *notes, json_t **want, sr_err *err)
{
    char *why = NULL, *missing = NULL;
    json_t *ids = NULL;
    *want = NULL;
    char *q = gfeat_filter_query(mapi_xml_child(params, EWSF_NS_T, "Restriction"), &why);
    sr_code rc = q ? map_bases(c, s, params, &ids, &missing, err) : SR_OK;
    char *trav = mapi_xml_attr(params, "Traversal");
    if (!q)
        gfeat_note(notes, "search folder \"%s\": its restriction has no OData filter (%s): not "
                   "created", name, why ? why : "?");
    else if (rc == SR_OK && missing)
        gfeat_note(notes, "search folder \"%s\": base folder %s has no folder of the same path in "
                   "the target mailbox: not created", name, missing);
    else if (rc == SR_OK)
        *want = json_pack("{s:s,s:s,s:s,s:b,s:O}", "@odata.type", "#" SEARCH_TYPE, "displayName",
                          name, "filterQuery", q, "includeNestedFolders",
                          trav && strcmp(trav, "Deep") == 0, "sourceFolderIds", ids);
    if (rc == SR_OK && q && !missing && !*want)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    free(trav);
    free(q);
    free(why);
    free(missing);
    json_decref(ids);
    return rc;
}

static sr_code plan_one(cpuu_ctx *c, gstate *s, xmlNodePtr src, gfeat_notes *notes,
                        feature_stats *st, sr_err *err)
{
    char *name = mapi_xml_child_text(src, EWSF_NS_T, "DisplayName");
    xmlNodePtr p = name ? xmlDocCopyNode(mapi_xml_child(src, EWSF_NS_T, "SearchParameters"),
                                         s->work, 1) : NULL;
    sr_code rc = SR_OK;
    json_t *want = NULL;
    if (!name) {
        st->unsupported++;
        gfeat_note(notes, "a search folder without a name: not created");
    } else if (!p || !xmlAddChild(xmlDocGetRootElement(s->work), p)) {
        xmlFreeNode(p);
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    } else if (sf_map_constants(c, p, name, st) < 0) {
        rc = sr_err_set(err, SR_E_CONNECT, "search folder \"%s\": the recipient map failed", name);
    } else {
        rc = want_of(c, s, name, p, notes, &want, err);
        st->unsupported += rc == SR_OK && !want;
    }
    json_t *have = want ? target_named(s->tgt, name) : NULL;
    char *what = NULL;
    if (want && have && !json_is_true(json_object_get(have, "isSupported"))) {
        st->unsupported++;
        gfeat_note(notes, "search folder \"%s\": its copy on the target is one Graph cannot edit "
                   "(isSupported false): left as it is", name);
    } else if (want && !have) {
        what = sr_asprintf("create search folder \"%s\"", name);
        rc = what ? gfeat_add_op(s->ops, "POST", FINDER, want, what) : SR_E_NOMEM;
    } else if (want && !same_search(want, have)) {
        const char *id = json_string_value(json_object_get(have, "id"));
        char *path = sr_asprintf("/mailFolders/%s", id ? id : "");
        what = sr_asprintf("set search folder \"%s\" (its target copy differs)", name);
        json_object_del(want, "displayName");   /* the copy keeps its own spelling */
        rc = what && path ? gfeat_add_op(s->ops, "PATCH", path, want, what) : SR_E_NOMEM;
        free(path);
    }
    if (what)
        sr_log(SR_LOG_INFO, c->who, "%s: plan: %s", FEATURE, what);
    if (rc == SR_E_NOMEM)
        sr_err_set(err, rc, "out of memory");
    free(what);
    free(name);
    json_decref(want);
    return rc;
}

static sr_code g_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    gstate *s = state;
    sr_code rc = sf_side_resolve(c, &s->src, err);
    if (rc != SR_OK)
        return rc;
    json_decref(s->ops);
    json_decref(s->ids);
    xmlFreeDoc(s->work);
    s->ops = json_array();
    s->ids = json_object();
    s->work = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = s->work ? xmlNewDocNode(s->work, NULL, BAD_CAST "Wanted", NULL) : NULL;
    if (!root || !s->ops || !s->ids)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    xmlDocSetRootElement(s->work, root);
    gfeat_notes notes = {0};
    for (size_t i = 0; rc == SR_OK && i < s->src.nsf; i++)
        rc = plan_one(c, s, s->src.sf[i], &notes, st, err);
    gfeat_log_notes(c, FEATURE, &notes);
    gfeat_notes_clear(&notes);
    st->changed = (unsigned)json_array_size(s->ops);
    sr_log(SR_LOG_INFO, c->who, "%s: %zu source search folders; %zu to write to the target over "
           "Microsoft Graph", FEATURE, s->src.nsf, json_array_size(s->ops));
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

static sr_code g_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    gstate *s = state;
    return gfeat_backup_put(c, FEATURE, s->tgt, err);
}

static sr_code g_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    gstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u search folder changes not written",
               FEATURE, st->changed);
        return SR_OK;
    }
    return gfeat_run_ops(c, FEATURE, s->ops, err);
}

/* ---- rollback ---- */
/* The saved folder's definition as a POST (create) or PATCH body. */
static json_t *saved_body(json_t *f, int create)
{
    json_t *b = json_pack("{s:O?,s:O?,s:O?,s:O?}", "displayName", json_object_get(f, "displayName"),
                          "filterQuery", json_object_get(f, "filterQuery"), "includeNestedFolders",
                          json_object_get(f, "includeNestedFolders"), "sourceFolderIds",
                          json_object_get(f, "sourceFolderIds"));
    if (b && create)
        json_object_set_new(b, "@odata.type", json_string("#" SEARCH_TYPE));
    return b;
}

static sr_code restore_one(json_t *saved, json_t *have, json_t *ops, gfeat_notes *notes)
{
    const char *id = json_string_value(json_object_get(saved, "id"));
    const char *name = json_string_value(json_object_get(saved, "displayName"));
    const char *dn = json_string_value(json_object_get(have, "displayName"));
    if (have && same_search(saved, have) && dn && name && strcmp(dn, name) == 0)
        return SR_OK;
    if (!json_is_string(json_object_get(saved, "filterQuery"))) {
        /* isSupported false: Graph gave no definition to put back */
        gfeat_note(notes, "search folder \"%s\": Graph cannot edit it (isSupported false): not "
                   "put back", name ? name : "?");
        return SR_OK;
    }
    json_t *body = saved_body(saved, !have);
    char *path = have ? sr_asprintf("/mailFolders/%s", id ? id : "") : sr_strdup(FINDER);
    char *what = sr_asprintf("%s search folder \"%s\"", have ? "put back" : "create again",
                             name ? name : "?");
    sr_code rc = body && path && what ? gfeat_add_op(ops, have ? "PATCH" : "POST", path, body, what)
                                      : SR_E_NOMEM;
    json_decref(body);
    free(path);
    free(what);
    return rc;
}

/* saved vs cur → DELETE / PATCH / POST into ops. */
static sr_code restore_ops(json_t *saved, json_t *cur, json_t *ops, gfeat_notes *notes)
{
    size_t i;
    json_t *f;
    sr_code rc = SR_OK;
    json_array_foreach(cur, i, f) {
        const char *id = json_string_value(json_object_get(f, "id"));
        if (rc == SR_OK && id && !gfeat_by_id(saved, id)) {
            const char *name = json_string_value(json_object_get(f, "displayName"));
            char *path = sr_asprintf("/mailFolders/%s", id);
            char *what = sr_asprintf("delete search folder \"%s\"", name ? name : id);
            rc = path && what ? gfeat_add_op(ops, "DELETE", path, NULL, what) : SR_E_NOMEM;
            free(path);
            free(what);
        }
    }
    json_array_foreach(saved, i, f) {
        if (rc == SR_OK)
            rc = restore_one(f, gfeat_by_id(cur, json_string_value(json_object_get(f, "id"))), ops,
                             notes);
    }
    return rc;
}

static sr_code g_restore(cpuu_ctx *c, sr_err *err)
{
    return gfeat_restore_list(c, FEATURE, FINDER, restore_ops, err);
}

const struct feature_ops cpuu_feat_searchfolders_graph = {
    .id = CFG_F_SEARCHFOLDERS,
    .read = g_read,
    .keys = g_keys,
    .plan = g_plan,
    .backup = g_backup,
    .apply = g_apply,
    .restore = g_restore,
    .free_state = gstate_free,
};
