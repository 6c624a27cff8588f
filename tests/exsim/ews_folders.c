/* ews_folders.c — GetFolder, FindFolder, CreateFolder, DeleteFolder. */
#include "tests/exsim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *folder_type(xmlNodePtr f)
{
    const char *cls = exsim_attr(f, "class");
    if (exsim_attr(f, "search"))
        return "SearchFolder";
    if (cls && strncmp(cls, "IPF.Appointment", 15) == 0)
        return "CalendarFolder";
    if (cls && strncmp(cls, "IPF.Contact", 11) == 0)
        return "ContactsFolder";
    if (cls && strncmp(cls, "IPF.Task", 8) == 0)
        return "TasksFolder";
    return "Folder";
}

static void count_content(xmlNodePtr f, int *items, int *unread, int *children)
{
    *items = *unread = *children = 0;
    for (xmlNodePtr c = exsim_first_el(f); c; c = exsim_next_el(c)) {
        if (exsim_is(c, NULL, "folder")) {
            (*children)++;
        } else if (exsim_is(c, NULL, "item") && !exsim_attr(c, "associated")) {
            (*items)++;
            xmlNodePtr rd = exsim_child(exsim_first_el(c), EXSIM_NS_T, "IsRead");
            if (rd && strcmp(exsim_text(rd), "false") == 0)
                (*unread)++;
        }
    }
}

static void num_el(exsim_req *r, xmlNodePtr parent, const char *name, int v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%d", v);
    exsim_t(r, parent, name, buf);
}

/* One folder in the requested shape, in BaseFolderType/FolderType order. */
static void emit_folder(exsim_req *r, xmlNodePtr parent, exsim_mbx *m, xmlNodePtr f,
                        const exsim_shape *s)
{
    const char *type = folder_type(f);
    int all = s->base == EXSIM_SHAPE_ALL, def = s->base >= EXSIM_SHAPE_DEFAULT;
    int items, unread, children;
    count_content(f, &items, &unread, &children);
    xmlNodePtr out = exsim_t(r, parent, type, NULL);
    exsim_add_folder_id(out, "FolderId", m, f);
    if ((all || exsim_shape_wants(s, "ParentFolderId")) && exsim_is(f->parent, NULL, "folder"))
        exsim_add_folder_id(out, "ParentFolderId", m, f->parent);
    if ((all || exsim_shape_wants(s, "FolderClass")) && exsim_attr(f, "class"))
        exsim_t(r, out, "FolderClass", exsim_attr(f, "class"));
    if (def || exsim_shape_wants(s, "DisplayName"))
        exsim_t(r, out, "DisplayName", exsim_attr(f, "name") ? exsim_attr(f, "name") : "");
    if (def || exsim_shape_wants(s, "TotalCount"))
        num_el(r, out, "TotalCount", items);
    if (def || exsim_shape_wants(s, "ChildFolderCount"))
        num_el(r, out, "ChildFolderCount", children);
    exsim_emit_extprops(r, out, m, f, f, s);
    int has_unread = strcmp(type, "Folder") == 0 || strcmp(type, "SearchFolder") == 0 ||
                     strcmp(type, "TasksFolder") == 0;
    if (has_unread && (def || exsim_shape_wants(s, "UnreadCount")))
        num_el(r, out, "UnreadCount", unread);
    xmlNodePtr sp = exsim_child(f, EXSIM_NS_T, "SearchParameters");
    if (sp && strcmp(type, "SearchFolder") == 0 && (all || exsim_shape_wants(s, "SearchParameters")))
        exsim_copy_into(r, out, sp);
}

static xmlNodePtr success(exsim_req *r, xmlNodePtr msgs, const char *name)
{
    (void)r;
    return exsim_resp_message(msgs, name, "NoError", NULL);
}

int exsim_op_GetFolder(exsim_req *r)
{
    exsim_shape s;
    exsim_shape_parse(exsim_child(r->op, EXSIM_NS_M, "FolderShape"), &s);
    xmlNodePtr msgs = exsim_resp_messages(r, "GetFolderResponse");
    xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "FolderIds");
    for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr f = exsim_resolve_folder(r, id, &m, &code);
        if (!f) {
            exsim_error_msg(msgs, "GetFolderResponseMessage", code);
            continue;
        }
        xmlNodePtr msg = success(r, msgs, "GetFolderResponseMessage");
        emit_folder(r, exsim_m(r, msg, "Folders", NULL), m, f, &s);
    }
    return 200;
}

