/* mcand.c — candidate listing of one matcher job: every capable,
 * non-excluded factory checked against the hard rules and priced, the K
 * cheapest kept (found online, with a lower-bound skip) plus spread picks;
 * and the unpruned listings the second chance and the split pass use.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

static int
s_cand_cmp(const void *a, const void *b)
{
    const mbuild_cand_t *x = a, *y = b;
    if (x->lbcost != y->lbcost)
        return x->lbcost < y->lbcost ? -1 : 1;
    return x->fac < y->fac ? -1 : x->fac > y->fac;
}

static int
s_excluded(const matcher_order_t *od, const uint8_t *id)
{
    for (uint32_t e = 0; e < od->nexclude; e++)
        if (!memcmp(od->exclude[e], id, MATCHER_ID_LEN))
            return 1;
    return 0;
}

/* (unit price, tuple index) for sorting one capability range. */
typedef struct {
    int64_t price;
    uint32_t a;
} s_pa_t;

static int
s_pa_cmp(const void *x, const void *y)
{
    const s_pa_t *p = x, *q = y;
    if (p->price != q->price)
        return p->price < q->price ? -1 : 1;
    return p->a < q->a ? -1 : p->a > q->a;
}

/* pord: each (process, material) range of the sorted tuples reordered by
 * unit price (ties: tuple order); prank: position of a tuple in it. */
int
mcand_price_order(const mbuild_t *b, mbuild_scratch_t *sc)
{
    sc->pord = malloc((sc->ncaps + 1) * sizeof(uint32_t));
    sc->prank = malloc((sc->ncaps + 1) * sizeof(uint32_t));
    sc->tup = malloc((sc->ncaps + 1) * sizeof *sc->tup);
    sc->ptup = malloc((sc->ncaps + 1) * sizeof *sc->ptup);
    s_pa_t *v = malloc((sc->ncaps + 1) * sizeof *v);
    if (!sc->pord || !sc->prank || !sc->tup || !sc->ptup || !v) {
        free(v);
        return COFAB_ENOMEM;
    }
    for (uint32_t i = 0; i < sc->ncaps;) {
        uint32_t e = i + 1;
        while (e < sc->ncaps && !strcmp(sc->caps[e].proc, sc->caps[i].proc)
               && !strcmp(sc->caps[e].mat, sc->caps[i].mat))
            e++;
        for (uint32_t a = i; a < e; a++)
            v[a] = (s_pa_t){sc->rprice[sc->caps[a].res], a};
        qsort(v + i, e - i, sizeof *v, s_pa_cmp);
        for (uint32_t a = i; a < e; a++) {
            uint32_t r = sc->caps[a].res;
            sc->tup[a] = (mbuild_tup_t){r, b->res_fac[r], sc->caps[a].slot, sc->rprice[r]};
        }
        for (uint32_t a = i; a < e; a++) {
            sc->pord[a] = v[a].a;
            sc->prank[v[a].a] = a;
            sc->ptup[a] = sc->tup[v[a].a];
        }
        i = e;
    }
    free(v);
    return 0;
}

int
mcand_lane_init(mcand_lane_t *ln, uint32_t nf, uint32_t K)
{
    ln->tmp = malloc(((size_t) nf + 1) * sizeof *ln->tmp);
    ln->mark = malloc((size_t) nf + 1);
    ln->top = malloc(((size_t) K + 1) * sizeof(uint32_t));
    ln->ntop = 0;
    ln->skipped = 0;
    return ln->tmp && ln->mark && ln->top ? 0 : COFAB_ENOMEM;
}

void
mcand_lane_free(mcand_lane_t *ln)
{
    free(ln->tmp);
    free(ln->mark);
    free(ln->top);
    ln->tmp = NULL;
    ln->mark = NULL;
    ln->top = NULL;
}

/* Lists the candidates of job j (items k0 .. k0+nk-1 of canonical order o)
 * into ln->tmp; returns their count, or sets *reason when none survive.
 * all: no pruning. room (fit mode, whole jobs only): keep just the
 * cheapest candidate by full cost that fits this free room. */
