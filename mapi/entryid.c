/* entryid.c — encode/decode the long-term EntryIDs of MS-OXCDATA 2.2:
 * Address Book (2.2.5.2), One-Off (2.2.5.1), Contact Address (2.2.5.3),
 * Folder (2.2.4.1), Message (2.2.4.2) and Store Object (2.2.4.3).
 * Every read goes through a bounds-checked cursor: a decoder never reads past
 * the buffer, whatever the bytes say. */
#include "mapi/eid.h"

#include <stdlib.h>
#include <string.h>

#define G(...) { { __VA_ARGS__ } }
const mapi_guid MAPI_UID_ADDRBOOK = G(0xDC, 0xA7, 0x40, 0xC8, 0xC0, 0x42, 0x10, 0x1A,
                                      0xB4, 0xB9, 0x08, 0x00, 0x2B, 0x2F, 0xE1, 0x82);
const mapi_guid MAPI_UID_ONEOFF = G(0x81, 0x2B, 0x1F, 0xA4, 0xBE, 0xA3, 0x10, 0x19,
                                    0x9D, 0x6E, 0x00, 0xDD, 0x01, 0x0F, 0x54, 0x02);
const mapi_guid MAPI_UID_CONTACT = G(0xFE, 0x42, 0xAA, 0x0A, 0x18, 0xC7, 0x1A, 0x10,
                                     0xE8, 0x85, 0x0B, 0x65, 0x1C, 0x24, 0x00, 0x00);
const mapi_guid MAPI_UID_STORE = G(0x38, 0xA1, 0xBB, 0x10, 0x05, 0xE5, 0x10, 0x1A,
                                   0xA1, 0xBB, 0x08, 0x00, 0x2B, 0x2A, 0x56, 0xC2);
const mapi_guid MAPI_UID_WRAP_PRIVATE = G(0x1B, 0x55, 0xFA, 0x20, 0xAA, 0x66, 0x11, 0xCD,
                                          0x9B, 0xC8, 0x00, 0xAA, 0x00, 0x2F, 0xC4, 0x5A);
const mapi_guid MAPI_UID_WRAP_PUBLIC = G(0x1C, 0x83, 0x02, 0x10, 0xAA, 0x66, 0x11, 0xCD,
                                         0x9B, 0xC8, 0x00, 0xAA, 0x00, 0x2F, 0xC4, 0x5A);
#undef G

#define STORE_DLL "emsmdb.dll"
#define STORE_DLL_LEN 14    /* DLLFileName: NUL-padded to 14 bytes */
#define FOLDER_EID_LEN 46
#define MESSAGE_EID_LEN 70

const char *mapi_eid_kind_name(mapi_eid_kind k)
{
    switch (k) {
    case MAPI_EID_UNKNOWN: return "Unknown";
    case MAPI_EID_ADDRBOOK: return "AddressBook";
    case MAPI_EID_ONEOFF: return "OneOff";
    case MAPI_EID_CONTACT: return "ContactAddress";
    case MAPI_EID_FOLDER: return "Folder";
    case MAPI_EID_MESSAGE: return "Message";
    case MAPI_EID_STORE: return "Store";
    }
    return "Unknown";
}

void mapi_eid_clear(mapi_eid *e)
{
    if (!e)
        return;
    free(e->x500dn);
    free(e->display_name);
    free(e->addr_type);
    free(e->address);
    free(e->contact_eid);
    free(e->server);
    free(e->mailbox_dn);
    free(e->store_ext);
    memset(e, 0, sizeof *e);
}

/* ---- reading ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t len, off;
    sr_err *err;
    const char *what;   /* EntryID kind, for messages */
} rd;

static sr_code rd_short(rd *r, const char *field, size_t need)
{
    return sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %s at offset %zu: need %zu bytes, %zu left",
                      r->what, field, r->off, need, r->len - r->off);
}

static sr_code rd_bytes(rd *r, const char *field, void *out, size_t n)
{
    if (r->len - r->off < n)
        return rd_short(r, field, n);
    memcpy(out, r->p + r->off, n);
    r->off += n;
    return SR_OK;
}

