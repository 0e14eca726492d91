/*
 * search_train.c - the candidate training loop over the engine's SGD (eng_train.h), checking
 * the interrupt flag between batches, with checkpoints to continue it bit-identically.
 *
 * Checkpoint format (version 1, host byte order, little-endian on the supported machines):
 *
 *   offset size  field
 *   0      8     magic "EVAXCK\r\n"
 *   8      4     version (1)
 *   12     4     epochs of the training
 *   16     4     epochs finished
 *   20     4     batch size
 *   24     8     batches of the current epoch done (0 at an epoch boundary)
 *   32     8     batches per epoch
 *   40     8     seed of the training
 *   48     8     RNG state (order and augmentation)
 *   56     8     sum of the current epoch's batch losses (double)
 *   64     4     training images C (the data order's length)
 *   68     4     reserved (0)
 *   72     8     engine state size S
 *   80     4*C   the data order (int32): the current epoch's, else the last one's
 *   ..     S     eng_train_state_save's network and optimizer state
 */
#include "search_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "eng_train.h"

static const char ckpt_magic[8] = {'E', 'V', 'A', 'X', 'C', 'K', '\r', '\n'};

enum { CKPT_HEADER = 80 };

/* The loop state a checkpoint carries besides the engine state. */
typedef struct loop_state {
    int epochs, done, batch_size;
    long batch, per_epoch;
    uint64_t seed, rng;
    double loss_sum;
    int count;
} loop_state;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static eng_status read_header(const void *data, size_t size, loop_state *ls, uint64_t *state)
{
    const unsigned char *p = data;
    uint32_t version, count;
    int32_t epochs, done, bs;
    int64_t batch, per_epoch;
    if (!data || size < CKPT_HEADER || memcmp(p, ckpt_magic, sizeof ckpt_magic) != 0)
        return eng_error(ENG_ERR_FORMAT, "not a training checkpoint (%zu bytes)", size);
    memcpy(&version, p + 8, 4);
    memcpy(&epochs, p + 12, 4);
    memcpy(&done, p + 16, 4);
    memcpy(&bs, p + 20, 4);
    memcpy(&batch, p + 24, 8);
    memcpy(&per_epoch, p + 32, 8);
    memcpy(&ls->seed, p + 40, 8);
    memcpy(&ls->rng, p + 48, 8);
    memcpy(&ls->loss_sum, p + 56, 8);
    memcpy(&count, p + 64, 4);
    memcpy(state, p + 72, 8);
    if (version != 1 || epochs < 1 || done < 0 || done > epochs || bs < 1 || per_epoch < 1 ||
        batch < 0 || batch >= per_epoch || (done == epochs && batch != 0) || count < 1 ||
        *state > size || (size - *state - CKPT_HEADER) / 4 != count ||
        (size - *state - CKPT_HEADER) % 4 != 0)
        return eng_error(ENG_ERR_FORMAT, "training checkpoint: inconsistent header (version "
                         "%u, epoch %d of %d, batch %lld of %lld, %zu bytes)", version, done,
                         epochs, (long long)batch, (long long)per_epoch, size);
    ls->epochs = epochs, ls->done = done, ls->batch_size = bs;
    ls->batch = (long)batch, ls->per_epoch = (long)per_epoch, ls->count = (int)count;
    return ENG_OK;
}

/* The position a checkpoint stands for: a finished epoch, or the batch within one. */
static search_train_pos pos_of(const loop_state *ls, long trained)
{
    search_train_pos p = {.epochs = ls->epochs, .batches = ls->per_epoch, .trained = trained};
    if (ls->batch == 0 && ls->done > 0) {
        p.epoch = ls->done;
        p.batch = ls->per_epoch;
        p.loss = ls->loss_sum / (double)ls->per_epoch;
    } else {
        p.epoch = ls->done + 1;
        p.batch = ls->batch;
        p.loss = ls->batch > 0 ? ls->loss_sum / (double)ls->batch : NAN;
    }
    return p;
}

eng_status search_train_checkpoint_pos(const void *data, size_t size, search_train_pos *pos)
{
    loop_state ls;
    uint64_t state;
    ENG_TRY(read_header(data, size, &ls, &state));
    *pos = pos_of(&ls, 0);
    return ENG_OK;
}

