/*
 * eng_cuda.h - the CUDA device backend: device query, device buffers, multiplier tables on the
 * device and a device kernel table that mirrors eng_kernels for device pointers.
 *
 * The engine reaches the GPU only through this header. Builds without CUDA compile
 * engine/cuda_none.c instead of engine/cuda/, which implements the same API and answers
 * ENG_ERR_UNSUPPORTED ("unsupported: built without CUDA"); builds with CUDA on a machine
 * without a usable GPU answer ENG_ERR_UNSUPPORTED too, with the driver's reason. Either way
 * the caller prints eng_last_error() and falls back to the CPU kernels (eng_kernels_get()).
 *
 * Semantics: every device kernel gives the result of the scalar reference of the same name
 * (engine/cpu/ref_kernels.c, eng_kernels.h), with the same arguments in the same order (the
 * device kernels return an eng_status where the CPU ones return nothing): bit-exact for the
 * integer kernels (table GEMM, depthwise, im2col, quantize, column sums) and col2im, to float
 * rounding for sgemm (cuBLAS, full FP32: TF32 tensor ops are switched off). Dequantization is
 * a piece of the quantized layers (engine/cuda/net_ops.h, as approx_dequantize on the CPU).
 *
 * Execution model: one process-wide context (device, CUDA stream, cuBLAS handle), created by
 * eng_cuda_init() or lazily on device 0 by the first call that needs it. All work runs in
 * order on that one stream. Kernel calls are asynchronous: they return once the work is
 * queued, and an error that happens while it runs surfaces from the next synchronizing call
 * (eng_cuda_synchronize, eng_cuda_copy_to_host). One host thread at a time may use the API.
 *
 * Example (approximate 3x3 convolution on the device; checks elided):
 *
 *     const eng_cuda_kernels *dk;
 *     if (eng_cuda_kernels_get(&dk) != ENG_OK) {         // no GPU: use the CPU kernels
 *         fprintf(stderr, "%s; using the CPU\n", eng_last_error());
 *         ...
 *     }
 *     eng_lut dlut;                                      // table copied to the device
 *     eng_cuda_lut_upload(&host_lut, &dlut);
 *     uint8_t *dx, *dw; int32_t *dacc;
 *     eng_cuda_malloc(x_bytes, (void **)&dx);  ... same for dw, dacc
 *     eng_cuda_copy_to_device(dx, x_codes, x_bytes);  ... same for dw
 *     dk->lut_conv2d(&dlut, &s, oc, dw, dx, a_zero_point, dacc);  // [oc][n*oh*ow]
 *     eng_cuda_copy_to_host(acc, dacc, acc_bytes);       // waits, reports kernel errors
 *     eng_cuda_free(dx); ...; eng_cuda_lut_free(&dlut);
 */
#ifndef ENG_CUDA_H
#define ENG_CUDA_H

#include "eng_kernels.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Devices and the context
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_cuda_device_info {
    int    index;               /* device number (0 = first) */
    char   name[256];           /* "NVIDIA H100 80GB HBM3" */
    int    cc_major, cc_minor;  /* compute capability, e.g. 9.0 */
    int    sm_count;            /* streaming multiprocessors */
    size_t total_bytes;         /* global memory */
    size_t free_bytes;          /* global memory free at the time of the query */
    size_t smem_per_block;      /* shared memory one block may use (opt-in maximum) */
} eng_cuda_device_info;

/* True when this build contains the CUDA backend (it may still find no device). */
bool eng_cuda_compiled(void);

/* Number of usable CUDA devices: 0 when the build has no CUDA, no driver is installed or the
 * driver reports no device. Cannot fail. */
int eng_cuda_device_count(void);

/* ENG_OK when a CUDA device can be used. Otherwise ENG_ERR_UNSUPPORTED with a message that
 * says why ("unsupported: built without CUDA", "no CUDA device: <driver's reason>"). */
eng_status eng_cuda_available(void);

/* Describes device `device` (0 .. count-1). ENG_ERR_UNSUPPORTED when there is no device,
 * ENG_ERR_ARG for a bad index; on error *out is unchanged. */
