/* test_cpuu_graph_conv.c — the pure EWS → Graph conversions of
 * cpuu/graph_feat.c: inbox rules → messageRule (what Graph cannot express is
 * listed, never dropped), delegates → calendarPermission with and without
 * private items, DeliverMeetingRequests → delegateMeetingMessageDeliveryOptions.
 * Every JSON object emitted is walked against Microsoft's v1.0 CSDL
 * ($SHARED_DIR/protocol/graph/v1.0-cleanMetadata.xml, parsed with libxml2):
 * each property must exist on its entity or complex type (base types
 * included), with the declared JSON kind and, for enums, a declared member. */
#include <CUnit/Basic.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpuu/graph_feat.h"
#include "tests/common/testutil.h"

static xmlDocPtr g_csdl;

/* ---- the CSDL walk ---------------------------------------------------------- */
/* The EntityType, ComplexType or EnumType named name ("graph.X" or "X"). */
static xmlNodePtr csdl_type(const char *name)
{
    if (strncmp(name, "graph.", 6) == 0)
        name += 6;
    xmlNodePtr root = xmlDocGetRootElement(g_csdl);
    for (xmlNodePtr ds = root ? root->children : NULL; ds; ds = ds->next)
        for (xmlNodePtr sc = ds->type == XML_ELEMENT_NODE ? ds->children : NULL; sc; sc = sc->next)
            for (xmlNodePtr t = sc->type == XML_ELEMENT_NODE ? sc->children : NULL; t; t = t->next) {
                if (t->type != XML_ELEMENT_NODE)
                    continue;
                xmlChar *n = xmlGetProp(t, BAD_CAST "Name");
                int hit = n && strcmp((char *)n, name) == 0 &&
                          (xmlStrEqual(t->name, BAD_CAST "EntityType") ||
                           xmlStrEqual(t->name, BAD_CAST "ComplexType") ||
                           xmlStrEqual(t->name, BAD_CAST "EnumType"));
                xmlFree(n);
                if (hit)
                    return t;
            }
    return NULL;
}

/* The declared Type of property prop on type (or its BaseType chain), heap. */
static char *csdl_prop_type(const char *type, const char *prop)
{
    xmlNodePtr t = csdl_type(type);
    while (t) {
        for (xmlNodePtr p = t->children; p; p = p->next) {
            if (p->type != XML_ELEMENT_NODE || (!xmlStrEqual(p->name, BAD_CAST "Property") &&
                                                !xmlStrEqual(p->name, BAD_CAST "NavigationProperty")))
                continue;
            xmlChar *n = xmlGetProp(p, BAD_CAST "Name");
            int hit = n && strcmp((char *)n, prop) == 0;
            xmlFree(n);
            if (hit) {
                xmlChar *ty = xmlGetProp(p, BAD_CAST "Type");
                char *s = ty ? strdup((char *)ty) : NULL;
                xmlFree(ty);
                return s;
            }
        }
        xmlChar *base = xmlGetProp(t, BAD_CAST "BaseType");
        t = base ? csdl_type((char *)base) : NULL;
        xmlFree(base);
    }
    return NULL;
}

static int enum_has(xmlNodePtr e, const char *v)
{
    for (xmlNodePtr m = e->children; m; m = m->next) {
        if (m->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *n = xmlGetProp(m, BAD_CAST "Name");
        int hit = n && strcmp((char *)n, v) == 0;
        xmlFree(n);
        if (hit)
            return 1;
    }
    return 0;
}

static char g_bad[4096];

static void bad(const char *where, const char *what)
{
    size_t n = strlen(g_bad);
    snprintf(g_bad + n, sizeof g_bad - n, "%s: %s; ", where, what);
}

static void check_value(const json_t *v, const char *type, const char *where);

static void check_object(const json_t *o, const char *type, const char *where)
{
    if (!json_is_object(o)) {
        bad(where, "not an object");
        return;
    }
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)o, k, x) {
        char w[512];
        snprintf(w, sizeof w, "%s.%s", where, k);
        char *pt = csdl_prop_type(type, k);
        if (!pt)
            bad(w, "no such property on the CSDL type");
        else
            check_value(x, pt, w);
        free(pt);
    }
}

