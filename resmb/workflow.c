/* workflow.c — the per-mailbox state machine of switchresmb (DESIGN.md "The
 * per-mailbox state machine").  Read the table top to bottom: each row is
 * "in this state, on this event, go there by running this action".  Every
 * action is idempotent (statemachine.h): a run killed anywhere resumes here. */
#include "resmb/resmb.h"

#include <time.h>

static const char *const state_names[MB__NSTATES] = {
    [MB_QUEUED] = "QUEUED",
    [MB_RESOLVED] = "RESOLVED",
    [MB_SWITCHMSG_READY] = "SWITCHMSG_READY",
    [MB_PROFILE_CREATED] = "PROFILE_CREATED",
    [MB_UPDATED] = "UPDATED",
    [MB_CLEANED] = "CLEANED",
    [MB_DONE] = "DONE",
    [MB_FAILED] = "FAILED",
};

static const char *const event_names[EV__NEVENTS] = {
    [EV_START] = "start", [EV_OK] = "ok", [EV_FAIL] = "fail",
};

/* Durability (statemachine.h): the journal syncs only before an action whose
 * effect outside the journal a rerun could not find again or take back:
 * writing the switch message, creating the profile (its name durable first),
 * running the engine (it changes the mailbox), its cleanup (it drops the
 * rollback copy), deleting the profile, failing (it deletes the profile too).
 * Resolving only reads; its records are redone if a power cut loses them.
 * DONE and FAILED are synced as terminal states. */
#define BARRIER SM_SYNC_BEFORE
static const struct sm_row rows[] = {
    /* AD: SMTP address, legacyExchangeDN, mailbox GUID, target address */
    { MB_QUEUED,          EV_START, MB_RESOLVED,        resmb_act_resolve,        0 },
    { MB_RESOLVED,        EV_FAIL,  MB_FAILED,          resmb_act_fail,           BARRIER },
    /* the switch message in the source mailbox: read, created or recreated */
    { MB_RESOLVED,        EV_OK,    MB_SWITCHMSG_READY, resmb_act_switchmsg,      BARRIER },
    { MB_SWITCHMSG_READY, EV_FAIL,  MB_FAILED,          resmb_act_fail,           BARRIER },
    /* the temporary profile {GUID} for the source mailbox */
    { MB_SWITCHMSG_READY, EV_OK,    MB_PROFILE_CREATED, resmb_act_create_profile, BARRIER },
    { MB_PROFILE_CREATED, EV_FAIL,  MB_FAILED,          resmb_act_fail,           BARRIER },
    /* the engine updates the mailbox's features through that profile */
    { MB_PROFILE_CREATED, EV_OK,    MB_UPDATED,         resmb_act_update,         BARRIER },
    { MB_UPDATED,         EV_FAIL,  MB_FAILED,          resmb_act_fail,           BARRIER },
    /* the engine cleans up what it kept for a rollback */
    { MB_UPDATED,         EV_OK,    MB_CLEANED,         resmb_act_cleanup,        BARRIER },
    { MB_CLEANED,         EV_FAIL,  MB_FAILED,          resmb_act_fail,           BARRIER },
    /* the temporary profile goes (unless LeaveTemporaryProfiles=1) */
    { MB_CLEANED,         EV_OK,    MB_DONE,            resmb_act_finish,         BARRIER },
};

static const unsigned char terminal[MB__NSTATES] = { [MB_DONE] = 1, [MB_FAILED] = 1 };

static const sm_def def = {
    .name = "mailbox",
    .state_names = state_names,
    .n_states = MB__NSTATES,
    .event_names = event_names,
    .n_events = EV__NEVENTS,
    .rows = rows,
    .n_rows = sizeof rows / sizeof rows[0],
    .initial_state = MB_QUEUED,
    .start_event = EV_START,
    .terminal = terminal,
};

/* A rerun retries the mailboxes that FAILED before: this one-row table moves
 * such a mailbox back to QUEUED (forgetting what the failed attempt recorded);
 * the main table then takes it from there.  Every state but FAILED is
 * terminal here, so this table can do nothing else. */
static const struct sm_row retry_rows[] = {
    { MB_FAILED, EV_OK, MB_QUEUED, resmb_act_requeue, 0 },
};

static const unsigned char retry_terminal[MB__NSTATES] = {
    [MB_QUEUED] = 1, [MB_RESOLVED] = 1, [MB_SWITCHMSG_READY] = 1, [MB_PROFILE_CREATED] = 1,
    [MB_UPDATED] = 1, [MB_CLEANED] = 1, [MB_DONE] = 1,
};

static const sm_def retry_def = {
    .name = "mailbox retry",
    .state_names = state_names,
    .n_states = MB__NSTATES,
    .event_names = event_names,
    .n_events = EV__NEVENTS,
    .rows = retry_rows,
    .n_rows = 1,
    .initial_state = MB_FAILED,
    .start_event = EV_OK,
    .terminal = retry_terminal,
};

const sm_def *resmb_workflow_retry(sr_err *err)
{
    return sm_def_check(&retry_def, err) == SR_OK ? &retry_def : NULL;
}

const sm_def *resmb_workflow(sr_err *err)
{
    return sm_def_check(&def, err) == SR_OK ? &def : NULL;
}

const char *resmb_state_name(int state)
{
    if (state == RESMB_STATE_INTERRUPTED)
        return "INTERRUPTED";
    if (state == RESMB_STATE_THROTTLED)
        return "THROTTLED";
    if (state == RESMB_STATE_NOT_STARTED)
        return "NOT STARTED";
    if (state == RESMB_STATE_DUPLICATE)
        return "DUPLICATE";
    return state >= 0 && state < MB__NSTATES ? state_names[state] : "NEW";
}

const char *resmb_phase_name(resmb_phase ph)
{
    static const char *const names[RESMB_PH__N] = {
        [RESMB_PH_DIRECTORY] = "directory",
        [RESMB_PH_SWITCHMSG] = "switch_message",
        [RESMB_PH_UPDATE] = "engine_update",
        [RESMB_PH_CLEANUP] = "engine_cleanup",
        [RESMB_PH_PROFILE] = "profile",
    };
    return ph >= 0 && ph < RESMB_PH__N ? names[ph] : "?";
}

long long resmb_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
