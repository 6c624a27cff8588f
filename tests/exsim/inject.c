/* inject.c — latency, throttling, HTTP errors, dropped connections and slow
 * bodies, decided per request; settable on the command line and at run time
 * through POST /_sim/config?key=value&... */
#include "tests/exsim/server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static exsim_inject cur;
static long counter;           /* counted requests since start/config/reset */
static unsigned rng_state;

/* Per-key in-flight counts for throttling: EWS counts per account, Graph
 * per mailbox (keys are few). */
#define MAX_TRACKED 256
typedef struct flight { const void *key; int in_flight; } flight;
static flight flights[MAX_TRACKED], graph_flights[MAX_TRACKED];

void exsim_inject_init(const exsim_inject *initial)
{
    pthread_mutex_lock(&lock);
    cur = *initial;
    counter = 0;
    rng_state = cur.fail_seed ? cur.fail_seed : 1;
    pthread_mutex_unlock(&lock);
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

int exsim_inject_set(exsim_inject *inj, const char *key, const char *val)
{
    long x;
    if (!strcmp(key, "fail-rate") || !strcmp(key, "fail_rate")) {
        char *end;
        double d = strtod(val, &end);
        if (end == val || *end || d < 0 || d > 1)
            return -1;
        inj->fail_rate = d;
        return 0;
    }
    /* the operation to fail and its code: EWS element names, letters only */
    char *str = !strcmp(key, "fail-op") || !strcmp(key, "fail_op") ? inj->fail_op
              : !strcmp(key, "fail-op-code") || !strcmp(key, "fail_op_code") ? inj->fail_op_code
                                                                             : NULL;
    if (str) {
        size_t cap = str == inj->fail_op ? sizeof inj->fail_op : sizeof inj->fail_op_code;
        size_t n = strlen(val);
        if (n >= cap || strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != n)
            return -1;
        memcpy(str, val, n + 1);
        return 0;
    }
    struct { const char *a, *b; long lo, hi; } keys[] = {
        { "rtt-ms", "rtt_ms", 0, 600000 },
        { "max-concurrency", "max_concurrency", 0, 100000 },
        { "backoff-ms", "backoff_ms", 0, 3600000 },
        { "fail-seed", "fail_seed", 0, 0x7fffffff },
        { "fail-nth", "fail_nth", 0, 0x7fffffff },
        { "fail-status", "fail_status", 400, 599 },
        { "drop-nth", "drop_nth", 0, 0x7fffffff },
        { "slow-body-ms", "slow_body_ms", 0, 600000 },
        { "throttle-next", "throttle_next", 0, 1000000 },
        { "ews-blocked", "ews_blocked", 0, 1 },
        { "graph-concurrency", "graph_concurrency", 0, 100000 },
        { "graph-throttle-next", "graph_throttle_next", 0, 1000000 },
        { "graph-retry-after", "graph_retry_after", 1, 3600 },
        { "graph-batch-throttle-next", "graph_batch_throttle_next", 0, 1000000 },
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(key, keys[i].a) && strcmp(key, keys[i].b))
            continue;
        if (parse_long(val, keys[i].lo, keys[i].hi, &x))
            return -1;
        switch (i) {
        case 0: inj->rtt_ms = (int)x; break;
        case 1: inj->max_concurrency = (int)x; break;
        case 2: inj->backoff_ms = (int)x; break;
        case 3: inj->fail_seed = (unsigned)x; break;
        case 4: inj->fail_nth = x; break;
        case 5: inj->fail_status = (int)x; break;
        case 6: inj->drop_nth = x; break;
        case 7: inj->slow_body_ms = (int)x; break;
        case 8: inj->throttle_next = x; break;
        case 9: inj->ews_blocked = (int)x; break;
        case 10: inj->graph_concurrency = (int)x; break;
        case 11: inj->graph_throttle_next = x; break;
        case 12: inj->graph_retry_after = (int)x; break;
        default: inj->graph_batch_throttle_next = x; break;
        }
        return 0;
    }
    return -1;
}

