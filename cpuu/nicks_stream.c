/* nicks_stream.c — the autocomplete stream codec (nicks.h).  Every read is
 * bounds-checked against the remaining length before it happens; counts
 * from the stream never size an allocation beyond what the bytes left can
 * hold. */
#include "cpuu/nicks.h"

#include <stdlib.h>
#include <string.h>

typedef struct rd {
    const uint8_t *b;
    size_t n, off;
} rd;

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static int need(rd *r, size_t k, const char *what, sr_err *err)
{
    if (r->n - r->off < k) {
        sr_err_set(err, SR_E_PARSE, "autocomplete stream truncated at offset %zu (%s: %zu bytes "
                   "needed, %zu left)", r->off, what, k, r->n - r->off);
        return -1;
    }
    return 0;
}

static int get32(rd *r, uint32_t *v, const char *what, sr_err *err)
{
    if (need(r, 4, what, err) != 0)
        return -1;
    *v = le32(r->b + r->off);
    r->off += 4;
    return 0;
}

/* Size of one fixed-size element of a property type, 0 when variable/unknown. */
static size_t fixed_size(uint16_t type)
{
    switch (type) {
    case 0x0002: return 2;      /* PT_I2 */
    case 0x0003: return 4;      /* PT_LONG */
    case 0x0004: return 4;      /* PT_R4 */
    case 0x0005: return 8;      /* PT_DOUBLE */
    case 0x0006: return 8;      /* PT_CURRENCY */
    case 0x0007: return 8;      /* PT_APPTIME */
    case 0x000A: return 4;      /* PT_ERROR */
    case 0x000B: return 2;      /* PT_BOOLEAN */
    case 0x0014: return 8;      /* PT_I8 */
    case 0x0040: return 8;      /* PT_SYSTIME */
    case 0x0048: return 16;     /* PT_CLSID (value data, not the union) */
    default: return 0;
    }
}

static int is_counted(uint16_t type)
{
    return type == NK_PT_STRING8 || type == NK_PT_UNICODE || type == NK_PT_BINARY;
}

/* Length of the value data of a property of this type starting at r->off. */
static sr_code value_len(rd *r, uint32_t tag, size_t *len, sr_err *err)
{
    uint16_t type = (uint16_t)(tag & 0xFFFF);
    size_t start = r->off;
    uint32_t cnt;
    if (type == 0x0001 || (fixed_size(type) && type != 0x0048)) {
        *len = 0;                                   /* in the union */
        return SR_OK;
    }
    if (type == 0x0048) {
        if (need(r, 16, "PT_CLSID value", err) != 0)
            return SR_E_PARSE;
        r->off += 16;
    } else if (is_counted(type)) {
        if (get32(r, &cnt, "value byte count", err) != 0 || need(r, cnt, "value bytes", err) != 0)
            return SR_E_PARSE;
        r->off += cnt;
    } else if (type & 0x1000) {
        uint16_t base = type & 0x0FFF;
        if (get32(r, &cnt, "multi-value count", err) != 0)
            return SR_E_PARSE;
        if (fixed_size(base)) {
            size_t es = fixed_size(base);
            if (cnt > (r->n - r->off) / es) {
                need(r, (size_t)cnt * es, "multi-values", err);
                return SR_E_PARSE;
            }
            r->off += (size_t)cnt * es;
        } else if (is_counted(base)) {
            for (uint32_t i = 0; i < cnt; i++) {
                uint32_t bl;
                if (get32(r, &bl, "multi-value byte count", err) != 0 ||
                    need(r, bl, "multi-value bytes", err) != 0)
                    return SR_E_PARSE;
                r->off += bl;
            }
        } else {
            return sr_err_set(err, SR_E_UNSUPPORTED, "autocomplete stream: property 0x%08X at "
                              "offset %zu has a type we cannot size", tag, start - 16);
        }
    } else {
        return sr_err_set(err, SR_E_UNSUPPORTED, "autocomplete stream: property 0x%08X at offset "
                          "%zu has a type we cannot size", tag, start - 16);
    }
    *len = r->off - start;
    return SR_OK;
}

