/* graph_search.c — a search folder's EWS t:Restriction as the OData
 * filterQuery of a Graph v1.0 mailSearchFolder (graph_feat.h), for the part
 * Graph's message $filter can say:
 *   And, Or, Not;
 *   IsEqualTo, IsNotEqualTo (and, on dates, the four orderings) on message
 *   properties Graph filters on: booleans, strings, the importance enum,
 *   date-times;
 *   Contains on a string property, Substring → contains(), Prefixed →
 *   startswith(), FullString → eq, when the comparison ignores case (OData's
 *   comparisons on Exchange do: an exact-case test would widen the search);
 *   IsEqualTo / IsNotEqualTo on a tagged String MAPI property →
 *   singleValueExtendedProperties/any(ep:ep/id eq 'String 0x....' and
 *   ep/value eq '...') (Graph's extended-property filter).
 * Anything else (Exists, Excludes, a property compared with a property,
 * named properties, Graph-less fields) makes the folder not carried, and
 * why names the first such part.  Pure: no network. */
#include "cpuu/graph_feat.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum { F_BOOL, F_STRING, F_ENUM, F_DATE } ftype;

/* EWS FieldURI (types.xsd UnindexedFieldURIType) → Graph message property. */
static const struct {
    const char *ews, *graph;
    ftype t;
} fields[] = {
    {"item:DateTimeCreated", "createdDateTime", F_DATE},
    {"item:DateTimeReceived", "receivedDateTime", F_DATE},
    {"item:DateTimeSent", "sentDateTime", F_DATE},
    {"item:HasAttachments", "hasAttachments", F_BOOL},
    {"item:Importance", "importance", F_ENUM},
    {"item:IsDraft", "isDraft", F_BOOL},
    {"item:LastModifiedTime", "lastModifiedDateTime", F_DATE},
    {"item:Subject", "subject", F_STRING},
    {"message:InternetMessageId", "internetMessageId", F_STRING},
    {"message:IsDeliveryReceiptRequested", "isDeliveryReceiptRequested", F_BOOL},
    {"message:IsRead", "isRead", F_BOOL},
    {"message:IsReadReceiptRequested", "isReadReceiptRequested", F_BOOL},
    {NULL, NULL, F_BOOL},
};

/* The OData operator of an EWS comparison element; NULL when none. */
static const char *op_of(const char *el)
{
    static const char *const m[][2] = {
        {"IsEqualTo", "eq"},          {"IsNotEqualTo", "ne"}, {"IsGreaterThan", "gt"},
        {"IsGreaterThanOrEqualTo", "ge"}, {"IsLessThan", "lt"},   {"IsLessThanOrEqualTo", "le"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i][0], el) == 0)
            return m[i][1];
    return NULL;
}

typedef struct out {
    char *s;
    size_t n, cap;
    char *why;          /* first reason the restriction cannot be said; heap */
} out;

static void put(out *o, const char *t)
{
    size_t k = strlen(t);
    if (o->why)
        return;
    if (o->n + k + 1 > o->cap) {
        size_t nc = (o->n + k + 1) * 2;
        char *ns = realloc(o->s, nc);
        if (!ns) {
            o->why = sr_strdup("out of memory");
            return;
        }
        o->s = ns;
        o->cap = nc;
    }
    memcpy(o->s + o->n, t, k + 1);
    o->n += k;
}

/* An OData string literal: quotes doubled. */
static void put_lit(out *o, const char *v)
{
    put(o, "'");
    for (const char *p = v; *p; p++)
        put(o, *p == '\'' ? "''" : (char[2]){*p, 0});
    put(o, "'");
}

