/* graph_feat.h — the target-side features' data as Microsoft Graph JSON
 * (issue 17 §3), private to cpuu/: PURE conversions, no network.
 *
 * The features read and plan with the EWS shapes they already build
 * (ews_feat.h: a t:Rule element, an ewsf_delegate); on an Exchange Online
 * target written over Graph these turn into Graph v1.0 resources:
 *   a rule       → messageRule (mailFolders/inbox/messageRules);
 *   a delegate   → calendarPermission (calendar/calendarPermissions), the
 *                  delegate roles with or without private items;
 *   DeliverMeetingRequests → mailboxSettings.delegateMeetingMessageDeliveryOptions;
 *   a user configuration t:Dictionary ↔ the beta userConfiguration's
 *                  structuredData (Booking's `Calendar` dictionary).
 * What Graph cannot express is never dropped silently: each conversion adds
 * one line per lost part to a gfeat_notes, which the feature logs per
 * mailbox and counts as unsupported.  docs/graph.md lists them for admins.
 *
 * Depends on libxml2 (the rule elements), jansson (mapi/graph.h's JSON
 * library) and ews_feat.h.  Ownership: JSON returned is the caller's
 * (json_decref); notes own their strings (gfeat_notes_clear). */
#ifndef CPUU_GRAPH_FEAT_H
#define CPUU_GRAPH_FEAT_H

#include <jansson.h>
#include <libxml/tree.h>
#include <stddef.h>

#include "cpuu/ews_feat.h"
#include "util/util.h"

/* What could not be carried, one heap line each ("rule 'X': condition
 * ItemClasses: Graph's messageRulePredicates has no message-class test"). */
