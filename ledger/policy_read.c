/* policy_read.c — reading the derived state policy_apply keeps: members, orders, work queues. */
#include "cofab/policy.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/util.h"

static const char *const s_state_names[] = {
    [POLICY_SUBMITTED] = "submitted",   [POLICY_ASSIGNED] = "assigned",
    [POLICY_ACCEPTED] = "accepted",     [POLICY_IN_PRODUCTION] = "in-production",
    [POLICY_QC_PASSED] = "qc-passed",   [POLICY_SHIPPED] = "shipped",
    [POLICY_DELIVERED] = "delivered",   [POLICY_CANCELLED] = "cancelled",
    [POLICY_DECLINED] = "declined",
};

const char *
policy_state_name(int state)
{
    if (state < POLICY_SUBMITTED || state > POLICY_DECLINED)
        return "unknown";
    return s_state_names[state];
}

static int
s_read(ledger_t *ledger, uint8_t tag, const uint8_t id[32], void *out, size_t size)
{
    uint8_t key[33];
    size_t vlen = 0;
    key[0] = tag;
    if (id)
        memcpy(key + 1, id, 32);
    int rc = ledger_state_get(ledger, key, id ? 33 : 1, out, size, &vlen);
    if (rc == 0 && vlen != size)
        rc = COFAB_ESTORE;
    return rc;
}

int
policy_alliance(ledger_t *ledger, policy_alliance_t *out)
{
    return s_read(ledger, 'g', NULL, out, sizeof *out);
}

int
policy_genesis(ledger_t *ledger, payload_genesis_t *out)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    ledger_record_t rec;
    envelope_t e;
    int rc = ledger_get(ledger, 0, &buf, &len);
    if (rc == 0)
        rc = ledger_record_decode(&rec, buf, len);
    if (rc == 0)
        rc = envelope_decode(&e, rec.envelope, rec.envelope_len);
    if (rc == 0 && e.kind != ENVELOPE_GENESIS)
        rc = COFAB_EMALFORMED;
    if (rc == 0)
        rc = payload_genesis_decode(out, e.payload, e.payload_len);
    free(buf);
    return rc;
}

int
policy_member(ledger_t *ledger, const uint8_t sign_pk[32], policy_member_t *out)
{
    return s_read(ledger, 'm', sign_pk, out, sizeof *out);
}

int
policy_member_by_transport(ledger_t *ledger, const uint8_t transport[32], uint8_t sign_pk[32])
{
    return s_read(ledger, 't', transport, sign_pk, 32);
}

int
policy_order(ledger_t *ledger, const uint8_t order_id[32], policy_order_t *out)
{
    return s_read(ledger, 'o', order_id, out, sizeof *out);
}

int
policy_reliability(ledger_t *ledger, const uint8_t factory[32], policy_reliability_t *out)
{
    int rc = s_read(ledger, 'r', factory, out, sizeof *out);
    if (rc == COFAB_ENOTFOUND) {
        memset(out, 0, sizeof *out);
        rc = 0;
    }
    return rc;
}

int
policy_capacity_seq(ledger_t *ledger, const uint8_t factory[32], uint64_t *seq)
{
    uint8_t v[8];
    int rc = s_read(ledger, 'c', factory, v, 8);
    if (rc == 0)
        *seq = util_get_be64(v);
    return rc;
}

typedef struct {
    policy_order_fn fn;   /* caller's callback */
    void *ctx;            /* its context */
} s_scan_t;

static int
s_each(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void) val;
    (void) vlen;
    s_scan_t *s = arg;
    if (klen != 33)
        return COFAB_ESTORE;
    return s->fn(s->ctx, key + 1);
}

static int
s_each_active(void *arg, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
    (void) val;
    (void) vlen;
    s_scan_t *s = arg;
    if (klen != 65)
        return COFAB_ESTORE;
    return s->fn(s->ctx, key + 33);
}

int
policy_factory_orders(ledger_t *ledger, const uint8_t factory[32], policy_order_fn fn, void *ctx)
{
    uint8_t prefix[33] = {'a'};
    memcpy(prefix + 1, factory, 32);
    s_scan_t s = {fn, ctx};
    return ledger_state_scan(ledger, prefix, sizeof prefix, s_each_active, &s);
}

static int
s_scan(ledger_t *ledger, uint8_t tag, policy_order_fn fn, void *ctx)
{
    s_scan_t s = {fn, ctx};
    return ledger_state_scan(ledger, &tag, 1, s_each, &s);
}

int
policy_pending_orders(ledger_t *ledger, policy_order_fn fn, void *ctx)
{
    return s_scan(ledger, 'p', fn, ctx);
}

int
policy_waiting_orders(ledger_t *ledger, policy_order_fn fn, void *ctx)
{
    return s_scan(ledger, 'w', fn, ctx);
}

int
policy_factories(ledger_t *ledger, policy_order_fn fn, void *ctx)
{
    return s_scan(ledger, 'c', fn, ctx);
}

int
policy_orders(ledger_t *ledger, policy_order_fn fn, void *ctx)
{
    return s_scan(ledger, 'o', fn, ctx);
}
