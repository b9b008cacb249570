/*
 * pal_windows.c - the platform abstraction layer for Windows (x64 and arm64).
 *
 * Plain Win32: kernel32, bcrypt (random bytes) and ntdll (shutdown check), nothing that needs
 * a compiler runtime DLL. Module enumeration uses K32EnumProcessModules, which kernel32 has
 * exported since Windows 7, so psapi.dll is not needed.
 */
#if defined(_WIN32)

#ifndef WIN32_LEAN_AND_MEAN
#  define WIN32_LEAN_AND_MEAN 1
#endif
#include <windows.h>
#include <bcrypt.h>
#include <psapi.h>
#include <stdlib.h>
#include <string.h>

#include "copy_out.h"
#include "cpu_x86.h"
#include "pal.h"
#include "RuntimeBase.h"

/* ntdll: TRUE once ExitProcess has started tearing the process down. Not in the SDK headers. */
__declspec(dllimport) BOOLEAN NTAPI RtlDllShutdownInProgress(void);

/* --- Memory ------------------------------------------------------------------------------ */

size_t pal_page_size(void)
{
    SYSTEM_INFO info;
    GetSystemInfo(&info);
    return info.dwPageSize;
}

void *pal_reserve(size_t size)
{
    return VirtualAlloc(NULL, size, MEM_RESERVE, PAGE_NOACCESS);
}

int pal_commit(void *address, size_t size)
{
    return VirtualAlloc(address, size, MEM_COMMIT, PAGE_READWRITE) != NULL ? 0 : -1;
}

int pal_decommit(void *address, size_t size)
{
    /* Decommitted pages come back zero-filled when committed again. */
    return VirtualFree(address, size, MEM_DECOMMIT) ? 0 : -1;
}

void pal_release(void *address, size_t size)
{
    (void)size; /* MEM_RELEASE frees the whole reservation and requires a size of 0 */
    VirtualFree(address, 0, MEM_RELEASE);
}

/* --- Threads ----------------------------------------------------------------------------- */

uint64_t pal_current_thread_id(void)
{
    return GetCurrentThreadId();
}

uint32_t pal_cpu_count(void)
{
    /* A process confined by an affinity mask (start /affinity, a job) counts its mask; an
     * unconfined one may run on every processor group, so count them all. */
    DWORD_PTR process_mask = 0;
    DWORD_PTR system_mask = 0;
    if (GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask) && process_mask != 0 &&
        process_mask != system_mask)
        return (uint32_t)__builtin_popcountll((unsigned long long)process_mask);
    DWORD count = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
    return count > 0 ? (uint32_t)count : 1u;
}

int pal_thread_yield(void)
{
    SwitchToThread(); /* FALSE only means no other thread was ready to run: not a failure */
    return 1;
}

static void (*pal_exit_callback)(void *value);
static DWORD pal_exit_index = FLS_OUT_OF_INDEXES;

/* Fiber-local storage callbacks run as a thread exits, outside the loader lock (unlike
 * DLL_THREAD_DETACH), as the real runtime's are. ExitProcess also runs them for the thread
 * that exits the process, after killing the others, possibly inside the runtime's locks:
 * skip that one, as exit() runs no thread-specific data destructors on Linux. */
static void WINAPI pal_fls_callback(void *value)
{
    if (value != NULL && !RtlDllShutdownInProgress())
        pal_exit_callback(value);
}

int pal_thread_exit_init(void (*callback)(void *value))
{
    pal_exit_callback = callback;
    pal_exit_index = FlsAlloc(pal_fls_callback);
    return pal_exit_index == FLS_OUT_OF_INDEXES ? -1 : 0;
}

int pal_thread_exit_arm(void *value)
{
    return FlsSetValue(pal_exit_index, value) ? 0 : -1;
}

uint64_t pal_monotonic_ms(void)
{
    return GetTickCount64();
}

