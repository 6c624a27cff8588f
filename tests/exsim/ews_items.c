/* ews_items.c — GetItem, FindItem, CreateItem, UpdateItem, DeleteItem,
 * ExpandDL (private distribution lists).  Items are stored as the t:
 * element a client sent (ItemId/ParentFolderId/IsAssociated stripped);
 * responses are assembled in schema order. */
#include "tests/exsim/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Element order of types.xsd ItemType; each subtype appends its own. */
static const char *const item_base[] = {
    "MimeContent", "ItemId", "ParentFolderId", "ItemClass", "Subject", "Sensitivity", "Body",
    "Attachments", "DateTimeReceived", "Size", "Categories", "Importance", "InReplyTo",
    "IsSubmitted", "IsDraft", "IsFromMe", "IsResend", "IsUnmodified", "InternetMessageHeaders",
    "DateTimeSent", "DateTimeCreated", "ResponseObjects", "ReminderDueBy", "ReminderIsSet",
    "ReminderNextTime", "ReminderMinutesBeforeStart", "DisplayCc", "DisplayTo", "DisplayBcc",
    "HasAttachments", "ExtendedProperty", "Culture", "EffectiveRights", "LastModifiedName",
    "LastModifiedTime", "IsAssociated", "WebClientReadFormQueryString",
    "WebClientEditFormQueryString", "ConversationId", "UniqueBody", "Flag", "StoreEntryId",
    "InstanceKey", "NormalizedBody", "EntityExtractionResult", "PolicyTag", "ArchiveTag",
    "RetentionDate", "Preview", "RightsManagementLicenseData", "PredictedActionReasons",
    "IsClutter", "BlockStatus", "HasBlockedImages", "TextBody", "IconIndex", "SearchKey",
    "SortKey", "Hashtags", "Mentions", "MentionedMe", "MentionsPreview", "MentionsEx",
    "AppliedHashtags", "AppliedHashtagsPreview", "Likes", "LikesPreview",
    "PendingSocialActivityTagIds", "AtAllMention", "CanDelete", "InferenceClassification", NULL,
};
static const char *const message_ext[] = {
    "Sender", "ToRecipients", "CcRecipients", "BccRecipients", "IsReadReceiptRequested",
    "IsDeliveryReceiptRequested", "ConversationIndex", "ConversationTopic", "From",
    "InternetMessageId", "IsRead", "IsResponseRequested", "References", "ReplyTo", "ReceivedBy",
    "ReceivedRepresenting", "ApprovalRequestData", "VotingInformation", "ReminderMessageData",
    "SenderSMTPAddress", "MailboxGuids", "MailboxGuid", NULL,
};
static const char *const contact_ext[] = {
    "FileAs", "FileAsMapping", "DisplayName", "GivenName", "Initials", "MiddleName", "Nickname",
    "CompleteName", "CompanyName", "EmailAddresses", "AbchEmailAddresses", "PhysicalAddresses",
    "PhoneNumbers", "AssistantName", "Birthday", "BusinessHomePage", "Children", "Companies",
    "ContactSource", "Department", "Generation", "ImAddresses", "JobTitle", "Manager", "Mileage",
    "OfficeLocation", "PostalAddressIndex", "Profession", "SpouseName", "Surname",
    "WeddingAnniversary", "HasPicture", "PhoneticFullName", "PhoneticFirstName",
    "PhoneticLastName", "Alias", "Notes", "Photo", "UserSMIMECertificate", "MSExchangeCertificate",
    "DirectoryId", "ManagerMailbox", "DirectReports", "AccountName", "IsAutoUpdateDisabled",
    "IsMessengerEnabled", "Comment", "ContactShortId", "ContactType", "Gender", "IsHidden",
    "ObjectId", "PassportId", "IsPrivate", "SourceId", "TrustLevel", "CreatedBy", "Urls", "Cid",
    "SkypeAuthCertificate", "SkypeContext", "SkypeId", "SkypeRelationship", "YomiNickname",
    "XboxLiveTag", "InviteFree", "HidePresenceAndProfile", "IsPendingOutbound",
    "SupportGroupFeeds", "UserTileHash", "UnifiedInbox", "Mris", "Wlid", "AbchContactId",
    "NotInBirthdayCalendar", "ShellContactType", "ImMri", "PresenceTrustLevel", "OtherMri",
    "ProfileLastChanged", "MobileIMEnabled", "PartnerNetworkProfilePhotoUrl",
    "PartnerNetworkThumbnailPhotoUrl", "PersonId", "ConversationGuid", NULL,
};
static const char *const dl_ext[] = {
    "DisplayName", "FileAs", "ContactSource", "Members", NULL,
};

