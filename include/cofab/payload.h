/* payload.h — typed CBOR payloads of every envelope kind (encoded with libcbor).
 *
 * Every payload is a CBOR map with text keys. Decoders treat their input as
 * hostile: at most ENVELOPE_MAX_PAYLOAD bytes, exactly one CBOR map with
 * nothing after it, container sizes bounded by a streaming pre-scan before
 * anything is allocated, no tags, no indefinite lengths, nesting at most 8
 * deep, every field type-, range- and length-checked. Unknown keys are
 * ignored so later versions can add fields; a key given twice is refused.
 *
 * Common rules, for every kind:
 *   - names (process, material): [a-z0-9-]{1,32}, as the matcher wants;
 *   - free text (origin, reason, note, title, location): valid UTF-8 with
 *     no control character (C0, DEL, C1), so it can go into JSON and onto a
 *     terminal as is; an optional text that is absent decodes as "";
 *   - days are epoch days (days since 1970-01-01) as uint32;
 *   - money is integer cents; keys and hashes are 32-byte byte strings;
 *   - signing keys of members travel as note verifier text
 *     ("name+hex8+base64(0x01||pk)"), see note.h.
 *
 * Encoders check the struct with the very rules the decoder applies, so
 * whatever encodes also decodes, and return a new malloc'd buffer in
 * (*out, *len) that the caller frees. Integers are written in their
 * shortest form and keys in a fixed order, so equal structs encode to
 * equal bytes.
 *
 * Decoders write into caller-provided structs (no heap inside them). Some
 * are big — payload_capacity_t is about 110 KB — so callers may want to
 * heap-allocate those. On failure the struct's contents are meaningless.
 *
 * Return codes shared by all decoders: 0; COFAB_EINVAL (NULL struct, or
 * NULL data with len > 0); COFAB_ETOOBIG (len > ENVELOPE_MAX_PAYLOAD);
 * COFAB_ETRUNCATED (the CBOR ends early); COFAB_ETRAILING (bytes after
 * the map); COFAB_EMALFORMED (not a map, a required key missing, a wrong
 * type, a value out of range, a count out of range, a duplicate, a key
 * repeated); COFAB_ENOMEM. Decoders of kinds carrying verifier text may
 * also return COFAB_EKEYMISMATCH (see each).
 * Shared by all encoders: 0; COFAB_EINVAL (NULL argument);
 * COFAB_EMALFORMED (the struct breaks a rule above; the same check as the
 * decoder, including COFAB_EKEYMISMATCH where the decoder has it);
 * COFAB_ETOOBIG (the encoding would exceed ENVELOPE_MAX_PAYLOAD);
 * COFAB_ENOMEM.
 *
 * Wire shapes (keys; "?" marks optional keys):
 *   genesis:   origin text 1..255, hub verifier, hub_transport bytes32,
 *              operator verifier, members [0..64 member], params {every
 *              matcher_params_t field by its C name, integers},
 *              witness_k uint 0..#members, customers "open"|"listed",
 *              ack_timeout_s uint 1..604800
 *   member (member-add, and genesis members): name text
 *              [A-Za-z0-9._-]{1,64}, key verifier (its name = name),
 *              transport bytes32, role "factory"|"witness"|"customer"
 *   member-remove: key bytes32, reason? text ≤ 256
 *   capacity:  start_day, valid_until_day (≥ start_day), lead_days
 *              0..3660, lat_e6 ±90e6, lon_e6 ±180e6, reserve_pm -1|0..1000,
 *              location? text ≤ 64, offers [1..32 {process, materials
 *              [1..16 distinct names], unit_price 0..1e6, setup_cost
 *              0..1e8, moq 1..1e6, max_qty moq..1e6, cap [1..366 uint
 *              0..1e7 units/day from start_day]}] with distinct processes;
 *              a "reliability" key is refused (the hub computes it)
 *   order:     items [1..8 {process, material, qty 1..1e6}] distinct
 *              (process, material), due_day, lat_e6, lon_e6, budget uint
 *              0..MATCHER_MAX_BUDGET (0 = none), split bool, title? ≤ 128
 *   assign:    basis uint64, pieces [1..64 {factory bytes32, process,
 *              material, qty 1..1e6, first_day ≤ last_day, cost int,
 *              |cost| ≤ MATCHER_MAX_BUDGET}], runner_up? bytes32, result
 *              bytes32
 *   accept:    note? text ≤ 256 (the empty map is fine)
 *   decline:   reason text 1..256
 *   status:    stage "in-production"|"qc-passed"|"shipped"|"delivered",
 *              attachment? bytes32
 *   cancel:    reason? text ≤ 256
 *   reassign:  why "declined"|"timeout"|"unreachable"|"removed", factory
 *              bytes32, basis uint64
 *   note:      any bytes (not CBOR), up to ENVELOPE_MAX_PAYLOAD
 */
