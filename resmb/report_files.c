/* report_files.c — the run's reports beside the journal, for programs and
 * for people (run_int.h): <stem>.report.json, <stem>.report.csv and one
 * self-contained <stem>.report.html (no network fetch: styles and script
 * inline, a Content-Security-Policy that forbids loading anything).
 *
 * Display names and addresses come from Active Directory, so every value is
 * hostile: JSON via jansson (with '<', '>' and '&' written as \u escapes so
 * the data block cannot end the <script> element it sits in), the HTML table
 * built by the page's script with textContent only, CSV cells that a
 * spreadsheet would run as a formula (= + - @ at the start) prefixed with '. */
#include "resmb/run_int.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

void resmb_report_record(resmb_report *rep, const resmb_mb *m, int state, unsigned bits,
                         const char *why)
{
    if (rep->rows_failed)
        return;
    if (!rep->rows && !(rep->rows = tmpfile())) {
        rep->rows_failed = 1;
        sr_log(SR_LOG_WARN, NULL, "report files: no temporary file for the rows (%s); only the "
               "text report is written", strerror(errno));
        return;
    }
    const char *target = resmb_mb_target(m) ? resmb_mb_target(m) : m->existing.target_smtp;
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
                          "key", or_empty(m->key), "section", or_empty(m->section),
                          "line", m->line, "smtp", or_empty(m->smtp),
                          "display_name", or_empty(m->display_name),
                          "legacy_dn", or_empty(m->legacy_dn), "target", or_empty(target),
                          "state", resmb_state_name(state),
                          "state_before", m->state_before < 0 ? "new"
                                                              : resmb_state_name(m->state_before),
                          "bits", (int)bits, "reason", or_empty(why));
    /* compact JSON escapes control characters: one row per line */
    if (!o || json_dumpf(o, rep->rows, JSON_COMPACT) || fputc('\n', rep->rows) == EOF) {
        rep->rows_failed = 1;
        sr_log(SR_LOG_WARN, NULL, "report files: a row could not be kept (%s); only the text "
               "report is written", strerror(errno));
    }
    json_decref(o);
}

/* Bits of the SwitchResMB bitmask with their meaning (report.c's words). */
static json_t *bits_json(unsigned code)
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
    json_t *a = json_array();
    for (size_t i = 0; a && i < sizeof names / sizeof names[0]; i++)
        if (code & names[i].bit)
            json_array_append_new(a, json_pack("{s:i, s:s}", "bit", (int)names[i].bit,
                                               "meaning", names[i].what));
    return a;
}

/* Seconds per phase, in the phases' order (an object keeps insertion order). */
static json_t *phases_json(const resmb_report *rep)
{
    json_t *o = json_object();
    for (int k = 0; o && k < RESMB_PH__N; k++)
        json_object_set_new(o, resmb_phase_name((resmb_phase)k),
                            json_real((double)rep->phase_us[k] / 1e6));
    return o;
}

/* Everything but the mailboxes, which the writer streams after it. */
static json_t *report_json(const resmb_report *rep, const resmb_run *run, unsigned code)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    double wall = (double)(resmb_now_us() - rep->start_us) / 1e6;
    json_int_t w_ews = (json_int_t)rep->worker_ews_requests;
    json_int_t w_ad = (json_int_t)rep->worker_autodiscover_requests;
    return json_pack("{s:s, s:s, s:s, s:i, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:o},"
                     " s:{s:I, s:i, s:i}, s:{s:I, s:I}, s:{s:I, s:I, s:I}}",
                     "ini", run->cfg->path, "journal", run->journal_path, "finished", when,
                     "exit_code", (int)code, "exit_bits", bits_json(code), "totals",
                     "mailboxes", (int)rep->n, "processed_now", (int)rep->done_now,
                     "done_before", (int)rep->done_before, "failed", (int)rep->failed,
                     "interrupted", (int)rep->pending, "wall_seconds", wall,
                     "jobs", run->o->jobs, "phase_seconds", phases_json(rep),
                     "spent_by_batches",
                     "ldap_searches", (json_int_t)rep->ldap_searches,
                     "ews_requests", (int)rep->ews_requests,
                     "autodiscover_requests", (int)rep->autodiscover_requests,
                     "spent_by_workers", "ews_requests", w_ews, "autodiscover_requests", w_ad,
                     "spent", "ldap_searches", (json_int_t)rep->ldap_searches,
                     "ews_requests", (json_int_t)rep->ews_requests + w_ews,
                     "autodiscover_requests", (json_int_t)rep->autodiscover_requests + w_ad);
}

