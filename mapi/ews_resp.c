/* ews_resp.c — EWS response parsers: one pass from the response element to
 * typed structs (folders, items with extended properties, per-message
 * status).  Callers never walk XML. */
#include "mapi/ews_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mapi_folders_clear(mapi_folders *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        mapi_folder *x = &f->v[i];
        free(x->id);
        free(x->change_key);
        free(x->parent_id);
        free(x->display_name);
        free(x->folder_class);
        free(x->entryid);
    }
    free(f->v);
    memset(f, 0, sizeof *f);
}

static void item_clear(mapi_item *it)
{
    free(it->id);
    free(it->change_key);
    free(it->item_class);
    free(it->subject);
    free(it->response_code);
    mapi_extprops_clear(&it->props);
    memset(it, 0, sizeof *it);
}

void mapi_items_clear(mapi_items *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        item_clear(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

const mapi_item *mapi_items_refused(const mapi_items *l, size_t *n_refused)
{
    const mapi_item *first = NULL;
    *n_refused = 0;
    for (size_t i = 0; l && i < l->n; i++)
        if (l->v[i].code != SR_OK && !(*n_refused)++)
            first = &l->v[i];
    return first;
}

static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, nc * elem);
    if (!nv)
        return -1;
    memset((char *)nv + *cap * elem, 0, (nc - *cap) * elem);
    *v = nv;
    *cap = nc;
    return 0;
}

/* The ResponseMessages element of a response op, or an error. */
static xmlNodePtr messages_of(xmlNodePtr resp_op, sr_err *err)
{
    xmlNodePtr m = mapi_xml_child(resp_op, MAPI_NS_M, "ResponseMessages");
    if (!m)
        sr_err_set(err, SR_E_PROTOCOL, "EWS response %s has no ResponseMessages",
                   resp_op ? (const char *)resp_op->name : "(none)");
    return m;
}

static void trim(char *s)
{
    if (!s)
        return;
    size_t a = strspn(s, " \t\r\n"), n = strlen(s);
    while (n > a && strchr(" \t\r\n", s[n - 1]))
        n--;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
}

/* SR_OK for ResponseClass Success/Warning with NoError; else the mapped
 * error naming the ResponseCode and MessageText. */
static sr_code message_status(xmlNodePtr msg, char **code_out, sr_err *err)
{
    char *code = mapi_xml_child_text(msg, MAPI_NS_M, "ResponseCode");
    trim(code);   /* real servers (and the docs) pad it with whitespace */
    char *cls = mapi_xml_attr(msg, "ResponseClass");
    sr_code rc = SR_OK;
    if (!code) {
        rc = sr_err_set(err, SR_E_PROTOCOL, "%s without ResponseCode", (const char *)msg->name);
    } else if (strcmp(code, "NoError") != 0 || (cls && strcmp(cls, "Error") == 0)) {
        sr_class k;
        rc = mapi_ews_code(code, &k);
        if (rc == SR_OK)
            rc = SR_E_SERVER;
        char *text = mapi_xml_child_text(msg, MAPI_NS_M, "MessageText");
        sr_err_set(err, rc, "EWS %s: %s%s%s", (const char *)msg->name, code, text ? ": " : "",
                   text ? text : "");
        if (err) {
            err->cls = k;
            if (k == SR_CLASS_WAIT)
                err->backoff_ms = mapi_ews_backoff(msg);
        }
        free(text);
    }
    if (code_out)
        *code_out = code;
    else
        free(code);
    free(cls);
    return rc;
}

