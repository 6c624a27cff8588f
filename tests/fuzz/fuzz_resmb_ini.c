/* fuzz_resmb_ini.c — SwitchResMB.ini loader (configs/): any bytes give a
 * config or NULL with file:line errors, never a crash or a leak. */
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
    cfg_resmb *c = cfg_resmb_load(path, &d, &e);
    FUZZ_CHECK(c || d.errors > 0, "refused without counting an error: %s", e.msg);
    FUZZ_CHECK(c || e.code == SR_E_CONFIG || e.code == SR_E_CMDLINE || e.code == SR_E_IO ||
               e.code == SR_E_NOMEM || e.code == SR_E_LIMIT, "code %d: %s", e.code, e.msg);
    cfg_resmb_free(c);
    fuzz_file_close(fd);
    return 0;
}
