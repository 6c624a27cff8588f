/* ews_delegates.c — GetDelegate, AddDelegate, UpdateDelegate, RemoveDelegate.
 * A mailbox's delegates are t:DelegateUser subtrees under its <delegates>
 * element (attribute deliver = DeliverMeetingRequests). */
#include "tests/exsim/store.h"

#include <string.h>
#include <strings.h>

xmlNodePtr exsim_delegates_of(exsim_mbx *m)
{
    xmlNodePtr d = exsim_child(m->node, NULL, "delegates");
    if (!d) {
        d = xmlNewChild(m->node, NULL, BAD_CAST "delegates", NULL);
        xmlSetProp(d, BAD_CAST "deliver", BAD_CAST "DelegatesAndSendInformationToMe");
    }
    return d;
}

/* The mailbox a t:UserId names (PrimarySmtpAddress), or NULL. */
static exsim_mbx *user_mbx(exsim_req *r, xmlNodePtr uid)
{
    xmlNodePtr smtp = exsim_child(uid, EXSIM_NS_T, "PrimarySmtpAddress");
    return smtp ? exsim_store_mbx_by_addr(r->org, exsim_text(smtp)) : NULL;
}

static xmlNodePtr find_delegate(exsim_req *r, xmlNodePtr dels, xmlNodePtr uid)
{
    exsim_mbx *want = user_mbx(r, uid);
    xmlNodePtr ws = exsim_child(uid, EXSIM_NS_T, "PrimarySmtpAddress");
    for (xmlNodePtr d = exsim_child(dels, EXSIM_NS_T, "DelegateUser"); d;
         d = exsim_next(d, EXSIM_NS_T, "DelegateUser")) {
        xmlNodePtr du = exsim_child(d, EXSIM_NS_T, "UserId");
        xmlNodePtr s = exsim_child(du, EXSIM_NS_T, "PrimarySmtpAddress");
        if (want && user_mbx(r, du) == want)
            return d;
        if (ws && s && strcasecmp(exsim_text(ws), exsim_text(s)) == 0)
            return d;
    }
    return NULL;
}

/* Opens the operation: the mailbox named by m:Mailbox, or an Error response. */
static exsim_mbx *open_mailbox(exsim_req *r, const char *resp_name)
{
    xmlNodePtr mb = exsim_child(r->op, EXSIM_NS_M, "Mailbox");
    xmlNodePtr ea = exsim_child(mb, EXSIM_NS_T, "EmailAddress");
    const char *code = NULL;
    exsim_mbx *m = exsim_access(r, ea ? exsim_text(ea) : NULL, &code);
    if (!m)
        exsim_top_response(r, resp_name, code);
    return m;
}

static void emit_delegate(exsim_req *r, xmlNodePtr msgs, xmlNodePtr d, int perms)
{
    xmlNodePtr msg = exsim_resp_message(msgs, "DelegateUserResponseMessageType", "NoError", NULL);
    xmlNodePtr out = exsim_copy_into(r, msg, d);
    xmlNodeSetName(out, BAD_CAST "DelegateUser");
    xmlSetNs(out, exsim_ns_m(r));
    if (!perms) {
        xmlNodePtr p = exsim_child(out, EXSIM_NS_T, "DelegatePermissions");
        xmlUnlinkNode(p);
        xmlFreeNode(p);
    }
}

static xmlNodePtr messages_el(exsim_req *r, xmlNodePtr top, xmlNodePtr *msgs)
{
    if (!*msgs)
        *msgs = exsim_m(r, top, "ResponseMessages", NULL);
    return *msgs;
}

static void deliver_el(exsim_req *r, xmlNodePtr top, xmlNodePtr dels)
{
    const char *v = exsim_attr(dels, "deliver");
    exsim_m(r, top, "DeliverMeetingRequests", v ? v : "DelegatesAndSendInformationToMe");
}

int exsim_op_GetDelegate(exsim_req *r)
{
    exsim_mbx *m = open_mailbox(r, "GetDelegateResponse");
    if (!m)
        return 200;
    const char *ip = exsim_attr(r->op, "IncludePermissions");
    int perms = ip && (strcmp(ip, "true") == 0 || strcmp(ip, "1") == 0);
    xmlNodePtr dels = exsim_delegates_of(m);
    xmlNodePtr top = exsim_top_response(r, "GetDelegateResponse", NULL), msgs = NULL;
    xmlNodePtr uids = exsim_child(r->op, EXSIM_NS_M, "UserIds");
    if (uids) {
        for (xmlNodePtr u = exsim_first_el(uids); u; u = exsim_next_el(u)) {
            xmlNodePtr d = find_delegate(r, dels, u);
            if (d)
                emit_delegate(r, messages_el(r, top, &msgs), d, perms);
            else
                exsim_error_msg(messages_el(r, top, &msgs), "DelegateUserResponseMessageType",
                                user_mbx(r, u) ? "ErrorNotDelegate" : "ErrorDelegateNoUser");
        }
    } else {
        for (xmlNodePtr d = exsim_child(dels, EXSIM_NS_T, "DelegateUser"); d;
             d = exsim_next(d, EXSIM_NS_T, "DelegateUser"))
            emit_delegate(r, messages_el(r, top, &msgs), d, perms);
    }
    deliver_el(r, top, dels);
    return 200;
}

