/* ews_booking.c — Get/Create/UpdateUserConfiguration with a Dictionary
 * (ews_feat.h), for the Booking feature.  UserConfigurationNameType extends
 * TargetFolderIdType; UserConfigurationType: UserConfigurationName, ItemId,
 * Dictionary, XmlData, BinaryData (types.xsd). */
#include "cpuu/ews_feat.h"

#include <stdlib.h>
#include <string.h>

static xmlDocPtr fail(mapi_ews_env *e, sr_err *err)
{
    xmlFreeDoc(e->doc);
    sr_err_set(err, SR_E_NOMEM, "out of memory building an EWS request");
    return NULL;
}

/* UserConfigurationName Name=name + DistinguishedFolderId [+ Mailbox]. */
static xmlNodePtr add_name(mapi_ews_env *e, xmlNodePtr parent, xmlNsPtr ns,
                           const mapi_ews_target *t, const char *folder, const char *name)
{
    xmlNodePtr n = xmlNewChild(parent, ns, BAD_CAST "UserConfigurationName", NULL);
    xmlNodePtr d = n && xmlNewProp(n, BAD_CAST "Name", BAD_CAST name)
                       ? xmlNewChild(n, e->ns_t, BAD_CAST "DistinguishedFolderId", NULL) : NULL;
    if (!d || !xmlNewProp(d, BAD_CAST "Id", BAD_CAST folder))
        return NULL;
    if (t && t->mailbox && !t->impersonate) {
        xmlNodePtr mb = xmlNewChild(d, e->ns_t, BAD_CAST "Mailbox", NULL);
        if (!mb || !mapi_xml_add(mb, e->ns_t, "EmailAddress", t->mailbox))
            return NULL;
    }
    return n;
}

xmlDocPtr ewsf_req_getconfig_dict(const mapi_ews_target *t, const char *folder, const char *name,
                                  sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "GetUserConfiguration", NULL);
    if (!op || !add_name(&e, op, e.ns_m, t, folder, name) ||
        !mapi_xml_add(op, e.ns_m, "UserConfigurationProperties", "Dictionary"))
        return fail(&e, err);
    return e.doc;
}

xmlDocPtr ewsf_req_setconfig_dict(const mapi_ews_target *t, const char *folder, const char *name,
                                  int create, xmlNodePtr dict, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    const char *opn = create ? "CreateUserConfiguration" : "UpdateUserConfiguration";
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST opn, NULL);
    xmlNodePtr uc = op ? xmlNewChild(op, e.ns_m, BAD_CAST "UserConfiguration", NULL) : NULL;
    if (!uc || !add_name(&e, uc, e.ns_t, t, folder, name))
        return fail(&e, err);
    xmlNodePtr cp = xmlDocCopyNode(dict, e.doc, 1);
    if (!cp)
        return fail(&e, err);
    xmlAddChild(uc, cp);
    xmlReconciliateNs(e.doc, cp);
    return e.doc;
}
