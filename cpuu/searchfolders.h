/* searchfolders.h — what the SearchFolders feature's EWS ops
 * (feat_searchfolders.c) share with its Graph ops (feat_searchfolders_graph.c),
 * private to cpuu/: reading one mailbox's search folders over EWS, the
 * anchored path of a folder, and the recipient constants of restrictions.
 *
 * Depends on libxml2 and ews_feat.h.  Ownership: an sf_side owns its answers
 * (sf_side_clear); sf_anchored_path returns heap (caller frees). */
#ifndef CPUU_SEARCHFOLDERS_H
#define CPUU_SEARCHFOLDERS_H

#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"

/* Distinguished folders a search may start from (MS-OXWSCDATA
 * DistinguishedFolderIdNameType), searchfolders last; NULL-terminated. */
#define SF_NDIST 13
extern const char *const sf_dist[SF_NDIST + 1];

/* One mailbox's search folders as read over EWS. */
typedef struct sf_side {
    xmlDocPtr dist_doc, get_doc;   /* answers; the elements below point into them */
    char *dist_id[SF_NDIST];       /* distinguished name → folder id (NULL: none) */
    xmlNodePtr *sf;                /* SearchFolder elements (with SearchParameters) */
    size_t nsf;
} sf_side;

void sf_side_clear(sf_side *s);
/* Two dependent rounds: FindFolder under `searchfolders` with the
 * distinguished folders' ids, then GetFolder with SearchParameters. */
sr_code sf_read_side(cpuu_ctx *c, mapi_session *s, sf_side *sd, sr_err *err);
/* "{inbox}/Projects/Archive 2019": the folder id's names up to the nearest
 * distinguished folder (whose display name depends on the mailbox
 * language); NULL when f does not lead to one.  Heap. */
char *sf_anchored_path(const sf_side *sd, const mapi_folders *f, const char *id);
/* The address constants of src's restrictions: into *out (the engine's one
 * batch), or resolved now with one rmap_resolve. */
sr_code sf_side_keys(const sf_side *src, cpuu_keys *out, sr_err *err);
sr_code sf_side_resolve(cpuu_ctx *c, const sf_side *src, sr_err *err);
/* Rewrite the address constants under params (a copy) through the map,
 * each that stays a source recipient counted unresolved and logged; -1 on a
 * lookup error, else how many were rewritten. */
int sf_map_constants(cpuu_ctx *c, xmlNodePtr params, const char *name, feature_stats *st);

#endif
