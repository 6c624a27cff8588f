/* auth_ntlm.c — NTLM as a domain member server checks it (MS-NLMP): a
 * CHALLENGE with target info, then the client's NTLMv2 proof verified
 *   NTProofStr = HMAC_MD5(HMAC_MD5(NT_hash, UTF16LE(UPPER(user) + domain)),
 *                         server_challenge ‖ blob)
 * against the account's NT hash: from --ntlm-hashes (read from the lab's DC,
 * "name:hex" lines) or, without that file, MD4 of the seed password.  Names
 * are matched like AD: DOMAIN\user, domain\USER and the UPN alike.  NTLMv1
 * answers are refused, as domain policy usually does.
 * MD4 lives in OpenSSL 3's legacy provider, loaded only when needed. */
#include "tests/exsim/server.h"
#include "util/util.h"

#include <iconv.h>
#include <locale.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

/* MS-NLMP 2.2.2.5 NEGOTIATE flags we use. */
#define NF_UNICODE 0x00000001u
#define NF_OEM 0x00000002u
#define NF_REQUEST_TARGET 0x00000004u
#define NF_NTLM 0x00000200u
#define NF_ALWAYS_SIGN 0x00008000u
#define NF_TARGET_TYPE_DOMAIN 0x00010000u
#define NF_EXTENDED_SESSIONSECURITY 0x00080000u
#define NF_TARGET_INFO 0x00800000u
#define NF_128 0x20000000u
#define NF_56 0x80000000u

#define MAX_HASHES 256

typedef struct nt_hash { char *name; unsigned char h[16]; } nt_hash;

