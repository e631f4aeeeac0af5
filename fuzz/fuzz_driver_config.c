/* libFuzzer target: the driver's TOML configuration reader and validation
 * take untrusted files (docs/spec/driver.md §5): any input is 0 or -1, never a crash. */
#include "tensorpool/driver_config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_driver_config_t *cfg;
    if (cfg == NULL) cfg = malloc(sizeof *cfg);
    if (cfg == NULL) return 0;
    tp_driver_config_defaults(cfg);
    if (tp_driver_config_parse(cfg, (const char *)data, size) == 0) (void)tp_driver_config_validate(cfg);
    return 0;
}
