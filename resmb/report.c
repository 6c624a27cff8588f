/* report.c — the run's report and exit bits (run_int.h): one line per
 * mailbox in the order of the INI lists, --dry-run's plan, the summary and
 * the spec's SwitchResMB bitmask with its meaning in words. */
#include "resmb/run_int.h"

#include <stdlib.h>
#include <string.h>

#define KEY_COLUMN 44

static void report_line(resmb_report *r, const resmb_mb *m, int state, unsigned bits,
                        const char *why)
{
    const char *who = m->key;
    resmb_report_record(r, m, state, bits, why);
    /* a long legacyExchangeDN gets a line of its own, so the columns stay */
    if (strlen(who) > KEY_COLUMN)
        fprintf(r->f, "  %s\n  %-*s", who, KEY_COLUMN, "");
    else
        fprintf(r->f, "  %-*s", KEY_COLUMN, who);
    fprintf(r->f, " %-15s exit %-3u %s\n", resmb_state_name(state), bits, why && *why ? why : "");
    r->n++;
    r->bits |= bits;
    if (bits & RESMB_EXIT_ONE_PROFILE)
        r->profile_fail++;
}

static void describe_bits(FILE *out, unsigned bits)
{
    static const struct { unsigned bit; const char *what; } names[] = {
        { RESMB_EXIT_FAILED, "processing failed with errors" },
        { RESMB_EXIT_CMDLINE, "incorrect command line" },
        { RESMB_EXIT_INI, "incorrect INI parameters" },
        { RESMB_EXIT_ONE_PROFILE, "unable to create one profile" },
        { RESMB_EXIT_ALL_PROFILES, "unable to create all profiles" },
        { RESMB_EXIT_CPUU_CMDLINE, "incorrect CPUU command line" },
        { RESMB_EXIT_CPUU_START, "unable to start CPUU for updating" },
        { RESMB_EXIT_CPUU_CLEANUP, "unable to start CPUU for cleanup" },
    };
    if (!bits) {
        fputs("processing successfully completed", out);
        return;
    }
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (bits & names[i].bit) {
            fprintf(out, "%s%u %s", sep, names[i].bit, names[i].what);
            sep = ", ";
        }
}

/* Listed twice: no bit, the first entry's line named (issue 10). */
static void report_duplicate(resmb_report *rep, const resmb_mb *m)
{
    char why[600];
    snprintf(why, sizeof why, "[%s] line %d: the same directory object as %s; processed once, "
             "for that entry", m->section, m->line, m->dup_of);
    report_line(rep, m, RESMB_STATE_DUPLICATE, 0, why);
    rep->duplicates++;
}

void resmb_report_chunk(resmb_report *rep, const resmb_mb *mb, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const resmb_mb *m = &mb[i];
        if (m->dup_of) {
            report_duplicate(rep, m);
            continue;
        }
        if (m->state_before == MB_DONE) {
            /* the journal's bits are OR-ed over every attempt: not this run's */
            report_line(rep, m, MB_DONE, 0, "done in an earlier run; not processed again");
            rep->done_before++;
            continue;
        }
        if (!m->has_result) {   /* the run stopped first (signal, full disk) */
            report_line(rep, m, RESMB_STATE_NOT_STARTED, 0,
                        "not started: the run was stopped; a rerun processes it");
            rep->not_started++;
            continue;
        }
        char buf[200];
        const char *why = m->reason;
        if (m->result_state == MB_DONE && !why[0]) {
            snprintf(buf, sizeof buf, "processed%s",
                     m->state_before == MB_FAILED ? " (retried after an earlier failure)"
                     : m->state_before > MB_QUEUED ? " (resumed)" : "");
            why = buf;
        }
        report_line(rep, m, m->result_state, m->result_bits, why);
        if (m->result_state == MB_DONE)
            rep->done_now++;
        else if (m->result_state == RESMB_STATE_INTERRUPTED ||
                 m->result_state == RESMB_STATE_THROTTLED)   /* not failed: a rerun goes on */
            rep->pending++;
        else
            rep->failed++;
    }
}

