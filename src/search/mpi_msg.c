/* mpi_msg.c - encoding and decoding of the MPI worker pool's messages; the device choice. */
#include "mpi_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void mpi_buf_free(mpi_buf *b)
{
    free(b->data);
    *b = (mpi_buf){0};
}

static eng_status put(mpi_buf *b, const void *p, size_t n)
{
    if (b->size + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->size + n) cap *= 2;
        unsigned char *d = realloc(b->data, cap);
        if (!d) return eng_error(ENG_ERR_NOMEM, "out of memory for a %zu-byte message",
                                 b->size + n);
        b->data = d, b->cap = cap;
    }
    if (n) memcpy(b->data + b->size, p, n);
    b->size += n;
    return ENG_OK;
}

static eng_status put_i32(mpi_buf *b, int32_t v) { return put(b, &v, 4); }
static eng_status put_u64(mpi_buf *b, uint64_t v) { return put(b, &v, 8); }
static eng_status put_f64(mpi_buf *b, double v) { return put(b, &v, 8); }

static eng_status put_block(mpi_buf *b, const void *p, uint64_t n)
{
    ENG_TRY(put_u64(b, n));
    return put(b, p, (size_t)n);
}

static eng_status put_str(mpi_buf *b, const char *s)
{
    return put_block(b, s ? s : "", s ? strlen(s) : 0);
}

/* A decoder's position; str_bytes counts the bytes its strings need with their NULs. */
typedef struct reader {
    const unsigned char *p;
    size_t size, at;
    const char *what;
    eng_status st;
    size_t str_bytes;
} reader;

static bool take(reader *r, void *out, size_t n, const char *field)
{
    if (r->st != ENG_OK) return false;
    if (r->size - r->at < n) {
        r->st = eng_error(ENG_ERR_FORMAT, "%s message: truncated at %s (%zu of %zu bytes)",
                          r->what, field, r->at, r->size);
        return false;
    }
    if (out) memcpy(out, r->p + r->at, n);
    r->at += n;
    return true;
}

static int32_t get_i32(reader *r, const char *field)
{
    int32_t v = 0;
    take(r, &v, 4, field);
    return v;
}

static uint64_t get_u64(reader *r, const char *field)
{
    uint64_t v = 0;
    take(r, &v, 8, field);
    return v;
}

static double get_f64(reader *r, const char *field)
{
    double v = 0;
    take(r, &v, 8, field);
    return v;
}

/* A byte block: its start in the message (NULL when empty) and length. */
static const void *get_block(reader *r, uint64_t *n, const char *field)
{
    *n = get_u64(r, field);
    if (r->st != ENG_OK) return NULL;
    if (*n > r->size - r->at) {
        r->st = eng_error(ENG_ERR_FORMAT, "%s message: %s of %llu bytes past its end (%zu "
                          "bytes)", r->what, field, (unsigned long long)*n, r->size);
        return NULL;
    }
    const void *p = *n ? r->p + r->at : NULL;
    r->at += (size_t)*n;
    return p;
}

/* A string: where it is in the message and where its copy goes, for finish(). */
typedef struct span {
    const char *p;
    size_t n;
    const char **dst;
} span;

static void get_str(reader *r, span *s, const char **dst, const char *field)
{
    uint64_t n;
    const void *p = get_block(r, &n, field);
    s->p = p, s->n = (size_t)n, s->dst = dst;
    if (r->st == ENG_OK && n && memchr(p, 0, (size_t)n))
        r->st = eng_error(ENG_ERR_FORMAT, "%s message: %s holds a NUL byte", r->what, field);
    r->str_bytes += (size_t)n + 1;
}

/* Checks the message's length and copies its strings into one allocation. */
static eng_status finish(reader *r, span *spans, int n, char **owned)
{
    *owned = NULL;
    if (r->st == ENG_OK && r->at != r->size)
        r->st = eng_error(ENG_ERR_FORMAT, "%s message: %zu bytes after its last field",
                          r->what, r->size - r->at);
    if (r->st != ENG_OK) return r->st;
    char *buf = malloc(r->str_bytes ? r->str_bytes : 1), *q = buf;
    if (!buf) return eng_error(ENG_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (spans[i].n) memcpy(q, spans[i].p, spans[i].n);
        q[spans[i].n] = '\0';
        *spans[i].dst = q;
        q += spans[i].n + 1;
    }
    *owned = buf;
    return ENG_OK;
}

static reader reader_of(const void *msg, size_t size, const char *what)
{
    return (reader){.p = msg, .size = msg ? size : 0, .what = what, .st = ENG_OK};
}

/* The published figures of a multiplier, in the order of eng_mul_figures. */
static double *figure(eng_mul_figures *f, int i)
{
    double *all[11] = {&f->mae_pct, &f->mae,     &f->wce_pct, &f->wce,      &f->wcre_pct,
                       &f->ep_pct,  &f->mre_pct, &f->mse,     &f->power_mw, &f->area_um2,
                       &f->delay_ns};
    return all[i];
}