/* ---- FindFolder ---- */

typedef struct {
    exsim_mbx *m;
    xmlNodePtr f;
} folder_ctx;

static char *folder_value(void *vctx, xmlNodePtr path)
{
    folder_ctx *c = vctx;
    if (!path)
        return NULL;
    if (exsim_is(path, EXSIM_NS_T, "FieldURI")) {
        const char *uri = exsim_attr(path, "FieldURI");
        const char *v = NULL;
        if (uri && strcmp(uri, "folder:DisplayName") == 0)
            v = exsim_attr(c->f, "name");
        else if (uri && strcmp(uri, "folder:FolderClass") == 0)
            v = exsim_attr(c->f, "class");
        return v ? strdup(v) : NULL;
    }
    return exsim_prop_value(c->m, c->f, c->f, path);   /* stored, else computed */
}

static void collect(xmlNodePtr f, int deep, xmlNodePtr **list, size_t *n, size_t *cap)
{
    for (xmlNodePtr c = exsim_child(f, NULL, "folder"); c; c = exsim_next(c, NULL, "folder")) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 32;
            *list = realloc(*list, *cap * sizeof **list);
        }
        (*list)[(*n)++] = c;
        if (deep)
            collect(c, deep, list, n, cap);
    }
}

static void find_in(exsim_req *r, xmlNodePtr msgs, exsim_mbx *m, xmlNodePtr parent,
                    const exsim_shape *s, int deep)
{
    xmlNodePtr *all = NULL, *hits;
    size_t n = 0, cap = 0, nh = 0, first, count;
    collect(parent, deep, &all, &n, &cap);
    hits = all;
    xmlNodePtr restr = exsim_child(r->op, EXSIM_NS_M, "Restriction");
    for (size_t i = 0; i < n; i++) {
        folder_ctx c = {m, all[i]};
        if (!restr || exsim_restrict(restr, folder_value, &c))
            hits[nh++] = all[i];
    }
    xmlNodePtr view = exsim_child(r->op, EXSIM_NS_M, "IndexedPageFolderView");
    exsim_page(view, nh, &first, &count);
    xmlNodePtr msg = success(r, msgs, "FindFolderResponseMessage");
    xmlNodePtr root = exsim_m(r, msg, "RootFolder", NULL);
    exsim_root_attrs(root, view, nh, first, count);
    xmlNodePtr folders = exsim_t(r, root, "Folders", NULL);
    for (size_t i = first; i < first + count; i++)
        emit_folder(r, folders, m, hits[i], s);
    free(all);
}

int exsim_op_FindFolder(exsim_req *r)
{
    exsim_shape s;
    exsim_shape_parse(exsim_child(r->op, EXSIM_NS_M, "FolderShape"), &s);
    const char *trav = exsim_attr(r->op, "Traversal");
    int deep = trav && strcmp(trav, "Deep") == 0;
    xmlNodePtr msgs = exsim_resp_messages(r, "FindFolderResponse");
    xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "ParentFolderIds");
    for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr f = exsim_resolve_folder(r, id, &m, &code);
        if (!f)
            exsim_error_msg(msgs, "FindFolderResponseMessage", code);
        else
            find_in(r, msgs, m, f, &s, deep);
    }
    return 200;
}

/* ---- CreateFolder ---- */

static const char *default_class(const char *type)
{
    if (strcmp(type, "CalendarFolder") == 0)
        return "IPF.Appointment";
    if (strcmp(type, "ContactsFolder") == 0)
        return "IPF.Contact";
    if (strcmp(type, "TasksFolder") == 0)
        return "IPF.Task";
    if (strcmp(type, "SearchFolder") == 0)
        return "IPF.Note";
    return NULL;
}

static xmlNodePtr child_named(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = exsim_child(parent, NULL, "folder"); c; c = exsim_next(c, NULL, "folder")) {
        const char *n = exsim_attr(c, "name");
        if (n && strcasecmp(n, name) == 0)
            return c;
    }
    return NULL;
}