#ifndef COFAB_PAYLOAD_H
#define COFAB_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/keys.h"
#include "cofab/matcher.h"
#include "cofab/note.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PAYLOAD_NAME_MAX MATCHER_NAME_MAX          /* process / material name, bytes */
#define PAYLOAD_MAX_MEMBERS 64                      /* founding members in a genesis */
#define PAYLOAD_MAX_OFFERS MATCHER_MAX_OFFERS       /* offers per capacity */
#define PAYLOAD_MAX_MATERIALS MATCHER_MAX_MATERIALS /* materials per offer */
#define PAYLOAD_MAX_DAYS MATCHER_MAX_HORIZON        /* calendar entries per offer */
#define PAYLOAD_MAX_ITEMS MATCHER_MAX_ITEMS         /* items per order */
#define PAYLOAD_MAX_PIECES 64                       /* pieces per assignment */
#define PAYLOAD_MAX_TEXT 256                        /* reason / note text, bytes */
#define PAYLOAD_MAX_LOCATION 64                     /* capacity location, bytes */
#define PAYLOAD_MAX_TITLE 128                       /* order title, bytes */
#define PAYLOAD_MAX_ACK_TIMEOUT 604800              /* seconds (one week) */
#define PAYLOAD_DEFAULT_ACK_TIMEOUT 3600            /* seconds */

/* Enums start at 1 so that a zeroed struct is refused by the encoders. */
typedef enum {
    PAYLOAD_ROLE_FACTORY = 1,      /* "factory" */
    PAYLOAD_ROLE_WITNESS = 2,      /* "witness" */
    PAYLOAD_ROLE_CUSTOMER = 3,     /* "customer" */
} payload_role_t;

typedef enum {
    PAYLOAD_CUSTOMERS_OPEN = 1,    /* "open": any key may order */
    PAYLOAD_CUSTOMERS_LISTED = 2,  /* "listed": only customer members */
} payload_customers_t;

typedef enum {
    PAYLOAD_STAGE_IN_PRODUCTION = 1, /* "in-production" */
    PAYLOAD_STAGE_QC_PASSED = 2,     /* "qc-passed" */
    PAYLOAD_STAGE_SHIPPED = 3,       /* "shipped" */
    PAYLOAD_STAGE_DELIVERED = 4,     /* "delivered" */
} payload_stage_t;

typedef enum {
    PAYLOAD_WHY_DECLINED = 1,      /* "declined" */
    PAYLOAD_WHY_TIMEOUT = 2,       /* "timeout" */
    PAYLOAD_WHY_UNREACHABLE = 3,   /* "unreachable" */
    PAYLOAD_WHY_REMOVED = 4,       /* "removed" */
} payload_why_t;

/* Wire name of a value ("factory"), or NULL if the value is not one. */
const char *payload_role_name(int role);
const char *payload_customers_name(int customers);
const char *payload_stage_name(int stage);
const char *payload_why_name(int why);

/* Value for a NUL-terminated wire name, or COFAB_EMALFORMED if it names
 * none (COFAB_EINVAL for NULL). Names are case-sensitive. */
int payload_role_parse(const char *name);
int payload_customers_parse(const char *name);
int payload_stage_parse(const char *name);
int payload_why_parse(const char *name);

/* A member: genesis founding member or member-add payload. */
typedef struct {
    note_verifier_t key;           /* signing key; key.name is the member name */
    uint8_t transport[32];         /* CurveZMQ (X25519) public key */
    payload_role_t role;           /* what the member may do */
} payload_member_t;