eng_status mpi_msg_encode_init(mpi_buf *b, const mpi_msg_init *m)
{
    ENG_TRY(put_str(b, m->config_path));
    ENG_TRY(put_str(b, m->config_text));
    ENG_TRY(put_str(b, m->dataset));
    ENG_TRY(put_str(b, m->accelerator));
    ENG_TRY(put_i32(b, m->n_muls));
    for (int i = 0; i < m->n_muls; i++) {
        eng_mul *u = m->muls[i];
        ENG_TRY(put_str(b, u->name));
        ENG_TRY(put_str(b, u->family));
        ENG_TRY(put_i32(b, u->a_bits));
        ENG_TRY(put_i32(b, u->w_bits));
        ENG_TRY(put_i32(b, u->is_signed));
        for (int k = 0; k < 11; k++) ENG_TRY(put_f64(b, *figure(&u->published, k)));
        ENG_TRY(put_block(b, u->table, sizeof(uint16_t) * ((size_t)256 << u->w_bits)));
    }
    ENG_TRY(put_i32(b, m->has_data));
    for (int k = 0; k < 2 && m->has_data; k++) {
        const eng_dataset *d = k ? &m->val : &m->train;
        ENG_TRY(put_i32(b, d->count));
        ENG_TRY(put_i32(b, d->channels));
        ENG_TRY(put_i32(b, d->height));
        ENG_TRY(put_i32(b, d->width));
        ENG_TRY(put_i32(b, d->classes));
        ENG_TRY(put_block(b, d->images, (uint64_t)d->count * (uint64_t)d->channels *
                                            (uint64_t)d->height * (uint64_t)d->width));
        ENG_TRY(put_block(b, d->labels, (uint64_t)d->count));
        for (int i = 0; i < ENG_DATASET_MAX_CHANNELS; i++) ENG_TRY(put_f64(b, d->mean[i]));
        for (int i = 0; i < ENG_DATASET_MAX_CHANNELS; i++) ENG_TRY(put_f64(b, d->std[i]));
    }
    return ENG_OK;
}

/* A data set of an init message into *d (allocated). */
static void get_dataset(reader *r, eng_dataset *d, const char *what)
{
    *d = (eng_dataset){0};
    int count = get_i32(r, what), ch = get_i32(r, what), h = get_i32(r, what);
    int w = get_i32(r, what), classes = get_i32(r, what);
    uint64_t n_img, n_lab;
    const void *img = get_block(r, &n_img, what), *lab = get_block(r, &n_lab, what);
    double mean[ENG_DATASET_MAX_CHANNELS], std[ENG_DATASET_MAX_CHANNELS];
    for (int i = 0; i < ENG_DATASET_MAX_CHANNELS; i++) mean[i] = get_f64(r, what);
    for (int i = 0; i < ENG_DATASET_MAX_CHANNELS; i++) std[i] = get_f64(r, what);
    if (r->st != ENG_OK) return;
    if (count < 1 || ch < 1 || ch > ENG_DATASET_MAX_CHANNELS || h < 1 || w < 1 ||
        classes < 1 || n_lab != (uint64_t)count ||
        n_img != (uint64_t)count * (uint64_t)ch * (uint64_t)h * (uint64_t)w) {
        r->st = eng_error(ENG_ERR_FORMAT, "init message: %s: bad shape (%d x %dx%dx%d, %llu "
                          "image bytes)", what, count, ch, h, w, (unsigned long long)n_img);
        return;
    }
    d->images = eng_alloc((size_t)n_img);
    d->labels = eng_alloc((size_t)n_lab);
    if (!d->images || !d->labels) {
        eng_dataset_free(d);
        r->st = eng_error(ENG_ERR_NOMEM, "out of memory for %s", what);
        return;
    }
    memcpy(d->images, img, (size_t)n_img);
    memcpy(d->labels, lab, (size_t)n_lab);
    d->count = count, d->channels = ch, d->height = h, d->width = w, d->classes = classes;
    for (int i = 0; i < ENG_DATASET_MAX_CHANNELS; i++)
        d->mean[i] = (float)mean[i], d->std[i] = (float)std[i];
}

