/* graph_search.c — a mailSearchFolder's filterQuery (an OData $filter) and
 * the t:Restriction EWS keeps in the folder's t:SearchParameters, both ways,
 * for the part of the language search folders use:
 *   isRead | hasAttachments eq|ne true|false, subject | importance eq|ne '…',
 *   contains(subject,'…'),
 *   singleValueExtendedProperties/any(ep:ep/id eq 'String 0x5D01' and ep/value eq '…'),
 *   and, or, not, parentheses.
 * A stored restriction outside it makes the folder isSupported = false (Graph:
 * "editable using REST APIs"); a filterQuery outside it is refused. */
#include "tests/exsim/graph.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct fmap { const char *graph, *field; int boolean; } fmap;

static const fmap fields[] = {
    { "isRead", "message:IsRead", 1 },
    { "hasAttachments", "item:HasAttachments", 1 },
    { "subject", "item:Subject", 0 },
    { "importance", "item:Importance", 0 },
    { NULL, NULL, 0 },
};

/* ---- EWS → filterQuery ------------------------------------------------------------ */

typedef struct sbuf { char s[4096]; size_t n; int bad; } sbuf;

static void put(sbuf *b, const char *fmt, const char *a, const char *c)
{
    int k = snprintf(b->s + b->n, sizeof b->s - b->n, fmt, a ? a : "", c ? c : "");
    if (k < 0 || b->n + (size_t)k >= sizeof b->s)
        b->bad = 1;
    else
        b->n += (size_t)k;
}

/* A string literal: quotes doubled as OData writes them. */
static void put_lit(sbuf *b, const char *v)
{
    put(b, "'", NULL, NULL);
    for (const char *p = v; *p && !b->bad; p++) {
        char one[2] = { *p, 0 };
        put(b, *p == '\'' ? "''" : "%s", one, NULL);
    }
    put(b, "'", NULL, NULL);
}

static const fmap *field_by_uri(const char *uri)
{
    for (const fmap *f = fields; f->graph; f++)
        if (uri && !strcmp(f->field, uri))
            return f;
    return NULL;
}

static void render(sbuf *b, xmlNodePtr el, int nested)
{
    const char *name = (const char *)el->name;
    if (!strcmp(name, "And") || !strcmp(name, "Or")) {
        if (nested)
            put(b, "(", NULL, NULL);
        int first = 1;
        for (xmlNodePtr k = exsim_first_el(el); k; k = exsim_next_el(k), first = 0) {
            if (!first)
                put(b, !strcmp(name, "And") ? " and " : " or ", NULL, NULL);
            render(b, k, 1);
        }
        if (nested)
            put(b, ")", NULL, NULL);
        return;
    }
    if (!strcmp(name, "Not")) {
        put(b, "not (", NULL, NULL);
        render(b, exsim_first_el(el), 0);
        put(b, ")", NULL, NULL);
        return;
    }
    xmlNodePtr path = exsim_first_el(el);
    xmlNodePtr cst = exsim_child(exsim_child(el, EXSIM_NS_T, "FieldURIOrConstant"), EXSIM_NS_T, "Constant");
    if (!strcmp(name, "Contains"))
        cst = exsim_child(el, EXSIM_NS_T, "Constant");
    const char *value = exsim_attr(cst, "Value");
    int eq = !strcmp(name, "IsEqualTo"), ne = !strcmp(name, "IsNotEqualTo");
    if (!path || !value || (!eq && !ne && strcmp(name, "Contains"))) {
        b->bad = 1;
        return;
    }
    if (exsim_is(path, EXSIM_NS_T, "ExtendedFieldURI") && (eq || ne) && exsim_attr(path, "PropertyTag") &&
        exsim_attr(path, "PropertyType") && !exsim_attr(path, "PropertySetId") && !exsim_attr(path, "PropertyName")) {
        char id[64];
        snprintf(id, sizeof id, "%s %s", exsim_attr(path, "PropertyType"), exsim_attr(path, "PropertyTag"));
        put(b, ne ? "not (" : "", NULL, NULL);
        put(b, "singleValueExtendedProperties/any(ep:ep/id eq ", NULL, NULL);
        put_lit(b, id);
        put(b, " and ep/value eq ", NULL, NULL);
        put_lit(b, value);
        put(b, ne ? "))" : ")", NULL, NULL);
        return;
    }
    const fmap *f = exsim_is(path, EXSIM_NS_T, "FieldURI") ? field_by_uri(exsim_attr(path, "FieldURI")) : NULL;
    if (!f || (!eq && !ne && f->boolean)) {
        b->bad = 1;
        return;
    }
    if (!eq && !ne) {
        put(b, "contains(%s,", f->graph, NULL);
        put_lit(b, value);
        put(b, ")", NULL, NULL);
        return;
    }
    put(b, "%s %s ", f->graph, eq ? "eq" : "ne");
    if (f->boolean)
        put(b, "%s", value, NULL);
    else
        put_lit(b, value);
}

