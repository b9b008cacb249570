/*
 * RuntimeBase.h - the public interface of Runtime.Base, the shared NativeAOT runtime
 * (libRuntime.Base.so on Linux, Runtime.Base.dll on Windows).
 *
 * This is the reference runtime's header: a small C library with the exact export surface
 * of the real one (packaging/runtime-base-exports.txt). Apps compile against this header
 * and link against the shared library; they never contain a copy of the runtime.
 *
 * Conventions
 *  - Call InitializeRuntimeBase() first. Allocation and reverse P/Invoke also initialize
 *    lazily. Only one copy of the runtime may be initialized per process: a second copy
 *    loaded from another path refuses (InitializeRuntimeBase returns non-zero, message on stderr).
 *  - Objects are blocks in the runtime's GC heap starting with a pointer to their
 *    RhMethodTable. Allocation functions return NULL when the heap is exhausted (the real
 *    runtime throws OutOfMemoryException instead).
 *  - The heap is collected when an allocation segment fills up (generational, non-moving).
 *    Roots are: strong and pinned handles, dependent handles whose primary is alive, GC
 *    frames registered with RhRegisterForGCReporting, thread-static storage and registered
 *    thread-static roots, and the last object each thread allocated. Objects whose type has
 *    RH_MT_FLAG_CONTAINS_POINTERS are scanned for references (conservatively: any word
 *    holding the start of an object). Store references into heap objects through the write
 *    barriers (RhpAssignRef family): that is how an older object's references to younger
 *    ones are found. A pointer kept only in a C local is not a root: protect it with a
 *    handle or a GC frame before the next allocation.
 *  - Booleans are int32_t (0 = false, non-zero = true).
 *
 * Only <stdint.h> and <stddef.h> are needed.
 */
#ifndef RUNTIME_BASE_H
#define RUNTIME_BASE_H

#include <stddef.h>
#include <stdint.h>

/* RUNTIME_BASE_API marks every export. Define RUNTIME_BASE_BUILDING when building the
 * runtime itself (the runtime's private header does that too). */
#if defined(_WIN32) || defined(__CYGWIN__)
#  if defined(RUNTIME_BASE_BUILDING)
#    define RUNTIME_BASE_API __declspec(dllexport)
#  else
#    define RUNTIME_BASE_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) || defined(__clang__)
#  define RUNTIME_BASE_API __attribute__((visibility("default")))
#else
#  define RUNTIME_BASE_API
#endif

/* RUNTIME_BASE_STATIC: a private copy of the runtime linked into one binary, as stock NativeAOT
 * links its runtime into every app (the "self-contained" build). Nothing is exported or imported,
 * so private copies in one process never see or interpose on each other. Define it both when
 * building the static library and when compiling the code that links it. */
#if defined(RUNTIME_BASE_STATIC)
#  undef RUNTIME_BASE_API
#  if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32)
#    define RUNTIME_BASE_API __attribute__((visibility("hidden")))
#  else
#    define RUNTIME_BASE_API
#  endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#  define RUNTIME_BASE_NORETURN __attribute__((noreturn))
#elif defined(_MSC_VER)
#  define RUNTIME_BASE_NORETURN __declspec(noreturn)
#else
#  define RUNTIME_BASE_NORETURN
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------------
 * Types
 * ---------------------------------------------------------------------------------------- */

typedef struct RhMethodTable RhMethodTable;

/* Code address (the target of an interface dispatch, a thunk, ...). */
typedef void (*RhCode)(void);

/* One interface slot implemented by a type. */
typedef struct RhDispatchMapEntry {
    const RhMethodTable *interface_type;
    uint32_t slot;
    uint32_t reserved;
    RhCode target;
} RhDispatchMapEntry;

/* RhMethodTable.flags */
#define RH_MT_FLAG_HAS_FINALIZER     0x0001u /* instances are finalizable (see RhpNewFinalizable) */
#define RH_MT_FLAG_CONTAINS_POINTERS 0x0002u /* instances hold object references */
#define RH_MT_FLAG_IS_ARRAY          0x0004u
#define RH_MT_FLAG_IS_STRING         0x0008u
#define RH_MT_FLAG_IS_INTERFACE      0x0010u

