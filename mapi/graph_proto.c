/* graph_proto.c — which protocol a side speaks (issue 17 §2): EWS, Graph,
 * or Auto.  The choice is ours (the spec predates Graph): Auto keeps EWS
 * wherever it works and moves to Graph only on Exchange Online once EWS
 * answers 403 "blocked" (EWS is off by default there since 2026-10-01 and
 * switched off for good on 2027-04-01; on-premises Exchange keeps it). */
#include "mapi/graph.h"

static const char *const names[] = { "Auto", "EWS", "Graph" };

const char *mapi_proto_name(mapi_proto p)
{
    return (unsigned)p < sizeof names / sizeof names[0] ? names[p] : "?";
}

mapi_proto mapi_proto_decide(mapi_proto configured, int exchange_online, sr_code ews_probe)
{
    if (configured != MAPI_PROTO_AUTO)
        return configured;
    return exchange_online && ews_probe == SR_E_EWS_BLOCKED ? MAPI_PROTO_GRAPH : MAPI_PROTO_EWS;
}
