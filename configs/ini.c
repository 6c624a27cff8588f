/* ini.c — the line-oriented reader and the diagnostics sink (see ini.h). */
#include "configs/ini.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ---- diagnostics ------------------------------------------------------------- */

void ini_diag_init(ini_diag *d, const char *path, sr_err *err)
{
    memset(d, 0, sizeof *d);
    d->path = path;
    d->err = err;
    sr_err_clear(err);
}

static void ini_vreport(ini_diag *d, sr_log_level lvl, int line, const char *fmt, va_list ap)
{
    char who[512], text[900];
    if (line > 0)
        snprintf(who, sizeof who, "%s:%d", d->path, line);
    else
        snprintf(who, sizeof who, "%s", d->path);
    vsnprintf(text, sizeof text, fmt, ap);
    sr_log(lvl, who, "%s", text);
    if (lvl == SR_LOG_ERROR && !d->have_first) {
        d->have_first = 1;
        /* the code is set by the caller right after */
        sr_err_set(d->err, SR_E_CONFIG, "%s: %s", who, text);
    }
}

void ini_error(ini_diag *d, int line, sr_code code, const char *fmt, ...)
{
    int first = !d->have_first;
    va_list ap;
    va_start(ap, fmt);
    ini_vreport(d, SR_LOG_ERROR, line, fmt, ap);
    va_end(ap);
    if (first && d->err)
        d->err->code = code;
    d->counts.errors++;
    if (code == SR_E_CMDLINE)
        d->counts.cmdline_errors++;
    else
        d->counts.config_errors++;
}

void ini_warn(ini_diag *d, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ini_vreport(d, SR_LOG_WARN, line, fmt, ap);
    va_end(ap);
    d->counts.warnings++;
}

void ini_note(ini_diag *d, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ini_vreport(d, SR_LOG_NOTICE, line, fmt, ap);
    va_end(ap);
}

/* ---- small string helpers ------------------------------------------------- */

char *ini_xstrdup(const char *s)
{
    char *r = sr_strdup(s ? s : "");
    if (!r) {
        fputs("switchresmb: out of memory while reading configuration\n", stderr);
        abort();
    }
    return r;
}

static char *dup_trimmed(const char *b, const char *e)
{
    while (b < e && (*b == ' ' || *b == '\t'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    char *r = malloc((size_t)(e - b) + 1);
    if (!r)
        abort(); /* config loading happens at startup; nothing to salvage */
    memcpy(r, b, (size_t)(e - b));
    r[e - b] = '\0';
    return r;
}

char **ini_split_words(const char *s)
{
    size_t cap = 4, n = 0;
    char **v = calloc(cap, sizeof *v);
    if (!v)
        abort();
    const char *p = s ? s : "";
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *w = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (n + 2 > cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof *v);
            if (!nv)
                abort();
            v = nv;
        }
        v[n++] = dup_trimmed(w, p);
    }
    v[n] = NULL;
    return v;
}

/* ---- reading ---------------------------------------------------------------- */

static void doc_push(ini_doc *doc, size_t *cap, ini_item it)
{
    if (doc->n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        ini_item *nv = realloc(doc->items, *cap * sizeof *nv);
        if (!nv)
            abort();
        doc->items = nv;
    }
    doc->items[doc->n++] = it;
}

static char *dup_range(const char *b, const char *e)
{
    char *r = malloc((size_t)(e - b) + 1);
    if (!r)
        abort(); /* config loading happens at startup; nothing to salvage */
    memcpy(r, b, (size_t)(e - b));
    r[e - b] = '\0';
    return r;
}

/* One physical line, classified by the shared reader (ini_lines.c). */
static void read_line(ini_doc *doc, size_t *cap, const ini_line *ln, ini_diag *d, int *in_section)
{
    ini_parts p;
    ini_classify(ln, &p);
    ini_item it = { .line = ln->lineno };
    switch (p.kind) {
    case IL_BLANK:
    case IL_COMMENT:
        return;
    case IL_BAD_SECTION:
        ini_error(d, ln->lineno, SR_E_CONFIG, "malformed section header (expected [Name])");
        return;
    case IL_SECTION:
        it.kind = INI_SECTION;
        it.text = dup_range(p.nb, p.ne);
        *in_section = 1;
        break;
    case IL_KV:
    case IL_BARE:
        if (!*in_section) {
            ini_error(d, ln->lineno, SR_E_CONFIG, "text before the first [Section] header");
            return;
        }
        it.kind = INI_LINE;
        it.text = dup_range(p.tb, p.te);
        if (p.kind == IL_KV) {
            const char *vb = p.vb, *ve = p.ve;
            ini_unquote(&vb, &ve);
            it.quoted = vb != p.vb;
            it.key = dup_range(p.nb, p.ne);
            it.value = dup_range(vb, ve);
        }
        break;
    }
    doc_push(doc, cap, it);
}

int ini_doc_read(ini_doc *doc, const char *path, ini_diag *d)
{
    memset(doc, 0, sizeof *doc);
    doc->path = path;
    ini_text t;
    sr_err terr;
    int bad_line = 0;
    if (ini_text_read(&t, path, &bad_line, &terr) != SR_OK) {
        ini_error(d, bad_line, SR_E_CONFIG, "%s", terr.msg);
        return -1;
    }
    doc->enc = t.enc;
    size_t cap = 0;
    int in_section = 0;
    ini_line ln = { 0 };
    while (ini_next_line(&t, &ln))
        read_line(doc, &cap, &ln, d, &in_section);
    doc->last_line = ln.lineno;
    ini_text_free(&t);
    return 0;
}

void ini_doc_free(ini_doc *doc)
{
    if (!doc)
        return;
    for (size_t i = 0; i < doc->n; i++) {
        ini_item *it = &doc->items[i];
        /* lines may hold a password: wipe before freeing */
        sr_secret_free(it->text);
        sr_secret_free(it->key);
        sr_secret_free(it->value);
    }
    free(doc->items);
    memset(doc, 0, sizeof *doc);
}