static nt_hash hashes[MAX_HASHES];
static int n_hashes;
static OSSL_PROVIDER *prov_legacy, *prov_default;
static locale_t utf8_locale;

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(unsigned char *p, unsigned v) { p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; }

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* One "name:32-hex" line into hashes[]; -1 when malformed. */
static int parse_hash_line(const char *line)
{
    const char *colon = strrchr(line, ':');
    if (!colon || colon == line || strlen(colon + 1) != 32 || n_hashes == MAX_HASHES)
        return -1;
    nt_hash *e = &hashes[n_hashes];
    for (int i = 0; i < 16; i++) {
        int hi = hexval(colon[1 + 2 * i]), lo = hexval(colon[2 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        e->h[i] = (unsigned char)(hi << 4 | lo);
    }
    e->name = strndup(line, (size_t)(colon - line));
    if (!e->name)
        return -1;
    n_hashes++;
    return 0;
}

static int load_hashes(const char *path)
{
    sr_err e;
    char *text = sr_read_file(path, 1 << 20, NULL, &e);
    if (!text) {
        fprintf(stderr, "exsim: --ntlm-hashes %s: %s\n", path, e.msg);
        return -1;
    }
    int lineno = 0, rc = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        lineno++;
        l[strcspn(l, "\r")] = '\0';
        if (!*l || *l == '#')
            continue;
        if (parse_hash_line(l)) {
            fprintf(stderr, "exsim: --ntlm-hashes %s:%d: expected NAME:32-hex-digit NT hash\n", path, lineno);
            rc = -1;
            break;
        }
    }
    sr_secret_free(text);
    return rc;
}

int exsim_ntlm_init(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (exsim_srv.ntlm_hashes)
        return load_hashes(exsim_srv.ntlm_hashes);
    /* Loading one provider stops OpenSSL loading the default one by itself. */
    prov_legacy = OSSL_PROVIDER_load(NULL, "legacy");
    prov_default = OSSL_PROVIDER_load(NULL, "default");
    if (!prov_legacy)
        fprintf(stderr, "exsim: WARNING: OpenSSL's legacy provider (MD4) is missing: "
                        "NTLM works only with --ntlm-hashes\n");
    return 0;
}

void exsim_ntlm_cleanup(void)
{
    for (int i = 0; i < n_hashes; i++) {
        free(hashes[i].name);
        OPENSSL_cleanse(hashes[i].h, sizeof hashes[i].h);
    }
    n_hashes = 0;
    if (prov_legacy)
        OSSL_PROVIDER_unload(prov_legacy);
    if (prov_default)
        OSSL_PROVIDER_unload(prov_default);
    prov_legacy = prov_default = NULL;
    if (utf8_locale)
        freelocale(utf8_locale);
    utf8_locale = (locale_t)0;
}

/* ---- UTF-16 ------------------------------------------------------------- */

/* UTF-8 → UTF-16LE (malloc'd, *outlen bytes); NULL on bad input. */
static unsigned char *to_utf16(const char *s, size_t *outlen)
{
    iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
    if (cd == (iconv_t)-1)
        return NULL;
    size_t inleft = strlen(s), cap = inleft * 4 + 4, outleft = cap;
    unsigned char *out = malloc(cap);
    char *in = (char *)s, *o = (char *)out;
    if (!out || iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1) {
        free(out);
        out = NULL;
    } else {
        *outlen = cap - outleft;
    }
    iconv_close(cd);
    return out;
}

/* A message string field → UTF-8 (malloc'd): UTF-16LE when unicode, else OEM
 * taken as Latin-1 (libcurl sends its OEM strings as plain bytes). */
static char *field_utf8(const unsigned char *p, size_t n, int unicode)
{
    iconv_t cd = iconv_open("UTF-8", unicode ? "UTF-16LE" : "ISO-8859-1");
    if (cd == (iconv_t)-1)
        return NULL;
    size_t cap = n * 3 + 1, outleft = cap - 1;
    char *out = malloc(cap), *o = out, *in = (char *)p;
    size_t inleft = n;
    if (!out || iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1) {
        free(out);
        out = NULL;
    } else {
        *o = '\0';
    }
    iconv_close(cd);
    return out;
}

/* In place: upper-case each UTF-16LE unit (AD's NTLMv2 key upper-cases the user). */
static void upper16(unsigned char *u, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        wint_t c = (wint_t)(u[i] | u[i + 1] << 8);
        if (c >= 0xd800 && c <= 0xdfff)
            continue;
        c = utf8_locale ? towupper_l(c, utf8_locale) : towupper(c);
        put16(u + i, (unsigned)c);
    }
}

/* ---- CHALLENGE (MS-NLMP 2.2.1.2) ------------------------------------------ */

/* One AV pair (MS-NLMP 2.2.2.1), value as UTF-16LE of s. */
static size_t av_pair(unsigned char *p, unsigned id, const char *s)
{
    size_t n = 0;
    unsigned char *u = to_utf16(s, &n);
    if (!u)
        n = 0;
    put16(p, id);
    put16(p + 2, (unsigned)n);
    if (n)
        memcpy(p + 4, u, n);
    free(u);
    return 4 + n;
}

