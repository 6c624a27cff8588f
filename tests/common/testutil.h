/* testutil.h — helpers for tests that start real servers on loopback.
 * Every wait is bounded by time; every server is stopped by its PID. */
#ifndef SR_TESTUTIL_H
#define SR_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* A free TCP port on 127.0.0.1 (bound then released; 0 on failure). */
int tu_free_port(void);
/* Wait until 127.0.0.1:port accepts connections; 0 when up, -1 after timeout_ms. */
int tu_wait_port(int port, int timeout_ms);
/* Start argv[0] (PATH lookup) with stdout/stderr to log_path (NULL → inherit);
 * returns the child's PID or -1.  The child gets SIGTERM when the test
 * process dies (PR_SET_PDEATHSIG): no server outlives a killed test. */
pid_t tu_spawn(char *const argv[], const char *log_path);
/* SIGTERM, wait up to timeout_ms, then SIGKILL; reaps the child.  Returns its
 * wait status, or -1. */
int tu_stop(pid_t pid, int timeout_ms);
/* Run a command to completion (no shell), bounded by timeout_ms; returns the
 * exit status, or -1 on timeout/spawn failure.  Output to log_path (NULL → inherit). */
int tu_run(char *const argv[], const char *log_path, int timeout_ms);
/* A fresh private temporary directory (mode 0700); caller frees the string. */
char *tu_mkdtemp(const char *tag);
/* rm -rf dir (bounded; refuses paths outside /tmp or $TMPDIR). */
void tu_rm_rf(const char *dir);
/* Project root ($SR_ROOT or "."), bin dir ($SR_BIN or "bin"), shared dir
 * ($SHARED_DIR or "../shared").  Static strings. */
const char *tu_root(void);
const char *tu_bin(void);
const char *tu_shared(void);
/* Whether a file exists. */
int tu_exists(const char *path);

/* Run a project script (path relative to tu_root()) with Debian's
 * /usr/bin/python3 and args (NULL-terminated, at most 16); bounded 30 s.
 * Returns its exit status, -1 on timeout. */
int tu_py(const char *script, const char *const *args);
/* The same with stdout and stderr into out_path (NULL → inherit), bounded 60 s:
 * for the helpers under tests/py/ that print what a test expects. */
int tu_py_to(const char *script, const char *const *args, const char *out_path);

/* Skips.  A skipped case is never a pass: tests/run_tests.sh counts each
 * printed line as one skipped CUnit test (not passed).
 * tu_skip: something CI has was missing here (../shared, a lab that did not
 * start, a binary not built); `make test` (SR_SKIP_FAILS=1) counts it as a
 * failure.  Prints "SKIP: <current test>: <why>".
 * tu_na: the case does not apply to the lab at hand, and the other lab's run
 * covers it; counted as skipped only.  Prints "N/A: <current test>: <why>".
 * One line per CUnit test (and kind): later calls add an indented note. */
void tu_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tu_na(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A directory lab (tests/lab/LAB-CONTRACT.md: slapd-lab.sh, samba-lab.sh),
 * started by a test and stopped by its script. */
enum { TU_LAB_MAX_ENV = 64 };
typedef struct tu_lab {
    char script[1024];                  /* the lab script */
    char dir[1024];                     /* its DIR: lab.env, password, CA */
    char *keys[TU_LAB_MAX_ENV], *vals[TU_LAB_MAX_ENV];   /* lab.env, owned */
    int n_env;
    int up;                             /* started and not yet stopped */
} tu_lab;
/* Start script (NULL: $LAB_SCRIPT, else tests/lab/slapd-lab.sh) on org into
 * dir (created, mode 0700), bounded by timeout_ms, output into log_path (NULL
 * → inherit; printed when the start fails), then read dir/lab.env.  script
 * and dir are copied into l first (a signal handler may use them).  0 on
 * success; on failure nothing is left running (the script's contract). */
int tu_lab_start(tu_lab *l, const char *script, const char *dir, const char *org,
                 const char *log_path, int timeout_ms);
/* The value of key in lab.env; "" when absent (never NULL). */
const char *tu_lab_get(const tu_lab *l, const char *key);
/* Stop it by its script (bounded 60 s); idempotent.  lab.env stays readable
 * (a test may stop the lab to see an outage named) until tu_lab_free. */
void tu_lab_stop(tu_lab *l);
/* tu_lab_stop, then free lab.env; idempotent. */
void tu_lab_free(tu_lab *l);

/* A running Exchange simulator ($SR_BIN/exsim), started by a test. */
typedef struct tu_exsim {
    pid_t pid;
    int port;
    char url[128];          /* http(s)://127.0.0.1:port */
} tu_exsim;
/* Start exsim on a free loopback port with seed, the EWS schemas from
 * tu_shared() and --validate-responses, plus extra arguments (NULL-terminated,
 * at most 12; "--tls-cert" among them makes the URL https).  Port file and
 * log: dir/name.port, dir/name.log.  Waits at most 10 s.  0 on success. */
int tu_exsim_start(tu_exsim *x, const char *dir, const char *name, const char *seed,
                   const char *const *extra);
/* Stop it by its PID (bounded); NULL-safe, idempotent. */
void tu_exsim_stop(tu_exsim *x);

/* GET (post = 0) or empty-body POST of base_url + path (an exsim /_sim
 * endpoint); bounded 10 s, no proxy.  Heap body (caller frees) or NULL. */
char *tu_http(const char *base_url, const char *path, int post);

/* One mailbox of an exsim seed (tests/exsim/SEED-FORMAT.md). */
typedef struct tu_seed_mbx {
    char smtp[128], legacy_dn[256], guid[64], redirect[128], kind[16];
} tu_seed_mbx;
/* Read a seed: the first account's name and password into user/password
 * (sizes ul/pl) and up to max mailboxes into m.  Returns the number of
 * mailboxes, -1 when the file has no account. */
int tu_seed_read(const char *seed, char *user, size_t ul, char *password, size_t pl,
                 tu_seed_mbx *m, int max);

#endif
