/* feature.h — what every update-engine feature implements (private to cpuu/).
 *
 * A feature is one file exporting one `const struct feature_ops` (STYLE.md,
 * mbsync's driver_t); the engine iterates a table of them (features.c).
 * Adding a feature touches that file and one line in the table.
 *
 * The engine calls, per profile/mailbox and per selected feature:
 *   update mode:   read → keys (the recipients of the features whose reads
 *                  ended in the same wave resolved in ONE rmap batch) → plan
 *                  → backup → apply, each feature as soon as its own step is
 *                  ready (pipeline.c); with a Critical feature or
 *                  -DryRun every read first, then the rest in table order
 *                  (stop at the first Critical error)
 *   rollback mode: restore                           (from what backup saved)
 *   cleanup mode:  the engine deletes the backups itself
 * Performance model (DESIGN.md): read gets everything in as few *dependent*
 * EWS round trips as possible (batches via mapi_session_run / get_items),
 * plan resolves every referenced recipient with ONE recipient-map batch
 * (rmap_resolve), apply writes in batches.  Never one request per delegate,
 * rule or item.  Backups are exact: restore must give back what read saw. */
#ifndef CPUU_FEATURE_H
#define CPUU_FEATURE_H

#include "configs/configs.h"
#include "cpuu/recipient_map.h"
#include "mapi/mapi.h"
#include "util/util.h"

/* Everything a feature may use; owned by the engine, borrowed by features. */
typedef struct cpuu_ctx {
    const char *who;             /* mailbox / profile named in every log line */
    mapi_session *src;           /* source mailbox (where the settings are read) */
    mapi_session *tgt;           /* target mailbox (where they are written); may equal src
                                  * when the mailbox is updated in place (server-side run) */
    mapi_folders src_folders;    /* folder trees (read once by the engine: one FindFolder Deep) */
    mapi_folders tgt_folders;
    int src_tree_later;          /* src_folders not read yet: the engine reads it with the
                                  * features' first reads (a [handover] spared the open) */
    int tgt_tree_later;          /* tgt_folders likewise: the target check's logon asked
                                  * nothing (switchresmb handed its Autodiscover answer) */
    const mapi_switchmsg *sm_write;   /* borrowed: the switch message the engine writes with
                                       * the first reads ([handover] switchmsg-write), or NULL */
    rmap *map;                   /* source → target recipients */
    const char *backup_dir;      /* private (0700) directory for this profile's backups */
    const cfg_cpuu *cfg;         /* CPUU.ini */
    int dry_run;                 /* plan and log, write nothing */
    int backups_transient;       /* a temporary profile's (switchresmb's): its backups go with
                                  * the cleanup that follows the update, so nothing kept only
                                  * for a later run of this profile is worth a round trip */
    /* Looked up once per profile, shared by the features that need them (the
     * seven navigation-shortcut features): the Common Views folder id of each
     * side — NULL: not looked up yet, "": the mailbox has none.  Heap; freed
     * by cpuu_ctx_release. */
    char *src_common_views, *tgt_common_views;
    /* The target over Microsoft Graph (issue 17 §3, docs/graph.md): set when
     * ProtocolTrg=Graph, or Auto after Exchange Online refused EWS; then tgt
     * is NULL and the features run their graph ops.  Borrowed. */
    struct mapi_graph *graph;
    const char *graph_user;      /* the target mailbox (its SMTP address) for /users/{id} */
    /* Write waves (waves.c cpuu_apply_all), set by the engine around one apply:
     * after_pending is 1 while the feature this one writes after has writes
     * not yet answered; an apply with early_writes then stops before its
     * first write that must follow them and sets held (it runs again). */
    int after_pending, held;
} cpuu_ctx;

/* Free what features cached in c (not the borrowed sessions, map or trees). */
void cpuu_ctx_release(cpuu_ctx *c);

/* Backups: one file per (feature, name) under ctx->backup_dir, written
 * atomically, mode 0600.  get: *data heap (caller frees), SR_E_NOTFOUND when absent. */
sr_code cpuu_backup_put(const cpuu_ctx *c, const char *feature, const char *name,
                        const void *data, size_t len, sr_err *err);
sr_code cpuu_backup_get(const cpuu_ctx *c, const char *feature, const char *name,
                        char **data, size_t *len, sr_err *err);
/* 1 when the (feature, name) backup exists and reads; the backup steps keep
 * the first run's backup (the pre-switch state) and write none over it. */
