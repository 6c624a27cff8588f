/* cmdline.c — CPUUCmdLine split into argv the way Windows splits the
 * arguments of a command line (shell32's CommandLineToArgvW, which the
 * Windows tool's child gets), without running a shell: nothing in the INI
 * can execute anything, and `-INI C:\CPUU\CPUU.ini` keeps its backslashes.
 *
 * The rules (the argument part; CPUUCmdLine never holds the program name):
 *  - blanks (space, tab) outside quotes separate arguments;
 *  - 2n backslashes before a double quote give n backslashes, and the quote
 *    opens or closes a quoted part; 2n+1 give n backslashes and a literal ";
 *  - backslashes before anything else are literal;
 *  - inside a quoted part, "" gives a literal " and ends the quoted part
 *    (the pre-2008 rule CommandLineToArgvW keeps; """ gives one " as well).
 * One difference, on purpose: a quoted part still open at the end of the
 * line with text after its quote is refused (Windows would take the rest of
 * the line as one argument; it is nearly always a forgotten quote). */
#include "configs/configs.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    char **v;
    size_t n, cap;
    char *word;       /* current word; sized to the whole input, never grows */
    size_t wlen;
    int in_word;
} tok_state;

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

static void put(tok_state *t, char c, size_t times)
{
    while (times--)
        t->word[t->wlen++] = c;
    t->in_word = 1;
}

/* A run of backslashes at s[*i]; what they mean depends on what follows. */
static void backslashes(tok_state *t, const char *s, size_t *i)
{
    size_t n = 0;
    while (s[*i + n] == '\\')
        n++;
    *i += n;
    if (s[*i] != '"') {
        put(t, '\\', n);        /* literal: C:\CPUU\CPUU.ini */
        (*i)--;
        return;
    }
    put(t, '\\', n / 2);
    if (n % 2) {
        put(t, '"', 1);         /* \" is a quote character */
        return;
    }
    (*i)--;                     /* the quote itself is handled by the caller's loop */
}

/* A run of quotes starting at s[*i] (after an even number of backslashes).
 * qcount: 0 outside, 1 inside a quoted part (CommandLineToArgvW's counter). */
static void quotes(tok_state *t, const char *s, size_t *i, int *qcount, size_t *open_col)
{
    int was_open = *qcount;
    t->in_word = 1;             /* "" is an empty argument */
    (*qcount)++;
    (*i)++;
    while (s[*i] == '"') {
        if (++*qcount == 3) {
            put(t, '"', 1);
            *qcount = 0;
        }
        (*i)++;
    }
    if (*qcount == 2)
        *qcount = 0;
    if (*qcount == 1 && !was_open)
        *open_col = *i;         /* column (1-based) of the last opening quote */
    (*i)--;
}

static sr_code tokenize(const char *s, tok_state *t, sr_err *err)
{
    int qcount = 0;
    size_t open_col = 0;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            return sr_err_set(err, SR_E_CMDLINE, "line break at column %zu", i + 1);
        if ((c == ' ' || c == '\t') && qcount == 0) {
            if (end_word(t) < 0)
                return sr_err_set(err, SR_E_NOMEM, "out of memory");
        } else if (c == '\\') {
            backslashes(t, s, &i);
        } else if (c == '"') {
            quotes(t, s, &i, &qcount, &open_col);
        } else {
            put(t, c, 1);
        }
    }
    if (qcount == 1 && s[open_col] != '\0')
        return sr_err_set(err, SR_E_CMDLINE,
                          "unbalanced double quote (opened at column %zu): Windows would take "
                          "the rest of the line as one argument; close the quote", open_col);
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
