/* error.c — names and messages for cofab's single error space. */
#include "cofab/error.h"

typedef struct {
    int code;          /* the COFAB_E* value */
    const char *name;  /* its symbolic name */
    const char *text;  /* a short sentence for humans */
} s_error_entry_t;

static const s_error_entry_t s_errors[] = {
    {COFAB_OK, "COFAB_OK", "success"},
    {COFAB_EINVAL, "COFAB_EINVAL", "invalid argument"},
    {COFAB_EMALFORMED, "COFAB_EMALFORMED", "malformed input"},
    {COFAB_ETRUNCATED, "COFAB_ETRUNCATED", "input is truncated"},
    {COFAB_ETRAILING, "COFAB_ETRAILING", "unexpected trailing bytes"},
    {COFAB_EVERSION, "COFAB_EVERSION", "unknown format version"},
    {COFAB_ETOOBIG, "COFAB_ETOOBIG", "input exceeds the maximum size"},
    {COFAB_EKIND, "COFAB_EKIND", "unknown entry kind"},
    {COFAB_EBADSIG, "COFAB_EBADSIG", "signature does not verify"},
    {COFAB_EKEYMISMATCH, "COFAB_EKEYMISMATCH", "key does not match its name or id"},
    {COFAB_ECHAIN, "COFAB_ECHAIN", "hash chain link does not match"},
    {COFAB_EPROOF, "COFAB_EPROOF", "Merkle proof does not verify"},
    {COFAB_EINCONSISTENT, "COFAB_EINCONSISTENT", "checkpoint is inconsistent with an earlier one"},
    {COFAB_EROOT, "COFAB_EROOT", "Merkle root does not match the checkpoint"},
    {COFAB_EWITNESS, "COFAB_EWITNESS", "checkpoint lacks the witness cosignatures required"},
    {COFAB_EDECISION, "COFAB_EDECISION", "hub decision differs from the replayed rules"},
    {COFAB_EREPLAY, "COFAB_EREPLAY", "author sequence number already used (replay)"},
    {COFAB_EGAP, "COFAB_EGAP", "author sequence number skips ahead"},
    {COFAB_EFORK, "COFAB_EFORK", "two different envelopes with the same author sequence"},
    {COFAB_EPERM, "COFAB_EPERM", "not permitted"},
    {COFAB_EKEYPERM, "COFAB_EKEYPERM", "secret key file is readable by group or others"},
    {COFAB_ESTATE, "COFAB_ESTATE", "illegal state transition"},
    {COFAB_EEXIST, "COFAB_EEXIST", "already exists"},
    {COFAB_ENOTFOUND, "COFAB_ENOTFOUND", "not found"},
    {COFAB_ERANGE, "COFAB_ERANGE", "index or size out of range"},
    {COFAB_ETAKEN, "COFAB_ETAKEN", "id or key already used by another record"},
    {COFAB_EIO, "COFAB_EIO", "input/output error"},
    {COFAB_ENOMEM, "COFAB_ENOMEM", "out of memory"},
    {COFAB_ESTORE, "COFAB_ESTORE", "ledger store error"},
    {COFAB_ENOSPC, "COFAB_ENOSPC", "no space left for the ledger"},
    {COFAB_ECRYPTO, "COFAB_ECRYPTO", "crypto library failure"},
    {COFAB_ENET, "COFAB_ENET", "network failure or timeout"},
};

static const s_error_entry_t *
s_lookup(int code)
{
    for (unsigned i = 0; i < sizeof s_errors / sizeof s_errors[0]; i++)
        if (s_errors[i].code == code)
            return &s_errors[i];
    return 0;
}

const char *
cofab_strerror(int code)
{
    const s_error_entry_t *e = s_lookup(code);
    return e ? e->text : "unknown error";
}

const char *
cofab_errname(int code)
{
    const s_error_entry_t *e = s_lookup(code);
    return e ? e->name : "COFAB_EUNKNOWN";
}

int
cofab_err_is_input(int code)
{
    return code <= COFAB_EMALFORMED && code > COFAB_EIO;
}