static void check_value(const json_t *v, const char *type, const char *where)
{
    if (strncmp(type, "Collection(", 11) == 0) {
        char inner[256];
        snprintf(inner, sizeof inner, "%.*s", (int)(strlen(type) - 12), type + 11);
        if (!json_is_array(v)) {
            bad(where, "not an array");
            return;
        }
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) check_value(x, inner, where);
        return;
    }
    if (strcmp(type, "Edm.String") == 0) {
        if (!json_is_string(v))
            bad(where, "not a string");
    } else if (strcmp(type, "Edm.Boolean") == 0) {
        if (!json_is_boolean(v))
            bad(where, "not a boolean");
    } else if (strcmp(type, "Edm.Int32") == 0) {
        if (!json_is_integer(v))
            bad(where, "not an integer");
    } else if (strncmp(type, "graph.", 6) == 0) {
        xmlNodePtr t = csdl_type(type);
        if (!t)
            bad(where, "type not in the CSDL");
        else if (xmlStrEqual(t->name, BAD_CAST "EnumType")) {
            if (!json_is_string(v) || !enum_has(t, json_string_value(v)))
                bad(where, "not a member of the enum");
        } else {
            check_object(v, type, where);
        }
    } else {
        bad(where, "type this test does not know");
    }
}

/* Checks o against type; SKIP when the CSDL is missing. */
static void assert_csdl(const json_t *o, const char *type)
{
    if (!g_csdl) {
        tu_skip("%s/protocol/graph/v1.0-cleanMetadata.xml not found (set SHARED_DIR): "
                "property names not checked", tu_shared());
        return;
    }
    g_bad[0] = 0;
    check_object(o, type, type);
    if (g_bad[0])
        fprintf(stderr, "\nCSDL: %s\n", g_bad);
    CU_ASSERT_STRING_EQUAL(g_bad, "");
}

/* The walker itself must refuse what Graph refuses. */
static void test_csdl_walker(void)
{
    if (!g_csdl) {
        tu_skip("%s/protocol/graph/v1.0-cleanMetadata.xml not found (set SHARED_DIR)", tu_shared());
        return;
    }
    json_t *j = json_pack("{s:s,s:{s:b},s:[{s:{s:s}}]}", "displayName", "x", "conditions",
                          "isSigned", 1, "actions_", "emailAddress", "address", "a@b");
    g_bad[0] = 0;
    check_object(j, "messageRule", "messageRule");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_bad, "messageRule.actions_: no such property"));
    json_decref(j);
    j = json_pack("{s:s,s:i}", "role", "owner", "isRemovable", 1);
    g_bad[0] = 0;
    check_object(j, "calendarPermission", "calendarPermission");
    CU_ASSERT_PTR_NOT_NULL(strstr(g_bad, "role: not a member"));
    CU_ASSERT_PTR_NOT_NULL(strstr(g_bad, "isRemovable: not a boolean"));
    json_decref(j);
    g_bad[0] = 0;
}

/* ---- rules ------------------------------------------------------------------- */
#define T "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\""

static xmlDocPtr parse(const char *xml)
{
    xmlDocPtr d = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    return d;
}

/* Source folder ids → target Graph ids: only "F-Projects" has a counterpart. */
static char *folders(void *ctx, const char *ews_id, const char *dist)
{
    (*(int *)ctx)++;
    if (dist)
        return strdup(dist);   /* Graph takes well-known names ("inbox") */
    return ews_id && strcmp(ews_id, "F-Projects") == 0 ? strdup("AAMkGraphProjects") : NULL;
}

