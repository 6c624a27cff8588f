/* store.h — private to the simulator's store half (store*.c, ids.c, ews_*.c).
 *
 * The organisation's state IS the seed document (SEED-FORMAT.md): mailboxes,
 * folders and items stay libxml2 nodes, EWS content is kept as t: subtrees,
 * and handlers edit that tree in place.  Dumping is a copy of the tree.  The
 * C structs below only index it (mailbox by address, object by counter).
 * Not thread-safe: the server holds one mutex around every call. */
#ifndef EXSIM_STORE_H
#define EXSIM_STORE_H

#include "tests/exsim/exsim.h"

#include <stdint.h>

/* One mailbox of this instance. */
typedef struct exsim_mbx {
    exsim_mailbox_info info;   /* strings owned by the mailbox */
    const char *kind;          /* user / room / equipment */
    char **proxies;            /* "SMTP:a@b", "smtp:..", "X500:..", NULL-terminated */
    uint8_t guid[16];          /* mailbox GUID, Windows byte layout */
    uint8_t db_guid[16];       /* database (replica) GUID of its EntryIDs */
    xmlNodePtr node;           /* <mailbox> */
    xmlNodePtr *objs;          /* counter → <folder>/<item>; NULL when deleted */
    size_t nobjs;              /* capacity of objs == next counter bound */
    uint64_t next_id;
    int change;                /* bumps ChangeKeys */
} exsim_mbx;

struct exsim_org {
    xmlDocPtr doc;             /* the seed tree, edited in place */
    char *domain, *deployment_id, *side;
    exsim_account *accounts;
    size_t naccounts;
    exsim_mbx *mbx;
    size_t nmbx;
};

/* ---- store.c ---- */
exsim_mbx *exsim_store_mbx_by_addr(exsim_org *org, const char *address);
exsim_mbx *exsim_store_mbx_by_guid(exsim_org *org, const uint8_t guid[16]);
/* The object with this counter, or NULL. */
xmlNodePtr exsim_store_obj(exsim_mbx *m, uint64_t counter);
/* Register a new <folder>/<item> node; sets its id attribute; returns counter. */
uint64_t exsim_store_add(exsim_mbx *m, xmlNodePtr node);
/* Unlink and free a node and every object under it from the index. */
void exsim_store_remove(exsim_mbx *m, xmlNodePtr node);
/* Counter of a <folder>/<item> node (0 when none). */
uint64_t exsim_store_id_of(xmlNodePtr node);
/* The <folder distinguished=name> of a mailbox, or NULL. */
xmlNodePtr exsim_store_distinguished(exsim_mbx *m, const char *name);
/* Attribute value (pointer into the tree, no copy) or NULL. */
const char *exsim_attr(xmlNodePtr n, const char *name);
/* First/next element child with this local name (any namespace when ns NULL). */
xmlNodePtr exsim_child(xmlNodePtr parent, const char *ns, const char *name);
xmlNodePtr exsim_next(xmlNodePtr after, const char *ns, const char *name);
/* First element child, next element sibling. */
xmlNodePtr exsim_first_el(xmlNodePtr parent);
xmlNodePtr exsim_next_el(xmlNodePtr n);
/* Text of an element (pointer into the tree, "" when empty). */
const char *exsim_text(xmlNodePtr n);
int exsim_is(xmlNodePtr n, const char *ns, const char *name);
/* Parse "8-4-4-4-12" into the Windows GUID byte layout; 0 ok. */
int exsim_guid_parse(const char *s, uint8_t out[16]);

/* ---- ids.c: EWS ids and MS-OXCDATA EntryIDs ---- */
enum { EXSIM_KIND_FOLDER = 'F', EXSIM_KIND_ITEM = 'I' };
/* base64 EWS id of an object (caller frees). */
char *exsim_id_ews(const exsim_mbx *m, int kind, uint64_t counter);
/* Decode an EWS id; 0 ok, -1 malformed. */
int exsim_id_ews_decode(const char *id, uint8_t guid[16], int *kind, uint64_t *counter);
/* Binary EntryID of a folder (46 bytes) or message (70 bytes) into out
 * (>= 70 bytes); returns its length. */
size_t exsim_id_entryid(const exsim_mbx *m, xmlNodePtr obj, uint8_t *out);
/* Decode a binary Folder/Message EntryID; 0 ok, -1 malformed. */
int exsim_id_entryid_decode(const uint8_t *eid, size_t len, uint8_t guid[16], int *kind,
                            uint64_t *counter);