int cpuu_backup_exists(const cpuu_ctx *c, const char *feature, const char *name);
/* A backup saved as XML: *doc the parsed document (caller frees), its root
 * element named root_name (NULL: any).  what names the backup in messages
 * ("not a <what> backup"); a parse or root error comes prefixed with the
 * mailbox and feature, an absent/unreadable file as cpuu_backup_get. */
sr_code cpuu_backup_get_xml(const cpuu_ctx *c, const char *feature, const char *name,
                            const char *what, const char *root_name, xmlDocPtr *doc, sr_err *err);

/* Whether a read goes on to its other side after the first side's outcome
 * rc: after success, and after SR_E_BUSY (a read wave deferred the request,
 * waves.c cpuu_read_all), so the requests of both sides, which do not depend on
 * each other, go out in the same wave.  The first failure stays the read's
 * outcome (cpuu_read_both). */
static inline int cpuu_read_on(sr_code rc)
{
    return rc == SR_OK || rc == SR_E_BUSY;
}
/* The outcome of two independent reads: the first one's unless it succeeded. */
static inline sr_code cpuu_read_both(sr_code first, sr_code second)
{
    return first != SR_OK ? first : second;
}

/* Counts a feature reports for the log and the run report. */
typedef struct feature_stats {
    unsigned seen;               /* objects read (delegates, rules, nicknames ...) */
    unsigned changed;            /* objects rewritten */
    unsigned unresolved;         /* references the recipient map could not map (kept, logged) */
    unsigned unsupported;        /* objects EWS cannot represent (reported, never dropped) */
} feature_stats;

/* Recipient keys of several features, resolved by the engine in ONE batch
 * (rmap_resolve) before the first plan: a mailbox then costs one directory
 * round trip, not one per feature (issue 13).  v[] are heap strings. */
typedef struct cpuu_keys {
    char **v;
    size_t n, cap;
} cpuu_keys;
/* Append key (taken: freed on failure; NULL is skipped). */
sr_code cpuu_keys_take(cpuu_keys *k, char *key, sr_err *err);
void cpuu_keys_clear(cpuu_keys *k);

struct feature_ops {
    cfg_feature id;              /* configs' enum; the INI name comes from cfg_feature_name */
    /* Read what the feature needs; *state is the feature's own (freed by free_state). */
    sr_code (*read)(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err);
    /* Compute the new values with the recipient map; no writes. */
    sr_code (*plan)(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err);
    /* Save exactly what apply will change (cpuu_backup_put). */
    sr_code (*backup)(cpuu_ctx *c, void *state, sr_err *err);
    /* Write the planned values (skipped when c->dry_run). */
    sr_code (*apply)(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err);
    /* Rollback: put back what backup saved; SR_E_NOTFOUND when there is none. */
    sr_code (*restore)(cpuu_ctx *c, sr_err *err);
    void (*free_state)(void *state);
    /* Optional: append to *k every key plan will pass to rmap_resolve and to
     * *tk every target-organisation key (rmap_resolve_target), so the engine
     * resolves all features' keys at once (plan's own calls then find them
     * in the map's cache).  No network. */
    sr_code (*keys)(cpuu_ctx *c, void *state, cpuu_keys *k, cpuu_keys *tk, sr_err *err);
    /* The same steps for a target reached over Microsoft Graph (the source
     * stays EWS, per the spec); NULL when the feature has none.  no_graph:
     * why it cannot have one (Graph has no API for it), NULL when it is only
     * not written yet.  The engine reports either per mailbox and feature. */
    const struct feature_ops *graph;
    const char *no_graph;
    /* Optional, for the write waves: 1 once apply has had every write it
     * makes answered, so the feature that writes after this one may start
     * while apply still reads (Rules: GetInboxRules for the new rules' ids).
     * NULL: when apply ends. */
    int (*writes_done)(const void *state);
    /* 1: apply may start in the first write wave even when it writes after
     * another feature; it holds (c->held) at its first dependent write
     * (Booking: the policy lists go with AddDelegate, AutomateProcessing after). */
    int early_writes;
};

/* A feature's ops for this context: its graph ops when the target is on
 * Graph (NULL when it has none), else ops itself. */
const struct feature_ops *cpuu_feature_ops_for(const cpuu_ctx *c, const struct feature_ops *ops);

/* RemoveJunkEmailMessages=1 (feat_junk.c): not a Features value, run by the
 * engine after the features and restored on rollback like them. */
extern const struct feature_ops cpuu_junk_reset;

/* The table (features.c): every implemented feature, NULL-terminated. */
extern const struct feature_ops *const cpuu_features[];
/* The ops of one feature, or NULL when it is not implemented yet. */
const struct feature_ops *cpuu_feature_ops(cfg_feature id);

#endif
