/* feat_booking_graph.c — the Booking feature for a target on Microsoft
 * Graph (issue 16, issue 17 §3, docs/graph.md); the source stays EWS.
 *
 * Graph reaches the room's `Calendar` configuration only through the BETA
 * userConfiguration resource (mailFolders/calendar/userConfigurations/
 * Calendar: structuredData = the dictionary, each key and value a
 * structuredDataEntryTypedValue {type, values}).  Beta APIs may change and
 * are not supported in production: the log says so once per mailbox.
 *
 * read:    GetUserConfiguration on the source (EWS); GET of the target's
 *          userConfiguration (Graph beta), its structuredData turned into an
 *          EWS t:Dictionary so that feat_booking.c's plan decides everything.
 * plan:    booking_plan (the same identities, order of writes and
 *          idempotence as over EWS).
 * backup:  the target's userConfiguration as Graph answered it, or
 *          {"absent": true} (Booking.target.json; the first run's is kept).
 * apply:   POST (none yet) or PATCH of structuredData: when automatic
 *          processing changes, first with the target's AutomateProcessing,
 *          then with the wanted one (two dependent requests, in order).
 * restore: PATCH the saved structuredData back (POST when gone), or DELETE
 *          when the target had none. */
#include "cpuu/booking.h"
#include "cpuu/ews_feat.h"
#include "cpuu/graph_feat.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>

#define FEATURE BOOKING_FEATURE
#define CONFIGS "/mailFolders/" BOOKING_CFG_FOLDER "/userConfigurations"
#define CONFIG CONFIGS "/" BOOKING_CFG_NAME
#define BETA "beta"

typedef struct gbstate {
    bstate b;                   /* the plan's state (booking.h) */
    json_t *tgt;                /* the target's userConfiguration; NULL: none */
} gbstate;

static void gbstate_free(void *v)
{
    gbstate *s = v;
    if (!s)
        return;
    booking_state_clear(&s->b);
    json_decref(s->tgt);
    free(s);
}

/* One beta request below /users/{c->graph_user}; *out the answer (may be
 * NULL).  SR_E_NOTFOUND for a 404, as Graph's ErrorItemNotFound. */
static sr_code beta_call(cpuu_ctx *c, const char *method, const char *rest, json_t *body,
                         json_t **out, sr_err *err)
{
    char *path = mapi_graph_user_path(c->graph_user, rest);
    mapi_graph_req q = {.method = method, .path = path, .version = BETA, .body = body};
    sr_code rc = path ? mapi_graph_call(c->graph, &q) : SR_E_NOMEM;
    if (!path) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    } else if (rc != SR_OK) {
        *err = q.err;
        sr_err_prefix(err, "%s: %s: %s beta %s: ", c->who, FEATURE, method ? method : "GET", path);
    } else if (out) {
        *out = q.resp;
        q.resp = NULL;
    }
    mapi_graph_req_clear(&q);
    free(path);
    return rc;
}

/* The target's structuredData as <Target><t:Dictionary>…: into s->b. */
static sr_code dict_from_json(gbstate *s, const json_t *sd, sr_err *err)
{
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = d ? xmlNewDocNode(d, NULL, BAD_CAST "Target", NULL) : NULL;
    if (root)
        xmlDocSetRootElement(d, root);
    s->b.tgt_doc = d;
    if (!root)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    s->b.tgt_dict = gfeat_dict_from_json(sd, root, err);
    return s->b.tgt_dict ? SR_OK : err->code;
}

/* A t:Dictionary as {"structuredData": [...]}: the PATCH body.  NULL on OOM. */
static json_t *dict_to_json(xmlNodePtr dict)
{
    json_t *sd = gfeat_dict_json(dict);
    return sd ? json_pack("{s:o}", "structuredData", sd) : NULL;
}

