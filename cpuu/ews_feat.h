/* ews_feat.h — EWS requests and answers the cpuu features need and mapi/
 * does not offer (private to cpuu/): delegates (MS-OXWSDLGM), inbox rules
 * (MS-OXWSRULES) and ResolveNames for the recipient map.
 *
 * Builders return a SOAP envelope made with libxml2's tree API from typed
 * values (every value escaped; element order per messages.xsd/types.xsd —
 * the unit check in tests/integration/test_cpuu_features.c validates each
 * against the schema).  Caller frees with xmlFreeDoc; NULL with err set on
 * OOM.  Parsers read a response operation (mapi_ews_call.resp_op).
 * Ownership: every struct here owns its strings; *_clear releases them. */
#ifndef CPUU_EWS_FEAT_H
#define CPUU_EWS_FEAT_H

#include <libxml/tree.h>
#include <stddef.h>

#include "mapi/ews.h"
#include "util/util.h"

#define EWSF_NS_T MAPI_NS_T
#define EWSF_NS_M MAPI_NS_M

/* XML navigation: mapi_xml_child / mapi_xml_next / mapi_xml_child_text (mapi.h). */
/* ResponseClass/ResponseCode of one response message: SR_OK for NoError,
 * else the mapped code with err naming the ResponseCode and MessageText. */
sr_code ewsf_msg_status(xmlNodePtr msg, sr_err *err);

/* ---- delegates ---- */
/* The six folders of DelegatePermissionsType, in schema order. */
#define EWSF_NPERM 6
extern const char *const ewsf_perm_folders[EWSF_NPERM];   /* "Calendar", "Tasks", ... */

typedef struct ewsf_delegate {
    char *smtp;                 /* UserId/PrimarySmtpAddress */
    char *display_name;         /* UserId/DisplayName, may be NULL */
    char *sid;                  /* UserId/SID, may be NULL */
    char *perm[EWSF_NPERM];     /* level ("None","Editor",...), NULL = not given */
    int receive_copies;         /* -1 not given, 0/1 */
    int view_private;           /* -1 not given, 0/1 */
} ewsf_delegate;

typedef struct ewsf_delegates {
    ewsf_delegate *v;
    size_t n, cap;
    char *deliver;              /* DeliverMeetingRequests, may be NULL */
    unsigned bad;               /* GetDelegate entries answered with an error (e.g. a
                                 * delegate whose directory object is gone) */
    char *first_bad;            /* its ResponseCode and text, may be NULL */
} ewsf_delegates;
void ewsf_delegate_clear(ewsf_delegate *d);
void ewsf_delegates_clear(ewsf_delegates *l);
/* Append a deep copy of d. */
sr_code ewsf_delegates_add(ewsf_delegates *l, const ewsf_delegate *d, sr_err *err);

xmlDocPtr ewsf_req_getdelegate(const mapi_ews_target *t, const char *mailbox, sr_err *err);
/* AddDelegate / UpdateDelegate of n delegates (n may be 0 for Update: then
 * only deliver is set); deliver may be NULL. */
xmlDocPtr ewsf_req_adddelegate(const mapi_ews_target *t, const char *mailbox,
                               const ewsf_delegate *d, size_t n, const char *deliver, sr_err *err);
xmlDocPtr ewsf_req_updatedelegate(const mapi_ews_target *t, const char *mailbox,
                                  const ewsf_delegate *d, size_t n, const char *deliver,
                                  sr_err *err);
/* RemoveDelegate of n delegates by PrimarySmtpAddress. */
xmlDocPtr ewsf_req_removedelegate(const mapi_ews_target *t, const char *mailbox,
                                  const char *const *smtp, size_t n, sr_err *err);
/* A GetDelegateResponse into *out (appends).  A per-delegate error does not
 * fail the read: it is counted in out->bad (the rest is still usable). */
