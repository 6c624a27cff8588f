/* ews_rules.c — GetInboxRules, UpdateInboxRules.  Rules are kept as t:Rule
 * subtrees (with t:RuleId) under the mailbox's <rules next-id=N> element.
 * Like Exchange, condition addresses of the organisation's recipients come
 * back as EX legacyExchangeDNs. */
#include "tests/exsim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const exsim_rule_order[] = {"RuleId", "DisplayName", "Priority", "IsEnabled",
                                         "IsNotSupported", "IsInError", "Conditions",
                                         "Exceptions", "Actions", NULL};

static xmlNodePtr rules_of(exsim_mbx *m)
{
    xmlNodePtr rs = exsim_child(m->node, NULL, "rules");
    if (!rs)
        rs = xmlNewChild(m->node, NULL, BAD_CAST "rules", NULL);
    return rs;
}

xmlNodePtr exsim_rules_of(exsim_mbx *m)
{
    return rules_of(m);
}

static exsim_mbx *open_mailbox(exsim_req *r, const char *resp)
{
    xmlNodePtr a = exsim_child(r->op, EXSIM_NS_M, "MailboxSmtpAddress");
    const char *code = NULL;
    exsim_mbx *m = exsim_access(r, a ? exsim_text(a) : NULL, &code);
    if (!m)
        exsim_top_response(r, resp, code);
    return m;
}

/* SMTP addresses of known recipients → Name + legacyExchangeDN + EX. */
static void to_ex(exsim_req *r, xmlNodePtr preds)
{
    for (xmlNodePtr list = exsim_first_el(preds); list; list = exsim_next_el(list)) {
        if (!exsim_is(list, EXSIM_NS_T, "FromAddresses") && !exsim_is(list, EXSIM_NS_T, "SentToAddresses"))
            continue;
        for (xmlNodePtr a = exsim_first_el(list); a; a = exsim_next_el(a)) {
            xmlNodePtr ea = exsim_child(a, EXSIM_NS_T, "EmailAddress");
            xmlNodePtr rt = exsim_child(a, EXSIM_NS_T, "RoutingType");
            exsim_mbx *m = ea ? exsim_store_mbx_by_addr(r->org, exsim_text(ea)) : NULL;
            if (!m || !m->info.legacy_dn || (rt && strcmp(exsim_text(rt), "SMTP") != 0))
                continue;
            xmlNodeSetContent(ea, BAD_CAST m->info.legacy_dn);
            if (rt)
                xmlNodeSetContent(rt, BAD_CAST "EX");
            else
                xmlNodeSetContent(xmlAddNextSibling(ea, xmlNewNode(ea->ns, BAD_CAST "RoutingType")),
                                  BAD_CAST "EX");
        }
    }
}

int exsim_op_GetInboxRules(exsim_req *r)
{
    exsim_mbx *m = open_mailbox(r, "GetInboxRulesResponse");
    if (!m)
        return 200;
    xmlNodePtr top = exsim_top_response(r, "GetInboxRulesResponse", NULL);
    exsim_m(r, top, "OutlookRuleBlobExists", "true");
    xmlNodePtr list = exsim_m(r, top, "InboxRules", NULL);
    for (xmlNodePtr ru = exsim_child(rules_of(m), EXSIM_NS_T, "Rule"); ru;
         ru = exsim_next(ru, EXSIM_NS_T, "Rule")) {
        xmlNodePtr out = exsim_copy_into(r, list, ru);
        to_ex(r, exsim_child(out, EXSIM_NS_T, "Conditions"));
        to_ex(r, exsim_child(out, EXSIM_NS_T, "Exceptions"));
    }
    return 200;
}

/* ---- UpdateInboxRules ---- */

typedef struct {
    int index;            /* operation index */
    const char *field;    /* RuleFieldURIType */
    const char *code;     /* RuleValidationErrorCodeType */
    const char *value;
} rule_err;