/* The full order of one item type: ItemType's elements, then the subtype's.
 * Built on first use (the store runs under the server's one mutex). */
typedef struct item_order {
    const char *type;              /* NULL: plain ItemType and anything else */
    const char *const *ext;
    const char *order[192];
} item_order;
static item_order item_orders[] = {
    { "Message", message_ext, { NULL } },
    { "Contact", contact_ext, { NULL } },
    { "DistributionList", dl_ext, { NULL } },
    { NULL, NULL, { NULL } },
};

static const char *const *order_for(const char *type)
{
    item_order *o = item_orders;
    while (o->type && strcmp(o->type, type) != 0)
        o++;
    if (!o->order[0]) {
        size_t n = 0;
        for (size_t i = 0; item_base[i]; i++)
            o->order[n++] = item_base[i];
        for (size_t i = 0; o->ext && o->ext[i] && n + 1 < sizeof o->order / sizeof o->order[0]; i++)
            o->order[n++] = o->ext[i];
        o->order[n] = NULL;
    }
    return o->order;
}

/* Stable re-ordering of out's element children into schema order. */
static void sort_children(xmlNodePtr out, const char *const *order)
{
    xmlNodePtr kids[256];
    size_t n = 0;
    for (xmlNodePtr c = exsim_first_el(out); c && n < 256; c = exsim_next_el(c))
        kids[n++] = c;
    for (size_t i = 1; i < n; i++) {
        xmlNodePtr k = kids[i];
        int ki = exsim_order_index(order, (const char *)k->name);
        size_t j = i;
        while (j > 0 && exsim_order_index(order, (const char *)kids[j - 1]->name) > ki) {
            kids[j] = kids[j - 1];
            j--;
        }
        kids[j] = k;
    }
    for (size_t i = 0; i < n; i++) {
        xmlUnlinkNode(kids[i]);
        xmlAddChild(out, kids[i]);
    }
}

static xmlNodePtr item_body(xmlNodePtr item)
{
    for (xmlNodePtr c = exsim_first_el(item); c; c = exsim_next_el(c))
        if (c->ns && strcmp((const char *)c->ns->href, EXSIM_NS_T) == 0)
            return c;
    return NULL;
}

static xmlNodePtr folder_of(xmlNodePtr item)
{
    return item->parent;
}

/* Properties FindItem never returns (bodies, recipient lists, DL members):
 * the client must GetItem them (finditem-operation.md). */
static const char *const not_in_find[] = {
    "MimeContent", "Body", "UniqueBody", "NormalizedBody", "TextBody", "Attachments",
    "InternetMessageHeaders", "ToRecipients", "CcRecipients", "BccRecipients", "ReplyTo",
    "Members", NULL};

static int find_forbids(const char *name)
{
    for (int i = 0; not_in_find[i]; i++)
        if (strcmp(not_in_find[i], name) == 0)
            return 1;
    return 0;
}

