/* util/codes.h — the spec's numeric codes, in one place: the
 * ClientProfileUpdatingUtility exit bits ("ClientProfileUpdatingUtility.exe
 * Exit Codes"), the return codes written to its CSV file ("CPUU Return
 * Codes") and the Switch Resource Mailboxes exit bits ("SwitchResMB Exit
 * Codes").  Identifiers follow the spec's names (CSV codes: CPUU_RC_ plus the
 * name without its PROFILE_ prefix).
 *
 * Only the values live here.  Which outcome gives which code is decided in
 * one place per program: cpuu/csv.c (CSV codes and CPUU bits) and resmb's
 * report (SwitchResMB bits); other modules return sr_code and never a spec
 * code.  Depends on nothing; codes.c holds the bits' names for log lines.
 * Ownership: sr_cpuu_bits_describe writes into the caller's buffer. */
#ifndef SR_CODES_H
#define SR_CODES_H

#include <stddef.h>

/* ---- ClientProfileUpdatingUtility exit bits (a bitmask; 0 alone = cannot start) */
enum {
    CPUU_CANNOT_START = 0,
    CPUU_SUCCESS = 1,
    CPUU_NO_SWITCH_MSG = 2,
    CPUU_SWITCH_ERR = 4,
    CPUU_USER_ABORT = 8,
    CPUU_GLOBAL_ERR = 16,
    CPUU_CRASH = 32,
    CPUU_FAILED_TO_WRITE_LOG = 64,
    CPUU_FAILED_TO_CREATE_TMP_DIR = 128,
    CPUU_FAILED_TO_COPY_LOCALLOG_TO_REMOTE_SHARE = 256,
    CPUU_INVALID_SWITCH_MSG = 512,
};
/* How many bits the spec defines (CPUU_SUCCESS .. CPUU_INVALID_SWITCH_MSG). */
#define CPUU_EXIT_NBITS 10

/* "CPUU_SUCCESS|CPUU_NO_SWITCH_MSG" ("CPUU_CANNOT_START" for 0; unknown bits
 * as "0x..."), truncated to fit buf (n > 0).  Returns buf. */
char *sr_cpuu_bits_describe(unsigned bits, char *buf, size_t n);

/* ---- CPUU CSV return codes: "<profile>\t<current>\t<previous>" ------------- */
typedef enum {
    CPUU_RC_WAS_NOT_PROCESSED = 0,
    CPUU_RC_IS_BACKUP = 1,
    CPUU_RC_ALREADY_UPDATED = 2,
    CPUU_RC_BACKUP_NOT_FOUND = 3,
    CPUU_RC_NOT_RESOLVED = 4,
    CPUU_RC_NOT_EXCHANGE_SERVICE = 5,
    CPUU_RC_IS_OFFLINE = 6,
    CPUU_RC_HAS_NO_SERVER = 7,          /* the spec spells it PROFILE_HAS_NO_SEREVER */
    CPUU_RC_UNEXPECTED_SERVICES = 8,
    CPUU_RC_FAILED_TO_CREATE_BACKUP = 9,
    CPUU_RC_MODIFYING_OK = 10,
    CPUU_RC_MODIFYING_FAILED = 11,
    CPUU_RC_RESTORE_OK = 12,
    CPUU_RC_RESTORE_FAILED = 13,
    CPUU_RC_CLEANUP_OK = 14,
    CPUU_RC_CLEANUP_FAILED = 15,
    CPUU_RC_CLEANUP_CANCELED = 16,
    CPUU_RC_IS_UNABLE_OPEN_DEFSTORE = 17,
    CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE = 18,
    CPUU_RC_HAS_UNSUPPORTED_AUTHENTICATION = 19,
    CPUU_RC_HAS_CFG_UI_LOCK = 20,
    CPUU_RC_IS_OFFLINE_AND_RC = 21,
    CPUU_RC_NOT_FREESPACE_FOR_BACKUPOST = 22,
    CPUU_RC_MORE_THAN_ONE_ACCOUNT_IS_ALLOWED_TO_SWITCH = 23,
    CPUU_RC_NO_ACCOUNT_IS_ALLOWED_TO_SWITCH = 24,
    CPUU_RC__MAX                        /* append new codes above; cpuu/csv.c names each */
} cpuu_rc;

/* ---- SwitchResMB exit bits (a bitmask; 0 = processing successfully completed) */
enum {
    RESMB_EXIT_OK = 0,
    RESMB_EXIT_FAILED = 1,          /* processing failed with errors */
    RESMB_EXIT_CMDLINE = 2,         /* incorrect command line parameters */
    RESMB_EXIT_INI = 4,             /* incorrect parameters in the INI file */
    RESMB_EXIT_ONE_PROFILE = 8,     /* unable to create one profile */
    RESMB_EXIT_ALL_PROFILES = 16,   /* unable to create all profiles */
    RESMB_EXIT_CPUU_CMDLINE = 32,   /* incorrect CPUU command line */
    RESMB_EXIT_CPUU_START = 64,     /* unable to start CPUU for updating */
    RESMB_EXIT_CPUU_CLEANUP = 128,  /* unable to start CPUU for cleanup */
};

#endif
