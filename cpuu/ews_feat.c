/* ews_feat.c — delegate, inbox-rule and ResolveNames requests and answers
 * for the cpuu features (see ews_feat.h).  Built with libxml2's tree API:
 * values go in as text nodes (escaped), never pasted into markup. */
#include "cpuu/ews_feat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const ewsf_perm_folders[EWSF_NPERM] = {"Calendar", "Tasks",  "Inbox",
                                                    "Contacts", "Notes", "Journal"};

sr_code ewsf_msg_status(xmlNodePtr msg, sr_err *err)
{
    char *code = mapi_xml_child_text(msg, EWSF_NS_M, "ResponseCode");
    if (!code)
        return sr_err_set(err, SR_E_PROTOCOL, "EWS answer without a ResponseCode");
    sr_class cls;
    sr_code rc = mapi_ews_code(code, &cls);
    if (rc != SR_OK) {
        char *text = mapi_xml_child_text(msg, EWSF_NS_M, "MessageText");
        sr_err_set(err, rc, "%s%s%s", code, text ? ": " : "", text ? text : "");
        if (err)
            err->cls = cls;
        free(text);
    }
    free(code);
    return rc;
}

/* Number of element children of msgs (the response messages). */
static size_t count_msgs(xmlNodePtr msgs)
{
    size_t cnt = 0;
    for (xmlNodePtr m = mapi_xml_child(msgs, NULL, NULL); m; m = mapi_xml_next(m, NULL, NULL))
        cnt++;
    return cnt;
}

sr_code ewsf_parse_list(xmlNodePtr resp_op, const char *container, const char *what,
                        xmlNodePtr **v, size_t *n, unsigned *nbad, sr_err *err)
{
    *v = NULL;
    *n = 0;
    *nbad = 0;
    xmlNodePtr msgs = mapi_xml_child(resp_op, EWSF_NS_M, "ResponseMessages");
    if (!msgs)
        return sr_err_set(err, SR_E_PROTOCOL, "%s answer without ResponseMessages", what);
    size_t cnt = count_msgs(msgs);
    *v = calloc(cnt ? cnt : 1, sizeof **v);
    if (!*v)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    sr_code first = SR_OK;
    for (xmlNodePtr m = mapi_xml_child(msgs, NULL, NULL); m; m = mapi_xml_next(m, NULL, NULL)) {
        sr_err e = {0};
        if (ewsf_msg_status(m, &e) != SR_OK) {
            (*nbad)++;
            if (first == SR_OK && err)
                *err = e;
            first = first == SR_OK ? e.code : first;
            (*v)[(*n)++] = NULL;
            continue;
        }
        (*v)[(*n)++] = mapi_xml_child(mapi_xml_child(m, EWSF_NS_M, container), EWSF_NS_T, NULL);
    }
    return first;
}

/* ---- envelope ---- */
static xmlDocPtr finish(mapi_ews_env *e, int failed, sr_err *err)
{
    if (failed || !e->body) {
        xmlFreeDoc(e->doc);
        sr_err_set(err, SR_E_NOMEM, "out of memory building an EWS request");
        return NULL;
    }
    return e->doc;
}

/* ---- delegates ---- */
void ewsf_delegate_clear(ewsf_delegate *d)
{
    if (!d)
        return;
    free(d->smtp);
    free(d->display_name);
    free(d->sid);
    for (int i = 0; i < EWSF_NPERM; i++)
        free(d->perm[i]);
    memset(d, 0, sizeof *d);
}

void ewsf_delegates_clear(ewsf_delegates *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        ewsf_delegate_clear(&l->v[i]);
    free(l->v);
    free(l->deliver);
    free(l->first_bad);
    memset(l, 0, sizeof *l);
}

static char *dup_or_null(const char *s)
{
    return s ? sr_strdup(s) : NULL;
}

sr_code ewsf_delegates_add(ewsf_delegates *l, const ewsf_delegate *d, sr_err *err)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        ewsf_delegate *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv)
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        l->v = nv;
        l->cap = nc;
    }
    ewsf_delegate *c = &l->v[l->n];
    memset(c, 0, sizeof *c);
    c->smtp = dup_or_null(d->smtp);
    c->display_name = dup_or_null(d->display_name);
    c->sid = dup_or_null(d->sid);
    for (int i = 0; i < EWSF_NPERM; i++)
        c->perm[i] = dup_or_null(d->perm[i]);
    c->receive_copies = d->receive_copies;
    c->view_private = d->view_private;
    l->n++;
    return SR_OK;
}

