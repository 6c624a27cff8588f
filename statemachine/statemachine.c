/* statemachine.c — the generic engine and its SQLite journal (see header). */
#include "statemachine/statemachine.h"

#include <libgen.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Version 1 of the journal layout.  An object row holds where the object is:
 * pending = 0: it rests in `state` and `event` is the next event to handle;
 * pending = 1: the row (from_state, event) -> state was begun and its action
 *              has not ended; resume runs that action again. */
static const char *const schema_sql =
    "PRAGMA journal_mode=WAL;"
    /* NORMAL: a commit is written to the WAL (it survives a killed process,
     * and a power cut loses at most the newest commits, never the order), but
     * not synced; sync_commit() makes the barriers of the table durable. */
    "PRAGMA synchronous=NORMAL;"
    /* Every step is a small committed transaction; at SQLite's default of a
     * checkpoint per 1000 pages the WAL reached 2 MB after 8 mailboxes and
     * filled a small disk (issue 11).  Checkpoint every 64 pages (256 KiB) and
     * cut the file back to 256 KiB after each checkpoint. */
    "PRAGMA wal_autocheckpoint=64;"
    "PRAGMA journal_size_limit=262144;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT);"
    "INSERT OR IGNORE INTO meta VALUES('format','1');"
    "CREATE TABLE IF NOT EXISTS objects(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " object TEXT UNIQUE NOT NULL, state INTEGER NOT NULL, from_state INTEGER NOT NULL,"
    " event INTEGER NOT NULL, pending INTEGER NOT NULL, exit_bits INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS data(object TEXT NOT NULL, k TEXT NOT NULL, v TEXT,"
    " PRIMARY KEY(object, k));"
    "CREATE TABLE IF NOT EXISTS log(seq INTEGER PRIMARY KEY AUTOINCREMENT, ts TEXT NOT NULL,"
    " object TEXT NOT NULL, phase TEXT NOT NULL, state INTEGER, event INTEGER, next INTEGER,"
    " detail TEXT);"
    /* A mailbox's last transition, start and error are read per object
     * (sm_foreach_info: the status and the report files); without this index
     * each of those reads scanned the whole log, quadratic in the list. */
    "CREATE INDEX IF NOT EXISTS log_object ON log(object, seq);";

/* The statements a mailbox's steps run, prepared once per handle: parsing
 * the SQL on every call was a third of a switchresmb worker's instructions. */
enum {
    Q_LOAD, Q_SAVE_OBJ, Q_SAVE_LOG, Q_PUT, Q_GET, Q_BEGIN, Q_COMMIT, Q_ROLLBACK,
    Q_SYNC_FULL, Q_SYNC_NORMAL, Q_INFO, Q__N
};
/* What the log says of objects (sm_info's columns); ?1 the initial state. */
#define INFO_SELECT                                                                                \
    "SELECT o.object, o.state, o.exit_bits,"                                                       \
    " (SELECT state FROM log WHERE object = o.object AND phase = 'end' ORDER BY seq DESC LIMIT 1)," \
    " (SELECT next FROM log WHERE object = o.object AND phase = 'end' ORDER BY seq DESC LIMIT 1),"  \
    " (SELECT ts FROM log WHERE object = o.object AND phase = 'end' ORDER BY seq DESC LIMIT 1),"    \
    " (SELECT detail FROM log WHERE object = o.object AND detail IS NOT NULL"                      \
    "  ORDER BY seq DESC LIMIT 1),"                                                                \
    " (SELECT count(*) FROM log WHERE object = o.object AND phase = 'begin' AND state = ?1),"      \
    " (SELECT ts FROM log WHERE object = o.object AND phase = 'begin' AND state = ?1"              \
    "  ORDER BY seq DESC LIMIT 1)"                                                                 \
    " FROM objects o"
