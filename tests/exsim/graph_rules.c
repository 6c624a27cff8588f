/* graph_rules.c — /users/{id}/mailFolders/inbox/messageRules[/{id}] (GET,
 * POST, PATCH, DELETE) over the same t:Rule subtrees EWS's GetInboxRules and
 * UpdateInboxRules use.  Each Graph property of messageRulePredicates and
 * messageRuleActions has one EWS element (RulePredicatesType,
 * RuleActionsType); a rule holding an EWS element Graph cannot express
 * (FromConnectedAccounts, ItemClasses, MessageClassifications,
 * WithinDateRange, SendSMSAlertToRecipients, ServerReplyWithMessage) or
 * marked IsNotSupported shows as isReadOnly and cannot be changed through
 * Graph — as Graph's reference says of rules its API cannot represent.
 * Folder ids are Graph ids (graph.h); addresses are SMTP. */
#include "tests/exsim/graph.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { K_STRINGS, K_ADDRS, K_BOOL, K_IMPORTANCE, K_SENSITIVITY, K_FLAG, K_SIZE, K_FOLDER,
               K_NONE } fkind;

typedef struct field { const char *ews, *graph; fkind k; } field;

/* RulePredicatesType in schema order; graph NULL: no Graph property. */
static const field preds[] = {
    { "Categories", "categories", K_STRINGS },
    { "ContainsBodyStrings", "bodyContains", K_STRINGS },
    { "ContainsHeaderStrings", "headerContains", K_STRINGS },
    { "ContainsRecipientStrings", "recipientContains", K_STRINGS },
    { "ContainsSenderStrings", "senderContains", K_STRINGS },
    { "ContainsSubjectOrBodyStrings", "bodyOrSubjectContains", K_STRINGS },
    { "ContainsSubjectStrings", "subjectContains", K_STRINGS },
    { "FlaggedForAction", "messageActionFlag", K_FLAG },
    { "FromAddresses", "fromAddresses", K_ADDRS },
    { "FromConnectedAccounts", NULL, K_NONE },
    { "HasAttachments", "hasAttachments", K_BOOL },
    { "Importance", "importance", K_IMPORTANCE },
    { "IsApprovalRequest", "isApprovalRequest", K_BOOL },
    { "IsAutomaticForward", "isAutomaticForward", K_BOOL },
    { "IsAutomaticReply", "isAutomaticReply", K_BOOL },
    { "IsEncrypted", "isEncrypted", K_BOOL },
    { "IsMeetingRequest", "isMeetingRequest", K_BOOL },
    { "IsMeetingResponse", "isMeetingResponse", K_BOOL },
    { "IsNDR", "isNonDeliveryReport", K_BOOL },
    { "IsPermissionControlled", "isPermissionControlled", K_BOOL },
    { "IsReadReceipt", "isReadReceipt", K_BOOL },
    { "IsSigned", "isSigned", K_BOOL },
    { "IsVoicemail", "isVoicemail", K_BOOL },
    { "ItemClasses", NULL, K_NONE },
    { "MessageClassifications", NULL, K_NONE },
    { "NotSentToMe", "notSentToMe", K_BOOL },
    { "SentCcMe", "sentCcMe", K_BOOL },
    { "SentOnlyToMe", "sentOnlyToMe", K_BOOL },
    { "SentToAddresses", "sentToAddresses", K_ADDRS },
    { "SentToMe", "sentToMe", K_BOOL },
    { "SentToOrCcMe", "sentToOrCcMe", K_BOOL },
    { "Sensitivity", "sensitivity", K_SENSITIVITY },
    { "WithinDateRange", NULL, K_NONE },
    { "WithinSizeRange", "withinSizeRange", K_SIZE },
    { NULL, NULL, K_NONE },
};

