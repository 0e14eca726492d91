/*
 * data_idx.c - strict loader of IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.
 *
 * An IDX file is a big-endian header (two zero bytes, element type 0x08 = unsigned byte, the
 * number of dimensions, then one uint32 per dimension) followed by the elements, nothing else.
 * A file that starts with the gzip magic is inflated with zlib (one or more gzip members, and
 * nothing after the last one); any other file is read as it is. The header's sizes are checked
 * against the file's length before anything is allocated: a raw file must hold them exactly, a
 * gzip file cannot expand more than deflate's 1032:1.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_internal.h"

#define IDX_MAX_DIM 65536u
#define IDX_MAX_DEFLATE_RATIO 1032u  /* deflate's largest expansion (258-byte matches) */
#define IDX_BUF (1u << 16)

/* One open IDX file: raw bytes or the inflated gzip members, through one input buffer. */
typedef struct idx_file {
    FILE       *f;
    const char *path;
    long long   size;       /* bytes on disk */
    bool        regular;    /* a regular file: size is its length */
    bool        gz;
    bool        eof;        /* f has no more bytes */
    bool        ended;      /* gz: the last member ended and nothing follows */
    bool        z_ready;    /* z initialised */
    z_stream    z;
    uint8_t     in[IDX_BUF];
    size_t      pos, len;   /* unread bytes in[pos .. len) */
} idx_file;

static void idx_close(idx_file *x)
{
    if (!x) return;
    if (x->z_ready) inflateEnd(&x->z);
    if (x->f) fclose(x->f);
    free(x);
}

/* Refills the input buffer when it is empty; sets eof at the end of the file. */
static eng_status idx_fill(idx_file *x)
{
    if (x->pos < x->len || x->eof) return ENG_OK;
    x->pos = 0;
    x->len = fread(x->in, 1, sizeof x->in, x->f);
    if (x->len == 0) {
        if (ferror(x->f)) return eng_error(ENG_ERR_IO, "%s: read error: %s", x->path, strerror(errno));
        x->eof = true;
    }
    return ENG_OK;
}

/* Inflates into buf until size bytes came or the gzip data ended; *got counts them. */
static eng_status idx_inflate(idx_file *x, uint8_t *buf, size_t size, size_t *got)
{
    while (*got < size && !x->ended) {
        ENG_TRY(idx_fill(x));
        if (x->eof) return eng_error(ENG_ERR_FORMAT, "%s: truncated gzip stream", x->path);
        size_t want = size - *got;
        x->z.next_in = x->in + x->pos;
        x->z.avail_in = (uInt)(x->len - x->pos);
        x->z.next_out = buf + *got;
        x->z.avail_out = want > UINT_MAX ? UINT_MAX : (uInt)want;
        uLong out_before = x->z.total_out;
        int rc = inflate(&x->z, Z_NO_FLUSH);
        x->pos = x->len - x->z.avail_in;
        *got += x->z.total_out - out_before;
        if (rc == Z_STREAM_END) {
            /* another member may follow; anything else after the stream is an error */
            ENG_TRY(idx_fill(x));
            if (x->eof) {
                x->ended = true;
                break;
            }
            if (x->in[x->pos] != 0x1f)
                return eng_error(ENG_ERR_FORMAT, "%s: unexpected bytes after the end of the gzip "
                                 "stream", x->path);
            if (inflateReset(&x->z) != Z_OK)
                return eng_error(ENG_ERR_NOMEM, "%s: inflate reset failed", x->path);
        } else if (rc == Z_MEM_ERROR) {
            return eng_error(ENG_ERR_NOMEM, "%s: out of memory inflating", x->path);
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return eng_error(ENG_ERR_FORMAT, "%s: corrupt gzip data: %s", x->path,
                             x->z.msg ? x->z.msg : "bad stream");
        }
    }
    return ENG_OK;
}

/* Reads exactly size bytes unless the data ends; *got is the number read. */
static eng_status idx_read(idx_file *x, void *buf, size_t size, size_t *got)
{
    *got = 0;
    if (x->gz) return idx_inflate(x, buf, size, got);
    while (*got < size) {
        ENG_TRY(idx_fill(x));
        if (x->eof) break;
        size_t n = x->len - x->pos;
        if (n > size - *got) n = size - *got;
        memcpy((uint8_t *)buf + *got, x->in + x->pos, n);
        x->pos += n;
        *got += n;
    }
    return ENG_OK;
}

