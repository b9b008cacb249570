/*
 * alloc - allocation-heavy: enough objects, arrays and strings to run many collections, while
 * checking that what is rooted survives intact and what is not is collected.
 *
 * Roots kept across allocations: a strong handle on an Object[] whose elements are stored
 * through the write barrier, a dependent handle, and a GC frame for locals. Garbage: a
 * weakly held object, a dependent handle on a dead primary, finalizable objects.
 *
 * Keys after the common ones: objects, arrays, strings, large_arrays, finalizable (counts
 * allocated), collections, gen_collections [gen0, gen1, gen2], survivor_generation,
 * fresh_generation, survivor_intact, dependent_kept, weak_cleared, dependent_cleared,
 * finalizers_run, heap_bytes, total_allocated_bytes.
 * Exits 1 if a rooted object was lost or corrupted, 2 if an allocation failed.
 */
#include "app_common.h"
#include "app_node.h"

static const RhMethodTable int_array_type = {
    sizeof(int32_t), RH_MT_FLAG_IS_ARRAY, sizeof(RhArray), NULL, "Int32[]", NULL, NULL, 0, 0,
};
static const RhMethodTable object_array_type = {
    sizeof(void *), RH_MT_FLAG_IS_ARRAY | RH_MT_FLAG_CONTAINS_POINTERS, sizeof(RhArray), NULL, "Object[]", NULL, NULL,
    0, 1,
};

static uint64_t finalized;
static void count_finalized(void *object)
{
    (void)object;
    finalized++;
}

static const RhMethodTable finalizable_type = {
    0, RH_MT_FLAG_HAS_FINALIZER, sizeof(node), NULL, "Finalizable", count_finalized, NULL, 0, 0,
};

#define SURVIVORS 64
#define ROUNDS 100000
#define FINALIZABLE 1000
#define LARGE_ARRAYS 8

static app_context app;
static uint64_t objects, arrays, strings, large_arrays;

static void *must(void *object, const char *what)
{
    if (object == NULL)
        app_fail(&app, 2, "allocation of %s failed", what);
    return object;
}

static node *new_node(int64_t value)
{
    node *n = must(RhpNewFast(&node_type), "a Node");
    objects++;
    n->value = value;
    return n;
}

static RhArray *new_array(const RhMethodTable *type, int32_t length)
{
    RhArray *array = must(RhpNewArray(type, length), type->name);
    arrays++;
    return array;
}

static void **slots(RhArray *array)
{
    return RH_ARRAY_DATA(array);
}

