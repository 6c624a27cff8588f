/* nicks.h — Outlook's autocomplete stream (the spec's "Nicks") and the EWS
 * user-configuration calls that carry it (private to cpuu/).
 *
 * The stream is the PidTagRoamingBinary of the IPM.Configuration.Autocomplete
 * FAI message in the Inbox (Outlook MAPI "Autocomplete Stream" page, see
 * /work/shared/protocol/FORMATS.md).  Layout, little-endian:
 *   metadata(4) major(4) minor(4) rowcount(4)
 *   rows { propcount(4) props { tag(4) reserved(4) union(8) value-data } }
 *   extra-info size(4) extra(EI) metadata(8)
 * Value data per property type (same page, "Interpreting the Property
 * Value"): fixed-size types live in the union and have no value data;
 * PT_STRING8 / PT_UNICODE / PT_BINARY: byte count(4) + bytes; PT_CLSID:
 * 16 bytes; PT_MV_*: value count(4) + the values (fixed size each, or
 * count(4) + bytes each for string/binary).  Any other type is refused
 * (SR_E_UNSUPPORTED): we never guess a length.
 *
 * The codec keeps each property's value data as the raw bytes it read, so a
 * parse + serialise round trip is byte-exact; metadata blocks, minor version
 * and extra info are carried untouched (third parties modify only rows).
 *
 * Ownership: nk_stream owns everything inside; nk_stream_clear releases it.
 * Strings returned by nk_row_string are heap (caller frees). */
#ifndef CPUU_NICKS_H
#define CPUU_NICKS_H

#include <stddef.h>
#include <stdint.h>

#include "cpuu/feature.h"
#include "mapi/mapi.h"
#include "util/util.h"

#define NK_MAJOR 12u

/* Property ids of the recipient rows (MS-OXPROPS: PidTagDisplayName 0x3001,
 * PidTagAddressType 0x3002, PidTagEmailAddress 0x3003, PidTagSearchKey
 * 0x300B, PidTagEntryId 0x0FFF, PidTagSmtpAddress 0x39FE; PR_NICK_NAME_W
 * 0x6001 is Outlook's autocomplete nickname, from the Autocomplete Stream
 * page's "Significant properties"). */
#define NK_ID_DISPLAY_NAME 0x3001u
#define NK_ID_ADDRTYPE 0x3002u
#define NK_ID_EMAIL 0x3003u
#define NK_ID_SEARCH_KEY 0x300Bu
#define NK_ID_ENTRYID 0x0FFFu
#define NK_ID_SMTP 0x39FEu
#define NK_ID_NICKNAME 0x6001u

#define NK_PT_STRING8 0x001Eu
#define NK_PT_UNICODE 0x001Fu
#define NK_PT_BINARY 0x0102u

typedef struct nk_prop {
    uint32_t tag;
    uint32_t reserved;
    uint8_t un[8];      /* value union, as read */
    uint8_t *data;      /* value data as read (count prefix included), may be NULL */
    size_t len;
} nk_prop;

typedef struct nk_row {
    nk_prop *p;
    size_t n;
} nk_row;

typedef struct nk_stream {
    uint8_t meta_head[4];
    uint32_t major, minor;
    nk_row *rows;
    size_t nrows;
    uint8_t *extra;     /* extra info (EI bytes), may be NULL */
    size_t nextra;
    uint8_t meta_tail[8];
} nk_stream;

/* Parse buf strictly: SR_E_PARSE (err names the offset and field) for a
 * truncated or inconsistent stream or trailing bytes, SR_E_UNSUPPORTED for a
 * major version other than 12 or an unknown property type.  On failure *s is
 * cleared. */
sr_code nk_parse(const uint8_t *buf, size_t len, nk_stream *s, sr_err *err);
/* Serialise s; *out heap (caller frees). */
sr_code nk_serialize(const nk_stream *s, uint8_t **out, size_t *out_len, sr_err *err);
void nk_stream_clear(nk_stream *s);
void nk_row_clear(nk_row *r);
/* Deep copy of src into *dst (dst uninitialised). */
sr_code nk_row_copy(nk_row *dst, const nk_row *src, sr_err *err);
/* Same properties, same bytes. */
int nk_row_equal(const nk_row *a, const nk_row *b);

/* The first property with this id (any type); NULL when absent. */
nk_prop *nk_row_find(const nk_row *r, uint16_t id);
/* String value (PT_UNICODE or PT_STRING8) of property id as UTF-8 without
 * the terminating NUL; NULL when absent, not a string, or not decodable. */
