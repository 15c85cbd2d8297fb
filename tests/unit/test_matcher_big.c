/* test_matcher_big.c — the matcher on an instance big enough for its
 * two-thread paths (candidate building from 2048 orders, the Lagrangian's
 * split evaluation from 50 000 candidates) and for the scaled budgets,
 * and on a mid-size one (the two-factory re-packing of mlns.c):
 * byte-identical results under shuffling, every piece within capability,
 * MOQ/max and the nested due-day capacity, and no order left unplaced for
 * capacity while some capable factory still has room for it on its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/matcher.h"

#define BNF 140
#define BNO 2600
#define BH 20

static const char *const s_procs[] = {"cnc-milling", "sewing"};
static const char *const s_mats[] = {"steel", "cotton"};

/* A generated instance on the heap. */
typedef struct {
    matcher_factory_t fac[BNF];
    matcher_offer_t off[BNF][2];
    int64_t cap[BNF][2][BH];
    matcher_order_t ord[BNO];
    matcher_item_t items[BNO][2];
    matcher_problem_t pb;
} big_t;

static uint64_t
rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int64_t
rng_in(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t) (rng_next(s) % (uint64_t) (hi - lo + 1));
}

/* Capacity is short overall, so cheap factories fill up and the pruned
 * candidate lists run out of room. */
static big_t *
big_new(uint64_t seed)
{
    big_t *x = calloc(1, sizeof *x);
    assert_non_null(x);
    uint64_t s = seed;
    for (uint32_t f = 0; f < BNF; f++) {
        matcher_factory_t *fa = &x->fac[f];
        fa->id[0] = (uint8_t) (f >> 8);
        fa->id[1] = (uint8_t) f;
        fa->id[2] = 0xfa;
        fa->lat_e6 = (int32_t) rng_in(&s, 40000000, 55000000);
        fa->lon_e6 = (int32_t) rng_in(&s, -5000000, 20000000);
        fa->lead_days = (int32_t) rng_in(&s, 0, 3);
        fa->on_time_pm = (int32_t) rng_in(&s, 800, 1000);
        fa->accept_pm = (int32_t) rng_in(&s, 800, 1000);
        fa->completed = (uint32_t) rng_in(&s, 0, 30);
        fa->reserve_pm = -1;
        fa->offers = x->off[f];
        fa->noffers = (uint32_t) rng_in(&s, 1, 2);
        uint32_t p0 = (uint32_t) rng_in(&s, 0, 1);
        for (uint32_t k = 0; k < fa->noffers; k++) {
            matcher_offer_t *o = &x->off[f][k];
            snprintf(o->process, sizeof o->process, "%s", s_procs[(p0 + k) % 2]);
            snprintf(o->materials[0], sizeof o->materials[0], "%s", s_mats[0]);
            snprintf(o->materials[1], sizeof o->materials[1], "%s", s_mats[1]);
            o->nmaterials = 2;
            o->unit_price = rng_in(&s, 100, 3000);
            o->setup_cost = rng_in(&s, 0, 5000);
            o->moq = rng_in(&s, 1, 5);
            o->max_qty = rng_in(&s, 60, 200);
            for (uint32_t d = 0; d < BH; d++)
                x->cap[f][k][d] = d % 7 >= 5 ? 0 : rng_in(&s, 5, 25);
            o->cap = x->cap[f][k];
        }
    }
    for (uint32_t i = 0; i < BNO; i++) {
        matcher_order_t *o = &x->ord[i];
        o->id[0] = (uint8_t) (i >> 8);
        o->id[1] = (uint8_t) i;
        o->id[2] = 0x0d;
        o->items = x->items[i];
        uint32_t p = (uint32_t) rng_in(&s, 0, 1), m = (uint32_t) rng_in(&s, 0, 1);
        snprintf(x->items[i][0].process, sizeof x->items[i][0].process, "%s", s_procs[p]);
        snprintf(x->items[i][0].material, sizeof x->items[i][0].material, "%s", s_mats[m]);
        x->items[i][0].qty = rng_in(&s, 5, 60);
        o->nitems = 1;
        if (rng_in(&s, 0, 5) == 0) {
            snprintf(x->items[i][1].process, sizeof x->items[i][1].process, "%s", s_procs[1 - p]);
            snprintf(x->items[i][1].material, sizeof x->items[i][1].material, "%s", s_mats[m]);
            x->items[i][1].qty = rng_in(&s, 5, 60);
            o->nitems = 2;
        }
        o->due_day = (int32_t) rng_in(&s, 4, BH);
        o->lat_e6 = (int32_t) rng_in(&s, 40000000, 55000000);
        o->lon_e6 = (int32_t) rng_in(&s, -5000000, 20000000);
        o->split = rng_in(&s, 0, 9) == 0;
    }
    x->pb = (matcher_problem_t){BH, x->fac, BNF, x->ord, BNO};
    return x;
}

