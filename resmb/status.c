/* status.c — `switchresmb --status SwitchResMB.ini`: what the journal says,
 * without running anything (no directory, no Exchange, no lock, no write).
 * Per mailbox: state, attempts, the last transition and its time, the last
 * error; then counts per state; the exit code is the bitmask a run would
 * report now (the bits of the mailboxes that are not DONE). */
#include "resmb/run_int.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct status_acc {
    unsigned count[MB__NSTATES];
    unsigned bits, n;
    char **seen;             /* journal objects, sorted afterwards */
    size_t n_seen;
} status_acc;

static int print_one(const sm_info *in, void *arg)
{
    status_acc *a = arg;
    char last[96] = "-";
    if (in->last_from >= 0)
        snprintf(last, sizeof last, "%s -> %s", resmb_state_name(in->last_from),
                 resmb_state_name(in->last_to));
    printf("  %-40s %-15s %-8u %-34s %-24s %s\n", in->object, resmb_state_name(in->state),
           in->attempts, last, in->last_time ? in->last_time : "-",
           in->state == MB_FAILED && in->last_error ? in->last_error : "");
    if (in->state >= 0 && in->state < MB__NSTATES)
        a->count[in->state]++;
    if (in->state != MB_DONE)
        a->bits |= in->exit_bits | (in->state == MB_FAILED ? RESMB_EXIT_FAILED : 0);
    a->n++;
    char **s = realloc(a->seen, (a->n_seen + 1) * sizeof *s);
    if (s && (s[a->n_seen] = sr_strdup(in->object))) {
        a->seen = s;
        a->n_seen++;
    } else if (s) {
        a->seen = s;
    }
    return 0;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* INI entries the journal has never seen: queued, not started. */
static unsigned count_unseen(const cfg_resmb *cfg, status_acc *a)
{
    if (a->n_seen)
        qsort(a->seen, a->n_seen, sizeof *a->seen, cmp_str);
    unsigned n = 0;
    const cfg_list *lists[] = { &cfg->mailboxes, &cfg->mailboxes_smtp };
    for (size_t l = 0; l < 2; l++)
        for (size_t i = 0; i < lists[l]->n; i++) {
            const char *k = lists[l]->v[i].value;
            if (!a->n_seen || !bsearch(&k, a->seen, a->n_seen, sizeof *a->seen, cmp_str))
                n++;
        }
    return n;
}

int resmb_status(const cfg_resmb *cfg, const resmb_opts *o)
{
    sr_err e;
    const sm_def *def = resmb_workflow(&e);
    char *jp = resmb_journal_path(cfg->path, o->state_dir);
    if (!def || !jp) {
        fprintf(stderr, "switchresmb: %s\n", def ? "out of memory" : e.msg);
        free(jp);
        return RESMB_EXIT_FAILED;
    }
    printf("==== switchresmb status: %s ====\n  journal %s\n", cfg->path, jp);
    status_acc a = { 0 };
    if (access(jp, F_OK) == 0) {
        sm_journal *j = sm_journal_open(jp, &e);
        if (!j || sm_foreach_info(j, def, print_one, &a, &e) != SR_OK) {
            fprintf(stderr, "switchresmb: %s: %s\n", jp, e.msg);
            sm_journal_close(j);
            free(jp);
            return RESMB_EXIT_FAILED;
        }
        sm_journal_close(j);
    } else {
        printf("  no run yet\n");
    }
    unsigned unseen = count_unseen(cfg, &a);
    printf("  ---\n  %u mailbox(es) in the journal, %u listed but not started;", a.n, unseen);
    for (int s = 0; s < MB__NSTATES; s++)
        if (a.count[s])
            printf(" %s %u", resmb_state_name(s), a.count[s]);
    printf("\n  exit code %u (what a run would report now)\n", a.bits);
    for (size_t i = 0; i < a.n_seen; i++)
        free(a.seen[i]);
    free(a.seen);
    free(jp);
    return (int)a.bits;
}
