/* test_mapi_ews.c — mapi's network half against two Exchange simulators
 * (bin/exsim: source and target organisations from tests/lab/orggen.py +
 * tests/exsim/seedgen.py) plus a TLS instance: Autodiscover on both sides,
 * logon, folder tree, switch message write/read/recreate, a temporary
 * profile, the round-trip and connection counters, and the faults (401, 500,
 * throttling, dropped bodies, schema faults, size limit, redirect loops,
 * unresolvable and refused hosts, untrusted TLS).  Every URL a candidate
 * list produces is rewritten to 127.0.0.1 (or left on a .invalid name whose
 * over-long label the resolver library refuses before sending a query): no
 * traffic leaves the machine. */
#include <CUnit/Basic.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mapi/mapi.h"
#include "tests/common/testutil.h"

typedef struct inst {
    pid_t pid;
    int port;
    char url[128];          /* http(s)://127.0.0.1:port */
    char user[64], password[128], token[128];
} inst;

static char *g_dir;
static inst g_src, g_tgt, g_tls;
/* answers redirectUrl for every @tgt.test address, to the target's own
 * Autodiscover URL (a front end handing over to the real service) */
static inst g_hop;
static char g_cert[512];

/* ---- setup ---------------------------------------------------------------- */
static int run_py(const char *script, const char *const *args)
{
    return tu_py(script, args);
}

/* Read the admin account of a seed (name, password, token). */
static int seed_account(const char *seed, inst *in)
{
    xmlDocPtr d = xmlReadFile(seed, NULL, XML_PARSE_NONET);
    xmlNodePtr a = NULL;
    for (xmlNodePtr c = d ? xmlDocGetRootElement(d)->children : NULL; c && !a; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "account") == 0)
            a = c;
    if (!a) {
        xmlFreeDoc(d);
        return -1;
    }
    xmlChar *n = xmlGetProp(a, BAD_CAST "name"), *p = xmlGetProp(a, BAD_CAST "password"),
            *t = xmlGetProp(a, BAD_CAST "token");
    snprintf(in->user, sizeof in->user, "%s", n ? (char *)n : "");
    snprintf(in->password, sizeof in->password, "%s", p ? (char *)p : "");
    snprintf(in->token, sizeof in->token, "%s", t ? (char *)t : "");
    xmlFree(n); xmlFree(p); xmlFree(t);
    xmlFreeDoc(d);
    return 0;
}

static int start_exsim(inst *in, const char *name, const char *seed, const char *const *extra)
{
    tu_exsim x;
    if (tu_exsim_start(&x, g_dir, name, seed, extra) != 0)
        return -1;
    in->pid = x.pid;
    in->port = x.port;
    snprintf(in->url, sizeof in->url, "%s", x.url);
    return seed_account(seed, in);
}

/* The source's admin as a guest account of the target (a trust): one
 * credential answers on both simulators, so an Autodiscover redirectAddr
 * from the source to the target can be followed on one handle.  Its name
 * differs (the target's own "admin" stays the first account); its UPN is
 * the source admin's. */
static int add_guest_account(const char *src_seed, const char *tgt_seed)
{
    inst s;
    if (seed_account(src_seed, &s) != 0)
        return -1;
    xmlDocPtr d = xmlReadFile(tgt_seed, NULL, XML_PARSE_NONET);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL;
    xmlNodePtr first = NULL;
    for (xmlNodePtr c = root ? root->children : NULL; c && !first; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "account") == 0)
            first = c;
    int rc = -1;
    if (first) {
        xmlNodePtr g = xmlNewNode(NULL, BAD_CAST "account");
        char upn[128];
        snprintf(upn, sizeof upn, "%s@src.test", s.user);
        xmlNewProp(g, BAD_CAST "name", BAD_CAST "srcguest");
        xmlNewProp(g, BAD_CAST "upn", BAD_CAST upn);
        xmlNewProp(g, BAD_CAST "password", BAD_CAST s.password);
        xmlNewProp(g, BAD_CAST "full-access", BAD_CAST "1");
        xmlAddNextSibling(first, g);
        rc = xmlSaveFile(tgt_seed, d) > 0 ? 0 : -1;
    }
    xmlFreeDoc(d);
    return rc;
}

