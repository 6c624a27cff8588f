/* cpuu_invoke.c — child process, progress pipe, watchdog, exit decoding. */
#include "cpuu_invoke/cpuu_invoke.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

char *invoke_describe_bits(unsigned bits)
{
    char buf[512];
    return sr_strdup(sr_cpuu_bits_describe(bits, buf, sizeof buf));
}

/* One attempt's live state, fed by the progress lines. */
typedef struct {
    long started, stage_started;
    enum { ST_NONE, ST_STORE, ST_FEATURE } stage;
    char stage_what[80];
    char unresolved[INVOKE_LIST_MAX];   /* "Name n, Name n" from "unresolved" lines */
    char not_carried[INVOKE_LIST_MAX];  /* "Name n, Name all" from "notcarried" lines */
    char feat_failed[INVOKE_LIST_MAX];  /* "Name, Name" from "featfailed" lines */
    unsigned unresolved_more, not_carried_more, feat_failed_more;   /* entries that did not fit */
    int ews_blocked;
    char ews_app_id[72];
    int failed_code, failed_class;
    char failed[200];
    int have_exit_line;
    unsigned exit_bits;
    char line[256];
    size_t line_len;
} watch;

/* Room kept at a list's end for ", and 4294967295 more". */
#define MORE_ROOM 24

/* "<Name> <n>" (or, with all_ok, "<Name> all") → ", Name n" appended to
 * list; an entry that would not fit is counted in *more instead (said at
 * the end, take_lists); anything else is ignored. */
static void add_count(char *list, size_t size, unsigned *more, const char *rest, int all_ok)
{
    char name[40], n[12], end;
    if (sscanf(rest, "%39s %11s %c", name, n, &end) != 2 ||
        !(strspn(n, "0123456789") == strlen(n) || (all_ok && strcmp(n, "all") == 0)))
        return;
    size_t len = strlen(list);
    size_t need = (len ? 2 : 0) + strlen(name) + 1 + strlen(n);
    if (*more || len + need >= size - MORE_ROOM) {   /* the order kept: once cut, cut */
        (*more)++;
        return;
    }
    snprintf(list + len, size - len, "%s%s %s", len ? ", " : "", name, n);
}

/* "<Name>" → ", Name" appended to list, as add_count without a count. */
static void add_name(char *list, size_t size, unsigned *more, const char *rest)
{
    char name[40], end;
    if (sscanf(rest, "%39s %c", name, &end) != 1)
        return;
    size_t len = strlen(list);
    if (*more || len + (len ? 2 : 0) + strlen(name) >= size - MORE_ROOM) {
        (*more)++;
        return;
    }
    snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
}

/* One list a watch gathered into the result, ending ", and N more" when
 * entries did not fit. */
static void take_list(char *dst, size_t size, const char *list, unsigned more)
{
    snprintf(dst, size, "%s", list);
    size_t l = strlen(dst);
    if (more)
        snprintf(dst + l, size - l, ", and %u more", more);
}

/* The lists a watch gathered, into the result; and the "ewsblocked" and
 * "failed" lines. */
static void take_lists(invoke_result *res, const watch *w)
{
    take_list(res->unresolved, sizeof res->unresolved, w->unresolved, w->unresolved_more);
    take_list(res->not_carried, sizeof res->not_carried, w->not_carried, w->not_carried_more);
    take_list(res->feat_failed, sizeof res->feat_failed, w->feat_failed, w->feat_failed_more);
    res->ews_blocked = w->ews_blocked;
    snprintf(res->ews_app_id, sizeof res->ews_app_id, "%s", w->ews_app_id);
    res->failed_code = w->failed_code;
    res->failed_class = w->failed_class;
    snprintf(res->failed, sizeof res->failed, "%s", w->failed);
}

/* "failed <code> <class> <text>": the numbers as given, the text with any
 * control character replaced (it goes into a report line). */
