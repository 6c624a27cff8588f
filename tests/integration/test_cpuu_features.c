/* test_cpuu_features.c — the recipient map and the Delegates and Rules
 * features against the slapd lab (source directory) and two Exchange
 * simulators (source and target organisations from orggen.py/seedgen.py).
 *
 * The source seed is extended for one mailbox (the first migrated user)
 * with a disabled rule, a client-only rule (IsNotSupported) and a rule
 * moving to a folder the target does not have; expectations come from
 * org.json through a TSV the helper script prints, never hard-coded.
 * Scenario: request builders valid against messages.xsd; recipient map
 * batching and cache; dry run writes nothing; update maps delegates and
 * rules onto the target (target addresses, target folder ids, counts of
 * unresolved/unsupported), in few dependent round trips; a second run
 * changes nothing; restore gives the previous target state back; a
 * directory outage fails the feature naming mailbox and DC. */
#include <CUnit/Basic.h>
#include <ctype.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"
#include "ldap/ldap_dir.h"
#include "mapi/mapi.h"
#include "tests/common/testutil.h"

#define PY "/usr/bin/python3"
#define MAX_RCPT 64

typedef struct inst {
    pid_t pid;
    int port;
    char url[128], ews[160];
    char user[64], password[128];
} inst;

typedef struct rcpt {
    char src[128], src_dn[256], tgt[128];   /* tgt "" when not migrated */
} rcpt;

static char *g_dir, *g_org;
static inst g_src, g_tgt;
static rcpt g_rc[MAX_RCPT];
static int g_nrc;
static char g_mbx_src[128], g_mbx_tgt[128], g_own[128];
static tu_lab g_lab;
static tu_lab g_tlab;   /* the target directory (test_target_directory) */

static int run_py(char *const *argv, const char *out)
{
    return tu_run(argv, out, 60000);
}

/* A helper under tests/py/ with ORG, SOURCE-SEED, TARGET-SEED; stdout to out. */
static int run_seed_py(const char *script, const char *src, const char *tgt, const char *out)
{
    const char *args[] = { g_org, src, tgt, NULL };
    return tu_py_to(script, args, out);
}

static int read_tsv(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL, *kind = strtok_r(line, "\t", &save);
        char *a = strtok_r(NULL, "\t", &save), *b = strtok_r(NULL, "\t", &save);
        char *c = strtok_r(NULL, "\t", &save);
        if (kind && !strcmp(kind, "M") && a && b) {
            snprintf(g_mbx_src, sizeof g_mbx_src, "%s", a);
            snprintf(g_mbx_tgt, sizeof g_mbx_tgt, "%s", b);
        } else if (kind && !strcmp(kind, "O") && a) {
            snprintf(g_own, sizeof g_own, "%s", a);
        } else if (kind && !strcmp(kind, "R") && a && b && c && g_nrc < MAX_RCPT) {
            rcpt *r = &g_rc[g_nrc++];
            snprintf(r->src, sizeof r->src, "%s", a);
            snprintf(r->src_dn, sizeof r->src_dn, "%s", strcmp(b, "-") ? b : "");
            snprintf(r->tgt, sizeof r->tgt, "%s", strcmp(c, "-") ? c : "");
        }
    }
    fclose(f);
    return g_mbx_src[0] && g_own[0] && g_nrc ? 0 : -1;
}

static const rcpt *rcpt_by_src(const char *smtp)
{
    for (int i = 0; i < g_nrc; i++)
        if (strcasecmp(g_rc[i].src, smtp) == 0 || strcasecmp(g_rc[i].src_dn, smtp) == 0)
            return &g_rc[i];
    return NULL;
}

static const rcpt *rcpt_by_tgt(const char *smtp)
{
    for (int i = 0; i < g_nrc; i++)
        if (g_rc[i].tgt[0] && strcasecmp(g_rc[i].tgt, smtp) == 0)
            return &g_rc[i];
    return NULL;
}

/* ---- lab and simulators ---- */
static const char *lab(const char *k)
{
    return tu_lab_get(&g_lab, k);
}

/* $LAB_SCRIPT chooses the lab (tests/lab/LAB-CONTRACT.md), slapd by default. */
static int lab_start(void)
{
    char *dir = sr_asprintf("%s/lab", g_dir), *log = sr_asprintf("%s/lab.log", g_dir);
    int rc = tu_lab_start(&g_lab, NULL, dir, g_org, log, 120000);
    free(dir);
    free(log);
    return rc;
}

static void lab_stop(void)
{
    tu_lab_stop(&g_lab);
}

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
    xmlChar *n = xmlGetProp(a, BAD_CAST "name"), *p = xmlGetProp(a, BAD_CAST "password");
    snprintf(in->user, sizeof in->user, "%s", n ? (char *)n : "");
    snprintf(in->password, sizeof in->password, "%s", p ? (char *)p : "");
    xmlFree(n);
    xmlFree(p);
    xmlFreeDoc(d);
    return 0;
}

static int start_exsim(inst *in, const char *name, const char *seed)
{
    tu_exsim x;
    if (tu_exsim_start(&x, g_dir, name, seed, NULL) != 0)
        return -1;
    in->pid = x.pid;
    in->port = x.port;
    snprintf(in->url, sizeof in->url, "%s", x.url);
    snprintf(in->ews, sizeof in->ews, "%s/EWS/Exchange.asmx", in->url);
    return seed_account(seed, in);
}

static int suite_init(void)
{
    g_dir = tu_mkdtemp("cpuufeat");
    if (!g_dir)
        return 1;
    g_org = sr_asprintf("%s/org.json", g_dir);
    char src[512], tgt[512], tsv[512], gen[512], seedgen[512];
    snprintf(src, sizeof src, "%s/src.xml", g_dir);
    snprintf(tgt, sizeof tgt, "%s/tgt.xml", g_dir);
    snprintf(tsv, sizeof tsv, "%s/expect.tsv", g_dir);
    snprintf(gen, sizeof gen, "%s/tests/lab/orggen.py", tu_root());
    snprintf(seedgen, sizeof seedgen, "%s/tests/exsim/seedgen.py", tu_root());
    char *og[] = {PY, gen, "--users", "6", "--rooms", "2", "--unmigrated-every", "3",
                  "--no-problems", "--seed", "5", "-o", g_org, NULL};
    char *sg[] = {PY, seedgen, "--org", g_org, "--side", "source", "-o", src, NULL};
    char *tg[] = {PY, seedgen, "--org", g_org, "--side", "target", "-o", tgt, NULL};
    char wtsv[512];
    snprintf(wtsv, sizeof wtsv, "%s/wlinks.tsv", g_dir);
    if (run_py(og, NULL) || run_py(sg, NULL) || run_py(tg, NULL) ||
        run_seed_py("tests/py/features_seed_patch.py", src, tgt, tsv) ||
        run_seed_py("tests/py/features_shortcuts.py", src, tgt, wtsv) || read_tsv(tsv)) {
        fprintf(stderr, "orggen/seedgen/patch failed\n");
        return 1;
    }
    if (lab_start() != 0)
        return 1;
    return start_exsim(&g_src, "src", src) != 0 || start_exsim(&g_tgt, "tgt", tgt) != 0;
}

static int suite_clean(void)
{
    inst *all[] = {&g_src, &g_tgt};
    for (int i = 0; i < 2; i++)
        if (all[i]->pid > 0)
            tu_stop(all[i]->pid, 5000);
    lab_stop();
    tu_lab_free(&g_tlab);   /* a failed assertion may have left it running */
    if (g_dir && !getenv("SR_KEEP_TMP"))
        tu_rm_rf(g_dir);
    free(g_dir);
    free(g_org);
    tu_lab_free(&g_lab);
    return 0;
}

/* ---- /_sim ---- */
static char *sim(const inst *in, const char *path, int post)
{
    return tu_http(in->url, path, post);
}

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

static void reset_stats(void)
{
    free(sim(&g_src, "/_sim/reset-stats", 1));
    free(sim(&g_tgt, "/_sim/reset-stats", 1));
}

/* Dependent round trips of the target mailbox and count of one operation. */
static long tgt_round_trips(void)
{
    char *j = sim(&g_tgt, "/_sim/stats", 0);
    char key[160];
    snprintf(key, sizeof key, "\"%s\"", g_mbx_tgt);
    long n = json_num(j, key, "round_trips");
    free(j);
    return n < 0 ? 0 : n;
}

static long tgt_ops(const char *op)
{
    char *j = sim(&g_tgt, "/_sim/stats", 0);
    char key[64];
    snprintf(key, sizeof key, "\"requests\":{");
    const char *r = j ? strstr(j, key) : NULL;
    long n = r ? json_num(r, NULL, op) : -1;
    free(j);
    return n < 0 ? 0 : n;
}

/* ---- the engine's part, done by hand ---- */
typedef struct world {
    mapi_net *ns, *nt;
    mapi_session *src, *tgt;
    ldapdir *dir;
    cpuu_ctx c;
    char *backup;
} world;

static mapi_net *net_for(const inst *in)
{
    mapi_netopts o = {.auth = MAPI_AUTH_BASIC, .user = in->user, .password = in->password,
                      .allow_http = 1, .connect_timeout_ms = 3000, .timeout_ms = 10000};
    sr_err e;
    mapi_net *n = mapi_net_new(&o, &e);
    CU_ASSERT_PTR_NOT_NULL(n);
    return n;
}

static ldapdir *dir_open(void)
{
    ldapdir_opts o = {.dc = lab("LAB_LDAPS_URI"), .account = lab("LAB_BIND_DN"),
                      .password = lab("LAB_PASSWORD"), .ca_file = lab("LAB_CA"),
                      .connect_timeout_ms = 3000, .op_timeout_ms = 10000};
    ldapdir *d = NULL;
    sr_err e;
    if (ldapdir_connect(&o, &d, &e) != SR_OK)
        fprintf(stderr, "\n    ldap connect: %s\n", e.msg);
    return d;
}

static int world_open(world *w, int dry_run, int with_dir)
{
    memset(w, 0, sizeof *w);
    w->ns = net_for(&g_src);
    w->nt = net_for(&g_tgt);
    sr_err e;
    mapi_session_opts so = {.mailbox = g_mbx_src, .ews_url = g_src.ews};
    mapi_session_opts to = {.mailbox = g_mbx_tgt, .ews_url = g_tgt.ews};
    w->src = mapi_session_logon(w->ns, &so, &e);
    w->tgt = mapi_session_logon(w->nt, &to, &e);
    if (!w->src || !w->tgt)
        return -1;
    if (mapi_session_folders(w->src, &w->c.src_folders, &e) != SR_OK ||
        mapi_session_folders(w->tgt, &w->c.tgt_folders, &e) != SR_OK)
        return -1;
    w->dir = with_dir ? dir_open() : NULL;
    if (with_dir && !w->dir)
        return -1;
    w->c.map = rmap_new(w->dir, NULL, w->tgt, &e);
    w->backup = sr_asprintf("%s/backup", g_dir);
    w->c.who = g_mbx_src;
    w->c.src = w->src;
    w->c.tgt = w->tgt;
    w->c.backup_dir = w->backup;
    w->c.dry_run = dry_run;
    return w->c.map ? 0 : -1;
}

static void world_close(world *w)
{
    cpuu_ctx_release(&w->c);
    rmap_free(w->c.map);
    mapi_folders_clear(&w->c.src_folders);
    mapi_folders_clear(&w->c.tgt_folders);
    mapi_session_free(w->src);
    mapi_session_free(w->tgt);
    mapi_net_free(w->ns);
    mapi_net_free(w->nt);
    ldapdir_free(w->dir);
    free(w->backup);
}

/* read → plan → backup → apply, as the engine does in update mode. */
static sr_code run_feature(world *w, cfg_feature f, feature_stats *st, sr_err *e)
{
    const struct feature_ops *ops = cpuu_feature_ops(f);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ops);
    memset(st, 0, sizeof *st);
    void *state = NULL;
    sr_code rc = ops->read(&w->c, &state, st, e);
    if (rc == SR_OK)
        rc = ops->plan(&w->c, state, st, e);
    if (rc == SR_OK)
        rc = ops->backup(&w->c, state, e);
    if (rc == SR_OK)
        rc = ops->apply(&w->c, state, st, e);
    ops->free_state(state);
    if (rc != SR_OK)
        fprintf(stderr, "\n    %s: %s\n", cfg_feature_name(f), e->msg);
    return rc;
}

/* The target's delegates / rules as a canonical text (for before/after). */
static char *tgt_delegates_text(world *w, ewsf_delegates *out)
{
    mapi_ews_target t = mapi_session_target(w->tgt);
    sr_err e;
    mapi_ews_call c = {.idempotent = 1, .req = ewsf_req_getdelegate(&t, g_mbx_tgt, &e)};
    ewsf_delegates l = {0};
    char *s = NULL;
    if (mapi_session_run(w->tgt, &c, 1, &e) == SR_OK &&
        ewsf_parse_getdelegate(c.resp_op, &l, &e) == SR_OK) {
        s = sr_asprintf("deliver=%s", l.deliver ? l.deliver : "");
        for (size_t i = 0; i < l.n; i++) {
            char *n = sr_asprintf("%s|%s", s, l.v[i].smtp);
            free(s);
            s = n;
            for (int k = 0; k < EWSF_NPERM; k++) {
                n = sr_asprintf("%s,%s", s, l.v[i].perm[k] ? l.v[i].perm[k] : "None");
                free(s);
                s = n;
            }
            n = sr_asprintf("%s,%d,%d", s, l.v[i].receive_copies, l.v[i].view_private);
            free(s);
            s = n;
        }
    }
    if (out)
        *out = l;
    else
        ewsf_delegates_clear(&l);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    return s;
}

/* GetInboxRules of the target: the dump of InboxRules (RuleIds included). */
static xmlDocPtr tgt_rules(world *w, xmlNodePtr **rules, size_t *n)
{
    mapi_ews_target t = mapi_session_target(w->tgt);
    sr_err e;
    mapi_ews_call c = {.idempotent = 1, .req = ewsf_req_getinboxrules(&t, g_mbx_tgt, &e)};
    int blob;
    *rules = NULL;
    *n = 0;
    if (mapi_session_run(w->tgt, &c, 1, &e) != SR_OK ||
        ewsf_parse_getinboxrules(c.resp_op, rules, n, &blob, &e) != SR_OK) {
        xmlFreeDoc(c.resp);
        c.resp = NULL;
    }
    xmlFreeDoc(c.req);
    return c.resp;
}

static char *tgt_rules_text(world *w)
{
    xmlNodePtr *r;
    size_t n;
    xmlDocPtr d = tgt_rules(w, &r, &n);
    char *s = sr_strdup("");
    for (size_t i = 0; d && i < n; i++) {
        int len = 0;
        xmlChar *x = ewsf_dump_node(r[i], &len);
        char *ns = sr_asprintf("%s\n%s", s, x ? (char *)x : "");
        xmlFree(x);
        free(s);
        s = ns;
    }
    free(r);
    xmlFreeDoc(d);
    return s;
}

static xmlNodePtr rule_named(xmlNodePtr *r, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        char *dn = mapi_xml_child_text(r[i], EWSF_NS_T, "DisplayName");
        int hit = dn && strcmp(dn, name) == 0;
        free(dn);
        if (hit)
            return r[i];
    }
    return NULL;
}

static const mapi_folder *folder_named(const mapi_folders *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i].display_name && strcmp(f->v[i].display_name, name) == 0)
            return &f->v[i];
    return NULL;
}

/* ---- the tests ---- */
static xmlSchemaPtr g_schema;

static void validate(xmlDocPtr d, const char *what)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    xmlNodePtr body = xmlDocGetRootElement(d)->children;
    while (body && (body->type != XML_ELEMENT_NODE || strcmp((const char *)body->name, "Body")))
        body = body->next;
    xmlNodePtr op = body ? body->children : NULL;
    xmlSchemaValidCtxtPtr v = xmlSchemaNewValidCtxt(g_schema);
    int rc = op ? xmlSchemaValidateOneElement(v, op) : -1;
    if (rc != 0)
        fprintf(stderr, "\n    %s is not valid against messages.xsd (%d)\n", what, rc);
    CU_ASSERT_EQUAL(rc, 0);
    xmlSchemaFreeValidCtxt(v);
    xmlFreeDoc(d);
}

