/* ews_resolve.c — ResolveNames (the organisation's mailboxes, and the
 * caller's own contacts and private DLs) and ConvertId. */
#include "tests/exsim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RESOLUTIONS 100

/* ---- ResolveNames ---- */

static int prefix_ci(const char *s, const char *p)
{
    return s && strncasecmp(s, p, strlen(p)) == 0;
}

static int name_matches(const exsim_mbx *m, const char *q)
{
    if (prefix_ci(m->info.display_name, q) || prefix_ci(m->info.smtp, q))
        return 1;
    /* any word of the display name */
    const char *dn = m->info.display_name;
    for (const char *sp = dn ? strchr(dn, ' ') : NULL; sp; sp = strchr(sp + 1, ' '))
        if (prefix_ci(sp + 1, q))
            return 1;
    return 0;
}

static void emit_mailbox(exsim_req *r, xmlNodePtr set, const exsim_mbx *m, int full)
{
    xmlNodePtr res = exsim_t(r, set, "Resolution", NULL);
    xmlNodePtr mb = exsim_t(r, res, "Mailbox", NULL);
    exsim_t(r, mb, "Name", m->info.display_name ? m->info.display_name : m->info.smtp);
    exsim_t(r, mb, "EmailAddress", m->info.smtp);
    exsim_t(r, mb, "RoutingType", "SMTP");
    exsim_t(r, mb, "MailboxType", "Mailbox");
    if (!full)
        return;
    xmlNodePtr c = exsim_t(r, res, "Contact", NULL);
    exsim_t(r, c, "DisplayName", m->info.display_name ? m->info.display_name : m->info.smtp);
    xmlNodePtr eas = exsim_t(r, c, "EmailAddresses", NULL);
    char *smtp = malloc(strlen(m->info.smtp) + 6);
    if (smtp) {
        sprintf(smtp, "SMTP:%s", m->info.smtp);
        xmlNewProp(exsim_t(r, eas, "Entry", smtp), BAD_CAST "Key", BAD_CAST "EmailAddress1");
    }
    free(smtp);
    exsim_t(r, c, "ContactSource", "ActiveDirectory");
}

/* A contact or private DL of the caller's Contacts folder. */
static void emit_contact(exsim_req *r, xmlNodePtr set, exsim_mbx *m, xmlNodePtr it,
                         xmlNodePtr body)
{
    int dl = exsim_is(body, EXSIM_NS_T, "DistributionList");
    const char *name = exsim_text(exsim_child(body, EXSIM_NS_T, "DisplayName"));
    xmlNodePtr res = exsim_t(r, set, "Resolution", NULL);
    xmlNodePtr mb = exsim_t(r, res, "Mailbox", NULL);
    exsim_t(r, mb, "Name", name);
    if (!dl) {
        xmlNodePtr e = exsim_first_el(exsim_child(body, EXSIM_NS_T, "EmailAddresses"));
        exsim_t(r, mb, "EmailAddress", e ? exsim_text(e) : "");
        exsim_t(r, mb, "RoutingType", "SMTP");
    }
    exsim_t(r, mb, "MailboxType", dl ? "PrivateDL" : "Contact");
    exsim_add_item_id(mb, m, it);
}

static size_t search_contacts(exsim_req *r, xmlNodePtr set, const char *q, int emit, size_t max)
{
    const char *code = NULL;
    exsim_mbx *m = exsim_access(r, NULL, &code);
    xmlNodePtr f = m ? exsim_store_distinguished(m, "contacts") : NULL;
    size_t n = 0;
    for (xmlNodePtr it = exsim_child(f, NULL, "item"); it && n < max; it = exsim_next(it, NULL, "item")) {
        xmlNodePtr body = exsim_first_el(it);
        if (!exsim_is(body, EXSIM_NS_T, "Contact") && !exsim_is(body, EXSIM_NS_T, "DistributionList"))
            continue;
        if (!prefix_ci(exsim_text(exsim_child(body, EXSIM_NS_T, "DisplayName")), q))
            continue;
        if (emit)
            emit_contact(r, set, m, it, body);
        n++;
    }
    return n;
}

int exsim_op_ResolveNames(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "ResolveNamesResponse");
    const char *q = exsim_text(exsim_child(r->op, EXSIM_NS_M, "UnresolvedEntry"));
    const char *full = exsim_attr(r->op, "ReturnFullContactData");
    const char *scope = exsim_attr(r->op, "SearchScope");
    int want_full = full && (strcmp(full, "true") == 0 || strcmp(full, "1") == 0);
    int contacts = !scope || strstr(scope, "Contacts") != NULL;
    int directory = !scope || strstr(scope, "ActiveDirectory") != NULL;
    if (strncasecmp(q, "SMTP:", 5) == 0 || strncasecmp(q, "EX:", 3) == 0)
        q = strchr(q, ':') + 1;
    const exsim_mbx *hits[MAX_RESOLUTIONS];
    size_t nh = 0;
    exsim_mbx *exact = directory ? exsim_store_mbx_by_addr(r->org, q) : NULL;
    if (exact)
        hits[nh++] = exact;
    for (size_t i = 0; directory && !exact && i < r->org->nmbx && nh < MAX_RESOLUTIONS; i++)
        if (name_matches(&r->org->mbx[i], q))
            hits[nh++] = &r->org->mbx[i];
    size_t nc = contacts && !exact ? search_contacts(r, NULL, q, 0, MAX_RESOLUTIONS - nh) : 0;
    size_t total = nh + nc;
    if (total == 0) {
        exsim_error_msg(msgs, "ResolveNamesResponseMessage", "ErrorNameResolutionNoResults");
        return 200;
    }
    xmlNodePtr msg;
    if (total > 1) {
        msg = exsim_error_msg(msgs, "ResolveNamesResponseMessage", "ErrorNameResolutionMultipleResults");
        xmlSetProp(msg, BAD_CAST "ResponseClass", BAD_CAST "Warning");
    } else {
        msg = exsim_resp_message(msgs, "ResolveNamesResponseMessage", "NoError", NULL);
    }
    xmlNodePtr set = exsim_m(r, msg, "ResolutionSet", NULL);
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", total);
    xmlNewProp(set, BAD_CAST "TotalItemsInView", BAD_CAST buf);
    xmlNewProp(set, BAD_CAST "IncludesLastItemInRange", BAD_CAST "true");
    for (size_t i = 0; i < nh; i++)
        emit_mailbox(r, set, hits[i], want_full);
    if (nc)
        search_contacts(r, set, q, 1, nc);
    return 200;
}

