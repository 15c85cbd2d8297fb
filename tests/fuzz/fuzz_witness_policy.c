/* fuzz_witness_policy.c — libFuzzer target for the auditor's witness policy file parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cofab/error.h"
#include "cofab/witness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    witness_policy_t *p = malloc(sizeof *p);
    char why[160];
    if (!p)
        return 0;
    int rc = witness_policy_parse(p, (const char *) data, size, why, sizeof why);
    if (rc == 0) {
        /* Invariants of a parsed policy. */
        if (p->n > WITNESS_MAX || p->quorum > p->n || size > WITNESS_POLICY_MAX)
            abort();
        for (uint32_t i = 0; i < p->n; i++)
            for (uint32_t j = i + 1; j < p->n; j++)
                if (!strcmp(p->witnesses[i].name, p->witnesses[j].name))
                    abort(); /* duplicates are refused */
    } else if (rc >= 0 || strnlen(why, sizeof why) == sizeof why || why[0] == 0) {
        abort(); /* every refusal says why, NUL-terminated */
    }
    free(p);
    return 0;
}
