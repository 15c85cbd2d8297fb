/* error.h — the one error space shared by every cofab module.
 *
 * Every public cofab function that can fail returns int: 0 on success and
 * one of the negative codes below on failure. The codes separate three
 * families so that callers can react differently:
 *
 *   - malformed or hostile input (the bytes are bad: reject and carry on),
 *   - policy refusals (the bytes are fine but not allowed here),
 *   - environment failures (I/O, memory, storage: the caller may retry).
 *
 * cofab_strerror() gives a short human sentence for any code; it never
 * returns NULL and never allocates.
 */
#ifndef COFAB_ERROR_H
#define COFAB_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

enum {
    COFAB_OK = 0,

    /* Programmer or usage errors. */
    COFAB_EINVAL = -1,      /* invalid argument (NULL, out-of-range option) */

    /* Malformed input: bytes from a file or the network that do not parse. */
    COFAB_EMALFORMED = -10, /* structurally invalid encoding */
    COFAB_ETRUNCATED = -11, /* input ends before the structure does */
    COFAB_ETRAILING = -12,  /* bytes left over after a complete structure */
    COFAB_EVERSION = -13,   /* unknown format version */
    COFAB_ETOOBIG = -14,    /* larger than the format's maximum size */
    COFAB_EKIND = -15,      /* unknown record/entry kind */

    /* Cryptographic and integrity failures. */
    COFAB_EBADSIG = -20,    /* signature does not verify */
    COFAB_EKEYMISMATCH = -21, /* key id or name does not match the key */
    COFAB_ECHAIN = -22,     /* hash chain link does not match */
    COFAB_EPROOF = -23,     /* Merkle proof does not verify */
    COFAB_EINCONSISTENT = -24, /* checkpoint inconsistent with an earlier one */
    COFAB_EROOT = -25,      /* Merkle root does not match the checkpoint */
    COFAB_EWITNESS = -26,   /* checkpoint lacks the witness cosignatures required */
    COFAB_EDECISION = -27,  /* a hub decision differs from the rules' replay */

    /* Policy refusals: well-formed, but not acceptable here. */
    COFAB_EREPLAY = -30,    /* author sequence number already used */
    COFAB_EGAP = -31,       /* author sequence number skips ahead */
    COFAB_EFORK = -32,      /* same author sequence, different envelope */
    COFAB_EPERM = -33,      /* not allowed (role, authorization) */
    COFAB_EKEYPERM = -34,   /* secret key file readable by group/others */
    COFAB_ESTATE = -35,     /* illegal state transition */
    COFAB_EEXIST = -36,     /* already exists */
    COFAB_ENOTFOUND = -37,  /* no such record, key or entry */
    COFAB_ERANGE = -38,     /* index or size outside what exists */
    COFAB_ETAKEN = -39,     /* id or key already used by another record */

    /* Environment failures: not the input's fault. */
    COFAB_EIO = -50,        /* read/write/fsync failed */
    COFAB_ENOMEM = -51,     /* allocation failed */
    COFAB_ESTORE = -52,     /* the LMDB store reported an error */
    COFAB_ENOSPC = -53,     /* no space left for the store to grow */
    COFAB_ECRYPTO = -54,    /* crypto library failed to initialise */
    COFAB_ENET = -55,       /* network failure or timeout */
};

/* Returns a static, human-readable description of code. Unknown codes give
 * "unknown error". Never NULL. */
const char *cofab_strerror(int code);

/* Returns the symbolic name of code ("COFAB_EBADSIG"), for logs and JSON.
 * Unknown codes give "COFAB_EUNKNOWN". Never NULL. */
const char *cofab_errname(int code);

/* True when code is in the malformed-input family (the input, not the
 * environment, is at fault). */
int cofab_err_is_input(int code);

#ifdef __cplusplus
}
#endif
#endif
