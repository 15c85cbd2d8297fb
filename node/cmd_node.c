/* cmd_node.c — `cofab node --config F`: runs a factory node; SIGHUP reloads its capacity. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/node.h"

/* Set from signal handlers; the only state a handler may touch. */
static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_reload;

static void
s_on_signal(int sig)
{
    if (sig == SIGHUP)
        s_reload = 1;
    else
        s_stop = 1;
}

int
node_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') {
            path = optarg;
        } else if (c == 'h') {
            printf("usage: cofab node --config factory.ini\n"
                   "Runs a factory node: replicates and verifies the hub's ledger, cosigns\n"
                   "checkpoints, publishes capacity and answers assignments.\n"
                   "SIGINT/SIGTERM stop it; SIGHUP reloads the capacity and offers.\n");
            return CLI_OK;
        } else {
            return CLI_USAGE;
        }
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: cofab node --config factory.ini\n");
        return CLI_USAGE;
    }
    config_node_t *cfg = malloc(sizeof *cfg);
    char err[256] = "";
    int rc = cfg ? config_node_load(path, cfg, err, sizeof err) : COFAB_ENOMEM;
    if (rc != 0) {
        fprintf(stderr, "cofab node: %s\n", cfg && err[0] ? err : cofab_strerror(rc));
        free(cfg);
        return CLI_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    node_t *node = node_new(cfg, path);
    free(cfg);
    if (!node)
        return CLI_FAIL;
    rc = node_run(node, &s_stop, &s_reload);
    node_destroy(&node);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
