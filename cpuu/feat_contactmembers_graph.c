/* feat_contactmembers_graph.c — the ContactMembers feature for a target on
 * Microsoft Graph (issue 17 §3, docs/graph.md "ContactMembers over Graph").
 *
 * What Graph can carry: a contact's e-mail addresses (v1.0 contact
 * emailAddresses, PATCH).  A contact added from the source GAL holds the
 * source legacyExchangeDN there; it becomes the target SMTP address (Graph
 * writes no EX addresses).  What it cannot: the members of personal
 * distribution lists.  v1.0 has no resource for them; the beta
 * distributionList (June 2026) can read them and add or delete members, but
 * not change one: re-pointing a member would mean deleting and re-adding
 * it, which loses its Outlook member key and its place in the list, so a
 * rollback could not give the list back as it was.  They are read (beta,
 * read only) and every member that needs re-pointing is reported per
 * mailbox and list, never dropped.
 *
 * read:    GET /contacts and /contactFolders/{id}/contacts for each contact
 *          subfolder (v1.0); GET beta /distributionLists with members.
 * plan:    one rmap_resolve for every EX e-mail address and member (the EX
 *          ones the source does not know also on the target side: a run
 *          before may have switched them); a contact with a mapped EX address gets one PATCH of its
 *          emailAddresses.
 * backup:  the changed contacts' emailAddresses as first read, merged by id
 *          (ContactMembers.target.json).
 * apply:   the PATCHes in $batch requests.
 * restore: read the contacts again; each saved one that differs gets its
 *          saved emailAddresses back. */
#include "cpuu/feature.h"
#include "cpuu/graph_feat.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "ContactMembers"
#define DLS "/distributionLists?$select=displayName,members"

typedef struct cmgstate {
    json_t *contacts;           /* every contact of the Contacts folder and its subfolders */
    json_t *dls;                /* the beta distributionLists (NULL: could not be read) */
    json_t *ops;                /* [{method, path, body, what}] */
    json_t *saved;              /* [{id, displayName, emailAddresses}] as first read */
} cmgstate;

static void cmgstate_free(void *v)
{
    cmgstate *s = v;
    if (!s)
        return;
    json_decref(s->contacts);
    json_decref(s->dls);
    json_decref(s->ops);
    json_decref(s->saved);
    free(s);
}

static int is_dn(const char *v)
{
    return v && (strncasecmp(v, "/o=", 3) == 0 || strncasecmp(v, "X500:", 5) == 0);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* The contacts of the Contacts folder and of each contact folder below it. */
static sr_code read_contacts(cpuu_ctx *c, json_t **out, sr_err *err)
{
    json_t *folders = NULL;
    sr_code rc = gfeat_get_all(c, FEATURE, "/contacts", out, err);
    if (rc == SR_OK)
        rc = gfeat_get_all(c, FEATURE, "/contactFolders", &folders, err);
    size_t i;
    json_t *f;
    json_array_foreach(folders, i, f) {
        json_t *more = NULL;
        char *rest = rc == SR_OK && str(f, "id") ? sr_asprintf("/contactFolders/%s/contacts", str(f, "id"))
                                                 : NULL;
        if (rc == SR_OK && !rest)
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        if (rc == SR_OK)
            rc = gfeat_get_all(c, FEATURE, rest, &more, err);
        if (rc == SR_OK)
            json_array_extend(*out, more);
        json_decref(more);
        free(rest);
    }
    json_decref(folders);
    return rc;
}

static sr_code cmg_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    cmgstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = read_contacts(c, &s->contacts, err);
    if (rc != SR_OK)
        return rc;
    char *path = mapi_graph_user_path(c->graph_user, DLS);
    sr_err e;
    sr_err_clear(&e);
    if (!path || mapi_graph_get_all(c->graph, path, "beta", &s->dls, &e) != SR_OK) {
        /* reported, not fatal: the contacts can still be carried */
        st->unsupported++;
        sr_log(SR_LOG_WARN, c->who, "%s: not carried over Microsoft Graph: personal distribution "
               "lists could not be read (beta distributionLists: %s)", FEATURE,
               path ? e.msg : "out of memory");
        s->dls = NULL;
    }
    free(path);
    st->seen = (unsigned)(json_array_size(s->contacts) + json_array_size(s->dls));
    return SR_OK;
}

/* ---- keys ---- */
static sr_code add_key(cpuu_keys *all, cpuu_keys *ex, const char *v, sr_err *err)
{
    if (!v || !*v)
        return SR_OK;
    sr_code rc = cpuu_keys_take(all, sr_strdup(v), err);
    if (rc == SR_OK && is_dn(v))
        rc = cpuu_keys_take(ex, sr_strdup(v), err);
    return rc;
}

