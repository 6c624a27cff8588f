/* feat_rules_graph.c — the Rules feature for a target on Microsoft Graph
 * (issue 17 §3, docs/graph.md); the source stays EWS.
 *
 * read:    GetInboxRules on the source (EWS); the target's
 *          mailFolders/inbox/messageRules (Graph, every page).
 * plan:    one rmap_resolve for every address of the enabled rules; each
 *          enabled source rule, its addresses mapped to target SMTP (Graph
 *          takes no EX address) and its folders found by path in the
 *          target, becomes a messageRule (graph_feat.c).  Its copy on the
 *          target is the n-th target rule of the same name, as on EWS:
 *          equal → nothing, else PATCH; none → POST.  The target's own
 *          rules and those Graph marks read-only are never touched.
 * backup:  the target's messageRules as JSON (Rules.target.json; the first
 *          run's is kept).
 * apply:   the POSTs and PATCHes in $batch requests.
 * restore: converge to the backup: DELETE rules not in it, PATCH changed
 *          ones, POST missing ones (they get new ids). */
#include "cpuu/feature.h"
#include "cpuu/graph_feat.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "Rules"
#define RULES "/mailFolders/inbox/messageRules"

typedef struct gstate {
    xmlDocPtr src_doc, work;
    xmlNodePtr *src;
    size_t nsrc;
    int blob;
    json_t *tgt;                /* the target's messageRules */
    json_t *ops;                /* [{method, path, body, what}] */
} gstate;

static void gstate_free(void *v)
{
    gstate *s = v;
    if (!s)
        return;
    xmlFreeDoc(s->src_doc);
    xmlFreeDoc(s->work);
    free(s->src);
    json_decref(s->tgt);
    json_decref(s->ops);
    free(s);
}

static int flag(xmlNodePtr rule, const char *name)
{
    char *v = mapi_xml_child_text(rule, EWSF_NS_T, name);
    int on = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    free(v);
    return on;
}

static sr_code g_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    gstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    mapi_ews_target t = mapi_session_target(c->src);
    mapi_ews_call call = {.idempotent = 1};
    call.req = ewsf_req_getinboxrules(&t, mapi_session_mailbox(c->src), err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(c->src, &call, 1, err);
    if (rc == SR_OK)
        rc = ewsf_parse_getinboxrules(call.resp_op, &s->src, &s->nsrc, &s->blob, err);
    xmlFreeDoc(call.req);
    s->src_doc = call.resp;
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: GetInboxRules on %s: ", c->who, FEATURE,
                      mapi_session_mailbox(c->src));
        return rc;
    }
    st->seen = (unsigned)s->nsrc;
    return gfeat_get_all(c, FEATURE, RULES, &s->tgt, err);
}

/* ---- addresses: Graph takes SMTP only ---- */
static void set_text(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = mapi_xml_child(parent, EWSF_NS_T, name);
    if (n)
        xmlNodeSetContent(n, NULL);
    else
        n = xmlNewChild(parent, parent->ns, BAD_CAST name, NULL);
    if (n)
        xmlNodeAddContent(n, BAD_CAST text);   /* escaped as text */
}

typedef void (*addr_fn)(void *ctx, xmlNodePtr addr);

static void each_address(xmlNodePtr rule, addr_fn fn, void *ctx)
{
    static const char *const parts[] = {"Conditions", "Exceptions", "Actions", NULL};
    for (int p = 0; parts[p]; p++) {
        xmlNodePtr part = mapi_xml_child(rule, EWSF_NS_T, parts[p]);
        for (xmlNodePtr l = part ? part->children : NULL; l; l = l->next)
            for (xmlNodePtr a = mapi_xml_child(l, EWSF_NS_T, "Address"); a;
                 a = mapi_xml_next(a, EWSF_NS_T, "Address"))
                fn(ctx, a);
    }
}

static void collect(void *ctx, xmlNodePtr a)
{
    json_t *keys = ctx;
    char *email = mapi_xml_child_text(a, EWSF_NS_T, "EmailAddress");
    if (email && *email)
        json_array_append_new(keys, json_string(email));
    free(email);
}

typedef struct mapctx {
    cpuu_ctx *c;
    feature_stats *st;
    const char *rule;
} mapctx;

static void to_smtp(void *ctx, xmlNodePtr a)
{
    mapctx *m = ctx;
    char *email = mapi_xml_child_text(a, EWSF_NS_T, "EmailAddress");
    char *rt = mapi_xml_child_text(a, EWSF_NS_T, "RoutingType");
    int ex = (rt && strcmp(rt, "EX") == 0) || (email && email[0] == '/');
    rmap_target t = {0};
    rmap_status ms = email && *email && (ex || !rt || strcmp(rt, "SMTP") == 0)
                         ? rmap_lookup(m->c->map, email, &t) : RMAP_UNKNOWN;
    if (ms == RMAP_MAPPED) {
        set_text(a, "EmailAddress", t.smtp);
        set_text(a, "RoutingType", "SMTP");
        if (t.display_name && mapi_xml_child(a, EWSF_NS_T, "Name"))
            set_text(a, "Name", t.display_name);
    } else if (email && *email && (ex || ms != RMAP_UNKNOWN)) {
        /* the source SMTP address keeps mail flowing through the source org */
        const char *smtp = rmap_source_smtp(m->c->map, email);
        m->st->unresolved++;
        if (smtp) {
            set_text(a, "EmailAddress", smtp);
            set_text(a, "RoutingType", "SMTP");
        }
        sr_log(SR_LOG_WARN, m->c->who, "%s: rule '%s': recipient %s is %s in the target "
               "organisation%s", FEATURE, m->rule, email, rmap_status_name(ms),
               smtp ? ": kept as its source SMTP address" : "");
    }
    free(email);
    free(rt);
}