typedef struct gfeat_notes {
    char **v;
    size_t n;
} gfeat_notes;
void gfeat_notes_clear(gfeat_notes *n);
/* Append one printf-formatted line; returns -1 on OOM (the line is lost). */
int gfeat_note(gfeat_notes *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- rules ---------------------------------------------------------------- */
/* A folder of a rule's MoveToFolder/CopyToFolder → the target's Graph folder
 * id (heap, caller frees), NULL when it has none there.  Exactly one of
 * ews_id (t:FolderId/@Id, an id of the SOURCE mailbox) and distinguished
 * (t:DistinguishedFolderId/@Id, "inbox", "deleteditems", ...) is given. */
typedef char *(*gfeat_folder_fn)(void *ctx, const char *ews_id, const char *distinguished);

/* One EWS t:Rule (its addresses already mapped to target SMTP addresses)
 * as a messageRule body for POST or PATCH: displayName, sequence (the EWS
 * Priority), isEnabled, conditions, exceptions, actions.  *out NULL when the
 * rule cannot be written: a condition or exception Graph cannot express
 * would widen what the rule matches, so such a rule is kept out whole; an
 * action Graph cannot express is left out of a rule that keeps another
 * action.  Every loss goes to notes.  SR_E_NOMEM only. */
sr_code gfeat_rule_json(xmlNodePtr rule, gfeat_folder_fn folder, void *folder_ctx, json_t **out,
                        gfeat_notes *notes, sr_err *err);

/* Non-zero when two messageRule objects state the same rule (the writable
 * properties: displayName, sequence, isEnabled, conditions, exceptions,
 * actions; addresses compared without case, names ignored): the second run
 * writes nothing. */
int gfeat_rule_same(const json_t *a, const json_t *b);

/* The writable part of a messageRule read from Graph (no id, hasError,
 * isReadOnly, @odata.*): the body that puts it back.  New object. */
json_t *gfeat_rule_writable(const json_t *rule);

/* ---- delegates -------------------------------------------------------------- */
/* The calendarRoleType of an EWS delegate ("delegateWithPrivateEventAccess",
 * "delegateWithoutPrivateEventAccess", "read"), NULL when Graph has none for
 * its Calendar level.  Static. */
const char *gfeat_delegate_role(const ewsf_delegate *d);

/* One delegate (smtp a target address) as a calendarPermission body for POST
 * (emailAddress, isInsideOrganization, role); NULL when it has no calendar
 * role Graph expresses (then notes say why).  Its permissions on the other
 * folders and a per-delegate meeting-copy setting Graph does not share go to
 * notes.  NULL on OOM as well (notes unchanged). */
json_t *gfeat_delegate_json(const ewsf_delegate *d, gfeat_notes *notes);

/* DeliverMeetingRequests → delegateMeetingMessageDeliveryOptions; NULL when
 * Graph has no such value (NoForward).  Static. */
const char *gfeat_deliver_to_graph(const char *ews);

/* {"delegateMeetingMessageDeliveryOptions": graph_value}: the PATCH body of
 * /users/{id}/mailboxSettings.  NULL on OOM. */
json_t *gfeat_mailbox_settings_json(const char *graph_value);

/* ---- user configuration dictionaries (beta userConfiguration) ------------- */
/* structuredData (an array of structuredDataEntry {keyEntry, valueEntry},
 * each a structuredDataEntryTypedValue {type, values}) as an EWS
 * t:Dictionary appended to parent (EWSF_NS_T; the EWS type names are the
 * beta enum's with a capital first letter: "stringArray" → "StringArray";
 * a null valueEntry gives no DictionaryValue).  NULL with err set when an
 * entry is no structuredDataEntry (SR_E_PROTOCOL) or on OOM. */
xmlNodePtr gfeat_dict_from_json(const json_t *structured, xmlNodePtr parent, sr_err *err);
/* The reverse: a t:Dictionary as a structuredData array.  NULL on OOM. */
json_t *gfeat_dict_json(xmlNodePtr dict);

/* ---- search folders (graph_search.c) ------------------------------------------ */
/* One EWS t:Restriction (its constants already mapped) as the filterQuery
 * of a mailSearchFolder (an OData $filter on messages): heap.  NULL when a
 * part of it has no OData form; then *why (heap) names the first such part
 * and what Graph lacks ("Exists: Graph's filterQuery has no such test"). */
char *gfeat_filter_query(xmlNodePtr restriction, char **why);
/* Non-zero when two filterQuery strings are the same but for blanks outside
 * their literals (Graph may space what it hands back differently). */
int gfeat_filter_same(const char *a, const char *b);

/* ---- the features' Graph I/O (graph_io.c; the only part here that talks) --- */
struct cpuu_ctx;

/* Every item of a collection of the target mailbox (rest: "/calendar/...",
 * below /users/{c->graph_user}); *values a new array.  err names the
 * mailbox and the feature. */
sr_code gfeat_get_all(struct cpuu_ctx *c, const char *feature, const char *rest, json_t **values,
                      sr_err *err);
/* One GET of the target mailbox (rest as above); *out the answer. */
sr_code gfeat_get(struct cpuu_ctx *c, const char *feature, const char *rest, json_t **out,
                  sr_err *err);
/* The same with an API version ("beta"; NULL: v1.0). */
sr_code gfeat_get_version(struct cpuu_ctx *c, const char *feature, const char *version,
                          const char *rest, json_t **out, sr_err *err);
/* Queue one write: {method, path (below the user), body (may be NULL; a
 * reference is taken), what (names it in the log)}.  SR_E_NOMEM only. */
sr_code gfeat_add_op(json_t *ops, const char *method, const char *path, json_t *body,
                     const char *what);
/* The same for the beta API (a beta-only resource such as userConfiguration). */
sr_code gfeat_add_beta_op(json_t *ops, const char *method, const char *path, json_t *body,
                          const char *what);
/* Send the queued writes through $batch; each failed one is logged with its
 * what; returns SR_OK or the first failure (err counts them). */
sr_code gfeat_run_ops(struct cpuu_ctx *c, const char *feature, json_t *ops, sr_err *err);
/* A rollback's writes (none under -DryRun), then one log line counting them. */
sr_code gfeat_restore_run(struct cpuu_ctx *c, const char *feature, json_t *ops, sr_err *err);
/* saved (the backup's collection) against cur (the target's now): the
 * writes that give saved back, into ops; what cannot be put back, to notes.
 * SR_E_NOMEM only. */
typedef sr_code (*gfeat_restore_fn)(json_t *saved, json_t *cur, json_t *ops, gfeat_notes *notes);
/* The rollback of a feature whose backup is the collection at rest (below
 * /users/{id}): backup and collection read, fn's writes run
 * (gfeat_restore_run), notes logged.  SR_E_NOTFOUND when no backup. */
sr_code gfeat_restore_list(struct cpuu_ctx *c, const char *feature, const char *rest,
                           gfeat_restore_fn fn, sr_err *err);
/* The backup name of a feature's Graph ops ("<Feature>.target.json"): the
 * engine's rollback reaches the target over Graph when it finds one. */
#define GFEAT_BACKUP_NAME "target.json"
/* The feature's target backup as JSON ("<Feature>.target.json"): put keeps
 * the first run's (the pre-switch state); get gives SR_E_NOTFOUND when none. */
sr_code gfeat_backup_put(struct cpuu_ctx *c, const char *feature, const json_t *state, sr_err *err);
sr_code gfeat_backup_get(struct cpuu_ctx *c, const char *feature, json_t **state, sr_err *err);
/* The object of a Graph collection (array) whose "id" is id; NULL when none. */
json_t *gfeat_by_id(json_t *list, const char *id);
/* Log each note as "<feature>: <line>" (WARN, per mailbox); returns n. */
unsigned gfeat_log_notes(const struct cpuu_ctx *c, const char *feature, const gfeat_notes *n);

#endif