/* base64 helpers (caller frees; decode returns NULL on malformed input). */
char *exsim_b64_encode(const uint8_t *data, size_t len);
uint8_t *exsim_b64_decode(const char *s, size_t *len);
/* ChangeKey of an object (caller frees). */
char *exsim_id_changekey(const exsim_mbx *m, xmlNodePtr obj);

/* ---- ews_common.c: shared pieces of the handlers ---- */
/* Resolve a target mailbox for the request: explicit address (may be NULL =
 * the caller's own / impersonated).  On failure builds nothing and returns
 * NULL with *code set to the EWS ResponseCode. */
exsim_mbx *exsim_access(exsim_req *r, const char *address, const char **code);
/* Resolve a t:FolderId / t:DistinguishedFolderId element to a <folder>.
 * NULL with *code set on failure; *mbx receives the mailbox. */
xmlNodePtr exsim_resolve_folder(exsim_req *r, xmlNodePtr idel, exsim_mbx **mbx,
                                const char **code);
/* Resolve a t:ItemId element to an <item>. */
xmlNodePtr exsim_resolve_item(exsim_req *r, xmlNodePtr idel, exsim_mbx **mbx,
                              const char **code);
/* Append an error message (ResponseClass Error, DescriptiveLinkKey 0). */
xmlNodePtr exsim_error_msg(xmlNodePtr messages, const char *msg_name, const char *code);
/* Exchange's MessageText for a ResponseCode (static). */
const char *exsim_error_text(const char *code);
/* Responses that are themselves a response message (GetDelegate, GetInboxRules, ...):
 * <m:{name} ResponseClass> with MessageText/ResponseCode/DescriptiveLinkKey
 * (code NULL = Success/NoError) directly under resp_body. */
xmlNodePtr exsim_top_response(exsim_req *r, const char *name, const char *code);
/* Append t:FolderId / t:ItemId (Id + ChangeKey) for an object. */
xmlNodePtr exsim_add_folder_id(xmlNodePtr parent, const char *elname, exsim_mbx *m,
                               xmlNodePtr obj);
xmlNodePtr exsim_add_item_id(xmlNodePtr parent, exsim_mbx *m, xmlNodePtr item);
/* Namespaces of the response document (created on first use). */
xmlNsPtr exsim_ns_t(exsim_req *r);
xmlNsPtr exsim_ns_m(exsim_req *r);
xmlNodePtr exsim_t(exsim_req *r, xmlNodePtr parent, const char *name, const char *text);
xmlNodePtr exsim_m(exsim_req *r, xmlNodePtr parent, const char *name, const char *text);
/* Copy a stored subtree under parent in the response, reconciling namespaces. */
xmlNodePtr exsim_copy_into(exsim_req *r, xmlNodePtr parent, xmlNodePtr src);
/* The seed document's declaration of the types namespace (created when absent). */
xmlNsPtr exsim_store_ns_t(exsim_org *org);
/* Copy a request subtree into the store under parent (stored nodes). */
xmlNodePtr exsim_store_copy(exsim_org *org, xmlNodePtr parent, xmlNodePtr src);
/* Position of name in a NULL-terminated schema order (unknown names last). */
int exsim_order_index(const char *const *order, const char *name);
/* Insert child into parent before the first existing element that comes
 * later in the schema order `order` (NULL-terminated local names). */
void exsim_insert_ordered(xmlNodePtr parent, xmlNodePtr child, const char *const *order);

/* ---- ews_props.c: shapes, extended properties, restrictions, paging ---- */
enum { EXSIM_SHAPE_IDONLY, EXSIM_SHAPE_DEFAULT, EXSIM_SHAPE_ALL };
typedef struct exsim_shape {
    int base;
    xmlNodePtr addl;           /* t:AdditionalProperties of the request, or NULL */
} exsim_shape;
void exsim_shape_parse(xmlNodePtr shape_el, exsim_shape *s);
/* Whether AdditionalProperties names a FieldURI whose local part is element_name. */
int exsim_shape_wants(const exsim_shape *s, const char *element_name);
/* Container element of an indexed field ("EmailAddress" → "EmailAddresses"), or NULL. */
const char *exsim_indexed_container(const char *local);
/* Do two t:ExtendedFieldURI elements name the same property? */
int exsim_efu_match(xmlNodePtr a, xmlNodePtr b);
/* The stored t:ExtendedProperty of body matching efu, or NULL. */
xmlNodePtr exsim_find_extprop(xmlNodePtr body, xmlNodePtr efu);
/* A property Exchange computes for every object (MS-OXPROPS): folders
 * 0x3001 DisplayName, 0x3613 ContainerClass, 0x360A Subfolders, 0x3602
 * ContentCount, 0x3603 ContentUnreadCount; items 0x0E23 InternetArticleNumber
 * (increasing with arrival), 0x0E07 MessageFlags, 0x0E08 MessageSize; both
 * 0x0FFF EntryId, 0x3008 LastModificationTime.  Heap string, NULL when none. */