char *exsim_graph_filter_of(xmlNodePtr restriction)
{
    sbuf b = { .n = 0, .bad = 0 };
    b.s[0] = '\0';
    xmlNodePtr top = exsim_first_el(restriction);
    if (!top)
        return NULL;
    render(&b, top, 0);
    return b.bad ? NULL : strdup(b.s);
}

/* ---- filterQuery → EWS ---------------------------------------------------------------- */

typedef struct lexer { const char *p; int bad; xmlNsPtr t; } lexer;

static void skip_ws(lexer *lx)
{
    while (*lx->p == ' ')
        lx->p++;
}

/* The keyword kw followed by a non-identifier character. */
static int take(lexer *lx, const char *kw)
{
    skip_ws(lx);
    size_t n = strlen(kw);
    if (strncmp(lx->p, kw, n) || (isalnum((unsigned char)lx->p[n]) && isalnum((unsigned char)kw[n - 1])))
        return 0;
    lx->p += n;
    return 1;
}

/* A quoted literal into out (quotes undoubled); 0 ok. */
static int literal(lexer *lx, char *out, size_t outlen)
{
    skip_ws(lx);
    if (*lx->p != '\'')
        return -1;
    size_t n = 0;
    for (lx->p++; *lx->p; lx->p++) {
        if (*lx->p == '\'') {
            if (lx->p[1] != '\'')
                break;
            lx->p++;
        }
        if (n + 1 < outlen)
            out[n++] = *lx->p;
    }
    out[n] = '\0';
    if (*lx->p != '\'')
        return -1;
    lx->p++;
    return 0;
}

static xmlNodePtr leaf(lexer *lx, const char *op, const char *uri_attr, const char *uri, const char *value)
{
    xmlNodePtr el = xmlNewNode(lx->t, BAD_CAST op);
    xmlNodePtr path = xmlNewChild(el, lx->t, BAD_CAST(uri_attr ? "ExtendedFieldURI" : "FieldURI"), NULL);
    if (uri_attr) {
        char type[32], tag[32];
        if (sscanf(uri, "%31s %31s", type, tag) != 2) {
            lx->bad = 1;
            return el;
        }
        xmlSetProp(path, BAD_CAST "PropertyTag", BAD_CAST tag);
        xmlSetProp(path, BAD_CAST "PropertyType", BAD_CAST type);
    } else {
        xmlSetProp(path, BAD_CAST "FieldURI", BAD_CAST uri);
    }
    xmlNodePtr holder = strcmp(op, "Contains") ? xmlNewChild(el, lx->t, BAD_CAST "FieldURIOrConstant", NULL) : el;
    xmlSetProp(xmlNewChild(holder, lx->t, BAD_CAST "Constant", NULL), BAD_CAST "Value", BAD_CAST value);
    if (!strcmp(op, "Contains")) {
        xmlSetProp(el, BAD_CAST "ContainmentMode", BAD_CAST "Substring");
        xmlSetProp(el, BAD_CAST "ContainmentComparison", BAD_CAST "IgnoreCase");
    }
    return el;
}

static xmlNodePtr parse_or(lexer *lx);

