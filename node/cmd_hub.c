/* cmd_hub.c — `cofab hub --config F`: runs the hub until SIGINT or SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/hub.h"

/* Set from the signal handler; the only state a handler may touch. */
static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void) sig;
    s_stop = 1;
}

int
hub_main(int argc, char **argv)
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
            printf("usage: cofab hub --config hub.ini\n");
            return CLI_OK;
        } else {
            return CLI_USAGE;
        }
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: cofab hub --config hub.ini\n");
        return CLI_USAGE;
    }
    config_hub_t *cfg = malloc(sizeof *cfg);
    char err[256];
    int rc = cfg ? config_hub_load(path, cfg, err, sizeof err) : COFAB_ENOMEM;
    if (rc != 0) {
        fprintf(stderr, "cofab hub: %s\n", cfg ? err : cofab_strerror(rc));
        free(cfg);
        return CLI_USAGE;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The alliance's settings live in the ledger's genesis, not in the
     * config: there is nothing to reload, and a hangup must not stop the hub. */
    signal(SIGHUP, SIG_IGN);
    hub_t *hub = hub_new(cfg);
    free(cfg);
    if (!hub)
        return CLI_FAIL;
    rc = hub_run(hub, &s_stop);
    hub_destroy(&hub);
    return rc == 0 ? CLI_OK : CLI_FAIL;
}