/* genesis. Roughly 10 KB. Members have distinct signing keys, names and
 * transport keys. */
typedef struct {
    char origin[NOTE_MAX_ORIGIN + 1];  /* checkpoint origin line */
    note_verifier_t hub;               /* key that signs checkpoints and hub records */
    uint8_t hub_transport[32];         /* hub's CurveZMQ public key */
    note_verifier_t operator_key;      /* signs member-add / member-remove
                                          ("operator" on the wire; not a C++ name) */
    payload_member_t members[PAYLOAD_MAX_MEMBERS]; /* founding members */
    uint32_t nmembers;                 /* 0..PAYLOAD_MAX_MEMBERS */
    matcher_params_t params;           /* must pass matcher_params_check */
    uint32_t witness_k;                /* cosignatures a checkpoint needs, 0..nmembers */
    payload_customers_t customers;     /* who may order */
    uint32_t ack_timeout_s;            /* time to accept before reassignment, 1..604800 */
} payload_genesis_t;

/* Zeroes g and sets the defaults: params = matcher_params_default,
 * witness_k 0, customers open, ack_timeout_s 3600, no members. origin,
 * hub, hub_transport and operator_key stay unset (empty), and the encoder
 * refuses them unset. */
void payload_genesis_init(payload_genesis_t *g);

/* genesis encoder / decoder. Also COFAB_EKEYMISMATCH: the hub, operator
 * or a member verifier's key id does not match its name and key, or a
 * member's name differs from its key's name. */
int payload_genesis_encode(const payload_genesis_t *g, uint8_t **out, size_t *len);
int payload_genesis_decode(payload_genesis_t *g, const uint8_t *data, size_t len);

/* member-add. Also COFAB_EKEYMISMATCH as for genesis members. */
int payload_member_add_encode(const payload_member_t *m, uint8_t **out, size_t *len);
int payload_member_add_decode(payload_member_t *m, const uint8_t *data, size_t len);

/* member-remove. */
typedef struct {
    uint8_t key[32];                   /* the member's signing public key */
    char reason[PAYLOAD_MAX_TEXT + 1]; /* optional; "" = absent */
} payload_member_remove_t;

int payload_member_remove_encode(const payload_member_remove_t *r, uint8_t **out, size_t *len);
int payload_member_remove_decode(payload_member_remove_t *r, const uint8_t *data, size_t len);

/* One process a factory offers. cap has the matcher's type so that
 * matcher_offer_t.cap can point straight at it. */
typedef struct {
    char process[PAYLOAD_NAME_MAX + 1];                            /* process name */
    char materials[PAYLOAD_MAX_MATERIALS][PAYLOAD_NAME_MAX + 1];   /* distinct names */
    uint32_t nmaterials;                                           /* 1..16 */
    int64_t unit_price;                                            /* cents, 0..1e6 */
    int64_t setup_cost;                                            /* cents per batch, 0..1e8 */
    int64_t moq;                                                   /* 1..1e6 */
    int64_t max_qty;                                               /* moq..1e6 */
    int64_t cap[PAYLOAD_MAX_DAYS];                                 /* units/day from start_day */
    uint32_t ncap;                                                 /* 1..366 */
} payload_offer_t;

/* capacity. About 110 KB: heap-allocate it. */
typedef struct {
    uint32_t start_day;                /* epoch day of cap[0] */
    uint32_t valid_until_day;          /* last epoch day the record holds, >= start_day */
    int32_t lead_days;                 /* quoted lead time, 0..MATCHER_MAX_LEAD */
    int32_t lat_e6, lon_e6;            /* location, micro-degrees */
    int32_t reserve_pm;                /* -1: alliance default, else 0..1000 */
    char location[PAYLOAD_MAX_LOCATION + 1]; /* optional place name; "" = absent */
    payload_offer_t offers[PAYLOAD_MAX_OFFERS]; /* distinct processes */
    uint32_t noffers;                  /* 1..32 */
} payload_capacity_t;

int payload_capacity_encode(const payload_capacity_t *c, uint8_t **out, size_t *len);
int payload_capacity_decode(payload_capacity_t *c, const uint8_t *data, size_t len);

/* order. The order id is the envelope's subject, not part of the payload.
 * items use the matcher's type so matcher_order_t.items can point at them. */
