/* graph_folders.c — /users/{id}/mailFolders/{id | well-known name} (GET,
 * PATCH, DELETE) and …/childFolders (GET, POST): the store's folders as
 * mailFolder resources (id = Graph id, parentFolderId, displayName,
 * childFolderCount, totalItemCount, unreadItemCount, isHidden).  A search
 * folder is a #microsoft.graph.mailSearchFolder over the folder's
 * t:SearchParameters: filterQuery = the Restriction (graph_search.c),
 * sourceFolderIds = BaseFolderIds, includeNestedFolders = Traversal Deep. */
#include "tests/exsim/graph.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The search folder's definition as mailSearchFolder properties. */
static void search_json(exsim_gcall *c, xmlNodePtr f, json_t *j)
{
    xmlNodePtr sp = exsim_child(f, EXSIM_NS_T, "SearchParameters");
    char *q = exsim_graph_filter_of(exsim_child(sp, EXSIM_NS_T, "Restriction"));
    json_t *src = json_array();
    int ok = q != NULL;
    for (xmlNodePtr b = exsim_first_el(exsim_child(sp, EXSIM_NS_T, "BaseFolderIds")); b; b = exsim_next_el(b)) {
        xmlNodePtr bf = NULL;
        if (exsim_is(b, EXSIM_NS_T, "DistinguishedFolderId"))
            bf = exsim_store_distinguished(c->mbx, exsim_attr(b, "Id"));
        else if (exsim_attr(b, "Id")) {
            char *gid = strdup(exsim_attr(b, "Id"));
            for (char *p = gid; p && *p; p++)
                *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
            bf = gid ? exsim_graph_folder(c->mbx, gid) : NULL;
            free(gid);
        }
        char *id = bf ? exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(bf)) : NULL;
        ok = ok && id;
        if (id)
            json_array_append_new(src, json_string(id));
        free(id);
    }
    const char *trav = exsim_attr(sp, "Traversal");
    json_object_set_new(j, "@odata.type", json_string("#microsoft.graph.mailSearchFolder"));
    json_object_set_new(j, "isSupported", json_boolean(ok));
    json_object_set_new(j, "includeNestedFolders", json_boolean(trav && !strcmp(trav, "Deep")));
    json_object_set_new(j, "sourceFolderIds", src);
    json_object_set_new(j, "filterQuery", q ? json_string(q) : json_null());
    free(q);
}

static json_t *folder_json(exsim_gcall *c, xmlNodePtr f)
{
    int children = 0, total = 0, unread = 0;
    for (xmlNodePtr k = exsim_first_el(f); k; k = exsim_next_el(k)) {
        if (exsim_is(k, NULL, "folder"))
            children++;
        if (!exsim_is(k, NULL, "item") || exsim_attr(k, "associated"))
            continue;
        total++;
        if (!strcmp(exsim_text(exsim_child(exsim_first_el(k), EXSIM_NS_T, "IsRead")), "false"))
            unread++;
    }
    char *id = exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(f));
    xmlNodePtr parent = f->parent && exsim_is(f->parent, NULL, "folder") ? f->parent : NULL;
    char *pid = parent ? exsim_graph_id(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(parent)) : NULL;
    json_t *j = json_pack("{s:s,s:s,s:s?,s:i,s:i,s:i,s:b}", "id", id ? id : "", "displayName",
                          exsim_attr(f, "name") ? exsim_attr(f, "name") : "", "parentFolderId", pid,
                          "childFolderCount", children, "unreadItemCount", unread, "totalItemCount", total,
                          "isHidden", 0);
    if (exsim_attr(f, "search"))
        search_json(c, f, j);
    free(id);
    free(pid);
    return j;
}

/* The body's search definition → a new t:SearchParameters under f (the old
 * one replaced); 0, or an error status. */
