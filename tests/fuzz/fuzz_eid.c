/* fuzz_eid.c — EntryID decoder (mapi/entryid.c, MS-OXCDATA 2.2) and its
 * round trip: what decodes encodes, and encode(decode(encode(decode(x)))) ==
 * encode(decode(x)). */
#include "mapi/mapi.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    mapi_eid a, b;
    sr_err e;
    sr_code rc = mapi_eid_decode(data, size, &a, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_PARSE || rc == SR_E_UNSUPPORTED || rc == SR_E_NOMEM,
               "code %d: %s", rc, e.msg);
    if (rc != SR_OK)
        return 0;
    uint8_t *enc1 = NULL, *enc2 = NULL;
    size_t n1 = 0, n2 = 0;
    rc = mapi_eid_encode(&a, &enc1, &n1, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_NOMEM, "decoded EntryID not encodable: %s", e.msg);
    if (rc == SR_OK) {
        FUZZ_CHECK(mapi_eid_decode(enc1, n1, &b, &e) == SR_OK, "own encoding refused: %s", e.msg);
        FUZZ_CHECK(b.kind == a.kind, "kind changed");
        FUZZ_CHECK(mapi_eid_encode(&b, &enc2, &n2, &e) == SR_OK, "second encode: %s", e.msg);
        FUZZ_CHECK(n1 == n2 && !memcmp(enc1, enc2, n1), "encoding not stable");
        mapi_eid_clear(&b);
    }
    free(enc1);
    free(enc2);
    mapi_eid_clear(&a);
    return 0;
}
