/*
 * search_train.c - the candidate training: the engine's loop (eng_train) with the search's
 * recipe, and step and epoch hooks that check the interrupt flag, take checkpoints (format:
 * eng_train.h) and report progress.
 */
#include "search_train.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

/* The data RNG of a candidate starts at its seed ^ this (its weights at the seed). */
#define DATA_SEED_SALT 0x5DEECE66Dull

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void search_train_recipe(const cfg_search *c, int epochs, uint64_t seed, int images,
                         eng_train_cfg *out)
{
    eng_train_cfg_default(out);
    out->epochs = epochs;
    out->batch = c->training.batch_size < images ? c->training.batch_size : images;
    out->sgd = (eng_sgd_cfg){.lr = (float)c->training.learning_rate,
                             .momentum = (float)c->training.momentum,
                             .weight_decay = (float)c->training.weight_decay,
                             .schedule = c->training.cosine ? ENG_LR_COSINE : ENG_LR_CONSTANT,
                             .step_epochs = 1, .step_gamma = 1.0f};
    out->augment = (eng_augment){.crop_pad = c->training.crop_pad, .hflip = c->training.hflip};
    out->seed = seed ^ DATA_SEED_SALT;
}

/* The hooks' state of one training. */
typedef struct run {
    const search_train_hooks *h;
    volatile sig_atomic_t *stop;
    double last_ckpt;           /* time of the last checkpoint (or the start) */
} run;

/* Hands a checkpoint of tr at pos to the checkpoint hook. */
static eng_status checkpoint(run *r, eng_trainer *tr, const eng_train_pos *pos)
{
    size_t size = eng_train_checkpoint_size(tr);
    unsigned char *buf = size ? malloc(size) : NULL;
    if (!buf) return eng_error(ENG_ERR_NOMEM, "out of memory for a %zu-byte checkpoint", size);
    eng_status st = eng_train_checkpoint(tr, buf, size);
    if (st == ENG_OK) st = r->h->checkpoint(r->h->user, buf, size, pos);
    free(buf);
    r->last_ckpt = now_s();
    return st;
}

/* After a step: progress; then, inside an epoch, a stop request (checkpointed) or a timed
 * checkpoint. An epoch's last step leaves both to the epoch hook. */
static eng_status on_step(void *user, eng_trainer *tr, const eng_train_pos *p)
{
    run *r = user;
    if (r->h->progress) r->h->progress(r->h->user, SEARCH_TRAIN_BATCH, p);
    if (p->step == p->steps) return ENG_OK;
    if (r->stop && *r->stop) {
        if (r->h->checkpoint) ENG_TRY(checkpoint(r, tr, p));
        return eng_error(ENG_ERR_INTERRUPTED, "training interrupted");
    }
    if (r->h->checkpoint && r->h->checkpoint_s > 0 && now_s() - r->last_ckpt >= r->h->checkpoint_s)
        ENG_TRY(checkpoint(r, tr, p));
    return ENG_OK;
}

/* After an epoch: its checkpoint, progress, then a stop request (but after the last). */
static eng_status on_epoch(void *user, eng_trainer *tr, const eng_epoch_stats *s)
{
    run *r = user;
    eng_train_pos pos = {.epoch = s->epoch, .epochs = s->epochs, .step = s->steps,
                         .steps = s->steps, .trained = s->trained, .loss = NAN,
                         .mean_loss = s->loss};
    if (r->h->checkpoint) ENG_TRY(checkpoint(r, tr, &pos));
    if (r->h->progress) r->h->progress(r->h->user, SEARCH_TRAIN_EPOCH, &pos);
    if (s->epoch < s->epochs && r->stop && *r->stop)
        return eng_error(ENG_ERR_INTERRUPTED, "training interrupted");
    return ENG_OK;
}

eng_status search_train(eng_net *net, const eng_dataset *ds, const eng_train_cfg *cfg,
                        volatile sig_atomic_t *stop, const search_train_hooks *hooks)
{
    static const search_train_hooks none = {0};
    run r = {.h = hooks ? hooks : &none, .stop = stop, .last_ckpt = now_s()};
    eng_train_cfg c = *cfg;
    c.on_step = on_step;
    c.on_epoch = on_epoch;
    c.user = &r;
    c.resume = r.h->resume;
    c.resume_size = r.h->resume_size;
    return eng_train(net, ds, NULL, &c, NULL);
}

void search_train_log_progress(void *user, search_train_event ev, const eng_train_pos *pos)
{
    search_train_logger *lg = user;
    double now = now_s();
    if (lg->t_epoch == 0) lg->t_epoch = now;
    if (ev != SEARCH_TRAIN_EPOCH) return;
#pragma omp critical(search_train_log)
    {
        fprintf(lg->out, "  %s epoch %d/%d loss %.4f %.1fs\n", lg->label, pos->epoch,
                pos->epochs, pos->mean_loss, now - lg->t_epoch);
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
