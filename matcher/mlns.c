/* mlns.c — the matcher core's large-neighbourhood search for mid-size
 * instances: the jobs of two factories (and the jobs elsewhere that would
 * rather be there) are taken out and put back by an exact depth-first
 * branch and bound over their places at those two factories, with a node
 * budget. It finds the multi-job exchanges (several small jobs for one
 * big one, packings of the nested due-day capacity) that single shifts
 * and depth-2 ejection chains cannot reach.
 */
#include "cofab/matcher.h"

#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"

#define S_MAXS 40                   /* jobs per sub-problem */
#define S_MAXO 4                    /* places per job: where it is, one per agent, one outside */
#define S_NODES 4000                /* branch-and-bound nodes per sub-problem */
#define S_GROUP 2                   /* agents per sub-problem (three: worse within the node limit) */
#define S_PARTNERS 6                /* partners tried per agent (3, 4, 8, 10: worse) */

_Static_assert(S_MAXO >= S_GROUP + 1, "room for the current place, the group's and one outside");

/* One sub-problem: jobs, their places, the search's bookkeeping. */
typedef struct {
    uint32_t n;                     /* jobs */
    uint32_t job[S_MAXS];           /* job index, in depth order */
    int32_t was[S_MAXS];            /* place before (candidate or -1) */
    int32_t opt[S_MAXS][S_MAXO];    /* places allowed */
    uint32_t nopt[S_MAXS];
    int32_t cur[S_MAXS];            /* place in the current branch */
    int32_t sol[S_MAXS];            /* best places found */
    int64_t best;                   /* objective of sol */
    int found;                      /* sol beats the start */
    uint64_t nodes;                 /* nodes used */
    uint64_t limit;                 /* node limit */
} s_sub_t;

/* Cost of place c without setups (the penalty for -1). */
static int64_t
s_base(const mcore_state_t *st, int32_t c)
{
    return c < 0 ? st->in->penalty : st->in->cands[c].cost;
}

static int
s_fits(const mcore_state_t *st, int32_t c, uint32_t thr)
{
    return c < 0 || mcore_fits(st, c, thr);
}

static void
s_dfs(mcore_state_t *st, s_sub_t *s, uint32_t i)
{
    if (s->nodes++ >= s->limit)
        return;
    if (i == s->n) {
        if (st->obj < s->best) {
            s->best = st->obj;
            s->found = 1;
            memcpy(s->sol, s->cur, s->n * sizeof(int32_t));
        }
        return;
    }
    /* Bound: what is placed so far (the rest still carry the penalty)
     * plus each remaining job at its cheapest place that fits now, setups
     * left out (they only add). */
    int64_t bound = st->obj - (int64_t) (s->n - i) * st->in->penalty;
    for (uint32_t d = i; d < s->n && bound < s->best; d++) {
        uint32_t thr = st->in->job_thr[s->job[d]];
        int64_t m = INT64_MAX;
        for (uint32_t k = 0; k < s->nopt[d]; k++) {
            int64_t v = s_base(st, s->opt[d][k]);
            if (v < m && s_fits(st, s->opt[d][k], thr))
                m = v;
        }
        if (m == INT64_MAX)
            return;                         /* a job has no place left */
        bound += m;
    }
    if (bound >= s->best)
        return;
    uint32_t j = s->job[i], thr = st->in->job_thr[j];
    for (uint32_t k = 0; k < s->nopt[i] && s->nodes < s->limit; k++) {
        int32_t c = s->opt[i][k];
        if (c < 0 || !mcore_fits(st, c, thr))
            continue;
        mcore_assign(st, j, c);
        s->cur[i] = c;
        s_dfs(st, s, i + 1);
        mcore_assign(st, j, -1);
    }
    for (uint32_t k = 0; k < s->nopt[i]; k++)
        if (s->opt[i][k] < 0) {             /* stays unplaced (only if it was) */
            s->cur[i] = -1;
            s_dfs(st, s, i + 1);
        }
}

/* Candidate of job j at agent a, or -1. */
static int32_t
s_at(const mcore_state_t *st, uint32_t j, uint32_t a)
{
    const mcore_t *in = st->in;
    for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++)
        if (in->cands[c].agent == a && in->cands[c].primal_ok)
            return (int32_t) c;
    return -1;
}

