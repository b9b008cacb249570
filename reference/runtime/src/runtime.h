/*
 * runtime.h - private declarations shared by the runtime's source files.
 *
 * Rule: runtime code never calls or takes the address of its own exported functions or
 * data by their exported names. In a second copy of the library, loaded into a process that
 * already has one, those names bind to the *first* copy (ELF symbol interposition), so each
 * export is a thin entry point over internal (hidden) functions and state.
 */
#ifndef RUNTIME_BASE_RUNTIME_H
#define RUNTIME_BASE_RUNTIME_H

#ifndef RUNTIME_BASE_BUILDING
#  define RUNTIME_BASE_BUILDING 1
#endif

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "RuntimeBase.h"
#include "pal.h"

#define RB_INTERNAL PAL_INTERNAL

#if defined(__GNUC__) || defined(__clang__)
#  define RB_NORETURN __attribute__((noreturn))
#  define RB_LIKELY(x) __builtin_expect(!!(x), 1)
#else
#  define RB_NORETURN _Noreturn
#  define RB_LIKELY(x) (x)
#endif

/* --- Locks: a test-and-test-and-set lock that yields the processor while it waits. ------ */

typedef struct rb_lock {
    atomic_int held;
} rb_lock;

#define RB_LOCK_INIT { 0 }

static inline void rb_cpu_relax(void)
{
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_ia32_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("yield" ::: "memory");
#else
    atomic_signal_fence(memory_order_seq_cst);
#endif
}

static inline void rb_lock_acquire(rb_lock *lock)
{
    for (unsigned spins = 0;; spins++) {
        if (atomic_load_explicit(&lock->held, memory_order_relaxed) == 0 &&
            atomic_exchange_explicit(&lock->held, 1, memory_order_acquire) == 0)
            return;
        if (spins < 64)
            rb_cpu_relax();
        else
            pal_thread_yield();
    }
}

static inline void rb_lock_release(rb_lock *lock)
{
    atomic_store_explicit(&lock->held, 0, memory_order_release);
}

/* --- init.c ------------------------------------------------------------------------------ */

/* Initialize once; returns the instance id or 0 (refused or failed). */
RB_INTERNAL uint64_t rb_initialize(void);
/* True once this copy of the runtime is initialized; initializes it lazily if needed. */
RB_INTERNAL bool rb_ensure_initialized(void);
RB_INTERNAL bool rb_is_initialized(void);
/* Reverse P/Invoke into an uninitialized runtime: run the initialization callback or
 * initialize; fails fast if the runtime cannot start. */
RB_INTERNAL void rb_initialize_for_reverse_pinvoke(void);
RB_INTERNAL void rb_count_event(unsigned index);

/* --- diag.c ------------------------------------------------------------------------------ */

/* Print "Runtime.Base: <message>" to stderr, keep it in the crash info buffer, abort. */
RB_INTERNAL RB_NORETURN void rb_fail_fast(const char *message);

/* --- gc.c -------------------------------------------------------------------------------- */

/* The GC lock guards the heap, the thread list and every thread's roots. */
RB_INTERNAL extern rb_lock rb_gc_lock;
RB_INTERNAL int rb_heap_init(void);
RB_INTERNAL void rb_gc_wait_while_trapped(void);

/* --- handles.c --------------------------------------------------------------------------- */

typedef struct rb_handle {
    _Atomic(void *) target;     /* first word: a handle points at its target, as in the real runtime */
    _Atomic(void *) secondary;  /* dependent handles */
    struct rb_handle *next_free;
    int32_t type;               /* RH_HANDLE_*, or -1 when free */
} rb_handle;

/* Handle table lock: taken by every change to the table and for a whole collection. */
RB_INTERNAL void rb_handles_lock(void);
RB_INTERNAL void rb_handles_unlock(void);
/* Calls visit(handle, context) for every allocated handle; the caller holds the lock. */
RB_INTERNAL void rb_handles_visit_locked(void (*visit)(rb_handle *handle, void *context), void *context);

/* --- threads.c --------------------------------------------------------------------------- */

typedef struct rb_thread {
    struct rb_thread *next;
    struct rb_thread *prev;
    uint64_t os_id;
    void *last_allocated;              /* a root until the thread allocates again */
    RhGcFrameRegistration *frames;     /* RhRegisterForGCReporting, innermost first */
    void **inlined_roots[16];          /* RhRegisterInlinedThreadStaticRoot */
    uint32_t inlined_root_count;
    void *static_storage;              /* RhGetThreadStaticStorage */
    RhPInvokeTransitionFrame *transition_frame;
    int preemptive;                    /* in native code after RhpPInvoke */
} rb_thread;

/* Every runtime-attached thread; guarded by rb_gc_lock. */
RB_INTERNAL extern rb_thread *rb_threads;
RB_INTERNAL int rb_threads_init(void);
/* The calling thread's record, attaching the thread on first use; NULL if out of memory. */
RB_INTERNAL rb_thread *rb_thread_current(void);

#endif /* RUNTIME_BASE_RUNTIME_H */
