/* graph_contacts.c — GET /users/{id}/contacts (the Contacts folder),
 * GET /users/{id}/contactFolders (the Contacts folder's contact subfolders:
 * contactFolder id, displayName, parentFolderId),
 * GET /users/{id}/contactFolders/{folder}/contacts, and GET/PATCH
 * /users/{id}/contacts/{id} over the store's t:Contact items: id = the
 * item's Graph id, displayName / givenName / surname, emailAddresses = the
 * EmailAddresses entries EmailAddress1..3 as stored (an EX address stays a
 * legacyExchangeDN, which is what a fix-up has to find).  Personal
 * distribution lists (t:DistributionList) are not contacts: v1.0 has no
 * resource for them.  The beta has one (distributionList, June 2026): GET
 * beta /users/{id}/distributionLists lists every one in the mailbox with
 * id, displayName and members (beta `member`: key = EmailAddress,
 * routingType, recipientType from MailboxType, displayName = Name), read
 * only here. */
#include "tests/exsim/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ADDRS 3                     /* EmailAddress1..3 */

static xmlNodePtr contact_of(xmlNodePtr it)
{
    return exsim_child(it, EXSIM_NS_T, "Contact");
}

static json_t *contact_json(exsim_gcall *c, xmlNodePtr it)
{
    xmlNodePtr body = contact_of(it);
    json_t *addrs = json_array();
    for (int k = 1; k <= MAX_ADDRS; k++) {
        char key[32];
        snprintf(key, sizeof key, "EmailAddress%d", k);
        for (xmlNodePtr e = exsim_child(exsim_child(body, EXSIM_NS_T, "EmailAddresses"), EXSIM_NS_T, "Entry"); e;
             e = exsim_next(e, EXSIM_NS_T, "Entry"))
            if (exsim_attr(e, "Key") && !strcmp(exsim_attr(e, "Key"), key))
                json_array_append_new(addrs, json_pack("{s:s}", "address", exsim_text(e)));
    }
    char *id = exsim_graph_id(c->mbx, EXSIM_KIND_ITEM, exsim_store_id_of(it));
    char *pid = exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(it->parent));
    xmlNodePtr dn = exsim_child(body, EXSIM_NS_T, "DisplayName"), gn = exsim_child(body, EXSIM_NS_T, "GivenName");
    xmlNodePtr sn = exsim_child(body, EXSIM_NS_T, "Surname");
    json_t *j = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:o}", "id", id ? id : "", "parentFolderId", pid ? pid : "",
                          "displayName", dn ? exsim_text(dn) : NULL, "givenName", gn ? exsim_text(gn) : NULL,
                          "surname", sn ? exsim_text(sn) : NULL, "emailAddresses", addrs);
    free(id);
    free(pid);
    return j;
}

static int list(exsim_gcall *c, xmlNodePtr folder)
{
    json_t *value = json_array();
    for (xmlNodePtr it = exsim_child(folder, NULL, "item"); it; it = exsim_next(it, NULL, "item"))
        if (!exsim_attr(it, "associated") && contact_of(it))
            json_array_append_new(value, contact_json(c, it));
    c->out = json_pack("{s:o,s:o}", "@odata.context", exsim_graph_context(c, "users('%s')/contacts", c->user_key),
                       "value", value);
    return 200;
}

/* The item a Graph contact id names, or NULL. */
static xmlNodePtr find_contact(exsim_gcall *c, const char *gid)
{
    char *ews = strdup(gid);
    for (char *p = ews; p && *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    uint8_t guid[16];
    int kind = 0;
    uint64_t counter = 0;
    int ok = ews && exsim_id_ews_decode(ews, guid, &kind, &counter) == 0 && kind == EXSIM_KIND_ITEM &&
             !memcmp(guid, c->mbx->guid, 16);
    free(ews);
    xmlNodePtr it = ok ? exsim_store_obj(c->mbx, counter) : NULL;
    return it && exsim_is(it, NULL, "item") && contact_of(it) ? it : NULL;
}

static void set_text(xmlNodePtr body, const char *name, json_t *v)
{
    if (!json_is_string(v))
        return;
    xmlNodePtr el = exsim_child(body, EXSIM_NS_T, name);
    if (!el)
        el = xmlNewChild(body, body->ns, BAD_CAST name, NULL);
    xmlNodeSetContent(el, BAD_CAST json_string_value(v));
}

static int update(exsim_gcall *c, xmlNodePtr it)
{
    static const char *const editable[] = { "displayName", "givenName", "surname", "emailAddresses", NULL };
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v) {
        int ok = !strncmp(k, "@odata.", 7);
        for (int i = 0; editable[i] && !ok; i++)
            ok = !strcmp(editable[i], k);
        if (!ok)
            return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The simulator updates only displayName, "
                                     "givenName, surname and emailAddresses of a contact, not '%s'.", k);
    }
    json_t *addrs = json_object_get(c->body, "emailAddresses");
    if (addrs && json_array_size(addrs) > MAX_ADDRS)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "A contact has at most %d email addresses.", MAX_ADDRS);
    xmlNodePtr body = contact_of(it);
    set_text(body, "DisplayName", json_object_get(c->body, "displayName"));
    set_text(body, "GivenName", json_object_get(c->body, "givenName"));
    set_text(body, "Surname", json_object_get(c->body, "surname"));
    if (addrs) {
        xmlNodePtr old = exsim_child(body, EXSIM_NS_T, "EmailAddresses");
        if (old) {
            xmlUnlinkNode(old);
            xmlFreeNode(old);
        }
        if (json_array_size(addrs)) {
            xmlNodePtr ea = xmlNewChild(body, body->ns, BAD_CAST "EmailAddresses", NULL);
            size_t i;
            json_array_foreach(addrs, i, v) {
                const char *a = json_string_value(json_object_get(v, "address"));
                char key[48];
                snprintf(key, sizeof key, "EmailAddress%d", (int)i + 1);
                xmlSetProp(xmlNewTextChild(ea, body->ns, BAD_CAST "Entry", BAD_CAST(a ? a : "")), BAD_CAST "Key",
                           BAD_CAST key);
            }
        }
    }
    exsim_item_changed(it, body);
    c->out = contact_json(c, it);
    return 200;
}

