/* progress.c — the child side of the progress protocol (cpuu_invoke.h):
 * "openstore begin <what>", "openstore end", "feature begin <Name>",
 * "feature end <Name>" (twice per feature: its read, then its plan and
 * writes), "unresolved <Name> <n>", "notcarried <Name> <n|all>", "featfailed
 * <Name>", "ewsblocked <app id|->", "exit <bits>", one line each on $CPUU_PROGRESS_FD,
 * and the secret the parent may send on $CPUU_SECRET_FD. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuu/engine.h"

static int g_progress_fd = -1;

/* A number naming an open descriptor other than 0..2; -1 otherwise. */
static int env_fd(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return -1;
    char *end;
    long fd = strtol(v, &end, 10);
    if (*end || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0) {
        sr_log(SR_LOG_WARN, "cpuu", "%s=%s is not an open descriptor: ignored", name, v);
        return -1;
    }
    return (int)fd;
}

void cpuu_progress_init(void)
{
    g_progress_fd = env_fd("CPUU_PROGRESS_FD");
    if (g_progress_fd >= 0)   /* children we might start must not hold the parent's pipe */
        (void)fcntl(g_progress_fd, F_SETFD, FD_CLOEXEC);
}

void cpuu_progress(const char *fmt, ...)
{
    if (g_progress_fd < 0)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    for (int i = 0; i < n; i++)   /* one event = one line, whatever a name holds */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    if (write(g_progress_fd, line, (size_t)n) != n) {
        sr_log(SR_LOG_WARN, "cpuu", "progress channel closed: %s", strerror(errno));
        g_progress_fd = -1;
    }
}

char *cpuu_secret_from_fd(sr_err *err)
{
    int fd = env_fd("CPUU_SECRET_FD");
    if (fd < 0)
        return NULL;
    size_t cap = 1024, n = 0;
    char *buf = calloc(1, cap);
    if (!buf) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    for (int guard = 0; guard < 64; guard++) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n >= cap - 1)
            break;   /* no password is this long; the rest is ignored */
    }
    close(fd);
    /* read once: a later run in this process (the cleanup after an update,
     * CPUU_COMMAND_FD) must not read a number the kernel has since reused */
    unsetenv("CPUU_SECRET_FD");
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (!n) {
        sr_secret_free(buf);
        return NULL;
    }
    return buf;
}

int cpuu_command_fd(void)
{
    int fd = env_fd("CPUU_COMMAND_FD");
    if (fd >= 0)   /* children we might start must not hold the parent's pipe */
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

char *cpuu_command_read(int fd)
{
    char line[4096];
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);   /* byte by byte: one line, nothing after it consumed */
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;   /* EOF or error before a whole line: no command */
        if (c == '\n')
            break;
        if (n == sizeof line - 1)
            return NULL;   /* no command is this long */
        line[n++] = c;
    }
    line[n] = '\0';
    return sr_strdup(line);
}
