/* feat_booking.c — the Booking feature (ours, beyond the spec's list): a
 * resource's calendar processing dictionary (user configuration `Calendar`
 * in the Calendar folder) copied to the target with every identity in it
 * (booking lists, request lists, resource delegates: legacyExchangeDNs)
 * re-pointed through the recipient map; every other key kept exactly as
 * the source has it (docs/features.md).
 *
 * read:    GetUserConfiguration Calendar (Dictionary) on the source and the
 *          target (one round trip each; in place: once).
 * plan:    one rmap_resolve for every DN value; wanted = the source's
 *          dictionary with the mapped DNs; compared with the target's.
 * backup:  the target's answer, or "absent" (the first run's is kept).
 * apply:   when the wanted AutomateProcessing turns automatic processing on
 *          (or changes it), the dictionary is first written with the
 *          target's current AutomateProcessing and the new lists, then with
 *          the wanted value: a resource never processes automatically with a
 *          half-written policy.  Otherwise one write.  In the engine's
 *          write waves the first write goes with Delegates' AddDelegate and
 *          a write that changes AutomateProcessing waits for it (held).
 * restore: the saved dictionary written back (or the configuration deleted
 *          when the target had none). */
#include "cpuu/booking.h"
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"
#include "cpuu/nicks.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <strings.h>

#define FEATURE BOOKING_FEATURE
#define BACKUP_NAME "target.xml"
#define CFG_NAME BOOKING_CFG_NAME
#define CFG_FOLDER BOOKING_CFG_FOLDER
#define AUTOMATE "AutomateProcessing"

void booking_state_clear(bstate *s)
{
    if (s->tgt_doc != s->src_doc)
        xmlFreeDoc(s->tgt_doc);
    xmlFreeDoc(s->src_doc);
    xmlFreeDoc(s->want_doc);
    memset(s, 0, sizeof *s);
}

static void bstate_free(void *v)
{
    if (v)
        booking_state_clear(v);
    free(v);
}

/* GetUserConfiguration; *dict NULL when the item or its dictionary is absent. */
static sr_code get_config(cpuu_ctx *c, mapi_session *ms, xmlDocPtr *doc, xmlNodePtr *op,
                          xmlNodePtr *dict, int *exists, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(ms);
    mapi_ews_call call = {.idempotent = 1};
    call.req = ewsf_req_getconfig_dict(&t, CFG_FOLDER, CFG_NAME, err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(ms, &call, 1, err);
    xmlFreeDoc(call.req);
    sr_err e = {0};
    *exists = 0;
    *dict = NULL;
    if (rc == SR_OK) {
        sr_code st = nk_parse_status(call.resp_op, &e);
        if (st == SR_OK) {
            *exists = 1;
            xmlNodePtr msg = mapi_xml_child(mapi_xml_child(call.resp_op, EWSF_NS_M, "ResponseMessages"),
                                            NULL, NULL);
            *dict = mapi_xml_child(mapi_xml_child(msg, EWSF_NS_M, "UserConfiguration"), EWSF_NS_T,
                                   "Dictionary");
        } else if (st != SR_E_NOTFOUND) {
            rc = st;
            *err = e;
        }
    }
    *doc = call.resp;
    *op = call.resp_op;
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: GetUserConfiguration %s on %s: ", c->who, FEATURE, CFG_NAME,
                      mapi_session_mailbox(ms));
    return rc;
}

sr_code booking_read_source(cpuu_ctx *c, bstate *s, sr_err *err)
{
    xmlNodePtr op;
    int ex;
    return get_config(c, c->src, &s->src_doc, &op, &s->src_dict, &ex, err);
}

static sr_code b_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    bstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = get_config(c, c->tgt, &s->tgt_doc, &s->tgt_op, &s->tgt_dict, &s->tgt_exists, err);
    sr_err e2;   /* the source's own failure after the target's */
    if (cpuu_read_on(rc) && c->src != c->tgt) {
        rc = cpuu_read_both(rc, booking_read_source(c, s, rc == SR_OK ? err : &e2));
    } else if (rc == SR_OK) {
        s->src_doc = s->tgt_doc;   /* in place: read once */
        s->src_dict = s->tgt_dict;
    }
    st->seen = s->src_dict != NULL;
    return rc;
}

/* ---- the dictionary ---- */
static int is_dn(const char *v)
{
    return v && (strncasecmp(v, "/o=", 3) == 0 || strncasecmp(v, "X500:", 5) == 0);
}