/* --- Randomness and CPU ------------------------------------------------------------------ */

int pal_random_bytes(void *buffer, size_t size)
{
    unsigned char *out = buffer;
    while (size > 0) {
        ULONG chunk = size > 0x40000000u ? 0x40000000u : (ULONG)size;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, out, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
            return -1;
        out += chunk;
        size -= chunk;
    }
    return 0;
}

int32_t pal_cpu_features(void)
{
    int32_t features = 0;
#if defined(__x86_64__)
    features = cpu_x86_features();
#elif defined(__aarch64__)
    if (IsProcessorFeaturePresent(PF_ARM_NEON_INSTRUCTIONS_AVAILABLE))
        features |= RH_CPU_ARM64_ADVSIMD;
    if (IsProcessorFeaturePresent(PF_ARM_V8_CRYPTO_INSTRUCTIONS_AVAILABLE))
        features |= RH_CPU_ARM64_AES;
    if (IsProcessorFeaturePresent(PF_ARM_V8_CRC32_INSTRUCTIONS_AVAILABLE))
        features |= RH_CPU_ARM64_CRC32;
    if (IsProcessorFeaturePresent(PF_ARM_V81_ATOMIC_INSTRUCTIONS_AVAILABLE))
        features |= RH_CPU_ARM64_ATOMICS;
#endif
    return features;
}

/* --- Modules ----------------------------------------------------------------------------- */

static HMODULE pal_module_of(const void *address)
{
    HMODULE module = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)address, &module))
        return NULL;
    return module;
}

/* The module's file name (malloc'd), or NULL. GetModuleFileNameW truncates silently: grow the
 * buffer until the name fits (paths are at most 32767 characters). */
static wchar_t *pal_module_file_wide(HMODULE module)
{
    for (DWORD capacity = MAX_PATH; capacity <= 2 * 32768; capacity *= 2) {
        wchar_t *name = malloc(capacity * sizeof *name);
        if (name == NULL)
            return NULL;
        DWORD length = GetModuleFileNameW(module, name, capacity);
        if (length > 0 && length < capacity)
            return name;
        free(name);
        if (length == 0)
            return NULL;
    }
    return NULL;
}

/* The module's file name as UTF-8 (malloc'd), or NULL. */
static char *pal_module_file(HMODULE module)
{
    wchar_t *wide = pal_module_file_wide(module);
    if (wide == NULL)
        return NULL;
    char *utf8 = NULL;
    int size = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
    if (size > 0 && (utf8 = malloc((size_t)size)) != NULL &&
        WideCharToMultiByte(CP_UTF8, 0, wide, -1, utf8, size, NULL, NULL) != size) {
        free(utf8);
        utf8 = NULL;
    }
    free(wide);
    return utf8;
}

size_t pal_module_path(const void *address, char *buffer, size_t size)
{
    HMODULE module = pal_module_of(address);
    char *file = module != NULL ? pal_module_file(module) : NULL;
    if (file == NULL)
        return 0;
    size_t length = pal_copy_out(file, buffer, size);
    free(file);
    return length;
}

void *pal_module_base(const void *address)
{
    return pal_module_of(address); /* a module handle is its base address */
}

static const IMAGE_DATA_DIRECTORY *pal_export_directory(const unsigned char *base)
{
    const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)base;
    const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)(base + dos->e_lfanew);
    if (nt->OptionalHeader.NumberOfRvaAndSizes <= IMAGE_DIRECTORY_ENTRY_EXPORT)
        return NULL;
    const IMAGE_DATA_DIRECTORY *directory = &nt->OptionalHeader.DataDirectory[IMAGE_DIRECTORY_ENTRY_EXPORT];
    return directory->Size != 0 ? directory : NULL;
}

