/* gateway.h — the read-only HTTP gateway: order pages, the log as tlog-tiles, metrics.
 *
 * `cofab gateway --config hub.ini` serves, over HTTP (libmicrohttpd), what
 * the hub's ledger holds, reading it READ-ONLY beside the running hub
 * (LMDB lets another process read while the hub writes). Nothing it serves
 * can change the ledger: there are no write endpoints.
 *
 *   GET /orders/<64 hex>      an order's page: title, items, due day, the
 *                             factories, the timeline, and a "verified" badge
 *                             (HTML, no external assets, works without
 *                             JavaScript; with it, inline JS re-checks the
 *                             embedded proofs with WebCrypto)
 *   GET /api/orders/<64 hex>  the same as JSON, with records and proofs
 *   GET /checkpoint           the latest cosigned checkpoint note (C2SP
 *                             tlog-tiles; text/plain)
 *   GET /tile/<L>/<N>[.p/<W>], /tile/entries/<N>[.p/<W>]
 *                             tiles of the tree the checkpoint covers, made
 *                             on the fly (tiles_read(), the bytes `cofab
 *                             audit export` writes)
 *   GET /metrics              Prometheus text format 0.0.4: ledger-derived
 *                             figures, then the hub's own (hub.prom)
 *   GET /healthz              200 "ok" when the ledger opens and reads
 *
 * HEAD works wherever GET does; any other method gets 405. Unknown paths,
 * malformed or unknown order ids and tiles outside the checkpoint's tree get
 * a plain 404 that says nothing more. docs/gateway.md is the user's guide.
 *
 * The server checks, before showing an order as verified, that the latest
 * checkpoint carries the hub's signature (the key the genesis record names)
 * and enough witness cosignatures (the genesis' witnesses and quorum), and
 * that each of the order's records has an inclusion proof leading to the
 * checkpoint's root.
 *
 * Threads: libmicrohttpd's threads call into the gateway concurrently. They
 * share one read-only ledger_t (each of its reads has its own read
 * transaction, so they see the hub's latest commit). What a ledger_t fixes
 * at open is its size, which proofs and tiles are checked against (a map
 * the hub grows is adopted by the ledger itself): so it is reopened when a
 * request meets a checkpoint newer than that size, when a read fails, and
 * for /metrics when older than refresh_ms. A reopen
 * waits until no request holds the ledger: LMDB forbids opening one
 * environment twice in a process.
 */
#ifndef COFAB_GATEWAY_H
#define COFAB_GATEWAY_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GATEWAY_PROM_MAX 65536        /* hub.prom bytes accepted at most */
#define GATEWAY_PROM_LINES 2048       /* hub.prom lines accepted at most */
#define GATEWAY_PROM_LINE_MAX 1024    /* bytes per hub.prom line, without "\n" */
#define GATEWAY_PROM_STALE_MS 10000   /* an older hub.prom is ignored (cofab_hub_up 0) */
#define GATEWAY_URL_MAX 512           /* longer request paths get 414 */
#define GATEWAY_ORDER_RECORDS 1024    /* records shown for one order at most */
#define GATEWAY_HUB_PROM "hub.prom"   /* in the hub's data dir: the hub's live figures,
                                         which the hub rewrites about once a second */

typedef struct gateway_t gateway_t;

typedef struct {
    char data_dir[CONFIG_PATH_MAX];   /* the hub's ledger directory (and hub.prom) */
    char listen[CONFIG_TEXT_MAX];     /* host:port (config_listen_parse); port 0 = any */
    uint32_t max_connections;         /* open connections at most (0: 64) */
    uint32_t max_per_ip;              /* from one address (0: max_connections) */
    uint32_t timeout_s;               /* idle connection timeout (0: 10) */
    uint32_t threads;                 /* serving threads (0: 2) */
    uint32_t refresh_ms;              /* /metrics reopens a ledger older than this (0: 1000) */
} gateway_options_t;

/* Fills o from a hub configuration: its data_dir and [gateway] section. */
void gateway_options_from_config(gateway_options_t *o, const config_hub_t *cfg);

/* Opens the ledger in o->data_dir read-only, reads the alliance's genesis
 * (hub key, witnesses, quorum) and starts serving on o->listen. Returns
 * NULL on failure (no ledger yet, a genesis that does not decode, an
 * address that does not parse or bind), with the reason on stderr. */
gateway_t *gateway_new(const gateway_options_t *o);

/* The TCP port actually bound (useful with port 0). */
uint16_t gateway_port(const gateway_t *self);

/* Stops serving (waits for requests in flight), closes the ledger; safe on
 * NULL and twice; sets *self_p = NULL. */
void gateway_destroy(gateway_t **self_p);

/* Checks the text of a hub.prom file (untrusted: another process wrote
 * it) before it is appended to /metrics: at most GATEWAY_PROM_MAX bytes
 * and GATEWAY_PROM_LINES lines of printable ASCII, each at most
 * GATEWAY_PROM_LINE_MAX bytes and ending in "\n"; only "# HELP name text"
 * and "# TYPE name counter|gauge|untyped" comments and samples
 * `name[{label="value",...}] value` (no timestamp); every metric named
 * cofab_hub_* (so it cannot clash with the gateway's own families), each
 * family typed once, before its samples, its lines together; counters
 * named *_total; label names valid, not reserved ("__"), not repeated in a
 * sample; label values with only the \\, \" and \n escapes; values that
 * parse as floats (NaN, +Inf and -Inf included); no series twice. On
 * failure *bad_line (may be NULL) gets the 1-based line at fault (0: the
 * whole text). Returns 0, COFAB_ETOOBIG or COFAB_EMALFORMED (COFAB_EINVAL
 * for NULL text with len > 0). */
int gateway_prom_check(const char *text, size_t len, unsigned *bad_line);

/* `cofab gateway --config F [--listen HOST:PORT]` (node/cmd_gateway.c):
 * serves until SIGINT or SIGTERM. Exit 0 on a clean stop, 1 when it
 * cannot start, 2 on a usage or configuration error. */
int gateway_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif
#endif