/* ---- the steps ---------------------------------------------------------------- */
static sr_code gb_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    gbstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_log(SR_LOG_NOTICE, c->who, "%s: over Microsoft Graph's beta userConfigurations API (subject "
           "to change, not supported by Microsoft in production)", FEATURE);
    sr_err e;
    sr_err_clear(&e);
    sr_code rc = beta_call(c, NULL, CONFIG, NULL, &s->tgt, &e);
    if (rc == SR_E_NOTFOUND) {
        rc = SR_OK;   /* the target has none yet */
    } else if (rc != SR_OK) {
        *err = e;
    } else {
        s->b.tgt_exists = 1;
        json_t *sd = json_object_get(s->tgt, "structuredData");
        rc = json_is_array(sd) && json_array_size(sd) ? dict_from_json(s, sd, err) : SR_OK;
        if (rc != SR_OK)
            sr_err_prefix(err, "%s: %s: %s on %s: ", c->who, FEATURE, CONFIG, c->graph_user);
    }
    if (rc == SR_OK)
        rc = booking_read_source(c, &s->b, err);
    st->seen = s->b.src_dict != NULL;
    return rc;
}

static sr_code gb_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    gbstate *s = state;
    if (c->dry_run || !s->b.want)
        return SR_OK;
    json_t *saved = s->tgt ? json_pack("{s:O}", "userConfiguration", s->tgt)
                           : json_pack("{s:b}", "absent", 1);
    sr_code rc = saved ? gfeat_backup_put(c, FEATURE, saved, err)
                       : sr_err_set(err, SR_E_NOMEM, "out of memory");
    json_decref(saved);
    return rc;
}

/* POST (create, with the key as id) or PATCH of one structuredData body. */
static sr_code put_dict(cpuu_ctx *c, int create, json_t *body, sr_err *err)
{
    if (!body)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (create)
        json_object_set_new(body, "id", json_string(BOOKING_CFG_NAME));
    sr_code rc = beta_call(c, create ? "POST" : "PATCH", create ? CONFIGS : CONFIG, body, NULL, err);
    json_decref(body);
    return rc;
}

static sr_code gb_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    gbstate *s = state;
    if (!s->b.want)
        return SR_OK;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u dictionary change not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    int create = !s->b.tgt_exists;
    sr_code rc = SR_OK;
    if (s->b.step1) {   /* the lists first, processing as it is now */
        rc = put_dict(c, create, dict_to_json(s->b.step1), err);
        create = 0;
    }
    return rc == SR_OK ? put_dict(c, create, dict_to_json(s->b.want), err) : rc;
}

static sr_code gb_restore(cpuu_ctx *c, sr_err *err)
{
    json_t *saved = NULL, *cur = NULL;
    sr_code rc = gfeat_backup_get(c, FEATURE, &saved, err);
    if (rc != SR_OK)
        return rc;
    const json_t *was = json_object_get(saved, "userConfiguration");
    const json_t *sd = json_object_get(was, "structuredData");
    if (!json_is_true(json_object_get(saved, "absent")) && !json_is_array(sd)) {
        json_decref(saved);
        return sr_err_set(err, SR_E_PARSE, "%s: %s: the backup holds no %s structuredData", c->who,
                          FEATURE, BOOKING_CFG_NAME);
    }
    sr_err e;
    sr_err_clear(&e);
    rc = beta_call(c, NULL, CONFIG, NULL, &cur, &e);
    int exists = rc == SR_OK;
    rc = rc == SR_E_NOTFOUND ? SR_OK : rc;
    if (rc != SR_OK) {
        *err = e;
    } else if (!sd && exists && !c->dry_run) {
        rc = beta_call(c, "DELETE", CONFIG, NULL, NULL, err);
        sr_log(SR_LOG_INFO, c->who, "%s: restore: %s configuration deleted (the target had none)",
               FEATURE, BOOKING_CFG_NAME);
    } else if (sd && !(exists && json_equal(sd, json_object_get(cur, "structuredData"))) && !c->dry_run) {
        rc = put_dict(c, !exists, json_pack("{s:O}", "structuredData", sd), err);
        sr_log(SR_LOG_INFO, c->who, "%s: restore: %s dictionary written back", FEATURE,
               BOOKING_CFG_NAME);
    }
    json_decref(cur);
    json_decref(saved);
    return rc;
}

const struct feature_ops cpuu_feat_booking_graph = {
    .id = CFG_F_BOOKING,
    .read = gb_read,
    .keys = booking_keys,
    .plan = booking_plan,
    .backup = gb_backup,
    .apply = gb_apply,
    .restore = gb_restore,
    .free_state = gbstate_free,
};