static xmlNodePtr add_mailbox(mapi_ews_env *e, xmlNodePtr op, const char *mailbox)
{
    xmlNodePtr mb = mapi_xml_add(op, e->ns_m, "Mailbox", NULL);
    mapi_xml_add(mb, e->ns_t, "EmailAddress", mailbox);
    return mb;
}

xmlDocPtr ewsf_req_getdelegate(const mapi_ews_target *t, const char *mailbox, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = mapi_xml_add(e.body, e.ns_m, "GetDelegate", NULL);
    xmlNewProp(op, BAD_CAST "IncludePermissions", BAD_CAST "true");
    return finish(&e, !add_mailbox(&e, op, mailbox), err);
}

/* One t:DelegateUser; only the fields that are set (UpdateDelegate changes
 * exactly those). */
static void add_delegate(mapi_ews_env *e, xmlNodePtr parent, const ewsf_delegate *d)
{
    xmlNodePtr du = mapi_xml_add(parent, e->ns_t, "DelegateUser", NULL);
    xmlNodePtr uid = mapi_xml_add(du, e->ns_t, "UserId", NULL);
    mapi_xml_add(uid, e->ns_t, "PrimarySmtpAddress", d->smtp);
    int any = 0;
    for (int i = 0; i < EWSF_NPERM; i++)
        any |= d->perm[i] != NULL;
    if (any) {
        xmlNodePtr p = mapi_xml_add(du, e->ns_t, "DelegatePermissions", NULL);
        for (int i = 0; i < EWSF_NPERM; i++) {
            if (!d->perm[i])
                continue;
            char name[64];
            snprintf(name, sizeof name, "%sFolderPermissionLevel", ewsf_perm_folders[i]);
            mapi_xml_add(p, e->ns_t, name, d->perm[i]);
        }
    }
    if (d->receive_copies >= 0)
        mapi_xml_add(du, e->ns_t, "ReceiveCopiesOfMeetingMessages", d->receive_copies ? "true" : "false");
    if (d->view_private >= 0)
        mapi_xml_add(du, e->ns_t, "ViewPrivateItems", d->view_private ? "true" : "false");
}

static xmlDocPtr change_delegates(const char *opname, const mapi_ews_target *t,
                                  const char *mailbox, const ewsf_delegate *d, size_t n,
                                  const char *deliver, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = mapi_xml_add(e.body, e.ns_m, opname, NULL);
    add_mailbox(&e, op, mailbox);
    if (n) {
        xmlNodePtr users = mapi_xml_add(op, e.ns_m, "DelegateUsers", NULL);
        for (size_t i = 0; i < n; i++)
            add_delegate(&e, users, &d[i]);
    }
    if (deliver)
        mapi_xml_add(op, e.ns_m, "DeliverMeetingRequests", deliver);
    return finish(&e, !op, err);
}

xmlDocPtr ewsf_req_adddelegate(const mapi_ews_target *t, const char *mailbox,
                               const ewsf_delegate *d, size_t n, const char *deliver, sr_err *err)
{
    if (n == 0) {
        sr_err_set(err, SR_E_INVALID, "%s: AddDelegate needs at least one delegate", mailbox);
        return NULL;
    }
    return change_delegates("AddDelegate", t, mailbox, d, n, deliver, err);
}

xmlDocPtr ewsf_req_updatedelegate(const mapi_ews_target *t, const char *mailbox,
                                  const ewsf_delegate *d, size_t n, const char *deliver,
                                  sr_err *err)
{
    return change_delegates("UpdateDelegate", t, mailbox, d, n, deliver, err);
}

xmlDocPtr ewsf_req_removedelegate(const mapi_ews_target *t, const char *mailbox,
                                  const char *const *smtp, size_t n, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = mapi_xml_add(e.body, e.ns_m, "RemoveDelegate", NULL);
    add_mailbox(&e, op, mailbox);
    xmlNodePtr ids = mapi_xml_add(op, e.ns_m, "UserIds", NULL);
    for (size_t i = 0; i < n; i++)
        mapi_xml_add(mapi_xml_add(ids, e.ns_t, "UserId", NULL), e.ns_t, "PrimarySmtpAddress", smtp[i]);
    return finish(&e, !ids, err);
}