static sr_code parse_row(rd *r, nk_row *row, sr_err *err)
{
    uint32_t np;
    if (get32(r, &np, "property count", err) != 0)
        return SR_E_PARSE;
    if (np > (r->n - r->off) / 16) {   /* each property has 16 fixed bytes */
        return sr_err_set(err, SR_E_PARSE, "autocomplete stream: %u properties at offset %zu do "
                          "not fit in the %zu bytes left", np, r->off - 4, r->n - r->off);
    }
    row->p = calloc(np ? np : 1, sizeof *row->p);
    if (!row->p)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (uint32_t i = 0; i < np; i++) {
        nk_prop *p = &row->p[i];
        if (need(r, 16, "property header", err) != 0)
            return SR_E_PARSE;
        p->tag = le32(r->b + r->off);
        p->reserved = le32(r->b + r->off + 4);
        memcpy(p->un, r->b + r->off + 8, 8);
        r->off += 16;
        row->n++;
        size_t start = r->off, len = 0;
        sr_code rc = value_len(r, p->tag, &len, err);
        if (rc != SR_OK)
            return rc;
        if (len) {
            if (!(p->data = malloc(len)))
                return sr_err_set(err, SR_E_NOMEM, "out of memory");
            memcpy(p->data, r->b + start, len);
            p->len = len;
        }
    }
    return SR_OK;
}

sr_code nk_parse(const uint8_t *buf, size_t len, nk_stream *s, sr_err *err)
{
    memset(s, 0, sizeof *s);
    rd r = {.b = buf, .n = buf ? len : 0};
    uint32_t nrows, ei;
    sr_code rc = SR_E_PARSE;
    if (need(&r, 16, "header", err) != 0)
        goto fail;
    memcpy(s->meta_head, buf, 4);
    s->major = le32(buf + 4);
    s->minor = le32(buf + 8);
    nrows = le32(buf + 12);
    r.off = 16;
    if (s->major != NK_MAJOR) {
        rc = sr_err_set(err, SR_E_UNSUPPORTED, "autocomplete stream major version %u (only %u is "
                        "read or written)", s->major, NK_MAJOR);
        goto fail;
    }
    if (nrows > (r.n - r.off) / 4) {
        rc = sr_err_set(err, SR_E_PARSE, "autocomplete stream: %u rows do not fit in %zu bytes",
                        nrows, r.n - r.off);
        goto fail;
    }
    s->rows = calloc(nrows ? nrows : 1, sizeof *s->rows);
    if (!s->rows) {
        rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
        goto fail;
    }
    for (uint32_t i = 0; i < nrows; i++) {
        s->nrows++;
        if ((rc = parse_row(&r, &s->rows[i], err)) != SR_OK) {
            sr_err_prefix(err, "row %u: ", i + 1);
            goto fail;
        }
    }
    rc = SR_E_PARSE;
    if (get32(&r, &ei, "extra-info size", err) != 0 || need(&r, ei, "extra info", err) != 0)
        goto fail;
    if (ei) {
        if (!(s->extra = malloc(ei))) {
            rc = sr_err_set(err, SR_E_NOMEM, "out of memory");
            goto fail;
        }
        memcpy(s->extra, buf + r.off, ei);
        s->nextra = ei;
        r.off += ei;
    }
    if (need(&r, 8, "trailing metadata", err) != 0)
        goto fail;
    memcpy(s->meta_tail, buf + r.off, 8);
    r.off += 8;
    if (r.off != r.n) {
        sr_err_set(err, SR_E_PARSE, "autocomplete stream: %zu unexpected bytes after the trailing "
                   "metadata at offset %zu", r.n - r.off, r.off);
        goto fail;
    }
    return SR_OK;
fail:
    nk_stream_clear(s);
    return rc;
}

sr_code nk_serialize(const nk_stream *s, uint8_t **out, size_t *out_len, sr_err *err)
{
    size_t n = 16 + 4 + s->nextra + 8;
    for (size_t i = 0; i < s->nrows; i++) {
        n += 4;
        for (size_t k = 0; k < s->rows[i].n; k++)
            n += 16 + s->rows[i].p[k].len;
    }
    uint8_t *b = malloc(n), *w = b;
    if (!b)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    memcpy(w, s->meta_head, 4);
    put32(w + 4, s->major);
    put32(w + 8, s->minor);
    put32(w + 12, (uint32_t)s->nrows);
    w += 16;
    for (size_t i = 0; i < s->nrows; i++) {
        put32(w, (uint32_t)s->rows[i].n);
        w += 4;
        for (size_t k = 0; k < s->rows[i].n; k++) {
            const nk_prop *p = &s->rows[i].p[k];
            put32(w, p->tag);
            put32(w + 4, p->reserved);
            memcpy(w + 8, p->un, 8);
            w += 16;
            if (p->len)
                memcpy(w, p->data, p->len);
            w += p->len;
        }
    }
    put32(w, (uint32_t)s->nextra);
    w += 4;
    if (s->nextra)
        memcpy(w, s->extra, s->nextra);
    w += s->nextra;
    memcpy(w, s->meta_tail, 8);
    *out = b;
    *out_len = n;
    return SR_OK;
}