/* One multiplier of an init message into a new eng_mul (*out; NULL on error). */
static void get_mul(reader *r, int i, eng_mul **out)
{
    *out = NULL;
    span s[2];
    const char *name, *family;
    r->str_bytes = 0;
    get_str(r, &s[0], &name, "a multiplier's name");
    get_str(r, &s[1], &family, "a multiplier's family");
    int a_bits = get_i32(r, "a multiplier's a_bits");
    int w_bits = get_i32(r, "a multiplier's w_bits");
    int is_signed = get_i32(r, "a multiplier's signedness");
    eng_mul_figures fig;
    for (int k = 0; k < 11; k++) *figure(&fig, k) = get_f64(r, "a multiplier's figures");
    uint64_t n;
    const void *table = get_block(r, &n, "a multiplier's table");
    if (r->st != ENG_OK) return;
    if (a_bits != 8 || w_bits < 2 || w_bits > 8 || (is_signed != 0 && is_signed != 1) ||
        n != sizeof(uint16_t) * ((uint64_t)256 << w_bits) ||
        s[0].n >= ENG_MUL_NAME_MAX || s[1].n >= ENG_MUL_FAMILY_MAX) {
        r->st = eng_error(ENG_ERR_FORMAT, "init message: multiplier %d: bad shape (%dx%d, "
                          "%llu table bytes)", i, a_bits, w_bits, (unsigned long long)n);
        return;
    }
    eng_mul *m = calloc(1, sizeof *m);
    void *t = m ? eng_alloc((size_t)n) : NULL;
    if (!t) {
        free(m);
        r->st = eng_error(ENG_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(m->name, s[0].p, s[0].n);
    memcpy(m->family, s[1].p, s[1].n);
    m->a_bits = a_bits, m->w_bits = w_bits, m->is_signed = is_signed;
    m->published = fig;
    memcpy(t, table, (size_t)n);
    m->table = t;
    *out = m;
}

eng_status mpi_msg_decode_init(const void *msg, size_t size, mpi_msg_init *out, char **owned)
{
    reader r = reader_of(msg, size, "init");
    span s[4];
    get_str(&r, &s[0], &out->config_path, "the config path");
    get_str(&r, &s[1], &out->config_text, "the config text");
    get_str(&r, &s[2], &out->dataset, "the data set path");
    get_str(&r, &s[3], &out->accelerator, "the accelerator path");
    size_t str_bytes = r.str_bytes;
    out->n_muls = get_i32(&r, "the multiplier count");
    if (r.st == ENG_OK && (out->n_muls < 0 || out->n_muls > MPI_MSG_MAX_MULS))
        r.st = eng_error(ENG_ERR_FORMAT, "init message: %d multipliers", out->n_muls);
    int n = 0;
    for (; r.st == ENG_OK && n < out->n_muls; n++) {
        get_mul(&r, n, &out->muls[n]);
        if (!out->muls[n]) break;
    }
    out->has_data = false;
    out->train = out->val = (eng_dataset){0};
    if (r.st == ENG_OK) {
        int flag = get_i32(&r, "the data flag");
        if (r.st == ENG_OK && flag != 0 && flag != 1)
            r.st = eng_error(ENG_ERR_FORMAT, "init message: data flag %d", flag);
        out->has_data = flag == 1;
    }
    if (r.st == ENG_OK && out->has_data) get_dataset(&r, &out->train, "the training subset");
    if (r.st == ENG_OK && out->has_data) get_dataset(&r, &out->val, "the validation split");
    r.str_bytes = str_bytes;
    eng_status st = finish(&r, s, 4, owned);
    if (st != ENG_OK) {
        for (int i = 0; i < n && i < MPI_MSG_MAX_MULS; i++) {
            eng_mul_free(out->muls[i]);
            out->muls[i] = NULL;
        }
        eng_dataset_free(&out->train);
        eng_dataset_free(&out->val);
    }
    return st;
}

eng_status mpi_msg_encode_ready(mpi_buf *b, const mpi_msg_ready *m)
{
    ENG_TRY(put_i32(b, m->status));
    return put_str(b, m->message);
}

eng_status mpi_msg_decode_ready(const void *msg, size_t size, mpi_msg_ready *out, char **owned)
{
    reader r = reader_of(msg, size, "ready");
    span s[1];
    out->status = get_i32(&r, "the status");
    get_str(&r, &s[0], &out->message, "the message");
    return finish(&r, s, 1, owned);
}

/* The integer fields of a layer, in message order. */
static int *layer_field(nas_layer *l, int i)
{
    int *all[14] = {(int *)&l->kind, &l->in[0], &l->in[1], &l->in_c, &l->in_h, &l->in_w,
                    &l->out_c, &l->out_h, &l->out_w, &l->k, &l->stride, &l->pad, &l->mul,
                    &l->mul_gene};
    return all[i];
}

eng_status mpi_msg_encode_job(mpi_buf *b, const mpi_msg_job *m)
{
    ENG_TRY(put_i32(b, m->index));
    ENG_TRY(put_u64(b, m->hash));
    ENG_TRY(put_u64(b, m->seed));
    ENG_TRY(put_i32(b, m->epochs));
    const nas_arch *a = &m->arch;
    ENG_TRY(put_i32(b, a->n));
    for (int i = 0; i < a->n; i++) {
        nas_layer l = a->layers[i];
        for (int k = 0; k < 14; k++) ENG_TRY(put_i32(b, *layer_field(&l, k)));
        ENG_TRY(put_u64(b, (uint64_t)l.params));
        ENG_TRY(put_u64(b, (uint64_t)l.macs));
    }
    ENG_TRY(put_u64(b, (uint64_t)a->params));
    ENG_TRY(put_u64(b, (uint64_t)a->macs));
    ENG_TRY(put_i32(b, a->mul_layers));
    ENG_TRY(put_str(b, a->summary));
    return put_block(b, m->resume, m->resume ? m->resume_size : 0);
}

eng_status mpi_msg_decode_job(const void *msg, size_t size, mpi_msg_job *out, char **owned)
{
    reader r = reader_of(msg, size, "job");
    span s[1];
    const char *summary = NULL;
    out->index = get_i32(&r, "the candidate index");
    out->hash = get_u64(&r, "the hash");
    out->seed = get_u64(&r, "the seed");
    out->epochs = get_i32(&r, "the epochs");
    nas_arch *a = &out->arch;
    *a = (nas_arch){0};
    int n = get_i32(&r, "the layer count");
    /* a layer takes 72 bytes: a count the message cannot hold is refused before allocating */
    if (r.st == ENG_OK && (n < 1 || (size_t)n > (r.size - r.at) / 72))
        r.st = eng_error(ENG_ERR_FORMAT, "job message: %d layers in %zu bytes", n, r.size);
    if (r.st == ENG_OK) {
        a->layers = calloc((size_t)n, sizeof *a->layers);
        if (!a->layers) r.st = eng_error(ENG_ERR_NOMEM, "out of memory");
        a->n = a->cap = n;
    }
    for (int i = 0; r.st == ENG_OK && i < n; i++) {
        nas_layer *l = &a->layers[i];
        for (int k = 0; k < 14; k++) *layer_field(l, k) = get_i32(&r, "a layer");
        l->params = (long)get_u64(&r, "a layer");
        l->macs = (long)get_u64(&r, "a layer");
        if (r.st == ENG_OK && ((int)l->kind < 0 || l->kind >= NAS_LAYER_KIND_COUNT))
            r.st = eng_error(ENG_ERR_FORMAT, "job message: layer %d of kind %d", i,
                             (int)l->kind);
    }
    a->params = (long)get_u64(&r, "the parameter count");
    a->macs = (long)get_u64(&r, "the MAC count");
    a->mul_layers = get_i32(&r, "the multiplier layer count");
    get_str(&r, &s[0], &summary, "the summary");
    out->resume = get_block(&r, &out->resume_size, "the checkpoint");
    eng_status st = finish(&r, s, 1, owned);
    if (st == ENG_OK) {
        snprintf(a->summary, sizeof a->summary, "%s", summary);
    } else {
        free(a->layers);
        *a = (nas_arch){0};
    }
    return st;
}

eng_status mpi_msg_encode_ckpt(mpi_buf *b, const mpi_msg_ckpt *m)
{
    ENG_TRY(put_i32(b, m->index));
    return put_block(b, m->data, m->size);
}

eng_status mpi_msg_decode_ckpt(const void *msg, size_t size, mpi_msg_ckpt *out, char **owned)
{
    reader r = reader_of(msg, size, "checkpoint");
    out->index = get_i32(&r, "the candidate index");
    out->data = get_block(&r, &out->size, "the checkpoint");
    return finish(&r, NULL, 0, owned);
}

eng_status mpi_msg_encode_result(mpi_buf *b, const mpi_msg_result *m)
{
    ENG_TRY(put_i32(b, m->index));
    ENG_TRY(put_i32(b, m->status));
    ENG_TRY(put_f64(b, m->error));
    ENG_TRY(put_f64(b, m->train_s));
    return put_str(b, m->message);
}

eng_status mpi_msg_decode_result(const void *msg, size_t size, mpi_msg_result *out,
                                 char **owned)
{
    reader r = reader_of(msg, size, "result");
    span s[1];
    out->index = get_i32(&r, "the candidate index");
    out->status = get_i32(&r, "the status");
    out->error = get_f64(&r, "the error");
    out->train_s = get_f64(&r, "the training time");
    get_str(&r, &s[0], &out->message, "the message");
    return finish(&r, s, 1, owned);
}

eng_device mpi_device_choice(bool want_auto, eng_device want, int local_rank, int n_gpus,
                             int *gpu)
{
    int g = n_gpus > 0 && local_rank >= 0 ? local_rank % n_gpus : 0;
    eng_device dev = want_auto ? (n_gpus > 0 ? ENG_DEVICE_CUDA : ENG_DEVICE_CPU) : want;
    *gpu = dev == ENG_DEVICE_CUDA ? g : -1;
    return dev;
}
