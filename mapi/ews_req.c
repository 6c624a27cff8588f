/* ews_req.c — EWS request builders.  Every value goes in through libxml2's
 * tree API (escaped), element order follows messages.xsd / types.xsd (a
 * strict server validates it; tests/unit/test_mapi_ewsreq.c checks each
 * builder against the schema). */
#include "mapi/ews_int.h"

#include <stdio.h>
#include <string.h>

sr_code mapi_ews_env_new(mapi_ews_env *e, const mapi_ews_target *t, sr_err *err)
{
    memset(e, 0, sizeof *e);
    e->doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr env = e->doc ? xmlNewDocNode(e->doc, NULL, (const xmlChar *)"Envelope", NULL) : NULL;
    if (!env) {
        xmlFreeDoc(e->doc);
        e->doc = NULL;
        return sr_err_set(err, SR_E_NOMEM, "out of memory building an EWS request");
    }
    xmlDocSetRootElement(e->doc, env);
    xmlNsPtr soap = xmlNewNs(env, (const xmlChar *)MAPI_NS_SOAP, (const xmlChar *)"soap");
    e->ns_t = xmlNewNs(env, (const xmlChar *)MAPI_NS_T, (const xmlChar *)"t");
    e->ns_m = xmlNewNs(env, (const xmlChar *)MAPI_NS_M, (const xmlChar *)"m");
    xmlSetNs(env, soap);
    xmlNodePtr hdr = xmlNewChild(env, soap, (const xmlChar *)"Header", NULL);
    xmlNodePtr v = xmlNewChild(hdr, e->ns_t, (const xmlChar *)"RequestServerVersion", NULL);
    xmlNewProp(v, (const xmlChar *)"Version",
               (const xmlChar *)(t && t->server_version ? t->server_version : "Exchange2013_SP1"));
    if (t && t->impersonate) {
        /* impersonation-and-ews-in-exchange: ConnectingSID/PrimarySmtpAddress */
        xmlNodePtr imp = xmlNewChild(hdr, e->ns_t, (const xmlChar *)"ExchangeImpersonation", NULL);
        xmlNodePtr sid = xmlNewChild(imp, e->ns_t, (const xmlChar *)"ConnectingSID", NULL);
        mapi_xml_add(sid, e->ns_t, "PrimarySmtpAddress", t->impersonate);
    }
    e->body = xmlNewChild(env, soap, (const xmlChar *)"Body", NULL);
    return SR_OK;
}

static void set_attr(xmlNodePtr n, const char *name, const char *value)
{
    xmlNewProp(n, (const xmlChar *)name, (const xmlChar *)value);
}

static void set_uint(xmlNodePtr n, const char *name, unsigned v)
{
    char b[16];
    snprintf(b, sizeof b, "%u", v);
    set_attr(n, name, b);
}

static int add_folder_ref(mapi_ews_env *e, xmlNodePtr parent, const mapi_ews_target *t,
                          const mapi_ews_folder_ref *f, sr_err *err)
{
    if (f && f->id) {
        xmlNodePtr n = xmlNewChild(parent, e->ns_t, (const xmlChar *)"FolderId", NULL);
        set_attr(n, "Id", f->id);
        if (f->change_key)
            set_attr(n, "ChangeKey", f->change_key);
        return 0;
    }
    if (!f || !f->distinguished) {
        sr_err_set(err, SR_E_INVALID, "EWS request: a folder id or distinguished folder name is required");
        return -1;
    }
    xmlNodePtr n = xmlNewChild(parent, e->ns_t, (const xmlChar *)"DistinguishedFolderId", NULL);
    set_attr(n, "Id", f->distinguished);
    /* explicit access to another mailbox; impersonation needs no Mailbox */
    if (t && t->mailbox && !t->impersonate) {
        xmlNodePtr mb = xmlNewChild(n, e->ns_t, (const xmlChar *)"Mailbox", NULL);
        mapi_xml_add(mb, e->ns_t, "EmailAddress", t->mailbox);
    }
    return 0;
}

/* ExtendedFieldURI for p: PropertyTag, or a property set with a name/id. */
static int add_xfield(mapi_ews_env *e, xmlNodePtr parent, const mapi_extprop *p, sr_err *err)
{
    const char *type = mapi_pt_ews_name(p->type);
    if (!type) {
        sr_err_set(err, SR_E_INVALID, "EWS request: property type 0x%04X has no EWS name",
                   (unsigned)p->type);
        return -1;
    }
    xmlNodePtr n = xmlNewChild(parent, e->ns_t, (const xmlChar *)"ExtendedFieldURI", NULL);
    char num[16];
    if (p->kind == MAPI_XP_TAG) {
        snprintf(num, sizeof num, "0x%04X", (unsigned)(p->id & 0xFFFFu));
        set_attr(n, "PropertyTag", num);
    } else {
        if (p->set_guid[0])
            set_attr(n, "PropertySetId", p->set_guid);
        else
            set_attr(n, "DistinguishedPropertySetId", p->dist_set);
        if (p->kind == MAPI_XP_NAME) {
            set_attr(n, "PropertyName", p->name ? p->name : "");
        } else {
            snprintf(num, sizeof num, "%u", (unsigned)p->id);
            set_attr(n, "PropertyId", num);
        }
    }
    set_attr(n, "PropertyType", type);
    return 0;
}

