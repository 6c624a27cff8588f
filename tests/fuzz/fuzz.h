/* fuzz.h — what every harness in tests/fuzz/ shares.  A harness defines
 * LLVMFuzzerTestOneInput for one parser of untrusted input; libFuzzer drives
 * it under `make fuzz` (clang, ASan+UBSan), replay.c drives it over files
 * under `make test` (any compiler).  A broken property aborts, which both
 * drivers report as a finding.  No project module depends on this. */
#ifndef SR_FUZZ_H
#define SR_FUZZ_H

#include "util/util.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property that must hold for every input; abort() makes it a finding. */
#define FUZZ_CHECK(cond, ...) do { if (!(cond)) { \
        fprintf(stderr, "fuzz property broken at %s:%d: %s: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); abort(); } } while (0)

/* Parsers log what they refuse; a harness wants none of it (once per process). */
void fuzz_quiet(void);
/* The input as a NUL-terminated heap string (a NUL inside ends it early). */
char *fuzz_cstr(const uint8_t *data, size_t size);
/* The input as a file: a path naming an in-memory file; caller passes the fd
 * to fuzz_file_close.  -1 when none could be made. */
int fuzz_file(const uint8_t *data, size_t size, char *path, size_t path_len);
void fuzz_file_close(int fd);

#endif