static int suite_init(void)
{
    g_dir = tu_mkdtemp("mapiews");
    char org[512], src[512], tgt[512], key[512];
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(src, sizeof src, "%s/src.xml", g_dir);
    snprintf(tgt, sizeof tgt, "%s/tgt.xml", g_dir);
    const char *og[] = { "--users", "2", "--rooms", "2", "--unmigrated-every", "7", "-o", org, NULL };
    const char *sg[] = { "--org", org, "--side", "source", "-o", src, NULL };
    const char *tg[] = { "--org", org, "--side", "target", "-o", tgt, NULL };
    if (run_py("tests/lab/orggen.py", og) != 0 || run_py("tests/exsim/seedgen.py", sg) != 0 ||
        run_py("tests/exsim/seedgen.py", tg) != 0 || add_guest_account(src, tgt) != 0) {
        fprintf(stderr, "orggen/seedgen failed\n");
        return 1;
    }
    const char *src_extra[] = { "--redirect-url",
                                "loop.test=https://autodiscover.loop.test/autodiscover/autodiscover.xml", NULL };
    const char *hop_extra[] = { "--redirect-url",
                                "tgt.test=https://autodiscover.tgt.test/autodiscover/autodiscover.xml", NULL };
    if (start_exsim(&g_src, "src", src, src_extra) != 0 || start_exsim(&g_tgt, "tgt", tgt, NULL) != 0 ||
        start_exsim(&g_hop, "hop", tgt, hop_extra) != 0)
        return 1;
    /* a TLS instance whose certificate we do not trust unless told */
    snprintf(g_cert, sizeof g_cert, "%s/cert.pem", g_dir);
    snprintf(key, sizeof key, "%s/key.pem", g_dir);
    char *ossl[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                     "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                     "-keyout", key, "-out", g_cert, NULL };
    if (tu_run(ossl, "/dev/null", 30000) != 0)
        return 1;
    const char *tls_extra[] = { "--tls-cert", g_cert, "--tls-key", key, NULL };
    return start_exsim(&g_tls, "tls", src, tls_extra) != 0;
}

static int suite_clean(void)
{
    inst *all[] = { &g_src, &g_tgt, &g_tls, &g_hop };
    for (int i = 0; i < 4; i++)
        if (all[i]->pid > 0)
            tu_stop(all[i]->pid, 5000);
    if (g_dir && !getenv("SR_KEEP_TMP"))
        tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

/* ---- helpers ------------------------------------------------------------- */
/* GET or POST a /_sim endpoint; heap body (caller frees) or NULL. */
static char *sim(const inst *in, const char *path, int post)
{
    return tu_http(in->url, path, post);
}

static void sim_config(const inst *in, const char *query)
{
    char path[256];
    snprintf(path, sizeof path, "/_sim/config?%s", query);
    free(sim(in, path, 1));
}

/* Integer after "key": in json, searching from the first occurrence of
 * `after` (NULL: from the start); -1 when absent. */
static long json_num(const char *json, const char *after, const char *key)
{
    const char *p = json;
    if (after && p)
        p = strstr(p, after);
    char k[96];
    snprintf(k, sizeof k, "\"%s\":", key);
    p = p ? strstr(p, k) : NULL;
    return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

/* A room that is not migrated yet on the source (no redirect) and exists
 * on the target: the switch message goes into its source mailbox. */
static char g_room_src[128], g_room_tgt[128];

static int pick_room(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/src.xml", g_dir);
    xmlDocPtr d = xmlReadFile(path, NULL, XML_PARSE_NONET);
    for (xmlNodePtr c = d ? xmlDocGetRootElement(d)->children : NULL; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "mailbox") != 0)
            continue;
        xmlChar *kind = xmlGetProp(c, BAD_CAST "kind"), *red = xmlGetProp(c, BAD_CAST "redirect");
        xmlChar *smtp = xmlGetProp(c, BAD_CAST "smtp");
        int hit = kind && strcmp((char *)kind, "room") == 0 && !red && smtp;
        if (hit) {
            snprintf(g_room_src, sizeof g_room_src, "%s", (char *)smtp);
            snprintf(g_room_tgt, sizeof g_room_tgt, "%.*s@tgt.test",
                     (int)(strchr((char *)smtp, '@') - (char *)smtp), (char *)smtp);
        }
        xmlFree(kind); xmlFree(red); xmlFree(smtp);
        if (hit)
            break;
    }
    xmlFreeDoc(d);
    return g_room_src[0] ? 0 : -1;
}

/* Candidate URLs → the simulators on 127.0.0.1; the over-long .invalid name
 * stays (it fails locally); anything else → port 1 on loopback (refused). */
static char *to_loopback(void *ctx, const char *url)
{
    (void)ctx;
    const char *h = strstr(url, "://");
    if (!h)
        return NULL;
    h += 3;
    size_t hl = strcspn(h, ":/");
    const char *path = h + strcspn(h, "/");
    const char *base = "http://127.0.0.1:1";
    if (hl > 72 && strncmp(h + hl - 8, ".invalid", 8) == 0)
        return NULL;   /* the over-long label: fails in the resolver library, no query */
    if ((hl >= 8 && strncmp(h + hl - 8, "src.test", 8) == 0) ||
        (hl >= 9 && strncmp(h + hl - 9, "loop.test", 9) == 0))
        base = g_src.url;
    else if (hl >= 8 && strncmp(h + hl - 8, "tgt.test", 8) == 0)
        base = g_tgt.url;
    return sr_asprintf("%s%s", base, path);
}

static mapi_net *net_for(const inst *in, const char *password, mapi_netopts o)
{
    o.auth = MAPI_AUTH_BASIC;
    o.user = in->user;
    o.password = password ? password : in->password;
    o.allow_http = 1;
    if (!o.connect_timeout_ms)
        o.connect_timeout_ms = 3000;
    if (!o.timeout_ms)
        o.timeout_ms = 10000;
    sr_err e;
    mapi_net *n = mapi_net_new(&o, &e);
    CU_ASSERT_PTR_NOT_NULL(n);
    return n;
}

static const char *const src_domains[] = { "src.test", NULL };
static const char *const tgt_domains[] = { "tgt.test", NULL };

static mapi_ad *ad_for(mapi_net *net, const char *side)
{
    int src = strcmp(side, "source") == 0;
    mapi_ad_opts o = { .side = side,
                       .configured_url = src ? "https://autodiscover.src.test/autodiscover/autodiscover.xml"
                                             : "https://autodiscover.tgt.test/autodiscover/autodiscover.xml",
                       .url_domains = src ? src_domains : tgt_domains,
                       .rewrite = to_loopback };
    sr_err e;
    mapi_ad *ad = mapi_ad_new(net, &o, &e);
    CU_ASSERT_PTR_NOT_NULL(ad);
    return ad;
}

/* ---- the scenario ---------------------------------------------------------- */
static void test_autodiscover_both_sides(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ 0 });
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ 0 });
    mapi_ad *as = ad_for(ns, "source"), *at = ad_for(nt, "target");
    const mapi_ad_result *rs = NULL, *rt = NULL;
    sr_err e;
    char want[200];
    CU_ASSERT_EQUAL_FATAL(mapi_ad_discover(as, g_room_src, &rs, &e), SR_OK);
    snprintf(want, sizeof want, "%s/EWS/Exchange.asmx", g_src.url);
    CU_ASSERT_STRING_EQUAL(rs->ews_url, want);
    CU_ASSERT_STRING_EQUAL(rs->ad_url, "https://autodiscover.src.test/autodiscover/autodiscover.xml");
    CU_ASSERT_EQUAL(strncmp(rs->legacy_dn, "/o=SourceOrg/", 13), 0);
    CU_ASSERT_EQUAL_FATAL(mapi_ad_discover(at, g_room_tgt, &rt, &e), SR_OK);
    snprintf(want, sizeof want, "%s/EWS/Exchange.asmx", g_tgt.url);
    CU_ASSERT_STRING_EQUAL(rt->ews_url, want);
    CU_ASSERT_EQUAL(strncmp(rt->legacy_dn, "/o=TargetOrg/", 13), 0);
    /* the spec's "LegacyExchangeDN properties are different" */
    CU_ASSERT_EQUAL(mapi_ad_check_legacy_dn(rs, "source", rt->legacy_dn, &e), SR_E_AMBIGUOUS);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, rs->legacy_dn));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, rt->legacy_dn));
    /* a second room of the same domain goes straight to the URL that answered */
    unsigned before = mapi_ad_requests(as);
    CU_ASSERT_EQUAL(mapi_ad_discover(as, "user-0002@src.test", &rs, &e) == SR_OK ||
                    e.code == SR_E_NOTFOUND || e.code == SR_E_SERVER || e.code == SR_E_CONFIG, 1);
    CU_ASSERT_TRUE(mapi_ad_requests(as) - before >= 1);
    mapi_ad_free(as);
    mapi_ad_free(at);
    mapi_net_free(ns);
    mapi_net_free(nt);
}

static void same_msg(const mapi_switchmsg *a, const mapi_switchmsg *b)
{
    CU_ASSERT_EQUAL(a->version, b->version);
    CU_ASSERT_STRING_EQUAL(a->target_legacy_dn, b->target_legacy_dn);
    CU_ASSERT_STRING_EQUAL(a->target_smtp, b->target_smtp);
    CU_ASSERT_EQUAL(a->target_is_o365, b->target_is_o365);
}

/* The switch message and its item id, the way the live code finds it
 * (FindItem Associated with the message's properties). */
static sr_code read_sm(mapi_session *s, mapi_switchmsg *m, char **id, sr_err *e)
{
    static const mapi_ews_folder_ref inbox = { .distinguished = MAPI_SWITCHMSG_FOLDER };
    mapi_extprops want = { 0 };
    mapi_items items = { 0 };
    *id = NULL;
    memset(m, 0, sizeof *m);
    sr_code rc = mapi_switchmsg_want(&want, e);
    if (rc == SR_OK)
        rc = mapi_session_find_fai(s, &inbox, MAPI_SWITCHMSG_ITEM_CLASS, &want, &items, e);
    if (rc == SR_OK && items.n != 1)
        rc = sr_err_set(e, SR_E_NOTFOUND, "%zu switch messages", items.n);
    if (rc == SR_OK && (rc = mapi_switchmsg_from_extprops(&items.v[0].props, m, e)) == SR_OK)
        *id = sr_strdup(items.v[0].id);
    mapi_items_clear(&items);
    mapi_extprops_clear(&want);
    return rc;
}

static void test_logon_tree_switchmsg(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    /* a little latency so that concurrent requests overlap at the server */
    sim_config(&g_src, "reset=1&rtt_ms=100");
    free(sim(&g_src, "/_sim/reset-stats", 1));
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ 0 });
    mapi_ad *as = ad_for(ns, "source");
    sr_err e, sme;
    mapi_session_opts so = { .mailbox = g_room_src, .ad = as };
    mapi_session *s = mapi_session_logon(ns, &so, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    mapi_folders f;
    mapi_switchmsg m;
    CU_ASSERT_EQUAL_FATAL(mapi_session_open_mailbox(s, &f, &m, &sme, &e), SR_OK);
    /* logon + folder tree + switch message read: Autodiscover, then one concurrent step */
    char *st = sim(&g_src, "/_sim/stats", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    char key[160];
    snprintf(key, sizeof key, "\"%s\"", g_room_src);
    long rt = json_num(st, key, "round_trips");
    fprintf(stderr, "\n  [%s: %ld dependent round trips, %ld requests, %ld connections]\n",
            g_room_src, rt, json_num(st, NULL, "requests_total"), json_num(st, NULL, "connections"));
    CU_ASSERT_TRUE(rt >= 1 && rt <= 2);   /* brief: <= 3; we get Autodiscover + one batch */
    sim_config(&g_src, "reset=1");
    CU_ASSERT_EQUAL(json_num(st, NULL, "requests_total"), 3);
    free(st);
    /* the tree: well-known folders with their PR_ENTRYID */
    CU_ASSERT_TRUE(f.n >= 10);
    int inbox = 0, with_eid = 0;
    for (size_t i = 0; i < f.n; i++) {
        inbox |= f.v[i].display_name && strcmp(f.v[i].display_name, "Inbox") == 0;
        with_eid += f.v[i].entryid_len >= 22;
        CU_ASSERT_PTR_NOT_NULL(f.v[i].parent_id);
    }
    CU_ASSERT_TRUE(inbox);
    CU_ASSERT_EQUAL(with_eid, (int)f.n);
    mapi_folders_clear(&f);
    /* no switch message yet: the spec's "no switch message" */
    CU_ASSERT_EQUAL(sme.code, SR_E_NOTFOUND);
    /* create, read back, refuse a second without RecreateSwitchMsg, recreate */
    mapi_switchmsg w = { .version = MAPI_SWITCHMSG_CONTEMPORARY, .target_smtp = g_room_tgt,
                         .target_legacy_dn = "/o=TargetOrg/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=room",
                         .created_by = "test_mapi_ews", .created_at = 1764000000 };
    CU_ASSERT_EQUAL_FATAL(mapi_session_write_switchmsg(s, &w, 0, &e), SR_OK);
    char *id = NULL;
    CU_ASSERT_EQUAL_FATAL(read_sm(s, &m, &id, &e), SR_OK);
    same_msg(&m, &w);
    mapi_switchmsg_clear(&m);
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 0, &e), SR_E_EXISTS);
    w.target_is_o365 = 1;
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 1, &e), SR_OK);
    char *id2 = NULL;
    CU_ASSERT_EQUAL_FATAL(read_sm(s, &m, &id2, &e), SR_OK);
    same_msg(&m, &w);
    CU_ASSERT_TRUE(id && id2 && strcmp(id, id2) != 0);   /* deleted and created anew */
    mapi_switchmsg_clear(&m);
    /* the same through open_mailbox */
    CU_ASSERT_EQUAL(mapi_session_open_mailbox(s, &f, &m, &sme, &e), SR_OK);
    CU_ASSERT_EQUAL(sme.code, SR_OK);
    CU_ASSERT_EQUAL(m.target_is_o365, 1);
    mapi_switchmsg_clear(&m);
    mapi_folders_clear(&f);
    free(id);
    free(id2);
    /* connections are reused: many requests, few TCP connections */
    st = sim(&g_src, "/_sim/stats", 0);
    /* the server counts our two GET /_sim/stats connections too */
    long reqs = json_num(st, NULL, "requests_total"), conns = json_num(st, NULL, "connections") - 2;
    fprintf(stderr, "  [after the scenario: %ld requests over %ld client connections]\n", reqs, conns);
    CU_ASSERT_TRUE(reqs >= 10);
    /* the strict server accepted every request we built (schema-validated) */
    CU_ASSERT_TRUE(json_num(st, NULL, "schema_rejected") <= 0);   /* listed only when non-zero */
    CU_ASSERT_TRUE(json_num(st, NULL, "invalid_responses") <= 0);
    CU_ASSERT_TRUE(conns >= 1 && conns <= 3);   /* Autodiscover's, and one more for the concurrent pair */
    free(st);
    mapi_session_free(s);
    mapi_ad_free(as);
    mapi_net_free(ns);
}

