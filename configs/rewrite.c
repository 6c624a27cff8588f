/* rewrite.c — put a new [AD] DCPassword value into SwitchResMB.ini, touching
 * no other byte: comments, blank lines, key spelling, CRLF and the order of
 * everything stay as the administrator wrote them.  cfg_ini_set_value does
 * the same for any key (cpuu-config --encrypt uses it for CPUU.ini). */
#include "configs/configs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define INI_MAX_BYTES (16u * 1024u * 1024u)

static const char *skip_blank(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *b, const char *e)
{
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    return e;
}

/* Is [b, e) a section header naming `name` (case-insensitive)?  Returns
 * 1 yes, 0 another section, -1 not a header. */
static int header_is(const char *b, const char *e, const char *name)
{
    b = skip_blank(b, e);
    e = trim_end(b, e);
    if (b == e || *b != '[' || e[-1] != ']')
        return -1;
    const char *nb = skip_blank(b + 1, e - 1), *ne = trim_end(nb, e - 1);
    return (size_t)(ne - nb) == strlen(name) && strncasecmp(nb, name, ne - nb) == 0;
}

/* Find the value bytes of `key` in section `sec`: *vb..*ve.  Returns the
 * number of matching lines (0, 1, or more for duplicates) and whether the
 * section was seen. */
static int find_value(const char *buf, size_t len, const char *sec, const char *key,
                      const char **vb, const char **ve, int *sec_seen)
{
    int in_sec = 0, found = 0;
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        int h = header_is(p, le, sec);
        if (h >= 0) {
            in_sec = h;
            *sec_seen |= h;
        } else if (in_sec) {
            const char *kb = skip_blank(p, le);
            const char *eq = memchr(kb, '=', (size_t)(le - kb));
            if (eq && *kb != ';' && *kb != '#') {
                const char *ke = trim_end(kb, eq);
                if ((size_t)(ke - kb) == strlen(key) && strncasecmp(kb, key, ke - kb) == 0) {
                    if (!found++) {
                        *vb = skip_blank(eq + 1, le);
                        *ve = trim_end(*vb, le);
                    }
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    return found;
}

/* Keep the owner and group of the file that was replaced: the atomic write
 * creates a new inode, owned by whoever runs this (root editing a service
 * account's file must not take it over).  Best effort for non-root. */
static void keep_owner(const char *path, const struct stat *before)
{
    struct stat now;
    if (stat(path, &now) != 0 || (now.st_uid == before->st_uid && now.st_gid == before->st_gid))
        return;
    if (chown(path, before->st_uid, before->st_gid) != 0)
        sr_log(SR_LOG_WARN, path, "could not give the file back to uid %u gid %u: %s",
               (unsigned)before->st_uid, (unsigned)before->st_gid, strerror(errno));
}

sr_code cfg_ini_set_value(const char *path, const char *section, const char *key,
                          const char *value, sr_err *err)
{
    if (!value || strpbrk(value, "\r\n"))
        return sr_err_set(err, SR_E_INVALID, "stored value must be a single line");
    struct stat before;
    if (stat(path, &before) != 0)
        return sr_err_set(err, SR_E_CONFIG, "%s: cannot open: %s", path, strerror(errno));
    size_t len = 0;
    sr_err ferr;
    char *buf = sr_read_file(path, INI_MAX_BYTES, &len, &ferr);
    if (!buf)
        return sr_err_set(err, SR_E_CONFIG, "cannot read configuration file: %s", ferr.msg);
    const char *vb = NULL, *ve = NULL;
    int sec_seen = 0;
    int n = find_value(buf, len, section, key, &vb, &ve, &sec_seen);
    sr_code rc = SR_OK;
    if (!sec_seen)
        rc = sr_err_set(err, SR_E_CONFIG, "%s: no [%s] section; add it with a \"%s=\" line, "
                        "then run this again", path, section, key);
    else if (n == 0)
        rc = sr_err_set(err, SR_E_CONFIG, "%s: [%s] has no %s line; add \"%s=\" to [%s], then "
                        "run this again", path, section, key, key, section);
    else if (n > 1)
        rc = sr_err_set(err, SR_E_CONFIG, "%s: [%s] %s appears %d times; keep one", path,
                        section, key, n);
    if (rc == SR_OK) {
        size_t pre = (size_t)(vb - buf), old = (size_t)(ve - vb), add = strlen(value);
        size_t nlen = len - old + add;
        char *out = malloc(nlen + 1);
        if (!out) {
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        } else {
            memcpy(out, buf, pre);
            memcpy(out + pre, value, add);
            memcpy(out + pre + add, ve, len - pre - old);
            rc = sr_write_file_atomic(path, out, nlen, 0600, 1, err);
            if (rc == SR_OK)
                keep_owner(path, &before);
            explicit_bzero(out, nlen);
            free(out);
        }
    }
    explicit_bzero(buf, len);
    free(buf);
    return rc;
}

sr_code cfg_resmb_set_dcpassword(const char *path, const char *stored, sr_err *err)
{
    return cfg_ini_set_value(path, "AD", "DCPassword", stored, err);
}