static char *key_of(xmlNodePtr entry)
{
    return mapi_xml_child_text(mapi_xml_child(entry, EWSF_NS_T, "DictionaryKey"), EWSF_NS_T, "Value");
}

static xmlNodePtr entry_named(xmlNodePtr dict, const char *key)
{
    for (xmlNodePtr e = mapi_xml_child(dict, EWSF_NS_T, "DictionaryEntry"); e;
         e = mapi_xml_next(e, EWSF_NS_T, "DictionaryEntry")) {
        char *k = key_of(e);
        int hit = k && strcmp(k, key) == 0;
        free(k);
        if (hit)
            return e;
    }
    return NULL;
}

/* The first Value of an entry's DictionaryValue (heap) or NULL. */
static char *value_of(xmlNodePtr entry)
{
    return mapi_xml_child_text(mapi_xml_child(entry, EWSF_NS_T, "DictionaryValue"), EWSF_NS_T, "Value");
}

/* Every DictionaryValue/Value that holds a DN (String and StringArray). */
typedef void (*dn_fn)(void *ctx, xmlNodePtr value, const char *key, const char *dn);

static void each_dn(xmlNodePtr dict, dn_fn fn, void *ctx)
{
    for (xmlNodePtr e = mapi_xml_child(dict, EWSF_NS_T, "DictionaryEntry"); e;
         e = mapi_xml_next(e, EWSF_NS_T, "DictionaryEntry")) {
        char *key = key_of(e);
        xmlNodePtr dv = mapi_xml_child(e, EWSF_NS_T, "DictionaryValue");
        for (xmlNodePtr v = mapi_xml_child(dv, EWSF_NS_T, "Value"); v; v = mapi_xml_next(v, EWSF_NS_T, "Value")) {
            xmlChar *x = xmlNodeGetContent(v);
            if (x && is_dn((const char *)x))
                fn(ctx, v, key ? key : "?", (const char *)x);
            xmlFree(x);
        }
        free(key);
    }
}

typedef struct keys {
    char **v;
    size_t n, cap;
} keys;

static void collect_dn(void *ctx, xmlNodePtr value, const char *key, const char *dn)
{
    (void)value;
    (void)key;
    keys *k = ctx;
    if (k->n == k->cap) {
        size_t nc = k->cap ? k->cap * 2 : 32;
        char **nv = realloc(k->v, nc * sizeof *nv);
        if (!nv)
            return;
        k->v = nv;
        k->cap = nc;
    }
    char *d = sr_strdup(dn);
    if (d)
        k->v[k->n++] = d;
}

typedef struct mapctx {
    cpuu_ctx *c;
    feature_stats *st;
    int error;
} mapctx;

static void map_dn(void *vctx, xmlNodePtr value, const char *key, const char *dn)
{
    mapctx *m = vctx;
    rmap_target t = {0};
    rmap_status ms = rmap_lookup(m->c->map, dn, &t);
    if (ms == RMAP_MAPPED && t.legacy_dn) {
        if (strcmp(t.legacy_dn, dn) != 0) {
            xmlNodeSetContent(value, NULL);
            xmlNodeAddContent(value, BAD_CAST t.legacy_dn);
        }
        return;
    }
    if (ms == RMAP_NOT_MIGRATED) {   /* the spec: kept "according to their location" */
        sr_log(SR_LOG_INFO, m->c->who, "%s: %s: %s is not migrated: kept", FEATURE, key, dn);
        return;
    }
    if (ms == RMAP_ERROR) {
        m->error = 1;
        return;
    }
    m->st->unresolved++;
    sr_log(SR_LOG_WARN, m->c->who, "%s: %s: %s %s: kept as it is", FEATURE, key, dn,
           ms == RMAP_MAPPED ? "has no known target legacyExchangeDN (configure the target "
                               "directory)"
                             : ms == RMAP_AMBIGUOUS ? "is ambiguous in the source directory"
                                                    : "is unknown in the source directory");
}

static int same_dict(xmlNodePtr a, xmlNodePtr b)
{
    char *x = ewsf_canon(a), *y = ewsf_canon(b);
    int same = x && y && strcmp(x, y) == 0;
    free(x);
    free(y);
    return same;
}

/* AutomateProcessing of a dictionary as a number; 0 (None) when absent. */
static long automate(xmlNodePtr dict)
{
    char *v = value_of(entry_named(dict, AUTOMATE));
    long n = v ? strtol(v, NULL, 10) : 0;
    free(v);
    return n;
}

