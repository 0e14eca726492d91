/*
 * train.c - SGD with momentum, learning-rate schedules, the one training loop (hooks,
 * checkpoints, divergence), evaluation and calibration over data sets.
 */
#include "eng_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "approx_internal.h"
#include "backend.h"

static const char *const schedule_names[] = {
    [ENG_LR_CONSTANT] = "constant",
    [ENG_LR_COSINE] = "cosine",
    [ENG_LR_STEP] = "step",
};
_Static_assert(sizeof(schedule_names) / sizeof(schedule_names[0]) == ENG_LR_SCHEDULE_COUNT,
               "schedule_names out of sync with eng_lr_schedule");

const char *eng_lr_schedule_name(eng_lr_schedule s)
{
    return (unsigned)s < ENG_LR_SCHEDULE_COUNT ? schedule_names[s] : "unknown";
}

eng_status eng_lr_schedule_parse(const char *name, eng_lr_schedule *out)
{
    for (int i = 0; i < ENG_LR_SCHEDULE_COUNT; i++)
        if (name && strcmp(name, schedule_names[i]) == 0) {
            *out = (eng_lr_schedule)i;
            return ENG_OK;
        }
    return eng_error(ENG_ERR_ARG, "unknown learning-rate schedule '%s' (constant, cosine, "
                     "step)", name ? name : "");
}

float eng_sgd_lr(const eng_sgd_cfg *cfg, long step, long total_steps, long steps_per_epoch)
{
    switch (cfg->schedule) {
    case ENG_LR_COSINE:
        if (total_steps <= 0) return cfg->lr;
        return (float)(cfg->lr * 0.5 * (1.0 + cos(M_PI * (double)step / (double)total_steps)));
    case ENG_LR_STEP: {
        long epoch = steps_per_epoch > 0 ? step / steps_per_epoch : 0;
        return (float)(cfg->lr * pow(cfg->step_gamma, (double)(epoch / cfg->step_epochs)));
    }
    default:
        return cfg->lr;
    }
}

static eng_status sgd_cfg_check(const eng_sgd_cfg *c)
{
    if (!(c->lr > 0.0f) || !(c->momentum >= 0.0f && c->momentum < 1.0f) ||
        !(c->weight_decay >= 0.0f) || (c->nesterov && c->momentum == 0.0f) ||
        (unsigned)c->schedule >= ENG_LR_SCHEDULE_COUNT ||
        (c->schedule == ENG_LR_STEP &&
         (c->step_epochs < 1 || !(c->step_gamma > 0.0f && c->step_gamma <= 1.0f))))
        return eng_error(ENG_ERR_ARG, "sgd: invalid settings (lr %g > 0, momentum %g in [0, 1), "
                         "weight decay %g >= 0, Nesterov needs momentum, step %d epochs x %g)",
                         c->lr, c->momentum, c->weight_decay, c->step_epochs, c->step_gamma);
    return ENG_OK;
}

/* ------------------------------------------------------------------------------------------
 * Optimizer
 * ---------------------------------------------------------------------------------------- */

struct eng_sgd {
    eng_net *net;
    eng_sgd_cfg cfg;
    int n;                    /* trainable tensors */
    int *index;               /* their parameter indices */
    float *block;             /* the velocities, tensor after tensor (in index order) */
    size_t total;             /* floats in block */
    /* the backend's own copy of the velocities (a network on the GPU), or NULL, and the
     * backend that made it */
    float *dev_block;
    const net_backend *dev_be;
};

eng_status eng_sgd_create(eng_net *net, const eng_sgd_cfg *cfg, eng_sgd **out)
{
    *out = NULL;
    ENG_TRY(sgd_cfg_check(cfg));
    int count = eng_net_param_count(net);
    if (count < 0) return (eng_status)-count;
    eng_sgd *o = calloc(1, sizeof *o);
    size_t total = 0;
    if (o) o->index = calloc((size_t)count + 1, sizeof *o->index);
    if (!o || !o->index) goto nomem;
    for (int i = 0; i < count; i++) {
        eng_param p;
        ENG_ASSERT(eng_net_param_get(net, i, &p) == ENG_OK);
        if (!p.trainable) continue;
        o->index[o->n++] = i;
        total += p.count;
    }
    o->block = eng_calloc(total + 1, sizeof(float));
    if (!o->block) goto nomem;
    o->net = net;
    o->cfg = *cfg;
    o->total = total;
    *out = o;
    return ENG_OK;
nomem:
    eng_sgd_free(o);
    return eng_error(ENG_ERR_NOMEM, "sgd: out of memory");
}

