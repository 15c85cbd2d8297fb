/* mlagr.c — the matcher core's Lagrangian relaxation of the nested
 * capacity rows: a proved lower bound by subgradient steps on integer
 * fixed-point multipliers, and the multipliers that guide the regret
 * constructions.
 *
 * Everything is integer. Multipliers are scaled by 2^F; F and the cap on
 * a multiplier are chosen so that every reduced cost fits in 63 bits, so
 * the inner loop is plain int64; the bound's sum over jobs uses 128 bits.
 */
#include "cofab/matcher.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

typedef __int128 s_i128;

static int
s_bitlen(uint64_t v)
{
    int n = 0;
    while (v) {
        n++;
        v >>= 1;
    }
    return n;
}

/* Arrays of one Lagrangian run. */
typedef struct {
    int64_t *lam;                   /* nres × nthr: multipliers (2^F) */
    int64_t *S;                     /* suffix sums of lam per resource */
    int64_t *bestS;                 /* S of the best bound */
    int64_t *ST;                    /* S threshold-major: one job reads one row */
    int64_t *add;                   /* relaxed load per (resource, threshold) */
    int64_t *add2;                  /* the second thread's part of it */
} s_lag_t;

static void
s_lag_free(s_lag_t *g)
{
    free(g->lam);
    free(g->S);
    free(g->bestS);
    free(g->ST);
    free(g->add);
    free(g->add2);
}

/* Largest cost any reduced cost starts from and the largest use, to pick
 * the fixed-point scale. */
static void
s_ranges(const mcore_t *in, uint64_t *maxc, uint64_t *amax)
{
    *maxc = (uint64_t) in->penalty;
    *amax = 1;
    for (uint32_t j = 0; j < in->njobs; j++) {
        if (in->cutoff[j] != INT64_MAX && (uint64_t) in->cutoff[j] > *maxc)
            *maxc = (uint64_t) in->cutoff[j];
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            const mcore_cand_t *cd = &in->cands[c];
            uint64_t top = (uint64_t) (cd->cost > cd->lbcost ? cd->cost : cd->lbcost);
            for (uint32_t u = 0; u < cd->nuse; u++)
                if ((uint64_t) in->uses[cd->use_off + u].amount > *amax)
                    *amax = (uint64_t) in->uses[cd->use_off + u].amount;
            if (top > *maxc)
                *maxc = top;
        }
    }
}

/* The jobs j0 .. j1-1 of one evaluation: their part of L (2^F) and of
 * the relaxed loads. Two of these run in parallel on big instances; both
 * parts are integers, so the sum is the same in any order. */
typedef struct {
    const mcore_t *in;              /* instance */
    const s_lag_t *g;               /* multipliers (ST read) */
    uint32_t nt, j0, j1;            /* thresholds, jobs */
    int F;                          /* scale */
    int64_t *add;                   /* nres × nt relaxed loads (zeroed by the caller) */
    s_i128 L;                       /* sum of the jobs' best reduced costs */
} s_half_t;

static void *
s_half_run(void *arg)
{
    s_half_t *h = arg;
    const mcore_t *in = h->in;
    int F = h->F;
    int64_t pen = in->penalty << F;
    s_i128 L = 0;
    for (uint32_t j = h->j0; j < h->j1; j++) {
        uint32_t thr = in->job_thr[j];
        const int64_t *row = h->g->ST + (size_t) thr * in->nres;
        int64_t best = pen;
        int32_t bc = -1;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++) {
            const mcore_cand_t *cd = &in->cands[c];
            int64_t v = cd->lbcost << F;
            for (uint32_t u = 0; u < cd->nuse; u++) {
                const mcore_use_t *us = &in->uses[cd->use_off + u];
                v += us->amount * row[us->res];
            }
            if (v < best) {
                best = v;
                bc = (int32_t) c;
            }
        }
        if (in->cutoff[j] != INT64_MAX && (in->cutoff[j] << F) < best) {
            best = in->cutoff[j] << F;
            bc = -1;
        }
        L += best;
        if (bc >= 0) {
            const mcore_cand_t *cd = &in->cands[bc];
            for (uint32_t u = 0; u < cd->nuse; u++) {
                const mcore_use_t *us = &in->uses[cd->use_off + u];
                h->add[(size_t) us->res * h->nt + thr] += us->amount;
            }
        }
    }
    h->L = L;
    return NULL;
}

/* One evaluation of L(lam): fills add with the relaxed loads and returns
 * L scaled by 2^F. */
static s_i128
s_evaluate(const mcore_state_t *st, s_lag_t *g, int F)
{
    const mcore_t *in = st->in;
    uint32_t nt = st->nthr;
    size_t nrt = (size_t) in->nres * nt;
    for (uint32_t r = 0; r < in->nres; r++) {
        int64_t s = 0;
        for (uint32_t t = nt; t-- > 0;) {
            s += g->lam[(size_t) r * nt + t];
            g->S[(size_t) r * nt + t] = s;
            g->ST[(size_t) t * in->nres + r] = s;
        }
    }
    memset(g->add, 0, nrt * sizeof(int64_t));
    /* a second thread for big instances, if one can be had */
    uint32_t mid = g->add2 && in->cand_off[in->njobs] >= 50000 ? in->njobs / 2 : in->njobs;
    s_half_t h[2] = {{in, g, nt, 0, mid, F, g->add, 0}, {in, g, nt, mid, in->njobs, F, g->add2, 0}};
    pthread_t th;
    int threaded = 0;
    if (mid < in->njobs) {
        memset(g->add2, 0, nrt * sizeof(int64_t));
        threaded = pthread_create(&th, NULL, s_half_run, &h[1]) == 0;
    }
    s_half_run(&h[0]);
    if (threaded)
        pthread_join(th, NULL);
    else if (mid < in->njobs)
        s_half_run(&h[1]);
    s_i128 L = h[0].L + h[1].L;
    if (mid < in->njobs)
        for (size_t k = 0; k < nrt; k++)
            g->add[k] += g->add2[k];
    for (size_t k = 0; k < nrt; k++)
        L -= (s_i128) g->lam[k] * in->cap[k];
    return L;
}

