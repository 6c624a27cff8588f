/* workflow.c — the per-mailbox state machine of switchresmb (DESIGN.md "The
 * per-mailbox state machine").  Read the table top to bottom: each row is
 * "in this state, on this event, go there by running this action".  Every
 * action is idempotent (statemachine.h): a run killed anywhere resumes here. */
#include "resmb/resmb.h"

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

static const struct sm_row rows[] = {
    /* AD: SMTP address, legacyExchangeDN, mailbox GUID, target address */
    { MB_QUEUED,          EV_START, MB_RESOLVED,        resmb_act_resolve },
    { MB_RESOLVED,        EV_FAIL,  MB_FAILED,          resmb_act_fail },
    /* the switch message in the source mailbox: read, created or recreated */
    { MB_RESOLVED,        EV_OK,    MB_SWITCHMSG_READY, resmb_act_switchmsg },
    { MB_SWITCHMSG_READY, EV_FAIL,  MB_FAILED,          resmb_act_fail },
    /* the temporary profile {GUID} for the source mailbox */
    { MB_SWITCHMSG_READY, EV_OK,    MB_PROFILE_CREATED, resmb_act_create_profile },
    { MB_PROFILE_CREATED, EV_FAIL,  MB_FAILED,          resmb_act_fail },
    /* the engine updates the mailbox's features through that profile */
    { MB_PROFILE_CREATED, EV_OK,    MB_UPDATED,         resmb_act_update },
    { MB_UPDATED,         EV_FAIL,  MB_FAILED,          resmb_act_fail },
    /* the engine cleans up what it kept for a rollback */
    { MB_UPDATED,         EV_OK,    MB_CLEANED,         resmb_act_cleanup },
    { MB_CLEANED,         EV_FAIL,  MB_FAILED,          resmb_act_fail },
    /* the temporary profile goes (unless LeaveTemporaryProfiles=1) */
    { MB_CLEANED,         EV_OK,    MB_DONE,            resmb_act_finish },
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

const sm_def *resmb_workflow(sr_err *err)
{
    return sm_def_check(&def, err) == SR_OK ? &def : NULL;
}

const char *resmb_state_name(int state)
{
    return state >= 0 && state < MB__NSTATES ? state_names[state] : "NEW";
}
