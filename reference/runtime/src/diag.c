/*
 * diag.c - fail-fast, exceptions, debugger support and event source hooks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

/* Crash info for debuggers and dump readers: the fail-fast reason as text, NUL-terminated. */
static uint8_t rb_crash_info[1024];

void rb_fail_fast(const char *message)
{
    snprintf((char *)rb_crash_info, sizeof rb_crash_info, "Runtime.Base fail fast: %s", message);
    fprintf(stderr, "Runtime.Base: %s\n", message);
    fflush(stderr);
    abort();
}

RUNTIME_BASE_API void RhpFallbackFailFast(void)
{
    rb_fail_fast("fallback fail fast: unrecoverable error in the runtime");
}

RUNTIME_BASE_API void RhpThrowEx(void *exception)
{
    char message[512];
    rb_count_event(0);
    if (exception == NULL) {
        snprintf(message, sizeof message, "%s", "unhandled exception: a null exception object was thrown");
    } else {
        const RhMethodTable *type = ((const RhObject *)exception)->method_table;
        const char *name = type != NULL && type->name != NULL ? type->name : "(unnamed type)";
        snprintf(message, sizeof message, "unhandled exception of type %s (the reference runtime has no managed handlers)",
                 name);
    }
    rb_fail_fast(message);
}

RUNTIME_BASE_API void RhpRethrow(void)
{
    rb_fail_fast("rethrow outside of an exception handler");
}

RUNTIME_BASE_API int32_t DebugDebugger_IsNativeDebuggerAttached(void)
{
    return pal_debugger_attached() ? 1 : 0;
}

RUNTIME_BASE_API void RhDebugBreak(void)
{
    if (pal_debugger_attached())
        pal_debug_break();
}

RUNTIME_BASE_API uint8_t *RhGetCrashInfoBuffer(int32_t *max_size)
{
    if (max_size != NULL)
        *max_size = (int32_t)sizeof rb_crash_info;
    return rb_crash_info;
}

/* --- NativeRuntimeEventSource: counted in the runtime status (RhRuntimeStatus.event_counts),
 * where debuggers and tests can read them. ------------------------------------------------- */

RUNTIME_BASE_API void NativeRuntimeEventSource_LogExceptionThrown(const uint16_t *type_name, const uint16_t *message,
                                                                  void *faulting_ip, int32_t hresult)
{
    (void)type_name;
    (void)message;
    (void)faulting_ip;
    (void)hresult;
    rb_count_event(0);
}

RUNTIME_BASE_API void NativeRuntimeEventSource_LogContentionLockCreated(intptr_t lock_id, intptr_t object_id,
                                                                        uint16_t clr_instance_id)
{
    (void)lock_id;
    (void)object_id;
    (void)clr_instance_id;
    rb_count_event(1);
}

RUNTIME_BASE_API void NativeRuntimeEventSource_LogContentionStart(uint8_t flags, uint16_t clr_instance_id,
                                                                  intptr_t lock_id, intptr_t object_id,
                                                                  uint64_t owner_thread_id)
{
    (void)flags;
    (void)clr_instance_id;
    (void)lock_id;
    (void)object_id;
    (void)owner_thread_id;
    rb_count_event(2);
}

RUNTIME_BASE_API void NativeRuntimeEventSource_LogContentionStop(uint8_t flags, uint16_t clr_instance_id,
                                                                 double duration_ns)
{
    (void)flags;
    (void)clr_instance_id;
    (void)duration_ns;
    rb_count_event(3);
}

RUNTIME_BASE_API void NativeRuntimeEventSource_LogWaitHandleWaitStart(uint8_t wait_source, intptr_t object_id,
                                                                      uint16_t clr_instance_id)
{
    (void)wait_source;
    (void)object_id;
    (void)clr_instance_id;
    rb_count_event(4);
}

RUNTIME_BASE_API void NativeRuntimeEventSource_LogWaitHandleWaitStop(uint16_t clr_instance_id)
{
    (void)clr_instance_id;
    rb_count_event(5);
}

/* --- Conversions ------------------------------------------------------------------------- */

RUNTIME_BASE_API int32_t RhpDbl2Int(double value)
{
    if (value != value)
        return 0;
    if (value <= -2147483648.0)
        return INT32_MIN;
    if (value >= 2147483647.0)
        return INT32_MAX;
    return (int32_t)value;
}

RUNTIME_BASE_API int64_t RhpDbl2Lng(double value)
{
    if (value != value)
        return 0;
    if (value <= -9223372036854775808.0)
        return INT64_MIN;
    if (value >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    return (int64_t)value;
}
