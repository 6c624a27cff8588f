/* fake_store.c — TEMPORARY: a stand-in dispatcher so the server half can be
 * linked and exercised before the store's ews_*.c land.  Not built by make. */
#include "tests/exsim/exsim.h"

#include <string.h>

int exsim_ews_dispatch(exsim_req *r)
{
    if (!strcmp((const char *)r->op->name, "GetFolder")) {
        xmlNodePtr msgs = exsim_resp_messages(r, "GetFolderResponse");
        exsim_resp_message(msgs, "GetFolderResponseMessage", "ErrorItemNotFound",
                           "The specified object was not found in the store.");
        return 200;
    }
    return exsim_soap_fault(r, NULL, "ErrorInvalidRequest", "fake store: not implemented");
}
