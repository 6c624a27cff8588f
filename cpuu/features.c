/* features.c — the table of implemented features (feature.h).  Adding a
 * feature: one file exporting its feature_ops, one line here. */
#include "cpuu/feature.h"

#include <stddef.h>
#include <stdlib.h>

extern const struct feature_ops cpuu_feat_delegates;
extern const struct feature_ops cpuu_feat_rules;
extern const struct feature_ops cpuu_feat_nicks;
extern const struct feature_ops cpuu_feat_favorites, cpuu_feat_calendar, cpuu_feat_contacts,
    cpuu_feat_tasks, cpuu_feat_notes, cpuu_feat_journal, cpuu_feat_shortcuts;
extern const struct feature_ops cpuu_feat_searchfolders, cpuu_feat_contactmembers, cpuu_feat_booking;

const struct feature_ops *const cpuu_features[] = {
    &cpuu_feat_delegates,
    &cpuu_feat_rules,
    &cpuu_feat_nicks,
    &cpuu_feat_favorites,
    &cpuu_feat_calendar,
    &cpuu_feat_contacts,
    &cpuu_feat_tasks,
    &cpuu_feat_notes,
    &cpuu_feat_journal,
    &cpuu_feat_shortcuts,
    &cpuu_feat_searchfolders,
    &cpuu_feat_contactmembers,
    &cpuu_feat_booking,
    NULL,
};

const struct feature_ops *cpuu_feature_ops(cfg_feature id)
{
    for (size_t i = 0; cpuu_features[i]; i++)
        if (cpuu_features[i]->id == id)
            return cpuu_features[i];
    return NULL;
}

sr_code cpuu_keys_take(cpuu_keys *k, char *key, sr_err *err)
{
    if (!key)
        return SR_OK;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 64;
        char **nv = realloc(k->v, nc * sizeof *nv);
        if (!nv) {
            free(key);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        k->v = nv;
        k->cap = nc;
    }
    k->v[k->n++] = key;
    return SR_OK;
}

void cpuu_keys_clear(cpuu_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = k->cap = 0;
}

const struct feature_ops *cpuu_feature_ops_for(const cpuu_ctx *c, const struct feature_ops *ops)
{
    return ops && c->graph ? ops->graph : ops;
}
