/* cmd_audit_internal.h — what the `cofab audit` verbs share: where the ledger to audit comes from. */
#ifndef COFAB_CMD_AUDIT_INTERNAL_H
#define COFAB_CMD_AUDIT_INTERNAL_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cofab/ledger.h"

/* Where the ledger comes from: exactly one of ledger, bundle, hub. */
typedef struct {
    const char *ledger;    /* --ledger DIR: a local LMDB ledger, opened read-only */
    const char *bundle;    /* --bundle DIR: a tlog-tiles export, imported and checked first */
    const char *hub;       /* --hub EP: downloaded from a hub first */
    const char *hub_pub;   /* --hub-key HUB.pub: pins the hub (required with --hub) */
    const char *key;       /* --key K: our key for --hub (default: a throwaway one) */
    const char *cache;     /* --cache DIR: where --hub keeps its copy (resumable);
                              default a temp dir removed afterwards */
} cmd_audit_source_t;

/* An opened source. */
typedef struct {
    ledger_t *ledger;      /* the ledger to audit */
    char what[PATH_MAX];   /* how to name it in reports */
    char tmp[PATH_MAX];    /* temp dir to remove on close, or "" */
} cmd_audit_opened_t;

/* Opens the source, printing what went wrong as prog. Returns CLI_OK,
 * CLI_FAIL (bad bundle, refused download), CLI_USAGE or CLI_UNREACHABLE. */
int cmd_audit_open(const char *prog, const cmd_audit_source_t *src, cmd_audit_opened_t *out);

/* Closes the ledger and removes any temp dir; safe twice. */
void cmd_audit_close(cmd_audit_opened_t *o);

/* `cofab audit verify` (node/cmd_audit_verify.c). */
int cmd_audit_verify(int argc, char **argv);

/* A JSON array of n 32-byte hashes in base64 (a proof), new reference. */
json_t *cmd_audit_proof_json(const uint8_t *hashes, size_t n);

/* `cofab audit prove` (node/cmd_audit_prove.c). */
int cmd_audit_prove(int argc, char **argv);

/* `cofab audit receipt` (node/cmd_audit_receipt.c): checks tlog-proof receipts offline. */
int cmd_audit_receipt(int argc, char **argv);

#endif
