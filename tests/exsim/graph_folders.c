/* graph_folders.c — GET /users/{id}/mailFolders/{id | well-known name} and
 * …/childFolders: the store's folders as mailFolder resources (id = Graph id,
 * parentFolderId, displayName, childFolderCount, totalItemCount,
 * unreadItemCount, isHidden).  A search folder is typed
 * #microsoft.graph.mailSearchFolder; its definition is not shown (yet). */
#include "tests/exsim/graph.h"

#include <stdlib.h>
#include <string.h>

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
        json_object_set_new(j, "@odata.type", json_string("#microsoft.graph.mailSearchFolder"));
    free(id);
    free(pid);
    return j;
}

int exsim_graph_folders(exsim_gcall *c)
{
    xmlNodePtr f = exsim_graph_folder_ref(c->mbx, c->seg[1]);
    if (!f)
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
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
