/* policy.c — authorization and the order state machine, kept as derived state beside the ledger. */
#include "cofab/policy.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/error.h"
#include "cofab/util.h"

#define S_DAY_MS 86400000ull

/* Derived-state keys: one tag byte, then an id. */
enum {
    S_TAG_ALLIANCE = 'g',
    S_TAG_MEMBER = 'm',
    S_TAG_TRANSPORT = 't',
    S_TAG_ORDER = 'o',
    S_TAG_PENDING = 'p',
    S_TAG_WAITING = 'w',
    S_TAG_CAPACITY = 'c',
    S_TAG_RELIABILITY = 'r',
    S_TAG_ACTIVE = 'a', /* factory || order: a piece still to be produced */
};

static int
s_active(ledger_txn_t *txn, const uint8_t factory[32], const uint8_t order[32], int on)
{
    uint8_t key[65];
    key[0] = S_TAG_ACTIVE;
    memcpy(key + 1, factory, 32);
    memcpy(key + 33, order, 32);
    return on ? ledger_txn_put(txn, key, sizeof key, "", 0) : ledger_txn_del(txn, key, sizeof key);
}

/* Drops the order from every assigned factory's active list. */
static int
s_inactive_all(ledger_txn_t *txn, const policy_order_t *o, const uint8_t order[32])
{
    int rc = 0;
    for (unsigned i = 0; rc == 0 && i < o->nfactories; i++)
        rc = s_active(txn, o->factories[i], order, 0);
    return rc;
}

static void
s_key(uint8_t key[33], uint8_t tag, const uint8_t id[32])
{
    key[0] = tag;
    if (id)
        memcpy(key + 1, id, 32);
}

/* Reads a fixed-size state value; a stored value of another size is damage. */
static int
s_get(ledger_txn_t *txn, uint8_t tag, const uint8_t id[32], void *out, size_t size)
{
    uint8_t key[33];
    const uint8_t *val;
    size_t vlen;
    s_key(key, tag, id);
    int rc = ledger_txn_get(txn, key, id ? 33 : 1, &val, &vlen);
    if (rc != 0)
        return rc;
    if (vlen != size)
        return COFAB_ESTORE;
    memcpy(out, val, size);
    return 0;
}

static int
s_put(ledger_txn_t *txn, uint8_t tag, const uint8_t id[32], const void *val, size_t size)
{
    uint8_t key[33];
    s_key(key, tag, id);
    return ledger_txn_put(txn, key, id ? 33 : 1, val, size);
}

static int
s_del(ledger_txn_t *txn, uint8_t tag, const uint8_t id[32])
{
    uint8_t key[33];
    s_key(key, tag, id);
    return ledger_txn_del(txn, key, 33);
}

static int
s_alliance(ledger_txn_t *txn, policy_alliance_t *a)
{
    uint8_t key[33] = {S_TAG_ALLIANCE};
    const uint8_t *val;
    size_t vlen;
    int rc = ledger_txn_get(txn, key, 1, &val, &vlen);
    if (rc != 0)
        return rc == COFAB_ENOTFOUND ? COFAB_ESTORE : rc;
    if (vlen != sizeof *a)
        return COFAB_ESTORE;
    memcpy(a, val, sizeof *a);
    return 0;
}

static int
s_add_member(ledger_txn_t *txn, const payload_member_t *m)
{
    policy_member_t pm;
    memset(&pm, 0, sizeof pm);
    pm.version = 1;
    pm.role = (uint8_t) m->role;
    pm.active = 1;
    memcpy(pm.transport, m->transport, 32);
    memcpy(pm.name, m->key.name, sizeof pm.name);
    int rc = s_put(txn, S_TAG_MEMBER, m->key.pk, &pm, sizeof pm);
    if (rc == 0)
        rc = s_put(txn, S_TAG_TRANSPORT, m->transport, m->key.pk, 32);
    return rc;
}

/* Is author an active member with this role? */
static int
s_is_member(ledger_txn_t *txn, const uint8_t author[32], int role)
{
    policy_member_t m;
    return s_get(txn, S_TAG_MEMBER, author, &m, sizeof m) == 0 && m.active && m.role == role;
}

