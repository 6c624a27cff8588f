/* statemachine.h — a generic, table-driven state machine whose every step is
 * journaled in SQLite (WAL) before it is considered done, so a run killed at
 * any instant resumes where it stopped (DESIGN.md "The per-mailbox state
 * machine"; STYLE.md "State and durability").
 *
 * Durability: every journal write is committed to the WAL before the call
 * returns, so a killed process loses nothing.  It is not synced to disk at
 * once (synchronous=NORMAL): a power cut may lose the newest writes, but
 * always a tail, never one from the middle.  The table says where that is not
 * enough: a row marked SM_SYNC_BEFORE has the journal on disk before its action
 * runs and every sm_put of that action on disk before sm_put returns (record
 * what you are about to create, durably, then create it); SM_SYNC_AFTER syncs
 * the row's end; reaching a terminal state is always synced.  Mark a row
 * SM_SYNC_BEFORE when its action has an effect outside the journal that a
 * rerun from an older journal state could not take back or find again.
 *
 * The user (resmb/, later cpuu/) declares its states and events as enums,
 * names for both, and a table of rows {state, event, next, action} readable
 * top to bottom.  The engine:
 *     (state, event) --row--> journal "begin next" --> action() --> event'
 *                             journal "end next, event'" --> (next, event')
 * until a terminal state, capped at SM_MAX_STEPS (a bug cannot spin forever).
 * An action that was begun but not ended when the process died is run again
 * on resume, so every action must be idempotent: check, then act, and record
 * what it is about to create with sm_put() *before* creating it.
 *
 * Ownership: sm_journal is opened by sm_journal_open and freed by
 * sm_journal_close.  Strings returned by sm_get are owned by the step and valid
 * until the next sm_get/sm_put on it or the end of the action. */
#ifndef SM_STATEMACHINE_H
#define SM_STATEMACHINE_H

#include "util/util.h"

#include <stddef.h>

#define SM_MAX_STEPS 100

typedef struct sm_journal sm_journal;
typedef struct sm_step sm_step;

/* An action performs one side effect and returns the event it produced.
 * It may record key/values (sm_put) and OR exit bits into the object. */
typedef int (*sm_action_fn)(sm_step *step, void *ctx);

struct sm_row {
    int state;           /* in this state ... */
    int event;           /* ... on this event ... */
    int next;            /* ... go to this state ... */
    sm_action_fn action; /* ... running this.  NULL: no action, allowed only into a
                            terminal state (sm_def_check); the journal records event 0 */
    unsigned sync;       /* SM_SYNC_* bits: where the journal is made durable (0: lazily) */
};

enum {
    SM_SYNC_BEFORE = 1,  /* journal synced before the action; its sm_put calls synced */
    SM_SYNC_AFTER = 2,   /* the row's end synced (into a terminal state: always) */
};

typedef struct sm_def {
    const char *name;                   /* for logs: "mailbox" */
    const char *const *state_names;     /* indexed by state; n_states entries */
    int n_states;
    const char *const *event_names;     /* indexed by event; n_events entries */
    int n_events;
    const struct sm_row *rows;
    size_t n_rows;
    int initial_state;                  /* state of an object never seen before */
    int start_event;                    /* event that sets it moving */
    const unsigned char *terminal;      /* terminal[state] != 0: the run ends there */
} sm_def;

/* Check a table: every state and event has a (non-empty) name, states/events
 * in range, no duplicate (state, event), no row without an action into a
 * non-terminal state, every non-terminal state has at least one row.  Call
 * once at start-up. */
sr_code sm_def_check(const sm_def *def, sr_err *err);

/* Open (create) the journal at path; mode 0600. */
sm_journal *sm_journal_open(const char *path, sr_err *err);
void sm_journal_close(sm_journal *j);   /* NULL-safe */
/* Copy the WAL back into the database and empty it (call at batch ends).
 * The journal also checkpoints itself every 64 pages and keeps the WAL file
 * at most 256 KiB after a checkpoint.  On a full file system every journal
 * call fails with SR_E_NOSPACE and "disk full under <dir>". */
