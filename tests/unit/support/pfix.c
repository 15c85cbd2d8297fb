/* pfix.c — payload test fixtures: sample payloads and CBOR surgery (see pfix.h). */
#include "support/pfix.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"

cbor_item_t *
pfix_load(pfix_buf_t b)
{
    struct cbor_load_result res;
    cbor_item_t *it = cbor_load(b.p, b.n, &res);
    assert_non_null(it);
    return it;
}

pfix_buf_t
pfix_ser(const cbor_item_t *it)
{
    pfix_buf_t b = {NULL, 0};
    size_t cap = 0;
    b.n = cbor_serialize_alloc(it, &b.p, &cap);
    assert_true(b.n > 0);
    return b;
}

static int
s_key_is(const cbor_item_t *k, const char *seg, size_t seg_len)
{
    return cbor_isa_string(k) && cbor_string_length(k) == seg_len &&
           memcmp(cbor_string_handle(k), seg, seg_len) == 0;
}

/* A copy of it with the item at dotted path ("offers.0.moq") replaced by
 * value, or deleted when value is NULL; a missing last map key is added.
 * Returns a new reference (NULL when it itself is deleted). */
cbor_item_t *
pfix_edit(cbor_item_t *it, const char *path, cbor_item_t *value)
{
    if (!*path)
        return value ? cbor_incref(value) : NULL;
    const char *dot = strchr(path, '.');
    size_t seg_len = dot ? (size_t) (dot - path) : strlen(path);
    const char *rest = dot ? dot + 1 : path + seg_len;
    cbor_item_t *out;
    if (cbor_isa_map(it)) {
        size_t n = cbor_map_size(it);
        struct cbor_pair *pairs = cbor_map_handle(it);
        int found = 0;
        out = cbor_new_definite_map(n + 1);
        for (size_t i = 0; i < n; i++) {
            cbor_item_t *v = pairs[i].value;
            if (s_key_is(pairs[i].key, path, seg_len) && !found) {
                found = 1;
                v = pfix_edit(v, rest, value);
                if (!v)
                    continue;
            } else {
                cbor_incref(v);
            }
            assert_true(cbor_map_add(out, (struct cbor_pair){.key = pairs[i].key, .value = v}));
            cbor_decref(&v);
        }
        if (!found && !*rest && value) {
            cbor_item_t *k = cbor_build_stringn(path, seg_len);
            assert_true(cbor_map_add(out, (struct cbor_pair){.key = k, .value = value}));
            cbor_decref(&k);
        }
        return out;
    }
    assert_true(cbor_isa_array(it));
    size_t idx = (size_t) atoi(path), n = cbor_array_size(it);
    out = cbor_new_definite_array(n);
    for (size_t i = 0; i < n; i++) {
        cbor_item_t *v = cbor_array_get(it, i);
        if (i == idx) {
            cbor_item_t *e = pfix_edit(v, rest, value);
            cbor_decref(&v);
            v = e;
            if (!v)
                continue;
        }
        assert_true(cbor_array_push(out, v));
        cbor_decref(&v);
    }
    return out;
}

/* The item at path (borrowed), or NULL. */
cbor_item_t *
pfix_get(cbor_item_t *it, const char *path)
{
    while (*path && it) {
        const char *dot = strchr(path, '.');
        size_t seg_len = dot ? (size_t) (dot - path) : strlen(path);
        cbor_item_t *next = NULL;
        if (cbor_isa_map(it)) {
            for (size_t i = 0; i < cbor_map_size(it); i++)
                if (s_key_is(cbor_map_handle(it)[i].key, path, seg_len))
                    next = cbor_map_handle(it)[i].value;
        } else if (cbor_isa_array(it) && (size_t) atoi(path) < cbor_array_size(it)) {
            next = cbor_array_handle(it)[atoi(path)];
        }
        it = next;
        path = dot ? dot + 1 : path + seg_len;
    }
    return it;
}

/* in with path set to value (NULL: deleted); consumes value. */
pfix_buf_t
pfix_mut(pfix_buf_t in, const char *path, cbor_item_t *value)
{
    cbor_item_t *root = pfix_load(in);
    cbor_item_t *ed = pfix_edit(root, path, value);
    pfix_buf_t out = pfix_ser(ed);
    cbor_decref(&ed);
    cbor_decref(&root);
    if (value)
        cbor_decref(&value);
    return out;
}

cbor_item_t *
pfix_int(int64_t v)
{
    return v >= 0 ? cbor_build_uint64((uint64_t) v) : cbor_build_negint64((uint64_t) (-1 - v));
}

cbor_item_t *
pfix_str(const char *s)
{
    return cbor_build_string(s);
}

