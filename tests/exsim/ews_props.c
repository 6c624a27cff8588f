/* ews_props.c — response shapes (BaseShape + AdditionalProperties),
 * extended properties (stored and computed), restrictions, paging. */
#include "tests/exsim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void exsim_shape_parse(xmlNodePtr shape_el, exsim_shape *s)
{
    s->base = EXSIM_SHAPE_DEFAULT;
    s->addl = NULL;
    xmlNodePtr b = exsim_child(shape_el, EXSIM_NS_T, "BaseShape");
    if (b && strcmp(exsim_text(b), "IdOnly") == 0)
        s->base = EXSIM_SHAPE_IDONLY;
    else if (b && strcmp(exsim_text(b), "AllProperties") == 0)
        s->base = EXSIM_SHAPE_ALL;
    s->addl = exsim_child(shape_el, EXSIM_NS_T, "AdditionalProperties");
}

/* Local part of a FieldURI ("item:Subject" → "Subject"). */
static const char *local_of(const char *uri)
{
    const char *c = uri ? strchr(uri, ':') : NULL;
    return c ? c + 1 : (uri ? uri : "");
}

const char *exsim_indexed_container(const char *local)
{
    if (strcmp(local, "EmailAddress") == 0)
        return "EmailAddresses";
    if (strcmp(local, "PhoneNumber") == 0)
        return "PhoneNumbers";
    if (strcmp(local, "ImAddress") == 0)
        return "ImAddresses";
    if (strncmp(local, "PhysicalAddress", 15) == 0)
        return "PhysicalAddresses";
    return NULL;
}

int exsim_shape_wants(const exsim_shape *s, const char *element_name)
{
    for (xmlNodePtr p = exsim_first_el(s->addl); p; p = exsim_next_el(p)) {
        const char *local = local_of(exsim_attr(p, "FieldURI"));
        if (exsim_is(p, EXSIM_NS_T, "FieldURI") && strcmp(local, element_name) == 0)
            return 1;
        /* indexed fields: the whole container (all its entries) */
        const char *cont = exsim_is(p, EXSIM_NS_T, "IndexedFieldURI") ? exsim_indexed_container(local) : NULL;
        if (cont && strcmp(cont, element_name) == 0)
            return 1;
    }
    return 0;
}

static long tag_num(const char *s)
{
    return s ? strtol(s, NULL, 0) : -1;
}

static int attr_eq_ci(xmlNodePtr a, xmlNodePtr b, const char *name)
{
    const char *x = exsim_attr(a, name), *y = exsim_attr(b, name);
    if (!x || !y)
        return x == y;
    return strcasecmp(x, y) == 0;
}

int exsim_efu_match(xmlNodePtr a, xmlNodePtr b)
{
    const char *ta = exsim_attr(a, "PropertyTag"), *tb = exsim_attr(b, "PropertyTag");
    if (ta || tb)
        return ta && tb && tag_num(ta) == tag_num(tb);
    if (!attr_eq_ci(a, b, "DistinguishedPropertySetId") || !attr_eq_ci(a, b, "PropertySetId"))
        return 0;
    const char *na = exsim_attr(a, "PropertyName"), *nb = exsim_attr(b, "PropertyName");
    if (na || nb)
        return na && nb && strcmp(na, nb) == 0;
    return tag_num(exsim_attr(a, "PropertyId")) == tag_num(exsim_attr(b, "PropertyId"));
}

xmlNodePtr exsim_find_extprop(xmlNodePtr body, xmlNodePtr efu)
{
    for (xmlNodePtr e = exsim_child(body, EXSIM_NS_T, "ExtendedProperty"); e;
         e = exsim_next(e, EXSIM_NS_T, "ExtendedProperty"))
        if (exsim_efu_match(exsim_child(e, EXSIM_NS_T, "ExtendedFieldURI"), efu))
            return e;
    return NULL;
}

