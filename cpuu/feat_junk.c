/* feat_junk.c — RemoveJunkEmailMessages=1: the updated mailbox's junk e-mail
 * settings are reset (the spec: they may not work on the target), with a
 * backup that rollback puts back exactly (docs/features.md).
 *
 * EWS has no typed junk e-mail settings.  They live in the Inbox's junk
 * e-mail rule (MS-OXCSPAM 3.1.4.1): an associated message of class
 * IPM.ExtendedRule.Message whose PidTagRuleMessageProvider (0x65EB) is
 * "JunkEmailRule", an extended rule (MS-OXORULE 2.2.4).  The settings on it:
 *  - PidTagExtendedRuleMessageCondition 0x0E9A (MS-OXORULE 2.2.4.1.10): the
 *    restriction whose clauses are the blocked and trusted sender, recipient
 *    and domain lists and the trusted contacts (MS-OXCSPAM 3.1.4.1);
 *  - the junk properties of MS-OXCSPAM 2.2.2: PidTagJunkIncludeContacts
 *    0x6100 (2.2.2.2), PidTagJunkThreshold 0x6101 (2.2.2.5, the filter
 *    level), PidTagJunkPermanentlyDelete 0x6102, PidTagJunkAddRecipientsTo-
 *    SafeSendersList 0x6103, PidTagJunkPhishingEnableLinks 0x6107.
 *
 * The reset is an UpdateItem deleting those properties: the message itself
 * stays (same ItemId; name, provider, state and actions untouched), so a
 * rollback can give the mailbox back exactly — deleting and re-creating it
 * would give it a new ItemId.  Restore writes back only the properties that
 * differ from the backup and re-creates a message only when it was deleted
 * meanwhile; a second run or a second restore writes nothing.
 *
 * Not a Features value: the engine runs it after the features when
 * RemoveJunkEmailMessages=1 and restores it on rollback. */
#include "cpuu/ews_feat.h"
#include "cpuu/feature.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEATURE "RemoveJunkEmailMessages"
#define BACKUP_NAME "target.xml"
#define RULE_CLASS "IPM.ExtendedRule.Message"
#define PROVIDER_TAG 0x65EB
#define JUNK_PROVIDER "JunkEmailRule"

/* What is read, saved and compared.  setting = 1: a junk setting, removed
 * by the reset; 0: what makes the message a rule (MS-OXORULE 2.2.4.1:
 * PidTagRuleMessageName/Provider/State/Level/Sequence/UserFlags/ProviderData,
 * PidTagExtendedRuleMessageActions), left alone. */
static const struct { uint16_t tag, type; int setting; } g_props[] = {
    {0x65EC, 0x001F, 0}, {0x65EB, 0x001F, 0}, {0x65E9, 0x0003, 0}, {0x65ED, 0x0003, 0},
    {0x65F3, 0x0003, 0}, {0x65EA, 0x0003, 0}, {0x65EE, 0x0102, 0}, {0x0E99, 0x0102, 0},
    {0x0E9A, 0x0102, 1}, {0x6100, 0x0003, 1}, {0x6101, 0x0003, 1}, {0x6102, 0x0003, 1},
    {0x6103, 0x0003, 1}, {0x6107, 0x000B, 1},
};
#define NPROPS (sizeof g_props / sizeof g_props[0])

typedef struct jstate {
    mapi_items all;         /* every rule message of the Inbox */
    size_t *idx;            /* the junk e-mail rule messages among them */
    size_t n;
} jstate;

static void jstate_free(void *v)
{
    jstate *s = v;
    if (!s)
        return;
    mapi_items_clear(&s->all);
    free(s->idx);
    free(s);
}

static const mapi_extprop *prop(const mapi_item *it, uint16_t tag)
{
    for (size_t i = 0; i < it->props.n; i++)
        if (it->props.v[i].kind == MAPI_XP_TAG && (it->props.v[i].id & 0xFFFF) == tag)
            return &it->props.v[i];
    return NULL;
}

static int is_junk_rule(const mapi_item *it)
{
    const mapi_extprop *p = prop(it, PROVIDER_TAG);
    return p && p->nvalues && strcmp(p->values[0], JUNK_PROVIDER) == 0;
}

/* The junk settings it still carries, as a DeleteItemField list (values unused). */
static sr_code settings_of(const mapi_item *it, mapi_extprops *out, sr_err *err)
{
    for (size_t i = 0; i < NPROPS; i++)
        if (g_props[i].setting && prop(it, g_props[i].tag) &&
            !mapi_extprops_add_tag(out, g_props[i].tag, g_props[i].type, "", err))
            return err->code;
    return SR_OK;
}