int
mcore_lagrange(mcore_state_t *st, int64_t *lb_out, uint32_t *iters_out)
{
    const mcore_t *in = st->in;
    uint32_t nt = st->nthr;
    size_t nrt = (size_t) in->nres * nt, n = nrt ? nrt : 1;
    int rc = COFAB_ENOMEM;
    s_lag_t g = {calloc(n, sizeof(int64_t)), calloc(n, sizeof(int64_t)),
                 calloc(n, sizeof(int64_t)), calloc(n, sizeof(int64_t)),
                 calloc(n, sizeof(int64_t)), calloc(n, sizeof(int64_t))};
    if (!g.lam || !g.S || !g.bestS || !g.ST || !g.add || !g.add2)
        goto out;

    /* Scale: costs < 2^52 after the shift, S × amount <= 2^56 by the cap
     * on a multiplier; a reduced cost is below 2^52 + 8·2^56 < 2^63. */
    uint64_t maxc, amax;
    s_ranges(in, &maxc, &amax);
    int bl = s_bitlen(maxc);
    int F = bl >= 52 ? 0 : (52 - bl > 20 ? 20 : 52 - bl);
    int64_t lammax = (int64_t) (((uint64_t) 1 << 56) / (amax * nt));
    if (lammax < 1)
        lammax = 1;

    int64_t best_lb = INT64_MIN;
    int64_t theta_pm = 2000;
    /* lagr_iters is the count for up to MCORE_FULL_CANDS candidates;
     * above, the same work (iterations × candidates) is spread over fewer
     * iterations (at least 10). */
    uint64_t ncand = in->cand_off[in->njobs] ? in->cand_off[in->njobs] : 1;
    uint64_t work = (uint64_t) st->p->lagr_iters * MCORE_FULL_CANDS / ncand;
    uint32_t stall = 0, it = 0, N = st->p->lagr_iters;
    if (work < N)
        N = work > 10 ? (uint32_t) work : (N < 10 ? N : 10);
    uint32_t every = N / 4 ? N / 4 : 1;
    for (it = 0; it < N; it++) {
        s_i128 L = s_evaluate(st, &g, F);
        /* The optimum is an integer >= L / 2^F: round up. */
        s_i128 q = L >> F;
        if (L & (((s_i128) 1 << F) - 1))
            q++;
        int64_t lb = (int64_t) q;
        if (lb > best_lb) {
            best_lb = lb;
            stall = 0;
            memcpy(g.bestS, g.S, nrt * sizeof(int64_t));
        } else if (++stall >= 5) {
            theta_pm = theta_pm / 2 > 1 ? theta_pm / 2 : 1;
            stall = 0;
        }
        /* A plain cost greedy first (unless a first solution was given:
         * it is that greedy, completed), one under half-converged prices;
         * the final one uses the best multipliers. */
        if (it % every == 0 && !in->warm
            && (rc = mcore_construct(st, g.S, F, NULL, 1)) != 0)
            goto out;
        rc = COFAB_ENOMEM;
        if (best_lb >= st->best_obj)
            break;                          /* proved optimal */
        s_i128 norm2 = 0;
        for (uint32_t r = 0; r < in->nres; r++) {
            int64_t cum = 0;
            for (uint32_t t = 0; t < nt; t++) {
                size_t k = (size_t) r * nt + t;
                cum += g.add[k];
                int64_t gr = cum - in->cap[k];
                if (g.lam[k] == 0 && gr < 0)
                    gr = 0;
                g.add[k] = gr;              /* now the subgradient */
                norm2 += (s_i128) gr * gr;
            }
        }
        if (norm2 == 0)
            break;                          /* relaxed solution is feasible */
        s_i128 gap = ((s_i128) st->best_obj << F) - L;
        if (gap <= 0)
            break;
        for (size_t k = 0; k < nrt; k++) {
            if (g.add[k] == 0)
                continue;
            s_i128 d = (s_i128) theta_pm * gap * g.add[k] / ((s_i128) 1000 * norm2);
            s_i128 v = (s_i128) g.lam[k] + d;
            g.lam[k] = v < 0 ? 0 : v > lammax ? lammax : (int64_t) v;
        }
    }
    if ((rc = mcore_construct(st, g.bestS, F, NULL, 1)) != 0)
        goto out;
    /* Squeaky wheel: jobs the best solution leaves unplaced go first in a
     * new construction, a few rounds. */
    for (int round = 0; round < 4; round++) {
        uint32_t un = 0;
        for (uint32_t j = 0; j < in->njobs; j++)
            un += st->best[j] < 0 && in->cand_off[j + 1] > in->cand_off[j];
        if (!un || st->evals >= st->budget)
            break;
        if ((rc = mcore_construct(st, g.bestS, F, st->best, 1)) != 0)
            goto out;
    }
    *lb_out = best_lb;
    *iters_out = it;
    rc = 0;
out:
    s_lag_free(&g);
    return rc;
}
