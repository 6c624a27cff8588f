/* graph_io.c — what the features' Graph ops share (graph_feat.h): reads of
 * the target mailbox below /users/{id}, writes through $batch with each
 * failure named, and the JSON backups beside the EWS ones. */
#include "cpuu/feature.h"
#include "cpuu/graph_feat.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>

sr_code gfeat_get_all(cpuu_ctx *c, const char *feature, const char *rest, json_t **values,
                      sr_err *err)
{
    char *path = mapi_graph_user_path(c->graph_user, rest);
    sr_code rc = path ? mapi_graph_get_all(c->graph, path, NULL, values, err)
                      : sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: GET %s: ", c->who, feature, path ? path : rest);
    free(path);
    return rc;
}

sr_code gfeat_get(cpuu_ctx *c, const char *feature, const char *rest, json_t **out, sr_err *err)
{
    return gfeat_get_version(c, feature, NULL, rest, out, err);
}

sr_code gfeat_get_version(cpuu_ctx *c, const char *feature, const char *version, const char *rest,
                          json_t **out, sr_err *err)
{
    char *path = mapi_graph_user_path(c->graph_user, rest);
    mapi_graph_req q = { .path = path, .version = version };
    sr_code rc = path ? mapi_graph_call(c->graph, &q) : SR_E_NOMEM;
    if (rc == SR_OK) {
        *out = q.resp;
        q.resp = NULL;
    } else if (path) {
        *err = q.err;
        sr_err_prefix(err, "%s: %s: GET %s%s: ", c->who, feature, version ? version : "", path);
    } else {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    mapi_graph_req_clear(&q);
    free(path);
    return rc;
}

sr_code gfeat_add_op(json_t *ops, const char *method, const char *path, json_t *body,
                     const char *what)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "method", method, "path", path, "what", what);
    if (o && body)
        json_object_set(o, "body", body);
    return o && json_array_append_new(ops, o) == 0 ? SR_OK : SR_E_NOMEM;
}

sr_code gfeat_add_beta_op(json_t *ops, const char *method, const char *path, json_t *body,
                          const char *what)
{
    sr_code rc = gfeat_add_op(ops, method, path, body, what);
    json_t *o = json_array_get(ops, json_array_size(ops) - 1);
    return rc == SR_OK && json_object_set_new(o, "version", json_string("beta")) == 0 ? SR_OK
                                                                                     : SR_E_NOMEM;
}

/* n writes through $batch, each failure logged with what[i]. */
static sr_code write_batch(cpuu_ctx *c, const char *feature, mapi_graph_req *q,
                           const char *const *what, size_t n, sr_err *err)
{
    sr_err e;
    sr_err_clear(&e);
    (void)mapi_graph_batch(c->graph, q, n, &e);
    unsigned failed = 0;
    size_t first = n;
    for (size_t i = 0; i < n; i++)
        if (q[i].err.code != SR_OK) {
            sr_log(SR_LOG_ERROR, c->who, "%s: %s: %s", feature, what[i], q[i].err.msg);
            first = failed++ ? first : i;
        }
    if (!failed && e.code == SR_OK)
        return SR_OK;
    if (!failed) {
        *err = e;
    } else {
        *err = q[first].err;
        sr_err_prefix(err, "%u of %zu writes failed, first %s: ", failed, n, what[first]);
    }
    sr_err_prefix(err, "%s: %s: over Microsoft Graph on %s: ", c->who, feature, c->graph_user);
    return err->code;
}

