/* test_nicks_stream.c — the autocomplete stream codec (cpuu/nicks.h):
 * byte-exact round trip of a stream built by hand (layout per the Outlook
 * "Autocomplete Stream" page), every truncated prefix and random
 * corruptions refused without a crash (run under ASan by make test-asan),
 * a major version other than 12 refused, row editing. */
#include <CUnit/Basic.h>
#include <stdlib.h>
#include <string.h>

#include "cpuu/nicks.h"

static uint8_t g_buf[4096];
static size_t g_len;

static void p32(uint32_t v)
{
    for (int i = 0; i < 4; i++)
        g_buf[g_len++] = (uint8_t)(v >> (8 * i));
}

static void pbytes(const void *b, size_t n)
{
    memcpy(g_buf + g_len, b, n);
    g_len += n;
}

/* A property header: tag, reserved, union. */
static void phdr(uint32_t tag, uint32_t un_lo)
{
    p32(tag);
    p32(0);
    p32(un_lo);
    p32(0);
}

static void pwstr(uint32_t tag, const char *ascii)
{
    phdr(tag, 0);
    size_t n = strlen(ascii);
    p32((uint32_t)(2 * n + 2));
    for (size_t i = 0; i <= n; i++) {
        g_buf[g_len++] = (uint8_t)ascii[i];
        g_buf[g_len++] = 0;
    }
}

/* Two rows (one EX, one SMTP), a PT_CLSID and a PT_MV_BINARY, extra info. */
static void build(uint32_t major)
{
    static const char dn[] = "/o=Src/ou=Exchange Administrative Group/cn=Recipients/cn=alice";
    g_len = 0;
    p32(0xBAADF00D);
    p32(major);
    p32(0);
    p32(2);
    p32(7);   /* row 1 */
    pwstr(0x3001001F, "Alice");
    pwstr(0x3002001F, "EX");
    pwstr(0x3003001F, dn);
    pwstr(0x39FE001F, "alice@src.example");
    phdr(0x0FFE0003, 6);
    phdr(0x00480048, 0);   /* PT_CLSID: 16 bytes of value data */
    pbytes("0123456789abcdef", 16);
    phdr(0x68001102, 0);   /* PT_MV_BINARY: 2 values */
    p32(2);
    p32(3);
    pbytes("abc", 3);
    p32(1);
    pbytes("z", 1);
    p32(3);   /* row 2 */
    pwstr(0x3002001F, "SMTP");
    pwstr(0x3003001F, "bob@partner.example");
    phdr(0x300B0102, 0);
    p32(25);
    pbytes("SMTP:BOB@PARTNER.EXAMPLE", 25);
    p32(2);   /* extra info */
    pbytes("xy", 2);
    p32(0xBAADF00D);
    p32(7);
}

static void test_round_trip(void)
{
    build(12);
    nk_stream s;
    sr_err e;
    CU_ASSERT_EQUAL_FATAL(nk_parse(g_buf, g_len, &s, &e), SR_OK);
    CU_ASSERT_EQUAL(s.nrows, 2);
    CU_ASSERT_EQUAL(s.rows[0].n, 7);
    CU_ASSERT_EQUAL(s.nextra, 2);
    char *t = nk_row_string(&s.rows[0], NK_ID_SMTP);
    CU_ASSERT_STRING_EQUAL(t, "alice@src.example");
    free(t);
    size_t n = 0;
    const uint8_t *sk = nk_row_binary(&s.rows[1], NK_ID_SEARCH_KEY, &n);
    CU_ASSERT_EQUAL(n, 25);
    CU_ASSERT_PTR_NOT_NULL(sk);
    uint8_t *out = NULL;
    size_t ol = 0;
    CU_ASSERT_EQUAL_FATAL(nk_serialize(&s, &out, &ol, &e), SR_OK);
    CU_ASSERT_EQUAL(ol, g_len);
    CU_ASSERT_EQUAL(memcmp(out, g_buf, g_len), 0);
    free(out);
    /* editing: a longer value shifts everything after it, metadata kept */
    CU_ASSERT_EQUAL(nk_row_set_string(&s.rows[0], NK_ID_SMTP, "alice.longer@tgt.example", &e), SR_OK);
    CU_ASSERT_EQUAL_FATAL(nk_serialize(&s, &out, &ol, &e), SR_OK);
    nk_stream s2;
    CU_ASSERT_EQUAL_FATAL(nk_parse(out, ol, &s2, &e), SR_OK);
    t = nk_row_string(&s2.rows[0], NK_ID_SMTP);
    CU_ASSERT_STRING_EQUAL(t, "alice.longer@tgt.example");
    free(t);
    CU_ASSERT_TRUE(nk_row_equal(&s.rows[1], &s2.rows[1]));
    CU_ASSERT_EQUAL(memcmp(out + ol - 8, g_buf + g_len - 8, 8), 0);
    CU_ASSERT_EQUAL(memcmp(out, g_buf, 4), 0);
    free(out);
    nk_row_remove(&s2.rows[0], NK_ID_SMTP);
    CU_ASSERT_PTR_NULL(nk_row_find(&s2.rows[0], NK_ID_SMTP));
    CU_ASSERT_EQUAL(s2.rows[0].n, 6);
    nk_stream_clear(&s2);
    nk_stream_clear(&s);
}