/* Step 1 = want with AutomateProcessing set to the target's current value
 * (an entry of type Integer32 added when want lacks one). */
static xmlNodePtr make_step1(bstate *s, long current)
{
    xmlNodePtr d = xmlDocCopyNode(s->want, s->want_doc, 1);
    if (!d)
        return NULL;
    xmlAddChild(xmlDocGetRootElement(s->want_doc), d);
    char num[24];
    snprintf(num, sizeof num, "%ld", current);
    xmlNodePtr e = entry_named(d, AUTOMATE);
    xmlNodePtr v = mapi_xml_child(mapi_xml_child(e, EWSF_NS_T, "DictionaryValue"), EWSF_NS_T, "Value");
    if (v) {
        xmlNodeSetContent(v, NULL);
        xmlNodeAddContent(v, BAD_CAST num);
    }
    return d;
}

/* The DNs b_plan resolves, for the engine's one batch. */
sr_code booking_keys(cpuu_ctx *c, void *state, cpuu_keys *out, cpuu_keys *tk, sr_err *err)
{
    (void)tk;   /* no target-organisation keys */
    (void)c;
    bstate *s = state;
    if (!s->src_dict)
        return SR_OK;
    keys k = {0};
    each_dn(s->src_dict, collect_dn, &k);
    sr_code rc = SR_OK;
    for (size_t i = 0; i < k.n; i++)
        if (rc == SR_OK)
            rc = cpuu_keys_take(out, k.v[i], err);
        else
            free(k.v[i]);
    free(k.v);
    return rc;
}

sr_code booking_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    bstate *s = state;
    xmlFreeDoc(s->want_doc);
    s->want_doc = NULL;
    s->want = s->step1 = NULL;
    if (!s->src_dict) {
        sr_log(SR_LOG_INFO, c->who, "%s: the source has no %s configuration: nothing to copy",
               FEATURE, CFG_NAME);
        return SR_OK;
    }
    keys k = {0};
    each_dn(s->src_dict, collect_dn, &k);
    sr_code rc = rmap_resolve(c->map, (const char *const *)k.v, k.n, err);
    for (size_t i = 0; i < k.n; i++)
        free(k.v[i]);
    free(k.v);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: %s: ", c->who, FEATURE);
        return rc;
    }
    s->want_doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = s->want_doc ? xmlNewDocNode(s->want_doc, NULL, BAD_CAST "Wanted", NULL) : NULL;
    if (root)
        xmlDocSetRootElement(s->want_doc, root);
    s->want = root ? xmlDocCopyNode(s->src_dict, s->want_doc, 1) : NULL;
    if (!s->want)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    xmlAddChild(root, s->want);
    mapctx m = {c, st, 0};
    each_dn(s->want, map_dn, &m);
    if (m.error)
        return sr_err_set(err, SR_E_CONNECT, "%s: %s: the recipient map failed", c->who, FEATURE);
    if (s->tgt_dict && same_dict(s->want, s->tgt_dict)) {
        s->want = NULL;   /* nothing to write */
        sr_log(SR_LOG_INFO, c->who, "%s: the target's %s dictionary is up to date", FEATURE,
               CFG_NAME);
        return SR_OK;
    }
    long cur = automate(s->tgt_dict), want = automate(s->want);
    s->automate_changes = want != cur;
    if (want != 0 && want != cur && entry_named(s->want, AUTOMATE)) {
        s->step1 = make_step1(s, cur);
        if (!s->step1)
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    st->changed = 1;
    sr_log(SR_LOG_INFO, c->who, "%s: plan: %s the %s dictionary%s", FEATURE,
           s->tgt_exists ? "rewrite" : "create", CFG_NAME,
           s->step1 ? " (policy lists first, then AutomateProcessing)" : "");
    return SR_OK;
}

/* ---- backup / apply ---- */
static sr_code b_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    bstate *s = state;
    if (c->dry_run || !s->want)
        return SR_OK;
    if (cpuu_backup_exists(c, FEATURE, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    if (!s->tgt_exists) {
        static const char absent[] = "<BookingAbsent/>";
        return cpuu_backup_put(c, FEATURE, BACKUP_NAME, absent, sizeof absent - 1, err);
    }
    int n = 0;
    xmlChar *x = ewsf_dump_node(s->tgt_op, &n);
    if (!x)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, x, (size_t)n, err);
    xmlFree(x);
    return rc;
}

