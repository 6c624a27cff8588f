/* graph_int.h — private to mapi/graph*.c: what graph.c lends graph_batch.c.
 * Not for other modules (use mapi/graph.h). */
#ifndef MAPI_GRAPH_INT_H
#define MAPI_GRAPH_INT_H

#include "mapi/graph.h"

/* base + "/" + version (NULL → v1.0) + path; heap (caller frees). */
char *mapi_graph_url(const mapi_graph *g, const char *version, const char *path);
/* The handle's options after defaults (retry budget). */
const mapi_netopts *mapi_graph_netopts(const mapi_graph *g);
/* mapi_graph_error on an already parsed body (NULL: none). */
sr_code mapi_graph_error_json(long status, json_t *body, const char *what, sr_err *err);
/* One HTTP exchange with a JSON body (NULL: none) and answer: *resp the
 * parsed 2xx body (NULL when empty; caller json_decref's), else the Graph
 * error in *err.  who names the mailbox in log lines. */
sr_code mapi_graph_http(mapi_graph *g, const char *method, const char *url, const char *body,
                        const char *who, long *status, json_t **resp, sr_err *err);

#endif /* MAPI_GRAPH_INT_H */
