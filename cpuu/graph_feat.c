/* graph_feat.c — EWS feature data → Graph JSON (graph_feat.h).  The names
 * on the Graph side are those of Microsoft's v1.0 metadata (messageRule,
 * messageRulePredicates, messageRuleActions, calendarPermission,
 * mailboxSettings); tests/unit/test_cpuu_graph_conv.c checks every name
 * emitted against that CSDL. */
#include "cpuu/graph_feat.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gfeat_notes_clear(gfeat_notes *n)
{
    for (size_t i = 0; i < n->n; i++)
        free(n->v[i]);
    free(n->v);
    n->v = NULL;
    n->n = 0;
}

int gfeat_note(gfeat_notes *n, const char *fmt, ...)
{
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = vasprintf(&line, fmt, ap);
    va_end(ap);
    char **nv = len >= 0 ? realloc(n->v, (n->n + 1) * sizeof *nv) : NULL;
    if (!nv) {
        if (len >= 0)
            free(line);
        return -1;
    }
    n->v = nv;
    n->v[n->n++] = line;
    return 0;
}

/* ---- rules ---------------------------------------------------------------- */
typedef enum {
    K_STRINGS,      /* t:ArrayOfStringsType → Collection(Edm.String) */
    K_BOOL,         /* xs:boolean → Edm.Boolean (only a true one is a test or an action) */
    K_RECIPIENTS,   /* t:ArrayOfEmailAddressesType → Collection(graph.recipient) */
    K_ENUM,         /* an EWS enumeration → the Graph one (first letter lower) */
    K_SIZE,         /* t:RulePredicateSizeRangeType → graph.sizeRange (both in KB) */
    K_FOLDER,       /* t:TargetFolderIdType → a Graph folder id */
    K_NONE          /* Graph has no counterpart: why */
} kind;

typedef struct conv {
    const char *ews, *graph;   /* graph: property name, or (K_NONE) the reason */
    kind k;
} conv;

/* RulePredicatesType (types.xsd) → messageRulePredicates: every element of
 * the schema is listed, so an unknown one is a schema change, not a loss. */
static const conv predicates[] = {
    {"Categories", "categories", K_STRINGS},
    {"ContainsBodyStrings", "bodyContains", K_STRINGS},
    {"ContainsHeaderStrings", "headerContains", K_STRINGS},
    {"ContainsRecipientStrings", "recipientContains", K_STRINGS},
    {"ContainsSenderStrings", "senderContains", K_STRINGS},
    {"ContainsSubjectOrBodyStrings", "bodyOrSubjectContains", K_STRINGS},
    {"ContainsSubjectStrings", "subjectContains", K_STRINGS},
    {"FlaggedForAction", "messageActionFlag", K_ENUM},
    {"FromAddresses", "fromAddresses", K_RECIPIENTS},
    {"FromConnectedAccounts", "Graph's messageRulePredicates has no connected-account test",
     K_NONE},
    {"HasAttachments", "hasAttachments", K_BOOL},
    {"Importance", "importance", K_ENUM},
    {"IsApprovalRequest", "isApprovalRequest", K_BOOL},
    {"IsAutomaticForward", "isAutomaticForward", K_BOOL},
    {"IsAutomaticReply", "isAutomaticReply", K_BOOL},
    {"IsEncrypted", "isEncrypted", K_BOOL},
    {"IsMeetingRequest", "isMeetingRequest", K_BOOL},
    {"IsMeetingResponse", "isMeetingResponse", K_BOOL},
    {"IsNDR", "isNonDeliveryReport", K_BOOL},
    {"IsPermissionControlled", "isPermissionControlled", K_BOOL},
    {"IsReadReceipt", "isReadReceipt", K_BOOL},
    {"IsSigned", "isSigned", K_BOOL},
    {"IsVoicemail", "isVoicemail", K_BOOL},
    {"ItemClasses", "Graph's messageRulePredicates has no message-class test", K_NONE},
    {"MessageClassifications", "Graph's messageRulePredicates has no classification test", K_NONE},
    {"NotSentToMe", "notSentToMe", K_BOOL},
    {"SentCcMe", "sentCcMe", K_BOOL},
    {"SentOnlyToMe", "sentOnlyToMe", K_BOOL},
    {"SentToAddresses", "sentToAddresses", K_RECIPIENTS},
    {"SentToMe", "sentToMe", K_BOOL},
    {"SentToOrCcMe", "sentToOrCcMe", K_BOOL},
    {"Sensitivity", "sensitivity", K_ENUM},
    {"WithinDateRange", "Graph's messageRulePredicates has no date-range test", K_NONE},
    {"WithinSizeRange", "withinSizeRange", K_SIZE},
    {NULL, NULL, K_NONE},
};

