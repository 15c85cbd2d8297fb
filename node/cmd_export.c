/* cmd_export.c — `cofab audit export`: the ledger as a C2SP tlog-tiles bundle (placeholder). */
#include <stdio.h>

#include "cofab/cli.h"

int
audit_export_main(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    fprintf(stderr, "cofab audit export: not yet available\n");
    return CLI_FAIL;
}