/* A type's "method table": every object starts with a pointer to one. Apps define their
 * own (static const is fine). */
struct RhMethodTable {
    uint16_t component_size;   /* arrays and strings: bytes per element; else 0 */
    uint16_t flags;            /* RH_MT_FLAG_* */
    uint32_t base_size;        /* bytes of an instance including the method table pointer;
                                  arrays and strings: bytes before the first element */
    const RhMethodTable *base_type;           /* or NULL */
    const char *name;                         /* diagnostic name (UTF-8) or NULL */
    void (*finalizer)(void *object);          /* run once the object is unreachable, or NULL */
    const RhDispatchMapEntry *dispatch_map;   /* interface slots this type implements */
    uint32_t dispatch_map_count;
    uint32_t gc_series_count;                 /* reference series in the type's GC descriptor */
};

/* Every object starts with its method table pointer. */
typedef struct RhObject {
    const RhMethodTable *method_table;
} RhObject;

/* Arrays: header, then `length` elements of component_size bytes at RH_ARRAY_DATA(). */
typedef struct RhArray {
    const RhMethodTable *method_table;
    uint32_t length;
    uint32_t reserved;
} RhArray;

/* Strings: header, then `length` UTF-16 code units and a terminating 0 at RH_STRING_CHARS(). */
typedef struct RhString {
    const RhMethodTable *method_table;
    uint32_t length;
} RhString;

#define RH_ARRAY_DATA(array) ((void *)((unsigned char *)(array) + sizeof(RhArray)))
#define RH_STRING_CHARS(string) \
    ((uint16_t *)((unsigned char *)(string) + offsetof(RhString, length) + sizeof(uint32_t)))

/* Allocation flags for RhAllocateNewObject / RhAllocateNewArray (the GC_ALLOC_* values). */
#define RH_ALLOC_FINALIZE          0x01u
#define RH_ALLOC_CONTAINS_REF      0x02u
#define RH_ALLOC_ZEROING_OPTIONAL  0x10u
#define RH_ALLOC_LARGE_OBJECT_HEAP 0x20u
#define RH_ALLOC_PINNED_OBJECT_HEAP 0x40u

/* Handle types (the GCHandleType values, plus the runtime's dependent handle). */
#define RH_HANDLE_WEAK                    0
#define RH_HANDLE_WEAK_TRACK_RESURRECTION 1
#define RH_HANDLE_NORMAL                  2
#define RH_HANDLE_PINNED                  3
#define RH_HANDLE_DEPENDENT               6

/* An object handle: points at a slot whose first word is the target object. */
typedef struct RhHandleSlot *RhHandle;

/* Collection info (RhGetMemoryInfo). kind: 0 any, 1 ephemeral (gen 0/1), 2 full (gen 2);
 * the last_* fields describe the last collection of that kind. */
typedef struct RhGcMemoryInfo {
    uint64_t collection_count;         /* collections so far (all kinds) */
    uint64_t gen_collection_count[3];  /* collections of each generation */
    uint64_t last_index;               /* number of the last collection of `kind` (0: none) */
    uint64_t last_generation;          /* generation it collected */
    uint64_t last_promoted_bytes;      /* bytes it kept */
    uint64_t last_reclaimed_bytes;     /* bytes it freed */
    uint64_t heap_size_bytes;          /* bytes currently held by objects */
    uint64_t committed_bytes;
    uint64_t reserved_bytes;
    uint64_t total_allocated_bytes;    /* since start */
    uint64_t total_allocated_objects;
    uint64_t finalization_pending;     /* registered finalizable objects not yet finalized */
    uint64_t finalizers_run;
    uint64_t frozen_segment_count;
} RhGcMemoryInfo;

/* An explicit set of roots for the current thread (LIFO, see RhRegisterForGCReporting). */
typedef struct RhGcFrameRegistration {
    struct RhGcFrameRegistration *next;   /* set by the runtime */
    void *thread;                         /* set by the runtime */
    void **object_refs;                   /* the slots holding object references */
    uint32_t count;
    int32_t maybe_interior;               /* slots may point inside objects */
} RhGcFrameRegistration;

typedef struct RhPInvokeTransitionFrame {
    void *return_address;
    void *frame_pointer;
    void *thread;                         /* set by RhpPInvoke */
    uint32_t flags;
    uint32_t reserved;
} RhPInvokeTransitionFrame;

