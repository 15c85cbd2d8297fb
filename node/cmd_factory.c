/* cmd_factory.c — `cofab factory accept|decline|progress`: operator requests to the node. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>
#include <zmq.h>

#include "cofab/cli.h"
#include "cofab/config.h"
#include "cofab/error.h"
#include "cofab/node.h"
#include "cofab/payload.h"
#include "cofab/util.h"

#define S_ATTACH_MAX ((size_t) 64 << 20) /* largest attachment hashed: 64 MiB */
#define S_REPLY_MS 30000                 /* the node may retry the hub a few times */

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: cofab factory accept ORDER --config F\n"
                 "       cofab factory decline ORDER [--reason TEXT] --config F\n"
                 "       cofab factory progress ORDER in-production|qc-passed|shipped|delivered"
                 " [--attach FILE] --config F\n");
}

/* SHA-256 of a file, as 64 hex digits. */
static int
s_hash_file(const char *path, char hex[65])
{
    uint8_t *buf = NULL, digest[crypto_hash_sha256_BYTES];
    size_t len = 0;
    int rc = util_read_file(path, S_ATTACH_MAX, &buf, &len);
    if (rc != 0)
        return rc;
    crypto_hash_sha256(digest, buf, len);
    free(buf);
    sodium_bin2hex(hex, 65, digest, sizeof digest);
    return 0;
}

/* Sends the frames to the control socket and prints the answer. */
static int
s_ask(const char *endpoint, const char *const *frames, int n)
{
    struct stat st;
    if (strncmp(endpoint, "ipc://", 6) != 0 || stat(endpoint + 6, &st) != 0 ||
        !S_ISSOCK(st.st_mode)) {
        fprintf(stderr, "cofab factory: node unreachable: no control socket at %s\n", endpoint);
        return CLI_UNREACHABLE;
    }
    void *ctx = zmq_ctx_new();
    void *req = ctx ? zmq_socket(ctx, ZMQ_REQ) : NULL;
    int linger = 0, rc = CLI_UNREACHABLE;
    int64_t max = NODE_CONTROL_REPLY_MAX;
    if (!req || zmq_setsockopt(req, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_setsockopt(req, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_connect(req, endpoint) != 0) {
        fprintf(stderr, "cofab factory: cannot connect to %s\n", endpoint);
        goto out;
    }
    for (int i = 0; i < n; i++)
        zmq_send(req, frames[i], strlen(frames[i]), i < n - 1 ? ZMQ_SNDMORE : 0);
    zmq_pollitem_t item = {req, 0, ZMQ_POLLIN, 0};
    char reply[NODE_CONTROL_REPLY_MAX + 1];
    int got = zmq_poll(&item, 1, S_REPLY_MS) == 1 ? zmq_recv(req, reply, sizeof reply - 1, 0) : -1;
    if (got < 0) {
        fprintf(stderr, "cofab factory: node unreachable: no answer from %s\n", endpoint);
        goto out;
    }
    reply[got > NODE_CONTROL_REPLY_MAX ? NODE_CONTROL_REPLY_MAX : got] = 0;
    for (char *p = reply; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?'; /* never echo control bytes to a terminal */
    unsigned long long pos;
    int code;
    int off = 0;
    if (sscanf(reply, "ok %llu", &pos) == 1) {
        printf("recorded at ledger position %llu\n", pos);
        rc = CLI_OK;
    } else if (sscanf(reply, "err %d %n", &code, &off) == 1) {
        fprintf(stderr, "cofab factory: %s: %s\n",
                code == COFAB_ENET ? "hub unreachable" : "refused", reply + off);
        rc = code == COFAB_ENET ? CLI_UNREACHABLE : CLI_FAIL;
    } else {
        fprintf(stderr, "cofab factory: unexpected answer from the node\n");
        rc = CLI_FAIL;
    }
out:
    if (req)
        zmq_close(req);
    if (ctx)
        zmq_ctx_term(ctx);
    return rc;
}

int
factory_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"reason", required_argument, NULL, 'r'},
                                         {"attach", required_argument, NULL, 'a'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0, 0, 0, 0}};
    const char *path = NULL, *reason = NULL, *attach = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:r:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 'r':
            reason = optarg;
            break;
        case 'a':
            attach = optarg;
            break;
        case 'h':
            s_usage(stdout);
            return CLI_OK;
        default:
            s_usage(stderr);
            return CLI_USAGE;
        }
    }
    int npos = argc - optind;
    const char *verb = npos >= 1 ? argv[optind] : "", *order = npos >= 2 ? argv[optind + 1] : "";
    uint8_t id[32];
    int ok = path && npos >= 2 && cli_parse_hex32(order, id) == 0;
    if (ok && !strcmp(verb, "accept"))
        ok = npos == 2 && !reason && !attach;
    else if (ok && !strcmp(verb, "decline"))
        ok = npos == 2 && !attach &&
             (!reason || (strlen(reason) >= 1 && strlen(reason) <= PAYLOAD_MAX_TEXT));
    else if (ok && !strcmp(verb, "progress"))
        ok = npos == 3 && !reason && payload_stage_parse(argv[optind + 2]) > 0;
    else
        ok = 0;
    if (!ok) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    config_node_t *cfg = malloc(sizeof *cfg);
    char err[256] = "";
    int rc = cfg ? config_node_load(path, cfg, err, sizeof err) : COFAB_ENOMEM;
    if (rc != 0) {
        fprintf(stderr, "cofab factory: %s\n", cfg && err[0] ? err : cofab_strerror(rc));
        free(cfg);
        return CLI_USAGE;
    }
    char hex[65];
    const char *frames[4] = {verb, order, NULL, NULL};
    int n = 2;
    if (!strcmp(verb, "decline") && reason)
        frames[n++] = reason;
    if (!strcmp(verb, "progress")) {
        frames[n++] = argv[optind + 2];
        if (attach) {
            rc = s_hash_file(attach, hex);
            if (rc != 0) {
                fprintf(stderr, "cofab factory: cannot read %s: %s\n", attach,
                        cofab_strerror(rc));
                free(cfg);
                return CLI_USAGE;
            }
            frames[n++] = hex;
        }
    }
    rc = s_ask(cfg->control, frames, n);
    free(cfg);
    return rc;
}
