/* mbuild.c — a matcher problem in canonical form and as a core instance:
 * resources, due-day thresholds, jobs, priced candidates, batching groups. */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

/* (process, material) capability of one resource, for lookup. */
typedef struct {
    const char *proc;               /* process name */
    const char *mat;                /* material name */
    uint32_t res;                   /* resource (ordered by canonical factory) */
    uint32_t slot;                  /* material slot in the offer */
} s_cap_t;

static int
s_cap_cmp(const void *a, const void *b)
{
    const s_cap_t *x = a, *y = b;
    int c = strcmp(x->proc, y->proc);
    if (c)
        return c;
    c = strcmp(x->mat, y->mat);
    if (c)
        return c;
    return x->res < y->res ? -1 : x->res > y->res;
}

typedef mbuild_cand_t s_cand_t;

static int
s_cand_cmp(const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->lbcost != y->lbcost)
        return x->lbcost < y->lbcost ? -1 : 1;
    return x->fac < y->fac ? -1 : x->fac > y->fac;
}

/* Key of a batching group and the use it came from. */
typedef struct {
    uint32_t res, slot, win;        /* group key */
    uint32_t use;                   /* use index */
} s_gkey_t;

static int
s_gkey_cmp(const void *a, const void *b)
{
    const s_gkey_t *x = a, *y = b;
    if (x->res != y->res)
        return x->res < y->res ? -1 : 1;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    if (x->win != y->win)
        return x->win < y->win ? -1 : 1;
    return x->use < y->use ? -1 : x->use > y->use;
}

/* Builder scratch state. */
typedef struct {
    s_cap_t *caps;                  /* sorted capability tuples */
    uint32_t ncaps;
    uint32_t *members;              /* per canonical item: jobs sharing its (process, material, window) */
    s_cand_t *tmp;                  /* candidates of one job */
    uint8_t *mark;                  /* per tmp entry: kept */
    uint32_t *top;                  /* K cheapest so far, best first */
    uint32_t ntop;                  /* entries in top */
    int skipped;                    /* candidates skipped by the bound */
    size_t cand_cap, use_cap;       /* allocated sizes of cands / uses */
    uint32_t *use_slot, *use_win;   /* per use: material slot, batching window */
    int64_t *rmoq, *rmax, *rprice, *rsetup; /* per resource, compact copies */
    int64_t *capT;                  /* nthr × nres: capacities, threshold-major */
    s_gkey_t *gkeys;                /* sorted group keys, for mbuild_group */
    uint32_t ngkeys;
    size_t slot_cap, win_cap;       /* their allocated sizes */
} s_scratch_t;

/* First tuple index with (proc, mat) and one past the last. */
static void
s_cap_range(const s_scratch_t *sc, const char *proc, const char *mat, uint32_t *lo, uint32_t *hi)
{
    uint32_t a = 0, z = sc->ncaps;
    while (a < z) {
        uint32_t m = a + (z - a) / 2;
        int c = strcmp(sc->caps[m].proc, proc);
        if (!c)
            c = strcmp(sc->caps[m].mat, mat);
        if (c < 0)
            a = m + 1;
        else
            z = m;
    }
    *lo = a;
    z = sc->ncaps;
    while (a < z) {                 /* first tuple past (proc, mat) */
        uint32_t m = a + (z - a) / 2;
        int c = strcmp(sc->caps[m].proc, proc);
        if (!c)
            c = strcmp(sc->caps[m].mat, mat);
        if (c <= 0)
            a = m + 1;
        else
            z = m;
    }
    *hi = a;
}

static int
s_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return COFAB_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int
s_excluded(const matcher_order_t *od, const uint8_t *id)
{
    for (uint32_t e = 0; e < od->nexclude; e++)
        if (!memcmp(od->exclude[e], id, MATCHER_ID_LEN))
            return 1;
    return 0;
}

static uint32_t
s_thr_index(const mbuild_t *b, int32_t day)
{
    uint32_t a = 0, z = b->nthr;
    while (a < z) {
        uint32_t m = a + (z - a) / 2;
        if (b->thr_day[m] < day)
            a = m + 1;
        else
            z = m;
    }
    return a;
}