sr_code sm_journal_checkpoint(sm_journal *j, sr_err *err);

/* Drive `object` (e.g. a mailbox address) from wherever the journal left it
 * to a terminal state.  *final_state gets that state; *exit_bits the OR of
 * the bits actions set.  Returns SR_OK when a terminal state was reached (a
 * FAILED state is still a terminal state), an error when the journal failed
 * or the table had no row for (state, event) or the step cap was hit; a
 * journal row whose state/event is outside the table gives SR_E_PARSE. */
sr_code sm_run(const sm_def *def, sm_journal *j, const char *object, void *ctx,
               int *final_state, unsigned *exit_bits, sr_err *err);

/* Current state of an object; -1 when the journal has never seen it. */
int sm_state_of(sm_journal *j, const char *object, sr_err *err);

/* Call fn for every object in the journal, in insertion order, with its
 * current state and exit bits; stops early when fn returns non-zero. */
sr_code sm_foreach(sm_journal *j, int (*fn)(const char *object, int state,
                   unsigned exit_bits, void *arg), void *arg, sr_err *err);

/* What the journal knows of one object, for a status report (no action runs). */
typedef struct sm_info {
    const char *object;
    int state;                  /* current state */
    unsigned exit_bits;
    int last_from, last_to;     /* the last finished transition; -1 when none */
    const char *last_time;      /* its time, "YYYY-mm-ddTHH:MM:SS.sssZ" (UTC); NULL when none */
    const char *started;        /* when it last set off from def->initial_state; NULL when never */
    const char *last_error;     /* the latest error an action recorded; NULL when none */
    unsigned attempts;          /* times it set off from def->initial_state */
} sm_info;

/* Call fn for every object in insertion order with what the log says about
 * it; stops early when fn returns non-zero.  The strings live until fn returns. */
sr_code sm_foreach_info(sm_journal *j, const sm_def *def, int (*fn)(const sm_info *info, void *arg),
                        void *arg, sr_err *err);
/* The same for one object: fn runs once (strings live until it returns);
 * SR_E_NOTFOUND when the journal has never seen it.  One indexed lookup, so
 * a report of a long list reads it row by row instead of holding it. */
sr_code sm_info_of(sm_journal *j, const sm_def *def, const char *object,
                   void (*fn)(const sm_info *info, void *arg), void *arg, sr_err *err);

/* --- inside an action -------------------------------------------------- */
/* Record key=value for this object before acting on it; durable before it
 * returns in a SM_SYNC_BEFORE row (see the top), else in the WAL. */
sr_code sm_put(sm_step *step, const char *key, const char *value);
/* The value recorded for key (by this run or an interrupted earlier one), or NULL. */
const char *sm_get(sm_step *step, const char *key);
/* OR bits into the object's exit bits (persisted with the step's end). */
void sm_add_exit_bits(sm_step *step, unsigned bits);
/* Where an action reports an error message for the log and journal. */
sr_err *sm_err(sm_step *step);

/* --- crash testing (mbsync's approach) --------------------------------- */
/* The environment variable SM_CRASH_AT_STEP=N, read at sm_journal_open,
 * makes the process _exit(SM_CRASH_EXIT) right after the Nth journal write
 * of that handle (unset or 0: off).  Tests run N = 1, 2, 3 ... and resume
 * each time. */
#define SM_CRASH_EXIT 99
/* The environment variable SM_CRASH_AFTER_ACTION=N, read at sm_journal_open,
 * makes the process _exit(SM_CRASH_EXIT) right after the Nth action on that
 * handle returned, before its end is journaled: the action's side effect is
 * done but the journal does not know (unset or 0: off). */
/* Number of journal writes so far on this handle. */
unsigned sm_journal_writes(const sm_journal *j);

#endif