static const char *const q_sql[Q__N] = {
    [Q_LOAD] = "SELECT state, from_state, event, pending, exit_bits FROM objects WHERE object = ?1",
    [Q_SAVE_OBJ] = "INSERT INTO objects(object, state, from_state, event, pending, exit_bits)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(object) DO UPDATE SET state = ?2,"
                   " from_state = ?3, event = ?4, pending = ?5, exit_bits = ?6",
    [Q_SAVE_LOG] = "INSERT INTO log(ts, object, phase, state, event, next, detail)"
                   " VALUES(strftime('%Y-%m-%dT%H:%M:%fZ','now'), ?1, ?7, ?3, ?4, ?8, ?9)",
    [Q_PUT] = "INSERT OR REPLACE INTO data(object, k, v) VALUES(?1, ?2, ?3)",
    [Q_GET] = "SELECT v FROM data WHERE object = ?1 AND k = ?2",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [Q_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [Q_INFO] = INFO_SELECT " WHERE o.object = ?2",
};

struct sm_journal {
    sqlite3 *db;
    sqlite3_stmt *q[Q__N];      /* prepared on first use, finalized at close */
    char *path;
    unsigned writes;
    unsigned crash_at;
    unsigned actions;           /* actions run on this handle */
    unsigned crash_after_action;
};

struct sm_step {
    sm_journal *j;
    const char *object;
    int durable;         /* the row is SM_SYNC_BEFORE: sm_put commits are synced */
    unsigned exit_bits;
    char *got;           /* last sm_get result */
    sr_err err;
};

typedef struct {
    int state, from_state, event, pending;
    unsigned exit_bits;
} obj_row;

/* A full file system gets its own code and names the directory, so the run
 * stops with "disk full under <dir>" instead of failing mailbox after mailbox. */
static sr_code db_fail(sm_journal *j, sr_err *err, const char *what)
{
    if ((sqlite3_extended_errcode(j->db) & 0xff) == SQLITE_FULL) {
        char *copy = sr_strdup(j->path);
        sr_code c = sr_err_set(err, SR_E_NOSPACE, "disk full under %s: journal %s: %s",
                               copy ? dirname(copy) : j->path, what, j->path);
        free(copy);
        return c;
    }
    return sr_err_set(err, SR_E_IO, "journal %s: %s: %s", j->path, what, sqlite3_errmsg(j->db));
}

/* Every durable write goes through here so crash tests can stop after any. */
static void count_write(sm_journal *j)
{
    j->writes++;
    if (j->crash_at && j->writes == j->crash_at)
        _exit(SM_CRASH_EXIT);
}

/* Statement q, prepared on first use, reset and unbound; NULL on error.
 * The caller resets it when done (done_q), so no read stays open. */
static sqlite3_stmt *get_q(sm_journal *j, int q)
{
    if (!j->q[q] && sqlite3_prepare_v3(j->db, q_sql[q], -1, SQLITE_PREPARE_PERSISTENT, &j->q[q],
                                       NULL) != SQLITE_OK)
        return NULL;
    sqlite3_reset(j->q[q]);
    sqlite3_clear_bindings(j->q[q]);
    return j->q[q];
}

static void done_q(sqlite3_stmt *st) { sqlite3_reset(st); }

/* Run a statement without parameters or rows (BEGIN, COMMIT, PRAGMA ...). */
static int run_q(sm_journal *j, int q)
{
    sqlite3_stmt *st = get_q(j, q);
    if (!st)
        return SQLITE_ERROR;
    int rc = sqlite3_step(st);
    done_q(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

sm_journal *sm_journal_open(const char *path, sr_err *err)
{
    sm_journal *j = calloc(1, sizeof *j);
    if (!j || !(j->path = sr_strdup(path))) {
        free(j);
        sr_err_set(err, SR_E_NOMEM, "journal %s: out of memory", path);
        return NULL;
    }
    int fd_mode_ok = access(path, F_OK) == 0;
    if (sqlite3_open_v2(path, &j->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
        sqlite3_busy_timeout(j->db, 10000) != SQLITE_OK ||
        sqlite3_exec(j->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        db_fail(j, err, "cannot open");
        sm_journal_close(j);
        return NULL;
    }
    if (!fd_mode_ok)
        chmod(path, 0600);   /* the journal names mailboxes: not for other users */
    const char *crash = getenv("SM_CRASH_AT_STEP");
    if (crash && *crash)
        j->crash_at = (unsigned)strtoul(crash, NULL, 10);
    crash = getenv("SM_CRASH_AFTER_ACTION");
    if (crash && *crash)
        j->crash_after_action = (unsigned)strtoul(crash, NULL, 10);
    return j;
}

void sm_journal_close(sm_journal *j)
{
    if (!j)
        return;
    for (int q = 0; q < Q__N; q++)
        sqlite3_finalize(j->q[q]);
    sqlite3_close(j->db);
    free(j->path);
    free(j);
}

sr_code sm_journal_checkpoint(sm_journal *j, sr_err *err)
{
    /* TRUNCATE: copy every frame back and empty the WAL file.  SQLITE_BUSY
     * (another worker is mid-transaction) is not an error: the next
     * checkpoint or the auto-checkpoint catches up. */
    int rc = sqlite3_wal_checkpoint_v2(j->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? SR_OK : db_fail(j, err, "checkpoint");
}

unsigned sm_journal_writes(const sm_journal *j) { return j->writes; }

static const struct sm_row *find_row(const sm_def *def, int state, int event)
{
    for (size_t i = 0; i < def->n_rows; i++)
        if (def->rows[i].state == state && def->rows[i].event == event)
            return &def->rows[i];
    return NULL;
}

static const char *state_name(const sm_def *def, int s)
{
    return s >= 0 && s < def->n_states ? def->state_names[s] : "?";
}

static const char *event_name(const sm_def *def, int e)
{
    return e >= 0 && e < def->n_events ? def->event_names[e] : "?";
}

/* Every state and event has a name: one left out of a designated initializer
 * is NULL, which the logs and the journal's messages would print as "(null)". */
static sr_code check_names(const sm_def *def, sr_err *err)
{
    if (!def->state_names || !def->event_names || !def->terminal)
        return sr_err_set(err, SR_E_INTERNAL, "%s table: no state names, event names or terminal set",
                          def->name);
    for (int s = 0; s < def->n_states; s++)
        if (!def->state_names[s] || !*def->state_names[s])
            return sr_err_set(err, SR_E_INTERNAL, "%s table: state %d has no name", def->name, s);
    for (int e = 0; e < def->n_events; e++)
        if (!def->event_names[e] || !*def->event_names[e])
            return sr_err_set(err, SR_E_INTERNAL, "%s table: event %d has no name", def->name, e);
    return SR_OK;
}

sr_code sm_def_check(const sm_def *def, sr_err *err)
{
    if (check_names(def, err) != SR_OK)
        return SR_E_INTERNAL;
    for (size_t i = 0; i < def->n_rows; i++) {
        const struct sm_row *r = &def->rows[i];
        if (r->state < 0 || r->state >= def->n_states || r->next < 0 ||
            r->next >= def->n_states || r->event < 0 || r->event >= def->n_events)
            return sr_err_set(err, SR_E_INTERNAL, "%s table row %zu: state or event out of range",
                              def->name, i);
        if (find_row(def, r->state, r->event) != r)
            return sr_err_set(err, SR_E_INTERNAL, "%s table row %zu: (%s, %s) appears twice",
                              def->name, i, state_name(def, r->state), event_name(def, r->event));
        if (!r->action && !def->terminal[r->next])
            return sr_err_set(err, SR_E_INTERNAL, "%s table row %zu: no action into non-terminal %s",
                              def->name, i, state_name(def, r->next));
    }
    for (int s = 0; s < def->n_states; s++) {
        int has = 0;
        for (size_t i = 0; i < def->n_rows && !has; i++)
            has = def->rows[i].state == s;
        if (!def->terminal[s] && !has)
            return sr_err_set(err, SR_E_INTERNAL, "%s table: non-terminal state %s has no row",
                              def->name, state_name(def, s));
    }
    return SR_OK;
}

static int load_obj(sm_journal *j, const char *object, obj_row *o, sr_err *err)
{
    sqlite3_stmt *st = get_q(j, Q_LOAD);
    if (!st) {
        db_fail(j, err, "read");
        return -1;
    }
    sqlite3_bind_text(st, 1, object, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st), found = 0;
    if (rc == SQLITE_ROW) {
        o->state = sqlite3_column_int(st, 0);
        o->from_state = sqlite3_column_int(st, 1);
        o->event = sqlite3_column_int(st, 2);
        o->pending = sqlite3_column_int(st, 3);
        o->exit_bits = (unsigned)sqlite3_column_int64(st, 4);
        found = 1;
    } else if (rc != SQLITE_DONE) {
        db_fail(j, err, "read");
        found = -1;
    }
    done_q(st);
    return found;
}

/* A durable commit: with synchronous=FULL a WAL commit ends with an
 * fdatasync of the WAL, which makes this commit and every earlier one (the WAL
 * is appended in order) survive a power cut.  Set outside a transaction. */
static sr_code set_sync(sm_journal *j, int full, sr_err *err)
{
    if (run_q(j, full ? Q_SYNC_FULL : Q_SYNC_NORMAL) != SQLITE_OK)
        return db_fail(j, err, "synchronous");
    return SR_OK;
}

/* Back to NORMAL after a durable commit; passes rc through. */
static sr_code end_sync(sm_journal *j, int durable, sr_code rc)
{
    if (durable && set_sync(j, 0, NULL) != SR_OK && rc == SR_OK)
        return SR_E_IO;
    return rc;
}

/* Update the object row and append one log line in one transaction;
 * durable: the commit is synced (a barrier, see sm_row.sync). */
static sr_code save_obj(sm_journal *j, const char *object, const obj_row *o, const char *phase,
                        int next, const char *detail, int durable, sr_err *err)
{
    static const int qs[] = { Q_SAVE_OBJ, Q_SAVE_LOG };
    if (durable && set_sync(j, 1, err) != SR_OK)
        return err ? err->code : SR_E_IO;
    if (run_q(j, Q_BEGIN) != SQLITE_OK)
        return end_sync(j, durable, db_fail(j, err, "begin"));
    for (size_t i = 0; i < 2; i++) {
        sqlite3_stmt *st = get_q(j, qs[i]);
        if (!st) {
            sr_code c = db_fail(j, err, "write");
            run_q(j, Q_ROLLBACK);
            return end_sync(j, durable, c);
        }
        int n = sqlite3_bind_parameter_count(st);
        for (int p = 1; p <= n; p++) {
            const char *name = sqlite3_bind_parameter_name(st, p);
            int idx = name ? atoi(name + 1) : p;
            switch (idx) {
            case 1: sqlite3_bind_text(st, p, object, -1, SQLITE_STATIC); break;
            case 2: sqlite3_bind_int(st, p, o->state); break;
            case 3: sqlite3_bind_int(st, p, o->from_state); break;
            case 4: sqlite3_bind_int(st, p, o->event); break;
            case 5: sqlite3_bind_int(st, p, o->pending); break;
            case 6: sqlite3_bind_int64(st, p, o->exit_bits); break;
            case 7: sqlite3_bind_text(st, p, phase, -1, SQLITE_STATIC); break;
            case 8: sqlite3_bind_int(st, p, next); break;
            case 9: sqlite3_bind_text(st, p, detail, -1, SQLITE_STATIC); break;
            default: break;
            }
        }
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            sr_code c = db_fail(j, err, "write");   /* before the reset clears the error */
            done_q(st);
            run_q(j, Q_ROLLBACK);
            return end_sync(j, durable, c);
        }
        done_q(st);
    }
    if (run_q(j, Q_COMMIT) != SQLITE_OK) {
        sr_code c = db_fail(j, err, "commit");
        run_q(j, Q_ROLLBACK);
        return end_sync(j, durable, c);
    }
    if (end_sync(j, durable, SR_OK) != SR_OK)
        return db_fail(j, err, "synchronous=NORMAL");
    count_write(j);
    return SR_OK;
}

/* Run one row's action: journal "begin" (unless resuming it), act, journal "end". */
static sr_code step_row(const sm_def *def, sm_journal *j, const char *object, void *ctx,
                        obj_row *o, const struct sm_row *row, int resuming, sr_err *err)
{
    if (!resuming) {
        o->from_state = o->state;
        o->state = row->next;
        o->pending = 1;
        if (save_obj(j, object, o, "begin", row->next, NULL, row->sync & SM_SYNC_BEFORE,
                     err) != SR_OK)
            return err ? err->code : SR_E_IO;
    }
    sr_log(SR_LOG_NOTICE, object, "%s -> %s%s", state_name(def, o->from_state),
           state_name(def, row->next), resuming ? " (resumed)" : "");
    sm_step step = { .j = j, .object = object, .durable = row->sync & SM_SYNC_BEFORE };
    sr_err_clear(&step.err);
    int ev = row->action ? row->action(&step, ctx) : 0;
    free(step.got);
    /* the window SM_CRASH_AT_STEP cannot reach: the side effect happened,
     * its "end" is not journaled yet (a power cut, a full disk) */
    if (row->action && ++j->actions == j->crash_after_action)
        _exit(SM_CRASH_EXIT);
    if (step.err.code != SR_OK)
        sr_log(SR_LOG_ERROR, object, "%s: %s", state_name(def, row->next), step.err.msg);
    o->event = ev;
    o->pending = 0;
    o->exit_bits |= step.exit_bits;
    /* a terminal state is durable: a finished mailbox is not taken up again */
    return save_obj(j, object, o, "end", row->next, step.err.code ? step.err.msg : NULL,
                    def->terminal[row->next] || (row->sync & SM_SYNC_AFTER), err);
}

/* Values read from the journal index the table's arrays: a damaged or foreign
 * journal must give a clear error, never an out-of-range read. */
static sr_code check_obj(const sm_def *def, sm_journal *j, const char *object, const obj_row *o,
                         sr_err *err)
{
    const char *bad = o->state < 0 || o->state >= def->n_states ? "state"
                    : o->from_state < 0 || o->from_state >= def->n_states ? "from_state"
                    : o->event < 0 || o->event >= def->n_events ? "event"
                    : o->pending != 0 && o->pending != 1 ? "pending" : NULL;
    if (!bad)
        return SR_OK;
    int v = !strcmp(bad, "state") ? o->state : !strcmp(bad, "from_state") ? o->from_state
          : !strcmp(bad, "event") ? o->event : o->pending;
    return sr_err_set(err, SR_E_PARSE, "journal %s: %s %s: %s %d is out of range "
                      "(damaged journal; move it aside to start this %s again)",
                      j->path, def->name, object, bad, v, def->name);
}

sr_code sm_run(const sm_def *def, sm_journal *j, const char *object, void *ctx,
               int *final_state, unsigned *exit_bits, sr_err *err)
{
    obj_row o = { .state = def->initial_state, .from_state = def->initial_state,
                  .event = def->start_event };
    int found = load_obj(j, object, &o, err);
    if (found < 0)
        return err ? err->code : SR_E_IO;
    if (found && check_obj(def, j, object, &o, err) != SR_OK)
        return err ? err->code : SR_E_PARSE;
    for (int steps = 0; ; steps++) {
        if (!o.pending && def->terminal[o.state])
            break;
        if (steps >= SM_MAX_STEPS)
            return sr_err_set(err, SR_E_INTERNAL, "%s %s: more than %d steps, stopped",
                              def->name, object, SM_MAX_STEPS);
        int from = o.pending ? o.from_state : o.state;
        const struct sm_row *row = find_row(def, from, o.event);
        if (!row)
            return sr_err_set(err, SR_E_INTERNAL, "%s %s: no transition from %s on %s",
                              def->name, object, state_name(def, from), event_name(def, o.event));
        if (o.pending && row->next != o.state)   /* the table changed under a journal */
            return sr_err_set(err, SR_E_INTERNAL, "%s %s: journal says %s -> %s, table says -> %s",
                              def->name, object, state_name(def, from), state_name(def, o.state),
                              state_name(def, row->next));
        if (step_row(def, j, object, ctx, &o, row, o.pending, err) != SR_OK)
            return err ? err->code : SR_E_IO;
    }
    if (final_state)
        *final_state = o.state;
    if (exit_bits)
        *exit_bits = o.exit_bits;
    return SR_OK;
}

int sm_state_of(sm_journal *j, const char *object, sr_err *err)
{
    obj_row o;
    int found = load_obj(j, object, &o, err);
    return found == 1 ? o.state : -1;
}

sr_code sm_foreach(sm_journal *j, int (*fn)(const char *, int, unsigned, void *), void *arg,
                   sr_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, "SELECT object, state, exit_bits FROM objects ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(j, err, "read");
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn((const char *)sqlite3_column_text(st, 0), sqlite3_column_int(st, 1),
               (unsigned)sqlite3_column_int64(st, 2), arg))
            break;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SR_OK : db_fail(j, err, "read");
}

static sm_info info_row(sqlite3_stmt *st)
{
    return (sm_info){
        .object = (const char *)sqlite3_column_text(st, 0),
        .state = sqlite3_column_int(st, 1),
        .exit_bits = (unsigned)sqlite3_column_int64(st, 2),
        .last_from = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3),
        .last_to = sqlite3_column_type(st, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 4),
        .last_time = (const char *)sqlite3_column_text(st, 5),
        .last_error = (const char *)sqlite3_column_text(st, 6),
        .attempts = (unsigned)sqlite3_column_int(st, 7),
        .started = (const char *)sqlite3_column_text(st, 8),
    };
}

sr_code sm_foreach_info(sm_journal *j, const sm_def *def, int (*fn)(const sm_info *, void *),
                        void *arg, sr_err *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(j->db, INFO_SELECT " ORDER BY o.id", -1, &st, NULL) != SQLITE_OK)
        return db_fail(j, err, "read");
    sqlite3_bind_int(st, 1, def->initial_state);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sm_info in = info_row(st);
        if (fn(&in, arg))
            break;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SR_OK : db_fail(j, err, "read");
}

sr_code sm_info_of(sm_journal *j, const sm_def *def, const char *object,
                   void (*fn)(const sm_info *info, void *arg), void *arg, sr_err *err)
{
    sqlite3_stmt *st = get_q(j, Q_INFO);
    if (!st)
        return db_fail(j, err, "read");
    sqlite3_bind_int(st, 1, def->initial_state);
    sqlite3_bind_text(st, 2, object, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        sm_info in = info_row(st);
        fn(&in, arg);
    }
    done_q(st);
    if (rc == SQLITE_ROW)
        return SR_OK;
    return rc == SQLITE_DONE ? sr_err_set(err, SR_E_NOTFOUND, "%s: not in the journal", object)
                             : db_fail(j, err, "read");
}

void sm_add_exit_bits(sm_step *step, unsigned bits) { step->exit_bits |= bits; }
sr_err *sm_err(sm_step *step) { return &step->err; }

sr_code sm_put(sm_step *step, const char *key, const char *value)
{
    sm_journal *j = step->j;
    if (step->durable && set_sync(j, 1, &step->err) != SR_OK)
        return step->err.code;
    sqlite3_stmt *st = get_q(j, Q_PUT);
    if (!st)
        return end_sync(j, step->durable, db_fail(j, &step->err, "write"));
    sqlite3_bind_text(st, 1, step->object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sr_code c = rc == SQLITE_DONE ? SR_OK : db_fail(j, &step->err, "write");
    done_q(st);
    if (c != SR_OK)
        return end_sync(j, step->durable, c);
    if (end_sync(j, step->durable, SR_OK) != SR_OK)
        return db_fail(j, &step->err, "synchronous=NORMAL");
    count_write(j);
    return SR_OK;
}

const char *sm_get(sm_step *step, const char *key)
{
    free(step->got);
    step->got = NULL;
    sqlite3_stmt *st = get_q(step->j, Q_GET);
    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, step->object, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        step->got = sr_strdup((const char *)sqlite3_column_text(st, 0));
    done_q(st);
    return step->got;
}