static void test_builders_valid(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/protocol/ews/messages.xsd", tu_shared());
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    g_schema = pc ? xmlSchemaParse(pc) : NULL;
    xmlSchemaFreeParserCtxt(pc);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g_schema);
    sr_err e;
    mapi_ews_target t = {.impersonate = "room@x.test"};
    ewsf_delegate d[2] = {{.smtp = "a@x.test", .receive_copies = 1, .view_private = -1},
                          {.smtp = "b<&>@x.test", .receive_copies = -1, .view_private = 0}};
    d[0].perm[0] = "Editor";
    d[0].perm[5] = "Reviewer";
    const char *ids[] = {"a@x.test", "b@x.test"};
    validate(ewsf_req_getdelegate(&t, "room@x.test", &e), "GetDelegate");
    validate(ewsf_req_adddelegate(&t, "room@x.test", d, 2, "DelegatesAndMe", &e), "AddDelegate");
    validate(ewsf_req_updatedelegate(&t, "room@x.test", d, 1, NULL, &e), "UpdateDelegate");
    validate(ewsf_req_updatedelegate(&t, "room@x.test", NULL, 0, "NoForward", &e),
             "UpdateDelegate (deliver only)");
    validate(ewsf_req_removedelegate(&t, "room@x.test", ids, 2, &e), "RemoveDelegate");
    validate(ewsf_req_getinboxrules(&t, "room@x.test", &e), "GetInboxRules");
    validate(ewsf_req_resolvenames(&t, "SMTP:a@x.test", &e), "ResolveNames");
    /* rules: taken from a documented GetInboxRules answer (read-only flags included) */
    snprintf(path, sizeof path, "%s/protocol/ews/examples/getinboxrules-2-response.xml", tu_shared());
    size_t len = 0;
    char *x = sr_read_file(path, 1 << 20, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    xmlDocPtr resp = mapi_xml_parse(x, len, path, &e);
    free(x);
    CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
    xmlNodePtr op = xmlDocGetRootElement(resp);
    for (xmlNodePtr n = op; n;) {   /* find the GetInboxRulesResponse element */
        if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, "GetInboxRulesResponse")) {
            op = n;
            break;
        }
        n = n->children ? n->children : n->next ? n->next : n->parent ? n->parent->next : NULL;
    }
    xmlNodePtr *rules = NULL;
    size_t nr = 0;
    int blob = 0;
    CU_ASSERT_EQUAL(ewsf_parse_getinboxrules(op, &rules, &nr, &blob, &e), SR_OK);
    CU_ASSERT_TRUE_FATAL(nr >= 1);
    ewsf_rule_op ops[] = {{.kind = EWSF_RULE_CREATE, .rule = rules[0]},
                          {.kind = EWSF_RULE_SET, .rule = rules[0]},
                          {.kind = EWSF_RULE_DELETE, .rule_id = "AQAAAATnzOA="}};
    validate(ewsf_req_updateinboxrules(&t, "room@x.test", 1, ops, 3, &e), "UpdateInboxRules");
    free(rules);
    xmlFreeDoc(resp);

    /* a GetDelegate answer with one unreadable entry: the rest is usable */
    static const char gd[] =
        "<m:GetDelegateResponse xmlns:m='" EWSF_NS_M "' xmlns:t='" EWSF_NS_T "' ResponseClass='Success'>"
        "<m:ResponseCode>NoError</m:ResponseCode><m:ResponseMessages>"
        "<m:DelegateUserResponseMessageType ResponseClass='Success'><m:ResponseCode>NoError</m:ResponseCode>"
        "<m:DelegateUser><t:UserId><t:PrimarySmtpAddress>a@x.test</t:PrimarySmtpAddress></t:UserId>"
        "<t:DelegatePermissions><t:CalendarFolderPermissionLevel>Editor</t:CalendarFolderPermissionLevel>"
        "</t:DelegatePermissions><t:ViewPrivateItems>true</t:ViewPrivateItems></m:DelegateUser>"
        "</m:DelegateUserResponseMessageType>"
        "<m:DelegateUserResponseMessageType ResponseClass='Error'><m:MessageText>gone</m:MessageText>"
        "<m:ResponseCode>ErrorDelegateNoUser</m:ResponseCode></m:DelegateUserResponseMessageType>"
        "</m:ResponseMessages><m:DeliverMeetingRequests>DelegatesOnly</m:DeliverMeetingRequests>"
        "</m:GetDelegateResponse>";
    xmlDocPtr gdd = mapi_xml_parse(gd, sizeof gd - 1, "GetDelegate answer", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(gdd);
    ewsf_delegates l = {0};
    CU_ASSERT_EQUAL(ewsf_parse_getdelegate(xmlDocGetRootElement(gdd), &l, &e), SR_OK);
    CU_ASSERT_EQUAL(l.n, 1);
    CU_ASSERT_EQUAL(l.bad, 1);
    CU_ASSERT_PTR_NOT_NULL(l.first_bad && strstr(l.first_bad, "ErrorDelegateNoUser"));
    CU_ASSERT_STRING_EQUAL(l.v[0].perm[0], "Editor");
    CU_ASSERT_PTR_NULL(l.v[0].perm[1]);
    CU_ASSERT_EQUAL(l.v[0].receive_copies, -1);
    CU_ASSERT_EQUAL(l.v[0].view_private, 1);
    CU_ASSERT_STRING_EQUAL(l.deliver, "DelegatesOnly");
    ewsf_delegates_clear(&l);
    xmlFreeDoc(gdd);
}

static void test_rmap_batching(void)
{
    world w;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    /* 200 keys: every recipient in its SMTP, prefixed and DN forms, the rest unknown */
    char *keys[200];
    int n = 0;
    for (int i = 0; i < g_nrc && n < 150; i++) {
        keys[n++] = sr_asprintf("%s", g_rc[i].src);
        keys[n++] = sr_asprintf("SMTP:%s", g_rc[i].src);
        if (g_rc[i].src_dn[0])
            keys[n++] = sr_asprintf("X500:%s", g_rc[i].src_dn);
    }
    while (n < 200) {
        keys[n] = sr_asprintf("nobody-%03d@external.test", n);
        n++;
    }
    sr_err e;
    CU_ASSERT_EQUAL(rmap_resolve(w.c.map, (const char *const *)keys, 200, &e), SR_OK);
    unsigned lookups = rmap_lookups_made(w.c.map);
    printf("\n    200 keys: %u lookups (LDAP searches + ResolveNames batches)\n", lookups);
    CU_ASSERT_TRUE(lookups >= 1 && lookups <= 3);
    for (int i = 0; i < g_nrc; i++) {
        rmap_target t = {0};
        char k[160];
        snprintf(k, sizeof k, "smtp:%s", g_rc[i].src);
        rmap_status st = rmap_lookup(w.c.map, k, &t);
        if (g_rc[i].tgt[0]) {
            CU_ASSERT_EQUAL(st, RMAP_MAPPED);
            CU_ASSERT_TRUE(st == RMAP_MAPPED && strcasecmp(t.smtp, g_rc[i].tgt) == 0);
        } else {
            CU_ASSERT_EQUAL(st, RMAP_NOT_MIGRATED);
            CU_ASSERT_PTR_NOT_NULL(rmap_source_smtp(w.c.map, k));
        }
        if (g_rc[i].src_dn[0]) {   /* the legacyExchangeDN answers the same */
            CU_ASSERT_EQUAL(rmap_lookup(w.c.map, g_rc[i].src_dn, NULL), st);
        }
    }
    CU_ASSERT_EQUAL(rmap_lookup(w.c.map, "nobody-199@external.test", NULL), RMAP_UNKNOWN);
    /* the cache: the same keys again cost nothing */
    CU_ASSERT_EQUAL(rmap_resolve(w.c.map, (const char *const *)keys, 200, &e), SR_OK);
    CU_ASSERT_EQUAL(rmap_lookups_made(w.c.map), lookups);
    for (int i = 0; i < 200; i++)
        free(keys[i]);
    world_close(&w);

    /* without a source directory: only the identity check on the target */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 0), 0);
    const rcpt *m = NULL;
    for (int i = 0; i < g_nrc && !m; i++)
        if (g_rc[i].tgt[0])
            m = &g_rc[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const char *k2[] = {m->tgt, m->src, "someone@external.test"};
    CU_ASSERT_EQUAL(rmap_resolve(w.c.map, k2, 3, &e), SR_OK);
    rmap_target t = {0};
    CU_ASSERT_EQUAL(rmap_lookup(w.c.map, m->tgt, &t), RMAP_MAPPED);
    CU_ASSERT_EQUAL(rmap_lookup(w.c.map, m->src, NULL), RMAP_UNKNOWN);
    CU_ASSERT_EQUAL(rmap_lookup(w.c.map, "someone@external.test", NULL), RMAP_UNKNOWN);
    CU_ASSERT_EQUAL(rmap_lookups_made(w.c.map), 1);   /* one ResolveNames batch */
    /* rmap_add pairs win and cost nothing */
    CU_ASSERT_EQUAL(rmap_add(w.c.map, "X500:/o=Old/cn=x", m->tgt, NULL, &e), SR_OK);
    CU_ASSERT_EQUAL(rmap_lookup(w.c.map, "/O=OLD/CN=X", &t), RMAP_MAPPED);
    world_close(&w);
}

/* Expected target delegates from the source seed's delegates (GetDelegate on
 * the source) mapped with the TSV. */
static void test_delegates(void)
{
    world w;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    char *before = tgt_delegates_text(&w, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(before);
    feature_stats st;
    sr_err e;
    /* dry run: plans, writes nothing (no write request, no backup) */
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("AddDelegate") + tgt_ops("UpdateDelegate") + tgt_ops("RemoveDelegate"), 0);
    char *p = sr_asprintf("%s/Delegates.target.xml", w.backup);
    CU_ASSERT_FALSE(tu_exists(p));
    char *now = tgt_delegates_text(&w, NULL);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    /* the source's delegates, mapped by hand from the TSV */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    mapi_ews_target t = mapi_session_target(w.src);
    mapi_ews_call c = {.idempotent = 1, .req = ewsf_req_getdelegate(&t, g_mbx_src, &e)};
    ewsf_delegates src = {0};
    CU_ASSERT_EQUAL_FATAL(mapi_session_run(w.src, &c, 1, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(ewsf_parse_getdelegate(c.resp_op, &src, &e), SR_OK);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    unsigned want_mapped = 0, want_unresolved = 0;
    for (size_t i = 0; i < src.n; i++) {
        const rcpt *r = rcpt_by_src(src.v[i].smtp);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        if (r->tgt[0])
            want_mapped++;
        else
            want_unresolved++;
    }
    CU_ASSERT_TRUE_FATAL(want_mapped >= 1 && want_unresolved >= 1);   /* the org gives both */

    reset_stats();
    CU_ASSERT_EQUAL_FATAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    long rt = tgt_round_trips();
    printf("\n    Delegates update: target round trips %ld, rmap lookups %u\n", rt,
           rmap_lookups_made(w.c.map));
    CU_ASSERT_EQUAL(st.seen, src.n);
    CU_ASSERT_EQUAL(st.unresolved, want_unresolved);
    CU_ASSERT_EQUAL(st.changed, want_mapped);
    CU_ASSERT_TRUE(rt >= 2 && rt <= 4);   /* read 1 + Remove/Update/Add at most 3 */
    CU_ASSERT_TRUE(rmap_lookups_made(w.c.map) <= 2);   /* one LDAP search + one ResolveNames batch */
    CU_ASSERT_EQUAL(tgt_ops("AddDelegate"), 1);        /* all new delegates in one call */
    CU_ASSERT_TRUE(tu_exists(p));
    struct stat sb;
    CU_ASSERT_TRUE(stat(p, &sb) == 0 && (sb.st_mode & 077) == 0);

    ewsf_delegates got = {0};
    unsigned n_custom = 0;
    char *after = tgt_delegates_text(&w, &got);
    CU_ASSERT_EQUAL(got.n, want_mapped + 1);   /* + the target's own delegate, kept */
    int own_kept = 0;
    for (size_t k = 0; k < got.n; k++)
        own_kept |= strcasecmp(got.v[k].smtp, g_own) == 0;
    CU_ASSERT_TRUE(own_kept);
    CU_ASSERT_STRING_EQUAL(got.deliver ? got.deliver : "", src.deliver ? src.deliver : "");
    for (size_t i = 0; i < src.n; i++) {
        const rcpt *r = rcpt_by_src(src.v[i].smtp);
        const ewsf_delegate *g = NULL;
        for (size_t k = 0; r && r->tgt[0] && k < got.n; k++)
            if (strcasecmp(got.v[k].smtp, r->tgt) == 0)
                g = &got.v[k];
        if (!r || !r->tgt[0])
            continue;
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        for (int k = 0; k < EWSF_NPERM; k++) {
            const char *sp = src.v[i].perm[k] ? src.v[i].perm[k] : "None";
            if (!strcmp(sp, "Custom")) {   /* not writable: the target keeps its own (None) */
                n_custom++;
                CU_ASSERT_STRING_EQUAL(g->perm[k] ? g->perm[k] : "None", "None");
                continue;
            }
            CU_ASSERT_STRING_EQUAL(g->perm[k] ? g->perm[k] : "None", sp);
        }
        CU_ASSERT_EQUAL(g->receive_copies, src.v[i].receive_copies);
        CU_ASSERT_EQUAL(g->view_private, src.v[i].view_private);
    }
    CU_ASSERT_TRUE(n_custom >= 1);
    CU_ASSERT_EQUAL(st.unsupported, n_custom);
    ewsf_delegates_clear(&got);
    world_close(&w);

    /* second run: nothing to change, nothing written */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_ops("AddDelegate") + tgt_ops("UpdateDelegate") + tgt_ops("RemoveDelegate"), 0);
    /* GetDelegate + the target-identity lookup (GetUserSettings, counted for
     * this mailbox by its X-AnchorMailbox) */
    CU_ASSERT_EQUAL(tgt_round_trips(), 2);
    now = tgt_delegates_text(&w, NULL);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);

    /* a hand-made change on the target is corrected by the next run */
    const char *first = NULL;
    for (size_t i = 0; i < src.n && !first; i++) {
        const rcpt *r = rcpt_by_src(src.v[i].smtp);
        first = r && r->tgt[0] ? r->tgt : NULL;
    }
    ewsf_delegate chg = {.smtp = (char *)first, .receive_copies = -1, .view_private = 1};
    chg.perm[0] = "Author";
    t = mapi_session_target(w.tgt);
    c = (mapi_ews_call){.req = ewsf_req_updatedelegate(&t, g_mbx_tgt, &chg, 1, "NoForward", &e)};
    CU_ASSERT_EQUAL(mapi_session_run(w.tgt, &c, 1, &e), SR_OK);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 1);
    now = tgt_delegates_text(&w, NULL);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);

    /* rollback: exactly the target's previous state (the first backup is kept) */
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_DELEGATES)->restore(&w.c, &e), SR_OK);
    now = tgt_delegates_text(&w, NULL);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    /* a target that does not exist: that delegate fails with its address
     * and ResponseCode, the others are still written */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    const char *unres = NULL;
    for (size_t i = 0; i < src.n && !unres; i++) {
        const rcpt *r = rcpt_by_src(src.v[i].smtp);
        unres = r && !r->tgt[0] ? src.v[i].smtp : NULL;
    }
    CU_ASSERT_EQUAL(rmap_add(w.c.map, unres, "ghost@tgt.test", NULL, &e), SR_OK);
    CU_ASSERT_NOT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "ghost@tgt.test"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "ErrorDelegateNoUser"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_mbx_src));
    now = tgt_delegates_text(&w, NULL);
    CU_ASSERT_STRING_EQUAL(now, after);   /* the good one was added */
    free(now);
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_DELEGATES)->restore(&w.c, &e), SR_OK);
    now = tgt_delegates_text(&w, NULL);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    free(after);
    free(before);
    free(p);
    ewsf_delegates_clear(&src);
    world_close(&w);
}

