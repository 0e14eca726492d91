/*
 * device.c - device names, parsing, the CPU fallback when CUDA is not usable (eng_device.h),
 * and the executor's backend of each device (backend.h).
 */
#include "eng_device.h"

#include <string.h>

#include "backend.h"
#include "eng_cuda.h"

static const char *const device_names[ENG_DEVICE_COUNT] = {"cpu", "cuda"};

const char *eng_device_name(eng_device dev)
{
    return (int)dev >= 0 && dev < ENG_DEVICE_COUNT ? device_names[dev] : "?";
}

eng_status eng_device_parse(const char *name, eng_device *out)
{
    for (int d = 0; d < ENG_DEVICE_COUNT; d++)
        if (strcmp(name, device_names[d]) == 0) {
            *out = (eng_device)d;
            return ENG_OK;
        }
    return eng_error(ENG_ERR_ARG, "unknown device '%s' (expected cpu or cuda)", name);
}

eng_status eng_device_synchronize(eng_device dev)
{
    return dev == ENG_DEVICE_CUDA ? eng_cuda_synchronize() : ENG_OK;
}

eng_status eng_device_resolve(eng_device want, eng_device *out)
{
    *out = ENG_DEVICE_CPU;
    if (want != ENG_DEVICE_CUDA) return ENG_OK;
    ENG_TRY(eng_cuda_available());
    *out = ENG_DEVICE_CUDA;
    return ENG_OK;
}

const net_backend *net_backend_get(eng_device dev)
{
    static const net_backend *const backends[ENG_DEVICE_COUNT] = {
        [ENG_DEVICE_CPU] = &net_backend_cpu,
        [ENG_DEVICE_CUDA] = &net_backend_cuda,
    };
    return backends[dev];
}