static void test_impersonation_and_temp_profile(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ 0 });
    mapi_ad *at = ad_for(nt, "target");
    sr_err e;
    mapi_session_opts so = { .mailbox = g_room_tgt, .ad = at, .impersonate = 1 };
    mapi_session *s = mapi_session_logon(nt, &so, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    mapi_folders f;
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);
    CU_ASSERT_TRUE(f.n >= 10);
    mapi_folders_clear(&f);
    /* a temporary profile for the room from what Autodiscover said (store helper's API) */
    const mapi_ad_result *r = mapi_session_ad(s);
    char pdir[512];
    snprintf(pdir, sizeof pdir, "%s/profiles", g_dir);
    mapi_pstore *st = mapi_pstore_open(pdir, 0, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st);
    mapi_profile p = { .name = sr_strdup("x") };
    mapi_account *a = mapi_profile_add_account(&p);
    a->smtp = sr_strdup(r->smtp);
    a->legacy_dn = sr_strdup(r->legacy_dn);
    a->home_server = sr_strdup(r->server ? r->server : "127.0.0.1");
    a->ews_url = sr_strdup(r->ews_url);
    a->autodiscover_url = sr_strdup(r->ad_url);
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_create_temp(st, &p, NULL, &e), SR_OK);
    CU_ASSERT_TRUE(mapi_profile_name_is_temp(p.name));
    mapi_profile q = { 0 };
    CU_ASSERT_EQUAL_FATAL(mapi_pstore_load(st, p.name, &q, &e), SR_OK);
    CU_ASSERT_EQUAL(q.n_accounts, 1);
    CU_ASSERT_STRING_EQUAL(q.accounts[0].ews_url, r->ews_url);
    CU_ASSERT_STRING_EQUAL(q.accounts[0].legacy_dn, r->legacy_dn);
    free(q.accounts[0].display_name);
    q.accounts[0].display_name = sr_strdup("Room (switched)");
    CU_ASSERT_EQUAL(mapi_pstore_update(st, &q, &e), SR_OK);
    mapi_profile_clear(&q);
    CU_ASSERT_EQUAL(mapi_pstore_load(st, p.name, &q, &e), SR_OK);
    CU_ASSERT_STRING_EQUAL(q.accounts[0].display_name, "Room (switched)");
    mapi_profile_clear(&q);
    CU_ASSERT_EQUAL(mapi_pstore_delete(st, p.name, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_pstore_load(st, p.name, &q, &e), SR_E_NOTFOUND);
    mapi_profile_clear(&p);
    mapi_pstore_free(st);
    mapi_session_free(s);
    mapi_ad_free(at);
    mapi_net_free(nt);
}

/* Staged waves (writes, issue 13): an attempt defers only its first
 * unanswered step; a later call of the same attempt (it may depend on the
 * first: GetInboxRules after UpdateInboxRules) fails deferred but is NOT
 * sent with it; each attempt gets one step further, and a step answered in
 * a wave is never sent again, in a wave or live. */
static void test_staged_waves(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ 0 });
    mapi_ad *at = ad_for(nt, "target");
    sr_err e;
    mapi_session_opts so = { .mailbox = g_room_tgt, .ad = at, .impersonate = 1 };
    mapi_session *s = mapi_session_logon(nt, &so, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    mapi_folders f = { 0 };
    mapi_items it = { 0 };
    mapi_extprops want = { 0 };
    mapi_ews_folder_ref inbox = { .distinguished = "inbox" };
    CU_ASSERT_EQUAL_FATAL(mapi_session_wave_begin(s, &e), SR_OK);
    unsigned sent = mapi_net_requests(nt);
    sr_code rc[3][2];
    for (int a = 0; a < 3; a++) {   /* three attempts of a two-step sequence */
        mapi_session_wave_step(s);
        rc[a][0] = mapi_session_folders(s, &f, &e);
        rc[a][1] = mapi_session_find_fai(s, &inbox, NULL, &want, &it, &e);
        mapi_folders_clear(&f);
        mapi_items_clear(&it);
        CU_ASSERT_EQUAL(mapi_session_wave_send_many(&s, 1, &e), SR_OK);
        CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + (unsigned)(a < 2 ? a + 1 : 2));
    }
    CU_ASSERT_EQUAL(rc[0][0], SR_E_BUSY);   /* step 1 queued ... */
    CU_ASSERT_EQUAL(rc[0][1], SR_E_BUSY);   /* ... step 2 blocked, not sent with it */
    CU_ASSERT_EQUAL(rc[1][0], SR_OK);
    CU_ASSERT_EQUAL(rc[1][1], SR_E_BUSY);
    CU_ASSERT_EQUAL(rc[2][0], SR_OK);
    CU_ASSERT_EQUAL(rc[2][1], SR_OK);
    mapi_session_wave_live(s);   /* live: answered steps are not sent again */
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_session_find_fai(s, &inbox, NULL, &want, &it, &e), SR_OK);
    mapi_folders_clear(&f);
    mapi_items_clear(&it);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 2);
    mapi_session_wave_end(s);
    mapi_session_free(s);
    mapi_ad_free(at);
    mapi_net_free(nt);
}

/* Read waves (issue 13): a read in a recording wave is deferred (SR_E_BUSY)
 * and sends nothing; one wave_send answers it; the same read then gets that
 * answer from the cache, as often as asked, with no request; after wave_live
 * an unknown read goes out at once; after wave_end every read is live. */
