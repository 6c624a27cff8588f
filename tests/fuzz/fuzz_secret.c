/* fuzz_secret.c — the stored-secret decoder (configs/secret.c): any text
 * decrypts or fails with SR_E_CRYPTO, never crashes; and the round trip:
 * decrypt(encrypt(x)) == x for the input taken as a password. */
#include "configs/configs.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    char *plain = NULL, *stored = NULL, *back = NULL;
    sr_err e;
    sr_code rc = cfg_secret_decrypt(s, &plain, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_CRYPTO || rc == SR_E_NOMEM || rc == SR_E_IO,
               "code %d: %s", rc, e.msg);
    FUZZ_CHECK(rc != SR_OK || plain, "SR_OK without a value");
    sr_secret_free(plain);
    if (cfg_secret_encrypt(s, CFG_ENC_UNRESTRICTED, &stored, &e) == SR_OK) {
        FUZZ_CHECK(cfg_secret_is_ours(stored), "own stored form not recognised");
        FUZZ_CHECK(cfg_secret_decrypt(stored, &back, &e) == SR_OK, "own stored form refused: %s", e.msg);
        FUZZ_CHECK(!strcmp(back, s), "password changed in a round trip");
        sr_secret_free(back);
        free(stored);
    }
    free(s);
    return 0;
}
