/* test_note.c — signed notes, checkpoints, cosignatures and verifier keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cofab/error.h"
#include "cofab/note.h"

#define EM "\xe2\x80\x94"

/* Known answer from golang.org/x/mod/sumdb/note (doc comment and tests). */
static const char s_peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char s_peter_skey_b64[] = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
static const char s_enoch_vkey[] =
    "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
static const char s_peter_text[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n";
static const char s_peter_line[] =
    EM " PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
static const char s_enoch_line[] =
    EM " EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

typedef struct {
    uint8_t pk[32], sk[64];   /* Ed25519 key pair, libsodium layout */
} s_key_t;

static void
s_keygen(s_key_t *k)
{
    assert_int_equal(crypto_sign_keypair(k->pk, k->sk), 0);
}

static int
s_parse_str(note_t *n, const char *text)
{
    return note_parse(n, text, strlen(text));
}

/* "— name base64(blob)\n" */
static void
s_make_line(char *out, size_t out_len, const char *name, const uint8_t *blob, size_t blob_len)
{
    char b64[512];
    assert_true(blob_len <= 300);
    sodium_bin2base64(b64, sizeof b64, blob, blob_len, sodium_base64_VARIANT_ORIGINAL);
    int n = snprintf(out, out_len, EM " %s %s\n", name, b64);
    assert_true(n > 0 && (size_t) n < out_len);
}

/* Signs body with a fresh key named name into out and fills v. */
static void
s_signed(const char *body, const char *name, s_key_t *k, note_verifier_t *v, char *out,
         size_t out_len)
{
    s_keygen(k);
    assert_int_equal(note_verifier_init(v, name, k->pk), 0);
    assert_int_equal(note_sign(body, strlen(body), name, k->sk, out, out_len), 0);
}

/* ---- known answers ------------------------------------------------------ */

static void
test_kat_go_verifier_and_note(void **state)
{
    (void) state;
    note_verifier_t v;
    char text[NOTE_VERIFIER_MAX], msg[1024];
    static note_t n;

    assert_int_equal(note_verifier_parse(&v, s_peter_vkey, strlen(s_peter_vkey)), 0);
    assert_string_equal(v.name, "PeterNeumann");
    const uint8_t want_id[4] = {0xc7, 0x4f, 0x20, 0xa3};
    assert_memory_equal(v.keyid, want_id, 4);
    assert_int_equal(note_verifier_format(&v, text, sizeof text), 0);
    assert_string_equal(text, s_peter_vkey);

    snprintf(msg, sizeof msg, "%s\n%s", s_peter_text, s_peter_line);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(n.nsigs, 1);
    assert_int_equal(n.body_len, strlen(s_peter_text));
    assert_string_equal(n.body, s_peter_text);
    assert_int_equal(n.sigs[0].blob_len, 68);
    assert_int_equal(note_verify(&n, &v), 0);

    /* The doubly-signed example: both keys verify, each on its own. */
    note_verifier_t e;
    assert_int_equal(note_verifier_parse(&e, s_enoch_vkey, strlen(s_enoch_vkey)), 0);
    snprintf(msg, sizeof msg, "%s\n%s%s", s_peter_text, s_peter_line, s_enoch_line);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(n.nsigs, 2);
    assert_int_equal(note_verify(&n, &v), 0);
    assert_int_equal(note_verify(&n, &e), 0);

    /* Signed by Enoch only: Peter's key is not found. */
    snprintf(msg, sizeof msg, "%s\n%s", s_peter_text, s_enoch_line);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(note_verify(&n, &v), COFAB_ENOTFOUND);
}

static void
test_kat_go_sign(void **state)
{
    (void) state;
    uint8_t raw[33];
    size_t raw_len = 0;
    s_key_t k;
    char want[1024], got[1024];

    /* Go's signer key is base64(0x01 || seed); Ed25519 is deterministic, so
     * signing the same text must give Go's exact bytes. */
    assert_int_equal(sodium_base642bin(raw, sizeof raw, s_peter_skey_b64,
                                       strlen(s_peter_skey_b64), NULL, &raw_len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL), 0);
    assert_int_equal(raw_len, 33);
    assert_int_equal(raw[0], 0x01);
    assert_int_equal(crypto_sign_seed_keypair(k.pk, k.sk, raw + 1), 0);
    assert_int_equal(note_sign(s_peter_text, strlen(s_peter_text), "PeterNeumann", k.sk, got,
                               sizeof got), 0);
    snprintf(want, sizeof want, "%s\n%s", s_peter_text, s_peter_line);
    assert_string_equal(got, want);
}

/* ---- signed notes --------------------------------------------------------- */

static void
test_sign_parse_verify(void **state)
{
    (void) state;
    s_key_t k;
    note_verifier_t v;
    char out[NOTE_MAX_LEN + 1];
    static note_t n;
    const char *body = "hello\nworld \xc3\xa9\n";

    s_signed(body, "log.example", &k, &v, out, sizeof out);
    assert_int_equal(strncmp(out, body, strlen(body)), 0);
    const char *sep = "\n" EM " log.example ";
    assert_int_equal(strncmp(out + strlen(body), sep, strlen(sep)), 0);
    assert_int_equal(out[strlen(out) - 1], '\n');
    assert_int_equal(s_parse_str(&n, out), 0);
    assert_string_equal(n.body, body);
    assert_int_equal(n.nsigs, 1);
    assert_string_equal(n.sigs[0].name, "log.example");
    assert_memory_equal(n.sigs[0].keyid, v.keyid, 4);
    assert_int_equal(note_verify(&n, &v), 0);

    /* Another key under the same name: key id differs, so not found. */
    s_key_t k2;
    note_verifier_t v2;
    s_keygen(&k2);
    assert_int_equal(note_verifier_init(&v2, "log.example", k2.pk), 0);
    assert_int_equal(note_verify(&n, &v2), COFAB_ENOTFOUND);

    /* out may be the body's own buffer. */
    char inplace[512];
    strcpy(inplace, body);
    assert_int_equal(note_sign(inplace, strlen(inplace), "log.example", k.sk, inplace,
                               sizeof inplace), 0);
    assert_string_equal(inplace, out);
}

static void
test_tampered(void **state)
{
    (void) state;
    s_key_t k;
    note_verifier_t v;
    char out[1024], bad[2048], line[512];
    static note_t n;
    const char *body = "origin\n5\nbody\n";

    s_signed(body, "log", &k, &v, out, sizeof out);

    /* One changed body byte. */
    strcpy(bad, out);
    bad[1] ^= 0x01;
    assert_int_equal(s_parse_str(&n, bad), 0);
    assert_int_equal(note_verify(&n, &v), COFAB_EBADSIG);

    /* One flipped signature bit (key id kept, line re-encoded). */
    assert_int_equal(s_parse_str(&n, out), 0);
    uint8_t blob[68];
    memcpy(blob, n.sigs[0].blob, 68);
    blob[40] ^= 0x20;
    s_make_line(line, sizeof line, "log", blob, sizeof blob);
    snprintf(bad, sizeof bad, "%s\n%s", body, line);
    assert_int_equal(s_parse_str(&n, bad), 0);
    assert_int_equal(note_verify(&n, &v), COFAB_EBADSIG);

    /* A valid line plus a bad one for the same key: rejected. */
    snprintf(bad, sizeof bad, "%s%s", out, line);
    assert_int_equal(s_parse_str(&n, bad), 0);
    assert_int_equal(n.nsigs, 2);
    assert_int_equal(note_verify(&n, &v), COFAB_EBADSIG);

    /* A valid signature with 8 extra bytes is not an Ed25519 blob. */
    uint8_t longer[76];
    memcpy(longer, blob, 68);
    longer[40] ^= 0x20;
    memset(longer + 68, 0, 8);
    s_make_line(line, sizeof line, "log", longer, sizeof longer);
    snprintf(bad, sizeof bad, "%s\n%s", body, line);
    assert_int_equal(s_parse_str(&n, bad), 0);
    assert_int_equal(note_verify(&n, &v), COFAB_EBADSIG);

    /* A matching key id with a too-short blob cannot verify. */
    s_make_line(line, sizeof line, "log", blob, 40);
    snprintf(bad, sizeof bad, "%s\n%s", body, line);
    assert_int_equal(s_parse_str(&n, bad), 0);
    assert_int_equal(note_verify(&n, &v), COFAB_EBADSIG);

    /* A matching key id with a blob too long to keep (another algorithm). */
    uint8_t longblob[200];
    memset(longblob, 0x5a, sizeof longblob);
    memcpy(longblob, v.keyid, 4);
    s_make_line(line, sizeof line, "log", longblob, sizeof longblob);
    snprintf(bad, sizeof bad, "%s\n%s", body, line);
    assert_int_equal(s_parse_str(&n, bad), 0);
    assert_int_equal(n.nsigs, 1);
    assert_int_equal(n.sigs[0].blob_len, 0);
    assert_int_equal(note_verify(&n, &v), COFAB_EBADSIG);
}

static void
test_unknown_lines_skipped(void **state)
{
    (void) state;
    s_key_t k;
    note_verifier_t v;
    char out[2048], msg[8192], l1[512], l2[512], l3[512], l4[512];
    static note_t n;
    const char *body = "a\nb\n";
    uint8_t blob[76];

    s_signed(body, "log", &k, &v, out, sizeof out);
    randombytes_buf(blob, sizeof blob);
    s_make_line(l1, sizeof l1, "witness.example.com/w1", blob, 76);
    /* Same name, other key id; same key id, other name. */
    s_make_line(l2, sizeof l2, "log", blob, 68);
    memcpy(blob, v.keyid, 4);
    s_make_line(l3, sizeof l3, "log2", blob, 68);
    /* Non-ASCII names are legal on signature lines; long ones are dropped. */
    char longname[100];
    memset(longname, 'x', 80);
    longname[80] = '\0';
    s_make_line(l4, sizeof l4, longname, blob, 68);
    snprintf(msg, sizeof msg, "%s%s%s" EM " \xc3\xb1" "and\xc3\xba QUJDREU=\n%s%s", out, l1, l2,
             l3, l4);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(n.nsigs, 5);   /* the 80-byte name is dropped */
    assert_string_equal(n.sigs[1].name, "witness.example.com/w1");
    assert_string_equal(n.sigs[3].name, "\xc3\xb1" "and\xc3\xba");
    assert_int_equal(note_verify(&n, &v), 0);

    /* Unknown lines first, ours last: still found. */
    snprintf(msg, sizeof msg, "%s\n%s%s%s", body, l1, l2, out + strlen(body) + 1);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(note_verify(&n, &v), 0);

    /* Only unknown lines. */
    snprintf(msg, sizeof msg, "%s\n%s%s", body, l1, l2);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(note_verify(&n, &v), COFAB_ENOTFOUND);
}

static void
test_note_parse_malformed(void **state)
{
    (void) state;
    static note_t n;
    char msg[NOTE_MAX_LEN * 2];
    const char *line = EM " k QUJDREU=\n";   /* blob "ABCDE": 5 bytes, the minimum */

    snprintf(msg, sizeof msg, "body\n\n%s", line);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_int_equal(n.sigs[0].blob_len, 5);

    static const char *const bad[] = {
        "",
        "\n",
        "\n\n",
        "body\n\n",                                 /* no signature */
        "body\n" EM " k QUJDREU=\n",                /* no blank line */
        "body\n\n" EM " k QUJDREU=",                /* no final newline */
        "body\n\n" EM " k QUJDREU=\n\n",            /* blank line at the end */
        "body\n\n" EM " k QUJDREU=\nxx\n",          /* not a signature line */
        "body\n\n- k QUJDREU=\n",                   /* ASCII dash */
        "body\n\n" EM "k QUJDREU=\n",               /* no space after dash */
        "body\n\n" EM "  QUJDREU=\n",               /* empty name */
        "body\n\n" EM " k\n",                       /* no signature */
        "body\n\n" EM " k \n",                      /* empty base64 */
        "body\n\n" EM " a+b QUJDREU=\n",            /* '+' in name */
        "body\n\n" EM " a\xc2\xa0" "b QUJDREU=\n",  /* U+00A0 in name */
        "body\n\n" EM " a\xe3\x80\x80" "b QUJDREU=\n", /* U+3000 in name */
        "body\n\n" EM " k QUJDRA==\n",              /* 4-byte blob */
        "body\n\n" EM " k QUJDREU\n",               /* missing padding */
        "body\n\n" EM " k QUJDREV=\n",              /* non-zero pad bits */
        "body\n\n" EM " k QUJD REU=\n",             /* space in base64 */
        "body\n\n" EM " k QUJDREU=!\n",             /* junk after base64 */
        "body\n\n" EM " k QUJD\xc3\xa9REU=\n",       /* U+00E9 among the digits */
        "bo\rdy\n\n" EM " k QUJDREU=\n",            /* control character */
        "bo\tdy\n\n" EM " k QUJDREU=\n",            /* tab */
        "bo\xff" "dy\n\n" EM " k QUJDREU=\n",       /* invalid UTF-8 */
        "bo\xc0\x80" "dy\n\n" EM " k QUJDREU=\n",   /* overlong NUL */
        "bo\xed\xa0\x80" "dy\n\n" EM " k QUJDREU=\n", /* surrogate */
        "bo\xf4\x90\x80\x80" "dy\n\n" EM " k QUJDREU=\n", /* past U+10FFFF */
        "bo\xe2\x80" "dy\n\n" EM " k QUJDREU=\n",   /* truncated sequence */
        "body\n\n\xe2\x80\x94\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = s_parse_str(&n, bad[i]);
        if (rc != COFAB_EMALFORMED)
            fail_msg("case %zu: got %d", i, rc);
        assert_int_equal(n.nsigs, 0);
    }

    /* An embedded NUL byte. */
    snprintf(msg, sizeof msg, "bo#dy\n\n%s", line);
    size_t len = strlen(msg);
    msg[2] = '\0';
    assert_int_equal(note_parse(&n, msg, len), COFAB_EMALFORMED);

    /* The body may hold blank lines: the last one splits (as in Go). */
    snprintf(msg, sizeof msg, "a\n\nb\n\n%s", line);
    assert_int_equal(s_parse_str(&n, msg), 0);
    assert_string_equal(n.body, "a\n\nb\n");

    /* NOTE_MAX_SIGS lines parse; one more does not. */
    size_t pos = (size_t) snprintf(msg, sizeof msg, "body\n\n");
    for (int i = 0; i < NOTE_MAX_SIGS; i++)
        pos += (size_t) snprintf(msg + pos, sizeof msg - pos, "%s", line);
    assert_int_equal(note_parse(&n, msg, pos), 0);
    assert_int_equal(n.nsigs, NOTE_MAX_SIGS);
    pos += (size_t) snprintf(msg + pos, sizeof msg - pos, "%s", line);
    assert_int_equal(note_parse(&n, msg, pos), COFAB_EMALFORMED);
}

static void
test_too_big(void **state)
{
    (void) state;
    static note_t n;
    static char big[NOTE_MAX_LEN + 200], out[NOTE_MAX_LEN * 2];
    s_key_t k;
    checkpoint_t cp;
    const char *line = EM " k QUJDREU=\n";

    /* Exactly NOTE_MAX_LEN parses; one byte more is too big. */
    size_t tail = 1 + strlen(line);
    memset(big, 'a', NOTE_MAX_LEN);
    big[NOTE_MAX_LEN - tail - 1] = '\n';
    memcpy(big + NOTE_MAX_LEN - tail, "\n", 1);
    memcpy(big + NOTE_MAX_LEN - tail + 1, line, strlen(line));
    assert_int_equal(note_parse(&n, big, NOTE_MAX_LEN), 0);
    assert_int_equal(n.body_len, NOTE_MAX_LEN - tail);
    memmove(big + 1, big, NOTE_MAX_LEN);
    assert_int_equal(note_parse(&n, big, NOTE_MAX_LEN + 1), COFAB_ETOOBIG);

    /* Signing a body whose note would exceed NOTE_MAX_LEN. */
    s_keygen(&k);
    memset(big, 'b', NOTE_MAX_LEN);
    big[NOTE_MAX_LEN - 51] = '\n';
    assert_int_equal(note_sign(big, NOTE_MAX_LEN - 50, "k", k.sk, out, sizeof out),
                     COFAB_ETOOBIG);
    assert_int_equal(note_sign(big, NOTE_MAX_LEN - 150, "k", k.sk, out, sizeof out),
                     COFAB_EMALFORMED);  /* no final newline */
    big[NOTE_MAX_LEN - 151] = '\n';
    assert_int_equal(note_sign(big, NOTE_MAX_LEN - 150, "k", k.sk, out, sizeof out), 0);
    assert_int_equal(note_parse(&n, out, strlen(out)), 0);

    /* Output buffer too small. */
    assert_int_equal(note_sign("a\n", 2, "k", k.sk, out, 50), COFAB_ETOOBIG);
    assert_int_equal(checkpoint_parse(&cp, big, NOTE_MAX_LEN + 1), COFAB_ETOOBIG);
}

static void
test_sign_rejects(void **state)
{
    (void) state;
    s_key_t k;
    char out[1024];
    s_keygen(&k);
    static const char *const bodies[] = {
        "", "\n", "no newline", "a\n\nb\n", "a\n\n", "\na\n", "a\rb\n", "a\xff\n",
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++)
        assert_int_equal(note_sign(bodies[i], strlen(bodies[i]), "k", k.sk, out, sizeof out),
                         COFAB_EMALFORMED);
    assert_int_equal(note_sign("a\0b\n", 4, "k", k.sk, out, sizeof out), COFAB_EMALFORMED);
#define S_NAME64 "1234567890123456789012345678901234567890123456789012345678901234"
    static const char *const names[] = {"", "a b", "a+b", "a/b", "\xc3\xa9", S_NAME64 "5"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_int_equal(note_sign("a\n", 2, names[i], k.sk, out, sizeof out), COFAB_EMALFORMED);
    assert_int_equal(note_sign("a\n", 2, S_NAME64, k.sk, out, sizeof out), 0);
}

/* ---- verifier keys ------------------------------------------------------- */

static void
test_verifier_roundtrip(void **state)
{
    (void) state;
    s_key_t k;
    note_verifier_t v, w;
    char text[NOTE_VERIFIER_MAX], small[NOTE_VERIFIER_MAX - 1];

    s_keygen(&k);
    assert_int_equal(note_verifier_init(&v, "cofab-hub_1.example", k.pk), 0);
    uint8_t id[4], cid[4];
    note_keyid("cofab-hub_1.example", NOTE_ALG_ED25519, k.pk, id);
    assert_memory_equal(v.keyid, id, 4);
    assert_int_equal(note_verifier_format(&v, text, sizeof text), 0);
    char hex[9];
    snprintf(hex, sizeof hex, "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
    assert_int_equal(strncmp(text, "cofab-hub_1.example+", 20), 0);
    assert_int_equal(strncmp(text + 20, hex, 8), 0);
    assert_int_equal(text[28], '+');
    assert_int_equal(strlen(text), 20 + 8 + 1 + 44);
    assert_int_equal(note_verifier_parse(&w, text, strlen(text)), 0);
    assert_memory_equal(&w, &v, sizeof v);
    assert_int_equal(note_verifier_format(&v, small, sizeof small), COFAB_EINVAL);

    /* Upper-case hex is read too (Go's ParseUint does). */
    for (int i = 20; i < 28; i++)
        if (text[i] >= 'a' && text[i] <= 'f')
            text[i] = (char) (text[i] - 'a' + 'A');
    assert_int_equal(note_verifier_parse(&w, text, strlen(text)), 0);
    assert_memory_equal(w.pk, k.pk, 32);

    /* The cosignature key id is a different one. */
    note_keyid("cofab-hub_1.example", NOTE_ALG_COSIG_V1, k.pk, cid);
    assert_memory_not_equal(cid, id, 4);
}

static void
test_verifier_rejects(void **state)
{
    (void) state;
    s_key_t k;
    note_verifier_t v, w;
    char good[NOTE_VERIFIER_MAX], t[NOTE_VERIFIER_MAX * 2], b64[64];
    uint8_t key[33];

    s_keygen(&k);
    assert_int_equal(note_verifier_init(&v, "hub", k.pk), 0);
    assert_int_equal(note_verifier_format(&v, good, sizeof good), 0);

    /* Wrong key id: one hex digit changed. */
    strcpy(t, good);
    t[4] = t[4] == '0' ? '1' : '0';
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EKEYMISMATCH);
    /* Right id, other name. */
    memcpy(t, "hux", 3);
    strcpy(t + 3, good + 3);
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EKEYMISMATCH);

    /* Wrong algorithm byte, with a key id computed for it. */
    key[0] = NOTE_ALG_COSIG_V1;
    memcpy(key + 1, k.pk, 32);
    uint8_t cid[4];
    note_keyid("hub", NOTE_ALG_COSIG_V1, k.pk, cid);
    sodium_bin2base64(b64, sizeof b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    snprintf(t, sizeof t, "hub+%02x%02x%02x%02x+%s", cid[0], cid[1], cid[2], cid[3], b64);
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EMALFORMED);

    /* Key of the wrong length. */
    sodium_bin2base64(b64, sizeof b64, key, 32, sodium_base64_VARIANT_ORIGINAL);
    snprintf(t, sizeof t, "hub+%.8s+%s", good + 4, b64);
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EMALFORMED);

    const char *key64 = good + 4 + 9;
    char hex[9];
    memcpy(hex, good + 4, 8);
    hex[8] = '\0';
#define S_CASE(rc, ...)                                                         \
    do {                                                                        \
        snprintf(t, sizeof t, __VA_ARGS__);                                     \
        int got_ = note_verifier_parse(&w, t, strlen(t));                       \
        if (got_ != (rc))                                                       \
            fail_msg("%s: got %d, want %d", t, got_, (rc));                     \
    } while (0)
    S_CASE(0, "hub+%s+%s", hex, key64);
    S_CASE(COFAB_EMALFORMED, "hub+%s+%s\n", hex, key64);   /* trailing newline */
    S_CASE(COFAB_EMALFORMED, "hub+%s+%s=", hex, key64);
    S_CASE(COFAB_EMALFORMED, "hub+%s+!%s", hex, key64);     /* bad base64 */
    S_CASE(COFAB_EMALFORMED, "hub+%s%s", hex, key64);       /* missing '+' */
    S_CASE(COFAB_EMALFORMED, "+%s+%s", hex, key64);         /* empty name */
    S_CASE(COFAB_EMALFORMED, "h b+%s+%s", hex, key64);      /* space */
    S_CASE(COFAB_EMALFORMED, "h/b+%s+%s", hex, key64);      /* outside [A-Za-z0-9._-] */
    S_CASE(COFAB_EMALFORMED, "h\xc3\xa9+%s+%s", hex, key64);
    S_CASE(COFAB_EMALFORMED, "hub+0%s+%s", hex, key64);     /* 9 hex digits */
    S_CASE(COFAB_EMALFORMED, "hub+%.7s+%s", hex, key64);    /* 7 hex digits */
    S_CASE(COFAB_EMALFORMED, "hub++%s+%s", hex, key64);
    S_CASE(COFAB_EMALFORMED, "hub+%s+%s", hex, "");          /* no key */
#undef S_CASE
    /* Bad base64 in the middle, non-hex id, missing padding. */
    strcpy(t, good);
    t[strlen(t) - 5] = '*';
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EMALFORMED);
    strcpy(t, good);
    t[5] = 'g';
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EMALFORMED);
    strcpy(t, good);
    t[strlen(t) - 1] = '\0';
    assert_int_equal(note_verifier_parse(&w, t, strlen(t)), COFAB_EMALFORMED);
    /* Only len bytes are read: a prefix is malformed. */
    assert_int_equal(note_verifier_parse(&w, good, strlen(good) - 2), COFAB_EMALFORMED);
    assert_int_equal(note_verifier_parse(&w, good, 0), COFAB_EMALFORMED);

    /* note_verifier_init names. */
    assert_int_equal(note_verifier_init(&w, "", k.pk), COFAB_EMALFORMED);
    assert_int_equal(note_verifier_init(&w, "a+b", k.pk), COFAB_EMALFORMED);
    assert_int_equal(note_verifier_init(&w, "a b", k.pk), COFAB_EMALFORMED);
    assert_int_equal(note_verifier_init(&w, "a\nb", k.pk), COFAB_EMALFORMED);
    char longname[NOTE_MAX_NAME + 2];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    assert_int_equal(note_verifier_init(&w, longname, k.pk), COFAB_EMALFORMED);
    longname[NOTE_MAX_NAME] = '\0';
    assert_int_equal(note_verifier_init(&w, longname, k.pk), 0);
    assert_int_equal(note_verifier_format(&w, t, sizeof t), 0);
    assert_int_equal(note_verifier_parse(&v, t, strlen(t)), 0);
    assert_string_equal(v.name, longname);
}

