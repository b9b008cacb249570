/*
 * handles.c - the handle table: strong, pinned, weak and dependent handles.
 *
 * Handles live in blocks that never move or go away, so a handle stays a valid pointer for
 * the life of the process; freed handles are reused. The table lock is taken for every change
 * and held through a whole collection, which reads and clears handles.
 */
#include <stdlib.h>

#include "runtime.h"

#define HANDLES_PER_BLOCK 256
#define HANDLE_FREE (-1)

typedef struct handle_block {
    struct handle_block *next;
    rb_handle handles[HANDLES_PER_BLOCK];
} handle_block;

static rb_lock handles_lock = RB_LOCK_INIT;
static handle_block *blocks;
static rb_handle *free_list;

void rb_handles_lock(void)
{
    rb_lock_acquire(&handles_lock);
}

void rb_handles_unlock(void)
{
    rb_lock_release(&handles_lock);
}

void rb_handles_visit_locked(void (*visit)(rb_handle *handle, void *context), void *context)
{
    for (handle_block *block = blocks; block != NULL; block = block->next) {
        for (unsigned i = 0; i < HANDLES_PER_BLOCK; i++) {
            if (block->handles[i].type != HANDLE_FREE)
                visit(&block->handles[i], context);
        }
    }
}

static bool handle_in_table(const rb_handle *handle)
{
    for (handle_block *block = blocks; block != NULL; block = block->next) {
        uintptr_t offset = (uintptr_t)handle - (uintptr_t)block->handles;
        if (offset < sizeof block->handles)
            return offset % sizeof(rb_handle) == 0;
    }
    return false;
}

static rb_handle *handle_alloc(int32_t type, void *target, void *secondary)
{
    if (!rb_ensure_initialized())
        return NULL;
    rb_handles_lock();
    if (free_list == NULL) {
        handle_block *block = calloc(1, sizeof *block);
        if (block == NULL) {
            rb_handles_unlock();
            return NULL;
        }
        for (unsigned i = HANDLES_PER_BLOCK; i-- > 0;) {
            block->handles[i].type = HANDLE_FREE;
            block->handles[i].next_free = free_list;
            free_list = &block->handles[i];
        }
        block->next = blocks;
        blocks = block;
    }
    rb_handle *handle = free_list;
    free_list = handle->next_free;
    handle->next_free = NULL;
    handle->type = type;
    atomic_store_explicit(&handle->target, target, memory_order_relaxed);
    atomic_store_explicit(&handle->secondary, secondary, memory_order_relaxed);
    rb_handles_unlock();
    return handle;
}

RUNTIME_BASE_API RhHandle RhpHandleAlloc(void *object, int32_t type)
{
    switch (type) {
    case RH_HANDLE_WEAK:
    case RH_HANDLE_WEAK_TRACK_RESURRECTION:
    case RH_HANDLE_NORMAL:
    case RH_HANDLE_PINNED:
        return (RhHandle)handle_alloc(type, object, NULL);
    default:
        return NULL; /* dependent handles come from RhpHandleAllocDependent */
    }
}

RUNTIME_BASE_API RhHandle RhpHandleAllocDependent(void *primary, void *secondary)
{
    return (RhHandle)handle_alloc(RH_HANDLE_DEPENDENT, primary, secondary);
}

RUNTIME_BASE_API void *RhHandleGet(RhHandle handle)
{
    return atomic_load_explicit(&((rb_handle *)handle)->target, memory_order_acquire);
}

RUNTIME_BASE_API void *RhHandleGetDependent(RhHandle handle, void **secondary)
{
    rb_handle *h = (rb_handle *)handle;
    rb_handles_lock(); /* primary and secondary as one consistent pair */
    void *primary = atomic_load_explicit(&h->target, memory_order_relaxed);
    if (secondary != NULL)
        *secondary = atomic_load_explicit(&h->secondary, memory_order_relaxed);
    rb_handles_unlock();
    return primary;
}

RUNTIME_BASE_API void RhHandleSet(RhHandle handle, void *object)
{
    rb_handles_lock(); /* never in the middle of a collection */
    atomic_store_explicit(&((rb_handle *)handle)->target, object, memory_order_release);
    rb_handles_unlock();
}

RUNTIME_BASE_API void RhHandleFree(RhHandle handle)
{
    rb_handle *h = (rb_handle *)handle;
    if (h == NULL)
        return;
    rb_handles_lock();
    bool valid = handle_in_table(h) && h->type != HANDLE_FREE;
    if (valid) {
        h->type = HANDLE_FREE;
        atomic_store_explicit(&h->target, NULL, memory_order_relaxed);
        atomic_store_explicit(&h->secondary, NULL, memory_order_relaxed);
        h->next_free = free_list;
        free_list = h;
    }
    rb_handles_unlock();
    if (!valid)
        rb_fail_fast("RhHandleFree: not an allocated handle (freed twice?)");
}
