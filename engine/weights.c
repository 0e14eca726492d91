/*
 * weights.c - the binary weights file (eng_weights.h): writing, strict parsing, CRC, atomic save.
 */
#include "eng_weights.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "eng_zoo.h"
#include "net_internal.h"

static const char MAGIC[8] = {'E', 'V', 'A', 'X', 'N', 'W', '\r', '\n'};
#define HEADER_BYTES 32
#define TENSOR_BYTES 16
#define QUANT_BYTES 28
#define MAX_FILE_BYTES ((uint64_t)1 << 34)
#define V1_MAX_ARCH 255         /* longest architecture text of a version-1 file */

enum { QFLAG_PER_CHANNEL = 1, QFLAG_TABLE_GRADIENT = 2, QFLAG_HAS_RANGE = 4, QFLAG_ALL = 7 };

/* ------------------------------------------------------------------------------------------
 * Little-endian encoding
 * ---------------------------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_f32(uint8_t *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, 4);
    put_u32(p, v);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static float get_f32(const uint8_t *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

/* ------------------------------------------------------------------------------------------
 * Saving
 * ---------------------------------------------------------------------------------------- */

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n > 0) {
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

/* Serializes the network into one buffer (header .. CRC). */
static eng_status weights_encode(eng_net *net, uint8_t **out, size_t *out_size)
{
    int tensors = eng_net_param_count(net);
    if (tensors < 0) return (eng_status)-tensors;
    for (int i = 1; i < net->n_nodes; i++)
        if (net->nodes[i].folded)
            return eng_error(ENG_ERR_ARG, "weights: the network's batch norms are folded; save "
                             "it before folding");
    int quant = 0;
    for (int i = 1; i < net->n_nodes; i++) quant += net->nodes[i].quantized;
    size_t arch_len = strlen(net->arch);
    uint64_t payload = 0;
    for (int t = 0; t < tensors; t++) payload += 4 * (uint64_t)net->param_list[t].count;
    size_t size = HEADER_BYTES + arch_len + (size_t)tensors * TENSOR_BYTES +
                  (size_t)quant * QUANT_BYTES + (size_t)payload + 4;
    uint8_t *buf = malloc(size);
    if (!buf) return eng_error(ENG_ERR_NOMEM, "weights: no memory for %zu bytes", size);
    memcpy(buf, MAGIC, 8);
    put_u32(buf + 8, arch_len > V1_MAX_ARCH ? ENG_WEIGHTS_VERSION : 1);
    put_u32(buf + 12, (uint32_t)arch_len);
    put_u32(buf + 16, (uint32_t)tensors);
    put_u32(buf + 20, (uint32_t)quant);
    put_u64(buf + 24, payload);
    uint8_t *p = buf + HEADER_BYTES;
    memcpy(p, net->arch, arch_len);
    p += arch_len;
    for (int t = 0; t < tensors; t++, p += TENSOR_BYTES) {
        const eng_param *pr = &net->param_list[t];
        put_u32(p, (uint32_t)pr->node);
        put_u32(p + 4, (uint32_t)pr->kind);
        put_u64(p + 8, pr->count);
    }
    for (int i = 1; i < net->n_nodes; i++) {
        const eng_node *nd = &net->nodes[i];
        if (!nd->quantized) continue;
        float lo = 0.0f, hi = 0.0f;
        bool range = eng_approx_act_range(nd->q, &lo, &hi);
        uint32_t flags = (nd->qcfg.per_channel ? QFLAG_PER_CHANNEL : 0) |
                         (nd->qcfg.table_gradient ? QFLAG_TABLE_GRADIENT : 0) |
                         (range ? QFLAG_HAS_RANGE : 0);
        put_u32(p, (uint32_t)i);
        put_u32(p + 4, (uint32_t)nd->qcfg.mode);
        put_u32(p + 8, (uint32_t)nd->qcfg.weight_bits);
        put_u32(p + 12, flags);
        put_f32(p + 16, nd->qcfg.ema_momentum);
        put_f32(p + 20, lo);
        put_f32(p + 24, hi);
        p += QUANT_BYTES;
    }
    for (int t = 0; t < tensors; t++) {
        const eng_param *pr = &net->param_list[t];
        for (size_t j = 0; j < pr->count; j++, p += 4) put_f32(p, pr->data[j]);
    }
    put_u32(p, crc_update((uint32_t)crc32(0, Z_NULL, 0), buf, (size_t)(p - buf)));
    *out = buf;
    *out_size = size;
    return ENG_OK;
}

eng_status eng_weights_save(eng_net *net, const char *path)
{
    uint8_t *buf = NULL;
    size_t size = 0;
    ENG_TRY(weights_encode(net, &buf, &size));
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(buf);
        return eng_error(ENG_ERR_NOMEM, "weights: out of memory");
    }
    snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
    eng_status st = ENG_OK;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = eng_error(ENG_ERR_IO, "%s: cannot create a temporary file: %s", path,
                       strerror(errno));
    } else {
        FILE *f = fdopen(fd, "wb");
        bool ok = f && fwrite(buf, 1, size, f) == size;
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        int err = errno;
        if (f) ok = (fclose(f) == 0) && ok;
        else close(fd);
        if (!ok)
            st = eng_error(ENG_ERR_IO, "%s: write failed: %s", path, strerror(err));
        else if (rename(tmp, path) != 0)
            st = eng_error(ENG_ERR_IO, "%s: cannot rename the temporary file: %s", path,
                           strerror(errno));
        if (st != ENG_OK) unlink(tmp);
    }
    free(tmp);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * Loading
 * ---------------------------------------------------------------------------------------- */

