/*
 * threads - several threads allocating at once, each keeping its objects in handles and
 * thread-static storage while the others' allocations trigger collections.
 *
 * Keys after the common ones: threads, distinct_thread_ids, objects_per_thread, handles_ok,
 * exit_callbacks (the runtime's thread exit callback ran once per thread), collections.
 * Exits 1 if a thread lost a rooted object, 2 on a runtime failure.
 */
#include "app_common.h"
#include "app_node.h"

#include <stdatomic.h>

#define THREADS 4
#define ROUNDS 20000
#define RING 16
#define KEPT 32

static const RhMethodTable object_array_type = {
    sizeof(void *), RH_MT_FLAG_IS_ARRAY | RH_MT_FLAG_CONTAINS_POINTERS, sizeof(RhArray), NULL, "Object[]", NULL, NULL,
    0, 1,
};
static const RhMethodTable byte_array_type = {
    1, RH_MT_FLAG_IS_ARRAY, sizeof(RhArray), NULL, "Byte[]", NULL, NULL, 0, 0,
};

typedef struct worker {
    int index;
    uint64_t thread_id;
    uint64_t objects;
    int ok;
    const char *failure;
} worker;

static app_context app;
static atomic_int exit_callbacks;

static void on_thread_exit(void)
{
    atomic_fetch_add(&exit_callbacks, 1);
}

static int64_t value_for(int thread, int64_t i)
{
    return (int64_t)thread * 1000000000 + i;
}

static void *run(void *argument)
{
    worker *w = argument;
    w->ok = 0;
    w->thread_id = RhCurrentOSThreadId();

    /* An array of nodes held by a strong handle, filled through the write barrier. */
    RhArray *kept = RhpNewArray(&object_array_type, KEPT);
    RhHandle kept_handle = kept != NULL ? RhpHandleAlloc(kept, RH_HANDLE_NORMAL) : NULL;
    if (kept_handle == NULL) {
        w->failure = "cannot allocate the kept array";
        return NULL;
    }
    for (int i = 0; i < KEPT; i++) {
        node *n = RhpNewFast(&node_type);
        if (n == NULL) {
            w->failure = "allocation failed";
            return NULL;
        }
        w->objects++;
        n->value = value_for(w->index, -i);
        kept = RhHandleGet(kept_handle);
        RhpAssignRef(&((void **)RH_ARRAY_DATA(kept))[i], n);
    }

    /* A thread-static root. */
    void **statics = RhGetThreadStaticStorage();
    node *own = RhpNewFast(&node_type);
    if (statics == NULL || own == NULL) {
        w->failure = "no thread-static storage";
        return NULL;
    }
    own->value = value_for(w->index, 424242);
    *statics = own;

    /* A ring of strong handles, reset as new objects replace old ones. */
    RhHandle ring[RING];
    for (int i = 0; i < RING; i++) {
        ring[i] = RhpHandleAlloc(NULL, RH_HANDLE_NORMAL);
        if (ring[i] == NULL) {
            w->failure = "cannot allocate a handle";
            return NULL;
        }
    }
    for (int64_t round = 0; round < ROUNDS; round++) {
        node *n = RhpNewFast(&node_type);
        if (n == NULL) {
            w->failure = "allocation failed";
            return NULL;
        }
        n->value = value_for(w->index, round);
        RhHandleSet(ring[round % RING], n); /* rooted before this thread allocates again */
        RhArray *bytes = RhpNewArray(&byte_array_type, 200 + (int32_t)(round % 300));
        if (bytes == NULL) {
            w->failure = "allocation failed";
            return NULL;
        }
        w->objects += 2;
        memset(RH_ARRAY_DATA(bytes), (int)(round & 0xff), bytes->length);
        for (uint32_t k = 0; k < bytes->length; k += 37) {
            if (((const unsigned char *)RH_ARRAY_DATA(bytes))[k] != (unsigned char)(round & 0xff)) {
                w->failure = "a fresh array was corrupted";
                return NULL;
            }
        }

        if (round >= RING && round % 97 == 0) {
            /* The object set RING rounds ago is still held by its handle. */
            const node *old = RhHandleGet(ring[(round - RING + 1) % RING]);
            if (old == NULL || old->value != value_for(w->index, round - RING + 1)) {
                w->failure = "an object held by a strong handle was lost";
                return NULL;
            }
        }
        if (round % 5000 == 0)
            RhpGcPoll();
    }

    kept = RhHandleGet(kept_handle);
    for (int i = 0; i < KEPT; i++) {
        const node *n = ((void **)RH_ARRAY_DATA(kept))[i];
        if (n == NULL || n->value != value_for(w->index, -i)) {
            w->failure = "an object in the kept array was lost";
            return NULL;
        }
    }
    if (*statics != own || own->value != value_for(w->index, 424242)) {
        w->failure = "the thread-static object was lost";
        return NULL;
    }
    *statics = NULL;
    for (int i = 0; i < RING; i++)
        RhHandleFree(ring[i]);
    RhHandleFree(kept_handle);
    w->ok = 1;
    return NULL;
}

int main(int argc, char **argv)
{
    app_start(&app, "threads", argc, argv);
    RhSetThreadExitCallback(on_thread_exit);

    app_thread threads[THREADS];
    worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){ .index = i };
        const char *failure = app_thread_start(&threads[i], run, &workers[i]);
        if (failure != NULL)
            app_fail(&app, 2, "cannot start a thread: %s", failure);
    }
    for (int i = 0; i < THREADS; i++)
        app_thread_join(&threads[i]);

    int handles_ok = 1;
    int distinct = 1;
    for (int i = 0; i < THREADS; i++) {
        if (!workers[i].ok)
            app_fail(&app, 1, "thread %d: %s", i, workers[i].failure != NULL ? workers[i].failure : "failed");
        for (int k = 0; k < i; k++)
            distinct &= workers[k].thread_id != workers[i].thread_id;
    }
    distinct &= workers[0].thread_id != RhCurrentOSThreadId();

    RhGcMemoryInfo info;
    RhGetMemoryInfo(&info, 0);

    app_json json;
    app_json_begin(&json, &app);
    json_key_int(&json, "threads", THREADS);
    json_key_bool(&json, "distinct_thread_ids", distinct);
    json_key_uint(&json, "objects_per_thread", workers[0].objects);
    json_key_bool(&json, "handles_ok", handles_ok);
    json_key_int(&json, "exit_callbacks", atomic_load(&exit_callbacks));
    json_key_uint(&json, "collections", info.collection_count);
    app_finish(&json, &app);
    return 0;
}