void nk_row_clear(nk_row *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->p[i].data);
    free(r->p);
    r->p = NULL;
    r->n = 0;
}

void nk_stream_clear(nk_stream *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nrows; i++)
        nk_row_clear(&s->rows[i]);
    free(s->rows);
    free(s->extra);
    memset(s, 0, sizeof *s);
}

sr_code nk_row_copy(nk_row *dst, const nk_row *src, sr_err *err)
{
    dst->n = 0;
    dst->p = calloc(src->n ? src->n : 1, sizeof *dst->p);
    if (!dst->p)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    for (size_t i = 0; i < src->n; i++) {
        dst->p[i] = src->p[i];
        dst->p[i].data = NULL;
        dst->n++;
        if (src->p[i].len) {
            if (!(dst->p[i].data = malloc(src->p[i].len))) {
                nk_row_clear(dst);
                return sr_err_set(err, SR_E_NOMEM, "out of memory");
            }
            memcpy(dst->p[i].data, src->p[i].data, src->p[i].len);
        }
    }
    return SR_OK;
}

int nk_row_equal(const nk_row *a, const nk_row *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++) {
        const nk_prop *x = &a->p[i], *y = &b->p[i];
        if (x->tag != y->tag || x->reserved != y->reserved || memcmp(x->un, y->un, 8) != 0 ||
            x->len != y->len || (x->len && memcmp(x->data, y->data, x->len) != 0))
            return 0;
    }
    return 1;
}

nk_prop *nk_row_find(const nk_row *r, uint16_t id)
{
    for (size_t i = 0; i < r->n; i++)
        if ((r->p[i].tag >> 16) == id)
            return &r->p[i];
    return NULL;
}

