/* codes.c — names of the CPUU exit bits for log lines (util/codes.h). */
#include "util/codes.h"

#include <stdio.h>
#include <string.h>

static const char *const cpuu_bit_names[] = {
    "CPUU_SUCCESS", "CPUU_NO_SWITCH_MSG", "CPUU_SWITCH_ERR", "CPUU_USER_ABORT",
    "CPUU_GLOBAL_ERR", "CPUU_CRASH", "CPUU_FAILED_TO_WRITE_LOG",
    "CPUU_FAILED_TO_CREATE_TMP_DIR", "CPUU_FAILED_TO_COPY_LOCALLOG_TO_REMOTE_SHARE",
    "CPUU_INVALID_SWITCH_MSG",
};
/* Fires when a bit is added to the enum without a name here. */
_Static_assert(sizeof cpuu_bit_names / sizeof cpuu_bit_names[0] == CPUU_EXIT_NBITS,
               "one name per CPUU exit bit");
_Static_assert(1u << (CPUU_EXIT_NBITS - 1) == CPUU_INVALID_SWITCH_MSG, "last CPUU exit bit");

static void append(char *buf, size_t n, const char *s)
{
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, "%s%s", len ? "|" : "", s);
}

char *sr_cpuu_bits_describe(unsigned bits, char *buf, size_t n)
{
    buf[0] = '\0';
    if (bits == 0) {
        snprintf(buf, n, "CPUU_CANNOT_START");
        return buf;
    }
    for (unsigned i = 0; i < CPUU_EXIT_NBITS; i++)
        if (bits & (1u << i))
            append(buf, n, cpuu_bit_names[i]);
    unsigned unknown = bits & ~((1u << CPUU_EXIT_NBITS) - 1);
    if (unknown) {
        char hex[16];
        snprintf(hex, sizeof hex, "0x%x", unknown);
        append(buf, n, hex);
    }
    return buf;
}
