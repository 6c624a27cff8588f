/* session.c — a store session on one mailbox over EWS: logon (Autodiscover
 * → EWS URL, explicit access or impersonation), the folder tree in one
 * FindFolder Deep, associated (FAI) items by ItemClass, batched GetItem,
 * item create/update/delete with extended properties.  Reads that need
 * several requests run them concurrently (DESIGN.md performance model). */
#include "mapi/ews_int.h"

#include <stdlib.h>
#include <string.h>

#define PAGE_SIZE 1000u
#define MAX_PAGES 100u       /* 100 000 folders/items: far beyond a mailbox */
#define GETITEM_CHUNK 100u

struct mapi_session {
    mapi_net *net;
    char *mailbox, *ews_url;
    int impersonate;
    mapi_ad_result *ad;         /* our copy of the Autodiscover answer, or NULL */
    mapi_wave *wave;            /* read waves in progress, or NULL */
};

mapi_session *mapi_session_logon(mapi_net *net, const mapi_session_opts *o, sr_err *err)
{
    if (!net || !o || !o->mailbox || !strchr(o->mailbox, '@')) {
        sr_err_set(err, SR_E_INVALID, "logon: '%s' is not an SMTP address",
                   o && o->mailbox ? o->mailbox : "(null)");
        return NULL;
    }
    const mapi_ad_result *r = NULL;
    const char *url = o->ews_url;
    if (!url) {
        if (!o->ad) {
            sr_err_set(err, SR_E_INVALID, "%s: logon needs an EWS URL or an Autodiscover handle", o->mailbox);
            return NULL;
        }
        if (mapi_ad_discover(o->ad, o->mailbox, &r, err) != SR_OK) {
            if (!o->fallback_ews_url || err->code == SR_E_NOTFOUND)
                return NULL;
            /* [RPCOverHTTP] ProxyServer names the Exchange front end */
            sr_log(SR_LOG_NOTICE, o->mailbox, "Autodiscover gave nothing (%s); using the Outlook "
                   "Anywhere host's EWS %s", err->msg, o->fallback_ews_url);
            sr_err_clear(err);
            r = NULL;
            url = o->fallback_ews_url;
        } else if (mapi_ad_check_legacy_dn(r, mapi_ad_side(o->ad), o->profile_legacy_dn, err) != SR_OK) {
            return NULL;
        } else {
            url = r->ews_url;
        }
    }
    /* Autodiscover moved the address (redirectAddr): the mailbox is the new one */
    const char *mailbox = r && r->redirects && r->smtp ? r->smtp : o->mailbox;
    if (mailbox != o->mailbox)
        sr_log(SR_LOG_INFO, o->mailbox, "Autodiscover redirected the mailbox to %s", mailbox);
    mapi_session *s = calloc(1, sizeof *s);
    if (s) {
        s->net = net;
        s->mailbox = sr_strdup(mailbox);
        s->ews_url = sr_strdup(url);
        s->impersonate = o->impersonate;
        s->ad = r ? mapi_ad_result_dup(r) : NULL;
    }
    if (!s || !s->mailbox || !s->ews_url || (r && !s->ad)) {
        mapi_session_free(s);
        sr_err_set(err, SR_E_NOMEM, "%s: out of memory", o->mailbox);
        return NULL;
    }
    sr_log(SR_LOG_INFO, s->mailbox, "logon via %s (%s)", s->ews_url,
           s->impersonate ? "impersonation" : "explicit access");
    return s;
}

void mapi_session_free(mapi_session *s)
{
    if (!s)
        return;
    free(s->mailbox);
    free(s->ews_url);
    mapi_ad_result_free(s->ad);
    mapi_wave_free(s->wave);
    free(s);
}

const char *mapi_session_ews_url(const mapi_session *s) { return s->ews_url; }
mapi_net *mapi_session_net(const mapi_session *s) { return s->net; }
const char *mapi_session_mailbox(const mapi_session *s) { return s->mailbox; }
const mapi_ad_result *mapi_session_ad(const mapi_session *s) { return s->ad; }