static void test_truncated(void)
{
    build(12);
    sr_err e;
    for (size_t k = 0; k < g_len; k++) {
        nk_stream s;
        /* a heap copy of exactly k bytes so ASan sees any over-read */
        uint8_t *b = malloc(k ? k : 1);
        memcpy(b, g_buf, k);
        sr_code rc = nk_parse(b, k, &s, &e);
        CU_ASSERT_EQUAL(rc, SR_E_PARSE);
        if (rc != SR_E_PARSE)
            fprintf(stderr, "\n    prefix %zu accepted\n", k);
        CU_ASSERT_EQUAL(s.nrows, 0);
        free(b);
    }
    /* a trailing byte is refused too */
    g_buf[g_len++] = 0;
    nk_stream s;
    CU_ASSERT_EQUAL(nk_parse(g_buf, g_len, &s, &e), SR_E_PARSE);
}

static void test_corrupt(void)
{
    build(12);
    uint8_t *b = malloc(g_len);
    unsigned seed = 12345, accepted = 0;
    for (int round = 0; round < 4000; round++) {
        memcpy(b, g_buf, g_len);
        int flips = 1 + round % 4;
        for (int f = 0; f < flips; f++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % g_len;
            seed = seed * 1103515245u + 12345u;
            b[at] ^= (uint8_t)(1u << ((seed >> 16) % 8));
        }
        nk_stream s;
        sr_err e;
        sr_code rc = nk_parse(b, g_len, &s, &e);
        if (rc == SR_OK) {   /* accepted: must serialise back to the same bytes */
            uint8_t *o = NULL;
            size_t ol = 0;
            CU_ASSERT_EQUAL(nk_serialize(&s, &o, &ol, &e), SR_OK);
            CU_ASSERT_TRUE(ol == g_len && memcmp(o, b, ol) == 0);
            free(o);
            accepted++;
        } else {
            CU_ASSERT_TRUE(rc == SR_E_PARSE || rc == SR_E_UNSUPPORTED);
            CU_ASSERT_EQUAL(s.nrows, 0);
        }
        nk_stream_clear(&s);
    }
    /* flips inside string values are legal streams; flips in counts are not */
    CU_ASSERT_TRUE(accepted > 0 && accepted < 4000);
    free(b);
}

static void test_version(void)
{
    build(11);
    nk_stream s;
    sr_err e;
    CU_ASSERT_EQUAL(nk_parse(g_buf, g_len, &s, &e), SR_E_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.msg, "major version 11"));
    build(13);
    CU_ASSERT_EQUAL(nk_parse(g_buf, g_len, &s, &e), SR_E_UNSUPPORTED);
    /* an unknown property type is never guessed */
    build(12);
    g_buf[16 + 4] = 0x99;   /* row 1, property 1 tag: type 0x0099 */
    g_buf[16 + 5] = 0x00;
    CU_ASSERT_EQUAL(nk_parse(g_buf, g_len, &s, &e), SR_E_UNSUPPORTED);
    /* absurd counts are refused before any allocation */
    build(12);
    g_buf[12] = g_buf[13] = g_buf[14] = g_buf[15] = 0xFF;
    CU_ASSERT_EQUAL(nk_parse(g_buf, g_len, &s, &e), SR_E_PARSE);
    CU_ASSERT_EQUAL(nk_parse(NULL, 0, &s, &e), SR_E_PARSE);
}

static void test_append(void)
{
    nk_stream s = {.meta_head = {1, 2, 3, 4}, .major = 12};
    sr_err e;
    const uint8_t eid[] = {0, 0, 0, 0, 1, 2};
    nk_val v[] = {{.tag = 0x3001001F, .str = "Zoë"},
                  {.tag = 0x3002001E, .str = "SMTP"},
                  {.tag = 0x0FFF0102, .bin = eid, .bin_len = sizeof eid},
                  {.tag = 0x60040003, .l = 42}};
    CU_ASSERT_EQUAL_FATAL(nk_row_append(&s, v, 4, &e), SR_OK);
    uint8_t *o = NULL;
    size_t ol = 0;
    CU_ASSERT_EQUAL_FATAL(nk_serialize(&s, &o, &ol, &e), SR_OK);
    nk_stream p;
    CU_ASSERT_EQUAL_FATAL(nk_parse(o, ol, &p, &e), SR_OK);
    char *dn = nk_row_string(&p.rows[0], NK_ID_DISPLAY_NAME), *at = nk_row_string(&p.rows[0], NK_ID_ADDRTYPE);
    CU_ASSERT_STRING_EQUAL(dn, "Zoë");
    CU_ASSERT_STRING_EQUAL(at, "SMTP");
    CU_ASSERT_TRUE(nk_row_equal(&s.rows[0], &p.rows[0]));
    free(dn);
    free(at);
    free(o);
    nk_stream_clear(&p);
    nk_stream_clear(&s);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite s = CU_add_suite("nicks_stream", NULL, NULL);
    CU_add_test(s, "round trip byte-exact, editing keeps metadata", test_round_trip);
    CU_add_test(s, "every truncated prefix refused", test_truncated);
    CU_add_test(s, "random corruption: refused or byte-exact", test_corrupt);
    CU_add_test(s, "major version != 12 and unknown types refused", test_version);
    CU_add_test(s, "rows built from values", test_append);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    int bad = CU_get_error() != CUE_SUCCESS;
    CU_cleanup_registry();
    return fails || bad ? 1 : 0;
}