static void test_read_waves(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ 0 });
    mapi_ad *at = ad_for(nt, "target");
    sr_err e;
    mapi_session_opts so = { .mailbox = g_room_tgt, .ad = at, .impersonate = 1 };
    mapi_session *s = mapi_session_logon(nt, &so, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    mapi_folders live = { 0 }, f = { 0 };
    CU_ASSERT_EQUAL_FATAL(mapi_session_folders(s, &live, &e), SR_OK);
    CU_ASSERT_TRUE_FATAL(live.n >= 10);
    CU_ASSERT_EQUAL_FATAL(mapi_session_wave_begin(s, &e), SR_OK);
    unsigned sent = mapi_net_requests(nt);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_E_BUSY);
    CU_ASSERT_EQUAL(mapi_session_wave_deferred(s), 1);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_session_wave_send_many(&s, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 1);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);
        CU_ASSERT_EQUAL(f.n, live.n);
        for (size_t k = 0; k < f.n && k < live.n; k++)
            CU_ASSERT_STRING_EQUAL(f.v[k].id, live.v[k].id);
        mapi_folders_clear(&f);
    }
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 1);
    CU_ASSERT_EQUAL(mapi_session_wave_deferred(s), 1);
    /* a write attempt's call is never answered with a read's: after
     * wave_step the same request is deferred (a check after a write reads
     * anew); reads again, it gets the read's answer */
    mapi_session_wave_step(s);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_E_BUSY);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_session_wave_deferred(s), 2);
    mapi_session_wave_reads(s);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);
    CU_ASSERT_EQUAL(f.n, live.n);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 1);
    mapi_session_wave_live(s);
    mapi_items it = { 0 };
    mapi_extprops want = { 0 };
    mapi_ews_folder_ref inbox = { .distinguished = "inbox" };
    CU_ASSERT_EQUAL(mapi_session_find_fai(s, &inbox, NULL, &want, &it, &e), SR_OK);
    mapi_items_clear(&it);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 2);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);   /* still answered */
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 2);
    mapi_session_wave_end(s);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), sent + 3);
    mapi_folders_clear(&live);
    mapi_session_free(s);
    mapi_ad_free(at);
    mapi_net_free(nt);
}

/* A deferred read on each of two sessions, one wave_send_many: both
 * are answered (each session's own handle and credentials), each handle
 * sends exactly its own request; a side whose logon is refused fails only
 * its own read; two sessions on one handle are sent one after the other and
 * both answered.  That the two sides' requests are on the wire together is
 * checked on one clock by tests/integration/round_trips.sh. */
static void wave_defer(mapi_session *s, mapi_folders *f)
{
    sr_err e;
    CU_ASSERT_EQUAL(mapi_session_wave_begin(s, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_session_folders(s, f, &e), SR_E_BUSY);
    mapi_folders_clear(f);
}

static void test_waves_both_sides(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    char src_ews[300], tgt_ews[300];
    snprintf(src_ews, sizeof src_ews, "%s/EWS/Exchange.asmx", g_src.url);
    snprintf(tgt_ews, sizeof tgt_ews, "%s/EWS/Exchange.asmx", g_tgt.url);
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ 0 });
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ 0 });
    mapi_net *nbad = net_for(&g_tgt, "not-the-password", (mapi_netopts){ 0 });
    CU_ASSERT_PTR_NOT_NULL_FATAL(ns);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(nbad);
    sr_err e;
    mapi_session_opts os = { .mailbox = g_room_src, .ews_url = src_ews, .impersonate = 1 };
    mapi_session_opts ot = { .mailbox = g_room_tgt, .ews_url = tgt_ews, .impersonate = 1 };
    mapi_session *ss = mapi_session_logon(ns, &os, &e), *st = mapi_session_logon(nt, &ot, &e);
    mapi_session *sb = mapi_session_logon(nbad, &ot, &e), *st2 = mapi_session_logon(nt, &ot, &e);
    CU_ASSERT_FATAL(ss && st && sb && st2);
    mapi_folders f = { 0 };
    unsigned s0 = mapi_net_requests(ns), t0 = mapi_net_requests(nt);
    wave_defer(ss, &f);
    wave_defer(st, &f);
    wave_defer(sb, &f);
    mapi_session *const both[3] = { ss, NULL, st };
    CU_ASSERT_EQUAL(mapi_session_wave_send_many(both, 3, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_net_requests(ns), s0 + 1);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), t0 + 1);
    CU_ASSERT_EQUAL(mapi_session_folders(ss, &f, &e), SR_OK);
    CU_ASSERT_TRUE(f.n >= 10);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_session_folders(st, &f, &e), SR_OK);
    CU_ASSERT_TRUE(f.n >= 10);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_net_requests(ns), s0 + 1);   /* answered from the caches */
    CU_ASSERT_EQUAL(mapi_net_requests(nt), t0 + 1);
    /* a refused side beside a good one: only its own read fails */
    wave_defer(ss, &f);
    mapi_session *const mixed[2] = { sb, ss };
    CU_ASSERT_EQUAL(mapi_session_wave_send_many(mixed, 2, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_session_folders(ss, &f, &e), SR_OK);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_session_folders(sb, &f, &e), SR_E_AUTH);
    mapi_folders_clear(&f);
    /* two sessions on one handle: one after the other, both answered */
    wave_defer(st, &f);
    wave_defer(st2, &f);
    unsigned t1 = mapi_net_requests(nt);
    mapi_session *const same[2] = { st, st2 };
    CU_ASSERT_EQUAL(mapi_session_wave_send_many(same, 2, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), t1 + 2);
    CU_ASSERT_EQUAL(mapi_session_folders(st, &f, &e), SR_OK);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_session_folders(st2, &f, &e), SR_OK);
    mapi_folders_clear(&f);
    CU_ASSERT_EQUAL(mapi_net_requests(nt), t1 + 2);
    mapi_session *const all[4] = { ss, st, sb, st2 };
    for (int i = 0; i < 4; i++) {
        mapi_session_wave_end(all[i]);
        mapi_session_free(all[i]);
    }
    mapi_net_free(ns);
    mapi_net_free(nt);
    mapi_net_free(nbad);
}

/* Autodiscover once: an answer handed over as a line (switchresmb → engine)
 * fills another handle's cache, so its logon sends no Autodiscover request
 * and gets the same EWS URL, server and LegacyDN; a bad line is refused. */
static void test_autodiscover_handover(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ 0 });
    mapi_ad *a1 = ad_for(nt, "target"), *a2 = ad_for(nt, "target");
    sr_err e;
    const mapi_ad_result *r1 = NULL, *r2 = NULL;
    CU_ASSERT_PTR_NULL(mapi_ad_cached_line(a1, g_room_tgt));   /* nothing asked yet */
    CU_ASSERT_EQUAL_FATAL(mapi_ad_discover(a1, g_room_tgt, &r1, &e), SR_OK);
    char *line = mapi_ad_cached_line(a1, g_room_tgt);
    CU_ASSERT_PTR_NOT_NULL_FATAL(line);
    CU_ASSERT_EQUAL(mapi_ad_seed(a2, "1\tnot enough fields", &e), SR_E_PARSE);
    CU_ASSERT_EQUAL(mapi_ad_seed(a2, line, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_ad_discover(a2, g_room_tgt, &r2, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_ad_requests(a2), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
    CU_ASSERT_STRING_EQUAL(r2->ews_url, r1->ews_url);
    CU_ASSERT_STRING_EQUAL(r2->legacy_dn, r1->legacy_dn);
    CU_ASSERT_EQUAL(!r2->server, !r1->server);
    if (r1->server && r2->server)
        CU_ASSERT_STRING_EQUAL(r2->server, r1->server);
    CU_ASSERT_EQUAL(r2->redirects, r1->redirects);
    free(line);
    mapi_ad_free(a1);
    mapi_ad_free(a2);
    mapi_net_free(nt);
}

/* A migrated mailbox of the source (its Autodiscover redirects to the target
 * address); "" when the seed has none. */
static void pick_redirected(char *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof path, "%s/src.xml", g_dir);
    out[0] = '\0';
    xmlDocPtr d = xmlReadFile(path, NULL, XML_PARSE_NONET);
    for (xmlNodePtr c = d ? xmlDocGetRootElement(d)->children : NULL; c && !out[0]; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "mailbox") != 0)
            continue;
        xmlChar *red = xmlGetProp(c, BAD_CAST "redirect"), *smtp = xmlGetProp(c, BAD_CAST "smtp");
        if (red && smtp && strstr((char *)red, "@tgt.test"))
            snprintf(out, cap, "%s", (char *)smtp);
        xmlFree(red); xmlFree(smtp);
    }
    xmlFreeDoc(d);
}

static mapi_ad *ad_many(mapi_net *net)
{
    static const char *const doms[] = { "src.test", "tgt.test", "loop.test", NULL };
    mapi_ad_opts o = { .side = "source",
                       .configured_url = "https://autodiscover.src.test/autodiscover/autodiscover.xml",
                       .url_domains = doms, .rewrite = to_loopback };
    sr_err e;
    mapi_ad *ad = mapi_ad_new(net, &o, &e);
    CU_ASSERT_PTR_NOT_NULL(ad);
    return ad;
}

/* A handle for the many-addresses test: the source admin by its UPN, which
 * the target knows as a guest (add_guest_account). */