static int
s_apply_genesis(ledger_txn_t *txn, const envelope_t *e)
{
    payload_genesis_t *g = malloc(sizeof *g);
    if (!g)
        return COFAB_ENOMEM;
    int rc = payload_genesis_decode(g, e->payload, e->payload_len);
    if (rc == 0 && sodium_memcmp(g->operator_key.pk, e->author, 32) != 0)
        rc = COFAB_EPERM; /* the operator it names must have signed it */
    if (rc == 0) {
        policy_alliance_t a;
        memset(&a, 0, sizeof a);
        memcpy(a.hub, g->hub.pk, 32);
        memcpy(a.operator_key, g->operator_key.pk, 32);
        a.witness_k = g->witness_k;
        a.customers = g->customers;
        a.ack_timeout_s = g->ack_timeout_s;
        rc = s_put(txn, S_TAG_ALLIANCE, NULL, &a, sizeof a);
        for (uint32_t i = 0; rc == 0 && i < g->nmembers; i++)
            rc = s_add_member(txn, &g->members[i]);
    }
    free(g);
    return rc;
}

static int
s_apply_member_add(ledger_txn_t *txn, const policy_alliance_t *a, const envelope_t *e)
{
    if (sodium_memcmp(e->author, a->operator_key, 32) != 0)
        return COFAB_EPERM;
    payload_member_t m;
    int rc = payload_member_add_decode(&m, e->payload, e->payload_len);
    if (rc != 0)
        return rc;
    policy_member_t old;
    uint8_t owner[32];
    if (s_get(txn, S_TAG_MEMBER, m.key.pk, &old, sizeof old) == 0 && old.active)
        return COFAB_ETAKEN;
    if (s_get(txn, S_TAG_TRANSPORT, m.transport, owner, 32) == 0 &&
        sodium_memcmp(owner, m.key.pk, 32) != 0)
        return COFAB_ETAKEN; /* that transport key already speaks for someone else */
    return s_add_member(txn, &m);
}

static int
s_apply_member_remove(ledger_txn_t *txn, const policy_alliance_t *a, const envelope_t *e)
{
    if (sodium_memcmp(e->author, a->operator_key, 32) != 0)
        return COFAB_EPERM;
    payload_member_remove_t r;
    int rc = payload_member_remove_decode(&r, e->payload, e->payload_len);
    if (rc != 0)
        return rc;
    policy_member_t m;
    rc = s_get(txn, S_TAG_MEMBER, r.key, &m, sizeof m);
    if (rc != 0 || !m.active)
        return rc == 0 || rc == COFAB_ENOTFOUND ? COFAB_ENOTFOUND : rc;
    m.active = 0;
    return s_put(txn, S_TAG_MEMBER, r.key, &m, sizeof m);
}

static int
s_apply_capacity(ledger_txn_t *txn, const envelope_t *e, uint64_t seq)
{
    if (!s_is_member(txn, e->author, PAYLOAD_ROLE_FACTORY))
        return COFAB_EPERM;
    int rc = payload_check(ENVELOPE_CAPACITY, e->payload, e->payload_len);
    if (rc != 0)
        return rc;
    uint8_t v[8];
    util_put_be64(v, seq);
    return s_put(txn, S_TAG_CAPACITY, e->author, v, 8);
}

static int
s_apply_order(ledger_txn_t *txn, const policy_alliance_t *a, const envelope_t *e, uint64_t seq)
{
    policy_member_t m;
    int is_member = s_get(txn, S_TAG_MEMBER, e->author, &m, sizeof m) == 0 && m.active;
    if (a->customers == PAYLOAD_CUSTOMERS_LISTED
            ? !(is_member && m.role == PAYLOAD_ROLE_CUSTOMER)
            : (is_member && m.role != PAYLOAD_ROLE_CUSTOMER))
        return COFAB_EPERM;
    if (sodium_memcmp(e->author, a->hub, 32) == 0 ||
        sodium_memcmp(e->author, a->operator_key, 32) == 0)
        return COFAB_EPERM;
    if (sodium_is_zero(e->subject, 32))
        return COFAB_EMALFORMED;
    policy_order_t o;
    if (s_get(txn, S_TAG_ORDER, e->subject, &o, sizeof o) == 0)
        return COFAB_ETAKEN; /* not EEXIST: that means "this very envelope is stored" */
    payload_order_t p;
    int rc = payload_order_decode(&p, e->payload, e->payload_len);
    if (rc != 0)
        return rc;
    memset(&o, 0, sizeof o);
    o.version = 1;
    o.state = POLICY_SUBMITTED;
    o.due_day = p.due_day;
    memcpy(o.customer, e->author, 32);
    o.order_seq = o.last_seq = seq;
    rc = s_put(txn, S_TAG_ORDER, e->subject, &o, sizeof o);
    if (rc == 0)
        rc = s_put(txn, S_TAG_PENDING, e->subject, "", 0);
    return rc;
}