xmlNodePtr exsim_rule_by_id(xmlNodePtr rules, const char *id)
{
    for (xmlNodePtr ru = exsim_child(rules, EXSIM_NS_T, "Rule"); ru;
         ru = exsim_next(ru, EXSIM_NS_T, "Rule"))
        if (id && strcmp(exsim_text(exsim_child(ru, EXSIM_NS_T, "RuleId")), id) == 0)
            return ru;
    return NULL;
}

/* Folder ids in MoveToFolder/CopyToFolder must name folders of this mailbox. */
static int check_folders(exsim_req *r, exsim_mbx *m, xmlNodePtr rule, rule_err *e)
{
    static const char *const acts[] = {"MoveToFolder", "CopyToFolder", NULL};
    static const char *const uris[] = {"Action:MoveToFolder", "Action:CopyToFolder", NULL};
    xmlNodePtr actions = exsim_child(rule, EXSIM_NS_T, "Actions");
    for (int i = 0; acts[i]; i++) {
        xmlNodePtr a = exsim_child(actions, EXSIM_NS_T, acts[i]);
        xmlNodePtr id = exsim_first_el(a);
        if (!id)
            continue;
        exsim_mbx *fm = NULL;
        const char *code = NULL;
        xmlNodePtr f = exsim_resolve_folder(r, id, &fm, &code);
        if (!f || fm != m) {
            e->field = uris[i];
            e->code = code && strcmp(code, "ErrorInvalidIdMalformed") == 0 ? "InvalidFolderId"
                                                                             : "FolderDoesNotExist";
            e->value = exsim_attr(id, "Id") ? exsim_attr(id, "Id") : "";
            return -1;
        }
    }
    r->mailbox = m->info.smtp;
    return 0;
}

/* EX addresses must name recipients of this organisation (a source-side
 * legacyExchangeDN left in a rule written to the target is refused). */
static int check_addresses(exsim_req *r, xmlNodePtr rule, rule_err *e)
{
    static const char *const parts[] = {"Conditions", "Condition", "Exceptions", "Exception",
                                        "Actions", "Action", NULL};
    static char field[64];
    for (int p = 0; parts[p]; p += 2) {
        for (xmlNodePtr list = exsim_first_el(exsim_child(rule, EXSIM_NS_T, parts[p])); list;
             list = exsim_next_el(list)) {
            for (xmlNodePtr a = exsim_child(list, EXSIM_NS_T, "Address"); a;
                 a = exsim_next(a, EXSIM_NS_T, "Address")) {
                xmlNodePtr rt = exsim_child(a, EXSIM_NS_T, "RoutingType");
                const char *addr = exsim_text(exsim_child(a, EXSIM_NS_T, "EmailAddress"));
                if (!rt || strcmp(exsim_text(rt), "EX") != 0 || exsim_store_mbx_by_addr(r->org, addr))
                    continue;
                snprintf(field, sizeof field, "%s:%s", parts[p + 1], (const char *)list->name);
                e->field = field;
                e->code = "RecipientDoesNotExist";
                e->value = addr;
                return -1;
            }
        }
    }
    return 0;
}

void exsim_rule_new_id(xmlNodePtr rules, xmlNodePtr rule)
{
    const char *nx = exsim_attr(rules, "next-id");
    unsigned long n = nx ? strtoul(nx, NULL, 10) : 1;
    while (1) {
        char id[32];
        snprintf(id, sizeof id, "R%lu", n++);
        if (exsim_rule_by_id(rules, id))
            continue;
        xmlNodePtr el = xmlNewNode(rule->ns, BAD_CAST "RuleId");
        xmlNodeSetContent(el, BAD_CAST id);
        exsim_insert_ordered(rule, el, exsim_rule_order);
        char buf[32];
        snprintf(buf, sizeof buf, "%lu", n);
        xmlSetProp(rules, BAD_CAST "next-id", BAD_CAST buf);
        return;
    }
}