static xmlNodePtr parse_cmp(lexer *lx)
{
    char a[512], b[512];
    if (take(lx, "singleValueExtendedProperties/any(")) {
        char v1[32], v2[32];
        skip_ws(lx);
        int n = 0;
        if (sscanf(lx->p, "%31[a-zA-Z]:%31[a-zA-Z]/id eq%n", v1, v2, &n) != 2 || !n || strcmp(v1, v2)) {
            lx->bad = 1;
            return NULL;
        }
        lx->p += n;
        char tail[64];
        snprintf(tail, sizeof tail, "%s/value", v1);
        if (literal(lx, a, sizeof a) || !take(lx, "and") || !take(lx, tail) || !take(lx, "eq") ||
            literal(lx, b, sizeof b) || !take(lx, ")")) {
            lx->bad = 1;
            return NULL;
        }
        return leaf(lx, "IsEqualTo", "ext", a, b);
    }
    if (take(lx, "contains(")) {
        skip_ws(lx);
        const fmap *f = NULL;
        for (const fmap *m = fields; m->graph && !f; m++)
            if (!m->boolean && take(lx, m->graph))
                f = m;
        if (!f || !take(lx, ",") || literal(lx, a, sizeof a) || !take(lx, ")")) {
            lx->bad = 1;
            return NULL;
        }
        return leaf(lx, "Contains", NULL, f->field, a);
    }
    const fmap *f = NULL;
    for (const fmap *m = fields; m->graph && !f; m++)
        if (take(lx, m->graph))
            f = m;
    int eq = f && take(lx, "eq"), ne = f && !eq && take(lx, "ne");
    if (!eq && !ne) {
        lx->bad = 1;
        return NULL;
    }
    if (f->boolean) {
        const char *v = take(lx, "true") ? "true" : take(lx, "false") ? "false" : NULL;
        if (!v) {
            lx->bad = 1;
            return NULL;
        }
        snprintf(a, sizeof a, "%s", v);
    } else if (literal(lx, a, sizeof a)) {
        lx->bad = 1;
        return NULL;
    }
    return leaf(lx, eq ? "IsEqualTo" : "IsNotEqualTo", NULL, f->field, a);
}

static xmlNodePtr parse_unary(lexer *lx)
{
    if (take(lx, "not")) {
        xmlNodePtr inner = parse_unary(lx);
        xmlNodePtr n = xmlNewNode(lx->t, BAD_CAST "Not");
        if (inner)
            xmlAddChild(n, inner);
        return n;
    }
    if (take(lx, "(")) {
        xmlNodePtr e = parse_or(lx);
        if (!take(lx, ")"))
            lx->bad = 1;
        return e;
    }
    return parse_cmp(lx);
}

/* One level of and/or: children joined under one And/Or element. */
static xmlNodePtr parse_list(lexer *lx, const char *kw, const char *el, xmlNodePtr (*sub)(lexer *))
{
    xmlNodePtr first = sub(lx);
    if (!take(lx, kw))
        return first;
    xmlNodePtr group = xmlNewNode(lx->t, BAD_CAST el);
    if (first)
        xmlAddChild(group, first);
    do {
        xmlNodePtr next = sub(lx);
        if (next)
            xmlAddChild(group, next);
    } while (!lx->bad && take(lx, kw));
    return group;
}

static xmlNodePtr parse_and(lexer *lx)
{
    return parse_list(lx, "and", "And", parse_unary);
}

static xmlNodePtr parse_or(lexer *lx)
{
    return parse_list(lx, "or", "Or", parse_and);
}

xmlNodePtr exsim_graph_restriction_of(exsim_org *org, const char *filter)
{
    lexer lx = { .p = filter ? filter : "", .bad = 0, .t = exsim_store_ns_t(org) };
    xmlNodePtr e = parse_or(&lx);
    skip_ws(&lx);
    if (lx.bad || !e || *lx.p) {
        xmlFreeNode(e);
        return NULL;
    }
    xmlNodePtr r = xmlNewDocNode(org->doc, lx.t, BAD_CAST "Restriction", NULL);
    xmlAddChild(r, e);
    return r;
}