mapi_ews_target mapi_session_target(const mapi_session *s)
{
    mapi_ews_target t = { .server_version = mapi_net_opts(s->net)->server_version };
    if (s->impersonate)
        t.impersonate = s->mailbox;
    else
        t.mailbox = s->mailbox;
    return t;
}

sr_code mapi_session_run(mapi_session *s, mapi_ews_call *calls, size_t n, sr_err *err)
{
    for (size_t i = 0; i < n; i++) {
        calls[i].url = s->ews_url;
        calls[i].mailbox = s->mailbox;
    }
    return s->wave ? mapi_wave_run(s->wave, s->net, calls, n, err)
                   : mapi_ews_run(s->net, calls, n, err);
}

sr_code mapi_session_run_at(mapi_session *s, mapi_ews_call *calls, size_t n, sr_err *err)
{
    return s->wave ? mapi_wave_run(s->wave, s->net, calls, n, err)
                   : mapi_ews_run(s->net, calls, n, err);
}

void mapi_session_wave_reads(mapi_session *s)
{
    if (s->wave)
        mapi_wave_reads(s->wave);
}

sr_code mapi_session_wave_begin(mapi_session *s, sr_err *err)
{
    mapi_wave_free(s->wave);
    s->wave = mapi_wave_new();
    return s->wave ? SR_OK : sr_err_set(err, SR_E_NOMEM, "out of memory");
}

unsigned long mapi_session_wave_deferred(const mapi_session *s)
{
    return s->wave ? mapi_wave_deferred(s->wave) : 0;
}

sr_code mapi_session_wave_send_many(mapi_session *const *s, size_t n, sr_err *err)
{
    mapi_wave_side v[MAPI_WAVE_SIDES_MAX];
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        if (!s[i] || !s[i]->wave)
            continue;
        if (nv == MAPI_WAVE_SIDES_MAX)
            return sr_err_set(err, SR_E_INVALID, "more than %d sessions in one wave",
                              MAPI_WAVE_SIDES_MAX);
        v[nv++] = (mapi_wave_side){ .w = s[i]->wave, .net = s[i]->net, .url = s[i]->ews_url,
                                    .mailbox = s[i]->mailbox };
    }
    return mapi_wave_send_many(v, nv, err);
}

void mapi_session_wave_live(mapi_session *s)
{
    if (s->wave)
        mapi_wave_set_record(s->wave, 0);
}

void mapi_session_wave_record(mapi_session *s)
{
    if (s->wave)
        mapi_wave_set_record(s->wave, 1);
}

void mapi_session_wave_step(mapi_session *s)
{
    if (s->wave)
        mapi_wave_step(s->wave);
}

void mapi_session_wave_end(mapi_session *s)
{
    mapi_wave_free(s->wave);
    s->wave = NULL;
}

/* Run one built request (taking ownership of req) and hand the response
 * to parse. */
typedef sr_code (*parse_fn)(xmlNodePtr op, void *out, sr_err *err);

static sr_code run_one(mapi_session *s, xmlDocPtr req, int idempotent, parse_fn parse, void *out,
                       sr_err *err)
{
    if (!req)
        return err ? err->code : SR_E_INVALID;
    mapi_ews_call c = { .req = req, .idempotent = idempotent };
    sr_code rc = mapi_session_run(s, &c, 1, err);
    if (rc == SR_OK) {
        rc = parse(c.resp_op, out, err);
        if (rc != SR_OK)
            sr_err_prefix(err, "%s: %s: ", s->mailbox, s->ews_url);
    }
    xmlFreeDoc(c.resp);
    xmlFreeDoc(req);
    return rc;
}

static sr_code parse_folders_cb(xmlNodePtr op, void *out, sr_err *err)
{
    return mapi_ews_parse_findfolder(op, out, err);
}

static sr_code parse_items_cb(xmlNodePtr op, void *out, sr_err *err)
{
    return mapi_ews_parse_items(op, out, err);
}

