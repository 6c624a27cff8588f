/* fuzz_cmdline.c — the CPUUCmdLine tokenizer (configs/, CommandLineToArgvW's
 * rules), and its round trip: the words, each written back quoted by those
 * rules, tokenize to the same words. */
#include "configs/configs.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

/* Each word quoted the way CommandLineToArgvW reads it back: "word", with
 * n backslashes before a quote written 2n+1 (then the quote), n backslashes
 * at the end written 2n (before the closing quote), others as they are. */
static char *requote(char **argv)
{
    size_t n = 1;
    for (size_t i = 0; argv[i]; i++)
        n += 3 + 2 * strlen(argv[i]) + 2;
    char *s = malloc(n), *o = s;
    if (!s)
        return NULL;
    for (size_t i = 0; argv[i]; i++) {
        *o++ = '"';
        size_t bs = 0;
        for (const char *c = argv[i];; c++) {
            if (*c == '\\') {
                bs++;
                continue;
            }
            size_t k = *c == '"' || !*c ? 2 * bs + (*c == '"') : bs;
            memset(o, '\\', k);
            o += k;
            bs = 0;
            if (!*c)
                break;
            *o++ = *c;
        }
        *o++ = '"';
        *o++ = ' ';
    }
    *o = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_quiet();
    char *line = fuzz_cstr(data, size);
    if (!line)
        return 0;
    char **argv = NULL, **again = NULL;
    size_t argc = 0, argc2 = 0;
    sr_err e;
    sr_code rc = cfg_cpuu_cmdline_tokenize(line, &argv, &argc, &e);
    FUZZ_CHECK(rc == SR_OK || rc == SR_E_CMDLINE || rc == SR_E_NOMEM, "code %d: %s", rc, e.msg);
    if (rc == SR_OK) {
        FUZZ_CHECK(argv[argc] == NULL, "argv not NULL-terminated at %zu", argc);
        char *q = requote(argv);
        if (q) {
            rc = cfg_cpuu_cmdline_tokenize(q, &again, &argc2, &e);
            FUZZ_CHECK(rc == SR_OK, "requoted words refused: %s", e.msg);
            FUZZ_CHECK(argc2 == argc, "%zu words became %zu", argc, argc2);
            for (size_t i = 0; i < argc; i++)
                FUZZ_CHECK(strcmp(argv[i], again[i]) == 0, "word %zu changed", i);
            cfg_argv_free(again);
            free(q);
        }
    }
    cfg_argv_free(argv);
    free(line);
    return 0;
}
