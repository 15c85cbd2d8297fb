/* test_keys_envelope.c — key files (permissions, formats) and signed envelope decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cofab/envelope.h"
#include "cofab/error.h"
#include "cofab/keys.h"
#include "cofab/util.h"
#include "support/fixture.h"

static void
test_keygen_files(void **state)
{
    (void) state;
    char dir[256], path[512];
    fixture_tmpdir(dir);
    keys_t *k = keys_generate("acme-cnc");
    assert_non_null(k);
    assert_int_equal(keys_write(k, dir), 0);

    struct stat st;
    snprintf(path, sizeof path, "%s/acme-cnc.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    /* Loading gives back the same keys. */
    keys_t *loaded = NULL;
    assert_int_equal(keys_load(path, &loaded), 0);
    assert_memory_equal(keys_sign_pk(loaded), keys_sign_pk(k), 32);
    assert_memory_equal(keys_sign_sk(loaded), keys_sign_sk(k), 64);
    assert_memory_equal(keys_curve_pk(loaded), keys_curve_pk(k), 32);
    assert_string_equal(keys_name(loaded), "acme-cnc");
    /* The signing and transport keys are different key pairs. */
    assert_memory_not_equal(keys_sign_pk(k), keys_curve_pk(k), 32);

    /* The .pub's first line is the note verifier with the right key id. */
    uint8_t *pub = NULL;
    size_t pub_len = 0;
    snprintf(path, sizeof path, "%s/acme-cnc.pub", dir);
    assert_int_equal(util_read_file(path, 4096, &pub, &pub_len), 0);
    uint8_t h[32], prefix[128];
    size_t plen = (size_t) snprintf((char *) prefix, sizeof prefix, "acme-cnc\n\x01");
    memcpy(prefix + plen, keys_sign_pk(k), 32);
    crypto_hash_sha256(h, prefix, plen + 32);
    char want[32];
    snprintf(want, sizeof want, "acme-cnc+%02x%02x%02x%02x+", h[0], h[1], h[2], h[3]);
    assert_memory_equal(pub, want, strlen(want));
    keys_public_t p;
    assert_int_equal(keys_public_parse(&p, (char *) pub, pub_len), 0);
    assert_memory_equal(p.sign_pk, keys_sign_pk(k), 32);
    assert_memory_equal(p.curve_pk, keys_curve_pk(k), 32);
    /* A wrong key id in the verifier is caught. */
    char *plus = strchr((char *) pub, '+');
    plus[1] = plus[1] == '0' ? '1' : '0';
    assert_int_equal(keys_public_parse(&p, (char *) pub, pub_len), COFAB_EKEYMISMATCH);
    free(pub);

    /* Never overwrite an existing key. */
    assert_int_equal(keys_write(k, dir), COFAB_EEXIST);
    keys_destroy(&loaded);
    keys_destroy(&k);
    keys_destroy(&k); /* safe twice */
    assert_null(k);
    fixture_rmtree(dir);
}

static void
test_key_permissions_refused(void **state)
{
    (void) state;
    char dir[256], path[512], link[512];
    fixture_tmpdir(dir);
    keys_t *k = keys_generate("factory1");
    assert_int_equal(keys_write(k, dir), 0);
    snprintf(path, sizeof path, "%s/factory1.key", dir);
    keys_t *loaded = NULL;
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(keys_load(path, &loaded), COFAB_EKEYPERM);
    assert_null(loaded);
    assert_int_equal(chmod(path, 0604), 0);
    assert_int_equal(keys_load(path, &loaded), COFAB_EKEYPERM);
    assert_int_equal(chmod(path, 0600), 0);
    /* A symlink to a good key is refused (O_NOFOLLOW). */
    snprintf(link, sizeof link, "%s/link.key", dir);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(keys_load(link, &loaded), COFAB_EIO);
    assert_int_equal(keys_load(path, &loaded), 0);
    keys_destroy(&loaded);
    keys_destroy(&k);
    fixture_rmtree(dir);
}

