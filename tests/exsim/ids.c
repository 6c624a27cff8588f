/* ids.c — the simulator's EWS ids and MS-OXCDATA Folder/Message EntryIDs.
 *
 * EWS id (opaque base64 to clients, SEED-FORMAT.md): 27 bytes
 *   'E' 'X' · version 0x01 · kind ('F' folder, 'I' item) · mailbox GUID (16)
 *   · counter (6, big-endian) · 0x00
 * Folder EntryID (MS-OXCDATA 2.2.4.1), 46 bytes: Flags (4, 0) · ProviderUID
 *   (the mailbox GUID) · FolderType 0x0001 (eitLTPrivateFolder, LE) ·
 *   DatabaseGuid (16) · GlobalCounter (6, big-endian) · Pad (2).
 * Message EntryID (2.2.4.2), 70 bytes: Flags · ProviderUID · MessageType
 *   0x0007 · FolderDatabaseGuid · FolderGlobalCounter · Pad · MessageDatabaseGuid
 *   · MessageGlobalCounter · Pad. */
#include "tests/exsim/store.h"

#include <stdlib.h>
#include <string.h>

#define EWS_ID_LEN 27

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *exsim_b64_encode(const uint8_t *data, size_t len)
{
    char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        *o++ = b64chars[(v >> 18) & 63];
        *o++ = b64chars[(v >> 12) & 63];
        *o++ = i + 1 < len ? b64chars[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? b64chars[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static int b64val(int c)
{
    const char *p = c ? strchr(b64chars, c) : NULL;
    return p ? (int)(p - b64chars) : -1;
}

uint8_t *exsim_b64_decode(const char *s, size_t *len)
{
    size_t n = 0, cap = strlen(s) / 4 * 3 + 3;
    uint8_t *out = malloc(cap);
    uint32_t acc = 0;
    int bits = 0, pad = 0;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
            continue;
        if (*p == '=') {
            pad++;
            continue;
        }
        int v = b64val(*p);
        if (v < 0 || pad) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (pad > 2 || bits >= 6) {
        free(out);
        return NULL;
    }
    *len = n;
    return out;
}

static void put48(uint8_t *p, uint64_t v)
{
    for (int i = 5; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get48(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v = (v << 8) | p[i];
    return v;
}

char *exsim_id_ews(const exsim_mbx *m, int kind, uint64_t counter)
{
    uint8_t raw[EWS_ID_LEN] = {'E', 'X', 0x01, (uint8_t)kind};
    memcpy(raw + 4, m->guid, 16);
    put48(raw + 20, counter);
    return exsim_b64_encode(raw, sizeof raw);
}

int exsim_id_ews_decode(const char *id, uint8_t guid[16], int *kind, uint64_t *counter)
{
    size_t len = 0;
    uint8_t *raw = id ? exsim_b64_decode(id, &len) : NULL;
    int ok = raw && len == EWS_ID_LEN && raw[0] == 'E' && raw[1] == 'X' && raw[2] == 0x01 &&
             (raw[3] == EXSIM_KIND_FOLDER || raw[3] == EXSIM_KIND_ITEM) && raw[26] == 0;
    if (ok) {
        memcpy(guid, raw + 4, 16);
        *kind = raw[3];
        *counter = get48(raw + 20);
    }
    free(raw);
    return ok ? 0 : -1;
}

size_t exsim_id_entryid(const exsim_mbx *m, xmlNodePtr obj, uint8_t *out)
{
    int is_item = exsim_is(obj, NULL, "item");
    memset(out, 0, 4);
    memcpy(out + 4, m->guid, 16);
    out[20] = is_item ? 0x07 : 0x01;
    out[21] = 0x00;
    memcpy(out + 22, m->db_guid, 16);
    if (!is_item) {
        put48(out + 38, exsim_store_id_of(obj));
        out[44] = out[45] = 0;
        return 46;
    }
    put48(out + 38, exsim_store_id_of(obj->parent));
    out[44] = out[45] = 0;
    memcpy(out + 46, m->db_guid, 16);
    put48(out + 62, exsim_store_id_of(obj));
    out[68] = out[69] = 0;
    return 70;
}

int exsim_id_entryid_decode(const uint8_t *eid, size_t len, uint8_t guid[16], int *kind,
                            uint64_t *counter)
{
    static const uint8_t zero[4];
    if ((len != 46 && len != 70) || memcmp(eid, zero, 4) != 0 || eid[21] != 0)
        return -1;
    if (len == 46 && eid[20] == 0x01) {
        *kind = EXSIM_KIND_FOLDER;
        *counter = get48(eid + 38);
    } else if (len == 70 && eid[20] == 0x07) {
        *kind = EXSIM_KIND_ITEM;
        *counter = get48(eid + 62);
    } else {
        return -1;
    }
    memcpy(guid, eid + 4, 16);
    return 0;
}

char *exsim_id_changekey(const exsim_mbx *m, xmlNodePtr obj)
{
    (void)m;
    const char *v = exsim_attr(obj, "version");
    uint32_t ver = v ? (uint32_t)strtoul(v, NULL, 10) : 1;
    uint8_t raw[12] = {'C', 'K'};
    put48(raw + 2, exsim_store_id_of(obj));
    raw[8] = (uint8_t)(ver >> 24);
    raw[9] = (uint8_t)(ver >> 16);
    raw[10] = (uint8_t)(ver >> 8);
    raw[11] = (uint8_t)ver;
    return exsim_b64_encode(raw, sizeof raw);
}
