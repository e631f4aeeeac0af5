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
    fputs("NAME\n"
          "    tp decode - print tensorpool SBE messages and SHM structures as JSON\n"
          "\n"
          "SYNOPSIS\n"
          "    tp decode [--offset N] [FILE|-]\n"
          "    tp decode --shm superblock|slot [--offset N] [FILE|-]\n"
          "\n"
          "DESCRIPTION\n"
          "    Prints SBE messages of schemas 900 (control), 901 (driver), 902 (bridge),\n"
          "    903 (merge), 904 (tracelink) and 910 (discovery) as JSON, one object per\n"
          "    line.\n"
          "\n"
          "    FILE holds one or more messages back to back, each with its 8-byte message\n"
          "    header; '-' or no FILE reads standard input. Every message is decoded in turn.\n"
          "    Each object has schema_id, template_id, message (the schema's message name),\n"
          "    headerless, message_header, length (bytes) and fields. Keys are the schema's\n"
          "    names in snake_case (streamId -> stream_id); every 64-bit integer (epochs,\n"
          "    sequence numbers, lease and correlation ids, nanosecond times) is a decimal\n"
          "    string, so no JSON parser rounds it. Enums print by name (an undefined value\n"
          "    prints as its number, the null sentinel as null), absent optional fields as\n"
          "    null, ASCII var data as strings (UTF-8; an invalid byte becomes U+FFFD) and\n"
          "    binary var data and byte arrays as {\"hex\": ...}. Every key of every tp\n"
          "    command is listed in docs/json.md.\n"
          "\n"
          "    Nothing is trusted: a message that is truncated, claims more bytes than it\n"
          "    has, or holds an unknown schema, template or version stops the decoding with\n"
          "    an error that names the message index and byte offset.\n"
          "\n"
          "OPTIONS\n"
          "    --shm superblock  FILE holds a headerless ShmRegionSuperblock (64 bytes), e.g.\n"
          "                      the start of a header ring or payload pool file\n"
          "    --shm slot        FILE holds a headerless 256-byte header slot: its SlotHeader\n"
          "                      and, under header_bytes.decoded, the embedded TensorHeader\n"
          "                      message. With --shm exactly one structure is decoded; bytes\n"
          "                      after it are ignored (tp inspect reads whole region files)\n"
          "    --offset N        start decoding N bytes into the input (default 0); e.g.\n"
          "                      --shm slot --offset $((64 + 3*256)) reads slot 3 of a ring\n"
          "    -h, --help        print this text and exit\n"
          "\n"
          "EXIT STATUS\n"
          "    0  every message decoded (an empty input decodes to nothing)\n"
          "    1  the input could not be read\n"
          "    2  usage error, or a message is truncated, malformed, of an unknown schema or\n"
          "       template, or of an unsupported version: the objects before it are printed,\n"
          "       the error names the message index and byte offset, and nothing after it is\n"
          "       decoded\n"
          "\n"
          "EXAMPLES\n"
          "    Decode a file of messages captured back to back:\n"
          "        tp decode capture.bin\n"
          "\n"
          "    Decode slot 3 of a stream's header ring:\n"
          "        tp decode --shm slot --offset $((64 + 3*256)) header.ring\n"
          "\n"
          "SEE ALSO\n"
          "    tp(1), tp-inspect(1), tensorpool(7)\n",
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
            fprintf(stderr, "tp decode: see tp decode --help\n");
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