/* One item in the requested shape (find: as FindItem shows it). */
static void emit_item(exsim_req *r, xmlNodePtr parent, exsim_mbx *m, xmlNodePtr it,
                      const exsim_shape *s, int find)
{
    xmlNodePtr body = item_body(it);
    const char *type = body ? (const char *)body->name : "Item";
    xmlNodePtr out = exsim_t(r, parent, type, NULL);
    exsim_add_item_id(out, m, it);
    int all = s->base == EXSIM_SHAPE_ALL, def = s->base >= EXSIM_SHAPE_DEFAULT;
    if (all || exsim_shape_wants(s, "ParentFolderId"))
        exsim_add_folder_id(out, "ParentFolderId", m, folder_of(it));
    for (xmlNodePtr c = exsim_first_el(body); c; c = exsim_next_el(c)) {
        const char *n = (const char *)c->name;
        if (strcmp(n, "ExtendedProperty") == 0 || (find && find_forbids(n)))
            continue;
        if (def || exsim_shape_wants(s, n))
            exsim_copy_into(r, out, c);
    }
    if (all || exsim_shape_wants(s, "IsAssociated"))
        exsim_t(r, out, "IsAssociated", exsim_attr(it, "associated") ? "true" : "false");
    exsim_emit_extprops(r, out, m, it, body, s);
    sort_children(out, order_for(type));
}

/* ItemInfoResponseMessageType requires m:Items, also on errors (Exchange sends <m:Items/>). */
static void item_error(exsim_req *r, xmlNodePtr msgs, const char *name, const char *code)
{
    exsim_m(r, exsim_error_msg(msgs, name, code), "Items", NULL);
}

static int set_code(const char **code, const char *v)
{
    *code = v;
    return -1;
}

int exsim_op_GetItem(exsim_req *r)
{
    exsim_shape s;
    exsim_shape_parse(exsim_child(r->op, EXSIM_NS_M, "ItemShape"), &s);
    xmlNodePtr msgs = exsim_resp_messages(r, "GetItemResponse");
    xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "ItemIds");
    for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr it = exsim_is(id, EXSIM_NS_T, "ItemId") ? exsim_resolve_item(r, id, &m, &code)
                                                           : (set_code(&code, "ErrorInvalidIdMalformed"), NULL);
        if (!it) {
            item_error(r, msgs, "GetItemResponseMessage", code);
            continue;
        }
        xmlNodePtr msg = exsim_resp_message(msgs, "GetItemResponseMessage", "NoError", NULL);
        emit_item(r, exsim_m(r, msg, "Items", NULL), m, it, &s, 0);
    }
    return 200;
}

/* ---- FindItem ---- */

typedef struct {
    exsim_mbx *m;
    xmlNodePtr item;
} item_ctx;

static char *item_value(void *vctx, xmlNodePtr path)
{
    item_ctx *c = vctx;
    xmlNodePtr body = item_body(c->item);
    if (!path || !body)
        return NULL;
    if (exsim_is(path, EXSIM_NS_T, "ExtendedFieldURI"))   /* stored, else computed */
        return exsim_prop_value(c->m, c->item, body, path);
    const char *uri = exsim_attr(path, "FieldURI");
    const char *local = uri && strchr(uri, ':') ? strchr(uri, ':') + 1 : uri;
    if (!local)
        return NULL;
    if (strcmp(local, "IsAssociated") == 0)
        return strdup(exsim_attr(c->item, "associated") ? "true" : "false");
    xmlNodePtr el = exsim_child(body, EXSIM_NS_T, local);
    if (!el)
        return NULL;
    xmlNodePtr mb = exsim_child(el, EXSIM_NS_T, "Mailbox"); /* Sender, From */
    if (mb)
        return strdup(exsim_text(exsim_child(mb, EXSIM_NS_T, "EmailAddress")));
    return strdup(exsim_text(el));
}

typedef struct {
    xmlNodePtr *v;
    size_t n, cap;
} node_list;

static void push(node_list *l, xmlNodePtr n)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = n;
}

