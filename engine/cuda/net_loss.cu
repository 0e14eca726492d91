// net_loss.cu - softmax cross-entropy on the device (eng_softmax_xent): one block, a thread per
// image in turn; the loss sum and the count of correct images reduce in double and land in a
// two-double device result, the only thing the host reads back per training step.
#include "net_kernels.cuh"

__global__ void softmax_xent_kernel(int classes, int n, const float *__restrict__ logits,
                                    const uint8_t *__restrict__ labels,
                                    double *__restrict__ result, float *__restrict__ dlogits)
{
    __shared__ double shared[NET_REDUCE_THREADS];
    double total = 0.0, right = 0.0;
    for (int b = threadIdx.x; b < n; b += NET_REDUCE_THREADS) {
        const int label = labels[b];
        int arg = 0;
        float mx = logits[b];
        for (int k = 1; k < classes; k++)
            if (logits[(size_t)k * n + b] > mx) {
                mx = logits[(size_t)k * n + b];
                arg = k;
            }
        double sum = 0.0;
        for (int k = 0; k < classes; k++)
            sum += exp((double)(logits[(size_t)k * n + b] - mx));
        const double lse = log(sum) + mx;
        total += lse - logits[(size_t)label * n + b];
        right += arg == label ? 1.0 : 0.0;
        if (dlogits)
            for (int k = 0; k < classes; k++) {
                double p = exp((double)logits[(size_t)k * n + b] - lse);
                dlogits[(size_t)k * n + b] = (float)((p - (k == label ? 1.0 : 0.0)) / n);
            }
    }
    total = net_block_sum(total, shared);
    right = net_block_sum(right, shared);
    if (threadIdx.x == 0) {
        result[0] = total;
        result[1] = right;
    }
}

eng_status cuda_net_softmax_xent(int classes, int n, const float *logits, const uint8_t *labels,
                                 double *result, float *dlogits)
{
    cuda_context *ctx;
    ENG_TRY(cuda_context_get(&ctx));
    if (classes < 1 || n < 1)
        return eng_error(ENG_ERR_ARG, "softmax_xent: %d classes, %d images", classes, n);
    softmax_xent_kernel<<<1, NET_REDUCE_THREADS, 0, ctx->stream>>>(classes, n, logits, labels,
                                                                   result, dlogits);
    CUDA_CHECK_LAUNCH();
    return ENG_OK;
}