static mapi_net *net_guest(int max_parallel)
{
    char upn[128];
    snprintf(upn, sizeof upn, "%s@src.test", g_src.user);
    sr_err e;
    mapi_netopts o = { .auth = MAPI_AUTH_BASIC, .user = upn, .password = g_src.password,
                       .allow_http = 1, .connect_timeout_ms = 3000, .timeout_ms = 10000,
                       .max_retries = 1, .max_backoff_ms = 300, .max_parallel = (unsigned)max_parallel };
    mapi_net *n = mapi_net_new(&o, &e);
    CU_ASSERT_PTR_NOT_NULL(n);
    return n;
}

/* Autodiscover of several addresses at once (issue 13: the target
 * Autodiscover of a batch of mailboxes in one step): each answer, redirect
 * and error is what mapi_ad_discover gives for that address alone, with the
 * same requests, sent together. */
static void test_autodiscover_many(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    char redirected[128], upper[128];
    pick_redirected(redirected, sizeof redirected);
    CU_ASSERT_NOT_EQUAL_FATAL(redirected[0], '\0');
    snprintf(upper, sizeof upper, "%s", g_room_src);
    for (char *p = upper; *p && *p != '@'; p++)
        *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    const char *addrs[] = { g_room_src, redirected, "nobody-4711@src.test", "room-0001@loop.test",
                            "not an address", upper };
    enum { N = sizeof addrs / sizeof addrs[0] };
    /* alone: a fresh handle per address, as a worker had it; the repeated
     * address (upper case) gets what mapi_ad_discover on the same handle
     * would: the cached answer of its first spelling */
    char *want[N];
    sr_err werr[N];
    unsigned alone_requests = 0;
    for (size_t i = 0; i < N; i++) {
        mapi_net *n = net_guest(0);
        mapi_ad *ad = ad_many(n);
        const mapi_ad_result *r = NULL;
        sr_err_clear(&werr[i]);
        if (i + 1 == N) {
            want[i] = want[0] ? sr_strdup(want[0]) : NULL;
            werr[i] = werr[0];
        } else {
            want[i] = mapi_ad_discover(ad, addrs[i], &r, &werr[i]) == SR_OK ? mapi_ad_result_line(r) : NULL;
            alone_requests += mapi_ad_requests(ad);
        }
        mapi_ad_free(ad);
        mapi_net_free(n);
    }
    CU_ASSERT_PTR_NOT_NULL(want[0]);
    CU_ASSERT_PTR_NOT_NULL(want[1]);
    CU_ASSERT_PTR_NULL(want[2]);
    CU_ASSERT_PTR_NULL(want[3]);
    CU_ASSERT_PTR_NULL(want[4]);
    /* together, on one handle */
    mapi_net *n = net_guest(2 * N);
    mapi_ad *ad = ad_many(n);
    mapi_ad_result *got[N];
    sr_err gerr[N];
    CU_ASSERT_EQUAL(mapi_ad_discover_many(ad, addrs, N, got, gerr), 3);
    /* together: the four searches' first requests went at once, each on its
     * own connection (one after the other, they would have shared one) */
    CU_ASSERT_TRUE(mapi_net_connections(n) >= 4);
    for (size_t i = 0; i < N; i++) {
        char *line = mapi_ad_result_line(got[i]);
        CU_ASSERT_EQUAL(!line, !want[i]);
        if (line && want[i])
            CU_ASSERT_STRING_EQUAL(line, want[i]);
        CU_ASSERT_EQUAL(gerr[i].code, werr[i].code);
        CU_ASSERT_STRING_EQUAL(gerr[i].msg, werr[i].msg);
        free(line);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(got[1]);
    CU_ASSERT_EQUAL(got[1]->redirects, 1);
    CU_ASSERT_EQUAL(strcmp(strchr(got[1]->smtp, '@'), "@tgt.test"), 0);
    CU_ASSERT_EQUAL(strncmp(got[1]->legacy_dn, "/o=TargetOrg/", 13), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(gerr[2].msg, "nobody-4711@src.test"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gerr[2].msg, "Cannot get an Autodiscover response on source"));
    CU_ASSERT_PTR_NOT_NULL(strstr(gerr[3].msg, "more than 10 Autodiscover redirects"));
    CU_ASSERT_EQUAL(gerr[4].code, SR_E_INVALID);
    /* the same requests as alone (the repeated address is searched once) */
    CU_ASSERT_EQUAL(mapi_ad_requests(ad), alone_requests);
    /* the answers are cached for the engine's hand-over line */
    char *cached = mapi_ad_cached_line(ad, g_room_src);
    CU_ASSERT_PTR_NOT_NULL(cached);
    if (cached && want[0])
        CU_ASSERT_STRING_EQUAL(cached, want[0]);
    free(cached);
    for (size_t i = 0; i < N; i++) {
        mapi_ad_result_free(got[i]);
        free(want[i]);
    }
    mapi_ad_free(ad);
    mapi_net_free(n);
}

/* hop.tgt.test → the redirecting front end, the rest as to_loopback. */
static char *to_hop(void *ctx, const char *url)
{
    const char *h = strstr(url, "://");
    if (h && strncmp(h + 3, "hop.tgt.test/", 13) == 0)
        return sr_asprintf("%s%s", g_hop.url, h + 3 + 12);
    return to_loopback(ctx, url);
}

/* Autodiscover over two handles at once (issue 13 goal 6: switchresmb's
 * source probe and the batch's target Autodiscover in one step): each part's
 * answers as alone; the source part ends at a redirectAddr (one request, no
 * question about the target address) but follows a redirectUrl; the target
 * part follows a front end's redirectUrl to the answer; unknown addresses
 * fail on both; the two sides' requests are on the wire together. */
static void test_autodiscover_sides(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    char redirected[128], tgt_addr[128];
    pick_redirected(redirected, sizeof redirected);
    CU_ASSERT_NOT_EQUAL_FATAL(redirected[0], '\0');
    snprintf(tgt_addr, sizeof tgt_addr, "%.*s@tgt.test", (int)strcspn(redirected, "@"), redirected);
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ .max_parallel = 8 });
    mapi_net *nt = net_for(&g_tgt, NULL, (mapi_netopts){ .max_parallel = 8 });
    mapi_ad *as = ad_for(ns, "source");
    static const char *const loop_domains[] = { "src.test", "loop.test", NULL };
    mapi_ad_opts to = { .side = "target", .configured_url = "https://hop.tgt.test/autodiscover/autodiscover.xml",
                        .url_domains = tgt_domains, .rewrite = to_hop };
    sr_err e;
    mapi_ad *at = mapi_ad_new(nt, &to, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(as);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    /* the loop.test address: the source's redirectUrl for it is followed */
    mapi_ad_opts so = { .side = "source",
                        .configured_url = "https://autodiscover.src.test/autodiscover/autodiscover.xml",
                        .url_domains = loop_domains, .rewrite = to_loopback };
    mapi_ad *al = mapi_ad_new(ns, &so, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(al);
    const char *sa[] = { g_room_src, redirected, "nobody-4711@src.test" };
    const char *la[] = { "room-0001@loop.test" };
    const char *ta[] = { tgt_addr, "nobody-4711@tgt.test" };
    mapi_ad_result *so_[3], *lo[1], *to_[2];
    sr_err se[3], le[1], te[2];
    char *red[3];
    mapi_ad_ask asks[] = {
        { .ad = as, .addrs = sa, .n = 3, .outs = so_, .errs = se, .stop_at_redirect_addr = 1,
          .redirected = red, .quiet = 1 },
        { .ad = al, .addrs = la, .n = 1, .outs = lo, .errs = le, .stop_at_redirect_addr = 1 },
        { .ad = at, .addrs = ta, .n = 2, .outs = to_, .errs = te },
    };
    CU_ASSERT_EQUAL(mapi_ad_discover_sides(asks, 3), 2);
    /* the source: the room answers; the migrated one stops at its redirectAddr */
    CU_ASSERT_PTR_NOT_NULL(so_[0]);
    CU_ASSERT_PTR_NULL(red[0]);
    CU_ASSERT_PTR_NULL(so_[1]);
    CU_ASSERT_EQUAL(se[1].code, SR_E_NOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(strstr(se[1].msg, "not followed"));
    CU_ASSERT_PTR_NOT_NULL_FATAL(red[1]);
    CU_ASSERT_TRUE(sr_streq_ci(red[1], tgt_addr));
    CU_ASSERT_PTR_NULL(so_[2]);
    CU_ASSERT_PTR_NULL(red[2]);
    CU_ASSERT_PTR_NOT_NULL(strstr(se[2].msg, "nobody-4711@src.test"));
    /* a redirectUrl is followed even so (here into a loop, which is said) */
    CU_ASSERT_PTR_NULL(lo[0]);
    CU_ASSERT_PTR_NOT_NULL(strstr(le[0].msg, "more than 10 Autodiscover redirects"));
    /* the target: through the front end's redirectUrl to the answer */
    CU_ASSERT_PTR_NOT_NULL_FATAL(to_[0]);
    CU_ASSERT_EQUAL(to_[0]->redirects, 1);
    CU_ASSERT_EQUAL(strncmp(to_[0]->legacy_dn, "/o=TargetOrg/", 13), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(to_[0]->ad_url, "autodiscover.tgt.test"));
    CU_ASSERT_PTR_NULL(to_[1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(te[1].msg, "nobody-4711@tgt.test"));
    for (int i = 0; i < 3; i++) {
        mapi_ad_result_free(so_[i]);
        free(red[i]);
    }
    mapi_ad_result_free(lo[0]);
    for (int i = 0; i < 2; i++)
        mapi_ad_result_free(to_[i]);
    mapi_ad_free(as);
    mapi_ad_free(al);
    mapi_ad_free(at);
    /* the stopped search is ONE request: the source is not asked about the
     * target address */
    as = ad_for(ns, "source");
    mapi_ad_result *r1 = NULL;
    sr_err e1;
    mapi_ad_ask one = { .ad = as, .addrs = sa + 1, .n = 1, .outs = &r1, .errs = &e1,
                        .stop_at_redirect_addr = 1, .quiet = 1 };
    CU_ASSERT_EQUAL(mapi_ad_discover_sides(&one, 1), 0);
    CU_ASSERT_EQUAL(mapi_ad_requests(as), 1);
    mapi_ad_free(as);
    /* both sides in one step: 400 ms each way, side by side (one after the
     * other: 800 ms at least) */
    as = ad_for(ns, "source");
    at = mapi_ad_new(nt, &to, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    sim_config(&g_src, "rtt_ms=400");
    sim_config(&g_hop, "rtt_ms=400");
    mapi_ad_result *r2 = NULL, *r3 = NULL;
    sr_err e2, e3;
    mapi_ad_ask two[] = { { .ad = as, .addrs = sa, .n = 1, .outs = &r2, .errs = &e2 },
                          { .ad = at, .addrs = ta, .n = 1, .outs = &r3, .errs = &e3 } };
    long long t0 = sr_now_ms();
    CU_ASSERT_EQUAL(mapi_ad_discover_sides(two, 2), 2);
    long long took = sr_now_ms() - t0;
    sim_config(&g_src, "reset=1");
    sim_config(&g_hop, "reset=1");
    fprintf(stderr, "\n  [two sides at 400 ms: %lld ms]\n", took);
    CU_ASSERT_TRUE(took < 750);
    mapi_ad_result_free(r2);
    mapi_ad_result_free(r3);
    mapi_ad_free(as);
    mapi_ad_free(at);
    mapi_net_free(ns);
    mapi_net_free(nt);
}

/* Bulk: six mailboxes opened in one batch cost one dependent round trip each. */
static void test_open_many(void)
{
    static const char *const boxes[] = { "user-0001@src.test", "user-0002@src.test", "room-0001@src.test",
                                         "room-0002@src.test", "equip-0001@src.test", "equip-0002@src.test" };
    enum { N = 6 };
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ .max_parallel = 2 * N });
    char url[200];
    snprintf(url, sizeof url, "%s/EWS/Exchange.asmx", g_src.url);
    mapi_session *s[N];
    sr_err e, errs[N], sms[N];
    for (int i = 0; i < N; i++) {
        mapi_session_opts so = { .mailbox = boxes[i], .ews_url = url };
        s[i] = mapi_session_logon(ns, &so, &e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(s[i]);
    }
    sim_config(&g_src, "reset=1&rtt_ms=200");
    free(sim(&g_src, "/_sim/reset-stats", 1));
    mapi_folders f[N];
    mapi_switchmsg m[N];
    time_t t0 = time(NULL);
    CU_ASSERT_EQUAL(mapi_session_open_many(s, N, f, m, sms, errs), SR_OK);
    CU_ASSERT_TRUE(time(NULL) - t0 <= 1);   /* 12 requests of 200 ms each, side by side */
    char *st = sim(&g_src, "/_sim/stats", 0);
    fprintf(stderr, "\n  [open_many: %ld requests, max %ld dependent round trips per mailbox]\n",
            json_num(st, NULL, "requests_total"), json_num(st, NULL, "max_round_trips"));
    CU_ASSERT_EQUAL(json_num(st, NULL, "requests_total"), 2 * N);
    CU_ASSERT_EQUAL(json_num(st, NULL, "max_round_trips"), 1);
    free(st);
    sim_config(&g_src, "reset=1");
    for (int i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(errs[i].code, SR_OK);
        CU_ASSERT_TRUE(f[i].n >= 10);
        CU_ASSERT_TRUE(sms[i].code == SR_OK || sms[i].code == SR_E_NOTFOUND);
        mapi_folders_clear(&f[i]);
        mapi_switchmsg_clear(&m[i]);
        mapi_session_free(s[i]);
    }
    mapi_net_free(ns);
}

/* ---- SCP URLs from the directory lab (tests/lab/LAB-CONTRACT.md) ---------- */
static void test_scp_from_ldap_lab(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    char dir[400], script[512], org[512], out[512], pw[512];
    snprintf(dir, sizeof dir, "%s/lab", g_dir);
    snprintf(script, sizeof script, "%s/tests/lab/slapd-lab.sh", tu_root());
    snprintf(org, sizeof org, "%s/org.json", g_dir);
    snprintf(out, sizeof out, "%s/scp.ldif", g_dir);
    snprintf(pw, sizeof pw, "%s/password", dir);
    tu_lab lab;
    if (tu_lab_start(&lab, script, dir, org, NULL, 60000) != 0) {
        tu_skip("the slapd lab did not start; SCP part not run");
        return;
    }
    sr_err e;
    /* the password stays in its 0600 file (-y), never in argv */
    char *q[] = { "ldapsearch", "-x", "-H", (char *)tu_lab_get(&lab, "LAB_LDAP_URI"),
                  "-D", (char *)tu_lab_get(&lab, "LAB_BIND_DN"), "-y", pw,
                  "-b", (char *)tu_lab_get(&lab, "LAB_CONFIG_BASE"), "-LLL",
                  "-o", "ldif-wrap=no",
                  "(&(objectClass=serviceConnectionPoint)(keywords=77378F46-2C66-4aa9-A6A6-3E7A48B19596))",
                  "serviceBindingInformation", NULL };
    setenv("LDAPNOINIT", "1", 1);
    CU_ASSERT_EQUAL(tu_run(q, out, 20000), 0);
    tu_lab_free(&lab);
    char *ldif = sr_read_file(out, 65536, NULL, &e);
    const char *b = ldif ? strstr(ldif, "serviceBindingInformation: ") : NULL;
    char *scp = b ? strndup(b + 27, strcspn(b + 27, "\r\n")) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(scp);
    fprintf(stderr, "\n  [SCP from the lab: %s]\n", scp);
    /* the SCP URL is the only candidate: it must answer (rewritten to the source simulator) */
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ 0 });
    const char *scps[] = { scp, NULL };
    mapi_ad_opts o = { .side = "source", .scp_urls = scps, .no_domain_candidates = 1,
                       .url_domains = src_domains, .rewrite = to_loopback };
    mapi_ad *ad = mapi_ad_new(ns, &o, &e);
    const mapi_ad_result *r;
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_OK);
    if (r)
        CU_ASSERT_STRING_EQUAL(r->ad_url, scp);
    mapi_ad_free(ad);
    /* ExcludeScpLookup: the SCP URL is ignored, nothing else to try */
    o.exclude_scp = 1;
    ad = mapi_ad_new(ns, &o, &e);
    CU_ASSERT_NOT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_ad_requests(ad), 0);
    mapi_ad_free(ad);
    mapi_net_free(ns);
    free(scp); free(ldif);
}

