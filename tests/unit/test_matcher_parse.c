/* test_matcher_parse.c — the matcher's file readers: the JSON problem
 * format and the OR-Library GAP format, good files and hostile ones.
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
#include "cofab/problem.h"
#include "cofab/util.h"

static char *
slurp(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    assert_int_equal(util_read_file(path, PROBLEM_MAX_BYTES, &buf, len), 0);
    return (char *) buf;
}

static int
parse_str(const char *s, char *err, size_t errlen)
{
    problem_doc_t *d = NULL;
    int rc = problem_parse_json(s, strlen(s), &d, err, errlen);
    assert_true((rc == 0) == (d != NULL));
    problem_doc_destroy(&d);
    return rc;
}

static void
test_example_problem(void **state)
{
    (void) state;
    size_t len = 0;
    char *buf = slurp("tests/matcher/example.json", &len);
    char err[200];
    problem_doc_t *d = NULL;
    assert_int_equal(problem_parse_json(buf, len, &d, err, sizeof err), 0);
    const matcher_problem_t *pb = problem_doc_problem(d);
    assert_int_equal(pb->horizon, 10);
    assert_int_equal(pb->nfactories, 3);
    assert_int_equal(pb->norders, 5);
    assert_int_equal(pb->factories[0].offers[1].load[0], 50);
    assert_int_equal(pb->factories[0].offers[0].cap[9], 40);
    assert_int_equal(pb->factories[1].reserve_pm, 50);
    assert_int_equal(pb->factories[0].reserve_pm, -1);
    assert_true(pb->orders[2].split);
    assert_int_equal(pb->orders[3].nexclude, 1);
    assert_int_equal(problem_doc_params(d)->batch_window, 7);
    matcher_result_t *r = NULL;
    assert_int_equal(matcher_solve(pb, problem_doc_params(d), &r), 0);
    assert_int_equal(matcher_result_norders(r), 5);
    assert_int_equal(matcher_result_order(r, 3)->status, MATCHER_NO_CAPABLE); /* excluded */
    assert_int_equal(matcher_result_order(r, 4)->status, MATCHER_NO_CAPABLE); /* baking */
    assert_int_equal(matcher_result_order(r, 2)->status, MATCHER_PLACED);     /* split */
    assert_true(matcher_result_order(r, 2)->npieces >= 2);
    assert_true(matcher_result_lower_bound(r) <= matcher_result_objective(r));
    matcher_result_destroy(&r);
    problem_doc_destroy(&d);
    problem_doc_destroy(&d);
    assert_null(d);

    /* truncated anywhere: never accepted, never a crash */
    for (size_t cut = 0; cut < len - 2; cut += 7) {
        problem_doc_t *t = NULL;
        int rc = problem_parse_json(buf, cut, &t, err, sizeof err);
        assert_int_equal(rc, COFAB_EMALFORMED);
        assert_null(t);
    }
    free(buf);
}

#define HEAD "{\"format\":\"cofab-match-problem\",\"version\":1,\"horizon\":3,"
#define FID "\"1111111111111111111111111111111111111111111111111111111111111111\""
#define OID "\"a000000000000000000000000000000000000000000000000000000000000001\""
#define OFFER "{\"process\":\"sewing\",\"materials\":[\"cotton\"],\"unit_price\":5,\"capacity\":%s}"
#define FAC "{\"id\":" FID ",\"lat_e6\":0,\"lon_e6\":0,\"offers\":[" OFFER "]}"
#define ORD "{\"id\":" OID ",\"items\":[{\"process\":\"sewing\",\"material\":\"cotton\",\"qty\":%s}]," \
            "\"due_day\":2,\"lat_e6\":0,\"lon_e6\":0}"

static int
parse_fmt(const char *cap, const char *qty, char *err, size_t errlen)
{
    char buf[2048];
    snprintf(buf, sizeof buf, HEAD "\"factories\":[" FAC "],\"orders\":[" ORD "]}", cap, qty);
    return parse_str(buf, err, errlen);
}

