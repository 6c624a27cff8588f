/* ews_search.c — folder requests and answers of the SearchFolders feature
 * (ews_feat.h): FindFolder on Finder, GetFolder with SearchParameters,
 * CreateFolder / UpdateFolder / DeleteFolder of search folders.  Element
 * order per messages.xsd / types.xsd (SearchFolderType: FolderId,
 * ParentFolderId, FolderClass, DisplayName, ..., SearchParameters;
 * SearchParametersType: Restriction, BaseFolderIds, @Traversal). */
#include "cpuu/ews_feat.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static xmlDocPtr fail(mapi_ews_env *e, sr_err *err)
{
    xmlFreeDoc(e->doc);
    sr_err_set(err, SR_E_NOMEM, "out of memory building an EWS request");
    return NULL;
}

/* <t:DistinguishedFolderId Id=name> [+ Mailbox for explicit access]. */
static xmlNodePtr add_dist(mapi_ews_env *e, xmlNodePtr parent, const mapi_ews_target *t,
                           const char *name)
{
    xmlNodePtr d = xmlNewChild(parent, e->ns_t, BAD_CAST "DistinguishedFolderId", NULL);
    if (!d || !xmlNewProp(d, BAD_CAST "Id", BAD_CAST name))
        return NULL;
    if (t && t->mailbox && !t->impersonate) {
        xmlNodePtr mb = xmlNewChild(d, e->ns_t, BAD_CAST "Mailbox", NULL);
        if (!mb || !mapi_xml_add(mb, e->ns_t, "EmailAddress", t->mailbox))
            return NULL;
    }
    return d;
}

static xmlNodePtr add_fid(mapi_ews_env *e, xmlNodePtr parent, const char *id)
{
    xmlNodePtr f = xmlNewChild(parent, e->ns_t, BAD_CAST "FolderId", NULL);
    return f && xmlNewProp(f, BAD_CAST "Id", BAD_CAST id) ? f : NULL;
}

static xmlNodePtr add_shape(mapi_ews_env *e, xmlNodePtr op, const char *const *fields)
{
    xmlNodePtr shape = xmlNewChild(op, e->ns_m, BAD_CAST "FolderShape", NULL);
    if (!shape || !mapi_xml_add(shape, e->ns_t, "BaseShape", "IdOnly"))
        return NULL;
    xmlNodePtr add = xmlNewChild(shape, e->ns_t, BAD_CAST "AdditionalProperties", NULL);
    for (size_t i = 0; add && fields[i]; i++) {
        xmlNodePtr f = xmlNewChild(add, e->ns_t, BAD_CAST "FieldURI", NULL);
        if (!f || !xmlNewProp(f, BAD_CAST "FieldURI", BAD_CAST fields[i]))
            return NULL;
    }
    return add ? shape : NULL;
}

xmlDocPtr ewsf_req_find_searchfolders(const mapi_ews_target *t, unsigned max, sr_err *err)
{
    static const char *const fields[] = {"folder:DisplayName", "folder:FolderClass", NULL};
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "FindFolder", NULL);
    if (!op || !xmlNewProp(op, BAD_CAST "Traversal", BAD_CAST "Shallow") || !add_shape(&e, op, fields))
        return fail(&e, err);
    xmlNodePtr view = xmlNewChild(op, e.ns_m, BAD_CAST "IndexedPageFolderView", NULL);
    char num[16];
    snprintf(num, sizeof num, "%u", max);
    if (!view || !xmlNewProp(view, BAD_CAST "MaxEntriesReturned", BAD_CAST num) ||
        !xmlNewProp(view, BAD_CAST "Offset", BAD_CAST "0") ||
        !xmlNewProp(view, BAD_CAST "BasePoint", BAD_CAST "Beginning"))
        return fail(&e, err);
    xmlNodePtr ids = xmlNewChild(op, e.ns_m, BAD_CAST "ParentFolderIds", NULL);
    if (!ids || !add_dist(&e, ids, t, "searchfolders"))
        return fail(&e, err);
    return e.doc;
}

xmlDocPtr ewsf_req_getfolders(const mapi_ews_target *t, const char *const *ids, size_t n,
                              const char *const *dist, int search, sr_err *err)
{
    static const char *const plain[] = {"folder:DisplayName", "folder:FolderClass",
                                        "folder:ParentFolderId", NULL};
    static const char *const withsp[] = {"folder:DisplayName", "folder:FolderClass",
                                         "folder:ParentFolderId", "folder:SearchParameters", NULL};
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "GetFolder", NULL);
    if (!op || !add_shape(&e, op, search ? withsp : plain))
        return fail(&e, err);
    xmlNodePtr fids = xmlNewChild(op, e.ns_m, BAD_CAST "FolderIds", NULL);
    if (!fids)
        return fail(&e, err);
    for (size_t i = 0; i < n; i++)
        if (!add_fid(&e, fids, ids[i]))
            return fail(&e, err);
    for (size_t i = 0; dist && dist[i]; i++)
        if (!add_dist(&e, fids, t, dist[i]))
            return fail(&e, err);
    return e.doc;
}

/* A copy of a t:SearchParameters element as a child of parent (t: namespace). */
static xmlNodePtr copy_params(mapi_ews_env *e, xmlNodePtr parent, xmlNodePtr params)
{
    xmlNodePtr c = xmlDocCopyNode(params, e->doc, 1);
    if (!c)
        return NULL;
    xmlAddChild(parent, c);
    xmlReconciliateNs(e->doc, c);
    return c;
}

