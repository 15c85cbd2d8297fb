/* config.h — hub and factory-node configuration files (INI, read with libinih).
 *
 * Relative paths in a file are taken relative to the file's directory, so a
 * configuration directory can be moved as a whole (the loaders resolve that
 * directory with realpath, so the stored paths are absolute). Endpoints are
 * not paths and are kept as written. Unknown sections or keys, a key or a
 * section given twice, out-of-range numbers and missing required keys are
 * errors (a typo must not silently leave a default in place); the message
 * names file, line, section and key.
 *
 * Keys marked "default" below may be left out; every other key is required.
 * Ranges are inclusive; (a|b) lists the allowed values.
 *
 * hub.ini
 *   [hub]      origin (1..255 bytes of text), data_dir, key (hub .key),
 *              operator (operator .pub), submit, feed (ZeroMQ endpoints),
 *              batch_window_ms (default 1; 0..10000),
 *              max_batch (default 512; 1..65536),
 *              checkpoint_every (records, default 256; 1..10000000),
 *              checkpoint_ms (default 1000; 1..86400000),
 *              match_interval_ms (default 200; 0..3600000),
 *              verify_threads (default 2; 1..64),
 *              map_max_mb (default 0 = unbounded; at most 16777216),
 *              customer_rate (orders+queries per second per customer key,
 *              default 200; 0 = unlimited; at most 1000000)
 *   [alliance] customers (open|listed), witness_k (default 0; at most the
 *              number of factory and witness members),
 *              ack_timeout_s (default 3600; 1..604800)
 *   [member.NAME]  pub (a .pub file), role (factory|witness|customer);
 *              NAME is [A-Za-z0-9._-]{1,64}, at most CONFIG_MAX_MEMBERS
 *              sections
 *   [matcher]  any matcher_params_t field by its C name (integers, each
 *              defaulting to matcher_params_default(); the whole set must
 *              pass matcher_params_check())
 *   [gateway]  optional; read by `cofab gateway` only (docs/gateway.md):
 *              listen (host:port, an IPv4 literal or [IPv6 literal], port
 *              0..65535, 0 = any free port; default 127.0.0.1:7780),
 *              max_connections (default 64; 1..10000),
 *              max_per_ip (connections from one address, default 32;
 *              1..max_connections), timeout_s (idle connection, default 10;
 *              1..3600), threads (default 2; 1..64)
 *
 * factory-NAME.ini
 *   [node]     name ([A-Za-z0-9._-]{1,64}), key (.key), hub_pub (hub's .pub),
 *              hub (submit endpoint), feed, data_dir, control (ipc://
 *              endpoint for `cofab factory`), auto_accept (yes|no),
 *              witness (yes|no), reconnect_max_ms (default 5000; 1..3600000)
 *   [capacity] lat (-90..90), lon (-180..180) (decimal degrees),
 *              lead_days (0..MATCHER_MAX_LEAD), location (text, 0..64 bytes),
 *              reserve_pct (default -1 = the alliance's; else 0..100),
 *              horizon_days (default 30; 1..366),
 *              valid_days (default horizon_days; 1..horizon_days)
 *   [offer.PROCESS]  PROCESS is [a-z0-9-]{1,32}; 1..CONFIG_MAX_OFFERS
 *              sections. materials (comma list of 1..16 distinct
 *              [a-z0-9-]{1,32}), unit_price (cents, 0..1e6), setup_cost
 *              (cents, 0..1e8), moq (1..1e6), max_qty (moq..1e6), per_day
 *              (units/day, 0..1e7), days_off (comma list of distinct weekday
 *              numbers 0=Mon..6=Sun, or "none"; default none)
 *
 * Syntax is libinih's with a few extra rules, so that what inih does
 * silently (truncate, split) becomes an error instead: at most
 * CONFIG_FILE_MAX bytes of UTF-8 without control characters (tab, and CR
 * before LF, excepted); lines of at most 197 bytes (inih's line buffer);
 * no indented lines except comments (inih would take them as value
 * continuations); no empty sections. Lines starting with ';' or '#' are
 * comments, and " ;" starts a comment after a value, so a value cannot
 * contain " ;". Integers are decimal without '+', decimals use '.'.
 */
#ifndef COFAB_CONFIG_H
#define COFAB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/matcher.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CONFIG_PATH_MAX 1024
#define CONFIG_TEXT_MAX 256
#define CONFIG_MAX_MEMBERS 64
#define CONFIG_MAX_OFFERS MATCHER_MAX_OFFERS
#define CONFIG_FILE_MAX (256 * 1024)     /* bytes; larger files are refused unread */

typedef struct {
    char name[65];                        /* section name after "member." */
    char pub[CONFIG_PATH_MAX];            /* path of its .pub file */
    char role[16];                        /* factory | witness | customer */
} config_member_t;

/* [gateway]: the read-only HTTP gateway beside the hub. */
typedef struct {
    char listen[CONFIG_TEXT_MAX];         /* host:port to bind */
    uint32_t max_connections;             /* open connections at most */
    uint32_t max_per_ip;                  /* of which from one address */
    uint32_t timeout_s;                   /* idle connections are closed after this */
    uint32_t threads;                     /* request-serving threads */
} config_gateway_t;

