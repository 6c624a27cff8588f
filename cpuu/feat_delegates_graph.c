/* feat_delegates_graph.c — the Delegates feature for a target on Microsoft
 * Graph (issue 17 §3, docs/graph.md); the source stays EWS.
 *
 * read:    GetDelegate on the source (EWS); the target's
 *          calendar/calendarPermissions and mailboxSettings (Graph).
 * plan:    one rmap_resolve for the source delegates and the target's
 *          permission holders; each mapped delegate becomes a
 *          calendarPermission with a delegate role (graph_feat.c): missing →
 *          POST, another role → PATCH role.  Removed are only removable
 *          permissions of SOURCE recipients (left over by a copy), as on EWS.
 *          DeliverMeetingRequests → mailboxSettings PATCH when it differs.
 *          What Graph cannot carry (other folders' permissions, per-delegate
 *          meeting copies, NoForward) is reported per delegate.
 * backup:  the target's permissions and delivery option as JSON
 *          (Delegates.target.json; the first run's is kept).
 * apply:   the writes in $batch requests.
 * restore: converge to the backup the same way, every removable
 *          permission not in it removed. */
#include "cpuu/engine.h"
#include "cpuu/feature.h"
#include "cpuu/graph_feat.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FEATURE "Delegates"
#define PERMS "/calendar/calendarPermissions"
#define SETTINGS "/mailboxSettings"
#define DELIVER "delegateMeetingMessageDeliveryOptions"

typedef struct gstate {
    ewsf_delegates src;
    json_t *perms;              /* the target's calendarPermissions */
    json_t *settings;           /* the target's mailboxSettings */
    json_t *ops;                /* [{method, path, body, what}] */
} gstate;

static void gstate_free(void *v)
{
    gstate *s = v;
    if (!s)
        return;
    ewsf_delegates_clear(&s->src);
    json_decref(s->perms);
    json_decref(s->settings);
    json_decref(s->ops);
    free(s);
}

static sr_code src_delegates(cpuu_ctx *c, ewsf_delegates *out, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(c->src);
    mapi_ews_call call = {.idempotent = 1};
    call.req = ewsf_req_getdelegate(&t, mapi_session_mailbox(c->src), err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(c->src, &call, 1, err);
    if (rc == SR_OK)
        rc = ewsf_parse_getdelegate(call.resp_op, out, err);
    xmlFreeDoc(call.req);
    xmlFreeDoc(call.resp);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: GetDelegate on %s: ", c->who, FEATURE,
                      mapi_session_mailbox(c->src));
    else if (out->bad)
        sr_log(SR_LOG_WARN, c->who, "%s: GetDelegate on %s: %u delegate entries unreadable (%s)",
               FEATURE, mapi_session_mailbox(c->src), out->bad,
               out->first_bad ? out->first_bad : "?");
    return rc;
}

static sr_code g_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    gstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = src_delegates(c, &s->src, err);
    st->seen = (unsigned)(s->src.n + s->src.bad);
    st->unresolved += s->src.bad;
    if (rc == SR_OK)
        rc = gfeat_get_all(c, FEATURE, PERMS, &s->perms, err);
    if (rc == SR_OK)
        rc = gfeat_get(c, FEATURE, SETTINGS, &s->settings, err);
    return rc;
}

static const char *addr_of(const json_t *perm)
{
    return json_string_value(json_object_get(json_object_get(perm, "emailAddress"), "address"));
}

static json_t *perm_of(json_t *perms, const char *smtp)
{
    size_t i;
    json_t *p;
    json_array_foreach(perms, i, p) {
        const char *a = addr_of(p);
        if (a && smtp && strcasecmp(a, smtp) == 0)
            return p;
    }
    return NULL;
}

/* POST the permission p, or PATCH the role of have when it differs. */
static sr_code put_perm(json_t *ops, json_t *p, json_t *have, const char *who)
{
    const char *role = json_string_value(json_object_get(p, "role"));
    const char *now = json_string_value(json_object_get(have, "role"));
    if (have && now && role && strcmp(now, role) == 0)
        return SR_OK;
    char *what = sr_asprintf("%s %s as %s", have ? "update" : "add", who, role ? role : "?");
    const char *id = json_string_value(json_object_get(have, "id"));
    char *path = have ? sr_asprintf(PERMS "/%s", id ? id : "") : sr_strdup(PERMS);
    json_t *body = have ? json_pack("{s:s}", "role", role ? role : "none") : json_incref(p);
    sr_code rc = what && path && body ? gfeat_add_op(ops, have ? "PATCH" : "POST", path, body, what)
                                      : SR_E_NOMEM;
    json_decref(body);
    free(what);
    free(path);
    return rc;
}