/* ---- faults -------------------------------------------------------------- */
/* issue 13: with no CA named, the transport trusts libcurl's hashed CA
 * directory alone instead of parsing the whole bundle per connection.  What
 * the admin names still decides: a CA file without the server's issuer is
 * refused, a hashed directory holding it is trusted. */
static void tls_trust_cases(const mapi_ad_opts *to)
{
    char other[600], other_key[600], cadir[600];
    snprintf(other, sizeof other, "%s/other-ca.pem", g_dir);
    snprintf(other_key, sizeof other_key, "%s/other-key.pem", g_dir);
    char *ossl[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                     "-subj", "/CN=127.0.0.1", "-keyout", other_key, "-out", other, NULL };
    CU_ASSERT_EQUAL_FATAL(tu_run(ossl, "/dev/null", 30000), 0);
    const mapi_ad_result *r;
    sr_err e;
    mapi_net *nt = net_for(&g_tls, NULL, (mapi_netopts){ .ca_file = other });
    mapi_ad *ad = mapi_ad_new(nt, to, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_E_TLS);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not trusted"));
    mapi_ad_free(ad);
    mapi_net_free(nt);
    /* the server's certificate in a directory under its subject-hash name */
    snprintf(cadir, sizeof cadir, "%s/cadir", g_dir);
    CU_ASSERT_EQUAL_FATAL(sr_mkdir_p(cadir, 0700, &e), SR_OK);
    char *hash[] = { "sh", "-c", "cp \"$1\" \"$2/$(openssl x509 -noout -subject_hash -in \"$1\").0\"",
                     "sh", g_cert, cadir, NULL };
    CU_ASSERT_EQUAL_FATAL(tu_run(hash, "/dev/null", 30000), 0);
    nt = net_for(&g_tls, NULL, (mapi_netopts){ .ca_dir = cadir });
    ad = mapi_ad_new(nt, to, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_OK);
    mapi_ad_free(ad);
    mapi_net_free(nt);
}

