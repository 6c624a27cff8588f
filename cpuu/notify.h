/* notify.h — private to cpuu/: the administrator notifications of
 * [Admin notification] (spec "Notification Format"), sent over SMTP with
 * libcurl to the relay our extension keys name (docs/cpuu.md "Notifications").
 *
 * Flow: cpuu_run creates one notifier after CPUU.ini is loaded; cpuu_report
 * tells it each update-mode profile result; Profile=current sends at once,
 * Profile=default sends one mail from cpuu_notify_finish after all profiles.
 * A notification never changes the run's exit bits or CSV codes: a send
 * failure is logged (server, SMTP reply, curl's words) and that is all.
 *
 * Ownership: the notifier borrows cfg and copies log_path; free it with
 * cpuu_notify_free before cfg. */
#ifndef CPUU_NOTIFY_H
#define CPUU_NOTIFY_H

#include "configs/configs.h"

typedef struct cpuu_notify cpuu_notify;

/* NULL when CPUU.ini has no [Admin notification] or no SMTPServer (that case
 * logs one warning naming the file:line).  log_path may be NULL. */
cpuu_notify *cpuu_notify_new(const cfg_cpuu *cfg, const char *log_path);
/* One profile's update result (CSV code rc; updated = it got CPUU_SUCCESS).
 * NULL-safe. */
void cpuu_notify_profile(cpuu_notify *n, const char *profile, int rc, int updated);
/* After the last profile: Profile=default sends its one mail.  NULL-safe. */
void cpuu_notify_finish(cpuu_notify *n);
/* NULL-safe. */
void cpuu_notify_free(cpuu_notify *n);

#endif