static void test_rules(void)
{
    world w;
    feature_stats st;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    char *before = tgt_rules_text(&w);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("UpdateInboxRules"), 0);
    char *now = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    /* expectations from the source's own rules */
    mapi_ews_target t = mapi_session_target(w.src);
    mapi_ews_call c = {.idempotent = 1, .req = ewsf_req_getinboxrules(&t, g_mbx_src, &e)};
    xmlNodePtr *src = NULL;
    size_t nsrc = 0;
    int blob;
    CU_ASSERT_EQUAL_FATAL(mapi_session_run(w.src, &c, 1, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(ewsf_parse_getinboxrules(c.resp_op, &src, &nsrc, &blob, &e), SR_OK);
    reset_stats();
    CU_ASSERT_EQUAL_FATAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    long rt = tgt_round_trips();
    printf("\n    Rules update: target round trips %ld, UpdateInboxRules %ld, rmap lookups %u, "
           "unresolved %u, unsupported %u\n", rt, tgt_ops("UpdateInboxRules"),
           rmap_lookups_made(w.c.map), st.unresolved, st.unsupported);
    CU_ASSERT_EQUAL(st.seen, nsrc);
    CU_ASSERT_EQUAL(st.unsupported, 2);        /* the client-only rule, the source-only folder */
    CU_ASSERT_EQUAL(st.changed, nsrc - 3);     /* all but those two and the disabled one */
    CU_ASSERT_TRUE(st.unresolved >= 1);        /* not-migrated recipients are referenced */
    CU_ASSERT_EQUAL(tgt_ops("UpdateInboxRules"), 1);
    /* GetInboxRules + the target-identity lookup (GetUserSettings) + one
     * UpdateInboxRules + one GetInboxRules for the new copies' RuleIds (kept
     * in the id map) */
    CU_ASSERT_TRUE(rt >= 3 && rt <= 4);
    CU_ASSERT_EQUAL(tgt_ops("GetInboxRules"), 2);   /* the read, the new ids */
    CU_ASSERT_TRUE(rmap_lookups_made(w.c.map) <= 2);   /* one LDAP search + one ResolveNames batch */

    xmlNodePtr *got = NULL;
    size_t ngot = 0;
    xmlDocPtr gd = tgt_rules(&w, &got, &ngot);
    CU_ASSERT_EQUAL(ngot, nsrc - 3 + 1);   /* + the target's own rule, kept */
    CU_ASSERT_PTR_NOT_NULL(rule_named(got, ngot, "Target own rule"));
    CU_ASSERT_PTR_NULL(rule_named(got, ngot, "Disabled rule"));
    CU_ASSERT_PTR_NULL(rule_named(got, ngot, "Client only"));
    CU_ASSERT_PTR_NULL(rule_named(got, ngot, "To a source-only folder"));
    unsigned n_addr = 0;
    for (size_t i = 0; i < nsrc; i++) {
        char *name = mapi_xml_child_text(src[i], EWSF_NS_T, "DisplayName");
        xmlNodePtr g = rule_named(got, ngot, name);
        int copied = strcmp(name, "Disabled rule") && strcmp(name, "Client only") &&
                     strcmp(name, "To a source-only folder");
        free(name);
        if (!copied)
            continue;
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        /* every address is now the target's (or a kept not-migrated one) */
        static const char *const parts[] = {"Conditions", "Exceptions", "Actions"};
        for (int p = 0; p < 3; p++) {
            xmlNodePtr part = mapi_xml_child(g, EWSF_NS_T, parts[p]);
            for (xmlNodePtr l = part ? part->children : NULL; l; l = l->next)
                for (xmlNodePtr a = mapi_xml_child(l, EWSF_NS_T, "Address"); a;
                     a = mapi_xml_next(a, EWSF_NS_T, "Address")) {
                    char *ea = mapi_xml_child_text(a, EWSF_NS_T, "EmailAddress");
                    char *rt = mapi_xml_child_text(a, EWSF_NS_T, "RoutingType");
                    n_addr++;
                    if (rt && !strcmp(rt, "MOBILE")) {
                        CU_ASSERT_STRING_EQUAL(ea, "+15550100");
                        free(rt);
                        free(ea);
                        continue;
                    }
                    free(rt);
                    int ok = ea && (strncmp(ea, "/o=TargetOrg/", 13) == 0 || rcpt_by_tgt(ea) ||
                                    (rcpt_by_src(ea) && !rcpt_by_src(ea)->tgt[0]));
                    if (!ok)
                        fprintf(stderr, "\n    unexpected address %s\n", ea ? ea : "(none)");
                    CU_ASSERT_TRUE(ok);
                    free(ea);
                }
        }
        /* folder actions point at the target's folder of the same path */
        static const char *const acts[] = {"MoveToFolder", "CopyToFolder"};
        for (int a = 0; a < 2; a++) {
            xmlNodePtr fid = mapi_xml_child(mapi_xml_child(mapi_xml_child(g, EWSF_NS_T, "Actions"), EWSF_NS_T,
                                                   acts[a]), EWSF_NS_T, "FolderId");
            if (!fid)
                continue;
            xmlChar *id = xmlGetProp(fid, BAD_CAST "Id");
            int in_tgt = 0;
            for (size_t k = 0; id && k < w.c.tgt_folders.n; k++)
                in_tgt |= strcmp(w.c.tgt_folders.v[k].id, (char *)id) == 0;
            CU_ASSERT_TRUE(in_tgt);
            xmlFree(id);
        }
    }
    CU_ASSERT_TRUE(n_addr >= 8);   /* the seed's rules + conditions, exceptions, actions */
    xmlNodePtr wx = rule_named(got, ngot, "With exceptions");
    CU_ASSERT_PTR_NOT_NULL(mapi_xml_child(mapi_xml_child(wx, EWSF_NS_T, "Exceptions"), EWSF_NS_T,
                                      "FromAddresses"));
    const mapi_folder *proj = folder_named(&w.c.tgt_folders, "Projects");
    CU_ASSERT_PTR_NOT_NULL(proj);
    free(got);
    xmlFreeDoc(gd);
    char *after = tgt_rules_text(&w);
    world_close(&w);

    /* second run: nothing to write */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_ops("UpdateInboxRules"), 0);
    now = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);
    /* a copy renamed by hand on the target is found by its RuleId (the id
     * map), renamed back, and not copied a second time */
    {
        xmlNodePtr *cur = NULL;
        size_t ncur = 0;
        xmlDocPtr cd = tgt_rules(&w, &cur, &ncur);
        xmlNodePtr victim = NULL;
        for (size_t i = 0; i < ncur && !victim; i++) {
            char *dn = mapi_xml_child_text(cur[i], EWSF_NS_T, "DisplayName");
            if (dn && strcmp(dn, "Target own rule") != 0)
                victim = cur[i];
            free(dn);
        }
        CU_ASSERT_PTR_NOT_NULL_FATAL(victim);
        xmlNodeSetContent(mapi_xml_child(victim, EWSF_NS_T, "DisplayName"), BAD_CAST "Renamed by the user");
        ewsf_rule_op set = {.kind = EWSF_RULE_SET, .rule = victim};
        mapi_ews_target tt = mapi_session_target(w.tgt);
        mapi_ews_call sc = {.req = ewsf_req_updateinboxrules(&tt, g_mbx_tgt, 1, &set, 1, &e)};
        CU_ASSERT_EQUAL(mapi_session_run(w.tgt, &sc, 1, &e), SR_OK);
        int bad_op;
        CU_ASSERT_EQUAL(ewsf_parse_updateinboxrules(sc.resp_op, &bad_op, &e), SR_OK);
        xmlFreeDoc(sc.req);
        xmlFreeDoc(sc.resp);
        free(cur);
        xmlFreeDoc(cd);
        CU_ASSERT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
        CU_ASSERT_EQUAL(st.changed, 1);   /* one Set, no Create */
        now = tgt_rules_text(&w);
        CU_ASSERT_STRING_EQUAL(now, after);
        free(now);
    }
    /* a copy disabled by hand on the target is set back by the next run */
    xmlNodePtr *cur = NULL;
    size_t ncur = 0;
    xmlDocPtr cd = tgt_rules(&w, &cur, &ncur);
    xmlNodePtr victim = NULL;
    for (size_t i = 0; i < ncur && !victim; i++) {
        char *dn = mapi_xml_child_text(cur[i], EWSF_NS_T, "DisplayName");
        if (dn && strcmp(dn, "Target own rule") != 0)
            victim = cur[i];
        free(dn);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(victim);
    xmlNodeSetContent(mapi_xml_child(victim, EWSF_NS_T, "IsEnabled"), BAD_CAST "false");
    ewsf_rule_op set = {.kind = EWSF_RULE_SET, .rule = victim};
    mapi_ews_target tt = mapi_session_target(w.tgt);
    mapi_ews_call sc = {.req = ewsf_req_updateinboxrules(&tt, g_mbx_tgt, 1, &set, 1, &e)};
    CU_ASSERT_EQUAL(mapi_session_run(w.tgt, &sc, 1, &e), SR_OK);
    int bad_op;
    CU_ASSERT_EQUAL(ewsf_parse_updateinboxrules(sc.resp_op, &bad_op, &e), SR_OK);
    xmlFreeDoc(sc.req);
    xmlFreeDoc(sc.resp);
    free(cur);
    xmlFreeDoc(cd);
    now = tgt_rules_text(&w);
    CU_ASSERT_STRING_NOT_EQUAL(now, after);
    free(now);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 1);
    now = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);
    /* rollback: the previous rules exactly */
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_RULES)->restore(&w.c, &e), SR_OK);
    now = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    /* a temporary profile (switchresmb's): its id map goes with the backups
     * the cleanup deletes, so the new copies' ids are not read back — one
     * target round trip less; the copies are the same */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    w.c.backups_transient = 1;
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, nsrc - 3);
    CU_ASSERT_EQUAL(tgt_ops("UpdateInboxRules"), 1);
    CU_ASSERT_EQUAL(tgt_ops("GetInboxRules"), 1);   /* the read only */
    {
        xmlNodePtr *tv = NULL;
        size_t ntv = 0;
        xmlDocPtr td = tgt_rules(&w, &tv, &ntv);
        CU_ASSERT_EQUAL(ntv, nsrc - 3 + 1);   /* the copies (new ids) and the target's own */
        CU_ASSERT_PTR_NOT_NULL(rule_named(tv, ntv, "With exceptions"));
        free(tv);
        xmlFreeDoc(td);
    }
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_RULES)->restore(&w.c, &e), SR_OK);
    now = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    /* the target refuses one rule (a recipient the target does not have):
     * that rule is named, every other one is still written */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    xmlNodePtr refused = NULL;
    char *vname = NULL, *vaddr = NULL;
    for (size_t i = 0; i < nsrc && !vaddr; i++) {
        xmlNodePtr fa = mapi_xml_child(mapi_xml_child(src[i], EWSF_NS_T, "Conditions"), EWSF_NS_T,
                                   "FromAddresses");
        char *rt = mapi_xml_child_text(mapi_xml_child(fa, EWSF_NS_T, "Address"), EWSF_NS_T, "RoutingType");
        char *ea = mapi_xml_child_text(mapi_xml_child(fa, EWSF_NS_T, "Address"), EWSF_NS_T, "EmailAddress");
        const rcpt *r = ea ? rcpt_by_src(ea) : NULL;
        if (rt && !strcmp(rt, "EX") && r && r->tgt[0]) {
            refused = src[i];
            vaddr = ea;
            ea = NULL;
        }
        free(ea);
        free(rt);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(refused);
    vname = mapi_xml_child_text(refused, EWSF_NS_T, "DisplayName");
    CU_ASSERT_EQUAL(rmap_add(w.c.map, vaddr, rcpt_by_src(vaddr)->tgt, "/o=TargetOrg/cn=ghost", &e),
                    SR_OK);
    reset_stats();
    CU_ASSERT_NOT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, vname));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "RecipientDoesNotExist"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_mbx_src));
    /* every written rule naming that address is refused, one per request */
    unsigned n_ref = 0;
    for (size_t i = 0; i < nsrc; i++) {
        char *name = mapi_xml_child_text(src[i], EWSF_NS_T, "DisplayName");
        int written = strcmp(name, "Disabled rule") && strcmp(name, "Client only") &&
                      strcmp(name, "To a source-only folder");
        free(name);
        xmlChar *x = NULL;
        int len = 0;
        x = written ? ewsf_dump_node(src[i], &len) : NULL;
        n_ref += x && strcasestr((char *)x, vaddr) != NULL;
        xmlFree(x);
    }
    CU_ASSERT_TRUE(n_ref >= 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateInboxRules"), 1 + n_ref);   /* refused ones, then the rest */
    gd = tgt_rules(&w, &got, &ngot);
    CU_ASSERT_EQUAL(ngot, nsrc - 3 + 1 - n_ref);
    CU_ASSERT_PTR_NULL(rule_named(got, ngot, vname));
    free(got);
    xmlFreeDoc(gd);
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_RULES)->restore(&w.c, &e), SR_OK);
    now = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    free(vname);
    free(vaddr);
    free(after);
    free(before);
    free(src);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    world_close(&w);
}

/* Last: stops the lab.  A directory outage fails the feature, naming the
 * mailbox and the DC. */
static void test_directory_outage(void)
{
    world w;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    lab_stop();
    feature_stats st;
    sr_err e = {0};
    CU_ASSERT_NOT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_mbx_src));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, lab("LAB_LDAPS_URI")));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Delegates"));
    printf("\n    outage: %s\n", e.msg);
    rmap_target t;
    rmap_status rs = RMAP_MAPPED;
    for (int i = 0; i < g_nrc; i++)
        if (rmap_lookup(w.c.map, g_rc[i].src, &t) == RMAP_ERROR)
            rs = RMAP_ERROR;
    CU_ASSERT_EQUAL(rs, RMAP_ERROR);
    world_close(&w);
}

/* Bad backups: none → SR_E_NOTFOUND; corrupt or with a DTD → SR_E_PARSE
 * naming the mailbox and the feature; nothing is written to the target. */
static void test_bad_backups(void)
{
    world w;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 0), 0);
    free(w.backup);
    w.backup = sr_asprintf("%s/bad-backups", g_dir);
    w.c.backup_dir = w.backup;
    sr_err e;
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_DELEGATES)->restore(&w.c, &e), SR_E_NOTFOUND);
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_RULES)->restore(&w.c, &e), SR_E_NOTFOUND);
    const char *bad[] = {"<GetDelegateResponse", "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                         "<x xmlns='urn:other'/>"};
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(cpuu_backup_put(&w.c, "Delegates", "target.xml", bad[i], strlen(bad[i]), &e),
                        SR_OK);
        CU_ASSERT_EQUAL(cpuu_backup_put(&w.c, "Rules", "target.xml", bad[i], strlen(bad[i]), &e),
                        SR_OK);
        sr_code rc = cpuu_feature_ops(CFG_F_DELEGATES)->restore(&w.c, &e);
        CU_ASSERT_TRUE(rc == SR_E_PARSE || rc == SR_E_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, g_mbx_src));
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Delegates"));
        rc = cpuu_feature_ops(CFG_F_RULES)->restore(&w.c, &e);
        CU_ASSERT_TRUE(rc == SR_E_PARSE || rc == SR_E_PROTOCOL);
        CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Rules"));
    }
    CU_ASSERT_EQUAL(tgt_ops("AddDelegate") + tgt_ops("RemoveDelegate") + tgt_ops("UpdateInboxRules"), 0);
    world_close(&w);
}

/* Updated in place (ctx->src == ctx->tgt): one read per feature, and a
 * mailbox already in target terms needs nothing. */
static void test_in_place(void)
{
    world w;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    w.c.src = w.c.tgt;
    mapi_folders_clear(&w.c.src_folders);
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(mapi_session_folders(w.tgt, &w.c.src_folders, &e), SR_OK);
    free(w.backup);
    w.backup = sr_asprintf("%s/in-place", g_dir);
    w.c.backup_dir = w.backup;
    char *dbefore = tgt_delegates_text(&w, NULL), *rbefore = tgt_rules_text(&w);
    feature_stats st;
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_round_trips(), 1);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_RULES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(st.unsupported, 0);
    CU_ASSERT_EQUAL(tgt_round_trips(), 1);
    char *d = tgt_delegates_text(&w, NULL), *r = tgt_rules_text(&w);
    CU_ASSERT_STRING_EQUAL(d, dbefore);
    CU_ASSERT_STRING_EQUAL(r, rbefore);
    free(d);
    free(r);
    free(dbefore);
    free(rbefore);
    world_close(&w);
}

static void test_feature_table(void)
{
    CU_ASSERT_PTR_NOT_NULL(cpuu_feature_ops(CFG_F_DELEGATES));
    CU_ASSERT_PTR_NOT_NULL(cpuu_feature_ops(CFG_F_RULES));
    CU_ASSERT_PTR_NULL(cpuu_feature_ops(CFG_F_ACTIVITIES));
    int n = 0;
    for (; cpuu_features[n]; n++)
        CU_ASSERT_PTR_EQUAL(cpuu_feature_ops(cpuu_features[n]->id), cpuu_features[n]);
    CU_ASSERT_TRUE(n >= 2);
}

/* ---- Nicks ---- */
#include "cpuu/nicks.h"

/* The Autocomplete stream of a session: raw bytes (heap) or NULL when the
 * configuration is absent; *exists tells whether the message exists. */
static uint8_t *nick_raw(mapi_session *s, size_t *len, int *exists)
{
    mapi_ews_target t = mapi_session_target(s);
    sr_err e;
    mapi_ews_call c = {.idempotent = 1, .req = nk_req_getconfig(&t, "inbox", "Autocomplete", &e)};
    uint8_t *b = NULL;
    int hb = 0;
    *len = 0;
    *exists = 0;
    if (mapi_session_run(s, &c, 1, &e) == SR_OK) {
        sr_code rc = nk_parse_getconfig(c.resp_op, &b, len, &hb, &e);
        *exists = rc == SR_OK;
    }
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    return b;
}

static sr_code nick_put(mapi_session *s, int create, const uint8_t *b, size_t n)
{
    mapi_ews_target t = mapi_session_target(s);
    sr_err e;
    char *b64 = mapi_base64_encode(b, n);
    mapi_ews_call c = {.req = nk_req_setconfig(&t, "inbox", "Autocomplete", create, b64, &e)};
    free(b64);
    sr_code rc = mapi_session_run(s, &c, 1, &e);
    if (rc == SR_OK)
        rc = nk_parse_status(c.resp_op, &e);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    return rc;
}

static sr_code nick_delete(mapi_session *s)
{
    mapi_ews_target t = mapi_session_target(s);
    sr_err e;
    mapi_ews_call c = {.req = nk_req_deleteconfig(&t, "inbox", "Autocomplete", &e)};
    sr_code rc = mapi_session_run(s, &c, 1, &e);
    if (rc == SR_OK)
        rc = nk_parse_status(c.resp_op, &e);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    return rc;
}

/* Target legacyExchangeDN of a source SMTP address, from org.json. */
static char g_tdn_src[MAX_RCPT][128], g_tdn[MAX_RCPT][256];
static int g_ntdn;

static void load_target_dns(void)
{
    if (g_ntdn)
        return;
    char *out = sr_asprintf("%s/tdn.tsv", g_dir);
    const char *args[] = { g_org, NULL };
    CU_ASSERT_EQUAL_FATAL(tu_py_to("tests/py/org_target_dns.py", args, out), 0);
    FILE *f = fopen(out, "r");
    char line[512];
    while (f && g_ntdn < MAX_RCPT && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = '\0';
        const char *dn = strcmp(tab + 1, "-") ? tab + 1 : "";
        if (strlen(line) >= sizeof g_tdn_src[0] || strlen(dn) >= sizeof g_tdn[0])
            continue;
        memcpy(g_tdn_src[g_ntdn], line, strlen(line) + 1);
        memcpy(g_tdn[g_ntdn++], dn, strlen(dn) + 1);
    }
    if (f)
        fclose(f);
    free(out);
}

static const char *target_dn_of(const char *src_smtp)
{
    for (int i = 0; i < g_ntdn; i++)
        if (strcasecmp(g_tdn_src[i], src_smtp) == 0)
            return g_tdn[i][0] ? g_tdn[i] : NULL;
    return NULL;
}

/* Known pairs with the target legacyExchangeDN (as a target directory
 * would answer): the EX rows can then stay EX rows. */
static void add_target_dns(world *w)
{
    sr_err e;
    for (int i = 0; i < g_nrc; i++) {
        const char *tdn = g_rc[i].tgt[0] ? target_dn_of(g_rc[i].src) : NULL;
        if (!tdn)
            continue;
        CU_ASSERT_EQUAL(rmap_add(w->c.map, g_rc[i].src, g_rc[i].tgt, tdn, &e), SR_OK);
        CU_ASSERT_EQUAL(rmap_add(w->c.map, g_rc[i].src_dn, g_rc[i].tgt, tdn, &e), SR_OK);
    }
}

static const nk_row *row_with_smtp(const nk_stream *s, const char *smtp, int *count)
{
    const nk_row *hit = NULL;
    *count = 0;
    for (size_t i = 0; i < s->nrows; i++) {
        char *v = nk_row_string(&s->rows[i], NK_ID_SMTP);
        if (v && strcasecmp(v, smtp) == 0) {
            hit = hit ? hit : &s->rows[i];
            (*count)++;
        }
        free(v);
    }
    return hit;
}

static long nick_writes(void)
{
    return tgt_ops("UpdateUserConfiguration") + tgt_ops("CreateUserConfiguration") +
           tgt_ops("DeleteUserConfiguration");
}

/* Source rows mapped onto the target (target DN in EX rows and in their
 * re-encoded entry ids, target SMTP), unresolved counted, the target's own
 * row kept, a verbatim copy of a source row de-duplicated; dry run and a
 * second run write nothing; restore gives the exact previous bytes back;
 * Remove=Nicks empties the row set and keeps the metadata. */