static void send_challenge(exsim_conn *conn, uint32_t client_flags, exsim_authres *res)
{
    const char *nb = exsim_org_netbios(exsim_srv.org);
    const char *dom = exsim_org_domain(exsim_srv.org);
    char nbd[64], host[300];
    snprintf(nbd, sizeof nbd, "%s", nb && *nb ? nb : "EXSIM");
    snprintf(host, sizeof host, "exsim.%s", dom ? dom : "local");
    uint32_t flags = NF_REQUEST_TARGET | NF_NTLM | NF_ALWAYS_SIGN | NF_TARGET_TYPE_DOMAIN |
                     NF_TARGET_INFO | (client_flags & (NF_EXTENDED_SESSIONSECURITY | NF_128 | NF_56));
    flags |= (client_flags & NF_UNICODE) ? NF_UNICODE : NF_OEM;
    /* No NEGOTIATE_VERSION: then no side needs the optional Version field. */
    unsigned char msg[1024] = "NTLMSSP";
    put32(msg + 8, 2);
    size_t off = 48, tn;
    unsigned char *u = NULL;
    if (flags & NF_UNICODE) {
        u = to_utf16(nbd, &tn);
        if (!u)
            tn = 0;
        if (tn)
            memcpy(msg + off, u, tn);
        free(u);
    } else {
        tn = strlen(nbd);
        memcpy(msg + off, nbd, tn);
    }
    put16(msg + 12, (unsigned)tn);
    put16(msg + 14, (unsigned)tn);
    put32(msg + 16, (uint32_t)off);
    off += tn;
    put32(msg + 20, flags);
    RAND_bytes(conn->ntlm_chal, 8);
    memcpy(msg + 24, conn->ntlm_chal, 8);
    size_t ti = off;
    off += av_pair(msg + off, 2, nbd);          /* MsvAvNbDomainName */
    off += av_pair(msg + off, 1, "EXSIM");      /* MsvAvNbComputerName */
    off += av_pair(msg + off, 4, dom ? dom : "local"); /* MsvAvDnsDomainName */
    off += av_pair(msg + off, 3, host);         /* MsvAvDnsComputerName */
    put16(msg + off, 0);                        /* MsvAvEOL */
    put16(msg + off + 2, 0);
    off += 4;
    put16(msg + 40, (unsigned)(off - ti));
    put16(msg + 42, (unsigned)(off - ti));
    put32(msg + 44, (uint32_t)ti);
    conn->ntlm_flags = flags;
    conn->ntlm_step = 1;
    res->scheme = "NTLM";
    res->token = exsim_auth_b64enc(msg, off);
}

/* ---- AUTHENTICATE (MS-NLMP 2.2.1.3) --------------------------------------- */

/* Field f (security buffer at off) of msg, bounds-checked; NULL if outside. */
static const unsigned char *field(const unsigned char *msg, size_t n, size_t at, size_t *len)
{
    *len = msg[at] | msg[at + 1] << 8;
    size_t off = le32(msg + at + 4);
    if (off > n || *len > n - off)
        return NULL;
    return msg + off;
}

/* The account's NT hash into h; 0 ok. */
static int nt_hash_of(const exsim_account *a, unsigned char h[16])
{
    if (exsim_srv.ntlm_hashes) {
        for (int i = 0; i < n_hashes; i++)
            if (!strcasecmp(hashes[i].name, a->name)) {
                memcpy(h, hashes[i].h, 16);
                return 0;
            }
        return -1;
    }
    size_t n;
    unsigned char *u = to_utf16(a->password, &n);
    EVP_MD *md4 = EVP_MD_fetch(NULL, "MD4", NULL);
    unsigned int hl = 0;
    int ok = u && md4 && EVP_Digest(u, n, h, &hl, md4, NULL) == 1 && hl == 16;
    EVP_MD_free(md4);
    if (u)
        OPENSSL_cleanse(u, n);
    free(u);
    return ok ? 0 : -1;
}

/* Does the NTLMv2 proof in nt (ntlen bytes) match? */
static int proof_ok(const unsigned char hash[16], const unsigned char *user16, size_t ulen,
                    const unsigned char *dom16, size_t dlen, const unsigned char chal[8],
                    const unsigned char *nt, size_t ntlen)
{
    unsigned char *ud = malloc(ulen + dlen + 1), key[16], proof[EVP_MAX_MD_SIZE];
    unsigned char *cb = malloc(8 + ntlen - 16 + 1);
    unsigned int kl = 0, pl = 0;
    int ok = 0;
    if (ud && cb) {
        memcpy(ud, user16, ulen);
        upper16(ud, ulen);
        memcpy(ud + ulen, dom16, dlen);
        memcpy(cb, chal, 8);
        memcpy(cb + 8, nt + 16, ntlen - 16);
        ok = HMAC(EVP_md5(), hash, 16, ud, ulen + dlen, key, &kl) &&
             HMAC(EVP_md5(), key, 16, cb, 8 + ntlen - 16, proof, &pl) &&
             pl >= 16 && CRYPTO_memcmp(proof, nt, 16) == 0;
    }
    OPENSSL_cleanse(key, sizeof key);
    free(ud);
    free(cb);
    return ok;
}