typedef struct wfile {
    uint8_t *buf;
    size_t size;
    char arch[ENG_NET_ARCH_MAX];
    uint32_t tensors, quant;
    const uint8_t *tensor_table, *quant_table, *payload;
} wfile;

static eng_status bad(const char *path, const char *what)
{
    return eng_error(ENG_ERR_FORMAT, "%s: %s", path, what);
}

/* Reads and validates the whole file structure (not yet against a network). */
static eng_status wfile_read(const char *path, wfile *w)
{
    memset(w, 0, sizeof *w);
    FILE *f = fopen(path, "rb");
    if (!f) return eng_error(ENG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    eng_status st = ENG_OK;
    long end = -1;
    if (fseek(f, 0, SEEK_END) == 0) end = ftell(f);
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = eng_error(ENG_ERR_IO, "%s: cannot determine the size", path);
    else if ((uint64_t)end > MAX_FILE_BYTES)
        st = bad(path, "file too large for a weights file");
    if (st == ENG_OK) {
        w->size = (size_t)end;
        w->buf = malloc(w->size ? w->size : 1);
        if (!w->buf)
            st = eng_error(ENG_ERR_NOMEM, "%s: no memory for %zu bytes", path, w->size);
        else if (fread(w->buf, 1, w->size, f) != w->size)
            st = eng_error(ENG_ERR_IO, "%s: read failed", path);
    }
    fclose(f);
    if (st != ENG_OK) goto fail;

    const uint8_t *b = w->buf;
    if (w->size < 8 || memcmp(b, MAGIC, 8) != 0) {
        st = bad(path, "not an evoapproxnas weights file (bad magic)");
        goto fail;
    }
    if (w->size < HEADER_BYTES + 4) {
        st = bad(path, "truncated header");
        goto fail;
    }
    uint32_t version = get_u32(b + 8);
    if (version != 1 && version != ENG_WEIGHTS_VERSION) {
        st = eng_error(ENG_ERR_FORMAT, "%s: unsupported version %u (this build reads %d)", path,
                       version, ENG_WEIGHTS_VERSION);
        goto fail;
    }
    uint32_t arch_len = get_u32(b + 12);
    w->tensors = get_u32(b + 16);
    w->quant = get_u32(b + 20);
    uint64_t payload = get_u64(b + 24);
    if (arch_len > (version == 1 ? V1_MAX_ARCH : sizeof w->arch - 1) || w->tensors > (1u << 24) || w->quant > (1u << 24) ||
        payload > MAX_FILE_BYTES) {
        st = bad(path, "corrupt header (sizes out of range)");
        goto fail;
    }
    uint64_t expect = HEADER_BYTES + (uint64_t)arch_len + (uint64_t)w->tensors * TENSOR_BYTES +
                      (uint64_t)w->quant * QUANT_BYTES + payload + 4;
    if (expect != w->size) {
        st = eng_error(ENG_ERR_FORMAT, "%s: %s (%zu bytes, header says %llu)", path,
                       w->size < expect ? "truncated" : "trailing bytes", w->size,
                       (unsigned long long)expect);
        goto fail;
    }
    uint32_t crc = crc_update((uint32_t)crc32(0, Z_NULL, 0), b, w->size - 4);
    if (crc != get_u32(b + w->size - 4)) {
        st = bad(path, "checksum mismatch (the file is corrupted)");
        goto fail;
    }
    memcpy(w->arch, b + HEADER_BYTES, arch_len);
    w->arch[arch_len] = '\0';
    if (strlen(w->arch) != arch_len) {
        st = bad(path, "architecture text contains a NUL byte");
        goto fail;
    }
    w->tensor_table = b + HEADER_BYTES + arch_len;
    w->quant_table = w->tensor_table + (size_t)w->tensors * TENSOR_BYTES;
    w->payload = w->quant_table + (size_t)w->quant * QUANT_BYTES;
    uint64_t sum = 0;
    for (uint32_t t = 0; t < w->tensors; t++) sum += 4 * get_u64(w->tensor_table + 16 * t + 8);
    if (sum != payload) {
        st = bad(path, "tensor table does not add up to the payload size");
        goto fail;
    }
    return ENG_OK;
fail:
    free(w->buf);
    w->buf = NULL;
    return st;
}

eng_status eng_weights_read_arch(const char *path, char *arch, size_t size)
{
    wfile w;
    ENG_TRY(wfile_read(path, &w));
    eng_status st = ENG_OK;
    if (strlen(w.arch) >= size)
        st = eng_error(ENG_ERR_ARG, "%s: architecture text longer than the buffer", path);
    else
        memcpy(arch, w.arch, strlen(w.arch) + 1);
    free(w.buf);
    return st;
}

/* Checks that the file's tables fit the network (before anything is changed). */
static eng_status wfile_check(const wfile *w, eng_net *net, const char *path)
{
    int tensors = eng_net_param_count(net);
    if (tensors < 0) return (eng_status)-tensors;
    if ((uint32_t)tensors != w->tensors)
        return eng_error(ENG_ERR_FORMAT, "%s: %u tensors, the network has %d", path, w->tensors,
                         tensors);
    for (int t = 0; t < tensors; t++) {
        const uint8_t *e = w->tensor_table + (size_t)t * TENSOR_BYTES;
        const eng_param *p = &net->param_list[t];
        if (get_u32(e) != (uint32_t)p->node || get_u32(e + 4) != (uint32_t)p->kind ||
            get_u64(e + 8) != p->count)
            return eng_error(ENG_ERR_FORMAT, "%s: tensor %d is node %u %s[%llu], the network "
                             "has node %d %s[%zu]", path, t, get_u32(e),
                             eng_param_kind_name((eng_param_kind)get_u32(e + 4)),
                             (unsigned long long)get_u64(e + 8), p->node,
                             eng_param_kind_name(p->kind), p->count);
    }
    bool *seen = calloc((size_t)net->n_nodes, sizeof *seen);
    if (!seen) return eng_error(ENG_ERR_NOMEM, "%s: out of memory", path);
    eng_status st = ENG_OK;
    for (uint32_t q = 0; st == ENG_OK && q < w->quant; q++) {
        const uint8_t *e = w->quant_table + (size_t)q * QUANT_BYTES;
        uint32_t node = get_u32(e), mode = get_u32(e + 4), bits = get_u32(e + 8);
        uint32_t flags = get_u32(e + 12);
        float momentum = get_f32(e + 16), lo = get_f32(e + 20), hi = get_f32(e + 24);
        if (node >= (uint32_t)net->n_nodes || !eng_op_multiplies(net->nodes[node].op) ||
            mode > ENG_QUANT_SYM || bits > 8 || (flags & ~QFLAG_ALL) ||
            !(momentum > 0.0f && momentum <= 1.0f) || !isfinite(lo) || !isfinite(hi) || lo > hi)
            st = eng_error(ENG_ERR_FORMAT, "%s: quantization entry %u is invalid", path, q);
        else if (seen[node])
            st = eng_error(ENG_ERR_FORMAT, "%s: quantization entry %u repeats node %u", path, q,
                           node);
        else
            seen[node] = true;
    }
    free(seen);
    ENG_TRY(st);
    const uint8_t *p = w->payload;
    for (int t = 0; t < tensors; t++) {
        const eng_param *pr = &net->param_list[t];
        for (size_t j = 0; j < pr->count; j++, p += 4)
            if (!isfinite(get_f32(p)))
                return eng_error(ENG_ERR_FORMAT, "%s: tensor %d (node %d %s) value %zu is not "
                                 "finite", path, t, pr->node, eng_param_kind_name(pr->kind), j);
    }
    return ENG_OK;
}

eng_status eng_weights_load_into(eng_net *net, const char *path)
{
    wfile w;
    ENG_TRY(wfile_read(path, &w));
    eng_status st = wfile_check(&w, net, path);
    /* the quantization states first (they can fail), then the parameters */
    eng_approx **states = NULL;
    eng_approx_cfg *cfgs = NULL;
    if (st == ENG_OK) {
        states = calloc((size_t)net->n_nodes, sizeof *states);
        cfgs = calloc((size_t)net->n_nodes, sizeof *cfgs);
        if (!states || !cfgs) st = eng_error(ENG_ERR_NOMEM, "%s: out of memory", path);
    }
    for (uint32_t q = 0; st == ENG_OK && q < w.quant; q++) {
        const uint8_t *e = w.quant_table + (size_t)q * QUANT_BYTES;
        uint32_t node = get_u32(e), flags = get_u32(e + 12);
        eng_approx_cfg *c = &cfgs[node];
        c->mode = (eng_quant_mode)get_u32(e + 4);
        c->weight_bits = (int)get_u32(e + 8);
        c->per_channel = flags & QFLAG_PER_CHANNEL;
        c->table_gradient = flags & QFLAG_TABLE_GRADIENT;
        c->ema_momentum = get_f32(e + 16);
        st = eng_approx_create(c, net->nodes[node].mul, net->nodes[node].c, &states[node]);
        if (st == ENG_OK && (flags & QFLAG_HAS_RANGE))
            st = eng_approx_set_act_range(states[node], get_f32(e + 20), get_f32(e + 24));
        if (st != ENG_OK) st = eng_error_prefix(st, "%s: quantization of node %u", path, node);
    }
    if (st == ENG_OK) {
        const uint8_t *p = w.payload;
        for (int t = 0; t < net->n_param_tensors; t++) {
            eng_param *pr = &net->param_list[t];
            for (size_t j = 0; j < pr->count; j++, p += 4) pr->data[j] = get_f32(p);
        }
        for (int i = 1; i < net->n_nodes; i++) {
            eng_node *nd = &net->nodes[i];
            if (nd->folded) net_replan(net);
            nd->folded = nd->fold_bias = false;
            if (!eng_op_multiplies(nd->op)) continue;
            eng_approx_free(nd->q);
            nd->q = states[i];
            nd->quantized = states[i] != NULL;
            if (nd->quantized) nd->qcfg = cfgs[i];
            states[i] = NULL;
        }
    }
    if (states)
        for (int i = 0; i < net->n_nodes; i++) eng_approx_free(states[i]);
    free(states);
    free(cfgs);
    free(w.buf);
    return st;
}

eng_status eng_weights_load(const char *path, eng_net **out)
{
    *out = NULL;
    char arch[ENG_NET_ARCH_MAX];
    ENG_TRY(eng_weights_read_arch(path, arch, sizeof arch));
    eng_net *net;
    eng_status st = eng_zoo_build_arch(arch, &net);
    if (st != ENG_OK) return eng_error_prefix(st, "%s", path);
    st = eng_weights_load_into(net, path);
    if (st != ENG_OK) {
        eng_net_free(net);
        return st;
    }
    *out = net;
    return ENG_OK;
}