static void refuse(out *o, xmlNodePtr el, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void refuse(out *o, xmlNodePtr el, const char *fmt, ...)
{
    if (o->why)
        return;
    char *what = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        what = NULL;
    va_end(ap);
    o->why = what ? sr_asprintf("%s: %s", (const char *)el->name, what) : NULL;
    if (!o->why)
        o->why = sr_strdup("out of memory");
    free(what);
}

static xmlNodePtr first_el(xmlNodePtr n)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static xmlNodePtr next_el(xmlNodePtr n)
{
    for (xmlNodePtr c = n ? n->next : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

static int is(xmlNodePtr n, const char *name)
{
    return n && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

static void render(out *o, xmlNodePtr el, int nested, int depth);

static void group(out *o, xmlNodePtr el, int nested, int depth)
{
    const char *join = is(el, "And") ? " and " : " or ";
    if (!first_el(el))
        refuse(o, el, "empty");
    if (nested)
        put(o, "(");
    for (xmlNodePtr k = first_el(el); k; k = next_el(k)) {
        if (k != first_el(el))
            put(o, join);
        render(o, k, 1, depth + 1);
    }
    if (nested)
        put(o, ")");
}

/* "String 0x5D01" for a tagged property (PropertyTag hex or decimal). */
static int ext_id(xmlNodePtr path, char *id, size_t idlen)
{
    char *tag = mapi_xml_attr(path, "PropertyTag"), *type = mapi_xml_attr(path, "PropertyType");
    char *set = mapi_xml_attr(path, "PropertySetId"), *dset = mapi_xml_attr(path, "DistinguishedPropertySetId");
    char *end = NULL;
    long v = tag ? strtol(tag, &end, 0) : -1;
    int ok = tag && end && !*end && v >= 0 && v <= 0xFFFF && type && strcmp(type, "String") == 0 &&
             !set && !dset;
    if (ok)
        snprintf(id, idlen, "String 0x%04lX", v);
    free(tag);
    free(type);
    free(set);
    free(dset);
    return ok;
}

static const char *bool_value(const char *v)
{
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        return "true";
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        return "false";
    return NULL;
}

/* field <op> constant, or a Contains on a field. */
static void leaf(out *o, xmlNodePtr el)
{
    int contains = is(el, "Contains");
    const char *op = contains ? NULL : op_of((const char *)el->name);
    xmlNodePtr path = first_el(el);
    xmlNodePtr cst = contains ? mapi_xml_child(el, EWSF_NS_T, "Constant")
                              : first_el(mapi_xml_child(el, EWSF_NS_T, "FieldURIOrConstant"));
    if (!contains && !op)
        {
        refuse(o, el, "Graph's filterQuery has no such test");
        return;
    }
    if (!is(cst, "Constant"))
        {
        refuse(o, el, "compares two properties (Graph compares with constants only)");
        return;
    }
    char *value = mapi_xml_attr(cst, "Value");
    if (!value)
        {
        refuse(o, el, "a constant without a value");
        return;
    }
    char id[64];
    if (is(path, "ExtendedFieldURI")) {
        if (contains || (strcmp(op, "eq") && strcmp(op, "ne")) || !ext_id(path, id, sizeof id)) {
            refuse(o, el, "an extended property Graph's filter cannot test this way (only eq/ne on "
                   "a tagged String property)");
        } else {
            put(o, strcmp(op, "ne") == 0 ? "not (" : "");
            put(o, "singleValueExtendedProperties/any(ep:ep/id eq ");
            put_lit(o, id);
            put(o, " and ep/value eq ");
            put_lit(o, value);
            put(o, strcmp(op, "ne") == 0 ? "))" : ")");
        }
        free(value);
        return;
    }
    char *uri = is(path, "FieldURI") ? mapi_xml_attr(path, "FieldURI") : NULL;
    size_t f = 0;
    while (uri && fields[f].ews && strcmp(fields[f].ews, uri) != 0)
        f++;
    if (!uri || !fields[f].ews) {
        refuse(o, el, "%s has no Graph message property to filter on",
               uri ? uri : path ? (const char *)path->name : "(no property)");
    } else if (contains) {
        char *mode = mapi_xml_attr(el, "ContainmentMode");
        char *cmp = mapi_xml_attr(el, "ContainmentComparison");
        const char *m = !mode || strcmp(mode, "Substring") == 0 ? "contains"
                        : strcmp(mode, "Prefixed") == 0       ? "startswith"
                        : strcmp(mode, "FullString") == 0     ? "eq"
                                                              : NULL;
        if (fields[f].t != F_STRING || !m)
            refuse(o, el, "%s: Graph's filter has no such containment", mode ? mode : "");
        else if (cmp && !strstr(cmp, "IgnoreCase") && strcmp(cmp, "Loose") != 0)
            refuse(o, el, "a %s comparison (Graph's filter ignores case: the folder would show more)",
                   cmp);
        else if (strcmp(m, "eq") == 0) {
            put(o, fields[f].graph);
            put(o, " eq ");
            put_lit(o, value);
        } else {
            put(o, m);
            put(o, "(");
            put(o, fields[f].graph);
            put(o, ",");
            put_lit(o, value);
            put(o, ")");
        }
        free(mode);
        free(cmp);
    } else {
        const char *b = fields[f].t == F_BOOL ? bool_value(value) : NULL;
        int order = strcmp(op, "eq") && strcmp(op, "ne");
        if ((fields[f].t == F_BOOL && !b) || (order && fields[f].t != F_DATE))
            refuse(o, el, "%s: Graph's filter cannot compare it this way", uri);
        put(o, fields[f].graph);
        put(o, " ");
        put(o, op);
        put(o, " ");
        if (fields[f].t == F_BOOL) {
            put(o, b ? b : "");
        } else if (fields[f].t == F_DATE) {
            put(o, value);    /* Edm.DateTimeOffset literals go unquoted */
        } else if (fields[f].t == F_ENUM) {
            for (char *p = value; *p; p++)   /* importance: low, normal, high */
                *p = (char)tolower((unsigned char)*p);
            put_lit(o, value);
        } else {
            put_lit(o, value);
        }
    }
    free(uri);
    free(value);
}

static void render(out *o, xmlNodePtr el, int nested, int depth)
{
    if (depth > 32)
        {
        refuse(o, el, "nested too deep");
        return;
    }
    if (is(el, "And") || is(el, "Or"))
        return group(o, el, nested, depth);
    if (is(el, "Not")) {
        put(o, "not (");
        if (first_el(el))
            render(o, first_el(el), 0, depth + 1);
        else
            refuse(o, el, "empty");
        put(o, ")");
        return;
    }
    leaf(o, el);
}

char *gfeat_filter_query(xmlNodePtr restriction, char **why)
{
    out o = {0};
    *why = NULL;
    xmlNodePtr top = first_el(restriction);
    if (!top)
        o.why = sr_strdup("the search folder has no restriction");
    else
        render(&o, top, 0, 0);
    if (o.why) {
        free(o.s);
        *why = o.why;
        return NULL;
    }
    return o.s;
}

/* Two filters the same but for blanks outside literals. */
int gfeat_filter_same(const char *a, const char *b)
{
    int qa = 0, qb = 0;
    for (;;) {
        while (*a == ' ' && !qa)
            a++;
        while (*b == ' ' && !qb)
            b++;
        if (*a != *b)
            return 0;
        if (!*a)
            return 1;
        qa ^= *a == '\'';
        qb ^= *b == '\'';
        a++;
        b++;
    }
}
