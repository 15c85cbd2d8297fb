/* mjson.c — the few writers of the matcher's canonical result JSON:
 * integers without locale, hex ids, keys in a fixed order (no escaping is
 * needed: every string written is [a-z0-9-] or hex).
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

void
mjson_put(mjson_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->len + n + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void
mjson_str(mjson_t *b, const char *s)
{
    mjson_put(b, s, strlen(s));
}

/* Decimal integer, no locale involved. */
void
mjson_int(mjson_t *b, int64_t v)
{
    char t[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
    do {
        t[sizeof t - 1 - n++] = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[sizeof t - 1 - n++] = '-';
    mjson_put(b, t + sizeof t - n, (size_t) n);
}

void
mjson_kv(mjson_t *b, const char *key, int64_t v)
{
    mjson_str(b, "\"");
    mjson_str(b, key);
    mjson_str(b, "\":");
    mjson_int(b, v);
}

void
mjson_hex(mjson_t *b, const uint8_t *id)
{
    static const char hx[] = "0123456789abcdef";
    char t[2 * MATCHER_ID_LEN + 2];
    t[0] = '"';
    for (int i = 0; i < MATCHER_ID_LEN; i++) {
        t[1 + 2 * i] = hx[id[i] >> 4];
        t[2 + 2 * i] = hx[id[i] & 15];
    }
    t[2 * MATCHER_ID_LEN + 1] = '"';
    mjson_put(b, t, sizeof t);
}

