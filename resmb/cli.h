/* cli.h — private to resmb/: the pieces of the switchresmb command line
 * that main.c delegates to.  The exit codes (the spec's SwitchResMb bitmask,
 * RESMB_EXIT_*) are in util/codes.h with the engine's codes. */
#ifndef SR_RESMB_CLI_H
#define SR_RESMB_CLI_H

#include <stdio.h>

#include "configs/configs.h"
#include "util/codes.h"

#define RESMB_VERSION "0.1.0-dev"

/* Read a password: from the terminal without echo when stdin is one, else
 * the first line of stdin.  Returns a secret the caller frees with
 * sr_secret_free(), or NULL with *err set. */
char *resmb_read_password(sr_err *err);

/* `switchresmb [--set KEY] FILE PASSWORD|-`: encrypt into key (DCPassword,
 * or CPUU.ini's Password, PasswordTrg, SMTPPassword).  password_arg is
 * wiped in place (it lives in argv).  Returns an exit code. */
int resmb_encrypt_command(const char *path, const char *key, char *password_arg, cfg_enc_mode mode);

/* What a run would process, for --check.  cpuu may be NULL. */
void resmb_print_summary(FILE *out, const cfg_resmb *cfg, const cfg_cpuu *cpuu);

/* Exit bits for a failed load. */
int resmb_exit_for_diag(const cfg_diag *d);

#endif