typedef struct RhReversePInvokeFrame {
    RhPInvokeTransitionFrame *saved_pinvoke_frame;
    void *saved_thread;
} RhReversePInvokeFrame;

/* Module header handed to RhpCreateTypeManager (the ReadyToRun-style header ILC emits). */
#define RH_MODULE_HEADER_SIGNATURE 0x00525452u /* "RTR" */
#define RH_SECTION_BLOB_INDEX 201             /* uint32 offsets into the data; one more than blobs */
#define RH_SECTION_BLOB_DATA  202

typedef struct RhModuleSection {
    int32_t section_id;
    uint32_t flags;
    const void *start;
    uint32_t size;
    uint32_t reserved;
} RhModuleSection;

typedef struct RhModuleHeader {
    uint32_t signature;                   /* RH_MODULE_HEADER_SIGNATURE */
    uint16_t major_version;
    uint16_t minor_version;
    uint32_t flags;
    uint32_t section_count;
    const RhModuleSection *sections;
} RhModuleHeader;

typedef struct RhTypeManager *RhTypeManagerHandle;

/* Interface dispatch cell (RhNewInterfaceDispatchCell). */
typedef struct RhInterfaceDispatchCell {
    RhCode stub;                          /* set by the runtime; resolve with RhpInitialDynamicInterfaceDispatch */
    const RhMethodTable *interface_type;
    uint32_t slot;
    uint32_t reserved;
} RhInterfaceDispatchCell;

/* A waitable flag for RhCompatibleReentrantWaitAny. */
typedef struct RhWaitHandle {
    int32_t signaled;                     /* set to 1 (atomically) to signal */
    int32_t auto_reset;                   /* a successful wait resets it to 0 */
} RhWaitHandle;

#define RH_WAIT_TIMEOUT  0x102
#define RH_WAIT_FAILED   (-1)
#define RH_WAIT_INFINITE (-1)

/* Runtime state as seen by debuggers and by other copies of the runtime. */
#define RH_RUNTIME_UNINITIALIZED 0u
#define RH_RUNTIME_INITIALIZING  1u
#define RH_RUNTIME_INITIALIZED   2u
#define RH_RUNTIME_REFUSED       3u

typedef struct RhRuntimeStatus {
    uint32_t state;                       /* RH_RUNTIME_* (access atomically) */
    uint32_t reserved;
    uint64_t instance_id;                 /* nonzero once initialized */
    uint64_t event_counts[6];             /* NativeRuntimeEventSource_* calls, in header order */
} RhRuntimeStatus;

#define RH_DEBUG_HEADER_MAJOR 1
#define RH_DEBUG_HEADER_MINOR 0

typedef struct RhDebugHeader {
    uint8_t cookie[4];                    /* 'D', 'N', 'D', 'H' */
    uint16_t major_version;               /* RH_DEBUG_HEADER_MAJOR */
    uint16_t minor_version;
    uint32_t flags;
    uint32_t header_size;                 /* sizeof(RhDebugHeader) */
    const char *runtime_version;
    const RhRuntimeStatus *status;        /* live state of this copy of the runtime */
} RhDebugHeader;

/* g_cpuFeatures bits (valid once the runtime is initialized). */
#define RH_CPU_X86_SSE42   0x0001
#define RH_CPU_X86_AVX     0x0002
#define RH_CPU_X86_AVX2    0x0004
#define RH_CPU_X86_AVX512F 0x0008
#define RH_CPU_X86_POPCNT  0x0010
#define RH_CPU_X86_BMI2    0x0020
#define RH_CPU_ARM64_ADVSIMD 0x0100
#define RH_CPU_ARM64_AES     0x0200
#define RH_CPU_ARM64_CRC32   0x0400
#define RH_CPU_ARM64_ATOMICS 0x0800

/* ------------------------------------------------------------------------------------------
 * Data exports
 * ---------------------------------------------------------------------------------------- */

extern RUNTIME_BASE_API const RhDebugHeader DotNetRuntimeDebugHeader;
extern RUNTIME_BASE_API int32_t g_cpuFeatures;

