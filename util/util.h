/* util.h — the tiny common layer every module may use (DESIGN.md: "a tiny
 * common util/"): the project's one error type, logging with secrets kept out,
 * and durable file writes.  Depends on nothing of ours.  The spec's numeric
 * codes (exit bits, CSV return codes) have their own header, util/codes.h.
 *
 * Ownership: functions returning char* say who frees; sr_err is a plain
 * value the caller owns (usually on the stack). */
#ifndef SR_UTIL_H
#define SR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- errors: code = class of failure, message = what and where ----------
 * Append-only: never renumber or remove a value (curl's CURLcode habit);
 * add new codes just above SR_E__MAX and give each a case in sr_strerror(). */
typedef enum {
    SR_OK = 0,
    SR_E_NOMEM = 1,         /* allocation failed */
    SR_E_IO = 2,            /* read/write/rename of a local file */
    SR_E_USAGE = 3,         /* wrong command line */
    SR_E_CONFIG = 4,        /* incorrect INI parameter */
    SR_E_CMDLINE = 5,       /* incorrect CPUUCmdLine */
    SR_E_CRYPTO = 6,        /* encryption/decryption of a stored secret */
    SR_E_PARSE = 7,         /* malformed input (XML, LDIF, binary blob) */
    SR_E_NOTFOUND = 8,      /* object/key not found */
    SR_E_AMBIGUOUS = 9,     /* more than one object where one was required */
    SR_E_CONNECT = 10,      /* cannot connect (refused, unresolvable, unreachable) */
    SR_E_TIMEOUT = 11,      /* operation timed out */
    SR_E_TLS = 12,          /* TLS handshake / certificate verification failed */
    SR_E_AUTH = 13,         /* credentials refused */
    SR_E_PROTOCOL = 14,     /* peer spoke the protocol wrongly */
    SR_E_SERVER = 15,       /* server reported an error (HTTP 5xx, LDAP error) */
    SR_E_BUSY = 16,         /* throttled: back off and retry */
    SR_E_LIMIT = 17,        /* a size or count limit was exceeded */
    SR_E_ACCESS = 18,       /* permission denied */
    SR_E_EXISTS = 19,       /* object already exists */
    SR_E_INVALID = 20,      /* invalid argument / state (a bug in the caller) */
    SR_E_UNSUPPORTED = 21,  /* feature not built in / not supported */
    SR_E_INTERNAL = 22,     /* should not happen */
    SR_E_NOSPACE = 23,      /* the file system is full (ENOSPC, SQLITE_FULL): stop, free space, rerun */
    SR_E_EWS_BLOCKED = 24,  /* Exchange Online refuses EWS for this app (HTTP 403): allow-list it or use Graph */
    SR_E__MAX
} sr_code;

/* What the caller does next, decided without string matching
 * (isync's FAIL_TEMP / FAIL_WAIT / FAIL_FINAL). */
typedef enum {
    SR_CLASS_NONE = 0,      /* success */
    SR_CLASS_RETRY,         /* transient: retry now */
    SR_CLASS_WAIT,          /* back off (err->backoff_ms) and retry */
    SR_CLASS_FINAL          /* give up on this object */
} sr_class;

typedef struct sr_err {
    sr_code code;
    sr_class cls;
    unsigned backoff_ms;    /* meaningful with SR_CLASS_WAIT */
    char msg[1024];         /* "file:line: section key: what" — never a secret */
} sr_err;

/* Static string naming a code ("connection failed").  Never NULL. */
const char *sr_strerror(sr_code code);
/* Default class of a code (BUSY → WAIT, TIMEOUT/CONNECT → RETRY, else FINAL). */
sr_class sr_default_class(sr_code code);
/* Clear *err to SR_OK.  NULL-safe. */
void sr_err_clear(sr_err *err);
/* Set code, default class and a formatted message; returns code so callers
 * can `return sr_err_set(err, SR_E_IO, "%s: %s", path, strerror(errno));`.
 * err may be NULL (the code is still returned). */
sr_code sr_err_set(sr_err *err, sr_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepend context ("room-7@src: ") to an existing message, keeping the code. */
void sr_err_prefix(sr_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- logging -------------------------------------------------------------
 * One printf-like function; `who` names the mailbox/file/object the line is
 * about (may be NULL).  Lines go to the log stream (stderr by default) as
 * "YYYY-mm-ddTHH:MM:SSZ LEVEL who: text".  Never pass a secret. */
typedef enum { SR_LOG_ERROR = 0, SR_LOG_WARN, SR_LOG_NOTICE, SR_LOG_INFO, SR_LOG_DEBUG } sr_log_level;

void sr_log_set_level(sr_log_level max_level);
sr_log_level sr_log_get_level(void);
/* Redirect logging to fp (not owned; NULL → stderr). */
void sr_log_set_stream(void *fp);
/* Also write every line to fp (not owned; NULL → no copy; ignored while it
 * is the log stream itself). */
void sr_log_set_tee(void *fp);
void sr_log(sr_log_level level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sr_vlog(sr_log_level level, const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Parse "error|warn|notice|info|debug"; returns -1 when unknown. */
int sr_log_level_parse(const char *s);

/* ---- secrets -------------------------------------------------------------- */
/* Wipe and free a heap string holding a secret.  NULL-safe. */
void sr_secret_free(char *s);

/* ---- files ---------------------------------------------------------------- */
/* Read a whole file into a NUL-terminated heap buffer; *len_out gets its size
 * (may be NULL).  Caller frees with free().  Refuses files above max_bytes. */
char *sr_read_file(const char *path, size_t max_bytes, size_t *len_out, sr_err *err);
/* Write data durably and atomically: temp file in the same directory, fsync,
 * rename over path, fsync the directory.  mode is used for a new file; when
 * path exists and keep_mode is non-zero its permission bits are kept. */
sr_code sr_write_file_atomic(const char *path, const void *data, size_t len,
                             mode_t mode, int keep_mode, sr_err *err);
/* The same, with mode as given, calling prepare(fd, ctx, err) on the written
 * temp file before it is synced and renamed (to give it an owner, an ACL);
 * prepare's error aborts the write and is returned.  prepare may be NULL. */
sr_code sr_write_file_atomic_hook(const char *path, const void *data, size_t len, mode_t mode,
                                  sr_code (*prepare)(int fd, void *ctx, sr_err *err), void *ctx,
                                  sr_err *err);
/* Replace path, not synced, with what is written to a stream: for a file
 * that is only a view regenerated from durable state (the report files from
 * the journal), written as it is made so that a long list never sits in
 * memory.  sr_view_open makes a temporary file beside path (mode as given;
 * v->f to write to); sr_view_commit closes it and renames it over path, or
 * removes it on any write error (then SR_E_IO naming path).  A reader sees
 * the old file or the new one whole; after a power cut the file may be the
 * old one, or empty on some file systems; the next run writes it again.  The
 * only copy of anything (a backup, a profile, a secret, a config) goes
 * through sr_write_file_atomic instead. */
typedef struct sr_view {
    FILE *f;
    char *path, *tmp;
} sr_view;
sr_code sr_view_open(sr_view *v, const char *path, mode_t mode, sr_err *err);
sr_code sr_view_commit(sr_view *v, sr_err *err);
/* mkdir -p with mode for every created component. */
sr_code sr_mkdir_p(const char *path, mode_t mode, sr_err *err);

/* ---- strings -------------------------------------------------------------- */
/* strdup that aborts the process on OOM is not wanted: returns NULL on OOM. */
char *sr_strdup(const char *s);
/* printf into a fresh heap string (caller frees); NULL on OOM. */
char *sr_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* ASCII case-insensitive equality. */
int sr_streq_ci(const char *a, const char *b);
/* Free a NULL-terminated array of heap strings and the array.  NULL-safe. */
void sr_strv_free(char **v);
/* Non-zero when the NUL-terminated s is well-formed UTF-8 (RFC 3629): no
 * overlong forms, no surrogates (U+D800..DFFF), nothing above U+10FFFF, so
 * the bytes C0, C1 and F5..FF never appear. */
int sr_utf8_valid(const char *s);
/* Length (1-4) of the well-formed UTF-8 sequence at s by the same rules, or
 * 0 when there is none (a writer escapes that byte). */
size_t sr_utf8_seq(const char *s);

/* ---- time ----------------------------------------------------------------- */
/* Monotonic clock in milliseconds (for deadlines and intervals, not dates). */
long long sr_now_ms(void);

#endif