static int add_xprop(mapi_ews_env *e, xmlNodePtr parent, const mapi_extprop *p, sr_err *err)
{
    xmlNodePtr xp = xmlNewChild(parent, e->ns_t, (const xmlChar *)"ExtendedProperty", NULL);
    if (add_xfield(e, xp, p, err) != 0)
        return -1;
    if (p->type & MAPI_MV_FLAG) {
        if (p->nvalues == 0) {
            sr_err_set(err, SR_E_INVALID, "EWS request: an array property needs at least one value");
            return -1;
        }
        xmlNodePtr vs = xmlNewChild(xp, e->ns_t, (const xmlChar *)"Values", NULL);
        for (size_t i = 0; i < p->nvalues; i++)
            mapi_xml_add(vs, e->ns_t, "Value", p->values[i]);
    } else {
        mapi_xml_add(xp, e->ns_t, "Value", p->nvalues ? p->values[0] : "");
    }
    return 0;
}

static xmlNodePtr add_shape(mapi_ews_env *e, xmlNodePtr op, const char *shape_name,
                            const char *const *fields, size_t nf, const mapi_extprops *want,
                            sr_err *err)
{
    xmlNodePtr shape = xmlNewChild(op, e->ns_m, (const xmlChar *)shape_name, NULL);
    mapi_xml_add(shape, e->ns_t, "BaseShape", "IdOnly");
    xmlNodePtr add = xmlNewChild(shape, e->ns_t, (const xmlChar *)"AdditionalProperties", NULL);
    for (size_t i = 0; i < nf; i++)
        set_attr(xmlNewChild(add, e->ns_t, (const xmlChar *)"FieldURI", NULL), "FieldURI", fields[i]);
    for (size_t i = 0; want && i < want->n; i++)
        if (add_xfield(e, add, &want->v[i], err) != 0)
            return NULL;
    return shape;
}

static xmlDocPtr finish(mapi_ews_env *e, int failed)
{
    if (failed) {
        xmlFreeDoc(e->doc);
        return NULL;
    }
    return e->doc;
}

xmlDocPtr mapi_ews_req_findfolder_deep(const mapi_ews_target *t, const mapi_ews_folder_ref *root,
                                       unsigned offset, unsigned max_entries, sr_err *err)
{
    static const char *const fields[] = { "folder:ParentFolderId", "folder:DisplayName",
                                          "folder:FolderClass" };
    static const mapi_extprop entryid = { .kind = MAPI_XP_TAG, .id = 0x0FFF,
                                          .type = MAPI_PT_BINARY };
    mapi_extprops want = { .v = (mapi_extprop *)&entryid, .n = 1, .cap = 1 };
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != 0)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, (const xmlChar *)"FindFolder", NULL);
    set_attr(op, "Traversal", "Deep");
    int bad = !add_shape(&e, op, "FolderShape", fields, 3, &want, err);
    xmlNodePtr view = xmlNewChild(op, e.ns_m, (const xmlChar *)"IndexedPageFolderView", NULL);
    set_uint(view, "MaxEntriesReturned", max_entries ? max_entries : 1000);
    set_uint(view, "Offset", offset);
    set_attr(view, "BasePoint", "Beginning");
    xmlNodePtr parents = xmlNewChild(op, e.ns_m, (const xmlChar *)"ParentFolderIds", NULL);
    bad = bad || add_folder_ref(&e, parents, t, root, err) != 0;
    return finish(&e, bad);
}

xmlDocPtr mapi_ews_req_finditem_fai(const mapi_ews_target *t, const mapi_ews_folder_ref *folder,
                                    const char *item_class, const mapi_extprops *want,
                                    unsigned offset, unsigned max_entries, sr_err *err)
{
    static const char *const fields[] = { "item:ItemClass", "item:Subject" };
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != 0)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, (const xmlChar *)"FindItem", NULL);
    set_attr(op, "Traversal", "Associated");
    int bad = !add_shape(&e, op, "ItemShape", fields, 2, want, err);
    xmlNodePtr view = xmlNewChild(op, e.ns_m, (const xmlChar *)"IndexedPageItemView", NULL);
    set_uint(view, "MaxEntriesReturned", max_entries ? max_entries : 1000);
    set_uint(view, "Offset", offset);
    set_attr(view, "BasePoint", "Beginning");
    if (item_class) {
        xmlNodePtr r = xmlNewChild(op, e.ns_m, (const xmlChar *)"Restriction", NULL);
        xmlNodePtr eq = xmlNewChild(r, e.ns_t, (const xmlChar *)"IsEqualTo", NULL);
        set_attr(xmlNewChild(eq, e.ns_t, (const xmlChar *)"FieldURI", NULL), "FieldURI",
                 "item:ItemClass");
        xmlNodePtr c = xmlNewChild(eq, e.ns_t, (const xmlChar *)"FieldURIOrConstant", NULL);
        set_attr(xmlNewChild(c, e.ns_t, (const xmlChar *)"Constant", NULL), "Value", item_class);
    }
    xmlNodePtr parents = xmlNewChild(op, e.ns_m, (const xmlChar *)"ParentFolderIds", NULL);
    bad = bad || add_folder_ref(&e, parents, t, folder, err) != 0;
    return finish(&e, bad);
}

