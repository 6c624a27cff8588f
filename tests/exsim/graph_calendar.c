/* graph_calendar.c — /users/{id}/calendar/calendarPermissions[/{id}] and
 * /users/{id}/mailboxSettings over the store's delegates.
 *
 * A delegate (t:DelegateUser, what EWS's GetDelegate shows) appears with the
 * role its CalendarFolderPermissionLevel gives: Editor →
 * delegateWith(out)PrivateEventAccess (ViewPrivateItems), Reviewer → read,
 * None → none, Author/Custom → custom.  A calendar shared without delegation
 * (freeBusyRead, limitedRead, read, write) is kept apart in the mailbox's
 * <calendar-sharing default-role=..><share smtp name role/></calendar-sharing>,
 * which EWS delegate calls do not show.  "My Organization" is the default
 * entry (not removable; its role is default-role, freeBusyRead at first).
 * mailboxSettings.delegateMeetingMessageDeliveryOptions is the delegates'
 * DeliverMeetingRequests: Graph has one setting per mailbox. */
#include "tests/exsim/graph.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_ID "RGVmYXVsdA"          /* base64url("Default") */

static const char *const roles_all[] = { "none", "freeBusyRead", "limitedRead", "read", "write",
                                         "delegateWithoutPrivateEventAccess",
                                         "delegateWithPrivateEventAccess", NULL };

static int is_delegate_role(const char *r)
{
    return !strncmp(r, "delegate", 8);
}

static int valid_role(const char *r, int inside)
{
    for (int i = 0; roles_all[i]; i++)
        if (!strcmp(roles_all[i], r))
            return inside || !is_delegate_role(r);
    return 0;
}

