/*
 * init.c - start-up, the runtime's identity, and "one runtime per process".
 *
 * Every copy of the library has its own RhRuntimeStatus, reachable by debuggers and by other
 * copies through the exported DotNetRuntimeDebugHeader. Initialization claims the status
 * (UNINITIALIZED -> INITIALIZING), then looks for other loaded copies of the library: if one
 * of them is initialized, or is initializing and wins the tie-break, this copy refuses.
 *
 * The tie-break for two copies initializing at the same moment: each claims first and checks
 * second (sequentially consistent), so at least one of them sees the other. A copy that sees
 * a competitor with a higher status address waits for it to finish; one that sees a lower
 * address refuses. The copy with the highest address never waits, so nobody waits forever,
 * and exactly one copy ends up initialized.
 *
 * The static build (RUNTIME_BASE_STATIC) is a private copy linked into one app or plugin, as stock
 * NativeAOT does: its exports are hidden, other copies cannot find it nor it them, and the rule
 * does not apply. Each private copy initializes its own heap and thread tracking.
 */
#include <stdio.h>
#include <string.h>

#include "runtime.h"

#ifndef RUNTIME_BASE_VERSION
#  error "RUNTIME_BASE_VERSION is not defined: compile with -DRUNTIME_BASE_VERSION=\"10.0.0-ref.1\" (the contents of reference/runtime/VERSION as a C string literal, quotes included)"
#endif

static const char rb_version_string[] = RUNTIME_BASE_VERSION;

static RhRuntimeStatus rb_status;

RUNTIME_BASE_API const RhDebugHeader DotNetRuntimeDebugHeader = {
    { 'D', 'N', 'D', 'H' },
    RH_DEBUG_HEADER_MAJOR,
    RH_DEBUG_HEADER_MINOR,
    0,
    (uint32_t)sizeof(RhDebugHeader),
    rb_version_string,
    &rb_status,
};

RUNTIME_BASE_API int32_t g_cpuFeatures = 0;

typedef int32_t (*rb_init_callback)(void);
static _Atomic(rb_init_callback) rb_initialization_callback;

static uint32_t rb_state(const RhRuntimeStatus *status)
{
    return __atomic_load_n(&status->state, __ATOMIC_SEQ_CST);
}

static void rb_set_state(uint32_t state)
{
    __atomic_store_n(&rb_status.state, state, __ATOMIC_SEQ_CST);
}

/* Any address inside this copy of the library: identifies it among loaded modules. */
static const void *rb_self_address(void)
{
    return &rb_status;
}

bool rb_is_initialized(void)
{
    return rb_state(&rb_status) == RH_RUNTIME_INITIALIZED;
}

void rb_count_event(unsigned index)
{
    if (index < sizeof rb_status.event_counts / sizeof rb_status.event_counts[0])
        __atomic_fetch_add(&rb_status.event_counts[index], 1, __ATOMIC_RELAXED);
}

/* --- Other copies (the shared library only) ---------------------------------------------- */

#if !defined(RUNTIME_BASE_STATIC)

typedef struct rb_copy_scan {
    const RhRuntimeStatus *own;
    char other[4096];
    bool refuse;
} rb_copy_scan;

static const RhRuntimeStatus *rb_status_of(const void *header_address)
{
    const RhDebugHeader *header = header_address;
    if (header == NULL || memcmp(header->cookie, "DNDH", 4) != 0 || header->major_version != RH_DEBUG_HEADER_MAJOR ||
        header->header_size < sizeof(RhDebugHeader))
        return NULL;
    return header->status;
}

static int rb_check_copy(void *context, const char *path, const void *header)
{
    rb_copy_scan *scan = context;
    const RhRuntimeStatus *status = rb_status_of(header);
    bool refuse = true; /* a copy whose state cannot be read is assumed to be running */
    while (status != NULL) {
        uint32_t state = rb_state(status);
        if (state == RH_RUNTIME_INITIALIZING && (uintptr_t)scan->own < (uintptr_t)status) {
            pal_thread_yield(); /* it will refuse (it sees us) or finish first */
            continue;
        }
        refuse = state == RH_RUNTIME_INITIALIZED || state == RH_RUNTIME_INITIALIZING;
        break;
    }
    if (!refuse)
        return 0;
    scan->refuse = true;
    snprintf(scan->other, sizeof scan->other, "%s", path);
    return 1;
}

/* True if another shared copy is initialized or wins the tie-break; says so on stderr. */
static bool rb_refuse_for_other_copy(void)
{
    rb_copy_scan scan = { &rb_status, "", false };
    pal_for_each_other_copy(rb_self_address(), "InitializeRuntimeBase", "DotNetRuntimeDebugHeader", rb_check_copy,
                            &scan);
    if (!scan.refuse)
        return false;
    char own[4096];
    if (pal_module_path(rb_self_address(), own, sizeof own) == 0)
        snprintf(own, sizeof own, "%s", "(unknown path)");
    fprintf(stderr,
            "Runtime.Base: refusing to initialize %s: another copy is already loaded from %s "
            "(one runtime per process)\n",
            own, scan.other);
    return true;
}
#else
static bool rb_refuse_for_other_copy(void)
{
    return false; /* a private copy: other copies in the process are none of its business */
}
#endif

