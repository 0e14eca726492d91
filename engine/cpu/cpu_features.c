/*
 * cpu_features.c - which instruction sets this CPU (and OS) runs, for the kernel sets
 * (cpu_kernels.h). Depends on nothing else, so every kernel file may ask.
 */
#include "cpu_kernels.h"

bool eng_cpu_avx2_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool eng_cpu_avx512_supported(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vbmi");
}
