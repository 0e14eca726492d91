/*
 * eng_device.h - where a network runs: on the CPU or on a CUDA GPU (device placement).
 *
 * A network (eng_net.h) starts on the CPU. eng_net_set_device(net, ENG_DEVICE_CUDA) copies its
 * parameters to the GPU; from then on eng_net_forward, eng_net_loss, eng_net_backward and
 * eng_sgd_step (eng_train.h) run every node on the GPU: parameters, gradients, momentum
 * buffers, activations and workspace stay in device memory, and the only copies per training
 * step are the input batch and the labels (host -> device) and the loss and the count of
 * correct images (device -> host). Exact layers use cuDNN (convolutions, when the build found
 * it) or cuBLAS with im2col; everything else runs on the backend's own kernels
 * (engine/cuda/). The arithmetic is the CPU's: float results agree to rounding (sums run in
 * another order), the integer accumulators of approximate layers are bit-exact for equal codes.
 *
 * The host copy of the parameters is not updated while the network trains on the device. Call
 * eng_net_sync_host before reading them (eng_net_param_get, eng_weights_save, ...), and
 * eng_net_sync_device after changing them on the host (eng_weights_load, eng_net_init_params,
 * eng_net_fold_batchnorm). eng_net_set_device(net, ENG_DEVICE_CPU) copies them back and frees
 * the device memory. eng_net_output and eng_net_activation copy the asked-for activation to
 * a host buffer on each call (valid until the next such call or forward pass). On the device
 * every node keeps its activation (also in evaluation) and has its own gradient buffer: more
 * memory than the CPU's shared buffers, none of their bookkeeping.
 *
 * Quantized layers: the device computes the min/max of their activations and weights, the
 * host reads those few floats back and derives the quantization parameters with the CPU's own
 * code (so codes and table sums equal the CPU's), then sends the parameters down: one small
 * round trip per quantized layer and forward pass. Their table gradient is not available on
 * the device (ENG_ERR_UNSUPPORTED from eng_net_set_device and eng_net_forward, naming the
 * node); the STE is.
 *
 * Choosing a device from user input:
 *
 *     eng_device want, dev;
 *     if (eng_device_parse(arg, &want) != ENG_OK) { usage error: eng_last_error() }
 *     if (eng_device_resolve(want, &dev) != ENG_OK)     // CUDA asked for but not usable
 *         fprintf(stderr, "--device cuda: %s; running on the CPU\n", eng_last_error());
 *     if (eng_net_set_device(net, dev) != ENG_OK) ...   // dev is CPU after the fallback
 */
#ifndef ENG_DEVICE_H
#define ENG_DEVICE_H

#include "eng_common.h"
#include "eng_net.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eng_device {
    ENG_DEVICE_CPU = 0,      /* the CPU kernels (eng_kernels_get()) */
    ENG_DEVICE_CUDA,         /* the CUDA GPU of the process-wide context (eng_cuda.h) */
    ENG_DEVICE_COUNT
} eng_device;

/* "cpu" or "cuda" (never NULL; "?" for a value out of range). */
const char *eng_device_name(eng_device dev);

/* Parses "cpu" or "cuda" into *out. ENG_ERR_ARG naming the accepted values otherwise; on error
 * *out is unchanged. */
eng_status eng_device_parse(const char *name, eng_device *out);

/* The device to run on when `want` is asked for: *out = want when it is usable. When CUDA is
 * asked for but the build has no CUDA or no GPU is usable, *out = ENG_DEVICE_CPU and the call
 * returns ENG_ERR_UNSUPPORTED with the reason in eng_last_error() (the caller says so and
 * goes on: *out is always set). */
eng_status eng_device_resolve(eng_device want,
                              eng_device *out);       // the device to use

/* Waits until the work queued on `dev` is done (timing; nothing to do on the CPU). Returns
 * the first error of that work (ENG_ERR_INTERNAL with the CUDA message). */
eng_status eng_device_synchronize(eng_device dev);

/* ------------------------------------------------------------------------------------------
 * Placement of a network
 * ---------------------------------------------------------------------------------------- */

/* Moves the network to `dev`. To CUDA: allocates its parameters if needed and copies them
 * (with the batch norm running statistics) to the device; activations follow at the first
 * forward pass. To the CPU: copies the parameters back and frees all device memory. Setting
 * the device the network is on does nothing. Errors: ENG_ERR_UNSUPPORTED when CUDA is not
 * usable or a node cannot run there (see above), ENG_ERR_NOMEM when the device is full; on
 * error the network stays where it was, unchanged. */
eng_status eng_net_set_device(eng_net *net, eng_device dev);

/* The device the network is on. Cannot fail. */
eng_device eng_net_device(const eng_net *net);

/* Copies the device parameters, running statistics and gradients to their host arrays (the
 * ones eng_net_param_get points at). Nothing to do on the CPU. Errors come from the device
 * (kernel faults of queued work); on error the host arrays may be partly written. */
eng_status eng_net_sync_host(eng_net *net);

/* Copies the host parameters and running statistics to the device after the host changed
 * them. Nothing to do on the CPU. */
eng_status eng_net_sync_device(eng_net *net);

#ifdef __cplusplus
}
#endif

#endif /* ENG_DEVICE_H */
