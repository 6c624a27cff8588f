/* stats.c — counters benchmarks and tests read from GET /_sim/stats:
 * requests per operation, in flight, bytes, connections, HTTP statuses and
 * the dependent round trips per mailbox (the longest chain of requests for
 * one mailbox where each started after the previous one ended). */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OPS 128
#define MAX_STATUS 32
#define MAX_EVENTS 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* EXSIM_REQUEST_LOG=FILE: one line per request with its mailbox and chain
 * step, so a test or a person can see where a mailbox's round trips go. */
static FILE *req_log;
static struct {
    long total, in_flight, max_in_flight, connections;
    unsigned long long bytes_in, bytes_out;
    struct { char name[64]; long n; } ops[MAX_OPS];
    int n_ops;
    struct { int status; long n; } status[MAX_STATUS];
    int n_status;
    struct { char name[32]; long n; } events[MAX_EVENTS];
    int n_events;
    /* Every mailbox that ever had a request: a fleet bench counts 10,000 rooms
     * and their referenced users, so this grows (it was capped at 4,096 and
     * silently dropped the rest), and a hash index keeps the per-request
     * lookup, made under the lock every request takes, off a linear scan. */
    struct mbx_count { char *smtp; long requests, chain; int64_t last_end; } *mbx;
    int n_mbx, cap_mbx;
    int *slot;          /* open addressing: index + 1 into mbx, 0 = empty */
    size_t n_slot;      /* a power of two, at least twice n_mbx */
} st;

int64_t exsim_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void exsim_stats_init(void)
{
    const char *f = getenv("EXSIM_REQUEST_LOG");
    if (f && *f && !(req_log = fopen(f, "a")))
        fprintf(stderr, "exsim: EXSIM_REQUEST_LOG %s: cannot open, no request log\n", f);
    if (req_log)
        setvbuf(req_log, NULL, _IOLBF, 0);
    exsim_stats_reset();
}

void exsim_stats_reset(void)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < st.n_mbx; i++)
        free(st.mbx[i].smtp);
    free(st.mbx);
    free(st.slot);
    long in_flight = st.in_flight;
    memset(&st, 0, sizeof st);
    st.in_flight = in_flight;       /* requests running now still finish */
    pthread_mutex_unlock(&lock);
}

void exsim_stats_connection(void)
{
    pthread_mutex_lock(&lock);
    st.connections++;
    pthread_mutex_unlock(&lock);
}

void exsim_stats_begin(void)
{
    pthread_mutex_lock(&lock);
    if (++st.in_flight > st.max_in_flight)
        st.max_in_flight = st.in_flight;
    pthread_mutex_unlock(&lock);
}

/* Callers hold the lock. */
static void count_event(const char *what)
{
    int i;
    for (i = 0; i < st.n_events; i++)
        if (!strcmp(st.events[i].name, what))
            break;
    if (i == st.n_events && st.n_events < MAX_EVENTS)
        snprintf(st.events[st.n_events++].name, sizeof st.events[0].name, "%s", what);
    if (i < st.n_events)
        st.events[i].n++;
}

void exsim_stats_count(const char *what)
{
    pthread_mutex_lock(&lock);
    count_event(what);
    pthread_mutex_unlock(&lock);
}

static void count_op(const char *op)
{
    int i;
    for (i = 0; i < st.n_ops; i++)
        if (!strcmp(st.ops[i].name, op))
            break;
    if (i == st.n_ops && st.n_ops < MAX_OPS)
        snprintf(st.ops[st.n_ops++].name, sizeof st.ops[0].name, "%s", op);
    if (i < st.n_ops)
        st.ops[i].n++;
}

static void count_status(int status)
{
    int i;
    for (i = 0; i < st.n_status; i++)
        if (st.status[i].status == status)
            break;
    if (i == st.n_status && st.n_status < MAX_STATUS)
        st.status[st.n_status++].status = status;
    if (i < st.n_status)
        st.status[i].n++;
}

/* Case-insensitive FNV-1a: addresses are matched as sr_streq_ci does. */
static size_t hash_ci(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        h = (h ^ (unsigned char)(c >= 'A' && c <= 'Z' ? c + 32 : c)) * 1099511628211u;
    }
    return h;
}

/* The slot of smtp in the index: its own, or the empty one where it goes. */
static size_t mbx_slot(const char *smtp)
{
    size_t m = st.n_slot - 1, i = hash_ci(smtp) & m;
    while (st.slot[i] && !sr_streq_ci(st.mbx[st.slot[i] - 1].smtp, smtp))
        i = (i + 1) & m;
    return i;
}

