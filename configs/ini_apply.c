/* ini_apply.c — fill a config struct from an ini_doc using section/key
 * tables (ini.h), reporting every problem with file:line. */
#include "configs/ini.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECTIONS 16
#define MAX_KEYS 64

#define FIELD(base, off, type) ((type *)((char *)(base) + (off)))

/* "AddBoxes, CONTAB, ..." for messages listing what a parameter accepts. */
static void feature_list(cfg_feature_set allowed, int allow_all, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int f = 0; f < CFG_F__MAX; f++) {
        if (!(allowed & CFG_FSET(f)))
            continue;
        int w = snprintf(buf + used, cap - used, "%s%s", used ? " " : "", cfg_feature_name(f));
        if (w < 0 || (size_t)w >= cap - used)
            return;
        used += (size_t)w;
    }
    if (allow_all)
        snprintf(buf + used, cap - used, " All");
}

static int parse_features(const key_spec *k, const char *sec, const ini_item *it, void *base,
                          ini_diag *d)
{
    char **w = ini_split_words(it->value);
    cfg_feature_set set = 0;
    int ok = 1;
    for (size_t i = 0; w[i]; i++) {
        int f = cfg_feature_parse(w[i]);
        if (k->allow_all && sr_streq_ci(w[i], "All")) {
            set |= k->allowed;
            continue;
        }
        if (f < 0 || !(k->allowed & CFG_FSET(f))) {
            char list[600];
            feature_list(k->allowed, k->allow_all, list, sizeof list);
            ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: %s '%s' (allowed: %s)", sec, k->name,
                      f < 0 ? "unknown feature" : "not allowed here:", w[i], list);
            ok = 0;
            continue;
        }
        set |= CFG_FSET(f);
    }
    cfg_argv_free(w);
    *FIELD(base, k->off, cfg_feature_set) = set;
    return ok;
}

static int parse_int(const key_spec *k, const char *sec, const ini_item *it, void *base,
                     ini_diag *d)
{
    const char *v = it->value;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < k->min || n > k->max) {
        ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: expected a whole number from %ld to %ld, got '%s'",
                  sec, k->name, k->min, k->max, v);
        return 0;
    }
    *FIELD(base, k->off, int) = (int)n;
    return 1;
}

static int parse_enum(const key_spec *k, const char *sec, const ini_item *it, void *base,
                      ini_diag *d)
{
    for (int i = 0; k->names[i]; i++) {
        if (sr_streq_ci(k->names[i], it->value)) {
            *FIELD(base, k->off, int) = (int)k->min + i;
            return 1;
        }
    }
    char list[300] = "";
    size_t used = 0;
    for (int i = 0; k->names[i] && used < sizeof list; i++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                 k->names[i]);
    if (!*it->value)
        ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: must not be empty (expected one of %s)", sec,
                  k->name, list);
    else
        ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: expected one of %s, got '%s'", sec, k->name,
                  list, it->value);
    return 0;
}

static int is_url(const char *v)
{
    size_t skip = strncasecmp(v, "https://", 8) == 0 ? 8 : strncasecmp(v, "http://", 7) == 0 ? 7 : 0;
    return skip && v[skip] && v[skip] != '/' && !strpbrk(v, " \t");
}

/* Store it->value into base according to k.  Returns 1 when stored. */
static int parse_value(const key_spec *k, const char *sec, const ini_item *it, void *base,
                       ini_diag *d)
{
    const char *v = it->value;
    switch (k->type) {
    case KT_STR_NE:
    case KT_SECRET:
        if (!*v) {
            ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: must not be empty", sec, k->name);
            return 0;
        }
        /* fall through */
    case KT_STR:
        *FIELD(base, k->off, char *) = ini_xstrdup(v);
        return 1;
    case KT_URL:
        if (!is_url(v)) {
            ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: expected an http:// or https:// URL, got '%s'",
                      sec, k->name, v);
            return 0;
        }
        *FIELD(base, k->off, char *) = ini_xstrdup(v);
        return 1;
    case KT_FLAG:
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
            ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: expected 0 or 1, got %s", sec, k->name,
                      *v ? v : "an empty value");
            return 0;
        }
        *FIELD(base, k->off, int) = v[0] - '0';
        return 1;
    case KT_INT:
        return parse_int(k, sec, it, base, d);
    case KT_ENUM:
        return parse_enum(k, sec, it, base, d);
    case KT_WORDS: {
        char ***slot = FIELD(base, k->off, char **);
        cfg_argv_free(*slot); /* replaces a default */
        *slot = ini_split_words(v);
        return 1;
    }
    case KT_FEATURES:
        return parse_features(k, sec, it, base, d);
    case KT_IGNORED:
        ini_note(d, it->line, "[%s] %s: not used on this platform; ignored", sec, k->name);
        return 1;
    }
    return 0;
}

/* What an admin coming from Windows should hear about a value that was
 * accepted: that it has no effect here, or that it holds what looks like a
 * comment.  Windows' profile reader keeps "host # old" whole as well. */