eng_status eng_cuda_device_info_get(int device,              // device number
                                    eng_cuda_device_info *out);

/* Creates the context on `device`: selects it, creates the stream and the cuBLAS handle.
 * Calling it again with the same device does nothing; with another device while a context
 * exists gives ENG_ERR_ARG (call eng_cuda_shutdown first, after freeing all device memory).
 * ENG_ERR_UNSUPPORTED when there is no device. On error no context exists. */
eng_status eng_cuda_init(int device);

/* Waits for queued work, then destroys the context (device buffers stay valid until freed or
 * the process exits). No effect without a context. Cannot fail. */
void eng_cuda_shutdown(void);

/* Waits until all queued work is done. Returns the first error of that work (a kernel fault,
 * for example) as ENG_ERR_INTERNAL with the CUDA message. */
eng_status eng_cuda_synchronize(void);

/* ------------------------------------------------------------------------------------------
 * Device buffers (plain device pointers; they may be passed to every kernel below)
 * ---------------------------------------------------------------------------------------- */

/* Allocates `bytes` of device memory (256-byte aligned; 0 bytes gives NULL and ENG_OK).
 * ENG_ERR_NOMEM when the device is full; on error *out is unchanged. */
eng_status eng_cuda_malloc(size_t bytes, void **out);

/* Frees a buffer from eng_cuda_malloc (waits for queued work first); NULL is allowed. */
void eng_cuda_free(void *ptr);

/* Copies `bytes` host -> device. Returns when the host buffer may be reused. */
eng_status eng_cuda_copy_to_device(void *dst,        // device buffer
                                   const void *src,  // host buffer
                                   size_t bytes);

/* Copies `bytes` device -> host after all queued work; reports that work's errors. */
eng_status eng_cuda_copy_to_host(void *dst,          // host buffer
                                 const void *src,    // device buffer
                                 size_t bytes);

/* Copies `bytes` device -> device (queued). */
eng_status eng_cuda_copy_on_device(void *dst, const void *src, size_t bytes);

/* Sets `bytes` of device memory to the byte `value` (queued). */
eng_status eng_cuda_memset(void *dst, int value, size_t bytes);

/* ------------------------------------------------------------------------------------------
 * Multiplier tables on the device
 * ---------------------------------------------------------------------------------------- */

/* Copies host->table (256 << w_bits entries) to a new device buffer and fills *dev with the
 * same w_bits, is_signed and mode and the device table. ENG_ERR_ARG when w_bits is not 2..8
 * or the mode is unknown; on error *dev is unchanged and nothing is allocated. */
eng_status eng_cuda_lut_upload(const eng_lut *host,   // table in host memory
                               eng_lut *dev);         // out: same table, in device memory

/* Frees the device table of a table from eng_cuda_lut_upload and clears *dev. */
void eng_cuda_lut_free(eng_lut *dev);

/* Where the table GEMM keeps the multiplier table (eng_cuda_kernels.lut_gemm, lut_conv2d). */
typedef enum eng_cuda_lut_place {
    ENG_CUDA_LUT_AUTO = 0,  /* shared memory when it fits the device (default) */
    ENG_CUDA_LUT_SHARED,    /* shared memory; ENG_ERR_UNSUPPORTED where it does not fit */
    ENG_CUDA_LUT_GLOBAL,    /* global memory through the read-only cache */
    ENG_CUDA_LUT_PLACE_COUNT
} eng_cuda_lut_place;

/* Chooses the table placement of later table GEMM calls (tests and benchmarks compare them).
 * ENG_ERR_ARG for an unknown value. */
eng_status eng_cuda_set_lut_place(eng_cuda_lut_place place);

