/* libFuzzer target for the decoders of one schema (TP_FUZZ_SCHEMA = 900, 901,
 * 903) or, with TP_FUZZ_SCHEMA = 0, the headerless SHM structures.
 *
 * Properties checked on every input, besides "no crash, no out-of-bounds
 * read" (ASan/UBSan):
 *  - a message that decodes also prints as JSON and re-encodes;
 *  - strict schemas (900/901): the re-encoding equals the input bytes;
 *  - every schema: re-encoding the re-encoding changes nothing. */
#include "tensorpool/codec/registry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *devnull(void)
{
    static FILE *f;
    if (f == NULL)
        f = fopen("/dev/null", "w");
    return f;
}

static void check_message(const tp_codec_message_t *m, const uint8_t *in, size_t len, bool headerless)
{
    tp_json_t j;
    size_t consumed = 0;
    tp_json_init(&j, devnull());
    if (m->print_json(in, len, headerless, &j, &consumed) < 0)
        return;
    if (consumed > len)
        abort();
    uint8_t *out = malloc(consumed + 1);
    uint8_t *again = malloc(consumed + 1);
    long n = m->reencode(in, len, headerless, out, consumed);
    if (n < 0 || (size_t)n > consumed)
        abort();
    if (m->layout->policy == TP_SBE_POLICY_STRICT && ((size_t)n != consumed || memcmp(out, in, consumed) != 0))
        abort();
    long n2 = m->reencode(out, (size_t)n, headerless, again, (size_t)n);
    if (n2 != n || memcmp(out, again, (size_t)n) != 0)
        abort();
    free(out);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so any read past the end is caught by ASan. */
    uint8_t *in = malloc(size + 1);
    memcpy(in, data, size);
#if TP_FUZZ_SCHEMA == 0
    check_message(tp_codec_find_by_name("ShmRegionSuperblock"), in, size, true);
    check_message(tp_codec_find_by_name("SlotHeader"), in, size, true);
#else
    if (size >= TP_SBE_HEADER_LENGTH) {
        /* Pin the schema id so the fuzzer spends its time inside this schema. */
        tp_sbe_put_u16(in + 4, TP_FUZZ_SCHEMA);
        const tp_codec_message_t *m = tp_codec_find(TP_FUZZ_SCHEMA, tp_sbe_get_u16(in + 2));
        if (m != NULL)
            check_message(m, in, size, false);
    }
    tp_json_t j;
    size_t consumed;
    tp_json_init(&j, devnull());
    (void)tp_codec_print_json(in, size, &j, &consumed);
#endif
    free(in);
    return 0;
}