static const char *full_rule =
    "<t:Rule " T "><t:RuleId>r1</t:RuleId><t:DisplayName>Boss</t:DisplayName>"
    "<t:Priority>3</t:Priority><t:IsEnabled>true</t:IsEnabled>"
    "<t:Conditions><t:ContainsSubjectStrings><t:String>urgent</t:String><t:String>asap</t:String>"
    "</t:ContainsSubjectStrings><t:FromAddresses><t:Address><t:Name>Boss</t:Name>"
    "<t:EmailAddress>boss@target.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
    "</t:Address></t:FromAddresses><t:HasAttachments>true</t:HasAttachments>"
    "<t:IsNDR>false</t:IsNDR><t:Importance>High</t:Importance>"
    "<t:FlaggedForAction>FYI</t:FlaggedForAction><t:Sensitivity>Private</t:Sensitivity>"
    "<t:WithinSizeRange><t:MinimumSize>10</t:MinimumSize><t:MaximumSize>500</t:MaximumSize>"
    "</t:WithinSizeRange></t:Conditions>"
    "<t:Exceptions><t:SentToAddresses><t:Address><t:EmailAddress>ext@other.example"
    "</t:EmailAddress></t:Address></t:SentToAddresses></t:Exceptions>"
    "<t:Actions><t:AssignCategories><t:String>Red</t:String></t:AssignCategories>"
    "<t:MoveToFolder><t:FolderId Id=\"F-Projects\"/></t:MoveToFolder>"
    "<t:CopyToFolder><t:DistinguishedFolderId Id=\"inbox\"/></t:CopyToFolder>"
    "<t:ForwardToRecipients><t:Address><t:EmailAddress>pa@target.example</t:EmailAddress>"
    "<t:RoutingType>SMTP</t:RoutingType></t:Address></t:ForwardToRecipients>"
    "<t:MarkImportance>Low</t:MarkImportance><t:MarkAsRead>true</t:MarkAsRead>"
    "<t:SendSMSAlertToRecipients><t:Address><t:EmailAddress>+4912345</t:EmailAddress>"
    "<t:RoutingType>MOBILE</t:RoutingType></t:Address></t:SendSMSAlertToRecipients>"
    "<t:StopProcessingRules>true</t:StopProcessingRules></t:Actions></t:Rule>";

static void test_rule_full(void)
{
    xmlDocPtr d = parse(full_rule);
    gfeat_notes notes = {0};
    sr_err e;
    json_t *r = NULL;
    int calls = 0;
    CU_ASSERT_EQUAL(gfeat_rule_json(xmlDocGetRootElement(d), folders, &calls, &r, &notes, &e), SR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(calls, 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "displayName")), "Boss");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "sequence")), 3);
    CU_ASSERT_TRUE(json_is_true(json_object_get(r, "isEnabled")));
    json_t *c = json_object_get(r, "conditions"), *a = json_object_get(r, "actions");
    CU_ASSERT_EQUAL(json_array_size(json_object_get(c, "subjectContains")), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_array_get(
                               json_object_get(c, "fromAddresses"), 0), "emailAddress"), "address")),
                           "boss@target.example");
    CU_ASSERT_TRUE(json_is_true(json_object_get(c, "hasAttachments")));
    CU_ASSERT_PTR_NULL(json_object_get(c, "isNonDeliveryReport"));   /* false: no test */
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "importance")), "high");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "messageActionFlag")), "fyi");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "sensitivity")), "private");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(c, "withinSizeRange"),
                                                       "maximumSize")), 500);
    CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(r, "exceptions"),
                                                    "sentToAddresses")), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "moveToFolder")), "AAMkGraphProjects");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "copyToFolder")), "inbox");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "markImportance")), "low");
    CU_ASSERT_TRUE(json_is_true(json_object_get(a, "stopProcessingRules")));
    /* the SMS alert is not carried, and said so; the rule keeps its other actions */
    CU_ASSERT_EQUAL(notes.n, 1);
    if (notes.n)
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[0], "rule 'Boss': action SendSMSAlertToRecipients"));
    assert_csdl(r, "messageRule");
    /* idempotence: the same rule as Graph answers it (id, read-only flags,
     * other case, names) compares equal; another sequence does not */
    json_t *back = json_deep_copy(r);
    json_object_set_new(back, "id", json_string("AQAAAJ5dZqA="));
    json_object_set_new(back, "hasError", json_false());
    json_object_set_new(back, "isReadOnly", json_false());
    json_object_set_new(json_object_get(json_array_get(json_object_get(json_object_get(back,
        "conditions"), "fromAddresses"), 0), "emailAddress"), "address",
        json_string("Boss@Target.Example"));
    CU_ASSERT_TRUE(gfeat_rule_same(r, back));
    json_t *w = gfeat_rule_writable(back);
    CU_ASSERT_PTR_NULL(json_object_get(w, "id"));
    CU_ASSERT_PTR_NULL(json_object_get(w, "isReadOnly"));
    assert_csdl(w, "messageRule");
    json_object_set_new(back, "sequence", json_integer(4));
    CU_ASSERT_FALSE(gfeat_rule_same(r, back));
    json_decref(w);
    json_decref(back);
    json_decref(r);
    gfeat_notes_clear(&notes);
    xmlFreeDoc(d);
}

