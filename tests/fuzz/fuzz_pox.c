/* fuzz_pox.c — the POX Autodiscover response parser (mapi/). */
#include "mapi/mapi.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    mapi_ad_result *r = NULL;
    char *raddr = NULL, *rurl = NULL;
    sr_err e;
    sr_code rc = mapi_ad_parse_pox((const char *)data, size, "fuzz", &r, &raddr, &rurl, &e);
    FUZZ_CHECK(rc != SR_OK || r || raddr || rurl, "SR_OK with nothing");
    FUZZ_CHECK(rc == SR_OK || (!r && !raddr && !rurl), "an error left a result");
    mapi_ad_result_free(r);
    free(raddr);
    free(rurl);
    return 0;
}