/* The order's state is its least advanced piece; a decline dominates. */
static void
s_recompute(policy_order_t *o)
{
    uint8_t least = POLICY_DELIVERED;
    for (unsigned i = 0; i < o->nfactories; i++) {
        if (o->fstate[i] == POLICY_DECLINED) {
            o->state = POLICY_DECLINED;
            return;
        }
        if (o->fstate[i] < least)
            least = o->fstate[i];
    }
    o->state = least;
}

static int
s_bump(ledger_txn_t *txn, const uint8_t factory[32], size_t field, uint32_t by)
{
    policy_reliability_t r;
    int rc = s_get(txn, S_TAG_RELIABILITY, factory, &r, sizeof r);
    if (rc == COFAB_ENOTFOUND)
        memset(&r, 0, sizeof r);
    else if (rc != 0)
        return rc;
    uint32_t *counter = (uint32_t *) ((uint8_t *) &r + field);
    *counter += by;
    return s_put(txn, S_TAG_RELIABILITY, factory, &r, sizeof r);
}

#define S_BUMP(txn, factory, member) \
    s_bump((txn), (factory), offsetof(policy_reliability_t, member), 1)

static int
s_find_factory(const policy_order_t *o, const uint8_t f[32])
{
    for (unsigned i = 0; i < o->nfactories; i++)
        if (sodium_memcmp(o->factories[i], f, 32) == 0)
            return (int) i;
    return -1;
}

static int
s_apply_assign(ledger_txn_t *txn, const policy_alliance_t *a, policy_order_t *o,
               const envelope_t *e, uint64_t seq, uint64_t time_ms)
{
    if (sodium_memcmp(e->author, a->hub, 32) != 0)
        return COFAB_EPERM;
    if (o->state != POLICY_SUBMITTED)
        return COFAB_ESTATE;
    payload_assign_t *p = malloc(sizeof *p);
    if (!p)
        return COFAB_ENOMEM;
    int rc = payload_assign_decode(p, e->payload, e->payload_len);
    if (rc == 0 && p->basis > seq)
        rc = COFAB_EMALFORMED; /* a decision cannot rest on records after it */
    o->nfactories = 0;
    for (uint32_t i = 0; rc == 0 && i < p->npieces; i++) {
        const uint8_t *f = p->pieces[i].factory;
        if (!s_is_member(txn, f, PAYLOAD_ROLE_FACTORY))
            rc = COFAB_EPERM;
        for (unsigned x = 0; rc == 0 && x < o->nexclude; x++)
            if (sodium_memcmp(o->exclude[x], f, 32) == 0)
                rc = COFAB_EPERM; /* the order already left this factory */
        if (rc == 0 && s_find_factory(o, f) < 0) {
            if (o->nfactories == POLICY_MAX_FACTORIES) {
                rc = COFAB_ETOOBIG;
                break;
            }
            memcpy(o->factories[o->nfactories], f, 32);
            o->fstate[o->nfactories++] = POLICY_ASSIGNED;
        }
    }
    free(p);
    if (rc != 0)
        return rc;
    o->state = POLICY_ASSIGNED;
    o->assign_seq = seq;
    o->assigned_ms = time_ms;
    rc = s_del(txn, S_TAG_PENDING, e->subject);
    if (rc == 0)
        rc = s_put(txn, S_TAG_WAITING, e->subject, "", 0);
    for (unsigned i = 0; rc == 0 && i < o->nfactories; i++) {
        rc = S_BUMP(txn, o->factories[i], assigned);
        if (rc == 0)
            rc = s_active(txn, o->factories[i], e->subject, 1);
    }
    return rc;
}

