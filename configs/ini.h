/* ini.h — private to configs/: the line-oriented INI reader and the
 * table-driven key=value section parser both loaders share.
 * Why not iniparser: it gives no line numbers, silently keeps the last of
 * duplicate keys, lower-cases keys and fails a whole file on a bare list line. */
#ifndef SR_CONFIGS_INI_H
#define SR_CONFIGS_INI_H

#include <stddef.h>

#include "configs/configs.h"

typedef enum { INI_SECTION, INI_LINE } ini_kind;

/* One meaningful (not blank, not comment) line. */
typedef struct ini_item {
    ini_kind kind;
    int line;
    char *text;        /* INI_SECTION: name inside [ ]; INI_LINE: trimmed line */
    char *key;         /* INI_LINE with '=': trimmed text before the first '=' */
    char *value;       /* INI_LINE with '=': trimmed text after it; else NULL */
} ini_item;

typedef struct ini_doc {
    const char *path;  /* borrowed */
    ini_item *items;
    size_t n;
    int last_line;
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