/* id = base64url of the lower-case address, unpadded. */
static char *perm_id(const char *smtp)
{
    char *low = strdup(smtp);
    for (char *p = low; p && *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    char *b = low ? exsim_b64_encode((const uint8_t *)low, strlen(low)) : NULL;
    free(low);
    for (char *p = b; p && *p; p++) {
        if (*p == '=') {
            *p = '\0';
            break;
        }
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    }
    return b;
}

/* The <calendar-sharing> element; created only to write (create = 1), so a
 * read leaves /_sim/state as it was. */
static xmlNodePtr sharing_of(exsim_mbx *m, int create)
{
    xmlNodePtr s = exsim_child(m->node, NULL, "calendar-sharing");
    if (!s && create) {
        s = xmlNewChild(m->node, NULL, BAD_CAST "calendar-sharing", NULL);
        xmlSetProp(s, BAD_CAST "default-role", BAD_CAST "freeBusyRead");
    }
    return s;
}

static const char *delegate_smtp(xmlNodePtr d)
{
    return exsim_text(exsim_child(exsim_child(d, EXSIM_NS_T, "UserId"), EXSIM_NS_T, "PrimarySmtpAddress"));
}

static const char *delegate_role(xmlNodePtr d)
{
    const char *lvl = exsim_text(exsim_child(exsim_child(d, EXSIM_NS_T, "DelegatePermissions"), EXSIM_NS_T,
                                             "CalendarFolderPermissionLevel"));
    const char *vpi = exsim_text(exsim_child(d, EXSIM_NS_T, "ViewPrivateItems"));
    if (!strcmp(lvl, "Editor"))
        return !strcmp(vpi, "true") ? "delegateWithPrivateEventAccess" : "delegateWithoutPrivateEventAccess";
    if (!strcmp(lvl, "Reviewer"))
        return "read";
    if (!*lvl || !strcmp(lvl, "None"))
        return "none";
    return "custom";
}

/* Drop <calendar-sharing> again once it says nothing more than the default
 * (no share, default-role freeBusyRead): a write undone leaves the dump as it was. */
static void tidy_sharing(exsim_mbx *m)
{
    xmlNodePtr s = sharing_of(m, 0);
    const char *r = s ? exsim_attr(s, "default-role") : NULL;
    if (s && !exsim_child(s, NULL, "share") && (!r || !strcmp(r, "freeBusyRead"))) {
        xmlUnlinkNode(s);
        xmlFreeNode(s);
    }
}

/* Reading never creates the <delegates> element (EWS's GetDelegate does). */
static xmlNodePtr delegates_get(exsim_mbx *m)
{
    return exsim_child(m->node, NULL, "delegates");
}

static const char *default_role(exsim_mbx *m)
{
    xmlNodePtr s = sharing_of(m, 0);
    const char *r = s ? exsim_attr(s, "default-role") : NULL;
    return r ? r : "freeBusyRead";
}

static json_t *allowed(int inside)
{
    json_t *a = json_array();
    for (int i = 0; roles_all[i]; i++)
        if (inside || !is_delegate_role(roles_all[i]))
            json_array_append_new(a, json_string(roles_all[i]));
    return a;
}

static json_t *perm_json(const char *id, const char *name, const char *addr, int inside, int removable,
                         const char *role)
{
    json_t *ea = json_pack("{s:s?}", "name", name);
    if (addr)
        json_object_set_new(ea, "address", json_string(addr));
    return json_pack("{s:s,s:o,s:b,s:b,s:o,s:s}", "id", id, "emailAddress", ea, "isInsideOrganization", inside,
                     "isRemovable", removable, "allowedRoles", allowed(inside && removable ? 1 : 0), "role", role);
}

/* One entry of the list: the default, a delegate or a share. */
typedef struct entry { int is_default; xmlNodePtr delegate, share; } entry;

static json_t *entry_json(exsim_gcall *c, const entry *e)
{
    if (e->is_default) {
        json_t *j = perm_json(DEFAULT_ID, "My Organization", NULL, 1, 0,
                              default_role(c->mbx));
        return j;
    }
    const char *smtp = e->delegate ? delegate_smtp(e->delegate) : exsim_attr(e->share, "smtp");
    exsim_mbx *who = exsim_store_mbx_by_addr(c->org, smtp);
    char *id = perm_id(smtp);
    const char *name = who ? who->info.display_name : exsim_attr(e->share, "name");
    json_t *j = perm_json(id ? id : "", name, smtp, who != NULL, 1,
                          e->delegate ? delegate_role(e->delegate) : exsim_attr(e->share, "role"));
    free(id);
    return j;
}

static int find_entry(exsim_gcall *c, const char *id, entry *e)
{
    memset(e, 0, sizeof *e);
    if (!strcmp(id, DEFAULT_ID)) {
        e->is_default = 1;
        return 0;
    }
    for (xmlNodePtr d = exsim_child(delegates_get(c->mbx), EXSIM_NS_T, "DelegateUser"); d;
         d = exsim_next(d, EXSIM_NS_T, "DelegateUser")) {
        char *pid = perm_id(delegate_smtp(d));
        int hit = pid && !strcmp(pid, id);
        free(pid);
        if (hit) {
            e->delegate = d;
            return 0;
        }
    }
    for (xmlNodePtr s = exsim_child(sharing_of(c->mbx, 0), NULL, "share"); s; s = exsim_next(s, NULL, "share")) {
        char *pid = perm_id(exsim_attr(s, "smtp") ? exsim_attr(s, "smtp") : "");
        int hit = pid && !strcmp(pid, id);
        free(pid);
        if (hit) {
            e->share = s;
            return 0;
        }
    }
    return -1;
}

static int list_perms(exsim_gcall *c)
{
    json_t *value = json_array();
    entry e = { .is_default = 1 };
    json_array_append_new(value, entry_json(c, &e));
    for (xmlNodePtr d = exsim_child(delegates_get(c->mbx), EXSIM_NS_T, "DelegateUser"); d;
         d = exsim_next(d, EXSIM_NS_T, "DelegateUser")) {
        e = (entry){ .delegate = d };
        json_array_append_new(value, entry_json(c, &e));
    }
    for (xmlNodePtr s = exsim_child(sharing_of(c->mbx, 0), NULL, "share"); s; s = exsim_next(s, NULL, "share")) {
        e = (entry){ .share = s };
        json_array_append_new(value, entry_json(c, &e));
    }
    c->out = json_pack("{s:o,s:o}", "@odata.context",
                       exsim_graph_context(c, "users('%s')/calendar/calendarPermissions", c->user_key),
                       "value", value);
    return 200;
}

static int answer(exsim_gcall *c, const entry *e, int status)
{
    json_t *j = entry_json(c, e);
    json_object_set_new(j, "@odata.context",
                        exsim_graph_context(c, "users('%s')/calendar/calendarPermissions/$entity", c->user_key));
    c->out = j;
    return status;
}

/* A new delegate: Editor on the calendar, nothing else, meeting copies on
 * (Graph has no per-delegate switch; delegateMeetingMessageDeliveryOptions rules). */
static xmlNodePtr add_delegate(exsim_gcall *c, exsim_mbx *who, const char *role)
{
    xmlNsPtr t = exsim_store_ns_t(c->org);
    xmlNodePtr d = xmlNewChild(exsim_delegates_of(c->mbx), t, BAD_CAST "DelegateUser", NULL);
    xmlNodePtr uid = xmlNewChild(d, t, BAD_CAST "UserId", NULL);
    xmlNewTextChild(uid, t, BAD_CAST "PrimarySmtpAddress", BAD_CAST who->info.smtp);
    if (who->info.display_name)
        xmlNewTextChild(uid, t, BAD_CAST "DisplayName", BAD_CAST who->info.display_name);
    xmlNodePtr p = xmlNewChild(d, t, BAD_CAST "DelegatePermissions", NULL);
    xmlNewTextChild(p, t, BAD_CAST "CalendarFolderPermissionLevel", BAD_CAST "Editor");
    xmlNewTextChild(d, t, BAD_CAST "ReceiveCopiesOfMeetingMessages", BAD_CAST "true");
    xmlNewTextChild(d, t, BAD_CAST "ViewPrivateItems",
                    BAD_CAST (!strcmp(role, "delegateWithPrivateEventAccess") ? "true" : "false"));
    return d;
}

static xmlNodePtr add_share(exsim_gcall *c, const char *smtp, const char *name, const char *role)
{
    xmlNodePtr s = xmlNewChild(sharing_of(c->mbx, 1), NULL, BAD_CAST "share", NULL);
    xmlSetProp(s, BAD_CAST "smtp", BAD_CAST smtp);
    if (name)
        xmlSetProp(s, BAD_CAST "name", BAD_CAST name);
    xmlSetProp(s, BAD_CAST "role", BAD_CAST role);
    return s;
}

static void set_text(xmlNodePtr parent, const char *name, const char *value)
{
    xmlNodePtr el = exsim_child(parent, EXSIM_NS_T, name);
    if (el)
        xmlNodeSetContent(el, BAD_CAST value);
}

/* Change a delegate's role; delegate roles, read and none stay delegates (the
 * other folder permissions are kept), the rest turns it into a share. */
static void set_role(exsim_gcall *c, entry *e, const char *role)
{
    exsim_mbx *who = NULL;
    if (e->delegate && (is_delegate_role(role) || !strcmp(role, "read") || !strcmp(role, "none"))) {
        xmlNodePtr p = exsim_child(e->delegate, EXSIM_NS_T, "DelegatePermissions");
        xmlNodePtr lvl = exsim_child(p, EXSIM_NS_T, "CalendarFolderPermissionLevel");
        if (!lvl)
            lvl = xmlNewChild(p, p->ns, BAD_CAST "CalendarFolderPermissionLevel", NULL);
        xmlNodeSetContent(lvl, BAD_CAST (is_delegate_role(role) ? "Editor" : !strcmp(role, "read") ? "Reviewer"
                                                                                                    : "None"));
        if (is_delegate_role(role))
            set_text(e->delegate, "ViewPrivateItems",
                     !strcmp(role, "delegateWithPrivateEventAccess") ? "true" : "false");
        return;
    }
    if (e->share && !is_delegate_role(role)) {
        xmlSetProp(e->share, BAD_CAST "role", BAD_CAST role);
        return;
    }
    const char *smtp = e->delegate ? delegate_smtp(e->delegate) : exsim_attr(e->share, "smtp");
    who = exsim_store_mbx_by_addr(c->org, smtp);
    if (!who)
        return;                 /* valid_role refused delegate roles for outsiders */
    xmlNodePtr old = e->delegate ? e->delegate : e->share;
    if (is_delegate_role(role)) {
        e->delegate = add_delegate(c, who, role);
        e->share = NULL;
    } else {
        e->share = add_share(c, who->info.smtp, who->info.display_name, role);
        e->delegate = NULL;
    }
    xmlUnlinkNode(old);
    xmlFreeNode(old);
}

static int unknown_prop(exsim_gcall *c, const char *const *known)
{
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v) {
        int ok = !strncmp(k, "@odata.", 7);
        for (int i = 0; known[i] && !ok; i++)
            ok = !strcmp(known[i], k);
        if (!ok)
            return exsim_graph_error(c, 400, "RequestBodyRead", "The property '%s' does not exist on type "
                                     "'microsoft.graph.calendarPermission'. Make sure to only use property names "
                                     "that are defined by the type or mark the type as open type.", k);
    }
    return 0;
}

