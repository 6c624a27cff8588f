/* password.c — `switchresmb FILE PASSWORD|-`: the encrypt command.
 * A password on the command line is visible to every local user (ps,
 * /proc/PID/cmdline), so `-` reads it from the terminal or stdin instead. */
#include "resmb/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define PW_MAX 1024

static int read_line(FILE *in, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, in))
        return -1;
    size_t n = strlen(buf);
    if (n && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (n == cap - 1)
        return -2; /* longer than the buffer */
    if (n && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return 0;
}

char *resmb_read_password(const char *sec, sr_err *err)
{
    char buf[PW_MAX + 2];
    int rc, tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "Password for the [%s] DCAccount (not echoed): ", sec);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = 0;
        }
    }
    rc = read_line(stdin, buf, sizeof buf);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    char *pw = NULL;
    if (rc == -1)
        sr_err_set(err, SR_E_USAGE, "no password given on %s", tty ? "the terminal" : "stdin");
    else if (rc == -2)
        sr_err_set(err, SR_E_USAGE, "password longer than %d bytes", PW_MAX);
    else if (!buf[0])
        sr_err_set(err, SR_E_USAGE, "empty password");
    else if (!(pw = sr_strdup(buf)))
        sr_err_set(err, SR_E_NOMEM, "out of memory");
    explicit_bzero(buf, sizeof buf);
    return pw;
}

static void warn_if_readable(const char *path, const char *sec)
{
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        sr_log(SR_LOG_WARN, path,
               "the file is readable by group or others (mode %04o); anyone who can read it and "
               "run this program on this host may decrypt [%s] DCPassword (mode host): chmod 600 it",
               (unsigned)(st.st_mode & 07777), sec);
}

static int exit_for(sr_code c)
{
    if (c == SR_E_USAGE)
        return RESMB_EXIT_CMDLINE;
    if (c == SR_E_CONFIG)
        return RESMB_EXIT_INI;
    return RESMB_EXIT_FAILED;
}

int resmb_encrypt_command(const char *path, char *password_arg, cfg_enc_mode mode, int target_ad)
{
    const char *sec = target_ad ? "TargetAD" : "AD";
    sr_err err;
    sr_err_clear(&err);
    char *plain;
    if (strcmp(password_arg, "-") == 0) {
        plain = resmb_read_password(sec, &err);
    } else {
        plain = sr_strdup(password_arg);
        /* shrink the window in which other users can read it in /proc */
        explicit_bzero(password_arg, strlen(password_arg));
        sr_log(SR_LOG_WARN, NULL,
               "a password given as an argument is visible to other local users (ps, /proc); "
               "prefer `switchresmb FILE -`");
        if (!plain)
            sr_err_set(&err, SR_E_NOMEM, "out of memory");
    }
    if (!plain) {
        sr_log(SR_LOG_ERROR, path, "%s", err.msg);
        return exit_for(err.code);
    }
    char *stored = NULL;
    sr_code rc = cfg_secret_encrypt(plain, mode, &stored, &err);
    sr_secret_free(plain);
    if (rc == SR_OK)
        rc = cfg_set_stored_secret(path, target_ad ? "TargetAD.DCPassword" : "DCPassword", stored,
                                   &err);
    free(stored);
    if (rc != SR_OK) {
        sr_log(SR_LOG_ERROR, NULL, "%s", err.msg);
        return exit_for(rc);
    }
    printf("%s: [%s] DCPassword encrypted (mode %s)\n", path, sec, cfg_enc_mode_name(mode));
    warn_if_readable(path, sec);
    return RESMB_EXIT_OK;
}
