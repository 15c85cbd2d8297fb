/* main.c — the cofab binary: dispatches to one subcommand per verb. */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/client.h"
#include "cofab/gateway.h"
#include "cofab/hub.h"
#include "cofab/node.h"

typedef struct {
    const char *name;                 /* verb typed by the user */
    int (*main)(int argc, char **argv); /* its entry point */
    const char *summary;              /* one line for `cofab help` */
} s_command_t;

static const s_command_t s_commands[] = {
    {"keygen", keygen_main, "generate a signing + transport key pair"},
    {"ledger", ledger_main, "create, append to, show and checkpoint a ledger"},
    {"audit", audit_main, "verify a ledger, prove records and consistency"},
    {"match", match_main, "run the matcher on a problem or GAP file"},
    {"hub", hub_main, "run the alliance hub (sequencer, matcher, query service)"},
    {"node", node_main, "run a factory node (replica, witness, capacity, assignments)"},
    {"factory", factory_main, "operator requests to the local node: accept, decline, progress"},
    {"order", order_main, "submit, follow (verified) and cancel orders"},
    {"member", member_main, "add or remove an alliance member (operator)"},
    {"demo", demo_main, "run a hub and five factories on 127.0.0.1 through real orders and an audit"},
    {"gateway", gateway_main, "serve the hub's ledger read-only over HTTP (order pages, tiles, metrics)"},
};

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: cofab <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        fprintf(out, "  %-8s %s\n", s_commands[i].name, s_commands[i].summary);
    fprintf(out, "\nRun 'cofab <command> --help' for a command's options.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        s_usage(stdout);
        return CLI_OK;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "cofab: libsodium failed to initialise\n");
        return CLI_FAIL;
    }
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (!strcmp(argv[1], s_commands[i].name))
            return s_commands[i].main(argc - 1, argv + 1);
    fprintf(stderr, "cofab: unknown command '%s'\n", argv[1]);
    s_usage(stderr);
    return CLI_USAGE;
}
