/* cmd_gateway.c — `cofab gateway --config F`: serves the hub's ledger read-only over HTTP until SIGINT or SIGTERM. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/gateway.h"

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: cofab gateway --config hub.ini [--listen HOST:PORT]\n"
                 "Serves the hub's ledger read-only over HTTP: /orders/<id>, /api/orders/<id>,\n"
                 "/checkpoint and /tile/... (C2SP tlog-tiles), /metrics, /healthz.\n");
}

int
gateway_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *listen = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
        if (c == 'c') {
            path = optarg;
        } else if (c == 'l') {
            listen = optarg;
        } else if (c == 'h') {
            s_usage(stdout);
            return CLI_OK;
        } else {
            s_usage(stderr);
            return CLI_USAGE;
        }
    }
    if (!path || optind != argc) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    config_hub_t *cfg = malloc(sizeof *cfg);
    gateway_options_t *o = malloc(sizeof *o);
    char err[256], host[64];
    uint16_t port = 0;
    int rc = cfg && o ? config_hub_load(path, cfg, err, sizeof err) : COFAB_ENOMEM;
    if (rc != 0) {
        fprintf(stderr, "cofab gateway: %s\n", cfg && o ? err : cofab_strerror(rc));
        free(cfg);
        free(o);
        return CLI_USAGE;
    }
    gateway_options_from_config(o, cfg);
    free(cfg);
    if (listen) {
        if (config_listen_parse(listen, host, sizeof host, &port) != 0) {
            fprintf(stderr, "cofab gateway: --listen: '%s' is not host:port\n", listen);
            free(o);
            return CLI_USAGE;
        }
        snprintf(o->listen, sizeof o->listen, "%s", listen);
    }
    /* The signals go to this thread alone (sigwait below): blocked before
     * the server's threads start, which inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* nothing to reload: the alliance is in the ledger */
    gateway_t *gw = gateway_new(o);
    if (!gw) {
        free(o);
        return CLI_FAIL;
    }
    config_listen_parse(o->listen, host, sizeof host, &port);
    fprintf(stderr, "cofab gateway: serving %s read-only on http://%s%s%s:%u/\n", o->data_dir,
            strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
            (unsigned) gateway_port(gw));
    free(o);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "cofab gateway: stopping (signal %d)\n", sig);
    gateway_destroy(&gw);
    return CLI_OK;
}
