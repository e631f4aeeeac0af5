/* tp decode: SBE messages and SHM structures as JSON lines. */
#include "commands.h"
#include "read_input.h"

#include "tensorpool/codec/control.h"
#include "tensorpool/codec/registry.h"
#include "tensorpool/error.h"
#include "tensorpool/json_writer.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fputs("usage: tp decode [--shm superblock|slot] [--offset N] [FILE|-]\n"
          "\n"
          "Print SBE messages of schemas 900 (control), 901 (driver) and 903 (merge)\n"
          "as JSON, one object per line.\n"
          "\n"
          "FILE holds one or more messages back to back, each with its 8-byte message\n"
          "header; '-' or no FILE reads standard input. Every message is decoded in\n"
          "turn. Each object has schema_id, template_id, message (the schema's message\n"
          "name), headerless, message_header, length (bytes) and fields. Keys are the\n"
          "schema's names in snake_case (streamId -> stream_id); every 64-bit integer\n"
          "(epochs, sequence numbers, lease and correlation ids, nanosecond times) is a\n"
          "decimal string, so no JSON parser rounds it. Enums print by name (an\n"
          "undefined value prints as its number, the null sentinel as null), absent\n"
          "optional fields as null, ASCII var data as strings (UTF-8; an invalid byte\n"
          "becomes U+FFFD) and binary var data and byte arrays as {\"hex\": ...}.\n"
          "All keys of all tp commands: docs/json.md.\n"
          "\n"
          "Options:\n"
          "  --shm superblock  FILE holds a headerless ShmRegionSuperblock (64 bytes),\n"
          "                    e.g. the start of a header ring or payload pool file.\n"
          "  --shm slot        FILE holds a headerless 256-byte header slot: its\n"
          "                    SlotHeader and, under header_bytes.decoded, the embedded\n"
          "                    TensorHeader message.\n"
          "                    With --shm exactly one structure is decoded; bytes after\n"
          "                    it are ignored (use 'tp inspect' for whole region files).\n"
          "  --offset N        start decoding N bytes into the input (default 0); e.g.\n"
          "                    --shm slot --offset $((64 + 3*256)) reads slot 3 of a ring.\n"
          "  -h, --help        show this help.\n"
          "\n"
          "Exit status:\n"
          "  0  every message decoded (an empty input decodes to nothing).\n"
          "  1  the input could not be read.\n"
          "  2  usage error, or a message is truncated, malformed, of an unknown schema\n"
          "     or template, or of an unsupported version. The objects before it are\n"
          "     printed; the error names the message index and byte offset, and nothing\n"
          "     after it is decoded.\n",
          out);
}

static int decode_stream(const uint8_t *buf, size_t len, const char *name)
{
    tp_json_t j;
    size_t off = 0;
    for (unsigned index = 0; off < len; index++) {
        size_t consumed = 0;
        tp_json_init(&j, stdout);
        if (tp_codec_print_json(buf + off, len - off, &j, &consumed) < 0) {
            fflush(stdout);
            fprintf(stderr, "tp decode: %s: message %u at byte offset %zu: %s: %s\n", name, index, off,
                    tp_errcode_name(tp_errcode()), tp_errmsg());
            return 2;
        }
        fputc('\n', stdout);
        off += consumed;
    }
    return 0;
}

static int decode_shm(const uint8_t *buf, size_t len, const char *name, const char *kind)
{
    const char *message = strcmp(kind, "superblock") == 0 ? "ShmRegionSuperblock" : "SlotHeader";
    const tp_codec_message_t *m = tp_codec_find_by_name(message);
    tp_json_t j;
    size_t consumed = 0;
    tp_json_init(&j, stdout);
    if (m == NULL || m->print_json(buf, len, true, &j, &consumed) < 0) {
        fprintf(stderr, "tp decode: %s: %s: %s: %s\n", name, kind, tp_errcode_name(tp_errcode()), tp_errmsg());
        return 2;
    }
    fputc('\n', stdout);
    return 0;
}

int tp_cmd_decode(int argc, char **argv)
{
    static const struct option opts[] = {
        {"shm", required_argument, NULL, 's'},
        {"offset", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *shm = NULL;
    unsigned long long offset = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (strcmp(optarg, "superblock") != 0 && strcmp(optarg, "slot") != 0) {
                fprintf(stderr, "tp decode: --shm takes 'superblock' or 'slot', not '%s'\n", optarg);
                return 2;
            }
            shm = optarg;
            break;
        case 'o': {
            char *end = NULL;
            errno = 0;
            offset = strtoull(optarg, &end, 0);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
                fprintf(stderr, "tp decode: --offset takes a byte count, not '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1) {
        fprintf(stderr, "tp decode: one input at a time (got %d)\n", argc - optind);
        return 2;
    }
    const char *path = optind < argc ? argv[optind] : "-";
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    uint8_t *buf = NULL;
    size_t len = 0;
    if (tp_app_read_all(path, &buf, &len) < 0) {
        fprintf(stderr, "tp decode: %s\n", tp_errmsg());
        return 1;
    }
    int rc;
    if (offset > len) {
        fprintf(stderr, "tp decode: %s: --offset %llu is past the end of the %zu-byte input\n", name, offset, len);
        rc = 2;
    } else if (shm != NULL) {
        rc = decode_shm(buf + offset, len - offset, name, shm);
    } else {
        rc = decode_stream(buf + offset, len - offset, name);
    }
    free(buf);
    return rc;
}