static void
test_problem_errors(void **state)
{
    (void) state;
    char err[200];
    assert_int_equal(parse_fmt("10", "4", err, sizeof err), 0);
    assert_int_equal(parse_fmt("[1,2,3]", "4", err, sizeof err), 0);
    assert_int_equal(parse_fmt("[1,2]", "4", err, sizeof err), COFAB_EMALFORMED);   /* length */
    assert_int_equal(parse_fmt("-1", "4", err, sizeof err), COFAB_EMALFORMED);      /* negative */
    assert_int_equal(parse_fmt("10", "-4", err, sizeof err), COFAB_EMALFORMED);
    assert_non_null(strstr(err, "qty"));
    assert_int_equal(parse_fmt("10", "4.5", err, sizeof err), COFAB_EMALFORMED);    /* not int */
    assert_int_equal(parse_fmt("10", "\"4\"", err, sizeof err), COFAB_EMALFORMED);
    assert_int_equal(parse_fmt("10", "99999999999999999999", err, sizeof err), COFAB_EMALFORMED);
    assert_int_equal(parse_str("garbage", err, sizeof err), COFAB_EMALFORMED);
    assert_int_equal(parse_str("", err, sizeof err), COFAB_EMALFORMED);
    assert_int_equal(parse_str("[]", err, sizeof err), COFAB_EMALFORMED);
    assert_int_equal(parse_str(HEAD "\"factories\":[],\"orders\":[]}", err, sizeof err), 0);
    assert_int_equal(parse_str(HEAD "\"factories\":[],\"orders\":[],\"extra\":1}", err, sizeof err),
                     COFAB_EMALFORMED);
    assert_non_null(strstr(err, "extra"));
    assert_int_equal(parse_str(HEAD "\"factories\":[],\"orders\":[],\"orders\":[]}", err,
                               sizeof err), COFAB_EMALFORMED);                    /* duplicate key */
    assert_int_equal(parse_str("{\"format\":\"cofab-match-problem\",\"version\":2,\"horizon\":3,"
                               "\"factories\":[],\"orders\":[]}", err, sizeof err), COFAB_EVERSION);
    assert_int_equal(parse_str("{\"format\":\"other\",\"version\":1,\"horizon\":3,"
                               "\"factories\":[],\"orders\":[]}", err, sizeof err), COFAB_EVERSION);
    assert_int_equal(parse_str("{\"format\":\"cofab-match-problem\",\"version\":1,\"horizon\":400,"
                               "\"factories\":[],\"orders\":[]}", err, sizeof err),
                     COFAB_EMALFORMED);
    assert_int_equal(parse_str(HEAD "\"params\":{\"max_split\":0},\"factories\":[],\"orders\":[]}",
                               err, sizeof err), COFAB_EMALFORMED);
    assert_int_equal(parse_str(HEAD "\"params\":{\"bogus\":1},\"factories\":[],\"orders\":[]}",
                               err, sizeof err), COFAB_EMALFORMED);
    /* bad names and ids */
    char buf[2048];
    snprintf(buf, sizeof buf, HEAD "\"factories\":[" FAC "],\"orders\":[]}", "1");
    char *p = strstr(buf, "sewing");
    p[0] = 'S';
    assert_int_equal(parse_str(buf, err, sizeof err), COFAB_EMALFORMED);
    snprintf(buf, sizeof buf, HEAD "\"factories\":[" FAC "],\"orders\":[]}", "1");
    p = strstr(buf, "1111");
    p[0] = 'g';
    assert_int_equal(parse_str(buf, err, sizeof err), COFAB_EMALFORMED);
    /* the same factory twice */
    snprintf(buf, sizeof buf, HEAD "\"factories\":[" FAC "," FAC "],\"orders\":[]}", "1", "1");
    assert_int_equal(parse_str(buf, err, sizeof err), COFAB_EMALFORMED);
    assert_non_null(strstr(err, "duplicate"));
    /* oversize input is refused before parsing */
    char *big = malloc(PROBLEM_MAX_BYTES + 1);
    assert_non_null(big);
    memset(big, ' ', PROBLEM_MAX_BYTES + 1);
    problem_doc_t *d = NULL;
    assert_int_equal(problem_parse_json(big, PROBLEM_MAX_BYTES + 1, &d, err, sizeof err),
                     COFAB_ETOOBIG);
    assert_null(d);
    free(big);
}

