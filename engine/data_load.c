/*
 * data_load.c - loading dispatch of eng_dataset_load to the directory loaders, data set names.
 */
#include <string.h>

#include "data_internal.h"

eng_status eng_dataset_load(eng_dataset_kind kind, const char *path, bool train, eng_dataset *out)
{
    if (!path || !out) return eng_error(ENG_ERR_ARG, "eng_dataset_load: NULL argument");
    switch (kind) {
    case ENG_DATASET_IDX: return eng_data_load_idx_dir(path, train, out);
    case ENG_DATASET_CIFAR10: return eng_data_load_cifar_dir(path, train, out);
    case ENG_DATASET_COUNT: break;
    }
    return eng_error(ENG_ERR_ARG, "eng_dataset_load: unknown data set kind %d", (int)kind);
}

eng_status eng_dataset_kind_parse(const char *name, eng_dataset_kind *kind)
{
    if (name && (strcmp(name, "fashion-mnist") == 0 || strcmp(name, "mnist") == 0)) {
        *kind = ENG_DATASET_IDX;
        return ENG_OK;
    }
    if (name && strcmp(name, "cifar10") == 0) {
        *kind = ENG_DATASET_CIFAR10;
        return ENG_OK;
    }
    return eng_error(ENG_ERR_NOT_FOUND,
                     "unknown data set '%s' (expected fashion-mnist, mnist or cifar10)",
                     name ? name : "(null)");
}

const char *eng_dataset_default_dir(const char *name)
{
    return name && strcmp(name, "fashion-mnist") == 0 ? "/usr/share/datasets/fashion-mnist"
                                                       : NULL;
}
