/* gateway_tiles.c — the log over HTTP in the C2SP tlog-tiles layout: /checkpoint, hash tiles and entry bundles. */
#include "gateway_internal.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/tiles.h"

/* Tile contents never change; a partial tile of a given width neither, but
 * clients should move on to wider ones soon, so it is cached briefly. */
#define S_CACHE_FULL "public, max-age=31536000, immutable"
#define S_CACHE_PARTIAL "public, max-age=10"
#define S_CACHE_CHECKPOINT "no-cache"

void
gw_checkpoint_reply(gateway_t *gw, gw_reply_t *r)
{
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    ledger_t *l = note ? gw_ledger_get(gw, 0) : NULL;
    int rc = !note ? COFAB_ENOMEM : l ? ledger_checkpoint_latest(l, note, LEDGER_CHECKPOINT_MAX)
                                      : COFAB_ESTORE;
    if (l)
        gw_ledger_put(gw);
    if (rc == 0) {
        r->status = 200;
        r->type = "text/plain; charset=utf-8";
        r->cache = S_CACHE_CHECKPOINT;
        r->cors = 1;
        gw_buf_cat(&r->body, note);
    } else {
        if (rc != COFAB_ENOTFOUND)
            gw_ledger_stale(gw);
        gw_reply_text(r, rc == COFAB_ENOTFOUND ? 404 : 503,
                      rc == COFAB_ENOTFOUND ? "not found\n" : "unavailable\n");
    }
    free(note);
}

/* One attempt with one borrow of the ledger. *behind: the borrow does not
 * see the latest checkpoint's records yet. */
static int
s_read(gateway_t *gw, int level, uint64_t index, unsigned width, uint8_t **buf, size_t *len,
       int *behind)
{
    char *note = malloc(LEDGER_CHECKPOINT_MAX);
    gw_cp_t cp;
    ledger_t *l = note ? gw_ledger_get(gw, 0) : NULL;
    int rc = !note ? COFAB_ENOMEM : l ? gw_checkpoint(gw, l, note, &cp) : COFAB_ESTORE;
    *behind = rc == COFAB_ERANGE;
    /* Only the tree the latest checkpoint covers is served: a client can
     * check every tile against that checkpoint's root. */
    if (rc == 0)
        rc = tiles_read(l, cp.cp.size, level, index, width, buf, len);
    if (l)
        gw_ledger_put(gw);
    free(note);
    return rc;
}

void
gw_tile_reply(gateway_t *gw, const char *path, gw_reply_t *r)
{
    int level;
    uint64_t index;
    unsigned width;
    if (tiles_path_parse(path, strlen(path), &level, &index, &width) != 0) {
        gw_reply_text(r, 404, "not found\n");
        return;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 0, behind = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = s_read(gw, level, index, width, &buf, &len, &behind);
        if (!behind && rc != COFAB_ESTORE)
            break;
        gw_ledger_stale(gw); /* reopen and try once more */
    }
    if (rc != 0) {
        int missing = (rc == COFAB_ERANGE && !behind) || rc == COFAB_ENOTFOUND;
        gw_reply_text(r, missing ? 404 : 503, missing ? "not found\n" : "unavailable\n");
        return;
    }
    r->status = 200;
    r->type = "application/octet-stream";
    r->cache = width == TILES_WIDTH ? S_CACHE_FULL : S_CACHE_PARTIAL;
    r->cors = 1;
    gw_buf_catn(&r->body, (const char *) buf, len);
    free(buf);
}
