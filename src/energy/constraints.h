/*
 * constraints.h - internal interface of the mapping constraints of an accelerator (a subset of
 * Timeloop's constraint language; src/energy/constraints.c, format in docs/energy.md).
 */
#ifndef ENERGY_CONSTRAINTS_H
#define ENERGY_CONSTRAINTS_H

#include "energy.h"
#include "yaml_strict.h"

/* Reads the `constraints` list (node list) of an accelerator whose levels are loaded:
 * applies keep/bypass targets to the levels' keeps and fills a->cons. explicit_keeps[k] says
 * whether level k's `keeps` was written in the file (a bypass that contradicts it is an error).
 * On a bad target an error of the strict reader, "path:line:col: constraints[i]...: ...". */
eng_status constraints_read(ys_doc *d, yaml_node_t *list, energy_accel *a,
                            const bool *explicit_keeps);

/* Checks a->cons against the levels and the PE array: values in range, permutations without
 * repeats, per-PE entries only on the first per-PE level, the `constrained` dataflow only
 * with a spatial target. ENG_ERR_ARG naming what is wrong. */
eng_status constraints_validate(const energy_accel *a);

/* Index of the first per-PE level (a->n_levels when there is none). */
int constraints_first_pe(const energy_accel *a);

#endif /* ENERGY_CONSTRAINTS_H */