static void test_autodiscover_faults(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    sr_err e;
    const mapi_ad_result *r;
    /* 401: wrong password */
    mapi_net *bad = net_for(&g_src, "wrong-password", (mapi_netopts){ 0 });
    mapi_ad *ad = ad_for(bad, "source");
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_E_AUTH);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_room_src));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/autodiscover/autodiscover.xml"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "401"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "authorization was refused: credentials are invalid"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Cannot get an Autodiscover response on source"));
    mapi_ad_free(ad);
    mapi_net_free(bad);
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ .max_retries = 1, .max_backoff_ms = 300 });
    /* redirectUrl loop (exsim --redirect-url loop.test=...) */
    const char *loopdoms[] = { "src.test", "loop.test", NULL };
    mapi_ad_opts lo = { .side = "source", .configured_url = "https://autodiscover.src.test/autodiscover/autodiscover.xml",
                        .url_domains = loopdoms, .no_domain_candidates = 1, .rewrite = to_loopback };
    ad = mapi_ad_new(ns, &lo, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, "room-0001@loop.test", &r, &e), SR_E_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "more than 10 Autodiscover redirects"));
    CU_ASSERT_EQUAL(mapi_ad_requests(ad), 11);
    mapi_ad_free(ad);
    /* unresolvable host: a label over 63 octets under .invalid fails inside the
     * resolver library, before any DNS query leaves the machine */
    mapi_ad_opts un = { .side = "target", .configured_url = "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.invalid/autodiscover/autodiscover.xml",
                        .no_domain_candidates = 1, .rewrite = to_loopback };
    ad = mapi_ad_new(ns, &un, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_tgt, &r, &e), SR_E_CONNECT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "the server name or address could not be resolved"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "aaaa.invalid/autodiscover"));
    mapi_ad_free(ad);
    /* source URL on a target domain is refused unless -SkipAutodiscoverChecking */
    mapi_ad_opts dc = { .side = "source", .configured_url = "https://autodiscover.tgt.test/autodiscover/autodiscover.xml",
                        .no_domain_candidates = 1, .url_domains = src_domains, .rewrite = to_loopback };
    ad = mapi_ad_new(ns, &dc, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_E_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not on a source domain"));
    CU_ASSERT_EQUAL(mapi_ad_requests(ad), 0);
    mapi_ad_free(ad);
    mapi_net_free(ns);
    /* TLS: not trusted by default, trusted with the CA given */
    char url[200];
    snprintf(url, sizeof url, "%s/autodiscover/autodiscover.xml", g_tls.url);
    mapi_ad_opts to = { .side = "source", .configured_url = url, .no_domain_candidates = 1 };
    mapi_net *nt = net_for(&g_tls, NULL, (mapi_netopts){ 0 });
    ad = mapi_ad_new(nt, &to, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_E_TLS);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "not trusted"));
    mapi_ad_free(ad);
    mapi_net_free(nt);
    nt = net_for(&g_tls, NULL, (mapi_netopts){ .ca_file = g_cert });
    ad = mapi_ad_new(nt, &to, &e);
    CU_ASSERT_EQUAL(mapi_ad_discover(ad, g_room_src, &r, &e), SR_OK);
    mapi_ad_free(ad);
    mapi_net_free(nt);
    tls_trust_cases(&to);
}

static mapi_session *src_session(mapi_net *net)
{
    char url[200];
    snprintf(url, sizeof url, "%s/EWS/Exchange.asmx", g_src.url);
    mapi_session_opts so = { .mailbox = g_room_src, .ews_url = url };
    sr_err e;
    mapi_session *s = mapi_session_logon(net, &so, &e);
    CU_ASSERT_PTR_NOT_NULL(s);
    return s;
}

/* n concurrent reads (FindItem Associated in the inbox) in one batch, as the
 * bulk reads send them. */
static sr_code read_batch(mapi_session *s, size_t n, sr_err *e)
{
    static const mapi_ews_folder_ref inbox = { .distinguished = "inbox" };
    mapi_ews_call calls[8] = { 0 };
    mapi_ews_target t = mapi_session_target(s);
    sr_code rc = SR_OK;
    for (size_t i = 0; i < n && i < 8; i++) {
        calls[i].idempotent = 1;
        if (!(calls[i].req = mapi_ews_req_finditem_fai(&t, &inbox, NULL, NULL, 0, 10, e)))
            rc = e->code;
    }
    if (rc == SR_OK)
        rc = mapi_session_run(s, calls, n, e);
    for (size_t i = 0; i < n && i < 8; i++) {
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    return rc;
}

static void test_ews_faults(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    sr_err e;
    mapi_folders f;
    mapi_net *ns = net_for(&g_src, NULL, (mapi_netopts){ .max_retries = 2, .max_backoff_ms = 1500 });
    mapi_session *s = src_session(ns);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* HTTP 500 */
    sim_config(&g_src, "reset=1&fail_nth=1&fail_status=500");
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_E_SERVER);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_room_src));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "/EWS/Exchange.asmx"));
    mapi_folders_clear(&f);
    /* a storm of 503: bounded, and the message says it was throttling */
    sim_config(&g_src, "reset=1&fail_rate=1&fail_status=503");
    time_t t0 = time(NULL);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_E_BUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "throttling"));
    CU_ASSERT_TRUE(time(NULL) - t0 < 6);
    mapi_folders_clear(&f);
    /* a dropped body on a read is resent */
    sim_config(&g_src, "reset=1&drop_nth=1");
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_OK);
    CU_ASSERT_TRUE(f.n >= 10);
    mapi_folders_clear(&f);
    /* a CreateItem the server refuses per item (a full mailbox) made nothing:
     * an error naming the code, never a success without an item */
    sim_config(&g_src, "reset=1&fail_op=CreateItem&fail_op_code=ErrorQuotaExceeded");
    static const mapi_ews_folder_ref inbox = { .distinguished = "inbox" };
    char *made = NULL;
    CU_ASSERT_NOT_EQUAL(mapi_session_create_item(s, &inbox, "IPM.Note.Test", "refused", NULL, 1,
                                                 &made, &e), SR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "ErrorQuotaExceeded"));
    CU_ASSERT_PTR_NULL(made);
    free(made);
    /* ErrorServerBusy under a concurrency limit: back off and finish */
    sim_config(&g_src, "reset=1&max_concurrency=1&backoff_ms=150&rtt_ms=50");
    mapi_net *nb = net_for(&g_src, NULL, (mapi_netopts){ .max_retries = 8, .max_backoff_ms = 10000 });
    mapi_session *sb = src_session(nb);
    CU_ASSERT_EQUAL(read_batch(sb, 3, &e), SR_OK);
    char *st = sim(&g_src, "/_sim/stats", 0);
    CU_ASSERT_TRUE(json_num(st, NULL, "throttled") >= 1);
    free(st);
    mapi_session_free(sb);
    mapi_net_free(nb);
    /* a storm: the server asks for 5 s, our budget is 1 s: fail, saying it was throttling */
    sim_config(&g_src, "reset=1&max_concurrency=1&backoff_ms=5000&rtt_ms=300");
    nb = net_for(&g_src, NULL, (mapi_netopts){ .max_retries = 3, .max_backoff_ms = 1000 });
    sb = src_session(nb);
    time_t t1 = time(NULL);
    CU_ASSERT_EQUAL(read_batch(sb, 3, &e), SR_E_BUSY);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "throttling (ErrorServerBusy, BackOffMilliseconds=5000)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_room_src));
    CU_ASSERT_EQUAL(e.cls, SR_CLASS_WAIT);
    CU_ASSERT_TRUE(time(NULL) - t1 < 4);
    mapi_session_free(sb);
    mapi_net_free(nb);
    sim_config(&g_src, "reset=1");
    /* a write cut off in flight (RecreateSwitchMsg: FindItem, DeleteItem, CreateItem):
     * not resent, and the error says what state it may have left */
    mapi_switchmsg w = { .version = MAPI_SWITCHMSG_LEGACY, .target_smtp = g_room_tgt,
                         .target_legacy_dn = "/o=TargetOrg/cn=Recipients/cn=room" };
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 1, &e), SR_OK);   /* one exists now */
    sim_config(&g_src, "reset=1&drop_nth=3");
    CU_ASSERT_EQUAL(mapi_session_write_switchmsg(s, &w, 1, &e), SR_E_CONNECT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "the old switch message was deleted but the new one was not created"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "may have been applied"));
    sim_config(&g_src, "reset=1");
    /* a request the strict server refuses: SOAP fault with ErrorSchemaValidation */
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_folder_ref root = { .distinguished = "msgfolderroot" };
    mapi_ews_call c = { .idempotent = 1, .req = mapi_ews_req_findfolder_deep(&t, &root, 0, 10, &e) };
    xmlNodePtr body = xmlDocGetRootElement(c.req)->children;
    while (body && strcmp((const char *)body->name, "Body") != 0)
        body = body->next;
    xmlNewProp(body->children, BAD_CAST "Bogus", BAD_CAST "1");
    CU_ASSERT_EQUAL(mapi_session_run(s, &c, 1, &e), SR_E_PROTOCOL);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "SOAP fault ErrorSchemaValidation"));
    char *st2 = sim(&g_src, "/_sim/stats", 0);
    CU_ASSERT_TRUE(json_num(st2, NULL, "schema_rejected") >= 1);   /* the counter the scenario checks */
    free(st2);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    mapi_session_free(s);
    mapi_net_free(ns);
    /* an answer larger than the limit */
    ns = net_for(&g_src, NULL, (mapi_netopts){ .max_response_bytes = 2048 });
    s = src_session(ns);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_E_LIMIT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "larger than the limit of 2048 bytes"));
    mapi_folders_clear(&f);
    mapi_session_free(s);
    mapi_net_free(ns);
    /* connection refused */
    ns = net_for(&g_src, NULL, (mapi_netopts){ .max_retries = 1, .max_backoff_ms = 300 });
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/EWS/Exchange.asmx", tu_free_port());
    mapi_session_opts so = { .mailbox = g_room_src, .ews_url = url };
    s = mapi_session_logon(ns, &so, &e);
    CU_ASSERT_EQUAL(mapi_session_folders(s, &f, &e), SR_E_CONNECT);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "a connection with the server could not be established"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_room_src));
    mapi_folders_clear(&f);
    mapi_session_free(s);
    mapi_net_free(ns);
}


