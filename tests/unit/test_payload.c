/* test_payload.c — typed CBOR payloads: round trips, required keys, types, limits, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>
#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/payload.h"
#include "support/pfix.h"

/* ---- Per-kind key tables -------------------------------------------------- */

#define P(x) "params." #x
static const char *const s_req_genesis[] = {
    "origin", "hub", "hub_transport", "operator", "members", "params", "witness_k", "customers",
    "ack_timeout_s", "members.0.name", "members.0.key", "members.0.transport", "members.0.role",
    P(ship_per_km), P(ship_per_unit_km_milli), P(km_per_day), P(late_per_day),
    P(reliability_pm), P(reliability_full), P(reserve_pm), P(batch_window), P(min_capable),
    P(max_candidates), P(max_split), P(unplaced_penalty), P(lagr_iters), P(ls_budget),
    P(bnb_nodes), NULL};
static const char *const s_req_member[] = {"name", "key", "transport", "role", NULL};
static const char *const s_req_remove[] = {"key", NULL};
static const char *const s_req_capacity[] = {
    "start_day", "valid_until_day", "lead_days", "lat_e6", "lon_e6", "reserve_pm", "offers",
    "offers.0.process", "offers.0.materials", "offers.0.unit_price", "offers.0.setup_cost",
    "offers.0.moq", "offers.0.max_qty", "offers.0.cap", "offers.1.cap", NULL};
static const char *const s_req_order[] = {"items", "items.0.process", "items.0.material",
                                          "items.0.qty", "due_day", "lat_e6", "lon_e6", "budget",
                                          "split", "items.1.qty", NULL};
static const char *const s_req_assign[] = {
    "basis", "pieces", "pieces.0.factory", "pieces.0.process", "pieces.0.material", "pieces.0.qty",
    "pieces.0.first_day", "pieces.0.last_day", "pieces.0.cost", "result", NULL};
static const char *const s_req_decline[] = {"reason", NULL};
static const char *const s_req_status[] = {"stage", NULL};
static const char *const s_req_reassign[] = {"why", "factory", "basis", NULL};
static const char *const s_none[] = {NULL};

static const struct {
    int kind;
    const char *const *required;
    const char *opt;            /* the optional key, or NULL */
    const char *elem;           /* an array element path, for type tests */
} s_kinds[] = {
    {ENVELOPE_GENESIS, s_req_genesis, NULL, "members.1"},
    {ENVELOPE_MEMBER_ADD, s_req_member, NULL, NULL},
    {ENVELOPE_MEMBER_REMOVE, s_req_remove, "reason", NULL},
    {ENVELOPE_CAPACITY, s_req_capacity, "location", "offers.0.cap.3"},
    {ENVELOPE_ORDER, s_req_order, "title", "items.1"},
    {ENVELOPE_ASSIGN, s_req_assign, "runner_up", "pieces.1"},
    {ENVELOPE_ACCEPT, s_none, "note", NULL},
    {ENVELOPE_DECLINE, s_req_decline, NULL, NULL},
    {ENVELOPE_STATUS, s_req_status, "attachment", NULL},
    {ENVELOPE_CANCEL, s_none, "reason", NULL},
    {ENVELOPE_REASSIGN, s_req_reassign, NULL, NULL},
};
#define S_NKINDS (sizeof s_kinds / sizeof s_kinds[0])

/* ---- Tests ---------------------------------------------------------------- */

static void
test_roundtrip_genesis_member(void **state)
{
    (void) state;
    payload_genesis_t g, back;
    pfix_genesis(&g);
    pfix_buf_t b = {NULL, 0}, b2 = {NULL, 0};
    assert_int_equal(payload_genesis_encode(&g, &b.p, &b.n), 0);
    assert_int_equal(payload_genesis_decode(&back, b.p, b.n), 0);
    assert_string_equal(back.origin, "alliance.example/ledger");
    assert_string_equal(back.operator_key.name, "operator");
    assert_memory_equal(back.hub.pk, g.hub.pk, 32);
    assert_int_equal(back.nmembers, 3);
    assert_int_equal(back.members[2].role, PAYLOAD_ROLE_CUSTOMER);
    assert_string_equal(back.members[1].key.name, "witness.one");
    assert_int_equal(back.customers, PAYLOAD_CUSTOMERS_LISTED);
    assert_int_equal(back.params.batch_window, 14);
    assert_true(back.params.ls_budget == 10000000000ULL);
    assert_memory_equal(&back, &g, sizeof g);
    assert_int_equal(payload_genesis_encode(&back, &b2.p, &b2.n), 0);
    assert_int_equal(b.n, b2.n);
    assert_memory_equal(b.p, b2.p, b.n);
    free(b.p);
    free(b2.p);
    /* Defaults: an unset origin/hub/operator is refused, then accepted. */
    payload_genesis_init(&g);
    assert_int_equal(g.ack_timeout_s, 3600);
    assert_int_equal(g.customers, PAYLOAD_CUSTOMERS_OPEN);
    assert_int_equal(payload_genesis_encode(&g, &b.p, &b.n), COFAB_EMALFORMED);
    snprintf(g.origin, sizeof g.origin, "o");
    pfix_verifier(&g.hub, "hub", 1);
    assert_int_equal(payload_genesis_encode(&g, &b.p, &b.n), COFAB_EMALFORMED);
    g.operator_key = g.hub;
    assert_int_equal(payload_genesis_encode(&g, &b.p, &b.n), 0);
    assert_int_equal(payload_genesis_decode(&back, b.p, b.n), 0);
    assert_int_equal(back.nmembers, 0);
    free(b.p);
    /* member-add */
    payload_member_t m, mb;
    pfix_member(&m, "Plant-7.north_2", 33, PAYLOAD_ROLE_WITNESS);
    assert_int_equal(payload_member_add_encode(&m, &b.p, &b.n), 0);
    assert_int_equal(payload_member_add_decode(&mb, b.p, b.n), 0);
    assert_memory_equal(&mb, &m, sizeof m);
    free(b.p);
    /* member-remove, with and without reason */
    payload_member_remove_t r = {.reason = ""}, rb;
    memset(r.key, 9, 32);
    assert_int_equal(payload_member_remove_encode(&r, &b.p, &b.n), 0);
    assert_int_equal(payload_member_remove_decode(&rb, b.p, b.n), 0);
    assert_memory_equal(&rb, &r, sizeof r);
    free(b.p);
}