/* ---- checkpoints --------------------------------------------------------- */

static void
test_checkpoint_roundtrip(void **state)
{
    (void) state;
    checkpoint_t cp, back;
    char body[1024], want[1024], r64[64], c64[64];
    size_t len = 0;

    memset(&cp, 0, sizeof cp);
    strcpy(cp.origin, "cofab.example/ledger");
    cp.size = 20852163;
    randombytes_buf(cp.root, 32);
    sodium_bin2base64(r64, sizeof r64, cp.root, 32, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), 0);
    snprintf(want, sizeof want, "cofab.example/ledger\n20852163\n%s\n", r64);
    assert_string_equal(body, want);
    assert_int_equal(len, strlen(want));
    assert_int_equal(checkpoint_parse(&back, body, len), 0);
    assert_string_equal(back.origin, cp.origin);
    assert_true(back.size == cp.size);
    assert_memory_equal(back.root, cp.root, 32);
    assert_int_equal(back.has_chain, 0);

    cp.has_chain = 1;
    cp.size = UINT64_MAX;
    randombytes_buf(cp.chain, 32);
    sodium_bin2base64(c64, sizeof c64, cp.chain, 32, sodium_base64_VARIANT_ORIGINAL);
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), 0);
    snprintf(want, sizeof want, "cofab.example/ledger\n18446744073709551615\n%s\nchain %s\n",
             r64, c64);
    assert_string_equal(body, want);
    assert_int_equal(checkpoint_parse(&back, body, len), 0);
    assert_true(back.size == UINT64_MAX);
    assert_int_equal(back.has_chain, 1);
    assert_memory_equal(back.chain, cp.chain, 32);

    /* Size 0 and unknown extension lines around the chain line. */
    cp.size = 0;
    cp.has_chain = 0;
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), 0);
    snprintf(body + len, sizeof body - len, "ext one\nchain %s\nchainless\n", c64);
    assert_int_equal(checkpoint_parse(&back, body, strlen(body)), 0);
    assert_true(back.size == 0);
    assert_int_equal(back.has_chain, 1);
    assert_memory_equal(back.chain, cp.chain, 32);

    /* Signed as a note, the body comes back intact. */
    s_key_t k;
    note_verifier_t v;
    char signed_note[2048];
    static note_t n;
    s_signed(want, "cofab.example", &k, &v, signed_note, sizeof signed_note);
    assert_int_equal(s_parse_str(&n, signed_note), 0);
    assert_int_equal(note_verify(&n, &v), 0);
    assert_int_equal(checkpoint_parse(&back, n.body, n.body_len), 0);
    assert_true(back.size == UINT64_MAX);

    /* Format errors. */
    strcpy(cp.origin, "");
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), COFAB_EMALFORMED);
    strcpy(cp.origin, "a\nb");
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), COFAB_EMALFORMED);
    memset(cp.origin, 'o', sizeof cp.origin);   /* no NUL within 256 bytes */
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), COFAB_EMALFORMED);
    cp.origin[NOTE_MAX_ORIGIN] = '\0';
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &len), 0);
    assert_int_equal(checkpoint_parse(&back, body, len), 0);
    assert_int_equal(strlen(back.origin), NOTE_MAX_ORIGIN);
    assert_int_equal(checkpoint_format(&cp, body, 200, &len), COFAB_ETOOBIG);
}

