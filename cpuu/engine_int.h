/* engine_int.h — what the files of one profile's update share (private to
 * cpuu/; the rest of cpuu/ includes engine.h).  The arrows point down:
 *   engine.c    the profile: source open, target check, run_features, switch,
 *               restore;
 *   pipeline.c  the features as a pipeline (run_features without a Critical
 *               feature);
 *   waves.c     a feature's steps and the concurrent read/write waves, with
 *               the folder trees the first reads carry.
 * The profile's gate (engine.c's gate_pass) reaches waves.c as a function
 * in read_trees, which cpuu_trees_verdict calls once both trees are in.
 * Ownership: a feat_run owns its state until cpuu_end_feature (or its free_state)
 * releases it; the trees' folders belong to the cpuu_ctx. */
#ifndef CPUU_ENGINE_INT_H
#define CPUU_ENGINE_INT_H

#include <stddef.h>

#include "cpuu/engine.h"

/* What the engine holds of one selected feature between its read and its plan. */
typedef struct feat_run {
    const struct feature_ops *ops;   /* NULL: not implemented */
    void *state;
    feature_stats st;
    sr_code rc;                      /* the read's outcome */
    sr_err err;
} feat_run;

/* The junk reset's place in the apply list (not a cfg_feature). */
#define JUNK_ID CFG_F__MAX

/* run_features' outcomes besides 0 and -1: the source folder tree (read with
 * the first reads after a hand-over) could not be read (RUN_NO_TREE), the
 * gate stopped the profile (RUN_GATE, its rc says how), or the switch
 * message the engine was to write could not be written (RUN_NO_SWITCHMSG);
 * nothing was written. */
#define RUN_NO_TREE (-2)
#define RUN_GATE (-3)
#define RUN_NO_SWITCHMSG (-5)

/* engine.c's (what the profile held back for the trees: the target check's end, the backup) */
typedef struct tgt_gate tgt_gate;

/* A folder tree the features' first reads carry (src_tree_later: a
 * [handover] spared the source's open; tgt_tree_later: the target check's
 * logon asked nothing): begin, one attempt per wave, the rest live. */
typedef struct wave_tree {
    mapi_session *s;
    mapi_folders *out;
    int done;
    sr_code rc;
    sr_err err;
} wave_tree;

/* The switch message the engine writes itself ([handover] switchmsg-write,
 * issue 13): its look rides with the first reads, its CreateItem with the
 * next wave, and nothing is written to the target before it is answered. */
typedef struct wave_sm {
    const mapi_switchmsg *m;     /* borrowed; NULL: none to write */
    int done;
    sr_code rc;
    sr_err err;
} wave_sm;

/* The profile's gate, once both trees are in: 1 to stop the profile. */
typedef int (*trees_gate_fn)(tgt_gate *g, const wave_tree *src, const wave_tree *tgt);

/* Both trees of one profile and their gate (NULL: nothing held back). */
typedef struct read_trees {
    wave_tree side[2];           /* source, target */
    wave_sm sm;
    trees_gate_fn pass;          /* asked with gate when both trees are in */
    tgt_gate *gate;
    int judged, verdict;
} read_trees;

/* ---- waves.c: a feature's steps --------------------------------------------- */
sr_code cpuu_prepare_feature(cpuu_ctx *c, const struct feature_ops *ops, const char *name,
                        void *state, feature_stats *st, sr_code rc, sr_err *err);
/* frees the feature's state */
sr_code cpuu_end_feature(cpuu_ctx *c, const struct feature_ops *ops, const char *name,
                    void *state, const feature_stats *st, sr_code rc);
/* frees the feature's state (cpuu_end_feature) */
sr_code cpuu_finish_feature(cpuu_ctx *c, const struct feature_ops *ops, const char *name,
                       void *state, feature_stats *st, sr_code rc, sr_err *err);

/* ---- waves.c: the waves on both sessions ------------------------------------ */
unsigned long cpuu_deferred_calls(const cpuu_ctx *c);
int cpuu_waves_on(cpuu_ctx *c, int begin);
int cpuu_waves_send(cpuu_ctx *c);
/* fr->state: the read's, when it ran to its end (1); else freed, NULL */
int cpuu_read_attempt_held(cpuu_ctx *c, feat_run *fr, int held);
/* t points into c (its folders) and at g (NULL: nothing held back): no copies */
void cpuu_trees_begin(cpuu_ctx *c, read_trees *t, trees_gate_fn pass, tgt_gate *g);
int cpuu_trees_attempt(cpuu_ctx *c, read_trees *t);
/* An attempt at the switch message's write (none to write: 1); 1 when it
 * ran to its end (t->sm.rc is its outcome). */
int cpuu_sm_attempt(cpuu_ctx *c, read_trees *t);
/* The write to its end, live (after the waves): 0, or RUN_NO_SWITCHMSG. */
int cpuu_sm_finish(cpuu_ctx *c, read_trees *t);
int cpuu_trees_verdict(read_trees *t);
int cpuu_read_all(cpuu_ctx *c, feat_run **v, const char **names, size_t n, read_trees *t);
int cpuu_apply_after(int f);
int cpuu_apply_attempt(cpuu_ctx *c, feat_run *fr, int after_pending);
void cpuu_apply_all(cpuu_ctx *c, feat_run **v, const int *id, size_t n);

/* ---- pipeline.c ------------------------------------------------------------- */
/* ends (and frees) every v[i] when it returns 0; on a stop, the caller frees them */
int cpuu_run_pipeline(cpuu_ctx *c, feat_run **v, const int *id, const char **names,
                 size_t n, read_trees *t);
int cpuu_pipeline_fits(const cpuu_run_ctx *r, const cpuu_ctx *c);

#endif