static void
test_roundtrip_work(void **state)
{
    (void) state;
    pfix_buf_t b = {NULL, 0};
    payload_capacity_t *c = pfix_capacity(), *cb = malloc(sizeof *cb);
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), 0);
    assert_int_equal(payload_capacity_decode(cb, b.p, b.n), 0);
    assert_int_equal(cb->offers[1].ncap, 366);
    assert_true(cb->offers[1].cap[365] == 100365);
    assert_string_equal(cb->offers[0].materials[2], "pom");
    assert_memory_equal(cb, c, sizeof *c);
    free(b.p);
    free(c);
    free(cb);

    payload_order_t o, ob;
    pfix_order(&o);
    assert_int_equal(payload_order_encode(&o, &b.p, &b.n), 0);
    assert_int_equal(payload_order_decode(&ob, b.p, b.n), 0);
    assert_memory_equal(&ob, &o, sizeof o);
    free(b.p);

    payload_assign_t a, ab;
    pfix_assign(&a);
    a.basis = UINT64_MAX;
    a.pieces[1].cost = -5;
    assert_int_equal(payload_assign_encode(&a, &b.p, &b.n), 0);
    assert_int_equal(payload_assign_decode(&ab, b.p, b.n), 0);
    assert_memory_equal(&ab, &a, sizeof a);
    free(b.p);

    payload_accept_t ac = {.note = ""}, acb;
    assert_int_equal(payload_accept_encode(&ac, &b.p, &b.n), 0);
    assert_int_equal(b.n, 1); /* the empty map */
    assert_int_equal(payload_accept_decode(&acb, b.p, b.n), 0);
    assert_string_equal(acb.note, "");
    free(b.p);

    payload_decline_t d = {.reason = "no capacity"}, db;
    assert_int_equal(payload_decline_encode(&d, &b.p, &b.n), 0);
    assert_int_equal(payload_decline_decode(&db, b.p, b.n), 0);
    assert_string_equal(db.reason, "no capacity");
    free(b.p);

    for (int st = PAYLOAD_STAGE_IN_PRODUCTION; st <= PAYLOAD_STAGE_DELIVERED; st++) {
        payload_status_t s = {.stage = (payload_stage_t) st, .has_attachment = st & 1}, sb;
        memset(s.attachment, st & 1 ? 0x77 : 0, 32);
        assert_int_equal(payload_status_encode(&s, &b.p, &b.n), 0);
        assert_int_equal(payload_status_decode(&sb, b.p, b.n), 0);
        assert_memory_equal(&sb, &s, sizeof s);
        free(b.p);
    }

    payload_cancel_t ca = {.reason = "changed design"}, cab;
    assert_int_equal(payload_cancel_encode(&ca, &b.p, &b.n), 0);
    assert_int_equal(payload_cancel_decode(&cab, b.p, b.n), 0);
    assert_string_equal(cab.reason, "changed design");
    free(b.p);

    for (int w = PAYLOAD_WHY_DECLINED; w <= PAYLOAD_WHY_REMOVED; w++) {
        payload_reassign_t re = {.why = (payload_why_t) w, .basis = 1000u * (unsigned) w}, reb;
        memset(re.factory, w, 32);
        assert_int_equal(payload_reassign_encode(&re, &b.p, &b.n), 0);
        assert_int_equal(payload_reassign_decode(&reb, b.p, b.n), 0);
        assert_memory_equal(&reb, &re, sizeof re);
        free(b.p);
    }
}