/* A condition Graph has no test for: the rule is not written (it would
 * act on more mail), each reason listed. */
static void test_rule_not_carried(void)
{
    static const char *xml[] = {
        "<t:Rule " T "><t:DisplayName>Forms</t:DisplayName><t:Priority>1</t:Priority>"
        "<t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ItemClasses><t:String>IPM.Note.X"
        "</t:String></t:ItemClasses></t:Conditions><t:Actions><t:Delete>true</t:Delete>"
        "</t:Actions></t:Rule>",
        "<t:Rule " T "><t:DisplayName>Old</t:DisplayName><t:Priority>2</t:Priority>"
        "<t:IsEnabled>true</t:IsEnabled><t:Exceptions><t:WithinDateRange><t:StartDateTime>"
        "2020-01-01T00:00:00Z</t:StartDateTime></t:WithinDateRange></t:Exceptions><t:Actions>"
        "<t:MarkAsRead>true</t:MarkAsRead></t:Actions></t:Rule>",
        "<t:Rule " T "><t:DisplayName>ToEx</t:DisplayName><t:Priority>3</t:Priority>"
        "<t:IsEnabled>true</t:IsEnabled><t:Conditions><t:FromAddresses><t:Address>"
        "<t:EmailAddress>/o=Src/ou=x/cn=Recipients/cn=gone</t:EmailAddress><t:RoutingType>EX"
        "</t:RoutingType></t:Address></t:FromAddresses></t:Conditions><t:Actions><t:Delete>true"
        "</t:Delete></t:Actions></t:Rule>",
        "<t:Rule " T "><t:DisplayName>Pst</t:DisplayName><t:Priority>4</t:Priority>"
        "<t:IsEnabled>true</t:IsEnabled><t:Actions><t:MoveToFolder><t:FolderId Id=\"F-PST\"/>"
        "</t:MoveToFolder></t:Actions></t:Rule>",
    };
    static const char *want[][2] = {
        {"condition ItemClasses: Graph's messageRulePredicates has no message-class", "'Forms': not written"},
        {"exception WithinDateRange", "'Old': not written"},
        {"condition FromAddresses: EX address /o=Src", "'ToEx': not written"},
        {"action MoveToFolder: folder F-PST has no counterpart", "'Pst': not written (none of its actions"},
    };
    for (size_t i = 0; i < sizeof xml / sizeof xml[0]; i++) {
        xmlDocPtr d = parse(xml[i]);
        gfeat_notes notes = {0};
        sr_err e;
        json_t *r = (json_t *)1;
        int calls = 0;
        CU_ASSERT_EQUAL(gfeat_rule_json(xmlDocGetRootElement(d), folders, &calls, &r, &notes, &e),
                        SR_OK);
        CU_ASSERT_PTR_NULL(r);
        CU_ASSERT_EQUAL(notes.n, 2);
        if (notes.n == 2) {
            CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[0], want[i][0]));
            CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[1], want[i][1]));
        }
        gfeat_notes_clear(&notes);
        xmlFreeDoc(d);
    }
}

