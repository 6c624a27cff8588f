/* test_mapi_graph.c — the pure parts of the Graph transport (mapi/graph*.c):
 * Graph error JSON → sr_err, Retry-After, the mailbox of a path, $batch
 * splitting (20 per batch, 4 concurrent per mailbox, dependsOn chains),
 * the batch body and answer, and the per-side protocol choice.  Shapes follow
 * Microsoft Graph's "JSON batching" and "Error responses" documentation. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "configs/configs.h"
#include "mapi/graph.h"

static void test_error_mapping(void)
{
    CU_ASSERT_TRUE(mapi_graph_code_table_sorted());
    sr_err e;
    sr_err_clear(&e);
    const char *nf = "{\"error\":{\"code\":\"ErrorItemNotFound\",\"message\":\"The specified "
                     "object was not found in the store.\",\"innerError\":{\"date\":\"x\"}}}";
    CU_ASSERT_EQUAL(mapi_graph_error(404, nf, "GET rules", &e), SR_E_NOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "GET rules: HTTP 404 ErrorItemNotFound: The specified"));
    /* the code name wins over the status: a 400 that Graph names access denied */
    const char *ad = "{\"error\":{\"code\":\"ErrorAccessDenied\",\"message\":\"Access is denied.\"}}";
    CU_ASSERT_EQUAL(mapi_graph_error(400, ad, "x", &e), SR_E_ACCESS);
    /* 403 without a known code: a permission; the message says to grant it */
    CU_ASSERT_EQUAL(mapi_graph_error(403, "{\"error\":{\"code\":\"Forbidden\"}}", "x", &e),
                    SR_E_ACCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "application permission"));
    /* throttling is BUSY/WAIT whatever the code says */
    CU_ASSERT_EQUAL(mapi_graph_error(429, "{\"error\":{\"code\":\"ErrorAccessDenied\"}}", "x", &e),
                    SR_E_BUSY);
    CU_ASSERT_EQUAL(e.cls, SR_CLASS_WAIT);
    CU_ASSERT_EQUAL(mapi_graph_error(504, NULL, "x", &e), SR_E_BUSY);
    /* no JSON at all: by status */
    CU_ASSERT_EQUAL(mapi_graph_error(401, "<html>nope</html>", "x", &e), SR_E_AUTH);
    CU_ASSERT_EQUAL(mapi_graph_error(409, "", "x", &e), SR_E_EXISTS);
    CU_ASSERT_EQUAL(mapi_graph_error(502, "", "x", &e), SR_E_SERVER);
    CU_ASSERT_EQUAL(mapi_graph_error(418, "", "x", &e), SR_E_PROTOCOL);
    /* a long message is cut at its first line */
    CU_ASSERT_EQUAL(mapi_graph_error(400, "{\"error\":{\"code\":\"invalidRequest\",\"message\":"
                                          "\"first\\nsecond\"}}", "x", &e), SR_E_INVALID);
    CU_ASSERT_PTR_NULL(strstr(e.msg, "second"));
}

static void test_retry_after(void)
{
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms("10", 120000), 10000);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms(" 0 ", 120000), 0);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms("99999999999", 120000), 120000);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms(NULL, 120000), -1);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms("", 120000), -1);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms("10s", 120000), -1);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms("soon", 120000), -1);
    /* an HTTP-date: in the past → now; 30 s ahead → about 30 s */
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 120000), 0);
    char d[64];
    time_t t = time(NULL) + 30;
    strftime(d, sizeof d, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&t));
    long ms = mapi_graph_retry_after_ms(d, 120000);
    CU_ASSERT_TRUE(ms >= 28000 && ms <= 30000);
    CU_ASSERT_EQUAL(mapi_graph_retry_after_ms(d, 5000), 5000);
}

static void test_paths(void)
{
    char mb[64];
    mapi_graph_path_mailbox("/users/Room-7@Trg.Example/mailFolders/inbox", mb, sizeof mb);
    CU_ASSERT_STRING_EQUAL(mb, "room-7@trg.example");
    mapi_graph_path_mailbox("users/a%40b?$select=id", mb, sizeof mb);
    CU_ASSERT_STRING_EQUAL(mb, "a%40b");
    mapi_graph_path_mailbox("/me/messages", mb, sizeof mb);
    CU_ASSERT_STRING_EQUAL(mb, "");
    mapi_graph_path_mailbox("/users/abcdefgh", mb, 4);
    CU_ASSERT_STRING_EQUAL(mb, "abc");
    char *p = mapi_graph_user_path("o'hara #1@x.example", "/calendar");
    CU_ASSERT_STRING_EQUAL(p, "/users/o%27hara%20%231@x.example/calendar");
    free(p);
    p = mapi_graph_user_path("100%40@x", "");   /* a literal \"%40\" stays encoded */
    CU_ASSERT_STRING_EQUAL(p, "/users/100%2540@x");
    free(p);
}