xmlDocPtr ewsf_req_create_searchfolders(const mapi_ews_target *t, const char *const *names,
                                        const char *const *classes, xmlNodePtr const *params,
                                        size_t n, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "CreateFolder", NULL);
    xmlNodePtr pid = op ? xmlNewChild(op, e.ns_m, BAD_CAST "ParentFolderId", NULL) : NULL;
    if (!pid || !add_dist(&e, pid, t, "searchfolders"))
        return fail(&e, err);
    xmlNodePtr fs = xmlNewChild(op, e.ns_m, BAD_CAST "Folders", NULL);
    for (size_t i = 0; fs && i < n; i++) {
        xmlNodePtr sf = xmlNewChild(fs, e.ns_t, BAD_CAST "SearchFolder", NULL);
        if (!sf || (classes[i] && !mapi_xml_add(sf, e.ns_t, "FolderClass", classes[i])) ||
            !mapi_xml_add(sf, e.ns_t, "DisplayName", names[i]) || !copy_params(&e, sf, params[i]))
            return fail(&e, err);
    }
    return fs ? e.doc : fail(&e, err);
}

xmlDocPtr ewsf_req_set_searchparams(const mapi_ews_target *t, const char *const *ids,
                                    xmlNodePtr const *params, size_t n, sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "UpdateFolder", NULL);
    xmlNodePtr chs = op ? xmlNewChild(op, e.ns_m, BAD_CAST "FolderChanges", NULL) : NULL;
    for (size_t i = 0; chs && i < n; i++) {
        xmlNodePtr ch = xmlNewChild(chs, e.ns_t, BAD_CAST "FolderChange", NULL);
        xmlNodePtr ups = ch && add_fid(&e, ch, ids[i])
                             ? xmlNewChild(ch, e.ns_t, BAD_CAST "Updates", NULL) : NULL;
        xmlNodePtr set = ups ? xmlNewChild(ups, e.ns_t, BAD_CAST "SetFolderField", NULL) : NULL;
        xmlNodePtr uri = set ? xmlNewChild(set, e.ns_t, BAD_CAST "FieldURI", NULL) : NULL;
        xmlNodePtr sf = uri && xmlNewProp(uri, BAD_CAST "FieldURI", BAD_CAST "folder:SearchParameters")
                            ? xmlNewChild(set, e.ns_t, BAD_CAST "SearchFolder", NULL) : NULL;
        if (!sf || !copy_params(&e, sf, params[i]))
            return fail(&e, err);
    }
    return chs ? e.doc : fail(&e, err);
}

xmlDocPtr ewsf_req_deletefolders(const mapi_ews_target *t, const char *const *ids, size_t n,
                                 sr_err *err)
{
    mapi_ews_env e;
    if (mapi_ews_env_new(&e, t, err) != SR_OK)
        return NULL;
    xmlNodePtr op = xmlNewChild(e.body, e.ns_m, BAD_CAST "DeleteFolder", NULL);
    if (!op || !xmlNewProp(op, BAD_CAST "DeleteType", BAD_CAST "HardDelete"))
        return fail(&e, err);
    xmlNodePtr fids = xmlNewChild(op, e.ns_m, BAD_CAST "FolderIds", NULL);
    for (size_t i = 0; fids && i < n; i++)
        if (!add_fid(&e, fids, ids[i]))
            return fail(&e, err);
    return fids ? e.doc : fail(&e, err);
}

sr_code ewsf_parse_folders(xmlNodePtr resp_op, xmlNodePtr **v, size_t *n, unsigned *nbad,
                           sr_err *err)
{
    return ewsf_parse_list(resp_op, "Folders", "folder", v, n, nbad, err);
}

/* ---- canonical text ---- */
typedef struct cbuf {
    char *s;
    size_t n, cap;
    int oom;
} cbuf;

static void put(cbuf *b, const char *s)
{
    size_t l = strlen(s);
    if (b->oom)
        return;
    if (b->n + l + 1 > b->cap) {
        size_t nc = (b->cap + l + 1) * 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, l + 1);
    b->n += l;
}

static void canon(cbuf *b, xmlNodePtr n, int depth)
{
    if (depth > 64)   /* restrictions nest; a hostile answer must not recurse forever */
        return;
    put(b, "<");
    put(b, (const char *)n->name);
    for (xmlAttrPtr a = n->properties; a; a = a->next) {
        xmlChar *v = xmlNodeGetContent((xmlNodePtr)a);
        put(b, " ");
        put(b, (const char *)a->name);
        put(b, "=");
        put(b, v ? (const char *)v : "");
        xmlFree(v);
    }
    put(b, ">");
    int elems = 0;
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE) {
            elems = 1;
            canon(b, c, depth + 1);
        }
    if (!elems) {
        xmlChar *t = xmlNodeGetContent(n);
        const char *s = t ? (const char *)t : "";
        size_t l = strlen(s);
        while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
            s++, l--;
        while (l && (s[l - 1] == ' ' || s[l - 1] == '\n' || s[l - 1] == '\t' || s[l - 1] == '\r'))
            l--;
        char *cp = strndup(s, l);
        put(b, cp ? cp : "");
        free(cp);
        xmlFree(t);
    }
    put(b, "</>");
}

char *ewsf_canon(xmlNodePtr n)
{
    cbuf b = {0};
    if (n)
        canon(&b, n, 0);
    else
        put(&b, "");
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