/* --- Initialization ---------------------------------------------------------------------- */

static uint64_t rb_fail_initialization(const char *what)
{
    char own[4096];
    if (pal_module_path(rb_self_address(), own, sizeof own) == 0)
        snprintf(own, sizeof own, "%s", "(unknown path)");
    fprintf(stderr, "Runtime.Base: cannot initialize %s: %s\n", own, what);
    rb_set_state(RH_RUNTIME_REFUSED);
    return 0;
}

uint64_t rb_initialize(void)
{
    uint32_t expected = RH_RUNTIME_UNINITIALIZED;
    if (!__atomic_compare_exchange_n(&rb_status.state, &expected, RH_RUNTIME_INITIALIZING, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST)) {
        while (expected == RH_RUNTIME_INITIALIZING) {
            pal_thread_yield();
            expected = rb_state(&rb_status);
        }
        return expected == RH_RUNTIME_INITIALIZED ? __atomic_load_n(&rb_status.instance_id, __ATOMIC_ACQUIRE) : 0;
    }

    if (rb_refuse_for_other_copy()) {
        rb_set_state(RH_RUNTIME_REFUSED);
        return 0;
    }

    if (rb_heap_init() != 0)
        return rb_fail_initialization("cannot reserve the GC heap");
    if (rb_threads_init() != 0)
        return rb_fail_initialization("cannot set up thread tracking");
    uint64_t id = 0;
    while (id == 0) {
        if (pal_random_bytes(&id, sizeof id) != 0)
            return rb_fail_initialization("no random bytes for the instance id");
    }
    /* The runtime is never unloaded: threads and handles outlive any dlclose. */
    pal_pin_module(rb_self_address());
    /* The only write through an exported name, and only by the copy that won: a program
     * that copy-relocated g_cpuFeatures reads it through that same name. */
    g_cpuFeatures = pal_cpu_features();
    __atomic_store_n(&rb_status.instance_id, id, __ATOMIC_RELEASE);
    rb_set_state(RH_RUNTIME_INITIALIZED);
    return id;
}

bool rb_ensure_initialized(void)
{
    return RB_LIKELY(rb_is_initialized()) || rb_initialize() != 0;
}

/* First reverse P/Invoke into an uninitialized runtime: the registered callback (once,
 * other threads wait for it) or the runtime's own initialization. */
void rb_initialize_for_reverse_pinvoke(void)
{
    static atomic_uint callback_state;     /* 0 not run, 1 running, 2 done */
    static _Atomic uint64_t callback_thread;
    if (RB_LIKELY(rb_is_initialized()))
        return;
    rb_init_callback callback = atomic_load(&rb_initialization_callback);
    if (callback != NULL) {
        unsigned expected = 0;
        if (atomic_compare_exchange_strong(&callback_state, &expected, 1)) {
            atomic_store(&callback_thread, pal_current_thread_id());
            int32_t result = callback();
            atomic_store(&callback_state, 2);
            if (result != 0)
                rb_fail_fast("the runtime initialization callback failed");
        } else if (atomic_load(&callback_thread) != pal_current_thread_id()) {
            /* The callback's own thread may re-enter while it runs; others wait for it. */
            while (atomic_load(&callback_state) == 1)
                pal_thread_yield();
        }
    }
    if (!rb_ensure_initialized())
        rb_fail_fast("the runtime could not be initialized");
}

/* --- Exports ----------------------------------------------------------------------------- */

/* The fork's contract (src/coreclr/nativeaot/Bootstrap/runtimebase.cpp @ 7db3638e35f1): "Returns
 * non-zero on failure"; the runtime registers its own module once it is up, as the fork's does. */
RUNTIME_BASE_API int InitializeRuntimeBase(void)
{
    if (!rb_ensure_initialized())
        return -1;
    void *own_module = pal_module_base(rb_self_address());
    return RhRegisterOSModule(own_module, NULL, 0, NULL, 0, NULL, 0) ? 0 : -1;
}

RUNTIME_BASE_API int32_t RhInitialize(int32_t is_dll)
{
    (void)is_dll;
    return rb_initialize() != 0;
}

RUNTIME_BASE_API void RhSetRuntimeInitializationCallback(int32_t (*callback)(void))
{
    atomic_store(&rb_initialization_callback, callback);
}

RUNTIME_BASE_API const char *RhGetRuntimeVersion(void)
{
    return rb_version_string;
}

RUNTIME_BASE_API size_t RhGetModuleFileName(const void *module, char *buffer, size_t buffer_size)
{
    return pal_module_path(module != NULL ? module : rb_self_address(), buffer, buffer_size);
}

RUNTIME_BASE_API uint32_t RhGetKnobValues(const char *const **keys, const char *const **values)
{
    static const char *const knob_keys[] = {
        "System.GC.Server",
        "System.GC.Concurrent",
        "System.GC.RetainVM",
        "Runtime.Base.Version",
        "Runtime.Base.Reference",
    };
    static const char *const knob_values[] = {
        "false",
        "false",
        "false",
        rb_version_string,
        "true",
    };
    if (keys != NULL)
        *keys = knob_keys;
    if (values != NULL)
        *values = knob_values;
    return (uint32_t)(sizeof knob_keys / sizeof knob_keys[0]);
}
