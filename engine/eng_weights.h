/*
 * eng_weights.h - saving and loading trained networks (binary weights files).
 *
 * A weights file holds everything needed to rebuild and run a network: its architecture text
 * (eng_net_arch, e.g. "lenet classes=10 input=28x28x1 width=1", rebuilt by eng_zoo_build_arch),
 * every parameter tensor (weights, biases, batch-norm gamma/beta and running statistics) and
 * the quantization state of the multiplying layers (config and frozen activation range).
 * Multipliers are not stored: they are chosen when the network is evaluated.
 *
 * Format (versions 1 and 2; all integers little-endian, floats IEEE-754 binary32
 * little-endian). The two differ only in the longest architecture text: 255 bytes in version
 * 1, ENG_NET_ARCH_MAX - 1 in version 2 (the text of a searched network lists its genome and
 * multipliers). Saving writes version 1 when the text fits, so zoo networks stay readable by
 * older builds; loading reads both.
 *
 *   offset size  field
 *   0      8     magic "EVAXNW\r\n"
 *   8      4     version (1 or 2)
 *   12     4     architecture text length A (<= 255 bytes in version 1, < ENG_NET_ARCH_MAX
 *                in version 2; no terminator)
 *   16     4     tensor count T
 *   20     4     quantized layer count Q
 *   24     8     payload size P in bytes (4 x the sum of the tensors' counts)
 *   32     A     architecture text
 *   ..     16*T  tensor table, per tensor: u32 node id, u32 kind (eng_param_kind), u64 count
 *   ..     28*Q  quantization table, per layer: u32 node id, u32 mode (eng_quant_mode),
 *                u32 weight bits, u32 flags (1 per-channel, 2 table gradient, 4 has range),
 *                f32 EMA momentum, f32 range low, f32 range high
 *   ..     P     payload: the tensors' floats in table order
 *   ..     4     CRC-32 (zlib crc32) of every byte before it
 *
 * Loading checks the magic, version, sizes (a truncated or padded file is an error), the CRC
 * and that the tensor table matches the network exactly (node, kind and count of each tensor);
 * every failure is ENG_ERR_FORMAT (or ENG_ERR_IO when the file cannot be read) with a message
 * naming the file, and leaves the network untouched. Saving writes a temporary file in the same
 * directory and renames it over the target, so a crash never leaves a half-written file.
 *
 * Example:
 *
 *     ENG_TRY(eng_weights_save(net, "lenet.w"));
 *     eng_net *again;
 *     ENG_TRY(eng_weights_load("lenet.w", &again));       // rebuilds through the model zoo
 */
#ifndef ENG_WEIGHTS_H
#define ENG_WEIGHTS_H

#include "eng_net.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ENG_WEIGHTS_VERSION 2    /* the newest version written and read */

/* Saves net's parameters and quantization state to path (atomically). ENG_ERR_ARG for a network
 * whose batch norms are folded (save before folding), ENG_ERR_IO when writing fails. */
eng_status eng_weights_save(eng_net *net, const char *path);

/* Loads a file into a network of the same structure (e.g. built by the same genome). On error
 * the network is unchanged. Undoes batch-norm folding; applies the stored quantization configs
 * and ranges (layers not in the file's quantization table become float). */
eng_status eng_weights_load_into(eng_net *net, const char *path);

/* Rebuilds the network from the file's architecture text through the model zoo
 * (eng_zoo_build_arch), then loads it. *out is NULL on error. */
eng_status eng_weights_load(const char *path, eng_net **out);

/* The architecture text stored in a file (validated like a load, without a network). */
eng_status eng_weights_read_arch(const char *path, char *arch, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* ENG_WEIGHTS_H */