static int parse_bool(const char *s)
{
    if (!s)
        return -1;
    return strcmp(s, "true") == 0 || strcmp(s, "1") == 0;
}

static sr_code parse_delegate(xmlNodePtr du, ewsf_delegate *d, sr_err *err)
{
    memset(d, 0, sizeof *d);
    xmlNodePtr uid = mapi_xml_child(du, EWSF_NS_T, "UserId");
    d->smtp = mapi_xml_child_text(uid, EWSF_NS_T, "PrimarySmtpAddress");
    d->display_name = mapi_xml_child_text(uid, EWSF_NS_T, "DisplayName");
    d->sid = mapi_xml_child_text(uid, EWSF_NS_T, "SID");
    xmlNodePtr p = mapi_xml_child(du, EWSF_NS_T, "DelegatePermissions");
    for (int i = 0; i < EWSF_NPERM; i++) {
        char name[64];
        snprintf(name, sizeof name, "%sFolderPermissionLevel", ewsf_perm_folders[i]);
        d->perm[i] = mapi_xml_child_text(p, EWSF_NS_T, name);
    }
    char *rc = mapi_xml_child_text(du, EWSF_NS_T, "ReceiveCopiesOfMeetingMessages");
    char *vp = mapi_xml_child_text(du, EWSF_NS_T, "ViewPrivateItems");
    d->receive_copies = parse_bool(rc);
    d->view_private = parse_bool(vp);
    free(rc);
    free(vp);
    if (!d->smtp && !d->sid)
        return sr_err_set(err, SR_E_PROTOCOL, "DelegateUser without PrimarySmtpAddress or SID");
    return SR_OK;
}

sr_code ewsf_parse_getdelegate(xmlNodePtr resp_op, ewsf_delegates *out, sr_err *err)
{
    sr_code rc = ewsf_msg_status(resp_op, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr msgs = mapi_xml_child(resp_op, EWSF_NS_M, "ResponseMessages");
    for (xmlNodePtr m = msgs ? msgs->children : NULL; m; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        sr_err me = {0};
        if (ewsf_msg_status(m, &me) != SR_OK) {
            if (!out->bad++)
                out->first_bad = sr_strdup(me.msg);
            continue;
        }
        ewsf_delegate d;
        rc = parse_delegate(mapi_xml_child(m, EWSF_NS_M, "DelegateUser"), &d, err);
        if (rc == SR_OK)
            rc = ewsf_delegates_add(out, &d, err);
        ewsf_delegate_clear(&d);
        if (rc != SR_OK)
            return rc;
    }
    free(out->deliver);
    out->deliver = mapi_xml_child_text(resp_op, EWSF_NS_M, "DeliverMeetingRequests");
    return SR_OK;
}

sr_code ewsf_parse_delegate_changes(xmlNodePtr resp_op, size_t n, sr_code *codes, char **msgs,
                                    sr_err *err)
{
    for (size_t i = 0; i < n; i++) {
        codes[i] = SR_OK;
        msgs[i] = NULL;
    }
    sr_code first = ewsf_msg_status(resp_op, err);
    xmlNodePtr list = mapi_xml_child(resp_op, EWSF_NS_M, "ResponseMessages");
    size_t i = 0;
    for (xmlNodePtr m = list ? list->children : NULL; m && i < n; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        sr_err e = {0};
        codes[i] = ewsf_msg_status(m, &e);
        if (codes[i] != SR_OK) {
            msgs[i] = sr_strdup(e.msg);
            if (first == SR_OK) {
                first = codes[i];
                if (err)
                    *err = e;
            }
        }
        i++;
    }
    if (first == SR_OK && i < n)
        first = sr_err_set(err, SR_E_PROTOCOL, "%zu answers for %zu delegates", i, n);
    return first;
}

/* ---- inbox rules ---- */
xmlDocPtr ewsf_req_getinboxrules(const mapi_ews_target *t, const char *mailbox, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = mapi_xml_add(e.body, e.ns_m, "GetInboxRules", NULL);
    return finish(&e, !mapi_xml_add(op, e.ns_m, "MailboxSmtpAddress", mailbox), err);
}

/* Deep copy of a t: subtree into the request (every element in t:,
 * attributes and text kept), so no namespace of the source document leaks. */
static xmlNodePtr copy_t(mapi_ews_env *e, xmlNodePtr parent, xmlNodePtr src)
{
    xmlNodePtr n = xmlNewChild(parent, e->ns_t, src->name, NULL);
    if (!n)
        return NULL;
    for (xmlAttrPtr a = src->properties; a; a = a->next) {
        xmlChar *v = xmlNodeListGetString(src->doc, a->children, 1);
        xmlNewProp(n, a->name, v ? v : BAD_CAST "");
        xmlFree(v);
    }
    for (xmlNodePtr c = src->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (!copy_t(e, n, c))
                return NULL;
        } else if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            if (src->children == c && !c->next)    /* a leaf value: keep it */
                xmlNodeAddContent(n, c->content);
        }
    }
    return n;
}