static int apply_op(exsim_req *r, exsim_mbx *m, xmlNodePtr rules, xmlNodePtr op, rule_err *e)
{
    xmlNodePtr spec = exsim_child(op, EXSIM_NS_T, "Rule");
    if (exsim_is(op, EXSIM_NS_T, "DeleteRuleOperation")) {
        const char *id = exsim_text(exsim_child(op, EXSIM_NS_T, "RuleId"));
        xmlNodePtr old = exsim_rule_by_id(rules, id);
        if (!old) {
            *e = (rule_err){e->index, "RuleId", "RuleNotFound", id};
            return -1;
        }
        xmlUnlinkNode(old);
        xmlFreeNode(old);
        return 0;
    }
    xmlNodePtr rid = exsim_child(spec, EXSIM_NS_T, "RuleId");
    int create = exsim_is(op, EXSIM_NS_T, "CreateRuleOperation");
    if (create && rid) {
        *e = (rule_err){e->index, "RuleId", "CreateWithRuleId", exsim_text(rid)};
        return -1;
    }
    xmlNodePtr old = create ? NULL : exsim_rule_by_id(rules, rid ? exsim_text(rid) : NULL);
    if (!create && !old) {
        *e = (rule_err){e->index, "RuleId", "RuleNotFound", rid ? exsim_text(rid) : ""};
        return -1;
    }
    if (!exsim_child(spec, EXSIM_NS_T, "Actions")) {
        *e = (rule_err){e->index, "Actions", "MissingAction", ""};
        return -1;
    }
    if (check_folders(r, m, spec, e) != 0 || check_addresses(r, spec, e) != 0)
        return -1;
    xmlNodePtr copy = exsim_store_copy(r->org, rules, spec);
    if (create)
        exsim_rule_new_id(rules, copy);
    else {
        xmlUnlinkNode(copy);
        xmlReplaceNode(old, copy);
        xmlFreeNode(old);
    }
    return 0;
}

static void report_error(exsim_req *r, const rule_err *e)
{
    xmlNodePtr top = exsim_top_response(r, "UpdateInboxRulesResponse", "ErrorInboxRulesValidationError");
    xmlNodePtr errs = exsim_m(r, top, "RuleOperationErrors", NULL);
    xmlNodePtr oe = exsim_t(r, errs, "RuleOperationError", NULL);
    char buf[32];
    snprintf(buf, sizeof buf, "%d", e->index);
    exsim_t(r, oe, "OperationIndex", buf);
    xmlNodePtr ve = exsim_t(r, exsim_t(r, oe, "ValidationErrors", NULL), "Error", NULL);
    exsim_t(r, ve, "FieldURI", e->field);
    exsim_t(r, ve, "ErrorCode", e->code);
    exsim_t(r, ve, "ErrorMessage", "The rule operation is not valid.");
    exsim_t(r, ve, "FieldValue", e->value ? e->value : "");
}

int exsim_op_UpdateInboxRules(exsim_req *r)
{
    exsim_mbx *m = open_mailbox(r, "UpdateInboxRulesResponse");
    if (!m)
        return 200;
    /* All or nothing: work on a scratch copy, swap it in when every operation passed. */
    xmlNodePtr rules = rules_of(m);
    /* exsim_store_copy: a parentless copy would declare xmlns:t on each
     * copied rule, and the declarations would stay in the store's dump. */
    xmlNodePtr scratch = exsim_store_copy(r->org, m->node, rules);
    xmlUnlinkNode(scratch);
    xmlAddNextSibling(rules, scratch);
    rule_err e = {0};
    int idx = 0;
    for (xmlNodePtr op = exsim_first_el(exsim_child(r->op, EXSIM_NS_M, "Operations")); op;
         op = exsim_next_el(op), idx++) {
        e.index = idx;
        if (apply_op(r, m, scratch, op, &e) != 0) {
            xmlUnlinkNode(scratch);
            xmlFreeNode(scratch);
            report_error(r, &e);
            return 200;
        }
    }
    xmlUnlinkNode(rules);
    xmlFreeNode(rules);
    exsim_top_response(r, "UpdateInboxRulesResponse", NULL);
    r->mailbox = m->info.smtp;
    return 200;
}