/* ------------------------------------------------------------------------------------------
 * Start-up, identity
 * ---------------------------------------------------------------------------------------- */

/* Initialize the runtime (idempotent, thread-safe) and register its own module. Returns 0, or
 * non-zero if the runtime cannot start, e.g. because another copy of it is already initialized in
 * this process: the fork's contract (src/coreclr/nativeaot/Bootstrap/runtimebase.cpp @ 7db3638e35f1).
 * An app then registers its own module with RhRegisterOSModule, as the fork's bootstrapper does
 * (Bootstrap/main.cpp @ 7db3638e35f1: `if (InitializeRuntimeBase()) return -1;`). This runtime
 * instance's id is DotNetRuntimeDebugHeader.status->instance_id. */
RUNTIME_BASE_API int InitializeRuntimeBase(void);
/* Same, for runtime-driven start-up: returns 1 on success, 0 on failure. */
RUNTIME_BASE_API int32_t RhInitialize(int32_t is_dll);
/* Called (once) on the first reverse P/Invoke while the runtime is not initialized; it must
 * initialize the runtime and return 0. */
RUNTIME_BASE_API void RhSetRuntimeInitializationCallback(int32_t (*callback)(void));
/* The runtime version, e.g. "10.0.0-ref.1". */
RUNTIME_BASE_API const char *RhGetRuntimeVersion(void);
/* Absolute path of a loaded module (NULL: the runtime's own). Writes at most buffer_size
 * bytes including the terminating NUL; returns the full length, 0 on failure. */
RUNTIME_BASE_API size_t RhGetModuleFileName(const void *module, char *buffer, size_t buffer_size);

/* ------------------------------------------------------------------------------------------
 * Allocation and the GC
 * ---------------------------------------------------------------------------------------- */

RUNTIME_BASE_API void *RhpNewFast(const RhMethodTable *type);
RUNTIME_BASE_API void *RhpNewFinalizable(const RhMethodTable *type);
RUNTIME_BASE_API void *RhpNewArray(const RhMethodTable *array_type, int32_t length);
/* type NULL: the runtime's built-in string type. */
RUNTIME_BASE_API RhString *RhNewString(const RhMethodTable *string_type, int32_t length);
RUNTIME_BASE_API void RhAllocateNewObject(const RhMethodTable *type, uint32_t flags, void **result);
RUNTIME_BASE_API void RhAllocateNewArray(const RhMethodTable *array_type, uint32_t length, uint32_t flags,
                                         void **result);
/* 0..2 for heap objects, INT32_MAX for objects in frozen segments, -1 otherwise. */
RUNTIME_BASE_API int32_t RhGetGeneration(const void *object);
RUNTIME_BASE_API void RhGetMemoryInfo(RhGcMemoryInfo *info, int32_t kind);
/* Bytes of the GC descriptor of a type (0 if its instances hold no references). */
RUNTIME_BASE_API uint32_t RhGetGCDescSize(const RhMethodTable *type);
RUNTIME_BASE_API void RhSuppressFinalize(void *object);
RUNTIME_BASE_API int32_t RhReRegisterForFinalize(void *object);
RUNTIME_BASE_API void RhRegisterForGCReporting(RhGcFrameRegistration *frame);
RUNTIME_BASE_API void RhUnregisterForGCReporting(RhGcFrameRegistration *frame);
/* Pre-built objects outside the GC heap. Returns a segment handle, or NULL. */
RUNTIME_BASE_API void *RhRegisterFrozenSegment(void *start, size_t allocated_size, size_t committed_size,
                                               size_t reserved_size);
RUNTIME_BASE_API void RhUpdateFrozenSegment(void *segment, void *allocated, void *committed);
RUNTIME_BASE_API void RhpGcPoll(void);
/* Nonzero while a collection asks threads to stop at their next poll. */
RUNTIME_BASE_API uint32_t RhpTrapThreads(void);

/* Write barriers: store `ref` into `*dst` and record the reference for the collector. */
RUNTIME_BASE_API void RhpAssignRef(void **dst, void *ref);
RUNTIME_BASE_API void RhpCheckedAssignRef(void **dst, void *ref);
RUNTIME_BASE_API void RhpByRefAssignRef(void **dst, void *const *src);
RUNTIME_BASE_API void RhBulkMoveWithWriteBarrier(void *dst, const void *src, size_t size);
/* Atomic exchanges with the write barrier; return the previous value. */
RUNTIME_BASE_API void *RhpCheckedLockCmpXchg(void **location, void *value, void *comparand);
RUNTIME_BASE_API void *RhpCheckedXchg(void **location, void *value);

