/* wire.h — cofab's messages on ZeroMQ, and a bounds-checked byte reader/writer.
 *
 * Request/reply (client DEALER <-> hub ROUTER): every message is exactly two
 * frames, a 16-byte header and a body (possibly empty):
 *
 *   header: 'C' 'F' | version (1) | type (wire_type_t) | 4 zero bytes |
 *           request id (u64, echoed in the reply)
 *
 * Bodies (integers big-endian):
 *   SUBMIT          envelope bytes
 *   ACK             u64 position | u8 1 if the envelope was already stored
 *   ERR             i32 cofab error code | reason text (<= WIRE_MAX_REASON)
 *   GET_RANGE       u64 from | u32 max records
 *   RECORDS         u32 n | n x (u32 len | record bytes)
 *   GET_CHECKPOINT  (empty)
 *   CHECKPOINT      signed checkpoint note text (with cosignatures)
 *   GET_SUBJECT     subject (32)
 *   SUBJECT         u32 note len | checkpoint note | u32 n |
 *                   n x (u64 position | u32 len | record | u8 k | k x 32 hash)
 *   COSIGN          u64 tree size | signed note with the witness's line
 *   GET_CONSISTENCY u64 old size | u64 new size
 *   CONSISTENCY     u8 k | k x 32 hash
 *   GET_AUTHOR      author key (32)
 *   AUTHOR          u64 last author sequence | 32 hash of that envelope
 *   PING / PONG     (empty)
 *
 * Feed (hub PUB -> node SUB), two frames: topic then body.
 *   "R"  u64 position | record bytes
 *   "C"  signed checkpoint note text
 *
 * Decoding treats every byte as hostile: wrong frame counts, sizes, magic,
 * versions, types and trailing bytes are COFAB_EMALFORMED / COFAB_ETOOBIG /
 * COFAB_ETRUNCATED / COFAB_ETRAILING / COFAB_EVERSION.
 */
#ifndef COFAB_WIRE_H
#define COFAB_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WIRE_VERSION 1
#define WIRE_HEADER_LEN 16
#define WIRE_MAX_BODY (2u << 20)       /* largest body accepted: 2 MiB */
#define WIRE_MAX_REASON 256            /* bytes of ERR reason text */
#define WIRE_MAX_RANGE 256             /* records per RECORDS reply */
#define WIRE_MAX_SUBJECT_RECORDS 256   /* records per SUBJECT reply */

typedef enum {
    WIRE_SUBMIT = 1,
    WIRE_ACK = 2,
    WIRE_ERR = 3,
    WIRE_GET_RANGE = 4,
    WIRE_RECORDS = 5,
    WIRE_GET_CHECKPOINT = 6,
    WIRE_CHECKPOINT = 7,
    WIRE_GET_SUBJECT = 8,
    WIRE_SUBJECT = 9,
    WIRE_COSIGN = 10,
    WIRE_GET_CONSISTENCY = 11,
    WIRE_CONSISTENCY = 12,
    WIRE_GET_AUTHOR = 13,
    WIRE_AUTHOR = 14,
    WIRE_PING = 15,
    WIRE_PONG = 16,
    WIRE_TYPE_MAX = 16
} wire_type_t;

/* Name of a message type ("SUBMIT"), or NULL. */
const char *wire_type_name(int type);

/* Writes a header for (type, request id) into out. */
void wire_header_encode(uint8_t out[WIRE_HEADER_LEN], int type, uint64_t request_id);

/* Parses a header frame. Returns 0, COFAB_ETRUNCATED / COFAB_ETRAILING
 * (not 16 bytes), COFAB_EMALFORMED (magic, reserved bytes, unknown type) or
 * COFAB_EVERSION. */
int wire_header_decode(const uint8_t *frame, size_t len, int *type, uint64_t *request_id);

/* A bounds-checked reader over a byte buffer. Every read fails with
 * COFAB_ETRUNCATED rather than run past the end; wire_reader_end() fails
 * with COFAB_ETRAILING if bytes are left. Once a read fails, every later
 * read fails too (so a decoder may check only at the end). */
typedef struct {
    const uint8_t *p;   /* next unread byte */
    size_t left;        /* bytes left */
    int error;          /* first error, sticky */
} wire_reader_t;

void wire_reader_init(wire_reader_t *r, const uint8_t *data, size_t len);
uint8_t wire_read_u8(wire_reader_t *r);
uint32_t wire_read_u32(wire_reader_t *r);
uint64_t wire_read_u64(wire_reader_t *r);
/* Returns a pointer to the next n bytes (borrowed), or NULL on failure. */
const uint8_t *wire_read_bytes(wire_reader_t *r, size_t n);
/* 0 if everything was read and nothing failed, else the error. */
int wire_reader_end(const wire_reader_t *r);

/* A growing byte buffer for building bodies, capped at WIRE_MAX_BODY. */
typedef struct {
    uint8_t *data;      /* malloc'd bytes */
    size_t len;         /* used */
    size_t cap;         /* allocated */
    int error;          /* first error (COFAB_ENOMEM, COFAB_ETOOBIG), sticky */
} wire_writer_t;

void wire_writer_init(wire_writer_t *w);
void wire_write_u8(wire_writer_t *w, uint8_t v);
void wire_write_u32(wire_writer_t *w, uint32_t v);
void wire_write_u64(wire_writer_t *w, uint64_t v);
void wire_write_bytes(wire_writer_t *w, const void *data, size_t n);
/* Frees the buffer; safe twice. */
void wire_writer_free(wire_writer_t *w);

/* ERR body helpers. */
int wire_err_encode(wire_writer_t *w, int code, const char *reason);
/* Decodes an ERR body; reason (room WIRE_MAX_REASON + 1) gets NUL-terminated
 * text with control characters replaced. */
int wire_err_decode(const uint8_t *body, size_t len, int *code, char *reason);

#ifdef __cplusplus
}
#endif
#endif