static sr_code rd_u16(rd *r, const char *field, uint16_t *v)
{
    uint8_t b[2] = { 0 };
    sr_code rc = rd_bytes(r, field, b, 2);
    if (rc == SR_OK)
        *v = (uint16_t)(b[0] | b[1] << 8);
    return rc;
}

static sr_code rd_u32(rd *r, const char *field, uint32_t *v)
{
    uint8_t b[4] = { 0 };
    sr_code rc = rd_bytes(r, field, b, 4);
    if (rc == SR_OK)
        *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return rc;
}

static sr_code rd_expect_u32(rd *r, const char *field, uint32_t want)
{
    size_t at = r->off;
    uint32_t v = 0;
    sr_code rc = rd_u32(r, field, &v);
    if (rc == SR_OK && v != want)
        rc = sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %s at offset %zu: expected 0x%08X, got 0x%08X",
                        r->what, field, at, (unsigned)want, (unsigned)v);
    return rc;
}

/* NUL-terminated 8-bit string that must end inside the buffer. */
static sr_code rd_cstr(rd *r, const char *field, char **out)
{
    const uint8_t *start = r->p + r->off;
    const uint8_t *nul = memchr(start, 0, r->len - r->off);
    if (!nul)
        return sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %s at offset %zu: no terminating NUL",
                          r->what, field, r->off);
    size_t n = (size_t)(nul - start);
    if (!(*out = malloc(n + 1)))
        return sr_err_set(r->err, SR_E_NOMEM, "%s EntryID: out of memory", r->what);
    memcpy(*out, start, n + 1);
    r->off += n + 1;
    return SR_OK;
}

