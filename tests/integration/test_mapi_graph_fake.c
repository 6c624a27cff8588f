/* test_mapi_graph_fake.c — the Graph client (mapi/graph*.c) against
 * tests/py/graph_fake.py, a small Graph stand-in with Microsoft's documented
 * shapes, started on a free loopback port and stopped by its PID: the token
 * for the Graph audience (fetched once), errors as the user reads them,
 * @odata.nextLink paging, $batch with dependsOn, 429 + Retry-After retried
 * for the throttled requests only and within the budget, and never more than
 * 4 concurrent requests per mailbox (the stand-in answers 429 beyond, as
 * Graph does, and counts it). */
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapi/graph.h"
#include "tests/common/testutil.h"

#define CLIENT_ID "00000000-aaaa-bbbb-cccc-0000000000a7"
#define SECRET "Graph-Secret-456"
#define ALICE "alice@trg.example"
#define ROOM "room-7@trg.example"

static char *g_dir;
static int g_port;
static pid_t g_pid = -1;
static char g_base[64], g_token_url[96];

static int suite_init(void)
{
    if (!(g_dir = tu_mkdtemp("graph")) || !(g_port = tu_free_port()))
        return -1;
    char secret[600], log[600], port[16], script[700];
    snprintf(secret, sizeof secret, "%s/secret", g_dir);
    FILE *f = fopen(secret, "w");
    if (!f)
        return -1;
    fchmod(fileno(f), 0600);
    fputs(SECRET, f);
    fclose(f);
    snprintf(log, sizeof log, "%s/graph_fake.log", g_dir);
    snprintf(port, sizeof port, "%d", g_port);
    snprintf(script, sizeof script, "%s/tests/py/graph_fake.py", tu_root());
    char *argv[] = { "/usr/bin/python3", script, port, CLIENT_ID, secret, ALICE "," ROOM, NULL };
    if ((g_pid = tu_spawn(argv, log)) < 0 || tu_wait_port(g_port, 10000) != 0) {
        fprintf(stderr, "graph_fake.py did not start; see %s\n", log);
        return -1;
    }
    snprintf(g_base, sizeof g_base, "http://127.0.0.1:%d", g_port);
    snprintf(g_token_url, sizeof g_token_url, "%s/token", g_base);
    return 0;
}

static int suite_clean(void)
{
    if (g_pid > 0)
        tu_stop(g_pid, 5000);
    if (g_dir) {
        tu_rm_rf(g_dir);
        free(g_dir);
    }
    return 0;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
    json_t **out = ud;
    json_decref(*out);
    *out = json_loadb(p, sz * n, 0, NULL);
    return sz * n;
}

/* POST a JSON control to the stand-in (body) or GET its stats (NULL):
 * the answer, parsed; caller json_decref's. */
static json_t *fake(const char *body)
{
    CURL *h = curl_easy_init();
    json_t *out = NULL;
    char url[128];
    snprintf(url, sizeof url, "%s/_fake/%s", g_base, body ? "config" : "stats");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
    if (body)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_perform(h);
    curl_easy_cleanup(h);
    return out;
}

static long stat_int(const char *key)
{
    json_t *s = fake(NULL);
    long v = (long)json_integer_value(json_object_get(s, key));
    json_decref(s);
    return v;
}

static long stat_max(const char *key, const char *mailbox)
{
    json_t *s = fake(NULL);
    long v = (long)json_integer_value(json_object_get(json_object_get(s, key), mailbox));
    json_decref(s);
    return v;
}

static mapi_graph *client(const char *secret, unsigned max_backoff_ms)
{
    mapi_netopts o = { .auth = MAPI_AUTH_OAUTH2, .client_id = CLIENT_ID, .client_secret = secret,
                       .token_url = g_token_url, .allow_http = 1, .connect_timeout_ms = 2000,
                       .timeout_ms = 10000, .max_backoff_ms = max_backoff_ms };
    mapi_graph_opts go = { .base_url = g_base };
    sr_err e;
    sr_err_clear(&e);
    mapi_graph *g = mapi_graph_new(&o, &go, &e);
    CU_ASSERT_PTR_NOT_NULL(g);
    return g;
}