/* Store SearchParameters with distinguished base folders turned into FolderIds,
 * as Exchange returns them. */
static const char *store_search(exsim_req *r, exsim_mbx *m, xmlNodePtr folder, xmlNodePtr sp)
{
    xmlNodePtr copy = exsim_store_copy(r->org, folder, sp);
    xmlNodePtr bases = exsim_child(copy, EXSIM_NS_T, "BaseFolderIds");
    for (xmlNodePtr b = exsim_first_el(bases); b;) {
        xmlNodePtr next = exsim_next_el(b);
        exsim_mbx *bm = NULL;
        const char *code = NULL;
        xmlNodePtr bf = exsim_resolve_folder(r, b, &bm, &code);
        if (!bf) {
            xmlUnlinkNode(copy);
            xmlFreeNode(copy);
            return code;
        }
        if (exsim_is(b, EXSIM_NS_T, "DistinguishedFolderId")) {
            char *id = exsim_id_ews(bm, EXSIM_KIND_FOLDER, exsim_store_id_of(bf));
            xmlNodePtr fid = xmlNewNode(b->ns, BAD_CAST "FolderId");
            xmlNewProp(fid, BAD_CAST "Id", BAD_CAST id);
            free(id);
            xmlReplaceNode(b, fid);
            xmlFreeNode(b);
        }
        b = next;
    }
    r->mailbox = m->info.smtp;
    return NULL;
}

static const char *create_one(exsim_req *r, exsim_mbx *m, xmlNodePtr parent, xmlNodePtr spec,
                              xmlNodePtr *created)
{
    const char *type = (const char *)spec->name;
    const char *name = exsim_text(exsim_child(spec, EXSIM_NS_T, "DisplayName"));
    if (!*name)
        return "ErrorInvalidOperation";
    if (child_named(parent, name))
        return "ErrorFolderExists";
    xmlNodePtr cls = exsim_child(spec, EXSIM_NS_T, "FolderClass");
    xmlNodePtr f = xmlNewNode(NULL, BAD_CAST "folder");
    xmlAddChild(parent, f);
    exsim_store_add(m, f);
    xmlSetProp(f, BAD_CAST "name", BAD_CAST name);
    const char *c = cls ? exsim_text(cls) : default_class(type);
    if (c)
        xmlSetProp(f, BAD_CAST "class", BAD_CAST c);
    for (xmlNodePtr e = exsim_child(spec, EXSIM_NS_T, "ExtendedProperty"); e;
         e = exsim_next(e, EXSIM_NS_T, "ExtendedProperty"))
        exsim_store_copy(r->org, f, e);
    xmlNodePtr sp = exsim_child(spec, EXSIM_NS_T, "SearchParameters");
    if (strcmp(type, "SearchFolder") == 0) {
        xmlSetProp(f, BAD_CAST "search", BAD_CAST "1");
        const char *code = sp ? store_search(r, m, f, sp) : "ErrorInvalidOperation";
        if (code) {
            exsim_store_remove(m, f);
            return code;
        }
    }
    *created = f;
    return NULL;
}

int exsim_op_CreateFolder(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "CreateFolderResponse");
    xmlNodePtr pid = exsim_first_el(exsim_child(r->op, EXSIM_NS_M, "ParentFolderId"));
    xmlNodePtr specs = exsim_child(r->op, EXSIM_NS_M, "Folders");
    exsim_mbx *m = NULL;
    const char *code = NULL;
    xmlNodePtr parent = exsim_resolve_folder(r, pid, &m, &code);
    for (xmlNodePtr spec = exsim_first_el(specs); spec; spec = exsim_next_el(spec)) {
        xmlNodePtr f = NULL;
        const char *err = parent ? create_one(r, m, parent, spec, &f) : code;
        if (err) {
            exsim_error_msg(msgs, "CreateFolderResponseMessage", err);
            continue;
        }
        xmlNodePtr msg = success(r, msgs, "CreateFolderResponseMessage");
        xmlNodePtr out = exsim_t(r, exsim_m(r, msg, "Folders", NULL), (const char *)spec->name, NULL);
        exsim_add_folder_id(out, "FolderId", m, f);
    }
    return 200;
}