static void gather(exsim_mbx *m, xmlNodePtr f, int assoc, int deep, xmlNodePtr restr,
                   node_list *out)
{
    for (xmlNodePtr c = exsim_first_el(f); c; c = exsim_next_el(c)) {
        if (exsim_is(c, NULL, "folder") && deep) {
            gather(m, c, assoc, deep, restr, out);
        } else if (exsim_is(c, NULL, "item") && !!exsim_attr(c, "associated") == assoc) {
            item_ctx ctx = {m, c};
            if (!restr || exsim_restrict(restr, item_value, &ctx))
                push(out, c);
        }
    }
}

/* Items of a search folder: its stored restriction over its base folders. */
static void gather_search(exsim_req *r, exsim_mbx *m, xmlNodePtr sf, node_list *out)
{
    xmlNodePtr sp = exsim_child(sf, EXSIM_NS_T, "SearchParameters");
    const char *trav = exsim_attr(sp, "Traversal");
    xmlNodePtr restr = exsim_child(sp, EXSIM_NS_T, "Restriction");
    for (xmlNodePtr b = exsim_first_el(exsim_child(sp, EXSIM_NS_T, "BaseFolderIds")); b;
         b = exsim_next_el(b)) {
        exsim_mbx *bm = NULL;
        const char *code = NULL;
        xmlNodePtr bf = exsim_resolve_folder(r, b, &bm, &code);
        if (bf && bm == m)
            gather(m, bf, 0, trav && strcmp(trav, "Deep") == 0, restr, out);
    }
    r->mailbox = m->info.smtp;
}

/* Compare two items by the request's t:FieldOrder list (numbers numerically). */
static int order_cmp(exsim_mbx *m, xmlNodePtr sort, xmlNodePtr a, xmlNodePtr b)
{
    for (xmlNodePtr fo = exsim_first_el(sort); fo; fo = exsim_next_el(fo)) {
        item_ctx ca = {m, a}, cb = {m, b};
        char *va = item_value(&ca, exsim_first_el(fo)), *vb = item_value(&cb, exsim_first_el(fo));
        char *ea = NULL, *eb = NULL;
        double x = va ? strtod(va, &ea) : 0, y = vb ? strtod(vb, &eb) : 0;
        int c;
        if (!va || !vb)
            c = (va != NULL) - (vb != NULL);
        else if (*va && *vb && !*ea && !*eb)
            c = (x > y) - (x < y);
        else
            c = strcasecmp(va, vb);
        free(va);
        free(vb);
        const char *ord = exsim_attr(fo, "Order");
        if (c)
            return ord && strcmp(ord, "Descending") == 0 ? -c : c;
    }
    return 0;
}

/* Stable insertion sort: result sets are small. */
static void sort_items(exsim_mbx *m, xmlNodePtr sort, node_list *l)
{
    for (size_t i = 1; sort && i < l->n; i++) {
        xmlNodePtr k = l->v[i];
        size_t j = i;
        while (j > 0 && order_cmp(m, sort, l->v[j - 1], k) > 0) {
            l->v[j] = l->v[j - 1];
            j--;
        }
        l->v[j] = k;
    }
}

static void find_in(exsim_req *r, xmlNodePtr msgs, exsim_mbx *m, xmlNodePtr f,
                    const exsim_shape *s, int assoc)
{
    node_list all = {0}, hits = {0};
    xmlNodePtr restr = exsim_child(r->op, EXSIM_NS_M, "Restriction");
    if (exsim_attr(f, "search") && !assoc)
        gather_search(r, m, f, &all);
    else
        gather(m, f, assoc, 0, NULL, &all);
    for (size_t i = 0; i < all.n; i++) {
        item_ctx ctx = {m, all.v[i]};
        if (!restr || exsim_restrict(restr, item_value, &ctx))
            push(&hits, all.v[i]);
    }
    sort_items(m, exsim_child(r->op, EXSIM_NS_M, "SortOrder"), &hits);
    size_t first, count;
    xmlNodePtr view = exsim_child(r->op, EXSIM_NS_M, "IndexedPageItemView");
    exsim_page(view, hits.n, &first, &count);
    xmlNodePtr msg = exsim_resp_message(msgs, "FindItemResponseMessage", "NoError", NULL);
    xmlNodePtr root = exsim_m(r, msg, "RootFolder", NULL);
    exsim_root_attrs(root, view, hits.n, first, count);
    xmlNodePtr items = exsim_t(r, root, "Items", NULL);
    for (size_t i = first; i < first + count; i++)
        emit_item(r, items, m, hits.v[i], s, 1);
    free(all.v);
    free(hits.v);
}

