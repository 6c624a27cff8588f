/* switchmsg_ews.c — the switch message over EWS: an associated (FAI) item of
 * class MAPI_SWITCHMSG_ITEM_CLASS in MAPI_SWITCHMSG_FOLDER whose named
 * properties carry the target (docs/switch-message.md; conversion in
 * switchmsg.c).  Reading it rides in the same round trip as the folder tree:
 * FindItem Associated returns the properties directly, so logon + tree +
 * switch message cost Autodiscover (cached per domain) + one concurrent
 * batch. */
#include "mapi/ews_int.h"

#include <stdlib.h>
#include <string.h>

static const mapi_ews_folder_ref sm_folder = { .distinguished = MAPI_SWITCHMSG_FOLDER };

sr_code mapi_switchmsg_want(mapi_extprops *l, sr_err *err)
{
    static const struct { const char *name; uint16_t type; } props[] = {
        { MAPI_SMP_VERSION, MAPI_PT_LONG },       { MAPI_SMP_LEGACYDN, MAPI_PT_UNICODE },
        { MAPI_SMP_SMTP, MAPI_PT_UNICODE },       { MAPI_SMP_IS_O365, MAPI_PT_BOOLEAN },
        { MAPI_SMP_CREATED_BY, MAPI_PT_UNICODE }, { MAPI_SMP_CREATED_AT, MAPI_PT_SYSTIME },
    };
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++)
        /* "" is a placeholder: only the addressing of a wanted property is sent */
        if (!mapi_extprops_add_named(l, MAPI_SWITCHMSG_PSET_GUID, props[i].name, props[i].type, "", err))
            return err ? err->code : SR_E_NOMEM;
    return SR_OK;
}

/* The switch message among FAI items; SR_E_NOTFOUND when there is none. */
static sr_code pick(const mapi_session *s, const mapi_items *items, mapi_switchmsg *m,
                    char **item_id, sr_err *err)
{
    const mapi_item *hit = NULL;
    size_t count = 0;
    for (size_t i = 0; i < items->n; i++)
        if (items->v[i].code == SR_OK && items->v[i].item_class &&
            strcmp(items->v[i].item_class, MAPI_SWITCHMSG_ITEM_CLASS) == 0 && count++ == 0)
            hit = &items->v[i];
    if (!hit)
        return sr_err_set(err, SR_E_NOTFOUND, "%s: no switch message in the mailbox (%s, class %s)",
                          mapi_session_mailbox(s), MAPI_SWITCHMSG_FOLDER, MAPI_SWITCHMSG_ITEM_CLASS);
    if (count > 1)
        sr_log(SR_LOG_WARN, mapi_session_mailbox(s), "%zu switch messages found; using the first", count);
    sr_code rc = mapi_switchmsg_from_extprops(&hit->props, m, err);
    if (rc != SR_OK) {
        sr_err_prefix(err, "%s: switch message %s: ", mapi_session_mailbox(s), hit->id);
        return rc;
    }
    if (item_id)
        *item_id = sr_strdup(hit->id);
    return SR_OK;
}

static sr_code find_all(mapi_session *s, mapi_items *items, sr_err *err)
{
    mapi_extprops want = { 0 };
    sr_code rc = mapi_switchmsg_want(&want, err);
    if (rc == SR_OK)
        rc = mapi_session_find_fai(s, &sm_folder, MAPI_SWITCHMSG_ITEM_CLASS, &want, items, err);
    mapi_extprops_clear(&want);
    return rc;
}

sr_code mapi_session_read_switchmsg(mapi_session *s, mapi_switchmsg *m, char **item_id, sr_err *err)
{
    mapi_items items = { 0 };
    memset(m, 0, sizeof *m);
    if (item_id)
        *item_id = NULL;
    sr_code rc = find_all(s, &items, err);
    if (rc == SR_OK)
        rc = pick(s, &items, m, item_id, err);
    mapi_items_clear(&items);
    return rc;
}

sr_code mapi_session_open_mailbox(mapi_session *s, mapi_folders *folders, mapi_switchmsg *m,
                                  sr_err *sm_err, sr_err *err)
{
    static const mapi_ews_folder_ref root = { .distinguished = "msgfolderroot" };
    memset(folders, 0, sizeof *folders);
    memset(m, 0, sizeof *m);
    sr_err_clear(sm_err);
    mapi_ews_target t = mapi_session_target(s);
    mapi_extprops want = { 0 };
    mapi_ews_call calls[2] = { { .idempotent = 1 }, { .idempotent = 1 } };
    sr_code rc = mapi_switchmsg_want(&want, err);
    if (rc == SR_OK && !(calls[0].req = mapi_ews_req_findfolder_deep(&t, &root, 0, 1000, err)))
        rc = err ? err->code : SR_E_INVALID;
    if (rc == SR_OK && !(calls[1].req = mapi_ews_req_finditem_fai(&t, &sm_folder, MAPI_SWITCHMSG_ITEM_CLASS,
                                                                  &want, 0, 1000, err)))
        rc = err ? err->code : SR_E_INVALID;
    if (rc == SR_OK)
        rc = mapi_session_run(s, calls, 2, err);
    mapi_items items = { 0 };
    if (rc == SR_OK && (rc = mapi_ews_parse_findfolder(calls[0].resp_op, folders, err)) == SR_OK &&
        (rc = mapi_ews_parse_items(calls[1].resp_op, &items, err)) == SR_OK)
        pick(s, &items, m, NULL, sm_err);
    if (rc == SR_OK && !folders->includes_last) {
        /* more than one page of folders: read the rest the ordinary way */
        mapi_folders all;
        if ((rc = mapi_session_folders(s, &all, err)) == SR_OK) {
            mapi_folders_clear(folders);
            *folders = all;
        }
    }
    mapi_items_clear(&items);
    mapi_extprops_clear(&want);
    for (int i = 0; i < 2; i++) {
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    return rc;
}

sr_code mapi_session_write_switchmsg(mapi_session *s, const mapi_switchmsg *m, int recreate,
                                     sr_err *err)
{
    mapi_extprops props = { 0 };
    mapi_items items = { 0 };
    sr_code rc = mapi_switchmsg_to_extprops(m, &props, err);
    if (rc == SR_OK)
        rc = find_all(s, &items, err);
    if (rc == SR_OK && items.n && !recreate)
        rc = sr_err_set(err, SR_E_EXISTS, "%s: a switch message exists already (RecreateSwitchMsg=0)",
                        mapi_session_mailbox(s));
    if (rc == SR_OK && items.n) {
        const char **ids = calloc(items.n, sizeof *ids);
        if (!ids)
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        for (size_t i = 0; ids && i < items.n; i++)
            ids[i] = items.v[i].id;
        if (ids)
            rc = mapi_session_delete_items(s, ids, items.n, err);
        free(ids);
        if (rc == SR_OK)
            sr_log(SR_LOG_NOTICE, mapi_session_mailbox(s), "deleted %zu old switch message(s) to recreate it",
                   items.n);
    }
    if (rc == SR_OK) {
        rc = mapi_session_create_item(s, &sm_folder, MAPI_SWITCHMSG_ITEM_CLASS, MAPI_SWITCHMSG_SUBJECT,
                                      &props, 1, NULL, err);
        /* never leave a half-done recreate unsaid */
        if (rc != SR_OK && items.n)
            sr_err_prefix(err, "the old switch message was deleted but the new one was not created: ");
    }
    mapi_items_clear(&items);
    mapi_extprops_clear(&props);
    return rc;
}
