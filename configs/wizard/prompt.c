/* prompt.c — reading answers in a plain terminal: one line per answer, so the
 * wizard works over SSH, in a serial console and from a pseudo-terminal.
 * Secrets are read with ECHO off (termios); the terminal is restored even
 * when the read ends with end of input. */
#include "configs/wizard/wizard.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* Longest answer accepted; a longer line is an input error, not a crash. */
#define WIZ_LINE_MAX 4096

char *wiz_read_line(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0 || n > WIZ_LINE_MAX) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

/* Ctrl-C at a password prompt must not leave the terminal without echo. */
static struct termios g_saved;
static volatile sig_atomic_t g_quiet;

static void restore_and_die(int sig)
{
    if (g_quiet)
        tcsetattr(STDIN_FILENO, TCSANOW, &g_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

char *wiz_read_secret(const char *prompt)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    struct sigaction sa = { .sa_handler = restore_and_die }, prev[3];
    static const int sigs[3] = { SIGINT, SIGTERM, SIGHUP };
    sigemptyset(&sa.sa_mask);
    if (tty) {
        g_saved = old;
        g_quiet = 1;
        for (int i = 0; i < 3; i++)
            sigaction(sigs[i], &sa, &prev[i]);
    }
    /* echo goes off before the prompt shows: whatever is typed after the
     * prompt appeared is never echoed, however fast it comes */
    if (tty) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    fputs(prompt, stdout);
    fflush(stdout);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        g_quiet = 0;
        for (int i = 0; i < 3; i++)
            sigaction(sigs[i], &prev[i], NULL);
        fputc('\n', stdout);   /* the newline the admin typed was not echoed */
    }
    if (n < 0 || n > WIZ_LINE_MAX) {
        sr_secret_free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}
