/* store.c — the organisation: seed loading, accounts, mailbox lookup, dump,
 * and the object index (counter → node) the handlers use.  See store.h. */
#include "tests/exsim/store.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- small tree helpers -------------------------------------------------- */

const char *exsim_attr(xmlNodePtr n, const char *name)
{
    if (!n)
        return NULL;
    for (xmlAttrPtr a = n->properties; a; a = a->next)
        if (!a->ns && strcmp((const char *)a->name, name) == 0)
            return a->children && a->children->content ? (const char *)a->children->content : "";
    return NULL;
}

int exsim_is(xmlNodePtr n, const char *ns, const char *name)
{
    if (!n || n->type != XML_ELEMENT_NODE || strcmp((const char *)n->name, name) != 0)
        return 0;
    if (!ns)
        return 1;
    return n->ns && strcmp((const char *)n->ns->href, ns) == 0;
}

xmlNodePtr exsim_first_el(xmlNodePtr parent)
{
    xmlNodePtr c = parent ? parent->children : NULL;
    while (c && c->type != XML_ELEMENT_NODE)
        c = c->next;
    return c;
}

xmlNodePtr exsim_next_el(xmlNodePtr n)
{
    n = n ? n->next : NULL;
    while (n && n->type != XML_ELEMENT_NODE)
        n = n->next;
    return n;
}

xmlNodePtr exsim_next(xmlNodePtr after, const char *ns, const char *name)
{
    for (xmlNodePtr c = exsim_next_el(after); c; c = exsim_next_el(c))
        if (exsim_is(c, ns, name))
            return c;
    return NULL;
}

xmlNodePtr exsim_child(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = exsim_first_el(parent); c; c = exsim_next_el(c))
        if (exsim_is(c, ns, name))
            return c;
    return NULL;
}

const char *exsim_text(xmlNodePtr n)
{
    if (n && n->children && n->children->type == XML_TEXT_NODE && n->children->content)
        return (const char *)n->children->content;
    return "";
}

int exsim_guid_parse(const char *s, uint8_t out[16])
{
    unsigned v[11];
    int used = 0;
    if (!s || strlen(s) != 36 ||
        sscanf(s, "%8x-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x%n", &v[0], &v[1], &v[2], &v[3], &v[4],
               &v[5], &v[6], &v[7], &v[8], &v[9], &v[10], &used) != 11 || used != 36)
        return -1;
    out[0] = v[0] & 0xff; out[1] = (v[0] >> 8) & 0xff;
    out[2] = (v[0] >> 16) & 0xff; out[3] = (v[0] >> 24) & 0xff;
    out[4] = v[1] & 0xff; out[5] = (v[1] >> 8) & 0xff;
    out[6] = v[2] & 0xff; out[7] = (v[2] >> 8) & 0xff;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)v[3 + i];
    return 0;
}

/* ---- object index -------------------------------------------------------- */

uint64_t exsim_store_id_of(xmlNodePtr node)
{
    const char *id = exsim_attr(node, "id");
    return id ? strtoull(id, NULL, 10) : 0;
}

static int index_put(exsim_mbx *m, uint64_t id, xmlNodePtr node)
{
    if (id >= m->nobjs) {
        size_t cap = m->nobjs ? m->nobjs : 64;
        while (cap <= id)
            cap *= 2;
        xmlNodePtr *n = realloc(m->objs, cap * sizeof *n);
        if (!n)
            return -1;
        memset(n + m->nobjs, 0, (cap - m->nobjs) * sizeof *n);
        m->objs = n;
        m->nobjs = cap;
    }
    m->objs[id] = node;
    if (id >= m->next_id)
        m->next_id = id + 1;
    return 0;
}

xmlNodePtr exsim_store_obj(exsim_mbx *m, uint64_t counter)
{
    return (m && counter < m->nobjs) ? m->objs[counter] : NULL;
}

uint64_t exsim_store_add(exsim_mbx *m, xmlNodePtr node)
{
    uint64_t id = m->next_id ? m->next_id : 1;
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, id);
    xmlSetProp(node, BAD_CAST "id", BAD_CAST buf);
    if (index_put(m, id, node) != 0)
        return 0;
    m->next_id = id + 1;
    return id;
}

static void index_drop(exsim_mbx *m, xmlNodePtr node)
{
    for (xmlNodePtr c = exsim_first_el(node); c; c = exsim_next_el(c))
        if (exsim_is(c, NULL, "folder") || exsim_is(c, NULL, "item"))
            index_drop(m, c);
    uint64_t id = exsim_store_id_of(node);
    if (id && id < m->nobjs && m->objs[id] == node)
        m->objs[id] = NULL;
}

