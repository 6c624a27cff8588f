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

/* The reads of an open, addressed for s: FindItem Associated for the switch
 * message, and (tree) FindFolder Deep on msgfolderroot.  calls has 1 + tree
 * entries. */
static sr_code open_build(mapi_session *s, const mapi_extprops *want, int tree, mapi_ews_call *calls,
                          sr_err *err)
{
    static const mapi_ews_folder_ref root = { .distinguished = "msgfolderroot" };
    mapi_ews_target t = mapi_session_target(s);
    for (int i = 0; i < 1 + tree; i++)
        calls[i] = (mapi_ews_call){ .url = mapi_session_ews_url(s), .mailbox = mapi_session_mailbox(s),
                                    .idempotent = 1 };
    if (!(calls[0].req = mapi_ews_req_finditem_fai(&t, &sm_folder, MAPI_SWITCHMSG_ITEM_CLASS, want, 0,
                                                   1000, err)) ||
        (tree && !(calls[1].req = mapi_ews_req_findfolder_deep(&t, &root, 0, 1000, err))))
        return err ? err->code : SR_E_INVALID;
    return SR_OK;
}

/* The rest of the folder tree when it did not fit one page. */
static sr_code tree_rest(mapi_session *s, mapi_folders *folders, sr_err *err)
{
    mapi_folders all;
    sr_code rc = mapi_session_folders(s, &all, err);
    if (rc == SR_OK) {
        mapi_folders_clear(folders);
        *folders = all;
    }
    return rc;
}

static sr_code open_finish(mapi_session *s, mapi_ews_call *calls, mapi_folders *folders,
                           mapi_switchmsg *m, sr_err *sm_err, sr_err *err)
{
    int tree = folders != NULL;
    if (folders)
        memset(folders, 0, sizeof *folders);
    memset(m, 0, sizeof *m);
    sr_err_clear(sm_err);
    for (int i = 0; i < 1 + tree; i++)
        if (calls[i].err.code != SR_OK) {
            if (err)
                *err = calls[i].err;
            return calls[i].err.code;
        }
    mapi_items items = { 0 };
    sr_code rc = tree ? mapi_ews_parse_findfolder(calls[1].resp_op, folders, err) : SR_OK;
    if (rc == SR_OK && (rc = mapi_ews_parse_items(calls[0].resp_op, &items, err)) == SR_OK)
        pick(s, &items, m, NULL, sm_err);
    if (rc == SR_OK && tree && !folders->includes_last)
        rc = tree_rest(s, folders, err);
    if (rc != SR_OK)
        sr_err_prefix(err, "%s: ", mapi_session_mailbox(s));
    mapi_items_clear(&items);
    return rc;
}

static void calls_free(mapi_ews_call *calls, size_t n)
{
    for (size_t i = 0; calls && i < n; i++) {
        xmlFreeDoc(calls[i].req);
        xmlFreeDoc(calls[i].resp);
    }
    free(calls);
}

sr_code mapi_session_open_many(mapi_session *const *s, size_t n, mapi_folders *folders,
                               mapi_switchmsg *msgs, sr_err *sm_errs, sr_err *errs)
{
    size_t per = folders ? 2 : 1;   /* reads per mailbox */
    mapi_ews_call *calls = calloc(per * (n ? n : 1), sizeof *calls);
    mapi_extprops want = { 0 };
    sr_err e;
    sr_err_clear(&e);
    sr_code rc = calls ? mapi_switchmsg_want(&want, &e) : sr_err_set(&e, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (folders)
            memset(&folders[i], 0, sizeof folders[i]);
        memset(&msgs[i], 0, sizeof msgs[i]);
        sr_err_clear(&sm_errs[i]);
        errs[i] = e;
        if (rc == SR_OK && open_build(s[i], &want, folders != NULL, &calls[per * i], &errs[i]) != SR_OK)
            rc = errs[i].code;
        else if (i > 0 && mapi_session_net(s[i]) != mapi_session_net(s[0]))
            rc = sr_err_set(&errs[i], SR_E_INVALID, "%s: sessions of one batch must share a network handle",
                            mapi_session_mailbox(s[i]));
    }
    if (rc == SR_OK && n) {
        /* one batch: every mailbox's reads run side by side */
        mapi_ews_run(mapi_session_net(s[0]), calls, per * n, NULL);
        for (size_t i = 0; i < n; i++) {
            sr_code r = open_finish(s[i], &calls[per * i], folders ? &folders[i] : NULL, &msgs[i],
                                    &sm_errs[i], &errs[i]);
            if (rc == SR_OK)
                rc = r;
        }
    }
    mapi_extprops_clear(&want);
    calls_free(calls, per * n);
    return rc;
}

sr_code mapi_session_open_mailbox(mapi_session *s, mapi_folders *folders, mapi_switchmsg *m,
                                  sr_err *sm_err, sr_err *err)
{
    sr_err e;
    sr_code rc = mapi_session_open_many(&s, 1, folders, m, sm_err, &e);
    if (err)
        *err = e;
    return rc;
}

sr_code mapi_session_create_switchmsg(mapi_session *s, const mapi_switchmsg *m, sr_err *err)
{
    mapi_extprops props = { 0 };
    sr_code rc = mapi_switchmsg_to_extprops(m, &props, err);
    if (rc == SR_OK)
        rc = mapi_session_create_item(s, &sm_folder, MAPI_SWITCHMSG_ITEM_CLASS, MAPI_SWITCHMSG_SUBJECT,
                                      &props, 1, NULL, err);
    mapi_extprops_clear(&props);
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