static void
test_enums(void **state)
{
    (void) state;
    for (int v = 1; v <= 4; v++) {
        if (v <= 3)
            assert_int_equal(payload_role_parse(payload_role_name(v)), v);
        if (v <= 2)
            assert_int_equal(payload_customers_parse(payload_customers_name(v)), v);
        assert_int_equal(payload_stage_parse(payload_stage_name(v)), v);
        assert_int_equal(payload_why_parse(payload_why_name(v)), v);
    }
    assert_string_equal(payload_stage_name(PAYLOAD_STAGE_IN_PRODUCTION), "in-production");
    assert_string_equal(payload_why_name(PAYLOAD_WHY_UNREACHABLE), "unreachable");
    assert_null(payload_role_name(0));
    assert_null(payload_role_name(4));
    assert_null(payload_customers_name(3));
    assert_null(payload_stage_name(5));
    assert_null(payload_why_name(-1));
    assert_int_equal(payload_stage_parse("Shipped"), COFAB_EMALFORMED);
    assert_int_equal(payload_customers_parse("closed"), COFAB_EMALFORMED);
    assert_int_equal(payload_why_parse(NULL), COFAB_EINVAL);
}

/* Every required key missing, every key of the wrong type, optional keys
 * absent, unknown keys ignored, a repeated key refused. */
static void
test_keys_and_types(void **state)
{
    (void) state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        int kind = s_kinds[k].kind;
        pfix_buf_t base = pfix_sample(kind);
        cbor_item_t *root = pfix_load(base);
        assert_int_equal(payload_check(kind, base.p, base.n), 0);
        for (const char *const *p = s_kinds[k].required; *p; p++) {
            cbor_item_t *orig = pfix_get(root, *p);
            assert_non_null(orig);
            if (pfix_check_mut(kind, *p, NULL) != COFAB_EMALFORMED)
                fail_msg("%s: missing %s accepted", envelope_kind_name(kind), *p);
            if (pfix_check_mut(kind, *p, pfix_wrong(orig)) != COFAB_EMALFORMED)
                fail_msg("%s: wrong type for %s accepted", envelope_kind_name(kind), *p);
        }
        const char *extra[] = {s_kinds[k].opt, s_kinds[k].elem};
        for (int i = 0; i < 2; i++) {
            if (!extra[i])
                continue;
            cbor_item_t *orig = pfix_get(root, extra[i]);
            assert_non_null(orig);
            assert_int_equal(pfix_check_mut(kind, extra[i], pfix_wrong(orig)), COFAB_EMALFORMED);
        }
        if (s_kinds[k].opt)
            assert_int_equal(pfix_check_mut(kind, s_kinds[k].opt, NULL), 0);
        assert_int_equal(pfix_check_mut(kind, "x-future", pfix_str("ignored")), 0);
        assert_int_equal(pfix_check_mut(kind, "x-future", cbor_build_float8(1.5)), 0);
        /* The same key twice: decoders could disagree on which counts. */
        cbor_item_t *dup = cbor_new_definite_map(cbor_map_size(root) + 1);
        for (size_t i = 0; i < cbor_map_size(root); i++)
            assert_true(cbor_map_add(dup, cbor_map_handle(root)[i]));
        if (cbor_map_size(root) > 0) {
            assert_true(cbor_map_add(dup, cbor_map_handle(root)[0]));
            pfix_buf_t d = pfix_ser(dup);
            assert_int_equal(payload_check(kind, d.p, d.n), COFAB_EMALFORMED);
            free(d.p);
        }
        cbor_decref(&dup);
        cbor_decref(&root);
        free(base.p);
    }
    /* Other wrong encodings of numbers. */
    assert_int_equal(pfix_check_mut(ENVELOPE_CAPACITY, "lead_days", cbor_build_float8(5.0)),
                     COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_CAPACITY, "start_day", pfix_int(-1)), COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_ORDER, "split", cbor_build_uint8(1)), COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_ORDER, "budget", cbor_build_uint64(UINT64_MAX)),
                     COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_ASSIGN, "pieces.0.cost", cbor_build_negint64(UINT64_MAX)),
                     COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_ASSIGN, "basis", pfix_int(-1)), COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_REASSIGN, "basis", cbor_build_uint64(UINT64_MAX)), 0);
    uint8_t b31[31] = {0};
    assert_int_equal(pfix_check_mut(ENVELOPE_STATUS, "attachment", cbor_build_bytestring(b31, 31)),
                     COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_REASSIGN, "factory", cbor_build_bytestring(b31, 31)),
                     COFAB_EMALFORMED);
    assert_int_equal(pfix_check_mut(ENVELOPE_ASSIGN, "result", cbor_build_bytestring(b31, 31)),
                     COFAB_EMALFORMED);
    /* Reliability is computed by the hub, never declared. */
    assert_int_equal(pfix_check_mut(ENVELOPE_CAPACITY, "reliability", pfix_int(990)), COFAB_EMALFORMED);
}

