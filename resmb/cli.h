/* cli.h — private to resmb/: the pieces of the switchresmb command line
 * that main.c delegates to.  The exit codes (the spec's SwitchResMb bitmask,
 * RESMB_EXIT_*) are in util/codes.h with the engine's codes. */
#ifndef SR_RESMB_CLI_H
#define SR_RESMB_CLI_H

#include <stdio.h>

#include "configs/configs.h"
#include "util/codes.h"

#define RESMB_VERSION "0.1.0-dev"

/* Read a password: from the terminal without echo (the prompt names section
 * sec's DCAccount) when stdin is one, else the first line of stdin.  Returns
 * a secret the caller frees with sr_secret_free(), or NULL with *err set. */
char *resmb_read_password(const char *sec, sr_err *err);

/* `switchresmb [--target-ad] FILE PASSWORD|-`: encrypt into [AD] DCPassword,
 * or with target_ad into [TargetAD] DCPassword (CPUU.ini's passwords:
 * cpuu-config --encrypt).  password_arg is wiped in place (it lives in
 * argv).  Returns an exit code. */
int resmb_encrypt_command(const char *path, char *password_arg, cfg_enc_mode mode, int target_ad);

/* What a run would process, for --check.  cpuu may be NULL. */
void resmb_print_summary(FILE *out, const cfg_resmb *cfg, const cfg_cpuu *cpuu);

/* Exit bits for a failed load. */
int resmb_exit_for_diag(const cfg_diag *d);

#endif
