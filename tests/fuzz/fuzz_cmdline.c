/* fuzz_cmdline.c — the CPUUCmdLine tokenizer (configs/), and its round trip:
 * the words, each written back single-quoted, tokenize to the same words. */
#include "configs/configs.h"
#include "tests/fuzz/fuzz.h"

#include <string.h>

/* 'word' with every ' written as '\'' */
static char *requote(char **argv)
{
    size_t n = 1;
    for (size_t i = 0; argv[i]; i++)
        n += 3 + 4 * strlen(argv[i]);
    char *s = malloc(n), *o = s;
    if (!s)
        return NULL;
    for (size_t i = 0; argv[i]; i++) {
        *o++ = '\'';
        for (const char *c = argv[i]; *c; c++) {
            if (*c == '\'') {
                memcpy(o, "'\\''", 4);
                o += 4;
            } else {
                *o++ = *c;
            }
        }
        *o++ = '\'';
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