static int64_t
s_amount(const mcore_state_t *st, int32_t c)
{
    int64_t a = 0;
    if (c < 0)
        return 0;
    for (uint32_t u = 0; u < st->in->cands[c].nuse; u++)
        a += st->in->uses[st->in->cands[c].use_off + u].amount;
    return a;
}

/* 1 if agent a is one of the ng agents of G. */
static int
s_in(const uint32_t *G, uint32_t ng, uint32_t a)
{
    for (uint32_t k = 0; k < ng; k++)
        if (G[k] == a)
            return 1;
    return 0;
}

/* Adds job j with its places at the agents of G (and where it is) to s;
 * 0 if it has no other place there or s is full. */
static int
s_add(const mcore_state_t *st, s_sub_t *s, uint32_t j, const uint32_t *G, uint32_t ng)
{
    if (s->n >= S_MAXS)
        return 0;
    int32_t c0 = st->choice[j];
    uint32_t i = s->n, n = 0;
    s->opt[i][n++] = c0;
    for (uint32_t k = 0; k < ng; k++) {
        int32_t c = s_at(st, j, G[k]);
        if (c >= 0 && c != c0)
            s->opt[i][n++] = c;
    }
    int inside = c0 >= 0 && s_in(G, ng, st->in->cands[c0].agent);
    if (n == 1 && c0 >= 0 && !inside)
        return 0;
    if (inside) {
        /* and its cheapest place outside G that has room now, so the
         * re-packing can also push a job out (a chain of any shape) */
        const mcore_t *in = st->in;
        int32_t out = -1;
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1] && out < 0; c++)
            if (in->cands[c].primal_ok && !s_in(G, ng, in->cands[c].agent)
                && mcore_fits(st, (int32_t) c, in->job_thr[j]))
                out = (int32_t) c;          /* sorted by bound cost: near the cheapest */
        if (out >= 0)
            s->opt[i][n++] = out;
    }
    /* cheapest first, so the first leaf is good and the bound bites */
    for (uint32_t x = 1; x < n; x++)
        for (uint32_t y = x; y > 0 && s_base(st, s->opt[i][y]) < s_base(st, s->opt[i][y - 1]); y--) {
            int32_t t = s->opt[i][y];
            s->opt[i][y] = s->opt[i][y - 1];
            s->opt[i][y - 1] = t;
        }
    s->nopt[i] = n;
    s->job[i] = j;
    s->was[i] = c0;
    s->n++;
    return 1;
}

/* Re-solves the jobs of agents A and B (and up to S_MAXS in all, with
 * the jobs placed elsewhere that are cheaper at A or B) exactly within
 * the node limit. Applies the best packing if it lowers the objective;
 * returns 1 then. */
static int
s_group(mcore_state_t *st, s_sub_t *s, const uint32_t *G, uint32_t ng, const uint32_t *ajobs,
        const uint32_t *aoff)
{
    const mcore_t *in = st->in;
    s->n = 0;
    for (uint32_t g = 0; g < ng; g++)
        for (int32_t k = st->head[G[g]]; k >= 0; k = st->next[k])
            s_add(st, s, (uint32_t) k, G, ng);
    /* jobs elsewhere (or unplaced) that are cheaper at an agent of G, in
     * job order */
    for (uint32_t g = 0; g < ng; g++) {
        uint32_t a = G[g];
        for (uint32_t x = aoff[a]; x < aoff[a + 1] && s->n < S_MAXS; x++) {
            uint32_t j = ajobs[x];
            int32_t c0 = st->choice[j];
            if (c0 >= 0 && s_in(G, ng, in->cands[c0].agent))
                continue;
            int32_t c = s_at(st, j, a);
            if (c < 0 || s_base(st, c) >= s_base(st, c0))
                continue;
            int dup = 0;
            for (uint32_t i = 0; i < s->n && !dup; i++)
                dup = s->job[i] == j;
            if (!dup)
                s_add(st, s, j, G, ng);
        }
    }
    if (s->n < 2)
        return 0;
    /* depth order: biggest first, so infeasible branches die early */
    for (uint32_t x = 1; x < s->n; x++)
        for (uint32_t y = x; y > 0 && s_amount(st, s->was[y]) > s_amount(st, s->was[y - 1]); y--) {
            uint32_t tj = s->job[y];
            s->job[y] = s->job[y - 1];
            s->job[y - 1] = tj;
            int32_t tw = s->was[y];
            s->was[y] = s->was[y - 1];
            s->was[y - 1] = tw;
            int32_t to[S_MAXO];
            memcpy(to, s->opt[y], sizeof to);
            memcpy(s->opt[y], s->opt[y - 1], sizeof to);
            memcpy(s->opt[y - 1], to, sizeof to);
            uint32_t tn = s->nopt[y];
            s->nopt[y] = s->nopt[y - 1];
            s->nopt[y - 1] = tn;
        }
    s->best = st->obj;
    s->found = 0;
    s->nodes = 0;
    for (uint32_t i = 0; i < s->n; i++)
        mcore_assign(st, s->job[i], -1);
    s_dfs(st, s, 0);
    st->evals += s->nodes;
    const int32_t *to = s->found ? s->sol : s->was;
    for (uint32_t i = 0; i < s->n; i++)
        if (to[i] >= 0)
            mcore_assign(st, s->job[i], to[i]);
    return s->found;
}