static int create_perm(exsim_gcall *c)
{
    static const char *const known[] = { "emailAddress", "isInsideOrganization", "isRemovable", "role",
                                         "allowedRoles", NULL };
    if (!c->body)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    int st = unknown_prop(c, known);
    if (st)
        return st;
    json_t *ea = json_object_get(c->body, "emailAddress");
    const char *addr = json_string_value(json_object_get(ea, "address"));
    const char *role = json_string_value(json_object_get(c->body, "role"));
    if (!addr || !role)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "emailAddress.address and role are required.");
    exsim_mbx *who = exsim_store_mbx_by_addr(c->org, addr);
    if (!valid_role(role, who != NULL) || !strcmp(role, "none"))
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The role '%s' is not allowed for '%s'.", role, addr);
    if (who == c->mbx)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The owner cannot be given a permission.");
    char *id = perm_id(who ? who->info.smtp : addr);
    entry e;
    int exists = id && find_entry(c, id, &e) == 0;
    free(id);
    if (exists)
        return exsim_graph_error(c, 409, "ErrorItemAlreadyExists", "'%s' already has a permission on this calendar.",
                                 addr);
    e = (entry){ 0 };
    if (is_delegate_role(role))
        e.delegate = add_delegate(c, who, role);
    else
        e.share = add_share(c, who ? who->info.smtp : addr,
                            who ? who->info.display_name : json_string_value(json_object_get(ea, "name")), role);
    return answer(c, &e, 201);
}

