/* profile.c — the profile store: one file per profile in a private directory
 * (0700, files 0600), written atomically, with a per-profile flock so two
 * processes never interleave an update.  File format: profile_text.c and
 * docs/profile-format.md. */
#include "mapi/eid.h"
#include "mapi/profile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROFILE_EXT ".profile"
#define LOCK_EXT ".lock"
#define PROFILE_MAX_BYTES (1u << 20)
#define LOCK_POLL_MS 20

struct mapi_pstore {
    char *dir;
    unsigned lock_timeout_ms;
};

/* ---- names --------------------------------------------------------------------------- */

static int has_backup_suffix(const char *name)
{
    size_t n = strlen(name), k = strlen(MAPI_PROFILE_BACKUP_SUFFIX);
    return n > k && strcmp(name + n - k, MAPI_PROFILE_BACKUP_SUFFIX) == 0;
}

/* The rules without the backup-suffix ban (backup names pass here). */
static sr_code name_check_base(const char *name, size_t max, sr_err *err)
{
    if (!name || !*name)
        return sr_err_set(err, SR_E_INVALID, "profile name: empty");
    size_t n = strlen(name);
    if (n > max)
        return sr_err_set(err, SR_E_INVALID, "profile name '%.40s...': longer than %zu bytes", name, max);
    if (name[0] == '.')
        return sr_err_set(err, SR_E_INVALID, "profile name '%s': must not start with '.'", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p == '/' || *p < 0x20 || *p == 0x7F)
            return sr_err_set(err, SR_E_INVALID, "profile name '%.80s': '/' or control character at byte %zu",
                              name, (size_t)(p - (const unsigned char *)name));
    if (!sr_utf8_valid(name))
        return sr_err_set(err, SR_E_INVALID, "profile name: not valid UTF-8");
    return SR_OK;
}

sr_code mapi_profile_name_check(const char *name, sr_err *err)
{
    sr_code rc = name_check_base(name, MAPI_PROFILE_NAME_MAX, err);
    if (rc == SR_OK && has_backup_suffix(name))
        rc = sr_err_set(err, SR_E_INVALID, "profile name '%s': the suffix %s is reserved for backups",
                        name, MAPI_PROFILE_BACKUP_SUFFIX);
    return rc;
}

/* A stored name: an ordinary name or "<ordinary>" MAPI_PROFILE_BACKUP_SUFFIX. */
static sr_code stored_name_check(const char *name, sr_err *err)
{
    if (name && has_backup_suffix(name)) {
        size_t base = strlen(name) - strlen(MAPI_PROFILE_BACKUP_SUFFIX);
        char tmp[MAPI_PROFILE_NAME_MAX + 1];
        if (base > MAPI_PROFILE_NAME_MAX)
            return sr_err_set(err, SR_E_INVALID, "profile name '%.40s...': too long", name);
        memcpy(tmp, name, base);
        tmp[base] = '\0';
        return mapi_profile_name_check(tmp, err);
    }
    return mapi_profile_name_check(name, err);
}

int mapi_profile_name_is_backup(const char *name)
{
    return name && has_backup_suffix(name);
}

char *mapi_profile_backup_name(const char *name)
{
    return sr_asprintf("%s%s", name, MAPI_PROFILE_BACKUP_SUFFIX);
}

/* Temporary names: "{8-4-4-4-12}" optionally after "CPUU_" (spec
 * -LeaveTemporaryProfile / LeaveTemporaryProfiles). */
int mapi_profile_name_is_temp(const char *name)
{
    if (!name)
        return 0;
    if (strncmp(name, "CPUU_", 5) == 0)
        name += 5;
    mapi_guid g;
    return strlen(name) == 38 && name[0] == '{' && name[37] == '}' && mapi_guid_parse(name, &g, NULL) == SR_OK;
}

/* File name of a profile: bytes outside [A-Za-z0-9_.-] (and a '%') become %XX
 * so any valid name maps to exactly one safe file name and back. */
static char *escape_name(const char *name)
{
    size_t n = strlen(name);
    char *out = malloc(n * 3 + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '_' || *p == '.' || *p == '-')
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return out;
}

