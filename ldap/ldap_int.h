/* ldap_int.h — private to ldap/: the handle and helpers shared by its files. */
#ifndef SR_LDAP_INT_H
#define SR_LDAP_INT_H

#include <ldap.h>
#include <pthread.h>

#include "ldap/ldap_dir.h"

/* A string → int map (open addressing), keys owned by the map. */
typedef struct strmap {
    char **keys;
    int *vals;
    size_t cap, used;
} strmap;

int strmap_get(const strmap *m, const char *key);          /* -1 when absent */
int strmap_put(strmap *m, const char *key, int val);       /* 0 ok, -1 OOM */
void strmap_free(strmap *m);

/* One cached answer for a normalised key ("smtp:a@b" / "x500:/o=..."). */
typedef struct cache_ent {
    ldapdir_status status;
    int answered;            /* status is final for this run */
    int pending;             /* part of the batch being searched */
    unsigned matches;
    int rcpt, rcpt2;         /* first two objects carrying the key (-1: none) */
} cache_ent;

struct ldapdir {
    LDAP *ld;
    char *dc;                /* as given, for messages */
    char *uri;
    char *base, *config_base, *mapping_attr;
    int op_timeout_ms, page_size, max_pages, batch_size;
    int connect_timeout_ms;
    ldap_conncb conncb;      /* tracks the socket (LDAP_OPT_CONNECT_CB) */
    /* Connect watchdog: libldap's LDAPS handshake ignores the network timeout
     * (2.5.13 spins on EAGAIN), so a thread shuts the socket down at the deadline. */
    pthread_mutex_t wd_mu;
    pthread_cond_t wd_cv;
    int conn_fd;             /* socket being connected, -1 when none */
    int wd_done, wd_fired;
    unsigned long searches;
    int broken;              /* connection lost: every later call fails */
    /* the options it was opened with, for a reconnect: strings are the
     * handle's copies (owned[]), the password is never kept */
    ldapdir_opts o;
    char *owned[6];

    strmap keymap;           /* normalised key → index in cache */
    cache_ent *cache;
    size_t ncache, capcache;
    strmap dnmap;            /* lower-cased DN → index in rcpts */
    ldapdir_recipient **rcpts;
    size_t nrcpts, caprcpts;
};

/* Map a libldap result code to our code, with a message naming the DC. */
sr_code ldapdir__ldap_err(ldapdir *d, int rc, const char *what, sr_err *err);
void ldapdir__recipients_free(ldapdir *d);
/* Connect d again in place after pausing attempt × reconnect_pause_ms, with
 * the password from opts.password_again. */
sr_code ldapdir__reconnect(ldapdir *d, int attempt, sr_err *err);

#endif
