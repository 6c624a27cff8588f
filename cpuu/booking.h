/* booking.h — what the Booking feature's EWS ops (feat_booking.c) share with
 * its Graph ops (feat_booking_graph.c), private to cpuu/: the state and the
 * plan.  Both sides meet the `Calendar` dictionary as EWS t:Dictionary
 * elements (the Graph ops convert the beta structuredData to and from it),
 * so the identities, the order of writes and the idempotence check are
 * decided in one place.
 *
 * Depends on feature.h and libxml2.  Ownership: a bstate's documents are
 * its own (booking_state_clear frees them, not the struct). */
#ifndef CPUU_BOOKING_H
#define CPUU_BOOKING_H

#include "cpuu/feature.h"

#define BOOKING_FEATURE "Booking"
#define BOOKING_CFG_NAME "Calendar"
#define BOOKING_CFG_FOLDER "calendar"

typedef struct bstate {
    xmlDocPtr src_doc, tgt_doc;      /* answers */
    xmlNodePtr src_dict, tgt_dict;   /* t:Dictionary, NULL when absent */
    xmlNodePtr tgt_op;               /* the target's response op (EWS backup) */
    int tgt_exists;                  /* the target has the configuration item */
    xmlDocPtr want_doc;              /* wanted dictionary (and the first step's) */
    xmlNodePtr want, step1;          /* want NULL: nothing to write; step1 NULL: one write */
    int automate_changes;            /* want's AutomateProcessing differs from the target's */
} bstate;

/* Free what s holds (tgt_doc only when it is not src_doc). */
void booking_state_clear(bstate *s);
/* The source's `Calendar` configuration (EWS, c->src) into s->src_doc/src_dict. */
sr_code booking_read_source(cpuu_ctx *c, bstate *s, sr_err *err);
/* The feature_ops keys and plan steps over a bstate (state: a bstate *). */
sr_code booking_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tk, sr_err *err);
sr_code booking_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err);

#endif
