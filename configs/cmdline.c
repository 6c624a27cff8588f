/* cmdline.c — CPUUCmdLine split into argv like a POSIX shell splits words,
 * without running a shell (so nothing in the INI can execute anything). */
#include "configs/configs.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char **v;
    size_t n, cap;
    char *word;       /* current word being built */
    size_t wlen;
    int in_word;
} tok_state;

static int push_char(tok_state *t, char c)
{
    /* word buffer is sized to the whole input in tokenize(), so no growth */
    t->word[t->wlen++] = c;
    t->in_word = 1;
    return 0;
}

static int end_word(tok_state *t)
{
    if (!t->in_word)
        return 0;
    if (t->n + 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **nv = realloc(t->v, cap * sizeof *nv);
        if (!nv)
            return -1;
        t->v = nv;
        t->cap = cap;
    }
    char *w = malloc(t->wlen + 1);
    if (!w)
        return -1;
    memcpy(w, t->word, t->wlen);
    w[t->wlen] = '\0';
    t->v[t->n++] = w;
    t->v[t->n] = NULL;
    t->wlen = 0;
    t->in_word = 0;
    return 0;
}

/* Scan from s[*i] (just after the opening quote) to the closing one.
 * Returns 0, or -1 when the quote is not closed. */
static int scan_quoted(tok_state *t, const char *s, size_t *i, char q)
{
    t->in_word = 1; /* "" is an empty argument */
    for (;; (*i)++) {
        char c = s[*i];
        if (!c)
            return -1;
        if (c == q)
            return 0;
        if (q == '"' && c == '\\' && s[*i + 1] && strchr("\"\\$`", s[*i + 1])) {
            (*i)++;
            c = s[*i];
        }
        push_char(t, c);
    }
}

static sr_code tokenize(const char *s, tok_state *t, sr_err *err)
{
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        size_t col = i + 1;
        if (c == ' ' || c == '\t') {
            if (end_word(t) < 0)
                return sr_err_set(err, SR_E_NOMEM, "out of memory");
        } else if (c == '\'' || c == '"') {
            i++;
            if (scan_quoted(t, s, &i, c) < 0)
                return sr_err_set(err, SR_E_CMDLINE, "unbalanced %s quote (opened at column %zu)",
                                  c == '"' ? "double" : "single", col);
        } else if (c == '\\') {
            if (!s[i + 1])
                return sr_err_set(err, SR_E_CMDLINE, "backslash at the end of the line (column %zu)",
                                  col);
            push_char(t, s[++i]);
        } else if (strchr("|&;<>()`$", c)) {
            return sr_err_set(err, SR_E_CMDLINE,
                              "shell syntax '%c' at column %zu is not supported: the command "
                              "line is split into arguments and run without a shell (quote it "
                              "to pass it literally)", c, col);
        } else if (c == '\r' || c == '\n') {
            return sr_err_set(err, SR_E_CMDLINE, "line break at column %zu", col);
        } else {
            push_char(t, c);
        }
    }
    if (end_word(t) < 0)
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    return SR_OK;
}

sr_code cfg_cpuu_cmdline_tokenize(const char *cmdline, char ***argv_out, size_t *argc_out,
                                  sr_err *err)
{
    *argv_out = NULL;
    if (argc_out)
        *argc_out = 0;
    const char *s = cmdline ? cmdline : "";
    tok_state t = { 0 };
    t.word = malloc(strlen(s) + 1);
    t.v = calloc(1, sizeof *t.v);
    t.cap = 1;
    if (!t.word || !t.v) {
        free(t.word);
        free(t.v);
        return sr_err_set(err, SR_E_NOMEM, "out of memory");
    }
    sr_code rc = tokenize(s, &t, err);
    free(t.word);
    if (rc != SR_OK) {
        cfg_argv_free(t.v);
        return rc;
    }
    *argv_out = t.v;
    if (argc_out)
        *argc_out = t.n;
    return SR_OK;
}

void cfg_argv_free(char **argv)
{
    if (!argv)
        return;
    for (size_t i = 0; argv[i]; i++)
        free(argv[i]);
    free(argv);
}