/* RuleActionsType → messageRuleActions. */
static const conv actions[] = {
    {"AssignCategories", "assignCategories", K_STRINGS},
    {"CopyToFolder", "copyToFolder", K_FOLDER},
    {"Delete", "delete", K_BOOL},
    {"ForwardAsAttachmentToRecipients", "forwardAsAttachmentTo", K_RECIPIENTS},
    {"ForwardToRecipients", "forwardTo", K_RECIPIENTS},
    {"MarkImportance", "markImportance", K_ENUM},
    {"MarkAsRead", "markAsRead", K_BOOL},
    {"MoveToFolder", "moveToFolder", K_FOLDER},
    {"PermanentDelete", "permanentDelete", K_BOOL},
    {"RedirectToRecipients", "redirectTo", K_RECIPIENTS},
    {"SendSMSAlertToRecipients", "Graph's messageRuleActions has no SMS alert", K_NONE},
    {"ServerReplyWithMessage", "Graph's messageRuleActions has no reply with a template message",
     K_NONE},
    {"StopProcessingRules", "stopProcessingRules", K_BOOL},
    {NULL, NULL, K_NONE},
};

static const conv *conv_of(const conv *t, const char *name)
{
    for (; t->ews; t++)
        if (strcmp(t->ews, name) == 0)
            return t;
    return NULL;
}

static char *text(xmlNodePtr n)
{
    xmlChar *x = xmlNodeGetContent(n);
    char *s = x ? sr_strdup((const char *)x) : NULL;
    xmlFree(x);
    return s;
}

static int is_true(xmlNodePtr n)
{
    char *v = text(n);
    int on = v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
    free(v);
    return on;
}

/* "DoNotForward" → "doNotForward", "FYI" → "fyi", "High" → "high". */
static json_t *enum_value(xmlNodePtr n)
{
    char *v = text(n);
    if (!v || !*v) {
        free(v);
        return NULL;
    }
    int all_upper = 1;
    for (char *p = v; *p; p++)
        all_upper &= isupper((unsigned char)*p) != 0;
    for (char *p = v; *p && (p == v || all_upper); p++)
        *p = (char)tolower((unsigned char)*p);
    json_t *j = json_string(v);
    free(v);
    return j;
}

static json_t *strings(xmlNodePtr n)
{
    json_t *a = json_array();
    for (xmlNodePtr s = mapi_xml_child(n, EWSF_NS_T, "String"); a && s;
         s = mapi_xml_next(s, EWSF_NS_T, "String")) {
        char *v = text(s);
        if (!v || json_array_append_new(a, json_string(v)) != 0) {
            free(v);
            json_decref(a);
            return NULL;
        }
        free(v);
    }
    return a;
}

/* t:Address list → [{"emailAddress":{"name","address"}}]; an address that
 * is not SMTP (EX, MOBILE) has no Graph form: *bad names it. */