static sr_code collect(const cmgstate *s, cpuu_keys *all, cpuu_keys *ex, sr_err *err)
{
    sr_code rc = SR_OK;
    size_t i, j;
    json_t *it, *a;
    json_array_foreach(s->contacts, i, it)
        json_array_foreach(json_object_get(it, "emailAddresses"), j, a)
            if (rc == SR_OK && is_dn(str(a, "address")))
                rc = add_key(all, ex, str(a, "address"), err);
    json_array_foreach(s->dls, i, it)
        json_array_foreach(json_object_get(it, "members"), j, a)
            if (rc == SR_OK)
                rc = add_key(all, ex, str(a, "key"), err);
    return rc;
}

static sr_code cmg_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tk, sr_err *err)
{
    (void)c;
    (void)tk;   /* the target side only for what the source leaves unknown (plan) */
    cpuu_keys ex = {0};
    sr_code rc = collect(state, out, &ex, err);
    cpuu_keys_clear(&ex);
    return rc;
}

/* ---- plan ---- */
/* The new value of one address: the target's (EX: its legacyExchangeDN when
 * known and ex_ok, else its SMTP address), or NULL to keep it; a reference
 * that stays is counted and logged. */
static const char *mapped(cpuu_ctx *c, const char *what, const char *addr, int ex, int ex_ok,
                          feature_stats *st)
{
    rmap_target t = {0};
    rmap_status ms = rmap_lookup(c->map, addr, &t);
    if (ms == RMAP_MAPPED) {
        const char *nv = ex && ex_ok && t.legacy_dn ? t.legacy_dn : t.smtp;
        return nv && strcasecmp(nv, addr) != 0 ? nv : NULL;
    }
    if (ms == RMAP_UNKNOWN && (!ex || rmap_target_smtp_of(c->map, addr)))
        return NULL;   /* external, or already the target organisation's */
    st->unresolved++;
    sr_log(SR_LOG_WARN, c->who, "%s: \"%s\": %s is %s in the target organisation: kept as it is",
           FEATURE, what, addr, rmap_status_name(ms));
    return NULL;
}

/* One contact: a PATCH of its emailAddresses when an EX address maps. */
static sr_code plan_contact(cpuu_ctx *c, cmgstate *s, json_t *it, feature_stats *st)
{
    const char *id = str(it, "id"), *name = str(it, "displayName") ? str(it, "displayName") : "(no name)";
    json_t *addrs = json_object_get(it, "emailAddresses");
    json_t *now = json_deep_copy(addrs);
    int n = 0;
    size_t i;
    json_t *a;
    json_array_foreach(now, i, a) {
        const char *v = str(a, "address");
        const char *nv = is_dn(v) ? mapped(c, name, v, 1, 0, st) : NULL;
        if (nv) {
            json_object_set_new(a, "address", json_string(nv));
            n++;
        }
    }
    sr_code rc = SR_OK;
    if (n && id) {
        char *path = sr_asprintf("/contacts/%s", id);
        char *what = sr_asprintf("contact \"%s\"", name);
        json_t *body = json_pack("{s:O}", "emailAddresses", now);
        json_t *keep = json_pack("{s:s,s:s,s:O}", "id", id, "displayName", name, "emailAddresses", addrs);
        rc = path && what && body && keep ? gfeat_add_op(s->ops, "PATCH", path, body, what) : SR_E_NOMEM;
        if (rc == SR_OK && json_array_append(s->saved, keep))
            rc = SR_E_NOMEM;
        sr_log(SR_LOG_INFO, c->who, "%s: plan: \"%s\": %d address%s re-pointed", FEATURE, name, n,
               n == 1 ? "" : "es");
        json_decref(body);
        json_decref(keep);
        free(path);
        free(what);
    }
    json_decref(now);
    return rc;
}

/* One list: every member that would need re-pointing is reported. */
static void plan_dl(cpuu_ctx *c, const json_t *dl, gfeat_notes *notes, feature_stats *st)
{
    const char *name = str(dl, "displayName") ? str(dl, "displayName") : "(no name)";
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(dl, "members"), i, m) {
        const char *key = str(m, "key"), *rt = str(m, "routingType");
        if (!key || !*key)
            continue;
        int ex = (rt && strcasecmp(rt, "EX") == 0) || is_dn(key);
        const char *nv = mapped(c, name, key, ex, 1, st);
        if (nv && gfeat_note(notes, "distribution list \"%s\": member %s (to become %s): Graph v1.0 has "
                             "no distribution lists and the beta cannot change a member in place "
                             "(delete and re-add would lose its key and place)", name, key, nv) == 0)
            st->unsupported++;
    }
}