sr_code gfeat_run_ops(cpuu_ctx *c, const char *feature, json_t *ops, sr_err *err)
{
    size_t n = json_array_size(ops);
    if (!n)
        return SR_OK;
    mapi_graph_req *q = calloc(n, sizeof *q);
    char **paths = calloc(n, sizeof *paths);
    const char **what = calloc(n, sizeof *what);
    sr_code rc = q && paths && what ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        json_t *o = json_array_get(ops, i);
        const char *rest = json_string_value(json_object_get(o, "path"));
        paths[i] = mapi_graph_user_path(c->graph_user, rest);
        q[i].method = json_string_value(json_object_get(o, "method"));
        q[i].path = paths[i];
        q[i].body = json_object_get(o, "body");
        q[i].version = json_string_value(json_object_get(o, "version"));
        what[i] = json_string_value(json_object_get(o, "what"));
        if (!paths[i])
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    if (rc == SR_OK)
        rc = write_batch(c, feature, q, what, n, err);
    for (size_t i = 0; q && paths && i < n; i++) {
        mapi_graph_req_clear(&q[i]);
        free(paths[i]);
    }
    free(q);
    free(paths);
    free(what);
    return rc;
}

sr_code gfeat_restore_run(cpuu_ctx *c, const char *feature, json_t *ops, sr_err *err)
{
    sr_code rc = c->dry_run ? SR_OK : gfeat_run_ops(c, feature, ops, err);
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, c->who, "%s: restore over Microsoft Graph: %zu writes%s", feature,
               json_array_size(ops), c->dry_run ? " (dry run: none sent)" : "");
    return rc;
}

sr_code gfeat_restore_list(cpuu_ctx *c, const char *feature, const char *rest,
                           gfeat_restore_fn fn, sr_err *err)
{
    json_t *saved = NULL, *cur = NULL, *ops = json_array();
    gfeat_notes notes = {0};
    sr_code rc = gfeat_backup_get(c, feature, &saved, err);
    if (rc == SR_OK && !json_is_array(saved))
        rc = sr_err_set(err, SR_E_PARSE, "%s: %s: backup %s.%s is not a list", c->who, feature,
                        feature, GFEAT_BACKUP_NAME);
    if (rc == SR_OK)
        rc = gfeat_get_all(c, feature, rest, &cur, err);
    if (rc == SR_OK && (!ops || fn(saved, cur, ops, &notes) != SR_OK))
        rc = sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, feature);
    gfeat_log_notes(c, feature, &notes);
    gfeat_notes_clear(&notes);
    if (rc == SR_OK)
        rc = gfeat_restore_run(c, feature, ops, err);
    json_decref(saved);
    json_decref(cur);
    json_decref(ops);
    return rc;
}

sr_code gfeat_backup_put(cpuu_ctx *c, const char *feature, const json_t *state, sr_err *err)
{
    if (cpuu_backup_exists(c, feature, GFEAT_BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    char *s = json_dumps(state, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, feature);
    sr_code rc = cpuu_backup_put(c, feature, GFEAT_BACKUP_NAME, s, strlen(s), err);
    free(s);
    return rc;
}

sr_code gfeat_backup_get(cpuu_ctx *c, const char *feature, json_t **state, sr_err *err)
{
    char *data = NULL;
    size_t len = 0;
    sr_code rc = cpuu_backup_get(c, feature, GFEAT_BACKUP_NAME, &data, &len, err);
    if (rc != SR_OK)
        return rc;
    json_error_t je;
    *state = json_loadb(data, len, 0, &je);
    free(data);
    if (!*state)
        return sr_err_set(err, SR_E_PROTOCOL, "%s: %s: backup %s.%s: not JSON (line %d: %s)",
                          c->who, feature, feature, GFEAT_BACKUP_NAME, je.line, je.text);
    return SR_OK;
}

json_t *gfeat_by_id(json_t *list, const char *id)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        const char *oid = json_string_value(json_object_get(o, "id"));
        if (id && oid && strcmp(oid, id) == 0)
            return o;
    }
    return NULL;
}

unsigned gfeat_log_notes(const cpuu_ctx *c, const char *feature, const gfeat_notes *n)
{
    for (size_t i = 0; i < n->n; i++)
        sr_log(SR_LOG_WARN, c->who, "%s: not carried over Microsoft Graph: %s", feature, n->v[i]);
    return (unsigned)n->n;
}