static void
big_shuffle(big_t *x, uint64_t seed)
{
    uint64_t s = seed;
    for (uint32_t i = x->pb.nfactories; i > 1; i--) {
        uint32_t j = (uint32_t) rng_in(&s, 0, i - 1);
        matcher_factory_t t = x->fac[i - 1];
        x->fac[i - 1] = x->fac[j];
        x->fac[j] = t;
    }
    for (uint32_t i = x->pb.norders; i > 1; i--) {
        uint32_t j = (uint32_t) rng_in(&s, 0, i - 1);
        matcher_order_t t = x->ord[i - 1];
        x->ord[i - 1] = x->ord[j];
        x->ord[j] = t;
    }
}

static const matcher_offer_t *
offer_for(const matcher_factory_t *fa, const char *proc, const char *mat)
{
    for (uint32_t k = 0; k < fa->noffers; k++) {
        if (strcmp(fa->offers[k].process, proc))
            continue;
        for (uint32_t m = 0; m < fa->offers[k].nmaterials; m++)
            if (!strcmp(fa->offers[k].materials[m], mat))
                return &fa->offers[k];
    }
    return NULL;
}

/* Usable units of offer of at factory fa on day d (10 % reserve). */
static int64_t
usable(const matcher_offer_t *of, uint32_t d)
{
    return of->cap[d] * 900 / 1000;
}

/* Load per (factory, offer, due day) of the result, from its pieces. */
typedef struct {
    int64_t due[BNF][2][BH + 1];
} load_t;

/* Independent checks; returns NULL or what is wrong. */
static const char *
check_big(const big_t *x, const matcher_result_t *r, load_t *ld)
{
    memset(ld, 0, sizeof *ld);
    for (uint32_t i = 0; i < matcher_result_norders(r); i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        const matcher_order_t *od = NULL;
        for (uint32_t k = 0; k < BNO && !od; k++)
            if (!memcmp(x->ord[k].id, o->id, MATCHER_ID_LEN))
                od = &x->ord[k];
        if (!od)
            return "unknown order";
        if (o->status != MATCHER_PLACED) {
            if (o->npieces)
                return "unplaced order with pieces";
            continue;
        }
        int64_t got[2] = {0, 0};
        for (uint32_t p = 0; p < o->npieces; p++) {
            const matcher_piece_t *pc = &o->pieces[p];
            uint32_t f = 0;
            while (f < BNF && memcmp(x->fac[f].id, pc->factory, MATCHER_ID_LEN))
                f++;
            if (f == BNF)
                return "unknown factory";
            const matcher_offer_t *of = offer_for(&x->fac[f], pc->process, pc->material);
            if (!of)
                return "factory not capable";
            if (pc->qty < of->moq || pc->qty > of->max_qty)
                return "piece outside MOQ..max";
            uint32_t it = 0;
            while (it < od->nitems && (strcmp(od->items[it].process, pc->process)
                                       || strcmp(od->items[it].material, pc->material)))
                it++;
            if (it == od->nitems)
                return "piece of no item";
            got[it] += pc->qty;
            ld->due[f][of - x->fac[f].offers][od->due_day < BH ? od->due_day : BH] += pc->qty;
        }
        for (uint32_t it = 0; it < od->nitems; it++)
            if (got[it] != od->items[it].qty)
                return "item not fully placed";
    }
    /* nested capacity: units due by D fit the usable days before D */
    for (uint32_t f = 0; f < BNF; f++)
        for (uint32_t k = 0; k < x->fac[f].noffers; k++) {
            int64_t cum = 0, room = 0;
            for (uint32_t D = 1; D <= BH; D++) {
                room += usable(&x->fac[f].offers[k], D - 1);
                cum += ld->due[f][k][D];
                if (cum > room)
                    return "capacity before a due day exceeded";
            }
        }
    return NULL;
}

/* Free room of offer (f, k) for a job due on day D: min over D' >= D of
 * usable before D' minus the load due by D'. */
static int64_t
room_for(const big_t *x, const load_t *ld, uint32_t f, uint32_t k, uint32_t D)
{
    int64_t cum = 0, room = 0, m = INT64_MAX;
    for (uint32_t t = 1; t <= BH; t++) {
        room += usable(&x->fac[f].offers[k], t - 1);
        cum += ld->due[f][k][t];
        if (t >= D && room - cum < m)
            m = room - cum;
    }
    return m;
}

static matcher_result_t *
solve_with(const big_t *x, uint64_t ls_budget)
{
    matcher_params_t p;
    matcher_params_default(&p);
    p.unplaced_penalty = 100000000;
    if (ls_budget)
        p.ls_budget = ls_budget;
    matcher_result_t *r = NULL;
    assert_int_equal(matcher_solve(&x->pb, &p, &r), 0);
    return r;
}

static matcher_result_t *
solve(const big_t *x)
{
    return solve_with(x, 0);
}