static int32_t
s_eff_due(const mbuild_t *b, const matcher_order_t *od)
{
    return od->due_day < (int32_t) b->pb->horizon ? od->due_day : (int32_t) b->pb->horizon;
}

/* Canonical orders, items, resources, usable calendars, thresholds. */
static int
s_layout(mbuild_t *b, s_scratch_t *sc)
{
    const matcher_problem_t *pb = b->pb;
    b->fac = matcher_canon(pb->nfactories ? pb->factories[0].id : NULL, sizeof(matcher_factory_t), b->nf);
    b->ord = matcher_canon(pb->norders ? pb->orders[0].id : NULL, sizeof(matcher_order_t), b->no);
    b->item_off = malloc((b->no + 1) * sizeof(uint32_t));
    if (!b->fac || !b->ord || !b->item_off)
        return COFAB_ENOMEM;
    b->item_off[0] = 0;
    for (uint32_t o = 0; o < b->no; o++)
        b->item_off[o + 1] = b->item_off[o] + pb->orders[b->ord[o]].nitems;
    b->item_idx = malloc((b->item_off[b->no] + 1) * sizeof(uint32_t));
    if (!b->item_idx)
        return COFAB_ENOMEM;
    for (uint32_t o = 0; o < b->no; o++) {
        const matcher_order_t *od = &pb->orders[b->ord[o]];
        uint32_t *v = b->item_idx + b->item_off[o];
        for (uint32_t k = 0; k < od->nitems; k++) {   /* insertion sort by (process, material) */
            uint32_t x = k, i = k;
            while (i > 0) {
                const matcher_item_t *a = &od->items[v[i - 1]], *c = &od->items[x];
                int d = strcmp(a->process, c->process);
                if (!d)
                    d = strcmp(a->material, c->material);
                if (d <= 0)
                    break;
                v[i] = v[i - 1];
                i--;
            }
            v[i] = x;
        }
    }
    /* resources: canonical factory, then offers by process name */
    b->nres = 0;
    for (uint32_t f = 0; f < b->nf; f++)
        b->nres += pb->factories[b->fac[f]].noffers;
    size_t H = pb->horizon;
    b->res_fac = malloc((b->nres + 1) * sizeof(uint32_t));
    b->res_offer = malloc((b->nres + 1) * sizeof *b->res_offer);
    b->usable = malloc(((size_t) b->nres * H + 1) * sizeof(int64_t));
    if (!b->res_fac || !b->res_offer || !b->usable)
        return COFAB_ENOMEM;
    uint32_t r = 0, ncaps = 0;
    for (uint32_t f = 0; f < b->nf; f++) {
        const matcher_factory_t *fa = &pb->factories[b->fac[f]];
        uint32_t first = r;
        for (uint32_t k = 0; k < fa->noffers; k++) {
            const matcher_offer_t *x = &fa->offers[k];
            uint32_t i = r;
            while (i > first && strcmp(b->res_offer[i - 1]->process, x->process) > 0) {
                b->res_offer[i] = b->res_offer[i - 1];
                i--;
            }
            b->res_offer[i] = x;
            r++;
        }
        int32_t reserve = fa->reserve_pm >= 0 ? fa->reserve_pm : b->p.reserve_pm;
        for (uint32_t i = first; i < r; i++) {
            const matcher_offer_t *x = b->res_offer[i];
            b->res_fac[i] = f;
            ncaps += x->nmaterials;
            for (size_t d = 0; d < H; d++) {
                int64_t u = x->cap[d] * (1000 - reserve) / 1000 - (x->load ? x->load[d] : 0);
                b->usable[(size_t) i * H + d] = u > 0 ? u : 0;
            }
        }
    }
    b->fac_vec = malloc((b->nf + 1) * sizeof *b->fac_vec);
    if (!b->fac_vec)
        return COFAB_ENOMEM;
    for (uint32_t f = 0; f < b->nf; f++)
        matcher_unit_vector(pb->factories[b->fac[f]].lat_e6, pb->factories[b->fac[f]].lon_e6,
                            b->fac_vec[f]);
    sc->rmoq = malloc((b->nres + 1) * sizeof(int64_t));
    sc->rmax = malloc((b->nres + 1) * sizeof(int64_t));
    sc->rprice = malloc((b->nres + 1) * sizeof(int64_t));
    sc->rsetup = malloc((b->nres + 1) * sizeof(int64_t));
    if (!sc->rmoq || !sc->rmax || !sc->rprice || !sc->rsetup)
        return COFAB_ENOMEM;
    for (r = 0; r < b->nres; r++) {
        sc->rmoq[r] = b->res_offer[r]->moq;
        sc->rmax[r] = b->res_offer[r]->max_qty;
        sc->rprice[r] = b->res_offer[r]->unit_price;
        sc->rsetup[r] = b->res_offer[r]->setup_cost;
    }
    sc->caps = malloc((ncaps + 1) * sizeof *sc->caps);
    if (!sc->caps)
        return COFAB_ENOMEM;
    sc->ncaps = 0;
    for (r = 0; r < b->nres; r++)
        for (uint32_t m = 0; m < b->res_offer[r]->nmaterials; m++)
            sc->caps[sc->ncaps++] = (s_cap_t){b->res_offer[r]->process,
                                              b->res_offer[r]->materials[m], r, m};
    qsort(sc->caps, sc->ncaps, sizeof *sc->caps, s_cap_cmp);
    /* thresholds: distinct effective due days */
    uint8_t *seen = calloc(H + 1, 1);
    if (!seen)
        return COFAB_ENOMEM;
    b->nthr = 0;
    for (uint32_t o = 0; o < b->no; o++) {
        int32_t d = s_eff_due(b, &pb->orders[b->ord[o]]);
        if (!seen[d]) {
            seen[d] = 1;
            b->nthr++;
        }
    }
    b->thr_day = malloc((b->nthr + 1) * sizeof(int32_t));
    b->cap = malloc(((size_t) b->nres * (b->nthr ? b->nthr : 1) + 1) * sizeof(int64_t));
    if (!b->thr_day || !b->cap) {
        free(seen);
        return COFAB_ENOMEM;
    }
    uint32_t t = 0;
    for (size_t d = 1; d <= H; d++)
        if (seen[d])
            b->thr_day[t++] = (int32_t) d;
    free(seen);
    uint32_t nt = b->nthr ? b->nthr : 1;
    for (r = 0; r < b->nres; r++) {
        int64_t cum = 0;
        size_t d = 0;
        for (t = 0; t < b->nthr; t++) {
            for (; d < (size_t) b->thr_day[t]; d++)
                cum += b->usable[(size_t) r * H + d];
            b->cap[(size_t) r * nt + t] = cum;
        }
        if (!b->nthr)
            b->cap[r] = 0;
    }
    /* the same table threshold-major: one job reads one compact row */
    sc->capT = malloc(((size_t) b->nres * nt + 1) * sizeof(int64_t));
    if (!sc->capT)
        return COFAB_ENOMEM;
    for (r = 0; r < b->nres; r++)
        for (t = 0; t < nt; t++)
            sc->capT[(size_t) t * b->nres + r] = b->cap[(size_t) r * nt + t];
    return 0;
}

