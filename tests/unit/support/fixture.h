/* fixture.h — helpers the unit tests share: temp dirs, keys, small ledgers, tampering. */
#ifndef COFAB_TEST_FIXTURE_H
#define COFAB_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/envelope.h"
#include "cofab/keys.h"
#include "cofab/ledger.h"

/* Creates a fresh directory under /tmp; writes its path (room 256). */
void fixture_tmpdir(char *out);

/* Removes a directory tree. */
void fixture_rmtree(const char *path);

/* Builds a GENESIS envelope for hub into buf (ENVELOPE_MAX) and decodes it
 * into *e (which borrows buf). */
void fixture_genesis(const keys_t *hub, const char *origin, uint8_t *buf, envelope_t *e);

/* Seals the next envelope of chain c (kind, subject may be NULL, payload
 * text) into buf and opens it into *e. */
void fixture_seal(envelope_chain_t *c, const keys_t *author, int kind, const uint8_t *subject,
                  const char *payload, uint8_t *buf, envelope_t *e);

/* Creates a ledger in dir with genesis by hub, then n note records spread
 * over `authors` authors (keys given), a checkpoint every `cp_every` records
 * (0 = only at the end). Returns the open ledger. */
ledger_t *fixture_ledger(const char *dir, keys_t *hub, keys_t **authors, size_t nauthors,
                         size_t n, size_t cp_every);

/* Direct LMDB surgery on a closed ledger, for tamper tests. Each returns 0
 * on success. */
int fixture_flip_record_byte(const char *dir, uint64_t seq, size_t offset);
int fixture_flip_tree_byte(const char *dir, unsigned level, uint64_t index);
int fixture_flip_checkpoint_byte(const char *dir, uint64_t size, size_t offset);
int fixture_swap_records(const char *dir, uint64_t a, uint64_t b);
int fixture_drop_record(const char *dir, uint64_t seq);
int fixture_put_record(const char *dir, uint64_t seq, const uint8_t *bytes, size_t len);
/* Writes a stored Merkle node (level, index), as a forger who rebuilt the tree would. */
int fixture_put_tree_node(const char *dir, unsigned level, uint64_t index, const uint8_t hash[32]);

#endif