static void
test_checkpoint_malformed(void **state)
{
    (void) state;
    checkpoint_t cp;
    char r64[64], r31[64], r33[64], body[1024];
    uint8_t h[33];
    randombytes_buf(h, sizeof h);
    sodium_bin2base64(r64, sizeof r64, h, 32, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(r31, sizeof r31, h, 31, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(r33, sizeof r33, h, 33, sodium_base64_VARIANT_ORIGINAL);

    struct {
        const char *origin, *size, *root, *ext;
    } cases[] = {
        {"o", "01", r64, ""},
        {"o", "00", r64, ""},
        {"o", "+1", r64, ""},
        {"o", "-1", r64, ""},
        {"o", " 1", r64, ""},
        {"o", "1 ", r64, ""},
        {"o", "1a", r64, ""},
        {"o", "0x10", r64, ""},
        {"o", "", r64, ""},
        {"o", "18446744073709551616", r64, ""},
        {"o", "99999999999999999999", r64, ""},
        {"o", "100000000000000000000", r64, ""},
        {"o", "5", r31, ""},
        {"o", "5", r33, ""},
        {"o", "5", "AAAA", ""},
        {"o", "5", "not base64 at all!", ""},
        {"", "5", r64, ""},
        {"o", "5", r64, "chain\n"},
        {"o", "5", r64, "chain \n"},
        {"o", "5", r64, "chain AAAA\n"},
        {"o", "5", r64, "\n"},          /* empty extension line */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(body, sizeof body, "%s\n%s\n%s\n%s", cases[i].origin, cases[i].size,
                 cases[i].root, cases[i].ext);
        int rc = checkpoint_parse(&cp, body, strlen(body));
        if (rc != COFAB_EMALFORMED)
            fail_msg("case %zu: got %d for %s", i, rc, body);
    }
    /* Two chain lines. */
    snprintf(body, sizeof body, "o\n5\n%s\nchain %s\nchain %s\n", r64, r64, r64);
    assert_int_equal(checkpoint_parse(&cp, body, strlen(body)), COFAB_EMALFORMED);
    /* Missing lines and final newline. */
    snprintf(body, sizeof body, "o\n5\n");
    assert_int_equal(checkpoint_parse(&cp, body, strlen(body)), COFAB_EMALFORMED);
    snprintf(body, sizeof body, "o\n5\n%s", r64);
    assert_int_equal(checkpoint_parse(&cp, body, strlen(body)), COFAB_EMALFORMED);
    assert_int_equal(checkpoint_parse(&cp, "", 0), COFAB_EMALFORMED);
    /* Origin over NOTE_MAX_ORIGIN. */
    char origin[NOTE_MAX_ORIGIN + 2];
    memset(origin, 'o', sizeof origin - 1);
    origin[sizeof origin - 1] = '\0';
    snprintf(body, sizeof body, "%s\n5\n%s\n", origin, r64);
    assert_int_equal(checkpoint_parse(&cp, body, strlen(body)), COFAB_EMALFORMED);
    /* NUL in the body. */
    snprintf(body, sizeof body, "o\n5\n%s\n", r64);
    size_t len = strlen(body);
    body[0] = '\0';
    assert_int_equal(checkpoint_parse(&cp, body, len), COFAB_EMALFORMED);
    /* Sanity: the well-formed variant of the cases parses. */
    snprintf(body, sizeof body, "o\n5\n%s\n", r64);
    assert_int_equal(checkpoint_parse(&cp, body, strlen(body)), 0);
    assert_true(cp.size == 5);
}

/* ---- cosignatures -------------------------------------------------------- */

static void
test_cosign(void **state)
{
    (void) state;
    s_key_t log, wit, other;
    note_verifier_t lv;
    checkpoint_t cp;
    char body[512], signed_note[2048], cosigned[4096], twice[4096];
    size_t blen = 0;
    static note_t n;
    uint64_t ts = 0;

    memset(&cp, 0, sizeof cp);
    strcpy(cp.origin, "cofab.example/ledger");
    cp.size = 7;
    randombytes_buf(cp.root, 32);
    cp.has_chain = 1;
    randombytes_buf(cp.chain, 32);
    assert_int_equal(checkpoint_format(&cp, body, sizeof body, &blen), 0);
    s_signed(body, "cofab.example", &log, &lv, signed_note, sizeof signed_note);
    s_keygen(&wit);
    s_keygen(&other);

    const uint64_t t0 = 1679315147;
    assert_int_equal(note_cosign(signed_note, strlen(signed_note), "witness-1", wit.sk, t0,
                                 cosigned, sizeof cosigned), 0);
    /* The original note is kept byte for byte; one line is appended. */
    assert_int_equal(strncmp(cosigned, signed_note, strlen(signed_note)), 0);
    assert_int_equal(strncmp(cosigned + strlen(signed_note), EM " witness-1 ", 14), 0);
    assert_int_equal(s_parse_str(&n, cosigned), 0);
    assert_int_equal(n.nsigs, 2);
    assert_int_equal(n.sigs[1].blob_len, 76);
    assert_int_equal(note_verify(&n, &lv), 0);
    assert_int_equal(note_verify_cosignature(&n, "witness-1", wit.pk, &ts), 0);
    assert_true(ts == t0);
    assert_int_equal(note_verify_cosignature(&n, "witness-1", wit.pk, NULL), 0);

    /* The blob is keyid(0x04) || BE64(t) || Ed25519 over the spec's message. */
    uint8_t cid[4];
    note_keyid("witness-1", NOTE_ALG_COSIG_V1, wit.pk, cid);
    assert_memory_equal(n.sigs[1].keyid, cid, 4);
    const uint8_t be[8] = {0, 0, 0, 0, 0x64, 0x18, 0x50, 0xcb};  /* 1679315147 */
    assert_memory_equal(n.sigs[1].blob + 4, be, 8);
    char msg[1024];
    int mlen = snprintf(msg, sizeof msg, "cosignature/v1\ntime 1679315147\n%s", body);
    assert_int_equal(crypto_sign_verify_detached(n.sigs[1].blob + 12, (uint8_t *) msg,
                                                 (size_t) mlen, wit.pk), 0);

    /* Wrong witness key or name: not found. The log key is not a witness. */
    assert_int_equal(note_verify_cosignature(&n, "witness-1", other.pk, &ts), COFAB_ENOTFOUND);
    assert_int_equal(note_verify_cosignature(&n, "witness-2", wit.pk, &ts), COFAB_ENOTFOUND);
    assert_int_equal(note_verify_cosignature(&n, "cofab.example", log.pk, &ts),
                     COFAB_ENOTFOUND);
    /* A witness verifier for alg 0x01 does not match the cosignature line. */
    note_verifier_t wv;
    assert_int_equal(note_verifier_init(&wv, "witness-1", wit.pk), 0);
    assert_int_equal(note_verify(&n, &wv), COFAB_ENOTFOUND);

    /* Tampered timestamp or body: bad signature. */
    n.sigs[1].blob[11] ^= 1;
    assert_int_equal(note_verify_cosignature(&n, "witness-1", wit.pk, &ts), COFAB_EBADSIG);
    n.sigs[1].blob[11] ^= 1;
    /* A validly signed timestamp over 2^63-1 is still refused. */
    mlen = snprintf(msg, sizeof msg, "cosignature/v1\ntime 9223372036854775808\n%s", body);
    memcpy(n.sigs[1].blob + 4, "\x80\0\0\0\0\0\0\0", 8);
    crypto_sign_detached(n.sigs[1].blob + 12, NULL, (uint8_t *) msg, (size_t) mlen, wit.sk);
    assert_int_equal(note_verify_cosignature(&n, "witness-1", wit.pk, &ts), COFAB_EBADSIG);
    assert_int_equal(s_parse_str(&n, cosigned), 0);
    n.body[0] = 'C';
    assert_int_equal(note_verify_cosignature(&n, "witness-1", wit.pk, &ts), COFAB_EBADSIG);

    /* A second witness on top, at time 0. */
    assert_int_equal(note_cosign(cosigned, strlen(cosigned), "witness-2", other.sk, 0, twice,
                                 sizeof twice), 0);
    assert_int_equal(s_parse_str(&n, twice), 0);
    assert_int_equal(note_verify_cosignature(&n, "witness-1", wit.pk, &ts), 0);
    assert_true(ts == t0);
    assert_int_equal(note_verify_cosignature(&n, "witness-2", other.pk, &ts), 0);
    assert_true(ts == 0);
    assert_int_equal(note_verify(&n, &lv), 0);

    /* Errors. */
    assert_int_equal(note_cosign(signed_note, strlen(signed_note), "w", wit.sk,
                                 UINT64_C(1) << 63, twice, sizeof twice), COFAB_EMALFORMED);
    assert_int_equal(note_cosign(signed_note, strlen(signed_note), "w/1", wit.sk, 1, twice,
                                 sizeof twice), COFAB_EMALFORMED);
    assert_int_equal(note_cosign(signed_note, strlen(signed_note) - 1, "w", wit.sk, 1, twice,
                                 sizeof twice), COFAB_EMALFORMED);
    assert_int_equal(note_cosign(signed_note, strlen(signed_note), "w", wit.sk, 1, twice,
                                 strlen(signed_note) + 20), COFAB_ETOOBIG);
    char notcp[512];
    s_signed("just\ntext\n", "log", &log, &lv, notcp, sizeof notcp);
    assert_int_equal(note_cosign(notcp, strlen(notcp), "w", wit.sk, 1, twice, sizeof twice),
                     COFAB_EMALFORMED);
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_go_verifier_and_note),
        cmocka_unit_test(test_kat_go_sign),
        cmocka_unit_test(test_sign_parse_verify),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_unknown_lines_skipped),
        cmocka_unit_test(test_note_parse_malformed),
        cmocka_unit_test(test_too_big),
        cmocka_unit_test(test_sign_rejects),
        cmocka_unit_test(test_verifier_roundtrip),
        cmocka_unit_test(test_verifier_rejects),
        cmocka_unit_test(test_checkpoint_roundtrip),
        cmocka_unit_test(test_checkpoint_malformed),
        cmocka_unit_test(test_cosign),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