static void take_failed(watch *w, const char *rest)
{
    int code, cls, n = 0;
    if (sscanf(rest, "%d %d %n", &code, &cls, &n) != 2 || !n)
        return;
    w->failed_code = code;
    w->failed_class = cls;
    snprintf(w->failed, sizeof w->failed, "%s", rest + n);
    for (char *p = w->failed; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
}

/* "ewsblocked <app id|->": an app id is one token of [A-Za-z0-9._-]
 * (a GUID); anything else is kept as unknown, not copied into a report. */
static void take_blocked(watch *w, const char *rest)
{
    char id[72], end;
    w->ews_blocked = 1;
    w->ews_app_id[0] = '\0';
    if (sscanf(rest, "%71s %c", id, &end) == 1 && strcmp(id, "-") != 0 &&
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == strlen(id))
        snprintf(w->ews_app_id, sizeof w->ews_app_id, "%s", id);
}

static void on_line(watch *w, const char *line)
{
    unsigned bits;
    if (strncmp(line, "openstore begin", 15) == 0) {
        w->stage = ST_STORE;
        snprintf(w->stage_what, sizeof w->stage_what, "openstore%.68s", line + 15);
        w->stage_started = sr_now_ms();
    } else if (strncmp(line, "feature begin ", 14) == 0) {
        w->stage = ST_FEATURE;
        snprintf(w->stage_what, sizeof w->stage_what, "feature %.70s", line + 14);
        w->stage_started = sr_now_ms();
    } else if (strncmp(line, "openstore end", 13) == 0 || strncmp(line, "feature end", 11) == 0) {
        w->stage = ST_NONE;
    } else if (strncmp(line, "unresolved ", 11) == 0) {
        add_count(w->unresolved, sizeof w->unresolved, &w->unresolved_more, line + 11, 0);
    } else if (strncmp(line, "notcarried ", 11) == 0) {
        add_count(w->not_carried, sizeof w->not_carried, &w->not_carried_more, line + 11, 1);
    } else if (strncmp(line, "featfailed ", 11) == 0) {
        add_name(w->feat_failed, sizeof w->feat_failed, &w->feat_failed_more, line + 11);
    } else if (strncmp(line, "ewsblocked", 10) == 0 && (line[10] == ' ' || !line[10])) {
        take_blocked(w, line + 10);
    } else if (strncmp(line, "failed ", 7) == 0) {
        take_failed(w, line + 7);
    } else if (sscanf(line, "exit %u", &bits) == 1) {
        w->have_exit_line = 1;
        w->exit_bits = bits;
    }
}

static void feed(watch *w, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            w->line[w->line_len] = '\0';
            on_line(w, w->line);
            w->line_len = 0;
        } else if (w->line_len < sizeof w->line - 1) {
            w->line[w->line_len++] = buf[i];
        }
    }
}

/* Milliseconds until the nearest watchdog deadline (-1: none); *which names it. */
static long next_deadline(const watch *w, const invoke_opts *o, const char **which)
{
    long best = -1;
    *which = NULL;
    if (!o->watchdog)
        return -1;
    if (o->global_wait_s) {
        best = w->started + o->global_wait_s * 1000L;
        *which = "global";
    }
    unsigned stage_s = w->stage == ST_STORE ? o->open_store_wait_s
                     : w->stage == ST_FEATURE ? o->feature_wait_s : 0;
    if (stage_s) {
        long d = w->stage_started + stage_s * 1000L;
        if (best < 0 || d < best) {
            best = d;
            *which = w->stage_what;
        }
    }
    return best;
}

/* Ours win over inherited ones: a stale number must not reach the engine. */
static int ours(const char *e)
{
    return !strncmp(e, "CPUU_PROGRESS_FD=", 17) || !strncmp(e, "CPUU_SECRET_FD=", 15) ||
           !strncmp(e, "CPUU_COMMAND_FD=", 16);
}

