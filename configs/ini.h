/* ini.h — private to configs/: the line-oriented INI reader and the
 * table-driven key=value section parser both loaders share.
 * Why not iniparser: it gives no line numbers, silently keeps the last of
 * duplicate keys, lower-cases keys and fails a whole file on a bare list line. */
#ifndef SR_CONFIGS_INI_H
#define SR_CONFIGS_INI_H

#include <stddef.h>

#include "configs/configs.h"

typedef enum { INI_SECTION, INI_LINE } ini_kind;

/* ---- the one line reader (ini_lines.c): loaders and the rewrite share it --- */

/* How a file was stored; the rewrite writes it back the same way. */
typedef enum { INI_ENC_UTF8 = 0, INI_ENC_UTF8_BOM, INI_ENC_UTF16LE, INI_ENC_UTF16BE } ini_encoding;

/* A file's text as UTF-8, whatever its encoding on disk (BOM removed). */
typedef struct ini_text {
    char *buf;         /* NUL-terminated; free with ini_text_free (wipes it) */
    size_t len;
    ini_encoding enc;
} ini_text;

/* Read and decode path.  Errors (SR_E_CONFIG/SR_E_IO, message without the
 * path) set *bad_line to the line concerned, or 0 for the whole file. */
sr_code ini_text_read(ini_text *t, const char *path, int *bad_line, sr_err *err);
void ini_text_free(ini_text *t);
/* UTF-8 [utf8, +len) encoded as enc, BOM included; caller frees with
 * free() (wipe first: it may hold a secret).  NULL with *err on failure. */
char *ini_text_encode(const char *utf8, size_t len, ini_encoding enc, size_t *out_len, sr_err *err);

/* One physical line: [b, e) without its ending; the ending ("\n", "\r\n",
 * "\r\r\n", or nothing at the end of the file) runs from e to next. */
typedef struct ini_line {
    const char *b, *e, *next;
    int lineno;        /* 1-based; set to 0 before the first call */
} ini_line;
/* Next line of t into *ln; 0 at the end. */
int ini_next_line(const ini_text *t, ini_line *ln);

typedef enum { IL_BLANK, IL_COMMENT, IL_SECTION, IL_BAD_SECTION, IL_KV, IL_BARE } ini_line_kind;
/* What a line is, as pointers into it: [tb, te) the line trimmed of blanks;
 * IL_SECTION: [nb, ne) the name inside [ ]; IL_KV: [nb, ne) the key and
 * [vb, ve) the value, both trimmed (quotes kept: see ini_unquote). */
typedef struct ini_parts {
    ini_line_kind kind;
    const char *tb, *te, *nb, *ne, *vb, *ve;
} ini_parts;
void ini_classify(const ini_line *ln, ini_parts *p);
/* Narrow [*vb, *ve) by one surrounding pair of double quotes, as Windows'
 * GetPrivateProfileString does — unless more quotes are inside. */
void ini_unquote(const char **vb, const char **ve);

/* One meaningful (not blank, not comment) line. */
typedef struct ini_item {
    ini_kind kind;
    int line;
    char *text;        /* INI_SECTION: name inside [ ]; INI_LINE: trimmed line */
    char *key;         /* INI_LINE with '=': trimmed text before the first '=' */
    char *value;       /* INI_LINE with '=': trimmed text after it, one pair of
                          surrounding double quotes removed; else NULL */
    int quoted;        /* the value had those quotes */
} ini_item;

typedef struct ini_doc {
    const char *path;  /* borrowed */
    ini_item *items;
    size_t n;
    int last_line;
    ini_encoding enc;
} ini_doc;

/* Diagnostics sink for one load: logs each item with "path:line" as who,
 * keeps the first error in *err and counts them in *diag. */
typedef struct ini_diag {
    const char *path;
    cfg_diag counts;
    sr_err *err;       /* may be NULL */
    int have_first;
} ini_diag;

void ini_diag_init(ini_diag *d, const char *path, sr_err *err);
void ini_error(ini_diag *d, int line, sr_code code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ini_warn(ini_diag *d, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ini_note(ini_diag *d, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read path into doc.  File-level problems (missing, unreadable, too big,
 * NUL bytes, malformed section header, text before the first section) are
 * reported through d; returns 0 when the file could be read at all. */
int ini_doc_read(ini_doc *doc, const char *path, ini_diag *d);
void ini_doc_free(ini_doc *doc);

/* ---- key=value sections described by tables -------------------------------- */
typedef enum {
    KT_STR,        /* char*, may be empty */
    KT_STR_NE,     /* char*, must not be empty */
    KT_SECRET,     /* char*, must not be empty, never echoed */
    KT_URL,        /* char*, http:// or https:// URL */
    KT_FLAG,       /* int 0/1 */
    KT_INT,        /* int in [min, max] */
    KT_ENUM,       /* int: min + index into names (case-insensitive), not empty */
    KT_WORDS,      /* char**: space-separated words, NULL-terminated */
    KT_FEATURES,   /* cfg_feature_set; names in `allowed`; "All" if allow_all */
    KT_IGNORED     /* accepted and ignored with a note */
} key_type;

typedef struct key_spec {
    const char *name;
    key_type type;
    int required;
    size_t off;
    const char *const *names;     /* KT_ENUM */
    cfg_feature_set allowed;      /* KT_FEATURES */
    int allow_all;                /* KT_FEATURES: "All" means every allowed one */
    long min, max;                /* KT_INT */
    size_t line_off;              /* int field for the key's line; 0 = none
                                     (offset 0 is the path pointer in every
                                     config struct, never a line field) */
    const char *why_ignored;      /* accepted but without effect here: a note
                                     "[Sec] Key: <this>", which starts with
                                     "not applicable on Linux: " or "ignored: " */
    int host;                     /* a host name or address: warn about '#'/';'
                                     (inline comments are part of the value) */
} key_spec;

/* How unknown keys in a section are reported. */
typedef enum { UNKNOWN_WARN, UNKNOWN_NOTE } unknown_policy;

typedef struct section_spec {
    const char *name;             /* canonical name, e.g. "RPCOverHTTP" */
    const char *alias;            /* another accepted name or NULL */
    int is_list;                  /* bare lines → cfg_list */
    const key_spec *keys;         /* kv sections, terminated by {NULL} */
    unknown_policy unknown;
    size_t present_off, line_off; /* int fields in the target struct */
    size_t list_off;              /* is_list: cfg_list field */
} section_spec;

/* Walk doc against sections (terminated by {NULL}), filling base.  Unknown
 * sections are warned about and skipped; duplicates and bad values are
 * errors.  Returns the number of errors added. */
unsigned ini_apply(const ini_doc *doc, const section_spec *sections, void *base, ini_diag *d);

/* Split on blanks into a NULL-terminated vector; caller frees with cfg_argv_free. */
char **ini_split_words(const char *s);
/* Duplicate or NULL; on OOM aborts the process (config loading is startup). */
char *ini_xstrdup(const char *s);

#endif
