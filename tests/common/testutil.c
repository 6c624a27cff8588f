/* testutil.c — see testutil.h. */
#include "tests/common/testutil.h"

#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int tu_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int tu_wait_port(int port, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    while (now_ms() < deadline) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return -1;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return 0;
        usleep(20000);
    }
    return -1;
}

pid_t tu_spawn(char *const argv[], const char *log_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    /* a test binary that dies (a crash, SIGPIPE under a pager, a timeout's
     * SIGKILL) never stops its servers by PID: they get SIGTERM with it */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
        _exit(127);
    if (log_path) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
    }
    execvp(argv[0], argv);
    fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int wait_bounded(pid_t pid, int timeout_ms, int *status)
{
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0)
            return -1;
        if (now_ms() >= deadline)
            return 1;
        usleep(10000);
    }
}

int tu_stop(pid_t pid, int timeout_ms)
{
    if (pid <= 0)
        return -1;
    int status = -1;
    kill(pid, SIGTERM);
    if (wait_bounded(pid, timeout_ms, &status) == 1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    return status;
}

int tu_run(char *const argv[], const char *log_path, int timeout_ms)
{
    pid_t pid = tu_spawn(argv, log_path);
    if (pid < 0)
        return -1;
    int status;
    if (wait_bounded(pid, timeout_ms, &status) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char *tu_mkdtemp(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/sr-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    if (!mkdtemp(path))
        return NULL;
    return strdup(path);
}

void tu_rm_rf(const char *dir)
{
    const char *base = getenv("TMPDIR");
    int ok = strncmp(dir, "/tmp/", 5) == 0 ||
             (base && *base && strncmp(dir, base, strlen(base)) == 0);
    if (!ok || strstr(dir, ".."))
        return;
    char *argv[] = { "rm", "-rf", "--", (char *)dir, NULL };
    tu_run(argv, NULL, 30000);
}

const char *tu_root(void) { const char *s = getenv("SR_ROOT"); return s && *s ? s : "."; }
const char *tu_bin(void) { const char *s = getenv("SR_BIN"); return s && *s ? s : "bin"; }
const char *tu_shared(void) { const char *s = getenv("SHARED_DIR"); return s && *s ? s : "../shared"; }

int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int tu_py(const char *script, const char *const *args)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tu_root(), script);
    char *argv[20] = { "/usr/bin/python3", path };
    int n = 2;
    for (int i = 0; args && args[i] && n < 18; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return tu_run(argv, NULL, 30000);
}

int tu_py_to(const char *script, const char *const *args, const char *out_path)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", tu_root(), script);
    char *argv[20] = { "/usr/bin/python3", path };
    int n = 2;
    for (int i = 0; args && args[i] && n < 18; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    return tu_run(argv, out_path, 60000);
}

/* One counted line per CUnit test and tag (the runner counts lines), notes
 * after it. */
static void skip_line(const char *tag, const char *fmt, va_list ap)
{
    static const CU_Test *last;
    static const char *last_tag;
    const CU_Test *t = CU_get_current_test();
    if (t && t == last && tag == last_tag) {
        printf("\n    (also %s) ", tag);
    } else {
        printf("\n%s: %s: ", tag, t && t->pName ? t->pName : "(outside a test)");
        last = t;
        last_tag = tag;
    }
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
}

void tu_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    skip_line("SKIP", fmt, ap);
    va_end(ap);
}

void tu_na(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    skip_line("N/A", fmt, ap);
    va_end(ap);
}

static int lab_read_env(tu_lab *l)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/lab.env", l->dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    while (l->n_env < TU_LAB_MAX_ENV && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        l->keys[l->n_env] = strdup(line);
        l->vals[l->n_env++] = strdup(eq + 1);
    }
    fclose(f);
    return l->n_env > 0 ? 0 : -1;
}

int tu_lab_start(tu_lab *l, const char *script, const char *dir, const char *org,
                 const char *log_path, int timeout_ms)
{
    memset(l, 0, sizeof *l);
    const char *ls = getenv("LAB_SCRIPT");
    if (script)
        snprintf(l->script, sizeof l->script, "%s", script);
    else if (ls && *ls)
        snprintf(l->script, sizeof l->script, "%s", ls);
    else
        snprintf(l->script, sizeof l->script, "%s/tests/lab/slapd-lab.sh", tu_root());
    snprintf(l->dir, sizeof l->dir, "%s", dir);
    if (mkdir(l->dir, 0700) != 0) {
        fprintf(stderr, "lab: cannot create %s: %s\n", l->dir, strerror(errno));
        return -1;
    }
    char *argv[] = { "bash", l->script, "start", l->dir, (char *)org, NULL };
    if (tu_run(argv, log_path, timeout_ms) != 0) {
        fprintf(stderr, "lab start failed (%s):\n", l->script);
        if (log_path) {
            char *cat[] = { "cat", (char *)log_path, NULL };
            tu_run(cat, NULL, 5000);
        }
        return -1;
    }
    l->up = 1;
    if (lab_read_env(l) != 0) {
        fprintf(stderr, "lab: no %s/lab.env\n", l->dir);
        tu_lab_free(l);
        return -1;
    }
    return 0;
}

