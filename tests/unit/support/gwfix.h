/* gwfix.h — a gateway serving a real alliance history on 127.0.0.1 for tests, a tiny HTTP client, and ledger writers a forked child can use. */
#ifndef COFAB_TEST_GWFIX_H
#define COFAB_TEST_GWFIX_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/gateway.h"
#include "cofab/keys.h"
#include "support/scen.h"

#define GWFIX_NOTES 600 /* hub notes after the story: 2 full tiles, level 1 */
#define GWFIX_HOSTILE "<b>\"Tom's\" & </script><script>alert(1)</script>"

typedef struct {
    char dir[256];            /* temp root */
    char ledger[300];         /* the hub's ledger (and hub.prom) */
    char bundle[300];         /* tiles_export() of it, made before the gateway opened it */
    scen_t s;                 /* the story's keys and order ids */
    uint8_t hostile[32];      /* an order whose title is HTML */
    uint8_t pending[32];      /* an order newer than the last checkpoint */
    uint64_t size;            /* ledger size when the gateway started */
    uint64_t cp_size;         /* its latest checkpoint's size */
    gateway_t *gw;            /* serving on 127.0.0.1 */
    uint16_t port;            /* its port */
} gwfix_t;

/* One HTTP response. */

typedef struct {
    int status;               /* 0: no answer */
    char head[8192];          /* status line and headers */
    uint8_t *body;            /* malloc'd, NUL after it */
    size_t len;               /* body bytes */
} gwfix_resp_t;

/* cmocka group setup/teardown: the scen story in a temp dir, an order whose
 * title is HTML, GWFIX_NOTES hub notes, a cosigned checkpoint, then an
 * order newer than it; the bundle tiles_export() makes of that; then a
 * gateway on 127.0.0.1:0 (64 connections, 8 per address, 2 s idle timeout,
 * 2 threads, refreshing only when it must). *state is a gwfix_t. */
int gwfix_setup(void **state);
int gwfix_teardown(void **state);

/* A connection to 127.0.0.1:port, send and receive timeouts 10 s. */
int gwfix_connect(uint16_t port);

/* One request (POST sends a 3-byte body) with "Connection: close"; reads
 * the whole answer. r->status is 0 when none came. Free with
 * gwfix_resp_free(). */
void gwfix_http(const gwfix_t *fx, const char *method, const char *path, gwfix_resp_t *r);
void gwfix_resp_free(gwfix_resp_t *r);

/* A header's value (name case-insensitive) into out; NULL when absent. */
const char *gwfix_header(const gwfix_resp_t *r, const char *name, char *out, size_t max);

/* GET that must answer 200 (fails the test otherwise). */
void gwfix_get_ok(const gwfix_t *fx, const char *path, gwfix_resp_t *r);

/* The status of one request. */
int gwfix_status(const gwfix_t *fx, const char *method, const char *path);

/* prefix followed by the id in hex, into out. */
void gwfix_path(const char *prefix, const uint8_t id[32], char out[128]);

/* Ledger writers under the alliance rules. They use no cmocka asserts, so
 * a forked child may call them; each returns 0 or the first failure.
 * append: `count` envelopes of one kind by k, same subject and payload;
 * notes: count hub notes of plen bytes; order: an order by alice (due in
 * 25 days, of a process no factory offers); checkpoint: the whole ledger,
 * signed by the hub and cosigned by north. */
int gwfix_append(const char *dir, const keys_t *k, int kind, const uint8_t *subject,
                 const uint8_t *payload, size_t len, size_t count);
int gwfix_notes(const char *dir, const keys_t *hub, size_t count, size_t plen);
int gwfix_order(const char *dir, const keys_t *alice, const uint8_t id[32], const char *title);
int gwfix_checkpoint(const char *dir, const scen_t *s);

#endif