static void after_value(const key_spec *k, const char *sec, const ini_item *it, ini_diag *d)
{
    if (k->why_ignored)
        ini_note(d, it->line, "[%s] %s: %s", sec, k->name, k->why_ignored);
    if (k->host && strpbrk(it->value, "#;"))
        ini_warn(d, it->line, "[%s] %s: '%s' holds '%c'; a comment after a value is part of the "
                 "value (on Windows too) — put comments on their own line", sec, k->name,
                 it->value, *strpbrk(it->value, "#;"));
}

static const key_spec *find_key(const key_spec *keys, const char *name, int *idx)
{
    for (int i = 0; keys[i].name; i++) {
        if (sr_streq_ci(keys[i].name, name)) {
            *idx = i;
            return &keys[i];
        }
    }
    return NULL;
}

static void kv_line(const section_spec *s, const ini_item *it, void *base, int *key_line,
                    ini_diag *d)
{
    if (!it->key) {
        /* the text is not echoed: in [AD] it could be a password */
        ini_error(d, it->line, SR_E_CONFIG, "[%s]: expected Parameter=Value (no '=' on this line)",
                  s->name);
        return;
    }
    if (!*it->key) {
        ini_error(d, it->line, SR_E_CONFIG, "[%s]: parameter name missing before '='", s->name);
        return;
    }
    int idx = -1;
    const key_spec *k = find_key(s->keys, it->key, &idx);
    if (!k) {
        if (s->unknown == UNKNOWN_NOTE)
            ini_note(d, it->line,
                     "[%s] %s: not used by this version (files from older versions may carry "
                     "more parameters); ignored", s->name, it->key);
        else
            ini_warn(d, it->line, "[%s] %s: unknown parameter; ignored", s->name, it->key);
        return;
    }
    if (key_line[idx]) {
        ini_error(d, it->line, SR_E_CONFIG, "[%s] %s: duplicate parameter (first at line %d)",
                  s->name, k->name, key_line[idx]);
        return;
    }
    key_line[idx] = it->line;
    if (parse_value(k, s->name, it, base, d) && k->line_off)
        *FIELD(base, k->line_off, int) = it->line;
    after_value(k, s->name, it, d);
}

static void list_line(const section_spec *s, const ini_item *it, void *base)
{
    cfg_list *l = FIELD(base, s->list_off, cfg_list);
    if (l->n == 0 || (l->n >= 8 && (l->n & (l->n - 1)) == 0)) { /* 8, then doubling */
        cfg_list_entry *nv = realloc(l->v, (l->n ? 2 * l->n : 8) * sizeof *nv);
        if (!nv)
            abort();
        l->v = nv;
    }
    l->v[l->n].value = ini_xstrdup(it->text);
    l->v[l->n].line = it->line;
    l->n++;
}

static void finish_section(const section_spec *s, int header_line, const int *key_line,
                           ini_diag *d)
{
    if (!s || s->is_list)
        return;
    for (int i = 0; s->keys[i].name; i++)
        if (s->keys[i].required && !key_line[i])
            ini_error(d, header_line, SR_E_CONFIG, "[%s] %s: missing (required in this section)",
                      s->name, s->keys[i].name);
}

static int find_section(const section_spec *sections, const char *name)
{
    for (int i = 0; sections[i].name; i++)
        if (sr_streq_ci(sections[i].name, name) ||
            (sections[i].alias && sr_streq_ci(sections[i].alias, name)))
            return i;
    return -1;
}

unsigned ini_apply(const ini_doc *doc, const section_spec *sections, void *base, ini_diag *d)
{
    unsigned before = d->counts.errors;
    int sec_line[MAX_SECTIONS] = { 0 };
    int key_line[MAX_KEYS] = { 0 };
    const section_spec *cur = NULL;
    int cur_line = 0, skipping = 0;
    for (size_t i = 0; i < doc->n; i++) {
        const ini_item *it = &doc->items[i];
        if (it->kind == INI_SECTION) {
            finish_section(cur, cur_line, key_line, d);
            memset(key_line, 0, sizeof key_line);
            cur = NULL;
            skipping = 1;
            int si = find_section(sections, it->text);
            if (si < 0) {
                ini_warn(d, it->line, "unknown section [%s]; its lines are ignored", it->text);
            } else if (sec_line[si]) {
                ini_error(d, it->line, SR_E_CONFIG, "duplicate section [%s] (first at line %d)",
                          sections[si].name, sec_line[si]);
            } else {
                sec_line[si] = it->line;
                cur = &sections[si];
                cur_line = it->line;
                skipping = 0;
                *FIELD(base, cur->present_off, int) = 1;
                *FIELD(base, cur->line_off, int) = it->line;
            }
            continue;
        }
        if (skipping)
            continue;
        if (cur->is_list)
            list_line(cur, it, base);
        else
            kv_line(cur, it, base, key_line, d);
    }
    finish_section(cur, cur_line, key_line, d);
    return d->counts.errors - before;
}
