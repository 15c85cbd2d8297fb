/* cmd_member.c — `cofab member add|remove`: the operator's membership changes, signed with the operator key.
 *
 * Both records are filed under the member's signing public key as the
 * envelope subject, so anyone can later fetch (and verify, with proofs)
 * the membership history of one key with GET_SUBJECT; `cofab order status`
 * uses that to show a factory's name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cofab/cli.h"
#include "cofab/client.h"
#include "cofab/error.h"
#include "cofab/payload.h"
#include "cmd_order_internal.h"

static void
s_usage(FILE *out)
{
    fprintf(out, "usage: cofab member add --hub EP --hub-key HUB.pub --key OPERATOR.key "
                 "--pub MEMBER.pub [--role factory|witness|customer] [--json]\n"
                 "       cofab member remove --hub EP --hub-key HUB.pub --key OPERATOR.key "
                 "--pub MEMBER.pub [--reason TEXT] [--json]\n"
                 "  --timeout S  give up after S seconds without an answer (default %d): exit 3\n",
            ORDER_DEFAULT_TIMEOUT_S);
}

/* Builds the payload of the action for the member in pub. */
static int
s_payload(int add, const keys_public_t *pub, const char *role, const char *reason, uint8_t **out,
          size_t *len)
{
    if (add) {
        payload_member_t m;
        memset(&m, 0, sizeof m);
        int r = payload_role_parse(role ? role : "factory");
        if (r < 0)
            return r;
        m.role = (payload_role_t) r;
        int rc = note_verifier_init(&m.key, pub->name, pub->sign_pk);
        if (rc != 0)
            return rc;
        memcpy(m.transport, pub->curve_pk, 32);
        return payload_member_add_encode(&m, out, len);
    }
    payload_member_remove_t r;
    memset(&r, 0, sizeof r);
    memcpy(r.key, pub->sign_pk, 32);
    if (reason && strlen(reason) > PAYLOAD_MAX_TEXT)
        return COFAB_ETOOBIG;
    snprintf(r.reason, sizeof r.reason, "%s", reason ? reason : "");
    return payload_member_remove_encode(&r, out, len);
}

static int
s_run(int add, int argc, char **argv)
{
    const char *prog = add ? "cofab member add" : "cofab member remove";
    order_args_t a;
    if (order_parse_args(argc, argv, &a) != 0 || !a.hub || !a.hub_key || !a.key || !a.pub ||
        a.first_arg != argc || a.file || a.receipt || (add && a.reason) || (!add && a.role)) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    keys_public_t member;
    int rc = keys_public_load(&member, a.pub);
    if (rc != 0) {
        fprintf(stderr, "%s: %s: %s\n", prog, a.pub, cofab_strerror(rc));
        return CLI_USAGE;
    }
    uint8_t *payload = NULL;
    size_t plen = 0;
    rc = s_payload(add, &member, a.role, a.reason, &payload, &plen);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", prog,
                add ? "--role must be factory, witness or customer"
                            : "--reason must be text of at most 256 bytes");
        return CLI_USAGE;
    }
    keys_public_t hub;
    keys_t *keys = NULL;
    client_t *client = NULL;
    int code = order_connect(prog, &a, &hub, &keys, &client);
    if (code != CLI_OK) {
        free(payload);
        return code;
    }
    uint64_t pos = 0;
    char reason[WIRE_MAX_REASON + 1] = "", keyid[9];
    note_verifier_t v;
    note_verifier_init(&v, member.name, member.sign_pk);
    sodium_bin2hex(keyid, sizeof keyid, v.keyid, sizeof v.keyid);
    rc = client_submit(client, add ? ENVELOPE_MEMBER_ADD : ENVELOPE_MEMBER_REMOVE,
                       member.sign_pk, payload, plen, a.timeout_ms, &pos, reason);
    code = order_exit_code(rc);
    const char *shown_role = add ? (a.role ? a.role : "factory") : "";
    if (rc == 0 && a.json)
        printf("{\"member\": \"%s\", \"key_id\": \"%s\", \"action\": \"%s\", \"role\": \"%s\", "
               "\"position\": %llu}\n",
               member.name, keyid, add ? "add" : "remove", shown_role, (unsigned long long) pos);
    else if (rc == 0 && add)
        printf("added %s (key %s) as %s at position %llu\n", member.name, keyid, shown_role,
               (unsigned long long) pos);
    else if (rc == 0)
        printf("removed %s (key %s) at position %llu\n", member.name, keyid,
               (unsigned long long) pos);
    else
        client_report_failure(prog, a.hub, a.timeout_ms, rc, reason);
    client_destroy(&client);
    keys_destroy(&keys);
    free(payload);
    return code;
}

int
member_main(int argc, char **argv)
{
    if (argc < 2) {
        s_usage(stderr);
        return CLI_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        s_usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "add"))
        return s_run(1, argc - 1, argv + 1);
    if (!strcmp(argv[1], "remove"))
        return s_run(0, argc - 1, argv + 1);
    fprintf(stderr, "cofab member: unknown action '%s'\n", argv[1]);
    s_usage(stderr);
    return CLI_USAGE;
}
