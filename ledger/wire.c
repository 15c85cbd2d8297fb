/* wire.c — message headers and bounds-checked body reading/writing for the network. */
#include "cofab/wire.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/util.h"

static const char *const s_names[WIRE_TYPE_MAX + 1] = {
    [WIRE_SUBMIT] = "SUBMIT",
    [WIRE_ACK] = "ACK",
    [WIRE_ERR] = "ERR",
    [WIRE_GET_RANGE] = "GET_RANGE",
    [WIRE_RECORDS] = "RECORDS",
    [WIRE_GET_CHECKPOINT] = "GET_CHECKPOINT",
    [WIRE_CHECKPOINT] = "CHECKPOINT",
    [WIRE_GET_SUBJECT] = "GET_SUBJECT",
    [WIRE_SUBJECT] = "SUBJECT",
    [WIRE_COSIGN] = "COSIGN",
    [WIRE_GET_CONSISTENCY] = "GET_CONSISTENCY",
    [WIRE_CONSISTENCY] = "CONSISTENCY",
    [WIRE_GET_AUTHOR] = "GET_AUTHOR",
    [WIRE_AUTHOR] = "AUTHOR",
    [WIRE_PING] = "PING",
    [WIRE_PONG] = "PONG",
};

const char *
wire_type_name(int type)
{
    return type >= 1 && type <= WIRE_TYPE_MAX ? s_names[type] : NULL;
}

void
wire_header_encode(uint8_t out[WIRE_HEADER_LEN], int type, uint64_t request_id)
{
    out[0] = 'C';
    out[1] = 'F';
    out[2] = WIRE_VERSION;
    out[3] = (uint8_t) type;
    memset(out + 4, 0, 4);
    util_put_be64(out + 8, request_id);
}

int
wire_header_decode(const uint8_t *frame, size_t len, int *type, uint64_t *request_id)
{
    if (!frame || !type || !request_id)
        return COFAB_EINVAL;
    if (len < WIRE_HEADER_LEN)
        return COFAB_ETRUNCATED;
    if (len > WIRE_HEADER_LEN)
        return COFAB_ETRAILING;
    if (frame[0] != 'C' || frame[1] != 'F')
        return COFAB_EMALFORMED;
    if (frame[2] != WIRE_VERSION)
        return COFAB_EVERSION;
    if (frame[3] < 1 || frame[3] > WIRE_TYPE_MAX || frame[4] || frame[5] || frame[6] || frame[7])
        return COFAB_EMALFORMED;
    *type = frame[3];
    *request_id = util_get_be64(frame + 8);
    return 0;
}

void
wire_reader_init(wire_reader_t *r, const uint8_t *data, size_t len)
{
    r->p = data;
    r->left = data ? len : 0;
    r->error = 0;
}

const uint8_t *
wire_read_bytes(wire_reader_t *r, size_t n)
{
    if (r->error)
        return NULL;
    if (n > r->left) {
        r->error = COFAB_ETRUNCATED;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    r->left -= n;
    return p;
}

uint8_t
wire_read_u8(wire_reader_t *r)
{
    const uint8_t *p = wire_read_bytes(r, 1);
    return p ? p[0] : 0;
}

uint32_t
wire_read_u32(wire_reader_t *r)
{
    const uint8_t *p = wire_read_bytes(r, 4);
    return p ? util_get_be32(p) : 0;
}

uint64_t
wire_read_u64(wire_reader_t *r)
{
    const uint8_t *p = wire_read_bytes(r, 8);
    return p ? util_get_be64(p) : 0;
}

int
wire_reader_end(const wire_reader_t *r)
{
    if (r->error)
        return r->error;
    return r->left ? COFAB_ETRAILING : 0;
}

void
wire_writer_init(wire_writer_t *w)
{
    memset(w, 0, sizeof *w);
}

void
wire_write_bytes(wire_writer_t *w, const void *data, size_t n)
{
    if (w->error || n == 0)
        return;
    if (n > WIRE_MAX_BODY - w->len) {
        w->error = COFAB_ETOOBIG;
        return;
    }
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        while (cap < w->len + n)
            cap *= 2;
        uint8_t *grown = realloc(w->data, cap);
        if (!grown) {
            w->error = COFAB_ENOMEM;
            return;
        }
        w->data = grown;
        w->cap = cap;
    }
    memcpy(w->data + w->len, data, n);
    w->len += n;
}

void
wire_write_u8(wire_writer_t *w, uint8_t v)
{
    wire_write_bytes(w, &v, 1);
}

void
wire_write_u32(wire_writer_t *w, uint32_t v)
{
    uint8_t b[4];
    util_put_be32(b, v);
    wire_write_bytes(w, b, 4);
}

void
wire_write_u64(wire_writer_t *w, uint64_t v)
{
    uint8_t b[8];
    util_put_be64(b, v);
    wire_write_bytes(w, b, 8);
}

void
wire_writer_free(wire_writer_t *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

int
wire_err_encode(wire_writer_t *w, int code, const char *reason)
{
    size_t n = reason ? strnlen(reason, WIRE_MAX_REASON) : 0;
    wire_write_u32(w, (uint32_t) code);
    wire_write_bytes(w, reason, n);
    return w->error;
}

int
wire_err_decode(const uint8_t *body, size_t len, int *code, char *reason)
{
    if (!code || !reason)
        return COFAB_EINVAL;
    wire_reader_t r;
    wire_reader_init(&r, body, len);
    uint32_t c = wire_read_u32(&r);
    if (r.error)
        return r.error;
    size_t n = r.left;
    if (n > WIRE_MAX_REASON)
        return COFAB_ETOOBIG;
    const uint8_t *text = wire_read_bytes(&r, n);
    for (size_t i = 0; i < n; i++)
        reason[i] = (text[i] < 0x20 || text[i] == 0x7f) ? '?' : (char) text[i];
    reason[n] = 0;
    *code = (int32_t) c;
    return 0;
}
