/* audit_rules.h — the alliance's rules replayed by an auditor: authorization, the order state machine, the hub's decisions.
 *
 * audit_verify() checks what any signed log must satisfy; this module adds
 * what cofab's rules say on top, as an audit_hook_t. It replays every
 * record, in ledger order, through the very apply hook the hub and the
 * replicas run (policy_apply) into a scratch ledger, so that:
 *   - a record whose author may not write its kind at that point of the
 *     ledger (membership as it stood then) is named, with the rule broken;
 *   - an illegal order transition (a status by a factory the order is not
 *     assigned to, a cancel after shipping...) is named;
 *   - a reassign for an acceptance timeout that had not run out is named;
 *   - with replay on, every round of `assign` records is checked against a
 *     fresh run of the matcher on the ledger prefix the round names (its
 *     basis): the round must follow that prefix directly, every assign
 *     must be byte-identical to the replayed decision, and every order the
 *     replay places must have its assign (none withheld) — so no factory
 *     was favoured and none was passed over.
 * The scratch ledger lives in a directory of its own (made under $TMPDIR,
 * or /tmp, unless the caller names one) and is removed by destroy. It is
 * written without fsync: it is rebuilt from the audited ledger anyway.
 */
#ifndef COFAB_AUDIT_RULES_H
#define COFAB_AUDIT_RULES_H

#include <stdint.h>

#include "cofab/audit.h"
#include "cofab/note.h"
#include "cofab/policy.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AUDIT_RULES_MAX_FACTORIES 256  /* factories listed in a summary */

typedef struct audit_rules_t audit_rules_t;

typedef struct {
    int replay;                 /* 1: rerun the matcher for every assign round */
    const char *scratch_parent; /* where to make the scratch directory; NULL = $TMPDIR or /tmp */
} audit_rules_options_t;

/* One factory's record as the ledger shows it. */
typedef struct {
    char name[NOTE_MAX_NAME + 1];   /* member name */
    uint8_t key[32];                /* signing key */
    policy_reliability_t r;         /* assigned, accepted, declined, timeouts, delivered, on time */
} audit_rules_factory_t;

/* What the replay saw, for the report. */
typedef struct {
    uint64_t orders;                        /* orders submitted */
    uint64_t by_state[POLICY_DECLINED + 1]; /* orders per final state (policy_state_t) */
    uint64_t rounds;                        /* matcher rounds replayed (replay only) */
    uint64_t assigns;                       /* assign records checked against a replay */
    uint64_t reassigns;                     /* reassign records checked */
    audit_rules_factory_t factories[AUDIT_RULES_MAX_FACTORIES]; /* by key */
    uint32_t nfactories;                    /* listed (at most the maximum) */
} audit_rules_summary_t;

/* Makes a rule checker with its scratch directory. Returns 0 with *out
 * owned by the caller; COFAB_ENOMEM; COFAB_EIO (cannot make the
 * directory). */
int audit_rules_new(audit_rules_t **out, const audit_rules_options_t *opts);

/* Closes the scratch ledger and removes its directory; safe on NULL and
 * twice; sets *self_p = NULL. */
void audit_rules_destroy(audit_rules_t **self_p);

/* The hook to put in audit_options_t.hook; borrowed, valid while self is.
 * Its refusals: the apply hook's (COFAB_EPERM, COFAB_ESTATE,
 * COFAB_ENOTFOUND, COFAB_EEXIST, payload decoding codes) and
 * COFAB_EDECISION (a hub decision the replay does not reproduce). */
const audit_hook_t *audit_rules_hook(audit_rules_t *self);

/* Fills *out from the scratch ledger as the audit left it (all of it once
 * the audit reached its end). Returns 0, COFAB_ENOTFOUND (no record was
 * replayed), store errors. */
int audit_rules_summary(audit_rules_t *self, audit_rules_summary_t *out);

#ifdef __cplusplus
}
#endif
#endif
