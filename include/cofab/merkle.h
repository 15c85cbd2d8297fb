/* merkle.h — RFC 6962 / RFC 9162 §2.1 Merkle tree hashing and proofs.
 *
 * Hashes: leaf = SHA-256(0x00 || data), interior = SHA-256(0x01 || l || r),
 * the empty tree's root = SHA-256("").
 *
 * Stored trees are read through a callback that returns the hash of one
 * *perfect* subtree: level L, index I covers leaves [I << L, (I + 1) << L).
 * Level 0 holds the leaf hashes. Every proof and root below reads
 * O(log n) such hashes and never rehashes leaves, so a proof over a
 * billion-record ledger costs a few dozen lookups.
 *
 * No function here allocates; none keeps a pointer to its arguments.
 */
#ifndef COFAB_MERKLE_H
#define COFAB_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MERKLE_HASH_LEN 32
/* Longest possible proof: a consistency proof over 2^64 leaves. */
#define MERKLE_MAX_PROOF 128
/* Levels a frontier can hold (a tree of at most 2^64 - 1 leaves). */
#define MERKLE_MAX_LEVELS 64

/* Reads the stored hash of the perfect subtree (level, index) into out.
 * Returns 0, or a negative cofab error (COFAB_ENOTFOUND, COFAB_ESTORE...)
 * which the caller passes through unchanged. */
typedef int (*merkle_get_fn)(void *ctx, unsigned level, uint64_t index,
                             uint8_t out[MERKLE_HASH_LEN]);

/* Receives each perfect subtree completed by merkle_frontier_append(). */
typedef int (*merkle_emit_fn)(void *ctx, unsigned level, uint64_t index,
                              const uint8_t hash[MERKLE_HASH_LEN]);

/* The right edge of a tree: for each set bit L of size, the root of the
 * perfect subtree of height L on that edge. Enough to append leaves and to
 * compute the root, in O(log n) memory. A plain value: copy it freely. */
typedef struct {
    uint64_t size;                                   /* leaves so far */
    uint8_t edge[MERKLE_MAX_LEVELS][MERKLE_HASH_LEN]; /* edge[L] valid iff bit L of size */
} merkle_frontier_t;

/* SHA-256(0x00 || data). */
void merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[MERKLE_HASH_LEN]);

/* SHA-256(0x01 || left || right). out may alias left or right. */
void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN],
                      const uint8_t right[MERKLE_HASH_LEN],
                      uint8_t out[MERKLE_HASH_LEN]);

/* SHA-256 of the empty string: the root of the tree of size 0. */
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/* Sets f to the empty tree. */
void merkle_frontier_init(merkle_frontier_t *f);

/* Appends one leaf hash. For the leaf itself (level 0) and for every perfect
 * subtree it completes, calls emit(ctx, level, index, hash) in increasing
 * level order; emit may be NULL. Returns 0, COFAB_ERANGE if the tree is
 * full, or the first error emit returned (f is then unchanged). */
int merkle_frontier_append(merkle_frontier_t *f, const uint8_t leaf[MERKLE_HASH_LEN],
                           merkle_emit_fn emit, void *ctx);

/* Root of the tree f describes (the empty root when size is 0). */
void merkle_frontier_root(const merkle_frontier_t *f, uint8_t out[MERKLE_HASH_LEN]);

/* Rebuilds the frontier of a stored tree of `size` leaves from the stored
 * perfect subtrees (popcount(size) lookups). Returns 0 or get's error (f is
 * then unchanged). */
int merkle_frontier_load(merkle_frontier_t *f, uint64_t size, merkle_get_fn get, void *ctx);

/* Root hash of the stored tree's first `size` leaves. Returns 0 or get's
 * error. */
int merkle_root(merkle_get_fn get, void *ctx, uint64_t size, uint8_t out[MERKLE_HASH_LEN]);

/* Inclusion proof (RFC 9162 §2.1.3.1) for leaf `index` in the tree of `size`
 * leaves. Writes the hashes, leaf side first, to proof (room for
 * MERKLE_MAX_PROOF) and their count to *proof_len. Returns 0,
 * COFAB_ERANGE if index >= size, or get's error. */
int merkle_inclusion_proof(merkle_get_fn get, void *ctx, uint64_t index, uint64_t size,
                           uint8_t proof[][MERKLE_HASH_LEN], size_t *proof_len);

/* Consistency proof (RFC 9162 §2.1.4.1) between the tree of old_size leaves
 * and the tree of new_size leaves. Empty when old_size is 0 or equals
 * new_size. Returns 0, COFAB_ERANGE if old_size > new_size, or get's error. */
int merkle_consistency_proof(merkle_get_fn get, void *ctx, uint64_t old_size,
                             uint64_t new_size, uint8_t proof[][MERKLE_HASH_LEN],
                             size_t *proof_len);

/* Verifies an inclusion proof (RFC 9162 §2.1.3.2). Returns 0 when leaf_hash
 * is at index in the tree of `size` leaves whose root is root;
 * COFAB_ERANGE if index >= size; COFAB_EPROOF if the proof has the wrong
 * length or does not lead to root. Comparison is constant time; proof may
 * be NULL when proof_len is 0. */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
                            const uint8_t leaf_hash[MERKLE_HASH_LEN],
                            const uint8_t proof[][MERKLE_HASH_LEN], size_t proof_len,
                            const uint8_t root[MERKLE_HASH_LEN]);

/* Verifies a consistency proof (RFC 9162 §2.1.4.2). Returns 0 when the tree
 * of old_size leaves with old_root is a prefix of the tree of new_size
 * leaves with new_root; COFAB_ERANGE if old_size > new_size; COFAB_EPROOF
 * otherwise (wrong length, wrong hashes, equal sizes with different roots,
 * a non-empty proof where an empty one is required). old_size 0 is always
 * COFAB_EPROOF, proof or not: the empty tree is a prefix of every tree, so
 * there is nothing to verify (RFC 9162 defines proofs for 0 < old_size
 * only, and the RFC 6962 vectors expect this refusal); a caller starting
 * from an empty tree accepts the first checkpoint without a proof.
 * Comparisons are constant time; proof may be NULL when proof_len is 0. */
int merkle_verify_consistency(uint64_t old_size, uint64_t new_size,
                              const uint8_t old_root[MERKLE_HASH_LEN],
                              const uint8_t new_root[MERKLE_HASH_LEN],
                              const uint8_t proof[][MERKLE_HASH_LEN], size_t proof_len);

#ifdef __cplusplus
}
#endif
#endif
