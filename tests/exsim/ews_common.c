/* ews_common.c — dispatch table and the pieces every handler shares:
 * mailbox access checks, id resolution, error messages, namespace-correct
 * copying between the store tree and the response document. */
#include "tests/exsim/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- dispatch ------------------------------------------------------------ */

typedef struct {
    const char *name;
    exsim_handler fn;
} op_entry;

#define EXSIM_ENTRY(n) {#n, exsim_op_##n},
static const op_entry ops[] = {EXSIM_HANDLERS(EXSIM_ENTRY)}; /* sorted by name */
#undef EXSIM_ENTRY

static int op_cmp(const void *key, const void *e)
{
    return strcmp((const char *)key, ((const op_entry *)e)->name);
}

int exsim_ews_dispatch(exsim_req *r)
{
    if (!r || !r->op || !exsim_is(r->op, EXSIM_NS_M, (const char *)r->op->name))
        return exsim_soap_fault(r, "a:ErrorInvalidRequest", "ErrorInvalidRequest",
                                "The request is invalid.");
    const op_entry *e = bsearch(r->op->name, ops, sizeof ops / sizeof ops[0], sizeof ops[0],
                                op_cmp);
    if (!e)
        return exsim_soap_fault(r, "a:ErrorInvalidOperation", "ErrorInvalidOperation",
                                "The operation is not supported by this server.");
    return e->fn(r);
}

/* ---- error texts as Exchange words them ---------------------------------- */

static const struct {
    const char *code, *text;
} texts[] = {
    {"ErrorAccessDenied", "Access is denied. Check credentials and try again."},
    {"ErrorCannotDeleteObject", "The object cannot be deleted."},
    {"ErrorDelegateAlreadyExists", "Delegate is already defined for the user."},
    {"ErrorDelegateNoUser", "The delegate does not map to a user in the Active Directory."},
    {"ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted."},
    {"ErrorFolderExists", "A folder with the specified name already exists."},
    {"ErrorFolderNotFound", "The specified folder could not be found in the store."},
    {"ErrorImpersonateUserDenied", "The account does not have permission to impersonate the requested user."},
    {"ErrorInvalidIdMalformed", "Id is malformed."},
    {"ErrorInvalidOperation", "The operation is not valid for this object."},
    {"ErrorInvalidRequest", "The request is invalid."},
    {"ErrorItemNotFound", "The specified object was not found in the store."},
    {"ErrorItemSave", "The item could not be saved."},
    {"ErrorNameResolutionNoResults", "No results were found."},
    {"ErrorNonExistentMailbox", "The SMTP address has no mailbox associated with it."},
    {"ErrorNotDelegate", "The specified user is not a delegate of the mailbox."},
    {"ErrorObjectTypeChanged", "The object type is not valid for this operation."},
    {"ErrorInboxRulesValidationError", "Inbox rules validation error."},
    {"ErrorDelegateCannotAddOwner", "The owner of the mailbox cannot be added as a delegate."},
    {"ErrorInvalidPropertyAppend", "The property cannot be appended to."},
    {"ErrorInvalidPropertyDelete", "The property cannot be deleted."},
    {"ErrorNameResolutionMultipleResults", "Multiple results were found."},
    {"ErrorUnsupportedPathForQuery", "The property path is not supported for a query."},
    {"ErrorItemPropertyRequestFailed", "The property could not be set."},
    {"ErrorItemCorrupt", "The item is corrupt."},
    {"ErrorInvalidPropertySet", "Set action is invalid for property."},
    {"ErrorInvalidPropertyRequest", "The property can't be used in FindItem requests."},
    {"ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."},
    {"ErrorMissingEmailAddress", "When making a request as an account that does not have a mailbox, you must specify the mailbox primary SMTP address for any distinguished folder Ids."},
    {"ErrorInvalidUserInfo", "The user information is not valid."},
};

const char *exsim_error_text(const char *code)
{
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (strcmp(texts[i].code, code) == 0)
            return texts[i].text;
    return code;
}