static char **child_env(const invoke_opts *o, int progress_fd, int secret_fd, int command_fd)
{
    size_t n = 0, extra = 0;
    while (environ[n])
        n++;
    while (o->extra_env && o->extra_env[extra])
        extra++;
    char **env = calloc(n + extra + 4, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!ours(environ[i]))
            env[k++] = environ[i];
    for (size_t i = 0; i < extra; i++)
        env[k++] = o->extra_env[i];
    env[k++] = sr_asprintf("CPUU_PROGRESS_FD=%d", progress_fd);
    if (secret_fd >= 0)
        env[k++] = sr_asprintf("CPUU_SECRET_FD=%d", secret_fd);
    if (command_fd >= 0)
        env[k++] = sr_asprintf("CPUU_COMMAND_FD=%d", command_fd);
    return env;
}

static void free_child_env(char **env)
{
    if (!env)
        return;
    for (size_t i = 0; env[i]; i++)
        if (ours(env[i]))
            free(env[i]);
    free(env);
}

/* Whether pid has ended: reaped here, or, for an engine another process
 * started (handed over: not our child, its parent reaps it), gone. */
static int ended(pid_t pid, int *status)
{
    pid_t w = waitpid(pid, status, WNOHANG);
    return w == pid || (w < 0 && errno == ECHILD && kill(pid, 0) != 0);
}