void resmb_report_plan(resmb_report *rep, const resmb_run *run, const resmb_mb *m)
{
    char why[1300];   /* room for a whole ad_msg / read_msg (1200) */
    const cfg_resmb *c = run->cfg;
    if (m->dup_of) {
        report_duplicate(rep, m);
        return;
    }
    int resumes = m->state_before >= MB_SWITCHMSG_READY && m->state_before != MB_FAILED;
    int st = resumes ? m->state_before : MB_QUEUED;
    unsigned bits = 0;
    if (resumes) {
        snprintf(why, sizeof why, "would resume after %s", resmb_state_name(m->state_before));
    } else if (!m->ad_ok) {
        bits = m->ad_bits;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: %s", m->ad_msg);
    } else if (m->read_done && m->read_open_failed) {
        bits = RESMB_EXIT_FAILED;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: source mailbox not opened: %s", m->read_msg);
    } else if (!m->read_done || (m->read_code != SR_OK && m->read_code != SR_E_NOTFOUND &&
                                 m->read_code != SR_E_PARSE)) {
        bits = RESMB_EXIT_FAILED;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: source mailbox not read: %s", m->read_msg);
    } else if (m->read_code == SR_OK && (!c->switch_msg.present || !c->switch_msg.recreate)) {
        snprintf(why, sizeof why, "switch message present (target %s); would update",
                 m->existing.target_smtp);
    } else if (!c->switch_msg.present) {
        bits = RESMB_EXIT_FAILED;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: no switch message and no [SwitchMessage] section");
    } else {
        const char *t = resmb_mb_target(m);
        if (!t) {
            bits = RESMB_EXIT_FAILED;
            st = MB_FAILED;
            snprintf(why, sizeof why, "would fail: no target address for the switch message "
                     "(no [TargetMailboxesSMTP] entry, none in the directory)");
        } else {
            snprintf(why, sizeof why, "would %s the switch message -> %s (%s); would update",
                     m->read_code == SR_OK ? "recreate" : "create", t,
                     m->target_given ? "[TargetMailboxesSMTP]" : "directory");
        }
    }
    if (!bits && st != MB_FAILED && m->ad_ok && !m->legacy_dn) {
        bits = RESMB_EXIT_ONE_PROFILE;
        st = MB_FAILED;
        snprintf(why, sizeof why, "would fail: no legacyExchangeDN in the directory, so no "
                 "temporary profile");
    }
    report_line(rep, m, st, bits, why);
    if (st == MB_FAILED)
        rep->failed++;
}

static void print_report(const resmb_run *run, resmb_report *rep, unsigned code, FILE *out)
{
    fprintf(out, "\n==== switchresmb report: %s ====\n", run->cfg->path);
    fprintf(out, "  %-*s %-15s %-8s %s\n", KEY_COLUMN, "mailbox", "state", "bits", "details");
    rewind(rep->f);
    char line[2048];
    while (fgets(line, sizeof line, rep->f))
        fputs(line, out);
    fprintf(out, "  ---\n  %u mailbox(es): %u processed now, %u done in earlier runs, %u failed, "
            "%u interrupted, %u not started", rep->n, rep->done_now, rep->done_before,
            rep->failed, rep->pending, rep->not_started);
    if (rep->duplicates)
        fprintf(out, ", %u duplicate(s) not processed again", rep->duplicates);
    fputc('\n', out);
    fprintf(out, "  journal %s\n  exit code %u: ", run->journal_path, code);
    describe_bits(out, code);
    fputc('\n', out);
}

/* Streamed to the file: the text of a 100,000-mailbox list is tens of MiB. */
static void write_report_file(const resmb_run *run, resmb_report *rep, unsigned code)
{
    sr_view v;
    sr_err e;
    if (sr_view_open(&v, run->report_path, 0600, &e) == SR_OK) {
        print_report(run, rep, code, v.f);
        if (sr_view_commit(&v, &e) == SR_OK)
            return;
    }
    sr_log(SR_LOG_WARN, NULL, "report file: %s", e.msg);
}

unsigned resmb_report_exit_bits(const resmb_report *rep, int stopped)
{
    unsigned bits = rep->bits;
    if (stopped)
        bits |= RESMB_EXIT_FAILED;
    /* 16 instead of 8 when no mailbox got its temporary profile */
    if (rep->profile_fail && rep->profile_fail == rep->n - rep->duplicates)
        bits = (bits & ~(unsigned)RESMB_EXIT_ONE_PROFILE) | RESMB_EXIT_ALL_PROFILES;
    return bits;
}

void resmb_report_finish(resmb_report *rep, const resmb_run *run, unsigned code)
{
    print_report(run, rep, code, stdout);
    if (!run->o->dry_run) {
        write_report_file(run, rep, code);
        resmb_report_write_files(rep, run, code);
    }
}
