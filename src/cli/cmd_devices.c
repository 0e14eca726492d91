/*
 * cmd_devices.c - `evoapproxnas devices`: the compute devices this build can use (the CPU
 * kernel set, CUDA GPUs), or why CUDA is unavailable; text or JSON.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "commands.h"
#include "eng_cuda.h"
#include "eng_kernels.h"

static void devices_help(FILE *f)
{
    fprintf(f,
            "Usage: evoapproxnas devices [--json]\n"
            "\n"
            "Lists the compute devices: the CPU kernel set in use and every CUDA GPU (name,\n"
            "compute capability, SMs, memory, shared memory per block). Without a usable GPU\n"
            "it says why (a build without CUDA, no driver, no device); --device cuda then\n"
            "falls back to the CPU.\n"
            "\n"
            "Options:\n"
            "  --json      one JSON object: {\"cpu\": {...}, \"cuda\": {\"compiled\", \"available\",\n"
            "              \"reason\", \"devices\": [...]}}\n"
            "  -h, --help  show this help\n"
            "\n"
            "Exit status: 0 (also without a GPU), 1 when a device cannot be queried, 2 bad "
            "usage.\n");
}

/* s as a JSON string literal. */
static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

int cmd_devices(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = true; break;
        case 'h': devices_help(stdout); return CLI_EXIT_OK;
        default: return cli_usage_error("devices", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error("devices", "unexpected argument '%s'", argv[optind]);

    const char *kernels = eng_kernels_get()->name;
    eng_status avail = eng_cuda_available();
    const char *reason = avail == ENG_OK ? "" : eng_last_error();
    int count = avail == ENG_OK ? eng_cuda_device_count() : 0;
    if (json) {
        printf("{\"cpu\": {\"kernels\": ");
        json_string(kernels);
        printf("}, \"cuda\": {\"compiled\": %s, \"available\": %s, \"reason\": ",
               eng_cuda_compiled() ? "true" : "false", avail == ENG_OK ? "true" : "false");
        json_string(reason);
        printf(", \"devices\": [");
    } else {
        printf("cpu: kernels %s\n", kernels);
        if (avail != ENG_OK)
            printf("cuda: unavailable: %s\n", reason);
        else
            printf("cuda: %d device%s\n", count, count == 1 ? "" : "s");
    }
    for (int d = 0; d < count; d++) {
        eng_cuda_device_info info;
        if (eng_cuda_device_info_get(d, &info) != ENG_OK) {
            if (json)
                printf("]}}\n");
            cli_error("devices: CUDA device %d: %s", d, eng_last_error());
            return CLI_EXIT_FAILURE;
        }
        if (json) {
            printf("%s{\"index\": %d, \"name\": ", d ? ", " : "", info.index);
            json_string(info.name);
            printf(", \"compute_capability\": \"%d.%d\", \"sms\": %d, \"memory_bytes\": %zu, "
                   "\"free_bytes\": %zu, \"shared_per_block_bytes\": %zu}", info.cc_major,
                   info.cc_minor, info.sm_count, info.total_bytes, info.free_bytes,
                   info.smem_per_block);
        } else {
            printf("  %d: %s, compute %d.%d, %d SMs, %zu MiB (%zu MiB free), %zu KiB shared "
                   "memory per block\n", info.index, info.name, info.cc_major, info.cc_minor,
                   info.sm_count, info.total_bytes >> 20, info.free_bytes >> 20,
                   info.smem_per_block >> 10);
        }
    }
    if (json)
        printf("]}}\n");
    return CLI_EXIT_OK;
}
