/* mbuild.c — a matcher problem in canonical form and as a core instance:
 * resources, due-day thresholds, jobs, priced candidates, batching groups. */
#include "cofab/matcher.h"

#include <pthread.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

static int
s_cap_cmp(const void *a, const void *b)
{
    const mbuild_cap_t *x = a, *y = b;
    int c = strcmp(x->proc, y->proc);
    if (c)
        return c;
    c = strcmp(x->mat, y->mat);
    if (c)
        return c;
    return x->res < y->res ? -1 : x->res > y->res;
}

int
mbuild_gkey_cmp(const void *a, const void *b)
{
    const mbuild_gkey_t *x = a, *y = b;
    if (x->res != y->res)
        return x->res < y->res ? -1 : 1;
    if (x->slot != y->slot)
        return x->slot < y->slot ? -1 : 1;
    if (x->win != y->win)
        return x->win < y->win ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* First tuple index with (proc, mat) and one past the last. */
static void
s_cap_range(const mbuild_scratch_t *sc, const char *proc, const char *mat, uint32_t *lo, uint32_t *hi)
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

/* A first allocation of at least 2 MiB is aligned to 2 MiB and marked for
 * transparent huge pages: the candidate arrays are tens of MiB, and taking
 * them a 4 KiB page fault at a time is a large share of a big solve on a
 * virtual machine. Only a hint: contents and results are the same. */
static void *
s_big(size_t bytes)
{
    const size_t huge = (size_t) 2 << 20;
    if (bytes < huge)
        return malloc(bytes);
    void *p = NULL;
    size_t n = (bytes + huge - 1) / huge * huge;
    if (posix_memalign(&p, huge, n) != 0)
        return NULL;
    (void) madvise(p, n, MADV_HUGEPAGE);
    return p;
}

int
mbuild_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (!*p) {
        void *q = s_big(need * elem);
        if (!q)
            return COFAB_ENOMEM;
        *p = q;
        *cap = need;
        return 0;
    }
    size_t n = *cap ? *cap * 2 : need;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return COFAB_ENOMEM;
    *p = q;
    *cap = n;
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
s_layout(mbuild_t *b, mbuild_scratch_t *sc)
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
            sc->caps[sc->ncaps++] = (mbuild_cap_t){b->res_offer[r]->process,
                                              b->res_offer[r]->materials[m], r, m};
    qsort(sc->caps, sc->ncaps, sizeof *sc->caps, s_cap_cmp);
    if (mcand_price_order(b, sc) != 0)
        return COFAB_ENOMEM;
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
    b->ord_thr = malloc((b->no + 1) * sizeof(uint32_t));
    if (!b->ord_thr)
        return COFAB_ENOMEM;
    for (uint32_t o = 0; o < b->no; o++)
        b->ord_thr[o] = s_thr_index(b, s_eff_due(b, &pb->orders[b->ord[o]]));
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
s_members(mbuild_t *b, mbuild_scratch_t *sc)
{
    uint32_t ni = b->item_off[b->no];
    s_pm_t *v = malloc((ni + 1) * sizeof *v);
    sc->members = malloc((ni + 1) * sizeof(uint32_t));
    sc->item_lo = malloc((ni + 1) * sizeof(uint32_t));
    sc->item_hi = malloc((ni + 1) * sizeof(uint32_t));
    if (!v || !sc->members || !sc->item_lo || !sc->item_hi) {
        free(v);
        return COFAB_ENOMEM;
    }
    for (uint32_t o = 0; o < b->no; o++) {
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        for (uint32_t k = 0; k < od->nitems; k++) {
            const matcher_item_t *it = mbuild_item(b, o, k);
            uint32_t lo, hi;
            s_cap_range(sc, it->process, it->material, &lo, &hi);
            sc->item_lo[b->item_off[o] + k] = lo;
            sc->item_hi[b->item_off[o] + k] = hi;
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

/* Gives every use its batching group: (resource, material, window). */
static int
s_groups(mbuild_t *b, mbuild_scratch_t *sc)
{
    uint32_t nc = b->cand_off[b->njobs];
    uint32_t nu = nc ? b->cands[nc - 1].use_off + b->cands[nc - 1].nuse : 0;
    mbuild_gkey_t *k = malloc((nu + 1) * sizeof *k);
    b->setup = malloc((nu + 1) * sizeof(int64_t));
    if (!k || !b->setup) {
        free(k);
        return COFAB_ENOMEM;
    }
    /* Stable counting sorts by window, then slot, then resource: the same
     * order as one sort by (res, slot, win, use), in linear time. */
    uint32_t maxw = 0;
    for (uint32_t u = 0; u < nu; u++)
        maxw = sc->use_win[u] > maxw ? sc->use_win[u] : maxw;
    size_t ncnt = (size_t) b->nres + MATCHER_MAX_MATERIALS + maxw + 3;
    uint32_t *idx = malloc(((size_t) nu + 1) * sizeof *idx);
    uint32_t *tmp = malloc(((size_t) nu + 1) * sizeof *tmp);
    uint32_t *cnt = malloc(ncnt * sizeof *cnt);
    if (!idx || !tmp || !cnt) {
        free(idx);
        free(tmp);
        free(cnt);
        free(k);
        return COFAB_ENOMEM;
    }
    for (uint32_t u = 0; u < nu; u++)
        idx[u] = u;
    for (int pass = 0; pass < 3; pass++) {
        size_t range = pass == 0 ? (size_t) maxw + 1 : pass == 1 ? MATCHER_MAX_MATERIALS : b->nres;
        memset(cnt, 0, (range + 1) * sizeof *cnt);
        for (uint32_t i = 0; i < nu; i++) {
            uint32_t u = idx[i];
            cnt[1 + (pass == 0 ? sc->use_win[u] : pass == 1 ? sc->use_slot[u] : b->uses[u].res)]++;
        }
        for (size_t v = 1; v <= range; v++)
            cnt[v] += cnt[v - 1];
        for (uint32_t i = 0; i < nu; i++) {
            uint32_t u = idx[i];
            tmp[cnt[pass == 0 ? sc->use_win[u] : pass == 1 ? sc->use_slot[u] : b->uses[u].res]++] = u;
        }
        uint32_t *t = idx;
        idx = tmp;
        tmp = t;
    }
    for (uint32_t i = 0; i < nu; i++) {
        uint32_t u = idx[i];
        k[i] = (mbuild_gkey_t){b->uses[u].res, sc->use_slot[u], sc->use_win[u], u};
    }
    free(idx);
    free(tmp);
    free(cnt);
    uint32_t g = 0;
    for (uint32_t i = 0; i < nu; i++) {
        if (i > 0 && (k[i].res != k[i - 1].res || k[i].slot != k[i - 1].slot
                      || k[i].win != k[i - 1].win))
            k[++g] = k[i];                  /* first key of the next group */
        else if (i == 0)
            k[0] = k[i];
        b->uses[k[i].id].group = g;
        k[g].id = g;
        b->setup[g] = b->res_offer[k[i].res]->setup_cost;
    }
    b->core.ngroups = nu ? g + 1 : 0;
    sc->gkeys = k;
    sc->ngkeys = b->core.ngroups;
    return 0;
}

/* One job found by a builder thread. */
typedef struct {
    uint32_t o, k0, nk;             /* canonical order, first item, items */
    uint32_t keep;                  /* kept candidates */
    int64_t cut;                    /* bound on the left-out ones */
} s_jobrec_t;

/* Core candidate arrays as one builder thread fills them; use_off is
 * relative to its own uses until the parts are joined. */
typedef struct {
    mcore_cand_t *cands;            /* candidates */
    int64_t *full, *dist;           /* per candidate: cost with setups, metres */
    size_t nc, cc;                  /* used, allocated */
    mcore_use_t *uses;              /* uses */
    uint32_t *slot, *win;           /* per use: material slot, batching window */
    size_t nu, uc;                  /* used, allocated */
} s_carr_t;

static void
s_carr_free(s_carr_t *a)
{
    free(a->cands);
    free(a->full);
    free(a->dist);
    free(a->uses);
    free(a->slot);
    free(a->win);
}

/* Room for nc more candidates and nu more uses. */
static int
s_carr_room(s_carr_t *a, size_t nc, size_t nu)
{
    size_t cc = a->cc, uc = a->uc;
    if (mbuild_grow((void **) &a->cands, &cc, a->nc + nc, sizeof *a->cands))
        return COFAB_ENOMEM;
    cc = a->cc;
    if (mbuild_grow((void **) &a->full, &cc, a->nc + nc, sizeof *a->full))
        return COFAB_ENOMEM;
    cc = a->cc;
    if (mbuild_grow((void **) &a->dist, &cc, a->nc + nc, sizeof *a->dist))
        return COFAB_ENOMEM;
    if (mbuild_grow((void **) &a->uses, &uc, a->nu + nu, sizeof *a->uses))
        return COFAB_ENOMEM;
    uc = a->uc;
    if (mbuild_grow((void **) &a->slot, &uc, a->nu + nu, sizeof *a->slot))
        return COFAB_ENOMEM;
    uc = a->uc;
    if (mbuild_grow((void **) &a->win, &uc, a->nu + nu, sizeof *a->win))
        return COFAB_ENOMEM;
    a->cc = cc;
    a->uc = uc;
    return 0;
}

/* Appends the kept candidates of job jr in core form. */
static int
s_carr_push(s_carr_t *a, const mbuild_t *b, const s_jobrec_t *jr, const mbuild_cand_t *kept)
{
    if (s_carr_room(a, jr->keep, (size_t) jr->keep * jr->nk))
        return COFAB_ENOMEM;
    uint32_t win = (uint32_t) b->pb->orders[b->ord[jr->o]].due_day / b->p.batch_window;
    int64_t qty[MATCHER_MAX_ITEMS];
    for (uint32_t k = 0; k < jr->nk; k++)
        qty[k] = mbuild_item(b, jr->o, jr->k0 + k)->qty;
    for (uint32_t i = 0; i < jr->keep; i++) {
        const mbuild_cand_t *c = &kept[i];
        a->cands[a->nc] = (mcore_cand_t){c->fac, (uint32_t) a->nu, jr->nk, c->primal_ok, c->cost,
                                         c->lbcost};
        a->full[a->nc] = c->full;
        a->dist[a->nc++] = c->dist;
        for (uint32_t k = 0; k < jr->nk; k++) {
            a->uses[a->nu] = (mcore_use_t){c->res[k], UINT32_MAX, qty[k]};
            a->slot[a->nu] = c->slot[k];
            a->win[a->nu++] = win;
        }
    }
    return 0;
}

/* The orders o0 .. o1-1 of one builder thread: statuses go straight to
 * b->ord_status (disjoint), jobs and their kept candidates (in core form)
 * to the part's own arrays, joined in order afterwards. */
typedef struct {
    mbuild_t *b;                    /* builder (read-only but for ord_status) */
    mcand_lane_t *ln;               /* this thread's scratch */
    uint32_t o0, o1;                /* orders */
    s_jobrec_t *jobs;               /* jobs found */
    uint32_t njobs;
    size_t jobs_cap;
    s_carr_t ca;                    /* their candidates */
    int rc;                         /* 0 or COFAB_ENOMEM */
} s_part_t;

static void *
s_part_run(void *arg)
{
    s_part_t *pt = arg;
    mbuild_t *b = pt->b;
    const mbuild_scratch_t *sc = b->scratch;
    for (uint32_t o = pt->o0; o < pt->o1; o++) {
        const matcher_order_t *od = &b->pb->orders[b->ord[o]];
        b->ord_status[o] = MATCHER_PLACED;
        for (uint32_t k = 0; k < od->nitems; k++) {
            uint32_t gi = b->item_off[o] + k, cnt = sc->item_hi[gi] - sc->item_lo[gi];
            if (cnt < b->p.min_capable) {
                b->ord_status[o] = cnt == 0 ? MATCHER_NO_CAPABLE : MATCHER_REDUNDANCY;
                break;
            }
        }
        if (b->ord_status[o] != MATCHER_PLACED)
            continue;
        uint32_t first = pt->njobs, nk = od->split ? 1 : od->nitems;
        size_t c0 = pt->ca.nc, u0 = pt->ca.nu;
        uint32_t njob = od->split ? od->nitems : 1;
        for (uint32_t jj = 0; jj < njob; jj++) {
            uint32_t k0 = jj * nk;
            matcher_status_t why = MATCHER_PLACED;
            uint32_t n = mcand_list(b, pt->ln, o, k0, nk, od->split, 0, NULL, &why);
            if (n == 0) {
                b->ord_status[o] = why;
                pt->njobs = first;          /* drop the order's jobs */
                pt->ca.nc = c0;
                pt->ca.nu = u0;
                break;
            }
            int64_t cut = INT64_MAX;
            uint32_t keep = mcand_select(pt->ln, n, &cut);
            if (mbuild_grow((void **) &pt->jobs, &pt->jobs_cap, pt->njobs + 1, sizeof *pt->jobs)) {
                pt->rc = COFAB_ENOMEM;
                return NULL;
            }
            pt->jobs[pt->njobs] = (s_jobrec_t){o, k0, nk, keep, cut};
            if (s_carr_push(&pt->ca, b, &pt->jobs[pt->njobs++], pt->ln->tmp)) {
                pt->rc = COFAB_ENOMEM;
                return NULL;
            }
        }
    }
    return NULL;
}

/* Lists and selects every job's candidates. Two threads split the orders
 * when there are many (each job's listing depends only on the problem, so
 * the result is the same as one thread's); then the second part's arrays
 * are appended to the first's (grown in place: fresh pages are costly). */
static int
s_jobs(mbuild_t *b, mbuild_scratch_t *sc)
{
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
    if (!b->ord_status || !b->ord_job || !b->ord_njobs || !b->job_order || !b->job_item
        || !b->job_nitems || !b->job_thr || !b->cutoff || !b->cand_off
        || mcand_lane_init(&sc->lane[0], b->nf, b->p.max_candidates)
        || mcand_lane_init(&sc->lane[1], b->nf, b->p.max_candidates))
        return COFAB_ENOMEM;
    uint32_t half = b->no >= 2048 ? b->no / 2 : b->no;
    s_part_t pt[2];
    memset(pt, 0, sizeof pt);
    pt[0] = (s_part_t){.b = b, .ln = &sc->lane[0], .o0 = 0, .o1 = half};
    pt[1] = (s_part_t){.b = b, .ln = &sc->lane[1], .o0 = half, .o1 = b->no};
    /* Room for the most a part can keep, reserved up front: growing by
     * doubling copies and touches fresh pages, which is slow here, while
     * reserved pages never used cost nothing. The first part's arrays
     * also get the second's share, which is appended to them. */
    size_t per = (size_t) b->p.max_candidates + b->p.max_candidates / 2 + 2;
    if (per > (size_t) b->nf + 1)
        per = (size_t) b->nf + 1;
    size_t i0 = (size_t) b->item_off[half] * per, i1 = (size_t) (ni - b->item_off[half]) * per;
    if (s_carr_room(&pt[0].ca, i0 + i1 + 1, i0 + i1 + 1) || s_carr_room(&pt[1].ca, i1 + 1, i1 + 1))
        return COFAB_ENOMEM;
    pthread_t th;
    int threaded = half < b->no && pthread_create(&th, NULL, s_part_run, &pt[1]) == 0;
    s_part_run(&pt[0]);
    if (threaded)
        pthread_join(th, NULL);
    else
        s_part_run(&pt[1]);             /* no second thread: same work, in turn */
    int rc = pt[0].rc ? pt[0].rc : pt[1].rc;
    s_carr_t *a = &pt[0].ca, *z = &pt[1].ca;
    if (rc == 0 && (rc = s_carr_room(a, z->nc + 1, z->nu + 1)) == 0) {
        for (size_t i = 0; i < z->nc; i++) {
            a->cands[a->nc + i] = z->cands[i];
            a->cands[a->nc + i].use_off += (uint32_t) a->nu;
        }
        memcpy(a->full + a->nc, z->full, z->nc * sizeof *a->full);
        memcpy(a->dist + a->nc, z->dist, z->nc * sizeof *a->dist);
        memcpy(a->uses + a->nu, z->uses, z->nu * sizeof *a->uses);
        memcpy(a->slot + a->nu, z->slot, z->nu * sizeof *a->slot);
        memcpy(a->win + a->nu, z->win, z->nu * sizeof *a->win);
        a->nc += z->nc;
        a->nu += z->nu;
        b->njobs = 0;
        b->cand_off[0] = 0;
        for (int k = 0; k < 2; k++)
            for (uint32_t i = 0; i < pt[k].njobs; i++) {
                const s_jobrec_t *jr = &pt[k].jobs[i];
                uint32_t j = b->njobs++;
                if (b->ord_njobs[jr->o]++ == 0)
                    b->ord_job[jr->o] = j;
                b->job_order[j] = jr->o;
                b->job_item[j] = jr->k0;
                b->job_nitems[j] = jr->nk;
                b->job_thr[j] = b->ord_thr[jr->o];
                b->cutoff[j] = jr->cut;
                b->cand_off[j + 1] = b->cand_off[j] + jr->keep;
            }
        /* the joined arrays become the builder's */
        b->cands = a->cands;
        b->cand_full = a->full;
        b->cand_dist = a->dist;
        b->uses = a->uses;
        sc->use_slot = a->slot;
        sc->use_win = a->win;
        sc->cand_cap = a->cc;
        sc->use_cap = sc->slot_cap = sc->win_cap = a->uc;
        memset(a, 0, sizeof *a);
    }
    for (int k = 0; k < 2; k++) {
        free(pt[k].jobs);
        s_carr_free(&pt[k].ca);
    }
    return rc;
}

static void
s_scratch_free(mbuild_scratch_t *sc)
{
    if (!sc)
        return;
    free(sc->caps);
    free(sc->members);
    free(sc->item_lo);
    free(sc->item_hi);
    mcand_lane_free(&sc->lane[0]);
    mcand_lane_free(&sc->lane[1]);
    free(sc->use_slot);
    free(sc->use_win);
    free(sc->gkeys);
    free(sc->rmoq);
    free(sc->rmax);
    free(sc->rprice);
    free(sc->rsetup);
    free(sc->capT);
    free(sc->pord);
    free(sc->prank);
    free(sc->tup);
    free(sc->ptup);
    free(sc);
}

int
mbuild_new(const matcher_problem_t *pb, const matcher_params_t *p, mbuild_t **out)
{
    int rc = COFAB_ENOMEM;
    mbuild_t *b = calloc(1, sizeof *b);
    mbuild_scratch_t *sc = calloc(1, sizeof *sc);
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
    /* Split jobs are cut into pieces after the core, which can beat any
     * whole assignment: then the exact search proves nothing. */
    c->whole = 1;
    for (uint32_t o = 0; o < b->no; o++)
        if (b->ord_njobs[o] && pb->orders[b->ord[o]].split)
            c->whole = 0;
    *out = b;
    b = NULL;
    rc = 0;
out:
    mbuild_destroy(&b);
    return rc;
}

uint32_t
mbuild_group(const mbuild_t *b, uint32_t res, uint32_t slot, uint32_t win)
{
    const mbuild_scratch_t *sc = b->scratch;
    mbuild_gkey_t key = {res, slot, win, 0};
    uint32_t a = 0, z = sc->ngkeys;
    while (a < z) {
        uint32_t m = a + (z - a) / 2;
        if (mbuild_gkey_cmp(&sc->gkeys[m], &key) < 0)
            a = m + 1;
        else
            z = m;
    }
    if (a < sc->ngkeys && sc->gkeys[a].res == res && sc->gkeys[a].slot == slot
        && sc->gkeys[a].win == win)
        return sc->gkeys[a].id;
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
    free(b->ord_thr);
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