/* RuleActionsType in schema order. */
static const field acts[] = {
    { "AssignCategories", "assignCategories", K_STRINGS },
    { "CopyToFolder", "copyToFolder", K_FOLDER },
    { "Delete", "delete", K_BOOL },
    { "ForwardAsAttachmentToRecipients", "forwardAsAttachmentTo", K_ADDRS },
    { "ForwardToRecipients", "forwardTo", K_ADDRS },
    { "MarkImportance", "markImportance", K_IMPORTANCE },
    { "MarkAsRead", "markAsRead", K_BOOL },
    { "MoveToFolder", "moveToFolder", K_FOLDER },
    { "PermanentDelete", "permanentDelete", K_BOOL },
    { "RedirectToRecipients", "redirectTo", K_ADDRS },
    { "SendSMSAlertToRecipients", NULL, K_NONE },
    { "ServerReplyWithMessage", NULL, K_NONE },
    { "StopProcessingRules", "stopProcessingRules", K_BOOL },
    { NULL, NULL, K_NONE },
};

/* Graph enum members (CSDL importance, sensitivity, messageActionFlag); the
 * EWS value is the same word with a capital (FYI excepted). */
static const char *const importance[] = { "low", "normal", "high", NULL };
static const char *const sensitivity[] = { "normal", "personal", "private", "confidential", NULL };
static const char *const flags[] = { "any", "call", "doNotForward", "followUp", "fyi", "forward",
                                     "noResponseNecessary", "read", "reply", "replyToAll", "review", NULL };

static const char *const *members(fkind k)
{
    return k == K_IMPORTANCE ? importance : k == K_SENSITIVITY ? sensitivity : flags;
}

static const char *type_name(fkind k)
{
    static const char *const names[] = { "Collection(Edm.String)", "Collection(microsoft.graph.recipient)",
                                         "Edm.Boolean", "microsoft.graph.importance",
                                         "microsoft.graph.sensitivity", "microsoft.graph.messageActionFlag",
                                         "microsoft.graph.sizeRange", "Edm.String", "" };
    return names[k];
}

/* ---- EWS → Graph ---------------------------------------------------------------- */

static json_t *enum_to_graph(const char *ews)
{
    if (!strcmp(ews, "FYI"))
        return json_string("fyi");
    char buf[64];
    snprintf(buf, sizeof buf, "%s", ews);
    buf[0] = (char)tolower((unsigned char)buf[0]);
    return json_string(buf);
}

static json_t *addrs_to_graph(exsim_gcall *c, xmlNodePtr list)
{
    json_t *arr = json_array();
    for (xmlNodePtr a = exsim_child(list, EXSIM_NS_T, "Address"); a; a = exsim_next(a, EXSIM_NS_T, "Address")) {
        const char *addr = exsim_text(exsim_child(a, EXSIM_NS_T, "EmailAddress"));
        xmlNodePtr name = exsim_child(a, EXSIM_NS_T, "Name");
        exsim_mbx *m = exsim_store_mbx_by_addr(c->org, addr);
        if (m)                      /* Graph shows recipients of the organisation by SMTP */
            addr = m->info.smtp;
        json_t *ea = json_pack("{s:s}", "address", addr);
        /* only a stored name: writing the answer back must give the same rule */
        if (name)
            json_object_set_new(ea, "name", json_string(exsim_text(name)));
        json_array_append_new(arr, json_pack("{s:o}", "emailAddress", ea));
    }
    return arr;
}

static json_t *folder_to_graph(exsim_gcall *c, xmlNodePtr target)
{
    xmlNodePtr id = exsim_first_el(target);
    xmlNodePtr f = NULL;
    if (exsim_is(id, EXSIM_NS_T, "DistinguishedFolderId")) {
        f = exsim_store_distinguished(c->mbx, exsim_attr(id, "Id"));
    } else if (id) {
        uint8_t guid[16];
        int kind;
        uint64_t counter;
        if (exsim_id_ews_decode(exsim_attr(id, "Id") ? exsim_attr(id, "Id") : "", guid, &kind, &counter) == 0 &&
            !memcmp(guid, c->mbx->guid, 16))
            f = exsim_store_obj(c->mbx, counter);
    }
    if (!f)
        return json_string(exsim_attr(id, "Id") ? exsim_attr(id, "Id") : "");
    char *gid = exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(f));
    json_t *j = json_string(gid ? gid : "");
    free(gid);
    return j;
}