static sr_code get_user(mapi_graph *g, const char *user, mapi_graph_req *r)
{
    char *path = mapi_graph_user_path(user, "");
    *r = (mapi_graph_req){ .path = path };
    sr_code rc = mapi_graph_call(g, r);
    free(path);
    r->path = NULL;
    return rc;
}

static void test_token_and_errors(void)
{
    long grants = stat_int("grants");
    mapi_graph *g = client(SECRET, 0);
    mapi_graph_req r;
    CU_ASSERT_EQUAL(get_user(g, ALICE, &r), SR_OK);
    CU_ASSERT_EQUAL(r.status, 200);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.resp, "mail")), ALICE);
    mapi_graph_req_clear(&r);
    /* an unknown mailbox: Graph's code and message reach the user */
    CU_ASSERT_EQUAL(get_user(g, "nobody@trg.example", &r), SR_E_NOTFOUND);
    CU_ASSERT_EQUAL(r.status, 404);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "Request_ResourceNotFound"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "nobody"));
    mapi_graph_req_clear(&r);
    /* the application role not granted */
    json_decref(fake("{\"deny\":true}"));
    CU_ASSERT_EQUAL(get_user(g, ALICE, &r), SR_E_ACCESS);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "Authorization_RequestDenied"));
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "application permission"));
    mapi_graph_req_clear(&r);
    json_decref(fake("{\"deny\":false}"));
    /* one token for all of it: it is cached on the handle */
    CU_ASSERT_EQUAL(stat_int("grants"), grants + 1);
    mapi_graph_free(g);
    /* a wrong secret: no token, said so, and no Graph request sent */
    long requests = stat_int("requests");
    g = client("wrong", 0);
    CU_ASSERT_EQUAL(get_user(g, ALICE, &r), SR_E_AUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "AADSTS7000215"));
    CU_ASSERT_PTR_NULL(strstr(r.err.msg, "wrong"));
    CU_ASSERT_EQUAL(stat_int("requests"), requests);
    mapi_graph_req_clear(&r);
    mapi_graph_free(g);
    /* not OAuth2: refused before anything is sent */
    mapi_netopts basic = { .auth = MAPI_AUTH_BASIC, .user = "u", .password = "p" };
    sr_err e;
    sr_err_clear(&e);
    CU_ASSERT_PTR_NULL(mapi_graph_new(&basic, NULL, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_CONFIG);
}

/* n new rules in user's inbox through one mapi_graph_batch; each request
 * i > 0 depends on i - 1 when chained. */
static sr_code create_rules(mapi_graph *g, const char *user, int n, int chained, const char *tag,
                            mapi_graph_req *reqs, sr_err *e)
{
    static char ids[64][8];
    char *path = mapi_graph_user_path(user, "/mailFolders/inbox/messageRules");
    json_t *bodies[64];
    for (int i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s %02d", tag, i);
        bodies[i] = json_pack("{s:s, s:i, s:b}", "displayName", name, "sequence", i + 1,
                              "isEnabled", 1);
        snprintf(ids[i], sizeof ids[i], "r%d", i);
        reqs[i] = (mapi_graph_req){ .method = "POST", .path = path, .body = bodies[i],
                                    .id = ids[i], .depends_on = chained && i ? ids[i - 1] : NULL };
    }
    sr_code rc = mapi_graph_batch(g, reqs, (size_t)n, e);
    for (int i = 0; i < n; i++) {
        json_decref(bodies[i]);
        reqs[i].path = NULL;
        reqs[i].body = NULL;
    }
    free(path);
    return rc;
}

static void clear_all(mapi_graph_req *reqs, int n)
{
    for (int i = 0; i < n; i++)
        mapi_graph_req_clear(&reqs[i]);
}