sr_code ewsf_parse_getdelegate(xmlNodePtr resp_op, ewsf_delegates *out, sr_err *err);
/* Add/Update/RemoveDelegate answers: per-delegate outcome in order.
 * codes[i] (n entries, caller's array) = SR_OK or the code; msgs[i] heap text
 * (caller frees) or NULL.  Returns SR_OK when all are NoError, else the
 * first failure (err names the ResponseCode). */
sr_code ewsf_parse_delegate_changes(xmlNodePtr resp_op, size_t n, sr_code *codes, char **msgs,
                                    sr_err *err);

/* ---- inbox rules ---- */
xmlDocPtr ewsf_req_getinboxrules(const mapi_ews_target *t, const char *mailbox, sr_err *err);

/* One operation of UpdateInboxRules. */
typedef enum { EWSF_RULE_CREATE = 0, EWSF_RULE_SET, EWSF_RULE_DELETE } ewsf_rule_op_kind;
typedef struct ewsf_rule_op {
    ewsf_rule_op_kind kind;
    xmlNodePtr rule;            /* CREATE/SET: a t:Rule element (any document; deep-copied,
                                 * IsNotSupported/IsInError left out, RuleId dropped on CREATE) */
    const char *rule_id;        /* DELETE */
} ewsf_rule_op;
xmlDocPtr ewsf_req_updateinboxrules(const mapi_ews_target *t, const char *mailbox,
                                    int remove_blob, const ewsf_rule_op *ops, size_t n,
                                    sr_err *err);
/* GetInboxRulesResponse: rule elements (pointers into resp_op's document,
 * *rules heap array, caller frees the array only), *blob = OutlookRuleBlobExists. */
sr_code ewsf_parse_getinboxrules(xmlNodePtr resp_op, xmlNodePtr **rules, size_t *n, int *blob,
                                 sr_err *err);
/* UpdateInboxRulesResponse: SR_OK, or the error naming the failing
 * operation's field, rule error code and value; *op_index = the failing
 * operation (-1 when the answer names none). */
sr_code ewsf_parse_updateinboxrules(xmlNodePtr resp_op, int *op_index, sr_err *err);

/* ---- ResolveNames (one UnresolvedEntry per request, as the schema says) ---- */
xmlDocPtr ewsf_req_resolvenames(const mapi_ews_target *t, const char *entry, sr_err *err);
/* The single mailbox a ResolveNames answer names: *smtp and *name heap
 * (caller frees; *name may be NULL).  SR_E_NOTFOUND when nothing resolved,
 * SR_E_AMBIGUOUS when several did. */
sr_code ewsf_parse_resolvenames(xmlNodePtr resp_op, char **smtp, char **name, sr_err *err);

/* ---- search folders (ews_search.c; MS-OXWSFOLD, SearchFolderType) ---- */
/* FindFolder Shallow under the `searchfolders` distinguished folder (Finder):
 * ids, DisplayName, FolderClass; one page of up to max entries. */
xmlDocPtr ewsf_req_find_searchfolders(const mapi_ews_target *t, unsigned max, sr_err *err);
/* GetFolder of n folders: FolderIds (ids[i]) and DistinguishedFolderIds
 * (dist[i], NULL-terminated list, may be NULL), shape IdOnly + DisplayName,
 * FolderClass, ParentFolderId and, when search is set, SearchParameters. */
xmlDocPtr ewsf_req_getfolders(const mapi_ews_target *t, const char *const *ids, size_t n,
                              const char *const *dist, int search, sr_err *err);
/* CreateFolder of n search folders under `searchfolders`; names[i],
 * classes[i] (may be NULL) and params[i] (a t:SearchParameters element of
 * any document, deep-copied). */
xmlDocPtr ewsf_req_create_searchfolders(const mapi_ews_target *t, const char *const *names,
                                        const char *const *classes, xmlNodePtr const *params,
                                        size_t n, sr_err *err);