void exsim_store_remove(exsim_mbx *m, xmlNodePtr node)
{
    index_drop(m, node);
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}

xmlNodePtr exsim_store_distinguished(exsim_mbx *m, const char *name)
{
    for (size_t i = 1; m && i < m->nobjs; i++) {
        xmlNodePtr n = m->objs[i];
        const char *d = n && exsim_is(n, NULL, "folder") ? exsim_attr(n, "distinguished") : NULL;
        if (d && strcmp(d, name) == 0)
            return n;
    }
    return NULL;
}

/* Index every <folder>/<item> under node; -1 on a duplicate or bad id. */
static int index_tree(exsim_mbx *m, xmlNodePtr node, char *err, size_t errlen)
{
    for (xmlNodePtr c = exsim_first_el(node); c; c = exsim_next_el(c)) {
        if (!exsim_is(c, NULL, "folder") && !exsim_is(c, NULL, "item"))
            continue;
        uint64_t id = exsim_store_id_of(c);
        if (!id || exsim_store_obj(m, id)) {
            snprintf(err, errlen, "line %ld: mailbox %s: %s id \"%s\" missing or duplicate",
                     (long)xmlGetLineNo(c), m->info.smtp, (const char *)c->name,
                     exsim_attr(c, "id") ? exsim_attr(c, "id") : "");
            return -1;
        }
        if (index_put(m, id, c) != 0 || index_tree(m, c, err, errlen) != 0)
            return -1;
    }
    return 0;
}

/* ---- loading ------------------------------------------------------------- */

static char *dup_attr(xmlNodePtr n, const char *name)
{
    const char *v = exsim_attr(n, name);
    return v ? strdup(v) : NULL;
}

static int need(xmlNodePtr n, const char *name, char *err, size_t errlen)
{
    if (exsim_attr(n, name) && *exsim_attr(n, name))
        return 0;
    snprintf(err, errlen, "line %ld: <%s> lacks attribute %s", (long)xmlGetLineNo(n),
             (const char *)n->name, name);
    return -1;
}

static int load_account(exsim_account *a, xmlNodePtr n, char *err, size_t errlen)
{
    if (need(n, "name", err, errlen) || need(n, "password", err, errlen))
        return -1;
    a->name = dup_attr(n, "name");
    a->upn = dup_attr(n, "upn");
    a->password = dup_attr(n, "password");
    const char *tok = exsim_attr(n, "token");
    a->token = tok && *tok ? strdup(tok) : NULL;
    const char *fa = exsim_attr(n, "full-access"), *im = exsim_attr(n, "impersonation");
    a->full_access = fa && strcmp(fa, "1") == 0;
    a->impersonation = im && strcmp(im, "1") == 0;
    return 0;
}

static int load_mailbox(exsim_mbx *m, xmlNodePtr n, char *err, size_t errlen)
{
    m->node = n;
    if (need(n, "smtp", err, errlen) || need(n, "guid", err, errlen) ||
        need(n, "db-guid", err, errlen))
        return -1;
    m->info.smtp = dup_attr(n, "smtp");
    m->info.display_name = dup_attr(n, "display-name");
    m->info.legacy_dn = dup_attr(n, "legacy-dn");
    m->info.mailbox_guid = dup_attr(n, "guid");
    m->info.redirect_addr = dup_attr(n, "redirect");
    m->kind = dup_attr(n, "kind");
    if (exsim_guid_parse(m->info.mailbox_guid, m->guid) != 0 ||
        exsim_guid_parse(exsim_attr(n, "db-guid"), m->db_guid) != 0) {
        snprintf(err, errlen, "line %ld: mailbox %s: malformed guid or db-guid",
                 (long)xmlGetLineNo(n), m->info.smtp);
        return -1;
    }
    size_t np = 0;
    for (xmlNodePtr c = exsim_child(n, NULL, "proxy"); c; c = exsim_next(c, NULL, "proxy"))
        np++;
    m->proxies = calloc(np + 1, sizeof *m->proxies);
    if (!m->proxies)
        return -1;
    np = 0;
    for (xmlNodePtr c = exsim_child(n, NULL, "proxy"); c; c = exsim_next(c, NULL, "proxy"))
        m->proxies[np++] = strdup(exsim_text(c));
    const char *next = exsim_attr(n, "next-id");
    m->next_id = next ? strtoull(next, NULL, 10) : 1;
    if (!m->next_id)
        m->next_id = 1;
    return index_tree(m, n, err, errlen);
}