/* n requests on mailboxes mb[i] ("a", "b"), with dependsOn dep[i] (0: none;
 * else the 1-based index). */
typedef struct fixture {
    mapi_graph_req r[64];
    mapi_graph_req *q[64];
    const char *ids[64];
    char idbuf[64][8], path[64][64], dep[64][8];
} fixture;

static void fx_init(fixture *f, size_t n, const char *mbs, const int *deps)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++) {
        snprintf(f->idbuf[i], sizeof f->idbuf[i], "%zu", i + 1);
        snprintf(f->path[i], sizeof f->path[i], "/users/%c@x/mailFolders/inbox/messageRules",
                 mbs[i % strlen(mbs)]);
        f->r[i].path = f->path[i];
        if (deps && deps[i]) {
            snprintf(f->dep[i], sizeof f->dep[i], "%d", deps[i]);
            f->r[i].depends_on = f->dep[i];
        }
        f->q[i] = &f->r[i];
        f->ids[i] = f->idbuf[i];
    }
}

static void test_split(void)
{
    fixture f;
    /* 25 requests over five mailboxes: 20 fit (4 each) */
    fx_init(&f, 25, "abcde", NULL);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 25), 20);
    /* one mailbox: 4 independent requests per batch */
    fx_init(&f, 10, "a", NULL);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 10), 4);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q + 8, f.ids + 8, 2), 2);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 0), 0);
    /* a serial chain on one mailbox is one concurrent request: 20 fit */
    int chain[30];
    for (int i = 0; i < 30; i++)
        chain[i] = i;   /* request i+1 depends on request i */
    fx_init(&f, 30, "a", chain);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 30), 20);
    /* "same" pattern: 6 requests depending on request 1 run side by side:
     * 1 + 0 (first dependent continues the chain) + 1 per further dependent */
    int same[8] = { 0, 1, 1, 1, 1, 1, 1, 1 };
    fx_init(&f, 8, "a", same);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 8), 5);
    /* requests without a mailbox are not bounded by it */
    fx_init(&f, 6, "a", NULL);
    for (int i = 0; i < 6; i++)
        f.r[i].path = "/subscriptions";
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 6), 6);
    /* a version change starts a new batch */
    fx_init(&f, 3, "abc", NULL);
    f.r[2].version = "beta";
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q, f.ids, 3), 2);
    CU_ASSERT_EQUAL(mapi_graph_batch_split(f.q + 2, f.ids + 2, 1), 1);
}

static void test_body(void)
{
    fixture f;
    int deps[3] = { 0, 1, 7 };   /* 3 depends on request 7, outside the batch */
    fx_init(&f, 3, "a", deps);
    f.r[1].method = "PATCH";
    json_t *b = json_pack("{s:s}", "displayName", "Move to Archive");
    f.r[1].body = b;
    char *s = mapi_graph_batch_body(f.q, f.ids, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    json_t *j = json_loads(s, 0, NULL);
    json_t *rq = json_object_get(j, "requests");
    CU_ASSERT_EQUAL(json_array_size(rq), 3);
    json_t *r0 = json_array_get(rq, 0), *r1 = json_array_get(rq, 1), *r2 = json_array_get(rq, 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r0, "method")), "GET");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r0, "id")), "1");
    CU_ASSERT_PTR_NULL(json_object_get(r0, "headers"));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r1, "url")),
                           "/users/a@x/mailFolders/inbox/messageRules");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(r1, "headers"),
                                                             "Content-Type")), "application/json");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(r1, "body"),
                                                             "displayName")), "Move to Archive");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(r1, "dependsOn"), 0)),
                           "1");
    CU_ASSERT_PTR_NULL(json_object_get(r2, "dependsOn"));
    json_decref(j);
    json_decref(b);
    free(s);
}