static void test_batch_and_paging(void)
{
    mapi_graph *g = client(SECRET, 0);
    mapi_graph_req reqs[64];
    sr_err e;
    json_t *before = fake(NULL);
    size_t batches0 = json_array_size(json_object_get(before, "batches"));
    json_decref(before);
    /* 30 independent creations on one mailbox: 4 per batch (the mailbox
     * limit), and not one answered "over the limit" */
    CU_ASSERT_EQUAL(create_rules(g, ALICE, 30, 0, "indep", reqs, &e), SR_OK);
    for (int i = 0; i < 30; i++) {
        CU_ASSERT_EQUAL(reqs[i].status, 201);
        CU_ASSERT_PTR_NOT_NULL(json_string_value(json_object_get(reqs[i].resp, "id")));
    }
    clear_all(reqs, 30);
    CU_ASSERT_EQUAL(stat_int("over_limit"), 0);
    CU_ASSERT_EQUAL(stat_max("max_width", ALICE), 4);
    json_t *s = fake(NULL);
    json_t *b = json_object_get(s, "batches");
    CU_ASSERT_EQUAL(json_array_size(b) - batches0, 8);   /* 7 x 4 + 2 */
    json_decref(s);
    /* a dependsOn chain is one request at a time: 20 per batch */
    CU_ASSERT_EQUAL(create_rules(g, ROOM, 25, 1, "chain", reqs, &e), SR_OK);
    clear_all(reqs, 25);
    s = fake(NULL);
    b = json_object_get(s, "batches");
    size_t nb = json_array_size(b);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(b, nb - 2)), 20);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(b, nb - 1)), 5);
    json_decref(s);
    CU_ASSERT_EQUAL(stat_int("over_limit"), 0);
    /* paging: 25 rules, 2 per page, in order */
    char *path = mapi_graph_user_path(ROOM, "/mailFolders/inbox/messageRules");
    json_t *all = NULL;
    long req0 = stat_int("requests");
    CU_ASSERT_EQUAL_FATAL(mapi_graph_get_all(g, path, NULL, &all, &e), SR_OK);
    CU_ASSERT_EQUAL(json_array_size(all), 25);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(all, 24),
                                                             "displayName")), "chain 24");
    CU_ASSERT_EQUAL(stat_int("requests") - req0, 13);
    json_decref(all);
    /* a nextLink to another host is not followed (the token stays home) */
    json_decref(fake("{\"away_link\":true}"));
    req0 = stat_int("requests");
    CU_ASSERT_EQUAL(mapi_graph_get_all(g, path, NULL, &all, &e), SR_E_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "elsewhere.example"));
    CU_ASSERT_PTR_NULL(all);
    CU_ASSERT_EQUAL(stat_int("requests") - req0, 1);
    json_decref(fake("{\"away_link\":false}"));
    free(path);
    mapi_graph_free(g);
}

/* One request at a time: create, update, read, delete a rule. */
static void test_single_requests(void)
{
    mapi_graph *g = client(SECRET, 0);
    char *list = mapi_graph_user_path(ROOM, "/mailFolders/inbox/messageRules");
    json_t *body = json_pack("{s:s, s:i}", "displayName", "From the boss", "sequence", 1);
    mapi_graph_req r = { .method = "POST", .path = list, .body = body };
    CU_ASSERT_EQUAL_FATAL(mapi_graph_call(g, &r), SR_OK);
    CU_ASSERT_EQUAL(r.status, 201);
    char one[256];
    snprintf(one, sizeof one, "%s/%s", list, json_string_value(json_object_get(r.resp, "id")));
    mapi_graph_req_clear(&r);
    json_decref(body);
    body = json_pack("{s:b}", "isEnabled", 0);
    r = (mapi_graph_req){ .method = "PATCH", .path = one, .body = body };
    CU_ASSERT_EQUAL(mapi_graph_call(g, &r), SR_OK);
    mapi_graph_req_clear(&r);
    r = (mapi_graph_req){ .path = one };
    CU_ASSERT_EQUAL(mapi_graph_call(g, &r), SR_OK);
    CU_ASSERT_TRUE(json_is_false(json_object_get(r.resp, "isEnabled")));
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.resp, "displayName")),
                           "From the boss");
    mapi_graph_req_clear(&r);
    r = (mapi_graph_req){ .method = "DELETE", .path = one };
    CU_ASSERT_EQUAL(mapi_graph_call(g, &r), SR_OK);
    CU_ASSERT_EQUAL(r.status, 204);
    CU_ASSERT_PTR_NULL(r.resp);
    mapi_graph_req_clear(&r);
    r = (mapi_graph_req){ .path = one };
    CU_ASSERT_EQUAL(mapi_graph_call(g, &r), SR_E_NOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "ErrorItemNotFound"));
    mapi_graph_req_clear(&r);
    /* a property Graph does not know is refused as Graph refuses it */
    json_decref(body);
    body = json_pack("{s:s}", "colour", "red");
    r = (mapi_graph_req){ .method = "POST", .path = list, .body = body };
    CU_ASSERT_EQUAL(mapi_graph_call(g, &r), SR_E_INVALID);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err.msg, "colour"));
    mapi_graph_req_clear(&r);
    json_decref(body);
    free(list);
    mapi_graph_free(g);
}