sr_code mapi_ews_parse_status(xmlNodePtr resp_op, sr_err *err)
{
    xmlNodePtr msgs = messages_of(resp_op, err);
    if (!msgs)
        return SR_E_PROTOCOL;
    for (xmlNodePtr m = mapi_xml_child(msgs, NULL, NULL); m; m = mapi_xml_next(m, NULL, NULL)) {
        sr_code rc = message_status(m, NULL, err);
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}

/* ---- extended properties ------------------------------------------------ */
static sr_code parse_xfield(xmlNodePtr uri, mapi_extprops *l, mapi_extprop **out, sr_err *err)
{
    char *tag = mapi_xml_attr(uri, "PropertyTag");
    char *type = mapi_xml_attr(uri, "PropertyType");
    char *set = mapi_xml_attr(uri, "PropertySetId");
    char *dset = mapi_xml_attr(uri, "DistinguishedPropertySetId");
    char *name = mapi_xml_attr(uri, "PropertyName");
    char *pid = mapi_xml_attr(uri, "PropertyId");
    sr_code rc = SR_OK;
    int t = type ? mapi_pt_from_ews_name(type) : -1;
    uint32_t num = 0;
    mapi_extprop *p = NULL;
    if (t < 0) {
        rc = sr_err_set(err, SR_E_PARSE, "ExtendedFieldURI: unknown PropertyType '%s'",
                        type ? type : "(missing)");
    } else if (tag) {
        if ((rc = mapi_prop_parse_num(tag, 0xFFFF, &num, err)) == SR_OK &&
            !(p = mapi_extprops_add_tag(l, (uint16_t)num, (uint16_t)t, "", err)))
            rc = err ? err->code : SR_E_NOMEM;
    } else if ((set || dset) && (name || pid)) {
        if (pid)
            rc = mapi_prop_parse_num(pid, 0xFFFFFFFFu, &num, err);
        if (rc == SR_OK && !(p = mapi_extprops_add_tag(l, 0, (uint16_t)t, "", err)))
            rc = err ? err->code : SR_E_NOMEM;
        if (p) {
            p->kind = name ? MAPI_XP_NAME : MAPI_XP_ID;
            p->id = num;
            if (set)
                snprintf(p->set_guid, sizeof p->set_guid, "%s", set);
            else
                snprintf(p->dist_set, sizeof p->dist_set, "%s", dset);
            for (char *c = p->set_guid; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
            if (name && !(p->name = sr_strdup(name)))
                rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        }
    } else {
        rc = sr_err_set(err, SR_E_PARSE, "ExtendedFieldURI without PropertyTag or property set");
    }
    free(tag); free(type); free(set); free(dset); free(name); free(pid);
    *out = p;
    return rc;
}

static sr_code parse_xprop(xmlNodePtr xp, mapi_extprops *l, sr_err *err)
{
    mapi_extprop *p = NULL;
    sr_code rc = parse_xfield(mapi_xml_child(xp, MAPI_NS_T, "ExtendedFieldURI"), l, &p, err);
    if (rc != SR_OK)
        return rc;
    /* the fresh slot may hold a placeholder value: start from none */
    for (size_t i = 0; i < p->nvalues; i++)
        free(p->values[i]);
    p->nvalues = 0;
    xmlNodePtr vs = mapi_xml_child(xp, MAPI_NS_T, "Values");
    xmlNodePtr v = vs ? mapi_xml_child(vs, MAPI_NS_T, "Value") : mapi_xml_child(xp, MAPI_NS_T, "Value");
    for (; v && rc == SR_OK; v = vs ? mapi_xml_next(v, MAPI_NS_T, "Value") : NULL) {
        xmlChar *t = xmlNodeGetContent(v);
        rc = mapi_extprop_add_value(p, t ? (const char *)t : "", err);
        xmlFree(t);
    }
    return rc;
}

/* ---- folders ------------------------------------------------------------ */
static sr_code parse_folder(xmlNodePtr f, mapi_folder *out, sr_err *err)
{
    xmlNodePtr id = mapi_xml_child(f, MAPI_NS_T, "FolderId");
    if (!id)
        return sr_err_set(err, SR_E_PROTOCOL, "FindFolder: a %s without FolderId", (const char *)f->name);
    out->id = mapi_xml_attr(id, "Id");
    out->change_key = mapi_xml_attr(id, "ChangeKey");
    out->parent_id = mapi_xml_attr(mapi_xml_child(f, MAPI_NS_T, "ParentFolderId"), "Id");
    out->display_name = mapi_xml_child_text(f, MAPI_NS_T, "DisplayName");
    out->folder_class = mapi_xml_child_text(f, MAPI_NS_T, "FolderClass");
    mapi_extprops props = { 0 };
    sr_code rc = SR_OK;
    for (xmlNodePtr xp = mapi_xml_child(f, MAPI_NS_T, "ExtendedProperty"); xp && rc == SR_OK;
         xp = mapi_xml_next(xp, MAPI_NS_T, "ExtendedProperty"))
        rc = parse_xprop(xp, &props, err);
    const mapi_extprop *eid = rc == SR_OK ? mapi_extprops_find_tag(&props, 0x0FFF) : NULL;
    if (eid && eid->nvalues)
        rc = mapi_base64_decode(eid->values[0], &out->entryid, &out->entryid_len, err);
    mapi_extprops_clear(&props);
    if (rc != SR_OK)
        sr_err_prefix(err, "folder '%s': ", out->display_name ? out->display_name : "?");
    return rc;
}

sr_code mapi_ews_parse_findfolder(xmlNodePtr resp_op, mapi_folders *out, sr_err *err)
{
    xmlNodePtr msgs = messages_of(resp_op, err);
    if (!msgs)
        return SR_E_PROTOCOL;
    xmlNodePtr m = mapi_xml_child(msgs, MAPI_NS_M, "FindFolderResponseMessage");
    if (!m)
        return sr_err_set(err, SR_E_PROTOCOL, "FindFolder: no FindFolderResponseMessage");
    sr_code rc = message_status(m, NULL, err);
    if (rc != SR_OK)
        return rc;
    xmlNodePtr root = mapi_xml_child(m, MAPI_NS_M, "RootFolder");
    char *last = mapi_xml_attr(root, "IncludesLastItemInRange");
    out->includes_last = !last || strcmp(last, "false") != 0;
    free(last);
    xmlNodePtr fs = mapi_xml_child(root, MAPI_NS_T, "Folders");
    for (xmlNodePtr f = mapi_xml_child(fs, MAPI_NS_T, NULL); f; f = mapi_xml_next(f, MAPI_NS_T, NULL)) {
        if (grow((void **)&out->v, &out->cap, out->n, sizeof *out->v) != 0)
            return sr_err_set(err, SR_E_NOMEM, "out of memory");
        mapi_folder *x = &out->v[out->n++];
        if ((rc = parse_folder(f, x, err)) != SR_OK)
            return rc;
    }
    return SR_OK;
}

/* ---- items -------------------------------------------------------------- */
static sr_code parse_item(xmlNodePtr it, mapi_item *out, sr_err *err)
{
    xmlNodePtr id = mapi_xml_child(it, MAPI_NS_T, "ItemId");
    out->id = mapi_xml_attr(id, "Id");
    out->change_key = mapi_xml_attr(id, "ChangeKey");
    out->item_class = mapi_xml_child_text(it, MAPI_NS_T, "ItemClass");
    out->subject = mapi_xml_child_text(it, MAPI_NS_T, "Subject");
    sr_code rc = SR_OK;
    for (xmlNodePtr xp = mapi_xml_child(it, MAPI_NS_T, "ExtendedProperty"); xp && rc == SR_OK;
         xp = mapi_xml_next(xp, MAPI_NS_T, "ExtendedProperty"))
        rc = parse_xprop(xp, &out->props, err);
    if (rc == SR_OK && !out->id)
        rc = sr_err_set(err, SR_E_PROTOCOL, "EWS: an item without ItemId");
    return rc;
}

static mapi_item *next_item(mapi_items *out, sr_err *err)
{
    if (grow((void **)&out->v, &out->cap, out->n, sizeof *out->v) != 0) {
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    return &out->v[out->n++];
}

static sr_code parse_item_list(xmlNodePtr items, mapi_items *out, sr_err *err)
{
    for (xmlNodePtr it = mapi_xml_child(items, MAPI_NS_T, NULL); it;
         it = mapi_xml_next(it, MAPI_NS_T, NULL)) {
        mapi_item *x = next_item(out, err);
        if (!x)
            return SR_E_NOMEM;
        sr_code rc = parse_item(it, x, err);
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}

sr_code mapi_ews_parse_items(xmlNodePtr resp_op, mapi_items *out, sr_err *err)
{
    xmlNodePtr msgs = messages_of(resp_op, err);
    if (!msgs)
        return SR_E_PROTOCOL;
    int is_find = strcmp((const char *)resp_op->name, "FindItemResponse") == 0;
    out->includes_last = 1;
    for (xmlNodePtr m = mapi_xml_child(msgs, NULL, NULL); m; m = mapi_xml_next(m, NULL, NULL)) {
        char *code = NULL;
        sr_err e;
        sr_err_clear(&e);
        sr_code rc = message_status(m, &code, &e);
        if (rc != SR_OK && is_find) {
            free(code);
            if (err)
                *err = e;
            return rc;
        }
        if (rc != SR_OK) {  /* GetItem: record the missing item, go on */
            mapi_item *x = next_item(out, err);
            if (!x) {
                free(code);
                return SR_E_NOMEM;
            }
            x->code = rc;
            x->response_code = code;
            continue;
        }
        free(code);
        xmlNodePtr items;
        if (is_find) {
            xmlNodePtr root = mapi_xml_child(m, MAPI_NS_M, "RootFolder");
            char *last = mapi_xml_attr(root, "IncludesLastItemInRange");
            out->includes_last = !last || strcmp(last, "false") != 0;
            free(last);
            items = mapi_xml_child(root, MAPI_NS_T, "Items");
        } else {
            items = mapi_xml_child(m, MAPI_NS_M, "Items");
        }
        if ((rc = parse_item_list(items, out, err)) != SR_OK)
            return rc;
    }
    return SR_OK;
}