int exsim_inject_apply(const char *query, char *err, size_t errlen)
{
    pthread_mutex_lock(&lock);
    exsim_inject next = cur;
    pthread_mutex_unlock(&lock);
    char *q = strdup(query ? query : "");
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *save = NULL;
    int rc = 0;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            snprintf(err, errlen, "parameter '%s': expected key=value", kv);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (!strcmp(kv, "reset")) {
            next = (exsim_inject){ .fail_status = 500, .backoff_ms = next.backoff_ms,
                                   .graph_concurrency = EXSIM_GRAPH_CONCURRENCY, .graph_retry_after = 1 };
            continue;
        }
        if (exsim_inject_set(&next, kv, eq + 1)) {
            snprintf(err, errlen, "parameter '%s': bad name or value '%s'", kv, eq + 1);
            rc = -1;
            break;
        }
    }
    free(q);
    if (rc == 0)
        exsim_inject_init(&next);   /* restarts the nth counter and the PRNG */
    return rc;
}

exsim_inject exsim_inject_get(void)
{
    pthread_mutex_lock(&lock);
    exsim_inject c = cur;
    pthread_mutex_unlock(&lock);
    return c;
}

void exsim_inject_reset_counter(void)
{
    pthread_mutex_lock(&lock);
    counter = 0;
    rng_state = cur.fail_seed ? cur.fail_seed : 1;
    pthread_mutex_unlock(&lock);
}

exsim_fate exsim_inject_next(void)
{
    exsim_fate f = { 0 };
    pthread_mutex_lock(&lock);
    long n = ++counter;
    f.rtt_ms = cur.rtt_ms;
    f.slow_body_ms = cur.slow_body_ms;
    f.ews_blocked = cur.ews_blocked;
    if (cur.fail_nth > 0 && n == cur.fail_nth)
        f.fail_status = cur.fail_status ? cur.fail_status : 500;
    if (cur.fail_rate > 0) {
        double r = (double)rand_r(&rng_state) / ((double)RAND_MAX + 1.0);
        if (r < cur.fail_rate)
            f.fail_status = cur.fail_status ? cur.fail_status : 500;
    }
    if (cur.drop_nth > 0 && n == cur.drop_nth)
        f.drop = 1;
    pthread_mutex_unlock(&lock);
    return f;
}

int exsim_inject_take_throttle(void)
{
    pthread_mutex_lock(&lock);
    int hit = cur.throttle_next > 0;
    if (hit)
        cur.throttle_next--;
    pthread_mutex_unlock(&lock);
    return hit;
}

/* Take a slot for key in table unless limit (> 0) slots are taken. */
static int enter(flight *table, const void *key, int limit)
{
    pthread_mutex_lock(&lock);
    int slot = -1, free_slot = -1;
    for (int i = 0; i < MAX_TRACKED; i++) {
        if (table[i].key == key) { slot = i; break; }
        if (!table[i].key && free_slot < 0)
            free_slot = i;
    }
    if (slot < 0)
        slot = free_slot;
    int rc = 0;
    if (slot < 0) {
        rc = 0;                  /* table full: do not throttle */
    } else if (limit > 0 && table[slot].in_flight >= limit) {
        rc = -1;
    } else {
        table[slot].key = key;
        table[slot].in_flight++;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static void leave(flight *table, const void *key)
{
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_TRACKED; i++)
        if (table[i].key == key && table[i].in_flight > 0) {
            table[i].in_flight--;
            break;
        }
    pthread_mutex_unlock(&lock);
}

int exsim_inject_enter(const exsim_account *acct)
{
    return enter(flights, acct, exsim_inject_get().max_concurrency);
}

void exsim_inject_leave(const exsim_account *acct)
{
    leave(flights, acct);
}

int exsim_inject_graph_enter(const void *mailbox)
{
    return enter(graph_flights, mailbox, exsim_inject_get().graph_concurrency);
}

void exsim_inject_graph_leave(const void *mailbox)
{
    leave(graph_flights, mailbox);
}

/* Count down one of the long knobs of cur; 1 when it was positive. */
static int take(long *knob)
{
    pthread_mutex_lock(&lock);
    int hit = *knob > 0;
    if (hit)
        (*knob)--;
    pthread_mutex_unlock(&lock);
    return hit;
}

int exsim_inject_take_graph_throttle(void)
{
    return take(&cur.graph_throttle_next);
}

int exsim_inject_take_graph_batch_throttle(void)
{
    return take(&cur.graph_batch_throttle_next);
}
