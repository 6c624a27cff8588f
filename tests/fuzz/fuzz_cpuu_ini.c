/* fuzz_cpuu_ini.c — CPUU.ini loader (configs/). */
#include "configs/configs.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char path[64];
    int fd = fuzz_file(data, size, path, sizeof path);
    if (fd < 0)
        return 0;
    cfg_diag d = { 0 };
    sr_err e;
    cfg_cpuu *c = cfg_cpuu_load(path, &d, &e);
    FUZZ_CHECK(c || d.errors > 0, "refused without counting an error: %s", e.msg);
    cfg_cpuu_free(c);
    fuzz_file_close(fd);
    return 0;
}
