/*
 * cuda_none.c - the eng_cuda.h API (and the engine-private cuda/net_ops.h) in builds without
 * CUDA: every request answers ENG_ERR_UNSUPPORTED ("unsupported: built without CUDA") so
 * callers fall back to the CPU.
 * engine/meson.build compiles this file instead of engine/cuda/ when nvcc is not used.
 */
#include "eng_cuda.h"

#include <string.h>

#include "cuda/net_ops.h"

static eng_status cuda_none(void)
{
    return eng_error(ENG_ERR_UNSUPPORTED,
                     "unsupported: built without CUDA (reconfigure with nvcc on PATH and "
                     "-Dcuda=enabled)");
}

bool eng_cuda_compiled(void)
{
    return false;
}

int eng_cuda_device_count(void)
{
    return 0;
}

eng_status eng_cuda_available(void)
{
    return cuda_none();
}

eng_status eng_cuda_device_info_get(int device, eng_cuda_device_info *out)
{
    (void)device;
    (void)out;
    return cuda_none();
}

eng_status eng_cuda_init(int device)
{
    (void)device;
    return cuda_none();
}

void eng_cuda_shutdown(void)
{
}

eng_status eng_cuda_synchronize(void)
{
    return cuda_none();
}

eng_status eng_cuda_malloc(size_t bytes, void **out)
{
    (void)bytes;
    (void)out;
    return cuda_none();
}

void eng_cuda_free(void *ptr)
{
    (void)ptr;
}

eng_status eng_cuda_copy_to_device(void *dst, const void *src, size_t bytes)
{
    (void)dst;
    (void)src;
    (void)bytes;
    return cuda_none();
}

eng_status eng_cuda_copy_to_host(void *dst, const void *src, size_t bytes)
{
    (void)dst;
    (void)src;
    (void)bytes;
    return cuda_none();
}

eng_status eng_cuda_copy_on_device(void *dst, const void *src, size_t bytes)
{
    (void)dst;
    (void)src;
    (void)bytes;
    return cuda_none();
}

eng_status eng_cuda_memset(void *dst, int value, size_t bytes)
{
    (void)dst;
    (void)value;
    (void)bytes;
    return cuda_none();
}

eng_status eng_cuda_lut_upload(const eng_lut *host, eng_lut *dev)
{
    (void)host;
    (void)dev;
    return cuda_none();
}

void eng_cuda_lut_free(eng_lut *dev)
{
    if (dev)
        memset(dev, 0, sizeof *dev);
}

eng_status eng_cuda_set_lut_place(eng_cuda_lut_place place)
{
    (void)place;
    return cuda_none();
}

eng_status eng_cuda_kernels_get(const eng_cuda_kernels **out)
{
    (void)out;
    return cuda_none();
}

eng_status cuda_net_ops_get(const cuda_net_ops **out)
{
    (void)out;
    return cuda_none();
}
