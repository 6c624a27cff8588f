/* graph_userconfig.c — beta /users/{id}/mailFolders/{folder}/userConfigurations
 * (POST) and …/userConfigurations/{key} (GET, PATCH, DELETE) over the same
 * IPM.Configuration.<key> associated items as EWS's *UserConfiguration
 * operations (userConfiguration resource, beta): id = the key, binaryData =
 * t:BinaryData, xmlData = t:XmlData (both base64), structuredData =
 * t:Dictionary entries, each key/value a structuredDataEntryTypedValue
 * {type, values} whose type is the EWS type with a small first letter. */
#include "tests/exsim/graph.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const parts[] = { "Dictionary", "XmlData", "BinaryData", NULL };
static const char *const types[] = { "DateTime", "Boolean", "Byte", "String", "Integer32", "UnsignedInteger32",
                                     "Integer64", "UnsignedInteger64", "StringArray", "ByteArray", NULL };

/* ---- store → Graph ---------------------------------------------------------------- */

static json_t *typed_to_graph(xmlNodePtr kv)
{
    char type[32];
    snprintf(type, sizeof type, "%s", exsim_text(exsim_child(kv, EXSIM_NS_T, "Type")));
    type[0] = (char)tolower((unsigned char)type[0]);
    json_t *values = json_array();
    for (xmlNodePtr v = exsim_child(kv, EXSIM_NS_T, "Value"); v; v = exsim_next(v, EXSIM_NS_T, "Value"))
        json_array_append_new(values, json_string(exsim_text(v)));
    return json_pack("{s:s,s:o}", "type", type, "values", values);
}

static json_t *config_json(exsim_gcall *c, xmlNodePtr it, const char *folder)
{
    json_t *sd = json_array();
    for (xmlNodePtr e = exsim_child(exsim_child(it, EXSIM_NS_T, "Dictionary"), EXSIM_NS_T, "DictionaryEntry"); e;
         e = exsim_next(e, EXSIM_NS_T, "DictionaryEntry")) {
        xmlNodePtr k = exsim_child(e, EXSIM_NS_T, "DictionaryKey"), v = exsim_child(e, EXSIM_NS_T, "DictionaryValue");
        json_array_append_new(sd, json_pack("{s:o,s:o}", "keyEntry", typed_to_graph(k), "valueEntry",
                                            v ? typed_to_graph(v) : json_null()));
    }
    xmlNodePtr bin = exsim_child(it, EXSIM_NS_T, "BinaryData"), xml = exsim_child(it, EXSIM_NS_T, "XmlData");
    return json_pack("{s:o,s:s,s:s?,s:s?,s:o}", "@odata.context",
                     exsim_graph_context(c, "users('%s')/mailFolders('%s')/userConfigurations/$entity", c->user_key,
                                         folder),
                     "id", exsim_attr(it, "config") ? exsim_attr(it, "config") : "",
                     "binaryData", bin ? exsim_text(bin) : NULL, "xmlData", xml ? exsim_text(xml) : NULL,
                     "structuredData", sd);
}

/* ---- Graph → store ------------------------------------------------------------------ */

/* Edm.Binary: base64 (the URL-safe alphabet accepted too); normalised, or NULL. */
static char *binary_value(json_t *v)
{
    const char *s = json_string_value(v);
    char *copy = s ? strdup(s) : NULL;
    for (char *p = copy; p && *p; p++)
        *p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
    size_t n = 0;
    uint8_t *raw = copy ? exsim_b64_decode(copy, &n) : NULL;
    if (!raw) {
        free(copy);
        return NULL;
    }
    free(raw);
    return copy;
}

static int typed_to_ews(exsim_gcall *c, xmlNodePtr parent, const char *name, json_t *tv)
{
    const char *type = json_string_value(json_object_get(tv, "type"));
    json_t *values = json_object_get(tv, "values");
    char ews[32] = "";
    for (int i = 0; type && types[i]; i++)
        if (!strcasecmp(types[i], type) && tolower((unsigned char)type[0]) == type[0])
            snprintf(ews, sizeof ews, "%s", types[i]);
    if (!*ews || !json_is_array(values) || (strcmp(ews, "StringArray") && json_array_size(values) != 1))
        return exsim_graph_error(c, 400, "RequestBodyRead", "A structuredDataEntryTypedValue needs a type of "
                                 "structuredDataEntryValueType and values (exactly one unless stringArray).");
    xmlNodePtr kv = xmlNewChild(parent, parent->ns, BAD_CAST name, NULL);
    xmlNewTextChild(kv, parent->ns, BAD_CAST "Type", BAD_CAST ews);
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v) {
        if (!json_is_string(v))
            return exsim_graph_error(c, 400, "RequestBodyRead", "values are strings.");
        xmlNewTextChild(kv, parent->ns, BAD_CAST "Value", BAD_CAST json_string_value(v));
    }
    return 0;
}

