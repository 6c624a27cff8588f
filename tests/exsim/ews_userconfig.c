/* ews_userconfig.c — Get/Create/Update/DeleteUserConfiguration.  A user
 * configuration is an associated item of class IPM.Configuration.<Name> in
 * its folder; its Dictionary / XmlData / BinaryData are stored as t:
 * siblings after the item's t:Message (SEED-FORMAT.md). */
#include "tests/exsim/store.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CFG_PREFIX "IPM.Configuration."

static const char *const parts[] = {"Dictionary", "XmlData", "BinaryData", NULL};

xmlNodePtr exsim_config_find(xmlNodePtr folder, const char *name)
{
    size_t pl = strlen(CFG_PREFIX);
    if (!name)
        return NULL;
    for (xmlNodePtr it = exsim_child(folder, NULL, "item"); it; it = exsim_next(it, NULL, "item")) {
        if (!exsim_attr(it, "associated"))
            continue;
        xmlNodePtr cls = exsim_child(exsim_first_el(it), EXSIM_NS_T, "ItemClass");
        const char *c = exsim_text(cls);
        if (strncasecmp(c, CFG_PREFIX, pl) == 0 && strcasecmp(c + pl, name) == 0)
            return it;
    }
    return NULL;
}

/* Resolve the t:UserConfigurationName element to (mailbox, folder, item). */
static const char *locate(exsim_req *r, xmlNodePtr ucn, exsim_mbx **m, xmlNodePtr *folder,
                          xmlNodePtr *item)
{
    const char *code = NULL;
    *folder = exsim_resolve_folder(r, exsim_first_el(ucn), m, &code);
    if (!*folder)
        return code;
    *item = exsim_config_find(*folder, exsim_attr(ucn, "Name"));
    return NULL;
}

static int wants(const char *props, const char *what)
{
    if (strstr(props, "All"))
        return 1;
    size_t wl = strlen(what);
    for (const char *p = props; (p = strstr(p, what)) != NULL; p += wl)
        if ((p == props || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
            return 1;
    return 0;
}

int exsim_op_GetUserConfiguration(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "GetUserConfigurationResponse");
    xmlNodePtr ucn = exsim_child(r->op, EXSIM_NS_M, "UserConfigurationName");
    const char *props = exsim_text(exsim_child(r->op, EXSIM_NS_M, "UserConfigurationProperties"));
    exsim_mbx *m = NULL;
    xmlNodePtr folder = NULL, it = NULL;
    const char *code = locate(r, ucn, &m, &folder, &it);
    if (!code && !it)
        code = "ErrorItemNotFound";
    if (code) {
        exsim_error_msg(msgs, "GetUserConfigurationResponseMessage", code);
        return 200;
    }
    xmlNodePtr msg = exsim_resp_message(msgs, "GetUserConfigurationResponseMessage", "NoError", NULL);
    xmlNodePtr uc = exsim_m(r, msg, "UserConfiguration", NULL);
    xmlNodePtr name = exsim_copy_into(r, uc, ucn);
    xmlSetNs(name, exsim_ns_t(r));
    if (wants(props, "Id"))
        exsim_add_item_id(uc, m, it);
    for (int i = 0; parts[i]; i++) {
        xmlNodePtr p = exsim_child(it, EXSIM_NS_T, parts[i]);
        if (p && wants(props, parts[i]))
            exsim_copy_into(r, uc, p);
    }
    return 200;
}

/* Replace the item's parts with those present in the request's UserConfiguration. */
static void store_parts(exsim_req *r, xmlNodePtr it, xmlNodePtr uc)
{
    for (int i = 0; parts[i]; i++) {
        xmlNodePtr v = exsim_child(uc, EXSIM_NS_T, parts[i]);
        if (!v)
            continue;
        xmlNodePtr old = exsim_child(it, EXSIM_NS_T, parts[i]);
        if (old) {
            xmlUnlinkNode(old);
            xmlFreeNode(old);
        }
        exsim_store_copy(r->org, it, v);
    }
    /* keep Dictionary, XmlData, BinaryData in schema order */
    for (int i = 0; parts[i]; i++) {
        xmlNodePtr p = exsim_child(it, EXSIM_NS_T, parts[i]);
        if (p) {
            xmlUnlinkNode(p);
            xmlAddChild(it, p);
        }
    }
}

xmlNodePtr exsim_config_new(exsim_org *org, exsim_mbx *m, xmlNodePtr folder, const char *name)
{
    xmlNsPtr t = exsim_store_ns_t(org);
    xmlNodePtr it = xmlNewChild(folder, NULL, BAD_CAST "item", NULL);
    exsim_store_add(m, it);
    xmlSetProp(it, BAD_CAST "associated", BAD_CAST "1");
    xmlSetProp(it, BAD_CAST "config", BAD_CAST name);
    xmlNodePtr msg = xmlNewChild(it, t, BAD_CAST "Message", NULL);
    size_t len = strlen(CFG_PREFIX) + strlen(name) + 1;
    char *cls = malloc(len);
    if (cls) {
        strcpy(cls, CFG_PREFIX);
        strcat(cls, name);
        xmlNewTextChild(msg, t, BAD_CAST "ItemClass", BAD_CAST cls);
        xmlNewTextChild(msg, t, BAD_CAST "Subject", BAD_CAST cls);
    }
    free(cls);
    return it;
}

static int change(exsim_req *r, const char *resp, const char *msgname, int creating)
{
    xmlNodePtr msgs = exsim_resp_messages(r, resp);
    xmlNodePtr uc = exsim_child(r->op, EXSIM_NS_M, "UserConfiguration");
    xmlNodePtr ucn = exsim_child(uc, EXSIM_NS_T, "UserConfigurationName");
    exsim_mbx *m = NULL;
    xmlNodePtr folder = NULL, it = NULL;
    const char *code = locate(r, ucn, &m, &folder, &it);
    if (!code && creating && it)
        code = "ErrorItemSave";
    if (!code && creating && !exsim_attr(ucn, "Name"))
        code = "ErrorInvalidRequest";
    if (!code && !creating && !it)
        code = "ErrorItemNotFound";
    if (code) {
        exsim_error_msg(msgs, msgname, code);
        return 200;
    }
    if (creating)
        it = exsim_config_new(r->org, m, folder, exsim_attr(ucn, "Name"));
    store_parts(r, it, uc);
    exsim_resp_message(msgs, msgname, "NoError", NULL);
    return 200;
}

int exsim_op_CreateUserConfiguration(exsim_req *r)
{
    return change(r, "CreateUserConfigurationResponse", "CreateUserConfigurationResponseMessage", 1);
}

int exsim_op_UpdateUserConfiguration(exsim_req *r)
{
    return change(r, "UpdateUserConfigurationResponse", "UpdateUserConfigurationResponseMessage", 0);
}

int exsim_op_DeleteUserConfiguration(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "DeleteUserConfigurationResponse");
    xmlNodePtr ucn = exsim_child(r->op, EXSIM_NS_M, "UserConfigurationName");
    exsim_mbx *m = NULL;
    xmlNodePtr folder = NULL, it = NULL;
    const char *code = locate(r, ucn, &m, &folder, &it);
    if (!code && !it)
        code = "ErrorItemNotFound";
    if (code) {
        exsim_error_msg(msgs, "DeleteUserConfigurationResponseMessage", code);
        return 200;
    }
    exsim_store_remove(m, it);
    exsim_resp_message(msgs, "DeleteUserConfigurationResponseMessage", "NoError", NULL);
    return 200;
}