static int survivors_intact(RhArray *survivors)
{
    if (survivors == NULL || survivors->method_table != &object_array_type || survivors->length != SURVIVORS)
        return 0;
    for (int i = 0; i < SURVIVORS; i++) {
        const node *n = slots(survivors)[i];
        if (n == NULL || n->method_table != &node_type || n->value != (int64_t)i * 7919)
            return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    app_start(&app, "alloc", argc, argv);

    /* Locals the collector must see, as compiled code would report them. */
    void *locals[3] = { NULL, NULL, NULL };
    RhGcFrameRegistration frame = { NULL, NULL, locals, 3, 0 };
    RhRegisterForGCReporting(&frame);

    /* Rooted: an array held by a strong handle, filled through the write barrier (each new
     * node is stored before the next allocation). */
    RhArray *survivors = new_array(&object_array_type, SURVIVORS);
    RhHandle survivors_handle = must(RhpHandleAlloc(survivors, RH_HANDLE_NORMAL), "a handle");
    for (int i = 0; i < SURVIVORS; i++)
        RhpAssignRef(&slots(survivors)[i], new_node((int64_t)i * 7919));

    /* Kept alive by a dependent handle whose primary (the survivor array) lives. */
    RhHandle kept = must(RhpHandleAllocDependent(survivors, new_node(4242)), "a dependent handle");

    /* Garbage: watched by a weak handle, and a dependent pair whose primary dies. */
    RhHandle weak = must(RhpHandleAlloc(new_node(-1), RH_HANDLE_WEAK), "a weak handle");
    locals[0] = new_node(-2);
    locals[1] = new_node(-3);
    RhHandle dead = must(RhpHandleAllocDependent(locals[0], locals[1]), "a dependent handle");
    locals[0] = locals[1] = NULL;

    for (int i = 0; i < FINALIZABLE; i++) {
        must(RhpNewFinalizable(&finalizable_type), "a finalizable object");
        objects++;
    }

    for (int round = 0; round < ROUNDS; round++) {
        node *n = new_node(round);
        if (n->value != round)
            app_fail(&app, 1, "a fresh object was corrupted");

        int32_t length = 100 + round % 50;
        RhArray *array = new_array(&int_array_type, length);
        int32_t *data = RH_ARRAY_DATA(array);
        for (int32_t k = 0; k < length; k++)
            data[k] = round ^ k;
        for (int32_t k = 0; k < length; k++) {
            if (data[k] != (round ^ k))
                app_fail(&app, 1, "a fresh array was corrupted");
        }

        RhString *string = must(RhNewString(NULL, 20), "a string");
        strings++;
        for (int k = 0; k < 20; k++)
            RH_STRING_CHARS(string)[k] = (uint16_t)('a' + (round + k) % 26);
        if (round % 1000 == 0) {
            /* The frame keeps this string through the next 1000 rounds. */
            const RhString *previous = locals[2];
            if (previous != NULL &&
                (previous->length != 20 || RH_STRING_CHARS(previous)[0] != (uint16_t)('a' + (round - 1000) % 26)))
                app_fail(&app, 1, "a string held by a GC frame was lost");
            locals[2] = string;
        }

        if (round % (ROUNDS / LARGE_ARRAYS) == 0) {
            RhArray *large = new_array(&int_array_type, 300000);
            large_arrays++;
            ((int32_t *)RH_ARRAY_DATA(large))[299999] = round;
        }
        if (round % 10000 == 0 && !survivors_intact(RhHandleGet(survivors_handle)))
            app_fail(&app, 1, "rooted objects were lost or corrupted after %d rounds", round);
    }
    RhUnregisterForGCReporting(&frame);
    RhpGcPoll(); /* a safe point: finalizers queued by the last collection run here */

    survivors = RhHandleGet(survivors_handle);
    int intact = survivors_intact(survivors);
    void *kept_secondary = NULL;
    void *kept_primary = RhHandleGetDependent(kept, &kept_secondary);
    int dependent_kept = kept_primary == survivors && kept_secondary != NULL &&
                         ((const node *)kept_secondary)->value == 4242;
    void *dead_secondary = NULL;
    int dependent_cleared = RhHandleGetDependent(dead, &dead_secondary) == NULL && dead_secondary == NULL;
    int weak_cleared = RhHandleGet(weak) == NULL;
    int32_t survivor_generation = RhGetGeneration(survivors);
    int32_t fresh_generation = RhGetGeneration(new_node(0));

    RhGcMemoryInfo info;
    RhGetMemoryInfo(&info, 0);

    RhHandleFree(weak);
    RhHandleFree(dead);
    RhHandleFree(kept);
    RhHandleFree(survivors_handle);
    if (!intact)
        app_fail(&app, 1, "rooted objects were lost or corrupted");
    if (!dependent_kept)
        app_fail(&app, 1, "the secondary of a live dependent handle was lost");

    app_json json;
    app_json_begin(&json, &app);
    json_key_uint(&json, "objects", objects);
    json_key_uint(&json, "arrays", arrays);
    json_key_uint(&json, "strings", strings);
    json_key_uint(&json, "large_arrays", large_arrays);
    json_key_uint(&json, "finalizable", FINALIZABLE);
    json_key_uint(&json, "collections", info.collection_count);
    json_key(&json, "gen_collections");
    json_open(&json, "[");
    for (int g = 0; g < 3; g++) {
        json_element(&json);
        json_printf(&json, "%" PRIu64, info.gen_collection_count[g]);
    }
    json_close(&json, "]");
    json_key_int(&json, "survivor_generation", survivor_generation);
    json_key_int(&json, "fresh_generation", fresh_generation);
    json_key_bool(&json, "survivor_intact", intact);
    json_key_bool(&json, "dependent_kept", dependent_kept);
    json_key_bool(&json, "weak_cleared", weak_cleared);
    json_key_bool(&json, "dependent_cleared", dependent_cleared);
    json_key_uint(&json, "finalizers_run", finalized);
    json_key_uint(&json, "heap_bytes", info.heap_size_bytes);
    json_key_uint(&json, "total_allocated_bytes", info.total_allocated_bytes);
    app_finish(&json, &app);
    return 0;
}