/* Inverse of escape_name for "<escaped>.profile"; NULL if it is not one of ours. */
static char *unescape_file(const char *file)
{
    size_t n = strlen(file), ext = strlen(PROFILE_EXT);
    if (n <= ext || strcmp(file + n - ext, PROFILE_EXT) != 0 || file[0] == '.')
        return NULL;
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n - ext; i++) {
        unsigned v;
        if (file[i] == '%' && i + 2 < n - ext && isxdigit((unsigned char)file[i + 1]) &&
            isxdigit((unsigned char)file[i + 2]) && sscanf(file + i + 1, "%2X", &v) == 1) {
            *o++ = (char)v;
            i += 2;
        } else {
            *o++ = file[i];
        }
    }
    *o = '\0';
    char *check = escape_name(out);   /* only canonical spellings are ours */
    int same = check && strlen(check) + ext == n && strncmp(check, file, n - ext) == 0;
    free(check);
    if (!same || stored_name_check(out, NULL) != SR_OK) {
        free(out);
        return NULL;
    }
    return out;
}

/* The lock of a backup is its original's, so backup/restore and update of
 * one profile exclude each other. */
static char *path_of(const mapi_pstore *st, const char *name, const char *ext)
{
    char *base = NULL;
    if (!strcmp(ext, LOCK_EXT) && has_backup_suffix(name)) {
        base = sr_strdup(name);
        if (!base)
            return NULL;
        base[strlen(base) - strlen(MAPI_PROFILE_BACKUP_SUFFIX)] = '\0';
        name = base;
    }
    char *esc = escape_name(name);
    char *path = esc ? sr_asprintf("%s/%s%s", st->dir, esc, ext) : NULL;
    free(esc);
    free(base);
    return path;
}

/* ---- the directory ------------------------------------------------------------------- */

static char *default_dir(sr_err *err)
{
    const char *env = getenv("SWITCHRESMB_PROFILE_DIR");
    if (env && *env)
        return sr_strdup(env);
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && xdg[0] == '/')   /* XDG: relative values are invalid and ignored */
        return sr_asprintf("%s/switchresmb/profiles", xdg);
    const char *home = getenv("HOME");
    if (!home || home[0] != '/') {
        sr_err_set(err, SR_E_CONFIG, "profile store: neither SWITCHRESMB_PROFILE_DIR, XDG_DATA_HOME nor HOME is set");
        return NULL;
    }
    return sr_asprintf("%s/.local/share/switchresmb/profiles", home);
}