int exsim_op_FindItem(exsim_req *r)
{
    exsim_shape s;
    exsim_shape_parse(exsim_child(r->op, EXSIM_NS_M, "ItemShape"), &s);
    for (int i = 0; not_in_find[i]; i++)
        if (exsim_shape_wants(&s, not_in_find[i])) {
            /* Exchange refuses these in FindItem (one message per parent folder). */
            xmlNodePtr msgs = exsim_resp_messages(r, "FindItemResponse");
            xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "ParentFolderIds");
            for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id))
                exsim_error_msg(msgs, "FindItemResponseMessage", "ErrorInvalidPropertyRequest");
            return 200;
        }
    const char *trav = exsim_attr(r->op, "Traversal");
    int assoc = trav && strcmp(trav, "Associated") == 0;
    xmlNodePtr msgs = exsim_resp_messages(r, "FindItemResponse");
    xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "ParentFolderIds");
    for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr f = exsim_resolve_folder(r, id, &m, &code);
        if (!f)
            exsim_error_msg(msgs, "FindItemResponseMessage", code);
        else
            find_in(r, msgs, m, f, &s, assoc);
    }
    return 200;
}

/* ---- CreateItem ---- */

static const char *default_folder(const char *type, const char *disposition)
{
    if (strcmp(type, "Contact") == 0 || strcmp(type, "DistributionList") == 0)
        return "contacts";
    if (strcmp(type, "CalendarItem") == 0)
        return "calendar";
    if (strcmp(type, "Task") == 0)
        return "tasks";
    if (disposition && strcmp(disposition, "SendAndSaveCopy") == 0)
        return "sentitems";
    return "drafts";
}

/* Store spec (a t: item element from a request) as a new <item> in folder. */
static xmlNodePtr store_item(exsim_req *r, exsim_mbx *m, xmlNodePtr folder, xmlNodePtr spec)
{
    xmlNodePtr it = xmlNewNode(NULL, BAD_CAST "item");
    xmlAddChild(folder, it);
    exsim_store_add(m, it);
    xmlNodePtr body = exsim_store_copy(r->org, it, spec);
    xmlNodePtr ia = exsim_child(body, EXSIM_NS_T, "IsAssociated");
    if (ia && strcmp(exsim_text(ia), "true") == 0)
        xmlSetProp(it, BAD_CAST "associated", BAD_CAST "1");
    static const char *const strip[] = {"IsAssociated", "ItemId", "ParentFolderId", NULL};
    for (int i = 0; strip[i]; i++) {
        xmlNodePtr x = exsim_child(body, EXSIM_NS_T, strip[i]);
        if (x) {
            xmlUnlinkNode(x);
            xmlFreeNode(x);
        }
    }
    if (!exsim_child(body, EXSIM_NS_T, "ItemClass")) {
        const char *cls = strcmp((const char *)body->name, "Contact") == 0 ? "IPM.Contact"
                          : strcmp((const char *)body->name, "DistributionList") == 0 ? "IPM.DistList"
                          : strcmp((const char *)body->name, "CalendarItem") == 0 ? "IPM.Appointment"
                          : strcmp((const char *)body->name, "Task") == 0 ? "IPM.Task" : "IPM.Note";
        xmlNodePtr c = xmlNewNode(body->ns, BAD_CAST "ItemClass");
        xmlNodeAddContent(c, BAD_CAST cls);
        exsim_insert_ordered(body, c, order_for((const char *)body->name));
    }
    return it;
}

