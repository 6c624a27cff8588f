/* fileio.c — whole-file reads, durable atomic writes (temp + fsync + rename)
 * and atomic writes of regenerated views (temp + rename, no fsync). */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *sr_read_file(const char *path, size_t max_bytes, size_t *len_out, sr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        sr_err_set(err, errno == ENOENT ? SR_E_NOTFOUND : SR_E_IO, "%s: cannot open: %s",
                   path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        sr_err_set(err, SR_E_IO, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((size_t)st.st_size > max_bytes) {
        sr_err_set(err, SR_E_LIMIT, "%s: file is %lld bytes, limit is %zu", path,
                   (long long)st.st_size, max_bytes);
        close(fd);
        return NULL;
    }
    size_t cap = (size_t)st.st_size, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        sr_err_set(err, SR_E_NOMEM, "%s: out of memory", path);
        close(fd);
        return NULL;
    }
    while (len < cap) {
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            sr_err_set(err, SR_E_IO, "%s: read error: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break;   /* file shrank while reading: take what is there */
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static void fsync_dir_of(const char *path)
{
    char *copy = sr_strdup(path);
    if (!copy)
        return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(copy);
}

sr_code sr_write_file_atomic(const char *path, const void *data, size_t len,
                             mode_t mode, int keep_mode, sr_err *err)
{
    struct stat st;
    if (keep_mode && stat(path, &st) == 0)
        mode = st.st_mode & 07777;
    return sr_write_file_atomic_hook(path, data, len, mode, NULL, NULL, err);
}

/* Temp file beside path, prepare, [fsync], rename; [fsync the directory]. */
static sr_code write_replace(const char *path, const void *data, size_t len, mode_t mode,
                             sr_code (*prepare)(int fd, void *ctx, sr_err *err), void *ctx,
                             int durable, sr_err *err)
{
    char *tmp = sr_asprintf("%s.tmp.XXXXXX", path);
    if (!tmp)
        return sr_err_set(err, SR_E_NOMEM, "%s: out of memory", path);
    int fd = mkostemp(tmp, O_CLOEXEC);   /* created 0600: never briefly world-readable */
    if (fd < 0) {
        sr_err_set(err, SR_E_IO, "%s: cannot create temporary file: %s", path, strerror(errno));
        free(tmp);
        return SR_E_IO;
    }
    int ok = write_all(fd, data, len) == 0 && fchmod(fd, mode) == 0;
    int saved = errno;
    sr_code hrc = SR_OK;
    if (ok && prepare && (hrc = prepare(fd, ctx, err)) != SR_OK)
        ok = 0;
    if (ok && durable && fsync(fd) != 0) {
        ok = 0;
        saved = errno;
    }
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (ok && rename(tmp, path) != 0) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return hrc != SR_OK ? hrc : sr_err_set(err, SR_E_IO, "%s: cannot write: %s", path, strerror(saved));
    }
    free(tmp);
    if (durable)
        fsync_dir_of(path);
    return SR_OK;
}

sr_code sr_write_file_atomic_hook(const char *path, const void *data, size_t len, mode_t mode,
                                  sr_code (*prepare)(int fd, void *ctx, sr_err *err), void *ctx,
                                  sr_err *err)
{
    return write_replace(path, data, len, mode, prepare, ctx, 1, err);
}

sr_code sr_view_open(sr_view *v, const char *path, mode_t mode, sr_err *err)
{
    *v = (sr_view){ 0 };
    if (!(v->path = sr_strdup(path)) || !(v->tmp = sr_asprintf("%s.tmp.XXXXXX", path))) {
        free(v->path);
        v->path = NULL;
        return sr_err_set(err, SR_E_NOMEM, "%s: out of memory", path);
    }
    int fd = mkostemp(v->tmp, O_CLOEXEC);   /* created 0600: never briefly world-readable */
    if (fd >= 0 && fchmod(fd, mode) == 0 && (v->f = fdopen(fd, "w")))
        return SR_OK;
    int saved = errno;
    if (fd >= 0) {
        close(fd);
        unlink(v->tmp);
    }
    free(v->path);
    free(v->tmp);
    *v = (sr_view){ 0 };
    return sr_err_set(err, SR_E_IO, "%s: cannot create temporary file: %s", path, strerror(saved));
}

sr_code sr_view_commit(sr_view *v, sr_err *err)
{
    if (!v->f)
        return sr_err_set(err, SR_E_IO, "view not open");
    errno = 0;
    int bad = ferror(v->f);
    int saved = bad ? (errno ? errno : EIO) : 0;
    if (fclose(v->f) != 0 && !saved)
        saved = errno ? errno : EIO;
    if (!saved && rename(v->tmp, v->path) != 0)
        saved = errno;
    sr_code rc = SR_OK;
    if (saved) {
        unlink(v->tmp);
        rc = sr_err_set(err, SR_E_IO, "%s: cannot write: %s", v->path, strerror(saved));
    }
    free(v->path);
    free(v->tmp);
    *v = (sr_view){ 0 };
    return rc;
}

sr_code sr_mkdir_p(const char *path, mode_t mode, sr_err *err)
{
    char *copy = sr_strdup(path);
    if (!copy)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, mode) != 0 && errno != EEXIST) {
                sr_err_set(err, SR_E_IO, "%s: cannot create directory: %s", copy, strerror(errno));
                free(copy);
                return SR_E_IO;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(copy);
    return SR_OK;
}