static sr_code check_dir(const char *dir, int repair, sr_err *err)
{
    struct stat sb;
    if (lstat(dir, &sb) != 0)
        return sr_err_set(err, SR_E_IO, "profile store %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return sr_err_set(err, SR_E_ACCESS, "profile store %s: not a directory", dir);
    if (sb.st_uid != geteuid())
        return sr_err_set(err, SR_E_ACCESS, "profile store %s: owned by uid %u, not by us (uid %u)",
                          dir, (unsigned)sb.st_uid, (unsigned)geteuid());
    if ((sb.st_mode & 077) == 0)
        return SR_OK;
    if (!repair && (sb.st_mode & 022))
        return sr_err_set(err, SR_E_ACCESS,
                          "profile store %s: mode %04o lets others write or replace profiles; "
                          "run 'chmod 700 %s' (or repair)", dir, (unsigned)(sb.st_mode & 07777), dir);
    /* Readable by others but not writable: tighten silently; writable: repair asked. */
    if (chmod(dir, 0700) != 0)
        return sr_err_set(err, SR_E_ACCESS, "profile store %s: chmod 700: %s", dir, strerror(errno));
    if (sb.st_mode & 022)
        sr_log(SR_LOG_WARN, dir, "profile store was mode %04o; repaired to 0700",
               (unsigned)(sb.st_mode & 07777));
    return SR_OK;
}

mapi_pstore *mapi_pstore_open(const char *dir, int repair, sr_err *err)
{
    sr_err_clear(err);
    char *d = dir ? sr_strdup(dir) : default_dir(err);
    if (!d) {
        if (dir || !err || err->code == SR_OK)
            sr_err_set(err, SR_E_NOMEM, "profile store: out of memory");
        return NULL;
    }
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/')
        d[--n] = '\0';
    mapi_pstore *st = calloc(1, sizeof *st);
    if (!st || sr_mkdir_p(d, 0700, err) != SR_OK || check_dir(d, repair, err) != SR_OK) {
        if (!st)
            sr_err_set(err, SR_E_NOMEM, "profile store: out of memory");
        free(st);
        free(d);
        return NULL;
    }
    st->dir = d;
    st->lock_timeout_ms = 10000;
    return st;
}

void mapi_pstore_free(mapi_pstore *st)
{
    if (!st)
        return;
    free(st->dir);
    free(st);
}

const char *mapi_pstore_dir(const mapi_pstore *st)
{
    return st->dir;
}

void mapi_pstore_set_lock_timeout(mapi_pstore *st, unsigned ms)
{
    st->lock_timeout_ms = ms;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

sr_code mapi_pstore_list(mapi_pstore *st, char ***names, size_t *n, sr_err *err)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(st->dir);
    if (!d)
        return sr_err_set(err, SR_E_IO, "profile store %s: %s", st->dir, strerror(errno));
    char **v = NULL;
    size_t cnt = 0;
    struct dirent *de;
    sr_code rc = SR_OK;
    while ((de = readdir(d)) != NULL) {
        char *name = unescape_file(de->d_name);
        if (!name)
            continue;   /* locks, temp files of atomic writes, strangers */
        char **nv = realloc(v, (cnt + 2) * sizeof *nv);   /* and the NULL */
        if (!nv) {
            free(name);
            rc = sr_err_set(err, SR_E_NOMEM, "profile store: out of memory");
            break;
        }
        v = nv;
        v[cnt++] = name;
        v[cnt] = NULL;
    }
    closedir(d);
    if (rc != SR_OK) {
        sr_strv_free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_names);
    *names = v;
    *n = cnt;
    return SR_OK;
}

/* ---- locks ---------------------------------------------------------------------------- */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Exclusive flock on the profile's lock file, polling up to the timeout.
 * The inode check after locking makes unlinking the lock file safe: a waiter
 * that locked an unlinked inode (drop_side_files, or removed by hand) retries. */
static int lock_profile(mapi_pstore *st, const char *name, sr_err *err)
{
    char *path = path_of(st, name, LOCK_EXT);
    if (!path)
        return sr_err_set(err, SR_E_NOMEM, "out of memory"), -1;
    unsigned waited = 0;
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            sr_err_set(err, SR_E_IO, "%s: %s", path, strerror(errno));
            free(path);
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            struct stat a, b;
            if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
                free(path);
                return fd;
            }
            close(fd);      /* lock file replaced under us: take the new one */
            continue;
        }
        int e = errno;
        close(fd);
        if (e != EWOULDBLOCK && e != EINTR) {
            sr_err_set(err, SR_E_IO, "%s: flock: %s", path, strerror(e));
            free(path);
            return -1;
        }
        if (waited >= st->lock_timeout_ms) {
            sr_err_set(err, SR_E_BUSY, "profile %s: locked by another process for %u ms (%s)",
                       name, waited, path);
            err->cls = SR_CLASS_WAIT;
            err->backoff_ms = 1000;
            free(path);
            return -1;
        }
        sleep_ms(LOCK_POLL_MS);
        waited += LOCK_POLL_MS;
    }
}

static void unlock_profile(int fd)
{
    if (fd >= 0)
        close(fd);  /* closing drops the flock */
}

/* ---- reading and writing files --------------------------------------------------------- */

static int file_exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

static char *read_profile_bytes(mapi_pstore *st, const char *name, size_t *len, char **path_out, sr_err *err)
{
    char *path = path_of(st, name, PROFILE_EXT);
    if (!path) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    if (!file_exists(path)) {
        sr_err_set(err, SR_E_NOTFOUND, "profile %s: not found in %s", name, st->dir);
        free(path);
        return NULL;
    }
    char *text = sr_read_file(path, PROFILE_MAX_BYTES, len, err);
    if (path_out && text)
        *path_out = path;
    else
        free(path);
    return text;
}

