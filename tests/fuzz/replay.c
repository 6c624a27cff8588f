/* replay.c — drives a harness's LLVMFuzzerTestOneInput over files, with the
 * normal compiler (no clang needed): `make test` replays every corpus and
 * every past finding through it.  Usage: fuzzreplay_<name> FILE|DIR...
 * Prints one line per file that aborts (the abort ends the process, so the
 * caller sees the exit status) and "N inputs replayed" at the end. */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

static unsigned g_count;

static int replay_file(const char *path)
{
    size_t len = 0;
    sr_err e;
    char *buf = sr_read_file(path, 16u << 20, &len, &e);
    if (!buf) {
        fprintf(stderr, "replay: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "replay: %s\n", path);   /* names the culprit if it aborts */
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
    free(buf);
    g_count++;
    return 0;
}

static int replay_path(const char *path, int depth)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: no such file or directory\n", path);
        return 1;
    }
    if (!S_ISDIR(st.st_mode))
        return replay_file(path);
    DIR *d = opendir(path);
    if (!d || depth > 4)
        return d ? (closedir(d), 0) : 1;
    int bad = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = sr_asprintf("%s/%s", path, de->d_name);
        bad |= p ? replay_path(p, depth + 1) : 1;
        free(p);
    }
    closedir(d);
    return bad;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int i = 1; i < argc; i++)
        bad |= replay_path(argv[i], 0);
    printf("%u inputs replayed\n", g_count);
    return bad;
}
