/* fuzz_problem.c — libFuzzer target: the JSON problem reader, and for
 * small accepted problems a solve with small budgets plus serialisation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cofab/matcher.h"
#include "cofab/problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    problem_doc_t *d = NULL;
    char err[160];
    if (problem_parse_json((const char *) data, size, &d, err, sizeof err) != 0)
        return 0;
    const matcher_problem_t *pb = problem_doc_problem(d);
    if (pb->norders <= 64 && pb->nfactories <= 32) {
        matcher_params_t p = *problem_doc_params(d);
        p.lagr_iters = p.lagr_iters > 20 ? 20 : p.lagr_iters;
        p.ls_budget = p.ls_budget > 20000 ? 20000 : p.ls_budget;
        p.bnb_nodes = p.bnb_nodes > 2000 ? 2000 : p.bnb_nodes;
        matcher_result_t *r = NULL;
        if (matcher_solve(pb, &p, &r) == 0) {
            char *j = NULL;
            size_t n = 0;
            if (matcher_result_lower_bound(r) > matcher_result_objective(r))
                abort();                    /* the bound must never exceed the objective */
            if (matcher_result_json(r, &j, &n) == 0)
                free(j);
            matcher_result_destroy(&r);
        }
    }
    problem_doc_destroy(&d);
    return 0;
}