static json_t *recipients(xmlNodePtr n, char **bad)
{
    json_t *a = json_array();
    for (xmlNodePtr ad = mapi_xml_child(n, EWSF_NS_T, "Address"); a && ad && !*bad;
         ad = mapi_xml_next(ad, EWSF_NS_T, "Address")) {
        char *email = mapi_xml_child_text(ad, EWSF_NS_T, "EmailAddress");
        char *rt = mapi_xml_child_text(ad, EWSF_NS_T, "RoutingType");
        char *name = mapi_xml_child_text(ad, EWSF_NS_T, "Name");
        int smtp = email && *email && email[0] != '/' && (!rt || sr_streq_ci(rt, "SMTP"));
        if (!smtp) {
            *bad = sr_asprintf("%s address %s", rt ? rt : "EX", email ? email : "(none)");
        } else {
            json_t *ea = json_pack("{s:s}", "address", email);
            if (ea && name && *name)
                json_object_set_new(ea, "name", json_string(name));
            if (!ea || json_array_append_new(a, json_pack("{s:o}", "emailAddress", ea)) != 0) {
                json_decref(a);
                a = NULL;
            }
        }
        free(email);
        free(rt);
        free(name);
    }
    return a;
}

static json_t *size_range(xmlNodePtr n)
{
    json_t *o = json_object();
    static const char *const e[2] = {"MinimumSize", "MaximumSize"};
    static const char *const g[2] = {"minimumSize", "maximumSize"};
    for (int i = 0; o && i < 2; i++) {
        char *v = mapi_xml_child_text(n, EWSF_NS_T, e[i]);
        if (v)
            json_object_set_new(o, g[i], json_integer(strtol(v, NULL, 10)));
        free(v);
    }
    return o;
}

/* t:TargetFolderIdType → the target's Graph folder id (a JSON string). */
static json_t *folder(xmlNodePtr n, gfeat_folder_fn fn, void *ctx, char **bad)
{
    xmlNodePtr f = mapi_xml_child(n, EWSF_NS_T, "FolderId");
    xmlNodePtr d = f ? NULL : mapi_xml_child(n, EWSF_NS_T, "DistinguishedFolderId");
    xmlChar *id = f ? xmlGetProp(f, BAD_CAST "Id") : d ? xmlGetProp(d, BAD_CAST "Id") : NULL;
    char *gid = id && fn ? fn(ctx, f ? (const char *)id : NULL, d ? (const char *)id : NULL) : NULL;
    json_t *j = NULL;
    if (gid)
        j = json_string(gid);
    else
        *bad = sr_asprintf("folder %s has no counterpart in the target mailbox",
                           id ? (const char *)id : "(none)");
    free(gid);
    xmlFree(id);
    return j;
}

/* One part (Conditions, Exceptions, Actions) into a new object.  *lost
 * counts the children Graph cannot carry, each noted. */
static json_t *part(xmlNodePtr p, const conv *table, const char *rule, const char *what,
                    gfeat_folder_fn fn, void *ctx, gfeat_notes *notes, unsigned *lost)
{
    json_t *o = json_object();
    for (xmlNodePtr c = p ? p->children : NULL; o && c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *name = (const char *)c->name;
        const conv *cv = conv_of(table, name);
        char *bad = NULL;
        json_t *v = NULL;
        switch (cv ? cv->k : K_NONE) {
        case K_STRINGS: v = strings(c); break;
        case K_BOOL: v = is_true(c) ? json_true() : NULL; break;
        case K_RECIPIENTS: v = recipients(c, &bad); break;
        case K_ENUM: v = enum_value(c); break;
        case K_SIZE: v = size_range(c); break;
        case K_FOLDER: v = folder(c, fn, ctx, &bad); break;
        case K_NONE:
            bad = sr_strdup(cv ? cv->graph : "not in the EWS schema this tool knows");
            break;
        }
        if (bad || (!v && cv && cv->k != K_BOOL && cv->k != K_ENUM)) {
            (*lost)++;
            gfeat_note(notes, "rule '%s': %s %s: %s", rule, what, name,
                       bad ? bad : "out of memory");
            json_decref(v);
        } else if (v) {
            json_object_set_new(o, cv->graph, v);
        }
        free(bad);
    }
    return o;
}

