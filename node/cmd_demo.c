/* cmd_demo.c — `cofab demo`: a whole alliance on 127.0.0.1 (placeholder). */
#include <stdio.h>

#include "cofab/cli.h"

int
demo_main(int argc, char **argv)
{
    (void) argc;
    (void) argv;
    fprintf(stderr, "cofab demo: not yet available\n");
    return CLI_OK; /* until the demo lands, `make demo` only says so */
}
