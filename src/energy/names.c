/*
 * names.c - the stable names of the energy model's enums (tensors, dataflows, loop dimensions),
 * shared by the accelerator reader, the constraints and the reports.
 */
#include "energy.h"

const char *const energy_tensor_names[ENERGY_TENSOR_COUNT] = {"weights", "inputs", "outputs"};
const char *const energy_dataflow_names[ENERGY_DATAFLOW_COUNT] = {
    "weight_stationary", "output_stationary", "row_stationary", "constrained"};
static const char *const dim_names[ENERGY_DIM_COUNT] = {"N", "G", "M", "C", "P", "Q", "R", "S"};

const char *energy_tensor_name(energy_tensor t)
{
    return (unsigned)t < ENERGY_TENSOR_COUNT ? energy_tensor_names[t] : "?";
}

const char *energy_dataflow_name(energy_dataflow df)
{
    return (unsigned)df < ENERGY_DATAFLOW_COUNT ? energy_dataflow_names[df] : "?";
}

const char *energy_dim_name(energy_dim d)
{
    return (unsigned)d < ENERGY_DIM_COUNT ? dim_names[d] : "?";
}