static sr_code del_perm(json_t *ops, json_t *have, const char *why)
{
    const char *id = json_string_value(json_object_get(have, "id"));
    char *path = sr_asprintf(PERMS "/%s", id ? id : "");
    char *what = sr_asprintf("remove %s (%s)", addr_of(have) ? addr_of(have) : "?", why);
    sr_code rc = path && what ? gfeat_add_op(ops, "DELETE", path, NULL, what) : SR_E_NOMEM;
    free(path);
    free(what);
    return rc;
}

static sr_code put_deliver(json_t *ops, const json_t *settings, const char *want)
{
    const char *have = json_string_value(json_object_get(settings, DELIVER));
    if (!want || (have && strcmp(have, want) == 0))
        return SR_OK;
    json_t *body = gfeat_mailbox_settings_json(want);
    char *what = sr_asprintf("set %s to %s", DELIVER, want);
    sr_code rc = body && what ? gfeat_add_op(ops, "PATCH", SETTINGS, body, what) : SR_E_NOMEM;
    json_decref(body);
    free(what);
    return rc;
}

/* One source delegate, mapped, into ops (and wanted, its target address). */
static sr_code plan_one(cpuu_ctx *c, gstate *s, const ewsf_delegate *d, json_t *wanted,
                        gfeat_notes *notes, feature_stats *st)
{
    rmap_target t = {0};
    rmap_status ms = d->smtp ? rmap_lookup(c->map, d->smtp, &t) : RMAP_UNKNOWN;
    if (ms != RMAP_MAPPED) {
        st->unresolved++;
        sr_log(SR_LOG_WARN, c->who, "%s: delegate %s is %s in the target organisation: not added",
               FEATURE, d->smtp ? d->smtp : "?", rmap_status_name(ms));
        return SR_OK;
    }
    ewsf_delegate m = *d;
    m.smtp = (char *)t.smtp;
    m.display_name = (char *)t.display_name;
    size_t before = notes->n;
    json_t *p = gfeat_delegate_json(&m, notes);
    st->unsupported += notes->n > before;
    sr_code rc = json_array_append_new(wanted, json_string(t.smtp)) == 0 ? SR_OK : SR_E_NOMEM;
    if (p && rc == SR_OK)
        rc = put_perm(s->ops, p, perm_of(s->perms, t.smtp), t.smtp);
    json_decref(p);
    return rc;
}

/* Whether the source gave delegate d rights on Inbox, Contacts, Tasks,
 * Notes or Journal: Graph v1.0 has no API for them; the Exchange Online
 * Admin API has one, in preview only, so it is not used (docs/graph.md). */
static int has_folder_perms(const ewsf_delegate *d)
{
    for (int i = 1; i < EWSF_NPERM; i++)
        if (d->perm[i] && strcmp(d->perm[i], "None") != 0)
            return 1;
    return 0;
}

static int is_wanted(json_t *wanted, const char *a)
{
    size_t i;
    json_t *w;
    json_array_foreach(wanted, i, w) if (a && strcasecmp(json_string_value(w), a) == 0) return 1;
    return 0;
}

static sr_code resolve(cpuu_ctx *c, gstate *s, sr_err *err)
{
    size_t nk = s->src.n + json_array_size(s->perms), k = 0;
    const char **keys = calloc(nk ? nk : 1, sizeof *keys);
    if (!keys)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < s->src.n; i++)
        if (s->src.v[i].smtp)
            keys[k++] = s->src.v[i].smtp;
    for (size_t i = 0; i < json_array_size(s->perms); i++)
        if (addr_of(json_array_get(s->perms, i)))
            keys[k++] = addr_of(json_array_get(s->perms, i));
    sr_code rc = rmap_resolve(c->map, keys, k, err);
    free(keys);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
    return rc;
}