/* accept, decline and status: a step of one factory's piece. */
static int
s_apply_step(ledger_txn_t *txn, policy_order_t *o, const envelope_t *e, uint64_t time_ms)
{
    int i = s_find_factory(o, e->author);
    if (i < 0 || o->state == POLICY_CANCELLED || o->state == POLICY_SUBMITTED)
        return COFAB_EPERM;
    uint8_t from = o->fstate[i], to;
    int rc;
    if (e->kind == ENVELOPE_ACCEPT || e->kind == ENVELOPE_DECLINE) {
        if (from != POLICY_ASSIGNED || o->state == POLICY_DECLINED)
            return COFAB_ESTATE;
        rc = e->kind == ENVELOPE_ACCEPT
                 ? payload_check(ENVELOPE_ACCEPT, e->payload, e->payload_len)
                 : payload_check(ENVELOPE_DECLINE, e->payload, e->payload_len);
        to = e->kind == ENVELOPE_ACCEPT ? POLICY_ACCEPTED : POLICY_DECLINED;
    } else {
        payload_status_t s;
        rc = payload_status_decode(&s, e->payload, e->payload_len);
        if (rc != 0)
            return rc;
        to = (uint8_t) (POLICY_IN_PRODUCTION + (s.stage - PAYLOAD_STAGE_IN_PRODUCTION));
        if (from + 1 != to || from < POLICY_ACCEPTED)
            return COFAB_ESTATE;
    }
    if (rc != 0)
        return rc;
    uint8_t before = o->state;
    o->fstate[i] = to;
    s_recompute(o);
    if (to == POLICY_ACCEPTED)
        rc = S_BUMP(txn, e->author, accepted);
    else if (to == POLICY_DECLINED)
        rc = S_BUMP(txn, e->author, declined);
    else if (to == POLICY_SHIPPED) /* production is over: no more load */
        rc = s_active(txn, e->author, e->subject, 0);
    else if (to == POLICY_DELIVERED) {
        rc = S_BUMP(txn, e->author, delivered);
        if (rc == 0 && time_ms / S_DAY_MS <= o->due_day)
            rc = S_BUMP(txn, e->author, on_time);
    }
    /* Leaving "waiting" once every factory has answered. */
    if (rc == 0 && before == POLICY_ASSIGNED && o->state >= POLICY_ACCEPTED &&
        o->state != POLICY_DECLINED)
        rc = s_del(txn, S_TAG_WAITING, e->subject);
    return rc;
}

static int
s_apply_cancel(ledger_txn_t *txn, policy_order_t *o, const envelope_t *e)
{
    if (sodium_memcmp(e->author, o->customer, 32) != 0)
        return COFAB_EPERM;
    if (o->state >= POLICY_SHIPPED && o->state != POLICY_DECLINED)
        return COFAB_ESTATE;
    int rc = payload_check(ENVELOPE_CANCEL, e->payload, e->payload_len);
    if (rc != 0)
        return rc;
    rc = s_inactive_all(txn, o, e->subject);
    o->state = POLICY_CANCELLED;
    if (rc == 0)
        rc = s_del(txn, S_TAG_PENDING, e->subject);
    if (rc == 0)
        rc = s_del(txn, S_TAG_WAITING, e->subject);
    return rc;
}

