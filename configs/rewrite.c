/* rewrite.c — put a new stored secret ([AD] DCPassword in SwitchResMB.ini;
 * Password, PasswordTrg, ClientSecret or SMTPPassword in CPUU.ini) into its file, touching
 * no other byte: comments, blank lines, key spelling, line endings, the
 * encoding (UTF-8, BOM, UTF-16) and the order of everything stay as the
 * administrator wrote them.  The file keeps its identity too: a symlink is
 * followed and the real file rewritten; owner, group, mode and ACL are those
 * of the file it replaces.  Lines are found with the loader's own reader
 * (ini_lines.c), so both agree on what the value is. */
#include "configs/ini.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/acl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where each stored secret lives; `alias` is another accepted section name. */
typedef struct secret_key {
    const char *key, *sec, *alias, *file;
} secret_key;

static const secret_key secret_keys[] = {
    { "DCPassword", "AD", NULL, "SwitchResMB.ini" },
    { "DCPassword", "TargetAD", NULL, "SwitchResMB.ini" },   /* ours: the target directory */
    { "Password", "Parameters", NULL, "CPUU.ini" },
    { "PasswordTrg", "Parameters", NULL, "CPUU.ini" },
    { "ClientSecret", "Parameters", NULL, "CPUU.ini" },   /* ours: the OAuth2 app's secret */
    { "SMTPPassword", "Admin notification", "Notification", "CPUU.ini" },
};

static int name_is(const char *b, const char *e, const char *name)
{
    size_t n = (size_t)(e - b);
    return name && n == strlen(name) && strncasecmp(b, name, n) == 0;
}

/* Find the value bytes of k in its section: *vb..*ve.  Returns the number
 * of matching lines (0, 1, or more for duplicates) and whether the section
 * was seen. */
static int find_value(const ini_text *t, const secret_key *k, const char **vb, const char **ve,
                      int *sec_seen)
{
    int in_sec = 0, found = 0;
    ini_line ln = { 0 };
    while (ini_next_line(t, &ln)) {
        ini_parts p;
        ini_classify(&ln, &p);
        if (p.kind == IL_SECTION) {
            in_sec = name_is(p.nb, p.ne, k->sec) || name_is(p.nb, p.ne, k->alias);
            *sec_seen |= in_sec;
        } else if (in_sec && p.kind == IL_KV && name_is(p.nb, p.ne, k->key) && !found++) {
            *vb = p.vb;
            *ve = p.ve;
        }
    }
    return found;
}

/* What the temp file must get from the file it replaces. */
typedef struct identity {
    const char *path;
    struct stat st;
} identity;

/* Owner and group first (chown may clear set-id bits), then the mode, then
 * the ACL, which carries the mode's bits and any named users/groups. */
static sr_code keep_identity(int fd, void *ctx, sr_err *err)
{
    const identity *id = ctx;
    if ((id->st.st_uid != geteuid() || id->st.st_gid != getegid()) &&
        fchown(fd, id->st.st_uid, id->st.st_gid) != 0)
        return sr_err_set(err, SR_E_ACCESS,
                          "%s: cannot give the new file its owner %ld:%ld (%s); run this as the "
                          "file's owner or as root — the file is unchanged", id->path,
                          (long)id->st.st_uid, (long)id->st.st_gid, strerror(errno));
    if (fchmod(fd, id->st.st_mode & 07777) != 0)
        return sr_err_set(err, SR_E_IO, "%s: cannot set the mode: %s", id->path, strerror(errno));
    acl_t acl = acl_get_file(id->path, ACL_TYPE_ACCESS);
    if (!acl)  /* ENOTSUP: a file system without ACLs; the mode says it all */
        return errno == ENOTSUP || errno == ENOSYS
                   ? SR_OK
                   : sr_err_set(err, SR_E_IO, "%s: cannot read its ACL: %s", id->path, strerror(errno));
    int rc = acl_set_fd(fd, acl);
    int saved = errno;
    acl_free(acl);
    if (rc != 0)
        return sr_err_set(err, SR_E_IO, "%s: cannot copy its ACL to the new file: %s", id->path,
                          strerror(saved));
    return SR_OK;
}