static void stop_group(pid_t pid, unsigned grace_ms)
{
    kill(-pid, SIGTERM);
    long end = sr_now_ms() + grace_ms;
    while (sr_now_ms() < end) {
        if (ended(pid, NULL))
            return;
        usleep(10000);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* One attempt: its exit status, or where it stopped, or that it waits.
 * lost: it ended, but it is not our child (a handed-over engine): no status. */
typedef struct { int status; int timed_out; int exec_errno; int waiting; int lost; watch w; } attempt;

/* An engine kept after its update, waiting for one command (see the header). */
struct invoke_engine {
    pid_t pid;                   /* also its process group */
    int prog_fd;                 /* read end of its progress pipe */
    int cmd_fd;                  /* our end of its command socket */
    char *prog;                  /* argv[0], for log lines */
};

static void close_pair(int fds[2])
{
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* Watch a started child on its progress pipe until it ends (a->status), the
 * watchdog stops it (a->timed_out) or, with keep, it has written its "exit"
 * line and still runs (a->waiting: prog stays open, the caller keeps it). */
static void watch_child(pid_t pid, int prog, const invoke_opts *o, attempt *a, int keep)
{
    for (int open_pipe = 1; open_pipe;) {
        const char *which;
        long dl = next_deadline(&a->w, o, &which);
        long wait = dl < 0 ? 1000 : dl - sr_now_ms();
        if (dl >= 0 && wait <= 0) {
            if (which != a->w.stage_what)
                snprintf(a->w.stage_what, sizeof a->w.stage_what, "%s", which);
            a->timed_out = 1;
            stop_group(pid, o->kill_grace_ms ? o->kill_grace_ms : 2000);
            close(prog);
            return;
        }
        struct pollfd p = { .fd = prog, .events = POLLIN };
        int r = poll(&p, 1, (int)(wait > 1000 ? 1000 : wait));
        if (r > 0) {
            char buf[512];
            ssize_t n = read(prog, buf, sizeof buf);
            if (n > 0)
                feed(&a->w, buf, (size_t)n);
            else if (n == 0)
                open_pipe = 0;   /* child closed it (usually: exited) */
        }
        pid_t wr = waitpid(pid, &a->status, WNOHANG);
        /* not our child: its closed pipe is its end (it never closes it) */
        a->lost = wr < 0 && errno == ECHILD && !open_pipe;
        if (wr == pid || a->lost) {
            /* drain what it wrote just before exiting */
            char buf[512];
            ssize_t n;
            while ((n = read(prog, buf, sizeof buf)) > 0)
                feed(&a->w, buf, (size_t)n);
            close(prog);
            return;
        }
        if (keep && a->w.have_exit_line) {
            a->waiting = 1;
            return;
        }
    }
    close(prog);
    /* Pipe closed but the child lives on (it closed the fd): wait under the global limit. */
    long end = o->watchdog && o->global_wait_s ? a->w.started + o->global_wait_s * 1000L : -1;
    for (;;) {
        pid_t wr = waitpid(pid, &a->status, WNOHANG);
        if (wr == pid)
            return;
        if (wr < 0 && errno == ECHILD) {
            a->lost = 1;
            return;
        }
        if (end >= 0 && sr_now_ms() >= end) {
            snprintf(a->w.stage_what, sizeof a->w.stage_what, "global");
            a->timed_out = 1;
            stop_group(pid, o->kill_grace_ms ? o->kill_grace_ms : 2000);
            return;
        }
        usleep(20000);
    }
}

/* Fork, exec and watch one attempt.  With keep, the engine also gets a
 * command socket (CPUU_COMMAND_FD); when it waits on it after its update,
 * keep is filled and the attempt ends with a->waiting. */
static sr_code run_once(char *const argv[], const invoke_opts *o, attempt *a, invoke_engine *keep,
                        sr_err *err)
{
    int prog[2] = { -1, -1 }, secret[2] = { -1, -1 }, execfail[2] = { -1, -1 }, cmd[2] = { -1, -1 };
    /* The secret and the command travel on socket pairs, not pipes:
     * send(MSG_NOSIGNAL) to an engine that exits without reading must not
     * kill us with SIGPIPE. */
    if (pipe2(prog, O_CLOEXEC) != 0 || pipe2(execfail, O_CLOEXEC) != 0 ||
        (o->secret && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, secret) != 0) ||
        (keep && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd) != 0)) {
        int e = errno;
        close_pair(prog);   /* those made before the failure: a long run must not leak */
        close_pair(execfail);
        close_pair(secret);
        return sr_err_set(err, SR_E_IO, "cannot create pipes: %s", strerror(e));
    }
    char **env = child_env(o, prog[1], o->secret ? secret[0] : -1, keep ? cmd[0] : -1);
    fflush(NULL);
    pid_t pid = env ? fork() : -1;
    if (pid == 0) {
        setpgid(0, 0);   /* its own group: the watchdog stops everything it started */
        /* ignored signals survive exec: the engine starts with defaults
         * (our worker ignores SIGTERM/SIGINT to finish its mailbox; the
         * watchdog's SIGTERM must still reach the engine) */
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        fcntl(prog[1], F_SETFD, 0);
        if (o->secret)
            fcntl(secret[0], F_SETFD, 0);
        if (keep)
            fcntl(cmd[0], F_SETFD, 0);
        execve(argv[0], argv, env);
        int e = errno;
        (void)!write(execfail[1], &e, sizeof e);
        _exit(127);
    }
    free_child_env(env);
    close(prog[1]);
    close(execfail[1]);
    if (o->secret)
        close(secret[0]);
    if (keep)
        close(cmd[0]);
    if (pid < 0) {
        close(prog[0]);
        close(execfail[0]);
        if (o->secret)
            close(secret[1]);
        if (keep)
            close(cmd[1]);
        return sr_err_set(err, SR_E_IO, "cannot start %s: %s", argv[0], strerror(errno));
    }
    setpgid(pid, pid);
    if (o->running_pid)
        *o->running_pid = pid;
    if (o->secret) {   /* a password fits the socket buffer: this does not block */
        (void)!send(secret[1], o->secret, strlen(o->secret), MSG_NOSIGNAL);
        close(secret[1]);
    }
    memset(a, 0, sizeof *a);
    a->w.started = sr_now_ms();
    if (read(execfail[0], &a->exec_errno, sizeof a->exec_errno) != (ssize_t)sizeof a->exec_errno)
        a->exec_errno = 0;   /* EOF: exec succeeded */
    close(execfail[0]);
    watch_child(pid, prog[0], o, a, keep != NULL);
    if (a->waiting) {
        *keep = (invoke_engine){ .pid = pid, .prog_fd = prog[0], .cmd_fd = cmd[1] };
    } else if (keep) {
        close(cmd[1]);
    }
    return SR_OK;
}

/* invoke_run's attempts; with kept, the last one may stay (invoke_start). */
static sr_code run_attempts(char *const argv[], const invoke_opts *opts, invoke_result *res,
                            invoke_engine **kept, sr_err *err)
{
    memset(res, 0, sizeof *res);
    if (kept)
        *kept = NULL;
    unsigned attempts = opts->attempts ? opts->attempts : 3;
    for (unsigned i = 1; i <= attempts; i++) {
        attempt a;
        invoke_engine eng = { .pid = -1, .prog_fd = -1, .cmd_fd = -1 };
        sr_code rc = run_once(argv, opts, &a, kept ? &eng : NULL, err);
        if (opts->running_pid)
            *opts->running_pid = 0;
        if (rc != SR_OK)
            return rc;
        res->attempts_used = i;
        if (a.exec_errno) {
            res->outcome = INVOKE_CANNOT_START;
            sr_err_set(err, SR_E_IO, "cannot start %s: %s", argv[0], strerror(a.exec_errno));
            return SR_OK;
        }
        if (opts->no_restart && *opts->no_restart)
            attempts = i;   /* told to stop: this attempt is the last */
        if (a.timed_out) {
            res->outcome = INVOKE_TIMEOUT;
            snprintf(res->stage, sizeof res->stage, "%s", a.w.stage_what);
            sr_log(SR_LOG_WARN, opts->who, "watchdog: %s hung in %s (attempt %u of %u)%s",
                   argv[0], res->stage, i, attempts, i < attempts ? ", restarting" : "");
            continue;
        }
        res->stage[0] = '\0';
        if (!a.waiting && WIFSIGNALED(a.status)) {
            res->outcome = INVOKE_CRASHED;
            res->term_signal = WTERMSIG(a.status);
            res->cpuu_bits = (a.w.have_exit_line ? a.w.exit_bits : 0) | CPUU_CRASH;
            sr_log(SR_LOG_WARN, opts->who, "%s crashed with signal %d (attempt %u of %u)%s",
                   argv[0], res->term_signal, i, attempts, i < attempts ? ", restarting" : "");
            continue;
        }
        res->outcome = INVOKE_EXITED;
        res->term_signal = 0;
        /* a waiting engine has not exited: its status would be the low bits */
        res->exit_status = a.waiting ? (int)(a.w.exit_bits & 0xffu) : WEXITSTATUS(a.status);
        res->cpuu_bits = a.w.have_exit_line ? a.w.exit_bits : (unsigned)res->exit_status;
        take_lists(res, &a.w);
        if (a.waiting && (*kept = malloc(sizeof **kept)) != NULL) {
            **kept = eng;
            (*kept)->prog = sr_strdup(argv[0]);
        } else if (a.waiting) {   /* out of memory: end it as without the pipe */
            close(eng.cmd_fd);
            close(eng.prog_fd);
            stop_group(eng.pid, 2000);
        }
        return SR_OK;
    }
    return SR_OK;
}

sr_code invoke_run(char *const argv[], const invoke_opts *opts, invoke_result *res, sr_err *err)
{
    return run_attempts(argv, opts, res, NULL, err);
}

sr_code invoke_start(char *const argv[], const invoke_opts *opts, invoke_result *res,
                     invoke_engine **kept, sr_err *err)
{
    return run_attempts(argv, opts, res, kept, err);
}

static void engine_free(invoke_engine *e)
{
    if (e->cmd_fd >= 0)
        close(e->cmd_fd);
    if (e->prog_fd >= 0)
        close(e->prog_fd);
    free(e->prog);
    free(e);
}

/* EOF on an engine's progress pipe: it has ended (it never closes it). */
static int pipe_closed(int fd)
{
    char buf[512];
    ssize_t n;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (poll(&p, 1, 0) > 0 && (n = read(fd, buf, sizeof buf)) != 0)
        if (n < 0)
            return errno != EINTR && errno != EAGAIN;
    return poll(&p, 1, 0) > 0;
}

void invoke_end(invoke_engine *e);

/* The outcome of a command the engine did not answer (it ended or hung). */
static void unanswered(const attempt *a, invoke_result *res)
{
    if (a->timed_out) {
        res->outcome = INVOKE_TIMEOUT;
        snprintf(res->stage, sizeof res->stage, "%s", a->w.stage_what);
    } else if (a->lost || WIFSIGNALED(a->status)) {
        res->outcome = INVOKE_CRASHED;   /* lost: a handed-over engine died, signal unknown */
        res->term_signal = a->lost ? 0 : WTERMSIG(a->status);
    } else {
        res->outcome = INVOKE_EXITED;
        res->exit_status = WEXITSTATUS(a->status);
    }
    res->cpuu_bits = a->w.have_exit_line ? a->w.exit_bits : (unsigned)res->exit_status;
    if (res->outcome == INVOKE_CRASHED)
        res->cpuu_bits |= CPUU_CRASH;
}

int invoke_command(invoke_engine **ep, const char *command, const invoke_opts *opts,
                   invoke_result *res)
{
    invoke_engine *e = *ep;
    memset(res, 0, sizeof *res);
    res->attempts_used = 1;
    attempt a;
    memset(&a, 0, sizeof a);
    a.w.started = sr_now_ms();   /* GlobalWait counts from the command */
    char *line = strchr(command, '\n') ? NULL : sr_asprintf("%s\n", command);
    int sent = line && send(e->cmd_fd, line, strlen(line), MSG_NOSIGNAL) == (ssize_t)strlen(line);
    int send_errno = errno, one_line = line != NULL;
    free(line);
    if (opts->running_pid)
        *opts->running_pid = e->pid;
    if (sent)
        watch_child(e->pid, e->prog_fd, opts, &a, 1);
    if (opts->running_pid)
        *opts->running_pid = 0;
    if (sent && a.waiting) {   /* answered: it waits for the next command */
        res->outcome = INVOKE_EXITED;
        res->exit_status = (int)(a.w.exit_bits & 0xffu);
        res->cpuu_bits = a.w.exit_bits;
        take_lists(res, &a.w);
        return 1;
    }
    if (!sent) {   /* a command it cannot take, or it is gone: it ends */
        sr_log(SR_LOG_WARN, opts->who, "%s gave no answer to its command: %s", e->prog,
               one_line ? strerror(send_errno) : "a command is one line");
        invoke_end(e);
        *ep = NULL;
        res->outcome = INVOKE_CRASHED;
        res->cpuu_bits = CPUU_CRASH;
        return 0;
    }
    e->prog_fd = -1;   /* watch_child closed it */
    unanswered(&a, res);
    take_lists(res, &a.w);
    sr_log(SR_LOG_WARN, opts->who, "%s gave no answer to its command: %s", e->prog,
           a.timed_out ? "the watchdog stopped it"
           : a.lost ? "it ended (its pipe closed)"
           : WIFSIGNALED(a.status) ? "killed by a signal" : "it exited without an \"exit\" line");
    engine_free(e);
    *ep = NULL;
    return 0;
}

pid_t invoke_engine_pid(const invoke_engine *e)
{
    return e->pid;
}

void invoke_engine_fds(const invoke_engine *e, int *prog_fd, int *cmd_fd)
{
    *prog_fd = e->prog_fd;
    *cmd_fd = e->cmd_fd;
}

invoke_engine *invoke_engine_adopt(pid_t pid, int prog_fd, int cmd_fd, const char *prog)
{
    invoke_engine *e = malloc(sizeof *e);
    if (!e)
        return NULL;
    *e = (invoke_engine){ .pid = pid, .prog_fd = prog_fd, .cmd_fd = cmd_fd, .prog = sr_strdup(prog) };
    return e;
}

void invoke_engine_drop(invoke_engine *e)
{
    if (e)
        engine_free(e);
}

void invoke_end(invoke_engine *e)
{
    if (!e)
        return;
    close(e->cmd_fd);   /* EOF: the engine ends by itself */
    e->cmd_fd = -1;
    long end = sr_now_ms() + 2000;
    for (;;) {
        pid_t w = waitpid(e->pid, NULL, WNOHANG);
        if (w == e->pid || (w < 0 && errno == ECHILD && pipe_closed(e->prog_fd)))
            break;
        if (sr_now_ms() >= end) {
            stop_group(e->pid, 2000);
            break;
        }
        usleep(10000);
    }
    engine_free(e);
}