/* Writes a checkpoint of the loop state ls, order and (net, opt) to hooks->checkpoint. */
static eng_status checkpoint(const search_train_hooks *h, const loop_state *ls,
                             const int *order, eng_net *net, eng_sgd *opt, long trained)
{
    size_t state = eng_train_state_size(net, opt);
    size_t size = CKPT_HEADER + 4 * (size_t)ls->count + state;
    unsigned char *buf = malloc(size);
    if (!buf || state == 0) {
        free(buf);
        return eng_error(ENG_ERR_NOMEM, "out of memory for a %zu-byte checkpoint", size);
    }
    uint32_t version = 1, count = (uint32_t)ls->count, zero = 0;
    int32_t epochs = ls->epochs, done = ls->done, bs = ls->batch_size;
    int64_t batch = ls->batch, per_epoch = ls->per_epoch;
    uint64_t state64 = state;
    memcpy(buf, ckpt_magic, 8);
    memcpy(buf + 8, &version, 4);
    memcpy(buf + 12, &epochs, 4);
    memcpy(buf + 16, &done, 4);
    memcpy(buf + 20, &bs, 4);
    memcpy(buf + 24, &batch, 8);
    memcpy(buf + 32, &per_epoch, 8);
    memcpy(buf + 40, &ls->seed, 8);
    memcpy(buf + 48, &ls->rng, 8);
    memcpy(buf + 56, &ls->loss_sum, 8);
    memcpy(buf + 64, &count, 4);
    memcpy(buf + 68, &zero, 4);
    memcpy(buf + 72, &state64, 8);
    for (int i = 0; i < ls->count; i++) {
        int32_t v = order[i];
        memcpy(buf + CKPT_HEADER + 4 * (size_t)i, &v, 4);
    }
    eng_status st = eng_train_state_save(net, opt, buf + CKPT_HEADER + 4 * (size_t)ls->count,
                                         state);
    search_train_pos pos = pos_of(ls, trained);
    if (st == ENG_OK) st = h->checkpoint(h->user, buf, size, &pos);
    free(buf);
    return st;
}

/* Restores the loop state, order and (net, opt) from hooks->resume, checking that it is a
 * checkpoint of the same training (want: its fixed fields). */
static eng_status restore(const search_train_hooks *h, const loop_state *want, loop_state *ls,
                          int *order, eng_net *net, eng_sgd *opt)
{
    uint64_t state;
    ENG_TRY(read_header(h->resume, h->resume_size, ls, &state));
    if (ls->epochs != want->epochs || ls->batch_size != want->batch_size ||
        ls->per_epoch != want->per_epoch || ls->seed != want->seed || ls->count != want->count)
        return eng_error(ENG_ERR_FORMAT, "training checkpoint of another training (%d epochs "
                         "of %ld batches of %d on %d images, seed %016llx; this one: %d of %ld "
                         "of %d on %d, seed %016llx)", ls->epochs, ls->per_epoch,
                         ls->batch_size, ls->count, (unsigned long long)ls->seed, want->epochs,
                         want->per_epoch, want->batch_size, want->count,
                         (unsigned long long)want->seed);
    const unsigned char *p = h->resume;
    for (int i = 0; i < ls->count; i++) {
        int32_t v;
        memcpy(&v, p + CKPT_HEADER + 4 * (size_t)i, 4);
        if (v < 0 || v >= ls->count)
            return eng_error(ENG_ERR_FORMAT, "training checkpoint: image %d in the data order",
                             (int)v);
        order[i] = v;
    }
    return eng_train_state_load(net, opt, p + CKPT_HEADER + 4 * (size_t)ls->count,
                                (size_t)state);
}