/* Write <t:ExtendedProperty> echoing the requested URI, with one Value. */
static xmlNodePtr emit_ext(exsim_req *r, xmlNodePtr parent, xmlNodePtr efu, const char *value)
{
    xmlNodePtr ep = exsim_t(r, parent, "ExtendedProperty", NULL);
    exsim_copy_into(r, ep, efu);
    exsim_t(r, ep, "Value", value);
    return ep;
}

/* Computed MAPI properties every object has. */
static char *computed_prop(exsim_mbx *m, xmlNodePtr obj, long tag)
{
    uint8_t eid[70];
    switch (tag) {
    case 0x0FFF: /* PR_ENTRYID */
        return exsim_b64_encode(eid, exsim_id_entryid(m, obj, eid));
    case 0x3001: /* PR_DISPLAY_NAME (folders) */
        return exsim_is(obj, NULL, "folder") ? strdup(exsim_attr(obj, "name") ? exsim_attr(obj, "name") : "") : NULL;
    case 0x3613: /* PR_CONTAINER_CLASS */
        return exsim_is(obj, NULL, "folder") && exsim_attr(obj, "class") ? strdup(exsim_attr(obj, "class")) : NULL;
    default:
        return NULL;
    }
}

void exsim_emit_extprops(exsim_req *r, xmlNodePtr out, exsim_mbx *m, xmlNodePtr obj,
                         xmlNodePtr body, const exsim_shape *s)
{
    for (xmlNodePtr p = exsim_child(s->addl, EXSIM_NS_T, "ExtendedFieldURI"); p;
         p = exsim_next(p, EXSIM_NS_T, "ExtendedFieldURI")) {
        xmlNodePtr stored = body ? exsim_find_extprop(body, p) : NULL;
        if (stored) {
            xmlNodePtr ep = exsim_t(r, out, "ExtendedProperty", NULL);
            exsim_copy_into(r, ep, p);
            for (xmlNodePtr v = exsim_next_el(exsim_child(stored, EXSIM_NS_T, "ExtendedFieldURI"));
                 v; v = exsim_next_el(v))
                exsim_copy_into(r, ep, v);
            continue;
        }
        char *v = computed_prop(m, obj, tag_num(exsim_attr(p, "PropertyTag")));
        if (v)
            emit_ext(r, out, p, v);
        free(v);
    }
}

/* ---- restrictions -------------------------------------------------------- */

static int contains(const char *hay, const char *needle, xmlNodePtr el)
{
    const char *mode = exsim_attr(el, "ContainmentMode");
    const char *cmp = exsim_attr(el, "ContainmentComparison");
    int ci = cmp && strstr(cmp, "Ignore") != NULL;
    size_t hl = strlen(hay), nl = strlen(needle);
    if (mode && strcmp(mode, "FullString") == 0)
        return ci ? strcasecmp(hay, needle) == 0 : strcmp(hay, needle) == 0;
    if (mode && strcmp(mode, "Prefixed") == 0)
        return hl >= nl && (ci ? strncasecmp(hay, needle, nl) : strncmp(hay, needle, nl)) == 0;
    if (ci)
        return strcasestr(hay, needle) != NULL;
    return strstr(hay, needle) != NULL;
}

static const char *constant_of(xmlNodePtr cmp_el)
{
    xmlNodePtr foc = exsim_child(cmp_el, EXSIM_NS_T, "FieldURIOrConstant");
    xmlNodePtr c = exsim_child(foc ? foc : cmp_el, EXSIM_NS_T, "Constant");
    return c ? exsim_attr(c, "Value") : NULL;
}

static xmlNodePtr path_of(xmlNodePtr el)
{
    for (xmlNodePtr c = exsim_first_el(el); c; c = exsim_next_el(c))
        if (exsim_is(c, EXSIM_NS_T, "FieldURI") || exsim_is(c, EXSIM_NS_T, "ExtendedFieldURI") ||
            exsim_is(c, EXSIM_NS_T, "IndexedFieldURI"))
            return c;
    return NULL;
}