char *exsim_computed_prop(exsim_mbx *m, xmlNodePtr obj, long tag);
/* The value a restriction or a sort sees for efu (a t:ExtendedFieldURI): the
 * stored one in body, else the computed one.  Heap, NULL when none. */
char *exsim_prop_value(exsim_mbx *m, xmlNodePtr obj, xmlNodePtr body, xmlNodePtr efu);
/* Append requested extended properties (stored in body, or computed:
 * exsim_computed_prop) of obj to out. */
void exsim_emit_extprops(exsim_req *r, xmlNodePtr out, exsim_mbx *m, xmlNodePtr obj,
                         xmlNodePtr body, const exsim_shape *s);
/* Value of a property path (FieldURI/ExtendedFieldURI element) of the object
 * in ctx; malloc'd string, NULL when the object lacks it. */
typedef char *(*exsim_getter)(void *ctx, xmlNodePtr path);
/* Evaluate a t:Restriction (or one of its expressions); 1 match. */
int exsim_restrict(xmlNodePtr el, exsim_getter get, void *ctx);
/* Paging by an Indexed*View element (may be NULL): first index and count. */
void exsim_page(xmlNodePtr view, size_t total, size_t *first, size_t *count);
/* IndexedPagingOffset / TotalItemsInView / IncludesLastItemInRange on a RootFolder. */
void exsim_root_attrs(xmlNodePtr root, xmlNodePtr view, size_t total, size_t first,
                      size_t count);

/* ---- ews_rules.c: the rules store, shared with Graph's messageRules ---- */
/* The mailbox's <rules> element (created when absent). */
xmlNodePtr exsim_rules_of(exsim_mbx *m);
/* The t:Rule with this RuleId, or NULL. */
xmlNodePtr exsim_rule_by_id(xmlNodePtr rules, const char *id);
/* Give a new t:Rule under rules the next free RuleId ("R<n>"). */
void exsim_rule_new_id(xmlNodePtr rules, xmlNodePtr rule);
/* t:Rule children in schema order (NULL-terminated). */
extern const char *const exsim_rule_order[];

/* ---- ews_delegates.c: the delegates store, shared with Graph's calendarPermissions ---- */
/* The mailbox's <delegates deliver=DeliverMeetingRequests> (created when absent). */
xmlNodePtr exsim_delegates_of(exsim_mbx *m);

/* ---- ews_userconfig.c: user configurations, shared with Graph's beta userConfigurations ---- */
/* The IPM.Configuration.<name> associated item of folder, or NULL. */
xmlNodePtr exsim_config_find(xmlNodePtr folder, const char *name);
/* A new, empty one (registered in m's index); parts are added by the caller
 * in the order Dictionary, XmlData, BinaryData. */
xmlNodePtr exsim_config_new(exsim_org *org, exsim_mbx *m, xmlNodePtr folder, const char *name);

/* ---- ews_items.c ---- */
/* After another front end (Graph) changed an item's body: children back in
 * schema order, and a new version (ChangeKey), as UpdateItem does. */
void exsim_item_changed(xmlNodePtr it, xmlNodePtr body);

/* Handlers (one per EWS operation), in ews_*.c. */
typedef int (*exsim_handler)(exsim_req *r);
#define EXSIM_HANDLERS(X) \
    X(AddDelegate) X(ConvertId) X(CreateFolder) X(CreateItem) X(CreateUserConfiguration) \
    X(DeleteFolder) X(DeleteItem) X(DeleteUserConfiguration) X(ExpandDL) X(FindFolder) \
    X(FindItem) X(GetDelegate) X(GetFolder) X(GetInboxRules) X(GetItem) \
    X(GetUserConfiguration) X(RemoveDelegate) X(ResolveNames) X(UpdateDelegate) \
    X(UpdateFolder) X(UpdateInboxRules) X(UpdateItem) X(UpdateUserConfiguration)
#define EXSIM_DECL(n) int exsim_op_##n(exsim_req *r);
EXSIM_HANDLERS(EXSIM_DECL)
#undef EXSIM_DECL

#endif
