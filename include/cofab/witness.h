/* witness.h — which witnesses an auditor requires on a checkpoint, and counting their cosignatures.
 *
 * A witness policy names the witnesses whose cosignature/v1 lines count and
 * how many of them a checkpoint needs (its quorum). By default it comes
 * from the genesis record: every founding member that runs a node (role
 * factory or witness) is a witness and the quorum is genesis' witness_k.
 * An auditor may bring their own policy file instead, so that trust does
 * not rest on what the hub's own genesis says. The file is a small
 * line-based text in the spirit of the transparency-log policy files of
 * sigsum and C2SP:
 *
 *   # comments and blank lines are ignored
 *   log <hub verifier key>        optional: pins the hub's checkpoint key
 *   witness <verifier key>        one line per witness (the key's name is
 *                                 the name its cosignature lines carry)
 *   quorum <k>                    cosignatures needed, 0..number of witnesses
 *
 * A verifier key is the signed-note form NAME+<8 hex key id>+<base64 key>,
 * the first line of a member's .pub file. At most WITNESS_MAX witnesses,
 * WITNESS_POLICY_MAX bytes; each line at most 512 bytes.
 */
#ifndef COFAB_WITNESS_H
#define COFAB_WITNESS_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/note.h"
#include "cofab/payload.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WITNESS_MAX 64
#define WITNESS_POLICY_MAX 65536

typedef struct {
    int has_log;                           /* 1: `log` line present */
    note_verifier_t log;                   /* the pinned hub key, if has_log */
    note_verifier_t witnesses[WITNESS_MAX];/* whose cosignatures count */
    uint32_t n;                            /* witnesses listed */
    uint32_t quorum;                       /* cosignatures a checkpoint needs */
} witness_policy_t;

/* Parses policy text (untrusted). On failure writes the line number and a
 * reason to why (room why_len, may be NULL). Returns 0; COFAB_ETOOBIG (text
 * or a line over its limit, more than WITNESS_MAX witnesses);
 * COFAB_EMALFORMED (unknown keyword, bad key, duplicate witness or `log`,
 * missing or impossible quorum); COFAB_EKEYMISMATCH (a key id that does not
 * match its name and key). */
int witness_policy_parse(witness_policy_t *p, const char *text, size_t len, char *why,
                         size_t why_len);

/* The default policy from a decoded genesis: founding factories and
 * witnesses, quorum witness_k. Never fails. */
void witness_policy_from_genesis(witness_policy_t *p, const payload_genesis_t *g);

/* Counts the policy's witnesses that cosigned note with a valid
 * cosignature/v1 line (*valid); bit i of *which (may be NULL) is set when
 * witnesses[i] did. A line by a listed witness that does not verify is
 * forgery, not absence: returns COFAB_EBADSIG with that witness' index in
 * *forged (may be NULL). Returns 0 otherwise. */
int witness_policy_count(const witness_policy_t *p, const note_t *note, uint32_t *valid,
                         uint64_t *which, int *forged);

#ifdef __cplusplus
}
#endif
#endif