/* Checks r on x: feasible, and no whole order unplaced while a capable
 * factory has room for it alone. Returns the unplaced count. */
static uint32_t
check_result(const big_t *x, const matcher_result_t *r)
{
    load_t *ld = malloc(sizeof *ld);
    assert_non_null(ld);
    const char *why = check_big(x, r, ld);
    if (why)
        fail_msg("%s", why);
    /* an unplaced whole order: no capable factory has room for it alone */
    uint32_t unplaced = 0;
    for (uint32_t i = 0; i < matcher_result_norders(r); i++) {
        const matcher_order_result_t *o = matcher_result_order(r, i);
        if (o->status == MATCHER_PLACED)
            continue;
        unplaced++;
        const matcher_order_t *od = NULL;
        for (uint32_t k = 0; k < BNO && !od; k++)
            if (!memcmp(x->ord[k].id, o->id, MATCHER_ID_LEN))
                od = &x->ord[k];
        if (od->split)
            continue;
        uint32_t D = (uint32_t) (od->due_day < BH ? od->due_day : BH);
        for (uint32_t f = 0; f < x->pb.nfactories; f++) {
            int fits = 1;
            for (uint32_t it = 0; it < od->nitems && fits; it++) {
                const matcher_offer_t *of =
                    offer_for(&x->fac[f], od->items[it].process, od->items[it].material);
                fits = of && od->items[it].qty >= of->moq && od->items[it].qty <= of->max_qty
                       && room_for(x, ld, f, (uint32_t) (of - x->fac[f].offers), D)
                              >= od->items[it].qty;
            }
            assert_false(fits);
        }
    }
    free(ld);
    return unplaced;
}

static void
test_big_feasible_and_complete(void **state)
{
    (void) state;
    big_t *x = big_new(7);
    matcher_result_t *r = solve(x);
    uint32_t unplaced = check_result(x, r);
    assert_true(matcher_result_nplaced(r) > BNO / 2);
    print_message("big: %u orders, %u placed, %u unplaced, gap %lld ppm\n", BNO,
                  matcher_result_nplaced(r), unplaced, (long long) matcher_result_gap_ppm(r));
    assert_true(matcher_result_lower_bound(r) <= matcher_result_objective(r));
    matcher_result_destroy(&r);
    free(x);
}

/* Local-search evaluations the result reports (its JSON stats). */
static uint64_t
ls_evals(const matcher_result_t *r)
{
    char *j = NULL;
    size_t n = 0;
    assert_int_equal(matcher_result_json(r, &j, &n), 0);
    const char *k = strstr(j, "\"ls_evals\":");
    assert_non_null(k);
    uint64_t v = strtoull(k + strlen("\"ls_evals\":"), NULL, 10);
    free(j);
    return v;
}

/* Mid-size (between 64 and MCORE_FULL_JOBS jobs, capacity short): the
 * re-packing runs after the local search has spent its budget; the result
 * stays feasible, complete where room is left, and byte-identical under
 * shuffling. */
static void
test_mid_repacking(void **state)
{
    (void) state;
    const uint64_t budget = 100000;
    big_t *x = big_new(13);
    x->pb.nfactories = 24;
    x->pb.norders = 500;
    matcher_result_t *r = solve_with(x, budget);
    uint32_t unplaced = check_result(x, r);
    uint64_t ev = ls_evals(r);
    print_message("mid: 500 orders, %u placed, %u unplaced, %llu evaluations\n",
                  matcher_result_nplaced(r), unplaced, (unsigned long long) ev);
    assert_true(ev > budget + budget / 10);       /* the re-packing ran on top */
    assert_true(matcher_result_nplaced(r) > 250);
    char *j1 = NULL, *j2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(matcher_result_json(r, &j1, &n1), 0);
    matcher_result_destroy(&r);
    big_shuffle(x, 5);
    r = solve_with(x, budget);
    assert_int_equal(matcher_result_json(r, &j2, &n2), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(j1, j2, n1);
    free(j1);
    free(j2);
    matcher_result_destroy(&r);
    free(x);
}

static void
test_big_determinism(void **state)
{
    (void) state;
    big_t *x = big_new(11);
    matcher_result_t *r = solve(x);
    char *j1 = NULL, *j2 = NULL;
    size_t n1 = 0, n2 = 0;
    assert_int_equal(matcher_result_json(r, &j1, &n1), 0);
    matcher_result_destroy(&r);
    for (uint64_t seed = 1; seed <= 2; seed++) {
        big_shuffle(x, seed);
        r = solve(x);
        assert_int_equal(matcher_result_json(r, &j2, &n2), 0);
        assert_int_equal(n1, n2);
        assert_memory_equal(j1, j2, n1);
        free(j2);
        matcher_result_destroy(&r);
    }
    free(j1);
    free(x);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_feasible_and_complete),
        cmocka_unit_test(test_big_determinism),
        cmocka_unit_test(test_mid_repacking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
