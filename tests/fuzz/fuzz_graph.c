/* fuzz_graph.c — what Microsoft Graph answers (mapi/graph*.c): a $batch
 * answer read into requests, an error body as an sr_err, a Retry-After
 * value.  Properties: a request is a success exactly when its status is
 * 2xx, every failure carries a message, waits stay within their cap. */
#include "mapi/graph.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

#define N 4

static void batch_answer(const char *s)
{
    mapi_graph_req r[N];
    mapi_graph_req *q[N];
    const char *ids[N] = { "1", "2", "a", "B" };
    memset(r, 0, sizeof r);
    for (int i = 0; i < N; i++) {
        r[i].path = "/users/x@y/mailFolders/inbox/messageRules";
        q[i] = &r[i];
    }
    long retry = -1;
    sr_err e;
    sr_err_clear(&e);
    sr_code rc = mapi_graph_batch_read(s, q, ids, N, &retry, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_PROTOCOL, "code %d: %s", rc, e.msg);
    FUZZ_CHECK(retry >= 0 && retry <= 600000, "retry %ld", retry);
    for (int i = 0; rc == SR_OK && i < N; i++) {
        int ok = r[i].status >= 200 && r[i].status < 300;
        FUZZ_CHECK(ok == (r[i].err.code == SR_OK), "status %ld with code %d", r[i].status,
                   r[i].err.code);
        FUZZ_CHECK(ok || r[i].err.msg[0], "a failure without a message");
        mapi_graph_req_clear(&r[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *s = fuzz_cstr(data, size);
    if (!s)
        return 0;
    batch_answer(s);
    sr_err e;
    sr_err_clear(&e);
    long status = size ? 400 + data[0] % 200 : 500;
    FUZZ_CHECK(mapi_graph_error(status, s, "fuzz", &e) != SR_OK && e.msg[0], "error %ld", status);
    long ms = mapi_graph_retry_after_ms(s, 120000);
    FUZZ_CHECK(ms >= -1 && ms <= 120000, "Retry-After %ld", ms);
    free(s);
    return 0;
}
