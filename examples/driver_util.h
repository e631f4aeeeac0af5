/* Plumbing shared by the producer and consumer examples: a private base dir
 * (unless $TP_DIR is set) and an embedded driver with one stream.
 *
 * In a deployment the driver is its own process (`tp driver -c FILE`, see
 * docs/configuration.md) and programs only open producers and consumers. */
#ifndef TP_EXAMPLE_DRIVER_UTIL_H
#define TP_EXAMPLE_DRIVER_UTIL_H

#include "example_util.h"
#include "tensorpool/driver.h"

#include <string.h>

#define EXAMPLE_STREAM 7

/* Point every client at `base`: tp_client_context_init reads $TP_DIR. */
static void example_use_dir(const char *base) { setenv("TP_DIR", base, 1); }

/* An embedded driver owning stream EXAMPLE_STREAM (16 slots of 4 KiB). */
static tp_driver_embedded_t *example_driver_start(void)
{
    static const char toml[] = "[profiles.small]\n"
                               "header_nslots = 16\n"
                               "payload_pools = [ { pool_id = 1, stride_bytes = 4096 } ]\n"
                               "[streams.example]\n"
                               "stream_id = 7\n"
                               "profile = \"small\"\n";
    static tp_driver_config_t cfg;
    tp_driver_config_defaults(&cfg);
    tp_driver_embedded_t *d = NULL;
    if (tp_driver_config_parse(&cfg, toml, strlen(toml)) != 0 || tp_driver_config_apply_env(&cfg, NULL) != 0 ||
        tp_driver_embedded_start(&d, &cfg) != 0) {
        fprintf(stderr, "driver: %s\n", tp_errmsg());
        return NULL;
    }
    return d;
}

#endif
