/* features.c — the feature name table (spec: "What the Utility Updates",
 * "Critical Functionalities"), indexed by cfg_feature. */
#include "configs/configs.h"

#include <assert.h>

static const char *const feature_names[CFG_F__MAX] = {
    [CFG_F_ADDBOXES] = "AddBoxes",
    [CFG_F_CONTAB] = "CONTAB",
    [CFG_F_CONTACTMEMBERS] = "ContactMembers",
    [CFG_F_DELEGATES] = "Delegates",
    [CFG_F_MOVETOFOLDER] = "MoveToFolder",
    [CFG_F_NICKS] = "Nicks",
    [CFG_F_OTHERUSERSFOLDERS] = "OtherUsersFolders",
    [CFG_F_PUBLICFAV] = "PublicFav",
    [CFG_F_RULES] = "Rules",
    [CFG_F_SRS] = "SRS",
    [CFG_F_SEARCHFOLDERS] = "SearchFolders",
    [CFG_F_SERVICES] = "Services",
    [CFG_F_SHORTCUTS] = "Shortcuts",
    [CFG_F_USERNAMES] = "UserNames",
    [CFG_F_FAVORITES] = "Favorites",
    [CFG_F_CALENDAR] = "Calendar",
    [CFG_F_CONTACTS] = "Contacts",
    [CFG_F_TASKS] = "Tasks",
    [CFG_F_NOTES] = "Notes",
    [CFG_F_JOURNAL] = "Journal",
    [CFG_F_ACTIVITIES] = "Activities",
    [CFG_F_BOOKING] = "Booking",
};

static_assert(CFG_F__MAX <= 32, "cfg_feature_set is 32 bits wide");

const char *cfg_feature_name(cfg_feature f)
{
    if ((int)f < 0 || f >= CFG_F__MAX)
        return NULL;
    return feature_names[f];
}

int cfg_feature_parse(const char *name)
{
    if (!name)
        return -1;
    for (int f = 0; f < CFG_F__MAX; f++)
        if (sr_streq_ci(feature_names[f], name))
            return f;
    return -1;
}

int cfg_first_unbuilt(cfg_feature_set set)
{
    set &= ~(CFG_FSET_BUILT | CFG_FSET(CFG_F_ACTIVITIES));
    for (int f = 0; f < CFG_F__MAX; f++)
        if (set & CFG_FSET(f))
            return f;
    return -1;
}
