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
 * returns the child's PID or -1. */
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

#endif