int
mcore_lns(mcore_state_t *st, uint64_t budget)
{
    const mcore_t *in = st->in;
    if (budget == 0 || in->nagents < 2)
        return 0;
    uint32_t nc = in->cand_off[in->njobs];
    uint32_t *aoff = calloc((size_t) in->nagents + 1, sizeof *aoff);
    uint32_t *ajobs = malloc(((size_t) nc + 1) * sizeof *ajobs);
    uint32_t *tally = calloc((size_t) in->nagents + 1, sizeof *tally);
    s_sub_t *s = malloc(sizeof *s);
    int rc = COFAB_ENOMEM;
    if (!aoff || !ajobs || !tally || !s)
        goto out;
    /* agent -> jobs with a candidate there, in job order (counting sort) */
    for (uint32_t c = 0; c < nc; c++)
        aoff[in->cands[c].agent + 1]++;
    for (uint32_t a = 0; a < in->nagents; a++)
        aoff[a + 1] += aoff[a];
    for (uint32_t j = 0; j < in->njobs; j++)
        for (uint32_t c = in->cand_off[j]; c < in->cand_off[j + 1]; c++)
            ajobs[aoff[in->cands[c].agent] + tally[in->cands[c].agent]++] = j;
    s->limit = S_NODES;
    mcore_load_best(st);
    uint64_t end = st->evals + budget;
    int improved = 1;
    while (improved && st->evals < end) {
        improved = 0;
        for (uint32_t A = 0; A < in->nagents && st->evals < end; A++) {
            if (st->head[A] < 0)
                continue;
            /* partners: agents where A's jobs could also go, most first */
            memset(tally, 0, in->nagents * sizeof *tally);
            for (int32_t k = st->head[A]; k >= 0; k = st->next[k])
                for (uint32_t c = in->cand_off[k]; c < in->cand_off[k + 1]; c++)
                    if (in->cands[c].agent != A && in->cands[c].primal_ok)
                        tally[in->cands[c].agent]++;
            uint32_t part[S_PARTNERS], np = 0;
            for (; np < S_PARTNERS; np++) {
                uint32_t B = UINT32_MAX, top = 0;
                for (uint32_t a = 0; a < in->nagents; a++)
                    if (tally[a] > top) {
                        top = tally[a];
                        B = a;
                    }
                if (B == UINT32_MAX)
                    break;
                tally[B] = 0;
                part[np] = B;
            }
            for (uint32_t x = 0; x + S_GROUP - 2 < np && st->evals < end; x++) {
                uint32_t G[S_GROUP] = {A};
                for (uint32_t g = 1; g < S_GROUP; g++)
                    G[g] = part[(x + g - 1) % np];
                if (s_group(st, s, G, S_GROUP, ajobs, aoff)) {
                    improved = 1;
                    mcore_keep_if_better(st);
                }
            }
        }
        if (improved) {
            /* the new packing may open plain shifts and ejections */
            uint64_t keep = st->budget;
            st->budget = end;
            mcore_local_search(st);
            st->budget = keep;
            mcore_keep_if_better(st);
        }
    }
    rc = 0;
out:
    free(aoff);
    free(ajobs);
    free(tally);
    free(s);
    return rc;
}
