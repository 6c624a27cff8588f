/* feat_nicks_graph.c — the Nicks feature for a target on Microsoft Graph
 * (issue 17 §3, docs/graph.md); the source stays EWS.
 *
 * The autocomplete list is the Inbox's IPM.Configuration.Autocomplete item,
 * which Graph reaches only through the BETA userConfiguration resource
 * (/users/{id}/mailFolders/inbox/userConfigurations/Autocomplete; its
 * binaryData is the stream, Edm.Binary).  Microsoft does not support beta
 * APIs in production and may change them: the first use in a run says so
 * in the log.
 *
 * read:    GetUserConfiguration on the source (EWS); the target's
 *          userConfiguration (Graph beta; 404: none).  Both parsed strictly
 *          (nicks.h); a target item without binaryData is left alone.
 * plan:    the EWS feature's merge (nk_plan): one rmap_resolve, the
 *          target's rows, then the source's rows re-pointed, duplicates
 *          dropped; nothing to write when the bytes come out the same.
 * backup:  the target's exact bytes, base64 in Nicks.target.json (null:
 *          it had no list); the first run's is kept.
 * apply:   PATCH binaryData (its other parts stay), or POST the item.
 * restore: PATCH the saved bytes back unless the target holds them, or
 *          DELETE the item the update created. */
#include "cpuu/feature.h"
#include "cpuu/graph_feat.h"
#include "cpuu/nicks.h"
#include "mapi/graph.h"

#include <stdlib.h>
#include <string.h>

#define FEATURE "Nicks"
#define CONFIGS "/mailFolders/inbox/userConfigurations"
#define KEY "Autocomplete"
#define ITEM CONFIGS "/" KEY
#define BETA "beta"

/* Once per run (the engine runs its profiles one after another). */
static void say_beta(const cpuu_ctx *c)
{
    static int said;
    if (said++)
        return;
    sr_log(SR_LOG_NOTICE, c->who, "%s: the target's autocomplete list goes through Microsoft "
           "Graph's BETA userConfigurations API (beta APIs may change and are not supported by "
           "Microsoft in production)", FEATURE);
}

/* Edm.Binary into bytes: OData JSON writes base64url, Graph often the
 * standard alphabet; padding may be left out. */
static sr_code decode_binary(const char *text, uint8_t **out, size_t *len, sr_err *err)
{
    size_t n = strlen(text);
    char *b = malloc(n + 4);
    if (!b)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i <= n; i++)
        b[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
    while (n % 4)
        b[n++] = '=';
    b[n] = '\0';
    sr_code rc = mapi_base64_decode(b, out, len, err);
    free(b);
    return rc;
}

/* The target's Autocomplete item into *sd (absent is no error). */
static sr_code read_target(cpuu_ctx *c, nk_side *sd, sr_err *err)
{
    json_t *got = NULL;
    sr_code rc = gfeat_get_version(c, FEATURE, BETA, ITEM, &got, err);
    if (rc == SR_E_NOTFOUND) {
        sr_err_clear(err);
        return SR_OK;
    }
    sd->exists = rc == SR_OK;
    const char *b64 = json_string_value(json_object_get(got, "binaryData"));
    if (rc == SR_OK && b64) {
        rc = decode_binary(b64, &sd->raw, &sd->len, err);
        sd->has_blob = rc == SR_OK;
        if (rc != SR_OK)
            sr_err_prefix(err, "%s: %s: %s's %s binaryData: ", c->who, FEATURE, c->graph_user, KEY);
    }
    json_decref(got);
    return rc;
}

static sr_code g_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    nk_state *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    say_beta(c);
    sr_code rc = nk_removing(c) ? SR_OK : nk_get_config(c, c->src, &s->src, err);
    if (rc == SR_OK)
        rc = read_target(c, &s->tgt, err);
    if (rc == SR_OK && s->tgt.exists && !s->tgt.has_blob) {
        /* an item without a stream: nothing we may rewrite */
        st->unsupported++;
        s->skip = 1;
        sr_log(SR_LOG_WARN, c->who, "%s: %s's %s configuration has no binaryData: left as it is",
               FEATURE, c->graph_user, KEY);
        return SR_OK;
    }
    if (rc == SR_OK)
        rc = nk_parse_side(c, c->graph_user, &s->tgt, st, &s->skip, err);
    if (rc == SR_OK && !nk_removing(c))
        rc = nk_parse_side(c, mapi_session_mailbox(c->src), &s->src, st, &s->skip, err);
    const nk_side *counted = nk_removing(c) ? &s->tgt : &s->src;
    st->seen = rc == SR_OK && counted->parsed ? (unsigned)counted->s.nrows : 0;
    return rc;
}