int exsim_op_CreateItem(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "CreateItemResponse");
    const char *disp = exsim_attr(r->op, "MessageDisposition");
    xmlNodePtr saved = exsim_first_el(exsim_child(r->op, EXSIM_NS_M, "SavedItemFolderId"));
    xmlNodePtr specs = exsim_child(r->op, EXSIM_NS_M, "Items");
    for (xmlNodePtr spec = exsim_first_el(specs); spec; spec = exsim_next_el(spec)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr folder = NULL;
        if (saved) {
            folder = exsim_resolve_folder(r, saved, &m, &code);
        } else if ((m = exsim_access(r, NULL, &code)) != NULL) {
            folder = exsim_store_distinguished(m, default_folder((const char *)spec->name, disp));
            code = folder ? NULL : "ErrorFolderNotFound";
        }
        if (!folder) {
            item_error(r, msgs, "CreateItemResponseMessage", code);
            continue;
        }
        xmlNodePtr msg = exsim_resp_message(msgs, "CreateItemResponseMessage", "NoError", NULL);
        xmlNodePtr items = exsim_m(r, msg, "Items", NULL);
        if (disp && strcmp(disp, "SendOnly") == 0)
            continue; /* sent, nothing saved: Exchange returns no item */
        xmlNodePtr it = store_item(r, m, folder, spec);
        exsim_add_item_id(exsim_t(r, items, (const char *)spec->name, NULL), m, it);
    }
    return 200;
}

/* ---- UpdateItem ---- */

static const char *local_uri(xmlNodePtr path)
{
    const char *uri = exsim_attr(path, "FieldURI");
    const char *c = uri ? strchr(uri, ':') : NULL;
    return c ? c + 1 : (uri ? uri : "");
}

static void drop(xmlNodePtr n)
{
    if (n) {
        xmlUnlinkNode(n);
        xmlFreeNode(n);
    }
}

static xmlNodePtr entry_with_key(xmlNodePtr container, const char *key)
{
    for (xmlNodePtr e = exsim_first_el(container); e; e = exsim_next_el(e))
        if (exsim_attr(e, "Key") && key && strcmp(exsim_attr(e, "Key"), key) == 0)
            return e;
    return NULL;
}

static const char *delete_field(exsim_req *r, xmlNodePtr body, xmlNodePtr path)
{
    (void)r;
    if (exsim_is(path, EXSIM_NS_T, "ExtendedFieldURI")) {
        drop(exsim_find_extprop(body, path));
        return NULL;
    }
    const char *local = local_uri(path);
    if (exsim_is(path, EXSIM_NS_T, "IndexedFieldURI")) {
        const char *cn = exsim_indexed_container(local);
        xmlNodePtr cont = cn ? exsim_child(body, EXSIM_NS_T, cn) : NULL;
        drop(entry_with_key(cont, exsim_attr(path, "FieldIndex")));
        if (cont && !exsim_first_el(cont))
            drop(cont);
        return NULL;
    }
    if (strcmp(local, "ItemClass") == 0)
        return "ErrorInvalidPropertyDelete";
    drop(exsim_child(body, EXSIM_NS_T, local));
    return NULL;
}

