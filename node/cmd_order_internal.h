/* cmd_order_internal.h — what cmd_order.c and cmd_order_status.c share (private to them and cmd_member.c). */
#ifndef COFAB_CMD_ORDER_INTERNAL_H
#define COFAB_CMD_ORDER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cofab/client.h"
#include "cofab/keys.h"
#include "cofab/payload.h"

#define ORDER_DEFAULT_TIMEOUT_S 10   /* bounded wait before exit 3 */

/* Options of the order and member commands. */
typedef struct {
    const char *hub;        /* --hub EP */
    const char *hub_key;    /* --hub-key HUB.pub */
    const char *key;        /* --key K (our secret key file) */
    const char *file;       /* --file ORDER.json */
    const char *receipt;    /* --receipt FILE */
    const char *reason;     /* --reason TEXT */
    const char *pub;        /* --pub MEMBER.pub (member commands) */
    const char *role;       /* --role ROLE (member add) */
    int json;               /* --json */
    int timeout_ms;         /* --timeout S, in ms */
    int first_arg;          /* index of the first positional argument */
} order_args_t;

/* Parses the options above (others are a usage error: returns -1). */
int order_parse_args(int argc, char **argv, order_args_t *a);

/* Prints the order commands' usage. */
void order_usage(FILE *out);

/* Loads the hub's .pub and our key (a throwaway key when a->key is NULL)
 * and makes the client. Returns CLI_OK, or CLI_USAGE with a message on
 * stderr; on success the caller destroys *keys and *client. */
int order_connect(const char *prog, const order_args_t *a, keys_public_t *hub, keys_t **keys,
                  client_t **client);

/* Exit code for a client result: 0, 3 (COFAB_ENET) or 1. */
int order_exit_code(int rc);

/* "YYYY-MM-DD" (1970 or later) to an epoch day. Returns 0 or COFAB_EMALFORMED. */
int order_parse_date(const char *text, uint32_t *day);

/* Reads ORDER.json text (format in cmd_order.c) into *o and checks it
 * against the order payload's rules. Returns 0 or COFAB_EMALFORMED & co.
 * with a one-line reason in err. */
int order_from_json(const char *text, size_t len, payload_order_t *o, char *err, size_t errlen);

/* `cofab order status` (cmd_order_status.c). */
int order_status_main(int argc, char **argv);

#endif
