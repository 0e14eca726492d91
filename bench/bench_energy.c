/*
 * bench_energy.c - speed of the energy model: a whole ResNet-20 estimate on a fresh model
 * (every layer shape mapped) and on a warm one (mappings cached), on the three shipped designs.
 * Wall time and the thread's CPU time are both reported: on a shared machine the CPU time is
 * the better measure of the model's own cost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "energy/energy.h"
#include "energy_nets.h"
#include "engine_config.h"

#define REPS 101

static double now_ms(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    const char *names[] = {"eyeriss_like_16b", "eyeriss_like_16b_unconstrained", "eyeriss_like_8b"};
    energy_layer ls[ENERGY_RESNET20_LAYERS];
    const int n = energy_resnet20_layers(ls);
    for (int a = 0; a < 3; a++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/configs/accelerators/%s.yaml", EVOAPPROXNAS_SOURCE_DIR,
                 names[a]);
        energy_accel acc;
        if (energy_accel_load(path, &acc) != ENG_OK) {
            fprintf(stderr, "%s\n", eng_last_error());
            return 1;
        }
        double cold[REPS], cpu[REPS], warm[REPS];
        energy_layer_cost total;
        for (int r = 0; r < REPS; r++) {
            energy_model *m;
            double t0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_THREAD_CPUTIME_ID);
            if (energy_model_create(&acc, &m) != ENG_OK ||
                energy_net_estimate(m, ls, n, NULL, &total) != ENG_OK) {
                fprintf(stderr, "%s\n", eng_last_error());
                return 1;
            }
            double t1 = now_ms(CLOCK_MONOTONIC), c1 = now_ms(CLOCK_THREAD_CPUTIME_ID);
            energy_net_estimate(m, ls, n, NULL, &total);
            double t2 = now_ms(CLOCK_MONOTONIC);
            energy_model_free(m);
            cold[r] = t1 - t0;
            cpu[r] = c1 - c0;
            warm[r] = t2 - t1;
        }
        qsort(cold, REPS, sizeof cold[0], cmp);
        qsort(warm, REPS, sizeof warm[0], cmp);
        qsort(cpu, REPS, sizeof cpu[0], cmp);
        printf("ResNet-20 on %s: %.4g uJ (%.3f pJ/MAC); cold estimate: median %.3f ms CPU, "
               "wall median %.3f ms (min %.3f); warm: %.1f us\n", names[a],
               total.total_pj * 1e-6, total.total_pj / (double)total.macs, cpu[REPS / 2],
               cold[REPS / 2], cold[0], warm[REPS / 2] * 1e3);
    }
    return 0;
}
