/*
 * timeloop_export.c - writes the layers of an energy estimate as Timeloop problem files
 * (the "CNN-Layer" shape of the Timeloop/Accelergy exercises, with a G dimension for grouped
 * and depthwise layers) so that users with Timeloop can cross-check the mapper.
 */
#include "energy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Timeloop pairs R and P with the width stride, S and Q with the height stride; our r, p are
 * rows. Square strides make the two conventions agree; the files say which is which. */
static void write_problem(FILE *f, const energy_layer *l)
{
    const bool grouped = l->groups > 1;
    fprintf(f, "# %s layer '%s' exported by evoapproxnas energy (Timeloop problem format).\n",
            energy_layer_kind_name(l->kind), l->name);
    fprintf(f, "# Input %dx%dx%d, padding %d: Timeloop has no padding, its input is "
            "(P-1)*stride+R.\n", l->c, l->h, l->w, l->pad);
    fprintf(f, "problem:\n  shape:\n    name: %s\n", grouped ? "Grouped-CNN-Layer" : "CNN-Layer");
    fprintf(f, "    dimensions: [ %sC, M, R, S, N, P, Q ]\n", grouped ? "G, " : "");
    fprintf(f, "    coefficients:\n");
    const char *coef[] = {"Wstride", "Hstride", "Wdilation", "Hdilation"};
    for (int i = 0; i < 4; i++) fprintf(f, "      - name: %s\n        default: 1\n", coef[i]);
    const char *g = grouped ? "          - [ [G] ]\n" : "";
    fprintf(f, "    data-spaces:\n");
    fprintf(f, "      - name: Weights\n        projection:\n%s          - [ [C] ]\n"
            "          - [ [M] ]\n          - [ [R] ]\n          - [ [S] ]\n", g);
    fprintf(f, "      - name: Inputs\n        projection:\n          - [ [N] ]\n%s"
            "          - [ [C] ]\n          - [ [R, Wdilation], [P, Wstride] ]\n"
            "          - [ [S, Hdilation], [Q, Hstride] ]\n", g);
    fprintf(f, "      - name: Outputs\n        projection:\n          - [ [N] ]\n%s"
            "          - [ [M] ]\n          - [ [Q] ]\n          - [ [P] ]\n"
            "        read-write: True\n", g);
    fprintf(f, "  instance:\n");
    if (grouped) fprintf(f, "    G: %d\n", l->groups);
    fprintf(f, "    C: %d\n    M: %d\n    R: %d\n    S: %d\n    N: %d\n    P: %d\n    Q: %d\n",
            l->c / l->groups, l->m / l->groups, l->s, l->r, l->n, l->q, l->p);
    fprintf(f, "    Wstride: %d\n    Hstride: %d\n    Wdilation: 1\n    Hdilation: 1\n",
            l->stride, l->stride);
}

eng_status energy_timeloop_export(const energy_layer *layers, int count, const char *dir,
                                  int *written)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return eng_error(ENG_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));
    int n = 0;
    for (int i = 0; i < count; i++) {
        const energy_layer *l = &layers[i];
        if (!energy_layer_multiplies(l)) continue;
        char name[ENERGY_NAME_MAX];
        size_t k = 0;
        for (; l->name[k] && k + 1 < sizeof name; k++) {
            char ch = l->name[k];
            bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
            name[k] = ok ? ch : '_';
        }
        name[k] = 0;
        char path[4096], tmp[4112];
        if (snprintf(path, sizeof path, "%s/%02d_%s.yaml", dir, i, name) >= (int)sizeof path)
            return eng_error(ENG_ERR_ARG, "%s: path too long", dir);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "w");
        if (!f) return eng_error(ENG_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        write_problem(f, l);
        bool ok = !ferror(f);
        ok = (fclose(f) == 0) && ok;
        if (!ok || rename(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            return eng_error(ENG_ERR_IO, "%s: cannot write: %s", path, strerror(e));
        }
        n++;
    }
    *written = n;
    return ENG_OK;
}