static int
gap_str(const char *s, problem_gapset_t **out)
{
    char err[200];
    int rc = problem_parse_gap(s, strlen(s), out, err, sizeof err);
    assert_true(rc == 0 || *out == NULL);
    return rc;
}

static void
test_gap_files(void **state)
{
    (void) state;
    size_t len = 0;
    char *buf = slurp("tests/matcher/gap/gap1.txt", &len);
    char err[200];
    problem_gapset_t *s = NULL;
    assert_int_equal(problem_parse_gap(buf, len, &s, err, sizeof err), 0);
    assert_int_equal(problem_gapset_count(s), 5);
    const matcher_gap_t *g = problem_gapset_get(s, 0);
    assert_int_equal(g->m, 5);
    assert_int_equal(g->n, 15);
    assert_int_equal(g->cost[0], 17);
    assert_int_equal(g->res[0], 8);
    assert_int_equal(g->cap[4], 33);
    assert_null(problem_gapset_get(s, 5));
    /* published optimum of gap1 instance 1 is 336 (maximisation) */
    int64_t *c = malloc((size_t) g->m * g->n * sizeof *c);
    assert_non_null(c);
    for (size_t k = 0; k < (size_t) g->m * g->n; k++)
        c[k] = 25 - g->cost[k];
    matcher_gap_t h = {g->m, g->n, c, g->res, g->cap};
    matcher_gap_result_t r;
    assert_int_equal(matcher_gap_solve(&h, NULL, &r), 0);
    assert_true(r.feasible);
    assert_true(r.optimal);
    assert_int_equal(25 * 15 - r.cost, 336);
    int64_t load[5] = {0};
    for (uint32_t j = 0; j < r.n; j++) {                 /* independent capacity check */
        assert_true(r.agent[j] >= 0 && r.agent[j] < 5);
        load[r.agent[j]] += g->res[(size_t) r.agent[j] * g->n + j];
    }
    for (int i = 0; i < 5; i++)
        assert_true(load[i] <= g->cap[i]);
    matcher_gap_result_free(&r);
    matcher_gap_result_free(&r);
    free(c);
    problem_gapset_destroy(&s);
    problem_gapset_destroy(&s);

    /* truncated at every token boundary */
    for (size_t cut = 0; cut + 1 < len; cut++) {
        if (buf[cut] != ' ' && buf[cut] != '\n')
            continue;
        assert_int_equal(problem_parse_gap(buf, cut, &s, err, sizeof err), COFAB_ETRUNCATED);
        assert_null(s);
    }
    free(buf);
    assert_int_equal(gap_str("1 2 2  1 2 3 4  1 1 1 1  5 5", &s), 0);
    problem_gapset_destroy(&s);
    assert_int_equal(gap_str("1 2 2  1 2 3 4  1 1 1 1  5 5 7", &s), COFAB_ETRAILING);
    assert_int_equal(gap_str("1 2 2  1 2 3 4  1 1 1 1  5", &s), COFAB_ETRUNCATED);
    assert_int_equal(gap_str("1 2 2  1 -2 3 4  1 1 1 1  5 5", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("1 2 2  1 2 x 4  1 1 1 1  5 5", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("1 2 2  1 2 3 4  1 1 1 1  5 5.0", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("garbage", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("", &s), COFAB_ETRUNCATED);
    assert_int_equal(gap_str("0", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("1 0 5", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("1 2 2  1 2 3 2000000  1 1 1 1  5 5", &s), COFAB_EMALFORMED);
    assert_int_equal(gap_str("1 1001 2", &s), COFAB_ETOOBIG);
    assert_int_equal(gap_str("5000 2 2", &s), COFAB_ETOOBIG);
    /* declared sizes far beyond the bytes present: refused without allocating */
    assert_int_equal(gap_str("1 1000 10000 1 2 3", &s), COFAB_ETRUNCATED);
    assert_int_equal(gap_str("1 2 2  1 2 3 4  1 1 1 1  5 99999999999999999", &s),
                     COFAB_EMALFORMED);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_problem),
        cmocka_unit_test(test_problem_errors),
        cmocka_unit_test(test_gap_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