static int add_rule(mapi_ews_env *e, xmlNodePtr parent, xmlNodePtr rule, int with_id)
{
    xmlNodePtr r = mapi_xml_add(parent, e->ns_t, "Rule", NULL);
    for (xmlNodePtr c = rule->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        const char *nm = (const char *)c->name;
        /* read-only flags of GetInboxRules are not part of a write */
        if (strcmp(nm, "IsNotSupported") == 0 || strcmp(nm, "IsInError") == 0)
            continue;
        if (strcmp(nm, "RuleId") == 0 && !with_id)
            continue;
        if (!copy_t(e, r, c))
            return -1;
    }
    return 0;
}

xmlDocPtr ewsf_req_updateinboxrules(const mapi_ews_target *t, const char *mailbox,
                                    int remove_blob, const ewsf_rule_op *ops, size_t n,
                                    sr_err *err)
{
    if (n == 0) {
        sr_err_set(err, SR_E_INVALID, "%s: UpdateInboxRules needs at least one operation", mailbox);
        return NULL;
    }
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = mapi_xml_add(e.body, e.ns_m, "UpdateInboxRules", NULL);
    mapi_xml_add(op, e.ns_m, "MailboxSmtpAddress", mailbox);
    mapi_xml_add(op, e.ns_m, "RemoveOutlookRuleBlob", remove_blob ? "true" : "false");
    xmlNodePtr list = mapi_xml_add(op, e.ns_m, "Operations", NULL);
    int failed = !list;
    for (size_t i = 0; i < n && !failed; i++) {
        static const char *const names[] = {"CreateRuleOperation", "SetRuleOperation",
                                            "DeleteRuleOperation"};
        xmlNodePtr o = mapi_xml_add(list, e.ns_t, names[ops[i].kind], NULL);
        if (ops[i].kind == EWSF_RULE_DELETE)
            failed = !mapi_xml_add(o, e.ns_t, "RuleId", ops[i].rule_id);
        else
            failed = add_rule(&e, o, ops[i].rule, ops[i].kind == EWSF_RULE_SET) != 0;
    }
    return finish(&e, failed, err);
}

sr_code ewsf_parse_getinboxrules(xmlNodePtr resp_op, xmlNodePtr **rules, size_t *n, int *blob,
                                 sr_err *err)
{
    *rules = NULL;
    *n = 0;
    sr_code rc = ewsf_msg_status(resp_op, err);
    if (rc != SR_OK)
        return rc;
    char *b = mapi_xml_child_text(resp_op, EWSF_NS_M, "OutlookRuleBlobExists");
    *blob = parse_bool(b) == 1;
    free(b);
    xmlNodePtr list = mapi_xml_child(resp_op, EWSF_NS_M, "InboxRules");
    size_t cnt = 0;
    for (xmlNodePtr r = mapi_xml_child(list, EWSF_NS_T, "Rule"); r; r = mapi_xml_next(r, EWSF_NS_T, "Rule"))
        cnt++;
    if (!cnt)
        return SR_OK;
    *rules = calloc(cnt, sizeof **rules);
    if (!*rules)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (xmlNodePtr r = mapi_xml_child(list, EWSF_NS_T, "Rule"); r; r = mapi_xml_next(r, EWSF_NS_T, "Rule"))
        (*rules)[(*n)++] = r;
    return SR_OK;
}

