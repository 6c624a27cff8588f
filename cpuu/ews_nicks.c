/* ews_nicks.c — Get, Create, Update and DeleteUserConfiguration requests and
 * answers for the Nicks feature (nicks.h).  Element order and namespaces per
 * messages.xsd / types.xsd (UserConfigurationNameType extends
 * TargetFolderIdType; UserConfigurationType: UserConfigurationName, ItemId,
 * Dictionary, XmlData, BinaryData).  Values go in as text nodes. */
#include "cpuu/ews_feat.h"
#include "cpuu/nicks.h"

#include <stdlib.h>
#include <string.h>

static xmlDocPtr fail(mapi_ews_env *e, sr_err *err)
{
    xmlFreeDoc(e->doc);
    sr_err_set(err, SR_E_NOMEM, "out of memory building an EWS request");
    return NULL;
}

/* <ns:UserConfigurationName Name=..><t:DistinguishedFolderId Id=folder>
 * [<t:Mailbox>] — explicit access names the mailbox, impersonation does not. */
static xmlNodePtr add_name(mapi_ews_env *e, xmlNodePtr parent, xmlNsPtr ns, const mapi_ews_target *t,
                           const char *folder, const char *name)
{
    xmlNodePtr n = xmlNewChild(parent, ns, BAD_CAST "UserConfigurationName", NULL);
    if (!n || !xmlNewProp(n, BAD_CAST "Name", BAD_CAST name))
        return NULL;
    xmlNodePtr d = xmlNewChild(n, e->ns_t, BAD_CAST "DistinguishedFolderId", NULL);
    if (!d || !xmlNewProp(d, BAD_CAST "Id", BAD_CAST folder))
        return NULL;
    if (t && t->mailbox && !t->impersonate) {
        xmlNodePtr mb = xmlNewChild(d, e->ns_t, BAD_CAST "Mailbox", NULL);
        if (!mb || !xmlNewTextChild(mb, e->ns_t, BAD_CAST "EmailAddress", BAD_CAST t->mailbox))
            return NULL;
    }
    return n;
}

xmlDocPtr nk_req_getconfig(const mapi_ews_target *t, const char *folder, const char *name,
                           sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, NULL) != SR_OK)
        return fail(&e, err);
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "GetUserConfiguration", NULL);
    if (!op || !add_name(&e, op, e.ns_m, t, folder, name) ||
        !xmlNewTextChild(op, e.ns_m, BAD_CAST "UserConfigurationProperties", BAD_CAST "BinaryData"))
        return fail(&e, err);
    return e.doc;
}

xmlDocPtr nk_req_setconfig(const mapi_ews_target *t, const char *folder, const char *name,
                           int create, const char *b64, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, NULL) != SR_OK)
        return fail(&e, err);
    const char *opn = create ? "CreateUserConfiguration" : "UpdateUserConfiguration";
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST opn, NULL);
    xmlNodePtr uc = op ? xmlNewChild(op, e.ns_m, BAD_CAST "UserConfiguration", NULL) : NULL;
    if (!uc || !add_name(&e, uc, e.ns_t, t, folder, name) ||
        !xmlNewTextChild(uc, e.ns_t, BAD_CAST "BinaryData", BAD_CAST b64))
        return fail(&e, err);
    return e.doc;
}

xmlDocPtr nk_req_deleteconfig(const mapi_ews_target *t, const char *folder, const char *name,
                              sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, NULL) != SR_OK)
        return fail(&e, err);
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "DeleteUserConfiguration", NULL);
    if (!op || !add_name(&e, op, e.ns_m, t, folder, name))
        return fail(&e, err);
    return e.doc;
}

/* The first child element of ResponseMessages. */
static xmlNodePtr first_msg(xmlNodePtr resp_op)
{
    xmlNodePtr rm = mapi_xml_child(resp_op, EWSF_NS_M, "ResponseMessages");
    for (xmlNodePtr c = rm ? rm->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

sr_code nk_parse_status(xmlNodePtr resp_op, sr_err *err)
{
    xmlNodePtr msg = first_msg(resp_op);
    if (!msg)
        return sr_err_set(err, SR_E_PROTOCOL, "user configuration answer without a response message");
    char *code = mapi_xml_child_text(msg, EWSF_NS_M, "ResponseCode");
    int nf = code && strcmp(code, "ErrorItemNotFound") == 0;
    free(code);
    if (nf)
        return sr_err_set(err, SR_E_NOTFOUND, "ErrorItemNotFound");
    return ewsf_msg_status(msg, err);
}

sr_code nk_parse_getconfig(xmlNodePtr resp_op, uint8_t **data, size_t *len, int *has_binary,
                           sr_err *err)
{
    *data = NULL;
    *len = 0;
    *has_binary = 0;
    sr_code rc = nk_parse_status(resp_op, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr uc = mapi_xml_child(first_msg(resp_op), EWSF_NS_M, "UserConfiguration");
    if (!uc)
        return sr_err_set(err, SR_E_PROTOCOL, "GetUserConfiguration answer without UserConfiguration");
    char *b64 = mapi_xml_child_text(uc, EWSF_NS_T, "BinaryData");
    if (!b64)
        return SR_OK;
    rc = mapi_base64_decode(b64, data, len, err);
    free(b64);
    if (rc != SR_OK)
        sr_err_prefix(err, "BinaryData: ");
    else
        *has_binary = 1;
    return rc;
}
