/*
 * netcli.c - data loading, quantization options and multiplier lists shared by the `train`
 * and `eval` commands.
 */
#include "netcli.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"

int netcli_engine_error(const char *cmd, eng_status st)
{
    cli_error("%s: %s", cmd, eng_last_error());
    return (st == ENG_ERR_NOMEM || st == ENG_ERR_INTERNAL || st == ENG_ERR_INTERRUPTED)
               ? CLI_EXIT_FAILURE
               : CLI_EXIT_USAGE;
}

void netcli_set_threads(int threads)
{
    eng_set_threads(threads);
}

void netcli_data_free(netcli_data *d)
{
    eng_dataset_free(&d->train);
    eng_dataset_free(&d->val);
    eng_dataset_free(&d->test);
}

int netcli_data_load(const char *cmd, const char *name, const char *dir, int train_subset,
                     double val_split, int test_subset, uint64_t seed, netcli_data *out)
{
    memset(out, 0, sizeof *out);
    eng_dataset_kind kind;
    eng_status st = eng_dataset_kind_parse(name, &kind);
    if (st != ENG_OK) return cli_usage_error(cmd, "%s", eng_last_error());
    if (!dir) dir = eng_dataset_default_dir(name);
    if (!dir) return cli_usage_error(cmd, "--data DIR is required for %s", name);
    snprintf(out->name, sizeof out->name, "%s", name);
    eng_dataset all, test_all;
    st = eng_dataset_load(kind, dir, true, &all);
    if (st != ENG_OK) return netcli_engine_error(cmd, st);
    int pool = train_subset > 0 && train_subset < all.count ? train_subset : all.count;
    int n_val = (int)(val_split * pool + 0.5);
    int n_train = pool - n_val;
    if (n_train < 1) {
        eng_dataset_free(&all);
        return cli_usage_error(cmd, "--val-split %g leaves no training images", val_split);
    }
    st = eng_dataset_split(&all, n_train, n_val, seed, &out->train, n_val ? &out->val : NULL);
    if (st == ENG_OK) {
        eng_dataset_normalize_like(&out->train, &all);
        if (n_val) eng_dataset_normalize_like(&out->val, &all);
        st = eng_dataset_load(kind, dir, false, &test_all);
    }
    if (st == ENG_OK) {
        if (test_subset > 0 && test_subset < test_all.count) {
            st = eng_dataset_split(&test_all, test_subset, 0, seed + 1, &out->test, NULL);
            eng_dataset_free(&test_all);
        } else {
            out->test = test_all;
        }
        if (st == ENG_OK) eng_dataset_normalize_like(&out->test, &all);
    }
    eng_dataset_free(&all);
    if (st != ENG_OK) {
        netcli_data_free(out);
        return netcli_engine_error(cmd, st);
    }
    return CLI_EXIT_OK;
}

int netcli_parse_quant(const char *cmd, const char *s, bool *quantized, eng_quant_mode *mode)
{
    if (strcmp(s, "none") == 0) {
        *quantized = false;
    } else if (strcmp(s, "asym") == 0) {
        *quantized = true;
        *mode = ENG_QUANT_ASYM;
    } else if (strcmp(s, "sym") == 0) {
        *quantized = true;
        *mode = ENG_QUANT_SYM;
    } else {
        return cli_usage_error(cmd, "--quant '%s' is not none, asym or sym", s);
    }
    return CLI_EXIT_OK;
}

int netcli_muls_add(const char *cmd, const char *name, netcli_muls *m)
{
    eng_mul **grown = realloc(m->muls, (size_t)(m->count + 1) * sizeof *grown);
    if (!grown) {
        cli_error("%s: out of memory", cmd);
        return CLI_EXIT_FAILURE;
    }
    m->muls = grown;
    eng_status st = eng_mul_load(name, &m->muls[m->count]);
    if (st != ENG_OK) return netcli_engine_error(cmd, st);
    m->count++;
    return CLI_EXIT_OK;
}

int netcli_muls_load(const char *cmd, const char *list, netcli_muls *out)
{
    memset(out, 0, sizeof *out);
    char *copy = strdup(list);
    if (!copy) {
        cli_error("%s: out of memory", cmd);
        return CLI_EXIT_FAILURE;
    }
    int rc = CLI_EXIT_OK;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == CLI_EXIT_OK;
         tok = strtok_r(NULL, ",", &save))
        rc = netcli_muls_add(cmd, tok, out);
    if (rc == CLI_EXIT_OK && out->count == 0)
        rc = cli_usage_error(cmd, "empty multiplier list '%s'", list);
    free(copy);
    if (rc != CLI_EXIT_OK) netcli_muls_free(out);
    return rc;
}

void netcli_muls_free(netcli_muls *m)
{
    for (int i = 0; i < m->count; i++) eng_mul_free(m->muls[i]);
    free(m->muls);
    m->muls = NULL;
    m->count = 0;
}

int netcli_parse_device(const char *cmd, const char *s, eng_device *out)
{
    if (eng_device_parse(s, out) != ENG_OK)
        return cli_usage_error(cmd, "--device: %s", eng_last_error());
    return CLI_EXIT_OK;
}

eng_device netcli_device_resolve(eng_device want)
{
    eng_device dev;
    if (eng_device_resolve(want, &dev) != ENG_OK)
        cli_error("--device %s: %s; running on the CPU", eng_device_name(want),
                  eng_last_error());
    return dev;
}

int netcli_net_place(const char *cmd, eng_net *net, eng_device dev)
{
    eng_status st = eng_net_set_device(net, dev);
    if (st == ENG_ERR_UNSUPPORTED) {
        cli_error("--device %s: %s; running on the CPU", eng_device_name(dev), eng_last_error());
        return CLI_EXIT_OK;
    }
    return st == ENG_OK ? CLI_EXIT_OK : netcli_engine_error(cmd, st);
}