static void test_nicks(void)
{
    load_target_dns();
    world w;
    sr_err e;
    /* the four user-configuration requests, both ways of addressing a mailbox */
    mapi_ews_target ta[] = {{.impersonate = "room@x.test"}, {.mailbox = "a<&>@x.test"}};
    for (int i = 0; g_schema && i < 2; i++) {
        validate(nk_req_getconfig(&ta[i], "inbox", "Autocomplete", &e), "GetUserConfiguration");
        validate(nk_req_setconfig(&ta[i], "inbox", "Autocomplete", 1, "AAAA", &e),
                 "CreateUserConfiguration");
        validate(nk_req_setconfig(&ta[i], "inbox", "Autocomplete", 0, "AAAA", &e),
                 "UpdateUserConfiguration");
        validate(nk_req_deleteconfig(&ta[i], "inbox", "Autocomplete", &e), "DeleteUserConfiguration");
    }
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    size_t slen = 0;
    int ex = 0;
    uint8_t *sraw = nick_raw(w.src, &slen, &ex);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sraw);
    nk_stream src;
    CU_ASSERT_EQUAL_FATAL(nk_parse(sraw, slen, &src, &e), SR_OK);
    CU_ASSERT_TRUE_FATAL(src.nrows >= 2);
    /* expectations from org.json, never from the code under test */
    unsigned want_unresolved = 0, want_mapped = 0, want_ex = 0;
    const char *first_tgt = NULL;
    for (size_t i = 0; i < src.nrows; i++) {
        char *smtp = nk_row_string(&src.rows[i], NK_ID_SMTP);
        const rcpt *r = smtp ? rcpt_by_src(smtp) : NULL;
        if (r && r->tgt[0]) {
            want_mapped++;
            first_tgt = first_tgt ? first_tgt : r->tgt;
            char *at = nk_row_string(&src.rows[i], NK_ID_ADDRTYPE);
            want_ex += at && !strcmp(at, "EX") && target_dn_of(r->src);
            free(at);
        } else if (r) {
            want_unresolved++;
        }
        free(smtp);
    }
    CU_ASSERT_TRUE_FATAL(want_mapped > 0 && first_tgt);
    /* the target's own list: its own recipient and a verbatim copy of the
     * first mapped source row (what a content copy leaves behind) */
    nk_stream own = {.meta_head = {0x11, 0x22, 0x33, 0x44}, .major = 12,
                     .meta_tail = {1, 2, 3, 4, 5, 6, 7, 8}};
    nk_val ov[] = {{.tag = 0x3001001F, .str = "Own Colleague"}, {.tag = 0x3002001F, .str = "SMTP"},
                   {.tag = 0x3003001F, .str = g_own}, {.tag = 0x39FE001F, .str = g_own},
                   {.tag = 0x60040003, .l = 99}};
    CU_ASSERT_EQUAL_FATAL(nk_row_append(&own, ov, 5, &e), SR_OK);
    for (size_t i = 0; i < src.nrows; i++) {
        char *smtp = nk_row_string(&src.rows[i], NK_ID_SMTP);
        const rcpt *r = smtp ? rcpt_by_src(smtp) : NULL;
        free(smtp);
        if (r && r->tgt[0] && !strcmp(r->tgt, first_tgt)) {
            own.rows = realloc(own.rows, (own.nrows + 1) * sizeof *own.rows);
            CU_ASSERT_EQUAL_FATAL(nk_row_copy(&own.rows[own.nrows++], &src.rows[i], &e), SR_OK);
            break;
        }
    }
    uint8_t *before = NULL;
    size_t blen = 0;
    CU_ASSERT_EQUAL_FATAL(nk_serialize(&own, &before, &blen, &e), SR_OK);
    nk_stream_clear(&own);
    size_t cur = 0;
    uint8_t *tr = nick_raw(w.tgt, &cur, &ex);
    free(tr);
    CU_ASSERT_EQUAL_FATAL(nick_put(w.tgt, !ex, before, blen), SR_OK);

    /* dry run: plans, writes nothing, no backup */
    feature_stats st;
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(nick_writes(), 0);
    CU_ASSERT_EQUAL(st.seen, src.nrows);
    CU_ASSERT_TRUE(st.changed > 0);
    char *bk = sr_asprintf("%s/Nicks.target.bin", w.backup);
    CU_ASSERT_FALSE(tu_exists(bk));
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_TRUE(tr && cur == blen && memcmp(tr, before, blen) == 0);
    free(tr);
    world_close(&w);

    /* update */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    add_target_dns(&w);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("UpdateUserConfiguration"), 1);
    CU_ASSERT_TRUE(tgt_round_trips() <= 3);
    CU_ASSERT_EQUAL(st.unresolved, want_unresolved);
    CU_ASSERT_TRUE(tu_exists(bk));
    tr = nick_raw(w.tgt, &cur, &ex);
    nk_stream got;
    CU_ASSERT_EQUAL_FATAL(nk_parse(tr, cur, &got, &e), SR_OK);
    CU_ASSERT_EQUAL(memcmp(got.meta_head, "\x11\x22\x33\x44", 4), 0);   /* target metadata kept */
    CU_ASSERT_EQUAL(got.meta_tail[7], 8);
    int n = 0;
    CU_ASSERT_PTR_NOT_NULL(row_with_smtp(&got, g_own, &n));   /* own row kept */
    CU_ASSERT_EQUAL(n, 1);
    unsigned seen_ex = 0;
    for (size_t i = 0; i < src.nrows; i++) {
        char *smtp = nk_row_string(&src.rows[i], NK_ID_SMTP);
        const rcpt *r = smtp ? rcpt_by_src(smtp) : NULL;
        const nk_row *row = NULL;
        if (r && r->tgt[0]) {
            CU_ASSERT_PTR_NOT_NULL(row = row_with_smtp(&got, r->tgt, &n));
            CU_ASSERT_EQUAL(n, 1);   /* the leftover copy was not kept twice */
            CU_ASSERT_PTR_NULL(row_with_smtp(&got, smtp, &n));
        } else if (smtp) {
            CU_ASSERT_PTR_NOT_NULL(row = row_with_smtp(&got, smtp, &n));   /* kept as it is */
        }
        const char *tdn = r && r->tgt[0] ? target_dn_of(r->src) : NULL;
        char *at = row ? nk_row_string(row, NK_ID_ADDRTYPE) : NULL;
        if (row && tdn && at && !strcmp(at, "EX")) {
            char *em = nk_row_string(row, NK_ID_EMAIL);
            CU_ASSERT_TRUE(em && strcasecmp(em, tdn) == 0);
            size_t el = 0;
            const uint8_t *eid = nk_row_binary(row, NK_ID_ENTRYID, &el);
            mapi_eid d;
            CU_ASSERT_TRUE_FATAL(eid && mapi_eid_decode(eid, el, &d, &e) == SR_OK);
            CU_ASSERT_EQUAL(d.kind, MAPI_EID_ADDRBOOK);
            CU_ASSERT_TRUE(d.x500dn && strcasecmp(d.x500dn, tdn) == 0);
            mapi_eid_clear(&d);
            size_t kl = 0;
            const uint8_t *sk = nk_row_binary(row, NK_ID_SEARCH_KEY, &kl);
            char *want_sk = sr_asprintf("EX:%s", tdn);
            for (char *p = want_sk; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            CU_ASSERT_TRUE(sk && kl == strlen(want_sk) + 1 && !memcmp(sk, want_sk, kl));
            free(want_sk);
            free(em);
            seen_ex++;
        }
        free(at);
        free(smtp);
    }
    if (seen_ex != want_ex)
        fprintf(stderr, "\n    Nicks: %u EX rows with the target DN, %u expected\n", seen_ex, want_ex);
    CU_ASSERT_EQUAL(seen_ex, want_ex);
    CU_ASSERT_TRUE(want_ex > 0);
    nk_stream_clear(&got);

    /* a second run changes nothing */
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(nick_writes(), 0);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_TRUE(tgt_round_trips() <= 2);
    size_t cur2 = 0;
    uint8_t *tr2 = nick_raw(w.tgt, &cur2, &ex);
    CU_ASSERT_TRUE(tr2 && cur2 == cur && memcmp(tr2, tr, cur) == 0);
    free(tr2);
    free(tr);

    /* restore: the exact previous bytes */
    const struct feature_ops *ops = cpuu_feature_ops(CFG_F_NICKS);
    CU_ASSERT_EQUAL(ops->restore(&w.c, &e), SR_OK);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_TRUE(tr && cur == blen && memcmp(tr, before, blen) == 0);
    free(tr);

    /* Remove=Nicks: no rows, metadata kept; restore still gives the first state */
    cfg_cpuu cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.remove = CFG_FSET(CFG_F_NICKS);
    w.c.cfg = &cfg;
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_EQUAL_FATAL(nk_parse(tr, cur, &got, &e), SR_OK);
    CU_ASSERT_EQUAL(got.nrows, 0);
    CU_ASSERT_EQUAL(memcmp(got.meta_head, "\x11\x22\x33\x44", 4), 0);
    nk_stream_clear(&got);
    free(tr);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);   /* already empty */
    CU_ASSERT_EQUAL(nick_writes(), 0);
    w.c.cfg = NULL;
    CU_ASSERT_EQUAL(ops->restore(&w.c, &e), SR_OK);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_TRUE(tr && cur == blen && memcmp(tr, before, blen) == 0);
    free(tr);

    /* a target without a list, no target directory: created from the
     * source's (its metadata); the target DNs come from SOAP Autodiscover
     * GetUserSettings, so mapped EX rows stay EX rows with the TARGET DN
     * (SMTP rows stay SMTP); restore deletes it again */
    CU_ASSERT_EQUAL(nick_delete(w.tgt), SR_OK);
    world_close(&w);
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    free(w.backup);
    w.backup = sr_asprintf("%s/nicks-none", g_dir);
    w.c.backup_dir = w.backup;
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("CreateUserConfiguration"), 1);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_EQUAL_FATAL(nk_parse(tr, cur, &got, &e), SR_OK);
    CU_ASSERT_EQUAL(memcmp(got.meta_head, src.meta_head, 4), 0);
    CU_ASSERT_PTR_NOT_NULL(row_with_smtp(&got, first_tgt, &n));
    CU_ASSERT_PTR_NULL(row_with_smtp(&got, g_own, &n));
    load_target_dns();
    unsigned n_ex = 0;
    for (size_t i = 0; i < got.nrows; i++) {
        char *sm = nk_row_string(&got.rows[i], NK_ID_SMTP), *at = nk_row_string(&got.rows[i], NK_ID_ADDRTYPE);
        if (sm && rcpt_by_tgt(sm)) {   /* a mapped row */
            char *em = nk_row_string(&got.rows[i], NK_ID_EMAIL);
            const char *tdn = target_dn_of(rcpt_by_tgt(sm)->src);
            if (at && !strcmp(at, "EX")) {
                CU_ASSERT_TRUE(em && tdn && strcasecmp(em, tdn) == 0);
                CU_ASSERT_PTR_NOT_NULL(nk_row_find(&got.rows[i], NK_ID_ENTRYID));
                n_ex++;
            } else {
                CU_ASSERT_STRING_EQUAL(at, "SMTP");
                CU_ASSERT_PTR_NULL(nk_row_find(&got.rows[i], NK_ID_ENTRYID));
                CU_ASSERT_TRUE(em && strcasecmp(em, sm) == 0);
            }
            free(em);
        }
        free(sm);
        free(at);
    }
    CU_ASSERT_TRUE(n_ex >= 1);
    nk_stream_clear(&got);
    free(tr);
    CU_ASSERT_EQUAL(ops->restore(&w.c, &e), SR_OK);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_PTR_NULL(tr);
    CU_ASSERT_FALSE(ex);
    world_close(&w);

    /* no source directory (identity checks only): the target's own EX row,
     * already in target terms, stays byte-identical */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 0), 0);
    free(w.backup);
    w.backup = sr_asprintf("%s/nicks-nodir", g_dir);
    w.c.backup_dir = w.backup;
    const rcpt *fr = rcpt_by_tgt(first_tgt);
    const char *fdn = fr ? target_dn_of(fr->src) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(fdn);
    mapi_eid ab = {.kind = MAPI_EID_ADDRBOOK, .provider_uid = MAPI_UID_ADDRBOOK,
                   .ab_type = MAPI_AB_DT_MAILUSER, .x500dn = (char *)fdn};
    uint8_t *abb = NULL;
    size_t abl = 0;
    CU_ASSERT_EQUAL_FATAL(mapi_eid_encode(&ab, &abb, &abl, &e), SR_OK);
    nk_stream mine = {.meta_head = {9, 9, 9, 9}, .major = 12};
    nk_val mv[] = {{.tag = 0x3001001F, .str = "Target Colleague"}, {.tag = 0x3002001F, .str = "EX"},
                   {.tag = 0x3003001F, .str = fdn}, {.tag = 0x39FE001F, .str = first_tgt},
                   {.tag = 0x0FFF0102, .bin = abb, .bin_len = abl}};
    CU_ASSERT_EQUAL_FATAL(nk_row_append(&mine, mv, 5, &e), SR_OK);
    uint8_t *mb = NULL;
    size_t mbl = 0;
    CU_ASSERT_EQUAL_FATAL(nk_serialize(&mine, &mb, &mbl, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(nick_put(w.tgt, 1, mb, mbl), SR_OK);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_EQUAL_FATAL(nk_parse(tr, cur, &got, &e), SR_OK);
    CU_ASSERT_TRUE(got.nrows >= 1 && nk_row_equal(&got.rows[0], &mine.rows[0]));
    CU_ASSERT_PTR_NOT_NULL(row_with_smtp(&got, first_tgt, &n));
    CU_ASSERT_EQUAL(n, 1);
    nk_stream_clear(&got);
    nk_stream_clear(&mine);
    free(tr);
    free(mb);
    free(abb);
    CU_ASSERT_EQUAL(nick_delete(w.tgt), SR_OK);
    CU_ASSERT_EQUAL(nick_put(w.tgt, 1, before, blen), SR_OK);
    world_close(&w);

    /* updated in place (source = target session): one read; the leftover
     * source row is mapped, the own row kept; then nothing to change */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    add_target_dns(&w);
    w.c.src = w.c.tgt;
    free(w.backup);
    w.backup = sr_asprintf("%s/nicks-in-place", g_dir);
    w.c.backup_dir = w.backup;
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("GetUserConfiguration"), 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateUserConfiguration"), 1);
    CU_ASSERT_EQUAL(st.seen, 2);
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_EQUAL_FATAL(nk_parse(tr, cur, &got, &e), SR_OK);
    CU_ASSERT_EQUAL(got.nrows, 2);
    CU_ASSERT_PTR_NOT_NULL(row_with_smtp(&got, g_own, &n));
    CU_ASSERT_PTR_NOT_NULL(row_with_smtp(&got, first_tgt, &n));
    nk_stream_clear(&got);
    free(tr);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(nick_writes(), 0);
    CU_ASSERT_EQUAL(ops->restore(&w.c, &e), SR_OK);
    /* leave the target as the other tests found it: the seeded list back */
    tr = nick_raw(w.tgt, &cur, &ex);
    CU_ASSERT_TRUE(tr && cur == blen && memcmp(tr, before, blen) == 0);
    free(tr);
    free(bk);
    free(before);
    free(sraw);
    nk_stream_clear(&src);
    world_close(&w);
}

/* ---- navigation shortcuts (Favorites, Calendar, Shortcuts) ---- */
static char g_wl_owner_tdn[256], g_wl_unm_dn[256];

static void wl_expect(void)
{
    char *path = sr_asprintf("%s/wlinks.tsv", g_dir);
    FILE *f = fopen(path, "r");
    char line[600];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *a = strchr(line, '\t'), *b = a ? strchr(a + 1, '\t') : NULL;
        if (line[0] == 'S' && b && strlen(b + 1) < sizeof g_wl_owner_tdn)
            memcpy(g_wl_owner_tdn, b + 1, strlen(b + 1) + 1);
        if (line[0] == 'U' && a && strcmp(a + 1, "-") && strlen(a + 1) < sizeof g_wl_unm_dn)
            memcpy(g_wl_unm_dn, a + 1, strlen(a + 1) + 1);
    }
    if (f)
        fclose(f);
    free(path);
}

/* Every WunderBar link of a mailbox (Common Views: the root's child). */
static void wl_links(mapi_session *s, mapi_items *out)
{
    static const uint16_t tags[][2] = {
        {0x6842, MAPI_PT_BINARY}, {0x6847, MAPI_PT_LONG}, {0x6849, MAPI_PT_LONG},
        {0x684A, MAPI_PT_LONG}, {0x684B, MAPI_PT_BINARY}, {0x684C, MAPI_PT_BINARY},
        {0x684D, MAPI_PT_BINARY}, {0x684E, MAPI_PT_BINARY}, {0x684F, MAPI_PT_BINARY},
        {0x6850, MAPI_PT_BINARY}, {0x6851, MAPI_PT_UNICODE}, {0x6852, MAPI_PT_LONG},
        {0x6853, MAPI_PT_LONG}, {0x6854, MAPI_PT_BINARY}};
    sr_err e;
    mapi_ews_target t = mapi_session_target(s);
    mapi_ews_folder_ref root = {.distinguished = "root"};
    mapi_ews_call c = {.idempotent = 1, .req = mapi_ews_req_findfolder_deep(&t, &root, 0, 1000, &e)};
    mapi_folders f = {0};
    CU_ASSERT_EQUAL_FATAL(mapi_session_run(s, &c, 1, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(mapi_ews_parse_findfolder(c.resp_op, &f, &e), SR_OK);
    const mapi_folder *cv = folder_named(&f, "Common Views");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cv);
    mapi_extprops want = {0};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        mapi_extprops_add_tag(&want, tags[i][0], tags[i][1], "", &e);
    mapi_ews_folder_ref ref = {.id = cv->id};
    CU_ASSERT_EQUAL(mapi_session_find_fai(s, &ref, "IPM.Microsoft.WunderBar.Link", &want, out, &e),
                    SR_OK);
    mapi_extprops_clear(&want);
    mapi_folders_clear(&f);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
}

static const char *wl_val(const mapi_item *it, uint16_t tag)
{
    const mapi_extprop *p = it ? mapi_extprops_find_tag(&it->props, tag) : NULL;
    return p && p->nvalues == 1 ? p->values[0] : NULL;
}

static const mapi_item *wl_by_subject(const mapi_items *l, const char *subj)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].subject && strcmp(l->v[i].subject, subj) == 0)
            return &l->v[i];
    return NULL;
}

static int wl_count(const mapi_items *l, const char *subj)
{
    int n = 0;
    for (size_t i = 0; i < l->n; i++)
        n += l->v[i].subject && strcmp(l->v[i].subject, subj) == 0;
    return n;
}

/* Everything of every link, in the server's order: the state to compare. */
static char *wl_text(const mapi_items *l)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    for (size_t i = 0; f && i < l->n; i++) {
        fprintf(f, "%s|%s", l->v[i].id, l->v[i].subject ? l->v[i].subject : "");
        for (size_t p = 0; p < l->v[i].props.n; p++)
            fprintf(f, "|%04X=%s", (unsigned)l->v[i].props.v[p].id,
                    l->v[i].props.v[p].nvalues ? l->v[i].props.v[p].values[0] : "");
        fputc('\n', f);
    }
    if (f)
        fclose(f);
    return buf;
}