/* UpdateFolder: SetFolderField folder:SearchParameters of n folders. */
xmlDocPtr ewsf_req_set_searchparams(const mapi_ews_target *t, const char *const *ids,
                                    xmlNodePtr const *params, size_t n, sr_err *err);
/* DeleteFolder HardDelete of n folders. */
xmlDocPtr ewsf_req_deletefolders(const mapi_ews_target *t, const char *const *ids, size_t n,
                                 sr_err *err);
/* The first element child of each response message's container element
 * (m:Folders, m:Items), one per message, NULL for a message with an error;
 * what names the answer in the error text.  The common part of
 * ewsf_parse_folders and ewsf_parse_itemlist (same ownership). */
sr_code ewsf_parse_list(xmlNodePtr resp_op, const char *container, const char *what,
                        xmlNodePtr **v, size_t *n, unsigned *nbad, sr_err *err);
/* The folder elements of a GetFolder/CreateFolder answer in order, one per
 * response message (NULL for an answer with an error); *v heap (caller frees
 * the array only; elements point into resp_op's document).  Returns SR_OK or
 * the first error (err names its ResponseCode); *nbad counts the errors. */
sr_code ewsf_parse_folders(xmlNodePtr resp_op, xmlNodePtr **v, size_t *n, unsigned *nbad,
                           sr_err *err);
/* Canonical text of an element subtree (local names, attributes in order,
 * trimmed text; namespace prefixes and whitespace ignored): to compare what
 * two servers or a server and a backup hold.  Heap, caller frees. */
char *ewsf_canon(xmlNodePtr n);

/* ---- contacts and personal distribution lists (ews_contacts.c) ---- */
/* FindItem Shallow in folder_id, IdOnly + item:ItemClass, one page from offset. */
xmlDocPtr ewsf_req_finditems(const mapi_ews_target *t, const char *folder_id, unsigned offset,
                             unsigned max, sr_err *err);
/* The ItemIds of a FindItem answer (heap strings appended to *ids / *n; the
 * caller frees them); *last = IncludesLastItemInRange. */
sr_code ewsf_parse_itemids(xmlNodePtr resp_op, char ***ids, size_t *n, int *last, sr_err *err);
/* GetItem of n ids with IdOnly + the listed FieldURIs (NULL-terminated). */
xmlDocPtr ewsf_req_getitems(const mapi_ews_target *t, const char *const *ids, size_t n,
                            const char *const *fields, sr_err *err);
/* UpdateItem (AlwaysOverwrite): ItemChange i = ids[i] with the children of
 * updates[i] (a t:Updates element of any document, deep-copied). */
xmlDocPtr ewsf_req_updateitems(const mapi_ews_target *t, const char *const *ids,
                               xmlNodePtr const *updates, size_t n, sr_err *err);
/* The item elements of a GetItem/UpdateItem answer, one per response message
 * (NULL for an error); as ewsf_parse_folders. */
sr_code ewsf_parse_itemlist(xmlNodePtr resp_op, xmlNodePtr **v, size_t *n, unsigned *nbad,
                            sr_err *err);

/* ---- user configuration dictionaries (ews_booking.c) ---- */
/* GetUserConfiguration name in the distinguished folder, Properties=Dictionary. */
xmlDocPtr ewsf_req_getconfig_dict(const mapi_ews_target *t, const char *folder, const char *name,
                                  sr_err *err);
/* Create/UpdateUserConfiguration with dict (a t:Dictionary element of any
 * document, deep-copied). */
xmlDocPtr ewsf_req_setconfig_dict(const mapi_ews_target *t, const char *folder, const char *name,
                                  int create, xmlNodePtr dict, sr_err *err);

/* ---- serialisation (backups) ---- */
/* The subtree of node as a standalone UTF-8 document (namespaces kept);
 * heap (caller frees with xmlFree), *len its size. */
xmlChar *ewsf_dump_node(xmlNodePtr node, int *len);
/* Backups are read back with mapi_xml_parse (mapi/ews.h). */

#endif