/* One folder-tree read of the source room at host:port (pinned to the
 * source simulator by CONNECT_TO: no DNS); the outcome's code, e's message. */
static sr_code read_at(const char *host, int exo, const char *client_id, sr_err *e)
{
    char pin[200], url[200];
    snprintf(pin, sizeof pin, "%s:%d:127.0.0.1:%d", host, g_src.port, g_src.port);
    const char *const to[] = { pin, NULL };
    mapi_net *n = net_for(&g_src, NULL, (mapi_netopts){ .connect_to = to, .exchange_online = exo,
                                                        .client_id = client_id, .max_retries = 1 });
    snprintf(url, sizeof url, "http://%s:%d/EWS/Exchange.asmx", host, g_src.port);
    mapi_session_opts so = { .mailbox = g_room_src, .ews_url = url };
    mapi_session *s = mapi_session_logon(n, &so, e);
    mapi_folders f;
    sr_code rc = s ? mapi_session_folders(s, &f, e) : e->code;
    if (s)
        mapi_folders_clear(&f);
    mapi_session_free(s);
    mapi_net_free(n);
    return rc;
}

/* Exchange Online refuses EWS for an app that is not allowed with HTTP 403
 * (no SOAP fault): from an Exchange Online side it is SR_E_EWS_BLOCKED,
 * saying what the tenant admin can do; elsewhere a 403 stays a 403. */
static void test_ews_blocked(void)
{
    CU_ASSERT_EQUAL_FATAL(pick_room(), 0);
    sim_config(&g_src, "reset=1&ews_blocked=1");
    sr_err e;
    const char *app = "5d8a1f3e-0c4b-4e1a-9f6e-2b7c3d4e5f60";
    CU_ASSERT_EQUAL(read_at("127.0.0.1", 1, app, &e), SR_E_EWS_BLOCKED);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "EWS is blocked for this app in the target tenant"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_room_src));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "(app id 5d8a1f3e-0c4b-4e1a-9f6e-2b7c3d4e5f60)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Set-OrganizationConfig -EwsEnabled:$true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "-EwsAllowedAppIDs \"<current ids>,5d8a1f3e-0c4b-4e1a-9f6e-2b7c3d4e5f60\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "writes the whole list"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "up to 24 h"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "2027-04-01"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Microsoft Graph"));
    CU_ASSERT_STRING_EQUAL(sr_strerror(SR_E_EWS_BLOCKED), "EWS is blocked for this app in the target tenant");
    /* Exchange Online's hosts decide it too; no client id is said so */
    CU_ASSERT_EQUAL(read_at("outlook.office365.com", 0, NULL, &e), SR_E_EWS_BLOCKED);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "no OAuth client id configured"));
    CU_ASSERT_EQUAL(read_at("EUR03.Outlook.com", 0, NULL, &e), SR_E_EWS_BLOCKED);
    /* on premises (a loopback host, a look-alike name): a plain 403 */
    CU_ASSERT_NOT_EQUAL(read_at("127.0.0.1", 0, app, &e), SR_E_EWS_BLOCKED);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "HTTP 403"));
    CU_ASSERT_PTR_NULL(strstr(e.msg, "blocked for this app"));
    CU_ASSERT_NOT_EQUAL(read_at("notoutlook.com", 0, NULL, &e), SR_E_EWS_BLOCKED);
    char *st = sim(&g_src, "/_sim/stats", 0);
    CU_ASSERT_TRUE(json_num(st, NULL, "ews_blocked") >= 5);
    free(st);
    /* the simulator's switch is per instance and run time: off again, EWS answers */
    sim_config(&g_src, "reset=1");
    CU_ASSERT_EQUAL(read_at("127.0.0.1", 1, app, &e), SR_OK);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("mapi_ews_exsim", suite_init, suite_clean);
    CU_add_test(s, "Autodiscover on source and target", test_autodiscover_both_sides);
    CU_add_test(s, "logon, folder tree, switch message; round trips and reuse", test_logon_tree_switchmsg);
    CU_add_test(s, "impersonation; temporary profile", test_impersonation_and_temp_profile);
    CU_add_test(s, "six mailboxes opened in one batch", test_open_many);
    CU_add_test(s, "read waves: deferred, sent once, answered from the cache", test_read_waves);
    CU_add_test(s, "staged waves: one step per attempt, nothing sent twice", test_staged_waves);
    CU_add_test(s, "read waves of two sides sent together", test_waves_both_sides);
    CU_add_test(s, "Autodiscover handed over as a line", test_autodiscover_handover);
    CU_add_test(s, "Autodiscover of several addresses at once", test_autodiscover_many);
    CU_add_test(s, "Autodiscover over two handles in one step; a redirectAddr that ends it",
                test_autodiscover_sides);
    CU_add_test(s, "SCP URL from the LDAP lab; ExcludeScpLookup", test_scp_from_ldap_lab);
    CU_add_test(s, "Autodiscover faults: 401, loop, unresolvable, domain check, TLS", test_autodiscover_faults);
    CU_add_test(s, "EWS faults: 500, 503 storm, drop, busy, schema fault, limit, refused", test_ews_faults);
    CU_add_test(s, "EWS blocked by Exchange Online (HTTP 403)", test_ews_blocked);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    if (CU_get_number_of_suites_failed())
        failed++;
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