uint32_t
mcand_list(mbuild_t *b, mcand_lane_t *ln, uint32_t o, uint32_t k0, uint32_t nk, int split,
            int all, const int64_t *free_room, matcher_status_t *reason)
{
    const matcher_problem_t *pb = b->pb;
    const mbuild_scratch_t *sc = b->scratch;
    const matcher_order_t *od = &pb->orders[b->ord[o]];
    uint32_t lo[MATCHER_MAX_ITEMS], hi[MATCHER_MAX_ITEMS];
    const matcher_offer_t *offs[MATCHER_MAX_ITEMS];
    int64_t qty[MATCHER_MAX_ITEMS];
    for (uint32_t i = 0; i < nk; i++) {
        uint32_t gi = b->item_off[o] + k0 + i;
        lo[i] = sc->item_lo[gi];
        hi[i] = sc->item_hi[gi];
        qty[i] = mbuild_item(b, o, k0 + i)->qty;
    }
    uint32_t thr = b->ord_thr[o];
    int64_t ov[3], mem[MATCHER_MAX_ITEMS], qsum = 0;
    matcher_unit_vector(od->lat_e6, od->lon_e6, ov);
    for (uint32_t i = 0; i < nk; i++) {
        mem[i] = sc->members[b->item_off[o] + k0 + i];
        qsum += qty[i];
    }
    uint32_t n = 0, n_cap = 0, n_moq = 0, n_max = 0, n_budget = 0, ntop = 0;
    uint32_t K = b->p.max_candidates, cnt = hi[0] - lo[0], half = K / 2 ? K / 2 : 1;
    uint32_t step = cnt / half ? cnt / half : 1;
    int skipped = 0;
    uint32_t pos[MATCHER_MAX_ITEMS];
    for (uint32_t i = 0; i < nk; i++)
        pos[i] = lo[i];
    /* A single-item job without a budget is scanned in unit-price order:
     * the goods part of the lower bound only grows, so once it cannot beat
     * the K-th best the rest is skipped at once; the spread picks (fixed
     * positions in factory order) not reached yet are visited after. */
    /* Spread picks only while they are a fair share of the capable
     * factories: among hundreds they are mostly far away and only take
     * the local search's time (the repair step gives a job that needs it
     * a nearby factory with room). */
    int spreads = !all && cnt > K && cnt <= 4 * K;
    int ordered = !all && !free_room && nk == 1 && !(od->budget > 0 && !split) && cnt > K;
    ordered |= free_room && nk == 1;    /* fit mode: the same argument, for one winner */
    uint32_t x = lo[0], sp = step / 2;
    int stopped = 0, fit_done = 0;
    for (;;) {
        uint32_t a;
        if (fit_done)
            break;
        if (!stopped) {
            if (x >= hi[0])
                break;
            a = ordered ? sc->pord[x] : x;
            x++;
        } else {
            if (!spreads)
                break;
            while (lo[0] + sp < hi[0] && sc->prank[lo[0] + sp] < x)
                sp += step;                 /* already visited */
            if (lo[0] + sp >= hi[0])
                break;
            a = lo[0] + sp;
            sp += step;
        }
        const mbuild_tup_t *tp = ordered && !stopped ? &sc->ptup[x - 1] : &sc->tup[a];
        uint32_t f = tp->fac;
        int spread = spreads && (a - lo[0]) % step == step / 2;
        if (ordered && !free_room && !spread && ntop == K) {
            /* early bound test, before any other lookup: goods only grow
             * in this order, so past T nothing later can be kept */
            int64_t goods0 = tp->price * qty[0];
            int64_t lb = goods0 - goods0 * b->p.reliability_pm / 1000 - 1 - (split ? 4 : 0);
            int64_t T = ln->tmp[ln->top[K - 1]].lbcost;
            if (lb > T) {
                skipped = 1;
                stopped = 1;
                continue;
            }
            int64_t d = matcher_vec_chord_m(ov, b->fac_vec[f]);
            lb += d * b->p.ship_per_km / 1000 + d * qsum * b->p.ship_per_unit_km_milli / 1000000;
            if (lb > T) {
                skipped = 1;
                continue;
            }
        }
        mbuild_cand_t c;
        c.fac = f;
        c.res[0] = tp->res;
        c.slot[0] = tp->slot;
        int ok = 1;
        for (uint32_t i = 1; i < nk && ok; i++) {  /* merge-intersect by factory */
            while (pos[i] < hi[i] && b->res_fac[sc->caps[pos[i]].res] < f)
                pos[i]++;
            if (pos[i] >= hi[i] || b->res_fac[sc->caps[pos[i]].res] != f)
                ok = 0;
            else {
                c.res[i] = sc->caps[pos[i]].res;
                c.slot[i] = sc->caps[pos[i]].slot;
            }
        }
        if (!ok || (od->nexclude && s_excluded(od, pb->factories[b->fac[f]].id)))
            continue;
        n_cap++;
        int moq_ok = 1, max_ok = 1, cap_whole = 1, cap_piece = 1;
        int64_t setups = 0, share = 0, goods = 0;
        for (uint32_t i = 0; i < nk; i++) {
            uint32_t r = c.res[i];
            int64_t room = free_room ? free_room[(size_t) r * b->core.nthr + thr]
                                     : sc->capT[(size_t) thr * b->nres + r];
            moq_ok &= qty[i] >= sc->rmoq[r];
            max_ok &= qty[i] <= sc->rmax[r];
            int64_t need = 0;           /* items on the same offer share its room */
            for (uint32_t i2 = 0; i2 < nk; i2++)
                need += c.res[i2] == r ? qty[i2] : 0;
            cap_whole &= room >= need;
            cap_piece &= room >= sc->rmoq[r];
            setups += sc->rsetup[r];
            goods += sc->rprice[r] * qty[i];
        }
        if (!moq_ok)
            continue;
        n_moq++;
        if (!max_ok && !split)
            continue;
        n_max++;
        int budgeted = !split && od->budget > 0;
        if (!budgeted) {
            n_budget++;
            if (!(split ? cap_piece : cap_whole))
                continue;
        }
        if (free_room) {
            /* fit mode: whole jobs that fit now, cheapest full cost wins
             * (ties: the earlier factory, the scan order) */
            if (!max_ok || !cap_whole)
                continue;
            if (n) {
                int64_t lb = goods - goods * b->p.reliability_pm / 1000 - 1;
                if (ordered && lb > ln->tmp[0].full) {
                    fit_done = 1;           /* in price order: all later cost more */
                    continue;
                }
                lb += setups;
                if (lb > ln->tmp[0].full)
                    continue;
                int64_t d = matcher_vec_chord_m(ov, b->fac_vec[f]);
                lb += d * b->p.ship_per_km / 1000 + d * qsum * b->p.ship_per_unit_km_milli / 1000000;
                if (lb > ln->tmp[0].full)
                    continue;
            }
            for (uint32_t i = 0; i < nk; i++) {
                offs[i] = b->res_offer[c.res[i]];
                share += sc->rsetup[c.res[i]] / mem[i];
            }
            c.dist = matcher_vec_distance_m(ov, b->fac_vec[f]);
            c.cost = mbuild_var_cost(b, o, f, c.dist, offs, qty, nk);
            c.full = c.cost + setups;
            if ((budgeted && c.full > od->budget)
                || (n && (c.full > ln->tmp[0].full
                          || (c.full == ln->tmp[0].full && c.fac > ln->tmp[0].fac))))
                continue;               /* ties: the earlier factory */
            c.primal_ok = 1;
            c.lbcost = c.cost + share;
            if (split)                  /* as for listed pieces: rounding allowance */
                c.lbcost = c.lbcost > 4 ? c.lbcost - 4 : 0;
            c.spread = 0;
            ln->tmp[0] = c;
            n = 1;
            continue;
        }
        if (!all && !budgeted && !spread && ntop == K && !ordered) {
            /* Skip without the exact distance when even a lower bound
             * (chord <= arc, credit <= reliability share, no lateness)
             * cannot beat the K-th best so far: the kept set is the same. */
            int64_t T = ln->tmp[ln->top[K - 1]].lbcost;
            int64_t lb = goods - goods * b->p.reliability_pm / 1000 - 1 - (split ? 4 : 0);
            if (lb > T) {
                skipped = 1;
                stopped |= ordered;         /* every later one costs more */
                continue;
            }
            int64_t d = matcher_vec_chord_m(ov, b->fac_vec[f]);
            lb += d * b->p.ship_per_km / 1000 + d * qsum * b->p.ship_per_unit_km_milli / 1000000;
            if (lb > T) {
                skipped = 1;
                continue;
            }
        }
        for (uint32_t i = 0; i < nk; i++) {
            offs[i] = b->res_offer[c.res[i]];
            share += sc->rsetup[c.res[i]] / mem[i];
        }
        c.dist = matcher_vec_distance_m(ov, b->fac_vec[f]);
        c.cost = mbuild_var_cost(b, o, f, c.dist, offs, qty, nk);
        c.full = c.cost + setups;
        if (budgeted) {
            if (c.full > od->budget)
                continue;
            n_budget++;
            if (!cap_whole)
                continue;
        }
        c.primal_ok = max_ok && cap_whole;
        /* Lower-bound cost: each setup shared by at most the jobs that
         * could join the group; split pieces get a rounding allowance. */
        c.lbcost = c.cost + share;
        if (split)
            c.lbcost = c.lbcost > 4 ? c.lbcost - 4 : 0;
        c.spread = spread;
        ln->tmp[n] = c;
        if (!all && (ntop < K || s_cand_cmp(&c, &ln->tmp[ln->top[K - 1]]) < 0)) {
            uint32_t d = ntop < K ? ntop++ : K - 1;   /* online top K, best first */
            while (d > 0 && s_cand_cmp(&c, &ln->tmp[ln->top[d - 1]]) < 0) {
                ln->top[d] = ln->top[d - 1];
                d--;
            }
            ln->top[d] = n;
        }
        n++;
    }
    ln->ntop = ntop;
    ln->skipped = skipped;
    if (n == 0)
        *reason = n_cap == 0    ? MATCHER_NO_CAPABLE
                  : n_moq == 0  ? MATCHER_BELOW_MOQ
                  : n_max == 0  ? MATCHER_ABOVE_MAX
                  : n_budget == 0 ? MATCHER_OVER_BUDGET
                                  : MATCHER_NO_CAPACITY;
    return n;
}