/* Values at both sides of each limit. */
static void
test_ranges(void **state)
{
    (void) state;
    static const struct {
        int kind;
        const char *path;
        int64_t ok, bad;
    } t[] = {
        {ENVELOPE_CAPACITY, "valid_until_day", 20000, 19999},
        {ENVELOPE_CAPACITY, "lead_days", 0, -1},
        {ENVELOPE_CAPACITY, "lead_days", 3660, 3661},
        {ENVELOPE_CAPACITY, "lat_e6", 90000000, 90000001},
        {ENVELOPE_CAPACITY, "lat_e6", -90000000, -90000001},
        {ENVELOPE_CAPACITY, "lon_e6", 180000000, 180000001},
        {ENVELOPE_CAPACITY, "lon_e6", -180000000, -180000001},
        {ENVELOPE_CAPACITY, "reserve_pm", -1, -2},
        {ENVELOPE_CAPACITY, "reserve_pm", 1000, 1001},
        {ENVELOPE_CAPACITY, "offers.0.unit_price", 0, -1},
        {ENVELOPE_CAPACITY, "offers.0.unit_price", 1000000, 1000001},
        {ENVELOPE_CAPACITY, "offers.0.setup_cost", 0, -1},
        {ENVELOPE_CAPACITY, "offers.0.setup_cost", 100000000, 100000001},
        {ENVELOPE_CAPACITY, "offers.0.moq", 1, 0},
        {ENVELOPE_CAPACITY, "offers.0.moq", 5000, 5001},      /* max_qty is 5000 */
        {ENVELOPE_CAPACITY, "offers.0.max_qty", 10, 9},       /* moq is 10 */
        {ENVELOPE_CAPACITY, "offers.0.max_qty", 1000000, 1000001},
        {ENVELOPE_CAPACITY, "offers.0.cap.0", 0, -1},
        {ENVELOPE_CAPACITY, "offers.0.cap.29", 10000000, 10000001},
        {ENVELOPE_ORDER, "items.0.qty", 1, 0},
        {ENVELOPE_ORDER, "items.1.qty", 1000000, 1000001},
        {ENVELOPE_ORDER, "due_day", UINT32_MAX, (int64_t) UINT32_MAX + 1},
        {ENVELOPE_ORDER, "lat_e6", -90000000, -90000001},
        {ENVELOPE_ORDER, "lon_e6", 180000000, 180000001},
        {ENVELOPE_ORDER, "budget", 0, -1},
        {ENVELOPE_ORDER, "budget", MATCHER_MAX_BUDGET, MATCHER_MAX_BUDGET + 1},
        {ENVELOPE_ASSIGN, "pieces.0.qty", 1, 0},
        {ENVELOPE_ASSIGN, "pieces.0.qty", 1000000, 1000001},
        {ENVELOPE_ASSIGN, "pieces.0.first_day", 20012, 20013}, /* last_day is 20012 */
        {ENVELOPE_ASSIGN, "pieces.1.last_day", 20011, 20010},  /* first_day is 20011 */
        {ENVELOPE_ASSIGN, "pieces.0.cost", MATCHER_MAX_BUDGET, MATCHER_MAX_BUDGET + 1},
        {ENVELOPE_ASSIGN, "pieces.0.cost", -MATCHER_MAX_BUDGET, -MATCHER_MAX_BUDGET - 1},
        {ENVELOPE_GENESIS, "witness_k", 3, 4},                 /* 3 members */
        {ENVELOPE_GENESIS, "ack_timeout_s", 1, 0},
        {ENVELOPE_GENESIS, "ack_timeout_s", 604800, 604801},
        {ENVELOPE_GENESIS, "params.km_per_day", 1, 0},
        {ENVELOPE_GENESIS, "params.reserve_pm", 1000, 1001},
        {ENVELOPE_GENESIS, "params.reliability_pm", 0, -1},
        {ENVELOPE_GENESIS, "params.ls_budget", 10000000000LL, 10000000001LL},
        {ENVELOPE_GENESIS, "params.unplaced_penalty", 1, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (pfix_check_mut(t[i].kind, t[i].path, pfix_int(t[i].ok)) != 0)
            fail_msg("%s=%lld refused", t[i].path, (long long) t[i].ok);
        if (pfix_check_mut(t[i].kind, t[i].path, pfix_int(t[i].bad)) != COFAB_EMALFORMED)
            fail_msg("%s=%lld accepted", t[i].path, (long long) t[i].bad);
    }
}

/* Text rules: lengths at both sides, charsets, UTF-8, enum names. */
static void
test_texts(void **state)
{
    (void) state;
    static const struct {
        int kind;
        const char *path;
        char c;        /* fill character */
        size_t ok, bad; /* lengths */
    } len[] = {
        {ENVELOPE_DECLINE, "reason", 'a', 256, 257},
        {ENVELOPE_DECLINE, "reason", 'a', 1, 0},
        {ENVELOPE_CANCEL, "reason", 'b', 256, 257},
        {ENVELOPE_MEMBER_REMOVE, "reason", 'c', 256, 257},
        {ENVELOPE_ACCEPT, "note", 'd', 256, 257},
        {ENVELOPE_ORDER, "title", 'e', 128, 129},
        {ENVELOPE_CAPACITY, "location", 'f', 64, 65},
        {ENVELOPE_CAPACITY, "offers.0.process", 'g', 32, 33},
        {ENVELOPE_CAPACITY, "offers.0.process", 'g', 1, 0},
        {ENVELOPE_ORDER, "items.0.material", 'h', 32, 0},
        {ENVELOPE_ASSIGN, "pieces.0.process", 'i', 32, 33},
        {ENVELOPE_GENESIS, "origin", 'j', 255, 256},
        {ENVELOPE_GENESIS, "origin", 'j', 1, 0},
    };
    for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        assert_int_equal(pfix_check_mut(len[i].kind, len[i].path, pfix_str_n(len[i].c, len[i].ok)), 0);
        if (pfix_check_mut(len[i].kind, len[i].path, pfix_str_n(len[i].c, len[i].bad)) !=
            COFAB_EMALFORMED)
            fail_msg("%s of %zu bytes accepted", len[i].path, len[i].bad);
    }
    static const struct {
        int kind;
        const char *path, *text;
        int rc;
    } t[] = {
        {ENVELOPE_DECLINE, "reason", "délai: 3 semaines ✓ 🏭", 0},
        {ENVELOPE_DECLINE, "reason", "bell\x07", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "two\nlines", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "del\x7f", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "c1\xc2\x85", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "bad\xff", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "overlong\xc0\xaf", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "surrogate\xed\xa0\x80", COFAB_EMALFORMED},
        {ENVELOPE_DECLINE, "reason", "cut\xe2\x82", COFAB_EMALFORMED},
        {ENVELOPE_CAPACITY, "offers.0.process", "CNC", COFAB_EMALFORMED},
        {ENVELOPE_CAPACITY, "offers.0.materials.1", "steel_304", COFAB_EMALFORMED},
        {ENVELOPE_CAPACITY, "offers.0.materials.1", "pom", COFAB_EMALFORMED}, /* duplicate */
        {ENVELOPE_CAPACITY, "offers.1.process", "cnc-milling", COFAB_EMALFORMED},
        {ENVELOPE_ORDER, "items.1.process", "cnc-milling", COFAB_EMALFORMED}, /* same pair */
        {ENVELOPE_ORDER, "items.1.material", "steel-304", 0},
        {ENVELOPE_STATUS, "stage", "shipped", 0},
        {ENVELOPE_STATUS, "stage", "Shipped", COFAB_EMALFORMED},
        {ENVELOPE_STATUS, "stage", "lost", COFAB_EMALFORMED},
        {ENVELOPE_REASSIGN, "why", "removed", 0},
        {ENVELOPE_REASSIGN, "why", "bored", COFAB_EMALFORMED},
        {ENVELOPE_MEMBER_ADD, "role", "customer", 0},
        {ENVELOPE_MEMBER_ADD, "role", "admin", COFAB_EMALFORMED},
        {ENVELOPE_MEMBER_ADD, "name", "acme tools", COFAB_EMALFORMED},
        {ENVELOPE_MEMBER_ADD, "name", "acme-tool", COFAB_EKEYMISMATCH},
        {ENVELOPE_MEMBER_ADD, "key", "acme-tools+00000000", COFAB_EMALFORMED},
        {ENVELOPE_GENESIS, "customers", "open", 0},
        {ENVELOPE_GENESIS, "customers", "closed", COFAB_EMALFORMED},
        {ENVELOPE_GENESIS, "members.0.role", "admin", COFAB_EMALFORMED},
        {ENVELOPE_GENESIS, "members.1.name", "acme-tools", COFAB_EKEYMISMATCH},
        {ENVELOPE_GENESIS, "hub", "not a verifier", COFAB_EMALFORMED},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (pfix_check_mut(t[i].kind, t[i].path, pfix_str(t[i].text)) != t[i].rc)
            fail_msg("%s = \"%s\": want %s", t[i].path, t[i].text, cofab_errname(t[i].rc));
    /* A NUL inside a text. */
    assert_int_equal(pfix_check_mut(ENVELOPE_DECLINE, "reason", cbor_build_stringn("a\0b", 3)),
                     COFAB_EMALFORMED);
    /* Verifier text whose key id does not match, and one whose name differs. */
    payload_member_t m;
    char text[NOTE_VERIFIER_MAX];
    pfix_member(&m, "acme-tools", 10, PAYLOAD_ROLE_FACTORY);
    assert_int_equal(note_verifier_format(&m.key, text, sizeof text), 0);
    char *hex = strchr(text, '+') + 1;
    hex[0] = hex[0] == '0' ? '1' : '0';
    assert_int_equal(pfix_check_mut(ENVELOPE_MEMBER_ADD, "key", pfix_str(text)), COFAB_EKEYMISMATCH);
    pfix_member(&m, "other", 10, PAYLOAD_ROLE_FACTORY);
    assert_int_equal(note_verifier_format(&m.key, text, sizeof text), 0);
    assert_int_equal(pfix_check_mut(ENVELOPE_MEMBER_ADD, "key", pfix_str(text)), COFAB_EKEYMISMATCH);
    assert_int_equal(pfix_check_mut(ENVELOPE_GENESIS, "operator", pfix_str(text)), 0);
}

/* Array counts at both sides of each limit, and duplicates. */
static void
test_counts(void **state)
{
    (void) state;
    static const struct {
        int kind;
        const char *array, *tmpl, *vary; /* array path, element to copy, field made distinct */
        size_t ok, bad;
    } t[] = {
        {ENVELOPE_CAPACITY, "offers", "offers.0", "process", 32, 33},
        {ENVELOPE_CAPACITY, "offers", "offers.0", "process", 1, 0},
        {ENVELOPE_CAPACITY, "offers.0.materials", "offers.0.materials.0", "", 16, 17},
        {ENVELOPE_CAPACITY, "offers.0.materials", "offers.0.materials.0", "", 1, 0},
        {ENVELOPE_CAPACITY, "offers.1.cap", "offers.1.cap.0", NULL, 366, 367},
        {ENVELOPE_CAPACITY, "offers.1.cap", "offers.1.cap.0", NULL, 1, 0},
        {ENVELOPE_ORDER, "items", "items.0", "process", 8, 9},
        {ENVELOPE_ORDER, "items", "items.0", "process", 1, 0},
        {ENVELOPE_ORDER, "items", "items.0", NULL, 1, 2},          /* duplicate item */
        {ENVELOPE_ASSIGN, "pieces", "pieces.0", NULL, 64, 65},
        {ENVELOPE_ASSIGN, "pieces", "pieces.0", NULL, 1, 0},
        {ENVELOPE_CAPACITY, "offers", "offers.0", NULL, 1, 2},     /* duplicate process */
        {ENVELOPE_CAPACITY, "offers.0.materials", "offers.0.materials.0", NULL, 1, 2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        pfix_buf_t base = pfix_sample(t[i].kind);
        cbor_item_t *root = pfix_load(base);
        cbor_item_t *tmpl = pfix_get(root, t[i].tmpl);
        assert_non_null(tmpl);
        size_t n[2] = {t[i].ok, t[i].bad};
        for (int j = 0; j < 2; j++) {
            pfix_buf_t m = pfix_mut(base, t[i].array, pfix_array_of(tmpl, n[j], t[i].vary));
            int rc = payload_check(t[i].kind, m.p, m.n);
            if (rc != (j == 0 ? 0 : COFAB_EMALFORMED))
                fail_msg("%s with %zu entries: %s", t[i].array, n[j], cofab_errname(rc));
            free(m.p);
        }
        cbor_decref(&root);
        free(base.p);
    }
    /* Genesis members: 0 (witness_k 0) and 64 fine, 65 and duplicates not. */
    payload_genesis_t *g = malloc(sizeof *g), *gb = malloc(sizeof *gb);
    pfix_buf_t b = {NULL, 0};
    pfix_genesis(g);
    for (uint32_t i = 0; i < PAYLOAD_MAX_MEMBERS; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%u", i);
        pfix_member(&g->members[i], name, (uint8_t) (100 + i), PAYLOAD_ROLE_FACTORY);
    }
    g->nmembers = PAYLOAD_MAX_MEMBERS;
    g->witness_k = PAYLOAD_MAX_MEMBERS;
    assert_int_equal(payload_genesis_encode(g, &b.p, &b.n), 0);
    assert_int_equal(payload_genesis_decode(gb, b.p, b.n), 0);
    assert_int_equal(gb->nmembers, PAYLOAD_MAX_MEMBERS);
    cbor_item_t *root = pfix_load(b);
    pfix_buf_t m = pfix_mut(b, "members", pfix_array_of(pfix_get(root, "members.0"), 65, NULL));
    assert_int_equal(payload_genesis_decode(gb, m.p, m.n), COFAB_EMALFORMED);
    free(m.p);
    m = pfix_mut(b, "members.1", cbor_incref(pfix_get(root, "members.0")));
    assert_int_equal(payload_genesis_decode(gb, m.p, m.n), COFAB_EMALFORMED);
    free(m.p);
    m = pfix_mut(b, "members", cbor_new_definite_array(0));
    assert_int_equal(payload_genesis_decode(gb, m.p, m.n), COFAB_EMALFORMED); /* witness_k 64 */
    free(m.p);
    cbor_decref(&root);
    free(b.p);
    g->nmembers = PAYLOAD_MAX_MEMBERS + 1;
    assert_int_equal(payload_genesis_encode(g, &b.p, &b.n), COFAB_EMALFORMED);
    g->nmembers = 2;
    g->witness_k = 0;
    g->members[1].transport[0] = g->members[0].transport[0];
    memcpy(g->members[1].transport, g->members[0].transport, 32);
    assert_int_equal(payload_genesis_encode(g, &b.p, &b.n), COFAB_EMALFORMED);
    g->nmembers = 0;
    assert_int_equal(payload_genesis_encode(g, &b.p, &b.n), 0);
    assert_int_equal(payload_genesis_decode(gb, b.p, b.n), 0);
    assert_int_equal(gb->nmembers, 0);
    free(b.p);
    free(g);
    free(gb);
}

/* Encoders refuse what decoders would refuse, and oversize results. */
static void
test_encoder_refusals(void **state)
{
    (void) state;
    pfix_buf_t b = {NULL, 0};
    payload_capacity_t *c = pfix_capacity();
    assert_int_equal(payload_capacity_encode(NULL, &b.p, &b.n), COFAB_EINVAL);
    assert_int_equal(payload_capacity_encode(c, NULL, &b.n), COFAB_EINVAL);
    c->offers[0].max_qty = 9;
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), COFAB_EMALFORMED);
    c->offers[0].max_qty = 5000;
    c->offers[0].ncap = PAYLOAD_MAX_DAYS + 1;
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), COFAB_EMALFORMED);
    c->offers[0].ncap = 30;
    c->noffers = PAYLOAD_MAX_OFFERS + 1;
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), COFAB_EMALFORMED);
    memset(c->location, 'x', sizeof c->location); /* no NUL */
    c->noffers = 2;
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), COFAB_EMALFORMED);
    /* 32 offers of 16 long materials and 366 large calendar days: > 64 KiB. */
    c->location[0] = 0;
    for (uint32_t o = 0; o < PAYLOAD_MAX_OFFERS; o++) {
        payload_offer_t *of = &c->offers[o];
        *of = c->offers[1];
        snprintf(of->process, sizeof of->process, "process-%u", o);
        for (uint32_t k = 0; k < PAYLOAD_MAX_MATERIALS; k++)
            snprintf(of->materials[k], sizeof of->materials[k], "material-%023u", k);
        of->nmaterials = PAYLOAD_MAX_MATERIALS;
        for (uint32_t d = 0; d < PAYLOAD_MAX_DAYS; d++)
            of->cap[d] = MATCHER_MAX_CAP;
    }
    c->noffers = PAYLOAD_MAX_OFFERS;
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), COFAB_ETOOBIG);
    /* The same with small numbers fits, and decodes. */
    for (uint32_t o = 0; o < PAYLOAD_MAX_OFFERS; o++)
        for (uint32_t d = 0; d < PAYLOAD_MAX_DAYS; d++)
            c->offers[o].cap[d] = d % 20;
    assert_int_equal(payload_capacity_encode(c, &b.p, &b.n), 0);
    assert_true(b.n <= ENVELOPE_MAX_PAYLOAD);
    assert_int_equal(payload_check(ENVELOPE_CAPACITY, b.p, b.n), 0);
    free(b.p);
    free(c);

    payload_order_t o;
    pfix_order(&o);
    o.split = 2;
    assert_int_equal(payload_order_encode(&o, &b.p, &b.n), COFAB_EMALFORMED);
    payload_status_t s = {.stage = 0};
    assert_int_equal(payload_status_encode(&s, &b.p, &b.n), COFAB_EMALFORMED);
    payload_reassign_t r = {.why = 5};
    assert_int_equal(payload_reassign_encode(&r, &b.p, &b.n), COFAB_EMALFORMED);
    payload_decline_t d = {.reason = ""};
    assert_int_equal(payload_decline_encode(&d, &b.p, &b.n), COFAB_EMALFORMED);
    payload_member_t m;
    pfix_member(&m, "acme", 3, PAYLOAD_ROLE_FACTORY);
    m.key.keyid[0] ^= 1;
    assert_int_equal(payload_member_add_encode(&m, &b.p, &b.n), COFAB_EKEYMISMATCH);
    m.key.keyid[0] ^= 1;
    m.role = 0;
    assert_int_equal(payload_member_add_encode(&m, &b.p, &b.n), COFAB_EMALFORMED);
    payload_assign_t a;
    pfix_assign(&a);
    a.npieces = 0;
    assert_int_equal(payload_assign_encode(&a, &b.p, &b.n), COFAB_EMALFORMED);
    assert_int_equal(payload_order_decode(NULL, b.p, 0), COFAB_EINVAL);
}

