/* csv.c — the return-code file (spec "CPUU Return Codes"): one line per
 * profile, "<profile name>\t<current status>\t<previous status>". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpuu/engine.h"

struct cpuu_csv {
    int fd;
    char *path;
};

cpuu_csv *cpuu_csv_open(const char *path, sr_err *err)
{
    cpuu_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = sr_strdup(path))) {
        free(c);
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    c->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (c->fd < 0) {
        sr_err_set(err, SR_E_IO, "%s: cannot open the CSV file: %s", path, strerror(errno));
        free(c->path);
        free(c);
        return NULL;
    }
    return c;
}

sr_code cpuu_csv_write(cpuu_csv *c, const char *profile, int current, int previous, sr_err *err)
{
    char *line = sr_asprintf("%s\t%d\t%d\n", profile, current, previous);
    if (!line)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    size_t n = strlen(line);
    ssize_t w = write(c->fd, line, n);   /* O_APPEND: one write per line, never interleaved */
    free(line);
    if (w != (ssize_t)n)
        return sr_err_set(err, SR_E_IO, "%s: cannot write: %s", c->path,
                          w < 0 ? strerror(errno) : "short write");
    return SR_OK;
}

void cpuu_csv_close(cpuu_csv *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->path);
    free(c);
}

/* ---- the codes and what they add to the exit bitmask (one place) ---------- */
static const char *const rc_names[] = {
    [CPUU_RC_WAS_NOT_PROCESSED] = "PROFILE_WAS_NOT_PROCESSED",
    [CPUU_RC_IS_BACKUP] = "PROFILE_IS_BACKUP",
    [CPUU_RC_ALREADY_UPDATED] = "PROFILE_ALREADY_UPDATED",
    [CPUU_RC_BACKUP_NOT_FOUND] = "PROFILE_BACKUP_NOT_FOUND",
    [CPUU_RC_NOT_RESOLVED] = "PROFILE_NOT_RESOLVED",
    [CPUU_RC_NOT_EXCHANGE_SERVICE] = "PROFILE_NOT_EXCHANGE_SERVICE",
    [CPUU_RC_IS_OFFLINE] = "PROFILE_IS_OFFLINE",
    [CPUU_RC_HAS_NO_SERVER] = "PROFILE_HAS_NO_SEREVER",
    [CPUU_RC_UNEXPECTED_SERVICES] = "PROFILE_UNEXPECTED_SERVICES",
    [CPUU_RC_FAILED_TO_CREATE_BACKUP] = "PROFILE_FAILED_TO_CREATE_BACKUP",
    [CPUU_RC_MODIFYING_OK] = "PROFILE_MODIFYING_OK",
    [CPUU_RC_MODIFYING_FAILED] = "PROFILE_MODIFYING_FAILED",
    [CPUU_RC_RESTORE_OK] = "PROFILE_RESTORE_OK",
    [CPUU_RC_RESTORE_FAILED] = "PROFILE_RESTORE_FAILED",
    [CPUU_RC_CLEANUP_OK] = "PROFILE_CLEANUP_OK",
    [CPUU_RC_CLEANUP_FAILED] = "PROFILE_CLEANUP_FAILED",
    [CPUU_RC_CLEANUP_CANCELED] = "PROFILE_CLEANUP_CANCELED",
    [CPUU_RC_IS_UNABLE_OPEN_DEFSTORE] = "PROFILE_IS_UNABLE_OPEN_DEFSTORE",
    [CPUU_RC_IS_UNABLE_OPEN_MAILBOX_STORE] = "PROFILE_IS_UNABLE_OPEN_MAILBOX_STORE",
    [CPUU_RC_HAS_UNSUPPORTED_AUTHENTICATION] = "PROFILE_HAS_UNSUPPORTED_AUTHENTICATION",
    [CPUU_RC_HAS_CFG_UI_LOCK] = "PROFILE_HAS_CFG_UI_LOCK",
    [CPUU_RC_IS_OFFLINE_AND_RC] = "PROFILE_IS_OFFLINE_AND_RC",
    [CPUU_RC_NOT_FREESPACE_FOR_BACKUPOST] = "PROFILE_NOT_FREESPACE_FOR_BACKUPOST",
    [CPUU_RC_MORE_THAN_ONE_ACCOUNT_IS_ALLOWED_TO_SWITCH] = "PROFILE_MORE_THAN_ONE_ACCOUNT_IS_ALLOWED_TO_SWITCH",
    [CPUU_RC_NO_ACCOUNT_IS_ALLOWED_TO_SWITCH] = "PROFILE_NO_ACCOUNT_IS_ALLOWED_TO_SWITCH",
};
/* Sized by its initialisers, so a code appended to cpuu_rc without a name
 * here makes the table one short and stops the build. */
_Static_assert(sizeof rc_names / sizeof rc_names[0] == CPUU_RC__MAX, "one name per code");

const char *cpuu_rc_name(int rc)
{
    return rc >= 0 && rc < CPUU_RC__MAX && rc_names[rc] ? rc_names[rc] : "?";
}

/* The switch message's outcome (mapi_switchmsg_from_extprops, mapi_session_open_*):
 * none is CPUU_NO_SWITCH_MSG, an unreadable one CPUU_INVALID_SWITCH_MSG. */
unsigned cpuu_switchmsg_bits(sr_code sm_code)
{
    if (sm_code == SR_OK)
        return 0;
    return sm_code == SR_E_NOTFOUND ? CPUU_NO_SWITCH_MSG : CPUU_INVALID_SWITCH_MSG;
}

/* The spec's "Exit Codes" per mode: success codes give CPUU_SUCCESS, codes
 * that are neither success nor a deliberate skip give the mode's error bit,
 * plus extra's CPUU_GLOBAL_ERR (EWS blocked in the target tenant: no profile
 * of the run can be updated). */
unsigned cpuu_rc_bits(cpuu_mode mode, int rc, unsigned extra)
{
    switch (rc) {
    case CPUU_RC_MODIFYING_OK:
    case CPUU_RC_RESTORE_OK:
    case CPUU_RC_CLEANUP_OK:
        return CPUU_SUCCESS;
    case CPUU_RC_WAS_NOT_PROCESSED:      /* no/invalid switch message, dry run */
        return extra;
    case CPUU_RC_IS_BACKUP:          /* deliberate skips: nothing went wrong */
    case CPUU_RC_ALREADY_UPDATED:
        return 0;
    case CPUU_RC_CLEANUP_CANCELED:
        return CPUU_USER_ABORT;
    default:
        return (mode == CPUU_MODE_CLEANUP ? CPUU_GLOBAL_ERR : CPUU_SWITCH_ERR) | (extra & CPUU_GLOBAL_ERR);
    }
}
