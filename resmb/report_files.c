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
    if (!rep->rows && !(rep->rows = json_array()))
        return;
    const char *target = m->target_given ? m->target_given
                         : m->target_smtp ? m->target_smtp : m->existing.target_smtp;
    json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s}",
                          "key", or_empty(m->key), "section", or_empty(m->section),
                          "line", m->line, "smtp", or_empty(m->smtp),
                          "display_name", or_empty(m->display_name),
                          "legacy_dn", or_empty(m->legacy_dn), "target", or_empty(target),
                          "state", resmb_state_name(state),
                          "state_before", m->state_before < 0 ? "new"
                                                              : resmb_state_name(m->state_before),
                          "bits", (int)bits, "reason", or_empty(why));
    if (o)
        json_array_append_new(rep->rows, o);
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

static json_t *report_json(resmb_report *rep, const resmb_run *run, unsigned code)
{
    if (!rep->rows && !(rep->rows = json_array()))
        return NULL;
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
    double wall = (double)(resmb_now_us() - rep->start_us) / 1e6;
    json_int_t w_ews = (json_int_t)rep->worker_ews_requests;
    json_int_t w_ad = (json_int_t)rep->worker_autodiscover_requests;
    return json_pack("{s:s, s:s, s:s, s:i, s:o, s:{s:i, s:i, s:i, s:i, s:i, s:f, s:i, s:o},"
                     " s:{s:I, s:i, s:i}, s:{s:I, s:I}, s:{s:I, s:I, s:I}, s:O}",
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
                     "autodiscover_requests", (json_int_t)rep->autodiscover_requests + w_ad,
                     "mailboxes", rep->rows);
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

static char *render_csv(const json_t *rows)
{
    static const char *const cols[] = { "key", "section", "line", "smtp", "display_name",
                                        "legacy_dn", "target", "state", "state_before", "bits",
                                        "reason", "started", "finished" };
    const size_t nc = sizeof cols / sizeof cols[0];
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    for (size_t c = 0; c < nc; c++)
        csv_cell(f, cols[c], c + 1 == nc);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        for (size_t c = 0; c < nc; c++) {
            json_t *v = json_object_get(r, cols[c]);
            char num[32];
            const char *s = json_is_integer(v) ? (snprintf(num, sizeof num, "%lld",
                                                           (long long)json_integer_value(v)), num)
                                               : or_empty(json_string_value(v));
            csv_cell(f, s, c + 1 == nc);
        }
    }
    fclose(f);
    return buf;
}

/* ---- HTML ------------------------------------------------------------------------ */

/* JSON safe inside <script type="application/json">: no '<', '>' or '&' raw. */
static char *json_for_html(const json_t *doc)
{
    char *j = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!j)
        return NULL;
    size_t n = 0;
    for (const char *p = j; *p; p++)
        n += strchr("<>&", *p) ? 6 : 1;
    char *out = malloc(n + 1), *o = out;
    for (const char *p = j; out && *p; p++)
        o += strchr("<>&", *p) ? sprintf(o, "\\u%04x", (unsigned)*p) : (*o = *p, 1);
    if (out)
        *o = '\0';
    free(j);
    return out;
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

static char *render_html(const json_t *doc)
{
    char *data = json_for_html(doc);
    if (!data)
        return NULL;
    char *out = sr_asprintf("%s%s%s", html_head, data, html_tail);
    free(data);
    return out;
}

/* ---- writing ---------------------------------------------------------------------- */

static void write_beside(const resmb_run *run, const char *ext, const char *text)
{
    if (!text)
        return;
    const char *txt = strstr(run->report_path, ".txt");
    char *path = sr_asprintf("%.*s.%s", txt ? (int)(txt - run->report_path)
                                            : (int)strlen(run->report_path),
                             run->report_path, ext);
    sr_err e;
    /* views of the journal like the report: not synced (sr_write_file_view) */
    if (path && sr_write_file_view(path, text, strlen(text), 0600, &e) != SR_OK)
        sr_log(SR_LOG_WARN, NULL, "report file: %s", e.msg);
    free(path);
}

/* Timings from the journal: when each mailbox last set off and when its
 * last step ended (the run is over: no worker holds the journal). */
typedef struct timing_ctx {
    json_t *by_key;          /* key -> row (borrowed) */
} timing_ctx;

static int add_timing(const sm_info *in, void *arg)
{
    timing_ctx *t = arg;
    json_t *row = json_object_get(t->by_key, in->object);
    if (row && in->started && in->last_time) {
        json_object_set_new(row, "started", json_string(in->started));
        json_object_set_new(row, "finished", json_string(in->last_time));
    }
    return 0;
}

static void add_timings(resmb_report *rep, const resmb_run *run)
{
    timing_ctx t = { .by_key = json_object() };
    size_t i;
    json_t *r;
    json_array_foreach(rep->rows, i, r)
        json_object_set(t.by_key, json_string_value(json_object_get(r, "key")), r);
    sr_err e;
    sm_journal *j = t.by_key ? sm_journal_open(run->journal_path, &e) : NULL;
    if (!j || sm_foreach_info(j, run->def, add_timing, &t, &e) != SR_OK)
        sr_log(SR_LOG_WARN, run->journal_path, "report files: no timings: %s", e.msg);
    sm_journal_close(j);
    json_decref(t.by_key);
}

void resmb_report_write_files(resmb_report *rep, const resmb_run *run, unsigned code)
{
    if (rep->rows)
        add_timings(rep, run);
    json_t *doc = report_json(rep, run, code);
    if (!doc) {
        sr_log(SR_LOG_WARN, NULL, "report files: out of memory; only the text report written");
        return;
    }
    char *js = json_dumps(doc, JSON_INDENT(1));
    char *csv = render_csv(json_object_get(doc, "mailboxes"));
    char *html = render_html(doc);
    write_beside(run, "json", js);
    write_beside(run, "csv", csv);
    write_beside(run, "html", html);
    free(js);
    free(csv);
    free(html);
    json_decref(doc);
}

void resmb_report_release(resmb_report *rep)
{
    json_decref(rep->rows);
    rep->rows = NULL;
}
