/* write.c — the files the wizard writes (spec: "Files" step): CPUU.ini and
 * the POSIX-sh counterparts of CPUU_Update.bat, CPUU_Rollback.bat and
 * CPUU_Cleanup.bat.  Every value in a script is single-quoted, so a profile
 * or log name holding blanks, quotes, $ or ` reaches the engine as written. */
#include "configs/wizard/wizard.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- CPUU.ini --------------------------------------------------------------- */

/* The stored form of a secret: typed now → encrypted now; else the one loaded. */
static char *stored_secret(const wiz *w, const char *plain, const char *kept, int mask,
                           sr_err *err)
{
    if (mask)
        return sr_asprintf("<encrypted, %s mode>",
                           plain ? cfg_enc_mode_name(w->enc) : "as loaded");
    if (!plain)
        return sr_strdup(kept);
    char *out = NULL;
    if (cfg_secret_encrypt(plain, w->enc, &out, err) != SR_OK)
        return NULL;
    return out;
}

static void kv(FILE *f, const char *k, const char *v)
{
    if (v && *v)
        fprintf(f, "%s=%s\n", k, v);
}

static void kv_int(FILE *f, const char *k, int v)
{
    fprintf(f, "%s=%d\n", k, v);
}

static int put_credentials(FILE *f, const wiz *w, int mask, sr_err *err)
{
    if (w->logon == WIZ_LOGON_PROMPT) {
        kv_int(f, "AskCredentials", 1);
        kv_int(f, "AskSourceCredentialsOnly", w->ask_source_only);
    }
    if (w->logon != WIZ_LOGON_MANUAL)
        return 0;
    char *pw = stored_secret(w, w->password_plain, w->password_stored, mask, err);
    if (!pw)
        return -1;
    kv(f, "Admin", w->admin);
    kv(f, "Password", pw);
    free(pw);
    if (w->admin_trg) {
        char *pt = stored_secret(w, w->password_trg_plain, w->password_trg_stored, mask, err);
        if (!pt)
            return -1;
        kv(f, "AdminTrg", w->admin_trg);
        kv(f, "PasswordTrg", pt);
        free(pt);
    }
    return 0;
}

static void put_features(FILE *f, const wiz *w)
{
    char *list = wiz_features_canonical(w->features), *crit = wiz_features_canonical(w->critical);
    if (w->fmode == WIZ_FEAT_ONLY)
        fprintf(f, "Features=%s\n", list ? list : "");
    else if (w->fmode == WIZ_FEAT_SKIP)
        kv(f, "Skip", list);
    kv(f, "Critical", crit);
    free(list);
    free(crit);
}

static void put_tuning(FILE *f, const wiz *w)
{
    kv(f, "ProcessedDomainsFQDNs", w->domains);
    kv(f, "AutodiscoverSourceURL", w->ad_source);
    kv(f, "AutodiscoverTargetURL", w->ad_target);
    put_features(f, w);
    if (w->remove_nicks)
        kv(f, "Remove", "Nicks");
    kv_int(f, "RemoveJunkEmailMessages", w->remove_junk);
    kv_int(f, "ProcessOfflineProfiles", w->offline != WIZ_OFFLINE_NEVER);
    kv_int(f, "KeepOST", w->offline == WIZ_OFFLINE_KEEP_OST);
    kv_int(f, "BackupOST", w->backup_ost);
    kv_int(f, "Silent", w->silent);
    kv_int(f, "WatchDog", w->watchdog);
    kv_int(f, "Attempt", w->attempt);
    if (w->open_store_wait)
        kv_int(f, "OpenStoreWait", w->open_store_wait);
    if (w->feature_wait)
        kv_int(f, "FeatureWait", w->feature_wait);
    if (w->global_wait)
        kv_int(f, "GlobalWait", w->global_wait);
    kv(f, "StopProcesses", w->stop_processes);
}