typedef struct {
    matcher_item_t items[PAYLOAD_MAX_ITEMS]; /* distinct (process, material) */
    uint32_t nitems;                   /* 1..8 */
    uint32_t due_day;                  /* epoch day the goods are due */
    int32_t lat_e6, lon_e6;            /* delivery location, micro-degrees */
    int64_t budget;                    /* cents, 0 = none */
    int split;                         /* 1: may be split across factories, else 0 */
    char title[PAYLOAD_MAX_TITLE + 1]; /* optional; "" = absent */
} payload_order_t;

int payload_order_encode(const payload_order_t *o, uint8_t **out, size_t *len);
int payload_order_decode(payload_order_t *o, const uint8_t *data, size_t len);

/* One piece of an assignment: (part of) one item at one factory. */
typedef struct {
    uint8_t factory[32];                /* the factory's signing public key */
    char process[PAYLOAD_NAME_MAX + 1]; /* the item's process */
    char material[PAYLOAD_NAME_MAX + 1];/* the item's material */
    int64_t qty;                        /* units, 1..1e6 */
    uint32_t first_day, last_day;       /* planned production, epoch days */
    int64_t cost;                       /* cents */
} payload_piece_t;

/* assign. About 8 KB. */
typedef struct {
    uint64_t basis;                     /* ledger size the matcher decision used */
    payload_piece_t pieces[PAYLOAD_MAX_PIECES];
    uint32_t npieces;                   /* 1..64 */
    int has_runner_up;                  /* 1 if runner_up is set, else 0 */
    uint8_t runner_up[32];              /* next best factory's signing key */
    uint8_t result[32];                 /* SHA-256 of the canonical matcher result */
} payload_assign_t;

int payload_assign_encode(const payload_assign_t *a, uint8_t **out, size_t *len);
int payload_assign_decode(payload_assign_t *a, const uint8_t *data, size_t len);

/* accept. */
typedef struct {
    char note[PAYLOAD_MAX_TEXT + 1];    /* optional; "" = absent */
} payload_accept_t;

int payload_accept_encode(const payload_accept_t *a, uint8_t **out, size_t *len);
int payload_accept_decode(payload_accept_t *a, const uint8_t *data, size_t len);

/* decline. */
typedef struct {
    char reason[PAYLOAD_MAX_TEXT + 1];  /* required, 1..256 bytes */
} payload_decline_t;

int payload_decline_encode(const payload_decline_t *d, uint8_t **out, size_t *len);
int payload_decline_decode(payload_decline_t *d, const uint8_t *data, size_t len);

/* status. */
typedef struct {
    payload_stage_t stage;              /* production stage reached */
    int has_attachment;                 /* 1 if attachment is set, else 0 */
    uint8_t attachment[32];             /* SHA-256 of a file (QC report, waybill) */
} payload_status_t;

int payload_status_encode(const payload_status_t *s, uint8_t **out, size_t *len);
int payload_status_decode(payload_status_t *s, const uint8_t *data, size_t len);

/* cancel. */
typedef struct {
    char reason[PAYLOAD_MAX_TEXT + 1];  /* optional; "" = absent */
} payload_cancel_t;

int payload_cancel_encode(const payload_cancel_t *c, uint8_t **out, size_t *len);
int payload_cancel_decode(payload_cancel_t *c, const uint8_t *data, size_t len);

/* reassign. */
typedef struct {
    payload_why_t why;                  /* why the order goes back to matching */
    uint8_t factory[32];                /* signing key of the factory it leaves */
    uint64_t basis;                     /* ledger size the decision used */
} payload_reassign_t;

int payload_reassign_encode(const payload_reassign_t *r, uint8_t **out, size_t *len);
int payload_reassign_decode(payload_reassign_t *r, const uint8_t *data, size_t len);

/* Decodes data as the payload of an envelope of `kind` into a heap scratch
 * struct (freed before returning) and returns the decoder's code: what the
 * hub calls to refuse a malformed payload of any kind. ENVELOPE_NOTE
 * accepts any bytes up to ENVELOPE_MAX_PAYLOAD. Returns as the decoders,
 * or COFAB_EKIND for an unknown kind. */
int payload_check(int kind, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