/* ------------------------------------------------------------------------------------------
 * Handles
 * ---------------------------------------------------------------------------------------- */

/* Returns NULL for an unknown type or when out of memory. */
RUNTIME_BASE_API RhHandle RhpHandleAlloc(void *object, int32_t type);
RUNTIME_BASE_API RhHandle RhpHandleAllocDependent(void *primary, void *secondary);
RUNTIME_BASE_API void *RhHandleGet(RhHandle handle);
RUNTIME_BASE_API void *RhHandleGetDependent(RhHandle handle, void **secondary);
RUNTIME_BASE_API void RhHandleSet(RhHandle handle, void *object);
RUNTIME_BASE_API void RhHandleFree(RhHandle handle);

/* ------------------------------------------------------------------------------------------
 * Threads and transitions
 * ---------------------------------------------------------------------------------------- */

RUNTIME_BASE_API uint64_t RhCurrentOSThreadId(void);
RUNTIME_BASE_API int32_t RhGetProcessCpuCount(void);
RUNTIME_BASE_API int32_t RhYield(void);
RUNTIME_BASE_API void RhSpinWait(int32_t iterations);
/* The current thread's thread-static storage slot (a GC root). */
RUNTIME_BASE_API void **RhGetThreadStaticStorage(void);
RUNTIME_BASE_API void RhRegisterInlinedThreadStaticRoot(void **root, RhTypeManagerHandle type_manager);
/* Called on every runtime-attached thread as it exits. */
RUNTIME_BASE_API void RhSetThreadExitCallback(void (*callback)(void));
/* Waits until one of `handles` (RhWaitHandle *) is signaled. timeout_ms RH_WAIT_INFINITE
 * waits forever. Returns its index, RH_WAIT_TIMEOUT or RH_WAIT_FAILED. */
RUNTIME_BASE_API int32_t RhCompatibleReentrantWaitAny(int32_t alertable, int32_t timeout_ms, int32_t count,
                                                      void **handles);
RUNTIME_BASE_API void RhpPInvoke(RhPInvokeTransitionFrame *frame);
RUNTIME_BASE_API void RhpPInvokeReturn(RhPInvokeTransitionFrame *frame);
RUNTIME_BASE_API void RhpReversePInvoke(RhReversePInvokeFrame *frame);
RUNTIME_BASE_API void RhpReversePInvokeReturn(RhReversePInvokeFrame *frame);
/* Touches `size` bytes of stack below the caller, page by page. */
RUNTIME_BASE_API void RhpStackProbe(size_t size);

/* ------------------------------------------------------------------------------------------
 * Modules, type managers, code
 * ---------------------------------------------------------------------------------------- */

RUNTIME_BASE_API int32_t RhRegisterOSModule(void *os_module, void *code_start, uint32_t code_size,
                                            void *unboxing_stubs_start, uint32_t unboxing_stubs_size,
                                            void **classlib_functions, uint32_t classlib_function_count);
RUNTIME_BASE_API int32_t RhpRegisterOsModule(void *os_module);
/* Base address of the loaded module containing `address`, or NULL. */
RUNTIME_BASE_API void *PalGetModuleHandleFromPointer(const void *address);
/* The registered module whose code contains `address`, or NULL. */
RUNTIME_BASE_API void *RhGetOSModuleFromPointer(const void *address);
RUNTIME_BASE_API RhTypeManagerHandle RhpCreateTypeManager(void *os_module, const RhModuleHeader *header,
                                                          void **classlib_functions,
                                                          uint32_t classlib_function_count);
RUNTIME_BASE_API const void *RhpGetModuleSection(RhTypeManagerHandle type_manager, int32_t section_id,
                                                 int32_t *length);
RUNTIME_BASE_API int32_t RhFindBlob(RhTypeManagerHandle type_manager, uint32_t blob_id, const uint8_t **blob,
                                    uint32_t *blob_size);
