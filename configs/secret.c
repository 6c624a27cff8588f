/* secret.c — stored credentials (spec: "Encryption Modes"), see configs.h
 * for the format.  XChaCha20-Poly1305 authenticates, so a wrong key or an
 * altered value is detected and never decrypts to garbage. */
#include "configs/configs.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PREFIX "srenc1:"
#define KID_LEN 4
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES
#define MAX_PLAIN 1024

/* Mixed into every key.  It is in the binary, so on its own (unrestricted
 * mode) it only hides the value from casual readers — as the spec warns. */
static const unsigned char program_key[32] = {
    0x5a, 0x1d, 0xc3, 0x77, 0x0e, 0x92, 0x4b, 0xf8, 0x36, 0xa1, 0x6d, 0x2c, 0xe4, 0x19, 0x80, 0x57,
    0xbb, 0x03, 0x6e, 0xd9, 0x41, 0x2a, 0xf5, 0x98, 0x7c, 0x10, 0xc6, 0x3f, 0x85, 0xea, 0x24, 0x61,
};

static const char *const mode_names[] = { "user", "host", "unrestricted" };

const char *cfg_enc_mode_name(cfg_enc_mode m)
{
    return (unsigned)m < 3 ? mode_names[m] : "?";
}

int cfg_enc_mode_parse(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (sr_streq_ci(mode_names[i], s))
            return i;
    return -1;
}

/* The host id: /etc/machine-id (systemd's stable per-install id), or the
 * file named by SR_MACHINE_ID_FILE. */
