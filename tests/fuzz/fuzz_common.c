/* fuzz_common.c — helpers for the harnesses (see fuzz.h). */
#include "tests/fuzz/fuzz.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fuzz_quiet(void)
{
    static FILE *null;
    if (!null) {
        null = fopen("/dev/null", "w");
        sr_log_set_stream(null);
        sr_log_set_level(SR_LOG_ERROR);
    }
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return NULL;
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

int fuzz_file(const uint8_t *data, size_t size, char *path, size_t path_len)
{
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return -1;
    }
    snprintf(path, path_len, "/proc/self/fd/%d", fd);
    return fd;
}

void fuzz_file_close(int fd)
{
    if (fd >= 0)
        close(fd);
}