xmlNodePtr exsim_error_msg(xmlNodePtr messages, const char *msg_name, const char *code)
{
    xmlNodePtr msg = exsim_resp_message(messages, msg_name, code, exsim_error_text(code));
    if (msg && !exsim_child(msg, EXSIM_NS_M, "DescriptiveLinkKey")) {
        xmlNsPtr m = xmlSearchNsByHref(msg->doc, msg, BAD_CAST EXSIM_NS_M);
        xmlNewChild(msg, m, BAD_CAST "DescriptiveLinkKey", BAD_CAST "0");
    }
    return msg;
}

/* ---- namespaces and copies ---------------------------------------------- */

static xmlNsPtr ns_for(xmlDocPtr doc, xmlNodePtr from, const char *href, const char *prefix)
{
    xmlNsPtr ns = xmlSearchNsByHref(doc, from, BAD_CAST href);
    if (!ns) {
        xmlNodePtr root = xmlDocGetRootElement(doc);
        ns = xmlNewNs(root, BAD_CAST href, BAD_CAST prefix);
    }
    return ns;
}

xmlNsPtr exsim_ns_t(exsim_req *r) { return ns_for(r->resp_doc, r->resp_body, EXSIM_NS_T, "t"); }
xmlNsPtr exsim_ns_m(exsim_req *r) { return ns_for(r->resp_doc, r->resp_body, EXSIM_NS_M, "m"); }

xmlNodePtr exsim_t(exsim_req *r, xmlNodePtr parent, const char *name, const char *text)
{
    return xmlNewTextChild(parent, exsim_ns_t(r), BAD_CAST name, text ? BAD_CAST text : NULL);
}

xmlNodePtr exsim_m(exsim_req *r, xmlNodePtr parent, const char *name, const char *text)
{
    return xmlNewTextChild(parent, exsim_ns_m(r), BAD_CAST name, text ? BAD_CAST text : NULL);
}

/* Point every element/attribute of a copied subtree at the target
 * document's declarations of the two EWS namespaces (first pass), then drop
 * the subtree's own declarations of them (second pass, nothing uses them). */
static void remap_ns(xmlNodePtr n, xmlNsPtr t, xmlNsPtr m)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (n->ns && n->ns->href) {
            if (strcmp((const char *)n->ns->href, EXSIM_NS_T) == 0)
                n->ns = t;
            else if (strcmp((const char *)n->ns->href, EXSIM_NS_M) == 0)
                n->ns = m;
        }
        for (xmlAttrPtr a = n->properties; a; a = a->next)
            if (a->ns && a->ns->href && (strcmp((const char *)a->ns->href, EXSIM_NS_T) == 0 ||
                                         strcmp((const char *)a->ns->href, EXSIM_NS_M) == 0))
                a->ns = NULL;
        remap_ns(n->children, t, m);
    }
}

static void drop_ns_decls(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        xmlNsPtr *pp = &n->nsDef;
        while (*pp) {
            const char *h = (const char *)(*pp)->href;
            if (h && (strcmp(h, EXSIM_NS_T) == 0 || strcmp(h, EXSIM_NS_M) == 0)) {
                xmlNsPtr dead = *pp;
                *pp = dead->next;
                dead->next = NULL;
                xmlFreeNs(dead);
            } else {
                pp = &(*pp)->next;
            }
        }
        drop_ns_decls(n->children);
    }
}

static xmlNodePtr copy_to(xmlDocPtr doc, xmlNodePtr parent, xmlNodePtr src, xmlNsPtr t,
                          xmlNsPtr m)
{
    xmlNodePtr c = xmlDocCopyNode(src, doc, 1);
    if (!c)
        return NULL;
    xmlAddChild(parent, c);
    xmlNodePtr save = c->next;
    c->next = NULL;
    remap_ns(c, t, m);
    drop_ns_decls(c);
    c->next = save;
    return c;
}

xmlNodePtr exsim_copy_into(exsim_req *r, xmlNodePtr parent, xmlNodePtr src)
{
    return copy_to(r->resp_doc, parent, src, exsim_ns_t(r), exsim_ns_m(r));
}