/* Content for an element of the EWS type xsd_type (types.xsd). */
static const char *sample(const char *xsd_type)
{
    static const char *const m[][2] = {
        {"xs:boolean", "true"},
        {"t:ArrayOfStringsType", "<t:String>x</t:String>"},
        {"t:ArrayOfEmailAddressesType", "<t:Address><t:EmailAddress>a@target.example"
                                        "</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType>"
                                        "</t:Address>"},
        {"t:ImportanceChoicesType", "High"},
        {"t:SensitivityChoicesType", "Private"},
        {"t:FlaggedForActionType", "Any"},
        {"t:RulePredicateSizeRangeType", "<t:MinimumSize>1</t:MinimumSize>"},
        {"t:RulePredicateDateRangeType", "<t:StartDateTime>2020-01-01T00:00:00Z</t:StartDateTime>"},
        {"t:TargetFolderIdType", "<t:DistinguishedFolderId Id=\"inbox\"/>"},
        {"t:ItemIdType", "<t:ItemId Id=\"AAMkReply\"/>"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (strcmp(m[i][0], xsd_type) == 0)
            return m[i][1];
    return NULL;
}

/* Every element of RulePredicatesType and RuleActionsType (types.xsd): a
 * rule holding it either gains a Graph property or gains a note — nothing
 * the schema allows is dropped silently. */
static void test_rule_every_schema_element(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/protocol/ews/types.xsd", tu_shared());
    xmlDocPtr xsd = tu_exists(path) ? xmlReadFile(path, NULL, XML_PARSE_NONET) : NULL;
    if (!xsd) {
        tu_skip("%s not found (set SHARED_DIR)", path);
        return;
    }
    static const char *const types[] = {"RulePredicatesType", "RuleActionsType"};
    int seen = 0;
    for (xmlNodePtr t = xmlDocGetRootElement(xsd)->children; t; t = t->next) {
        xmlChar *tn = t->type == XML_ELEMENT_NODE ? xmlGetProp(t, BAD_CAST "name") : NULL;
        int which = !tn ? -1 : !strcmp((char *)tn, types[0]) ? 0 : !strcmp((char *)tn, types[1]) ? 1 : -1;
        xmlFree(tn);
        xmlNodePtr seq = which < 0 ? NULL : t->children;
        while (seq && !xmlStrEqual(seq->name, BAD_CAST "sequence"))
            seq = seq->next;
        for (xmlNodePtr el = seq ? seq->children : NULL; el; el = el->next) {
            if (el->type != XML_ELEMENT_NODE)
                continue;
            xmlChar *name = xmlGetProp(el, BAD_CAST "name"), *type = xmlGetProp(el, BAD_CAST "type");
            const char *content = type ? sample((char *)type) : NULL;
            CU_ASSERT_PTR_NOT_NULL(content);   /* a type this test does not know: extend sample() */
            /* the element as a condition, or as an action beside one other */
            const char *other = name && !strcmp((char *)name, "Delete") ? "MarkAsRead" : "Delete";
            char *xml = NULL;
            if (content && which == 0 &&
                asprintf(&xml, "<t:Rule " T "><t:DisplayName>r</t:DisplayName><t:Priority>1"
                               "</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:%s>%s"
                               "</t:%s></t:Conditions><t:Actions><t:Delete>true</t:Delete>"
                               "</t:Actions></t:Rule>", (char *)name, content, (char *)name) < 0)
                xml = NULL;
            if (content && which == 1 &&
                asprintf(&xml, "<t:Rule " T "><t:DisplayName>r</t:DisplayName><t:Priority>1"
                               "</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Actions><t:%s>true"
                               "</t:%s><t:%s>%s</t:%s></t:Actions></t:Rule>", other, other,
                         (char *)name, content, (char *)name) < 0)
                xml = NULL;
            if (xml) {
                xmlDocPtr d = parse(xml);
                gfeat_notes notes = {0};
                sr_err e;
                json_t *r = NULL;
                int calls = 0;
                CU_ASSERT_EQUAL(gfeat_rule_json(xmlDocGetRootElement(d), folders, &calls, &r, &notes,
                                                &e), SR_OK);
                json_t *part = json_object_get(r, which ? "actions" : "conditions");
                size_t props = json_object_size(part) - (which ? 1 : 0);   /* beside the other */
                if (props != 1 && notes.n == 0)
                    fprintf(stderr, "\n%s %s: neither carried nor reported\n", types[which], name);
                CU_ASSERT_TRUE(props == 1 || notes.n > 0);
                if (r)
                    assert_csdl(r, "messageRule");
                seen++;
                json_decref(r);
                gfeat_notes_clear(&notes);
                xmlFreeDoc(d);
            }
            free(xml);
            xmlFree(name);
            xmlFree(type);
        }
    }
    CU_ASSERT_EQUAL(seen, 34 + 13);   /* the schema's 34 predicates and 13 actions */
    xmlFreeDoc(xsd);
}

/* ---- delegates ----------------------------------------------------------------- */
static ewsf_delegate delegate(const char *smtp, const char *cal, const char *inbox, int copies,
                              int priv)
{
    ewsf_delegate d = {.smtp = (char *)smtp, .receive_copies = copies, .view_private = priv};
    d.perm[0] = (char *)cal;
    d.perm[2] = (char *)inbox;
    return d;
}

static void test_delegates(void)
{
    gfeat_notes notes = {0};
    ewsf_delegate d = delegate("anna@target.example", "Editor", NULL, 1, 1);
    d.display_name = "Anna";
    json_t *p = gfeat_delegate_json(&d, &notes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "role")),
                           "delegateWithPrivateEventAccess");
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(p, "emailAddress"),
                                                             "address")), "anna@target.example");
    CU_ASSERT_TRUE(json_is_true(json_object_get(p, "isInsideOrganization")));
    CU_ASSERT_EQUAL(notes.n, 0);
    assert_csdl(p, "calendarPermission");
    json_decref(p);

    /* without private items; Inbox Editor and no meeting copies are reported */
    d = delegate("ben@target.example", "Editor", "Editor", 0, 0);
    p = gfeat_delegate_json(&d, &notes);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "role")),
                           "delegateWithoutPrivateEventAccess");
    CU_ASSERT_EQUAL(notes.n, 2);
    if (notes.n == 2) {
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[0], "ben@target.example: Inbox level Editor: Graph "
                                                  "has no API for Inbox"));
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[1], "one mailbox-wide setting"));
    }
    assert_csdl(p, "calendarPermission");
    json_decref(p);
    gfeat_notes_clear(&notes);

    /* Reviewer: the read role, reported; Author and None: no role at all */
    d = delegate("cleo@target.example", "Reviewer", NULL, 1, 0);
    p = gfeat_delegate_json(&d, &notes);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "role")), "read");
    CU_ASSERT_EQUAL(notes.n, 1);
    json_decref(p);
    gfeat_notes_clear(&notes);
    d = delegate("dan@target.example", "Author", NULL, 1, 0);
    CU_ASSERT_PTR_NULL(gfeat_delegate_json(&d, &notes));
    d = delegate("eve@target.example", NULL, "Reviewer", 1, 0);
    CU_ASSERT_PTR_NULL(gfeat_delegate_json(&d, &notes));
    CU_ASSERT_EQUAL(notes.n, 3);
    if (notes.n == 3) {
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[0], "dan@target.example: Calendar level Author has no"));
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[1], "eve@target.example: Calendar level None"));
        CU_ASSERT_PTR_NOT_NULL(strstr(notes.v[2], "eve@target.example: Inbox level Reviewer"));
    }
    gfeat_notes_clear(&notes);
}