/* Replace [vb, ve) of t by stored, encode as the file was, write it over real. */
static sr_code write_back(const char *real, const ini_text *t, const char *vb, const char *ve,
                          const char *stored, const identity *id, sr_err *err)
{
    size_t pre = (size_t)(vb - t->buf), old = (size_t)(ve - vb), add = strlen(stored);
    size_t nlen = t->len - old + add;
    char *out = malloc(nlen + 1);
    if (!out)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    memcpy(out, t->buf, pre);
    memcpy(out + pre, stored, add);
    memcpy(out + pre + add, ve, t->len - pre - old);
    size_t elen = 0;
    char *enc = ini_text_encode(out, nlen, t->enc, &elen, err);
    explicit_bzero(out, nlen);
    free(out);
    if (!enc)
        return err ? err->code : SR_E_CONFIG;
    sr_code rc = sr_write_file_atomic_hook(real, enc, elen, 0600, keep_identity, (void *)id, err);
    explicit_bzero(enc, elen);
    free(enc);
    return rc;
}

static sr_code not_found(const char *path, const secret_key *k, int sec_seen, sr_err *err)
{
    if (strcmp(k->key, "DCPassword") == 0 && strcmp(k->sec, "AD") == 0)
        return sec_seen ? sr_err_set(err, SR_E_CONFIG, "%s: [AD] has no DCPassword line; add "
                                     "\"DCPassword=\" to [AD], then run this again", path)
                        : sr_err_set(err, SR_E_CONFIG, "%s: no [AD] section; add [AD] with "
                                     "DCName, DCAccount and a DCPassword= line, then run this "
                                     "again", path);
    return sec_seen ? sr_err_set(err, SR_E_CONFIG, "%s: [%s] has no %s line; add \"%s=\" to it, "
                                 "then run this again", path, k->sec, k->key, k->key)
                    : sr_err_set(err, SR_E_CONFIG, "%s: no [%s] section (is this the %s?); add "
                                 "[%s] with a %s= line, then run this again", path, k->sec,
                                 k->file, k->sec, k->key);
}

static sr_code rewrite_real(const char *path, const char *real, const secret_key *k,
                            const char *stored, sr_err *err)
{
    identity id = { .path = real };
    if (stat(real, &id.st) != 0)
        return sr_err_set(err, SR_E_CONFIG, "%s: %s", path, strerror(errno));
    ini_text t;
    int bad_line = 0;
    sr_err terr;
    if (ini_text_read(&t, real, &bad_line, &terr) != SR_OK) {
        sr_err_set(err, terr.code, "%s:%d: %s", path, bad_line, terr.msg);
        return terr.code;
    }
    const char *vb = NULL, *ve = NULL;
    int sec_seen = 0;
    int n = find_value(&t, k, &vb, &ve, &sec_seen);
    sr_code rc = SR_OK;
    if (n == 0)
        rc = not_found(path, k, sec_seen, err);
    else if (n > 1)
        rc = sr_err_set(err, SR_E_CONFIG, "%s: [%s] %s appears %d times; keep one", path, k->sec,
                        k->key, n);
    else
        rc = write_back(real, &t, vb, ve, stored, &id, err);
    ini_text_free(&t);
    return rc;
}

/* "Key" (its first section in the table) or "Section.Key". */
static const secret_key *find_key(const char *key)
{
    const char *dot = strrchr(key, '.');
    for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++) {
        const secret_key *k = &secret_keys[i];
        if (!dot && sr_streq_ci(key, k->key))
            return k;
        if (dot && sr_streq_ci(dot + 1, k->key) &&
            (name_is(key, dot, k->sec) || name_is(key, dot, k->alias)))
            return k;
    }
    return NULL;
}

sr_code cfg_set_stored_secret(const char *path, const char *key, const char *stored, sr_err *err)
{
    const secret_key *k = key ? find_key(key) : NULL;
    if (!k)
        return sr_err_set(err, SR_E_USAGE, "'%s' is not a stored secret (DCPassword, "
                          "TargetAD.DCPassword, Password, PasswordTrg, ClientSecret or "
                          "SMTPPassword)", key ? key : "");
    if (!stored || strpbrk(stored, "\r\n"))
        return sr_err_set(err, SR_E_INVALID, "stored value must be a single line");
    /* a symlink (e.g. into a config-management tree) stays a symlink: the
     * rename happens beside the file it points to */
    char *real = realpath(path, NULL);
    if (!real)
        return sr_err_set(err, SR_E_CONFIG, "cannot read configuration file: %s: %s", path,
                          strerror(errno));
    sr_code rc = rewrite_real(path, real, k, stored, err);
    free(real);
    return rc;
}