static int update_perm(exsim_gcall *c, entry *e)
{
    static const char *const known[] = { "role", NULL };
    if (!c->body)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    /* Only role can change (calendarPermission resource). */
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v)
        if (strcmp(k, "role") && strncmp(k, "@odata.", 7) &&
            (!strcmp(k, "emailAddress") || !strcmp(k, "isInsideOrganization") || !strcmp(k, "isRemovable") ||
             !strcmp(k, "allowedRoles")))
            return exsim_graph_error(c, 400, "ErrorInvalidRequest", "Only the role of a calendar permission can be "
                                     "updated; '%s' cannot.", k);
    int st = unknown_prop(c, known);
    if (st)
        return st;
    const char *role = json_string_value(json_object_get(c->body, "role"));
    int inside = e->is_default || e->delegate ||
                 exsim_store_mbx_by_addr(c->org, exsim_attr(e->share, "smtp")) != NULL;
    if (!role || !valid_role(role, inside) || (e->is_default && is_delegate_role(role)))
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The role '%s' is not allowed here.",
                                 role ? role : "(none)");
    if (e->is_default)
        xmlSetProp(sharing_of(c->mbx, 1), BAD_CAST "default-role", BAD_CAST role);
    else
        set_role(c, e, role);
    st = answer(c, e, 200);
    tidy_sharing(c->mbx);
    return st;
}