typedef struct {
    char origin[CONFIG_TEXT_MAX];         /* checkpoint origin line */
    char data_dir[CONFIG_PATH_MAX];       /* ledger directory */
    char key[CONFIG_PATH_MAX];            /* hub secret key file */
    char operator_pub[CONFIG_PATH_MAX];   /* operator public key file */
    char submit[CONFIG_TEXT_MAX];         /* ROUTER endpoint */
    char feed[CONFIG_TEXT_MAX];           /* PUB endpoint */
    uint32_t batch_window_ms;             /* group-commit gathering window */
    uint32_t max_batch;                   /* envelopes per transaction */
    uint32_t checkpoint_every;            /* records between checkpoints */
    uint32_t checkpoint_ms;               /* and at most this long */
    uint32_t match_interval_ms;           /* matcher runs this often at most */
    uint32_t verify_threads;              /* signature-verifying threads */
    uint64_t map_max_mb;                  /* LMDB map ceiling, 0 = none */
    uint32_t customer_rate;               /* requests/s per customer key */
    char customers[16];                   /* open | listed */
    uint32_t witness_k;                   /* cosignatures a checkpoint needs */
    uint32_t ack_timeout_s;               /* time to accept an assignment */
    config_member_t members[CONFIG_MAX_MEMBERS]; /* founding members */
    size_t nmembers;
    matcher_params_t params;              /* matcher parameters */
    config_gateway_t gateway;             /* [gateway], defaults when absent */
} config_hub_t;

typedef struct {
    char process[MATCHER_NAME_MAX + 1];   /* section name after "offer." */
    char materials[MATCHER_MAX_MATERIALS][MATCHER_NAME_MAX + 1];
    uint32_t nmaterials;
    int64_t unit_price, setup_cost, moq, max_qty, per_day;
    uint8_t days_off;                     /* bit d set: no production on weekday d */
} config_offer_t;

typedef struct {
    char name[65];                        /* this factory's key name */
    char key[CONFIG_PATH_MAX];            /* secret key file */
    char hub_pub[CONFIG_PATH_MAX];        /* hub public key file */
    char hub[CONFIG_TEXT_MAX];            /* hub submit endpoint */
    char feed[CONFIG_TEXT_MAX];           /* hub feed endpoint */
    char data_dir[CONFIG_PATH_MAX];       /* replica ledger directory */
    char control[CONFIG_TEXT_MAX];        /* ipc endpoint for the operator CLI */
    int auto_accept;                      /* 1: accept assignments automatically */
    int witness;                          /* 1: cosign checkpoints */
    uint32_t reconnect_max_ms;            /* backoff ceiling */
    double lat, lon;                      /* location */
    int32_t lead_days, reserve_pct;       /* quoted lead time, reserve (-1 default) */
    uint32_t horizon_days, valid_days;    /* calendar length, validity (both set) */
    char location[65];                    /* human-readable place */
    config_offer_t offers[CONFIG_MAX_OFFERS];
    size_t noffers;
} config_node_t;

/* Reads a hub configuration file into *cfg (caller-owned; on failure its
 * contents are meaningless). Relative paths are resolved against the
 * realpath of the file's directory. err (if errlen > 0) always receives a
 * NUL-terminated one-line reason, "" on success. Returns 0, COFAB_EINVAL
 * (NULL argument), COFAB_EIO (cannot open, read or resolve; not a regular
 * file), COFAB_ETOOBIG (more than CONFIG_FILE_MAX bytes, refused before
 * parsing), COFAB_EMALFORMED (bad syntax or content), COFAB_ENOMEM. */
int config_hub_load(const char *path, config_hub_t *cfg, char *err, size_t errlen);

/* Reads a factory-node configuration file. Same rules and returns. */
int config_node_load(const char *path, config_node_t *cfg, char *err, size_t errlen);

/* Parses hub configuration text of len bytes (no NUL terminator needed;
 * a NUL byte inside is malformed), as config_hub_load does after reading
 * the file. Relative paths are joined to base_dir (NULL or "": kept as
 * written). Messages name the source "(string)". Nothing is read from or
 * written to disk. Returns 0, COFAB_EINVAL (NULL text with len > 0, NULL
 * cfg), COFAB_ETOOBIG (len > CONFIG_FILE_MAX) or COFAB_EMALFORMED. */
int config_hub_parse_string(const char *text, size_t len, const char *base_dir,
                            config_hub_t *cfg, char *err, size_t errlen);

/* Same for a factory-node configuration. */
int config_node_parse_string(const char *text, size_t len, const char *base_dir,
                             config_node_t *cfg, char *err, size_t errlen);

/* Splits a listen address "host:port" (an IPv4 literal, or an IPv6
 * literal in brackets) into host (room host_max, NUL-terminated, without
 * brackets) and port (0..65535). Nothing is resolved. Returns 0,
 * COFAB_EMALFORMED or COFAB_EINVAL (NULL argument). */
int config_listen_parse(const char *listen, char *host, size_t host_max, uint16_t *port);

#ifdef __cplusplus
}
#endif
#endif