/* ---- CSV ------------------------------------------------------------------------ */

static void csv_cell(FILE *f, const char *v, int last)
{
    fputc('"', f);
    if (*v && strchr("=+-@\t\r", *v))
        fputc('\'', f);   /* a spreadsheet must show it, not run it */
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputs(last ? "\"\r\n" : "\",", f);
}

static const char *const csv_cols[] = { "key", "section", "line", "smtp", "display_name",
                                        "legacy_dn", "target", "state", "state_before", "bits",
                                        "reason", "started", "finished" };
#define CSV_NC (sizeof csv_cols / sizeof csv_cols[0])

static void csv_header(FILE *f)
{
    for (size_t c = 0; c < CSV_NC; c++)
        csv_cell(f, csv_cols[c], c + 1 == CSV_NC);
}

static void csv_row(FILE *f, const json_t *r)
{
    for (size_t c = 0; c < CSV_NC; c++) {
        json_t *v = json_object_get(r, csv_cols[c]);
        char num[32];
        const char *s = json_is_integer(v) ? (snprintf(num, sizeof num, "%lld",
                                                       (long long)json_integer_value(v)), num)
                                           : or_empty(json_string_value(v));
        csv_cell(f, s, c + 1 == CSV_NC);
    }
}

/* ---- HTML ------------------------------------------------------------------------ */

/* JSON safe inside <script type="application/json">: no '<', '>' or '&' raw
 * (ASCII-only JSON, so every byte is a whole character). */
static void put_html_json(FILE *f, const char *j)
{
    for (; *j; j++)
        if (strchr("<>&", *j))
            fprintf(f, "\\u%04x", (unsigned)*j);
        else
            fputc(*j, f);
}

static const char html_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
    "<title>switchresmb report</title>\n<style>\n"
    "body{font:14px sans-serif;margin:1.5em}table{border-collapse:collapse;width:100%}\n"
    "th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\n"
    "th{background:#eee;cursor:pointer}tr.FAILED td{background:#fde8e8}\n"
    "tr.DONE td{background:#eef8ee}.bar button{margin-right:.5em}\n"
    "#summary dd{margin:0 0 .3em 1em}\n</style></head>\n<body>\n"
    "<h1>switchresmb report</h1>\n"
    "<section id=\"summary\"><dl id=\"totals\"></dl><h2>Exit code <span id=\"code\"></span></h2>"
    "<ul id=\"bits\"></ul>\n<h2>Time per phase</h2>"
    "<table id=\"phases\"><thead><tr><th>phase</th><th>seconds</th><th>share</th></tr></thead>"
    "<tbody></tbody></table>\n<p id=\"phase-note\"></p><p id=\"spent\"></p></section>\n"
    "<h2>Mailboxes</h2>\n<div class=\"bar\">Show: "
    "<button id=\"f-all\">all</button><button id=\"f-failed\">failed</button>"
    "<button id=\"f-done\">done</button> <input id=\"q\" placeholder=\"filter text\"> "
    "<span id=\"shown\"></span></div>\n"
    "<table id=\"mb\"><thead><tr><th data-k=\"key\">mailbox</th><th data-k=\"display_name\">"
    "name</th><th data-k=\"target\">target</th><th data-k=\"state\">state</th>"
    "<th data-k=\"bits\">bits</th><th data-k=\"secs\">seconds</th>"
    "<th data-k=\"reason\">reason</th></tr></thead>"
    "<tbody></tbody></table>\n<script id=\"data\" type=\"application/json\">";

