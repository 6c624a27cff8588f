/* ini_lines.c — the one line reader both the loaders (ini.c) and the
 * DCPassword rewrite (rewrite.c) use, so they cannot disagree about where a
 * line, a header or a value begins and ends.  Files are decoded to UTF-8
 * first: Notepad's "Unicode" is UTF-16LE with a byte order mark, "Unicode big
 * endian" UTF-16BE; both are converted with iconv, and the rewrite encodes the
 * text back the same way. */
#include "configs/ini.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

/* a million mailbox lines of legacyExchangeDNs is ~100 MB */
#define INI_MAX_BYTES (256u * 1024u * 1024u)

static const struct {
    ini_encoding enc;
    const char *bom;
    size_t bom_len;
    const char *iconv_name;    /* NULL: the bytes are UTF-8 already */
    const char *label;
} encodings[] = {
    { INI_ENC_UTF8, "", 0, NULL, "UTF-8" },
    { INI_ENC_UTF8_BOM, "\xEF\xBB\xBF", 3, NULL, "UTF-8 with BOM" },
    { INI_ENC_UTF16LE, "\xFF\xFE", 2, "UTF-16LE", "UTF-16LE with BOM" },
    { INI_ENC_UTF16BE, "\xFE\xFF", 2, "UTF-16BE", "UTF-16BE with BOM" },
};

static ini_encoding sniff(const char *buf, size_t len)
{
    /* UTF-8's BOM first: FF FE / FE FF cannot start valid UTF-8 */
    for (int i = INI_ENC_UTF16BE; i > INI_ENC_UTF8; i--)
        if (len >= encodings[i].bom_len && memcmp(buf, encodings[i].bom, encodings[i].bom_len) == 0)
            return encodings[i].enc;
    return INI_ENC_UTF8;
}

static int line_of(const char *b, const char *at)
{
    int n = 1;
    for (const char *p = b; p < at; p++)
        n += *p == '\n';
    return n;
}

/* iconv from..to over [in, in+len) into a fresh buffer (NUL-terminated,
 * caller frees).  *ok is 0 when a malformed sequence stopped it; the buffer
 * then holds what came before (the caller counts its lines).  NULL on OOM or
 * when iconv lacks the encoding. */
static char *convert(const char *from, const char *to, const char *in, size_t len, size_t *out_len,
                     int *ok)
{
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return NULL;
    size_t cap = 2 * len + 8; /* UTF-16→UTF-8 ≤ 1.5×, UTF-8→UTF-16 ≤ 2× */
    char *out = malloc(cap);
    if (!out) {
        iconv_close(cd);
        return NULL;
    }
    char *ip = (char *)in, *op = out;
    size_t il = len, ol = cap - 1;
    size_t r = iconv(cd, &ip, &il, &op, &ol);
    if (r != (size_t)-1)
        r = iconv(cd, NULL, NULL, &op, &ol);
    iconv_close(cd);
    *ok = r != (size_t)-1 && il == 0;
    *out_len = (size_t)(op - out);
    *op = '\0';
    return out;
}

/* 0 when t is well-formed UTF-8 (util's one RFC 3629 check), else the
 * first line that is not.  A NUL ends the check early; it is reported apart. */
static int first_bad_utf8_line(const ini_text *t)
{
    if (!t->buf || memchr(t->buf, '\0', t->len) || sr_utf8_valid(t->buf))
        return 0;
    int line = 0;
    for (const char *p = t->buf, *end = t->buf + t->len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        char *copy = strndup(p, n);
        line++;
        int ok = !copy || sr_utf8_valid(copy);
        free(copy);
        if (!ok)
            return line;
        p = nl ? nl + 1 : end;
    }
    return 0;
}

/* Decode raw (owned, wiped and freed here) into t. */
static sr_code decode(ini_text *t, char *raw, size_t len, int *bad_line, sr_err *err)
{
    t->enc = sniff(raw, len);
    size_t skip = encodings[t->enc].bom_len;
    sr_code rc = SR_OK;
    if (!encodings[t->enc].iconv_name) {
        t->len = len - skip;
        t->buf = malloc(t->len + 1);
        if (t->buf) {
            memcpy(t->buf, raw + skip, t->len);
            t->buf[t->len] = '\0';
        }
    } else {
        int ok = 0;
        t->buf = convert(encodings[t->enc].iconv_name, "UTF-8", raw + skip, len - skip, &t->len, &ok);
        if (t->buf && !ok) {
            *bad_line = line_of(t->buf, t->buf + t->len);
            rc = sr_err_set(err, SR_E_CONFIG,
                            "not valid %s (an unpaired surrogate or an odd number of bytes); "
                            "save the file again as UTF-8 or as Unicode", encodings[t->enc].label);
            ini_text_free(t);
        }
    }
    explicit_bzero(raw, len);
    free(raw);
    if (rc != SR_OK)
        return rc;
    if (!t->buf)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (rc == SR_OK && (*bad_line = first_bad_utf8_line(t)) > 0) {
        rc = sr_err_set(err, SR_E_CONFIG, "not valid UTF-8 (saved as \"ANSI\"? save the file "
                        "again as UTF-8 or as Unicode)");
        ini_text_free(t);
        return rc;
    }
    const char *nul = t->buf ? memchr(t->buf, '\0', t->len) : NULL;
    if (nul) {
        *bad_line = line_of(t->buf, nul);
        rc = sr_err_set(err, SR_E_CONFIG, "contains a NUL byte (not a text INI file%s)",
                        t->enc == INI_ENC_UTF8 ? "; UTF-16 without a byte order mark? save it "
                                                 "as UTF-8 or as Unicode with BOM" : "");
        ini_text_free(t);
    }
    return rc;
}