/* UTF-16LE (n bytes) → UTF-8 heap; stops at the first NUL; NULL on bad surrogates. */
static char *utf16_to_utf8(const uint8_t *s, size_t n)
{
    char *o = malloc(n / 2 * 3 + 1);
    size_t k = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint32_t c = (uint32_t)s[i] | (uint32_t)s[i + 1] << 8;
        if (c == 0)
            break;
        if (c >= 0xD800 && c <= 0xDBFF) {
            uint32_t d = i + 3 < n ? ((uint32_t)s[i + 2] | (uint32_t)s[i + 3] << 8) : 0;
            if (d < 0xDC00 || d > 0xDFFF) {
                free(o);
                return NULL;
            }
            c = 0x10000 + ((c - 0xD800) << 10) + (d - 0xDC00);
            i += 2;
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            free(o);
            return NULL;
        }
        if (c < 0x80) {
            o[k++] = (char)c;
        } else if (c < 0x800) {
            o[k++] = (char)(0xC0 | c >> 6);
            o[k++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            o[k++] = (char)(0xE0 | c >> 12);
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (c & 0x3F));
        } else {   /* 4 UTF-8 bytes from 4 UTF-16 bytes: fits the n/2*3 budget */
            o[k++] = (char)(0xF0 | c >> 18);
            o[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    o[k] = '\0';
    return o;
}

/* UTF-8 → UTF-16LE with a NUL; *n bytes.  NULL on invalid UTF-8 or OOM. */
static uint8_t *utf8_to_utf16(const char *s, size_t *n)
{
    size_t l = strlen(s);
    uint8_t *o = malloc((l + 1) * 4), *w = o;
    if (!o)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c;
        int extra;
        if (*p < 0x80) { c = *p; extra = 0; }
        else if ((*p & 0xE0) == 0xC0) { c = *p & 0x1F; extra = 1; }
        else if ((*p & 0xF0) == 0xE0) { c = *p & 0x0F; extra = 2; }
        else if ((*p & 0xF8) == 0xF0) { c = *p & 0x07; extra = 3; }
        else { free(o); return NULL; }
        p++;
        for (int i = 0; i < extra; i++, p++) {
            if ((*p & 0xC0) != 0x80) {
                free(o);
                return NULL;
            }
            c = c << 6 | (*p & 0x3F);
        }
        if (c >= 0x10000) {
            c -= 0x10000;
            uint32_t hi = 0xD800 + (c >> 10), lo = 0xDC00 + (c & 0x3FF);
            *w++ = (uint8_t)hi; *w++ = (uint8_t)(hi >> 8);
            *w++ = (uint8_t)lo; *w++ = (uint8_t)(lo >> 8);
        } else {
            *w++ = (uint8_t)c; *w++ = (uint8_t)(c >> 8);
        }
    }
    *w++ = 0;
    *w++ = 0;
    *n = (size_t)(w - o);
    return o;
}

char *nk_row_string(const nk_row *r, uint16_t id)
{
    const nk_prop *p = nk_row_find(r, id);
    if (!p || p->len < 4)
        return NULL;
    uint16_t type = (uint16_t)(p->tag & 0xFFFF);
    const uint8_t *v = p->data + 4;
    size_t n = p->len - 4;
    if (type == NK_PT_UNICODE)
        return utf16_to_utf8(v, n);
    if (type != NK_PT_STRING8)
        return NULL;
    size_t k = 0;
    while (k < n && v[k])
        k++;
    char *o = malloc(k + 1);
    if (o) {
        memcpy(o, v, k);
        o[k] = '\0';
    }
    return o;
}

const uint8_t *nk_row_binary(const nk_row *r, uint16_t id, size_t *len)
{
    const nk_prop *p = nk_row_find(r, id);
    if (!p || (p->tag & 0xFFFF) != NK_PT_BINARY || p->len < 4)
        return NULL;
    *len = p->len - 4;
    return p->data + 4;
}

/* Replace p's value data by count + v. */
static sr_code set_counted(nk_prop *p, const uint8_t *v, size_t n, sr_err *err)
{
    if (n > UINT32_MAX - 4)
        return sr_err_set(err, SR_E_LIMIT, "autocomplete value too large");
    uint8_t *d = malloc(n + 4);
    if (!d)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    put32(d, (uint32_t)n);
    if (n)
        memcpy(d + 4, v, n);
    free(p->data);
    p->data = d;
    p->len = n + 4;
    return SR_OK;
}

sr_code nk_row_set_string(nk_row *r, uint16_t id, const char *utf8, sr_err *err)
{
    nk_prop *p = nk_row_find(r, id);
    if (!p)
        return SR_OK;
    uint16_t type = (uint16_t)(p->tag & 0xFFFF);
    if (type == NK_PT_STRING8)
        return set_counted(p, (const uint8_t *)utf8, strlen(utf8) + 1, err);
    if (type != NK_PT_UNICODE)
        return sr_err_set(err, SR_E_INVALID, "autocomplete property 0x%08X is not a string", p->tag);
    size_t n = 0;
    uint8_t *w = utf8_to_utf16(utf8, &n);
    if (!w)
        return sr_err_set(err, SR_E_INVALID, "not UTF-8: %s", utf8);
    sr_code rc = set_counted(p, w, n, err);
    free(w);
    return rc;
}

sr_code nk_row_set_binary(nk_row *r, uint16_t id, const uint8_t *v, size_t len, sr_err *err)
{
    nk_prop *p = nk_row_find(r, id);
    if (!p)
        return SR_OK;
    if ((p->tag & 0xFFFF) != NK_PT_BINARY)
        return sr_err_set(err, SR_E_INVALID, "autocomplete property 0x%08X is not binary", p->tag);
    return set_counted(p, v, len, err);
}

void nk_row_remove(nk_row *r, uint16_t id)
{
    size_t k = 0;
    for (size_t i = 0; i < r->n; i++) {
        if ((r->p[i].tag >> 16) == id)
            free(r->p[i].data);
        else
            r->p[k++] = r->p[i];
    }
    r->n = k;
}

sr_code nk_row_append(nk_stream *s, const nk_val *v, size_t n, sr_err *err)
{
    nk_row *nr = realloc(s->rows, (s->nrows + 1) * sizeof *nr);
    if (!nr)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    s->rows = nr;
    nk_row *row = &s->rows[s->nrows];
    row->n = 0;
    row->p = calloc(n ? n : 1, sizeof *row->p);
    if (!row->p)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    s->nrows++;
    sr_code rc = SR_OK;
    for (size_t i = 0; i < n && rc == SR_OK; i++) {
        nk_prop *p = &row->p[row->n++];
        p->tag = v[i].tag;
        uint16_t type = (uint16_t)(v[i].tag & 0xFFFF);
        if (type == NK_PT_STRING8) {
            const char *str = v[i].str ? v[i].str : "";
            rc = set_counted(p, (const uint8_t *)str, strlen(str) + 1, err);
        } else if (type == NK_PT_UNICODE) {
            size_t wn = 0;
            uint8_t *w = utf8_to_utf16(v[i].str ? v[i].str : "", &wn);
            rc = w ? set_counted(p, w, wn, err) : sr_err_set(err, SR_E_INVALID, "not UTF-8");
            free(w);
        } else if (type == NK_PT_BINARY) {
            rc = set_counted(p, v[i].bin, v[i].bin_len, err);
        } else if (type == 0x0003) {
            put32(p->un, (uint32_t)v[i].l);
        } else {
            rc = sr_err_set(err, SR_E_INVALID, "nk_row_append: type 0x%04X not offered", type);
        }
    }
    return rc;
}