/* The page's script: everything from data through textContent, never markup. */
static const char html_tail[] =
    "</script>\n<script>\n\"use strict\";\n"
    "window.onerror = function (m) { document.body.dataset.error = String(m); };\n"
    "const d = JSON.parse(document.getElementById('data').textContent);\n"
    "const el = (t, x) => { const e = document.createElement(t); e.textContent = x; return e; };\n"
    "const tot = document.getElementById('totals');\n"
    "for (const [k, v] of Object.entries(d.totals)) { if (typeof v === 'object') continue;\n"
    "  tot.append(el('dt', k.replace(/_/g, ' ')), el('dd', String(v))); }\n"
    "const ph = d.totals.phase_seconds, pb = document.querySelector('#phases tbody');\n"
    "const busy = Object.values(ph).reduce((s, v) => s + v, 0);\n"
    "for (const [k, v] of Object.entries(ph)) { const tr = document.createElement('tr');\n"
    "  tr.append(el('td', k.replace(/_/g, ' ')), el('td', v.toFixed(3)),\n"
    "            el('td', busy > 0 ? (100 * v / busy).toFixed(1) + ' %' : '-')); pb.append(tr); }\n"
    "document.getElementById('phase-note').textContent = 'Summed over mailboxes (workers run '"
    " + 'side by side) plus the batched reads: ' + busy.toFixed(3) + ' s in a run of '"
    " + d.totals.wall_seconds.toFixed(3) + ' s with ' + d.totals.jobs + ' worker(s).';\n"
    "const sp = d.spent, sb = d.spent_by_batches, sw = d.spent_by_workers;\n"
    "document.getElementById('spent').textContent = 'Requests: ' + sp.ews_requests + ' EWS ('"
    " + sb.ews_requests + ' by the batched reads, ' + sw.ews_requests + ' by the workers), '"
    " + sp.autodiscover_requests + ' of them Autodiscover, ' + sp.ldap_searches"
    " + ' LDAP searches; the engine\\'s own requests are in its logs.';\n"
    "document.getElementById('code').textContent = String(d.exit_code);\n"
    "const bl = document.getElementById('bits');\n"
    "if (!d.exit_bits.length) bl.append(el('li', '0: processing successfully completed'));\n"
    "for (const b of d.exit_bits) bl.append(el('li', b.bit + ': ' + b.meaning));\n"
    "const rank = s => s === 'FAILED' ? 0 : s === 'DONE' ? 2 : 1;\n"
    "for (const r of d.mailboxes) r.secs = r.started && r.finished ?\n"
    "  ((Date.parse(r.finished) - Date.parse(r.started)) / 1000).toFixed(1) : '';\n"
    "let rows = d.mailboxes.slice().sort((a, b) => rank(a.state) - rank(b.state));\n"
    "let filter = (location.hash.match(/filter=(\\w+)/) || [])[1] || 'all';\n"
    "let sortKey = null, sortDir = 1;\n"
    "const body = document.querySelector('#mb tbody');\n"
    "function show() {\n"
    "  const q = document.getElementById('q').value.toLowerCase();\n"
    "  body.replaceChildren();\n"
    "  let n = 0;\n"
    "  for (const r of rows) {\n"
    "    if (filter === 'failed' && r.state !== 'FAILED') continue;\n"
    "    if (filter === 'done' && r.state !== 'DONE') continue;\n"
    "    if (q && !JSON.stringify(r).toLowerCase().includes(q)) continue;\n"
    "    const tr = document.createElement('tr');\n"
    "    tr.className = r.state;\n"
    "    for (const k of ['key', 'display_name', 'target', 'state', 'bits', 'secs', 'reason'])\n"
    "      tr.append(el('td', String(r[k])));\n"
    "    body.append(tr); n++;\n"
    "  }\n"
    "  document.getElementById('shown').textContent = n + ' of ' + rows.length + ' shown';\n"
    "  document.body.dataset.filter = filter;\n"
    "}\n"
    "for (const f of ['all', 'failed', 'done'])\n"
    "  document.getElementById('f-' + f).onclick = () => { filter = f; show(); };\n"
    "document.getElementById('q').oninput = show;\n"
    "for (const th of document.querySelectorAll('th[data-k]')) th.onclick = () => {\n"
    "  const k = th.dataset.k; sortDir = sortKey === k ? -sortDir : 1; sortKey = k;\n"
    "  rows.sort((a, b) => (a[k] > b[k] ? 1 : a[k] < b[k] ? -1 : 0) * sortDir); show(); };\n"
    "show();\n"
    "document.body.dataset.ready = '1';\n"
    "</script>\n</body></html>\n";

/* ---- writing ---------------------------------------------------------------------- */

/* One report file beside the journal: <stem>.report.<ext>, a view (sr_view). */
typedef struct rfile {
    sr_view v;
    FILE *f;                 /* v.f, NULL when it could not be made */
} rfile;

static void rfile_open(rfile *r, const resmb_run *run, const char *ext)
{
    const char *txt = strstr(run->report_path, ".txt");
    char *path = sr_asprintf("%.*s.%s", txt ? (int)(txt - run->report_path)
                                           : (int)strlen(run->report_path),
                             run->report_path, ext);
    sr_err e;
    r->f = NULL;
    if (!path)
        sr_log(SR_LOG_WARN, NULL, "report file .%s: out of memory", ext);
    else if (sr_view_open(&r->v, path, 0600, &e) != SR_OK)
        sr_log(SR_LOG_WARN, NULL, "report file: %s", e.msg);
    else
        r->f = r->v.f;
    free(path);
}