xmlNsPtr exsim_store_ns_t(exsim_org *org)
{
    return ns_for(org->doc, xmlDocGetRootElement(org->doc), EXSIM_NS_T, "t");
}

/* Does the element n or one under it live in namespace href? */
static int uses_ns(xmlNodePtr n, const char *href)
{
    if (n->ns && n->ns->href && strcmp((const char *)n->ns->href, href) == 0)
        return 1;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && uses_ns(c, href))
            return 1;
    return 0;
}

xmlNodePtr exsim_store_copy(exsim_org *org, xmlNodePtr parent, xmlNodePtr src)
{
    xmlNodePtr root = xmlDocGetRootElement(org->doc);
    xmlNsPtr t = exsim_store_ns_t(org);
    /* Declare m: on the store's root only when the copy uses it: an unused
     * declaration would change the dump of a store whose content came back
     * exactly (a rollback). */
    xmlNsPtr m = xmlSearchNsByHref(org->doc, root, BAD_CAST EXSIM_NS_M);
    if (!m && uses_ns(src, EXSIM_NS_M))
        m = ns_for(org->doc, root, EXSIM_NS_M, "m");
    return copy_to(org->doc, parent, src, t, m);
}

int exsim_order_index(const char *const *order, const char *name)
{
    for (int i = 0; order[i]; i++)
        if (strcmp(order[i], name) == 0)
            return i;
    return 100000;
}

void exsim_insert_ordered(xmlNodePtr parent, xmlNodePtr child, const char *const *order)
{
    int mine = exsim_order_index(order, (const char *)child->name);
    for (xmlNodePtr c = exsim_first_el(parent); c; c = exsim_next_el(c))
        if (c != child && exsim_order_index(order, (const char *)c->name) > mine) {
            xmlAddPrevSibling(c, child);
            return;
        }
    xmlAddChild(parent, child);
}

/* ---- access and ids ------------------------------------------------------ */

/* The mailbox of the caller itself (account upn/name = primary SMTP), or NULL. */
static exsim_mbx *own_mailbox(exsim_req *r)
{
    if (r->account && r->account->upn) {
        exsim_mbx *m = exsim_store_mbx_by_addr(r->org, r->account->upn);
        if (m)
            return m;
    }
    return NULL;
}

exsim_mbx *exsim_access(exsim_req *r, const char *address, const char **code)
{
    exsim_mbx *self = own_mailbox(r);
    if (r->impersonated) {
        if (!r->account || !r->account->impersonation) {
            *code = "ErrorImpersonateUserDenied";
            return NULL;
        }
        self = exsim_store_mbx_by_addr(r->org, r->impersonated);
        if (!self) {
            *code = "ErrorNonExistentMailbox";
            return NULL;
        }
    }
    int implicit = !address || !*address;
    exsim_mbx *m = implicit ? self : exsim_store_mbx_by_addr(r->org, address);
    if (!m) {
        /* an account without a mailbox must name one (responsecode.md) */
        *code = implicit ? "ErrorMissingEmailAddress" : "ErrorNonExistentMailbox";
        return NULL;
    }
    /* Impersonating, the caller acts as that user (whose rights stop at its own
     * mailbox here); otherwise Full Access opens every mailbox. */
    if (m != self && (r->impersonated || !(r->account && r->account->full_access))) {
        *code = "ErrorAccessDenied";
        return NULL;
    }
    r->mailbox = m->info.smtp;
    return m;
}

/* Explicit mailbox of a DistinguishedFolderId (t:Mailbox/t:EmailAddress). */
static const char *explicit_mailbox(xmlNodePtr idel)
{
    xmlNodePtr mb = exsim_child(idel, EXSIM_NS_T, "Mailbox");
    xmlNodePtr ea = mb ? exsim_child(mb, EXSIM_NS_T, "EmailAddress") : NULL;
    return ea ? exsim_text(ea) : NULL;
}