static int load_root(exsim_org *org, xmlNodePtr root, char *err, size_t errlen)
{
    const char *fmt = exsim_attr(root, "format");
    if (!exsim_is(root, NULL, "exsim-seed") || !fmt || strcmp(fmt, "1") != 0) {
        snprintf(err, errlen, "root element is not <exsim-seed format=\"1\">");
        return -1;
    }
    if (need(root, "domain", err, errlen) || need(root, "deployment-id", err, errlen))
        return -1;
    org->domain = dup_attr(root, "domain");
    org->deployment_id = dup_attr(root, "deployment-id");
    org->side = dup_attr(root, "side");
    for (xmlNodePtr c = exsim_first_el(root); c; c = exsim_next_el(c)) {
        if (exsim_is(c, NULL, "account"))
            org->naccounts++;
        else if (exsim_is(c, NULL, "mailbox"))
            org->nmbx++;
    }
    org->accounts = calloc(org->naccounts + 1, sizeof *org->accounts);
    org->mbx = calloc(org->nmbx + 1, sizeof *org->mbx);
    if (!org->accounts || !org->mbx) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t na = 0, nm = 0;
    for (xmlNodePtr c = exsim_first_el(root); c; c = exsim_next_el(c)) {
        if (exsim_is(c, NULL, "account") && load_account(&org->accounts[na++], c, err, errlen))
            return -1;
        if (exsim_is(c, NULL, "mailbox") && load_mailbox(&org->mbx[nm++], c, err, errlen))
            return -1;
    }
    return 0;
}

exsim_org *exsim_org_load(const char *seed_path, char *err, size_t errlen)
{
    exsim_org *org = calloc(1, sizeof *org);
    if (!org) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    org->doc = xmlReadFile(seed_path, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!org->doc) {
        const xmlError *e = xmlGetLastError();
        snprintf(err, errlen, "%s:%d: not well-formed XML: %s", seed_path, e ? e->line : 0,
                 e && e->message ? e->message : "parse error");
        free(org);
        return NULL;
    }
    char inner[512] = "";
    if (load_root(org, xmlDocGetRootElement(org->doc), inner, sizeof inner) != 0) {
        snprintf(err, errlen, "%s: %s", seed_path, inner[0] ? inner : "out of memory");
        exsim_org_free(org);
        return NULL;
    }
    return org;
}

static void free_mbx(exsim_mbx *m)
{
    free((char *)m->info.smtp);
    free((char *)m->info.display_name);
    free((char *)m->info.legacy_dn);
    free((char *)m->info.mailbox_guid);
    free((char *)m->info.redirect_addr);
    free((char *)m->kind);
    for (size_t i = 0; m->proxies && m->proxies[i]; i++)
        free(m->proxies[i]);
    free(m->proxies);
    free(m->objs);
}

void exsim_org_free(exsim_org *org)
{
    if (!org)
        return;
    for (size_t i = 0; i < org->naccounts; i++) {
        exsim_account *a = &org->accounts[i];
        free((char *)a->name);
        free((char *)a->upn);
        if (a->password)
            explicit_bzero((char *)a->password, strlen(a->password));
        free((char *)a->password);
        free((char *)a->token);
    }
    for (size_t i = 0; i < org->nmbx; i++)
        free_mbx(&org->mbx[i]);
    free(org->accounts);
    free(org->mbx);
    free(org->domain);
    free(org->deployment_id);
    free(org->side);
    xmlFreeDoc(org->doc);
    free(org);
}

const char *exsim_org_domain(const exsim_org *org) { return org->domain; }
const char *exsim_org_deployment_id(const exsim_org *org) { return org->deployment_id; }

/* ---- accounts ------------------------------------------------------------ */

/* Constant-time-ish comparison so a test cannot time its way to a password. */
static int secret_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

/* Does `user` name account a: name, upn, or DOMAIN\name (NetBIOS or DNS domain)? */
static int user_matches(const exsim_org *org, const exsim_account *a, const char *user)
{
    if (strcasecmp(user, a->name) == 0 || (a->upn && strcasecmp(user, a->upn) == 0))
        return 1;
    const char *bs = strchr(user, '\\');
    if (!bs || strcasecmp(bs + 1, a->name) != 0)
        return 0;
    size_t dl = (size_t)(bs - user);
    const char *nb = exsim_attr(xmlDocGetRootElement(org->doc), "netbios");
    const char *dom = org->domain;
    if (nb && strlen(nb) == dl && strncasecmp(user, nb, dl) == 0)
        return 1;
    return dom && strlen(dom) == dl && strncasecmp(user, dom, dl) == 0;
}

