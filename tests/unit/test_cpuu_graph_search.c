/* test_cpuu_graph_search.c — cpuu/graph_search.c case by case: which EWS
 * search-folder restrictions become a mailSearchFolder filterQuery (and the
 * exact OData text), which are reported as not carried (and why names the
 * part), and that every message property a filter names exists on
 * Microsoft's v1.0 message type ($SHARED_DIR/protocol/graph/...CSDL). */
#include <CUnit/Basic.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuu/graph_feat.h"
#include "tests/common/testutil.h"

#define T "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\""

/* filterQuery of <t:Restriction>inner</t:Restriction>; *why as returned. */
static char *filter_of(const char *inner, char **why)
{
    char *xml = NULL;
    CU_ASSERT_FATAL(asprintf(&xml, "<t:Restriction %s>%s</t:Restriction>", T, inner) > 0);
    xmlDocPtr d = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
    free(xml);
    CU_ASSERT_FATAL(d != NULL);
    char *q = gfeat_filter_query(xmlDocGetRootElement(d), why);
    xmlFreeDoc(d);
    return q;
}

static void expect(const char *inner, const char *want)
{
    char *why = NULL;
    char *q = filter_of(inner, &why);
    if (!q || strcmp(q, want) != 0)
        fprintf(stderr, "\n  %s\n  want %s\n  got  %s (%s)\n", inner, want, q ? q : "NULL",
                why ? why : "-");
    CU_ASSERT_PTR_NOT_NULL(q);
    CU_ASSERT_STRING_EQUAL(q ? q : "", want);
    CU_ASSERT_PTR_NULL(why);
    free(q);
    free(why);
}

static void refused(const char *inner, const char *why_has)
{
    char *why = NULL;
    char *q = filter_of(inner, &why);
    if (q || !why || !strstr(why, why_has))
        fprintf(stderr, "\n  %s\n  want refused with '%s'\n  got %s (%s)\n", inner, why_has,
                q ? q : "NULL", why ? why : "-");
    CU_ASSERT_PTR_NULL(q);
    CU_ASSERT_PTR_NOT_NULL(why);
    CU_ASSERT_PTR_NOT_NULL(why ? strstr(why, why_has) : NULL);
    free(q);
    free(why);
}

#define CMP(op, uri, v)                                                                        \
    "<t:" op "><t:FieldURI FieldURI=\"" uri "\"/><t:FieldURIOrConstant><t:Constant Value=\"" v \
    "\"/></t:FieldURIOrConstant></t:" op ">"
#define EXT(op, tag, type, v)                                                                  \
    "<t:" op "><t:ExtendedFieldURI PropertyTag=\"" tag "\" PropertyType=\"" type "\"/>"        \
    "<t:FieldURIOrConstant><t:Constant Value=\"" v "\"/></t:FieldURIOrConstant></t:" op ">"
#define CONTAINS(mode, cmp, v)                                                                 \
    "<t:Contains ContainmentMode=\"" mode "\" ContainmentComparison=\"" cmp "\">"              \
    "<t:FieldURI FieldURI=\"item:Subject\"/><t:Constant Value=\"" v "\"/></t:Contains>"

static void test_converts(void)
{
    /* the seed's two search folders (tests/exsim/seedgen.py) */
    expect(CMP("IsEqualTo", "message:IsRead", "false"), "isRead eq false");
    expect("<t:Or>" EXT("IsEqualTo", "0x5D01", "String", "a@tgt.test")
               EXT("IsEqualTo", "0x5d01", "String", "b@tgt.test") "</t:Or>",
           "singleValueExtendedProperties/any(ep:ep/id eq 'String 0x5D01' and ep/value eq "
           "'a@tgt.test') or singleValueExtendedProperties/any(ep:ep/id eq 'String 0x5D01' and "
           "ep/value eq 'b@tgt.test')");
    /* a decimal tag, ne → not (...) */
    expect(EXT("IsNotEqualTo", "23809", "String", "x@y"),
           "not (singleValueExtendedProperties/any(ep:ep/id eq 'String 0x5D01' and ep/value eq "
           "'x@y'))");
    /* booleans normalised, strings quoted with quotes doubled, importance lower case */
    expect(CMP("IsNotEqualTo", "item:HasAttachments", "1"), "hasAttachments ne true");
    expect(CMP("IsEqualTo", "item:Subject", "O'Brien"), "subject eq 'O''Brien'");
    expect(CMP("IsEqualTo", "item:Importance", "High"), "importance eq 'high'");
    /* dates: every ordering, unquoted */
    expect(CMP("IsGreaterThanOrEqualTo", "item:DateTimeReceived", "2026-01-01T00:00:00Z"),
           "receivedDateTime ge 2026-01-01T00:00:00Z");
    expect(CMP("IsLessThan", "item:DateTimeSent", "2026-02-01T00:00:00Z"),
           "sentDateTime lt 2026-02-01T00:00:00Z");
    /* containment: substring, prefix, full string, case ignored */
    expect(CONTAINS("Substring", "IgnoreCase", "report"), "contains(subject,'report')");
    expect(CONTAINS("Prefixed", "IgnoreCaseAndNonSpacingCharacters", "RE:"),
           "startswith(subject,'RE:')");
    expect(CONTAINS("FullString", "Loose", "Weekly"), "subject eq 'Weekly'");
    /* nesting: a nested group in parentheses, Not around its child */
    expect("<t:And>" CMP("IsEqualTo", "message:IsRead", "false") "<t:Or>"
           CMP("IsEqualTo", "item:IsDraft", "true") "<t:Not>"
           CMP("IsEqualTo", "item:HasAttachments", "true") "</t:Not></t:Or></t:And>",
           "isRead eq false and (isDraft eq true or not (hasAttachments eq true))");
}