static json_t *folder_json(exsim_gcall *c, xmlNodePtr f)
{
    char *id = exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(f));
    char *pid = exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(f->parent));
    json_t *j = json_pack("{s:s,s:s,s:s}", "id", id ? id : "", "displayName",
                          exsim_attr(f, "name") ? exsim_attr(f, "name") : "", "parentFolderId", pid ? pid : "");
    free(id);
    free(pid);
    return j;
}

static int folders(exsim_gcall *c)
{
    json_t *value = json_array();
    xmlNodePtr root = exsim_store_distinguished(c->mbx, "contacts");
    for (xmlNodePtr f = exsim_child(root, NULL, "folder"); f; f = exsim_next(f, NULL, "folder"))
        if (exsim_attr(f, "class") && !strncmp(exsim_attr(f, "class"), "IPF.Contact", 11))
            json_array_append_new(value, folder_json(c, f));
    c->out = json_pack("{s:o,s:o}", "@odata.context",
                       exsim_graph_context(c, "users('%s')/contactFolders", c->user_key), "value", value);
    return 200;
}

/* MailboxType → the beta recipientType. */
static const char *recipient_type(const char *mailbox_type)
{
    static const char *const map[][2] = { { "Contact", "contact" }, { "OneOff", "oneOff" },
                                          { "Mailbox", "mailbox" }, { "PrivateDL", "privateDL" } };
    for (size_t i = 0; mailbox_type && i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], mailbox_type))
            return map[i][1];
    return NULL;
}

static json_t *dl_json(exsim_gcall *c, xmlNodePtr it, xmlNodePtr body)
{
    json_t *members = json_array();
    for (xmlNodePtr m = exsim_child(exsim_child(body, EXSIM_NS_T, "Members"), EXSIM_NS_T, "Member"); m;
         m = exsim_next(m, EXSIM_NS_T, "Member")) {
        xmlNodePtr mb = exsim_child(m, EXSIM_NS_T, "Mailbox");
        xmlNodePtr name = exsim_child(mb, EXSIM_NS_T, "Name"), rt = exsim_child(mb, EXSIM_NS_T, "RoutingType");
        xmlNodePtr mt = exsim_child(mb, EXSIM_NS_T, "MailboxType");
        json_array_append_new(members, json_pack("{s:s,s:s?,s:s?,s:s?}", "key",
                                                 exsim_text(exsim_child(mb, EXSIM_NS_T, "EmailAddress")),
                                                 "routingType", rt ? exsim_text(rt) : NULL,
                                                 "recipientType", recipient_type(mt ? exsim_text(mt) : NULL),
                                                 "displayName", name ? exsim_text(name) : NULL));
    }
    char *id = exsim_graph_id(c->mbx, EXSIM_KIND_ITEM, exsim_store_id_of(it));
    xmlNodePtr dn = exsim_child(body, EXSIM_NS_T, "DisplayName");
    json_t *j = json_pack("{s:s,s:s,s:s?,s:o}", "@odata.type", "#microsoft.graph.distributionList", "id",
                          id ? id : "", "displayName", dn ? exsim_text(dn) : NULL, "members", members);
    free(id);
    return j;
}

/* Every personal distribution list of the mailbox, in store order. */
static void dl_walk(exsim_gcall *c, xmlNodePtr folder, json_t *value)
{
    for (xmlNodePtr k = exsim_first_el(folder); k; k = exsim_next_el(k)) {
        if (exsim_is(k, NULL, "folder"))
            dl_walk(c, k, value);
        xmlNodePtr body = exsim_is(k, NULL, "item") && !exsim_attr(k, "associated")
                              ? exsim_child(k, EXSIM_NS_T, "DistributionList") : NULL;
        if (body)
            json_array_append_new(value, dl_json(c, k, body));
    }
}

static int distribution_lists(exsim_gcall *c)
{
    json_t *value = json_array();
    dl_walk(c, exsim_store_distinguished(c->mbx, "contacts"), value);
    c->out = json_pack("{s:o,s:o}", "@odata.context",
                       exsim_graph_context(c, "users('%s')/distributionLists", c->user_key), "value", value);
    return 200;
}

int exsim_graph_contacts(exsim_gcall *c)
{
    if (!strcmp(c->seg[0], "distributionLists"))
        return distribution_lists(c);
    if (!strcmp(c->seg[0], "contactFolders") && c->nseg == 1)
        return folders(c);
    if (!strcmp(c->seg[0], "contactFolders")) {
        xmlNodePtr f = exsim_graph_folder_ref(c->mbx, c->seg[1]);
        return f ? list(c, f)
                 : exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    }
    if (c->nseg == 1)
        return list(c, exsim_store_distinguished(c->mbx, "contacts"));
    xmlNodePtr it = find_contact(c, c->seg[1]);
    if (!it)
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    if (!strcmp(c->method, "PATCH"))
        return c->body ? update(c, it) : exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    c->out = contact_json(c, it);
    json_object_set_new(c->out, "@odata.context",
                        exsim_graph_context(c, "users('%s')/contacts/$entity", c->user_key));
    return 200;
}