static const char *set_field(exsim_req *r, xmlNodePtr body, xmlNodePtr path, xmlNodePtr src,
                             int append)
{
    if (!src)
        return "ErrorInvalidRequest";
    if (exsim_is(path, EXSIM_NS_T, "ExtendedFieldURI")) {
        xmlNodePtr v = exsim_find_extprop(src, path);
        if (!v)
            return "ErrorInvalidRequest";
        drop(exsim_find_extprop(body, path));
        exsim_store_copy(r->org, body, v);
        return NULL;
    }
    const char *local = local_uri(path);
    if (exsim_is(path, EXSIM_NS_T, "IndexedFieldURI")) {
        const char *cn = exsim_indexed_container(local);
        xmlNodePtr scont = cn ? exsim_child(src, EXSIM_NS_T, cn) : NULL;
        xmlNodePtr sentry = exsim_first_el(scont);
        if (!sentry)
            return "ErrorInvalidRequest";
        xmlNodePtr cont = exsim_child(body, EXSIM_NS_T, cn);
        if (!cont)
            cont = exsim_store_copy(r->org, body, scont);
        else {
            drop(entry_with_key(cont, exsim_attr(sentry, "Key")));
            exsim_store_copy(r->org, cont, sentry);
        }
        return NULL;
    }
    xmlNodePtr v = exsim_child(src, EXSIM_NS_T, local);
    if (!v)
        return "ErrorInvalidRequest";
    xmlNodePtr old = exsim_child(body, EXSIM_NS_T, local);
    if (append) {
        if (strcmp(local, "Members") != 0 && strcmp(local, "ToRecipients") != 0 &&
            strcmp(local, "CcRecipients") != 0 && strcmp(local, "BccRecipients") != 0)
            return "ErrorInvalidPropertyAppend";
        if (old) {
            for (xmlNodePtr c = exsim_first_el(v); c; c = exsim_next_el(c))
                exsim_store_copy(r->org, old, c);
            return NULL;
        }
    }
    drop(old);
    exsim_store_copy(r->org, body, v);
    return NULL;
}

static const char *apply_updates(exsim_req *r, xmlNodePtr body, xmlNodePtr updates)
{
    for (xmlNodePtr u = exsim_first_el(updates); u; u = exsim_next_el(u)) {
        xmlNodePtr path = exsim_first_el(u);
        xmlNodePtr src = exsim_next_el(path);
        const char *code;
        if (exsim_is(u, EXSIM_NS_T, "DeleteItemField"))
            code = delete_field(r, body, path);
        else
            code = set_field(r, body, path, src, exsim_is(u, EXSIM_NS_T, "AppendToItemField"));
        if (code)
            return code;
    }
    sort_children(body, order_for((const char *)body->name));
    return NULL;
}

static void bump_version(xmlNodePtr it)
{
    const char *v = exsim_attr(it, "version");
    char buf[32];
    snprintf(buf, sizeof buf, "%lu", (v ? strtoul(v, NULL, 10) : 1) + 1);
    xmlSetProp(it, BAD_CAST "version", BAD_CAST buf);
}

void exsim_item_changed(xmlNodePtr it, xmlNodePtr body)
{
    sort_children(body, order_for((const char *)body->name));
    bump_version(it);
}

int exsim_op_UpdateItem(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "UpdateItemResponse");
    xmlNodePtr changes = exsim_child(r->op, EXSIM_NS_M, "ItemChanges");
    for (xmlNodePtr ch = exsim_first_el(changes); ch; ch = exsim_next_el(ch)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr idel = exsim_child(ch, EXSIM_NS_T, "ItemId");
        xmlNodePtr it = idel ? exsim_resolve_item(r, idel, &m, &code)
                             : (set_code(&code, "ErrorInvalidIdMalformed"), NULL);
        /* NeverOverwrite: a stale ChangeKey is a conflict (updateitem.md). */
        const char *ck = exsim_attr(idel, "ChangeKey");
        const char *conflict = exsim_attr(r->op, "ConflictResolution");
        if (it && ck && conflict && strcmp(conflict, "NeverOverwrite") == 0) {
            char *now = exsim_id_changekey(m, it);
            if (strcmp(now, ck) != 0)
                it = NULL, code = "ErrorIrresolvableConflict";
            free(now);
        }
        /* Apply to a scratch copy first so a failed change leaves the item as it was. */
        xmlNodePtr body = it ? item_body(it) : NULL;
        /* exsim_store_copy, not xmlCopyNode: a parentless copy declares
         * xmlns:t on itself, which would stay in the store and its dump. */
        xmlNodePtr scratch = body ? exsim_store_copy(r->org, it, body) : NULL;
        if (scratch) {
            xmlUnlinkNode(scratch);
            xmlAddNextSibling(body, scratch);
            code = apply_updates(r, scratch, exsim_child(ch, EXSIM_NS_T, "Updates"));
            drop(code ? scratch : body);
        }
        if (!it || code) {
            item_error(r, msgs, "UpdateItemResponseMessage", code);
            continue;
        }
        bump_version(it);
        xmlNodePtr msg = exsim_resp_message(msgs, "UpdateItemResponseMessage", "NoError", NULL);
        xmlNodePtr items = exsim_m(r, msg, "Items", NULL);
        exsim_add_item_id(exsim_t(r, items, (const char *)item_body(it)->name, NULL), m, it);
        xmlNodePtr cr = exsim_m(r, msg, "ConflictResults", NULL);
        exsim_t(r, cr, "Count", "0");
    }
    return 200;
}

