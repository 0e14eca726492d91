/*
 * workspace.c - a grow-only scratch buffer per thread for the CPU kernels, so that repeated
 * calls (every layer of every batch) do not pay for fresh allocations and their page faults.
 *
 * The buffer belongs to the thread that asks for it and is freed when that thread exits
 * (pthread key destructor) or by eng_cpu_workspace_release.
 */
#include "cpu_kernels.h"

#include <pthread.h>

typedef struct {
    void *data;
    size_t size;
} workspace;

static pthread_key_t ws_key;
static pthread_once_t ws_once = PTHREAD_ONCE_INIT;
static bool ws_key_ok;

static void ws_destroy(void *p)
{
    workspace *ws = p;
    eng_free(ws->data);
    eng_free(ws);
}

static void ws_init(void)
{
    ws_key_ok = pthread_key_create(&ws_key, ws_destroy) == 0;
}

void *eng_cpu_workspace(size_t size)
{
    pthread_once(&ws_once, ws_init);
    if (!ws_key_ok)
        return NULL;
    workspace *ws = pthread_getspecific(ws_key);
    if (ws == NULL) {
        ws = eng_calloc(1, sizeof *ws);
        if (ws == NULL || pthread_setspecific(ws_key, ws) != 0) {
            eng_free(ws);
            return NULL;
        }
    }
    if (ws->size < size) {
        eng_free(ws->data);
        ws->size = 0;
        ws->data = eng_alloc(size);
        if (ws->data == NULL)
            return NULL;
        ws->size = size;
    }
    return ws->data;
}

void eng_cpu_workspace_release(void)
{
    pthread_once(&ws_once, ws_init);
    if (!ws_key_ok)
        return;
    workspace *ws = pthread_getspecific(ws_key);
    if (ws != NULL) {
        pthread_setspecific(ws_key, NULL);
        ws_destroy(ws);
    }
}