/* A new part element for property prop of body (not linked); NULL + status on error. */
static xmlNodePtr part_from(exsim_gcall *c, const char *part, json_t *v, int *status)
{
    xmlNsPtr t = exsim_store_ns_t(c->org);
    xmlNodePtr el = xmlNewDocNode(c->org->doc, t, BAD_CAST part, NULL);
    *status = 0;
    if (strcmp(part, "Dictionary")) {
        char *b = binary_value(v);
        if (!b)
            *status = exsim_graph_error(c, 400, "RequestBodyRead", "The value of %s is not Edm.Binary (base64).",
                                        !strcmp(part, "XmlData") ? "xmlData" : "binaryData");
        else
            xmlNodeSetContent(el, BAD_CAST b);
        free(b);
    } else if (!json_is_array(v)) {
        *status = exsim_graph_error(c, 400, "RequestBodyRead", "structuredData is a collection.");
    } else {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            xmlNodePtr de = xmlNewChild(el, t, BAD_CAST "DictionaryEntry", NULL);
            json_t *val = json_object_get(e, "valueEntry");
            if ((*status = typed_to_ews(c, de, "DictionaryKey", json_object_get(e, "keyEntry"))) ||
                (val && !json_is_null(val) && (*status = typed_to_ews(c, de, "DictionaryValue", val))))
                break;
        }
    }
    if (*status) {
        xmlFreeNode(el);
        return NULL;
    }
    return el;
}

static const char *part_prop(int i)
{
    static const char *const props[] = { "structuredData", "xmlData", "binaryData" };
    return props[i];
}

/* Check the body whole before changing anything. */
static int check_body(exsim_gcall *c, int creating)
{
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v) {
        int ok = !strncmp(k, "@odata.", 7) || !strcmp(k, "id");
        for (int i = 0; parts[i] && !ok; i++)
            ok = !strcmp(k, part_prop(i));
        if (!ok)
            return exsim_graph_error(c, 400, "RequestBodyRead", "The property '%s' does not exist on type "
                                     "'microsoft.graph.userConfiguration'. Make sure to only use property names "
                                     "that are defined by the type or mark the type as open type.", k);
    }
    const char *id = json_string_value(json_object_get(c->body, "id"));
    if (creating && (!id || !*id || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._")
                                        != strlen(id)))
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "id, the configuration's key, is required.");
    return 0;
}

/* Store the parts the body names (null removes one), in schema order. */
static int store_parts(exsim_gcall *c, xmlNodePtr it)
{
    xmlNodePtr fresh[3] = { NULL, NULL, NULL };
    int status = 0;
    for (int i = 0; parts[i] && !status; i++) {
        json_t *v = json_object_get(c->body, part_prop(i));
        if (v && !json_is_null(v))
            fresh[i] = part_from(c, parts[i], v, &status);
    }
    for (int i = 0; parts[i]; i++) {
        if (status) {
            xmlFreeNode(fresh[i]);
            continue;
        }
        xmlNodePtr old = exsim_child(it, EXSIM_NS_T, parts[i]);
        if (old && json_object_get(c->body, part_prop(i))) {
            xmlUnlinkNode(old);
            xmlFreeNode(old);
            old = NULL;
        }
        if (fresh[i])
            xmlAddChild(it, fresh[i]);
        else if (old) {             /* kept: move behind the earlier parts */
            xmlUnlinkNode(old);
            xmlAddChild(it, old);
        }
    }
    return status;
}

int exsim_graph_userconfig(exsim_gcall *c)
{
    xmlNodePtr folder = exsim_graph_folder_ref(c->mbx, c->seg[1]);
    if (!folder)
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    int creating = c->nseg == 3;
    if (creating || !strcmp(c->method, "PATCH")) {
        if (!c->body)
            return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
        int st = check_body(c, creating);
        if (st)
            return st;
    }
    const char *key = creating ? json_string_value(json_object_get(c->body, "id")) : c->seg[3];
    xmlNodePtr it = exsim_config_find(folder, key);
    if (creating) {
        if (it)
            return exsim_graph_error(c, 409, "ErrorItemAlreadyExists", "A userConfiguration '%s' already exists "
                                     "in this folder.", key);
        it = exsim_config_new(c->org, c->mbx, folder, key);
        int st = store_parts(c, it);
        if (st) {
            exsim_store_remove(c->mbx, it);
            return st;
        }
        c->out = config_json(c, it, c->seg[1]);
        return 201;
    }
    if (!it)
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    if (!strcmp(c->method, "DELETE")) {
        exsim_store_remove(c->mbx, it);
        return 204;
    }
    if (!strcmp(c->method, "PATCH")) {
        int st = store_parts(c, it);
        if (st)
            return st;
    }
    c->out = config_json(c, it, c->seg[1]);
    return 200;
}