sr_code gfeat_rule_json(xmlNodePtr rule, gfeat_folder_fn fn, void *ctx, json_t **out,
                        gfeat_notes *notes, sr_err *err)
{
    *out = NULL;
    char *name = mapi_xml_child_text(rule, EWSF_NS_T, "DisplayName");
    char *prio = mapi_xml_child_text(rule, EWSF_NS_T, "Priority");
    const char *rn = name ? name : "?";
    unsigned lost_c = 0, lost_a = 0;
    json_t *cond = part(mapi_xml_child(rule, EWSF_NS_T, "Conditions"), predicates, rn, "condition",
                        fn, ctx, notes, &lost_c);
    json_t *exc = part(mapi_xml_child(rule, EWSF_NS_T, "Exceptions"), predicates, rn, "exception",
                       fn, ctx, notes, &lost_c);
    json_t *act = part(mapi_xml_child(rule, EWSF_NS_T, "Actions"), actions, rn, "action", fn, ctx,
                       notes, &lost_a);
    json_t *r = cond && exc && act ? json_object() : NULL;
    sr_code rc = SR_OK;
    if (!r) {
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
    } else if (lost_c) {
        /* without the test Graph cannot make, the rule would act on more mail */
        gfeat_note(notes, "rule '%s': not written (a condition or exception Graph cannot express "
                   "would make it act on more messages)", rn);
    } else if (json_object_size(act) == 0) {
        gfeat_note(notes, "rule '%s': not written (none of its actions can be carried)", rn);
    } else {
        json_object_set_new(r, "displayName", json_string(rn));
        long seq = prio ? strtol(prio, NULL, 10) : 0;
        json_object_set_new(r, "sequence", json_integer(seq > 0 ? seq : 1));
        json_object_set_new(r, "isEnabled", json_boolean(is_true(mapi_xml_child(rule, EWSF_NS_T,
                                                                                "IsEnabled"))));
        json_object_set(r, "conditions", cond);
        if (json_object_size(exc))
            json_object_set(r, "exceptions", exc);
        json_object_set(r, "actions", act);
        *out = r;
        r = NULL;
    }
    json_decref(r);
    json_decref(cond);
    json_decref(exc);
    json_decref(act);
    free(name);
    free(prio);
    return rc;
}

static const char *const writable[] = {"displayName", "sequence", "isEnabled", "conditions",
                                       "exceptions", "actions", NULL};

json_t *gfeat_rule_writable(const json_t *rule)
{
    json_t *o = json_object();
    for (int i = 0; o && writable[i]; i++) {
        json_t *v = json_object_get(rule, writable[i]);
        if (v && !json_is_null(v))
            json_object_set_new(o, writable[i], json_deep_copy(v));
    }
    return o;
}

/* A copy for comparing: nulls, empty objects/arrays and recipients' names
 * dropped, addresses lower case (Graph may spell them as the directory does). */
static json_t *norm(const json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (strcmp(k, "name") == 0 && json_object_get(v, "address"))
                continue;
            json_t *n = norm(x);
            if (n)
                json_object_set_new(o, k, n);
        }
        if (o && json_object_size(o) == 0) {
            json_decref(o);
            return NULL;
        }
        if (o && json_is_string(json_object_get(o, "address"))) {
            char *a = sr_strdup(json_string_value(json_object_get(o, "address")));
            for (char *p = a; p && *p; p++)
                *p = (char)tolower((unsigned char)*p);
            if (a)
                json_object_set_new(o, "address", json_string(a));
            free(a);
        }
        return o;
    }
    if (json_is_array(v)) {
        if (json_array_size(v) == 0)
            return NULL;
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            json_t *n = norm(x);
            json_array_append_new(a, n ? n : json_null());
        }
        return a;
    }
    return json_is_null(v) ? NULL : json_deep_copy(v);
}