/* ---- folders: the source folder's path, found in the target over Graph ---- */
static const mapi_folder *src_folder(const mapi_folders *f, const char *id)
{
    for (size_t i = 0; id && i < f->n; i++)
        if (f->v[i].id && strcmp(f->v[i].id, id) == 0)
            return &f->v[i];
    return NULL;
}

static char *graph_folder(void *ctx, const char *ews_id, const char *dist)
{
    cpuu_ctx *c = ctx;
    sr_err e;
    json_t *got = NULL;
    char *out = NULL;
    if (dist) {   /* Graph knows the well-known names ("inbox", "deleteditems") */
        char *rest = sr_asprintf("/mailFolders/%s", dist);
        if (rest && gfeat_get(c, FEATURE, rest, &got, &e) == SR_OK)
            out = sr_strdup(json_string_value(json_object_get(got, "id")));
        free(rest);
        json_decref(got);
        return out;
    }
    const mapi_folder *chain[64];
    size_t depth = 0;
    for (const mapi_folder *f = src_folder(&c->src_folders, ews_id); f && depth < 64;
         f = src_folder(&c->src_folders, f->parent_id))
        chain[depth++] = f;
    char *cur = depth ? sr_strdup("msgfolderroot") : NULL;
    while (cur && depth > 0) {
        const char *name = chain[--depth]->display_name;
        char *rest = sr_asprintf("/mailFolders/%s/childFolders", cur);
        json_t *kids = NULL;
        free(cur);
        cur = NULL;
        if (rest && name && gfeat_get_all(c, FEATURE, rest, &kids, &e) == SR_OK) {
            size_t i;
            json_t *k;
            json_array_foreach(kids, i, k) {
                const char *dn = json_string_value(json_object_get(k, "displayName"));
                if (!cur && dn && strcmp(dn, name) == 0)
                    cur = sr_strdup(json_string_value(json_object_get(k, "id")));
            }
        }
        json_decref(kids);
        free(rest);
    }
    return cur;
}

/* ---- plan ---- */
/* The n-th (from 0) target rule named name, or NULL. */
static json_t *target_copy(json_t *tgt, const char *name, int nth)
{
    size_t i;
    json_t *r;
    json_array_foreach(tgt, i, r) {
        const char *dn = json_string_value(json_object_get(r, "displayName"));
        if (dn && strcmp(dn, name) == 0 && nth-- == 0)
            return r;
    }
    return NULL;
}

static int processed(xmlNodePtr r)
{
    return flag(r, "IsEnabled") && !flag(r, "IsNotSupported");
}

static int ordinal(const gstate *s, size_t upto, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < upto; i++) {
        char *dn = processed(s->src[i]) ? mapi_xml_child_text(s->src[i], EWSF_NS_T, "DisplayName")
                                        : NULL;
        n += dn && strcmp(dn, name) == 0;
        free(dn);
    }
    return n;
}

static sr_code plan_rule(cpuu_ctx *c, gstate *s, size_t i, const char *name, gfeat_notes *notes,
                         feature_stats *st, sr_err *err)
{
    xmlNodePtr copy = xmlDocCopyNode(s->src[i], s->work, 1);
    if (!copy)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    xmlAddChild(xmlDocGetRootElement(s->work), copy);
    mapctx m = {c, st, name};
    each_address(copy, to_smtp, &m);
    json_t *j = NULL;
    size_t before = notes->n;
    sr_code rc = gfeat_rule_json(copy, graph_folder, c, &j, notes, err);
    if (rc != SR_OK || !j) {
        st->unsupported += rc == SR_OK;
        return rc;
    }
    st->unsupported += notes->n > before;   /* written without an action Graph lacks */
    json_t *have = target_copy(s->tgt, name, ordinal(s, i, name));
    char *what = NULL;
    if (have && json_is_true(json_object_get(have, "isReadOnly"))) {
        st->unsupported++;
        gfeat_note(notes, "rule '%s': its copy on the target is read-only in Graph: left as it is",
                   name);
    } else if (!have) {
        what = sr_asprintf("create rule '%s'", name);
        rc = what ? gfeat_add_op(s->ops, "POST", RULES, j, what) : SR_E_NOMEM;
    } else if (!gfeat_rule_same(j, have)) {
        const char *id = json_string_value(json_object_get(have, "id"));
        char *path = sr_asprintf(RULES "/%s", id ? id : "");
        what = sr_asprintf("set rule '%s' (its target copy differs)", name);
        rc = what && path ? gfeat_add_op(s->ops, "PATCH", path, j, what) : SR_E_NOMEM;
        free(path);
    }
    if (what)
        sr_log(SR_LOG_INFO, c->who, "%s: plan: %s", FEATURE, what);
    free(what);
    json_decref(j);
    return rc == SR_OK ? SR_OK : sr_err_set(err, rc, "out of memory");
}