static void set_deliver(xmlNodePtr dels, xmlNodePtr op)
{
    xmlNodePtr dmr = exsim_child(op, EXSIM_NS_M, "DeliverMeetingRequests");
    if (dmr)
        xmlSetProp(dels, BAD_CAST "deliver", BAD_CAST exsim_text(dmr));
}

/* Replace dst's child `name` with src's, keeping schema order. */
static void merge_child(exsim_req *r, xmlNodePtr dst, xmlNodePtr src, const char *name)
{
    static const char *const order[] = {"UserId", "DelegatePermissions",
                                        "ReceiveCopiesOfMeetingMessages", "ViewPrivateItems", NULL};
    xmlNodePtr v = exsim_child(src, EXSIM_NS_T, name);
    if (!v)
        return;
    xmlNodePtr old = exsim_child(dst, EXSIM_NS_T, name);
    xmlNodePtr c = exsim_store_copy(r->org, dst, v);
    xmlUnlinkNode(c);
    if (old) {
        xmlReplaceNode(old, c);
        xmlFreeNode(old);
    } else {
        exsim_insert_ordered(dst, c, order);
    }
}

/* A new stored delegate: UserId normalised to the directory's address and name. */
static xmlNodePtr add_one(exsim_req *r, xmlNodePtr dels, exsim_mbx *who, xmlNodePtr spec)
{
    xmlNsPtr t = exsim_store_ns_t(r->org);
    xmlNodePtr d = xmlNewChild(dels, t, BAD_CAST "DelegateUser", NULL);
    xmlNodePtr uid = xmlNewChild(d, t, BAD_CAST "UserId", NULL);
    xmlNewTextChild(uid, t, BAD_CAST "PrimarySmtpAddress", BAD_CAST who->info.smtp);
    if (who->info.display_name)
        xmlNewTextChild(uid, t, BAD_CAST "DisplayName", BAD_CAST who->info.display_name);
    if (!exsim_child(spec, EXSIM_NS_T, "DelegatePermissions"))
        xmlNewChild(d, t, BAD_CAST "DelegatePermissions", NULL);
    merge_child(r, d, spec, "DelegatePermissions");
    xmlNewTextChild(d, t, BAD_CAST "ReceiveCopiesOfMeetingMessages", BAD_CAST "false");
    xmlNewTextChild(d, t, BAD_CAST "ViewPrivateItems", BAD_CAST "false");
    merge_child(r, d, spec, "ReceiveCopiesOfMeetingMessages");
    merge_child(r, d, spec, "ViewPrivateItems");
    return d;
}

static int change_delegates(exsim_req *r, const char *resp, int adding)
{
    exsim_mbx *m = open_mailbox(r, resp);
    if (!m)
        return 200;
    xmlNodePtr dels = exsim_delegates_of(m);
    xmlNodePtr top = exsim_top_response(r, resp, NULL), msgs = NULL;
    xmlNodePtr users = exsim_child(r->op, EXSIM_NS_M, "DelegateUsers");
    for (xmlNodePtr spec = exsim_first_el(users); spec; spec = exsim_next_el(spec)) {
        xmlNodePtr uid = exsim_child(spec, EXSIM_NS_T, "UserId");
        exsim_mbx *who = user_mbx(r, uid);
        xmlNodePtr d = find_delegate(r, dels, uid);
        const char *code = NULL;
        if (!who)
            code = "ErrorDelegateNoUser";
        else if (adding && who == m)
            code = "ErrorDelegateCannotAddOwner";
        else if (adding && d)
            code = "ErrorDelegateAlreadyExists";
        else if (!adding && !d)
            code = "ErrorNotDelegate";
        if (code) {
            exsim_error_msg(messages_el(r, top, &msgs), "DelegateUserResponseMessageType", code);
            continue;
        }
        if (adding) {
            d = add_one(r, dels, who, spec);
        } else {
            merge_child(r, d, spec, "DelegatePermissions");
            merge_child(r, d, spec, "ReceiveCopiesOfMeetingMessages");
            merge_child(r, d, spec, "ViewPrivateItems");
        }
        emit_delegate(r, messages_el(r, top, &msgs), d, 1);
    }
    set_deliver(dels, r->op);
    r->mailbox = m->info.smtp;
    return 200;
}

int exsim_op_AddDelegate(exsim_req *r) { return change_delegates(r, "AddDelegateResponse", 1); }
int exsim_op_UpdateDelegate(exsim_req *r) { return change_delegates(r, "UpdateDelegateResponse", 0); }

int exsim_op_RemoveDelegate(exsim_req *r)
{
    exsim_mbx *m = open_mailbox(r, "RemoveDelegateResponse");
    if (!m)
        return 200;
    xmlNodePtr dels = exsim_delegates_of(m);
    xmlNodePtr top = exsim_top_response(r, "RemoveDelegateResponse", NULL), msgs = NULL;
    xmlNodePtr uids = exsim_child(r->op, EXSIM_NS_M, "UserIds");
    for (xmlNodePtr u = exsim_first_el(uids); u; u = exsim_next_el(u)) {
        xmlNodePtr d = find_delegate(r, dels, u);
        if (!d) {
            exsim_error_msg(messages_el(r, top, &msgs), "DelegateUserResponseMessageType",
                            user_mbx(r, u) ? "ErrorNotDelegate" : "ErrorDelegateNoUser");
            continue;
        }
        xmlUnlinkNode(d);
        xmlFreeNode(d);
        exsim_resp_message(messages_el(r, top, &msgs), "DelegateUserResponseMessageType",
                           "NoError", NULL);
    }
    return 200;
}