int gfeat_rule_same(const json_t *a, const json_t *b)
{
    json_t *wa = gfeat_rule_writable(a), *wb = gfeat_rule_writable(b);
    json_t *na = norm(wa), *nb = norm(wb);
    int eq = na && nb && json_equal(na, nb);
    json_decref(wa);
    json_decref(wb);
    json_decref(na);
    json_decref(nb);
    return eq;
}

/* ---- delegates -------------------------------------------------------------- */
const char *gfeat_delegate_role(const ewsf_delegate *d)
{
    const char *cal = d->perm[0];   /* ewsf_perm_folders[0] is "Calendar" */
    if (cal && strcmp(cal, "Editor") == 0)
        return d->view_private == 1 ? "delegateWithPrivateEventAccess"
                                    : "delegateWithoutPrivateEventAccess";
    if (cal && strcmp(cal, "Reviewer") == 0)
        return "read";
    return NULL;   /* None, Author, Custom: no calendarRoleType says that */
}

json_t *gfeat_delegate_json(const ewsf_delegate *d, gfeat_notes *notes)
{
    const char *who = d->smtp ? d->smtp : "?";
    const char *role = gfeat_delegate_role(d);
    json_t *ea = json_pack("{s:s}", "address", who);
    if (ea && d->display_name)
        json_object_set_new(ea, "name", json_string(d->display_name));
    json_t *p = ea && role ? json_pack("{s:o,s:b,s:s}", "emailAddress", ea, "isInsideOrganization",
                                       1, "role", role)
                           : NULL;
    if (!role)
        json_decref(ea);
    if (role && !p)
        return NULL;
    const char *cal = d->perm[0] ? d->perm[0] : "None";
    if (!role)
        gfeat_note(notes, "delegate %s: Calendar level %s has no Graph calendar role: not added",
                   who, cal);
    else if (strcmp(role, "read") == 0)
        gfeat_note(notes, "delegate %s: Calendar level Reviewer becomes the read role (Graph's "
                   "delegate roles are Editor): no meeting messages through this delegate", who);
    for (int i = 1; i < EWSF_NPERM; i++)
        if (d->perm[i] && strcmp(d->perm[i], "None") != 0)
            gfeat_note(notes, "delegate %s: %s level %s: Graph has no API for %s permissions "
                       "(the Exchange Online Admin API has, in preview only: not used)",
                       who, ewsf_perm_folders[i], d->perm[i], ewsf_perm_folders[i]);
    if (role && strncmp(role, "delegate", 8) == 0 && d->receive_copies == 0)
        gfeat_note(notes, "delegate %s: does not receive meeting copies on the source; Graph has "
                   "one mailbox-wide setting (delegateMeetingMessageDeliveryOptions)", who);
    if (role && strcmp(role, "read") == 0 && d->view_private == 1)
        gfeat_note(notes, "delegate %s: may view private items on the source; the read role "
                   "cannot", who);
    return p;
}

static const char *const deliver_map[][2] = {
    {"DelegatesOnly", "sendToDelegateOnly"},
    {"DelegatesAndMe", "sendToDelegateAndPrincipal"},
    {"DelegatesAndSendInformationToMe", "sendToDelegateAndInformationToPrincipal"},
};

const char *gfeat_deliver_to_graph(const char *ews)
{
    for (size_t i = 0; ews && i < sizeof deliver_map / sizeof deliver_map[0]; i++)
        if (strcmp(deliver_map[i][0], ews) == 0)
            return deliver_map[i][1];
    return NULL;   /* NoForward: Graph has no "send to me only" */
}

json_t *gfeat_mailbox_settings_json(const char *graph_value)
{
    return graph_value ? json_pack("{s:s}", "delegateMeetingMessageDeliveryOptions", graph_value)
                       : NULL;
}

/* ---- user configuration dictionaries ------------------------------------------- */
/* The EWS type names are the beta enum's with a capital first letter
 * ("string" ↔ "String", "stringArray" ↔ "StringArray"). */