/* Keeps the K cheapest candidates (by lbcost, then factory; found online
 * by s_job_cands) and, for jobs with many capable factories, up to K more
 * spread evenly over the canonical factory order, so a job is not left
 * only with the factories everyone wants. The kept ones move to the front
 * of ln->tmp, sorted. *cut gets a lower bound on every left-out lbcost. */
uint32_t
mcand_select(mcand_lane_t *ln, uint32_t n, int64_t *cut)
{
    *cut = INT64_MAX;
    memset(ln->mark, 0, n);
    for (uint32_t k = 0; k < ln->ntop; k++)
        ln->mark[ln->top[k]] = 1;
    for (uint32_t i = 0; i < n; i++)
        ln->mark[i] |= (uint8_t) ln->tmp[i].spread;
    if (ln->skipped && ln->ntop)            /* skipped ones cost more than the K-th */
        *cut = ln->tmp[ln->top[ln->ntop - 1]].lbcost;
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (ln->mark[i]) {
            mbuild_cand_t t = ln->tmp[i];
            ln->tmp[i] = ln->tmp[w];
            ln->tmp[w++] = t;
        } else if (ln->tmp[i].lbcost < *cut) {
            *cut = ln->tmp[i].lbcost;
        }
    }
    for (uint32_t i = 1; i < w; i++) {    /* few: insertion sort */
        mbuild_cand_t t = ln->tmp[i];
        uint32_t d = i;
        while (d > 0 && s_cand_cmp(&t, &ln->tmp[d - 1]) < 0) {
            ln->tmp[d] = ln->tmp[d - 1];
            d--;
        }
        ln->tmp[d] = t;
    }
    return w;
}

