/* problem.h — readers for matcher input files: the versioned JSON problem
 * format (docs/matcher.md, "cofab-match-problem" version 1) and the
 * OR-Library generalized assignment (GAP) text format.
 *
 * Both readers take untrusted bytes: sizes are bounded, every field is
 * type- and range-checked, unknown JSON keys are refused, and a failure
 * returns an error code plus a one-line reason (never a crash). The
 * returned documents own all the memory the problems point into.
 */
#ifndef COFAB_PROBLEM_H
#define COFAB_PROBLEM_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/matcher.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PROBLEM_MAX_BYTES ((size_t) 64 << 20)  /* largest input file */
#define PROBLEM_MAX_CELLS 8000000              /* offers × horizon calendar cells */
#define PROBLEM_GAP_MAX_PROBLEMS 1000          /* instances per GAP file */
#define PROBLEM_GAP_MAX_TOTAL_CELLS 20000000   /* agents × jobs over the file */

/* A parsed JSON problem (opaque). */
typedef struct problem_doc_s problem_doc_t;

/* Parses a JSON problem from buf[0..len). On success *out is a new
 * document (caller destroys). Params start from matcher_params_default
 * and take the file's "params" overrides. Returns 0, COFAB_ETOOBIG (file
 * or a list over its limit), COFAB_EVERSION (format or version unknown),
 * COFAB_EMALFORMED (bad JSON, bad types, unknown keys, values out of
 * range, a problem matcher_problem_check refuses) or COFAB_ENOMEM; err
 * (if not NULL) receives a reason. */
int problem_parse_json(const char *buf, size_t len, problem_doc_t **out, char *err, size_t errlen);

/* The problem and parameters; valid until the document is destroyed. */
const matcher_problem_t *problem_doc_problem(const problem_doc_t *d);
const matcher_params_t *problem_doc_params(const problem_doc_t *d);

/* Frees the document; safe on NULL and twice. */
void problem_doc_destroy(problem_doc_t **self_p);

/* A parsed GAP file: one or more instances (opaque). */
typedef struct problem_gapset_s problem_gapset_t;

/* Parses the OR-Library GAP format: the number of instances P, then per
 * instance m (agents) and n (jobs), the m×n cost matrix, the m×n resource
 * matrix and the m capacities, all non-negative decimal integers
 * separated by white space. Returns 0, COFAB_ETRUNCATED (ends early),
 * COFAB_ETRAILING (tokens after the last instance), COFAB_ETOOBIG (a size
 * over its limit), COFAB_EMALFORMED (not a non-negative integer, value out
 * of range) or COFAB_ENOMEM; err gets a reason with the token number. */
int problem_parse_gap(const char *buf, size_t len, problem_gapset_t **out, char *err,
                      size_t errlen);

uint32_t problem_gapset_count(const problem_gapset_t *s);
/* Instance i (< count); valid until the set is destroyed. */
const matcher_gap_t *problem_gapset_get(const problem_gapset_t *s, uint32_t i);

/* Frees the set; safe on NULL and twice. */
void problem_gapset_destroy(problem_gapset_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