static int add_item_ids(mapi_ews_env *e, xmlNodePtr op, const char *const *ids, size_t n,
                        sr_err *err)
{
    if (n == 0) {
        sr_err_set(err, SR_E_INVALID, "EWS request: no item ids given");
        return -1;
    }
    xmlNodePtr l = xmlNewChild(op, e->ns_m, (const xmlChar *)"ItemIds", NULL);
    for (size_t i = 0; i < n; i++)
        set_attr(xmlNewChild(l, e->ns_t, (const xmlChar *)"ItemId", NULL), "Id", ids[i]);
    return 0;
}

xmlDocPtr mapi_ews_req_createitem(const mapi_ews_target *t, const mapi_ews_folder_ref *folder,
                                  const char *item_class, const char *subject,
                                  const mapi_extprops *props, int associated, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != 0)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, (const xmlChar *)"CreateItem", NULL);
    set_attr(op, "MessageDisposition", "SaveOnly");
    xmlNodePtr saved = xmlNewChild(op, e.ns_m, (const xmlChar *)"SavedItemFolderId", NULL);
    int bad = add_folder_ref(&e, saved, t, folder, err) != 0;
    xmlNodePtr items = xmlNewChild(op, e.ns_m, (const xmlChar *)"Items", NULL);
    xmlNodePtr msg = xmlNewChild(items, e.ns_t, (const xmlChar *)"Message", NULL);
    /* types.xsd ItemType order: ItemClass, Subject, ..., ExtendedProperty*, ..., IsAssociated */
    if (item_class)
        mapi_xml_add(msg, e.ns_t, "ItemClass", item_class);
    if (subject)
        mapi_xml_add(msg, e.ns_t, "Subject", subject);
    for (size_t i = 0; !bad && props && i < props->n; i++)
        bad = add_xprop(&e, msg, &props->v[i], err) != 0;
    if (associated)
        mapi_xml_add(msg, e.ns_t, "IsAssociated", "true");
    return finish(&e, bad);
}

xmlDocPtr mapi_ews_req_updateitem(const mapi_ews_target *t, const char *id, const char *change_key,
                                  const mapi_extprops *set, const mapi_extprops *del, sr_err *err)
{
    if (!id || ((!set || !set->n) && (!del || !del->n))) {
        sr_err_set(err, SR_E_INVALID, "EWS UpdateItem: an item id and at least one change are required");
        return NULL;
    }
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != 0)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, (const xmlChar *)"UpdateItem", NULL);
    set_attr(op, "ConflictResolution", "AlwaysOverwrite");
    set_attr(op, "MessageDisposition", "SaveOnly");
    xmlNodePtr chs = xmlNewChild(op, e.ns_m, (const xmlChar *)"ItemChanges", NULL);
    xmlNodePtr ch = xmlNewChild(chs, e.ns_t, (const xmlChar *)"ItemChange", NULL);
    xmlNodePtr iid = xmlNewChild(ch, e.ns_t, (const xmlChar *)"ItemId", NULL);
    set_attr(iid, "Id", id);
    if (change_key)
        set_attr(iid, "ChangeKey", change_key);
    xmlNodePtr ups = xmlNewChild(ch, e.ns_t, (const xmlChar *)"Updates", NULL);
    int bad = 0;
    for (size_t i = 0; !bad && set && i < set->n; i++) {
        xmlNodePtr s = xmlNewChild(ups, e.ns_t, (const xmlChar *)"SetItemField", NULL);
        bad = add_xfield(&e, s, &set->v[i], err) != 0;
        xmlNodePtr m = xmlNewChild(s, e.ns_t, (const xmlChar *)"Message", NULL);
        bad = bad || add_xprop(&e, m, &set->v[i], err) != 0;
    }
    for (size_t i = 0; !bad && del && i < del->n; i++) {
        xmlNodePtr d = xmlNewChild(ups, e.ns_t, (const xmlChar *)"DeleteItemField", NULL);
        bad = add_xfield(&e, d, &del->v[i], err) != 0;
    }
    return finish(&e, bad);
}

xmlDocPtr mapi_ews_req_deleteitem(const mapi_ews_target *t, const char *const *ids, size_t n,
                                  sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != 0)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, (const xmlChar *)"DeleteItem", NULL);
    set_attr(op, "DeleteType", "HardDelete");
    return finish(&e, add_item_ids(&e, op, ids, n, err) != 0);
}
