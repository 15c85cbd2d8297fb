/* config_internal.h — shared by config.c (the inih driver) and config_keys.c (keys, values). */
#ifndef COFAB_CONFIG_INTERNAL_H
#define COFAB_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cofab/config.h"

#define CONFIG_SECT_MAX 127 /* longest section name recorded ("member." + 64 fits) */
#define CONFIG_MAX_KEYS 32  /* keys per section (bit masks are uint32_t) */
#define CONFIG_CLIP     48  /* bytes of untrusted text quoted in a message */

/* What a key's value is and how it is checked. */
typedef enum {
    K_TEXT,      /* UTF-8 text, lo..hi bytes */
    K_KEYNAME,   /* [A-Za-z0-9._-]{1,64} */
    K_PATH,      /* joined to the base directory unless absolute */
    K_ENDPOINT,  /* ZeroMQ endpoint transport://address */
    K_IPC,       /* ipc:// endpoint only */
    K_INT,       /* decimal integer lo..hi, stored by the field's size */
    K_DBL,       /* decimal number lo..hi */
    K_YESNO,     /* yes | no into an int */
    K_ENUM,      /* one of set */
    K_MATERIALS, /* comma list of names into a config_offer_t */
    K_DAYS,      /* weekday list into a uint8_t bit set */
} config_kind_t;

/* One key of a section. */
typedef struct {
    const char *name;       /* key as written (C field name in [matcher]) */
    config_kind_t kind;     /* value type */
    int required;           /* 1: no default */
    size_t off, size;       /* the field in the section's struct */
    int64_t lo, hi;         /* K_INT / K_DBL range, K_TEXT length range */
    const char *const *set; /* K_ENUM: allowed values, NULL-terminated */
} config_key_t;

/* Section kinds. */
typedef enum {
    CONFIG_T_HUB,      /* [hub] */
    CONFIG_T_ALLIANCE, /* [alliance] */
    CONFIG_T_MATCHER,  /* [matcher] */
    CONFIG_T_MEMBER,   /* [member.NAME] */
    CONFIG_T_NODE,     /* [node] */
    CONFIG_T_CAPACITY, /* [capacity] */
    CONFIG_T_OFFER,    /* [offer.PROCESS] */
    CONFIG_T_GATEWAY,  /* [gateway] */
    CONFIG_T_COUNT
} config_type_t;

/* A kind of section. */
typedef struct {
    const char *name;         /* section name, or prefix before ".NAME" */
    int hub;                  /* 1: in hub.ini, 0: in a factory file */
    int multi;                /* 1: [name.X], repeatable with distinct X */
    const config_key_t *keys; /* its keys */
    size_t nkeys;             /* how many */
} config_sect_t;

/* The sections of both file kinds and their keys (config_keys.c). */
extern const config_sect_t config_sects[CONFIG_T_COUNT];

/* Parser state shared by the inih reader and handler callbacks. */
typedef struct {
    const char *src;               /* file name for messages */
    const char *base_dir;          /* relative paths are joined to this (NULL: kept) */
    const char *text;              /* the whole input */
    size_t len, pos;               /* its length, next unread byte */
    unsigned line;                 /* physical line last handed to inih */
    int eof;                       /* reader reached the end */
    int is_hub;                    /* which file kind */
    config_hub_t *hub;             /* target when is_hub */
    config_node_t *node;           /* target otherwise */
    unsigned hdr_count;            /* section headers read so far */
    unsigned open_count;           /* header whose block the handler opened */
    unsigned hdr_line;             /* line of the last header */
    char hdr[CONFIG_SECT_MAX + 1]; /* its full name (inih keeps only 49 bytes) */
    int hdr_long;                  /* that name did not fit */
    int type;                      /* config_type_t of the open block, -1 none */
    void *base;                    /* struct the open block's keys write into */
    uint32_t sects_seen;           /* singleton sections given (bit per type) */
    uint32_t seen[CONFIG_T_COUNT]; /* keys given in the type's last block */
    unsigned kline[CONFIG_T_COUNT][CONFIG_MAX_KEYS]; /* and on which line */
    int rc;                                          /* first error, 0 while all is well */
    unsigned err_at;                                 /* line being read when it was found */
    char *err;                                       /* message buffer */
    size_t errlen;                                   /* its size */
} config_ctx_t;

/* Records the first error: COFAB_EMALFORMED and "src:line: message"
 * (line 0: no line). Later calls do nothing. */
void config_fail(config_ctx_t *c, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copies at most CONFIG_CLIP bytes of s into out without cutting a UTF-8
 * sequence, tabs made spaces (for messages); returns out. */
const char *config_clip(char out[CONFIG_CLIP + 1], const char *s);

/* 1 if s[0..n) is 1..max bytes of [a-z0-9-], or of [A-Za-z0-9._-] when
 * keyname is set; else 0. */
int config_name_ok(const char *s, size_t n, size_t max, int keyname);

/* Index of key name in section type t; the name must exist there. */
size_t config_key_index(int t, const char *name);

/* Checks value v of key k and stores it into c->base, or fails. */
void config_set(config_ctx_t *c, const config_key_t *k, const char *v);

/* 0 if the whole input is UTF-8 without control characters other than tab
 * and line ends; else fails naming the line and returns -1. */
int config_scan(config_ctx_t *c);

#endif