static int set_search(exsim_gcall *c, xmlNodePtr f, json_t *b, int creating)
{
    xmlNodePtr old = exsim_child(f, EXSIM_NS_T, "SearchParameters");
    json_t *q = json_object_get(b, "filterQuery"), *src = json_object_get(b, "sourceFolderIds");
    json_t *nested = json_object_get(b, "includeNestedFolders");
    if (creating && (!json_is_string(q) || !json_array_size(src)))
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "A mailSearchFolder needs filterQuery and "
                                 "sourceFolderIds.");
    char *oldq = old ? exsim_graph_filter_of(exsim_child(old, EXSIM_NS_T, "Restriction")) : NULL;
    xmlNodePtr r = exsim_graph_restriction_of(c->org, json_is_string(q) ? json_string_value(q) : oldq);
    free(oldq);
    if (!r)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The filterQuery is not supported by this "
                                 "simulator's search folders (see tests/exsim/graph_search.c).");
    xmlNsPtr t = exsim_store_ns_t(c->org);
    xmlNodePtr sp = xmlNewDocNode(c->org->doc, t, BAD_CAST "SearchParameters", NULL);
    int deep = json_is_boolean(nested) ? json_is_true(nested)
             : old && exsim_attr(old, "Traversal") && !strcmp(exsim_attr(old, "Traversal"), "Deep");
    xmlSetProp(sp, BAD_CAST "Traversal", BAD_CAST(deep ? "Deep" : "Shallow"));
    xmlAddChild(sp, r);
    if (src) {
        xmlNodePtr bases = xmlNewChild(sp, t, BAD_CAST "BaseFolderIds", NULL);
        size_t i;
        json_t *v;
        json_array_foreach(src, i, v) {
            xmlNodePtr bf = json_is_string(v) ? exsim_graph_folder_ref(c->mbx, json_string_value(v)) : NULL;
            if (!bf) {
                xmlFreeNode(sp);
                return exsim_graph_error(c, 400, "ErrorInvalidIdMalformed", "Id is malformed.");
            }
            char *ews = exsim_id_ews(c->mbx, EXSIM_KIND_FOLDER, exsim_store_id_of(bf));
            xmlSetProp(xmlNewChild(bases, t, BAD_CAST "FolderId", NULL), BAD_CAST "Id", BAD_CAST(ews ? ews : ""));
            free(ews);
        }
    } else if (old && exsim_child(old, EXSIM_NS_T, "BaseFolderIds")) {
        /* moved, not copied: a parentless copy would declare xmlns:t again in the dump */
        xmlNodePtr keep = exsim_child(old, EXSIM_NS_T, "BaseFolderIds");
        xmlUnlinkNode(keep);
        xmlAddChild(sp, keep);
    }
    if (old) {
        xmlReplaceNode(old, sp);
        xmlFreeNode(old);
    } else {
        xmlAddChild(f, sp);
    }
    return 0;
}

static int create_folder(exsim_gcall *c, xmlNodePtr parent)
{
    const char *name = json_string_value(json_object_get(c->body, "displayName"));
    const char *type = json_string_value(json_object_get(c->body, "@odata.type"));
    int search = type && strstr(type, "mailSearchFolder") != NULL;
    if (!name || !*name)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "displayName is required.");
    for (xmlNodePtr k = exsim_child(parent, NULL, "folder"); k; k = exsim_next(k, NULL, "folder"))
        if (exsim_attr(k, "name") && !strcasecmp(exsim_attr(k, "name"), name))
            return exsim_graph_error(c, 409, "ErrorFolderExists", "A folder with the specified name already exists.");
    xmlNodePtr f = xmlNewChild(parent, NULL, BAD_CAST "folder", NULL);
    exsim_store_add(c->mbx, f);
    xmlSetProp(f, BAD_CAST "name", BAD_CAST name);
    xmlSetProp(f, BAD_CAST "class", BAD_CAST "IPF.Note");
    if (search) {
        xmlSetProp(f, BAD_CAST "search", BAD_CAST "1");
        int st = set_search(c, f, c->body, 1);
        if (st) {
            exsim_store_remove(c->mbx, f);
            return st;
        }
    }
    c->out = folder_json(c, f);
    json_object_set_new(c->out, "@odata.context",
                        exsim_graph_context(c, "users('%s')/mailFolders('%s')/childFolders/$entity", c->user_key,
                                            c->seg[1]));
    return 201;
}

static int update_folder(exsim_gcall *c, xmlNodePtr f)
{
    json_t *name = json_object_get(c->body, "displayName");
    int search_props = json_object_get(c->body, "filterQuery") || json_object_get(c->body, "sourceFolderIds") ||
                       json_object_get(c->body, "includeNestedFolders");
    if (search_props && !exsim_attr(f, "search"))
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "Only a mailSearchFolder has a search definition.");
    if (search_props) {
        int st = set_search(c, f, c->body, 0);
        if (st)
            return st;
    }
    if (json_is_string(name))
        xmlSetProp(f, BAD_CAST "name", BAD_CAST json_string_value(name));
    c->out = folder_json(c, f);
    return 200;
}

int exsim_graph_folders(exsim_gcall *c)
{
    xmlNodePtr f = exsim_graph_folder_ref(c->mbx, c->seg[1]);
    if (!f)
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    if (!strcmp(c->method, "POST"))
        return c->body ? create_folder(c, f)
                       : exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    if (!strcmp(c->method, "PATCH"))
        return c->body ? update_folder(c, f)
                       : exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    if (!strcmp(c->method, "DELETE")) {
        if (exsim_attr(f, "distinguished"))
            return exsim_graph_error(c, 403, "ErrorDeleteDistinguishedFolder", "Distinguished folders cannot be deleted.");
        exsim_store_remove(c->mbx, f);
        return 204;
    }
    if (c->nseg == 2) {
        c->out = folder_json(c, f);
        json_object_set_new(c->out, "@odata.context",
                            exsim_graph_context(c, "users('%s')/mailFolders/$entity", c->user_key));
        return 200;
    }
    json_t *value = json_array();
    for (xmlNodePtr k = exsim_child(f, NULL, "folder"); k; k = exsim_next(k, NULL, "folder"))
        json_array_append_new(value, folder_json(c, k));
    c->out = json_pack("{s:o,s:o}", "@odata.context",
                       exsim_graph_context(c, "users('%s')/mailFolders('%s')/childFolders", c->user_key, c->seg[1]),
                       "value", value);
    return 200;
}