void eng_sgd_free(eng_sgd *o)
{
    if (!o) return;
    free(o->index);
    eng_free(o->block);
    if (o->dev_block) o->dev_be->free_block(o->dev_block);
    free(o);
}

eng_status eng_sgd_step(eng_sgd *o, float lr)
{
    const net_backend *be = o->net->be;
    if (o->dev_block && be != o->dev_be) {      /* the network moved: its old copy goes */
        ENG_TRY(o->dev_be->block_to_host(o->block, o->dev_block, o->total));
        o->dev_be->free_block(o->dev_block);
        o->dev_block = NULL;
    }
    o->dev_be = be;
    return be->sgd_step(o->net, o->index, o->n, lr, o->cfg.momentum, o->cfg.weight_decay,
                        o->cfg.nesterov, o->block, &o->dev_block);
}

/* ------------------------------------------------------------------------------------------
 * Training loop
 * ---------------------------------------------------------------------------------------- */

void eng_train_cfg_default(eng_train_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->epochs = 10;
    cfg->batch = 64;
    cfg->sgd = (eng_sgd_cfg){.lr = 0.05f, .momentum = 0.9f, .nesterov = false,
                             .weight_decay = 5e-4f, .schedule = ENG_LR_COSINE,
                             .step_epochs = 30, .step_gamma = 0.1f};
    cfg->seed = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static eng_status check_data(const eng_net *net, const eng_dataset *ds, const char *what)
{
    int c, h, w;
    eng_net_input_shape(net, &c, &h, &w);
    if (ds->channels != c || ds->height != h || ds->width != w ||
        ds->classes > eng_net_classes(net))
        return eng_error(ENG_ERR_SHAPE, "%s images are %dx%dx%d with %d classes, the network "
                         "takes %dx%dx%d with %d classes", what, ds->height, ds->width,
                         ds->channels, ds->classes, h, w, c, eng_net_classes(net));
    if (ds->count < 1) return eng_error(ENG_ERR_ARG, "%s set is empty", what);
    return ENG_OK;
}

typedef struct batch_buf {
    float *x;
    uint8_t *labels;
    int *order;
} batch_buf;

static eng_status batch_buf_init(batch_buf *b, const eng_dataset *ds, int batch)
{
    size_t img = (size_t)ds->channels * ds->height * ds->width;
    b->x = eng_alloc(img * (size_t)batch * sizeof(float));
    b->labels = malloc((size_t)batch);
    b->order = malloc((size_t)ds->count * sizeof *b->order);
    if (!b->x || !b->labels || !b->order) {
        eng_free(b->x);
        free(b->labels);
        free(b->order);
        *b = (batch_buf){0};
        return eng_error(ENG_ERR_NOMEM, "training: no memory for batches of %d", batch);
    }
    for (int i = 0; i < ds->count; i++) b->order[i] = i;
    return ENG_OK;
}

static void batch_buf_free(batch_buf *b)
{
    eng_free(b->x);
    free(b->labels);
    free(b->order);
}

eng_status eng_evaluate(eng_net *net, const eng_dataset *ds, int batch, double *accuracy,
                        double *loss)
{
    if (batch < 1) return eng_error(ENG_ERR_ARG, "evaluate: batch size %d", batch);
    ENG_TRY(check_data(net, ds, "evaluation"));
    if (batch > ds->count) batch = ds->count;
    batch_buf b;
    ENG_TRY(batch_buf_init(&b, ds, batch));
    eng_status st = ENG_OK;
    long correct = 0;
    double loss_sum = 0.0;
    for (int i = 0; i < ds->count && st == ENG_OK; i += batch) {
        int n = ds->count - i < batch ? ds->count - i : batch;
        float l;
        int c = 0;
        st = eng_dataset_batch(ds, b.order + i, n, NULL, NULL, b.x, b.labels);
        if (st == ENG_OK) st = eng_net_forward(net, b.x, n, false);
        if (st == ENG_OK) st = eng_net_loss(net, b.labels, n, &l, &c);
        correct += c;
        loss_sum += (double)l * n;
    }
    batch_buf_free(&b);
    if (st != ENG_OK) return st;
    *accuracy = (double)correct / ds->count;
    if (loss) *loss = loss_sum / ds->count;
    return ENG_OK;
}

eng_status eng_calibrate(eng_net *net, const eng_dataset *ds, int images, int batch)
{
    if (batch < 1) return eng_error(ENG_ERR_ARG, "calibrate: batch size %d", batch);
    ENG_TRY(check_data(net, ds, "calibration"));
    if (images <= 0 || images > ds->count) images = ds->count;
    if (batch > images) batch = images;
    batch_buf b;
    ENG_TRY(batch_buf_init(&b, ds, batch));
    eng_status st = eng_net_calibrate_begin(net);
    for (int i = 0; i < images && st == ENG_OK; i += batch) {
        int n = images - i < batch ? images - i : batch;
        st = eng_dataset_batch(ds, b.order + i, n, NULL, NULL, b.x, NULL);
        if (st == ENG_OK) st = eng_net_forward(net, b.x, n, false);
    }
    if (st == ENG_OK) st = eng_net_calibrate_end(net);
    batch_buf_free(&b);
    return st;
}

static eng_status train_check(const eng_net *net, const eng_dataset *train,
                              const eng_dataset *val, const eng_train_cfg *cfg)
{
    ENG_TRY(check_data(net, train, "training"));
    if (val) ENG_TRY(check_data(net, val, "validation"));
    if (cfg->epochs < 1 || cfg->batch < 1 || cfg->batch > train->count)
        return eng_error(ENG_ERR_ARG, "training: %d epochs of batch %d on %d images", cfg->epochs,
                         cfg->batch, train->count);
    return sgd_cfg_check(&cfg->sgd);
}

/* A training in progress: what the loop carries from one step to the next besides the
 * network and its optimizer, and what a checkpoint holds. */
struct eng_trainer {
    eng_net *net;
    eng_sgd *opt;
    const eng_train_cfg *cfg;
    int count;                /* training images (the data order's length) */
    int done;                 /* epochs finished */
    long step;                /* steps of the current epoch done */
    long steps;               /* steps per epoch */
    uint64_t rng;             /* data order and augmentation */
    double loss_sum;          /* of the current epoch's steps */
    int *order;               /* the current epoch's data order (the last one's between) */
};

static const char ckpt_magic[8] = {'E', 'V', 'A', 'X', 'C', 'K', '\r', '\n'};

/* The checkpoint's seed field: the search's candidate seed, from which its data RNG starts
 * at seed ^ CKPT_SEED_SALT (format version 1). */
#define CKPT_SEED_SALT 0x5DEECE66Dull

enum { CKPT_HEADER = 80 };

/* A checkpoint's header: the trainer fields it restores, and the fixed ones it must match. */
typedef struct ckpt_header {
    int epochs, done, batch, count;
    long step, steps;
    uint64_t seed, rng;       /* seed: the stored field (cfg.seed ^ CKPT_SEED_SALT) */
    double loss_sum;
    uint64_t state;           /* engine state bytes */
} ckpt_header;

static eng_status ckpt_read_header(const void *data, size_t size, ckpt_header *h)
{
    const unsigned char *p = data;
    uint32_t version, count;
    int32_t epochs, done, bs;
    int64_t step, steps;
    if (!data || size < CKPT_HEADER || memcmp(p, ckpt_magic, sizeof ckpt_magic) != 0)
        return eng_error(ENG_ERR_FORMAT, "not a training checkpoint (%zu bytes)", size);
    memcpy(&version, p + 8, 4);
    memcpy(&epochs, p + 12, 4);
    memcpy(&done, p + 16, 4);
    memcpy(&bs, p + 20, 4);
    memcpy(&step, p + 24, 8);
    memcpy(&steps, p + 32, 8);
    memcpy(&h->seed, p + 40, 8);
    memcpy(&h->rng, p + 48, 8);
    memcpy(&h->loss_sum, p + 56, 8);
    memcpy(&count, p + 64, 4);
    memcpy(&h->state, p + 72, 8);
    if (version != 1 || epochs < 1 || done < 0 || done > epochs || bs < 1 || steps < 1 ||
        step < 0 || step >= steps || (done == epochs && step != 0) || count < 1 ||
        h->state > size || (size - h->state - CKPT_HEADER) / 4 != count ||
        (size - h->state - CKPT_HEADER) % 4 != 0)
        return eng_error(ENG_ERR_FORMAT, "training checkpoint: inconsistent header (version "
                         "%u, epoch %d of %d, batch %lld of %lld, %zu bytes)", version, done,
                         epochs, (long long)step, (long long)steps, size);
    h->epochs = epochs, h->done = done, h->batch = bs, h->count = (int)count;
    h->step = (long)step, h->steps = (long)steps;
    return ENG_OK;
}

/* The position a checkpoint header stands for: a finished epoch, or the step within one. */
static eng_train_pos ckpt_pos(const ckpt_header *h)
{
    eng_train_pos p = {.epochs = h->epochs, .steps = h->steps, .loss = NAN};
    if (h->step == 0 && h->done > 0) {
        p.epoch = h->done;
        p.step = h->steps;
        p.mean_loss = h->loss_sum / (double)h->steps;
    } else {
        p.epoch = h->done + 1;
        p.step = h->step;
        p.mean_loss = h->step > 0 ? h->loss_sum / (double)h->step : NAN;
    }
    return p;
}

eng_status eng_train_checkpoint_pos(const void *data, size_t size, eng_train_pos *pos)
{
    ckpt_header h;
    ENG_TRY(ckpt_read_header(data, size, &h));
    *pos = ckpt_pos(&h);
    return ENG_OK;
}

size_t eng_train_checkpoint_size(const eng_trainer *tr)
{
    size_t state = eng_train_state_size(tr->net, tr->opt);
    return state ? CKPT_HEADER + 4 * (size_t)tr->count + state : 0;
}

eng_status eng_train_checkpoint(eng_trainer *tr, void *buf, size_t size)
{
    size_t need = eng_train_checkpoint_size(tr);
    if (need == 0 || size < need)
        return eng_error(ENG_ERR_ARG, "training checkpoint: %zu bytes given, %zu needed", size,
                         need);
    /* after an epoch's last step: the boundary, which continues with the next epoch */
    bool end = tr->step == tr->steps;
    uint32_t version = 1, count = (uint32_t)tr->count, zero = 0;
    int32_t epochs = tr->cfg->epochs, done = tr->done + end, bs = tr->cfg->batch;
    int64_t step = end ? 0 : tr->step, steps = tr->steps;
    uint64_t seed = tr->cfg->seed ^ CKPT_SEED_SALT, state = need - CKPT_HEADER - 4 * count;
    unsigned char *p = buf;
    memcpy(p, ckpt_magic, 8);
    memcpy(p + 8, &version, 4);
    memcpy(p + 12, &epochs, 4);
    memcpy(p + 16, &done, 4);
    memcpy(p + 20, &bs, 4);
    memcpy(p + 24, &step, 8);
    memcpy(p + 32, &steps, 8);
    memcpy(p + 40, &seed, 8);
    memcpy(p + 48, &tr->rng, 8);
    memcpy(p + 56, &tr->loss_sum, 8);
    memcpy(p + 64, &count, 4);
    memcpy(p + 68, &zero, 4);
    memcpy(p + 72, &state, 8);
    for (int i = 0; i < tr->count; i++) {
        int32_t v = tr->order[i];
        memcpy(p + CKPT_HEADER + 4 * (size_t)i, &v, 4);
    }
    return eng_train_state_save(tr->net, tr->opt, p + CKPT_HEADER + 4 * (size_t)count,
                                (size_t)state);
}

/* Continues tr from cfg->resume: checks that it is a checkpoint of this training, then
 * restores the loop state, data order and (network, optimizer). */
static eng_status train_restore(eng_trainer *tr)
{
    const eng_train_cfg *cfg = tr->cfg;
    ckpt_header h;
    ENG_TRY(ckpt_read_header(cfg->resume, cfg->resume_size, &h));
    uint64_t seed = cfg->seed ^ CKPT_SEED_SALT;
    if (h.epochs != cfg->epochs || h.batch != cfg->batch || h.steps != tr->steps ||
        h.seed != seed || h.count != tr->count)
        return eng_error(ENG_ERR_FORMAT, "training checkpoint of another training (%d epochs "
                         "of %ld batches of %d on %d images, seed %016llx; this one: %d of %ld "
                         "of %d on %d, seed %016llx)", h.epochs, h.steps, h.batch, h.count,
                         (unsigned long long)h.seed, cfg->epochs, tr->steps, cfg->batch,
                         tr->count, (unsigned long long)seed);
    const unsigned char *p = cfg->resume;
    for (int i = 0; i < h.count; i++) {
        int32_t v;
        memcpy(&v, p + CKPT_HEADER + 4 * (size_t)i, 4);
        if (v < 0 || v >= h.count)
            return eng_error(ENG_ERR_FORMAT, "training checkpoint: image %d in the data order",
                             (int)v);
    }
    ENG_TRY(eng_train_state_load(tr->net, tr->opt, p + CKPT_HEADER + 4 * (size_t)h.count,
                                 (size_t)h.state));
    for (int i = 0; i < h.count; i++) {
        int32_t v;
        memcpy(&v, p + CKPT_HEADER + 4 * (size_t)i, 4);
        tr->order[i] = v;
    }
    tr->done = h.done;
    tr->step = h.step;
    tr->rng = h.rng;
    tr->loss_sum = h.step > 0 ? h.loss_sum : 0.0;   /* a boundary's is the last epoch's */
    return ENG_OK;
}

/* One step of tr: the batch of the epoch's order, forward, loss (not finite: diverged, before
 * any update), backward, update at rate lr. */
static eng_status train_step(eng_trainer *tr, const eng_dataset *train, batch_buf *b, float lr,
                             float *loss, int *correct)
{
    const eng_train_cfg *cfg = tr->cfg;
    const int bs = cfg->batch;
    const bool augment = cfg->augment.crop_pad > 0 || cfg->augment.hflip;
    ENG_TRY(eng_dataset_batch(train, tr->order + tr->step * bs, bs,
                              augment ? &cfg->augment : NULL, augment ? &tr->rng : NULL, b->x,
                              b->labels));
    ENG_TRY(eng_net_forward(tr->net, b->x, bs, true));
    ENG_TRY(eng_net_loss(tr->net, b->labels, bs, loss, correct));
    if (!isfinite(*loss))
        return eng_error(ENG_ERR_DIVERGED, "training diverged at epoch %d step %ld (loss %g); "
                         "lower the learning rate", tr->done + 1, tr->step + 1, (double)*loss);
    ENG_TRY(eng_net_backward(tr->net));
    return eng_sgd_step(tr->opt, lr);
}

/* One epoch of tr (the rest of it, after a resume) and its figures. */
static eng_status train_epoch(eng_trainer *tr, const eng_dataset *train, batch_buf *b,
                              long *trained, eng_epoch_stats *es)
{
    const eng_train_cfg *cfg = tr->cfg;
    const long total = tr->steps * cfg->epochs;
    double t0 = now_s();
    long correct = 0, seen = 0;
    *es = (eng_epoch_stats){.epoch = tr->done + 1, .epochs = cfg->epochs, .steps = tr->steps,
                            .val_accuracy = NAN};
    if (tr->step == 0) eng_data_shuffle(tr->order, tr->count, &tr->rng);
    while (tr->step < tr->steps) {
        float loss;
        int c;
        es->lr = eng_sgd_lr(&cfg->sgd, tr->done * tr->steps + tr->step, total, tr->steps);
        ENG_TRY(train_step(tr, train, b, es->lr, &loss, &c));
        tr->loss_sum += loss;
        tr->step++;
        correct += c;
        seen += cfg->batch;
        ++*trained;
        if (cfg->on_step) {
            eng_train_pos pos = {.epoch = tr->done + 1, .epochs = cfg->epochs,
                                 .step = tr->step, .steps = tr->steps, .trained = *trained,
                                 .loss = loss, .mean_loss = tr->loss_sum / (double)tr->step,
                                 .lr = es->lr};
            ENG_TRY(cfg->on_step(cfg->user, tr, &pos));
        }
    }
    es->seconds = now_s() - t0;
    es->trained = *trained;
    es->loss = tr->loss_sum / (double)tr->steps;
    es->accuracy = seen ? (double)correct / (double)seen : NAN;
    es->images_per_s = es->seconds > 0.0 ? (double)seen / es->seconds : 0.0;
    return ENG_OK;
}

eng_status eng_train(eng_net *net, const eng_dataset *train, const eng_dataset *val,
                     const eng_train_cfg *cfg, eng_epoch_stats *last)
{
    ENG_TRY(train_check(net, train, val, cfg));
    eng_trainer tr = {.net = net, .cfg = cfg, .count = train->count,
                      .steps = train->count / cfg->batch, .rng = cfg->seed};
    batch_buf b = {0};
    long trained = 0;
    eng_status st;
    if ((st = eng_sgd_create(net, &cfg->sgd, &tr.opt)) != ENG_OK) goto done;
    if ((st = batch_buf_init(&b, train, cfg->batch)) != ENG_OK) goto done;
    tr.order = b.order;
    if ((st = eng_net_reserve(net, cfg->batch, true)) != ENG_OK) goto done;
    if (cfg->resume && (st = train_restore(&tr)) != ENG_OK) goto done;
    for (; tr.done < cfg->epochs; tr.done++, tr.step = 0, tr.loss_sum = 0.0) {
        eng_epoch_stats es;
        if ((st = train_epoch(&tr, train, &b, &trained, &es)) != ENG_OK) goto done;
        if (val && (st = eng_evaluate(net, val, 256, &es.val_accuracy, NULL)) != ENG_OK)
            goto done;
        if (last) *last = es;
        if (cfg->on_epoch && (st = cfg->on_epoch(cfg->user, &tr, &es)) != ENG_OK) goto done;
    }
done:
    batch_buf_free(&b);
    eng_sgd_free(tr.opt);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Training state
 * ---------------------------------------------------------------------------------------- */

static const char state_magic[8] = {'E', 'V', 'A', 'X', 'T', 'S', '\r', '\n'};

enum { STATE_HEADER = 32, STATE_TENSOR = 16, STATE_QUANT = 20 };

static int quant_count(const eng_net *net)
{
    int q = 0;
    for (int i = 0; i < net->n_nodes; i++) q += net->nodes[i].q != NULL;
    return q;
}

size_t eng_train_state_size(eng_net *net, const eng_sgd *opt)
{
    if (eng_net_param_count(net) < 0) return 0;
    size_t floats = 0;
    for (int i = 0; i < net->n_param_tensors; i++) floats += net->param_list[i].count;
    return STATE_HEADER + (size_t)net->n_param_tensors * STATE_TENSOR +
           (size_t)quant_count(net) * STATE_QUANT + 4 * (floats + opt->total);
}

static void put(unsigned char **p, const void *v, size_t n)
{
    memcpy(*p, v, n);
    *p += n;
}

static void put_u32(unsigned char **p, uint32_t v)
{
    put(p, &v, 4);
}

static void put_u64(unsigned char **p, uint64_t v)
{
    put(p, &v, 8);
}

static uint32_t get_u32(const unsigned char **p)
{
    uint32_t v;
    memcpy(&v, *p, 4);
    *p += 4;
    return v;
}

static uint64_t get_u64(const unsigned char **p)
{
    uint64_t v;
    memcpy(&v, *p, 8);
    *p += 8;
    return v;
}

eng_status eng_train_state_save(eng_net *net, const eng_sgd *opt, void *buf, size_t size)
{
    size_t need = eng_train_state_size(net, opt);
    if (need == 0 || size < need)
        return eng_error(ENG_ERR_ARG, "training state: %zu bytes given, %zu needed", size, need);
    ENG_TRY(eng_net_sync_host(net));
    if (opt->dev_block) ENG_TRY(opt->dev_be->block_to_host(opt->block, opt->dev_block, opt->total));
    unsigned char *p = buf;
    put(&p, state_magic, sizeof state_magic);
    put_u32(&p, 1);
    put_u32(&p, (uint32_t)net->n_param_tensors);
    put_u32(&p, (uint32_t)quant_count(net));
    put_u32(&p, 0);
    put_u64(&p, opt->total);
    for (int i = 0; i < net->n_param_tensors; i++) {
        const eng_param *t = &net->param_list[i];
        put_u32(&p, (uint32_t)t->node);
        put_u32(&p, (uint32_t)t->kind);
        put_u64(&p, t->count);
    }
    for (int i = 0; i < net->n_nodes; i++) {
        const eng_approx *q = net->nodes[i].q;
        if (!q) continue;
        put_u32(&p, (uint32_t)i);
        put_u32(&p, (uint32_t)q->obs.mode);
        put_u32(&p, q->obs.valid);
        put(&p, &q->obs.lo, 4);
        put(&p, &q->obs.hi, 4);
    }
    for (int i = 0; i < net->n_param_tensors; i++)
        put(&p, net->param_list[i].data, net->param_list[i].count * sizeof(float));
    put(&p, opt->block, opt->total * sizeof(float));
    return ENG_OK;
}

eng_status eng_train_state_load(eng_net *net, eng_sgd *opt, const void *buf, size_t size)
{
    size_t need = eng_train_state_size(net, opt);
    const unsigned char *p = buf;
    if (need == 0 || size != need || memcmp(p, state_magic, sizeof state_magic) != 0)
        return eng_error(ENG_ERR_FORMAT, "training state: %zu bytes, not a state of this "
                         "network (%zu bytes)", size, need);
    p += sizeof state_magic;
    uint32_t version = get_u32(&p), tensors = get_u32(&p), quants = get_u32(&p);
    get_u32(&p);
    uint64_t velocities = get_u64(&p);
    if (version != 1 || tensors != (uint32_t)net->n_param_tensors ||
        quants != (uint32_t)quant_count(net) || velocities != opt->total)
        return eng_error(ENG_ERR_FORMAT, "training state: version %u, %u tensors, %u quantized "
                         "layers, %llu velocities; the network has %d, %d, %zu", version,
                         tensors, quants, (unsigned long long)velocities, net->n_param_tensors,
                         quant_count(net), opt->total);
    for (int i = 0; i < net->n_param_tensors; i++) {
        const eng_param *t = &net->param_list[i];
        uint32_t node = get_u32(&p), kind = get_u32(&p);
        uint64_t count = get_u64(&p);
        if (node != (uint32_t)t->node || kind != (uint32_t)t->kind || count != t->count)
            return eng_error(ENG_ERR_FORMAT, "training state: tensor %d is node %u %s x %llu, "
                             "the network's is node %d %s x %zu", i, node,
                             eng_param_kind_name((eng_param_kind)kind),
                             (unsigned long long)count, t->node, eng_param_kind_name(t->kind),
                             t->count);
    }
    const unsigned char *quant_table = p;
    for (int i = 0; i < net->n_nodes; i++) {
        if (!net->nodes[i].q) continue;
        uint32_t node = get_u32(&p), mode = get_u32(&p), valid = get_u32(&p);
        p += 8;
        if (node != (uint32_t)i || mode > ENG_OBSERVER_FROZEN || valid > 1)
            return eng_error(ENG_ERR_FORMAT, "training state: quantized layer entry (node %u, "
                             "mode %u) does not match node %d", node, mode, i);
    }
    /* checked: now apply */
    p = quant_table;
    for (int i = 0; i < net->n_nodes; i++) {
        eng_approx *q = net->nodes[i].q;
        if (!q) continue;
        p += 4;
        q->obs.mode = (eng_observer_mode)get_u32(&p);
        q->obs.valid = get_u32(&p) != 0;
        memcpy(&q->obs.lo, p, 4);
        memcpy(&q->obs.hi, p + 4, 4);
        p += 8;
    }
    for (int i = 0; i < net->n_param_tensors; i++) {
        size_t bytes = net->param_list[i].count * sizeof(float);
        memcpy(net->param_list[i].data, p, bytes);
        p += bytes;
    }
    memcpy(opt->block, p, opt->total * sizeof(float));
    ENG_TRY(eng_net_sync_device(net));
    if (opt->dev_block)
        ENG_TRY(opt->dev_be->block_from_host(opt->dev_block, opt->block, opt->total));
    return ENG_OK;
}
