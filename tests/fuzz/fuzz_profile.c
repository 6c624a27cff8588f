/* fuzz_profile.c — the profile text format (mapi/profile_text.c): parse
 * never crashes, and parse(format(parse(x))) == parse(x), compared through
 * the canonical text (format is deterministic). */
#include "mapi/mapi.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    mapi_profile p, q;
    sr_err e;
    sr_code rc = mapi_profile_parse((const char *)data, size, "f", &p, &e);
    FUZZ_CHECK(rc == SR_OK || ((rc == SR_E_PARSE || rc == SR_E_NOMEM) && !p.name),
               "code %d: %s", rc, e.msg);
    if (rc != SR_OK)
        return 0;
    char *t1 = mapi_profile_format(&p, &e);
    /* the one thing a parsed profile may not format: a time outside 0000-9999 */
    FUZZ_CHECK(t1 || e.code == SR_E_INVALID || e.code == SR_E_NOMEM, "format: %s", e.msg);
    if (t1) {
        rc = mapi_profile_parse(t1, strlen(t1), "formatted", &q, &e);
        FUZZ_CHECK(rc == SR_OK, "the reader refused the writer's text: %s\n%s", e.msg, t1);
        char *t2 = mapi_profile_format(&q, &e);
        FUZZ_CHECK(t2 && !strcmp(t1, t2), "profile changed in a round trip");
        free(t2);
        mapi_profile_clear(&q);
    }
    free(t1);
    mapi_profile_clear(&p);
    return 0;
}
