/* mpi_pool_none.c - the MPI worker pool of a build without MPI: one rank, nothing to do. */
#include "mpi_pool.h"

#include <stdlib.h>
#include <unistd.h>

static char host[256];

bool mpi_pool_compiled(void) { return false; }
int mpi_pool_rank(void) { return 0; }
int mpi_pool_size(void) { return 1; }
int mpi_pool_local_rank(void) { return 0; }

const char *mpi_pool_host(void)
{
    if (!host[0] && gethostname(host, sizeof host - 1) != 0) host[0] = '?';
    return host;
}

eng_status mpi_pool_init(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (n && atoi(n) > 1)
        return eng_error(ENG_ERR_UNSUPPORTED, "started as one of %d MPI ranks, but this build "
                         "has no MPI (install libopenmpi-dev and rebuild: meson setup -Dmpi="
                         "enabled)", atoi(n));
    return ENG_OK;
}

eng_status mpi_pool_start(const mpi_msg_init *init)
{
    (void)init;
    return ENG_OK;
}

eng_status mpi_pool_train(const mpi_pool_cb *cb, volatile sig_atomic_t *stop,
                          mpi_pool_stats *stats)
{
    (void)cb, (void)stop;
    *stats = (mpi_pool_stats){0};
    return ENG_OK;
}

int mpi_pool_workers(void) { return 0; }
int mpi_pool_busy(void) { return 0; }

eng_status mpi_pool_submit(const mpi_pool_job *job)
{
    free(job->resume);
    return eng_error(ENG_ERR_ARG, "MPI: no worker ranks in a build without MPI");
}

eng_status mpi_pool_poll(const mpi_pool_cb *cb, volatile sig_atomic_t *stop, bool *got,
                         double *busy_s)
{
    (void)cb, (void)stop, (void)busy_s;
    *got = false;
    return ENG_OK;
}

int mpi_pool_worker(int threads, volatile sig_atomic_t *stop)
{
    (void)threads, (void)stop;
    return 0;
}

void mpi_pool_finish(int exit_code) { (void)exit_code; }