static sr_code g_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    return nk_plan(c, state, c->graph_user, st, err);
}

static sr_code g_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    nk_state *s = state;
    if (c->dry_run || !s->out)
        return SR_OK;
    char *b64 = s->tgt.has_blob ? mapi_base64_encode(s->tgt.raw, s->tgt.len) : NULL;
    json_t *b = (b64 || !s->tgt.has_blob) ? json_pack("{s:s?}", "binaryData", b64) : NULL;
    sr_code rc = b ? gfeat_backup_put(c, FEATURE, b, err)
                   : sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    json_decref(b);
    free(b64);
    return rc;
}

/* Queue the write that makes the target hold b64: PATCH when the item
 * exists (its other parts stay), else POST it. */
static sr_code put_op(json_t *ops, int exists, const char *b64, const char *what)
{
    json_t *body = exists ? json_pack("{s:s}", "binaryData", b64)
                          : json_pack("{s:s,s:s}", "id", KEY, "binaryData", b64);
    sr_code rc = body ? gfeat_add_beta_op(ops, exists ? "PATCH" : "POST", exists ? ITEM : CONFIGS,
                                          body, what)
                      : SR_E_NOMEM;
    json_decref(body);
    return rc;
}

static sr_code g_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    nk_state *s = state;
    if (!s->out)
        return SR_OK;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u nickname changes not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    char *b64 = mapi_base64_encode(s->out, s->out_len);
    json_t *ops = json_array();
    sr_code rc = b64 && ops ? put_op(ops, s->tgt.exists, b64, "write the autocomplete list")
                            : SR_E_NOMEM;
    if (rc == SR_OK)
        rc = gfeat_run_ops(c, FEATURE, ops, err);
    else
        sr_err_set(err, rc, "%s: %s: out of memory", c->who, FEATURE);
    json_decref(ops);
    free(b64);
    return rc;
}

/* saved: the backup's binaryData (NULL: the target had no list); cur: the
 * target now.  Queues what gives the saved bytes back exactly. */
static sr_code restore_ops(const char *saved, const nk_side *cur, json_t *ops, sr_err *err)
{
    if (!saved && cur->exists &&
        gfeat_add_beta_op(ops, "DELETE", ITEM, NULL, "delete the autocomplete list the update "
                          "created") != SR_OK)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (!saved)
        return SR_OK;
    uint8_t *raw = NULL;
    size_t len = 0;
    sr_code rc = decode_binary(saved, &raw, &len, err);
    int same = rc == SR_OK && cur->has_blob && cur->len == len && memcmp(cur->raw, raw, len) == 0;
    free(raw);
    if (rc != SR_OK || same)
        return rc;
    return put_op(ops, cur->exists, saved, "put the autocomplete list back") == SR_OK
               ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
}

static sr_code g_restore(cpuu_ctx *c, sr_err *err)
{
    json_t *saved = NULL, *ops = json_array();
    nk_side cur = {0};
    sr_code rc = gfeat_backup_get(c, FEATURE, &saved, err);
    json_t *bin = json_object_get(saved, "binaryData");
    if (rc == SR_OK && (!json_is_object(saved) || !(json_is_null(bin) || json_is_string(bin))))
        rc = sr_err_set(err, SR_E_PARSE, "%s: %s: backup %s.%s is not a Nicks backup", c->who,
                        FEATURE, FEATURE, GFEAT_BACKUP_NAME);
    if (rc == SR_OK)
        say_beta(c);
    if (rc == SR_OK)
        rc = read_target(c, &cur, err);
    if (rc == SR_OK && !ops)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_OK && (rc = restore_ops(json_string_value(bin), &cur, ops, err)) != SR_OK)
        sr_err_prefix(err, "%s: %s: backup %s.%s: ", c->who, FEATURE, FEATURE, GFEAT_BACKUP_NAME);
    if (rc == SR_OK)
        rc = gfeat_restore_run(c, FEATURE, ops, err);
    free(cur.raw);
    json_decref(saved);
    json_decref(ops);
    return rc;
}

const struct feature_ops cpuu_feat_nicks_graph = {
    .id = CFG_F_NICKS,
    .read = g_read,
    .keys = nk_keys,
    .plan = g_plan,
    .backup = g_backup,
    .apply = g_apply,
    .restore = g_restore,
    .free_state = nk_state_free,
};
