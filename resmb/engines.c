/* engines.c — engines kept between mailboxes (run_int.h, docs/cpuu.md "One
 * engine for many mailboxes").  A worker is a process forked for one
 * mailbox, so an engine that is to serve the next mailbox must outlive the
 * worker that started it: the worker hands it back to the pool (its process
 * id and two descriptors, passed with SCM_RIGHTS on a socket), and the pool
 * gives it to the next worker it forks, which inherits the descriptors. */
#include "resmb/run_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpuu_invoke/cpuu_invoke.h"

/* What travels with the two descriptors. */
typedef struct handed {
    pid_t pid;
    unsigned served;
} handed;

sr_code resmb_engines_init(resmb_engines *k, size_t cap, sr_err *err)
{
    memset(k, 0, sizeof *k);
    k->rfd = k->wfd = -1;   /* without them (idle NULL) every call does nothing */
    int fd[2];
    /* packets: one engine per message, its descriptors attached to it */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fd) != 0)
        return sr_err_set(err, SR_E_IO, "no socket for the kept engines: %s", strerror(errno));
    k->rfd = fd[0];
    k->wfd = fd[1];
    fcntl(k->rfd, F_SETFL, O_NONBLOCK);
    k->cap = cap;
    if (!(k->idle = calloc(cap ? cap : 1, sizeof *k->idle))) {
        close(fd[0]);
        close(fd[1]);
        k->rfd = k->wfd = -1;
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    return SR_OK;
}

static void close_kept(const resmb_kept_engine *e)
{
    close(e->prog_fd);
    close(e->cmd_fd);
}

void resmb_engines_free(resmb_engines *k)
{
    resmb_engines_collect(k);
    /* our descriptors are the last: the engine reads EOF and ends */
    for (size_t i = 0; i < k->n; i++)
        close_kept(&k->idle[i]);
    if (k->idle) {
        close(k->rfd);
        close(k->wfd);
    }
    free(k->idle);
    memset(k, 0, sizeof *k);
    k->rfd = k->wfd = -1;
}

void resmb_engines_collect(resmb_engines *k)
{
    while (k->idle) {
        handed h;
        struct iovec iov = { .iov_base = &h, .iov_len = sizeof h };
        union { struct cmsghdr c; char buf[CMSG_SPACE(2 * sizeof(int))]; } u;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                              .msg_control = u.buf, .msg_controllen = sizeof u.buf };
        ssize_t n = recvmsg(k->rfd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(2 * sizeof(int)))
            continue;   /* a worker sends nothing else */
        resmb_kept_engine e = { .pid = h.pid, .served = h.served };
        memcpy(&e.prog_fd, CMSG_DATA(c), sizeof(int));
        memcpy(&e.cmd_fd, CMSG_DATA(c) + sizeof(int), sizeof(int));
        if (n != (ssize_t)sizeof h || k->n >= k->cap)
            close_kept(&e);   /* one engine per worker: no room means a defect; it ends */
        else
            k->idle[k->n++] = e;
    }
}

int resmb_engines_take(resmb_engines *k, resmb_kept_engine *out)
{
    resmb_engines_collect(k);
    if (!k->n)
        return 0;
    *out = k->idle[--k->n];
    return 1;
}

void resmb_engines_put_back(resmb_engines *k, const resmb_kept_engine *e)
{
    if (k->n < k->cap)
        k->idle[k->n++] = *e;
    else
        close_kept(e);
}

void resmb_engines_forked(const resmb_kept_engine *taken)
{
    close_kept(taken);   /* the worker's now: its closing must reach the engine */
}

void resmb_engines_in_worker(resmb_engines *k)
{
    /* another worker's engine must see EOF when that worker lets it go */
    for (size_t i = 0; i < k->n; i++)
        close_kept(&k->idle[i]);
    k->n = 0;
    if (k->rfd >= 0)
        close(k->rfd);
    k->rfd = -1;
}

int resmb_engines_give_back(const resmb_engines *k, struct invoke_engine *e, unsigned served)
{
    if (!k->idle)
        return 0;
    handed h = { .pid = invoke_engine_pid(e), .served = served };
    int fds[2];
    invoke_engine_fds(e, &fds[0], &fds[1]);
    struct iovec iov = { .iov_base = &h, .iov_len = sizeof h };
    union { struct cmsghdr c; char buf[CMSG_SPACE(2 * sizeof(int))]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), fds, sizeof fds);
    return sendmsg(k->wfd, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof h;
}