/* ------------------------------------------------------------------------------------------
 * Device kernels: every pointer argument is device memory, except the eng_lut and
 * eng_conv_shape structs (host memory; the eng_lut's table is a device table from
 * eng_cuda_lut_upload, 16-byte aligned). Results equal the eng_kernels reference of the same
 * name. Each call returns ENG_ERR_ARG for negative sizes, NULL buffers with a non-zero size or
 * a bad table, ENG_ERR_SHAPE for an inconsistent eng_conv_shape, ENG_ERR_UNSUPPORTED without
 * a device (or for ENG_CUDA_LUT_SHARED with a table too large for the device), and otherwise
 * queues the work and returns ENG_OK (see the execution model above). On error nothing is
 * queued.
 * ---------------------------------------------------------------------------------------- */

typedef struct eng_cuda_kernels {
    const char *name;       /* "cuda" */

    /* eng_kernels.sgemm through cuBLAS (row-major, op = transpose when trans_x). */
    eng_status (*sgemm)(bool trans_a, bool trans_b,
                        int m, int n, int k,
                        float alpha,
                        const float *a, int lda,
                        const float *b, int ldb,
                        float beta,
                        float *c, int ldc);

    /* eng_kernels.lut_gemm: out[m][n] = sum_p T(a[p][n], w[m][p]) (int32 wrap-around). */
    eng_status (*lut_gemm)(const eng_lut *lut,
                           int m, int n, int k,
                           const uint8_t *w,      // [m][k] weight codes
                           const uint8_t *a,      // [k][n] activation codes
                           int32_t *out);         // [m][n]

    /* eng_kernels.lut_conv2d: implicit-GEMM convolution, equal to im2col_u8(s, a, pad_code)
     * followed by lut_gemm(lut, oc, n*oh*ow, c*kh*kw, w, cols): no column buffer. */
    eng_status (*lut_conv2d)(const eng_lut *lut,
                             const eng_conv_shape *s,
                             int oc,               // output channels
                             const uint8_t *a,     // [c][n][h][w] activation codes (CNHW)
                             uint8_t pad_code,     // code outside the image
                             const uint8_t *w,     // [oc][c][kh][kw] weight codes
                             int32_t *out);        // [oc][n][oh][ow]

    /* eng_kernels.lut_depthwise, with its window sums (sums NULL = skip). */
    eng_status (*lut_depthwise)(const eng_lut *lut,
                                const eng_conv_shape *s,
                                const uint8_t *a,      // [c][n][h][w]
                                const uint8_t *w,      // [c][kh][kw]
                                uint8_t pad_code,
                                int32_t *out,          // [c][n][oh][ow]
                                int32_t *sums);        // [c][n][oh][ow] or NULL

    /* eng_kernels.im2col_f32, im2col_u8, col2im_f32 (col2im sums each pixel's taps in the
     * reference's order, so it is bit-exact too). */
    eng_status (*im2col_f32)(const eng_conv_shape *s, const float *x, float pad_value,
                             float *cols);
    eng_status (*im2col_u8)(const eng_conv_shape *s, const uint8_t *x, uint8_t pad_value,
                            uint8_t *cols);
    eng_status (*col2im_f32)(const eng_conv_shape *s, const float *cols, float *dx);

    /* eng_kernels.quantize. */
    eng_status (*quantize)(const float *x, size_t count,
                           float scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                           uint8_t *codes);

    /* sums[j] = sum_{p<k} cols[p][j] of unsigned codes (the activation sums of asym layers). */
    eng_status (*column_sums)(const uint8_t *cols,    // [k][n]
                              int k, size_t n,
                              int32_t *sums);         // [n]

    /* column_sums of the im2col_u8(s, x, pad_code) matrix without building it: the
     * activation window sums of an asymmetric lut_conv2d. sums: [n*oh*ow]. */
    eng_status (*conv_column_sums)(const eng_conv_shape *s,
                                   const uint8_t *x,       // [c][n][h][w] codes
                                   uint8_t pad_code,
                                   int32_t *sums);
} eng_cuda_kernels;

/* The device kernel table, creating the context on device 0 if none exists. On error
 * (ENG_ERR_UNSUPPORTED: no CUDA in the build or no device) *out is unchanged. */
eng_status eng_cuda_kernels_get(const eng_cuda_kernels **out);

#ifdef __cplusplus
}
#endif

#endif /* ENG_CUDA_H */