static int wl_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The base64 EntryID of a folder of f, by name. */
static char *wl_folder_eid(const mapi_folders *f, const char *name)
{
    const mapi_folder *x = folder_named(f, name);
    return x && x->entryid ? mapi_base64_encode(x->entryid, x->entryid_len) : NULL;
}

static mapi_eid wl_decode(const char *b64)
{
    mapi_eid eid = {0};
    uint8_t *b = NULL;
    size_t n = 0;
    sr_err e;
    if (b64 && mapi_base64_decode(b64, &b, &n, &e) == SR_OK)
        mapi_eid_decode(b, n, &eid, &e);
    free(b);
    return eid;
}

static void test_wlinks(void)
{
    load_target_dns();
    wl_expect();
    CU_ASSERT_TRUE_FATAL(g_wl_owner_tdn[0] != '\0');
    world w;
    sr_err e;
    feature_stats st;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    add_target_dns(&w);
    mapi_items src = {0}, before = {0}, after = {0}, again = {0}, back = {0};
    wl_links(w.src, &src);
    wl_links(w.tgt, &before);
    char *t0 = wl_text(&before);
    unsigned cal_links = g_wl_unm_dn[0] ? 4 : 3;
    CU_ASSERT_EQUAL(wl_count(&before, "Target own favorite"), 1);

    /* dry run: planned, nothing written, no backup */
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_FAVORITES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.seen, 4);          /* Inbox, Unread mail, Source only, PST folder */
    CU_ASSERT_EQUAL(st.changed, 2);       /* Inbox (mapped), PST folder (copied as it is) */
    CU_ASSERT_EQUAL(st.unsupported, 3);   /* search folder, no target folder, PST */
    CU_ASSERT_EQUAL(st.unresolved, 0);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_CALENDAR, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.seen, cal_links);
    CU_ASSERT_EQUAL(st.changed, cal_links);
    CU_ASSERT_EQUAL(st.unresolved, g_wl_unm_dn[0] ? 1u : 0u);
    CU_ASSERT_EQUAL(tgt_ops("CreateItem") + tgt_ops("UpdateItem") + tgt_ops("DeleteItem"), 0);
    char *bk = sr_asprintf("%s/Favorites", w.backup);
    struct stat sb;
    CU_ASSERT_NOT_EQUAL(stat(bk, &sb), 0);
    free(bk);

    /* the target refuses the link writes (a full mailbox): the feature fails
     * naming them, never counts them written (nothing was) */
    w.c.dry_run = 0;
    free(sim(&g_tgt, "/_sim/config?fail_op=CreateItem&fail_op_code=ErrorQuotaExceeded", 1));
    CU_ASSERT_NOT_EQUAL(run_feature(&w, CFG_F_FAVORITES, &st, &e), SR_OK);
    if (!strstr(e.msg, "2 of 2 link write(s) refused"))
        fprintf(stderr, "\n    refused links: %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "2 of 2 link write(s) refused"));
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "ErrorQuotaExceeded"));
    free(sim(&g_tgt, "/_sim/config?fail_op=", 1));

    /* update */
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_FAVORITES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 2);
    long rt = tgt_round_trips();
    fprintf(stderr, "\n    Favorites update: target round trips %ld\n", rt);
    CU_ASSERT_TRUE(rt <= 3);   /* FindFolder, FindItem, one CreateItem batch */
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_CALENDAR, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, cal_links);
    CU_ASSERT_TRUE(tgt_round_trips() <= 2);   /* FindItem, one CreateItem batch */
    CU_ASSERT_EQUAL(tgt_ops("FindFolder"), 0);   /* Common Views found once per profile */
    CU_ASSERT_EQUAL(tgt_ops("CreateItem"), 1);   /* every link in one request */
    wl_links(w.tgt, &after);

    char *inbox = wl_folder_eid(&w.c.tgt_folders, "Inbox");
    char *cal = wl_folder_eid(&w.c.tgt_folders, "Calendar");
    CU_ASSERT_PTR_NOT_NULL_FATAL(inbox);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cal);
    const mapi_item *ti = wl_by_subject(&after, "Inbox"), *si = wl_by_subject(&src, "Inbox");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ti);
    CU_ASSERT_STRING_EQUAL(wl_val(ti, 0x684C), inbox);        /* names the target's Inbox */
    CU_ASSERT_STRING_EQUAL(wl_val(ti, 0x684D), inbox);        /* RecordKey follows it */
    CU_ASSERT_STRING_NOT_EQUAL(wl_val(si, 0x684C), inbox);
    mapi_eid ise = wl_decode(wl_val(ti, 0x684E));   /* the store: the target mailbox (its DN) */
    CU_ASSERT_EQUAL(ise.kind, MAPI_EID_STORE);
    CU_ASSERT_TRUE(ise.mailbox_dn && target_dn_of(g_mbx_src) &&
                   strcasecmp(ise.mailbox_dn, target_dn_of(g_mbx_src)) == 0);
    mapi_eid_clear(&ise);
    const mapi_item *tc = wl_by_subject(&after, "Calendar");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tc);
    CU_ASSERT_STRING_EQUAL(wl_val(tc, 0x684C), cal);
    CU_ASSERT_EQUAL(wl_count(&after, "Unread mail"), 0);      /* search folder: not processed */
    CU_ASSERT_EQUAL(wl_count(&after, "Source only"), 0);      /* no target folder */
    CU_ASSERT_EQUAL(wl_count(&after, "PST folder"), 1);
    CU_ASSERT_TRUE(wl_same(wl_val(wl_by_subject(&after, "PST folder"), 0x684C),
                           wl_val(wl_by_subject(&src, "PST folder"), 0x684C)));
    /* the target's own link is untouched */
    const mapi_item *own_b = wl_by_subject(&before, "Target own favorite");
    const mapi_item *own_a = wl_by_subject(&after, "Target own favorite");
    CU_ASSERT_PTR_NOT_NULL_FATAL(own_a);
    for (uint16_t tag = 0x6842; tag <= 0x6854; tag++)
        CU_ASSERT_TRUE(wl_same(wl_val(own_a, tag), wl_val(own_b, tag)));
    /* order and groups survive: ordinal, section, type, group ids unchanged */
    int copied = 0;
    for (size_t i = 0; i < src.n; i++) {
        const mapi_item *t = wl_by_subject(&after, src.v[i].subject);
        if (!t || strcmp(src.v[i].subject, "Shortcut to Inbox") == 0)
            continue;
        copied++;
        static const uint16_t same[] = {0x684B, 0x6852, 0x6849, 0x6842, 0x6850, 0x6851, 0x6853,
                                        0x684F};
        for (size_t k = 0; k < sizeof same / sizeof same[0]; k++)
            CU_ASSERT_TRUE(wl_same(wl_val(t, same[k]), wl_val(&src.v[i], same[k])));
    }
    CU_ASSERT_EQUAL(copied, 2 + (int)cal_links);
    const mapi_item *hdr = NULL;
    for (size_t i = 0; i < after.n; i++)
        if (wl_same(wl_val(&after.v[i], 0x6849), "4"))
            hdr = &after.v[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(hdr);
    CU_ASSERT_TRUE(wl_same(wl_val(tc, 0x6850), wl_val(hdr, 0x6842)));   /* still in its group */
    /* the shared calendar: owner and store in target terms */
    const mapi_item *sh = NULL, *un = NULL;
    for (size_t i = 0; i < after.n; i++)
        if (wl_same(wl_val(&after.v[i], 0x6849), "2")) {
            if (strcmp(after.v[i].subject, "Not migrated - Calendar") == 0)
                un = &after.v[i];
            else
                sh = &after.v[i];
        }
    CU_ASSERT_PTR_NOT_NULL_FATAL(sh);
    mapi_eid ab = wl_decode(wl_val(sh, 0x6854)), se = wl_decode(wl_val(sh, 0x684E));
    CU_ASSERT_EQUAL(ab.kind, MAPI_EID_ADDRBOOK);
    CU_ASSERT_TRUE(ab.x500dn && strcasecmp(ab.x500dn, g_wl_owner_tdn) == 0);
    CU_ASSERT_EQUAL(se.kind, MAPI_EID_STORE);
    CU_ASSERT_TRUE(se.mailbox_dn && strcasecmp(se.mailbox_dn, g_wl_owner_tdn) == 0);
    CU_ASSERT_TRUE(wl_same(wl_val(sh, 0x6850), wl_val(hdr, 0x6842)));
    mapi_eid_clear(&ab);
    mapi_eid_clear(&se);
    if (g_wl_unm_dn[0]) {   /* not migrated owner: kept as it is */
        CU_ASSERT_PTR_NOT_NULL_FATAL(un);
        CU_ASSERT_TRUE(wl_same(wl_val(un, 0x6854),
                               wl_val(wl_by_subject(&src, "Not migrated - Calendar"), 0x6854)));
    }

    /* second run: nothing to write */
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_FAVORITES, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_CALENDAR, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_ops("CreateItem") + tgt_ops("UpdateItem") + tgt_ops("DeleteItem"), 0);
    wl_links(w.tgt, &again);
    char *t1 = wl_text(&after), *t2 = wl_text(&again);
    CU_ASSERT_STRING_EQUAL(t1, t2);

    /* Shortcuts: links outside the numbered sections */
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_SHORTCUTS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.seen, 1);
    CU_ASSERT_EQUAL(st.changed, 1);
    mapi_items_clear(&again);
    wl_links(w.tgt, &again);
    CU_ASSERT_TRUE(wl_same(wl_val(wl_by_subject(&again, "Shortcut to Inbox"), 0x684C), inbox));

    /* Contacts: its one link names the target's Contacts; Tasks has none */
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_CONTACTS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.seen, 1);
    CU_ASSERT_EQUAL(st.changed, 1);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_TASKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.seen, 0);
    CU_ASSERT_EQUAL(st.changed, 0);
    mapi_items_clear(&again);
    wl_links(w.tgt, &again);
    char *con = wl_folder_eid(&w.c.tgt_folders, "Contacts");
    CU_ASSERT_TRUE(con && wl_same(wl_val(wl_by_subject(&again, "Contacts"), 0x684C), con));
    free(con);

    /* rollback: exactly the state before */
    const cfg_feature fs[] = {CFG_F_FAVORITES, CFG_F_CALENDAR, CFG_F_SHORTCUTS, CFG_F_CONTACTS,
                              CFG_F_TASKS};
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
        CU_ASSERT_EQUAL(cpuu_feature_ops(fs[i])->restore(&w.c, &e), SR_OK);
    wl_links(w.tgt, &back);
    char *t3 = wl_text(&back);
    CU_ASSERT_STRING_EQUAL(t3, t0);
    /* a feature that never ran has no backup */
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_JOURNAL)->restore(&w.c, &e), SR_E_NOTFOUND);
    /* a damaged backup is refused, naming the file */
    char *bad = sr_asprintf("%s/wl-bad", g_dir);
    w.c.backup_dir = bad;
    CU_ASSERT_EQUAL(cpuu_backup_put(&w.c, "Favorites", "target.txt", "garbage\n", 8, &e), SR_OK);
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_FAVORITES)->restore(&w.c, &e), SR_E_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "Favorites/target.txt:1"));
    w.c.backup_dir = w.backup;
    free(bad);

    free(t0);
    free(t1);
    free(t2);
    free(t3);
    free(inbox);
    free(cal);
    mapi_items_clear(&src);
    mapi_items_clear(&before);
    mapi_items_clear(&after);
    mapi_items_clear(&again);
    mapi_items_clear(&back);
    world_close(&w);
}

/* ---- SearchFolders ---- */

/* Search folders of a session: the GetFolder answer (caller frees) and the
 * SearchFolder elements in *v (heap array). */
static xmlDocPtr sf_list(mapi_session *s, xmlNodePtr **v, size_t *n)
{
    mapi_ews_target t = mapi_session_target(s);
    sr_err e;
    *v = NULL;
    *n = 0;
    mapi_ews_call f = {.idempotent = 1, .req = ewsf_req_find_searchfolders(&t, 1000, &e)};
    mapi_folders found = {0};
    xmlDocPtr out = NULL;
    if (mapi_session_run(s, &f, 1, &e) == SR_OK &&
        mapi_ews_parse_findfolder(f.resp_op, &found, &e) == SR_OK && found.n) {
        const char **ids = calloc(found.n, sizeof *ids);
        for (size_t i = 0; i < found.n; i++)
            ids[i] = found.v[i].id;
        mapi_ews_call g = {.idempotent = 1, .req = ewsf_req_getfolders(&t, ids, found.n, NULL, 1, &e)};
        unsigned bad;
        if (mapi_session_run(s, &g, 1, &e) == SR_OK &&
            ewsf_parse_folders(g.resp_op, v, n, &bad, &e) == SR_OK)
            out = g.resp;
        else
            xmlFreeDoc(g.resp);
        xmlFreeDoc(g.req);
        free(ids);
    } else {
        out = xmlNewDoc(BAD_CAST "1.0");   /* none */
    }
    mapi_folders_clear(&found);
    xmlFreeDoc(f.req);
    xmlFreeDoc(f.resp);
    return out;
}

static char *sf_text(mapi_session *s)
{
    xmlNodePtr *v;
    size_t n;
    xmlDocPtr d = sf_list(s, &v, &n);
    char *out = sr_strdup("");
    for (size_t i = 0; d && i < n; i++) {
        char *c = ewsf_canon(v[i]);
        char *x = sr_asprintf("%s%s\n", out, c ? c : "");
        free(c);
        free(out);
        out = x;
    }
    free(v);
    xmlFreeDoc(d);
    return out;
}

static xmlNodePtr sf_named(xmlNodePtr *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        char *dn = mapi_xml_child_text(v[i], EWSF_NS_T, "DisplayName");
        int hit = dn && strcmp(dn, name) == 0;
        free(dn);
        if (hit)
            return v[i];
    }
    return NULL;
}

/* The target's id of a distinguished folder (heap). */
static char *dist_id(mapi_session *s, const char *name)
{
    mapi_ews_target t = mapi_session_target(s);
    sr_err e;
    const char *dist[] = {name, NULL};
    mapi_ews_call g = {.idempotent = 1, .req = ewsf_req_getfolders(&t, NULL, 0, dist, 0, &e)};
    xmlNodePtr *v = NULL;
    size_t n = 0;
    unsigned bad;
    char *id = NULL;
    if (mapi_session_run(s, &g, 1, &e) == SR_OK &&
        ewsf_parse_folders(g.resp_op, &v, &n, &bad, &e) == SR_OK && n == 1)
        id = mapi_xml_attr(mapi_xml_child(v[0], EWSF_NS_T, "FolderId"), "Id");
    free(v);
    xmlFreeDoc(g.req);
    xmlFreeDoc(g.resp);
    return id;
}

/* Parameters from XML text (t: bound), for the target's own search folders. */
static xmlDocPtr sf_params(const char *restriction, const char *bases, const char *trav)
{
    char *x = sr_asprintf("<t:SearchParameters xmlns:t='%s' Traversal='%s'><t:Restriction>%s"
                          "</t:Restriction><t:BaseFolderIds>%s</t:BaseFolderIds>"
                          "</t:SearchParameters>", EWSF_NS_T, trav, restriction, bases);
    sr_err e;
    xmlDocPtr d = mapi_xml_parse(x, strlen(x), "params", &e);
    free(x);
    return d;
}

static long tgt_ops_sum(void)
{
    return tgt_ops("CreateFolder") + tgt_ops("UpdateFolder") + tgt_ops("DeleteFolder");
}