/* Lists the candidates of job j (items k0 .. k0+nk-1 of canonical order o)
 * into sc->tmp; returns their count, or sets *reason when none survive. */
static uint32_t
s_job_cands(mbuild_t *b, s_scratch_t *sc, uint32_t o, uint32_t k0, uint32_t nk, int split,
            int all, matcher_status_t *reason)
{
    const matcher_problem_t *pb = b->pb;
    const matcher_order_t *od = &pb->orders[b->ord[o]];
    uint32_t lo[MATCHER_MAX_ITEMS], hi[MATCHER_MAX_ITEMS];
    const matcher_offer_t *offs[MATCHER_MAX_ITEMS];
    int64_t qty[MATCHER_MAX_ITEMS];
    for (uint32_t i = 0; i < nk; i++) {
        const matcher_item_t *it = mbuild_item(b, o, k0 + i);
        s_cap_range(sc, it->process, it->material, &lo[i], &hi[i]);
        qty[i] = it->qty;
    }
    uint32_t thr = s_thr_index(b, s_eff_due(b, od));
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
    for (uint32_t a = lo[0]; a < hi[0]; a++) {
        uint32_t f = b->res_fac[sc->caps[a].res];
        s_cand_t c;
        c.fac = f;
        c.res[0] = sc->caps[a].res;
        c.slot[0] = sc->caps[a].slot;
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
            int64_t room = sc->capT[(size_t) thr * b->nres + r];
            moq_ok &= qty[i] >= sc->rmoq[r];
            max_ok &= qty[i] <= sc->rmax[r];
            cap_whole &= room >= qty[i];
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
        int spread = !all && cnt > K && (a - lo[0]) % step == step / 2;
        if (!all && !budgeted && !spread && ntop == K) {
            /* Skip without the exact distance when even a lower bound
             * (chord <= arc, credit <= reliability share, no lateness)
             * cannot beat the K-th best so far: the kept set is the same. */
            int64_t T = sc->tmp[sc->top[K - 1]].lbcost;
            int64_t lb = goods - goods * b->p.reliability_pm / 1000 - 1 - (split ? 4 : 0);
            if (lb > T) {
                skipped = 1;
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
        sc->tmp[n] = c;
        if (!all && (ntop < K || s_cand_cmp(&c, &sc->tmp[sc->top[K - 1]]) < 0)) {
            uint32_t d = ntop < K ? ntop++ : K - 1;   /* online top K, best first */
            while (d > 0 && s_cand_cmp(&c, &sc->tmp[sc->top[d - 1]]) < 0) {
                sc->top[d] = sc->top[d - 1];
                d--;
            }
            sc->top[d] = n;
        }
        n++;
    }
    sc->ntop = ntop;
    sc->skipped = skipped;
    if (n == 0)
        *reason = n_cap == 0    ? MATCHER_NO_CAPABLE
                  : n_moq == 0  ? MATCHER_BELOW_MOQ
                  : n_max == 0  ? MATCHER_ABOVE_MAX
                  : n_budget == 0 ? MATCHER_OVER_BUDGET
                                  : MATCHER_NO_CAPACITY;
    return n;
}

/* (capability range, window) of one item, for counting group members. */
typedef struct {
    uint32_t lo, win;               /* key */
    uint32_t item;                  /* canonical global item index */
} s_pm_t;

static int
s_pm_cmp(const void *a, const void *b)
{
    const s_pm_t *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->win != y->win)
        return x->win < y->win ? -1 : 1;
    return x->item < y->item ? -1 : x->item > y->item;
}

/* members[item] = number of items (hence jobs) with the same process,
 * material and batching window: a bound on any batch's size. */
static int
s_members(mbuild_t *b, s_scratch_t *sc)
{
    uint32_t ni = b->item_off[b->no];
    s_pm_t *v = malloc((ni + 1) * sizeof *v);
    sc->members = malloc((ni + 1) * sizeof(uint32_t));
    if (!v || !sc->members) {
        free(v);
        return COFAB_ENOMEM;
    }
    for (uint32_t o = 0; o < b->no; o++) {
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        for (uint32_t k = 0; k < od->nitems; k++) {
            const matcher_item_t *it = mbuild_item(b, o, k);
            uint32_t lo, hi;
            s_cap_range(sc, it->process, it->material, &lo, &hi);
            v[b->item_off[o] + k] = (s_pm_t){lo, (uint32_t) od->due_day / b->p.batch_window,
                                             b->item_off[o] + k};
        }
    }
    qsort(v, ni, sizeof *v, s_pm_cmp);
    for (uint32_t i = 0; i < ni;) {
        uint32_t e = i;
        while (e < ni && v[e].lo == v[i].lo && v[e].win == v[i].win)
            e++;
        for (uint32_t k = i; k < e; k++)
            sc->members[v[k].item] = e - i;
        i = e;
    }
    free(v);
    return 0;
}

/* Appends the first keep candidates in sc->tmp as core candidates of the
 * job being built. */
static int
s_append(mbuild_t *b, s_scratch_t *sc, uint32_t o, uint32_t k0, uint32_t nk, uint32_t keep,
         uint32_t win)
{
    uint32_t nc = b->cand_off[b->njobs];
    uint32_t nu = nc ? b->cands[nc - 1].use_off + b->cands[nc - 1].nuse : 0;
    if (s_grow((void **) &b->cands, &sc->cand_cap, nc + keep, sizeof *b->cands)
        || s_grow((void **) &b->uses, &sc->use_cap, nu + (size_t) keep * nk, sizeof *b->uses))
        return COFAB_ENOMEM;
    size_t cc = sc->cand_cap, uc = sc->use_cap;
    void *f = realloc(b->cand_full, cc * sizeof(int64_t));
    if (!f)
        return COFAB_ENOMEM;
    b->cand_full = f;
    f = realloc(b->cand_dist, cc * sizeof(int64_t));
    if (!f)
        return COFAB_ENOMEM;
    b->cand_dist = f;
    if (s_grow((void **) &sc->use_slot, &sc->slot_cap, uc, sizeof(uint32_t))
        || s_grow((void **) &sc->use_win, &sc->win_cap, uc, sizeof(uint32_t)))
        return COFAB_ENOMEM;
    for (uint32_t i = 0; i < keep; i++) {
        const s_cand_t *c = &sc->tmp[i];
        b->cands[nc] = (mcore_cand_t){c->fac, nu, nk, c->primal_ok, c->cost, c->lbcost};
        b->cand_full[nc] = c->full;
        b->cand_dist[nc] = c->dist;
        for (uint32_t k = 0; k < nk; k++) {
            b->uses[nu] = (mcore_use_t){c->res[k], UINT32_MAX, mbuild_item(b, o, k0 + k)->qty};
            sc->use_slot[nu] = c->slot[k];
            sc->use_win[nu] = win;
            nu++;
        }
        nc++;
    }
    b->cand_off[b->njobs + 1] = nc;
    return 0;
}

/* Gives every use its batching group: (resource, material, window). */
static int
s_groups(mbuild_t *b, s_scratch_t *sc)
{
    uint32_t nc = b->cand_off[b->njobs];
    uint32_t nu = nc ? b->cands[nc - 1].use_off + b->cands[nc - 1].nuse : 0;
    s_gkey_t *k = malloc((nu + 1) * sizeof *k);
    b->setup = malloc((nu + 1) * sizeof(int64_t));
    if (!k || !b->setup) {
        free(k);
        return COFAB_ENOMEM;
    }
    /* counting sort by resource, then small sorts: same order as one big
     * sort by (res, slot, win, use), far cheaper */
    uint32_t *start = calloc((size_t) b->nres + 2, sizeof *start);
    if (!start) {
        free(k);
        return COFAB_ENOMEM;
    }
    for (uint32_t u = 0; u < nu; u++)
        start[b->uses[u].res + 2]++;
    for (uint32_t r = 0; r < b->nres; r++)
        start[r + 2] += start[r + 1];
    for (uint32_t u = 0; u < nu; u++)
        k[start[b->uses[u].res + 1]++] = (s_gkey_t){b->uses[u].res, sc->use_slot[u],
                                                     sc->use_win[u], u};
    for (uint32_t r = 0; r < b->nres; r++)
        qsort(k + start[r], start[r + 1] - start[r], sizeof *k, s_gkey_cmp);
    free(start);
    uint32_t g = 0;
    for (uint32_t i = 0; i < nu; i++) {
        if (i > 0 && (k[i].res != k[i - 1].res || k[i].slot != k[i - 1].slot
                      || k[i].win != k[i - 1].win))
            g++;
        b->uses[k[i].use].group = g;
        b->setup[g] = b->res_offer[k[i].res]->setup_cost;
    }
    b->core.ngroups = nu ? g + 1 : 0;
    sc->gkeys = k;
    sc->ngkeys = nu;
    return 0;
}

/* Keeps the K cheapest candidates (by lbcost, then factory; found online
 * by s_job_cands) and, for jobs with many capable factories, up to K more
 * spread evenly over the canonical factory order, so a job is not left
 * only with the factories everyone wants. The kept ones move to the front
 * of sc->tmp, sorted. *cut gets a lower bound on every left-out lbcost. */
static uint32_t
s_select(const mbuild_t *b, s_scratch_t *sc, uint32_t n, int64_t *cut)
{
    (void) b;
    *cut = INT64_MAX;
    memset(sc->mark, 0, n);
    for (uint32_t k = 0; k < sc->ntop; k++)
        sc->mark[sc->top[k]] = 1;
    for (uint32_t i = 0; i < n; i++)
        sc->mark[i] |= (uint8_t) sc->tmp[i].spread;
    if (sc->skipped && sc->ntop)            /* skipped ones cost more than the K-th */
        *cut = sc->tmp[sc->top[sc->ntop - 1]].lbcost;
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (sc->mark[i]) {
            s_cand_t t = sc->tmp[i];
            sc->tmp[i] = sc->tmp[w];
            sc->tmp[w++] = t;
        } else if (sc->tmp[i].lbcost < *cut) {
            *cut = sc->tmp[i].lbcost;
        }
    }
    qsort(sc->tmp, w, sizeof *sc->tmp, s_cand_cmp);
    return w;
}

