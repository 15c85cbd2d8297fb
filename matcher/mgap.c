/* mgap.c — the generalized assignment (OR-Library GAP) solve path: the
 * instance becomes a core problem with one resource per agent and one
 * capacity threshold, solved by the same Lagrangian + local search core.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

typedef struct {
    int64_t cost;                   /* sort key */
    uint32_t agent;                 /* tie-break */
} s_opt_t;

static int
s_opt_cmp(const void *a, const void *b)
{
    const s_opt_t *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->agent < y->agent ? -1 : x->agent > y->agent;
}

static int
s_check(const matcher_gap_t *g)
{
    if (!g || g->m < 1 || g->n < 1 || g->m > MATCHER_GAP_MAX_AGENTS || g->n > MATCHER_GAP_MAX_JOBS
        || (uint64_t) g->m * g->n > MATCHER_GAP_MAX_CELLS || !g->cost || !g->res || !g->cap)
        return COFAB_EINVAL;
    size_t mn = (size_t) g->m * g->n;
    for (size_t k = 0; k < mn; k++)
        if (g->cost[k] < 0 || g->cost[k] > MATCHER_GAP_MAX_VALUE || g->res[k] < 0
            || g->res[k] > MATCHER_GAP_MAX_VALUE)
            return COFAB_EINVAL;
    for (uint32_t i = 0; i < g->m; i++)
        if (g->cap[i] < 0 || g->cap[i] > MATCHER_GAP_MAX_CAP)
            return COFAB_EINVAL;
    return 0;
}

int
matcher_gap_solve(const matcher_gap_t *g, const matcher_params_t *params, matcher_gap_result_t *res)
{
    matcher_params_t def;
    if (!params) {
        matcher_params_default(&def);
        params = &def;
    }
    if (!res || matcher_params_check(params) != 0 || s_check(g) != 0)
        return COFAB_EINVAL;
    memset(res, 0, sizeof *res);
    int rc = COFAB_ENOMEM;
    uint32_t m = g->m, n = g->n;
    size_t mn = (size_t) m * n;
    uint32_t *thr = calloc(n, sizeof *thr);
    uint32_t *off = malloc((n + 1) * sizeof *off);
    mcore_cand_t *cands = malloc(mn * sizeof *cands);
    mcore_use_t *uses = malloc(mn * sizeof *uses);
    int64_t *cutoff = malloc(n * sizeof *cutoff);
    s_opt_t *opt = malloc(m * sizeof *opt);
    int32_t *choice = malloc(n * sizeof *choice);
    res->agent = malloc(n * sizeof *res->agent);
    if (!thr || !off || !cands || !uses || !cutoff || !opt || !choice || !res->agent)
        goto out;
    /* Agents whose capacity cannot hold the job are left out: no
     * feasible solution uses them, so the bound stays valid. */
    int64_t penalty = 1;
    uint32_t nc = 0;
    off[0] = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t k = 0;
        int64_t worst = 0;
        for (uint32_t i = 0; i < m; i++) {
            if (g->cost[(size_t) i * n + j] > worst)
                worst = g->cost[(size_t) i * n + j];
            if (g->res[(size_t) i * n + j] <= g->cap[i])
                opt[k++] = (s_opt_t){g->cost[(size_t) i * n + j], i};
        }
        penalty += worst;
        qsort(opt, k, sizeof *opt, s_opt_cmp);
        for (uint32_t q = 0; q < k; q++) {
            uint32_t i = opt[q].agent;
            uses[nc] = (mcore_use_t){i, UINT32_MAX, g->res[(size_t) i * n + j]};
            cands[nc] = (mcore_cand_t){i, nc, 1, 1, opt[q].cost, opt[q].cost};
            nc++;
        }
        off[j + 1] = nc;
        cutoff[j] = INT64_MAX;
    }
    /* Any complete assignment costs less than one unplaced job. */
    mcore_t core = {n, m, 1, 0, m, thr, off, cands, uses, g->cap, NULL, cutoff, penalty, NULL, 1};
    mcore_stats_t st;
    if ((rc = mcore_solve(&core, params, choice, &st)) != 0)
        goto out;
    res->n = n;
    res->feasible = 1;
    for (uint32_t j = 0; j < n; j++) {
        if (choice[j] < 0) {
            res->agent[j] = -1;
            res->feasible = 0;
            continue;
        }
        res->agent[j] = (int32_t) cands[choice[j]].agent;
        res->cost += cands[choice[j]].cost;
    }
    res->lower_bound = st.lower_bound;
    res->optimal = res->feasible && st.optimal;
    rc = 0;
out:
    if (rc != 0)
        matcher_gap_result_free(res);
    free(thr);
    free(off);
    free(cands);
    free(uses);
    free(cutoff);
    free(opt);
    free(choice);
    return rc;
}

void
matcher_gap_result_free(matcher_gap_result_t *res)
{
    if (!res)
        return;
    free(res->agent);
    res->agent = NULL;
    res->n = 0;
}
