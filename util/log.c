/* log.c — one printf-like logging function; the object named in every line. */
#include "util/util.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static sr_log_level g_level = SR_LOG_NOTICE;
static FILE *g_stream;   /* NULL → stderr */
static FILE *g_tee;      /* a second copy of every line, or NULL */

static const char *const level_names[] = {
    [SR_LOG_ERROR] = "ERROR", [SR_LOG_WARN] = "WARN", [SR_LOG_NOTICE] = "NOTICE",
    [SR_LOG_INFO] = "INFO", [SR_LOG_DEBUG] = "DEBUG",
};

void sr_log_set_level(sr_log_level max_level) { g_level = max_level; }
sr_log_level sr_log_get_level(void) { return g_level; }
void sr_log_set_stream(void *fp) { g_stream = fp; }
void sr_log_set_tee(void *fp) { g_tee = fp; }

int sr_log_level_parse(const char *s)
{
    static const char *const lower[] = { "error", "warn", "notice", "info", "debug" };
    for (int i = 0; i < (int)(sizeof lower / sizeof lower[0]); i++)
        if (s && sr_streq_ci(s, lower[i]))
            return i;
    return -1;
}

void sr_vlog(sr_log_level level, const char *who, const char *fmt, va_list ap)
{
    if (level > g_level)
        return;
    FILE *out = g_stream ? g_stream : stderr;
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    /* Build the whole line first so concurrent writers do not interleave. */
    char line[4096];
    int n = snprintf(line, sizeof line, "%s %-6s %s%s", stamp, level_names[level],
                     who ? who : "", who ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    fprintf(out, "%s\n", line);
    fflush(out);
    if (g_tee && g_tee != out) {
        fprintf(g_tee, "%s\n", line);
        fflush(g_tee);
    }
}

void sr_log(sr_log_level level, const char *who, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sr_vlog(level, who, fmt, ap);
    va_end(ap);
}