static void test_depends_on_failure(void)
{
    mapi_graph *g = client(SECRET, 0);
    char *missing = mapi_graph_user_path(ALICE, "/mailFolders/inbox/messageRules/AQAAAnone=");
    char *list = mapi_graph_user_path(ALICE, "/mailFolders/inbox/messageRules");
    mapi_graph_req r[3] = {
        { .method = "DELETE", .path = missing, .id = "del" },
        { .path = list, .id = "after", .depends_on = "del" },
        { .path = list, .id = "free" },
    };
    sr_err e;
    CU_ASSERT_EQUAL(mapi_graph_batch(g, r, 3, &e), SR_E_NOTFOUND);
    CU_ASSERT_EQUAL(r[0].status, 404);
    CU_ASSERT_PTR_NOT_NULL(strstr(r[0].err.msg, "ErrorItemNotFound"));
    CU_ASSERT_EQUAL(r[1].status, 424);
    CU_ASSERT_NOT_EQUAL(r[1].err.code, SR_OK);
    CU_ASSERT_EQUAL(r[2].status, 200);
    CU_ASSERT_EQUAL(r[2].err.code, SR_OK);
    clear_all(r, 3);
    /* the dependency failed in an earlier batch (4 per mailbox): the
     * dependent is not sent and gets 424, as Graph would answer it */
    mapi_graph_req s[6] = {
        { .method = "DELETE", .path = missing, .id = "d" },
        { .path = list }, { .path = list }, { .path = list }, { .path = list },
        { .path = list, .depends_on = "d" },
    };
    long sub0 = stat_int("sub_requests");
    CU_ASSERT_EQUAL(mapi_graph_batch(g, s, 6, &e), SR_E_NOTFOUND);
    CU_ASSERT_EQUAL(stat_int("sub_requests") - sub0, 5);
    CU_ASSERT_EQUAL(s[4].status, 200);
    CU_ASSERT_EQUAL(s[5].status, 424);
    CU_ASSERT_PTR_NOT_NULL(strstr(s[5].err.msg, "request d it depends on failed"));
    clear_all(s, 6);
    /* a dependency on a later request is the caller's mistake: nothing sent */
    mapi_graph_req bad[2] = { { .path = list, .id = "a", .depends_on = "b" },
                              { .path = list, .id = "b" } };
    long req0 = stat_int("requests");
    CU_ASSERT_EQUAL(mapi_graph_batch(g, bad, 2, &e), SR_E_INVALID);
    CU_ASSERT_EQUAL(stat_int("requests"), req0);
    free(missing);
    free(list);
    mapi_graph_free(g);
}

