/* graph_csdl.c — request and response bodies checked against Microsoft's
 * published Graph v1.0 metadata (OData CSDL, --graph-csdl): every property
 * must be declared on the type or a base type, its value must have the
 * declared type (Edm primitives, enum members, complex and entity types,
 * collections), and a property declared Nullable="false" must not be null.
 * Only the schema microsoft.graph (alias graph) is indexed; a type of another
 * schema is not checked.  What Graph answers to a body that fails: 400
 * RequestBodyRead with the ODataException's words. */
#include "tests/exsim/graph.h"

#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ctype { const char *name; xmlNodePtr node; } ctype;

static xmlDocPtr csdl;
static ctype *types;
static size_t ntypes;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const ctype *)a)->name, ((const ctype *)b)->name);
}

int exsim_graph_csdl_load(const char *path)
{
    csdl = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    if (!csdl) {
        fprintf(stderr, "exsim: --graph-csdl %s: not readable as XML\n", path);
        return -1;
    }
    xmlNodePtr ds = exsim_child(xmlDocGetRootElement(csdl), NULL, "DataServices");
    for (xmlNodePtr s = exsim_child(ds, NULL, "Schema"); s; s = exsim_next(s, NULL, "Schema")) {
        const char *ns = exsim_attr(s, "Namespace");
        if (!ns || strcmp(ns, "microsoft.graph"))
            continue;
        for (xmlNodePtr t = exsim_first_el(s); t; t = exsim_next_el(t)) {
            if (!exsim_is(t, NULL, "EntityType") && !exsim_is(t, NULL, "ComplexType") &&
                !exsim_is(t, NULL, "EnumType"))
                continue;
            ctype *nt = realloc(types, (ntypes + 1) * sizeof *types);
            if (!nt)
                return -1;
            types = nt;
            types[ntypes++] = (ctype){ exsim_attr(t, "Name"), t };
        }
    }
    qsort(types, ntypes, sizeof *types, by_name);
    if (ntypes == 0) {
        fprintf(stderr, "exsim: --graph-csdl %s: no microsoft.graph types\n", path);
        return -1;
    }
    return 0;
}

void exsim_graph_csdl_free(void)
{
    free(types);
    types = NULL;
    ntypes = 0;
    xmlFreeDoc(csdl);
    csdl = NULL;
}

int exsim_graph_csdl_loaded(void)
{
    return ntypes > 0;
}

/* "graph.x", "microsoft.graph.x" or "#microsoft.graph.x" → its node, or NULL. */
static xmlNodePtr find_type(const char *qname)
{
    if (*qname == '#')
        qname++;
    const char *n = !strncmp(qname, "graph.", 6) ? qname + 6
                  : !strncmp(qname, "microsoft.graph.", 16) ? qname + 16 : NULL;
    if (!n || strchr(n, '.'))
        return NULL;
    ctype key = { n, NULL };
    ctype *hit = bsearch(&key, types, ntypes, sizeof *types, by_name);
    return hit ? hit->node : NULL;
}

/* The Property or NavigationProperty `name` of type t or its bases. */
static xmlNodePtr find_prop(xmlNodePtr t, const char *name)
{
    for (int depth = 0; t && depth < 16; depth++) {
        for (xmlNodePtr p = exsim_first_el(t); p; p = exsim_next_el(p))
            if ((exsim_is(p, NULL, "Property") || exsim_is(p, NULL, "NavigationProperty")) &&
                !strcmp(exsim_attr(p, "Name") ? exsim_attr(p, "Name") : "", name))
                return p;
        const char *base = exsim_attr(t, "BaseType");
        t = base ? find_type(base) : NULL;
    }
    return NULL;
}

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int check_value(json_t *v, const char *type, const char *prop, char *err, size_t errlen);

static int check_enum(json_t *v, xmlNodePtr t, const char *type, char *err, size_t errlen)
{
    const char *s = json_string_value(v);
    if (!s)
        return FAIL("Cannot convert a primitive value to the expected type '%s'.", type);
    int flags = exsim_attr(t, "IsFlags") && !strcmp(exsim_attr(t, "IsFlags"), "true");
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *w = strtok_r(buf, flags ? ", " : "", &save); w; w = strtok_r(NULL, flags ? ", " : "", &save)) {
        int ok = 0;
        for (xmlNodePtr m = exsim_child(t, NULL, "Member"); m && !ok; m = exsim_next(m, NULL, "Member"))
            ok = !strcmp(exsim_attr(m, "Name") ? exsim_attr(m, "Name") : "", w);
        if (!ok)
            return FAIL("The value '%s' is not valid for the enum type '%s'.", w, type);
    }
    return 0;
}