/* ---- ConvertId ---- */

static char *hex_of(const uint8_t *d, size_t n)
{
    char *s = malloc(2 * n + 1);
    for (size_t i = 0; s && i < n; i++)
        sprintf(s + 2 * i, "%02X", d[i]);
    return s;
}

static uint8_t *unhex(const char *s, size_t *n)
{
    size_t l = strlen(s);
    if (l % 2)
        return NULL;
    uint8_t *d = malloc(l / 2 + 1);
    for (size_t i = 0; d && i < l / 2; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1) {
            free(d);
            return NULL;
        }
        d[i] = (uint8_t)v;
    }
    *n = l / 2;
    return d;
}

/* Decode any supported source format to (guid, kind, counter). */
static int decode_any(const char *fmt, const char *id, uint8_t guid[16], int *kind, uint64_t *c)
{
    if (strcmp(fmt, "EwsId") == 0 || strcmp(fmt, "EwsLegacyId") == 0 || strcmp(fmt, "OwaId") == 0)
        return exsim_id_ews_decode(id, guid, kind, c);
    size_t n = 0;
    uint8_t *raw = NULL;
    if (strcmp(fmt, "EntryId") == 0 || strcmp(fmt, "StoreId") == 0)
        raw = exsim_b64_decode(id, &n);
    else if (strcmp(fmt, "HexEntryId") == 0)
        raw = unhex(id, &n);
    int rc = raw ? exsim_id_entryid_decode(raw, n, guid, kind, c) : -1;
    free(raw);
    return rc;
}

static char *encode_as(const char *fmt, exsim_mbx *m, xmlNodePtr obj, int kind)
{
    if (strcmp(fmt, "EwsId") == 0 || strcmp(fmt, "EwsLegacyId") == 0 || strcmp(fmt, "OwaId") == 0)
        return exsim_id_ews(m, kind, exsim_store_id_of(obj));
    uint8_t eid[70];
    size_t n = exsim_id_entryid(m, obj, eid);
    return strcmp(fmt, "HexEntryId") == 0 ? hex_of(eid, n) : exsim_b64_encode(eid, n);
}

static void convert_one(exsim_req *r, xmlNodePtr msgs, xmlNodePtr src, const char *dest)
{
    const char *fmt = exsim_attr(src, "Format"), *id = exsim_attr(src, "Id");
    uint8_t guid[16];
    int kind;
    uint64_t counter;
    if (!exsim_is(src, EXSIM_NS_T, "AlternateId") || !fmt || !id ||
        decode_any(fmt, id, guid, &kind, &counter) != 0) {
        exsim_error_msg(msgs, "ConvertIdResponseMessage", "ErrorInvalidIdMalformed");
        return;
    }
    exsim_mbx *m = exsim_store_mbx_by_guid(r->org, guid);
    const char *code = "ErrorItemNotFound";
    xmlNodePtr obj = m ? exsim_store_obj(m, counter) : NULL;
    if (m && !exsim_access(r, m->info.smtp, &code))
        obj = NULL;
    if (obj && (kind == EXSIM_KIND_ITEM) != exsim_is(obj, NULL, "item"))
        obj = NULL;
    if (!obj) {
        exsim_error_msg(msgs, "ConvertIdResponseMessage", code);
        return;
    }
    xmlNodePtr msg = exsim_resp_message(msgs, "ConvertIdResponseMessage", "NoError", NULL);
    xmlNodePtr alt = exsim_m(r, msg, "AlternateId", NULL);
    xmlNsPtr xsi = xmlSearchNsByHref(r->resp_doc, alt, BAD_CAST "http://www.w3.org/2001/XMLSchema-instance");
    if (!xsi)
        xsi = xmlNewNs(alt, BAD_CAST "http://www.w3.org/2001/XMLSchema-instance", BAD_CAST "xsi");
    xmlNsPtr t = exsim_ns_t(r);
    char type[64];
    snprintf(type, sizeof type, "%s%sAlternateIdType", t->prefix ? (const char *)t->prefix : "",
             t->prefix ? ":" : "");
    xmlNewNsProp(alt, xsi, BAD_CAST "type", BAD_CAST type);
    char *out = encode_as(dest, m, obj, kind);
    xmlNewProp(alt, BAD_CAST "Format", BAD_CAST dest);
    xmlNewProp(alt, BAD_CAST "Id", BAD_CAST(out ? out : ""));
    xmlNewProp(alt, BAD_CAST "Mailbox", BAD_CAST m->info.smtp);
    free(out);
}

int exsim_op_ConvertId(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "ConvertIdResponse");
    const char *dest = exsim_attr(r->op, "DestinationFormat");
    for (xmlNodePtr s = exsim_first_el(exsim_child(r->op, EXSIM_NS_M, "SourceIds")); s;
         s = exsim_next_el(s))
        convert_one(r, msgs, s, dest ? dest : "EwsId");
    return 200;
}
