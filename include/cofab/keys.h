/* keys.h — a party's key pairs: Ed25519 for signing, X25519 for CurveZMQ.
 *
 * Each party (hub, operator, factory, customer, witness) has two distinct key
 * pairs, generated together: an Ed25519 pair that signs envelopes and notes,
 * and an X25519 pair that authenticates its ZeroMQ CURVE connections.
 *
 * Files written by keys_write(dir):
 *   dir/NAME.key  mode 0600, O_CREAT|O_EXCL|O_NOFOLLOW, binary:
 *                 "cofab-key-v1\n" | u8 name_len | name | ed25519 sk (64) |
 *                 x25519 sk (32)
 *   dir/NAME.pub  mode 0644, text. First line: the signing key in signed-note
 *                 verifier form "NAME+<8 hex key id>+<base64(0x01||pk)>";
 *                 second line: "transport <base64 X25519 public key>".
 *
 * Secrets live in sodium_malloc'd memory (guard pages, mlock'd where the
 * system allows) and are wiped by keys_destroy(). Nothing in this module
 * ever prints a secret.
 */
#ifndef COFAB_KEYS_H
#define COFAB_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/note.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KEYS_NAME_MAX NOTE_MAX_NAME
#define KEYS_FILE_MAX 512    /* largest secret key file accepted, bytes */
#define KEYS_PUB_MAX 1024    /* largest public key file accepted, bytes */

typedef struct keys_t keys_t;

/* A party's public half, as read from a .pub file or the ledger. */
typedef struct {
    char name[KEYS_NAME_MAX + 1];   /* key name, NUL-terminated */
    uint8_t sign_pk[32];            /* Ed25519 public key */
    uint8_t curve_pk[32];           /* X25519 (CurveZMQ) public key */
} keys_public_t;

/* Generates both key pairs for name (1..64 chars of [A-Za-z0-9._-]).
 * Returns a new object or NULL (bad name, or out of secure memory). */
keys_t *keys_generate(const char *name);

/* Writes dir/NAME.key and dir/NAME.pub. Returns 0; COFAB_EEXIST if either
 * file exists (nothing is overwritten; a .key written before the .pub failed
 * is removed); COFAB_EIO on any other file error. */
int keys_write(const keys_t *self, const char *dir);

/* Loads a secret key file. Refuses, with COFAB_EKEYPERM, a file readable or
 * writable by group or others, and with COFAB_EIO a symlink or non-regular
 * file. A malformed file gives COFAB_EMALFORMED / COFAB_ETRUNCATED /
 * COFAB_ETRAILING. On success *out is a new object owned by the caller. */
int keys_load(const char *path, keys_t **out);

/* Wipes and frees the object; safe on NULL and twice; sets *self_p = NULL. */
void keys_destroy(keys_t **self_p);

/* Accessors. Returned pointers live as long as the object. The secret
 * accessors exist for signing and for CurveZMQ setup; never log them. */
const char *keys_name(const keys_t *self);
const uint8_t *keys_sign_pk(const keys_t *self);   /* 32 bytes */
const uint8_t *keys_sign_sk(const keys_t *self);   /* 64 bytes, secret */
const uint8_t *keys_curve_pk(const keys_t *self);  /* 32 bytes */
const uint8_t *keys_curve_sk(const keys_t *self);  /* 32 bytes, secret */

/* Copies the public half into *out. */
void keys_public(const keys_t *self, keys_public_t *out);

/* The signing key's verifier (name, pk, note key id). */
void keys_verifier(const keys_t *self, note_verifier_t *out);

/* Ed25519 detached signature of msg. Returns 0 or COFAB_ECRYPTO. */
int keys_sign(const keys_t *self, const uint8_t *msg, size_t len, uint8_t sig[64]);

/* Parses the text of a .pub file (at most KEYS_PUB_MAX bytes). Returns 0,
 * COFAB_ETOOBIG, COFAB_EMALFORMED or COFAB_EKEYMISMATCH (key id wrong). */
int keys_public_parse(keys_public_t *out, const char *text, size_t len);

/* Reads and parses a .pub file. Returns as keys_public_parse, or COFAB_EIO. */
int keys_public_load(keys_public_t *out, const char *path);

#ifdef __cplusplus
}
#endif
#endif