static int
s_jobs(mbuild_t *b, s_scratch_t *sc)
{
    const matcher_problem_t *pb = b->pb;
    uint32_t ni = b->item_off[b->no];
    b->ord_status = calloc(b->no + 1, sizeof *b->ord_status);
    b->ord_job = calloc(b->no + 1, sizeof(uint32_t));
    b->ord_njobs = calloc(b->no + 1, sizeof(uint32_t));
    b->job_order = malloc((ni + 1) * sizeof(uint32_t));
    b->job_item = malloc((ni + 1) * sizeof(uint32_t));
    b->job_nitems = malloc((ni + 1) * sizeof(uint32_t));
    b->job_thr = malloc((ni + 1) * sizeof(uint32_t));
    b->cutoff = malloc((ni + 1) * sizeof(int64_t));
    b->cand_off = malloc((ni + 2) * sizeof(uint32_t));
    sc->tmp = malloc((b->nf + 1) * sizeof *sc->tmp);
    sc->mark = malloc(b->nf + 1);
    sc->top = malloc((b->p.max_candidates + 1) * sizeof(uint32_t));
    if (!b->ord_status || !b->ord_job || !b->ord_njobs || !b->job_order || !b->job_item
        || !b->job_nitems || !b->job_thr || !b->cutoff || !b->cand_off || !sc->tmp || !sc->mark
        || !sc->top)
        return COFAB_ENOMEM;
    b->njobs = 0;
    b->cand_off[0] = 0;
    for (uint32_t o = 0; o < b->no; o++) {
        const matcher_order_t *od = &pb->orders[b->ord[o]];
        b->ord_status[o] = MATCHER_PLACED;
        for (uint32_t k = 0; k < od->nitems; k++) {
            const matcher_item_t *it = mbuild_item(b, o, k);
            uint32_t lo, hi;
            s_cap_range(sc, it->process, it->material, &lo, &hi);
            if (hi - lo < b->p.min_capable) {
                b->ord_status[o] = hi == lo ? MATCHER_NO_CAPABLE : MATCHER_REDUNDANCY;
                break;
            }
        }
        if (b->ord_status[o] != MATCHER_PLACED)
            continue;
        uint32_t first = b->njobs, nk = od->split ? 1 : od->nitems;
        uint32_t njob = od->split ? od->nitems : 1;
        uint32_t thr = s_thr_index(b, s_eff_due(b, od));
        for (uint32_t jj = 0; jj < njob; jj++) {
            uint32_t k0 = jj * nk;
            matcher_status_t why = MATCHER_PLACED;
            uint32_t n = s_job_cands(b, sc, o, k0, nk, od->split, 0, &why);
            if (n == 0) {
                b->ord_status[o] = why;
                b->njobs = first;               /* drop the order's jobs */
                break;
            }
            int64_t cut = INT64_MAX;
            uint32_t keep = s_select(b, sc, n, &cut);
            uint32_t j = b->njobs;
            b->job_order[j] = o;
            b->job_item[j] = k0;
            b->job_nitems[j] = nk;
            b->job_thr[j] = thr;
            b->cutoff[j] = cut;

            if (s_append(b, sc, o, k0, nk, keep, (uint32_t) od->due_day / b->p.batch_window))
                return COFAB_ENOMEM;
            b->njobs++;
        }
        if (b->ord_status[o] == MATCHER_PLACED) {
            b->ord_job[o] = first;
            b->ord_njobs[o] = b->njobs - first;
        }
    }
    return 0;
}