static int has_settings(const mapi_item *it)
{
    for (size_t i = 0; i < NPROPS; i++)
        if (g_props[i].setting && prop(it, g_props[i].tag))
            return 1;
    return 0;
}

static sr_code find_rules(cpuu_ctx *c, mapi_items *out, sr_err *err)
{
    mapi_extprops want = {0};
    sr_code rc = SR_OK;
    for (size_t i = 0; i < NPROPS && rc == SR_OK; i++)
        if (!mapi_extprops_add_tag(&want, g_props[i].tag, g_props[i].type, "", err))
            rc = err->code;
    mapi_ews_folder_ref inbox = {.distinguished = "inbox"};
    if (rc == SR_OK)
        rc = mapi_session_find_fai(c->tgt, &inbox, RULE_CLASS, &want, out, err);
    mapi_extprops_clear(&want);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: reading the Inbox rules of %s: ", c->who, FEATURE,
                      mapi_session_mailbox(c->tgt));
    return rc;
}

static sr_code j_read(cpuu_ctx *c, void **state, feature_stats *st, sr_err *err)
{
    jstate *s = calloc(1, sizeof *s);
    if (!s)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    *state = s;
    sr_code rc = find_rules(c, &s->all, err);
    s->idx = calloc(s->all.n ? s->all.n : 1, sizeof *s->idx);
    if (rc == SR_OK && !s->idx)
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; rc == SR_OK && i < s->all.n; i++)
        if (is_junk_rule(&s->all.v[i]))
            s->idx[s->n++] = i;
    st->seen = (unsigned)s->n;
    return rc;
}

static sr_code j_plan(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    (void)err;
    jstate *s = state;
    st->changed = 0;
    for (size_t k = 0; k < s->n; k++)
        st->changed += (unsigned)has_settings(&s->all.v[s->idx[k]]);
    sr_log(SR_LOG_INFO, c->who, "%s: %u of %zu junk e-mail rule message%s to reset", FEATURE,
           st->changed, s->n, s->n == 1 ? "" : "s");
    return SR_OK;
}

/* <JunkRules><rule id=.. subject=..><p tag= type=>value</p>...</rule></JunkRules> */
static xmlDocPtr to_xml(const jstate *s)
{
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = d ? xmlNewDocNode(d, NULL, BAD_CAST "JunkRules", NULL) : NULL;
    if (!root) {
        xmlFreeDoc(d);
        return NULL;
    }
    xmlDocSetRootElement(d, root);
    for (size_t k = 0; k < s->n; k++) {
        const mapi_item *it = &s->all.v[s->idx[k]];
        xmlNodePtr r = xmlNewChild(root, NULL, BAD_CAST "rule", NULL);
        xmlNewProp(r, BAD_CAST "id", BAD_CAST(it->id ? it->id : ""));
        xmlNewProp(r, BAD_CAST "subject", BAD_CAST(it->subject ? it->subject : ""));
        for (size_t i = 0; i < NPROPS; i++) {
            const mapi_extprop *p = prop(it, g_props[i].tag);
            if (!p || !p->nvalues)
                continue;
            char tag[8], type[8];
            snprintf(tag, sizeof tag, "0x%04X", (unsigned)g_props[i].tag);
            snprintf(type, sizeof type, "0x%04X", (unsigned)g_props[i].type);
            xmlNodePtr pn = xmlNewTextChild(r, NULL, BAD_CAST "p", BAD_CAST p->values[0]);
            xmlNewProp(pn, BAD_CAST "tag", BAD_CAST tag);
            xmlNewProp(pn, BAD_CAST "type", BAD_CAST type);
        }
    }
    return d;
}

static sr_code j_backup(cpuu_ctx *c, void *state, sr_err *err)
{
    jstate *s = state;
    if (c->dry_run || !s->n)
        return SR_OK;
    if (cpuu_backup_exists(c, FEATURE, BACKUP_NAME))
        return SR_OK;   /* the first run's backup is the pre-switch state: keep it */
    xmlDocPtr d = to_xml(s);
    int n = 0;
    xmlChar *x = d ? ewsf_dump_node(xmlDocGetRootElement(d), &n) : NULL;
    xmlFreeDoc(d);
    if (!x)
        return sr_err_set(err, SR_E_NOMEM, "%s: %s: out of memory", c->who, FEATURE);
    sr_code rc = cpuu_backup_put(c, FEATURE, BACKUP_NAME, x, (size_t)n, err);
    xmlFree(x);
    return rc;
}