static json_t *value_to_graph(exsim_gcall *c, const field *f, xmlNodePtr el)
{
    switch (f->k) {
    case K_STRINGS: {
        json_t *arr = json_array();
        for (xmlNodePtr s = exsim_first_el(el); s; s = exsim_next_el(s))
            json_array_append_new(arr, json_string(exsim_text(s)));
        return arr;
    }
    case K_ADDRS: return addrs_to_graph(c, el);
    case K_BOOL: return json_boolean(!strcmp(exsim_text(el), "true") || !strcmp(exsim_text(el), "1"));
    case K_IMPORTANCE:
    case K_SENSITIVITY:
    case K_FLAG: return enum_to_graph(exsim_text(el));
    case K_SIZE:
        return json_pack("{s:i,s:i}", "minimumSize", atoi(exsim_text(exsim_child(el, EXSIM_NS_T, "MinimumSize"))),
                         "maximumSize", atoi(exsim_text(exsim_child(el, EXSIM_NS_T, "MaximumSize"))));
    case K_FOLDER: return folder_to_graph(c, el);
    case K_NONE: break;
    }
    return json_null();
}

/* A predicates/actions element → its Graph object; *unmapped set when it holds
 * an element Graph has no property for. */
static json_t *part_to_graph(exsim_gcall *c, const field *table, xmlNodePtr part, int *unmapped)
{
    json_t *o = json_object();
    for (xmlNodePtr el = exsim_first_el(part); el; el = exsim_next_el(el)) {
        const field *f = table;
        while (f->ews && strcmp(f->ews, (const char *)el->name))
            f++;
        if (!f->ews || !f->graph) {
            *unmapped = 1;
            continue;
        }
        json_object_set_new(o, f->graph, value_to_graph(c, f, el));
    }
    return o;
}

static int is_true(xmlNodePtr el)
{
    return el && (!strcmp(exsim_text(el), "true") || !strcmp(exsim_text(el), "1"));
}

static int rule_read_only(exsim_gcall *c, xmlNodePtr rule, json_t **out)
{
    int unmapped = 0;
    json_t *cond = part_to_graph(c, preds, exsim_child(rule, EXSIM_NS_T, "Conditions"), &unmapped);
    json_t *exc = exsim_child(rule, EXSIM_NS_T, "Exceptions")
                      ? part_to_graph(c, preds, exsim_child(rule, EXSIM_NS_T, "Exceptions"), &unmapped) : NULL;
    json_t *act = part_to_graph(c, acts, exsim_child(rule, EXSIM_NS_T, "Actions"), &unmapped);
    int ro = unmapped || is_true(exsim_child(rule, EXSIM_NS_T, "IsNotSupported"));
    if (out) {
        *out = json_pack("{s:s,s:s,s:i,s:b,s:b,s:b,s:o,s:o}",
                         "id", exsim_text(exsim_child(rule, EXSIM_NS_T, "RuleId")),
                         "displayName", exsim_text(exsim_child(rule, EXSIM_NS_T, "DisplayName")),
                         "sequence", atoi(exsim_text(exsim_child(rule, EXSIM_NS_T, "Priority"))),
                         "isEnabled", is_true(exsim_child(rule, EXSIM_NS_T, "IsEnabled")),
                         "hasError", is_true(exsim_child(rule, EXSIM_NS_T, "IsInError")),
                         "isReadOnly", ro, "conditions", cond, "actions", act);
        if (exc)
            json_object_set_new(*out, "exceptions", exc);
    } else {
        json_decref(cond);
        json_decref(exc);
        json_decref(act);
    }
    return ro;
}

static json_t *rule_to_graph(exsim_gcall *c, xmlNodePtr rule)
{
    json_t *j = NULL;
    rule_read_only(c, rule, &j);
    return j;
}

/* ---- Graph → EWS ------------------------------------------------------------------ */

#define BAD_TYPE(f) exsim_graph_error(c, 400, "RequestBodyRead", \
    "Cannot convert the value of property '%s' to the expected type '%s'.", (f)->graph, type_name((f)->k))