static void test_searchfolders(void)
{
    world w;
    feature_stats st;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    /* builders against the schema */
    mapi_ews_target vt = {.mailbox = "room@x.test"};
    const char *ids[] = {"AAMk=", "AAMl="};
    const char *dist[] = {"inbox", "sentitems", NULL};
    xmlDocPtr pd = sf_params("<t:Exists><t:FieldURI FieldURI='item:Subject'/></t:Exists>",
                             "<t:DistinguishedFolderId Id='inbox'/>", "Deep");
    CU_ASSERT_PTR_NOT_NULL_FATAL(pd);
    xmlNodePtr pp[2] = {xmlDocGetRootElement(pd), xmlDocGetRootElement(pd)};
    const char *names[] = {"A", "B <&>"}, *classes[] = {"IPF.Note", NULL};
    validate(ewsf_req_find_searchfolders(&vt, 10, &e), "FindFolder searchfolders");
    validate(ewsf_req_getfolders(&vt, ids, 2, dist, 1, &e), "GetFolder");
    validate(ewsf_req_create_searchfolders(&vt, names, classes, pp, 2, &e), "CreateFolder");
    validate(ewsf_req_set_searchparams(&vt, ids, pp, 2, &e), "UpdateFolder");
    validate(ewsf_req_deletefolders(&vt, ids, 2, &e), "DeleteFolder");
    xmlFreeDoc(pd);

    /* the target already has its own search folder and an outdated copy */
    char *tinbox = dist_id(w.tgt, "inbox"), *tsent = dist_id(w.tgt, "sentitems");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tinbox);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tsent);
    char *b = sr_asprintf("<t:FolderId Id='%s'/>", tinbox);
    xmlDocPtr own = sf_params("<t:IsEqualTo><t:FieldURI FieldURI='message:IsRead'/>"
                              "<t:FieldURIOrConstant><t:Constant Value='true'/></t:FieldURIOrConstant>"
                              "</t:IsEqualTo>", b, "Shallow");
    free(b);
    xmlNodePtr op[2] = {xmlDocGetRootElement(own), xmlDocGetRootElement(own)};
    const char *on[] = {"Target own search", "Unread mail"}, *oc[] = {"IPF.Note", "IPF.Note"};
    mapi_ews_target tt = mapi_session_target(w.tgt);
    mapi_ews_call cc = {.req = ewsf_req_create_searchfolders(&tt, on, oc, op, 2, &e)};
    CU_ASSERT_EQUAL_FATAL(mapi_session_run(w.tgt, &cc, 1, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(mapi_ews_parse_status(cc.resp_op, &e), SR_OK);
    xmlFreeDoc(cc.req);
    xmlFreeDoc(cc.resp);
    xmlFreeDoc(own);
    char *before = sf_text(w.tgt);
    world_close(&w);

    /* dry run: nothing written */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_SEARCHFOLDERS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 2);
    CU_ASSERT_EQUAL(tgt_ops_sum(), 0);
    char *now = sf_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    /* update */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    xmlNodePtr *src = NULL, *got = NULL;
    size_t nsrc = 0, ngot = 0;
    xmlDocPtr sd = sf_list(w.src, &src, &nsrc);
    CU_ASSERT_EQUAL_FATAL(nsrc, 2);
    reset_stats();
    CU_ASSERT_EQUAL_FATAL(run_feature(&w, CFG_F_SEARCHFOLDERS, &st, &e), SR_OK);
    long rt = tgt_round_trips();
    printf("\n    SearchFolders update: target round trips %ld, unresolved %u\n", rt, st.unresolved);
    CU_ASSERT_EQUAL(st.seen, 2);
    CU_ASSERT_EQUAL(st.changed, 2);
    CU_ASSERT_EQUAL(st.unsupported, 0);
    CU_ASSERT_EQUAL(tgt_ops("CreateFolder"), 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateFolder"), 1);
    /* batched: round 1 FindFolder + GetFolder of the distinguished folders,
     * round 2 one GetFolder of every search folder, round 3 one CreateFolder
     * and one UpdateFolder (the simulator may serialise concurrent calls),
     * and the target-identity lookup of the plan (GetUserSettings) */
    CU_ASSERT_EQUAL(tgt_ops("FindFolder"), 1);
    CU_ASSERT_EQUAL(tgt_ops("GetFolder"), 2);
    CU_ASSERT_TRUE(rt <= 6);
    xmlDocPtr gdoc = sf_list(w.tgt, &got, &ngot);
    CU_ASSERT_EQUAL(ngot, 3);
    /* "Unread mail": the source's restriction and traversal, the target's inbox */
    xmlNodePtr su = sf_named(src, nsrc, "Unread mail"), tu = sf_named(got, ngot, "Unread mail");
    CU_ASSERT_PTR_NOT_NULL_FATAL(su);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tu);
    xmlNodePtr sp = mapi_xml_child(su, EWSF_NS_T, "SearchParameters");
    xmlNodePtr tp = mapi_xml_child(tu, EWSF_NS_T, "SearchParameters");
    char *a = ewsf_canon(mapi_xml_child(sp, EWSF_NS_T, "Restriction"));
    char *c = ewsf_canon(mapi_xml_child(tp, EWSF_NS_T, "Restriction"));
    CU_ASSERT_STRING_EQUAL(a, c);
    free(a);
    free(c);
    char *trav = mapi_xml_attr(tp, "Traversal");
    CU_ASSERT_STRING_EQUAL(trav, "Deep");
    free(trav);
    char *bid = mapi_xml_attr(mapi_xml_child(mapi_xml_child(tp, EWSF_NS_T, "BaseFolderIds"),
                                             EWSF_NS_T, "FolderId"), "Id");
    CU_ASSERT_STRING_EQUAL(bid, tinbox);
    free(bid);
    /* "Mail from the team": recipients mapped, bases Inbox/Projects and Sent Items */
    xmlNodePtr sm = sf_named(src, nsrc, "Mail from the team");
    xmlNodePtr tm = sf_named(got, ngot, "Mail from the team");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sm);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tm);
    xmlNodePtr so = mapi_xml_child(mapi_xml_child(mapi_xml_child(sm, EWSF_NS_T, "SearchParameters"),
                                                  EWSF_NS_T, "Restriction"), EWSF_NS_T, "Or");
    xmlNodePtr to = mapi_xml_child(mapi_xml_child(mapi_xml_child(tm, EWSF_NS_T, "SearchParameters"),
                                                  EWSF_NS_T, "Restriction"), EWSF_NS_T, "Or");
    unsigned nconst = 0, kept = 0;
    for (xmlNodePtr x = mapi_xml_child(so, NULL, NULL), y = mapi_xml_child(to, NULL, NULL); x && y;
         x = mapi_xml_next(x, NULL, NULL), y = mapi_xml_next(y, NULL, NULL)) {
        char *sv = mapi_xml_attr(mapi_xml_child(mapi_xml_child(x, EWSF_NS_T, "FieldURIOrConstant"),
                                                EWSF_NS_T, "Constant"), "Value");
        char *tv = mapi_xml_attr(mapi_xml_child(mapi_xml_child(y, EWSF_NS_T, "FieldURIOrConstant"),
                                                EWSF_NS_T, "Constant"), "Value");
        CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
        CU_ASSERT_PTR_NOT_NULL_FATAL(tv);
        nconst++;
        const rcpt *r = NULL;
        for (int i = 0; i < g_nrc && !r; i++)
            if (!strcasecmp(g_rc[i].src, sv) || !strcasecmp(g_rc[i].src_dn, sv))
                r = &g_rc[i];
        CU_ASSERT_PTR_NOT_NULL(r);
        char *tag = mapi_xml_attr(mapi_xml_child(y, EWSF_NS_T, "ExtendedFieldURI"), "PropertyTag");
        if (r && r->tgt[0] && sv[0] == '/') {
            /* the target's DN, or its SMTP address on the sender's SMTP property */
            CU_ASSERT_TRUE(strncmp(tv, "/o=TargetOrg/", 13) == 0 ||
                           (strcasecmp(tv, r->tgt) == 0 && tag && !strcmp(tag, "0x5D01")));
        } else if (r && r->tgt[0]) {
            CU_ASSERT_EQUAL(strcasecmp(tv, r->tgt), 0);
        } else {
            CU_ASSERT_STRING_EQUAL(tv, sv);
        }
        kept += r && !r->tgt[0];
        free(tag);
        free(sv);
        free(tv);
    }
    CU_ASSERT_EQUAL(nconst, 3);
    CU_ASSERT_EQUAL(st.unresolved, kept);
    const mapi_folder *proj = folder_named(&w.c.tgt_folders, "Projects");
    CU_ASSERT_PTR_NOT_NULL_FATAL(proj);
    int hit_proj = 0, hit_sent = 0, nb = 0;
    for (xmlNodePtr f = mapi_xml_child(mapi_xml_child(mapi_xml_child(tm, EWSF_NS_T, "SearchParameters"),
                                                      EWSF_NS_T, "BaseFolderIds"), NULL, NULL);
         f; f = mapi_xml_next(f, NULL, NULL), nb++) {
        char *id = mapi_xml_attr(f, "Id");
        hit_proj |= id && !strcmp(id, proj->id);
        hit_sent |= id && !strcmp(id, tsent);
        free(id);
    }
    CU_ASSERT_EQUAL(nb, 2);
    CU_ASSERT_TRUE(hit_proj && hit_sent);
    CU_ASSERT_PTR_NOT_NULL(sf_named(got, ngot, "Target own search"));
    free(got);
    xmlFreeDoc(gdoc);
    char *after = sf_text(w.tgt);
    world_close(&w);

    /* second run: nothing to write; a copy changed by hand is set back */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_SEARCHFOLDERS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_ops_sum(), 0);
    now = sf_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);
    gdoc = sf_list(w.tgt, &got, &ngot);
    xmlNodePtr victim = sf_named(got, ngot, "Mail from the team");
    CU_ASSERT_PTR_NOT_NULL_FATAL(victim);
    char *vid = mapi_xml_attr(mapi_xml_child(victim, EWSF_NS_T, "FolderId"), "Id");
    xmlNodePtr vp = mapi_xml_child(victim, EWSF_NS_T, "SearchParameters");
    xmlSetProp(vp, BAD_CAST "Traversal", BAD_CAST "Deep");
    const char *vids[] = {vid};
    tt = mapi_session_target(w.tgt);
    mapi_ews_call uc = {.req = ewsf_req_set_searchparams(&tt, vids, &vp, 1, &e)};
    CU_ASSERT_EQUAL(mapi_session_run(w.tgt, &uc, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_ews_parse_status(uc.resp_op, &e), SR_OK);
    xmlFreeDoc(uc.req);
    xmlFreeDoc(uc.resp);
    free(vid);
    free(got);
    xmlFreeDoc(gdoc);
    now = sf_text(w.tgt);
    CU_ASSERT_STRING_NOT_EQUAL(now, after);
    free(now);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_SEARCHFOLDERS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateFolder"), 1);
    now = sf_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);

    /* rollback: the target's search folders exactly as before; twice is a no-op */
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_SEARCHFOLDERS)->restore(&w.c, &e), SR_OK);
    now = sf_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_SEARCHFOLDERS)->restore(&w.c, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops_sum(), 0);
    world_close(&w);

    free(src);
    xmlFreeDoc(sd);
    free(before);
    free(after);
    free(tinbox);
    free(tsent);
}

/* ---- ContactMembers ---- */
static const char *const cm_fields[] = {"item:ItemClass", "contacts:DisplayName",
                                        "contacts:EmailAddresses", "distributionlist:Members", NULL};

/* Every item of every contact folder of the target, copied under one root
 * (folder order, then the folder's order). */
static xmlDocPtr cm_items(world *w)
{
    xmlDocPtr all = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewDocNode(all, NULL, BAD_CAST "All", NULL);
    xmlDocSetRootElement(all, root);
    mapi_ews_target t = mapi_session_target(w->tgt);
    sr_err e;
    for (size_t f = 0; f < w->c.tgt_folders.n; f++) {
        const mapi_folder *mf = &w->c.tgt_folders.v[f];
        if (!mf->folder_class || strncmp(mf->folder_class, "IPF.Contact", 11))
            continue;
        mapi_ews_call fc = {.idempotent = 1, .req = ewsf_req_finditems(&t, mf->id, 0, 1000, &e)};
        char **ids = NULL;
        size_t n = 0;
        int last;
        CU_ASSERT_EQUAL(mapi_session_run(w->tgt, &fc, 1, &e), SR_OK);
        CU_ASSERT_EQUAL(ewsf_parse_itemids(fc.resp_op, &ids, &n, &last, &e), SR_OK);
        xmlFreeDoc(fc.req);
        xmlFreeDoc(fc.resp);
        if (!n)
            continue;
        mapi_ews_call gc = {.idempotent = 1,
                            .req = ewsf_req_getitems(&t, (const char *const *)ids, n, cm_fields, &e)};
        xmlNodePtr *v = NULL;
        size_t k = 0;
        unsigned bad;
        CU_ASSERT_EQUAL(mapi_session_run(w->tgt, &gc, 1, &e), SR_OK);
        CU_ASSERT_EQUAL(ewsf_parse_itemlist(gc.resp_op, &v, &k, &bad, &e), SR_OK);
        for (size_t i = 0; i < k; i++)
            if (v[i])
                xmlAddChild(root, xmlDocCopyNode(v[i], all, 1));
        free(v);
        xmlFreeDoc(gc.req);
        xmlFreeDoc(gc.resp);
        for (size_t i = 0; i < n; i++)
            free(ids[i]);
        free(ids);
    }
    xmlReconciliateNs(all, root);
    return all;
}

/* Canonical text of what the feature may change (ChangeKeys left out). */
static char *cm_text(world *w)
{
    xmlDocPtr d = cm_items(w);
    char *out = sr_strdup("");
    for (xmlNodePtr it = mapi_xml_child(xmlDocGetRootElement(d), NULL, NULL); it;
         it = mapi_xml_next(it, NULL, NULL)) {
        char *a = ewsf_canon(mapi_xml_child(it, EWSF_NS_T, "DisplayName"));
        char *b = ewsf_canon(mapi_xml_child(it, EWSF_NS_T, "EmailAddresses"));
        char *c = ewsf_canon(mapi_xml_child(it, EWSF_NS_T, "Members"));
        char *x = sr_asprintf("%s%s|%s|%s\n", out, a, b, c);
        free(a);
        free(b);
        free(c);
        free(out);
        out = x;
    }
    xmlFreeDoc(d);
    return out;
}

static const rcpt *rcpt_by_any(const char *v)
{
    for (int i = 0; v && i < g_nrc; i++)
        if (!strcasecmp(g_rc[i].src, v) || !strcasecmp(g_rc[i].src_dn, v))
            return &g_rc[i];
    return NULL;
}

/* Compare one address before/after; counts the kept source references. */
static void cm_check(const char *was, const char *now, unsigned *kept, unsigned *mapped)
{
    const rcpt *r = rcpt_by_any(was);
    if (r && r->tgt[0]) {
        CU_ASSERT_TRUE(now && (strncmp(now, "/o=TargetOrg/", 13) == 0 || !strcasecmp(now, r->tgt)));
        (*mapped)++;
    } else {
        CU_ASSERT_STRING_EQUAL(now, was);
        *kept += r != NULL;
    }
}

static void test_contactmembers(void)
{
    world w;
    feature_stats st;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    const char *ids[] = {"AAMk=", "AAMl="};
    mapi_ews_target vt = {.mailbox = "room@x.test"};
    validate(ewsf_req_finditems(&vt, "AAMk=", 0, 1000, &e), "FindItem");
    validate(ewsf_req_getitems(&vt, ids, 2, cm_fields, &e), "GetItem");
    static const char upd[] = "<t:Updates xmlns:t='" EWSF_NS_T "'><t:DeleteItemField>"
                              "<t:FieldURI FieldURI='distributionlist:Members'/></t:DeleteItemField>"
                              "<t:SetItemField><t:IndexedFieldURI FieldURI='contacts:EmailAddress' "
                              "FieldIndex='EmailAddress1'/><t:Contact><t:EmailAddresses>"
                              "<t:Entry Key='EmailAddress1'>a@x.test</t:Entry></t:EmailAddresses>"
                              "</t:Contact></t:SetItemField></t:Updates>";
    xmlDocPtr ud = mapi_xml_parse(upd, sizeof upd - 1, "updates", &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ud);
    xmlNodePtr uu[2] = {xmlDocGetRootElement(ud), xmlDocGetRootElement(ud)};
    validate(ewsf_req_updateitems(&vt, ids, uu, 2, &e), "UpdateItem");
    xmlFreeDoc(ud);
    xmlDocPtr bd = cm_items(&w);
    char *before = cm_text(&w);
    size_t nfold = 0;
    for (size_t f = 0; f < w.c.tgt_folders.n; f++)
        nfold += w.c.tgt_folders.v[f].folder_class &&
                 !strncmp(w.c.tgt_folders.v[f].folder_class, "IPF.Contact", 11);
    CU_ASSERT_TRUE(nfold >= 2);
    world_close(&w);

    /* dry run */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_CONTACTMEMBERS, &st, &e), SR_OK);
    CU_ASSERT_TRUE(st.changed >= 2);
    CU_ASSERT_EQUAL(tgt_ops("UpdateItem"), 0);
    char *now = cm_text(&w);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    world_close(&w);

    /* update: one FindItem per contact folder, one GetItem, one UpdateItem */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL_FATAL(run_feature(&w, CFG_F_CONTACTMEMBERS, &st, &e), SR_OK);
    printf("\n    ContactMembers update: target round trips %ld, seen %u, changed %u, "
           "unresolved %u\n", tgt_round_trips(), st.seen, st.changed, st.unresolved);
    CU_ASSERT_EQUAL(tgt_ops("FindItem"), (long)nfold);
    CU_ASSERT_EQUAL(tgt_ops("GetItem"), 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateItem"), 1);
    xmlDocPtr ad = cm_items(&w);
    unsigned kept = 0, mapped = 0, ndl = 0;
    xmlNodePtr b = mapi_xml_child(xmlDocGetRootElement(bd), NULL, NULL);
    xmlNodePtr a = mapi_xml_child(xmlDocGetRootElement(ad), NULL, NULL);
    for (; a && b; a = mapi_xml_next(a, NULL, NULL), b = mapi_xml_next(b, NULL, NULL)) {
        xmlNodePtr mb = mapi_xml_child(mapi_xml_child(b, EWSF_NS_T, "Members"), NULL, NULL);
        xmlNodePtr ma = mapi_xml_child(mapi_xml_child(a, EWSF_NS_T, "Members"), NULL, NULL);
        ndl += mb != NULL;
        for (; mb && ma; mb = mapi_xml_next(mb, NULL, NULL), ma = mapi_xml_next(ma, NULL, NULL)) {
            char *was = mapi_xml_child_text(mapi_xml_child(mb, EWSF_NS_T, "Mailbox"), EWSF_NS_T,
                                            "EmailAddress");
            char *is = mapi_xml_child_text(mapi_xml_child(ma, EWSF_NS_T, "Mailbox"), EWSF_NS_T,
                                           "EmailAddress");
            char *ka = mapi_xml_attr(ma, "Key"), *kb = mapi_xml_attr(mb, "Key");
            CU_ASSERT_STRING_EQUAL(ka, kb);   /* member keys kept */
            cm_check(was, is, &kept, &mapped);
            free(was);
            free(is);
            free(ka);
            free(kb);
        }
        xmlNodePtr eb = mapi_xml_child(mapi_xml_child(b, EWSF_NS_T, "EmailAddresses"), NULL, NULL);
        xmlNodePtr ea = mapi_xml_child(mapi_xml_child(a, EWSF_NS_T, "EmailAddresses"), NULL, NULL);
        for (; eb && ea; eb = mapi_xml_next(eb, NULL, NULL), ea = mapi_xml_next(ea, NULL, NULL)) {
            xmlChar *was = xmlNodeGetContent(eb), *is = xmlNodeGetContent(ea);
            if (was && was[0] == '/')
                cm_check((char *)was, (char *)is, &kept, &mapped);
            else   /* SMTP entries of contacts are the user's: kept */
                CU_ASSERT_STRING_EQUAL((char *)is, (char *)was);
            xmlFree(was);
            xmlFree(is);
        }
    }
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_PTR_NULL(b);
    CU_ASSERT_TRUE(ndl >= 2);
    CU_ASSERT_TRUE(mapped >= 2);
    CU_ASSERT_EQUAL(st.unresolved, kept);
    xmlFreeDoc(ad);
    char *after = cm_text(&w);
    world_close(&w);

    /* second run: nothing to write */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_CONTACTMEMBERS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_ops("UpdateItem"), 0);
    /* the first run's target EX addresses are the target organisation's,
     * which the source directory does not know: not unresolved */
    CU_ASSERT_EQUAL(st.unresolved, kept);
    now = cm_text(&w);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);
    /* rollback: members and entries exactly as before; again: nothing */
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_CONTACTMEMBERS)->restore(&w.c, &e), SR_OK);
    now = cm_text(&w);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_CONTACTMEMBERS)->restore(&w.c, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("UpdateItem"), 0);
    world_close(&w);
    xmlFreeDoc(bd);
    free(before);
    free(after);
}

