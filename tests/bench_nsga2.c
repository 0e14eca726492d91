/*
 * bench_nsga2.c - speed of the NSGA-II loop: ZDT1, population 100, 250 generations (25,100
 * evaluations), the reference run; also DTLZ2 with 3 objectives. Prints the best and
 * median wall time of several repetitions (`meson test --benchmark` or `ninja benchmark`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "evo_problems.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(const char *name, int m, int gens, int reps)
{
    evo_test_problem tp;
    if (evo_test_problem_init(&tp, name, m, 0) != EVO_OK) {
        fprintf(stderr, "bench: %s\n", evo_last_error());
        return 1;
    }
    evo_problem prob;
    evo_test_problem_as_problem(&tp, &prob);
    double t[16];
    for (int r = 0; r < reps; r++) {
        evo_params par;
        evo_params_default(&par);
        par.seed = (uint64_t)r + 1;
        evo_nsga2 *ga;
        double t0 = now();
        if (evo_nsga2_create(&prob, &par, &ga) != EVO_OK || evo_nsga2_run(ga, gens) != EVO_OK) {
            fprintf(stderr, "bench: %s\n", evo_last_error());
            evo_nsga2_free(ga);
            return 1;
        }
        t[r] = now() - t0;
        evo_nsga2_free(ga);
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    printf("nsga2 %s (%d objectives), population 100 x %d generations: best %.1f ms, "
           "median %.1f ms over %d runs\n", name, tp.n_obj, gens, 1e3 * t[0], 1e3 * t[reps / 2],
           reps);
    return 0;
}

int main(void)
{
    int rc = bench("zdt1", 0, 250, 9);
    if (rc == 0) rc = bench("dtlz2", 3, 250, 5);
    return rc;
}