/* A text of n copies of c. */
cbor_item_t *
pfix_str_n(char c, size_t n)
{
    char buf[1024];
    assert_true(n < sizeof buf);
    memset(buf, c, n);
    return cbor_build_stringn(buf, n);
}

/* An array of n copies of tmpl, each with path `vary` set to "v<i>" (no
 * change when vary is NULL; "" replaces the whole element). */
cbor_item_t *
pfix_array_of(cbor_item_t *tmpl, size_t n, const char *vary)
{
    cbor_item_t *a = cbor_new_definite_array(n);
    for (size_t i = 0; i < n; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%u", (unsigned) i);
        cbor_item_t *v = pfix_str(name);
        cbor_item_t *e = vary ? pfix_edit(tmpl, vary, v) : cbor_incref(tmpl);
        cbor_decref(&v);
        assert_true(cbor_array_push(a, e));
        cbor_decref(&e);
    }
    return a;
}

/* A value of another CBOR type than orig. */
cbor_item_t *
pfix_wrong(const cbor_item_t *orig)
{
    if (cbor_isa_uint(orig) || cbor_isa_negint(orig))
        return pfix_str("1");
    if (cbor_isa_string(orig))
        return cbor_build_uint8(1);
    if (cbor_isa_bytestring(orig))
        return pfix_str("x");
    if (cbor_isa_array(orig))
        return cbor_new_definite_map(0);
    if (cbor_isa_map(orig))
        return cbor_new_definite_array(0);
    return cbor_build_uint8(1);
}

/* ---- Samples -------------------------------------------------------------- */

void
pfix_verifier(note_verifier_t *v, const char *name, uint8_t seed)
{
    uint8_t sd[32], pk[32], sk[64];
    memset(sd, seed, sizeof sd);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, sd), 0);
    memset(v, 0, sizeof *v);
    assert_int_equal(note_verifier_init(v, name, pk), 0);
}

void
pfix_member(payload_member_t *m, const char *name, uint8_t seed, payload_role_t role)
{
    memset(m, 0, sizeof *m);
    pfix_verifier(&m->key, name, seed);
    memset(m->transport, seed ^ 0x5a, 32);
    m->role = role;
}

void
pfix_genesis(payload_genesis_t *g)
{
    payload_genesis_init(g);
    snprintf(g->origin, sizeof g->origin, "alliance.example/ledger");
    pfix_verifier(&g->hub, "hub", 1);
    memset(g->hub_transport, 0x11, 32);
    pfix_verifier(&g->operator_key, "operator", 2);
    pfix_member(&g->members[0], "acme-tools", 10, PAYLOAD_ROLE_FACTORY);
    pfix_member(&g->members[1], "witness.one", 11, PAYLOAD_ROLE_WITNESS);
    pfix_member(&g->members[2], "Bob_Customer", 12, PAYLOAD_ROLE_CUSTOMER);
    g->nmembers = 3;
    g->witness_k = 1;
    g->customers = PAYLOAD_CUSTOMERS_LISTED;
    g->ack_timeout_s = 7200;
    g->params.batch_window = 14;
    g->params.ls_budget = 10000000000ULL;
}

payload_capacity_t *
pfix_capacity(void)
{
    payload_capacity_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->start_day = 20000;
    c->valid_until_day = 20090;
    c->lead_days = 5;
    c->lat_e6 = 48856613;
    c->lon_e6 = -2352222;
    c->reserve_pm = -1;
    snprintf(c->location, sizeof c->location, "Lyon, Vénissieux");
    payload_offer_t *o = &c->offers[0];
    snprintf(o->process, sizeof o->process, "cnc-milling");
    snprintf(o->materials[0], sizeof o->materials[0], "aluminium-6061");
    snprintf(o->materials[1], sizeof o->materials[1], "steel-304");
    snprintf(o->materials[2], sizeof o->materials[2], "pom");
    o->nmaterials = 3;
    o->unit_price = 1250;
    o->setup_cost = 50000;
    o->moq = 10;
    o->max_qty = 5000;
    o->ncap = 30;
    for (uint32_t d = 0; d < o->ncap; d++)
        o->cap[d] = d % 7 >= 5 ? 0 : 400 + 17 * d;
    o = &c->offers[1];
    snprintf(o->process, sizeof o->process, "anodizing");
    snprintf(o->materials[0], sizeof o->materials[0], "aluminium-6061");
    o->nmaterials = 1;
    o->unit_price = 300;
    o->setup_cost = 20000;
    o->moq = 50;
    o->max_qty = 20000;
    o->ncap = PAYLOAD_MAX_DAYS;
    for (uint32_t d = 0; d < o->ncap; d++)
        o->cap[d] = 100000 + d;
    c->noffers = 2;
    return c;
}

