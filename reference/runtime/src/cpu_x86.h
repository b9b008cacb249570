/* x86 CPU features through the compiler's cpuid builtins: the same on every x86 OS. */
#ifndef RUNTIME_BASE_CPU_X86_H
#define RUNTIME_BASE_CPU_X86_H

#include <stdint.h>

#include "RuntimeBase.h"

#if defined(__x86_64__) || defined(__i386__)
static inline int32_t cpu_x86_features(void)
{
    int32_t features = 0;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        features |= RH_CPU_X86_SSE42;
    if (__builtin_cpu_supports("avx"))
        features |= RH_CPU_X86_AVX;
    if (__builtin_cpu_supports("avx2"))
        features |= RH_CPU_X86_AVX2;
    if (__builtin_cpu_supports("avx512f"))
        features |= RH_CPU_X86_AVX512F;
    if (__builtin_cpu_supports("popcnt"))
        features |= RH_CPU_X86_POPCNT;
    if (__builtin_cpu_supports("bmi2"))
        features |= RH_CPU_X86_BMI2;
    return features;
}
#endif

#endif