int exsim_op_DeleteFolder(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "DeleteFolderResponse");
    xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "FolderIds");
    for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr f = exsim_resolve_folder(r, id, &m, &code);
        if (f && exsim_attr(f, "distinguished"))
            code = "ErrorDeleteDistinguishedFolder", f = NULL;
        if (!f) {
            exsim_error_msg(msgs, "DeleteFolderResponseMessage", code);
            continue;
        }
        exsim_store_remove(m, f);
        success(r, msgs, "DeleteFolderResponseMessage");
    }
    return 200;
}

/* ---- UpdateFolder ---- */

static const char *update_field(exsim_req *r, exsim_mbx *m, xmlNodePtr f, xmlNodePtr upd)
{
    xmlNodePtr path = exsim_first_el(upd);
    xmlNodePtr src = exsim_next_el(path);
    int del = exsim_is(upd, EXSIM_NS_T, "DeleteFolderField");
    if (exsim_is(upd, EXSIM_NS_T, "AppendToFolderField"))
        return "ErrorInvalidPropertyAppend";
    if (exsim_is(path, EXSIM_NS_T, "ExtendedFieldURI")) {
        xmlNodePtr v = del ? NULL : exsim_find_extprop(src, path);
        if (!del && !v)
            return "ErrorInvalidRequest";
        xmlNodePtr old = exsim_find_extprop(f, path);
        if (old) {
            xmlUnlinkNode(old);
            xmlFreeNode(old);
        }
        if (v)
            exsim_store_copy(r->org, f, v);
        return NULL;
    }
    const char *uri = exsim_attr(path, "FieldURI");
    const char *local = uri && strchr(uri, ':') ? strchr(uri, ':') + 1 : "";
    xmlNodePtr v = del ? NULL : exsim_child(src, EXSIM_NS_T, local);
    if (!del && !v)
        return "ErrorInvalidRequest";
    if (strcmp(local, "DisplayName") == 0) {
        if (del || !*exsim_text(v))
            return "ErrorInvalidPropertyDelete";
        if (exsim_attr(f, "distinguished"))
            return "ErrorInvalidOperation";
        xmlNodePtr same = child_named(f->parent, exsim_text(v));
        if (same && same != f)
            return "ErrorFolderExists";
        xmlSetProp(f, BAD_CAST "name", BAD_CAST exsim_text(v));
    } else if (strcmp(local, "FolderClass") == 0) {
        if (del)
            xmlUnsetProp(f, BAD_CAST "class");
        else
            xmlSetProp(f, BAD_CAST "class", BAD_CAST exsim_text(v));
    } else if (strcmp(local, "SearchParameters") == 0 && exsim_attr(f, "search") && !del) {
        xmlNodePtr old = exsim_child(f, EXSIM_NS_T, "SearchParameters");
        const char *code = store_search(r, m, f, v);
        if (code)
            return code;
        xmlUnlinkNode(old);
        xmlFreeNode(old);
    } else {
        return "ErrorInvalidPropertySet";
    }
    return NULL;
}

int exsim_op_UpdateFolder(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "UpdateFolderResponse");
    xmlNodePtr changes = exsim_child(r->op, EXSIM_NS_M, "FolderChanges");
    for (xmlNodePtr ch = exsim_first_el(changes); ch; ch = exsim_next_el(ch)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr f = exsim_resolve_folder(r, exsim_first_el(ch), &m, &code);
        for (xmlNodePtr u = exsim_first_el(exsim_child(ch, EXSIM_NS_T, "Updates")); f && !code && u;
             u = exsim_next_el(u))
            code = update_field(r, m, f, u);
        if (!f || code) {
            exsim_error_msg(msgs, "UpdateFolderResponseMessage", code);
            continue;
        }
        xmlNodePtr msg = success(r, msgs, "UpdateFolderResponseMessage");
        xmlNodePtr out = exsim_t(r, exsim_m(r, msg, "Folders", NULL), folder_type(f), NULL);
        exsim_add_folder_id(out, "FolderId", m, f);
    }
    return 200;
}