static int num_cmp(const char *a, const char *b)
{
    char *ea, *eb;
    double x = strtod(a, &ea), y = strtod(b, &eb);
    if (*a && *b && !*ea && !*eb)
        return (x > y) - (x < y);
    return strcmp(a, b);
}

int exsim_restrict(xmlNodePtr el, exsim_getter get, void *ctx)
{
    if (!el)
        return 1;
    const char *n = (const char *)el->name;
    if (strcmp(n, "Restriction") == 0)
        return exsim_restrict(exsim_first_el(el), get, ctx);
    if (strcmp(n, "And") == 0 || strcmp(n, "Or") == 0) {
        int is_and = n[0] == 'A';
        for (xmlNodePtr c = exsim_first_el(el); c; c = exsim_next_el(c)) {
            int v = exsim_restrict(c, get, ctx);
            if (is_and && !v)
                return 0;
            if (!is_and && v)
                return 1;
        }
        return is_and;
    }
    if (strcmp(n, "Not") == 0)
        return !exsim_restrict(exsim_first_el(el), get, ctx);
    char *val = get(ctx, path_of(el));
    int res = 0;
    const char *k = constant_of(el);
    if (strcmp(n, "Exists") == 0)
        res = val != NULL;
    else if (!val || !k)
        res = strcmp(n, "IsNotEqualTo") == 0 && val != NULL;
    else if (strcmp(n, "Contains") == 0)
        res = contains(val, k, el);
    else if (strcmp(n, "IsEqualTo") == 0)
        res = strcasecmp(val, k) == 0;
    else if (strcmp(n, "IsNotEqualTo") == 0)
        res = strcasecmp(val, k) != 0;
    else if (strcmp(n, "IsGreaterThan") == 0)
        res = num_cmp(val, k) > 0;
    else if (strcmp(n, "IsGreaterThanOrEqualTo") == 0)
        res = num_cmp(val, k) >= 0;
    else if (strcmp(n, "IsLessThan") == 0)
        res = num_cmp(val, k) < 0;
    else if (strcmp(n, "IsLessThanOrEqualTo") == 0)
        res = num_cmp(val, k) <= 0;
    free(val);
    return res;
}

/* ---- paging -------------------------------------------------------------- */

void exsim_page(xmlNodePtr view, size_t total, size_t *first, size_t *count)
{
    size_t off = 0, max = total;
    int from_end = 0;
    if (view) {
        const char *o = exsim_attr(view, "Offset"), *mx = exsim_attr(view, "MaxEntriesReturned");
        const char *bp = exsim_attr(view, "BasePoint");
        off = o ? strtoul(o, NULL, 10) : 0;
        if (mx)
            max = strtoul(mx, NULL, 10);
        from_end = bp && strcmp(bp, "End") == 0;
    }
    if (off > total)
        off = total;
    size_t avail = total - off;
    size_t n = max < avail ? max : avail;
    *first = from_end ? total - off - n : off;
    *count = n;
}

void exsim_root_attrs(xmlNodePtr root, xmlNodePtr view, size_t total, size_t first,
                      size_t count)
{
    char buf[32];
    const char *bp = view ? exsim_attr(view, "BasePoint") : NULL;
    int from_end = bp && strcmp(bp, "End") == 0;
    size_t next = from_end ? total - first : first + count;
    snprintf(buf, sizeof buf, "%zu", next);
    xmlNewProp(root, BAD_CAST "IndexedPagingOffset", BAD_CAST buf);
    snprintf(buf, sizeof buf, "%zu", total);
    xmlNewProp(root, BAD_CAST "TotalItemsInView", BAD_CAST buf);
    int last = from_end ? first == 0 : first + count >= total;
    xmlNewProp(root, BAD_CAST "IncludesLastItemInRange", BAD_CAST(last ? "true" : "false"));
}