static xmlNodePtr resolve_obj(exsim_req *r, const char *id, int want, exsim_mbx **mbx,
                              const char **code)
{
    const char *notfound = want == EXSIM_KIND_FOLDER ? "ErrorFolderNotFound" : "ErrorItemNotFound";
    uint8_t guid[16];
    int kind;
    uint64_t counter;
    if (!id || exsim_id_ews_decode(id, guid, &kind, &counter) != 0) {
        *code = "ErrorInvalidIdMalformed";
        return NULL;
    }
    exsim_mbx *m = exsim_store_mbx_by_guid(r->org, guid);
    if (!m) {
        *code = notfound;
        return NULL;
    }
    if (!exsim_access(r, m->info.smtp, code))
        return NULL;
    xmlNodePtr n = exsim_store_obj(m, counter);
    if (!n || kind != want) {
        *code = notfound;
        return NULL;
    }
    *mbx = m;
    return n;
}

xmlNodePtr exsim_resolve_folder(exsim_req *r, xmlNodePtr idel, exsim_mbx **mbx,
                                const char **code)
{
    if (exsim_is(idel, EXSIM_NS_T, "DistinguishedFolderId")) {
        exsim_mbx *m = exsim_access(r, explicit_mailbox(idel), code);
        if (!m)
            return NULL;
        const char *name = exsim_attr(idel, "Id");
        xmlNodePtr f = name ? exsim_store_distinguished(m, name) : NULL;
        if (!f) {
            *code = "ErrorFolderNotFound";
            return NULL;
        }
        *mbx = m;
        return f;
    }
    return resolve_obj(r, exsim_attr(idel, "Id"), EXSIM_KIND_FOLDER, mbx, code);
}

xmlNodePtr exsim_resolve_item(exsim_req *r, xmlNodePtr idel, exsim_mbx **mbx, const char **code)
{
    return resolve_obj(r, exsim_attr(idel, "Id"), EXSIM_KIND_ITEM, mbx, code);
}

static xmlNodePtr add_id(exsim_req *r, xmlNodePtr parent, const char *elname, exsim_mbx *m,
                         xmlNodePtr obj, int kind)
{
    char *id = exsim_id_ews(m, kind, exsim_store_id_of(obj));
    char *ck = exsim_id_changekey(m, obj);
    xmlNodePtr el = xmlNewChild(parent, exsim_ns_t(r), BAD_CAST elname, NULL);
    xmlNewProp(el, BAD_CAST "Id", BAD_CAST id);
    xmlNewProp(el, BAD_CAST "ChangeKey", BAD_CAST ck);
    free(id);
    free(ck);
    return el;
}

/* Handlers only ever have one request in flight (the server's store mutex),
 * so the response document reachable from a parent node is the request's. */
static exsim_req *req_of(xmlNodePtr parent, exsim_req *tmp)
{
    memset(tmp, 0, sizeof *tmp);
    tmp->resp_doc = parent->doc;
    tmp->resp_body = parent;
    return tmp;
}

xmlNodePtr exsim_add_folder_id(xmlNodePtr parent, const char *elname, exsim_mbx *m, xmlNodePtr obj)
{
    exsim_req tmp;
    return add_id(req_of(parent, &tmp), parent, elname, m, obj, EXSIM_KIND_FOLDER);
}

xmlNodePtr exsim_add_item_id(xmlNodePtr parent, exsim_mbx *m, xmlNodePtr item)
{
    exsim_req tmp;
    return add_id(req_of(parent, &tmp), parent, "ItemId", m, item, EXSIM_KIND_ITEM);
}

xmlNodePtr exsim_top_response(exsim_req *r, const char *name, const char *code)
{
    xmlNodePtr top = xmlNewChild(r->resp_body, exsim_ns_m(r), BAD_CAST name, NULL);
    xmlNewProp(top, BAD_CAST "ResponseClass", BAD_CAST(code ? "Error" : "Success"));
    if (code)
        exsim_m(r, top, "MessageText", exsim_error_text(code));
    exsim_m(r, top, "ResponseCode", code ? code : "NoError");
    if (code)
        exsim_m(r, top, "DescriptiveLinkKey", "0");
    return top;
}