static sr_code g_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    gstate *s = state;
    json_t *keys = json_array();
    for (size_t i = 0; keys && i < s->nsrc; i++)
        if (processed(s->src[i]))
            each_address(s->src[i], collect, keys);
    size_t nk = json_array_size(keys);
    const char **kv = calloc(nk ? nk : 1, sizeof *kv);
    for (size_t i = 0; kv && i < nk; i++)
        kv[i] = json_string_value(json_array_get(keys, i));
    sr_code rc = kv && keys ? rmap_resolve(c->map, kv, nk, err)
                            : sr_err_set(err, SR_E_NOMEM, "out of memory");
    free(kv);
    json_decref(keys);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
        return rc;
    }
    json_decref(s->ops);
    xmlFreeDoc(s->work);
    s->ops = json_array();
    s->work = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = s->work ? xmlNewDocNode(s->work, NULL, BAD_CAST "rules", NULL) : NULL;
    if (!root || !s->ops)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    xmlDocSetRootElement(s->work, root);
    gfeat_notes notes = {0};
    for (size_t i = 0; i < s->nsrc && rc == SR_OK; i++) {
        char *name = mapi_xml_child_text(s->src[i], EWSF_NS_T, "DisplayName");
        if (flag(s->src[i], "IsNotSupported")) {
            st->unsupported++;
            gfeat_note(&notes, "rule '%s': a client-only rule (Outlook runs it, no server API "
                       "can write it)", name ? name : "?");
        } else if (!flag(s->src[i], "IsEnabled")) {
            sr_log(SR_LOG_INFO, c->who, "%s: rule '%s' is disabled: not processed", FEATURE,
                   name ? name : "?");
        } else if (name) {
            rc = plan_rule(c, s, i, name, &notes, st, err);
        }
        free(name);
    }
    gfeat_log_notes(c, FEATURE, &notes);
    gfeat_notes_clear(&notes);
    st->changed = (unsigned)json_array_size(s->ops);
    sr_log(SR_LOG_INFO, c->who, "%s: %zu source rules; %zu to write to the target over Microsoft "
           "Graph", FEATURE, s->nsrc, json_array_size(s->ops));
    return rc;
}

static sr_code g_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    gstate *s = state;
    return gfeat_backup_put(c, FEATURE, s->tgt, err);
}

static sr_code g_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    (void)st;
    gstate *s = state;
    return gfeat_run_ops(c, FEATURE, s->ops, err);
}

/* saved vs cur → DELETE / PATCH / POST into ops. */
static sr_code restore_ops(json_t *saved, json_t *cur, json_t *ops, gfeat_notes *notes)
{
    (void)notes;   /* a read-only rule is simply left alone */
    size_t i;
    json_t *r;
    sr_code rc = SR_OK;
    json_array_foreach(cur, i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        int ro = json_is_true(json_object_get(r, "isReadOnly"));
        if (rc == SR_OK && id && !gfeat_by_id(saved, id) && !ro) {
            char *path = sr_asprintf(RULES "/%s", id);
            char *what = sr_asprintf("delete rule %s", id);
            rc = path && what ? gfeat_add_op(ops, "DELETE", path, NULL, what) : SR_E_NOMEM;
            free(path);
            free(what);
        }
    }
    json_array_foreach(saved, i, r) {
        const char *id = json_string_value(json_object_get(r, "id"));
        const char *name = json_string_value(json_object_get(r, "displayName"));
        json_t *have = gfeat_by_id(cur, id);
        if (rc != SR_OK || json_is_true(json_object_get(r, "isReadOnly")) ||
            (have && gfeat_rule_same(r, have)))
            continue;
        json_t *body = gfeat_rule_writable(r);
        char *path = have ? sr_asprintf(RULES "/%s", id) : sr_strdup(RULES);
        char *what = sr_asprintf("%s rule '%s'", have ? "put back" : "create again",
                                 name ? name : "?");
        rc = body && path && what ? gfeat_add_op(ops, have ? "PATCH" : "POST", path, body, what)
                                  : SR_E_NOMEM;
        json_decref(body);
        free(path);
        free(what);
    }
    return rc;
}

static sr_code g_restore(cpuu_ctx *c, sr_err *err)
{
    return gfeat_restore_list(c, FEATURE, RULES, restore_ops, err);
}

const struct feature_ops cpuu_feat_rules_graph = {
    .id = CFG_F_RULES,
    .read = g_read,
    .plan = g_plan,
    .backup = g_backup,
    .apply = g_apply,
    .restore = g_restore,
    .free_state = gstate_free,
};