static sr_code cmg_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    cmgstate *s = state;
    json_decref(s->ops);
    json_decref(s->saved);
    s->ops = json_array();
    s->saved = json_array();
    cpuu_keys all = {0}, ex = {0};
    sr_code rc = s->ops && s->saved ? collect(s, &all, &ex, err) : sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_OK)
        rc = rmap_resolve(c->map, (const char *const *)all.v, all.n, err);
    if (rc == SR_OK)
        rc = rmap_resolve_target_unknown(c->map, (const char *const *)ex.v, ex.n, err);
    cpuu_keys_clear(&all);
    cpuu_keys_clear(&ex);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
        return rc;
    }
    size_t i;
    json_t *it;
    json_array_foreach(s->contacts, i, it)
        if (rc == SR_OK)
            rc = plan_contact(c, s, it, st);
    gfeat_notes notes = {0};
    json_array_foreach(s->dls, i, it)
        plan_dl(c, it, &notes, st);
    gfeat_log_notes(c, FEATURE, &notes);
    gfeat_notes_clear(&notes);
    st->changed = (unsigned)json_array_size(s->ops);
    sr_log(SR_LOG_INFO, c->who, "%s: %zu contacts, %zu distribution lists; change %u contacts",
           FEATURE, json_array_size(s->contacts), json_array_size(s->dls), st->changed);
    return rc == SR_OK ? SR_OK : sr_err_set(err, rc, "%s: %s: out of memory", c->who, FEATURE);
}

/* ---- backup / apply ---- */
static int saved_has(const json_t *saved, const char *id)
{
    size_t i;
    json_t *x;
    json_array_foreach(saved, i, x)
        if (str(x, "id") && id && strcmp(str(x, "id"), id) == 0)
            return 1;
    return 0;
}

static sr_code cmg_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    cmgstate *s = state;
    if (c->dry_run || !json_array_size(s->saved))
        return SR_OK;
    json_t *b = NULL;
    sr_err e;
    sr_err_clear(&e);
    sr_code rc = gfeat_backup_get(c, FEATURE, &b, &e);
    if (rc == SR_E_NOTFOUND) {
        b = json_pack("{s:[]}", "contacts");
        rc = b ? SR_OK : SR_E_NOMEM;
    } else if (rc != SR_OK) {
        *err = e;
        return rc;
    }
    json_t *have = json_object_get(b, "contacts");
    size_t i;
    json_t *x;
    json_array_foreach(s->saved, i, x)   /* a contact saved before keeps its first state */
        if (json_is_array(have) && !saved_has(have, str(x, "id")))
            json_array_append(have, x);
    char *text = json_dumps(b, JSON_INDENT(1) | JSON_SORT_KEYS);
    json_decref(b);
    rc = text ? cpuu_backup_put(c, FEATURE, GFEAT_BACKUP_NAME, text, strlen(text), err)
              : sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    free(text);
    return rc;
}

static sr_code cmg_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    cmgstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u contact changes not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    return gfeat_run_ops(c, FEATURE, s->ops, err);
}

/* ---- rollback ---- */
static sr_code cmg_restore(cpuu_ctx *c, sr_err *err)
{
    json_t *b = NULL, *cur = NULL, *ops = json_array();
    sr_code rc = ops ? gfeat_backup_get(c, FEATURE, &b, err) : sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_OK)
        rc = read_contacts(c, &cur, err);
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(json_object_get(b, "contacts"), i, x) {
        const json_t *now = NULL;
        json_array_foreach(cur, j, y)
            if (!now && str(y, "id") && str(x, "id") && strcmp(str(y, "id"), str(x, "id")) == 0)
                now = y;
        if (rc != SR_OK)
            break;
        if (!now) {
            sr_log(SR_LOG_WARN, c->who, "%s: restore: \"%s\" is gone from the target: skipped",
                   FEATURE, str(x, "displayName") ? str(x, "displayName") : "?");
            continue;
        }
        const json_t *was = json_object_get(x, "emailAddresses");
        if (json_equal(was, json_object_get(now, "emailAddresses")))
            continue;
        char *path = sr_asprintf("/contacts/%s", str(x, "id"));
        char *what = sr_asprintf("restore contact \"%s\"", str(x, "displayName") ? str(x, "displayName") : "?");
        json_t *body = json_pack("{s:O}", "emailAddresses", was);
        rc = path && what && body ? gfeat_add_op(ops, "PATCH", path, body, what) : SR_E_NOMEM;
        json_decref(body);
        free(path);
        free(what);
        if (rc != SR_OK)
            sr_err_set(err, rc, "%s: %s: out of memory", c->who, FEATURE);
    }
    sr_log(SR_LOG_INFO, c->who, "%s: restore: %zu contacts", FEATURE, json_array_size(ops));
    if (rc == SR_OK && !c->dry_run)
        rc = gfeat_run_ops(c, FEATURE, ops, err);
    json_decref(ops);
    json_decref(cur);
    json_decref(b);
    return rc;
}

const struct feature_ops cpuu_feat_contactmembers_graph = {
    .id = CFG_F_CONTACTMEMBERS,
    .read = cmg_read,
    .keys = cmg_keys,
    .plan = cmg_plan,
    .backup = cmg_backup,
    .apply = cmg_apply,
    .restore = cmg_restore,
    .free_state = cmgstate_free,
};
