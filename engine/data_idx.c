/*
 * data_idx.c - strict loader of IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed.
 *
 * An IDX file is a big-endian header (two zero bytes, element type 0x08 = unsigned byte, the
 * number of dimensions, then one uint32 per dimension) followed by the elements, nothing else.
 * zlib's gzread() reads gzip and plain files alike.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "data_internal.h"

#define IDX_MAX_DIM 65536u
#define IDX_CHUNK (1u << 28)

/* Reads exactly size bytes unless the file ends; *got is the number read. */
static eng_status idx_read(gzFile gz, const char *path, void *buf, size_t size, size_t *got)
{
    *got = 0;
    while (*got < size) {
        size_t want = size - *got;
        unsigned chunk = want > IDX_CHUNK ? IDX_CHUNK : (unsigned)want;
        int r = gzread(gz, (uint8_t *)buf + *got, chunk);
        if (r < 0) {
            int err;
            const char *msg = gzerror(gz, &err);
            if (err == Z_ERRNO)
                return eng_error(ENG_ERR_IO, "%s: read error: %s", path, strerror(errno));
            return eng_error(ENG_ERR_FORMAT, "%s: corrupt gzip data: %s", path, msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    return ENG_OK;
}

/* Opens path and reads an IDX header of `ndims` dimensions; *gz stays open on success. */
static eng_status idx_open(const char *path, int ndims, uint32_t *dims, gzFile *gz_out)
{
    errno = 0;
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return eng_error(ENG_ERR_IO, "%s: cannot open: %s", path,
                         errno ? strerror(errno) : "out of memory");
    uint8_t hdr[4 + 4 * 3];
    size_t hsize = 4 + 4 * (size_t)ndims, got;
    eng_status st = idx_read(gz, path, hdr, hsize, &got);
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
    *gz_out = gz;
    return ENG_OK;
fail:
    gzclose(gz);
    return st;
}

/* Reads the payload of size bytes and checks that the file ends right after it. */
static eng_status idx_read_payload(gzFile gz, const char *path, const char *what, uint8_t *buf,
                                   size_t size)
{
    size_t got;
    ENG_TRY(idx_read(gz, path, buf, size, &got));
    if (got < size)
        return eng_error(ENG_ERR_FORMAT, "%s: truncated: header promises %zu %s bytes, file has %zu",
                         path, size, what, got);
    uint8_t extra;
    ENG_TRY(idx_read(gz, path, &extra, 1, &got));
    if (got != 0)
        return eng_error(ENG_ERR_FORMAT, "%s: unexpected bytes after the %zu %s bytes", path, size,
                         what);
    return ENG_OK;
}

eng_status eng_dataset_load_idx(const char *images_path, const char *labels_path, int classes,
                                eng_dataset *out)
{
    if (!images_path || !labels_path || !out || classes < 1 || classes > 256)
        return eng_error(ENG_ERR_ARG, "eng_dataset_load_idx: bad arguments");
    eng_dataset ds = {0};
    gzFile gi = NULL, gl = NULL;
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
    size_t isize = (size_t)ds.count * idims[1] * idims[2];
    ds.images = eng_alloc(isize);
    ds.labels = eng_alloc((size_t)ds.count);
    if (!ds.images || !ds.labels) {
        st = ENG_ERR_NOMEM;
        goto out;
    }
    st = idx_read_payload(gi, images_path, "image", ds.images, isize);
    if (st != ENG_OK) goto out;
    st = idx_read_payload(gl, labels_path, "label", ds.labels, (size_t)ds.count);
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
    if (gi) gzclose(gi);
    if (gl) gzclose(gl);
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
