/* cmd_match.c — `cofab match`: solve a JSON problem file or an OR-Library
 * GAP file and print assignments, cost, lower bound and gap.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/cli.h"
#include "cofab/error.h"
#include "cofab/matcher.h"
#include "cofab/problem.h"
#include "cofab/util.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
            "usage: cofab match --problem FILE [--json]\n"
            "       cofab match --gap FILE [--json] [--maximize]\n"
            "options:\n"
            "  --problem FILE   JSON problem (format cofab-match-problem, version 1)\n"
            "  --gap FILE       OR-Library generalized assignment file (minimisation)\n"
            "  --maximize       GAP costs are profits to maximise (OR-Library gap1..gap12)\n"
            "  --bnb-nodes N    exact-search node budget (0 disables it)\n"
            "  --json           print JSON (the problem result is the canonical bytes)\n");
}

static void
s_hex(const uint8_t *id, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < MATCHER_ID_LEN; i++) {
        out[2 * i] = hx[id[i] >> 4];
        out[2 * i + 1] = hx[id[i] & 15];
    }
    out[2 * MATCHER_ID_LEN] = '\0';
}

/* "1.234%" from parts per million, without floating point. */
static void
s_pct(int64_t ppm, char *out, size_t n)
{
    snprintf(out, n, "%" PRId64 ".%04" PRId64 "%%", ppm / 10000, ppm % 10000);
}

static int
s_problem(const char *path, int json, int64_t bnb)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[200];
    problem_doc_t *doc = NULL;
    matcher_result_t *res = NULL;
    int code = CLI_FAIL;
    int rc = util_read_file(path, PROBLEM_MAX_BYTES, &buf, &len);
    if (rc != 0) {
        fprintf(stderr, "cofab match: %s: %s\n", path, cofab_strerror(rc));
        goto out;
    }
    rc = problem_parse_json((const char *) buf, len, &doc, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "cofab match: %s: %s (%s)\n", path, err, cofab_errname(rc));
        goto out;
    }
    matcher_params_t p = *problem_doc_params(doc);
    if (bnb >= 0)
        p.bnb_nodes = (uint64_t) bnb;
    rc = matcher_solve(problem_doc_problem(doc), &p, &res);
    if (rc != 0) {
        fprintf(stderr, "cofab match: solve failed: %s\n", cofab_strerror(rc));
        goto out;
    }
    if (json) {
        char *j = NULL;
        size_t n = 0;
        if (matcher_result_json(res, &j, &n) != 0) {
            fprintf(stderr, "cofab match: out of memory\n");
            goto out;
        }
        fwrite(j, 1, n, stdout);
        fputc('\n', stdout);
        free(j);
        code = CLI_OK;
        goto out;
    }
    char hex[2 * MATCHER_ID_LEN + 1], hex2[2 * MATCHER_ID_LEN + 1], pct[32];
    uint32_t no = matcher_result_norders(res);
    for (uint32_t i = 0; i < no; i++) {
        const matcher_order_result_t *o = matcher_result_order(res, i);
        s_hex(o->id, hex);
        if (o->status != MATCHER_PLACED) {
            printf("order %s unplaced: %s\n", hex, matcher_status_name(o->status));
            continue;
        }
        if (o->has_runner_up)
            s_hex(o->runner_up, hex2);
        printf("order %s placed cost %" PRId64 " runner-up %s\n", hex, o->cost,
               o->has_runner_up ? hex2 : "-");
        for (uint32_t k = 0; k < o->npieces; k++) {
            const matcher_piece_t *pc = &o->pieces[k];
            s_hex(pc->factory, hex2);
            printf("  %s/%s qty %" PRId64 " at %s days %d-%d cost %" PRId64 "\n", pc->process,
                   pc->material, pc->qty, hex2, pc->first_day, pc->last_day, pc->cost);
        }
    }
    s_pct(matcher_result_gap_ppm(res), pct, sizeof pct);
    printf("orders %u placed %u unplaced %u\n", no, matcher_result_nplaced(res),
           no - matcher_result_nplaced(res));
    printf("cost %" PRId64 " objective %" PRId64 " lower bound %" PRId64 " gap %s%s\n",
           matcher_result_cost(res), matcher_result_objective(res),
           matcher_result_lower_bound(res), pct, matcher_result_optimal(res) ? " (optimal)" : "");
    uint8_t dg[32];
    if (matcher_result_digest(res, dg) == 0) {
        s_hex(dg, hex);
        printf("result sha256 %s\n", hex);
    }
    code = CLI_OK;
out:
    matcher_result_destroy(&res);
    problem_doc_destroy(&doc);
    free(buf);
    return code;
}