static void
test_key_file_malformed(void **state)
{
    (void) state;
    char dir[256], path[512];
    fixture_tmpdir(dir);
    keys_t *k = keys_generate("f");
    assert_int_equal(keys_write(k, dir), 0);
    snprintf(path, sizeof path, "%s/f.key", dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    keys_t *loaded = NULL;
    assert_int_equal(util_read_file(path, 4096, &buf, &len), 0);
    /* Truncated, with trailing bytes, and with a corrupted secret. */
    const struct {
        size_t len;
        int flip;
        int want;
    } cases[] = {{len - 1, -1, COFAB_ETRUNCATED}, {len + 1, -1, COFAB_ETRAILING},
                 {len, (int) len - 40, COFAB_EMALFORMED}, {len, 0, COFAB_EMALFORMED}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char p2[600];
        uint8_t copy[512] = {0};
        memcpy(copy, buf, len);
        if (cases[i].flip >= 0)
            copy[cases[i].flip] ^= 0x40;
        snprintf(p2, sizeof p2, "%s/case%zu.key", dir, i);
        assert_int_equal(util_write_file_excl(p2, copy, cases[i].len, 0600), 0);
        /* A flipped byte in the secret's embedded public key fails its check. */
        assert_int_equal(keys_load(p2, &loaded), cases[i].want);
        assert_null(loaded);
    }
    free(buf);
    keys_destroy(&k);
    assert_null(keys_generate("bad name"));
    assert_null(keys_generate(""));
    fixture_rmtree(dir);
}

typedef struct {
    keys_t *alice;
    keys_t *bob;
    uint8_t buf[ENVELOPE_MAX + 16];
    size_t len;
} s_env_state_t;

static int
s_env_setup(void **state)
{
    s_env_state_t *s = calloc(1, sizeof *s);
    s->alice = keys_generate("alice");
    s->bob = keys_generate("bob");
    const char *payload = "{\"hello\": 1}";
    envelope_spec_t spec = {.kind = ENVELOPE_ORDER, .author_seq = 1, .timestamp_ms = 42,
                            .payload = (const uint8_t *) payload, .payload_len = strlen(payload)};
    memset(spec.subject, 0xab, 32);
    assert_int_equal(envelope_seal(&spec, s->alice, s->buf, sizeof s->buf, &s->len), 0);
    *state = s;
    return 0;
}

static int
s_env_teardown(void **state)
{
    s_env_state_t *s = *state;
    keys_destroy(&s->alice);
    keys_destroy(&s->bob);
    free(s);
    return 0;
}

static void
test_envelope_roundtrip(void **state)
{
    s_env_state_t *s = *state;
    envelope_t e;
    assert_int_equal(envelope_open(&e, s->buf, s->len), 0);
    assert_int_equal(e.kind, ENVELOPE_ORDER);
    assert_int_equal(e.author_seq, 1);
    assert_int_equal(e.timestamp_ms, 42);
    assert_int_equal(e.payload_len, 12);
    assert_memory_equal(e.payload, "{\"hello\": 1}", 12);
    assert_memory_equal(e.author, keys_sign_pk(s->alice), 32);
    uint8_t h[32];
    crypto_hash_sha256(h, s->buf, s->len);
    assert_memory_equal(e.hash, h, 32);
    assert_string_equal(envelope_kind_name(e.kind), "order");
    assert_int_equal(envelope_kind_parse("status"), ENVELOPE_STATUS);
    assert_int_equal(envelope_kind_parse("nonsense"), COFAB_EKIND);
}

static void
test_envelope_refusals(void **state)
{
    s_env_state_t *s = *state;
    envelope_t e;
    uint8_t copy[ENVELOPE_MAX + 16];

    /* Forged signature: any flipped bit in signed bytes or signature. */
    size_t spots[] = {40, 80, 100, ENVELOPE_HEADER_LEN + 3, s->len - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        memcpy(copy, s->buf, s->len);
        copy[spots[i]] ^= 0x10;
        assert_int_equal(envelope_open(&e, copy, s->len), COFAB_EBADSIG);
    }
    /* Wrong author key: the same bytes claimed by bob. */
    memcpy(copy, s->buf, s->len);
    memcpy(copy + 4, keys_sign_pk(s->bob), 32);
    assert_int_equal(envelope_open(&e, copy, s->len), COFAB_EBADSIG);
    /* Truncated at every length. */
    for (size_t n = 0; n < s->len; n++)
        assert_int_equal(envelope_decode(&e, s->buf, n), COFAB_ETRUNCATED);
    assert_int_equal(envelope_decode(&e, s->buf, s->len - 1), COFAB_ETRUNCATED);
    assert_int_equal(envelope_decode(&e, s->buf, 10), COFAB_ETRUNCATED);
    /* Trailing bytes. */
    memcpy(copy, s->buf, s->len);
    copy[s->len] = 0;
    assert_int_equal(envelope_decode(&e, copy, s->len + 1), COFAB_ETRAILING);
    /* Oversize, as a length and as a claimed payload length. */
    uint8_t *big = calloc(1, ENVELOPE_MAX + 1);
    big[0] = ENVELOPE_VERSION;
    assert_int_equal(envelope_decode(&e, big, ENVELOPE_MAX + 1), COFAB_ETOOBIG);
    free(big);
    memcpy(copy, s->buf, s->len);
    util_put_be32(copy + 116, ENVELOPE_MAX);
    assert_int_equal(envelope_decode(&e, copy, s->len), COFAB_ETOOBIG);
    /* Unknown version, unknown kind, reserved flags, seq 0. */
    memcpy(copy, s->buf, s->len);
    copy[0] = 2;
    assert_int_equal(envelope_decode(&e, copy, s->len), COFAB_EVERSION);
    memcpy(copy, s->buf, s->len);
    copy[1] = 200;
    assert_int_equal(envelope_decode(&e, copy, s->len), COFAB_EKIND);
    memcpy(copy, s->buf, s->len);
    copy[3] = 1;
    assert_int_equal(envelope_decode(&e, copy, s->len), COFAB_EMALFORMED);
    memcpy(copy, s->buf, s->len);
    memset(copy + 36, 0, 8);
    assert_int_equal(envelope_decode(&e, copy, s->len), COFAB_EMALFORMED);
    /* Sealing refuses oversize payloads. */
    envelope_spec_t spec = {.kind = ENVELOPE_NOTE, .author_seq = 1, .payload = copy,
                            .payload_len = ENVELOPE_MAX_PAYLOAD + 1};
    size_t len;
    assert_int_equal(envelope_seal(&spec, s->alice, copy, sizeof copy, &len), COFAB_ETOOBIG);
}

static void
test_envelope_chain(void **state)
{
    s_env_state_t *s = *state;
    envelope_chain_t c;
    envelope_chain_init(&c);
    uint8_t a[512], b[512];
    envelope_t ea, eb;
    fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "one", a, &ea);
    fixture_seal(&c, s->alice, ENVELOPE_NOTE, NULL, "two", b, &eb);
    assert_int_equal(ea.author_seq, 1);
    assert_int_equal(eb.author_seq, 2);
    assert_memory_equal(eb.author_prev, ea.hash, 32);
    assert_true(sodium_is_zero(ea.author_prev, 32));
}

int
main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_files),
        cmocka_unit_test(test_key_permissions_refused),
        cmocka_unit_test(test_key_file_malformed),
        cmocka_unit_test_setup_teardown(test_envelope_roundtrip, s_env_setup, s_env_teardown),
        cmocka_unit_test_setup_teardown(test_envelope_refusals, s_env_setup, s_env_teardown),
        cmocka_unit_test_setup_teardown(test_envelope_chain, s_env_setup, s_env_teardown),
    };
    return cmocka_run_group_tests_name("keys_envelope", tests, NULL, NULL);
}
