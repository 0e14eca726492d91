/*
 * onnx_export.h - writes an engine network as an ONNX model (a small protobuf encoder of its
 * own, following onnx.proto; IR version 8, opset 13, readable by ONNX 1.12 and later).
 *
 * The graph takes "input" [batch, C, H, W] (float, the normalized images) and gives "logits"
 * [batch, classes]. Weights are float initializers. A quantized layer (conv, depthwise,
 * dense) becomes QDQ: its input goes through QuantizeLinear/DequantizeLinear with the layer's
 * activation scale and zero point (uint8 for asymmetric, int8 with a Clip to [-127, 127] for
 * symmetric quantization), its weights are stored as codes (uint8 or int8, the layer's weight
 * width) with per-output-channel scales and zero points and a DequantizeLinear, so that an
 * ONNX runtime computes exactly what the engine computes with exact multipliers. The
 * multiplier of each quantized layer (its name and table file) is recorded in the node's
 * doc_string and in the model's metadata_props ("evoapproxnas.<node>.multiplier",
 * "evoapproxnas.<node>.table"), for a runtime that emulates approximate products
 * (docs/export.md). Batch norms keep their running statistics (epsilon 1e-5) and average
 * pools exclude the padding, as the NAS builder makes them.
 *
 *     ENG_TRY(onnx_export_net(net, false, "net.onnx"));
 */
#ifndef ONNX_EXPORT_H
#define ONNX_EXPORT_H

#include <stdbool.h>

#include "eng_net.h"

/* Writes net (on the host, batch norms not folded; quantized layers must have an activation
 * range) to path, atomically. as_float drops the quantization (a plain float graph).
 * ENG_ERR_UNSUPPORTED for an operation the export does not cover (flatten, channel padding:
 * zoo networks; the message names the node), ENG_ERR_ARG for a
 * quantized layer without an activation range, ENG_ERR_IO when writing fails. */
eng_status onnx_export_net(eng_net *net, bool as_float, const char *path);

#endif /* ONNX_EXPORT_H */