sr_code ini_text_read(ini_text *t, const char *path, int *bad_line, sr_err *err)
{
    memset(t, 0, sizeof *t);
    *bad_line = 0;
    sr_err ferr;
    size_t len = 0;
    char *raw = sr_read_file(path, INI_MAX_BYTES, &len, &ferr);
    if (!raw) {
        /* sr_read_file's message starts with the path, which callers name already */
        const char *why = ferr.msg;
        size_t pl = strlen(path);
        if (strncmp(why, path, pl) == 0 && why[pl] == ':')
            why += pl + 1 + (why[pl + 1] == ' ');
        return sr_err_set(err, ferr.code == SR_OK ? SR_E_IO : ferr.code,
                          "cannot read the configuration file: %s", why);
    }
    return decode(t, raw, len, bad_line, err);
}

void ini_text_free(ini_text *t)
{
    if (!t || !t->buf)
        return;
    explicit_bzero(t->buf, t->len); /* lines may hold a password */
    free(t->buf);
    t->buf = NULL;
    t->len = 0;
}

char *ini_text_encode(const char *utf8, size_t len, ini_encoding enc, size_t *out_len, sr_err *err)
{
    size_t bl = encodings[enc].bom_len, body_len = len;
    char *body = NULL;
    if (encodings[enc].iconv_name) {
        int ok = 0;
        body = convert("UTF-8", encodings[enc].iconv_name, utf8, len, &body_len, &ok);
        if (!body || !ok) {
            if (body) {
                explicit_bzero(body, body_len);
                free(body);
            }
            sr_err_set(err, SR_E_CONFIG, "the new text cannot be written as %s", encodings[enc].label);
            return NULL;
        }
    }
    char *out = malloc(bl + body_len + 1);
    if (!out) {
        sr_secret_free(body);
        sr_err_set(err, SR_E_NOMEM, "out of memory");
        return NULL;
    }
    memcpy(out, encodings[enc].bom, bl);
    memcpy(out + bl, body ? body : utf8, body_len);
    out[bl + body_len] = '\0';
    if (body) {
        explicit_bzero(body, body_len);
        free(body);
    }
    *out_len = bl + body_len;
    return out;
}

/* ---- lines ------------------------------------------------------------------- */

int ini_next_line(const ini_text *t, ini_line *ln)
{
    const char *end = t->buf + t->len;
    const char *p = ln->lineno ? ln->next : t->buf;
    if (p >= end)
        return 0;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *e = nl ? nl : end;
    /* every CR before the LF belongs to the line ending ("\r\r\n" is seen in
     * files that went through two CRLF conversions) */
    while (e > p && e[-1] == '\r')
        e--;
    ln->b = p;
    ln->e = e;
    ln->next = nl ? nl + 1 : end;
    ln->lineno++;
    return 1;
}

static const char *skip_blank(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *trim_end(const char *b, const char *e)
{
    while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return e;
}

void ini_classify(const ini_line *ln, ini_parts *p)
{
    memset(p, 0, sizeof *p);
    const char *b = skip_blank(ln->b, ln->e), *e = trim_end(b, ln->e);
    p->tb = b;
    p->te = e;
    if (b == e) {
        p->kind = IL_BLANK;
    } else if (*b == ';' || *b == '#') {
        p->kind = IL_COMMENT;
    } else if (*b == '[') {
        const char *close = memchr(b, ']', (size_t)(e - b));
        p->kind = close && close + 1 == e ? IL_SECTION : IL_BAD_SECTION;
        if (p->kind == IL_SECTION) {
            p->nb = skip_blank(b + 1, close);
            p->ne = trim_end(p->nb, close);
        }
    } else {
        const char *eq = memchr(b, '=', (size_t)(e - b));
        p->kind = eq ? IL_KV : IL_BARE;
        if (eq) {
            p->nb = b;
            p->ne = trim_end(b, eq);
            p->vb = skip_blank(eq + 1, e);
            p->ve = e;
        }
    }
}

void ini_unquote(const char **vb, const char **ve)
{
    const char *b = *vb, *e = *ve;
    /* one surrounding pair, like Windows' profile-string reader; a value
     * with more quotes inside ("a" -x "b") is a quoted list, not one quoted
     * value, and is kept whole (see docs/switchresmb.md) */
    if (e - b >= 2 && *b == '"' && e[-1] == '"' && !memchr(b + 1, '"', (size_t)(e - b - 2))) {
        *vb = b + 1;
        *ve = e - 1;
    }
}
