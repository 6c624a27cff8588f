/* rewrite.c — put a new [AD] DCPassword value into SwitchResMB.ini, touching
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

/* Find the value bytes of `key` in section `sec`: *vb..*ve.  Returns the
 * number of matching lines (0, 1, or more for duplicates) and whether the
 * section was seen. */
static int find_value(const ini_text *t, const char *sec, const char *key, const char **vb,
                      const char **ve, int *sec_seen)
{
    int in_sec = 0, found = 0;
    ini_line ln = { 0 };
    while (ini_next_line(t, &ln)) {
        ini_parts p;
        ini_classify(&ln, &p);
        size_t nl = (size_t)(p.ne - p.nb);
        if (p.kind == IL_SECTION) {
            in_sec = nl == strlen(sec) && strncasecmp(p.nb, sec, nl) == 0;
            *sec_seen |= in_sec;
        } else if (in_sec && p.kind == IL_KV && nl == strlen(key) &&
                   strncasecmp(p.nb, key, nl) == 0 && !found++) {
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

static sr_code rewrite_real(const char *path, const char *real, const char *stored, sr_err *err)
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
    int n = find_value(&t, "AD", "DCPassword", &vb, &ve, &sec_seen);
    sr_code rc = SR_OK;
    if (!sec_seen)
        rc = sr_err_set(err, SR_E_CONFIG,
                        "%s: no [AD] section; add [AD] with DCName, DCAccount and a DCPassword= "
                        "line, then run this again", path);
    else if (n == 0)
        rc = sr_err_set(err, SR_E_CONFIG,
                        "%s: [AD] has no DCPassword line; add \"DCPassword=\" to [AD], then run "
                        "this again", path);
    else if (n > 1)
        rc = sr_err_set(err, SR_E_CONFIG, "%s: [AD] DCPassword appears %d times; keep one", path, n);
    else
        rc = write_back(real, &t, vb, ve, stored, &id, err);
    ini_text_free(&t);
    return rc;
}

sr_code cfg_resmb_set_dcpassword(const char *path, const char *stored, sr_err *err)
{
    if (!stored || strpbrk(stored, "\r\n"))
        return sr_err_set(err, SR_E_INVALID, "stored value must be a single line");
    /* a symlink (e.g. into a config-management tree) stays a symlink: the
     * rename happens beside the file it points to */
    char *real = realpath(path, NULL);
    if (!real)
        return sr_err_set(err, SR_E_CONFIG, "cannot read configuration file: %s: %s", path,
                          strerror(errno));
    sr_code rc = rewrite_real(path, real, stored, err);
    free(real);
    return rc;
}