static int typed_to_xml(xmlNodePtr parent, xmlNsPtr ns, const char *name, const json_t *tv)
{
    const char *type = json_string_value(json_object_get(tv, "type"));
    const json_t *values = json_object_get(tv, "values");
    if (!type || !*type || !json_is_array(values))
        return -1;
    char t[40];
    snprintf(t, sizeof t, "%s", type);
    t[0] = (char)toupper((unsigned char)t[0]);
    xmlNodePtr kv = xmlNewChild(parent, ns, BAD_CAST name, NULL);
    if (!kv || !xmlNewTextChild(kv, ns, BAD_CAST "Type", BAD_CAST t))
        return -1;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
        if (!json_is_string(v) || !xmlNewTextChild(kv, ns, BAD_CAST "Value", BAD_CAST json_string_value(v)))
            return -1;
    return 0;
}

xmlNodePtr gfeat_dict_from_json(const json_t *structured, xmlNodePtr parent, sr_err *err)
{
    xmlNsPtr ns = xmlSearchNsByHref(parent->doc, parent, BAD_CAST EWSF_NS_T);
    if (!ns)
        ns = xmlNewNs(parent, BAD_CAST EWSF_NS_T, BAD_CAST "t");
    xmlNodePtr dict = ns ? xmlNewChild(parent, ns, BAD_CAST "Dictionary", NULL) : NULL;
    if (!dict) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    size_t i;
    json_t *e;
    json_array_foreach(structured, i, e) {
        xmlNodePtr de = xmlNewChild(dict, ns, BAD_CAST "DictionaryEntry", NULL);
        const json_t *val = json_object_get(e, "valueEntry");
        if (!de || typed_to_xml(de, ns, "DictionaryKey", json_object_get(e, "keyEntry")) ||
            (val && !json_is_null(val) && typed_to_xml(de, ns, "DictionaryValue", val))) {
            sr_err_set(err, SR_E_PROTOCOL, "entry %zu of structuredData is no structuredDataEntry", i);
            xmlUnlinkNode(dict);
            xmlFreeNode(dict);
            return NULL;
        }
    }
    return dict;
}

static json_t *typed_to_json(xmlNodePtr kv)
{
    char *type = mapi_xml_child_text(kv, EWSF_NS_T, "Type");
    json_t *values = json_array();
    for (xmlNodePtr v = mapi_xml_child(kv, EWSF_NS_T, "Value"); v && values; v = mapi_xml_next(v, EWSF_NS_T, "Value")) {
        xmlChar *x = xmlNodeGetContent(v);
        json_array_append_new(values, json_string(x ? (const char *)x : ""));
        xmlFree(x);
    }
    if (type && *type)
        type[0] = (char)tolower((unsigned char)type[0]);
    json_t *j = type && values ? json_pack("{s:s,s:O}", "type", type, "values", values) : NULL;
    json_decref(values);
    free(type);
    return j;
}

json_t *gfeat_dict_json(xmlNodePtr dict)
{
    json_t *sd = json_array();
    for (xmlNodePtr e = mapi_xml_child(dict, EWSF_NS_T, "DictionaryEntry"); e && sd;
         e = mapi_xml_next(e, EWSF_NS_T, "DictionaryEntry")) {
        xmlNodePtr dv = mapi_xml_child(e, EWSF_NS_T, "DictionaryValue");
        json_t *k = typed_to_json(mapi_xml_child(e, EWSF_NS_T, "DictionaryKey"));
        json_t *v = dv ? typed_to_json(dv) : json_null();
        json_t *entry = k && v ? json_pack("{s:o,s:o}", "keyEntry", k, "valueEntry", v) : NULL;
        if (!k || !v) {   /* json_pack's "o" took both when it ran */
            json_decref(k);
            json_decref(v);
        }
        if (!entry || json_array_append_new(sd, entry)) {
            json_decref(sd);
            return NULL;
        }
    }
    return sd;
}
