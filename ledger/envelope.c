/* envelope.c — encoding, decoding and signature checks of signed envelopes. */
#include "cofab/envelope.h"

#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

static const char *const s_kind_names[ENVELOPE_KIND_MAX + 1] = {
    [ENVELOPE_GENESIS] = "genesis",
    [ENVELOPE_MEMBER_ADD] = "member-add",
    [ENVELOPE_MEMBER_REMOVE] = "member-remove",
    [ENVELOPE_CAPACITY] = "capacity",
    [ENVELOPE_ORDER] = "order",
    [ENVELOPE_ASSIGN] = "assign",
    [ENVELOPE_ACCEPT] = "accept",
    [ENVELOPE_DECLINE] = "decline",
    [ENVELOPE_STATUS] = "status",
    [ENVELOPE_CANCEL] = "cancel",
    [ENVELOPE_REASSIGN] = "reassign",
    [ENVELOPE_NOTE] = "note",
};

const char *
envelope_kind_name(int kind)
{
    if (kind < 1 || kind > ENVELOPE_KIND_MAX)
        return NULL;
    return s_kind_names[kind];
}

int
envelope_kind_parse(const char *name)
{
    for (int k = 1; k <= ENVELOPE_KIND_MAX; k++)
        if (name && !strcmp(name, s_kind_names[k]))
            return k;
    return COFAB_EKIND;
}

static int
s_is_zero(const uint8_t *p, size_t n)
{
    return sodium_is_zero(p, n);
}

int
envelope_decode(envelope_t *e, const uint8_t *bytes, size_t len)
{
    if (!e || (!bytes && len))
        return COFAB_EINVAL;
    if (len > ENVELOPE_MAX)
        return COFAB_ETOOBIG;
    if (len < 1)
        return COFAB_ETRUNCATED;
    if (bytes[0] != ENVELOPE_VERSION)
        return COFAB_EVERSION;
    if (len < ENVELOPE_HEADER_LEN)
        return COFAB_ETRUNCATED;

    memset(e, 0, sizeof *e);
    e->version = bytes[0];
    e->kind = bytes[1];
    if (e->kind < 1 || e->kind > ENVELOPE_KIND_MAX)
        return COFAB_EKIND;
    if (bytes[2] != 0 || bytes[3] != 0)
        return COFAB_EMALFORMED;
    memcpy(e->author, bytes + 4, 32);
    e->author_seq = util_get_be64(bytes + 36);
    memcpy(e->author_prev, bytes + 44, 32);
    e->timestamp_ms = util_get_be64(bytes + 76);
    memcpy(e->subject, bytes + 84, 32);
    e->payload_len = util_get_be32(bytes + 116);
    if (e->payload_len > ENVELOPE_MAX_PAYLOAD)
        return COFAB_ETOOBIG;
    size_t want = ENVELOPE_HEADER_LEN + (size_t) e->payload_len + ENVELOPE_SIG_LEN;
    if (len < want)
        return COFAB_ETRUNCATED;
    if (len > want)
        return COFAB_ETRAILING;
    if (e->author_seq == 0)
        return COFAB_EMALFORMED;
    if (e->author_seq == 1 && !s_is_zero(e->author_prev, 32))
        return COFAB_EMALFORMED;
    e->payload = bytes + ENVELOPE_HEADER_LEN;
    e->signature = bytes + ENVELOPE_HEADER_LEN + e->payload_len;
    e->bytes = bytes;
    e->len = len;
    crypto_hash_sha256(e->hash, bytes, len);
    return 0;
}

int
envelope_verify(const envelope_t *e)
{
    if (!e || !e->bytes)
        return COFAB_EINVAL;
    size_t signed_len = e->len - ENVELOPE_SIG_LEN;
    if (crypto_sign_verify_detached(e->signature, e->bytes, signed_len, e->author) != 0)
        return COFAB_EBADSIG;
    return 0;
}

int
envelope_open(envelope_t *e, const uint8_t *bytes, size_t len)
{
    int rc = envelope_decode(e, bytes, len);
    return rc ? rc : envelope_verify(e);
}

int
envelope_seal(const envelope_spec_t *spec, const keys_t *author, uint8_t *out, size_t out_len,
              size_t *len)
{
    if (!spec || !author || !out || !len)
        return COFAB_EINVAL;
    if (spec->kind < 1 || spec->kind > ENVELOPE_KIND_MAX || spec->author_seq == 0)
        return COFAB_EINVAL;
    if (spec->payload_len > ENVELOPE_MAX_PAYLOAD || (spec->payload_len && !spec->payload))
        return spec->payload_len > ENVELOPE_MAX_PAYLOAD ? COFAB_ETOOBIG : COFAB_EINVAL;
    size_t total = ENVELOPE_HEADER_LEN + spec->payload_len + ENVELOPE_SIG_LEN;
    if (out_len < total)
        return COFAB_ETOOBIG;

    out[0] = ENVELOPE_VERSION;
    out[1] = spec->kind;
    out[2] = 0;
    out[3] = 0;
    memcpy(out + 4, keys_sign_pk(author), 32);
    util_put_be64(out + 36, spec->author_seq);
    if (spec->author_seq == 1)
        memset(out + 44, 0, 32);
    else
        memcpy(out + 44, spec->author_prev, 32);
    util_put_be64(out + 76, spec->timestamp_ms);
    memcpy(out + 84, spec->subject, 32);
    util_put_be32(out + 116, (uint32_t) spec->payload_len);
    if (spec->payload_len)
        memcpy(out + ENVELOPE_HEADER_LEN, spec->payload, spec->payload_len);
    size_t signed_len = ENVELOPE_HEADER_LEN + spec->payload_len;
    if (keys_sign(author, out, signed_len, out + signed_len) != 0)
        return COFAB_ECRYPTO;
    *len = total;
    return 0;
}

void
envelope_chain_init(envelope_chain_t *c)
{
    c->next_seq = 1;
    memset(c->prev, 0, sizeof c->prev);
}

int
envelope_chain_seal(envelope_chain_t *c, envelope_spec_t *spec, const keys_t *author,
                    uint8_t *out, size_t out_len, size_t *len)
{
    spec->author_seq = c->next_seq;
    memcpy(spec->author_prev, c->prev, 32);
    int rc = envelope_seal(spec, author, out, out_len, len);
    if (rc != 0)
        return rc;
    crypto_hash_sha256(c->prev, out, *len);
    c->next_seq++;
    return 0;
}
