/*
 * bench_search.c - candidate training speed of a search config for `evoapproxnas bench`
 * (bench_search.h).
 */
#include "bench_search.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "eng_train.h"
#include "nas_build.h"
#include "search_env.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* One training step (forward, loss, backward, SGD) of net on x, labels. */
static eng_status train_step(eng_net *net, eng_sgd *opt, const float *x, const uint8_t *labels,
                             int batch)
{
    float loss;
    ENG_TRY(eng_net_forward(net, x, batch, true));
    ENG_TRY(eng_net_loss(net, labels, batch, &loss, NULL));
    ENG_TRY(eng_net_backward(net));
    return eng_sgd_step(opt, 0.01f);
}

/* Builds, initializes and trains candidate `genes`: one warm-up step, then `steps` timed ones
 * whose wall time is added to *ms and node times to out->ops. */
static eng_status run_candidate(const search_env *env, const int *genes, uint64_t seed,
                                const float *x, const uint8_t *labels, int steps,
                                bench_search_result *out, double *ms)
{
    const cfg_search *c = &env->cfg;
    const int batch = c->training.batch_size;
    nas_arch arch;
    eng_net *net = NULL;
    eng_sgd *opt = NULL;
    double *node_ms = NULL;
    ENG_TRY(nas_genome_decode(&c->space, genes, &arch));
    eng_status rc = nas_arch_build(&arch, &c->space, (const eng_mul *const *)env->muls,
                                   &env->quant, &net, NULL);
    eng_train_cfg tc;
    eng_train_cfg_default(&tc);
    if (rc == ENG_OK && (rc = eng_net_init_params(net, seed)) == ENG_OK &&
        (rc = eng_sgd_create(net, &tc.sgd, &opt)) == ENG_OK)
        rc = train_step(net, opt, x, labels, batch);
    if (rc == ENG_OK) {
        const int n = eng_net_node_count(net);
        node_ms = calloc(2 * (size_t)n, sizeof *node_ms);
        if (node_ms == NULL)
            rc = eng_error(ENG_ERR_NOMEM, "bench: out of memory");
    }
    if (rc == ENG_OK) {
        eng_net_set_timing(net, node_ms);
        const double t0 = now_ms();
        for (int s = 0; s < steps && rc == ENG_OK; s++)
            rc = train_step(net, opt, x, labels, batch);
        *ms += now_ms() - t0;
        eng_net_set_timing(net, NULL);
        if (rc == ENG_OK)
            bench_profile_add(&out->ops, net, node_ms);
    }
    free(node_ms);
    eng_sgd_free(opt);
    eng_net_free(net);
    nas_arch_free(&arch);
    return rc;
}

eng_status bench_search_check(const char *path)
{
    cfg_search cfg;
    search_env env;
    ENG_TRY(cfg_load(path, &cfg));
    ENG_TRY(search_env_open(&env, &cfg, 0));
    search_env_close(&env);
    return ENG_OK;
}

eng_status bench_search_measure(const char *path, int genomes, int steps, int threads,
                                bench_search_result *out)
{
    cfg_search cfg;
    search_env env;
    memset(out, 0, sizeof *out);
    ENG_TRY(cfg_load(path, &cfg));
    ENG_TRY(search_env_open(&env, &cfg, 0));
    eng_set_threads(threads);
    const nas_space *space = &env.cfg.space;
    const int batch = env.cfg.training.batch_size;
    const size_t count = (size_t)space->in_channels * batch * space->in_height * space->in_width;
    float *x = malloc(sizeof(float) * count);
    uint8_t *labels = malloc((size_t)batch);
    int *genes = malloc(sizeof(int) * (size_t)nas_genome_length(space));
    eng_status rc = ENG_OK;
    if (x == NULL || labels == NULL || genes == NULL)
        rc = eng_error(ENG_ERR_NOMEM, "bench: out of memory");
    if (rc == ENG_OK) {
        uint64_t s = 0x243f6a8885a308d3u;
        for (size_t i = 0; i < count; i++) {
            s = s * 6364136223846793005u + 1442695040888963407u;
            x[i] = (float)((s >> 40) & 0xffff) / 65536.0f * 2.0f - 1.0f;
        }
        for (int i = 0; i < batch; i++)
            labels[i] = (uint8_t)(i % space->classes);
        *out = (bench_search_result){.genomes = genomes, .batch = batch, .steps = steps,
                                     .threads = threads};
        uint64_t rng = env.cfg.seed;
        double ms = 0.0;
        for (int g = 0; g < genomes && rc == ENG_OK; g++) {
            do
                nas_genome_random(space, &rng, genes);
            while (!nas_genome_valid(space, genes));
            rc = run_candidate(&env, genes, env.cfg.seed + (uint64_t)g, x, labels, steps, out,
                               &ms);
        }
        out->ms = ms;
        out->images_per_s = ms > 0.0 ? (double)genomes * steps * batch / (ms * 1e-3) : 0.0;
    }
    free(x);
    free(labels);
    free(genes);
    search_env_close(&env);
    return rc;
}