/* Room for one more mailbox (array and index); -1 when out of memory. */
static int mbx_grow(void)
{
    if (st.n_mbx == st.cap_mbx) {
        int cap = st.cap_mbx ? st.cap_mbx * 2 : 256;
        struct mbx_count *p = realloc(st.mbx, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        st.mbx = p;
        st.cap_mbx = cap;
    }
    if ((size_t)(st.n_mbx + 1) * 2 > st.n_slot) {
        size_t n = st.n_slot ? st.n_slot * 2 : 512;
        int *slot = calloc(n, sizeof *slot);
        if (!slot)
            return -1;
        free(st.slot);
        st.slot = slot;
        st.n_slot = n;
        for (int k = 0; k < st.n_mbx; k++)
            st.slot[mbx_slot(st.mbx[k].smtp)] = k + 1;
    }
    return 0;
}

/* A request extends its mailbox's chain only when it started after the
 * latest end seen for that mailbox: concurrent requests share one step. */
static void count_mailbox(const char *smtp, const char *op, const char *detail, int64_t start,
                          int64_t end)
{
    size_t s = st.n_slot ? mbx_slot(smtp) : 0;
    int i;
    if (st.n_slot && st.slot[s]) {
        i = st.slot[s] - 1;
    } else {
        char *copy = strdup(smtp);
        if (!copy || mbx_grow() != 0) {
            free(copy);
            count_event("uncounted_mailbox");   /* out of memory: visible, not silent */
            return;
        }
        i = st.n_mbx++;
        st.mbx[i] = (struct mbx_count){ .smtp = copy };
        st.slot[mbx_slot(copy)] = i + 1;
    }
    st.mbx[i].requests++;
    if (st.mbx[i].chain == 0 || start >= st.mbx[i].last_end)
        st.mbx[i].chain++;
    if (end > st.mbx[i].last_end)
        st.mbx[i].last_end = end;
    if (req_log)   /* mailbox, chain step, operation, start and end (µs), "\tdetail" */
        fprintf(req_log, "%s\t%ld\t%s\t%lld\t%lld%s\n", smtp, st.mbx[i].chain, op,
                (long long)start, (long long)end, detail);
}

void exsim_stats_end(const char *op, const char *mailbox, int status,
                     int64_t start_us, int64_t end_us, size_t in, size_t out)
{
    pthread_mutex_lock(&lock);
    if (st.in_flight > 0)
        st.in_flight--;
    st.total++;
    st.bytes_in += in;
    st.bytes_out += out;
    /* "Op\tdetail": the counters take the operation, the log both */
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)strcspn(op && *op ? op : "(none)", "\t"),
             op && *op ? op : "(none)");
    count_op(name);
    count_status(status);
    if (mailbox && *mailbox)
        count_mailbox(mailbox, name, op ? op + strlen(name) : "", start_us, end_us);
    pthread_mutex_unlock(&lock);
}

/* Append to a growing buffer; returns -1 on OOM. */
typedef struct sbuf { char *p; size_t len, cap; } sbuf;

static int sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return 0;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -1;
        b->p = p;
        b->cap = cap;
    }
}

/* Names are operation names and SMTP addresses: escape the JSON specials. */
static void sb_json_str(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            sb_printf(b, "\\%c", c);
        else if (c < 0x20)
            sb_printf(b, "\\u%04x", c);
        else
            sb_printf(b, "%c", c);
    }
    sb_printf(b, "\"");
}

char *exsim_stats_json(size_t *len)
{
    sbuf b = { 0 };
    pthread_mutex_lock(&lock);
    sb_printf(&b, "{\"requests_total\":%ld,\"in_flight\":%ld,\"max_in_flight\":%ld,"
              "\"connections\":%ld,\"bytes_in\":%llu,\"bytes_out\":%llu,\"requests\":{",
              st.total, st.in_flight, st.max_in_flight, st.connections, st.bytes_in, st.bytes_out);
    for (int i = 0; i < st.n_ops; i++) {
        sb_printf(&b, "%s", i ? "," : "");
        sb_json_str(&b, st.ops[i].name);
        sb_printf(&b, ":%ld", st.ops[i].n);
    }
    sb_printf(&b, "},\"http_status\":{");
    for (int i = 0; i < st.n_status; i++)
        sb_printf(&b, "%s\"%d\":%ld", i ? "," : "", st.status[i].status, st.status[i].n);
    sb_printf(&b, "},\"events\":{");
    for (int i = 0; i < st.n_events; i++) {
        sb_printf(&b, "%s", i ? "," : "");
        sb_json_str(&b, st.events[i].name);
        sb_printf(&b, ":%ld", st.events[i].n);
    }
    long max_chain = 0;
    sb_printf(&b, "},\"mailboxes\":{");
    for (int i = 0; i < st.n_mbx; i++) {
        sb_printf(&b, "%s", i ? "," : "");
        sb_json_str(&b, st.mbx[i].smtp);
        sb_printf(&b, ":{\"requests\":%ld,\"round_trips\":%ld}", st.mbx[i].requests, st.mbx[i].chain);
        if (st.mbx[i].chain > max_chain)
            max_chain = st.mbx[i].chain;
    }
    sb_printf(&b, "},\"max_round_trips\":%ld}\n", max_chain);
    pthread_mutex_unlock(&lock);
    if (len)
        *len = b.p ? b.len : 0;
    return b.p;
}