static int put_notify(FILE *f, const wiz *w, int mask, sr_err *err)
{
    if (!w->notify_to)
        return 0;
    fprintf(f, "\n[Admin notification]\n");
    kv(f, "SMTPAddress", w->notify_to);
    kv(f, "Priority", w->priority);
    kv(f, "Attach log", w->attach);
    kv(f, "Notification", w->notify_when);
    kv(f, "Profile", w->notify_profile);
    kv(f, "Subject", w->subject);
    kv(f, "Body", w->body);
    kv(f, "SMTPServer", w->smtp_server);
    kv(f, "SMTPSecurity", w->smtp_security);
    kv(f, "From", w->from);
    if (w->smtp_user) {
        char *pw = stored_secret(w, w->smtp_password_plain, w->smtp_password_stored, mask, err);
        if (!pw)
            return -1;
        kv(f, "SMTPUser", w->smtp_user);
        kv(f, "SMTPPassword", pw);
        free(pw);
    }
    return 0;
}

/* The answers that live in the scripts, kept as comments so that --load
 * can offer them again (the engine skips comment lines). */
static void put_script_answers(FILE *f, const wiz *w)
{
    static const char *const batch[] = { "all", "list", "default" };
    fprintf(f, "; cpuu-config: scripts=%s%s%s%s\n", w->mk_update ? "update " : "",
            w->mk_rollback ? "rollback " : "", w->mk_cleanup ? "cleanup" : "",
            w->mk_update || w->mk_rollback || w->mk_cleanup ? "" : "none");
    fprintf(f, "; cpuu-config: batch=%s\n", batch[w->batch]);
    for (size_t i = 0; i < w->n_profiles; i++)
        fprintf(f, "; cpuu-config: profile=%s\n", w->profiles[i]);
    fprintf(f, "; cpuu-config: log=%s\n", w->log);
}

