/* props.c — GUIDs, base64/hex, MAPI property tags and types, and the
 * extended-property list EWS carries (MS-OXCDATA 2.9, 2.11.1; EWS
 * ExtendedFieldURI PropertyType values). */
#include "mapi/eid.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* ---- GUIDs ---------------------------------------------------------------- */

/* Text order of the 16 wire bytes: Data1 (LE 4), Data2 (LE 2), Data3 (LE 2),
 * Data4 (8 bytes as is). */
static const int guid_text_order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15 };

void mapi_guid_format(const mapi_guid *g, char out[MAPI_GUID_STRLEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        uint8_t b = g->b[guid_text_order[i]];
        out[o++] = hex[b >> 4];
        out[o++] = hex[b & 15];
    }
    out[o] = '\0';
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

sr_code mapi_guid_parse(const char *text, mapi_guid *g, sr_err *err)
{
    if (!text)
        return sr_err_set(err, SR_E_PARSE, "GUID: missing");
    const char *s = text;
    size_t len = strlen(s);
    int braces = len == 38 && s[0] == '{' && s[37] == '}';
    if (braces) {
        s++;
        len -= 2;
    }
    if (len != MAPI_GUID_STRLEN)
        return sr_err_set(err, SR_E_PARSE, "GUID '%.60s': expected 8-4-4-4-12 hex digits", text);
    mapi_guid tmp;
    int i = 0;
    for (size_t p = 0; p < len; ) {
        if (p == 8 || p == 13 || p == 18 || p == 23) {
            if (s[p] != '-')
                return sr_err_set(err, SR_E_PARSE, "GUID '%s': expected '-' at %zu", text, p);
            p++;
            continue;
        }
        int hi = hexval((unsigned char)s[p]), lo = hexval((unsigned char)s[p + 1]);
        if (hi < 0 || lo < 0)
            return sr_err_set(err, SR_E_PARSE, "GUID '%s': bad hex digit at %zu", text, p);
        tmp.b[guid_text_order[i++]] = (uint8_t)(hi << 4 | lo);
        p += 2;
    }
    *g = tmp;
    return SR_OK;
}

sr_code mapi_guid_random(mapi_guid *g, sr_err *err)
{
    size_t got = 0;
    for (int tries = 0; got < sizeof g->b && tries < 100; tries++) {
        ssize_t r = getrandom(g->b + got, sizeof g->b - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return sr_err_set(err, SR_E_IO, "getrandom: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    if (got < sizeof g->b)
        return sr_err_set(err, SR_E_IO, "getrandom: short read");
    /* RFC 4122 version 4, variant 10: Data3's high nibble sits in byte 7. */
    g->b[7] = (uint8_t)((g->b[7] & 0x0F) | 0x40);
    g->b[8] = (uint8_t)((g->b[8] & 0x3F) | 0x80);
    return SR_OK;
}

int mapi_guid_eq(const mapi_guid *a, const mapi_guid *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* ---- base64 ----------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *mapi_base64_encode(const void *data, size_t len)
{
    const uint8_t *in = data;
    if (len > (SIZE_MAX / 4) * 3 - 3)
        return NULL;
    char *out = malloc((len + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

static int b64val(int c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

sr_code mapi_base64_decode(const char *text, uint8_t **out, size_t *out_len, sr_err *err)
{
    *out = NULL;
    *out_len = 0;
    if (!text)
        return sr_err_set(err, SR_E_PARSE, "base64: missing");
    size_t tl = strlen(text);
    uint8_t *buf = malloc(tl / 4 * 3 + 4);
    if (!buf)
        return sr_err_set(err, SR_E_NOMEM, "base64: out of memory");
    size_t o = 0;
    int quad[4], nq = 0, pad = 0;
    for (size_t i = 0; i < tl; i++) {
        int c = (unsigned char)text[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        int v;
        if (c == '=') {
            if (nq < 2) {
                free(buf);
                return sr_err_set(err, SR_E_PARSE, "base64: misplaced '=' at offset %zu", i);
            }
            pad++;
            v = 0;
        } else {
            v = b64val(c);
            if (v < 0 || pad) {
                free(buf);
                return sr_err_set(err, SR_E_PARSE, "base64: %s at offset %zu",
                                  pad ? "data after padding" : "invalid character", i);
            }
        }
        quad[nq++] = v;
        if (nq == 4) {
            uint32_t w = (uint32_t)quad[0] << 18 | (uint32_t)quad[1] << 12 |
                         (uint32_t)quad[2] << 6 | (uint32_t)quad[3];
            buf[o++] = (uint8_t)(w >> 16);
            if (pad < 2) buf[o++] = (uint8_t)(w >> 8);
            if (pad < 1) buf[o++] = (uint8_t)w;
            nq = 0;
            if (pad)
                pad = 3;    /* nothing may follow a padded quad */
        }
    }
    if (nq != 0) {
        free(buf);
        return sr_err_set(err, SR_E_PARSE, "base64: length not a multiple of 4");
    }
    buf[o] = 0;
    *out = buf;
    *out_len = o;
    return SR_OK;
}

/* ---- hex ------------------------------------------------------------------- */

/* ---- property types --------------------------------------------------------- */

typedef struct { uint16_t type; const char *ews; const char *pt; } pt_row;

/* EWS names from the ExtendedFieldURI PropertyType table; PT_* from
 * MS-OXCDATA 2.11.1 (PtypMultiple* = base | 0x1000). */
static const pt_row pt_table[] = {
    { MAPI_PT_UNSPECIFIED, NULL, "PT_UNSPECIFIED" },
    { MAPI_PT_NULL, "Null", "PT_NULL" },
    { MAPI_PT_SHORT, "Short", "PT_SHORT" },
    { MAPI_PT_LONG, "Integer", "PT_LONG" },
    { MAPI_PT_FLOAT, "Float", "PT_FLOAT" },
    { MAPI_PT_DOUBLE, "Double", "PT_DOUBLE" },
    { MAPI_PT_CURRENCY, "Currency", "PT_CURRENCY" },
    { MAPI_PT_APPTIME, "ApplicationTime", "PT_APPTIME" },
    { MAPI_PT_ERROR, "Error", "PT_ERROR" },
    { MAPI_PT_BOOLEAN, "Boolean", "PT_BOOLEAN" },
    { MAPI_PT_OBJECT, "Object", "PT_OBJECT" },
    { MAPI_PT_I8, "Long", "PT_I8" },
    { MAPI_PT_STRING8, NULL, "PT_STRING8" },
    { MAPI_PT_UNICODE, "String", "PT_UNICODE" },
    { MAPI_PT_SYSTIME, "SystemTime", "PT_SYSTIME" },
    { MAPI_PT_CLSID, "CLSID", "PT_CLSID" },
    { MAPI_PT_SVREID, NULL, "PT_SVREID" },
    { MAPI_PT_SRESTRICT, NULL, "PT_SRESTRICT" },
    { MAPI_PT_ACTIONS, NULL, "PT_ACTIONS" },
    { MAPI_PT_BINARY, "Binary", "PT_BINARY" },
    { MAPI_MV_FLAG | MAPI_PT_SHORT, "ShortArray", "PT_MV_SHORT" },
    { MAPI_MV_FLAG | MAPI_PT_LONG, "IntegerArray", "PT_MV_LONG" },
    { MAPI_MV_FLAG | MAPI_PT_FLOAT, "FloatArray", "PT_MV_FLOAT" },
    { MAPI_MV_FLAG | MAPI_PT_DOUBLE, "DoubleArray", "PT_MV_DOUBLE" },
    { MAPI_MV_FLAG | MAPI_PT_CURRENCY, "CurrencyArray", "PT_MV_CURRENCY" },
    { MAPI_MV_FLAG | MAPI_PT_APPTIME, "ApplicationTimeArray", "PT_MV_APPTIME" },
    { MAPI_MV_FLAG | MAPI_PT_OBJECT, "ObjectArray", "PT_MV_OBJECT" },
    { MAPI_MV_FLAG | MAPI_PT_I8, "LongArray", "PT_MV_I8" },
    { MAPI_MV_FLAG | MAPI_PT_STRING8, NULL, "PT_MV_STRING8" },
    { MAPI_MV_FLAG | MAPI_PT_UNICODE, "StringArray", "PT_MV_UNICODE" },
    { MAPI_MV_FLAG | MAPI_PT_SYSTIME, "SystemTimeArray", "PT_MV_SYSTIME" },
    { MAPI_MV_FLAG | MAPI_PT_CLSID, "CLSIDArray", "PT_MV_CLSID" },
    { MAPI_MV_FLAG | MAPI_PT_BINARY, "BinaryArray", "PT_MV_BINARY" },
};
#define PT_ROWS (sizeof pt_table / sizeof pt_table[0])

const char *mapi_pt_ews_name(uint16_t type)
{
    for (size_t i = 0; i < PT_ROWS; i++)
        if (pt_table[i].type == type)
            return pt_table[i].ews;
    return NULL;
}

int mapi_pt_from_ews_name(const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < PT_ROWS; i++)
        if (pt_table[i].ews && strcmp(pt_table[i].ews, name) == 0)
            return pt_table[i].type;
    return -1;
}

const char *mapi_pt_name(uint16_t type)
{
    for (size_t i = 0; i < PT_ROWS; i++)
        if (pt_table[i].type == type)
            return pt_table[i].pt;
    return "PT_UNKNOWN";
}

sr_code mapi_prop_parse_num(const char *text, uint32_t max, uint32_t *out, sr_err *err)
{
    if (!text || !*text)
        return sr_err_set(err, SR_E_PARSE, "property number: empty");
    const char *digits = text;
    int base = 10;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        digits = text + 2;
        base = 16;
    }
    if (!*digits || strlen(digits) > 10)
        return sr_err_set(err, SR_E_PARSE, "property number '%.40s': malformed", text);
    uint64_t v = 0;
    for (const char *p = digits; *p; p++) {
        int d = base == 16 ? hexval((unsigned char)*p) : (isdigit((unsigned char)*p) ? *p - '0' : -1);
        if (d < 0)
            return sr_err_set(err, SR_E_PARSE, "property number '%.40s': bad digit '%c'", text, *p);
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > max)
        return sr_err_set(err, SR_E_PARSE, "property number '%.40s': above 0x%X", text, (unsigned)max);
    *out = (uint32_t)v;
    return SR_OK;
}

/* ---- extended property lists ----------------------------------------------- */

void mapi_extprop_clear(mapi_extprop *p)
{
    if (!p)
        return;
    free(p->name);
    for (size_t i = 0; i < p->nvalues; i++)
        free(p->values[i]);
    free(p->values);
    memset(p, 0, sizeof *p);
}

void mapi_extprops_clear(mapi_extprops *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        mapi_extprop_clear(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

sr_code mapi_extprop_add_value(mapi_extprop *p, const char *value, sr_err *err)
{
    if (!value)
        return sr_err_set(err, SR_E_INVALID, "extended property: NULL value");
    char **nv = realloc(p->values, (p->nvalues + 1) * sizeof *nv);
    if (!nv)
        return sr_err_set(err, SR_E_NOMEM, "extended property: out of memory");
    p->values = nv;
    if (!(nv[p->nvalues] = sr_strdup(value)))
        return sr_err_set(err, SR_E_NOMEM, "extended property: out of memory");
    p->nvalues++;
    return SR_OK;
}

static mapi_extprop *extprops_push(mapi_extprops *l, sr_err *err)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        mapi_extprop *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            sr_err_set(err, SR_E_NOMEM, "extended properties: out of memory");
            return NULL;
        }
        l->v = nv;
        l->cap = nc;
    }
    mapi_extprop *p = &l->v[l->n++];
    memset(p, 0, sizeof *p);
    return p;
}

/* Finish an appended property: first value, or undo the append on failure. */
static mapi_extprop *extprops_finish(mapi_extprops *l, mapi_extprop *p, const char *value, sr_err *err)
{
    if (value && mapi_extprop_add_value(p, value, err) != SR_OK) {
        mapi_extprop_clear(p);
        l->n--;
        return NULL;
    }
    return p;
}

mapi_extprop *mapi_extprops_add_named(mapi_extprops *l, const char *set_guid,
                                      const char *name, uint16_t type,
                                      const char *value, sr_err *err)
{
    mapi_guid g;
    if (!name || !*name) {
        sr_err_set(err, SR_E_INVALID, "extended property: empty name");
        return NULL;
    }
    if (mapi_guid_parse(set_guid, &g, err) != SR_OK)
        return NULL;
    if (!mapi_pt_ews_name(type)) {
        sr_err_set(err, SR_E_INVALID, "extended property %s: type 0x%04X has no EWS name", name, type);
        return NULL;
    }
    if (!value && !(type & MAPI_MV_FLAG)) {
        sr_err_set(err, SR_E_INVALID, "extended property %s: single-valued without a value", name);
        return NULL;
    }
    mapi_extprop *p = extprops_push(l, err);
    if (!p)
        return NULL;
    p->kind = MAPI_XP_NAME;
    mapi_guid_format(&g, p->set_guid);
    p->type = type;
    if (!(p->name = sr_strdup(name))) {
        l->n--;
        sr_err_set(err, SR_E_NOMEM, "extended property: out of memory");
        return NULL;
    }
    return extprops_finish(l, p, value, err);
}

mapi_extprop *mapi_extprops_add_tag(mapi_extprops *l, uint16_t id, uint16_t type,
                                    const char *value, sr_err *err)
{
    if (id >= 0x8000) {
        /* EWS refuses PropertyTag in the named range (ExtendedFieldURI remarks). */
        sr_err_set(err, SR_E_INVALID, "extended property 0x%04X: tag in the named range", id);
        return NULL;
    }
    if (!mapi_pt_ews_name(type)) {
        sr_err_set(err, SR_E_INVALID, "extended property 0x%04X: type 0x%04X has no EWS name", id, type);
        return NULL;
    }
    if (!value && !(type & MAPI_MV_FLAG)) {
        sr_err_set(err, SR_E_INVALID, "extended property 0x%04X: single-valued without a value", id);
        return NULL;
    }
    mapi_extprop *p = extprops_push(l, err);
    if (!p)
        return NULL;
    p->kind = MAPI_XP_TAG;
    p->id = id;
    p->type = type;
    return extprops_finish(l, p, value, err);
}

const mapi_extprop *mapi_extprops_find_named(const mapi_extprops *l,
                                             const char *set_guid, const char *name)
{
    if (!l || !set_guid || !name)
        return NULL;
    for (size_t i = 0; i < l->n; i++) {
        const mapi_extprop *p = &l->v[i];
        if (p->kind == MAPI_XP_NAME && p->name && strcmp(p->name, name) == 0 &&
            sr_streq_ci(p->set_guid, set_guid))
            return p;
    }
    return NULL;
}

const mapi_extprop *mapi_extprops_find_tag(const mapi_extprops *l, uint16_t id)
{
    if (!l)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].kind == MAPI_XP_TAG && l->v[i].id == id)
            return &l->v[i];
    return NULL;
}
