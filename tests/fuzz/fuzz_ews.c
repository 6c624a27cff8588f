/* fuzz_ews.c — the EWS response parsers (mapi/ews_resp.c) and the switch
 * message read from an item's properties (mapi/switchmsg.c), with the switch
 * message's round trip: to_extprops(from_extprops(x)) reads back the same. */
#include "mapi/mapi.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

static int streq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void switchmsg_roundtrip(const mapi_extprops *props)
{
    mapi_switchmsg m, m2;
    sr_err e;
    if (mapi_switchmsg_from_extprops(props, &m, &e) != SR_OK)
        return;
    mapi_extprops l = { 0 };
    FUZZ_CHECK(mapi_switchmsg_to_extprops(&m, &l, &e) == SR_OK, "accepted message not written: %s", e.msg);
    FUZZ_CHECK(mapi_switchmsg_from_extprops(&l, &m2, &e) == SR_OK, "written message not read: %s", e.msg);
    FUZZ_CHECK(m.version == m2.version && m.target_is_o365 == m2.target_is_o365 &&
               m.created_at == m2.created_at && streq(m.target_legacy_dn, m2.target_legacy_dn) &&
               streq(m.target_smtp, m2.target_smtp) && streq(m.created_by, m2.created_by),
               "switch message changed in a round trip");
    mapi_switchmsg_clear(&m2);
    mapi_extprops_clear(&l);
    mapi_switchmsg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    sr_err e;
    xmlDocPtr doc = mapi_xml_parse((const char *)data, size, "fuzz", &e);
    if (!doc)
        return 0;
    xmlNodePtr body = mapi_xml_child(xmlDocGetRootElement(doc), MAPI_NS_SOAP, "Body");
    xmlNodePtr op = body ? body->children : NULL;
    while (op && op->type != XML_ELEMENT_NODE)
        op = op->next;
    if (op) {
        mapi_folders f = { 0 };
        mapi_ews_parse_findfolder(op, &f, &e);
        mapi_folders_clear(&f);
        mapi_items it = { 0 };
        mapi_ews_parse_items(op, &it, &e);
        for (size_t i = 0; i < it.n; i++)
            switchmsg_roundtrip(&it.v[i].props);
        mapi_items_clear(&it);
        mapi_ews_parse_status(op, &e);
    }
    xmlFreeDoc(doc);
    return 0;
}