sr_code mapi_pstore_load(mapi_pstore *st, const char *name, mapi_profile *p, sr_err *err)
{
    memset(p, 0, sizeof *p);
    sr_code rc = stored_name_check(name, err);
    if (rc != SR_OK)
        return rc;
    size_t len;
    char *path = NULL;
    char *text = read_profile_bytes(st, name, &len, &path, err);
    if (!text)
        return err ? err->code : SR_E_IO;
    rc = mapi_profile_parse(text, len, path, p, err);
    free(text);
    int backup = has_backup_suffix(name);
    if (rc == SR_OK && strcmp(p->name, name) != 0 &&
        !(backup && strncmp(p->name, name, strlen(p->name)) == 0 &&
          strlen(p->name) + strlen(MAPI_PROFILE_BACKUP_SUFFIX) == strlen(name)))
        rc = sr_err_set(err, SR_E_PARSE, "%s: [profile] name '%s' does not match the file name", path, p->name);
    if (rc == SR_OK && backup) {
        /* The file is a byte copy of the original: derive the backup markers. */
        p->status.is_backup = 1;
        p->status.backup_of = p->name;
        if (!(p->name = sr_strdup(name)))
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    free(path);
    if (rc != SR_OK)
        mapi_profile_clear(p);
    return rc;
}

/* Validate and write p over its file (caller holds the lock). */
static sr_code write_profile(mapi_pstore *st, const mapi_profile *p, sr_err *err)
{
    char *text = mapi_profile_format(p, err);
    if (!text)
        return err ? err->code : SR_E_NOMEM;
    char *path = path_of(st, p->name, PROFILE_EXT);
    sr_code rc = path ? sr_write_file_atomic(path, text, strlen(text), 0600, 0, err)
                      : sr_err_set(err, SR_E_NOMEM, "out of memory");
    free(path);
    free(text);
    return rc;
}

static sr_code check_profile(const mapi_profile *p, sr_err *err)
{
    sr_code rc = mapi_profile_name_check(p->name, err);
    if (rc != SR_OK)
        return rc;
    if (p->status.is_backup)
        return sr_err_set(err, SR_E_INVALID, "profile %s: backups are made with mapi_pstore_backup", p->name);
    for (size_t i = 0; i < p->n_services; i++)
        if (!p->services[i].name || !*p->services[i].name)
            return sr_err_set(err, SR_E_INVALID, "profile %s: service %zu has no name", p->name, i + 1);
    return SR_OK;
}

/* Clear the default flag on every other (non-backup) profile. */
static sr_code clear_other_defaults(mapi_pstore *st, const char *keep, sr_err *err)
{
    char **names;
    size_t n;
    sr_code rc = mapi_pstore_list(st, &names, &n, err);
    for (size_t i = 0; rc == SR_OK && i < n; i++) {
        if (!strcmp(names[i], keep) || has_backup_suffix(names[i]))
            continue;
        int fd = lock_profile(st, names[i], err);
        if (fd < 0) {
            rc = err ? err->code : SR_E_IO;
            break;
        }
        mapi_profile other;
        rc = mapi_pstore_load(st, names[i], &other, err);
        if (rc == SR_OK && other.is_default) {
            other.is_default = 0;
            rc = write_profile(st, &other, err);
        } else if (rc == SR_E_NOTFOUND) {
            rc = SR_OK;     /* deleted meanwhile */
        } else if (rc == SR_E_PARSE) {
            /* A broken neighbour must not block creating this profile. */
            sr_log(SR_LOG_WARN, names[i], "not checked for the default flag: %s", err ? err->msg : "corrupt");
            rc = SR_OK;
        }
        mapi_profile_clear(&other);
        unlock_profile(fd);
    }
    sr_strv_free(names);
    return rc;
}

static sr_code store_write(mapi_pstore *st, const mapi_profile *p, int create, sr_err *err)
{
    sr_code rc = check_profile(p, err);
    if (rc != SR_OK)
        return rc;
    int fd = lock_profile(st, p->name, err);
    if (fd < 0)
        return err ? err->code : SR_E_IO;
    char *path = path_of(st, p->name, PROFILE_EXT);
    if (!path)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    else if (create && file_exists(path))
        rc = sr_err_set(err, SR_E_EXISTS, "profile %s: already exists", p->name);
    else if (!create && !file_exists(path))
        rc = sr_err_set(err, SR_E_NOTFOUND, "profile %s: not found in %s", p->name, st->dir);
    else
        rc = write_profile(st, p, err);
    free(path);
    unlock_profile(fd);
    if (rc == SR_OK && p->is_default)
        rc = clear_other_defaults(st, p->name, err);
    return rc;
}

sr_code mapi_pstore_create(mapi_pstore *st, const mapi_profile *p, sr_err *err)
{
    return store_write(st, p, 1, err);
}

sr_code mapi_pstore_update(mapi_pstore *st, const mapi_profile *p, sr_err *err)
{
    return store_write(st, p, 0, err);
}

static sr_code unlink_profile(mapi_pstore *st, const char *name, sr_err *err)
{
    char *path = path_of(st, name, PROFILE_EXT);
    if (!path)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_code rc = SR_OK;
    if (unlink(path) != 0)
        rc = errno == ENOENT ? sr_err_set(err, SR_E_NOTFOUND, "profile %s: not found in %s", name, st->dir)
                             : sr_err_set(err, SR_E_IO, "%s: cannot delete: %s", path, strerror(errno));
    free(path);
    return rc;
}

/* After the last file of a profile (itself and its backup) is gone, its side
 * files go too: the lock file, and the engine's last-code file
 * backups/<escaped>.status once no feature backups are left beside it.  A
 * bulk run otherwise left 3 files per mailbox behind (issue 11).  Unlinking
 * the lock while holding it is safe: a waiter that locks the dead inode sees
 * the inode check in lock_profile fail and locks the path afresh. */
static void drop_side_files(mapi_pstore *st, const char *name)
{
    char *base = sr_strdup(name);
    if (!base)
        return;
    if (has_backup_suffix(base))
        base[strlen(base) - strlen(MAPI_PROFILE_BACKUP_SUFFIX)] = '\0';
    char *bname = mapi_profile_backup_name(base);
    char *prof = path_of(st, base, PROFILE_EXT), *bprof = bname ? path_of(st, bname, PROFILE_EXT) : NULL;
    char *esc = escape_name(base);
    if (prof && bprof && esc && !file_exists(prof) && !file_exists(bprof)) {
        char *lock = path_of(st, base, LOCK_EXT);
        char *bdir = sr_asprintf("%s/backups/%s", st->dir, esc);
        char *status = sr_asprintf("%s/backups/%s.status", st->dir, esc);
        if (lock)
            unlink(lock);
        if (bdir && status && access(bdir, F_OK) != 0 && errno == ENOENT)
            unlink(status);
        free(lock);
        free(bdir);
        free(status);
    }
    free(esc);
    free(prof);
    free(bprof);
    free(bname);
    free(base);
}

sr_code mapi_pstore_delete(mapi_pstore *st, const char *name, sr_err *err)
{
    sr_code rc = stored_name_check(name, err);
    if (rc != SR_OK)
        return rc;
    int fd = lock_profile(st, name, err);
    if (fd < 0)
        return err ? err->code : SR_E_IO;
    rc = unlink_profile(st, name, err);
    if (rc == SR_OK || rc == SR_E_NOTFOUND)   /* a resumed delete: locking made a lock file */
        drop_side_files(st, name);
    unlock_profile(fd);
    return rc;
}

char *mapi_pstore_default(mapi_pstore *st, sr_err *err)
{
    char **names;
    size_t n;
    char *found = NULL;
    if (mapi_pstore_list(st, &names, &n, err) != SR_OK)
        return NULL;
    for (size_t i = 0; i < n && !found; i++) {
        mapi_profile p;
        if (has_backup_suffix(names[i]) || mapi_pstore_load(st, names[i], &p, NULL) != SR_OK)
            continue;
        if (p.is_default)
            found = sr_strdup(p.name);
        mapi_profile_clear(&p);
    }
    sr_strv_free(names);
    if (!found)
        sr_err_set(err, SR_E_NOTFOUND, "profile store %s: no default profile", st->dir);
    return found;
}

sr_code mapi_pstore_create_temp(mapi_pstore *st, mapi_profile *p, const char *prefix, sr_err *err)
{
    if (prefix && strcmp(prefix, "CPUU_") != 0)
        return sr_err_set(err, SR_E_INVALID, "temporary profile: prefix must be NULL or \"CPUU_\"");
    /* A clash of random GUIDs is near impossible; retry a few times anyway. */
    for (int tries = 0; tries < 5; tries++) {
        mapi_guid g;
        char gs[MAPI_GUID_STRLEN + 1];
        sr_code rc = mapi_guid_random(&g, err);
        if (rc != SR_OK)
            return rc;
        mapi_guid_format(&g, gs);
        for (char *c = gs; *c; c++)
            if (*c >= 'a' && *c <= 'f')
                *c = (char)(*c - 'a' + 'A');    /* Windows prints profile GUIDs in upper case */
        char *name = sr_asprintf("%s{%s}", prefix ? prefix : "", gs);
        if (!name)
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        free(p->name);
        p->name = name;
        p->status.temporary = 1;
        p->is_default = 0;
        rc = mapi_pstore_create(st, p, err);
        if (rc != SR_E_EXISTS)
            return rc;
    }
    return sr_err_set(err, SR_E_EXISTS, "temporary profile: no free name after 5 tries");
}

/* ---- backups -------------------------------------------------------------------------- */

sr_code mapi_pstore_backup(mapi_pstore *st, const char *name, sr_err *err)
{
    sr_code rc = mapi_profile_name_check(name, err);
    if (rc != SR_OK)
        return rc;
    char *bname = mapi_profile_backup_name(name);
    char *bpath = bname ? path_of(st, bname, PROFILE_EXT) : NULL;
    if (!bpath) {
        free(bname);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    int fd = lock_profile(st, name, err);
    if (fd < 0) {
        free(bname);
        free(bpath);
        return err ? err->code : SR_E_IO;
    }
    size_t len;
    char *text = read_profile_bytes(st, name, &len, NULL, err);
    if (!text)
        rc = err ? err->code : SR_E_IO;
    else if (file_exists(bpath))
        rc = sr_err_set(err, SR_E_EXISTS, "profile %s: backup %s already exists", name, bname);
    else
        rc = sr_write_file_atomic(bpath, text, len, 0600, 0, err);
    free(text);
    unlock_profile(fd);
    free(bname);
    free(bpath);
    return rc;
}

sr_code mapi_pstore_restore(mapi_pstore *st, const char *name, sr_err *err)
{
    sr_code rc = mapi_profile_name_check(name, err);
    if (rc != SR_OK)
        return rc;
    char *bname = mapi_profile_backup_name(name);
    char *path = path_of(st, name, PROFILE_EXT);
    if (!bname || !path) {
        free(bname);
        free(path);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    int fd = lock_profile(st, name, err);
    if (fd >= 0) {
        size_t len;
        char *text = read_profile_bytes(st, bname, &len, NULL, err);
        if (!text)
            rc = err ? err->code : SR_E_IO;
        else if ((rc = sr_write_file_atomic(path, text, len, 0600, 0, err)) == SR_OK)
            rc = unlink_profile(st, bname, err);
        if (rc == SR_E_NOTFOUND && !text)
            sr_err_set(err, SR_E_NOTFOUND, "profile %s: backup not found (PROFILE_BACKUP_NOT_FOUND)", name);
        free(text);
        unlock_profile(fd);
    } else {
        rc = err ? err->code : SR_E_IO;
    }
    free(bname);
    free(path);
    return rc;
}

sr_code mapi_pstore_delete_backup(mapi_pstore *st, const char *name, sr_err *err)
{
    sr_code rc = mapi_profile_name_check(name, err);
    if (rc != SR_OK)
        return rc;
    char *bname = mapi_profile_backup_name(name);
    if (!bname)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    rc = mapi_pstore_delete(st, bname, err);
    free(bname);
    return rc;
}
