/*
 * data_internal.h - the directory loaders behind eng_dataset_load(), one per file layout.
 */
#ifndef DATA_INTERNAL_H
#define DATA_INTERNAL_H

#include "eng_data.h"

/* {train,t10k}-images-idx3-ubyte[.gz] + ...-labels-idx1-ubyte[.gz] in dir, 10 classes. */
eng_status eng_data_load_idx_dir(const char *dir, bool train, eng_dataset *out);

/* data_batch_1..5.bin or test_batch.bin in dir, 10000 records each. */
eng_status eng_data_load_cifar_dir(const char *dir, bool train, eng_dataset *out);

#endif /* DATA_INTERNAL_H */