/* The user and domain fields as UTF-16LE (malloc'd) whatever the encoding. */
static unsigned char *as_utf16(const unsigned char *p, size_t n, int unicode, size_t *outlen)
{
    if (unicode) {
        unsigned char *u = malloc(n + 1);
        if (u)
            memcpy(u, p, n);
        *outlen = n;
        return u;
    }
    char *s = field_utf8(p, n, 0);
    unsigned char *u = s ? to_utf16(s, outlen) : NULL;
    free(s);
    return u;
}

static void check_authenticate(exsim_conn *conn, const unsigned char *msg, size_t n, exsim_authres *res)
{
    size_t ntlen, dlen, ulen;
    const unsigned char *nt = field(msg, n, 20, &ntlen);
    const unsigned char *dp = field(msg, n, 28, &dlen);
    const unsigned char *up = field(msg, n, 36, &ulen);
    int unicode = (conn->ntlm_flags & NF_UNICODE) != 0;
    if (!nt || !dp || !up || ulen == 0) {
        snprintf(res->diag, sizeof res->diag, "NTLM: malformed AUTHENTICATE message");
        return;
    }
    char *user = field_utf8(up, ulen, unicode), *dom = field_utf8(dp, dlen, unicode);
    char who[400];
    snprintf(who, sizeof who, "%s%s%s", dom && *dom ? dom : "", dom && *dom ? "\\" : "", user ? user : "?");
    if (ntlen <= 24) {
        snprintf(res->diag, sizeof res->diag, "NTLM: %.200s: NTLMv1 answer refused (NTLMv2 only)", who);
    } else if (ntlen < 16 + 28) {
        snprintf(res->diag, sizeof res->diag, "NTLM: %.200s: NTLMv2 answer too short", who);
    } else {
        const exsim_account *a = user ? exsim_auth_find(who) : NULL;
        unsigned char hash[16];
        size_t u16l = 0, d16l = 0;
        unsigned char *u16 = as_utf16(up, ulen, unicode, &u16l), *d16 = as_utf16(dp, dlen, unicode, &d16l);
        if (!a)
            snprintf(res->diag, sizeof res->diag, "NTLM: %.200s: unknown user", who);
        else if (nt_hash_of(a, hash))
            snprintf(res->diag, sizeof res->diag, "NTLM: %.150s: no NT hash for account %.40s", who, a->name);
        else if (!u16 || !d16 || !proof_ok(hash, u16, u16l, d16, d16l, conn->ntlm_chal, nt, ntlen))
            snprintf(res->diag, sizeof res->diag, "NTLM: %.200s: wrong password", who);
        else
            res->acct = a;
        OPENSSL_cleanse(hash, sizeof hash);
        free(u16);
        free(d16);
    }
    free(user);
    free(dom);
}

void exsim_ntlm_step(exsim_conn *conn, const unsigned char *msg, size_t len, exsim_authres *res)
{
    if (len < 16 || memcmp(msg, "NTLMSSP", 8) != 0) {
        snprintf(res->diag, sizeof res->diag, "NTLM: not an NTLMSSP message");
        return;
    }
    uint32_t type = le32(msg + 8);
    if (type == 1) {
        send_challenge(conn, le32(msg + 12), res);
        return;
    }
    if (type == 3 && conn->ntlm_step == 1 && len >= 64) {
        conn->ntlm_step = 0;    /* one answer per challenge */
        check_authenticate(conn, msg, len, res);
        return;
    }
    conn->ntlm_step = 0;
    snprintf(res->diag, sizeof res->diag, "NTLM: message type %u out of order", (unsigned)type);
}