int exsim_graph_calperms(exsim_gcall *c)
{
    if (c->nseg == 2)
        return !strcmp(c->method, "GET") ? list_perms(c) : create_perm(c);
    entry e;
    if (find_entry(c, c->seg[2], &e))
        return exsim_graph_error(c, 404, "ErrorItemNotFound", "The specified object was not found in the store.");
    if (!strcmp(c->method, "GET"))
        return answer(c, &e, 200);
    if (!strcmp(c->method, "PATCH"))
        return update_perm(c, &e);
    if (e.is_default)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The default permission cannot be removed.");
    xmlNodePtr n = e.delegate ? e.delegate : e.share;
    xmlUnlinkNode(n);
    xmlFreeNode(n);
    tidy_sharing(c->mbx);
    return 204;
}

/* ---- mailboxSettings ------------------------------------------------------------------ */

/* EWS DeliverMeetingRequests ↔ Graph delegateMeetingMessageDeliveryOptions. */
static const char *const deliver_map[][2] = {
    { "DelegatesAndSendInformationToMe", "sendToDelegateAndInformationToPrincipal" },
    { "DelegatesAndMe", "sendToDelegateAndPrincipal" },
    { "DelegatesOnly", "sendToDelegateOnly" },
};

static const char *map_deliver(const char *v, int from, int to)
{
    for (size_t i = 0; v && i < sizeof deliver_map / sizeof deliver_map[0]; i++)
        if (!strcmp(deliver_map[i][from], v))
            return deliver_map[i][to];
    return NULL;
}

int exsim_graph_mailbox_settings(exsim_gcall *c)
{
    xmlNodePtr dels = delegates_get(c->mbx);
    json_t *ctx = exsim_graph_context(c, "users('%s')/mailboxSettings", c->user_key);
    if (!strcmp(c->method, "GET")) {
        const char *kind = exsim_attr(c->mbx->node, "kind");
        c->out = json_pack("{s:o,s:s?,s:s}", "@odata.context", ctx, "delegateMeetingMessageDeliveryOptions",
                           map_deliver(dels ? exsim_attr(dels, "deliver") : "DelegatesAndSendInformationToMe", 0, 1),
                           "userPurpose",
                           kind && strcmp(kind, "user") ? kind : "user");
        return 200;
    }
    json_decref(ctx);
    if (!c->body)
        return exsim_graph_error(c, 400, "ErrorInvalidRequest", "The request body is empty.");
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v) {
        if (!strncmp(k, "@odata.", 7) || !strcmp(k, "delegateMeetingMessageDeliveryOptions"))
            continue;
        return exsim_graph_error(c, 400, "RequestBodyRead", "The simulator keeps only "
                                 "delegateMeetingMessageDeliveryOptions of mailboxSettings, not '%s'.", k);
    }
    const char *want = json_string_value(json_object_get(c->body, "delegateMeetingMessageDeliveryOptions"));
    const char *ews = map_deliver(want, 1, 0);
    if (!ews)
        return exsim_graph_error(c, 400, "RequestBodyRead", "The value '%s' is not a member of "
                                 "'microsoft.graph.delegateMeetingMessageDeliveryOptions'.", want ? want : "(none)");
    xmlSetProp(exsim_delegates_of(c->mbx), BAD_CAST "deliver", BAD_CAST ews);
    c->out = json_pack("{s:o,s:s}", "@odata.context",
                       exsim_graph_context(c, "users('%s')/mailboxSettings", c->user_key),
                       "delegateMeetingMessageDeliveryOptions", want);
    return 200;
}
