/*
 * threads.c - runtime-attached threads, transitions, thread statics, waits.
 *
 * A thread attaches on its first allocation or transition: it gets a record in the thread
 * list, where the GC finds its roots, and is detached (after the thread exit callback) when
 * it exits.
 */
#include <stdio.h>
#include <stdlib.h>

#include "runtime.h"

rb_thread *rb_threads;

static _Thread_local rb_thread *current_thread;

typedef void (*rb_exit_callback)(void);
static _Atomic(rb_exit_callback) exit_callback;

static void thread_exited(void *value)
{
    rb_thread *thread = value;
    rb_exit_callback callback = atomic_load(&exit_callback);
    if (callback != NULL)
        callback();
    rb_lock_acquire(&rb_gc_lock);
    if (thread->prev != NULL)
        thread->prev->next = thread->next;
    else
        rb_threads = thread->next;
    if (thread->next != NULL)
        thread->next->prev = thread->prev;
    rb_lock_release(&rb_gc_lock);
    current_thread = NULL;
    free(thread);
}

int rb_threads_init(void)
{
    return pal_thread_exit_init(thread_exited);
}

rb_thread *rb_thread_current(void)
{
    rb_thread *thread = current_thread;
    if (RB_LIKELY(thread != NULL))
        return thread;
    if (!rb_ensure_initialized())
        return NULL;
    thread = calloc(1, sizeof *thread);
    if (thread == NULL)
        return NULL;
    thread->os_id = pal_current_thread_id();
    rb_lock_acquire(&rb_gc_lock);
    thread->next = rb_threads;
    if (rb_threads != NULL)
        rb_threads->prev = thread;
    rb_threads = thread;
    rb_lock_release(&rb_gc_lock);
    pal_thread_exit_arm(thread);
    current_thread = thread;
    return thread;
}

static rb_thread *attached_thread(const char *caller)
{
    rb_thread *thread = rb_thread_current();
    if (thread == NULL) {
        char message[256];
        snprintf(message, sizeof message, "%s: cannot attach the thread to the runtime (not initialized, or out of memory)",
                 caller);
        rb_fail_fast(message);
    }
    return thread;
}

/* --- Identity and scheduling ------------------------------------------------------------- */

RUNTIME_BASE_API uint64_t RhCurrentOSThreadId(void)
{
    return pal_current_thread_id();
}

RUNTIME_BASE_API int32_t RhGetProcessCpuCount(void)
{
    uint32_t count = pal_cpu_count();
    return count > INT32_MAX ? INT32_MAX : (int32_t)count;
}

RUNTIME_BASE_API int32_t RhYield(void)
{
    return pal_thread_yield() ? 1 : 0;
}

RUNTIME_BASE_API void RhSpinWait(int32_t iterations)
{
    for (int32_t i = 0; i < iterations; i++)
        rb_cpu_relax();
}

/* --- Thread statics and exit ------------------------------------------------------------- */

RUNTIME_BASE_API void **RhGetThreadStaticStorage(void)
{
    rb_thread *thread = rb_thread_current();
    return thread != NULL ? &thread->static_storage : NULL;
}

RUNTIME_BASE_API void RhRegisterInlinedThreadStaticRoot(void **root, RhTypeManagerHandle type_manager)
{
    (void)type_manager;
    if (root == NULL)
        return;
    rb_thread *thread = attached_thread("RhRegisterInlinedThreadStaticRoot");
    rb_lock_acquire(&rb_gc_lock);
    bool full = thread->inlined_root_count == sizeof thread->inlined_roots / sizeof thread->inlined_roots[0];
    if (!full)
        thread->inlined_roots[thread->inlined_root_count++] = root;
    rb_lock_release(&rb_gc_lock);
    if (full)
        rb_fail_fast("RhRegisterInlinedThreadStaticRoot: too many thread-static roots on one thread");
}

RUNTIME_BASE_API void RhSetThreadExitCallback(void (*callback)(void))
{
    atomic_store(&exit_callback, callback);
}

/* --- Transitions ------------------------------------------------------------------------- */

RUNTIME_BASE_API void RhpPInvoke(RhPInvokeTransitionFrame *frame)
{
    rb_thread *thread = attached_thread("RhpPInvoke");
    frame->thread = thread;
    frame->return_address = __builtin_return_address(0);
    frame->frame_pointer = __builtin_frame_address(0);
    thread->transition_frame = frame;
    thread->preemptive = 1;
}

RUNTIME_BASE_API void RhpPInvokeReturn(RhPInvokeTransitionFrame *frame)
{
    rb_thread *thread = frame->thread;
    if (thread != NULL) {
        thread->transition_frame = NULL;
        thread->preemptive = 0;
    }
    rb_gc_wait_while_trapped();
}

RUNTIME_BASE_API void RhpReversePInvoke(RhReversePInvokeFrame *frame)
{
    rb_initialize_for_reverse_pinvoke();
    rb_thread *thread = attached_thread("RhpReversePInvoke");
    frame->saved_thread = thread;
    frame->saved_pinvoke_frame = thread->transition_frame;
    thread->transition_frame = NULL;
    thread->preemptive = 0;
    rb_gc_wait_while_trapped();
}

RUNTIME_BASE_API void RhpReversePInvokeReturn(RhReversePInvokeFrame *frame)
{
    rb_thread *thread = frame->saved_thread;
    if (thread == NULL)
        return;
    thread->transition_frame = frame->saved_pinvoke_frame;
    thread->preemptive = frame->saved_pinvoke_frame != NULL;
}

/* --- Waiting ----------------------------------------------------------------------------- */

static bool try_acquire(RhWaitHandle *handle)
{
    if (handle->auto_reset) {
        int32_t signaled = 1;
        return __atomic_compare_exchange_n(&handle->signaled, &signaled, 0, false, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE);
    }
    return __atomic_load_n(&handle->signaled, __ATOMIC_ACQUIRE) != 0;
}

RUNTIME_BASE_API int32_t RhCompatibleReentrantWaitAny(int32_t alertable, int32_t timeout_ms, int32_t count,
                                                      void **handles)
{
    (void)alertable; /* no APCs on this platform */
    if (handles == NULL || count <= 0 || count > 64 || timeout_ms < RH_WAIT_INFINITE)
        return RH_WAIT_FAILED;
    for (int32_t i = 0; i < count; i++) {
        if (handles[i] == NULL)
            return RH_WAIT_FAILED;
    }
    uint64_t start = timeout_ms > 0 ? pal_monotonic_ms() : 0;
    for (unsigned spins = 0;; spins++) {
        for (int32_t i = 0; i < count; i++) {
            if (try_acquire(handles[i]))
                return i;
        }
        if (timeout_ms == 0 || (timeout_ms > 0 && pal_monotonic_ms() - start >= (uint64_t)timeout_ms))
            return RH_WAIT_TIMEOUT;
        if (spins < 64)
            rb_cpu_relax();
        else
            pal_thread_yield();
    }
}

/* --- Stack probe ------------------------------------------------------------------------- */

#define PROBE_STEP 4096

#if defined(__GNUC__) || defined(__clang__)
__attribute__((noinline))
#endif
static size_t probe_pages(size_t remaining)
{
    volatile unsigned char page[PROBE_STEP];
    page[0] = 0;
    page[PROBE_STEP - 1] = 0;
    size_t below = remaining > PROBE_STEP ? probe_pages(remaining - PROBE_STEP) : 0;
    return below + page[0] + page[PROBE_STEP - 1]; /* used after the call: no tail call */
}

RUNTIME_BASE_API void RhpStackProbe(size_t size)
{
    (void)probe_pages(size);
}
