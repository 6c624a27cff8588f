/* modes.c — which profiles each mode handles and the per-profile checks that
 * need no network: update (spec codes 1, 2, 5, 6, 7, 8, 23, 24 decided
 * here, the rest in engine.c), rollback (12/13, 3 without a backup) and
 * cleanup (14/15).  Every profile ends in exactly one CSV line. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpuu/engine.h"
#include "cpuu/notify.h"

cpuu_mode cpuu_opts_mode(const cpuu_opts *o)
{
    if (o->cleanup)
        return CPUU_MODE_CLEANUP;
    if (o->undo || o->undo_all || o->undo_default_profile)
        return CPUU_MODE_ROLLBACK;
    return CPUU_MODE_UPDATE;
}

/* ---- per-profile state beside the store ------------------------------------ */
static char *escape(const char *name)
{
    size_t n = strlen(name);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '-' || (*p == '.' && p != (const unsigned char *)name))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    *o = '\0';
    return out;
}

static char *state_path(const cpuu_run_ctx *r, const char *profile, const char *suffix)
{
    char *e = escape(profile);
    char *p = e ? sr_asprintf("%s/backups/%s%s", mapi_pstore_dir(r->store), e, suffix) : NULL;
    free(e);
    return p;
}

char *cpuu_backup_dir(const cpuu_run_ctx *r, const char *profile)
{
    return state_path(r, profile, "");
}

int cpuu_backup_dir_has(const char *bdir, const char *feature)
{
    DIR *d = opendir(bdir);
    if (!d)
        return 0;
    size_t n = strlen(feature);
    int hit = 0;
    struct dirent *de;
    while (!hit && (de = readdir(d)) != NULL)
        hit = !strncmp(de->d_name, feature, n) && de->d_name[n] == '.' && de->d_name[n + 1] &&
              !strstr(de->d_name, ".tmp");
    closedir(d);
    return hit;
}

int cpuu_status_prev(const cpuu_run_ctx *r, const char *profile)
{
    char *p = state_path(r, profile, ".status");
    sr_err e;
    char *t = p ? sr_read_file(p, 64, NULL, &e) : NULL;
    int v = t ? atoi(t) : CPUU_RC_WAS_NOT_PROCESSED;
    free(t);
    free(p);
    return v >= 0 && v < CPUU_RC__MAX ? v : CPUU_RC_WAS_NOT_PROCESSED;
}

void cpuu_status_save(const cpuu_run_ctx *r, const char *profile, int rc)
{
    char *p = state_path(r, profile, ".status");
    char *dir = sr_asprintf("%s/backups", mapi_pstore_dir(r->store));
    char line[16];
    snprintf(line, sizeof line, "%d\n", rc);
    sr_err e;
    if (p && dir && (sr_mkdir_p(dir, 0700, &e) != SR_OK ||
                     sr_write_file_atomic(p, line, strlen(line), 0600, 0, &e) != SR_OK))
        sr_log(SR_LOG_WARN, profile, "cannot record the status: %s", e.msg);
    free(p);
    free(dir);
}

void cpuu_report(cpuu_run_ctx *r, cpuu_mode mode, const char *profile, int rc, unsigned extra)
{
    int prev = cpuu_status_prev(r, profile);
    sr_err e;
    if (r->csv && cpuu_csv_write(r->csv, profile, rc, prev, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, profile, "%s", e.msg);
        r->bits |= CPUU_FAILED_TO_WRITE_LOG;
    }
    /* a skip must not hide what happened before (e.g. "already updated" keeps 10) */
    if (rc != CPUU_RC_ALREADY_UPDATED && rc != CPUU_RC_IS_BACKUP)
        cpuu_status_save(r, profile, rc);
    unsigned bits = cpuu_rc_bits(mode, rc, extra);
    r->bits |= bits;
    if (bits & CPUU_SUCCESS)
        r->n_done++;
    if (mode == CPUU_MODE_UPDATE)
        cpuu_notify_profile(r->notify, profile, rc, (bits & CPUU_SUCCESS) != 0);
    sr_log(rc == CPUU_RC_MODIFYING_OK || rc == CPUU_RC_RESTORE_OK || rc == CPUU_RC_CLEANUP_OK
               ? SR_LOG_NOTICE : SR_LOG_WARN,
           profile, "result %d %s (previous %d)", rc, cpuu_rc_name(rc), prev);
    if (!r->cfg->silent && isatty(STDOUT_FILENO))   /* an admin at a terminal; a parent reads the CSV */
        printf("%s\t%d\t%s\n", profile, rc, cpuu_rc_name(rc));
}

