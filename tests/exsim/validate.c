/* validate.c — Microsoft's EWS schemas, compiled once, applied in place to
 * the operation element and the SOAP header elements of each request (and,
 * with --validate-responses, to our own responses). */
#include "tests/exsim/server.h"

#include <libxml/xmlschemas.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static xmlSchemaPtr schema;

int exsim_schema_load(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/messages.xsd", dir);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "exsim: %s: not readable\n", path);
        return -1;
    }
    xmlSchemaParserCtxtPtr pc = xmlSchemaNewParserCtxt(path);
    if (!pc)
        return -1;
    schema = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    if (!schema) {
        fprintf(stderr, "exsim: %s: the schema does not compile\n", path);
        return -1;
    }
    exsim_srv.schema = schema;
    return 0;
}

void exsim_schema_free(void)
{
    if (schema)
        xmlSchemaFree(schema);
    schema = NULL;
    exsim_srv.schema = NULL;
}

typedef struct first_error {
    int seen;
    char *msg;
    size_t msglen;
    int line, col;
} first_error;

static void keep_first(void *ctx, xmlErrorPtr e)
{
    first_error *fe = ctx;
    if (fe->seen || !e)
        return;
    fe->seen = 1;
    snprintf(fe->msg, fe->msglen, "%s", e->message ? e->message : "schema violation");
    size_t n = strlen(fe->msg);
    while (n > 0 && (fe->msg[n - 1] == '\n' || fe->msg[n - 1] == ' '))
        fe->msg[--n] = '\0';
    fe->line = e->line;
    fe->col = e->int2;
    if (fe->line <= 0 && e->node)
        fe->line = xmlGetLineNo((xmlNodePtr)e->node) > 0 ? (int)xmlGetLineNo((xmlNodePtr)e->node) : 0;
}

int exsim_schema_validate(xmlNodePtr el, char *msg, size_t msglen, int *line, int *col)
{
    if (!schema)
        return 0;
    first_error fe = { .msg = msg, .msglen = msglen };
    msg[0] = '\0';
    xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(schema);
    if (!vc) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    xmlSchemaSetValidStructuredErrors(vc, keep_first, &fe);
    int rc = xmlSchemaValidateOneElement(vc, el);
    xmlSchemaFreeValidCtxt(vc);
    if (rc == 0)
        return 0;
    if (!fe.seen)
        snprintf(msg, msglen, "validation failed (libxml2 code %d)", rc);
    *line = fe.line > 0 ? fe.line : (int)xmlGetLineNo(el);
    *col = fe.col > 0 ? fe.col : 0;
    return -1;
}