/* RVA of the module's last export at or below `target` (forwarders excluded), or 0. */
static DWORD pal_export_at_or_below(const unsigned char *base, DWORD target)
{
    const IMAGE_DATA_DIRECTORY *directory = pal_export_directory(base);
    if (directory == NULL)
        return 0;
    const IMAGE_EXPORT_DIRECTORY *exports = (const IMAGE_EXPORT_DIRECTORY *)(base + directory->VirtualAddress);
    const DWORD *functions = (const DWORD *)(base + exports->AddressOfFunctions);
    DWORD best = 0;
    for (DWORD i = 0; i < exports->NumberOfFunctions; i++) {
        DWORD rva = functions[i];
        int forwarder = rva - directory->VirtualAddress < directory->Size; /* points at a name */
        if (rva != 0 && !forwarder && rva <= target && rva > best)
            best = rva;
    }
    return best;
}

void *pal_symbol_start(const void *address)
{
    const unsigned char *base = (const unsigned char *)pal_module_of(address);
    if (base == NULL)
        return NULL;
    DWORD target = (DWORD)((const unsigned char *)address - base);
    DWORD start = pal_export_at_or_below(base, target);
    if (start == 0)
        return NULL;
    /* Exports carry no sizes: where the unwind tables know the function around the address,
     * it must be that export (an address in an internal function has no exported start). */
    DWORD64 image_base = 0;
    PRUNTIME_FUNCTION function = RtlLookupFunctionEntry((DWORD64)(uintptr_t)address, &image_base, NULL);
    if (function != NULL && function->BeginAddress != start)
        return NULL;
    return (void *)(base + start);
}

int pal_pin_module(const void *address)
{
    HMODULE module = NULL;
    return GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN,
                              (LPCWSTR)address, &module)
               ? 0
               : -1;
}

/* Every loaded module (malloc'd), or NULL. Modules load meanwhile: retry until the list fits. */
static HMODULE *pal_loaded_modules(DWORD *count)
{
    HMODULE *modules = NULL;
    DWORD capacity = 0;
    DWORD needed = 256 * sizeof *modules;
    while (needed > capacity) {
        free(modules);
        capacity = needed + 32 * sizeof *modules;
        modules = malloc(capacity);
        if (modules == NULL || !K32EnumProcessModules(GetCurrentProcess(), modules, capacity, &needed)) {
            free(modules);
            return NULL;
        }
    }
    *count = needed / sizeof *modules;
    return modules;
}

/* The address of `symbol` if `module` exports it from itself: a forwarded export resolves
 * into another module. */
static const void *pal_own_export(HMODULE module, const char *symbol)
{
    const void *address = (const void *)(uintptr_t)GetProcAddress(module, symbol);
    return address != NULL && pal_module_of(address) == module ? address : NULL;
}

int pal_for_each_other_copy(const void *own_address, const char *entry_symbol, const char *header_symbol,
                            pal_copy_visitor visit, void *context)
{
    HMODULE own = pal_module_of(own_address);
    DWORD count = 0;
    HMODULE *modules = pal_loaded_modules(&count);
    int visited = 0;
    int stop = 0;
    for (DWORD i = 0; modules != NULL && i < count && !stop; i++) {
        /* Take a reference (the module may be unloading) unless it is gone already. */
        HMODULE module = NULL;
        if (modules[i] == own ||
            !GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCWSTR)modules[i], &module))
            continue;
        if (module == modules[i] && pal_own_export(module, entry_symbol) != NULL) {
            char *path = pal_module_file(module);
            visited++;
            stop = visit(context, path != NULL ? path : "(unknown path)", pal_own_export(module, header_symbol));
            free(path);
        }
        FreeLibrary(module);
    }
    free(modules);
    return visited;
}

/* --- Debugging --------------------------------------------------------------------------- */

int pal_debugger_attached(void)
{
    return IsDebuggerPresent() ? 1 : 0;
}

void pal_debug_break(void)
{
    DebugBreak();
}

#else /* POSIX: see pal_posix.c */
typedef int pal_windows_not_used_on_this_platform;
#endif
