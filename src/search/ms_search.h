/*
 * ms_search.h - the Model Search strategy (strategy: model_search): towers proposed by the
 * controller (ms_controller.h) in batches, evaluated by the shared evaluator (search_eval.h)
 * and committed to the archive one batch per generation.
 *
 * search_run() and search_resume() (search.h) open the archive, the claim and the data, and
 * hand a model_search config over to ms_search_drive(). What a Model Search archive holds:
 *
 *   individuals   one row per proposal (trial t has id t): the tower text (nas_tower.h) as
 *                 its genome, parent1 = the trial it moved from (-1 for a random tower)
 *   generations   one row per batch ("generation" g = batch g): trained and reused counts,
 *                 front size, best error, lowest energy objective, hypervolume of the
 *                 archive's front so far (scaled by batch 0's largest values, as NSGA-II
 *                 scales by generation 0), and a short text state
 *   population    of generation g: the feasible non-dominated archived networks after batch
 *                 g (rank 0, crowding 0), so that `pareto --generation G` shows the front as
 *                 it grew
 *   evaluations   as for NSGA-II; a network over constrained descent's largest budget has a
 *                 positive violation (ms_violation), so no view counts it as feasible
 *
 * With model_search.ensemble k, one more generation follows the last batch: an ensemble
 * (nas_tower.h) of the k best feasible towers by error, or with constrained descent one per
 * budget whose members' costs sum within it; each is trained as a network of its own and
 * archived as an individual (ids from trials on) whose genome is "ensemble TOWER | TOWER ..."
 * and whose parents are its two best members.
 *
 * Resume rebuilds the controller's results from the individuals and evaluations of the
 * committed batches and proposes the next batch exactly as the first run would have (the
 * evaluator answers trainings an interrupted batch finished from its cache).
 */
#ifndef MS_SEARCH_H
#define MS_SEARCH_H

#include <stdbool.h>

#include "archive.h"
#include "config.h"
#include "search.h"
#include "search_env.h"

/* The tower space of a model_search config: its block library and length limits, the search
 * space's stem, multiplier count, and input shape and classes (set in cfg->space once the
 * data set is loaded, as search_env_open leaves them). */
void ms_tower_space(const cfg_search *cfg, nas_tower_space *out);

/* Batches of proposals a Model Search run of this config makes: ceil(trials / batch). */
int ms_search_batches(const cfg_model_search *cfg);

/* Generations it commits: the batches, and one more for the ensembles when it makes them. */
int ms_search_generations(const cfg_model_search *cfg);

/* Runs (resume: continues) the Model Search of env->cfg on the open archive db with `threads`
 * worker threads until every trial is committed; sets the run's status (finished,
 * interrupted, failed). ENG_ERR_INTERRUPTED when opts->stop ended it; archive or
 * evaluation errors with their message; ENG_ERR_FORMAT when an archived tower does not
 * parse. env and db stay the caller's. */
eng_status ms_search_drive(search_env *env, db_archive *db, const search_opts *opts,
                           int threads, bool resume);

#endif /* MS_SEARCH_H */