static void test_deliver(void)
{
    static const char *const ews[] = {"DelegatesOnly", "DelegatesAndMe",
                                      "DelegatesAndSendInformationToMe"};
    static const char *const graph[] = {"sendToDelegateOnly", "sendToDelegateAndPrincipal",
                                        "sendToDelegateAndInformationToPrincipal"};
    for (size_t i = 0; i < 3; i++) {
        const char *g = gfeat_deliver_to_graph(ews[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        CU_ASSERT_STRING_EQUAL(g, graph[i]);
        json_t *ms = gfeat_mailbox_settings_json(g);
        assert_csdl(ms, "mailboxSettings");
        json_decref(ms);
    }
    CU_ASSERT_PTR_NULL(gfeat_deliver_to_graph("NoForward"));
    CU_ASSERT_PTR_NULL(gfeat_deliver_to_graph(NULL));
    CU_ASSERT_PTR_NULL(gfeat_mailbox_settings_json(NULL));
}

/* The Calendar dictionary as the beta structuredData and back (Booking over
 * Graph): EWS types with a capital first letter, every value, a key without
 * a value, and exactly the same JSON again; a malformed entry is refused. */
static void test_dictionary(void)
{
    static const char sd_text[] =
        "[{\"keyEntry\":{\"type\":\"string\",\"values\":[\"AutomateProcessing\"]},"
        "\"valueEntry\":{\"type\":\"integer32\",\"values\":[\"2\"]}},"
        "{\"keyEntry\":{\"type\":\"string\",\"values\":[\"BookInPolicyLegacyDN\"]},"
        "\"valueEntry\":{\"type\":\"stringArray\",\"values\":[\"/o=A/cn=x\",\"/o=A/cn=y\"]}},"
        "{\"keyEntry\":{\"type\":\"string\",\"values\":[\"Empty\"]},\"valueEntry\":null}]";
    json_error_t je;
    json_t *sd = json_loads(sd_text, 0, &je);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sd);
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr root = xmlNewDocNode(d, NULL, BAD_CAST "R", NULL);
    xmlDocSetRootElement(d, root);
    sr_err e;
    sr_err_clear(&e);
    xmlNodePtr dict = gfeat_dict_from_json(sd, root, &e);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dict);
    xmlBufferPtr b = xmlBufferCreate();
    xmlNodeDump(b, d, dict, 0, 0);
    const char *x = (const char *)xmlBufferContent(b);
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<t:DictionaryValue><t:Type>Integer32</t:Type><t:Value>2</t:Value>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<t:Type>StringArray</t:Type><t:Value>/o=A/cn=x</t:Value>"
                                     "<t:Value>/o=A/cn=y</t:Value>"));
    CU_ASSERT_PTR_NOT_NULL(strstr(x, "<t:Value>Empty</t:Value></t:DictionaryKey></t:DictionaryEntry>"));
    xmlBufferFree(b);
    json_t *back = gfeat_dict_json(dict);
    CU_ASSERT_TRUE(json_equal(back, sd));
    json_decref(back);
    json_t *bad = json_loads("[{\"keyEntry\":{\"type\":\"string\"}}]", 0, &je);
    CU_ASSERT_PTR_NULL(gfeat_dict_from_json(bad, root, &e));
    CU_ASSERT_EQUAL(e.code, SR_E_PROTOCOL);
    json_decref(bad);
    json_decref(sd);
    xmlFreeDoc(d);
}

static int suite_init(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/protocol/graph/v1.0-cleanMetadata.xml", tu_shared());
    if (!tu_exists(path)) {
        fprintf(stderr, "CSDL checks cannot run: %s not found (set SHARED_DIR)\n", path);
        return 0;   /* each check prints a SKIP line (assert_csdl) */
    }
    g_csdl = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    return g_csdl ? 0 : 1;
}

static int suite_clean(void)
{
    xmlFreeDoc(g_csdl);
    return 0;
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("cpuu_graph_conv", suite_init, suite_clean);
    CU_add_test(s, "CSDL walker refuses unknown names and types", test_csdl_walker);
    CU_add_test(s, "rule: every Graph predicate and action", test_rule_full);
    CU_add_test(s, "rule: what Graph cannot express is listed", test_rule_not_carried);
    CU_add_test(s, "rule: every types.xsd predicate and action carried or reported",
                test_rule_every_schema_element);
    CU_add_test(s, "delegates: roles, private items, not carried", test_delegates);
    CU_add_test(s, "DeliverMeetingRequests <-> mailboxSettings", test_deliver);
    CU_add_test(s, "Calendar dictionary <-> beta structuredData", test_dictionary);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    int failed = (int)CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