static int add_addrs(exsim_gcall *c, const field *f, xmlNodePtr list, json_t *v)
{
    xmlNsPtr t = list->ns;
    size_t i;
    json_t *r;
    json_array_foreach(v, i, r) {
        json_t *ea = json_object_get(r, "emailAddress");
        const char *addr = json_string_value(json_object_get(ea, "address"));
        const char *name = json_string_value(json_object_get(ea, "name"));
        if (!addr || !*addr)
            return BAD_TYPE(f);
        xmlNodePtr a = xmlNewChild(list, t, BAD_CAST "Address", NULL);
        if (name)
            xmlNewTextChild(a, t, BAD_CAST "Name", BAD_CAST name);
        xmlNewTextChild(a, t, BAD_CAST "EmailAddress", BAD_CAST addr);
        xmlNewTextChild(a, t, BAD_CAST "RoutingType", BAD_CAST "SMTP");
    }
    return 0;
}

static int enum_to_ews(const field *f, const char *v, char *out, size_t outlen)
{
    for (const char *const *m = members(f->k); *m; m++) {
        if (strcmp(*m, v))
            continue;
        if (!strcmp(v, "fyi")) {
            snprintf(out, outlen, "FYI");
        } else {
            snprintf(out, outlen, "%s", v);
            out[0] = (char)toupper((unsigned char)out[0]);
        }
        return 0;
    }
    return -1;
}

/* One Graph value → the EWS element el (already created). */
static int value_to_ews(exsim_gcall *c, const field *f, xmlNodePtr el, json_t *v)
{
    xmlNsPtr t = el->ns;
    char buf[64];
    size_t i;
    json_t *s;
    switch (f->k) {
    case K_STRINGS:
        if (!json_is_array(v))
            return BAD_TYPE(f);
        json_array_foreach(v, i, s) {
            if (!json_is_string(s))
                return BAD_TYPE(f);
            xmlNewTextChild(el, t, BAD_CAST "String", BAD_CAST json_string_value(s));
        }
        return 0;
    case K_ADDRS:
        return json_is_array(v) ? add_addrs(c, f, el, v) : BAD_TYPE(f);
    case K_BOOL:
        if (!json_is_boolean(v))
            return BAD_TYPE(f);
        xmlNodeSetContent(el, BAD_CAST (json_is_true(v) ? "true" : "false"));
        return 0;
    case K_IMPORTANCE:
    case K_SENSITIVITY:
    case K_FLAG:
        if (!json_is_string(v) || enum_to_ews(f, json_string_value(v), buf, sizeof buf))
            return exsim_graph_error(c, 400, "RequestBodyRead",
                                     "The value '%s' of property '%s' is not a member of '%s'.",
                                     json_is_string(v) ? json_string_value(v) : "(not a string)", f->graph,
                                     type_name(f->k));
        xmlNodeSetContent(el, BAD_CAST buf);
        return 0;
    case K_SIZE: {
        json_t *lo = json_object_get(v, "minimumSize"), *hi = json_object_get(v, "maximumSize");
        if (!json_is_object(v) || (lo && !json_is_integer(lo)) || (hi && !json_is_integer(hi)))
            return BAD_TYPE(f);
        snprintf(buf, sizeof buf, "%lld", lo ? (long long)json_integer_value(lo) : 0LL);
        xmlNewTextChild(el, t, BAD_CAST "MinimumSize", BAD_CAST buf);
        snprintf(buf, sizeof buf, "%lld", hi ? (long long)json_integer_value(hi) : 0LL);
        xmlNewTextChild(el, t, BAD_CAST "MaximumSize", BAD_CAST buf);
        return 0;
    }
    case K_FOLDER: {
        xmlNodePtr folder = json_is_string(v) ? exsim_graph_folder(c->mbx, json_string_value(v)) : NULL;
        if (!json_is_string(v))
            return BAD_TYPE(f);
        if (!folder)
            return exsim_graph_error(c, 400, "ErrorInvalidIdMalformed", "Id is malformed.");
        char *ews = exsim_id_ews(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(folder));
        xmlSetProp(xmlNewChild(el, t, BAD_CAST "FolderId", NULL), BAD_CAST "Id", BAD_CAST(ews ? ews : ""));
        free(ews);
        return 0;
    }
    case K_NONE: break;
    }
    return BAD_TYPE(f);
}

