/* features.c — the table of implemented features (feature.h).  Adding a
 * feature: one file exporting its feature_ops, one line here. */
#include "cpuu/feature.h"

#include <stddef.h>

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

const struct feature_ops *cpuu_feature_ops_for(const cpuu_ctx *c, const struct feature_ops *ops)
{
    return ops && c->graph ? ops->graph : ops;
}
