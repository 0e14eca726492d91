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
 * (engine/cpu/ref_kernels.c, eng_kernels.h) and has the same function type (eng_sgemm_fn,
 * eng_lut_gemm_fn, ...: one signature per kernel, an eng_status back): bit-exact for the
 * integer kernels (table GEMM, depthwise, im2col, quantize, column sums) and col2im, to float
 * rounding for sgemm (cuBLAS, full FP32: TF32 tensor ops are switched off). Dequantization is
 * a piece of the quantized layers (engine/cuda/net_ops.h), of the same function type as
 * approx_dequantize on the CPU (eng_dequantize_fn, eng_ops.h).
 *
 * Execution model: one process-wide context (device, CUDA stream, cuBLAS handle), created by
 * eng_cuda_init() or lazily on device 0 by the first call that needs it. All work runs in
 * order on that one stream. Kernel calls are asynchronous: they return once the work is
 * queued, and an error that happens while it runs surfaces from the next synchronizing call
 * (eng_cuda_synchronize, eng_cuda_copy_to_host). One host thread at a time may use the API.
 *
 * Example (approximate 3x3 convolution on the device; most checks elided):
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
 *     ENG_TRY(dk->lut_conv2d(&dlut, &s, oc, dx, a_zero_point, dw, dacc)); // [oc][n*oh*ow]
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

/* sums[j] = sum_{p<k} cols[p][j] of unsigned codes (the activation sums of asym layers).
 * cols: [k][n], sums: [n]. */
typedef eng_status eng_column_sums_fn(const uint8_t *cols, int k, size_t n,
                                      int32_t *sums) ENG_KERNEL_STATUS;

/* column_sums of the im2col_u8(s, x, pad_code) matrix without building it: the activation
 * window sums of an asymmetric lut_conv2d. x: [c][n][h][w] codes, sums: [n*oh*ow]. */
typedef eng_status eng_conv_column_sums_fn(const eng_conv_shape *s, const uint8_t *x,
                                           uint8_t pad_code,
                                           int32_t *sums) ENG_KERNEL_STATUS;

typedef struct eng_cuda_kernels {
    const char *name;       /* "cuda" */

    /* The eng_kernels kernels of the same names and types (eng_kernels.h): */
    eng_sgemm_fn      *sgemm;       /* cuBLAS (row-major, op = transpose when trans_x) */
    eng_lut_gemm_fn   *lut_gemm;    /* int32 wrap-around, as the reference */
    eng_lut_conv2d_fn *lut_conv2d;  /* implicit GEMM: no column buffer */
    eng_lut_depthwise_fn *lut_depthwise; /* with its window sums (sums NULL = skip) */
    eng_im2col_f32_fn *im2col_f32;
    eng_im2col_u8_fn  *im2col_u8;
    eng_col2im_f32_fn *col2im_f32;  /* each pixel's taps in the reference's order: bit-exact */
    eng_quantize_fn   *quantize;

    /* Device only (the CPU sets sum their columns inside their kernels) */
    eng_column_sums_fn      *column_sums;
    eng_conv_column_sums_fn *conv_column_sums;
} eng_cuda_kernels;

/* The device kernel table, creating the context on device 0 if none exists. On error
 * (ENG_ERR_UNSUPPORTED: no CUDA in the build or no device) *out is unchanged. */
eng_status eng_cuda_kernels_get(const eng_cuda_kernels **out);

#ifdef __cplusplus
}
#endif

#endif /* ENG_CUDA_H */