/* ---- DeleteItem ---- */

int exsim_op_DeleteItem(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "DeleteItemResponse");
    const char *type = exsim_attr(r->op, "DeleteType");
    xmlNodePtr ids = exsim_child(r->op, EXSIM_NS_M, "ItemIds");
    for (xmlNodePtr id = exsim_first_el(ids); id; id = exsim_next_el(id)) {
        exsim_mbx *m = NULL;
        const char *code = NULL;
        xmlNodePtr it = exsim_is(id, EXSIM_NS_T, "ItemId") ? exsim_resolve_item(r, id, &m, &code)
                                                           : (set_code(&code, "ErrorInvalidIdMalformed"), NULL);
        if (!it) {
            exsim_error_msg(msgs, "DeleteItemResponseMessage", code);
            continue;
        }
        xmlNodePtr trash = exsim_store_distinguished(m, "deleteditems");
        if (type && strcmp(type, "MoveToDeletedItems") == 0 && trash && it->parent != trash &&
            !exsim_attr(it, "associated")) {
            xmlUnlinkNode(it);
            xmlAddChild(trash, it);
        } else {
            exsim_store_remove(m, it);
        }
        exsim_resp_message(msgs, "DeleteItemResponseMessage", "NoError", NULL);
    }
    return 200;
}

/* ---- ExpandDL (private DLs by ItemId) ---- */

int exsim_op_ExpandDL(exsim_req *r)
{
    xmlNodePtr msgs = exsim_resp_messages(r, "ExpandDLResponse");
    xmlNodePtr mb = exsim_child(r->op, EXSIM_NS_M, "Mailbox");
    xmlNodePtr idel = exsim_child(mb, EXSIM_NS_T, "ItemId");
    exsim_mbx *m = NULL;
    const char *code = "ErrorNameResolutionNoResults";
    xmlNodePtr it = idel ? exsim_resolve_item(r, idel, &m, &code) : NULL;
    xmlNodePtr body = it ? item_body(it) : NULL;
    if (it && !exsim_is(body, EXSIM_NS_T, "DistributionList"))
        code = "ErrorNameResolutionNoResults", it = NULL;
    if (!it) {
        exsim_error_msg(msgs, "ExpandDLResponseMessage", code);
        return 200;
    }
    xmlNodePtr msg = exsim_resp_message(msgs, "ExpandDLResponseMessage", "NoError", NULL);
    xmlNodePtr exp = exsim_m(r, msg, "DLExpansion", NULL);
    size_t n = 0;
    xmlNodePtr members = exsim_child(body, EXSIM_NS_T, "Members");
    for (xmlNodePtr mem = exsim_first_el(members); mem; mem = exsim_next_el(mem)) {
        xmlNodePtr mmb = exsim_child(mem, EXSIM_NS_T, "Mailbox");
        if (mmb) {
            exsim_copy_into(r, exp, mmb);
            n++;
        }
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", n);
    xmlNewProp(exp, BAD_CAST "TotalItemsInView", BAD_CAST buf);
    xmlNewProp(exp, BAD_CAST "IncludesLastItemInRange", BAD_CAST "true");
    return 200;
}