sr_code ewsf_parse_updateinboxrules(xmlNodePtr resp_op, int *op_index, sr_err *err)
{
    *op_index = -1;
    sr_code rc = ewsf_msg_status(resp_op, err);
    if (rc == SR_OK)
        return SR_OK;
    xmlNodePtr oe = mapi_xml_child(mapi_xml_child(resp_op, EWSF_NS_M, "RuleOperationErrors"), EWSF_NS_T,
                               "RuleOperationError");
    if (!oe)
        return rc;
    char *idx = mapi_xml_child_text(oe, EWSF_NS_T, "OperationIndex");
    xmlNodePtr ve = mapi_xml_child(mapi_xml_child(oe, EWSF_NS_T, "ValidationErrors"), EWSF_NS_T, "Error");
    char *field = mapi_xml_child_text(ve, EWSF_NS_T, "FieldURI");
    char *code = mapi_xml_child_text(ve, EWSF_NS_T, "ErrorCode");
    char *value = mapi_xml_child_text(ve, EWSF_NS_T, "FieldValue");
    if (idx)
        *op_index = atoi(idx);
    sr_err_prefix(err, "%s %s '%s': ", code ? code : "?", field ? field : "?", value ? value : "");
    free(idx);
    free(field);
    free(code);
    free(value);
    return rc;
}

/* ---- ResolveNames ---- */
xmlDocPtr ewsf_req_resolvenames(const mapi_ews_target *t, const char *entry, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = mapi_xml_add(e.body, e.ns_m, "ResolveNames", NULL);
    xmlNewProp(op, BAD_CAST "ReturnFullContactData", BAD_CAST "false");
    /* the directory only: a personal contact is no recipient of the org */
    xmlNewProp(op, BAD_CAST "SearchScope", BAD_CAST "ActiveDirectory");
    return finish(&e, !mapi_xml_add(op, e.ns_m, "UnresolvedEntry", entry), err);
}

sr_code ewsf_parse_resolvenames(xmlNodePtr resp_op, char **smtp, char **name, sr_err *err)
{
    *smtp = *name = NULL;
    xmlNodePtr msg = mapi_xml_child(mapi_xml_child(resp_op, EWSF_NS_M, "ResponseMessages"), EWSF_NS_M,
                                "ResolveNamesResponseMessage");
    if (!msg)
        return sr_err_set(err, SR_E_PROTOCOL, "ResolveNames answer without a response message");
    char *code = mapi_xml_child_text(msg, EWSF_NS_M, "ResponseCode");
    sr_code rc = SR_OK;
    if (code && strcmp(code, "ErrorNameResolutionNoResults") == 0)
        rc = sr_err_set(err, SR_E_NOTFOUND, "no match");
    else if (code && strcmp(code, "ErrorNameResolutionMultipleResults") == 0)
        rc = sr_err_set(err, SR_E_AMBIGUOUS, "several matches");
    else
        rc = ewsf_msg_status(msg, err);
    free(code);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr set = mapi_xml_child(msg, EWSF_NS_M, "ResolutionSet");
    xmlNodePtr r = mapi_xml_child(set, EWSF_NS_T, "Resolution");
    if (!r)
        return sr_err_set(err, SR_E_NOTFOUND, "no match");
    if (mapi_xml_next(r, EWSF_NS_T, "Resolution"))
        return sr_err_set(err, SR_E_AMBIGUOUS, "several matches");
    xmlNodePtr mb = mapi_xml_child(r, EWSF_NS_T, "Mailbox");
    *smtp = mapi_xml_child_text(mb, EWSF_NS_T, "EmailAddress");
    *name = mapi_xml_child_text(mb, EWSF_NS_T, "Name");
    if (!*smtp)
        return sr_err_set(err, SR_E_PROTOCOL, "ResolveNames resolution without EmailAddress");
    return SR_OK;
}

/* ---- serialisation ---- */
xmlChar *ewsf_dump_node(xmlNodePtr node, int *len)
{
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr c = d ? xmlDocCopyNode(node, d, 1) : NULL;
    xmlChar *out = NULL;
    *len = 0;
    if (c) {
        xmlDocSetRootElement(d, c);
        xmlReconciliateNs(d, c);
        xmlDocDumpMemoryEnc(d, &out, len, "UTF-8");
    }
    xmlFreeDoc(d);
    return out;
}