uint32_t
mbuild_job_all(mbuild_t *b, uint32_t j, const mbuild_cand_t **out)
{
    mcand_lane_t *ln = &b->scratch->lane[0];
    uint32_t o = b->job_order[j];
    matcher_status_t why = MATCHER_PLACED;
    int split = b->pb->orders[b->ord[o]].split;
    uint32_t n = mcand_list(b, ln, o, b->job_item[j], b->job_nitems[j], split, 1, NULL, &why);
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++)
        if (split || ln->tmp[i].primal_ok)
            ln->tmp[w++] = ln->tmp[i];
    if (split)                      /* pieces are handed out cheapest first */
        qsort(ln->tmp, w, sizeof *ln->tmp, s_cand_cmp);
    *out = ln->tmp;
    return w;
}

const mbuild_cand_t *
mbuild_job_fit(mbuild_t *b, uint32_t j, const int64_t *room)
{
    mcand_lane_t *ln = &b->scratch->lane[0];
    uint32_t o = b->job_order[j];
    matcher_status_t why = MATCHER_PLACED;
    int split = b->pb->orders[b->ord[o]].split;
    uint32_t n = mcand_list(b, ln, o, b->job_item[j], b->job_nitems[j], split, 1, room, &why);
    return n ? &ln->tmp[0] : NULL;
}