char *wiz_render_ini(const wiz *w, int mask, sr_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    fprintf(f, "; CPUU.ini written by cpuu-config; see cpuu.ini(5).\n");
    put_script_answers(f, w);
    fprintf(f, "[Parameters]\n");
    int bad = put_credentials(f, w, mask, err);
    if (!bad) {
        put_tuning(f, w);
        bad = put_notify(f, w, mask, err);
    }
    fclose(f);
    if (bad) {
        explicit_bzero(buf, len);
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- scripts ------------------------------------------------------------------ */

/* 'value' for sh: ' becomes '\'' — nothing inside single quotes is special. */
static void sh_quote(FILE *f, const char *v)
{
    fputc('\'', f);
    for (; *v; v++)
        if (*v == '\'')
            fputs("'\\''", f);
        else
            fputc(*v, f);
    fputc('\'', f);
}

static void put_profiles(FILE *f, const wiz *w)
{
    for (size_t i = 0; i < w->n_profiles; i++) {
        fputs(" \\\n    ", f);
        sh_quote(f, w->profiles[i]);
    }
}

/* The engine's mode arguments for one script (docs/cpuu.md "Modes"). */
static void put_mode(FILE *f, const wiz *w, const char *which)
{
    int list = w->batch == WIZ_BATCH_LIST, def = w->batch == WIZ_BATCH_DEFAULT;
    if (!strcmp(which, "Update")) {
        if (def)
            fputs(" -DefaultProfile", f);
        else if (list)
            fputs(" -Profiles", f), put_profiles(f, w);
    } else if (!strcmp(which, "Rollback")) {
        fputs(def ? " -UndoDefaultProfile" : list ? " -Undo" : " -UndoAll", f);
        if (list)
            put_profiles(f, w);
    } else {
        fputs(" -Cleanup", f);
        if (list)
            fputs(" -Profiles", f), put_profiles(f, w);
    }
}

static const char *script_what(const char *which)
{
    return !strcmp(which, "Update") ? "switch the profiles to the target mailboxes"
         : !strcmp(which, "Rollback") ? "undo what an update changed"
                                      : "delete the backups of profiles that were updated";
}

char *wiz_render_script(const wiz *w, const char *which)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    fprintf(f, "#!/bin/sh\n"
               "# CPUU_%s.sh — %s (written by cpuu-config).\n"
               "# The engine is $CPUU_BIN if set, else the cpuu beside this script, else cpuu\n"
               "# from PATH.  Extra arguments are passed on (for example -DryRun).\n"
               "# Exit status: the engine's bitmask (cpuu(1), EXIT STATUS).\n"
               "here=$(CDPATH= cd -- \"$(dirname -- \"$0\")\" && pwd -P) || exit 16\n"
               "if [ -n \"${CPUU_BIN:-}\" ]; then cpuu=$CPUU_BIN\n"
               "elif [ -x \"$here/cpuu\" ]; then cpuu=$here/cpuu\n"
               "else cpuu=cpuu\nfi\n"
               "exec \"$cpuu\" -INI \"$here\"/", which, script_what(which));
    sh_quote(f, w->ini_name);
    fputs(" -Log ", f);
    sh_quote(f, w->log);
    put_mode(f, w, which);
    fputs(" \"$@\"\n", f);
    fclose(f);
    return buf;
}

/* ---- summary and writing ------------------------------------------------------ */

static const char *const scripts[] = { "Update", "Rollback", "Cleanup" };

static int script_wanted(const wiz *w, int i)
{
    return i == 0 ? w->mk_update : i == 1 ? w->mk_rollback : w->mk_cleanup;
}

void wiz_summary(const wiz *w, FILE *out)
{
    sr_err e;
    char *ini = wiz_render_ini(w, 1, &e);
    fprintf(out, "\n== Summary ==\n%s/%s:\n", w->out_dir, w->ini_name);
    for (char *line = ini ? strtok(ini, "\n") : NULL; line; line = strtok(NULL, "\n"))
        fprintf(out, "  | %s\n", line);
    free(ini);
    for (int i = 0; i < 3; i++)
        if (script_wanted(w, i)) {
            char *s = wiz_render_script(w, scripts[i]);
            const char *exec = s ? strstr(s, "exec ") : NULL;
            fprintf(out, "%s/CPUU_%s.sh:\n  | %s", w->out_dir, scripts[i], exec ? exec : "?\n");
            free(s);
        }
}

static sr_code write_one(const char *dir, const char *name, const char *text, mode_t mode,
                         sr_err *err)
{
    char *path = sr_asprintf("%s/%s", dir, name);
    if (!path)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_code rc = sr_write_file_atomic(path, text, strlen(text), mode, 0, err);
    if (rc == SR_OK && chmod(path, mode) != 0)
        rc = sr_err_set(err, SR_E_IO, "%s: chmod: %s", path, strerror(errno));
    if (rc == SR_OK)
        printf("wrote %s\n", path);
    free(path);
    return rc;
}

/* Load the rendered text the way the engine will, before anything is
 * written over the admin's files: a wizard bug must not leave a bad file. */
static sr_code check_rendered(const wiz *w, const char *ini, sr_err *err)
{
    char *tmp = sr_asprintf("%s/.%s.check.XXXXXX", w->out_dir, w->ini_name);
    if (!tmp)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    int fd = mkstemp(tmp);
    if (fd < 0) {
        sr_code rc = sr_err_set(err, SR_E_IO, "%s: cannot write there: %s", w->out_dir,
                                strerror(errno));
        free(tmp);
        return rc;
    }
    size_t n = strlen(ini);
    sr_code rc = (size_t)write(fd, ini, n) == n ? SR_OK
                 : sr_err_set(err, SR_E_IO, "%s: write: %s", tmp, strerror(errno));
    close(fd);
    if (rc == SR_OK) {
        cfg_diag d = { 0 };
        cfg_cpuu *c = cfg_cpuu_load(tmp, &d, err);
        if (!c)
            rc = SR_E_CONFIG;
        cfg_cpuu_free(c);
    }
    unlink(tmp);
    free(tmp);
    return rc;
}

sr_code wiz_write(const wiz *w, sr_err *err)
{
    sr_code rc = sr_mkdir_p(w->out_dir, 0755, err);
    if (rc != SR_OK)
        return rc;
    char *ini = wiz_render_ini(w, 0, err);
    if (!ini)
        return err->code;
    rc = check_rendered(w, ini, err);
    if (rc == SR_OK)
        rc = write_one(w->out_dir, w->ini_name, ini, 0600, err);
    explicit_bzero(ini, strlen(ini));
    free(ini);
    for (int i = 0; rc == SR_OK && i < 3; i++) {
        if (!script_wanted(w, i))
            continue;
        char *s = wiz_render_script(w, scripts[i]);
        char *name = sr_asprintf("CPUU_%s.sh", scripts[i]);
        rc = s && name ? write_one(w->out_dir, name, s, 0755, err)
                       : sr_err_set(err, SR_E_NOMEM, "out of memory");
        free(s);
        free(name);
    }
    return rc;
}