static void rfile_close(rfile *r)
{
    sr_err e;
    if (r->f && sr_view_commit(&r->v, &e) != SR_OK)
        sr_log(SR_LOG_WARN, NULL, "report file: %s", e.msg);
}

/* The document without its mailboxes, as text, with the closing '}' cut off
 * so the writer can append the mailbox array; NULL on OOM. */
static char *open_doc(const json_t *doc, size_t flags)
{
    char *s = json_dumps(doc, flags);
    char *end = s ? strrchr(s, '}') : NULL;
    if (end)
        *end = '\0';
    return s;
}

typedef struct writers {
    rfile json, csv, html;
    unsigned long n;
} writers;

/* When the mailbox last set off and when its last step ended. */
static void set_timing(const sm_info *in, void *arg)
{
    json_t *row = arg;
    if (in->started && in->last_time) {
        json_object_set_new(row, "started", json_string(in->started));
        json_object_set_new(row, "finished", json_string(in->last_time));
    }
}

static void write_row(writers *w, json_t *row)
{
    char *pretty = json_dumps(row, JSON_COMPACT);
    char *ascii = json_dumps(row, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (w->json.f && pretty)
        fprintf(w->json.f, "%s\n  %s", w->n ? "," : "", pretty);
    if (w->html.f && ascii) {
        if (w->n)
            fputc(',', w->html.f);
        put_html_json(w->html.f, ascii);
    }
    if (w->csv.f)
        csv_row(w->csv.f, row);
    w->n++;
    free(pretty);
    free(ascii);
}

/* Every kept row, in list order, with its timings from the journal (the run
 * is over: no worker holds it), into the three files. */
static void write_rows(writers *w, resmb_report *rep, const resmb_run *run)
{
    if (!rep->rows || rep->rows_failed || fflush(rep->rows) || fseek(rep->rows, 0, SEEK_SET))
        return;
    sr_err e;
    sm_journal *j = sm_journal_open(run->journal_path, &e);
    if (!j)
        sr_log(SR_LOG_WARN, run->journal_path, "report files: no timings: %s", e.msg);
    char *line = NULL;
    size_t cap = 0;
    int warned = 0;
    while (getline(&line, &cap, rep->rows) > 0) {
        json_t *row = json_loads(line, 0, NULL);
        if (!row)
            continue;
        const char *key = json_string_value(json_object_get(row, "key"));
        if (j && key && sm_info_of(j, run->def, key, set_timing, row, &e) != SR_OK &&
            e.code != SR_E_NOTFOUND && !warned++)
            sr_log(SR_LOG_WARN, run->journal_path, "report files: no timings: %s", e.msg);
        write_row(w, row);
        json_decref(row);
    }
    free(line);
    sm_journal_close(j);
}

void resmb_report_write_files(resmb_report *rep, const resmb_run *run, unsigned code)
{
    json_t *doc = report_json(rep, run, code);
    char *head = doc ? open_doc(doc, JSON_INDENT(1)) : NULL;
    char *head_ascii = doc ? open_doc(doc, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(doc);
    if (!head || !head_ascii) {
        sr_log(SR_LOG_WARN, NULL, "report files: out of memory; only the text report written");
        free(head);
        free(head_ascii);
        return;
    }
    writers w = { 0 };
    rfile_open(&w.json, run, "json");
    rfile_open(&w.csv, run, "csv");
    rfile_open(&w.html, run, "html");
    if (w.json.f)
        fprintf(w.json.f, "%s,\n \"mailboxes\": [", head);
    if (w.csv.f)
        csv_header(w.csv.f);
    if (w.html.f) {
        fputs(html_head, w.html.f);
        put_html_json(w.html.f, head_ascii);
        fputs(",\"mailboxes\":[", w.html.f);
    }
    write_rows(&w, rep, run);
    if (w.json.f)
        fputs(w.n ? "\n ]\n}\n" : "]\n}\n", w.json.f);
    if (w.html.f) {
        fputs("]}", w.html.f);
        fputs(html_tail, w.html.f);
    }
    rfile_close(&w.json);
    rfile_close(&w.csv);
    rfile_close(&w.html);
    free(head);
    free(head_ascii);
}

void resmb_report_release(resmb_report *rep)
{
    if (rep->rows)
        fclose(rep->rows);
    rep->rows = NULL;
}
