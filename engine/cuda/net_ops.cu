// net_ops.cu - the table of network operations (net_ops.h) over the entry points of the
// net_*.cu files.
#include "net_kernels.cuh"

static cuda_net_ops make_ops(void)
{
    cuda_net_ops o;
    o.cudnn = cuda_net_conv_cudnn();
    o.relu_forward = cuda_net_relu_forward;
    o.relu_backward = cuda_net_relu_backward;
    o.relu6_forward = cuda_net_relu6_forward;
    o.relu6_backward = cuda_net_relu6_backward;
    o.hardswish_forward = cuda_net_hardswish_forward;
    o.hardswish_backward = cuda_net_hardswish_backward;
    o.add = cuda_net_add;
    o.batchnorm_workspace = cuda_net_batchnorm_workspace;
    o.batchnorm_forward_train = cuda_net_batchnorm_forward_train;
    o.batchnorm_forward_eval = cuda_net_batchnorm_forward_eval;
    o.batchnorm_backward = cuda_net_batchnorm_backward;
    o.maxpool_forward = cuda_net_maxpool_forward;
    o.maxpool_backward = cuda_net_maxpool_backward;
    o.avgpool_forward = cuda_net_avgpool_forward;
    o.avgpool_backward = cuda_net_avgpool_backward;
    o.global_avgpool_forward = cuda_net_global_avgpool_forward;
    o.global_avgpool_backward = cuda_net_global_avgpool_backward;
    o.flatten_forward = cuda_net_flatten_forward;
    o.flatten_backward = cuda_net_flatten_backward;
    o.softmax_xent = cuda_net_softmax_xent;
    o.conv2d_workspace = cuda_net_conv2d_workspace;
    o.conv2d_forward = cuda_net_conv2d_forward;
    o.conv2d_backward = cuda_net_conv2d_backward;
    o.depthwise_forward = cuda_net_depthwise_forward;
    o.depthwise_backward = cuda_net_depthwise_backward;
    o.bias_add = cuda_net_bias_add;
    o.bias_backward = cuda_net_bias_backward;
    o.sgd_update = cuda_net_sgd_update;
    o.minmax_rows = cuda_net_minmax_rows;
    o.quantize_rows = cuda_net_quantize_rows;
    o.fake_quantize_backward_rows = cuda_net_fake_quantize_backward_rows;
    o.code_row_sums = cuda_net_code_row_sums;
    o.dequantize = cuda_net_dequantize;
    return o;
}

static const cuda_net_ops net_ops = make_ops();

eng_status cuda_net_ops_get(const cuda_net_ops **out)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    *out = &net_ops;
    return ENG_OK;
}