/* A growable list of prepared requests, sent together. */
typedef struct reqs {
    xmlDocPtr *v;
    size_t n, cap;
} reqs;

static sr_code reqs_add(reqs *l, xmlDocPtr d, sr_err *err)
{
    if (!d)
        return err->code ? err->code : sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 4;
        xmlDocPtr *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            xmlFreeDoc(d);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = d;
    return SR_OK;
}

static void reqs_free(reqs *l)
{
    for (size_t i = 0; i < l->n; i++)
        xmlFreeDoc(l->v[i]);
    free(l->v);
}

/* Every request concurrently (one round trip); every answer must be NoError. */
static sr_code reqs_run(cpuu_ctx *c, reqs *l, sr_err *err)
{
    if (!l->n)
        return SR_OK;
    mapi_ews_call *calls = calloc(l->n, sizeof *calls);
    if (!calls)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        calls[i].req = l->v[i];
    sr_code rc = mapi_session_run(c->tgt, calls, l->n, err);
    for (size_t i = 0; i < l->n; i++) {
        if (rc == SR_OK)
            rc = mapi_ews_parse_status(calls[i].resp_op, err);
        xmlFreeDoc(calls[i].resp);
    }
    free(calls);
    return rc;
}

static sr_code j_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    jstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u junk e-mail rules not reset", FEATURE,
               st->changed);
        return SR_OK;
    }
    mapi_ews_target t = mapi_session_target(c->tgt);
    reqs l = {0};
    sr_code rc = SR_OK;
    for (size_t k = 0; k < s->n && rc == SR_OK; k++) {
        const mapi_item *it = &s->all.v[s->idx[k]];
        mapi_extprops del = {0};
        rc = settings_of(it, &del, err);
        if (rc == SR_OK && del.n)
            rc = reqs_add(&l, mapi_ews_req_updateitem(&t, it->id, NULL, NULL, &del, err), err);
        mapi_extprops_clear(&del);
    }
    if (rc == SR_OK)
        rc = reqs_run(c, &l, err);
    reqs_free(&l);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: UpdateItem on %s: ", c->who, FEATURE, mapi_session_mailbox(c->tgt));
    return rc;
}

/* ---- rollback: the saved properties back, only where they differ ---------- */

/* The <p> properties of a saved <rule>. */
static sr_code saved_props(xmlNodePtr rule, mapi_extprops *out, sr_err *err)
{
    sr_code rc = SR_OK;
    for (xmlNodePtr p = rule->children; p && rc == SR_OK; p = p->next) {
        if (p->type != XML_ELEMENT_NODE)
            continue;
        char *tag = mapi_xml_attr(p, "tag"), *type = mapi_xml_attr(p, "type");
        xmlChar *v = xmlNodeGetContent(p);
        if (!tag || !type || !v ||
            !mapi_extprops_add_tag(out, (uint16_t)strtoul(tag, NULL, 0),
                                   (uint16_t)strtoul(type, NULL, 0), (const char *)v, err))
            rc = err->code ? err->code : sr_err_set(err, SR_E_PARSE, "a bad property in the backup");
        free(tag);
        free(type);
        xmlFree(v);
    }
    return rc;
}

/* The current message a saved rule stands for: the one with its id (any
 * rule message; it may have lost its provider), else — a backup written
 * before ids were saved — the first junk rule not yet matched.  -1: none. */
static long match(const jstate *s, const char *id, const unsigned char *taken)
{
    for (size_t i = 0; id && *id && i < s->all.n; i++)
        if (!taken[i] && s->all.v[i].id && strcmp(s->all.v[i].id, id) == 0)
            return (long)i;
    for (size_t k = 0; (!id || !*id) && k < s->n; k++)
        if (!taken[s->idx[k]])
            return (long)s->idx[k];
    return -1;
}

/* UpdateItem of what differs between the saved properties and the message:
 * saved values that differ or are missing are set, junk settings the backup
 * does not have are deleted (the rule's own properties are never touched by
 * the reset, so none is deleted here).  Nothing differs: no request. */