static void test_reported(void)
{
    refused("", "no restriction");
    refused("<t:Exists><t:FieldURI FieldURI=\"item:Subject\"/></t:Exists>", "Exists");
    refused("<t:Excludes><t:FieldURI FieldURI=\"item:Size\"/><t:Bitmask Value=\"1\"/></t:Excludes>",
            "Excludes");
    refused(CMP("IsEqualTo", "item:ItemClass", "IPM.Note"), "item:ItemClass has no Graph message");
    refused(CMP("IsGreaterThan", "item:Subject", "m"), "cannot compare it this way");
    refused(CMP("IsEqualTo", "message:IsRead", "maybe"), "cannot compare it this way");
    refused(CONTAINS("Substring", "Exact", "Report"), "Exact comparison");
    refused(CONTAINS("ExactPhrase", "IgnoreCase", "a b"), "no such containment");
    refused(EXT("IsEqualTo", "0x0E08", "Integer", "5"), "extended property");
    refused(EXT("IsGreaterThan", "0x5D01", "String", "a"), "extended property");
    refused("<t:IsEqualTo><t:FieldURI FieldURI=\"item:Subject\"/><t:FieldURIOrConstant>"
            "<t:FieldURI FieldURI=\"item:Subject\"/></t:FieldURIOrConstant></t:IsEqualTo>",
            "compares two properties");
    /* one part Graph cannot say makes the whole folder not carried */
    refused("<t:And>" CMP("IsEqualTo", "message:IsRead", "false")
            "<t:Exists><t:FieldURI FieldURI=\"item:Subject\"/></t:Exists></t:And>", "Exists");
}

static void test_same(void)
{
    CU_ASSERT_TRUE(gfeat_filter_same("isRead eq false", "isRead  eq false "));
    CU_ASSERT_TRUE(gfeat_filter_same("not (a eq 'x')", "not(a eq 'x')"));
    CU_ASSERT_FALSE(gfeat_filter_same("subject eq 'a b'", "subject eq 'ab'"));
    CU_ASSERT_FALSE(gfeat_filter_same("isRead eq false", "isRead eq true"));
}

/* The property exists on the CSDL's message type or its bases. */
static int message_has(xmlDocPtr csdl, const char *type, const char *prop, int depth)
{
    xmlNodePtr root = xmlDocGetRootElement(csdl);
    for (xmlNodePtr ds = root ? root->children : NULL; ds && depth < 8; ds = ds->next)
        for (xmlNodePtr sc = ds->type == XML_ELEMENT_NODE ? ds->children : NULL; sc; sc = sc->next)
            for (xmlNodePtr t = sc->type == XML_ELEMENT_NODE ? sc->children : NULL; t; t = t->next) {
                xmlChar *n = t->type == XML_ELEMENT_NODE && xmlStrEqual(t->name, BAD_CAST "EntityType")
                                 ? xmlGetProp(t, BAD_CAST "Name") : NULL;
                int hit = n && strcmp((char *)n, type) == 0;
                xmlFree(n);
                if (!hit)
                    continue;
                for (xmlNodePtr p = t->children; p; p = p->next) {
                    xmlChar *pn = p->type == XML_ELEMENT_NODE ? xmlGetProp(p, BAD_CAST "Name") : NULL;
                    int found = pn && strcmp((char *)pn, prop) == 0;
                    xmlFree(pn);
                    if (found)
                        return 1;
                }
                xmlChar *base = xmlGetProp(t, BAD_CAST "BaseType");
                int r = base && strncmp((char *)base, "graph.", 6) == 0 &&
                        message_has(csdl, (char *)base + 6, prop, depth + 1);
                xmlFree(base);
                return r;
            }
    return 0;
}

static void test_csdl_names(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/protocol/graph/v1.0-cleanMetadata.xml", tu_shared());
    if (!tu_exists(path)) {
        tu_skip("%s not found (set SHARED_DIR): property names not checked", path);
        return;
    }
    xmlDocPtr csdl = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    CU_ASSERT_FATAL(csdl != NULL);
    static const char *const props[] = {"createdDateTime", "receivedDateTime", "sentDateTime",
                                        "hasAttachments", "importance", "isDraft",
                                        "lastModifiedDateTime", "subject", "internetMessageId",
                                        "isDeliveryReceiptRequested", "isRead",
                                        "isReadReceiptRequested", "singleValueExtendedProperties",
                                        NULL};
    for (int i = 0; props[i]; i++) {
        int ok = message_has(csdl, "message", props[i], 0);
        if (!ok)
            fprintf(stderr, "\n  message has no property %s\n", props[i]);
        CU_ASSERT_TRUE(ok);
    }
    CU_ASSERT_FALSE(message_has(csdl, "message", "itemClass", 0));   /* the walk can say no */
    static const char *const sf[] = {"filterQuery", "sourceFolderIds", "includeNestedFolders",
                                     "isSupported", "displayName", NULL};
    for (int i = 0; sf[i]; i++)
        CU_ASSERT_TRUE(message_has(csdl, "mailSearchFolder", sf[i], 0));
    xmlFreeDoc(csdl);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("cpuu_graph_search", NULL, NULL);
    CU_add_test(s, "restriction -> filterQuery: what converts, exactly", test_converts);
    CU_add_test(s, "restriction -> filterQuery: what is reported, and why", test_reported);
    CU_add_test(s, "filterQuery comparison ignores blanks outside literals", test_same);
    CU_add_test(s, "every Graph name used is in the v1.0 CSDL", test_csdl_names);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
