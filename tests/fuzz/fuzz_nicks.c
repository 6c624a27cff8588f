/* fuzz_nicks.c — the Nicks (autocomplete) stream parser (cpuu/nicks.h) and
 * its documented property: what parses serialises back byte for byte. */
#include "cpuu/nicks.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    nk_stream s;
    sr_err e;
    sr_code rc = nk_parse(data, size, &s, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_PARSE || rc == SR_E_UNSUPPORTED || rc == SR_E_NOMEM ||
               rc == SR_E_LIMIT, "code %d: %s", rc, e.msg);
    if (rc != SR_OK)
        return 0;
    uint8_t *out = NULL;
    size_t n = 0;
    rc = nk_serialize(&s, &out, &n, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_NOMEM, "parsed stream not serialisable: %s", e.msg);
    if (rc == SR_OK)
        FUZZ_CHECK(n == size && !memcmp(out, data, n), "round trip not byte-exact (%zu -> %zu)", size, n);
    free(out);
    nk_stream_clear(&s);
    return 0;
}