static sr_code read_host_id(char *out, size_t cap, sr_err *err)
{
    const char *env = getenv("SR_MACHINE_ID_FILE");
    const char *paths[] = { env && *env ? env : "/etc/machine-id", "/var/lib/dbus/machine-id" };
    size_t npaths = env && *env ? 1 : 2;
    sr_err ferr;
    for (size_t i = 0; i < npaths; i++) {
        char *s = sr_read_file(paths[i], 4096, NULL, &ferr);
        if (!s)
            continue;
        char *b = s, *e = s + strlen(s);
        while (*b && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        size_t n = (size_t)(e - b);
        if (n > 0 && n < cap) {
            memcpy(out, b, n);
            out[n] = '\0';
            free(s);
            return SR_OK;
        }
        free(s);
        sr_err_set(&ferr, SR_E_CRYPTO, "%s: empty or too long", paths[i]);
    }
    return sr_err_set(err, SR_E_CRYPTO, "cannot read the host id (%s)", ferr.msg);
}

/* key = BLAKE2b(program_key; label | mode | host id | uid), per mode. */
static sr_code derive_key(cfg_enc_mode mode, uid_t uid, unsigned char key[KEY_LEN], sr_err *err)
{
    char host[256] = "";
    if (mode != CFG_ENC_UNRESTRICTED && read_host_id(host, sizeof host, err) != SR_OK)
        return SR_E_CRYPTO;
    char uidbuf[32] = "";
    if (mode == CFG_ENC_USER)
        snprintf(uidbuf, sizeof uidbuf, "%lu", (unsigned long)uid);
    crypto_generichash_state st;
    crypto_generichash_init(&st, program_key, sizeof program_key, KEY_LEN);
    const char *label = "switchresmb stored credential v1";
    const char *parts[] = { label, mode_names[mode], host, uidbuf };
    for (size_t i = 0; i < 4; i++) /* include the NULs so parts cannot run together */
        crypto_generichash_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_generichash_final(&st, key, KEY_LEN);
    sodium_memzero(host, sizeof host);
    sodium_memzero(&st, sizeof st);
    return SR_OK;
}

static void key_id(const unsigned char key[KEY_LEN], unsigned char kid[KID_LEN])
{
    unsigned char h[16];
    crypto_generichash(h, sizeof h, (const unsigned char *)"key id", 6, key, KEY_LEN);
    memcpy(kid, h, KID_LEN);
}

static void make_ad(cfg_enc_mode mode, char *ad, size_t cap)
{
    snprintf(ad, cap, PREFIX "%s", mode_names[mode]);
}

static sr_code seal(const char *plain, cfg_enc_mode mode, const unsigned char *key, char **out,
                    sr_err *err)
{
    size_t plen = strlen(plain);
    size_t blen = KID_LEN + NONCE_LEN + plen + TAG_LEN;
    unsigned char *blob = malloc(blen);
    size_t b64len = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_ORIGINAL);
    char *res = malloc(strlen(PREFIX) + 16 + b64len);
    if (!blob || !res) {
        free(blob);
        free(res);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    char ad[64];
    make_ad(mode, ad, sizeof ad);
    key_id(key, blob);
    randombytes_buf(blob + KID_LEN, NONCE_LEN);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(blob + KID_LEN + NONCE_LEN, &clen,
                                               (const unsigned char *)plain, plen,
                                               (const unsigned char *)ad, strlen(ad), NULL,
                                               blob + KID_LEN, key);
    int n = sprintf(res, PREFIX "%s:", mode_names[mode]);
    sodium_bin2base64(res + n, b64len, blob, blen, sodium_base64_VARIANT_ORIGINAL);
    free(blob);
    *out = res;
    return SR_OK;
}

sr_code cfg_secret_encrypt(const char *plain, cfg_enc_mode mode, char **out, sr_err *err)
{
    *out = NULL;
    if ((unsigned)mode > CFG_ENC_UNRESTRICTED)
        return sr_err_set(err, SR_E_INVALID, "unknown encryption mode %d", (int)mode);
    if (!plain || !*plain)
        return sr_err_set(err, SR_E_CRYPTO, "refusing to encrypt an empty password");
    if (strlen(plain) > MAX_PLAIN)
        return sr_err_set(err, SR_E_LIMIT, "password longer than %d bytes", MAX_PLAIN);
    if (sodium_init() < 0)
        return sr_err_set(err, SR_E_CRYPTO, "libsodium failed to initialise");
    if (mode == CFG_ENC_UNRESTRICTED)
        sr_log(SR_LOG_WARN, "encryption",
               "mode unrestricted: anyone with this program can decrypt the value; use it only in "
               "an isolated test lab, never in production, never for administrative accounts");
    unsigned char key[KEY_LEN];
    if (derive_key(mode, getuid(), key, err) != SR_OK)
        return SR_E_CRYPTO;
    sr_code rc = seal(plain, mode, key, out, err);
    sodium_memzero(key, sizeof key);
    return rc;
}

int cfg_secret_is_ours(const char *stored)
{
    return stored && strncmp(stored, PREFIX, strlen(PREFIX)) == 0;
}

/* The two commands that store a secret in our format. */
#define REENCRYPT "switchresmb <SwitchResMB.ini> - (DCPassword), or cpuu-config --encrypt " \
                  "<key> <CPUU.ini> (Password, PasswordTrg, ClientSecret, SMTPPassword)"

/* Split "srenc1:<mode>:<b64>" into mode and decoded blob (caller frees). */
static sr_code unwrap(const char *stored, cfg_enc_mode *mode, unsigned char **blob, size_t *blen,
                      sr_err *err)
{
    if (!stored || strncmp(stored, "srenc", 5) != 0)
        return sr_err_set(err, SR_E_CRYPTO,
                          "the stored value is not in switchresmb's encrypted format (it was "
                          "encrypted by another tool, e.g. the Windows utility); re-encrypt it "
                          "with: " REENCRYPT);
    if (!cfg_secret_is_ours(stored))
        return sr_err_set(err, SR_E_CRYPTO,
                          "the stored value uses an encryption format version this program does "
                          "not know; re-encrypt it with: " REENCRYPT);
    const char *m = stored + strlen(PREFIX), *colon = strchr(m, ':');
    int mi = -1;
    for (int i = 0; colon && i < 3; i++)
        if (strlen(mode_names[i]) == (size_t)(colon - m) && !strncmp(m, mode_names[i], colon - m))
            mi = i;
    if (mi < 0)
        return sr_err_set(err, SR_E_CRYPTO, "the stored value names no known encryption mode");
    const char *b64 = colon + 1;
    size_t cap = strlen(b64);
    *blob = malloc(cap + 1);
    if (!*blob)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    if (sodium_base642bin(*blob, cap, b64, strlen(b64), NULL, blen, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        *blen < KID_LEN + NONCE_LEN + TAG_LEN + 1) {
        free(*blob);
        *blob = NULL;
        return sr_err_set(err, SR_E_CRYPTO, "the stored value is damaged (bad base64 or too short)");
    }
    *mode = (cfg_enc_mode)mi;
    return SR_OK;
}

static sr_code wrong_key(cfg_enc_mode mode, sr_err *err)
{
    if (mode == CFG_ENC_USER)
        return sr_err_set(err, SR_E_CRYPTO,
                          "cannot decrypt: the value was encrypted for another user or on another "
                          "host (mode user); re-encrypt it here, as this user");
    if (mode == CFG_ENC_HOST)
        return sr_err_set(err, SR_E_CRYPTO,
                          "cannot decrypt: the value was encrypted on another host (mode host); "
                          "re-encrypt it on this host");
    return sr_err_set(err, SR_E_CRYPTO, "cannot decrypt: the value has been altered");
}

static sr_code open_blob(cfg_enc_mode mode, const unsigned char *blob, size_t blen,
                         const unsigned char *key, char **plain_out, sr_err *err)
{
    unsigned char kid[KID_LEN];
    key_id(key, kid);
    if (sodium_memcmp(kid, blob, KID_LEN) != 0)
        return wrong_key(mode, err);
    size_t clen = blen - KID_LEN - NONCE_LEN;
    char *plain = malloc(clen + 1);
    if (!plain)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    char ad[64];
    make_ad(mode, ad, sizeof ad);
    unsigned long long plen = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            (unsigned char *)plain, &plen, NULL, blob + KID_LEN + NONCE_LEN, clen,
            (const unsigned char *)ad, strlen(ad), blob + KID_LEN, key) != 0) {
        sodium_memzero(plain, clen + 1);
        free(plain);
        return sr_err_set(err, SR_E_CRYPTO,
                          "cannot decrypt: the value has been altered or is damaged");
    }
    plain[plen] = '\0';
    if (strlen(plain) != plen) {
        sr_secret_free(plain);
        return sr_err_set(err, SR_E_CRYPTO, "decrypted value contains a NUL byte");
    }
    *plain_out = plain;
    return SR_OK;
}

sr_code cfg_secret_decrypt_as(const char *stored, uid_t uid, char **plain_out, sr_err *err)
{
    *plain_out = NULL;
    if (sodium_init() < 0)
        return sr_err_set(err, SR_E_CRYPTO, "libsodium failed to initialise");
    cfg_enc_mode mode = CFG_ENC_HOST;
    unsigned char *blob = NULL;
    size_t blen = 0;
    sr_code rc = unwrap(stored, &mode, &blob, &blen, err);
    if (rc != SR_OK)
        return rc;
    unsigned char key[KEY_LEN];
    rc = derive_key(mode, uid, key, err);
    if (rc == SR_OK)
        rc = open_blob(mode, blob, blen, key, plain_out, err);
    sodium_memzero(key, sizeof key);
    free(blob);
    return rc;
}

sr_code cfg_secret_decrypt(const char *stored, char **plain_out, sr_err *err)
{
    return cfg_secret_decrypt_as(stored, getuid(), plain_out, err);
}
