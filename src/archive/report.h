/*
 * report.h - the SVG plot of a search: validation error against energy per inference for
 * every archived network, the Pareto front highlighted and joined, the networks whose layers
 * all use exact multipliers marked. Written by the program (no plotting library).
 */
#ifndef REPORT_H
#define REPORT_H

#include <stdbool.h>

#include "eng_common.h"

typedef struct report_point {
    double energy_uj;       /* x: energy per inference (total or multipliers only) */
    double error_pct;       /* y: validation error */
    bool front;             /* on the run's Pareto front */
    bool exact;             /* every multiplying layer exact */
} report_point;

/* Writes the plot to path (through a temporary file and a rename, so a failed write leaves
 * no partial file). ENG_ERR_ARG when n < 1, ENG_ERR_IO when the file cannot be written. */
eng_status report_svg_write(const char *path,
                            const char *title,          // plot title (plain text)
                            const char *x_label,        // x axis label
                            const report_point *points,
                            int n);

#endif /* REPORT_H */