static sr_code g_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    gstate *s = state;
    sr_code rc = resolve(c, s, err);
    if (rc != SR_OK)
        return rc;
    json_decref(s->ops);
    s->ops = json_array();
    json_t *wanted = json_array();
    gfeat_notes notes = {0};
    if (!s->ops || !wanted)
        rc = SR_E_NOMEM;
    unsigned folder_perms = 0;
    for (size_t i = 0; rc == SR_OK && i < s->src.n; i++) {
        folder_perms += (unsigned)has_folder_perms(&s->src.v[i]);
        rc = plan_one(c, s, &s->src.v[i], wanted, &notes, st);
    }
    if (folder_perms)   /* said in the mailbox's report line by name (switchresmb) */
        cpuu_progress("notcarried DelegateFolderPermissions %u", folder_perms);
    size_t i;
    json_t *p;
    json_array_foreach(s->perms, i, p) {   /* source recipients left over by a copy */
        const char *a = addr_of(p);
        rmap_status ms = a ? rmap_lookup(c->map, a, NULL) : RMAP_UNKNOWN;
        int removable = json_is_true(json_object_get(p, "isRemovable"));
        if (rc == SR_OK && removable && !is_wanted(wanted, a) &&
            (ms == RMAP_MAPPED || ms == RMAP_NOT_MIGRATED))
            rc = del_perm(s->ops, p, "a source recipient left over");
    }
    const char *want = gfeat_deliver_to_graph(s->src.deliver);
    if (s->src.deliver && !want) {
        st->unsupported++;
        gfeat_note(&notes, "DeliverMeetingRequests %s: Graph's %s has no such value: the target "
                   "keeps its own", s->src.deliver, DELIVER);
    }
    if (rc == SR_OK)
        rc = put_deliver(s->ops, s->settings, want);
    gfeat_log_notes(c, FEATURE, &notes);
    gfeat_notes_clear(&notes);
    json_decref(wanted);
    st->changed = (unsigned)json_array_size(s->ops);
    for (i = 0; i < json_array_size(s->ops); i++)
        sr_log(SR_LOG_INFO, c->who, "%s: plan: %s", FEATURE,
               json_string_value(json_object_get(json_array_get(s->ops, i), "what")));
    return rc == SR_OK ? SR_OK : sr_err_set(err, rc, "%s: %s: out of memory", c->who, FEATURE);
}

static sr_code g_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    gstate *s = state;
    json_t *b = json_pack("{s:O,s:O?}", "calendarPermissions", s->perms, DELIVER,
                          json_object_get(s->settings, DELIVER));
    sr_code rc = b ? gfeat_backup_put(c, FEATURE, b, err)
                   : sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    json_decref(b);
    return rc;
}

static sr_code g_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    (void)st;
    gstate *s = state;
    return gfeat_run_ops(c, FEATURE, s->ops, err);
}

/* The saved permission as a POST body (what Graph lets a client set). */
static json_t *post_body(const json_t *p)
{
    return json_pack("{s:O,s:O?,s:O}", "emailAddress", json_object_get(p, "emailAddress"),
                     "isInsideOrganization", json_object_get(p, "isInsideOrganization"), "role",
                     json_object_get(p, "role"));
}

static sr_code restore_ops(json_t *saved, json_t *cur, json_t *ops)
{
    json_t *perms = json_object_get(saved, "calendarPermissions");
    sr_code rc = SR_OK;
    size_t i;
    json_t *p;
    json_array_foreach(cur, i, p) {
        if (rc == SR_OK && json_is_true(json_object_get(p, "isRemovable")) && addr_of(p) &&
            !perm_of(perms, addr_of(p)))
            rc = del_perm(ops, p, "not in the backup");
    }
    json_array_foreach(perms, i, p) {
        if (rc != SR_OK || !json_is_true(json_object_get(p, "isRemovable")) || !addr_of(p))
            continue;
        json_t *body = post_body(p);
        rc = body ? put_perm(ops, body, perm_of(cur, addr_of(p)), addr_of(p)) : SR_E_NOMEM;
        json_decref(body);
    }
    return rc;
}

static sr_code g_restore(cpuu_ctx *c, sr_err *err)
{
    json_t *saved = NULL, *cur = NULL, *settings = NULL, *ops = json_array();
    sr_code rc = gfeat_backup_get(c, FEATURE, &saved, err);
    if (rc == SR_OK)
        rc = gfeat_get_all(c, FEATURE, PERMS, &cur, err);
    if (rc == SR_OK)
        rc = gfeat_get(c, FEATURE, SETTINGS, &settings, err);
    const char *deliver = json_string_value(json_object_get(saved, DELIVER));
    if (rc == SR_OK && (!ops || restore_ops(saved, cur, ops) != SR_OK ||
                        put_deliver(ops, settings, deliver) != SR_OK))
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_OK)
        rc = gfeat_restore_run(c, FEATURE, ops, err);
    json_decref(saved);
    json_decref(cur);
    json_decref(settings);
    json_decref(ops);
    return rc;
}

const struct feature_ops cpuu_feat_delegates_graph = {
    .id = CFG_F_DELEGATES,
    .read = g_read,
    .plan = g_plan,
    .backup = g_backup,
    .apply = g_apply,
    .restore = g_restore,
    .free_state = gstate_free,
};
