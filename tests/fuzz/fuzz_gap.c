/* fuzz_gap.c — libFuzzer target: the OR-Library GAP reader, and for small
 * accepted instances a solve whose assignment is checked for capacity. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cofab/matcher.h"
#include "cofab/problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    problem_gapset_t *s = NULL;
    char err[160];
    if (problem_parse_gap((const char *) data, size, &s, err, sizeof err) != 0)
        return 0;
    const matcher_gap_t *g = problem_gapset_get(s, 0);
    if ((size_t) g->m * g->n <= 2000) {
        matcher_params_t p;
        matcher_params_default(&p);
        p.lagr_iters = 20;
        p.ls_budget = 20000;
        p.bnb_nodes = 2000;
        matcher_gap_result_t r;
        if (matcher_gap_solve(g, &p, &r) == 0) {
            int64_t *load = calloc(g->m, sizeof *load);
            for (uint32_t j = 0; load && j < r.n; j++)
                if (r.agent[j] >= 0)
                    load[r.agent[j]] += g->res[(size_t) r.agent[j] * g->n + j];
            for (uint32_t i = 0; load && i < g->m; i++)
                if (load[i] > g->cap[i])
                    abort();                /* an overloaded agent is a solver bug */
            if (r.feasible && r.lower_bound > r.cost)
                abort();
            free(load);
            matcher_gap_result_free(&r);
        }
    }
    problem_gapset_destroy(&s);
    return 0;
}