/* Feature backups are flat files in one directory: remove them, then it. */
int cpuu_rm_backup_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *f = sr_asprintf("%s/%s", dir, de->d_name);
        if (!f || unlink(f) != 0)
            rc = -1;
        free(f);
    }
    closedir(d);
    return rmdir(dir) == 0 ? rc : -1;
}

/* Between profiles: has the user aborted?  Logs it once and sets the bit. */
static int stop_here(cpuu_run_ctx *r, size_t left)
{
    if (!cpuu_aborted())
        return 0;
    if (!(r->bits & CPUU_USER_ABORT))
        sr_log(SR_LOG_WARN, "cpuu", "aborted by the user: %zu profile(s) left unprocessed", left);
    r->bits |= CPUU_USER_ABORT;
    return 1;
}

/* ---- selection ------------------------------------------------------------- */
/* The names a mode works on: explicit ones, the default profile, or all. */
static sr_code select_names(cpuu_run_ctx *r, const char *const *given, int want_default,
                            char ***names, size_t *n, sr_err *err)
{
    *names = NULL;
    *n = 0;
    if (given) {
        size_t k = 0;
        while (given[k])
            k++;
        *names = calloc(k + 1, sizeof **names);
        if (!*names)
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        for (size_t i = 0; i < k; i++)
            if (!((*names)[(*n)++] = sr_strdup(given[i])))
                return sr_err_set(err, SR_E_NOMEM, "out of memory");
        return SR_OK;
    }
    if (want_default) {
        char *d = mapi_pstore_default(r->store, err);
        if (!d) {
            sr_err_prefix(err, "%s: no default profile: ", mapi_pstore_dir(r->store));
            return err->code;
        }
        *names = calloc(2, sizeof **names);
        if (!*names) {
            free(d);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        (*names)[0] = d;
        *n = 1;
        return SR_OK;
    }
    return mapi_pstore_list(r->store, names, n, err);
}

/* ---- update ---------------------------------------------------------------- */
static int domain_allowed(const cpuu_run_ctx *r, const mapi_account *a)
{
    const char *at = a->smtp ? strrchr(a->smtp, '@') : NULL;
    for (size_t i = 0; at && r->cfg->processed_domains_fqdns[i]; i++)
        if (sr_streq_ci(at + 1, r->cfg->processed_domains_fqdns[i]))
            return 1;
    return 0;
}

static int default_service(mapi_svc_kind k)
{
    return k != MAPI_SVC_OTHER;   /* the spec's list: MSEMS, MSPST AB/MS, MSUPST MS, CONTAB, EMABLT, INTERSTOR, IMAIL */
}

/* The checks before any network: 0 to go on, else the CSV code. */
static int precheck(const cpuu_run_ctx *r, const mapi_profile *p)
{
    if (p->status.is_backup) {
        sr_log(SR_LOG_INFO, p->name, "a backup copy of %s: skipped", p->status.backup_of);
        return CPUU_RC_IS_BACKUP;
    }
    if (p->status.updated) {
        sr_log(SR_LOG_INFO, p->name, "already switched to the target: skipped");
        return CPUU_RC_ALREADY_UPDATED;
    }
    if (p->n_accounts == 0) {
        sr_log(SR_LOG_ERROR, p->name, "no Microsoft Exchange Server service in this profile");
        return CPUU_RC_HAS_NO_SERVER;
    }
    int listed = r->cfg->processed_domains_fqdns && r->cfg->processed_domains_fqdns[0];
    if (p->n_accounts > 1 && !listed) {
        sr_log(SR_LOG_ERROR, p->name, "profile %s contains multiple Exchange accounts; set "
               "ProcessedDomainsFQDNs to say whether the primary one may be switched", p->name);
        return CPUU_RC_MORE_THAN_ONE_ACCOUNT_IS_ALLOWED_TO_SWITCH;
    }
    const mapi_account *a = &p->accounts[0];
    if (listed && !domain_allowed(r, a)) {
        sr_log(SR_LOG_ERROR, p->name, "primary Exchange account %s is not in a domain of "
               "ProcessedDomainsFQDNs: not switched", a->smtp ? a->smtp : "(no address)");
        return CPUU_RC_NO_ACCOUNT_IS_ALLOWED_TO_SWITCH;
    }
    if (!a->home_server || !*a->home_server || !a->legacy_dn || !*a->legacy_dn || !a->smtp) {
        sr_log(SR_LOG_ERROR, p->name, "the Exchange account has no %s", !a->home_server || !*a->home_server
               ? "server name" : !a->legacy_dn || !*a->legacy_dn ? "mailbox DN" : "SMTP address");
        return CPUU_RC_NOT_EXCHANGE_SERVICE;
    }
    if (a->offline && !r->cfg->process_offline_profiles) {
        sr_log(SR_LOG_NOTICE, p->name, "offline (cached mode) profile: skipped without "
               "ProcessOfflineProfiles=1");
        return CPUU_RC_IS_OFFLINE;
    }
    for (size_t i = 0; i < p->n_services && !r->cfg->allow_all_services; i++) {
        const mapi_service *s = &p->services[i];
        int ok = default_service(s->kind);
        for (size_t k = 0; !ok && r->cfg->allow_additional_services[k]; k++)
            ok = sr_streq_ci(s->name, r->cfg->allow_additional_services[k]);
        if (!ok) {
            sr_log(SR_LOG_ERROR, p->name, "unexpected service '%s' (add it to AllowAdditionalServices "
                   "to process this profile)", s->name);
            return CPUU_RC_UNEXPECTED_SERVICES;
        }
    }
    return 0;
}

static void update_one(cpuu_run_ctx *r, const char *name, int implicit)
{
    mapi_profile p = { 0 };
    sr_err e;
    if (implicit && mapi_profile_name_is_temp(name)) {
        sr_log(SR_LOG_INFO, name, "temporary profile of another run: not selected");
        return;
    }
    if (mapi_pstore_load(r->store, name, &p, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, name, "cannot open the profile: %s", e.msg);
        cpuu_report(r, CPUU_MODE_UPDATE, name, e.code == SR_E_NOTFOUND ? CPUU_RC_NOT_RESOLVED
                                                                        : CPUU_RC_MODIFYING_FAILED, 0);
        return;
    }
    unsigned extra = 0;
    int rc = precheck(r, &p);
    if (rc == 0)
        rc = cpuu_update_profile(r, &p, &extra);
    cpuu_report(r, CPUU_MODE_UPDATE, name, rc, extra);
    mapi_profile_clear(&p);
}

void cpuu_mode_update(cpuu_run_ctx *r)
{
    char **names;
    size_t n;
    sr_err e;
    const char *const *given = r->opts->profiles ? r->opts->profiles
                                                 : (const char *const *)r->cfg->profiles;
    if (given && !given[0])
        given = NULL;
    if (select_names(r, given, r->opts->default_profile || r->cfg->default_profile, &names, &n,
                     &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "cpuu", "%s", e.msg);
        r->bits |= CPUU_GLOBAL_ERR;
        sr_strv_free(names);
        return;
    }
    if (n == 0)
        sr_log(SR_LOG_NOTICE, "cpuu", "no profile in %s: nothing to update", mapi_pstore_dir(r->store));
    for (size_t i = 0; i < n && !stop_here(r, n - i); i++)
        update_one(r, names[i], !given && !r->opts->default_profile);
    sr_strv_free(names);
}

/* ---- rollback -------------------------------------------------------------- */
static void rollback_one(cpuu_run_ctx *r, const char *name)
{
    mapi_profile cur = { 0 }, orig = { 0 };
    sr_err e;
    char *bname = mapi_profile_backup_name(name);
    int rc;
    if (!bname || mapi_pstore_load(r->store, bname, &orig, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, name, "no backup copy of this profile: cannot roll back");
        rc = CPUU_RC_BACKUP_NOT_FOUND;
    } else if (mapi_pstore_load(r->store, name, &cur, &e) != SR_OK && e.code != SR_E_NOTFOUND) {
        sr_log(SR_LOG_ERROR, name, "cannot open the profile: %s", e.msg);
        rc = CPUU_RC_RESTORE_FAILED;
    } else if (cpuu_restore_features(r, name, &cur, &orig, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, name, "cannot restore the features: %s; the profile is left switched "
               "(run the rollback again when the mailbox is reachable)", e.msg);
        rc = CPUU_RC_RESTORE_FAILED;
    } else if (mapi_pstore_restore(r->store, name, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, name, "cannot restore the profile from its backup copy: %s", e.msg);
        rc = CPUU_RC_RESTORE_FAILED;
    } else {
        char *bdir = cpuu_backup_dir(r, name);
        if (bdir)
            cpuu_rm_backup_dir(bdir);
        free(bdir);
        sr_log(SR_LOG_NOTICE, name, "rolled back to the source mailbox %s",
               orig.n_accounts ? orig.accounts[0].smtp : "(none)");
        rc = CPUU_RC_RESTORE_OK;
    }
    cpuu_report(r, CPUU_MODE_ROLLBACK, name, rc, 0);
    mapi_profile_clear(&cur);
    mapi_profile_clear(&orig);
    free(bname);
}

void cpuu_mode_rollback(cpuu_run_ctx *r)
{
    char **names = NULL;
    size_t n = 0;
    sr_err e;
    const char *const *given = r->opts->undo;
    if (!given && r->cfg->undo && r->cfg->undo[0] && !r->opts->undo_all && !r->opts->undo_default_profile)
        given = (const char *const *)r->cfg->undo;
    if (select_names(r, given, r->opts->undo_default_profile, &names, &n, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "cpuu", "%s", e.msg);
        r->bits |= CPUU_GLOBAL_ERR;
        sr_strv_free(names);
        return;
    }
    size_t done = 0;
    for (size_t i = 0; i < n && !stop_here(r, n - i); i++) {
        if (!given && !r->opts->undo_default_profile) {   /* -UndoAll: the originals of backups */
            if (!mapi_profile_name_is_backup(names[i]))
                continue;
            names[i][strlen(names[i]) - strlen(MAPI_PROFILE_BACKUP_SUFFIX)] = '\0';
        }
        rollback_one(r, names[i]);
        done++;
    }
    if (!done)
        sr_log(SR_LOG_NOTICE, "cpuu", "no backup copy found: nothing to roll back");
    sr_strv_free(names);
}

/* ---- cleanup --------------------------------------------------------------- */
static void cleanup_one(cpuu_run_ctx *r, const char *name, int explicit, int canceled)
{
    mapi_profile p = { 0 };
    sr_err e;
    char *bname = mapi_profile_backup_name(name);
    char *bdir = cpuu_backup_dir(r, name);
    struct stat sb;
    int has_backup = bname && mapi_pstore_load(r->store, bname, &p, &e) == SR_OK;
    mapi_profile_clear(&p);
    int has_dir = bdir && stat(bdir, &sb) == 0;
    if (!has_backup && !has_dir) {
        if (explicit) {
            sr_log(SR_LOG_INFO, name, "no backups: nothing to clean up");
            cpuu_report(r, CPUU_MODE_CLEANUP, name, CPUU_RC_WAS_NOT_PROCESSED, 0);
        }
        goto out;
    }
    if (canceled) {
        cpuu_report(r, CPUU_MODE_CLEANUP, name, CPUU_RC_CLEANUP_CANCELED, 0);
        goto out;
    }
    if (mapi_pstore_load(r->store, name, &p, &e) != SR_OK || !p.status.updated) {
        sr_log(SR_LOG_WARN, name, "not updated successfully%s: backups kept for a rollback",
               e.code == SR_E_NOTFOUND ? " (profile missing)" : "");
        cpuu_report(r, CPUU_MODE_CLEANUP, name, CPUU_RC_WAS_NOT_PROCESSED, 0);
        goto out;
    }
    int rc = CPUU_RC_CLEANUP_OK;
    if (has_backup && mapi_pstore_delete_backup(r->store, name, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, name, "cannot delete the backup copy: %s", e.msg);
        rc = CPUU_RC_CLEANUP_FAILED;
    }
    if (has_dir && cpuu_rm_backup_dir(bdir) != 0) {
        sr_log(SR_LOG_ERROR, name, "cannot delete the feature backups in %s", bdir);
        rc = CPUU_RC_CLEANUP_FAILED;
    }
    if (rc == CPUU_RC_CLEANUP_OK)
        sr_log(SR_LOG_NOTICE, name, "backups deleted: no rollback is possible any more");
    cpuu_report(r, CPUU_MODE_CLEANUP, name, rc, 0);
out:
    mapi_profile_clear(&p);
    free(bname);
    free(bdir);
}

void cpuu_mode_cleanup(cpuu_run_ctx *r)
{
    char **names = NULL;
    size_t n = 0;
    sr_err e;
    const char *const *given = r->opts->profiles;
    if (select_names(r, given, 0, &names, &n, &e) != SR_OK) {
        sr_log(SR_LOG_ERROR, "cpuu", "%s", e.msg);
        r->bits |= CPUU_GLOBAL_ERR;
        sr_strv_free(names);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        int canceled = stop_here(r, n - i);
        if (given) {
            cleanup_one(r, names[i], 1, canceled);
            continue;
        }
        if (mapi_profile_name_is_backup(names[i]))
            continue;   /* reached through its original */
        /* target-check profiles left by -LeaveTemporaryProfile are auxiliary too */
        if (!strncmp(names[i], "CPUU_", 5) && mapi_profile_name_is_temp(names[i]) && !canceled) {
            if (mapi_pstore_delete(r->store, names[i], &e) == SR_OK)
                sr_log(SR_LOG_NOTICE, names[i], "temporary target-check profile deleted");
            continue;
        }
        cleanup_one(r, names[i], 0, canceled);
    }
    sr_strv_free(names);
}
