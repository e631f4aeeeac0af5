/* libFuzzer target: the RateLimiter's TOML configuration (docs/spec/ratelimiter.md
 * §8, RL-8.a) is an untrusted file: any input is 0 or -1, never a crash, and an
 * accepted one either validates or is refused with a message. */
#include "tensorpool/error.h"
#include "tensorpool/ratelimit.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tp_ratelimit_config_t cfg;
    tp_ratelimit_config_init(&cfg);
    if (tp_ratelimit_config_parse(&cfg, (const char *)data, size) != 0) {
        if (tp_errmsg()[0] == '\0') abort(); /* every refusal says why */
        return 0;
    }
    if (cfg.instance_id[sizeof cfg.instance_id - 1] != '\0') abort();
    (void)tp_ratelimit_config_validate(&cfg);
    return 0;
}