/* Solves instance g (profits turned into costs when maximizing). */
static int
s_gap_one(const matcher_gap_t *g, int maximize, const matcher_params_t *p, uint32_t k, int json)
{
    size_t mn = (size_t) g->m * g->n;
    int64_t top = 0;
    int64_t *c = malloc(mn * sizeof *c);
    if (!c)
        return COFAB_ENOMEM;
    for (size_t i = 0; i < mn; i++)
        top = g->cost[i] > top ? g->cost[i] : top;
    for (size_t i = 0; i < mn; i++)
        c[i] = maximize ? top - g->cost[i] : g->cost[i];
    matcher_gap_t h = {g->m, g->n, c, g->res, g->cap};
    matcher_gap_result_t r;
    int rc = matcher_gap_solve(&h, p, &r);
    free(c);
    if (rc != 0)
        return rc;
    /* maximise Σ profit = n·top − minimise Σ (top − profit) */
    int64_t shift = (int64_t) g->n * top;
    int64_t value = maximize ? shift - r.cost : r.cost;
    int64_t bound = maximize ? shift - r.lower_bound : r.lower_bound;
    int64_t diff = maximize ? bound - value : value - bound;
    int64_t ppm = (r.feasible && value > 0 && diff > 0) ? diff * 1000000 / value : 0;
    char pct[32];
    s_pct(ppm, pct, sizeof pct);
    if (json) {
        printf("%s{\"agents\":%u,\"jobs\":%u,\"feasible\":%s,\"optimal\":%s,\"%s\":%" PRId64
               ",\"%s\":%" PRId64 ",\"gap_ppm\":%" PRId64 ",\"assignment\":[",
               k ? "," : "", g->m, g->n, r.feasible ? "true" : "false",
               r.optimal ? "true" : "false", maximize ? "value" : "cost", value,
               maximize ? "upper_bound" : "lower_bound", bound, ppm);
        for (uint32_t j = 0; j < r.n; j++)
            printf("%s%d", j ? "," : "", r.agent[j] < 0 ? 0 : r.agent[j] + 1);
        printf("]}");
    } else {
        printf("problem %u: agents %u jobs %u %s %" PRId64 " %s %" PRId64 " gap %s %s\n",
               k + 1, g->m, g->n, maximize ? "value" : "cost", value,
               maximize ? "upper bound" : "lower bound", bound, pct,
               !r.feasible ? "infeasible" : r.optimal ? "optimal" : "feasible");
        printf("  assignment (agent per job, 1-based; 0 = none):");
        for (uint32_t j = 0; j < r.n; j++)
            printf(" %d", r.agent[j] < 0 ? 0 : r.agent[j] + 1);
        printf("\n");
    }
    matcher_gap_result_free(&r);
    return 0;
}

static int
s_gap(const char *path, int json, int maximize, int64_t bnb)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[200];
    problem_gapset_t *set = NULL;
    int code = CLI_FAIL;
    int rc = util_read_file(path, PROBLEM_MAX_BYTES, &buf, &len);
    if (rc != 0) {
        fprintf(stderr, "cofab match: %s: %s\n", path, cofab_strerror(rc));
        goto out;
    }
    rc = problem_parse_gap((const char *) buf, len, &set, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "cofab match: %s: %s (%s)\n", path, err, cofab_errname(rc));
        goto out;
    }
    matcher_params_t p;
    matcher_params_default(&p);
    if (bnb >= 0)
        p.bnb_nodes = (uint64_t) bnb;
    if (json)
        printf("{\"format\":\"cofab-match-gap\",\"version\":1,\"problems\":[");
    for (uint32_t k = 0; k < problem_gapset_count(set); k++) {
        rc = s_gap_one(problem_gapset_get(set, k), maximize, &p, k, json);
        if (rc != 0) {
            fprintf(stderr, "cofab match: instance %u: %s\n", k + 1, cofab_strerror(rc));
            goto out;
        }
    }
    if (json)
        printf("]}\n");
    code = CLI_OK;
out:
    problem_gapset_destroy(&set);
    free(buf);
    return code;
}

int
match_main(int argc, char **argv)
{
    const char *problem = NULL, *gap = NULL;
    int json = 0, maximize = 0;
    int64_t bnb = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--problem") && i + 1 < argc)
            problem = argv[++i];
        else if (!strcmp(argv[i], "--gap") && i + 1 < argc)
            gap = argv[++i];
        else if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--maximize"))
            maximize = 1;
        else if (!strcmp(argv[i], "--bnb-nodes") && i + 1 < argc) {
            char *end = NULL;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (!*argv[i] || *end || argv[i][0] == '-' || v > 100000000ULL) {
                fprintf(stderr, "cofab match: --bnb-nodes wants 0..100000000\n");
                return CLI_USAGE;
            }
            bnb = (int64_t) v;
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            s_usage(stdout);
            return CLI_OK;
        } else {
            fprintf(stderr, "cofab match: unexpected argument '%s'\n", argv[i]);
            s_usage(stderr);
            return CLI_USAGE;
        }
    }
    if ((problem != NULL) == (gap != NULL) || (maximize && !gap)) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    return problem ? s_problem(problem, json, bnb) : s_gap(gap, json, maximize, bnb);
}