/* A Graph messageRulePredicates / messageRuleActions object → element `name`
 * under rule, children in schema order (the table's order). */
static int part_to_ews(exsim_gcall *c, const field *table, const char *type, xmlNodePtr rule,
                       const char *name, json_t *obj)
{
    if (!json_is_object(obj))
        return exsim_graph_error(c, 400, "RequestBodyRead", "The property '%s' must be an object of type "
                                 "'microsoft.graph.%s'.", name, type);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        const field *f = table;
        while (f->ews && (!f->graph || strcmp(f->graph, k)))
            f++;
        if (!f->ews && strncmp(k, "@odata.", 7))
            return exsim_graph_error(c, 400, "RequestBodyRead", "The property '%s' does not exist on type "
                                     "'microsoft.graph.%s'. Make sure to only use property names that are "
                                     "defined by the type or mark the type as open type.", k, type);
    }
    xmlNodePtr part = xmlNewChild(rule, rule->ns, BAD_CAST name, NULL);
    for (const field *f = table; f->ews; f++) {
        v = f->graph ? json_object_get(obj, f->graph) : NULL;
        if (!v || json_is_null(v))
            continue;
        xmlNodePtr el = xmlNewChild(part, rule->ns, BAD_CAST f->ews, NULL);
        if (value_to_ews(c, f, el, v))
            return 400;
        /* An empty list or a false flag is no condition at all in EWS. */
        if ((f->k == K_STRINGS || f->k == K_ADDRS) && !exsim_first_el(el)) {
            xmlUnlinkNode(el);
            xmlFreeNode(el);
        }
    }
    return 0;
}

static const char *const rule_props[] = { "id", "displayName", "sequence", "isEnabled", "hasError",
                                          "isReadOnly", "conditions", "actions", "exceptions", NULL };

/* The whole Graph rule g → a new stored t:Rule (not linked); NULL with c->out set. */
static xmlNodePtr rule_to_ews(exsim_gcall *c, json_t *g, int *status)
{
    const char *k;
    json_t *v;
    json_object_foreach(g, k, v) {
        int known = !strncmp(k, "@odata.", 7);
        for (int i = 0; rule_props[i] && !known; i++)
            known = !strcmp(rule_props[i], k);
        if (!known) {
            *status = exsim_graph_error(c, 400, "RequestBodyRead", "The property '%s' does not exist on type "
                                        "'microsoft.graph.messageRule'. Make sure to only use property names that "
                                        "are defined by the type or mark the type as open type.", k);
            return NULL;
        }
    }
    json_t *name = json_object_get(g, "displayName"), *seq = json_object_get(g, "sequence");
    json_t *en = json_object_get(g, "isEnabled");
    if (!json_is_string(name) || !json_is_integer(seq) || (en && !json_is_boolean(en))) {
        *status = exsim_graph_error(c, 400, "ErrorInvalidRequest",
                                    "displayName (Edm.String), sequence (Edm.Int32) and isEnabled (Edm.Boolean) "
                                    "must be valid.");
        return NULL;
    }
    if (!json_is_object(json_object_get(g, "actions")) || !json_object_size(json_object_get(g, "actions"))) {
        *status = exsim_graph_error(c, 400, "ErrorInvalidRequest", "A rule needs at least one action.");
        return NULL;
    }
    xmlNsPtr t = exsim_store_ns_t(c->org);
    xmlNodePtr rule = xmlNewDocNode(c->org->doc, t, BAD_CAST "Rule", NULL);
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(seq));
    xmlNewTextChild(rule, t, BAD_CAST "DisplayName", BAD_CAST json_string_value(name));
    xmlNewTextChild(rule, t, BAD_CAST "Priority", BAD_CAST buf);
    xmlNewTextChild(rule, t, BAD_CAST "IsEnabled", BAD_CAST (!en || json_is_true(en) ? "true" : "false"));
    *status = 0;
    if (json_object_get(g, "conditions"))
        *status = part_to_ews(c, preds, "messageRulePredicates", rule, "Conditions", json_object_get(g, "conditions"));
    if (!*status && json_object_get(g, "exceptions"))
        *status = part_to_ews(c, preds, "messageRulePredicates", rule, "Exceptions", json_object_get(g, "exceptions"));
    if (!*status)
        *status = part_to_ews(c, acts, "messageRuleActions", rule, "Actions", json_object_get(g, "actions"));
    if (*status) {
        xmlFreeNode(rule);
        return NULL;
    }
    return rule;
}