/* Truncation, trailing bytes, size cap, hostile headers, payload_check. */
static void
test_framing_and_hostile(void **state)
{
    (void) state;
    for (size_t k = 0; k < S_NKINDS; k++) {
        int kind = s_kinds[k].kind;
        pfix_buf_t b = pfix_sample(kind);
        for (size_t n = 0; n < b.n; n++)
            if (payload_check(kind, b.p, n) != COFAB_ETRUNCATED)
                fail_msg("%s: prefix of %zu bytes not ETRUNCATED", envelope_kind_name(kind), n);
        uint8_t *more = malloc(b.n + 1);
        memcpy(more, b.p, b.n);
        more[b.n] = 0x00;
        assert_int_equal(payload_check(kind, more, b.n + 1), COFAB_ETRAILING);
        free(more);
        free(b.p);
    }
    /* Not a map at the top. */
    const uint8_t arr[] = {0x81, 0x01};
    assert_int_equal(payload_check(ENVELOPE_ACCEPT, arr, sizeof arr), COFAB_EMALFORMED);
    /* Declared sizes no payload could hold: refused by the pre-scan as
     * malformed (cbor_load would report out of memory instead); a size
     * this input cannot hold: truncated. */
    const uint8_t huge_arr[] = {0xa1, 0x61, 'x', 0x9b, 0xff, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff};
    const uint8_t huge_map[] = {0xbb, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t big_str[] = {0xa1, 0x61, 'x', 0x7b, 0x7f, 0xff, 0xff, 0xff,
                               0xff, 0xff, 0xff, 0xff};
    const uint8_t over_budget[] = {0xa1, 0x61, 'x', 0x98, 0x20, 1, 2, 3, 4, 5, 6, 7, 8};
    for (int kind = ENVELOPE_GENESIS; kind < ENVELOPE_NOTE; kind++) {
        assert_int_equal(payload_check(kind, huge_arr, sizeof huge_arr), COFAB_EMALFORMED);
        assert_int_equal(payload_check(kind, huge_map, sizeof huge_map), COFAB_EMALFORMED);
        assert_int_equal(payload_check(kind, over_budget, sizeof over_budget), COFAB_ETRUNCATED);
        assert_int_not_equal(payload_check(kind, big_str, sizeof big_str), 0);
    }
    /* Nesting deeper than the scanner allows; tags; indefinite lengths. */
    uint8_t deep[20];
    deep[0] = 0xa1;
    deep[1] = 0x61;
    deep[2] = 'x';
    memset(deep + 3, 0x81, sizeof deep - 4);
    deep[sizeof deep - 1] = 0x01;
    assert_int_equal(payload_check(ENVELOPE_CANCEL, deep, sizeof deep), COFAB_EMALFORMED);
    const uint8_t tag[] = {0xa1, 0x61, 'x', 0xc1, 0x01};
    const uint8_t indef[] = {0xbf, 0x61, 'x', 0x01, 0xff};
    assert_int_equal(payload_check(ENVELOPE_CANCEL, tag, sizeof tag), COFAB_EMALFORMED);
    assert_int_equal(payload_check(ENVELOPE_CANCEL, indef, sizeof indef), COFAB_EMALFORMED);
    /* The size cap comes before any parsing. */
    uint8_t *big = calloc(1, ENVELOPE_MAX_PAYLOAD + 1);
    assert_int_equal(payload_check(ENVELOPE_ORDER, big, ENVELOPE_MAX_PAYLOAD + 1), COFAB_ETOOBIG);
    assert_int_equal(payload_check(ENVELOPE_NOTE, big, ENVELOPE_MAX_PAYLOAD + 1), COFAB_ETOOBIG);
    assert_int_equal(payload_check(ENVELOPE_NOTE, big, ENVELOPE_MAX_PAYLOAD), 0);
    free(big);
    assert_int_equal(payload_check(ENVELOPE_NOTE, (const uint8_t *) "\xff\x00", 2), 0);
    assert_int_equal(payload_check(ENVELOPE_NOTE, NULL, 0), 0);
    assert_int_equal(payload_check(0, arr, sizeof arr), COFAB_EKIND);
    assert_int_equal(payload_check(ENVELOPE_KIND_MAX + 1, arr, sizeof arr), COFAB_EKIND);
    assert_int_equal(payload_check(ENVELOPE_ORDER, NULL, 3), COFAB_EINVAL);
    /* A payload of one kind is checked by the rules of the kind it claims. */
    pfix_buf_t b = pfix_sample(ENVELOPE_ORDER);
    assert_int_equal(payload_check(ENVELOPE_CAPACITY, b.p, b.n), COFAB_EMALFORMED);
    assert_int_equal(payload_check(ENVELOPE_DECLINE, b.p, b.n), COFAB_EMALFORMED);
    assert_int_equal(payload_check(ENVELOPE_ORDER, b.p, b.n), 0);
    free(b.p);
}

/* A boolean field holding a float (here "split" as a half-float) is
 * malformed; libcbor would abort on the question "is it a bool?". */
static void
test_bool_field_as_float(void **state)
{
    (void) state;
    payload_order_t o;
    uint8_t *p = NULL;
    size_t n = 0;
    pfix_order(&o);
    o.split = 1;
    assert_int_equal(payload_order_encode(&o, &p, &n), 0);
    /* "split" is encoded as the text key 0x65 "split" then 0xf5 (true). */
    uint8_t *at = NULL;
    for (size_t i = 0; i + 6 < n; i++)
        if (memcmp(p + i, "\x65split\xf5", 7) == 0)
            at = p + i + 6;
    assert_non_null(at);
    uint8_t *q = malloc(n + 2);
    assert_non_null(q);
    size_t off = (size_t) (at - p);
    memcpy(q, p, off);
    q[off] = 0xf9; /* half-float 1.0 */
    q[off + 1] = 0x3c;
    q[off + 2] = 0x00;
    memcpy(q + off + 3, at + 1, n - off - 1);
    payload_order_t back;
    assert_int_equal(payload_order_decode(&back, q, n + 2), COFAB_EMALFORMED);
    assert_int_equal(payload_check(ENVELOPE_ORDER, q, n + 2), COFAB_EMALFORMED);
    free(q);
    free(p);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_genesis_member),
        cmocka_unit_test(test_roundtrip_work),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_bool_field_as_float),
        cmocka_unit_test(test_keys_and_types),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_texts),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_encoder_refusals),
        cmocka_unit_test(test_framing_and_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
