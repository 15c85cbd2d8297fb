/* cli.h — the cofab command-line subcommands and their shared helpers.
 *
 * Each subcommand is `int NAME_main(int argc, char **argv)` where argv[0] is
 * the subcommand's own name. Exit codes follow the product contract:
 * 0 success, 1 refused / invalid / not found, 2 usage, 3 unreachable.
 */
#ifndef COFAB_CLI_H
#define COFAB_CLI_H

#ifdef __cplusplus
extern "C" {
#endif

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2, CLI_UNREACHABLE = 3 };

#include <stdint.h>
#include <stdio.h>

#include "cofab/keys.h"

int keygen_main(int argc, char **argv);
int ledger_main(int argc, char **argv);
int audit_main(int argc, char **argv);
int match_main(int argc, char **argv);
/* `cofab audit export` (node/cmd_export.c), reached through audit_main. */
int audit_export_main(int argc, char **argv);
/* `cofab demo` (node/cmd_demo.c). */
int demo_main(int argc, char **argv);

/* Loads a secret key file, printing a clear message on failure (never the
 * key). Returns NULL on failure. */
keys_t *cli_load_key(const char *prog, const char *path);

/* Parses a decimal uint64 (no sign, no junk). Returns 0 or COFAB_EMALFORMED. */
int cli_parse_u64(const char *text, uint64_t *out);

/* Parses 64 hex digits into 32 bytes. Returns 0 or COFAB_EMALFORMED. */
int cli_parse_hex32(const char *text, uint8_t out[32]);

/* Base64 (standard alphabet) of len bytes into a new malloc'd string. */
char *cli_b64(const uint8_t *data, size_t len);

/* Writes a C2SP tlog-proof (c2sp.org/tlog-proof@v1) to path: the record
 * bytes in base64 on the "extra" line (the leaf is SHA-256(0x00 ||
 * record)), "index N", the k proof hashes (k x 32 bytes), a blank line and
 * the checkpoint note. Returns 0 or COFAB_EIO. */
int cli_write_tlog_proof(const char *path, uint64_t index, const uint8_t *record, size_t record_len,
                         const uint8_t *proof, size_t k, const char *note, size_t note_len);

/* Hex of 32 bytes into out (65 bytes). */
void cli_hex32(const uint8_t in[32], char out[65]);

/* A progress bar on stderr when it is a terminal; silent otherwise. */
typedef struct {
    int enabled;          /* stderr is a terminal */
    const char *label;    /* shown before the bar */
    uint64_t start_ns;    /* when it started, for the rate */
    uint64_t last_ns;     /* last redraw, to limit redraws */
} cli_progress_t;

void cli_progress_init(cli_progress_t *p, const char *label);
void cli_progress_update(void *p, uint64_t done, uint64_t total);
void cli_progress_done(cli_progress_t *p);

#ifdef __cplusplus
}
#endif
#endif
