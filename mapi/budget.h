/* mapi/budget.h — one request budget per Exchange account, shared by every
 * process of a switchresmb run: the parent's batched reads, its workers and
 * the engines (cpuu) they start.  Exchange throttles concurrent requests per
 * account (throttling policy EWSMaxConcurrency, 27 by default); without a
 * shared budget the parent's batch (up to 27 requests) and --jobs engines
 * (up to 8 each) together overshot it and got ErrorServerBusy (issue 13).
 *
 * Design: one System V semaphore set with one counting semaphore per side
 * (source account, target account), created by switchresmb for the run
 * (mode 0600) and named to its children by the environment variable
 * SR_EWS_BUDGET (the set id).  A slot is taken with SEM_UNDO, so the kernel
 * gives back what a killed process held: a crashed or killed engine cannot
 * shrink the budget for the rest of the run.  fork() clears the child's undo
 * record and execve() keeps it, which is what workers and engines need.
 *
 * The transport (ews_http.c) takes a slot per authenticated HTTP request of
 * a net whose netopts name a side (mapi_netopts_from_account does) and
 * gives it back when the answer is in; it never blocks holding slots (it
 * tries, and polls again shortly), so no set of processes can deadlock.
 * Without a budget (an engine started alone) nothing is limited here.
 * Microsoft Graph has its own throttling and takes no slot.
 *
 * Depends on util/ only.  Process-global state: one budget per process. */
#ifndef MAPI_BUDGET_H
#define MAPI_BUDGET_H

#include "util/util.h"

typedef enum mapi_budget_side {
    MAPI_BUDGET_NONE = 0,   /* not limited (the zero value of mapi_netopts) */
    MAPI_BUDGET_SOURCE,
    MAPI_BUDGET_TARGET
} mapi_budget_side;

/* Exchange's default EWSMaxConcurrency (per account); switchresmb's
 * --ews-concurrency default.  The bound keeps a typo from making a set the
 * kernel refuses (SEMVMX). */
#define MAPI_BUDGET_DEFAULT_SLOTS 27
#define MAPI_BUDGET_MAX_SLOTS 1000

/* The environment variable that carries the set id to child processes. */
#define MAPI_BUDGET_ENV "SR_EWS_BUDGET"

/* switchresmb: create the budget of this run, `slots` concurrent requests
 * for each account, and export its id (setenv) for the processes started
 * after it.  slots == 0: no budget (nothing created, the variable unset).
 * record (NULL: none): a file (0600) naming the set, which only this run
 * may use (switchresmb: beside its journal, under the journal's lock).
 * First, a set an earlier run recorded there and could not remove (it was
 * killed by SIGKILL) is removed — only when it is still that set: private,
 * ours, two semaphores, last changed when that run set it up. */
sr_code mapi_budget_create(unsigned slots, const char *record, sr_err *err);
/* The creator, at the end of the run: remove the set and its record
 * (NULL-safe no-op when none was created here).  A switchresmb killed by
 * SIGKILL cannot do this: its set stays until the next run over the same
 * journal (or `ipcrm -s ID`; `ipcs -s` lists it); it holds no secret. */
void mapi_budget_remove(void);
/* An engine: use the budget named by the environment, if any.  A stale or
 * foreign id is ignored with a warning (the engine runs unlimited). */
void mapi_budget_attach_env(void);

/* Take one slot of side without waiting: 1 taken (or no budget: nothing to
 * take), 0 all slots are in use.  A set removed under us counts as no
 * budget. */
int mapi_budget_try(mapi_budget_side side);
/* Give back a slot taken by mapi_budget_try (which returned 1). */
void mapi_budget_release(mapi_budget_side side);
/* Free slots of side now; -1 without a budget. */
int mapi_budget_free_slots(mapi_budget_side side);

#endif /* MAPI_BUDGET_H */
