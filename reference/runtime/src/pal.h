/*
 * pal.h - the platform abstraction layer: everything OS-specific the runtime needs.
 *
 * pal_posix.c implements it for Linux (glibc). A Windows port is one more file,
 * pal_windows.c, implementing the same functions; each pal_<os>.c compiles to nothing on the
 * other platforms, so the build can keep compiling every .c file in src/ everywhere.
 *
 * Everything else in src/ is portable C11 (plus <stdatomic.h> and GCC/Clang builtins).
 */
#ifndef RUNTIME_BASE_PAL_H
#define RUNTIME_BASE_PAL_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  define PAL_INTERNAL
#else
#  define PAL_INTERNAL __attribute__((visibility("hidden")))
#endif

/* --- Memory: reserve address space, then commit and decommit parts of it. -------------- */

PAL_INTERNAL size_t pal_page_size(void);
/* Reserve `size` bytes of inaccessible address space; NULL on failure. */
PAL_INTERNAL void *pal_reserve(size_t size);
/* Make a reserved range readable and writable (zero-filled on first touch). 0 on success. */
PAL_INTERNAL int pal_commit(void *address, size_t size);
/* Return a committed range's memory to the OS and make it inaccessible again. 0 on success. */
PAL_INTERNAL int pal_decommit(void *address, size_t size);
PAL_INTERNAL void pal_release(void *address, size_t size);

/* --- Threads ----------------------------------------------------------------------------- */

PAL_INTERNAL uint64_t pal_current_thread_id(void);
/* Processors this process may run on (at least 1). */
PAL_INTERNAL uint32_t pal_cpu_count(void);
/* Give up the processor; returns nonzero if the call succeeded. */
PAL_INTERNAL int pal_thread_yield(void);
/* Thread exit notification: after pal_thread_exit_init(cb), a thread that called
 * pal_thread_exit_arm(value) with a non-NULL value gets cb(value) when it exits. */
PAL_INTERNAL int pal_thread_exit_init(void (*callback)(void *value));
PAL_INTERNAL int pal_thread_exit_arm(void *value);
/* Monotonic clock in milliseconds. */
PAL_INTERNAL uint64_t pal_monotonic_ms(void);

/* --- Randomness and CPU ------------------------------------------------------------------ */

/* Fill `buffer` with cryptographically random bytes. 0 on success. */
PAL_INTERNAL int pal_random_bytes(void *buffer, size_t size);
/* RH_CPU_* bits of the processor's features. */
PAL_INTERNAL int32_t pal_cpu_features(void);

/* --- Modules ----------------------------------------------------------------------------- */

/* Absolute, canonical path of the module containing `address`; writes at most `size` bytes
 * (NUL-terminated) and returns the full length, or 0 if unknown. */
PAL_INTERNAL size_t pal_module_path(const void *address, char *buffer, size_t size);
/* Base address (module handle) of the module containing `address`, or NULL. */
PAL_INTERNAL void *pal_module_base(const void *address);
/* Start of the exported function or object containing `address`, or NULL. */
PAL_INTERNAL void *pal_symbol_start(const void *address);
/* Keep the module containing `address` loaded until the process exits. 0 on success. */
PAL_INTERNAL int pal_pin_module(const void *address);

/* Other copies of the runtime: for every loaded module other than the one containing
 * `own_address` that itself defines and exports `entry_symbol`, calls
 * visit(context, path, header) with the module's path and the address of its own
 * `header_symbol` export (NULL if it has none). Stops when visit returns nonzero.
 * Returns the number of such modules visited. */
typedef int (*pal_copy_visitor)(void *context, const char *path, const void *header);
PAL_INTERNAL int pal_for_each_other_copy(const void *own_address, const char *entry_symbol,
                                         const char *header_symbol, pal_copy_visitor visit, void *context);

/* --- Debugging --------------------------------------------------------------------------- */

PAL_INTERNAL int pal_debugger_attached(void);
/* Trap into the attached debugger. */
PAL_INTERNAL void pal_debug_break(void);

#endif /* RUNTIME_BASE_PAL_H */
