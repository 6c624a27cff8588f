/* logfile.c — the -Log name (spec "-Log": #H computer name, #D date, #T
 * time, %VAR% environment values) and the CSV name beside it. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpuu/engine.h"

/* A growable string; on OOM the result is NULL. */
typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* %NAME% → getenv(NAME); the spec's example is %username%, which Windows
 * matches case-insensitively: try as written, then upper, then lower case. */
static const char *env_ci(const char *name, size_t n)
{
    char buf[128];
    if (n == 0 || n >= sizeof buf)
        return NULL;
    memcpy(buf, name, n);
    buf[n] = '\0';
    const char *v = getenv(buf);
    for (int pass = 0; !v && pass < 2; pass++) {
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(pass == 0 ? (buf[i] >= 'a' && buf[i] <= 'z' ? buf[i] - 32 : buf[i])
                                      : (buf[i] >= 'A' && buf[i] <= 'Z' ? buf[i] + 32 : buf[i]));
        v = getenv(buf);
    }
    if (!v && n == 8 && !strcmp(buf, "username"))
        v = getenv("USER");   /* Linux spells the spec's example this way */
    return v;
}

char *cpuu_log_expand(const char *pattern)
{
    sbuf b = { 0 };
    char host[256] = "localhost", date[16], tim[16];
    if (gethostname(host, sizeof host) != 0)
        strcpy(host, "localhost");
    host[sizeof host - 1] = '\0';
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    strftime(tim, sizeof tim, "%H%M%S", &tm);
    sb_add(&b, "", 0);
    for (const char *s = pattern; *s; s++) {
        if (s[0] == '#' && s[1]) {
            const char *v = NULL;
            switch (s[1]) {
            case 'H': case 'h': v = host; break;
            case 'D': case 'd': v = date; break;
            case 'T': case 't': v = tim; break;
            }
            if (v) {
                sb_add(&b, v, strlen(v));
                s++;
                continue;
            }
        }
        if (s[0] == '%') {
            const char *end = strchr(s + 1, '%');
            const char *v = end ? env_ci(s + 1, (size_t)(end - s - 1)) : NULL;
            if (v) {
                for (const char *c = v; *c; c++)   /* a value must not leave the directory */
                    sb_add(&b, *c == '/' ? "_" : c, 1);
                s = end;
                continue;
            }
        }
        sb_add(&b, s, 1);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *cpuu_csv_path(const char *log_path)
{
    size_t n = strlen(log_path);
    const char *slash = strrchr(log_path, '/');
    const char *dot = strrchr(log_path, '.');
    if (dot && (!slash || dot > slash + 1) && sr_streq_ci(dot, ".log"))
        return sr_asprintf("%.*s.csv", (int)(dot - log_path), log_path);
    (void)n;
    return sr_asprintf("%s.csv", log_path);
}