static sr_code parse_status_cb(xmlNodePtr op, void *out, sr_err *err)
{
    (void)out;
    return mapi_ews_parse_status(op, err);
}

sr_code mapi_session_folders(mapi_session *s, mapi_folders *out, sr_err *err)
{
    static const mapi_ews_folder_ref root = { .distinguished = "msgfolderroot" };
    mapi_ews_target t = mapi_session_target(s);
    memset(out, 0, sizeof *out);
    for (unsigned page = 0; page < MAX_PAGES; page++) {
        xmlDocPtr rq = mapi_ews_req_findfolder_deep(&t, &root, (unsigned)out->n, PAGE_SIZE, err);
        sr_code rc = run_one(s, rq, 1, parse_folders_cb, out, err);
        if (rc != SR_OK)
            return rc;
        if (out->includes_last)
            return SR_OK;
    }
    return sr_err_set(err, SR_E_LIMIT, "%s: more than %u folders", s->mailbox, MAX_PAGES * PAGE_SIZE);
}

sr_code mapi_session_find_fai(mapi_session *s, const mapi_ews_folder_ref *folder,
                              const char *item_class, const mapi_extprops *want,
                              mapi_items *out, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(s);
    memset(out, 0, sizeof *out);
    for (unsigned page = 0; page < MAX_PAGES; page++) {
        xmlDocPtr rq = mapi_ews_req_finditem_fai(&t, folder, item_class, want, (unsigned)out->n,
                                                 PAGE_SIZE, err);
        sr_code rc = run_one(s, rq, 1, parse_items_cb, out, err);
        if (rc != SR_OK)
            return rc;
        if (out->includes_last)
            return SR_OK;
    }
    return sr_err_set(err, SR_E_LIMIT, "%s: more than %u associated items", s->mailbox,
                      MAX_PAGES * PAGE_SIZE);
}

sr_code mapi_session_create_item(mapi_session *s, const mapi_ews_folder_ref *folder,
                                 const char *item_class, const char *subject,
                                 const mapi_extprops *props, int associated,
                                 char **id_out, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(s);
    mapi_items got = { 0 };
    if (id_out)
        *id_out = NULL;
    xmlDocPtr rq = mapi_ews_req_createitem(&t, folder, item_class, subject, props, associated, err);
    sr_code rc = run_one(s, rq, 0, parse_items_cb, &got, err);
    /* a CreateItem refused (a full mailbox, no right) has made nothing:
     * its error, never a success without an item */
    size_t n_refused;
    const mapi_item *refused = mapi_items_refused(&got, &n_refused);
    if (rc == SR_OK && (!got.n || refused))
        rc = sr_err_set(err, refused ? refused->code : SR_E_PROTOCOL, "%s: %s: CreateItem of %s "
                        "refused: %s", s->mailbox, s->ews_url, item_class ? item_class : "an item",
                        refused && refused->response_code ? refused->response_code
                                                          : "no item in the answer");
    if (rc == SR_OK && got.n && id_out)
        *id_out = sr_strdup(got.v[0].id);
    if (rc == SR_OK)
        sr_log(SR_LOG_INFO, s->mailbox, "created %s%s item %s", associated ? "associated " : "",
               item_class ? item_class : "", got.n ? got.v[0].id : "?");
    mapi_items_clear(&got);
    return rc;
}

sr_code mapi_session_delete_items(mapi_session *s, const char *const *ids, size_t n, sr_err *err)
{
    mapi_ews_target t = mapi_session_target(s);
    for (size_t off = 0; off < n; off += GETITEM_CHUNK) {
        size_t cnt = n - off < GETITEM_CHUNK ? n - off : GETITEM_CHUNK;
        xmlDocPtr rq = mapi_ews_req_deleteitem(&t, ids + off, cnt, err);
        sr_code rc = run_one(s, rq, 0, parse_status_cb, NULL, err);
        if (rc != SR_OK)
            return rc;
    }
    return SR_OK;
}