/* ---- Booking ---- */
static xmlNodePtr bk_entry(xmlNodePtr dict, const char *key)
{
    for (xmlNodePtr e = mapi_xml_child(dict, EWSF_NS_T, "DictionaryEntry"); e;
         e = mapi_xml_next(e, EWSF_NS_T, "DictionaryEntry")) {
        char *k = mapi_xml_child_text(mapi_xml_child(e, EWSF_NS_T, "DictionaryKey"), EWSF_NS_T, "Value");
        int hit = k && !strcmp(k, key);
        free(k);
        if (hit)
            return e;
    }
    return NULL;
}

/* The Calendar dictionary of a session (the answer in *doc; NULL when absent). */
static xmlNodePtr bk_dict(mapi_session *s, xmlDocPtr *doc)
{
    mapi_ews_target t = mapi_session_target(s);
    sr_err e;
    mapi_ews_call c = {.idempotent = 1, .req = ewsf_req_getconfig_dict(&t, "calendar", "Calendar", &e)};
    CU_ASSERT_EQUAL(mapi_session_run(s, &c, 1, &e), SR_OK);
    xmlFreeDoc(c.req);
    *doc = c.resp;
    xmlNodePtr msg = mapi_xml_child(mapi_xml_child(c.resp_op, EWSF_NS_M, "ResponseMessages"), NULL, NULL);
    return mapi_xml_child(mapi_xml_child(msg, EWSF_NS_M, "UserConfiguration"), EWSF_NS_T, "Dictionary");
}

static char *bk_text(mapi_session *s)
{
    xmlDocPtr d;
    xmlNodePtr dict = bk_dict(s, &d);
    char *t = dict ? ewsf_canon(dict) : sr_strdup("(none)");
    xmlFreeDoc(d);
    return t;
}

static char *bk_value(xmlNodePtr dict, const char *key)
{
    return mapi_xml_child_text(mapi_xml_child(bk_entry(dict, key), EWSF_NS_T, "DictionaryValue"),
                               EWSF_NS_T, "Value");
}

static const char *tgt_dn_for_src_dn(const char *dn)
{
    for (int i = 0; i < g_nrc; i++)
        if (g_rc[i].src_dn[0] && !strcasecmp(g_rc[i].src_dn, dn))
            return g_rc[i].tgt[0] ? target_dn_of(g_rc[i].src) : NULL;
    return NULL;
}

static void test_booking(void)
{
    const rcpt *room = NULL;
    for (int i = 0; i < g_nrc && !room; i++)
        if (!strncmp(g_rc[i].src, "room-", 5) && g_rc[i].tgt[0])
            room = &g_rc[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(room);
    load_target_dns();
    char keep_src[128], keep_tgt[128];
    memcpy(keep_src, g_mbx_src, sizeof keep_src);
    memcpy(keep_tgt, g_mbx_tgt, sizeof keep_tgt);
    snprintf(g_mbx_src, sizeof g_mbx_src, "%s", room->src);
    snprintf(g_mbx_tgt, sizeof g_mbx_tgt, "%s", room->tgt);
    world w;
    feature_stats st;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    mapi_ews_target vt = {.mailbox = "room@x.test"};
    validate(ewsf_req_getconfig_dict(&vt, "calendar", "Calendar", &e), "GetUserConfiguration");
    xmlDocPtr sd;
    xmlNodePtr sdict = bk_dict(w.src, &sd);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sdict);
    validate(ewsf_req_setconfig_dict(&vt, "calendar", "Calendar", 0, sdict, &e),
             "UpdateUserConfiguration");
    char *before = bk_text(w.tgt);
    /* dry run */
    add_target_dns(&w);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_BOOKING, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateUserConfiguration"), 0);
    world_close(&w);

    /* order of writes: the second write (AutomateProcessing) fails → the
     * target has the new lists with processing still off */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    add_target_dns(&w);
    free(sim(&g_tgt, "/_sim/config?fail-nth=3&fail-status=500", 1));
    CU_ASSERT_NOT_EQUAL(run_feature(&w, CFG_F_BOOKING, &st, &e), SR_OK);
    free(sim(&g_tgt, "/_sim/config?reset=1", 1));
    xmlDocPtr hd;
    xmlNodePtr half = bk_dict(w.tgt, &hd);
    char *ap = bk_value(half, "AutomateProcessing");
    CU_ASSERT_STRING_EQUAL(ap, "0");
    free(ap);
    CU_ASSERT_PTR_NOT_NULL(bk_entry(half, "BookInPolicyLegacyDN"));
    xmlFreeDoc(hd);
    world_close(&w);

    /* Delegates then Booking, as the engine orders them */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    add_target_dns(&w);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_DELEGATES, &st, &e), SR_OK);
    reset_stats();
    CU_ASSERT_EQUAL_FATAL(run_feature(&w, CFG_F_BOOKING, &st, &e), SR_OK);
    printf("\n    Booking update: target round trips %ld, unresolved %u\n", tgt_round_trips(),
           st.unresolved);
    CU_ASSERT_EQUAL(tgt_ops("GetUserConfiguration"), 1);
    /* processing still off after the failed attempt: lists, then AutomateProcessing */
    CU_ASSERT_EQUAL(tgt_ops("UpdateUserConfiguration"), 2);
    xmlDocPtr td;
    xmlNodePtr tdict = bk_dict(w.tgt, &td);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tdict);
    unsigned nsrc = 0, unknown = 0, mapped = 0, kept = 0;
    for (xmlNodePtr se = mapi_xml_child(sdict, EWSF_NS_T, "DictionaryEntry"); se;
         se = mapi_xml_next(se, EWSF_NS_T, "DictionaryEntry"), nsrc++) {
        char *key = mapi_xml_child_text(mapi_xml_child(se, EWSF_NS_T, "DictionaryKey"), EWSF_NS_T, "Value");
        xmlNodePtr te = bk_entry(tdict, key);
        CU_ASSERT_PTR_NOT_NULL_FATAL(te);
        xmlNodePtr sv = mapi_xml_child(mapi_xml_child(se, EWSF_NS_T, "DictionaryValue"), EWSF_NS_T, "Value");
        xmlNodePtr tv = mapi_xml_child(mapi_xml_child(te, EWSF_NS_T, "DictionaryValue"), EWSF_NS_T, "Value");
        char *st1 = mapi_xml_child_text(mapi_xml_child(se, EWSF_NS_T, "DictionaryValue"), EWSF_NS_T, "Type");
        char *st2 = mapi_xml_child_text(mapi_xml_child(te, EWSF_NS_T, "DictionaryValue"), EWSF_NS_T, "Type");
        CU_ASSERT_STRING_EQUAL(st1, st2);
        for (; sv && tv; sv = mapi_xml_next(sv, EWSF_NS_T, "Value"), tv = mapi_xml_next(tv, EWSF_NS_T, "Value")) {
            xmlChar *a = xmlNodeGetContent(sv), *b = xmlNodeGetContent(tv);
            const char *want = (char *)a;
            if (a[0] == '/') {
                const char *tdn = tgt_dn_for_src_dn((char *)a);
                int known = 0;
                for (int i = 0; i < g_nrc; i++)
                    known |= g_rc[i].src_dn[0] && !strcasecmp(g_rc[i].src_dn, (char *)a);
                if (tdn)
                    want = tdn, mapped++;
                else if (known)
                    kept++;
                else
                    unknown++;
            }
            CU_ASSERT_STRING_EQUAL((char *)b, want);
            xmlFree(a);
            xmlFree(b);
        }
        CU_ASSERT_PTR_NULL(sv);
        CU_ASSERT_PTR_NULL(tv);
        free(key);
        free(st1);
        free(st2);
    }
    unsigned ntgt = 0;
    for (xmlNodePtr te = mapi_xml_child(tdict, EWSF_NS_T, "DictionaryEntry"); te;
         te = mapi_xml_next(te, EWSF_NS_T, "DictionaryEntry"))
        ntgt++;
    CU_ASSERT_EQUAL(ntgt, nsrc);   /* the target's own keys gave way to the source's */
    CU_ASSERT_TRUE(mapped >= 2 && kept >= 1 && unknown >= 2);
    CU_ASSERT_EQUAL(st.unresolved, unknown);
    /* resource delegates agree with the delegates the Delegates feature wrote */
    ewsf_delegates dl = {0};
    free(tgt_delegates_text(&w, &dl));
    xmlNodePtr rd = mapi_xml_child(mapi_xml_child(bk_entry(tdict, "ResourceDelegates"), EWSF_NS_T,
                                                  "DictionaryValue"), EWSF_NS_T, "Value");
    unsigned agree = 0;
    for (; rd; rd = mapi_xml_next(rd, EWSF_NS_T, "Value")) {
        xmlChar *dn = xmlNodeGetContent(rd);
        const char *smtp = NULL;
        for (int i = 0; i < g_ntdn && !smtp; i++)
            if (g_tdn[i][0] && !strcasecmp(g_tdn[i], (char *)dn))
                smtp = rcpt_by_src(g_tdn_src[i]) ? rcpt_by_src(g_tdn_src[i])->tgt : NULL;
        int found = 0;
        for (size_t i = 0; smtp && i < dl.n; i++)
            found |= dl.v[i].smtp && !strcasecmp(dl.v[i].smtp, smtp);
        if (smtp) {   /* a migrated resource delegate is a delegate of the target */
            CU_ASSERT_TRUE(found);
            agree++;
        }
        xmlFree(dn);
    }
    CU_ASSERT_TRUE(agree >= 1);
    ewsf_delegates_clear(&dl);
    xmlFreeDoc(td);
    char *after = bk_text(w.tgt);
    world_close(&w);

    /* second run: nothing written; rollback: byte-identical dictionary */
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    add_target_dns(&w);
    reset_stats();
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_BOOKING, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_ops("UpdateUserConfiguration") + tgt_ops("CreateUserConfiguration"), 0);
    char *now = bk_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, after);
    free(now);
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_BOOKING)->restore(&w.c, &e), SR_OK);
    now = bk_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, before);
    free(now);
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_BOOKING)->restore(&w.c, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("UpdateUserConfiguration"), 0);
    CU_ASSERT_EQUAL(cpuu_feature_ops(CFG_F_DELEGATES)->restore(&w.c, &e), SR_OK);
    world_close(&w);
    xmlFreeDoc(sd);
    free(before);
    free(after);
    memcpy(g_mbx_src, keep_src, sizeof keep_src);
    memcpy(g_mbx_tgt, keep_tgt, sizeof keep_tgt);
}

/* ---- SOAP Autodiscover GetUserSettings ---- */
static xmlNodePtr gus_body_op(xmlDocPtr d)
{
    xmlNodePtr body = mapi_xml_child(xmlDocGetRootElement(d), MAPI_NS_SOAP, "Body");
    return mapi_xml_child(body, NULL, NULL);
}