const char *tu_lab_get(const tu_lab *l, const char *key)
{
    for (int i = 0; i < l->n_env; i++)
        if (!strcmp(l->keys[i], key))
            return l->vals[i];
    return "";
}

void tu_lab_stop(tu_lab *l)
{
    if (l->up) {
        char *argv[] = { "bash", l->script, "stop", l->dir, NULL };
        tu_run(argv, NULL, 60000);
        l->up = 0;
    }
}

void tu_lab_free(tu_lab *l)
{
    tu_lab_stop(l);
    for (int i = 0; i < l->n_env; i++) {
        free(l->keys[i]);
        free(l->vals[i]);
    }
    l->n_env = 0;
}

int tu_exsim_start(tu_exsim *x, const char *dir, const char *name, const char *seed,
                   const char *const *extra)
{
    char bin[4096], pf[4096], log[4096], schemas[4096];
    memset(x, 0, sizeof *x);
    snprintf(bin, sizeof bin, "%s/exsim", tu_bin());
    snprintf(pf, sizeof pf, "%s/%s.port", dir, name);
    snprintf(log, sizeof log, "%s/%s.log", dir, name);
    snprintf(schemas, sizeof schemas, "%s/protocol/ews", tu_shared());
    if (!tu_exists(bin)) {
        fprintf(stderr, "%s is missing: build it with make bin/exsim\n", bin);
        return -1;
    }
    char *argv[24] = { bin, "--seed", (char *)seed, "--port", "0", "--port-file", pf,
                       "--schemas", schemas, "--validate-responses" };
    int n = 10, tls = 0;
    for (int i = 0; extra && extra[i] && n < 22; i++) {
        tls |= strcmp(extra[i], "--tls-cert") == 0;
        argv[n++] = (char *)extra[i];
    }
    argv[n] = NULL;
    x->pid = tu_spawn(argv, log);
    /* the port file is written last: it means "ready" */
    for (int i = 0; x->pid > 0 && i < 100 && !tu_exists(pf); i++)
        usleep(100 * 1000);
    FILE *f = fopen(pf, "r");
    if (!f || fscanf(f, "%d", &x->port) != 1)
        x->port = 0;
    if (f)
        fclose(f);
    if (x->port <= 0 || tu_wait_port(x->port, 10000) != 0) {
        fprintf(stderr, "exsim %s did not start (see %s)\n", name, log);
        tu_exsim_stop(x);
        return -1;
    }
    snprintf(x->url, sizeof x->url, "%s://127.0.0.1:%d", tls ? "https" : "http", x->port);
    return 0;
}

void tu_exsim_stop(tu_exsim *x)
{
    if (x && x->pid > 0)
        tu_stop(x->pid, 5000);
    if (x)
        x->pid = 0;
}

static void seed_attr(xmlNodePtr n, const char *name, char *out, size_t len)
{
    xmlChar *v = xmlGetProp(n, BAD_CAST name);
    snprintf(out, len, "%s", v ? (char *)v : "");
    xmlFree(v);
}

int tu_seed_read(const char *seed, char *user, size_t ul, char *password, size_t pl,
                 tu_seed_mbx *m, int max)
{
    xmlDocPtr d = xmlReadFile(seed, NULL, XML_PARSE_NONET);
    xmlNodePtr root = d ? xmlDocGetRootElement(d) : NULL, a = NULL;
    for (xmlNodePtr c = root ? root->children : NULL; c && !a; c = c->next)
        if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "account"))
            a = c;
    if (!a) {
        xmlFreeDoc(d);
        return -1;
    }
    seed_attr(a, "name", user, ul);
    seed_attr(a, "password", password, pl);
    int n = 0;
    for (xmlNodePtr c = root->children; c && n < max; c = c->next) {
        if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "mailbox"))
            continue;
        seed_attr(c, "smtp", m[n].smtp, sizeof m[n].smtp);
        seed_attr(c, "legacy-dn", m[n].legacy_dn, sizeof m[n].legacy_dn);
        seed_attr(c, "guid", m[n].guid, sizeof m[n].guid);
        seed_attr(c, "redirect", m[n].redirect, sizeof m[n].redirect);
        seed_attr(c, "kind", m[n].kind, sizeof m[n].kind);
        n++;
    }
    xmlFreeDoc(d);
    return n;
}

typedef struct tu_buf { char *p; size_t n; } tu_buf;

static size_t tu_buf_write(char *d, size_t sz, size_t nm, void *ud)
{
    tu_buf *b = ud;
    char *np = realloc(b->p, b->n + sz * nm + 1);
    if (!np)
        return 0;
    memcpy(np + b->n, d, sz * nm);
    b->p = np;
    b->n += sz * nm;
    b->p[b->n] = '\0';
    return sz * nm;
}

char *tu_http(const char *base_url, const char *path, int post)
{
    char url[1024];
    snprintf(url, sizeof url, "%s%s", base_url, path);
    CURL *h = curl_easy_init();
    if (!h)
        return NULL;
    tu_buf b = { 0 };
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tu_buf_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    if (post)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    CURLcode cc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        free(b.p);
        return NULL;
    }
    return b.p;
}