/* Start of the function containing `ip`, or NULL. */
RUNTIME_BASE_API void *RhFindMethodStartAddress(const void *ip);
RUNTIME_BASE_API void *RhGetCodeTarget(void *code);
RUNTIME_BASE_API void *RhGetTargetOfUnboxingAndInstantiatingStub(void *code);
RUNTIME_BASE_API void *RhGetCommonStubAddress(void);

/* Thunk pool: a mapping of RhpGetNumThunkBlocksPerMapping() stub blocks followed by as many
 * data blocks, each RhpGetThunkBlockSize() bytes. */
RUNTIME_BASE_API void *RhAllocateThunksMapping(void);
RUNTIME_BASE_API int32_t RhpGetNumThunkBlocksPerMapping(void);
RUNTIME_BASE_API int32_t RhpGetNumThunksPerBlock(void);
RUNTIME_BASE_API int32_t RhpGetThunkSize(void);
RUNTIME_BASE_API int32_t RhpGetThunkBlockSize(void);
RUNTIME_BASE_API void *RhpGetThunkDataBlockAddress(void *thunk_stub_address);
RUNTIME_BASE_API void *RhpGetThunkStubsBlockAddress(void *thunk_data_address);

RUNTIME_BASE_API RhInterfaceDispatchCell *RhNewInterfaceDispatchCell(const RhMethodTable *interface_type,
                                                                     int32_t slot);
/* Resolves a dispatch cell for `object`: the implementation, or NULL if it has none. */
RUNTIME_BASE_API RhCode RhpInitialDynamicInterfaceDispatch(const RhInterfaceDispatchCell *cell,
                                                           const void *object);

/* ------------------------------------------------------------------------------------------
 * Exceptions, diagnostics, conversions
 * ---------------------------------------------------------------------------------------- */

/* No managed handlers exist in the reference runtime: a thrown exception is unhandled, so
 * these report it and fail fast. */
RUNTIME_BASE_NORETURN RUNTIME_BASE_API void RhpThrowEx(void *exception);
RUNTIME_BASE_NORETURN RUNTIME_BASE_API void RhpRethrow(void);
RUNTIME_BASE_NORETURN RUNTIME_BASE_API void RhpFallbackFailFast(void);
/* Breaks into an attached native debugger; no-op without one. */
RUNTIME_BASE_API void RhDebugBreak(void);
RUNTIME_BASE_API int32_t DebugDebugger_IsNativeDebuggerAttached(void);
RUNTIME_BASE_API uint8_t *RhGetCrashInfoBuffer(int32_t *max_size);
/* Runtime configuration knobs; returns their number. */
RUNTIME_BASE_API uint32_t RhGetKnobValues(const char *const **keys, const char *const **values);

/* Event source hooks (strings are UTF-16, NUL-terminated). */
RUNTIME_BASE_API void NativeRuntimeEventSource_LogExceptionThrown(const uint16_t *type_name, const uint16_t *message,
                                                                  void *faulting_ip, int32_t hresult);
RUNTIME_BASE_API void NativeRuntimeEventSource_LogContentionLockCreated(intptr_t lock_id, intptr_t object_id,
                                                                        uint16_t clr_instance_id);
RUNTIME_BASE_API void NativeRuntimeEventSource_LogContentionStart(uint8_t flags, uint16_t clr_instance_id,
                                                                  intptr_t lock_id, intptr_t object_id,
                                                                  uint64_t owner_thread_id);
RUNTIME_BASE_API void NativeRuntimeEventSource_LogContentionStop(uint8_t flags, uint16_t clr_instance_id,
                                                                 double duration_ns);
RUNTIME_BASE_API void NativeRuntimeEventSource_LogWaitHandleWaitStart(uint8_t wait_source, intptr_t object_id,
                                                                      uint16_t clr_instance_id);
RUNTIME_BASE_API void NativeRuntimeEventSource_LogWaitHandleWaitStop(uint16_t clr_instance_id);

/* Saturating conversions (NaN converts to 0). */
RUNTIME_BASE_API int32_t RhpDbl2Int(double value);
RUNTIME_BASE_API int64_t RhpDbl2Lng(double value);

#ifdef __cplusplus
}
#endif

#endif /* RUNTIME_BASE_H */
