/* ews_props.c — response shapes (BaseShape + AdditionalProperties),
 * extended properties (stored and computed), restrictions, paging. */
#include "tests/exsim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* ---- computed MAPI properties (MS-OXPROPS), what Exchange fills for every
 * folder and item whether a client stored them or not ---- */
static char *num(long long v)
{
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    return strdup(b);
}

static int is_unread(xmlNodePtr item)
{
    xmlNodePtr rd = exsim_child(exsim_first_el(item), EXSIM_NS_T, "IsRead");
    return rd && strcmp(exsim_text(rd), "false") == 0;
}

/* Folder counts: child folders, normal (non-associated) items, unread ones. */
static void folder_counts(xmlNodePtr f, long *sub, long *items, long *unread)
{
    *sub = *items = *unread = 0;
    for (xmlNodePtr c = exsim_first_el(f); c; c = exsim_next_el(c)) {
        if (exsim_is(c, NULL, "folder"))
            (*sub)++;
        else if (exsim_is(c, NULL, "item") && !exsim_attr(c, "associated")) {
            (*items)++;
            *unread += is_unread(c);
        }
    }
}

/* The stored content's serialised size: what the item costs in the store. */
static long item_size(xmlNodePtr item)
{
    xmlBufferPtr b = xmlBufferCreate();
    long n = 0;
    for (xmlNodePtr c = exsim_first_el(item); b && c; c = exsim_next_el(c))
        if (xmlNodeDump(b, item->doc, c, 0, 0) > 0)
            n = (long)xmlBufferLength(b);
    xmlBufferFree(b);
    return n;
}

/* PidTagLastModificationTime: deterministic and moving with every change —
 * 2026-01-01T00:00:00Z + object counter minutes + version seconds. */
static char *mod_time(xmlNodePtr obj)
{
    const char *v = exsim_attr(obj, "version");
    long long t = 1767225600LL + (long long)exsim_store_id_of(obj) * 60 + (v ? atol(v) : 1);
    time_t tt = (time_t)t;
    struct tm tm;
    char b[32];
    gmtime_r(&tt, &tm);
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(b);
}

static char *folder_prop(xmlNodePtr f, long tag)
{
    long sub, items, unread;
    folder_counts(f, &sub, &items, &unread);
    switch (tag) {
    case 0x3001: /* PidTagDisplayName */
        return strdup(exsim_attr(f, "name") ? exsim_attr(f, "name") : "");
    case 0x3613: /* PidTagContainerClass */
        return exsim_attr(f, "class") ? strdup(exsim_attr(f, "class")) : NULL;
    case 0x360A: /* PidTagSubfolders */
        return strdup(sub ? "true" : "false");
    case 0x3602: /* PidTagContentCount */
        return num(items);
    case 0x3603: /* PidTagContentUnreadCount */
        return num(unread);
    case 0x3008: /* PidTagLastModificationTime */
        return mod_time(f);
    default:
        return NULL;
    }
}

static char *item_prop(xmlNodePtr it, long tag)
{
    switch (tag) {
    case 0x0E23: /* PidTagInternetArticleNumber: per folder, increasing with arrival */
        return num((long long)exsim_store_id_of(it));
    case 0x0E07: { /* PidTagMessageFlags: mfRead 0x1, mfHasAttach 0x10, mfFAI 0x40 */
        long f = is_unread(it) ? 0 : 0x1;
        if (exsim_child(exsim_first_el(it), EXSIM_NS_T, "Attachments"))
            f |= 0x10;
        if (exsim_attr(it, "associated"))
            f |= 0x40;
        return num(f);
    }
    case 0x0E08: /* PidTagMessageSize */
        return num(item_size(it));
    case 0x3008: /* PidTagLastModificationTime */
        return mod_time(it);
    default:
        return NULL;
    }
}

char *exsim_computed_prop(exsim_mbx *m, xmlNodePtr obj, long tag)
{
    uint8_t eid[70];
    if (tag == 0x0FFF) /* PidTagEntryId */
        return exsim_b64_encode(eid, exsim_id_entryid(m, obj, eid));
    if (exsim_is(obj, NULL, "folder"))
        return folder_prop(obj, tag);
    if (exsim_is(obj, NULL, "item"))
        return item_prop(obj, tag);
    return NULL;
}

char *exsim_prop_value(exsim_mbx *m, xmlNodePtr obj, xmlNodePtr body, xmlNodePtr efu)
{
    xmlNodePtr ep = body ? exsim_find_extprop(body, efu) : NULL;
    if (ep)
        return strdup(exsim_text(exsim_child(ep, EXSIM_NS_T, "Value")));
    return exsim_computed_prop(m, obj, tag_num(exsim_attr(efu, "PropertyTag")));
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
        char *v = exsim_computed_prop(m, obj, tag_num(exsim_attr(p, "PropertyTag")));
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