static void test_throttling(void)
{
    mapi_graph *g = client(SECRET, 0);
    mapi_graph_req reqs[64];
    sr_err e;
    /* 3 sub-requests answered 429 Retry-After 1: sent again alone */
    json_decref(fake("{\"throttle\":{\"match\":\"messageRules\",\"count\":3,\"retry_after\":\"1\"}}"));
    long throttled0 = stat_int("throttled");
    long long t0 = sr_now_ms();
    CU_ASSERT_EQUAL(create_rules(g, "Alice@trg.example", 4, 0, "thr", reqs, &e), SR_OK);
    long long took = sr_now_ms() - t0;
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(reqs[i].status, 201);
    clear_all(reqs, 4);
    CU_ASSERT_EQUAL(stat_int("throttled") - throttled0, 3);
    CU_ASSERT_TRUE(took >= 1000 && took < 5000);
    json_t *s = fake(NULL);
    json_t *b = json_object_get(s, "batches");
    size_t nb = json_array_size(b);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(b, nb - 2)), 4);
    CU_ASSERT_EQUAL(json_integer_value(json_array_get(b, nb - 1)), 3);
    json_decref(s);
    /* a top-level 429 is waited out the same way */
    json_decref(fake("{\"throttle\":{\"match\":\"/users/\",\"count\":1,\"retry_after\":\"1\","
                     "\"top\":true}}"));
    mapi_graph_req r;
    throttled0 = stat_int("throttled");
    t0 = sr_now_ms();
    CU_ASSERT_EQUAL(get_user(g, ALICE, &r), SR_OK);
    CU_ASSERT_TRUE(sr_now_ms() - t0 >= 1000);
    CU_ASSERT_EQUAL(stat_int("throttled") - throttled0, 1);
    mapi_graph_req_clear(&r);
    mapi_graph_free(g);
    /* a server that keeps throttling: given up within the waiting budget */
    g = client(SECRET, 2500);
    json_decref(fake("{\"throttle\":{\"match\":\"messageRules\",\"count\":1000,\"retry_after\":\"1\"}}"));
    t0 = sr_now_ms();
    CU_ASSERT_EQUAL(create_rules(g, ALICE, 2, 0, "busy", reqs, &e), SR_E_BUSY);
    took = sr_now_ms() - t0;
    CU_ASSERT_TRUE(took >= 2000 && took < 6000);
    CU_ASSERT_EQUAL(reqs[0].status, 429);
    CU_ASSERT_EQUAL(reqs[0].err.code, SR_E_BUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "429"));
    clear_all(reqs, 2);
    json_decref(fake("{\"throttle\":null}"));
    mapi_graph_free(g);
    /* 504 (gateway timeout): a read is sent again, a creation is not (it
     * may have been applied), and its error says so */
    g = client(SECRET, 0);
    json_decref(fake("{\"throttle\":{\"match\":\"messageRules\",\"count\":2,\"retry_after\":\"1\","
                     "\"status\":504}}"));
    char *list = mapi_graph_user_path(ALICE, "/mailFolders/inbox/messageRules");
    json_t *body = json_pack("{s:s}", "displayName", "gw");
    mapi_graph_req two[2] = { { .path = list }, { .method = "POST", .path = list, .body = body } };
    long sub0 = stat_int("sub_requests");
    CU_ASSERT_EQUAL(mapi_graph_batch(g, two, 2, &e), SR_E_BUSY);
    CU_ASSERT_EQUAL(two[0].status, 200);
    CU_ASSERT_EQUAL(two[1].status, 504);
    CU_ASSERT_PTR_NOT_NULL(strstr(two[1].err.msg, "may have been applied"));
    CU_ASSERT_EQUAL(stat_int("sub_requests") - sub0, 3);
    clear_all(two, 2);
    json_decref(fake("{\"throttle\":null}"));
    json_decref(body);
    free(list);
    mapi_graph_free(g);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mapi_graph_fake", suite_init, suite_clean);
    CU_add_test(s, "token for Graph, errors as Graph names them", test_token_and_errors);
    CU_add_test(s, "$batch within 20 and 4 per mailbox; paging", test_batch_and_paging);
    CU_add_test(s, "POST, PATCH, GET, DELETE one at a time", test_single_requests);
    CU_add_test(s, "$batch dependsOn: a failed dependency gives 424", test_depends_on_failure);
    CU_add_test(s, "429 Retry-After: only throttled requests again, bounded", test_throttling);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)(CU_get_number_of_failures() + CU_get_number_of_suites_failed());
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
