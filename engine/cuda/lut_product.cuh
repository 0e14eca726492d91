// lut_product.cuh - eng_lut_product() on the device: the table lookup every approximate
// kernel uses, specialised at compile time for the three kinds of table.
#ifndef ENG_CUDA_LUT_PRODUCT_CUH
#define ENG_CUDA_LUT_PRODUCT_CUH

#include <stdint.h>

#include "eng_kernels.h"

// `#pragma unroll` in __host__ __device__ code: the device pass unrolls, the host compiler
// (which does not know the pragma) sees nothing.
#ifdef __CUDA_ARCH__
#define CUDA_UNROLL _Pragma("unroll")
#else
#define CUDA_UNROLL
#endif

// The kinds of lookup of eng_lut_product, as template parameters.
enum cuda_lut_kind {
    CUDA_LUT_UNSIGNED = 0,  // ENG_LUT_DIRECT, uint16 entries
    CUDA_LUT_SIGNED,        // ENG_LUT_DIRECT, int16 entries
    CUDA_LUT_SIGN_MAGNITUDE // ENG_LUT_SIGN_MAGNITUDE over an unsigned table
};

// The kind of a (validated) host-side eng_lut.
static inline cuda_lut_kind cuda_lut_kind_of(const eng_lut *lut)
{
    if (lut->mode == ENG_LUT_SIGN_MAGNITUDE)
        return CUDA_LUT_SIGN_MAGNITUDE;
    return lut->is_signed ? CUDA_LUT_SIGNED : CUDA_LUT_UNSIGNED;
}

// Reads entry i of a table in shared memory (SHARED) or in global memory through the
// read-only cache (on the host: a plain load).
template <bool SHARED>
__host__ __device__ __forceinline__ uint16_t cuda_lut_entry(const uint16_t *t, uint32_t i)
{
#ifdef __CUDA_ARCH__
    if (!SHARED)
        return __ldg(t + i);
#endif
    return t[i];
}

// eng_lut_product(lut, a, w) for codes a, w (0..255) and a table of 256 << wb entries.
// Also compiled for the host, where tests/test_cuda_emu.cu runs the kernels' tile code.
template <int KIND, bool SHARED>
__host__ __device__ __forceinline__ int32_t cuda_lut_product(const uint16_t *t, int wb, uint32_t a,
                                                    uint32_t w)
{
    if (KIND == CUDA_LUT_SIGN_MAGNITUDE) {
        int32_t sa = (int8_t)a, sw = (int8_t)w;
        uint32_t ma = (uint32_t)(sa < 0 ? -sa : sa), mw = (uint32_t)(sw < 0 ? -sw : sw);
        int32_t p = cuda_lut_entry<SHARED>(t, (ma << wb) | mw);
        return ((sa ^ sw) < 0) ? -p : p;
    }
    uint16_t e = cuda_lut_entry<SHARED>(t, (a << wb) | w);
    return KIND == CUDA_LUT_SIGNED ? (int32_t)(int16_t)e : (int32_t)e;
}

#endif // ENG_CUDA_LUT_PRODUCT_CUH