static void
s_scratch_free(s_scratch_t *sc)
{
    if (!sc)
        return;
    free(sc->caps);
    free(sc->members);
    free(sc->tmp);
    free(sc->mark);
    free(sc->top);
    free(sc->use_slot);
    free(sc->use_win);
    free(sc->gkeys);
    free(sc->rmoq);
    free(sc->rmax);
    free(sc->rprice);
    free(sc->rsetup);
    free(sc->capT);
    free(sc);
}

int
mbuild_new(const matcher_problem_t *pb, const matcher_params_t *p, mbuild_t **out)
{
    int rc = COFAB_ENOMEM;
    mbuild_t *b = calloc(1, sizeof *b);
    s_scratch_t *sc = calloc(1, sizeof *sc);
    if (!b || !sc) {
        free(b);
        free(sc);
        return COFAB_ENOMEM;
    }
    b->scratch = sc;
    b->pb = pb;
    b->p = *p;
    b->nf = pb->nfactories;
    b->no = pb->norders;
    if ((rc = s_layout(b, sc)) != 0 || (rc = s_members(b, sc)) != 0
        || (rc = s_jobs(b, sc)) != 0 || (rc = s_groups(b, sc)) != 0)
        goto out;
    mcore_t *c = &b->core;
    c->njobs = b->njobs;
    c->nres = b->nres;
    c->nthr = b->nthr ? b->nthr : 1;
    c->nagents = b->nf;
    c->job_thr = b->job_thr;
    c->cand_off = b->cand_off;
    c->cands = b->cands;
    c->uses = b->uses;
    c->cap = b->cap;
    c->setup = b->setup;
    c->cutoff = b->cutoff;
    c->penalty = p->unplaced_penalty;
    *out = b;
    b = NULL;
    rc = 0;
out:
    mbuild_destroy(&b);
    return rc;
}