static xmlDocPtr gus_example(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/protocol/autodiscover/%s", tu_shared(), name);
    size_t len = 0;
    sr_err e;
    char *x = sr_read_file(path, 1 << 20, &len, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(x);
    /* the published response example ends in "</s:Envelope" without its '>'
     * (a typo in Microsoft's page, kept verbatim in ../shared): close it */
    while (len && (x[len - 1] == '\n' || x[len - 1] == ' ' || x[len - 1] == '\r'))
        len--;
    char *y = len && x[len - 1] != '>' ? sr_asprintf("%.*s>", (int)len, x) : NULL;
    xmlDocPtr d = mapi_xml_parse(y ? y : x, y ? len + 1 : len, path, &e);
    free(x);
    free(y);
    if (!d)
        fprintf(stderr, "\n    %s\n", e.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

static void test_getusersettings(void)
{
    sr_err e;
    /* the documented answers */
    xmlDocPtr d = gus_example("soap-getusersettings-response-1.xml");
    mapi_ad_user u = {0};
    CU_ASSERT_EQUAL(mapi_ad_parse_getusersettings(gus_body_op(d), &u, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(u.code, SR_OK);
    CU_ASSERT_STRING_EQUAL(u.user_dn, "/o=microsoft/ou=Exchange Administrative Group "
                                      "(FYDIBOHF23SPDLT)/cn=Recipients/cn=mara");
    CU_ASSERT_STRING_EQUAL(u.display_name, "Mara Whitley");
    CU_ASSERT_STRING_EQUAL(u.ews_url, "https://mail.contoso.com/EWS/Exchange.asmx");
    CU_ASSERT_STRING_EQUAL(u.server, "mail.contoso.com");
    mapi_ad_user_clear(&u);
    xmlFreeDoc(d);
    d = gus_example("soap-getusersettings-response-redirectaddress-1.xml");
    CU_ASSERT_EQUAL(mapi_ad_parse_getusersettings(gus_body_op(d), &u, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(u.code, SR_E_NOTFOUND);
    CU_ASSERT_STRING_EQUAL(u.redirect, "elvin@mail.contoso.com");
    mapi_ad_user_clear(&u);
    xmlFreeDoc(d);
    char *url = mapi_ad_soap_url("https://mail.contoso.com:8443/EWS/Exchange.asmx");
    CU_ASSERT_STRING_EQUAL(url, "https://mail.contoso.com:8443/autodiscover/autodiscover.svc");
    free(url);
    CU_ASSERT_PTR_NULL(mapi_ad_soap_url("mail.contoso.com/EWS"));

    /* the simulator answers the documented request (an unknown user there) */
    mapi_net *net = net_for(&g_tgt);
    url = mapi_ad_soap_url(g_tgt.ews);
    mapi_ews_call c = {.url = url, .mailbox = "Autodiscover", .idempotent = 1,
                       .req = gus_example("soap-getusersettings-request-1.xml")};
    CU_ASSERT_EQUAL_FATAL(mapi_ews_run(net, &c, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(mapi_ad_parse_getusersettings(c.resp_op, &u, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(u.code, SR_E_NOTFOUND);
    CU_ASSERT_PTR_NOT_NULL(u.error && strstr(u.error, "InvalidUser"));
    mapi_ad_user_clear(&u);
    xmlFreeDoc(c.req);
    xmlFreeDoc(c.resp);
    /* our request's shape is the documented one's */
    const char *one[] = {"a@x.test"};
    xmlDocPtr ours = mapi_ad_req_getusersettings(url, one, 1, &e);
    xmlDocPtr doc = gus_example("soap-getusersettings-request-1.xml");
    static const char *const path[] = {"GetUserSettingsRequestMessage", "Request", "Users", "User",
                                       "Mailbox"};
    xmlNodePtr a = gus_body_op(ours), b = gus_body_op(doc);
    for (size_t i = 1; i < sizeof path / sizeof path[0]; i++) {
        CU_ASSERT_STRING_EQUAL((const char *)a->name, (const char *)b->name);
        CU_ASSERT_STRING_EQUAL((const char *)a->ns->href, (const char *)b->ns->href);
        a = mapi_xml_child(a, MAPI_NS_AD_SOAP, path[i]);
        b = mapi_xml_child(b, MAPI_NS_AD_SOAP, path[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    }
    xmlFreeDoc(ours);
    xmlFreeDoc(doc);
    CU_ASSERT_PTR_NULL(mapi_ad_req_getusersettings(url, one, 0, &e));

    /* 150 users: two requests, answers in order; target DNs as org.json says */
    load_target_dns();
    const char *addrs[150];
    char unknown[] = "nobody@tgt.test";
    size_t n = 0, want_known = 0;
    while (n < 150) {
        for (int i = 0; i < g_nrc && n < 150; i++)
            addrs[n++] = g_rc[i].tgt[0] ? g_rc[i].tgt : unknown;
    }
    mapi_ad_user *us = calloc(n, sizeof *us);
    reset_stats();
    /* as the recipient map sends them: requests of up to 100 users in one batch */
    mapi_ews_call gc[2] = { 0 };
    for (size_t g = 0; g < 2; g++) {
        size_t off = g * MAPI_AD_SOAP_MAX_USERS, k = g ? n - MAPI_AD_SOAP_MAX_USERS : MAPI_AD_SOAP_MAX_USERS;
        gc[g] = (mapi_ews_call){ .url = url, .mailbox = "Autodiscover", .anchor = g_mbx_tgt,
                                 .idempotent = 1 };
        gc[g].req = mapi_ad_req_getusersettings(url, addrs + off, k, &e);
        CU_ASSERT_PTR_NOT_NULL_FATAL(gc[g].req);
    }
    CU_ASSERT_EQUAL_FATAL(mapi_ews_run(net, gc, 2, &e), SR_OK);
    for (size_t g = 0; g < 2; g++) {
        size_t off = g * MAPI_AD_SOAP_MAX_USERS, k = g ? n - MAPI_AD_SOAP_MAX_USERS : MAPI_AD_SOAP_MAX_USERS;
        CU_ASSERT_EQUAL(mapi_ad_parse_getusersettings(gc[g].resp_op, us + off, k, &e), SR_OK);
        xmlFreeDoc(gc[g].req);
        xmlFreeDoc(gc[g].resp);
    }
    char *j = sim(&g_tgt, "/_sim/stats", 0);
    CU_ASSERT_EQUAL(json_num(j, "\"requests\":{", "Autodiscover"), 2);
    /* issue 13: the lookups are the processed mailbox's round trips (its
     * X-AnchorMailbox), not those of the first user looked up */
    char key[160];
    snprintf(key, sizeof key, "\"%s\"", g_mbx_tgt);
    CU_ASSERT_EQUAL(json_num(j, key, "requests"), 2);
    snprintf(key, sizeof key, "\"%s\"", addrs[0]);
    CU_ASSERT_TRUE(strcasecmp(addrs[0], g_mbx_tgt) == 0 || json_num(j, key, "requests") <= 0);
    free(j);
    for (size_t i = 0; i < n; i++) {
        if (addrs[i] == unknown) {
            CU_ASSERT_EQUAL(us[i].code, SR_E_NOTFOUND);
            mapi_ad_user_clear(&us[i]);
            continue;
        }
        const char *tdn = NULL;
        for (int k = 0; k < g_nrc && !tdn; k++)
            if (!strcasecmp(g_rc[k].tgt, addrs[i]))
                tdn = target_dn_of(g_rc[k].src);
        CU_ASSERT_EQUAL(us[i].code, SR_OK);
        CU_ASSERT_PTR_NOT_NULL(us[i].ews_url);
        if (tdn) {
            CU_ASSERT_STRING_EQUAL(us[i].user_dn, tdn);
            want_known++;
        }
        mapi_ad_user_clear(&us[i]);
    }
    CU_ASSERT_TRUE(want_known >= 10);
    free(us);
    free(url);
    mapi_net_free(net);
}

/* ---- RemoveJunkEmailMessages ---- */
/* The Inbox's rule messages as "id subject|TAG=value" lines; ids too when with_ids. */
static char *junk_text_ids(mapi_session *s, int with_ids)
{
    mapi_extprops want = {0};
    sr_err e;
    static const uint16_t tags[][2] = {{0x65EC, 0x001F}, {0x65EB, 0x001F}, {0x65E9, 0x0003},
                                       {0x65F3, 0x0003}, {0x0E9A, 0x0102}, {0x6101, 0x0003}};
    for (size_t i = 0; i < sizeof tags / sizeof tags[0]; i++)
        mapi_extprops_add_tag(&want, tags[i][0], tags[i][1], "", &e);
    mapi_ews_folder_ref inbox = {.distinguished = "inbox"};
    mapi_items l = {0};
    CU_ASSERT_EQUAL(mapi_session_find_fai(s, &inbox, "IPM.ExtendedRule.Message", &want, &l, &e), SR_OK);
    char *out = sr_strdup("");
    for (size_t i = 0; i < l.n; i++)
        for (size_t k = 0; k < l.v[i].props.n; k++) {
            const mapi_extprop *p = &l.v[i].props.v[k];
            char *x = sr_asprintf("%s%s %s|%04X=%s\n", out, with_ids && l.v[i].id ? l.v[i].id : "",
                                  l.v[i].subject ? l.v[i].subject : "", (unsigned)p->id,
                                  p->nvalues ? p->values[0] : "");
            free(out);
            out = x;
        }
    mapi_items_clear(&l);
    mapi_extprops_clear(&want);
    return out;
}

static char *junk_text(mapi_session *s)
{
    return junk_text_ids(s, 1);
}

static sr_code run_ops(world *w, const struct feature_ops *ops, feature_stats *st, sr_err *e)
{
    memset(st, 0, sizeof *st);
    void *state = NULL;
    sr_code rc = ops->read(&w->c, &state, st, e);
    if (rc == SR_OK)
        rc = ops->plan(&w->c, state, st, e);
    if (rc == SR_OK)
        rc = ops->backup(&w->c, state, e);
    if (rc == SR_OK)
        rc = ops->apply(&w->c, state, st, e);
    ops->free_state(state);
    return rc;
}

static long tgt_writes(void)
{
    return tgt_ops("UpdateItem") + tgt_ops("CreateItem") + tgt_ops("DeleteItem");
}

/* The junk rule is reset in place (same ItemId, settings gone) and restored
 * in place: the message keeps its id through update and rollback. */
static void test_junk(void)
{
    world w;
    feature_stats st;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 1, 1), 0);
    char *before = junk_text(w.tgt), *before_noid = junk_text_ids(w.tgt, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(before, "JunkEmailRule"));
    CU_ASSERT_PTR_NOT_NULL(strstr(before, "|0E9A="));
    reset_stats();
    CU_ASSERT_EQUAL(run_ops(&w, &cpuu_junk_reset, &st, &e), SR_OK);   /* dry run */
    CU_ASSERT_EQUAL(st.changed, 1);
    CU_ASSERT_EQUAL(tgt_writes(), 0);
    world_close(&w);
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);
    reset_stats();
    CU_ASSERT_EQUAL(run_ops(&w, &cpuu_junk_reset, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(st.seen, 1);
    CU_ASSERT_EQUAL(tgt_ops("UpdateItem"), 1);
    CU_ASSERT_EQUAL(tgt_ops("CreateItem") + tgt_ops("DeleteItem"), 0);
    char *now = junk_text(w.tgt);
    CU_ASSERT_PTR_NOT_NULL(strstr(now, "JunkEmailRule"));   /* the rule stays ... */
    CU_ASSERT_PTR_NULL(strstr(now, "|0E9A="));              /* ... without its lists */
    const char *sp = strchr(before, ' ');
    CU_ASSERT_TRUE(sp && strncmp(now, before, (size_t)(sp - before) + 1) == 0);   /* same ItemId */
    free(now);
    reset_stats();
    CU_ASSERT_EQUAL(run_ops(&w, &cpuu_junk_reset, &st, &e), SR_OK);   /* second run */
    CU_ASSERT_EQUAL(st.changed, 0);
    CU_ASSERT_EQUAL(tgt_writes(), 0);
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_junk_reset.restore(&w.c, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("UpdateItem"), 1);
    CU_ASSERT_EQUAL(tgt_ops("CreateItem") + tgt_ops("DeleteItem"), 0);
    now = junk_text(w.tgt);
    CU_ASSERT_STRING_EQUAL(now, before);   /* the same message, property by property */
    free(now);
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_junk_reset.restore(&w.c, &e), SR_OK);   /* again: nothing */
    CU_ASSERT_EQUAL(tgt_writes(), 0);

    /* deleted meanwhile: the only case that re-creates it (a new ItemId) */
    CU_ASSERT_EQUAL(run_ops(&w, &cpuu_junk_reset, &st, &e), SR_OK);
    mapi_extprops want = {0};
    mapi_extprops_add_tag(&want, 0x65EB, 0x001F, "", &e);
    mapi_ews_folder_ref inbox = {.distinguished = "inbox"};
    mapi_items l = {0};
    CU_ASSERT_EQUAL(mapi_session_find_fai(w.tgt, &inbox, "IPM.ExtendedRule.Message", &want, &l, &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(l.n, 1);
    const char *id = l.v[0].id;
    CU_ASSERT_EQUAL(mapi_session_delete_items(w.tgt, &id, 1, &e), SR_OK);
    mapi_items_clear(&l);
    mapi_extprops_clear(&want);
    reset_stats();
    CU_ASSERT_EQUAL(cpuu_junk_reset.restore(&w.c, &e), SR_OK);
    CU_ASSERT_EQUAL(tgt_ops("CreateItem"), 1);
    char *a = junk_text_ids(w.tgt, 0);
    CU_ASSERT_STRING_EQUAL(a, before_noid);   /* every saved property back */
    free(a);
    world_close(&w);
    free(before);
    free(before_noid);
}

/* ---- the target directory ([TargetAD], ours): a second slapd with the org's
 * TARGET side (slapd-lab.sh's LAB_SIDE=target), as the engine gets it ---- */
static ldapdir *tdir_open(const char *sub)
{
    if (!g_tlab.up) {
        char *dir = sr_asprintf("%s/tlab", g_dir), *log = sr_asprintf("%s/tlab.log", g_dir);
        char *script = sr_asprintf("%s/tests/lab/slapd-lab.sh", tu_root());
        setenv("LAB_SIDE", "target", 1);
        int rc = tu_lab_start(&g_tlab, script, dir, g_org, log, 120000);
        unsetenv("LAB_SIDE");
        free(dir);
        free(log);
        free(script);
        if (rc != 0)
            return NULL;
    }
    char *base = sub ? sr_asprintf("%s,%s", sub, tu_lab_get(&g_tlab, "LAB_BASE")) : NULL;
    ldapdir_opts o = {.dc = tu_lab_get(&g_tlab, "LAB_LDAPS_URI"),
                      .account = tu_lab_get(&g_tlab, "LAB_BIND_DN"),
                      .password = tu_lab_get(&g_tlab, "LAB_PASSWORD"),
                      .ca_file = tu_lab_get(&g_tlab, "LAB_CA"), .base = base,
                      .connect_timeout_ms = 3000, .op_timeout_ms = 10000};
    ldapdir *d = NULL;
    sr_err e;
    if (ldapdir_connect(&o, &d, &e) != SR_OK)
        fprintf(stderr, "\n    target ldap connect: %s\n", e.msg);
    free(base);
    return d;
}

/* Every source recipient (SMTP and DN forms) and 40 external addresses
 * through a map with the target directory tdir: the mapped ones get the
 * target legacyExchangeDN of org.json.  Returns the number of mapped keys. */
static int tdir_resolve_all(world *w, ldapdir *tdir)
{
    sr_err e;
    rmap_free(w->c.map);
    w->c.map = rmap_new(w->dir, tdir, w->tgt, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w->c.map);
    char *keys[MAX_RCPT * 2 + 40];
    int n = 0, mapped = 0;
    for (int i = 0; i < g_nrc; i++) {
        keys[n++] = sr_asprintf("SMTP:%s", g_rc[i].src);
        if (g_rc[i].src_dn[0])
            keys[n++] = sr_asprintf("X500:%s", g_rc[i].src_dn);
    }
    for (int i = 0; i < 40; i++)
        keys[n++] = sr_asprintf("someone-%02d@external.test", i);
    CU_ASSERT_EQUAL(rmap_resolve(w->c.map, (const char *const *)keys, (size_t)n, &e), SR_OK);
    for (int i = 0; i < g_nrc; i++) {
        rmap_target t = {0};
        rmap_status st = rmap_lookup(w->c.map, g_rc[i].src, &t);
        const char *tdn = target_dn_of(g_rc[i].src);
        if (!g_rc[i].tgt[0]) {
            CU_ASSERT_EQUAL(st, RMAP_NOT_MIGRATED);
            continue;
        }
        mapped++;
        CU_ASSERT_EQUAL(st, RMAP_MAPPED);
        CU_ASSERT_TRUE(st == RMAP_MAPPED && strcasecmp(t.smtp, g_rc[i].tgt) == 0);
        CU_ASSERT_PTR_NOT_NULL(tdn);
        CU_ASSERT_TRUE(st == RMAP_MAPPED && tdn && t.legacy_dn && strcasecmp(t.legacy_dn, tdn) == 0);
        if (st == RMAP_MAPPED && tdn && (!t.legacy_dn || strcasecmp(t.legacy_dn, tdn)))
            fprintf(stderr, "\n    %s: target DN %s, want %s\n", g_rc[i].src,
                    t.legacy_dn ? t.legacy_dn : "(none)", tdn);
    }
    CU_ASSERT_EQUAL(rmap_lookup(w->c.map, "someone-07@external.test", NULL), RMAP_UNKNOWN);
    for (int i = 0; i < n; i++)
        free(keys[i]);
    return mapped;
}

static void test_target_directory(void)
{
    load_target_dns();
    world w;
    sr_err e;
    ldapdir *tdir = tdir_open(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tdir);
    CU_ASSERT_EQUAL_FATAL(world_open(&w, 0, 1), 0);

    /* 1. every target identity from the target directory: one OR-ed search
     * for all mapped addresses, nothing asked of Exchange one by one */
    reset_stats();
    unsigned long before = ldapdir_search_count(tdir);
    int mapped = tdir_resolve_all(&w, tdir);
    unsigned long searches = ldapdir_search_count(tdir) - before;
    printf("\n    target directory: %d mapped recipients, %lu target LDAP search(es), "
           "%ld Autodiscover, %ld ResolveNames\n", mapped, searches, tgt_ops("Autodiscover"),
           tgt_ops("ResolveNames"));
    CU_ASSERT_TRUE_FATAL(mapped >= 2);
    CU_ASSERT_EQUAL(searches, 1);
    CU_ASSERT_EQUAL(tgt_ops("Autodiscover") + tgt_ops("ResolveNames"), 0);
    /* the cache: asked again, nothing is searched */
    const char *again[] = {g_rc[0].src};
    CU_ASSERT_EQUAL(rmap_resolve(w.c.map, again, 1, &e), SR_OK);
    CU_ASSERT_EQUAL(ldapdir_search_count(tdir) - before, searches);
    ldapdir_free(tdir);

    /* 2. a target directory that holds only the resources: its misses (the
     * users) go on to ONE GetUserSettings batch, and still get their DN */
    tdir = tdir_open("OU=Resources");
    CU_ASSERT_PTR_NOT_NULL_FATAL(tdir);
    reset_stats();
    before = ldapdir_search_count(tdir);
    CU_ASSERT_EQUAL(tdir_resolve_all(&w, tdir), mapped);
    CU_ASSERT_EQUAL(ldapdir_search_count(tdir) - before, 1);
    CU_ASSERT_EQUAL(tgt_ops("Autodiscover"), 1);
    CU_ASSERT_EQUAL(tgt_ops("ResolveNames"), 0);
    ldapdir_free(tdir);

    /* 2b. no source directory: the identity check asks the target directory
     * first; a target address is known there with its DN, an external one
     * goes on to ResolveNames */
    tdir = tdir_open(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tdir);
    const rcpt *mr = NULL;
    for (int i = 0; i < g_nrc && !mr; i++)
        if (g_rc[i].tgt[0] && target_dn_of(g_rc[i].src))
            mr = &g_rc[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mr);
    rmap *idm = rmap_new(NULL, tdir, w.tgt, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(idm);
    const char *ik[] = {mr->tgt, "someone@external.test"};
    reset_stats();
    before = ldapdir_search_count(tdir);
    CU_ASSERT_EQUAL(rmap_resolve(idm, ik, 2, &e), SR_OK);
    CU_ASSERT_EQUAL(ldapdir_search_count(tdir) - before, 1);
    CU_ASSERT_EQUAL(tgt_ops("ResolveNames"), 1);   /* the external address only */
    rmap_target it = {0};
    CU_ASSERT_EQUAL(rmap_lookup(idm, mr->tgt, &it), RMAP_MAPPED);
    CU_ASSERT_TRUE(it.legacy_dn && strcasecmp(it.legacy_dn, target_dn_of(mr->src)) == 0);
    CU_ASSERT_EQUAL(rmap_lookup(idm, "someone@external.test", NULL), RMAP_UNKNOWN);
    rmap_free(idm);
    ldapdir_free(tdir);

    /* 3. Nicks with the target directory only (no pairs given by hand): a
     * target without a list gets the source's rows, mapped EX rows as EX
     * rows carrying the TARGET legacyExchangeDN from the directory */
    tdir = tdir_open(NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(tdir);
    rmap_free(w.c.map);
    w.c.map = rmap_new(w.dir, tdir, w.tgt, &e);
    free(w.backup);
    w.backup = sr_asprintf("%s/nicks-tdir", g_dir);
    w.c.backup_dir = w.backup;
    size_t cur = 0;
    int ex = 0;
    uint8_t *saved = nick_raw(w.tgt, &cur, &ex);
    if (ex)
        CU_ASSERT_EQUAL(nick_delete(w.tgt), SR_OK);
    feature_stats st;
    reset_stats();
    before = ldapdir_search_count(tdir);
    CU_ASSERT_EQUAL(run_feature(&w, CFG_F_NICKS, &st, &e), SR_OK);
    CU_ASSERT_EQUAL(ldapdir_search_count(tdir) - before, 1);
    CU_ASSERT_EQUAL(tgt_ops("Autodiscover") + tgt_ops("ResolveNames"), 0);
    size_t len = 0;
    uint8_t *tr = nick_raw(w.tgt, &len, &ex);
    nk_stream got;
    CU_ASSERT_EQUAL_FATAL(nk_parse(tr, len, &got, &e), SR_OK);
    unsigned n_ex = 0;
    for (size_t i = 0; i < got.nrows; i++) {
        char *sm = nk_row_string(&got.rows[i], NK_ID_SMTP), *at = nk_row_string(&got.rows[i], NK_ID_ADDRTYPE);
        const rcpt *r = sm ? rcpt_by_tgt(sm) : NULL;
        if (r && at && !strcmp(at, "EX")) {
            char *em = nk_row_string(&got.rows[i], NK_ID_EMAIL);
            const char *tdn = target_dn_of(r->src);
            CU_ASSERT_TRUE(em && tdn && strcasecmp(em, tdn) == 0);
            size_t el = 0;
            const uint8_t *eid = nk_row_binary(&got.rows[i], NK_ID_ENTRYID, &el);
            mapi_eid d;
            CU_ASSERT_TRUE_FATAL(eid && mapi_eid_decode(eid, el, &d, &e) == SR_OK);
            CU_ASSERT_TRUE(d.x500dn && tdn && strcasecmp(d.x500dn, tdn) == 0);
            mapi_eid_clear(&d);
            free(em);
            n_ex++;
        }
        free(sm);
        free(at);
    }
    printf("    Nicks through the target directory: %u EX rows with the target DN\n", n_ex);
    CU_ASSERT_TRUE(n_ex >= 1);
    nk_stream_clear(&got);
    free(tr);
    /* back as it was: restore deletes the list this run created */
    const struct feature_ops *ops = cpuu_feature_ops(CFG_F_NICKS);
    CU_ASSERT_EQUAL(ops->restore(&w.c, &e), SR_OK);
    if (saved)
        CU_ASSERT_EQUAL(nick_put(w.tgt, 1, saved, cur), SR_OK);
    free(saved);
    world_close(&w);
    ldapdir_free(tdir);
    tu_lab_free(&g_tlab);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sr_log_set_level(getenv("SR_DEBUG") ? SR_LOG_DEBUG : SR_LOG_ERROR);
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("cpuu_features", suite_init, suite_clean);
    CU_add_test(s, "feature table", test_feature_table);
    CU_add_test(s, "request builders valid against messages.xsd", test_builders_valid);
    CU_add_test(s, "recipient map: batching, cache, identity check", test_rmap_batching);
    CU_add_test(s, "SOAP Autodiscover GetUserSettings: documented examples, 100 per request",
                test_getusersettings);
    CU_add_test(s, "Delegates: dry run, update, idempotent, repair, restore", test_delegates);
    CU_add_test(s, "Rules: dry run, update, idempotent, restore", test_rules);
    CU_add_test(s, "Nicks: mapped rows, own rows kept, idempotent, restore, Remove", test_nicks);
    CU_add_test(s, "target directory: target DNs in batches, misses by GetUserSettings, Nicks EX",
                test_target_directory);
    CU_add_test(s, "Favorites/Calendar/Shortcuts links: mapped, grouped, idempotent, restore",
                test_wlinks);
    CU_add_test(s, "SearchFolders: mapped, idempotent, repair, restore", test_searchfolders);
    CU_add_test(s, "ContactMembers: every contact folder, batched, idempotent, restore",
                test_contactmembers);
    CU_add_test(s, "RemoveJunkEmailMessages: junk rule reset in place, backup, restore", test_junk);
    CU_add_test(s, "Booking: policies re-pointed, lists before AutomateProcessing, agrees with "
                   "Delegates, restore", test_booking);
    CU_add_test(s, "updated in place: one read, nothing to change", test_in_place);
    CU_add_test(s, "bad backups are refused with a clear message", test_bad_backups);
    CU_add_test(s, "directory outage fails the feature naming mailbox and DC", test_directory_outage);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    int bad = CU_get_error() != CUE_SUCCESS;
    CU_cleanup_registry();
    xmlSchemaFree(g_schema);
    curl_global_cleanup();
    return fails || bad ? 1 : 0;
}
