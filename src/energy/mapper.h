/*
 * mapper.h - internal interface of the energy model's mapper (src/energy/mapper.c): access
 * counting for one mapping and the search for the best mapping of a layer.
 */
#ifndef ENERGY_MAPPER_H
#define ENERGY_MAPPER_H

#include "energy.h"

/* Searches the mapping of a finished multiplying layer with the highest PE utilization and,
 * among those, the least energy (memory levels plus exact MACs). Fills *best and *cost
 * (memory terms, utilization, mapping; the MAC terms are left to the caller).
 * ENG_ERR_UNSUPPORTED when no mapping fits the capacities. */
eng_status mapper_search(const energy_accel *a, const energy_layer *l, energy_layer_cost *cost);

/* The loop dimensions a dataflow lets run across PE rows, PE columns and inside a PE
 * (bit 1u << energy_dim). */
void mapper_dataflow_masks(energy_dataflow df, unsigned *rows, unsigned *cols, unsigned *pe);

/* The loop bounds of a layer (G, M and C per group). */
void mapper_bounds(const energy_layer *l, int bound[ENERGY_DIM_COUNT]);

#endif /* ENERGY_MAPPER_H */
