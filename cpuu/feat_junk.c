/* feat_junk.c — RemoveJunkEmailMessages=1: the updated mailbox's junk e-mail
 * settings are removed (the spec: they may not work on the target), with a
 * backup that rollback puts back (docs/features.md).
 *
 * EWS has no typed junk e-mail settings.  They live in the Inbox's junk
 * e-mail rule: an associated message of class IPM.ExtendedRule.Message whose
 * PidTagRuleMessageProvider (0x65EB) is "JunkEmailRule" (MS-OXORULE 2.2.4
 * extended rules); its PidTagExtendedRuleMessageCondition (0x0E9A) holds the
 * safe senders, safe recipients and blocked senders lists, its state and
 * level the filter setting.  Removing that message resets junk filtering to
 * the server's default; Outlook/Exchange write a fresh one when the user
 * sets junk options again.
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

/* The properties of a rule message that make it what it is (MS-OXORULE
 * 2.2.4.1: PidTagRuleMessageName/Provider/State/Level/Sequence/UserFlags/
 * ProviderData, PidTagExtendedRuleMessageActions/Condition). */
static const struct { uint16_t tag, type; } g_props[] = {
    {0x65EC, 0x001F}, {0x65EB, 0x001F}, {0x65E9, 0x0003}, {0x65ED, 0x0003}, {0x65F3, 0x0003},
    {0x65F6, 0x0003}, {0x65EE, 0x0102}, {0x0E99, 0x0102}, {0x0E9A, 0x0102},
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
    st->changed = (unsigned)s->n;
    sr_log(SR_LOG_INFO, c->who, "%s: %zu junk e-mail rule message%s to remove", FEATURE, s->n,
           s->n == 1 ? "" : "s");
    return SR_OK;
}

/* <JunkRules><rule subject=..><p tag= type=>value</p>...</rule></JunkRules> */
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

static sr_code delete_ids(cpuu_ctx *c, const mapi_items *all, const size_t *idx, size_t n,
                          sr_err *err)
{
    if (!n)
        return SR_OK;
    const char **ids = calloc(n, sizeof *ids);
    if (!ids)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        ids[i] = all->v[idx[i]].id;
    sr_code rc = mapi_session_delete_items(c->tgt, ids, n, err);
    free(ids);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: %s: DeleteItem on %s: ", c->who, FEATURE, mapi_session_mailbox(c->tgt));
    return rc;
}

static sr_code j_apply(cpuu_ctx *c, void *state, feature_stats *st, sr_err *err)
{
    jstate *s = state;
    if (c->dry_run) {
        sr_log(SR_LOG_NOTICE, c->who, "%s: dry run: %u messages not removed", FEATURE, st->changed);
        return SR_OK;
    }
    return delete_ids(c, &s->all, s->idx, s->n, err);
}

/* ---- rollback: the saved rule messages back (the server's newer ones go) */
static sr_code create_saved(cpuu_ctx *c, xmlNodePtr rule, sr_err *err)
{
    mapi_extprops props = {0};
    sr_code rc = SR_OK;
    for (xmlNodePtr p = rule->children; p && rc == SR_OK; p = p->next) {
        if (p->type != XML_ELEMENT_NODE)
            continue;
        char *tag = mapi_xml_attr(p, "tag"), *type = mapi_xml_attr(p, "type");
        xmlChar *v = xmlNodeGetContent(p);
        if (!tag || !type || !v ||
            !mapi_extprops_add_tag(&props, (uint16_t)strtoul(tag, NULL, 0),
                                   (uint16_t)strtoul(type, NULL, 0), (const char *)v, err))
            rc = err->code ? err->code : sr_err_set(err, SR_E_PARSE, "a bad property in the backup");
        free(tag);
        free(type);
        xmlFree(v);
    }
    char *subject = mapi_xml_attr(rule, "subject");
    mapi_ews_folder_ref inbox = {.distinguished = "inbox"};
    if (rc == SR_OK)
        rc = mapi_session_create_item(c->tgt, &inbox, RULE_CLASS, subject ? subject : "", &props, 1,
                                      NULL, err);
    free(subject);
    mapi_extprops_clear(&props);
    return rc;
}

static sr_code j_restore(cpuu_ctx *c, sr_err *err)
{
    xmlDocPtr saved = NULL;
    sr_code rc = cpuu_backup_get_xml(c, FEATURE, BACKUP_NAME, "junk e-mail", "JunkRules", &saved, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(saved);
    /* already as saved?  compare the current junk rules' text with the backup */
    jstate cur = {0};
    feature_stats st = {0};
    void *vs = NULL;
    rc = j_read(c, &vs, &st, err);
    jstate *s = vs ? vs : &cur;
    xmlDocPtr now = rc == SR_OK ? to_xml(s) : NULL;
    char *a = now ? ewsf_canon(xmlDocGetRootElement(now)) : NULL, *b = ewsf_canon(root);
    int same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    xmlFreeDoc(now);
    if (rc == SR_OK && !same && !c->dry_run) {
        rc = delete_ids(c, &s->all, s->idx, s->n, err);
        for (xmlNodePtr r = root->children; r && rc == SR_OK; r = r->next)
            if (r->type == XML_ELEMENT_NODE)
                rc = create_saved(c, r, err);
        if (rc != SR_OK)
            sr_err_prefix(err, "%s: %s: restore on %s: ", c->who, FEATURE, mapi_session_mailbox(c->tgt));
    }
    sr_log(SR_LOG_INFO, c->who, "%s: restore: %s", FEATURE, same ? "nothing to do" : "junk e-mail rule put back");
    if (vs)
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
};