/* An object of structured type t (its @odata.type may name a derived one). */
static int check_object(json_t *v, xmlNodePtr t, const char *type, char *err, size_t errlen)
{
    if (!json_is_object(v))
        return FAIL("A value of the structured type '%s' must be a JSON object.", type);
    const char *dt = json_string_value(json_object_get(v, "@odata.type"));
    if (dt && find_type(dt)) {
        t = find_type(dt);
        type = dt + (*dt == '#');
    }
    const char *k;
    json_t *pv;
    json_object_foreach(v, k, pv) {
        if (strchr(k, '@'))                     /* instance annotations */
            continue;
        xmlNodePtr p = find_prop(t, k);
        if (!p)
            return FAIL("The property '%s' does not exist on type '%s'. Make sure to only use property names "
                        "that are defined by the type or mark the type as open type.", k, type);
        if (exsim_is(p, NULL, "NavigationProperty"))
            continue;
        const char *nullable = exsim_attr(p, "Nullable");
        if (json_is_null(pv)) {
            if (nullable && !strcmp(nullable, "false"))
                return FAIL("A null value was found for the property named '%s', which has the expected type "
                            "'%s[Nullable=False]'. The expected type does not allow null values.", k,
                            exsim_attr(p, "Type") ? exsim_attr(p, "Type") : "");
            continue;
        }
        if (check_value(pv, exsim_attr(p, "Type") ? exsim_attr(p, "Type") : "", k, err, errlen))
            return -1;
    }
    return 0;
}

static int check_prim(json_t *v, const char *type, char *err, size_t errlen)
{
    static const char *const strings[] = { "Edm.String", "Edm.DateTimeOffset", "Edm.Date", "Edm.TimeOfDay",
                                           "Edm.Duration", "Edm.Guid", "Edm.Binary", NULL };
    static const char *const ints[] = { "Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte", NULL };
    for (int i = 0; strings[i]; i++)
        if (!strcmp(type, strings[i]))
            return json_is_string(v) ? 0 : FAIL("Cannot convert a primitive value to the expected type '%s'.", type);
    for (int i = 0; ints[i]; i++)
        if (!strcmp(type, ints[i]))
            return json_is_integer(v) ? 0 : FAIL("Cannot convert a primitive value to the expected type '%s'.", type);
    if (!strcmp(type, "Edm.Boolean"))
        return json_is_boolean(v) ? 0 : FAIL("Cannot convert a primitive value to the expected type '%s'.", type);
    if (!strcmp(type, "Edm.Double") || !strcmp(type, "Edm.Single") || !strcmp(type, "Edm.Decimal"))
        return json_is_number(v) || json_is_string(v) ? 0
               : FAIL("Cannot convert a primitive value to the expected type '%s'.", type);
    return 0;                                   /* Edm.Stream, Edm.Untyped, ...: anything */
}

static int check_value(json_t *v, const char *type, const char *prop, char *err, size_t errlen)
{
    (void)prop;
    if (!strncmp(type, "Collection(", 11)) {
        char inner[256];
        snprintf(inner, sizeof inner, "%.*s", (int)strlen(type) - 12, type + 11);
        if (!json_is_array(v))
            return FAIL("A value of the collection type '%s' must be a JSON array.", type);
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            if (!json_is_null(e) && check_value(e, inner, prop, err, errlen))
                return -1;
        return 0;
    }
    if (!strncmp(type, "Edm.", 4))
        return check_prim(v, type, err, errlen);
    xmlNodePtr t = find_type(type);
    if (!t)
        return 0;
    if (exsim_is(t, NULL, "EnumType"))
        return check_enum(v, t, type, err, errlen);
    return check_object(v, t, type, err, errlen);
}

int exsim_graph_csdl_check(json_t *v, const char *type, char *err, size_t errlen)
{
    if (!ntypes || !type)
        return 0;
    char full[128];
    snprintf(full, sizeof full, "microsoft.graph.%s", type);
    return check_value(v, full, "", err, errlen);
}