char *nk_row_string(const nk_row *r, uint16_t id);
/* Binary value of property id (PT_BINARY): pointer into the row; NULL when absent. */
const uint8_t *nk_row_binary(const nk_row *r, uint16_t id, size_t *len);
/* Replace the value of an existing string property (its type is kept:
 * UTF-16LE for PT_UNICODE, bytes for PT_STRING8; NUL appended).  Absent:
 * no-op, SR_OK. */
sr_code nk_row_set_string(nk_row *r, uint16_t id, const char *utf8, sr_err *err);
/* Replace the value of an existing PT_BINARY property.  Absent: no-op. */
sr_code nk_row_set_binary(nk_row *r, uint16_t id, const uint8_t *v, size_t len, sr_err *err);
/* Drop every property with this id. */
void nk_row_remove(nk_row *r, uint16_t id);

/* Test helper and builder: append a row of n properties given as (tag,
 * value) where strings are UTF-8 (PT_UNICODE/PT_STRING8), binaries (ptr,len)
 * and PT_LONG values int32.  Used by tests to make streams. */
typedef struct nk_val {
    uint32_t tag;
    const char *str;
    const uint8_t *bin;
    size_t bin_len;
    int32_t l;
} nk_val;
sr_code nk_row_append(nk_stream *s, const nk_val *v, size_t n, sr_err *err);

/* ---- EWS (ews_nicks.c): GetUserConfiguration / Create / Update / Delete of
 * the configuration `name` in distinguished folder `folder` ---- */
xmlDocPtr nk_req_getconfig(const mapi_ews_target *t, const char *folder, const char *name,
                           sr_err *err);
/* create: CreateUserConfiguration, else UpdateUserConfiguration; b64 = BinaryData. */
xmlDocPtr nk_req_setconfig(const mapi_ews_target *t, const char *folder, const char *name,
                           int create, const char *b64, sr_err *err);
xmlDocPtr nk_req_deleteconfig(const mapi_ews_target *t, const char *folder, const char *name,
                              sr_err *err);
/* GetUserConfigurationResponse: SR_E_NOTFOUND when the configuration does
 * not exist; else SR_OK with *data, *len the decoded BinaryData (heap; NULL
 * and *has_binary = 0 when the configuration has none). */
sr_code nk_parse_getconfig(xmlNodePtr resp_op, uint8_t **data, size_t *len, int *has_binary,
                           sr_err *err);
/* Any *UserConfigurationResponse: the one message's status (SR_E_NOTFOUND
 * for ErrorItemNotFound). */
sr_code nk_parse_status(xmlNodePtr resp_op, sr_err *err);

/* ---- the Nicks feature's steps its EWS and Graph ops share (feat_nicks.c) ----
 * A side is one mailbox's Autocomplete configuration; the state both sides
 * and the plan (the new target stream, NULL: write nothing). */
typedef struct nk_side {
    int exists;            /* the configuration message exists */
    int has_blob;          /* ... with BinaryData */
    uint8_t *raw;          /* BinaryData, exactly as read */
    size_t len;
    int parsed;            /* s is valid */
    nk_stream s;
} nk_side;

typedef struct nk_state {
    nk_side src, tgt;
    int skip;              /* nothing to do (absent / unsupported) */
    uint8_t *out;          /* planned target stream; NULL = write nothing */
    size_t out_len;
} nk_state;

/* feature_ops.free_state of both. */
void nk_state_free(void *state);
/* GetUserConfiguration Autocomplete over EWS on ms into *sd (absent is no
 * error: sd->exists 0). */
sr_code nk_get_config(cpuu_ctx *c, mapi_session *ms, nk_side *sd, sr_err *err);
/* Parse sd's stream (mailbox names it in messages); a major version this
 * codec does not know sets *skip and counts unsupported (reported). */
sr_code nk_parse_side(cpuu_ctx *c, const char *mailbox, nk_side *sd, feature_stats *st, int *skip,
                      sr_err *err);
/* Remove=Nicks is set: the plan empties the target's list. */
int nk_removing(const cpuu_ctx *c);
/* feature_ops.keys of both (state an nk_state). */
sr_code nk_keys(cpuu_ctx *c, void *state, cpuu_keys *k, cpuu_keys *tk, sr_err *err);
/* The merge (feat_nicks.c's header): s->out set when the new stream differs
 * from s->tgt's bytes; tgt_name names the target mailbox in the log. */
sr_code nk_plan(cpuu_ctx *c, nk_state *s, const char *tgt_name, feature_stats *st, sr_err *err);

#endif