/* ---- the endpoints ------------------------------------------------------------------ */

static int list_rules(exsim_gcall *c, xmlNodePtr rules)
{
    json_t *value = json_array();
    for (xmlNodePtr ru = exsim_child(rules, EXSIM_NS_T, "Rule"); ru; ru = exsim_next(ru, EXSIM_NS_T, "Rule"))
        json_array_append_new(value, rule_to_graph(c, ru));
    c->out = json_pack("{s:o,s:o}", "@odata.context",
                       exsim_graph_context(c, "users('%s')/mailFolders('inbox')/messageRules", c->user_key),
                       "value", value);
    return 200;
}

static int answer_rule(exsim_gcall *c, xmlNodePtr rule, int status)
{
    json_t *j = rule_to_graph(c, rule);
    json_object_set_new(j, "@odata.context",
                        exsim_graph_context(c, "users('%s')/mailFolders('inbox')/messageRules/$entity", c->user_key));
    c->out = j;
    return status;
}

static int create_rule(exsim_gcall *c, xmlNodePtr rules)
{
    int status = 0;
    if (!c->body)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    xmlNodePtr rule = rule_to_ews(c, c->body, &status);
    if (!rule)
        return status;
    xmlAddChild(rules, rule);
    exsim_rule_new_id(rules, rule);
    return answer_rule(c, rule, 201);
}

/* PATCH: the stored rule as Graph sees it, the body's properties over it
 * (a complex property is replaced whole), back to EWS. */
static int update_rule(exsim_gcall *c, xmlNodePtr old)
{
    if (!c->body)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    json_t *g = rule_to_graph(c, old);
    json_object_update(g, c->body);
    int status = 0;
    xmlNodePtr rule = rule_to_ews(c, g, &status);
    json_decref(g);
    if (!rule)
        return status;
    xmlNodePtr rid = exsim_child(old, EXSIM_NS_T, "RuleId");
    xmlNodePtr id = xmlNewNode(rule->ns, BAD_CAST "RuleId");
    xmlNodeSetContent(id, BAD_CAST exsim_text(rid));
    exsim_insert_ordered(rule, id, exsim_rule_order);
    xmlReplaceNode(old, rule);
    xmlFreeNode(old);
    return answer_rule(c, rule, 200);
}

int exsim_graph_rules(exsim_gcall *c)
{
    /* Only a write creates the <rules> element: a read leaves /_sim/state alone. */
    xmlNodePtr rules = strcmp(c->method, "GET") ? exsim_rules_of(c->mbx) : exsim_child(c->mbx->node, NULL, "rules");
    if (c->nseg == 3)
        return !strcmp(c->method, "GET") ? list_rules(c, rules) : create_rule(c, rules);
    xmlNodePtr rule = exsim_rule_by_id(rules, c->seg[3]);
    if (!rule)
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    if (!strcmp(c->method, "GET"))
        return answer_rule(c, rule, 200);
    if (rule_read_only(c, rule, NULL))
        return exsim_graph_error(c, 400, "ErrorInvalidRequest",
                                 "The rule is read-only: it holds conditions or actions this API cannot "
                                 "represent.");
    if (!strcmp(c->method, "PATCH"))
        return update_rule(c, rule);
    xmlUnlinkNode(rule);
    xmlFreeNode(rule);
    return 204;
}