static void test_read(void)
{
    fixture f;
    fx_init(&f, 4, "a", NULL);
    /* answers in another order, one throttled with Retry-After, one 204,
     * one Graph error, one missing */
    const char *ans =
        "{\"responses\":["
        "{\"id\":\"3\",\"status\":429,\"headers\":{\"retry-after\":\"7\"},"
        "\"body\":{\"error\":{\"code\":\"ApplicationThrottled\",\"message\":\"slow down\"}}},"
        "{\"id\":\"1\",\"status\":200,\"body\":{\"id\":\"AAMk1\",\"sequence\":2}},"
        "{\"id\":\"2\",\"status\":404,\"body\":{\"error\":{\"code\":\"ErrorItemNotFound\","
        "\"message\":\"gone\"}}}]}";
    long retry = -5;
    sr_err e;
    sr_err_clear(&e);
    CU_ASSERT_EQUAL(mapi_graph_batch_read(ans, f.q, f.ids, 4, &retry, &e), SR_OK);
    CU_ASSERT_EQUAL(retry, 7000);
    CU_ASSERT_EQUAL(f.r[0].status, 200);
    CU_ASSERT_EQUAL(f.r[0].err.code, SR_OK);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(f.r[0].resp, "id")), "AAMk1");
    CU_ASSERT_EQUAL(f.r[1].err.code, SR_E_NOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(f.r[1].err.msg, "gone"));
    CU_ASSERT_EQUAL(f.r[2].status, 429);
    CU_ASSERT_EQUAL(f.r[2].err.code, SR_E_BUSY);
    CU_ASSERT_EQUAL(f.r[3].status, 0);
    CU_ASSERT_EQUAL(f.r[3].err.code, SR_E_PROTOCOL);
    for (int i = 0; i < 4; i++)
        mapi_graph_req_clear(&f.r[i]);
    CU_ASSERT_EQUAL(mapi_graph_batch_read("{\"value\":[]}", f.q, f.ids, 4, &retry, &e),
                    SR_E_PROTOCOL);
    CU_ASSERT_EQUAL(mapi_graph_batch_read("not json", f.q, f.ids, 4, &retry, &e), SR_E_PROTOCOL);
}

static void test_proto(void)
{
    CU_ASSERT_STRING_EQUAL(mapi_proto_name(MAPI_PROTO_GRAPH), "Graph");
    CU_ASSERT_STRING_EQUAL(mapi_proto_name(MAPI_PROTO_AUTO), "Auto");
    /* configs' values are ours, in the same order */
    CU_ASSERT_EQUAL((int)MAPI_PROTO_EWS, (int)CFG_PROTO_EWS);
    CU_ASSERT_EQUAL((int)MAPI_PROTO_GRAPH, (int)CFG_PROTO_GRAPH);
    /* Auto: Graph only for Exchange Online with EWS blocked */
    CU_ASSERT_EQUAL(mapi_proto_decide(MAPI_PROTO_AUTO, 1, SR_E_EWS_BLOCKED), MAPI_PROTO_GRAPH);
    CU_ASSERT_EQUAL(mapi_proto_decide(MAPI_PROTO_AUTO, 1, SR_OK), MAPI_PROTO_EWS);
    CU_ASSERT_EQUAL(mapi_proto_decide(MAPI_PROTO_AUTO, 1, SR_E_CONNECT), MAPI_PROTO_EWS);
    CU_ASSERT_EQUAL(mapi_proto_decide(MAPI_PROTO_AUTO, 0, SR_E_EWS_BLOCKED), MAPI_PROTO_EWS);
    /* an explicit choice stands */
    CU_ASSERT_EQUAL(mapi_proto_decide(MAPI_PROTO_EWS, 1, SR_E_EWS_BLOCKED), MAPI_PROTO_EWS);
    CU_ASSERT_EQUAL(mapi_proto_decide(MAPI_PROTO_GRAPH, 1, SR_OK), MAPI_PROTO_GRAPH);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mapi_graph", NULL, NULL);
    CU_add_test(s, "Graph error JSON to sr_err", test_error_mapping);
    CU_add_test(s, "Retry-After seconds and HTTP-date", test_retry_after);
    CU_add_test(s, "mailbox of a path, user path encoding", test_paths);
    CU_add_test(s, "$batch split: 20, 4 per mailbox, chains", test_split);
    CU_add_test(s, "$batch body: headers, dependsOn", test_body);
    CU_add_test(s, "$batch answer by id, throttled, missing", test_read);
    CU_add_test(s, "protocol per side: names, decide", test_proto);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
