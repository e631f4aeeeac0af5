/* libFuzzer target: the supervisor policy parser takes untrusted files
 * (supervisor_policy.h): any input is 0 or -1 with a line:column message,
 * never a crash; an accepted policy formats back to lines that parse. */
#include "tensorpool/supervisor_policy.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static tp_supervisor_policy_t p, q;
    if (tp_supervisor_policy_parse(&p, (const char *)data, size) != 0) return 0;
    for (uint32_t i = 0; i < p.nrules; i++) {
        char line[160];
        const int n = tp_supervisor_rule_format(&p.rules[i], line, sizeof line);
        if (n <= 0 || (size_t)n >= sizeof line) abort();
        if (tp_supervisor_policy_parse(&q, line, (size_t)n) != 0 || q.nrules != 1 || q.rules[0].kind != p.rules[i].kind)
            abort();
    }
    return 0;
}