eng_status search_train(eng_net *net, const eng_dataset *ds, const search_train_cfg *cfg,
                        uint64_t seed, volatile sig_atomic_t *stop,
                        const search_train_hooks *hooks)
{
    static const search_train_hooks none = {0};
    const search_train_hooks *h = hooks ? hooks : &none;
    ENG_TRY(eng_net_init_params(net, seed));
    int bs = cfg->batch_size < ds->count ? cfg->batch_size : ds->count;
    eng_sgd_cfg sc = {.lr = (float)cfg->learning_rate, .momentum = (float)cfg->momentum,
                      .weight_decay = (float)cfg->weight_decay,
                      .schedule = cfg->cosine ? ENG_LR_COSINE : ENG_LR_CONSTANT,
                      .step_epochs = 1, .step_gamma = 1.0f};
    size_t img = (size_t)ds->channels * ds->height * ds->width;
    float *x = eng_alloc(sizeof(float) * img * (size_t)bs);
    uint8_t *labels = malloc((size_t)bs);
    int *order = malloc(sizeof(int) * (size_t)ds->count);
    eng_sgd *opt = NULL;
    eng_status st = x && labels && order ? ENG_OK : eng_error(ENG_ERR_NOMEM, "out of memory");
    if (st == ENG_OK) st = eng_net_set_device(net, cfg->device);
    if (st == ENG_OK) st = eng_net_reserve(net, bs, true);
    if (st == ENG_OK) st = eng_sgd_create(net, &sc, &opt);
    loop_state ls = {.epochs = cfg->epochs, .batch_size = bs, .per_epoch = ds->count / bs,
                     .seed = seed, .rng = seed ^ 0x5DEECE66Dull, .count = ds->count};
    for (int i = 0; order && i < ds->count; i++) order[i] = i;
    if (st == ENG_OK && h->resume) {
        loop_state want = ls;
        st = restore(h, &want, &ls, order, net, opt);
    }
    if (ls.batch == 0) ls.loss_sum = 0;   /* a boundary checkpoint holds the last epoch's */
    const long per_epoch = ls.per_epoch, total = per_epoch * cfg->epochs;
    bool aug = cfg->augment.crop_pad > 0 || cfg->augment.hflip;
    double last_ckpt = now_s();
    long trained = 0;
    for (; ls.done < cfg->epochs && st == ENG_OK; ls.done++, ls.batch = 0, ls.loss_sum = 0) {
        for (; ls.batch < per_epoch && st == ENG_OK; ls.batch++) {
            if (stop && *stop) {
                /* at an epoch's start: before its shuffle, as the checkpoint says */
                if (h->checkpoint) st = checkpoint(h, &ls, order, net, opt, trained);
                if (st == ENG_OK) st = eng_error(ENG_ERR_INTERRUPTED, "training interrupted");
                break;
            }
            if (h->checkpoint && h->checkpoint_s > 0 && ls.batch > 0 &&
                now_s() - last_ckpt >= h->checkpoint_s) {
                st = checkpoint(h, &ls, order, net, opt, trained);
                last_ckpt = now_s();
                if (st != ENG_OK) break;
            }
            if (ls.batch == 0) eng_data_shuffle(order, ds->count, &ls.rng);
            long t = ls.done * per_epoch + ls.batch;
            float loss;
            st = eng_dataset_batch(ds, order + ls.batch * bs, bs, aug ? &cfg->augment : NULL,
                                   aug ? &ls.rng : NULL, x, labels);
            if (st == ENG_OK) st = eng_net_forward(net, x, bs, true);
            if (st == ENG_OK) st = eng_net_loss(net, labels, bs, &loss, NULL);
            if (st == ENG_OK && !isfinite(loss))
                st = eng_error(ENG_ERR_ARG, "training diverged (loss %g at step %ld)",
                               (double)loss, t);
            if (st == ENG_OK) st = eng_net_backward(net);
            if (st == ENG_OK) st = eng_sgd_step(opt, eng_sgd_lr(&sc, t, total, per_epoch));
            if (st != ENG_OK) break;
            ls.loss_sum += loss;
            trained++;
            if (h->progress) {
                loop_state now = ls;
                now.batch++;
                search_train_pos pos = pos_of(&now, trained);
                h->progress(h->user, SEARCH_TRAIN_BATCH, &pos);
            }
        }
        if (st != ENG_OK) break;
        loop_state end = ls;
        end.done++, end.batch = 0;
        if (h->checkpoint) {
            st = checkpoint(h, &end, order, net, opt, trained);
            last_ckpt = now_s();
        }
        if (st == ENG_OK && h->progress) {
            search_train_pos pos = pos_of(&end, trained);
            h->progress(h->user, SEARCH_TRAIN_EPOCH, &pos);
        }
    }
    eng_sgd_free(opt);
    free(order);
    free(labels);
    eng_free(x);
    return st;
}

void search_train_log_progress(void *user, search_train_event ev, const search_train_pos *pos)
{
    search_train_logger *lg = user;
    double now = now_s();
    if (lg->t_epoch == 0) lg->t_epoch = now;
    if (ev != SEARCH_TRAIN_EPOCH) return;
#pragma omp critical(search_train_log)
    {
        fprintf(lg->out, "  %s epoch %d/%d loss %.4f %.1fs\n", lg->label, pos->epoch,
                pos->epochs, pos->loss, now - lg->t_epoch);
        fflush(lg->out);
    }
    lg->t_epoch = now;
}

eng_status search_train_error(eng_net *net, const eng_dataset *ds, int batch_size,
                              double *error)
{
    double acc;
    ENG_TRY(eng_evaluate(net, ds, batch_size, &acc, NULL));
    *error = 1.0 - acc;
    return ENG_OK;
}