/* Opens path and reads an IDX header of `ndims` dimensions; *out stays open on success. */
static eng_status idx_open(const char *path, int ndims, uint32_t *dims, idx_file **out)
{
    idx_file *x = calloc(1, sizeof *x);
    if (!x) return eng_error(ENG_ERR_NOMEM, "%s: out of memory", path);
    x->path = path;
    eng_status st;
    struct stat sb;
    errno = 0;
    x->f = fopen(path, "rb");
    if (!x->f || fstat(fileno(x->f), &sb) != 0) {
        st = eng_error(ENG_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        goto fail;
    }
    x->size = (long long)sb.st_size;
    x->regular = S_ISREG(sb.st_mode);
    st = idx_fill(x);
    if (st != ENG_OK) goto fail;
    if (x->len >= 2 && x->in[0] == 0x1f && x->in[1] == 0x8b) {
        x->gz = true;
        if (inflateInit2(&x->z, 16 + MAX_WBITS) != Z_OK) {
            st = eng_error(ENG_ERR_NOMEM, "%s: cannot start inflating", path);
            goto fail;
        }
        x->z_ready = true;
    }
    uint8_t hdr[4 + 4 * 3];
    size_t hsize = 4 + 4 * (size_t)ndims, got;
    st = idx_read(x, hdr, hsize, &got);
    if (st != ENG_OK) goto fail;
    if (got < hsize) {
        st = eng_error(ENG_ERR_FORMAT, "%s: truncated IDX header (%zu of %zu bytes)", path, got,
                       hsize);
        goto fail;
    }
    if (hdr[0] != 0 || hdr[1] != 0 || hdr[3] != ndims) {
        st = eng_error(ENG_ERR_FORMAT,
                       "%s: bad IDX magic %02x%02x%02x%02x (expected 000008%02x: unsigned bytes, "
                       "%d dimensions)", path, hdr[0], hdr[1], hdr[2], hdr[3], ndims, ndims);
        goto fail;
    }
    if (hdr[2] != 0x08) {
        st = eng_error(ENG_ERR_FORMAT,
                       "%s: IDX element type 0x%02x not supported (expected 0x08, unsigned byte)",
                       path, hdr[2]);
        goto fail;
    }
    for (int i = 0; i < ndims; i++) {
        const uint8_t *p = &hdr[4 + 4 * i];
        dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    *out = x;
    return ENG_OK;
fail:
    idx_close(x);
    return st;
}

/* ENG_ERR_FORMAT when the file cannot hold the header's `size` payload bytes, before any of
 * them is allocated: a raw file must have them all, a gzip file at most 1032 per byte. */
static eng_status idx_check_length(const idx_file *x, const char *what, size_t size, int ndims)
{
    const long long header = 4 + 4LL * ndims;
    if (!x->regular) return ENG_OK;  /* no length to check against */
    if (x->gz) {
        if ((unsigned long long)size / IDX_MAX_DEFLATE_RATIO > (unsigned long long)x->size)
            return eng_error(ENG_ERR_FORMAT, "%s: truncated: header promises %zu %s bytes, more "
                             "than a gzip file of %lld bytes can hold", x->path, size, what,
                             x->size);
    } else if (x->size - header < (long long)size) {
        return eng_error(ENG_ERR_FORMAT, "%s: truncated: header promises %zu %s bytes, file has "
                         "%lld", x->path, size, what, x->size - header);
    }
    return ENG_OK;
}

/* Reads the payload of size bytes and checks that the file ends right after it. */
static eng_status idx_read_payload(idx_file *x, const char *what, uint8_t *buf, size_t size)
{
    size_t got;
    ENG_TRY(idx_read(x, buf, size, &got));
    if (got < size)
        return eng_error(ENG_ERR_FORMAT, "%s: truncated: header promises %zu %s bytes, file has %zu",
                         x->path, size, what, got);
    uint8_t extra;
    ENG_TRY(idx_read(x, &extra, 1, &got));
    if (got != 0)
        return eng_error(ENG_ERR_FORMAT, "%s: unexpected bytes after the %zu %s bytes", x->path,
                         size, what);
    return ENG_OK;
}

eng_status eng_dataset_load_idx(const char *images_path, const char *labels_path, int classes,
                                eng_dataset *out)
{
    if (!images_path || !labels_path || !out || classes < 1 || classes > 256)
        return eng_error(ENG_ERR_ARG, "eng_dataset_load_idx: bad arguments");
    eng_dataset ds = {0};
    idx_file *gi = NULL, *gl = NULL;
    uint32_t idims[3], ldims[1];
    eng_status st = idx_open(images_path, 3, idims, &gi);
    if (st != ENG_OK) goto out;
    st = idx_open(labels_path, 1, ldims, &gl);
    if (st != ENG_OK) goto out;
    if (idims[0] == 0 || idims[0] > INT32_MAX || idims[1] == 0 || idims[1] > IDX_MAX_DIM ||
        idims[2] == 0 || idims[2] > IDX_MAX_DIM) {
        st = eng_error(ENG_ERR_FORMAT, "%s: unsupported image dimensions %u x %u x %u",
                       images_path, idims[0], idims[1], idims[2]);
        goto out;
    }
    if (ldims[0] != idims[0]) {
        st = eng_error(ENG_ERR_FORMAT, "%s has %u labels but %s has %u images", labels_path,
                       ldims[0], images_path, idims[0]);
        goto out;
    }
    ds.count = (int)idims[0];
    ds.channels = 1;
    ds.height = (int)idims[1];
    ds.width = (int)idims[2];
    ds.classes = classes;
    size_t isize = (size_t)ds.count * idims[1] * idims[2];  /* < 2^63: 2^31 x 2^16 x 2^16 */
    st = idx_check_length(gi, "image", isize, 3);
    if (st == ENG_OK) st = idx_check_length(gl, "label", (size_t)ds.count, 1);
    if (st != ENG_OK) goto out;
    ds.images = eng_alloc(isize);
    ds.labels = eng_alloc((size_t)ds.count);
    if (!ds.images || !ds.labels) {
        st = eng_error(ENG_ERR_NOMEM, "%s: no memory for %zu image bytes", images_path, isize);
        goto out;
    }
    st = idx_read_payload(gi, "image", ds.images, isize);
    if (st != ENG_OK) goto out;
    st = idx_read_payload(gl, "label", ds.labels, (size_t)ds.count);
    if (st != ENG_OK) goto out;
    for (int i = 0; i < ds.count; i++) {
        if (ds.labels[i] >= classes) {
            st = eng_error(ENG_ERR_FORMAT, "%s: label %d of item %d is not below %d classes",
                           labels_path, ds.labels[i], i, classes);
            goto out;
        }
    }
    eng_dataset_normalize_self(&ds);
    *out = ds;
    ds = (eng_dataset){0};
out:
    idx_close(gi);
    idx_close(gl);
    eng_dataset_free(&ds);
    return st;
}

/* dir/name if it exists, else dir/name.gz if it exists, else dir/name (whose open fails). */
static eng_status idx_find(const char *dir, const char *name, char *buf, size_t size)
{
    struct stat sb;
    int n = snprintf(buf, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n + 3 >= size)
        return eng_error(ENG_ERR_ARG, "%s: path too long", dir);
    if (stat(buf, &sb) == 0) return ENG_OK;
    strcat(buf, ".gz");
    if (stat(buf, &sb) == 0) return ENG_OK;
    return eng_error(ENG_ERR_IO, "%s/%s: cannot open (nor %s.gz): %s", dir, name, name,
                     strerror(ENOENT));
}

eng_status eng_data_load_idx_dir(const char *dir, bool train, eng_dataset *out)
{
    char ipath[4096], lpath[4096];
    const char *prefix = train ? "train" : "t10k";
    char iname[64], lname[64];
    snprintf(iname, sizeof iname, "%s-images-idx3-ubyte", prefix);
    snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte", prefix);
    ENG_TRY(idx_find(dir, iname, ipath, sizeof ipath));
    ENG_TRY(idx_find(dir, lname, lpath, sizeof lpath));
    return eng_dataset_load_idx(ipath, lpath, 10, out);
}