/* UTF-16LE string up to a 0x0000 unit inside the buffer, converted to UTF-8. */
static sr_code rd_wstr(rd *r, const char *field, char **out)
{
    size_t at = r->off, units = 0;
    for (;; units++) {
        if (r->len - r->off < 2 * (units + 1))
            return sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %s at offset %zu: no terminating NUL",
                              r->what, field, at);
        const uint8_t *u = r->p + r->off + 2 * units;
        if (u[0] == 0 && u[1] == 0)
            break;
    }
    char *s = malloc(units * 3 + 1);    /* a unit gives at most 3 bytes; a pair 4 for 2 units */
    if (!s)
        return sr_err_set(r->err, SR_E_NOMEM, "%s EntryID: out of memory", r->what);
    size_t o = 0;
    for (size_t i = 0; i < units; i++) {
        const uint8_t *u = r->p + r->off + 2 * i;
        uint32_t c = (uint32_t)(u[0] | u[1] << 8);
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < units) {
            uint32_t c2 = (uint32_t)(u[2] | u[3] << 8);
            if (c2 >= 0xDC00 && c2 <= 0xDFFF) {
                c = 0x10000 + ((c - 0xD800) << 10) + (c2 - 0xDC00);
                i++;
            }
        }
        if (c >= 0xD800 && c <= 0xDFFF) {
            free(s);
            return sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %s at offset %zu: unpaired surrogate",
                              r->what, field, r->off + 2 * i);
        }
        if (c < 0x80) {
            s[o++] = (char)c;
        } else if (c < 0x800) {
            s[o++] = (char)(0xC0 | c >> 6);
            s[o++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            s[o++] = (char)(0xE0 | c >> 12);
            s[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            s[o++] = (char)(0x80 | (c & 0x3F));
        } else {
            s[o++] = (char)(0xF0 | c >> 18);
            s[o++] = (char)(0x80 | ((c >> 12) & 0x3F));
            s[o++] = (char)(0x80 | ((c >> 6) & 0x3F));
            s[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    s[o] = '\0';
    *out = s;
    r->off += 2 * (units + 1);
    return SR_OK;
}

static sr_code rd_end(rd *r)
{
    if (r->off != r->len)
        return sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %zu unexpected bytes after offset %zu",
                          r->what, r->len - r->off, r->off);
    return SR_OK;
}

/* ---- decoders, one per kind (cursor sits after Flags and ProviderUID) ------------ */

static sr_code dec_addrbook(rd *r, mapi_eid *e)
{
    sr_code rc;
    if ((rc = rd_expect_u32(r, "Version", 1)) || (rc = rd_u32(r, "Type", &e->ab_type)) ||
        (rc = rd_cstr(r, "X500DN", &e->x500dn)))
        return rc;
    return rd_end(r);
}

static sr_code dec_oneoff(rd *r, mapi_eid *e)
{
    uint16_t version = 0;
    sr_code rc;
    if ((rc = rd_u16(r, "Version", &version)))
        return rc;
    if (version != 0)
        return sr_err_set(r->err, SR_E_PARSE, "OneOff EntryID: Version at offset 20: expected 0, got %u",
                          version);
    if ((rc = rd_u16(r, "Flags word", &e->oneoff_flags)))
        return rc;
    if (e->oneoff_flags & MAPI_ONEOFF_UNICODE) {
        if ((rc = rd_wstr(r, "DisplayName", &e->display_name)) ||
            (rc = rd_wstr(r, "AddressType", &e->addr_type)) ||
            (rc = rd_wstr(r, "EmailAddress", &e->address)))
            return rc;
    } else if ((rc = rd_cstr(r, "DisplayName", &e->display_name)) ||
               (rc = rd_cstr(r, "AddressType", &e->addr_type)) ||
               (rc = rd_cstr(r, "EmailAddress", &e->address))) {
        return rc;
    }
    return rd_end(r);
}

static sr_code dec_contact(rd *r, mapi_eid *e)
{
    uint32_t count = 0;
    sr_code rc;
    if ((rc = rd_expect_u32(r, "Version", 3)) || (rc = rd_u32(r, "Type", &e->contact_type)) ||
        (rc = rd_u32(r, "Index", &e->contact_index)) || (rc = rd_u32(r, "EntryIdCount", &count)))
        return rc;
    if (count > r->len - r->off)
        return rd_short(r, "EntryIdBytes", count);
    if (!(e->contact_eid = malloc(count ? count : 1)))
        return sr_err_set(r->err, SR_E_NOMEM, "ContactAddress EntryID: out of memory");
    e->contact_eid_len = count;
    if ((rc = rd_bytes(r, "EntryIdBytes", e->contact_eid, count)))
        return rc;
    return rd_end(r);
}

static sr_code dec_store(rd *r, mapi_eid *e)
{
    uint8_t version = 0, flag = 0, dll[STORE_DLL_LEN] = { 0 };
    mapi_guid wuid;
    sr_code rc;
    if ((rc = rd_bytes(r, "Version", &version, 1)) || (rc = rd_bytes(r, "Flag", &flag, 1)))
        return rc;
    if (version != 0 || flag != 0)
        return sr_err_set(r->err, SR_E_PARSE, "Store EntryID: Version/Flag at offset 20: expected 0/0, got %u/%u",
                          version, flag);
    if ((rc = rd_bytes(r, "DLLFileName", dll, sizeof dll)))
        return rc;
    if (memcmp(dll, STORE_DLL, sizeof STORE_DLL) != 0 ||
        memcmp(dll + sizeof STORE_DLL, "\0\0\0", 3) != 0)
        return sr_err_set(r->err, SR_E_PARSE, "Store EntryID: DLLFileName at offset 22: not \"emsmdb.dll\"");
    if ((rc = rd_u32(r, "WrappedFlags", &e->wrapped_flags)) ||
        (rc = rd_bytes(r, "WrappedProviderUID", wuid.b, 16)) ||
        (rc = rd_u32(r, "WrappedType", &e->wrapped_type)))
        return rc;
    if (mapi_guid_eq(&wuid, &MAPI_UID_WRAP_PRIVATE)) {
        e->store_kind = MAPI_STORE_PRIVATE;
    } else if (mapi_guid_eq(&wuid, &MAPI_UID_WRAP_PUBLIC)) {
        e->store_kind = MAPI_STORE_PUBLIC;
    } else {
        char g[MAPI_GUID_STRLEN + 1];
        mapi_guid_format(&wuid, g);
        return sr_err_set(r->err, SR_E_UNSUPPORTED, "Store EntryID: unknown WrappedProviderUID %s at offset 40", g);
    }
    if ((rc = rd_cstr(r, "ServerShortname", &e->server)))
        return rc;
    /* A public store may end right after the server name. */
    if (r->off == r->len && e->store_kind == MAPI_STORE_PUBLIC)
        return SR_OK;
    if ((rc = rd_cstr(r, "MailboxDN", &e->mailbox_dn)))
        return rc;
    size_t rest = r->len - r->off;
    if (rest) {
        /* Exchange 2013+ v2/v3 extension: kept verbatim (see mapi.h). */
        if (!(e->store_ext = malloc(rest)))
            return sr_err_set(r->err, SR_E_NOMEM, "Store EntryID: out of memory");
        e->store_ext_len = rest;
        return rd_bytes(r, "extension", e->store_ext, rest);
    }
    return SR_OK;
}

/* Folder and Message EntryIDs have a mailbox-specific ProviderUID, so they
 * are recognised by length and object type. */
static int folder_type_ok(uint16_t t)
{
    return t == MAPI_EIT_PRIVATE_FOLDER || t == MAPI_EIT_PUBLIC_FOLDER ||
           t == MAPI_EIT_MAPPED_PUBLIC_FOLDER || t == MAPI_EIT_PUBLIC_NEWSGROUP_FOLDER;
}

static int message_type_ok(uint16_t t)
{
    return t == MAPI_EIT_PRIVATE_MESSAGE || t == MAPI_EIT_PUBLIC_MESSAGE ||
           t == MAPI_EIT_MAPPED_PUBLIC_MESSAGE;
}

static sr_code rd_pad2(rd *r, const char *field)
{
    uint16_t pad = 0;
    sr_code rc = rd_u16(r, field, &pad);
    if (rc == SR_OK && pad != 0)
        rc = sr_err_set(r->err, SR_E_PARSE, "%s EntryID: %s at offset %zu: not zero", r->what, field, r->off - 2);
    return rc;
}

static sr_code dec_folder_or_message(rd *r, mapi_eid *e)
{
    sr_code rc;
    if ((rc = rd_u16(r, "ObjectType", &e->object_type)))
        return rc;
    int msg = r->len == MESSAGE_EID_LEN && message_type_ok(e->object_type);
    int fld = r->len == FOLDER_EID_LEN && folder_type_ok(e->object_type);
    if (!msg && !fld) {
        char g[MAPI_GUID_STRLEN + 1];
        mapi_guid_format(&e->provider_uid, g);
        return sr_err_set(r->err, SR_E_UNSUPPORTED,
                          "EntryID of %zu bytes: unknown ProviderUID %s (type 0x%04X)",
                          r->len, g, e->object_type);
    }
    e->kind = msg ? MAPI_EID_MESSAGE : MAPI_EID_FOLDER;
    r->what = mapi_eid_kind_name(e->kind);
    if ((rc = rd_bytes(r, "DatabaseGuid", e->folder_db_guid.b, 16)) ||
        (rc = rd_bytes(r, "GlobalCounter", e->folder_counter, 6)) || (rc = rd_pad2(r, "Pad")))
        return rc;
    if (msg && ((rc = rd_bytes(r, "MessageDatabaseGuid", e->message_db_guid.b, 16)) ||
                (rc = rd_bytes(r, "MessageGlobalCounter", e->message_counter, 6)) ||
                (rc = rd_pad2(r, "Pad"))))
        return rc;
    return rd_end(r);
}

sr_code mapi_eid_decode(const uint8_t *buf, size_t len, mapi_eid *e, sr_err *err)
{
    memset(e, 0, sizeof *e);
    if (!buf && len)
        return sr_err_set(err, SR_E_INVALID, "EntryID: NULL buffer");
    rd r = { buf, len, 0, err, "" };
    sr_code rc = rd_expect_u32(&r, "Flags", 0);
    if (rc == SR_OK)
        rc = rd_bytes(&r, "ProviderUID", e->provider_uid.b, 16);
    if (rc != SR_OK) {
        mapi_eid_clear(e);
        return rc;
    }
    const mapi_guid *u = &e->provider_uid;
    if (mapi_guid_eq(u, &MAPI_UID_ADDRBOOK))
        e->kind = MAPI_EID_ADDRBOOK, r.what = "AddressBook", rc = dec_addrbook(&r, e);
    else if (mapi_guid_eq(u, &MAPI_UID_ONEOFF))
        e->kind = MAPI_EID_ONEOFF, r.what = "OneOff", rc = dec_oneoff(&r, e);
    else if (mapi_guid_eq(u, &MAPI_UID_CONTACT))
        e->kind = MAPI_EID_CONTACT, r.what = "ContactAddress", rc = dec_contact(&r, e);
    else if (mapi_guid_eq(u, &MAPI_UID_STORE))
        e->kind = MAPI_EID_STORE, r.what = "Store", rc = dec_store(&r, e);
    else
        rc = dec_folder_or_message(&r, e);
    if (rc != SR_OK)
        mapi_eid_clear(e);
    return rc;
}

/* ---- writing ---------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int oom;
} wr;

static void wr_bytes(wr *w, const void *data, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t nc = w->cap ? w->cap : 64;
        while (nc < w->len + n)
            nc *= 2;
        uint8_t *np = realloc(w->p, nc);
        if (!np) {
            w->oom = 1;
            return;
        }
        w->p = np;
        w->cap = nc;
    }
    memcpy(w->p + w->len, data, n);
    w->len += n;
}

static void wr_u16(wr *w, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
    wr_bytes(w, b, 2);
}

static void wr_u32(wr *w, uint32_t v)
{
    uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    wr_bytes(w, b, 4);
}

static void wr_cstr(wr *w, const char *s)
{
    wr_bytes(w, s, strlen(s) + 1);
}

/* UTF-8 → UTF-16LE with terminator; SR_E_INVALID on malformed UTF-8. */
static sr_code wr_wstr(wr *w, const char *s, const char *field, sr_err *err)
{
    const uint8_t *p = (const uint8_t *)s;
    while (*p) {
        uint32_t c;
        int n;
        if (*p < 0x80) c = *p, n = 0;
        else if ((*p & 0xE0) == 0xC0) c = *p & 0x1F, n = 1;
        else if ((*p & 0xF0) == 0xE0) c = *p & 0x0F, n = 2;
        else if ((*p & 0xF8) == 0xF0) c = *p & 0x07, n = 3;
        else return sr_err_set(err, SR_E_INVALID, "OneOff EntryID: %s: invalid UTF-8", field);
        p++;
        for (int i = 0; i < n; i++, p++) {
            if ((*p & 0xC0) != 0x80)
                return sr_err_set(err, SR_E_INVALID, "OneOff EntryID: %s: invalid UTF-8", field);
            c = c << 6 | (*p & 0x3F);
        }
        if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return sr_err_set(err, SR_E_INVALID, "OneOff EntryID: %s: invalid code point", field);
        if (c >= 0x10000) {
            c -= 0x10000;
            wr_u16(w, (uint16_t)(0xD800 + (c >> 10)));
            wr_u16(w, (uint16_t)(0xDC00 + (c & 0x3FF)));
        } else {
            wr_u16(w, (uint16_t)c);
        }
    }
    wr_u16(w, 0);
    return SR_OK;
}

static sr_code need(const char *s, const char *kind, const char *field, sr_err *err)
{
    return s ? SR_OK : sr_err_set(err, SR_E_INVALID, "%s EntryID: %s missing", kind, field);
}

static sr_code enc_body(const mapi_eid *e, wr *w, sr_err *err)
{
    sr_code rc;
    switch (e->kind) {
    case MAPI_EID_ADDRBOOK:
        if ((rc = need(e->x500dn, "AddressBook", "X500DN", err)))
            return rc;
        wr_u32(w, 1);
        wr_u32(w, e->ab_type);
        wr_cstr(w, e->x500dn);
        return SR_OK;
    case MAPI_EID_ONEOFF:
        if ((rc = need(e->display_name, "OneOff", "DisplayName", err)) ||
            (rc = need(e->addr_type, "OneOff", "AddressType", err)) ||
            (rc = need(e->address, "OneOff", "EmailAddress", err)))
            return rc;
        wr_u16(w, 0);
        wr_u16(w, e->oneoff_flags);
        if (!(e->oneoff_flags & MAPI_ONEOFF_UNICODE)) {
            wr_cstr(w, e->display_name);
            wr_cstr(w, e->addr_type);
            wr_cstr(w, e->address);
            return SR_OK;
        }
        if ((rc = wr_wstr(w, e->display_name, "DisplayName", err)) ||
            (rc = wr_wstr(w, e->addr_type, "AddressType", err)))
            return rc;
        return wr_wstr(w, e->address, "EmailAddress", err);
    case MAPI_EID_CONTACT:
        if (e->contact_eid_len > UINT32_MAX || (!e->contact_eid && e->contact_eid_len))
            return sr_err_set(err, SR_E_INVALID, "ContactAddress EntryID: bad EntryIdBytes");
        wr_u32(w, 3);
        wr_u32(w, e->contact_type);
        wr_u32(w, e->contact_index);
        wr_u32(w, (uint32_t)e->contact_eid_len);
        wr_bytes(w, e->contact_eid, e->contact_eid_len);
        return SR_OK;
    case MAPI_EID_FOLDER:
    case MAPI_EID_MESSAGE:
        if (e->kind == MAPI_EID_FOLDER ? !folder_type_ok(e->object_type) : !message_type_ok(e->object_type))
            return sr_err_set(err, SR_E_INVALID, "%s EntryID: object type 0x%04X does not fit",
                              mapi_eid_kind_name(e->kind), e->object_type);
        wr_u16(w, e->object_type);
        wr_bytes(w, e->folder_db_guid.b, 16);
        wr_bytes(w, e->folder_counter, 6);
        wr_u16(w, 0);
        if (e->kind == MAPI_EID_MESSAGE) {
            wr_bytes(w, e->message_db_guid.b, 16);
            wr_bytes(w, e->message_counter, 6);
            wr_u16(w, 0);
        }
        return SR_OK;
    case MAPI_EID_STORE: {
        if ((rc = need(e->server, "Store", "ServerShortname", err)))
            return rc;
        if (e->store_kind == MAPI_STORE_PRIVATE && (rc = need(e->mailbox_dn, "Store", "MailboxDN", err)))
            return rc;
        uint8_t vf[2] = { 0, 0 }, dll[STORE_DLL_LEN] = { 0 };
        memcpy(dll, STORE_DLL, sizeof STORE_DLL);
        wr_bytes(w, vf, 2);
        wr_bytes(w, dll, sizeof dll);
        wr_u32(w, e->wrapped_flags);
        wr_bytes(w, (e->store_kind == MAPI_STORE_PUBLIC ? &MAPI_UID_WRAP_PUBLIC : &MAPI_UID_WRAP_PRIVATE)->b, 16);
        wr_u32(w, e->wrapped_type);
        wr_cstr(w, e->server);
        if (e->mailbox_dn)
            wr_cstr(w, e->mailbox_dn);
        if (e->store_ext_len)
            wr_bytes(w, e->store_ext, e->store_ext_len);
        return SR_OK;
    }
    case MAPI_EID_UNKNOWN:
        break;
    }
    return sr_err_set(err, SR_E_INVALID, "EntryID: cannot encode kind %d", (int)e->kind);
}

static const mapi_guid *fixed_uid(mapi_eid_kind k)
{
    switch (k) {
    case MAPI_EID_ADDRBOOK: return &MAPI_UID_ADDRBOOK;
    case MAPI_EID_ONEOFF: return &MAPI_UID_ONEOFF;
    case MAPI_EID_CONTACT: return &MAPI_UID_CONTACT;
    case MAPI_EID_STORE: return &MAPI_UID_STORE;
    default: return NULL;   /* folder/message: the mailbox's own GUID */
    }
}

sr_code mapi_eid_encode(const mapi_eid *e, uint8_t **out, size_t *out_len, sr_err *err)
{
    *out = NULL;
    *out_len = 0;
    wr w = { 0 };
    const mapi_guid *uid = fixed_uid(e->kind);
    wr_u32(&w, 0);
    wr_bytes(&w, (uid ? uid : &e->provider_uid)->b, 16);
    sr_code rc = enc_body(e, &w, err);
    if (rc == SR_OK && w.oom)
        rc = sr_err_set(err, SR_E_NOMEM, "EntryID: out of memory");
    if (rc != SR_OK) {
        free(w.p);
        return rc;
    }
    *out = w.p;
    *out_len = w.len;
    return SR_OK;
}