uint32_t
mbuild_job_all(mbuild_t *b, uint32_t j, const mbuild_cand_t **out)
{
    s_scratch_t *sc = b->scratch;
    uint32_t o = b->job_order[j];
    matcher_status_t why = MATCHER_PLACED;
    int split = b->pb->orders[b->ord[o]].split;
    uint32_t n = s_job_cands(b, sc, o, b->job_item[j], b->job_nitems[j], split, 1, &why);
    uint32_t w = 0;
    for (uint32_t i = 0; i < n; i++)
        if (split || sc->tmp[i].primal_ok)
            sc->tmp[w++] = sc->tmp[i];
    if (split)                      /* pieces are handed out cheapest first */
        qsort(sc->tmp, w, sizeof *sc->tmp, s_cand_cmp);
    *out = sc->tmp;
    return w;
}

uint32_t
mbuild_group(const mbuild_t *b, uint32_t res, uint32_t slot, uint32_t win)
{
    const s_scratch_t *sc = b->scratch;
    s_gkey_t key = {res, slot, win, 0};
    uint32_t a = 0, z = sc->ngkeys;
    while (a < z) {
        uint32_t m = a + (z - a) / 2;
        if (s_gkey_cmp(&sc->gkeys[m], &key) < 0)
            a = m + 1;
        else
            z = m;
    }
    if (a < sc->ngkeys && sc->gkeys[a].res == res && sc->gkeys[a].slot == slot
        && sc->gkeys[a].win == win)
        return b->uses[sc->gkeys[a].use].group;
    return UINT32_MAX;
}

void
mbuild_destroy(mbuild_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    mbuild_t *b = *self_p;
    free(b->fac);
    free(b->ord);
    free(b->item_off);
    free(b->item_idx);
    free(b->res_fac);
    free(b->res_offer);
    free(b->usable);
    free(b->thr_day);
    free(b->job_order);
    free(b->job_item);
    free(b->job_nitems);
    free(b->ord_job);
    free(b->ord_njobs);
    free(b->ord_status);
    free(b->cand_full);
    free(b->cand_dist);
    free(b->fac_vec);
    free(b->job_thr);
    free(b->cand_off);
    free(b->cands);
    free(b->uses);
    free(b->cap);
    free(b->setup);
    free(b->cutoff);
    s_scratch_free(b->scratch);
    free(b);
    *self_p = NULL;
}