static sr_code write_dict(cpuu_ctx *c, int create, xmlNodePtr dict, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(c->tgt);
    mapi_ews_call call = {0};
    call.req = ewsf_req_setconfig_dict(&t, CFG_FOLDER, CFG_NAME, create, dict, err);
    if (!call.req)
        return err->code;
    sr_code rc = mapi_session_run(c->tgt, &call, 1, err);
    if (rc == SR_OK)
        rc = nk_parse_status(call.resp_op, err);
    xmlFreeDoc(call.req);
    xmlFreeDoc(call.resp);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: %sUserConfiguration %s on %s: ", c->who, FEATURE,
                      create ? "Create" : "Update", CFG_NAME, mapi_session_mailbox(c->tgt));
    return rc;
}

static sr_code b_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    bstate *s = state;
    if (!s->want)
        return SR_OK;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u dictionary change not written", FEATURE,
               st->changed);
        return SR_OK;
    }
    int create = !s->tgt_exists;
    sr_code rc = SR_OK;
    if (s->step1) {   /* the lists first, processing as it is now */
        rc = write_dict(c, create, s->step1, err);
        create = 0;
    }
    /* a new AutomateProcessing only after Delegates' AddDelegate (its
     * meeting-request delivery) is answered: a write wave holds it here */
    if (rc == SR_OK && s->automate_changes && c->after_pending) {
        c->held = 1;
        return SR_OK;
    }
    return rc == SR_OK ? write_dict(c, create, s->want, err) : rc;
}

/* ---- rollback ---- */
static sr_code b_restore(cpuu_ctx *c, sr_err *err)
{
    xmlDocPtr saved = NULL;
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "Booking", NULL, &saved, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(saved);
    int absent = root && xmlStrcmp(root->name, BAD_CAST "BookingAbsent") == 0;
    xmlNodePtr sdict = NULL;
    if (!absent) {
        xmlNodePtr msg = mapi_xml_child(mapi_xml_child(root, EWSF_NS_M, "ResponseMessages"), NULL, NULL);
        sdict = mapi_xml_child(mapi_xml_child(msg, EWSF_NS_M, "UserConfiguration"), EWSF_NS_T,
                               "Dictionary");
        if (!sdict) {
            xmlFreeDoc(saved);
            return sr_err_set(err, SR_E_PARSE, "%s: %s: the backup holds no %s dictionary",
                              c->who, FEATURE, CFG_NAME);
        }
    }
    bstate cur = {0};
    xmlNodePtr op;
    rc = get_config(c, c->tgt, &cur.tgt_doc, &op, &cur.tgt_dict, &cur.tgt_exists, err);
    if (rc == SR_OK && absent && cur.tgt_exists && !c->dry_run) {
        mapi_ews_target t = mapi_session_target(c->tgt);
        mapi_ews_call call = {.req = nk_req_deleteconfig(&t, CFG_FOLDER, CFG_NAME, err)};
        rc = call.req ? mapi_session_run(c->tgt, &call, 1, err) : err->code;
        if (rc == SR_OK)
            rc = nk_parse_status(call.resp_op, err);
        xmlFreeDoc(call.req);
        xmlFreeDoc(call.resp);
        sr_log(SR_LOG_INFO, c->who, "%s: restore: %s configuration deleted (the target had none)",
               FEATURE, CFG_NAME);
    } else if (rc == SR_OK && !absent &&
               (!cur.tgt_dict || !same_dict(sdict, cur.tgt_dict)) && !c->dry_run) {
        rc = write_dict(c, !cur.tgt_exists, sdict, err);
        sr_log(SR_LOG_INFO, c->who, "%s: restore: %s dictionary written back", FEATURE, CFG_NAME);
    }
    xmlFreeDoc(cur.tgt_doc);
    xmlFreeDoc(saved);
    return rc;
}

/* the same over Microsoft Graph (feat_booking_graph.c) */
extern const struct feature_ops cpuu_feat_booking_graph;

const struct feature_ops cpuu_feat_booking = {
    .id = CFG_F_BOOKING,
    .read = b_read,
    .keys = booking_keys,
    .plan = booking_plan,
    .backup = b_backup,
    .apply = b_apply,
    .restore = b_restore,
    .free_state = bstate_free,
    .graph = &cpuu_feat_booking_graph,
    .early_writes = 1,
};