const exsim_account *exsim_org_auth_basic(const exsim_org *org, const char *user, const char *pass)
{
    if (!org || !user || !pass)
        return NULL;
    for (size_t i = 0; i < org->naccounts; i++) {
        const exsim_account *a = &org->accounts[i];
        if (user_matches(org, a, user))
            return secret_eq(pass, a->password) ? a : NULL;
    }
    return NULL;
}

/* For logons the simulator verified itself (Kerberos, NTLM, a signed JWT):
 * the account named by `user`, no secret compared. */
const exsim_account *exsim_org_find_account(const exsim_org *org, const char *user)
{
    if (!org || !user || !*user)
        return NULL;
    for (size_t i = 0; i < org->naccounts; i++)
        if (user_matches(org, &org->accounts[i], user))
            return &org->accounts[i];
    return NULL;
}

const char *exsim_org_netbios(const exsim_org *org)
{
    return exsim_attr(xmlDocGetRootElement(org->doc), "netbios");
}

const exsim_account *exsim_org_auth_bearer(const exsim_org *org, const char *token)
{
    if (!org || !token || !*token)
        return NULL;
    for (size_t i = 0; i < org->naccounts; i++)
        if (org->accounts[i].token && secret_eq(token, org->accounts[i].token))
            return &org->accounts[i];
    return NULL;
}

/* ---- mailbox lookup ------------------------------------------------------ */

/* Does the mailbox answer to address?  Accepts a bare address, "SMTP:"-prefixed
 * addresses, X500 proxies (with or without the "X500:" prefix) and the
 * legacyExchangeDN ("EX:" prefix allowed). */
static int mbx_matches(const exsim_mbx *m, const char *addr)
{
    const char *colon = strchr(addr, ':');
    const char *bare = addr;
    if (colon && addr[0] != '/' && colon - addr <= 4)
        bare = colon + 1;
    if (strcasecmp(bare, m->info.smtp) == 0)
        return 1;
    if (m->info.legacy_dn && strcasecmp(bare, m->info.legacy_dn) == 0)
        return 1;
    for (size_t i = 0; m->proxies[i]; i++) {
        const char *p = strchr(m->proxies[i], ':');
        p = p ? p + 1 : m->proxies[i];
        if (strcasecmp(bare, p) == 0)
            return 1;
    }
    return 0;
}

exsim_mbx *exsim_store_mbx_by_addr(exsim_org *org, const char *address)
{
    if (!org || !address || !*address)
        return NULL;
    for (size_t i = 0; i < org->nmbx; i++)
        if (strcasecmp(org->mbx[i].info.smtp, address) == 0)
            return &org->mbx[i];
    for (size_t i = 0; i < org->nmbx; i++)
        if (mbx_matches(&org->mbx[i], address))
            return &org->mbx[i];
    return NULL;
}

exsim_mbx *exsim_store_mbx_by_guid(exsim_org *org, const uint8_t guid[16])
{
    for (size_t i = 0; org && i < org->nmbx; i++)
        if (memcmp(org->mbx[i].guid, guid, 16) == 0)
            return &org->mbx[i];
    return NULL;
}

const exsim_mailbox_info *exsim_org_find_mailbox(const exsim_org *org, const char *address)
{
    exsim_mbx *m = exsim_store_mbx_by_addr((exsim_org *)org, address);
    return m ? &m->info : NULL;
}

/* ---- dump ---------------------------------------------------------------- */

xmlDocPtr exsim_org_dump(const exsim_org *org)
{
    if (!org)
        return NULL;
    for (size_t i = 0; i < org->nmbx; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%" PRIu64, org->mbx[i].next_id);
        xmlSetProp(org->mbx[i].node, BAD_CAST "next-id", BAD_CAST buf);
    }
    return xmlCopyDoc(org->doc, 1);
}

/* Drop what the server assigns anew on every write, which no client can
 * write back: an item's ChangeKey version and the id counters (mailbox and
 * rules next-id).  Only the store's own elements (no namespace) carry them;
 * EWS content (t:) is left whole. */
static void strip_assigned(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE || n->ns)
            continue;
        const char *name = (const char *)n->name;
        if (!strcmp(name, "item") || !strcmp(name, "folder"))
            xmlUnsetProp(n, BAD_CAST "version");
        if (!strcmp(name, "mailbox") || !strcmp(name, "rules"))
            xmlUnsetProp(n, BAD_CAST "next-id");
        strip_assigned(n->children);
    }
}

xmlDocPtr exsim_org_dump_stable(const exsim_org *org)
{
    xmlDocPtr d = exsim_org_dump(org);
    if (d)
        strip_assigned(xmlDocGetRootElement(d));
    return d;
}