void
pfix_order(payload_order_t *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->items[0].process, sizeof o->items[0].process, "cnc-milling");
    snprintf(o->items[0].material, sizeof o->items[0].material, "aluminium-6061");
    o->items[0].qty = 250;
    snprintf(o->items[1].process, sizeof o->items[1].process, "anodizing");
    snprintf(o->items[1].material, sizeof o->items[1].material, "aluminium-6061");
    o->items[1].qty = 250;
    o->nitems = 2;
    o->due_day = 20045;
    o->lat_e6 = 52520008;
    o->lon_e6 = 13404954;
    o->budget = 150000000;
    o->split = 1;
    snprintf(o->title, sizeof o->title, "Brackets, batch 7");
}

void
pfix_assign(payload_assign_t *a)
{
    memset(a, 0, sizeof *a);
    a->basis = 123456;
    for (uint32_t i = 0; i < 2; i++) {
        payload_piece_t *p = &a->pieces[i];
        memset(p->factory, 0x30 + (int) i, 32);
        snprintf(p->process, sizeof p->process, "cnc-milling");
        snprintf(p->material, sizeof p->material, "aluminium-6061");
        p->qty = 100 + 50 * i;
        p->first_day = 20010 + i;
        p->last_day = 20012 + i;
        p->cost = 187500 + (int64_t) i;
    }
    a->npieces = 2;
    a->has_runner_up = 1;
    memset(a->runner_up, 0x44, 32);
    memset(a->result, 0xab, 32);
}

/* A valid encoded payload of kind. */
pfix_buf_t
pfix_sample(int kind)
{
    pfix_buf_t b = {NULL, 0};
    int rc = COFAB_EINVAL;
    switch (kind) {
    case ENVELOPE_GENESIS: {
        payload_genesis_t g;
        pfix_genesis(&g);
        rc = payload_genesis_encode(&g, &b.p, &b.n);
        break;
    }
    case ENVELOPE_MEMBER_ADD: {
        payload_member_t m;
        pfix_member(&m, "acme-tools", 10, PAYLOAD_ROLE_FACTORY);
        rc = payload_member_add_encode(&m, &b.p, &b.n);
        break;
    }
    case ENVELOPE_MEMBER_REMOVE: {
        payload_member_remove_t r = {.reason = "left the alliance"};
        memset(r.key, 7, 32);
        rc = payload_member_remove_encode(&r, &b.p, &b.n);
        break;
    }
    case ENVELOPE_CAPACITY: {
        payload_capacity_t *c = pfix_capacity();
        rc = payload_capacity_encode(c, &b.p, &b.n);
        free(c);
        break;
    }
    case ENVELOPE_ORDER: {
        payload_order_t o;
        pfix_order(&o);
        rc = payload_order_encode(&o, &b.p, &b.n);
        break;
    }
    case ENVELOPE_ASSIGN: {
        payload_assign_t a;
        pfix_assign(&a);
        rc = payload_assign_encode(&a, &b.p, &b.n);
        break;
    }
    case ENVELOPE_ACCEPT: {
        payload_accept_t a = {.note = "will ship from plant 2"};
        rc = payload_accept_encode(&a, &b.p, &b.n);
        break;
    }
    case ENVELOPE_DECLINE: {
        payload_decline_t d = {.reason = "machine down for maintenance"};
        rc = payload_decline_encode(&d, &b.p, &b.n);
        break;
    }
    case ENVELOPE_STATUS: {
        payload_status_t s = {.stage = PAYLOAD_STAGE_QC_PASSED, .has_attachment = 1};
        memset(s.attachment, 0x5c, 32);
        rc = payload_status_encode(&s, &b.p, &b.n);
        break;
    }
    case ENVELOPE_CANCEL: {
        payload_cancel_t c = {.reason = "customer changed design"};
        rc = payload_cancel_encode(&c, &b.p, &b.n);
        break;
    }
    case ENVELOPE_REASSIGN: {
        payload_reassign_t r = {.why = PAYLOAD_WHY_TIMEOUT, .basis = 99};
        memset(r.factory, 0x31, 32);
        rc = payload_reassign_encode(&r, &b.p, &b.n);
        break;
    }
    }
    assert_int_equal(rc, 0);
    return b;
}

/* payload_check(kind) of sample(kind) with path set to value. */
int
pfix_check_mut(int kind, const char *path, cbor_item_t *value)
{
    pfix_buf_t base = pfix_sample(kind);
    pfix_buf_t m = pfix_mut(base, path, value);
    int rc = payload_check(kind, m.p, m.n);
    free(base.p);
    free(m.p);
    return rc;
}