static sr_code diff_update(const mapi_ews_target *t, const mapi_item *it, const mapi_extprops *want,
                           reqs *l, sr_err *err)
{
    mapi_extprops set = {0}, del = {0};
    sr_code rc = SR_OK;
    for (size_t i = 0; i < want->n && rc == SR_OK; i++) {
        const mapi_extprop *w = &want->v[i], *now = prop(it, (uint16_t)w->id);
        if (!now || !now->nvalues || strcmp(now->values[0], w->nvalues ? w->values[0] : "") != 0)
            if (!mapi_extprops_add_tag(&set, (uint16_t)w->id, w->type, w->nvalues ? w->values[0] : "", err))
                rc = err->code;
    }
    for (size_t i = 0; i < NPROPS && rc == SR_OK; i++)
        if (g_props[i].setting && prop(it, g_props[i].tag) &&
            !mapi_extprops_find_tag(want, g_props[i].tag) &&
            !mapi_extprops_add_tag(&del, g_props[i].tag, g_props[i].type, "", err))
            rc = err->code;
    if (rc == SR_OK && (set.n || del.n))
        rc = reqs_add(l, mapi_ews_req_updateitem(t, it->id, NULL, set.n ? &set : NULL,
                                                 del.n ? &del : NULL, err), err);
    mapi_extprops_clear(&set);
    mapi_extprops_clear(&del);
    return rc;
}

/* Requests that bring the Inbox's junk rules back to the saved ones; the
 * ids of junk rules the backup does not know (created since) into *extra. */
static sr_code plan_restore(cpuu_ctx *c, xmlNodePtr root, const jstate *s, reqs *l,
                            const char ***extra, size_t *nextra, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(c->tgt);
    mapi_ews_folder_ref inbox = {.distinguished = "inbox"};
    unsigned char *taken = calloc(s->all.n + 1, 1);
    *extra = calloc(s->n + 1, sizeof **extra);
    if (!taken || !*extra) {
        free(taken);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    sr_code rc = SR_OK;
    for (xmlNodePtr r = root->children; r && rc == SR_OK; r = r->next) {
        if (r->type != XML_ELEMENT_NODE)
            continue;
        mapi_extprops want = {0};
        char *id = mapi_xml_attr(r, "id"), *subject = mapi_xml_attr(r, "subject");
        rc = saved_props(r, &want, err);
        long at = rc == SR_OK ? match(s, id, taken) : -1;
        if (at >= 0) {
            taken[at] = 1;
            rc = diff_update(&t, &s->all.v[at], &want, l, err);
        } else if (rc == SR_OK) {   /* deleted meanwhile: the only case that re-creates */
            rc = reqs_add(l, mapi_ews_req_createitem(&t, &inbox, RULE_CLASS, subject ? subject : "",
                                                     &want, 1, err), err);
        }
        mapi_extprops_clear(&want);
        free(id);
        free(subject);
    }
    for (size_t k = 0; k < s->n; k++)
        if (!taken[s->idx[k]])
            (*extra)[(*nextra)++] = s->all.v[s->idx[k]].id;
    free(taken);
    return rc;
}

static sr_code j_restore(cpuu_ctx *c, sr_err *err)
{
    xmlDocPtr saved = NULL;
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "junk e-mail", "JunkRules", &saved, err);
    if (rc != SR_OK)
        return rc;
    void *vs = NULL;
    feature_stats st = {0};
    rc = j_read(c, &vs, &st, err);
    reqs l = {0};
    const char **extra = NULL;
    size_t nextra = 0;
    if (rc == SR_OK)
        rc = plan_restore(c, xmlDocGetRootElement(saved), vs, &l, &extra, &nextra, err);
    size_t writes = l.n + nextra;
    if (rc == SR_OK && writes && !c->dry_run) {
        rc = reqs_run(c, &l, err);
        if (rc == SR_OK && nextra)
            rc = mapi_session_delete_items(c->tgt, extra, nextra, err);
        if (rc != SR_OK)
            sr_err_prefix(err, "%s: %s: restore on %s: ", c->who, FEATURE, mapi_session_mailbox(c->tgt));
    }
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, c->who, "%s: restore: %s", FEATURE,
               !writes ? "nothing to do" : c->dry_run ? "dry run, junk e-mail rule not put back"
                                                       : "junk e-mail rule put back");
    reqs_free(&l);
    free(extra);
    jstate_free(vs);
    xmlFreeDoc(saved);
    return rc;
}

/* Not in the features table (not a Features value): the engine calls it
 * when RemoveJunkEmailMessages=1 (feature.h: cpuu_junk_reset). */
const struct feature_ops cpuu_junk_reset = {
    .id = CFG_F__MAX,
    .read = j_read,
    .plan = j_plan,
    .backup = j_backup,
    .apply = j_apply,
    .restore = j_restore,
    .free_state = jstate_free,
    .no_graph = "Graph has no API for the junk e-mail rule",
};
