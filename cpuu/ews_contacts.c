/* ews_contacts.c — FindItem / GetItem / UpdateItem for the ContactMembers
 * feature (ews_feat.h).  Element order per messages.xsd (FindItem: ItemShape,
 * IndexedPageItemView, ParentFolderIds; UpdateItem: ItemChanges). */
#include "cpuu/ews_feat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static xmlDocPtr fail(mapi_ews_env *e, sr_err *err)
{
    xmlFreeDoc(e->doc);
    sr_err_set(err, SR_E_NOMEM, "out of memory building an EWS request");
    return NULL;
}

static int add_shape(mapi_ews_env *e, xmlNodePtr op, const char *const *fields)
{
    xmlNodePtr shape = xmlNewChild(op, e->ns_m, BAD_CAST "ItemShape", NULL);
    if (!shape || !mapi_xml_add(shape, e->ns_t, "BaseShape", "IdOnly"))
        return -1;
    xmlNodePtr add = xmlNewChild(shape, e->ns_t, BAD_CAST "AdditionalProperties", NULL);
    for (size_t i = 0; add && fields[i]; i++) {
        xmlNodePtr f = xmlNewChild(add, e->ns_t, BAD_CAST "FieldURI", NULL);
        if (!f || !xmlNewProp(f, BAD_CAST "FieldURI", BAD_CAST fields[i]))
            return -1;
    }
    return add ? 0 : -1;
}

xmlDocPtr ewsf_req_finditems(const mapi_ews_target *t, const char *folder_id, unsigned offset,
                             unsigned max, sr_err *err)
{
    static const char *const fields[] = {"item:ItemClass", NULL};
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "FindItem", NULL);
    if (!op || !xmlNewProp(op, BAD_CAST "Traversal", BAD_CAST "Shallow") || add_shape(&e, op, fields))
        return fail(&e, err);
    xmlNodePtr view = xmlNewChild(op, e.ns_m, BAD_CAST "IndexedPageItemView", NULL);
    char a[16], b[16];
    snprintf(a, sizeof a, "%u", max);
    snprintf(b, sizeof b, "%u", offset);
    if (!view || !xmlNewProp(view, BAD_CAST "MaxEntriesReturned", BAD_CAST a) ||
        !xmlNewProp(view, BAD_CAST "Offset", BAD_CAST b) ||
        !xmlNewProp(view, BAD_CAST "BasePoint", BAD_CAST "Beginning"))
        return fail(&e, err);
    xmlNodePtr pids = xmlNewChild(op, e.ns_m, BAD_CAST "ParentFolderIds", NULL);
    xmlNodePtr f = pids ? xmlNewChild(pids, e.ns_t, BAD_CAST "FolderId", NULL) : NULL;
    if (!f || !xmlNewProp(f, BAD_CAST "Id", BAD_CAST folder_id))
        return fail(&e, err);
    return e.doc;
}

sr_code ewsf_parse_itemids(xmlNodePtr resp_op, char ***ids, size_t *n, int *last, sr_err *err)
{
    xmlNodePtr msg = mapi_xml_child(mapi_xml_child(resp_op, EWSF_NS_M, "ResponseMessages"), NULL,
                                    NULL);
    if (!msg)
        return sr_err_set(err, SR_E_PROTOCOL, "FindItem answer without a response message");
    sr_code rc = ewsf_msg_status(msg, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr root = mapi_xml_child(msg, EWSF_NS_M, "RootFolder");
    char *lv = mapi_xml_attr(root, "IncludesLastItemInRange");
    *last = !lv || strcmp(lv, "false") != 0;
    free(lv);
    xmlNodePtr items = mapi_xml_child(root, EWSF_NS_T, "Items");
    for (xmlNodePtr it = mapi_xml_child(items, NULL, NULL); it; it = mapi_xml_next(it, NULL, NULL)) {
        char *id = mapi_xml_attr(mapi_xml_child(it, EWSF_NS_T, "ItemId"), "Id");
        if (!id)
            continue;
        char **nv = realloc(*ids, (*n + 1) * sizeof *nv);
        if (!nv) {
            free(id);
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
        *ids = nv;
        (*ids)[(*n)++] = id;
    }
    return SR_OK;
}

xmlDocPtr ewsf_req_getitems(const mapi_ews_target *t, const char *const *ids, size_t n,
                            const char *const *fields, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "GetItem", NULL);
    if (!op || add_shape(&e, op, fields))
        return fail(&e, err);
    xmlNodePtr iids = xmlNewChild(op, e.ns_m, BAD_CAST "ItemIds", NULL);
    for (size_t i = 0; iids && i < n; i++) {
        xmlNodePtr id = xmlNewChild(iids, e.ns_t, BAD_CAST "ItemId", NULL);
        if (!id || !xmlNewProp(id, BAD_CAST "Id", BAD_CAST ids[i]))
            return fail(&e, err);
    }
    return iids ? e.doc : fail(&e, err);
}

xmlDocPtr ewsf_req_updateitems(const mapi_ews_target *t, const char *const *ids,
                               xmlNodePtr const *updates, size_t n, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "UpdateItem", NULL);
    if (!op || !xmlNewProp(op, BAD_CAST "ConflictResolution", BAD_CAST "AlwaysOverwrite"))
        return fail(&e, err);
    xmlNodePtr chs = xmlNewChild(op, e.ns_m, BAD_CAST "ItemChanges", NULL);
    for (size_t i = 0; chs && i < n; i++) {
        xmlNodePtr ch = xmlNewChild(chs, e.ns_t, BAD_CAST "ItemChange", NULL);
        xmlNodePtr id = ch ? xmlNewChild(ch, e.ns_t, BAD_CAST "ItemId", NULL) : NULL;
        xmlNodePtr u = id && xmlNewProp(id, BAD_CAST "Id", BAD_CAST ids[i])
                           ? xmlDocCopyNode(updates[i], e.doc, 1) : NULL;
        if (!u)
            return fail(&e, err);
        xmlAddChild(ch, u);
        xmlReconciliateNs(e.doc, u);
    }
    return chs ? e.doc : fail(&e, err);
}

sr_code ewsf_parse_itemlist(xmlNodePtr resp_op, xmlNodePtr **v, size_t *n, unsigned *nbad,
                            sr_err *err)
{
    return ewsf_parse_list(resp_op, "Items", "item", v, n, nbad, err);
}