static int
s_apply_reassign(ledger_txn_t *txn, const policy_alliance_t *a, policy_order_t *o,
                 const envelope_t *e, uint64_t seq)
{
    if (sodium_memcmp(e->author, a->hub, 32) != 0)
        return COFAB_EPERM;
    payload_reassign_t r;
    int rc = payload_reassign_decode(&r, e->payload, e->payload_len);
    if (rc != 0)
        return rc;
    if (r.basis > seq)
        return COFAB_EMALFORMED;
    int i = s_find_factory(o, r.factory);
    if (i < 0)
        return COFAB_ESTATE;
    switch (r.why) {
    case PAYLOAD_WHY_DECLINED:
        if (o->fstate[i] != POLICY_DECLINED)
            return COFAB_ESTATE;
        break;
    case PAYLOAD_WHY_TIMEOUT:
    case PAYLOAD_WHY_UNREACHABLE:
        if (o->state != POLICY_ASSIGNED || o->fstate[i] != POLICY_ASSIGNED)
            return COFAB_ESTATE;
        rc = S_BUMP(txn, r.factory, timeouts);
        break;
    default: /* removed: the factory must really be gone */
        if (s_is_member(txn, r.factory, PAYLOAD_ROLE_FACTORY) ||
            (o->state >= POLICY_SHIPPED && o->state != POLICY_DECLINED))
            return COFAB_ESTATE;
        break;
    }
    if (rc != 0)
        return rc;
    /* A sliding window of the most recent departures: the oldest drops out,
     * so an order that has left many factories still goes back to matching. */
    if (o->nexclude == POLICY_MAX_EXCLUDE) {
        memmove(o->exclude[0], o->exclude[1], (POLICY_MAX_EXCLUDE - 1) * sizeof o->exclude[0]);
        o->nexclude--;
    }
    memcpy(o->exclude[o->nexclude++], r.factory, 32);
    rc = s_inactive_all(txn, o, e->subject);
    if (rc != 0)
        return rc;
    o->state = POLICY_SUBMITTED;
    o->nfactories = 0;
    o->assign_seq = 0;
    rc = s_del(txn, S_TAG_WAITING, e->subject);
    if (rc == 0)
        rc = s_put(txn, S_TAG_PENDING, e->subject, "", 0);
    return rc;
}

/* The kinds that act on an existing order. */
static int
s_apply_order_step(ledger_txn_t *txn, const policy_alliance_t *a, const envelope_t *e,
                   uint64_t seq, uint64_t time_ms)
{
    policy_order_t o;
    int rc = s_get(txn, S_TAG_ORDER, e->subject, &o, sizeof o);
    if (rc != 0)
        return rc;
    if (o.state == POLICY_CANCELLED || o.state == POLICY_DELIVERED)
        return COFAB_ESTATE;
    switch (e->kind) {
    case ENVELOPE_ASSIGN:
        rc = s_apply_assign(txn, a, &o, e, seq, time_ms);
        break;
    case ENVELOPE_ACCEPT:
    case ENVELOPE_DECLINE:
    case ENVELOPE_STATUS:
        rc = s_apply_step(txn, &o, e, time_ms);
        break;
    case ENVELOPE_CANCEL:
        rc = s_apply_cancel(txn, &o, e);
        break;
    default:
        rc = s_apply_reassign(txn, a, &o, e, seq);
        break;
    }
    if (rc != 0)
        return rc;
    o.last_seq = seq;
    return s_put(txn, S_TAG_ORDER, e->subject, &o, sizeof o);
}

int
policy_apply(void *ctx, ledger_txn_t *txn, const envelope_t *e, uint64_t seq, uint64_t time_ms)
{
    (void) ctx;
    if (!txn || !e)
        return COFAB_EINVAL;
    if (e->kind == ENVELOPE_GENESIS)
        return seq == 0 ? s_apply_genesis(txn, e) : COFAB_EPERM;
    policy_alliance_t a;
    int rc = s_alliance(txn, &a);
    if (rc != 0)
        return rc;
    switch (e->kind) {
    case ENVELOPE_MEMBER_ADD:
        return s_apply_member_add(txn, &a, e);
    case ENVELOPE_MEMBER_REMOVE:
        return s_apply_member_remove(txn, &a, e);
    case ENVELOPE_CAPACITY:
        return s_apply_capacity(txn, e, seq);
    case ENVELOPE_ORDER:
        return s_apply_order(txn, &a, e, seq);
    case ENVELOPE_NOTE:
        return sodium_memcmp(e->author, a.operator_key, 32) == 0 ||
                       sodium_memcmp(e->author, a.hub, 32) == 0
                   ? 0
                   : COFAB_EPERM;
    case ENVELOPE_ASSIGN:
    case ENVELOPE_ACCEPT:
    case ENVELOPE_DECLINE:
    case ENVELOPE_STATUS:
    case ENVELOPE_CANCEL:
    case ENVELOPE_REASSIGN:
        return s_apply_order_step(txn, &a, e, seq, time_ms);
    default:
        return COFAB_EKIND;
    }
}
