/*
 * app_common.h - shared by the sample apps and plugins (header-only, private to the apps).
 *
 *  - Start-up: parse --hold, initialize the runtime, find the runtime module's path.
 *  - One JSON line on stdout with the common keys first:
 *      "app", "pid", "instance" (16 lowercase hex digits), "runtime_path", "version"
 *    then the app's own keys, in a fixed order.
 *  - --hold: after the line is printed and flushed, read stdin until EOF, then exit 0, so a
 *    caller can hold many processes alive at once and release them by closing the pipe.
 *  - The runtime's path is found from the app's side: the module that provides the app's
 *    InitializeRuntimeBase (dladdr on its address, then realpath; on Windows
 *    GetModuleHandleExW on its address, then GetModuleFileNameW).
 *  - The other OS calls the apps make (plugins, threads, the executable's directory) are
 *    here too, so that the apps' .c files are the same on every OS.
 *
 * Exit codes: 0 success, 1 a check failed, 2 runtime failure or bad usage, 3 plugin loading.
 * Include this header first: it sets _GNU_SOURCE for dladdr1/dlinfo.
 */
#ifndef APP_COMMON_H
#define APP_COMMON_H

#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#  define _GNU_SOURCE 1
#endif

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#  ifndef WIN32_LEAN_AND_MEAN
#    define WIN32_LEAN_AND_MEAN 1
#  endif
#  include <windows.h>
#  define APP_EXPORT __declspec(dllexport)
#  define app_getpid() ((long)GetCurrentProcessId())
#else
#  include <dlfcn.h>
#  include <libgen.h>
#  include <link.h>
#  include <pthread.h>
#  include <unistd.h>
#  define APP_EXPORT __attribute__((visibility("default")))
#  define app_getpid() ((long)getpid())
#endif

#include "RuntimeBase.h"

#define APP_PATH_MAX 4096

#if defined(__GNUC__) || defined(__clang__)
#  define APP_NORETURN __attribute__((noreturn))
#  define APP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define APP_NORETURN
#  define APP_PRINTF(f, a)
#endif

/* --- JSON -------------------------------------------------------------------------------- */

typedef struct app_json {
    char *text;
    size_t length;
    size_t capacity;
    int failed;
    int depth;
    int members[16]; /* members written so far at each nesting level */
} app_json;

static inline void json_raw(app_json *j, const char *s, size_t n)
{
    if (j->failed)
        return;
    if (j->length + n + 1 > j->capacity) {
        size_t capacity = j->capacity ? j->capacity : 1024;
        while (j->length + n + 1 > capacity)
            capacity *= 2;
        char *grown = realloc(j->text, capacity);
        if (grown == NULL) {
            j->failed = 1;
            return;
        }
        j->text = grown;
        j->capacity = capacity;
    }
    memcpy(j->text + j->length, s, n);
    j->length += n;
    j->text[j->length] = '\0';
}

static inline void json_puts(app_json *j, const char *s)
{
    json_raw(j, s, strlen(s));
}

APP_PRINTF(2, 3) static inline void json_printf(app_json *j, const char *format, ...)
{
    char buffer[128];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(buffer, sizeof buffer, format, args);
    va_end(args);
    if (n < 0 || (size_t)n >= sizeof buffer)
        j->failed = 1;
    else
        json_raw(j, buffer, (size_t)n);
}

/* Length of the valid UTF-8 sequence at s, or 0 if s does not start one. */
static inline size_t json_utf8_length(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        unsigned char low = s[0] == 0xE0 ? 0xA0 : 0x80; /* no overlongs */
        unsigned char high = s[0] == 0xED ? 0x9F : 0xBF; /* no surrogates */
        return s[1] >= low && s[1] <= high && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        unsigned char low = s[0] == 0xF0 ? 0x90 : 0x80;
        unsigned char high = s[0] == 0xF4 ? 0x8F : 0xBF; /* up to U+10FFFF */
        return s[1] >= low && s[1] <= high && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* A JSON string. Bytes that are not valid UTF-8 (possible in file names) become \udcXX, the
 * "surrogateescape" convention: Python's os.fsencode() turns them back into the same bytes. */
static inline void json_string(app_json *j, const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    json_puts(j, "\"");
    while (*s != '\0') {
        size_t n = json_utf8_length(s);
        if (n == 0) {
            json_printf(j, "\\udc%02x", (unsigned)*s);
            s++;
        } else if (*s == '"' || *s == '\\') {
            json_raw(j, "\\", 1);
            json_raw(j, (const char *)s, 1);
            s++;
        } else if (*s < 0x20) {
            json_printf(j, "\\u%04x", (unsigned)*s);
            s++;
        } else {
            json_raw(j, (const char *)s, n);
            s += n;
        }
    }
    json_puts(j, "\"");
}

/* Before an array element or an object member. */
static inline void json_element(app_json *j)
{
    if (j->members[j->depth]++ > 0)
        json_puts(j, ", ");
}

static inline void json_key(app_json *j, const char *key)
{
    json_element(j);
    json_string(j, key);
    json_puts(j, ": ");
}

static inline void json_open(app_json *j, const char *bracket)
{
    json_puts(j, bracket);
    if (j->depth + 1 < (int)(sizeof j->members / sizeof j->members[0]))
        j->members[++j->depth] = 0;
    else
        j->failed = 1;
}

static inline void json_close(app_json *j, const char *bracket)
{
    json_puts(j, bracket);
    if (j->depth > 0)
        j->depth--;
}

static inline void json_key_string(app_json *j, const char *key, const char *value)
{
    json_key(j, key);
    json_string(j, value);
}

static inline void json_key_int(app_json *j, const char *key, int64_t value)
{
    json_key(j, key);
    json_printf(j, "%" PRId64, value);
}

static inline void json_key_uint(app_json *j, const char *key, uint64_t value)
{
    json_key(j, key);
    json_printf(j, "%" PRIu64, value);
}

static inline void json_key_bool(app_json *j, const char *key, int value)
{
    json_key(j, key);
    json_puts(j, value ? "true" : "false");
}

static inline void app_hex64(uint64_t value, char out[17])
{
    snprintf(out, 17, "%016" PRIx64, value);
}

static inline void json_key_hex64(app_json *j, const char *key, uint64_t value)
{
    char hex[17];
    app_hex64(value, hex);
    json_key_string(j, key, hex);
}

/* --- The runtime module, seen from this module ------------------------------------------- */

#if !defined(_WIN32)
/* In a non-PIE program, &InitializeRuntimeBase is the program's own PLT slot (an undefined
 * symbol with a value, kept for function pointer equality), in the program and in every
 * module that asks for the address. The dynamic linker bound the call to the first module in
 * load order that defines the symbol: find that one. */
static inline const void *app_bound_definition(const void *address, const char *symbol)
{
    Dl_info info;
    const ElfW(Sym) *entry = NULL;
    if (dladdr1(address, &info, (void **)&entry, RTLD_DL_SYMENT) == 0 || entry == NULL ||
        entry->st_shndx != SHN_UNDEF)
        return address;
    void *program = dlopen(NULL, RTLD_LAZY);
    struct link_map *map = NULL;
    if (program != NULL && dlinfo(program, RTLD_DI_LINKMAP, &map) == 0) {
        for (; map != NULL; map = map->l_next) {
            if (map->l_name == NULL || map->l_name[0] == '\0')
                continue;
            void *module = dlopen(map->l_name, RTLD_LAZY | RTLD_NOLOAD);
            if (module == NULL)
                continue;
            void *definition = dlsym(module, symbol);
            dlclose(module);
            struct link_map *owner = NULL;
            if (definition != NULL && dladdr1(definition, &info, (void **)&owner, RTLD_DL_LINKMAP) != 0 &&
                owner == map) {
                address = definition;
                break;
            }
        }
    }
    if (program != NULL)
        dlclose(program);
    return address;
}
#endif

#if defined(_WIN32)
/* The file of a loaded module (NULL: this executable) as UTF-8. 0 on success. */
static inline int app_module_file(HMODULE module, char *out, size_t size)
{
    wchar_t wide[32768]; /* the longest path Windows allows */
    DWORD n = GetModuleFileNameW(module, wide, (DWORD)(sizeof wide / sizeof wide[0]));
    if (n == 0 || n >= sizeof wide / sizeof wide[0])
        return -1;
    return WideCharToMultiByte(CP_UTF8, 0, wide, -1, out, (int)size, NULL, NULL) > 0 ? 0 : -1;
}
#endif

/* Absolute, canonical path of the module containing `address`. 0 on success. */
static inline int app_module_path(const void *address, char *out, size_t size)
{
#if defined(_WIN32)
    HMODULE module = NULL;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                            (LPCWSTR)address, &module))
        return -1;
    return app_module_file(module, out, size);
#else
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1(address, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL)
        return -1;
    /* The main program has no name in the link map. */
    const char *file = map->l_name != NULL && map->l_name[0] != '\0' ? map->l_name : "/proc/self/exe";
    char *resolved = realpath(file, NULL);
    if (resolved == NULL)
        return -1;
    int fits = strlen(resolved) < size;
    if (fits)
        strcpy(out, resolved);
    free(resolved);
    return fits ? 0 : -1;
#endif
}

/* Path of the runtime this module is bound to. 0 on success. */
static inline int app_runtime_path(char *out, size_t size)
{
    const void *address = (const void *)(uintptr_t)&InitializeRuntimeBase;
#if !defined(_WIN32)
    address = app_bound_definition(address, "InitializeRuntimeBase");
#endif
    return app_module_path(address, out, size);
}

/* --- Start and finish -------------------------------------------------------------------- */

/* Start-up as the fork's bootstrapper does it (src/coreclr/nativeaot/Bootstrap/main.cpp @
 * 7db3638e35f1): `if (InitializeRuntimeBase()) return -1;`, then register the module holding
 * `own_code` with RhRegisterOSModule (a C module has no managed code or unboxing stubs to give).
 * 0 and the runtime instance's id in *instance, or -1. */
static inline int app_initialize_runtime(const void *own_code, uint64_t *instance)
{
    if (InitializeRuntimeBase())
        return -1;
    void *os_module = PalGetModuleHandleFromPointer(own_code);
    if (!RhRegisterOSModule(os_module, NULL, 0, NULL, 0, NULL, 0))
        return -1;
    *instance = __atomic_load_n(&DotNetRuntimeDebugHeader.status->instance_id, __ATOMIC_ACQUIRE);
    return 0;
}

typedef struct app_context {
    const char *name;
    int hold;
    uint64_t instance;
    const char *version;
    char runtime_path[APP_PATH_MAX];
} app_context;

/* Message on stderr, exit with `code`. */
APP_NORETURN APP_PRINTF(3, 4) static inline void app_fail(const app_context *app, int code, const char *format, ...)
{
    va_list args;
    fprintf(stderr, "%s: ", app->name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(code);
}

static inline void app_start(app_context *app, const char *name, int argc, char **argv)
{
    memset(app, 0, sizeof *app);
    app->name = name;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hold") == 0)
            app->hold = 1;
        else
            app_fail(app, 2, "unknown argument %s (usage: %s [--hold])", argv[i], name);
    }
    if (app_initialize_runtime((const void *)(uintptr_t)&app_start, &app->instance) != 0)
        app_fail(app, 2, "the runtime refused to initialize");
    app->version = RhGetRuntimeVersion();
    if (app_runtime_path(app->runtime_path, sizeof app->runtime_path) != 0)
        app_fail(app, 2, "cannot find the path of the loaded runtime module");
}

/* Open the JSON line with the common keys. */
static inline void app_json_begin(app_json *j, const app_context *app)
{
    memset(j, 0, sizeof *j);
    json_open(j, "{");
    json_key_string(j, "app", app->name);
    json_key_int(j, "pid", app_getpid());
    json_key_hex64(j, "instance", app->instance);
    json_key_string(j, "runtime_path", app->runtime_path);
    json_key_string(j, "version", app->version != NULL ? app->version : "");
}

/* Read stdin until EOF (or an error). */
static inline void app_wait_for_eof(void)
{
    char buffer[4096];
#if defined(_WIN32)
    /* Raw reads: the C library's text mode would take a Ctrl-Z byte for the end. */
    HANDLE input = GetStdHandle(STD_INPUT_HANDLE);
    DWORD got = 0;
    while (ReadFile(input, buffer, sizeof buffer, &got, NULL) && got > 0)
        ;
#else
    while (fread(buffer, 1, sizeof buffer, stdin) > 0)
        ;
#endif
}

/* Close and print the line; with --hold wait for EOF on stdin. Exits 0. */
static inline void app_finish(app_json *j, const app_context *app)
{
    json_close(j, "}");
    if (j->failed)
        app_fail(app, 2, "out of memory writing the report");
    fputs(j->text, stdout);
    fputc('\n', stdout);
    if (fflush(stdout) != 0 || ferror(stdout))
        app_fail(app, 1, "cannot write the report to stdout");
    free(j->text);
    j->text = NULL;
    if (app->hold)
        app_wait_for_eof();
    exit(0);
}

/* --- Plugins ----------------------------------------------------------------------------- */

#define PLUGIN_DESCRIBE "plugin_describe"

/* Filled by a plugin's plugin_describe(); `size` is set by the host. */
typedef struct plugin_report {
    uint32_t size;
    char name[32];
    uint64_t instance;
    uint64_t heap_reserved;  /* address space the runtime the plugin is bound to reserved for its heap */
    uint64_t collections;    /* collections that runtime has run, after the plugin made it collect */
    char runtime_path[APP_PATH_MAX];
    char error[256];
} plugin_report;

typedef int (*plugin_describe_fn)(plugin_report *report);

/* A plugin's file from the directory of the host and the plugin's name ("a"). */
#if defined(_WIN32)
#  define APP_PLUGIN_FILE "%s\\plugins\\plugin_%s.dll"
#else
#  define APP_PLUGIN_FILE "%s/plugins/libplugin_%s.so"
#endif

/* Directory of this executable. NULL on success, else what went wrong. */
static inline const char *app_exe_directory(char *out, size_t size)
{
#if defined(_WIN32)
    if (app_module_file(NULL, out, size) != 0)
        return "cannot find the path of this executable";
    char *separator = strrchr(out, '\\');
    if (separator != NULL)
        *separator = '\0';
    return NULL;
#else
    char *exe = realpath("/proc/self/exe", NULL);
    if (exe == NULL)
        return "cannot resolve /proc/self/exe";
    int fits = strlen(exe) < size;
    if (fits)
        strcpy(out, dirname(exe));
    free(exe);
    return fits ? NULL : "executable path too long";
#endif
}

/* Load the plugin at `path` (kept loaded until exit) and find `symbol` in it. NULL on failure,
 * with what went wrong in `why`. */
static inline void *app_plugin_symbol(const char *path, const char *symbol, char *why, size_t why_size)
{
#if defined(_WIN32)
    wchar_t wide[APP_PATH_MAX];
    if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wide, APP_PATH_MAX) == 0) {
        snprintf(why, why_size, "cannot load %s: not a valid path", path);
        return NULL;
    }
    /* Runtime.Base.dll, which the plugin imports, is the host's, already loaded (else it is
     * found in the application directory, a default one); DLL_LOAD_DIR adds the plugin's. */
    HMODULE module = LoadLibraryExW(wide, NULL, LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR | LOAD_LIBRARY_SEARCH_DEFAULT_DIRS);
    if (module == NULL) {
        snprintf(why, why_size, "cannot load %s: error %lu", path, GetLastError());
        return NULL;
    }
    void *address = (void *)(uintptr_t)GetProcAddress(module, symbol);
    if (address == NULL)
        snprintf(why, why_size, "%s has no %s: error %lu", path, symbol, GetLastError());
    return address;
#else
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (module == NULL) {
        snprintf(why, why_size, "cannot load %s: %s", path, dlerror());
        return NULL;
    }
    void *address = dlsym(module, symbol);
    if (address == NULL)
        snprintf(why, why_size, "%s has no %s: %s", path, symbol, dlerror());
    return address;
#endif
}

/* --- Threads ----------------------------------------------------------------------------- */

typedef struct app_thread {
#if defined(_WIN32)
    HANDLE handle;
    void *(*body)(void *argument);
    void *argument;
#else
    pthread_t handle;
#endif
} app_thread;

#if defined(_WIN32)
static inline DWORD WINAPI app_thread_main(void *thread)
{
    app_thread *self = thread;
    self->body(self->argument);
    return 0;
}
#endif

/* Run body(argument) on a new thread. NULL on success, else what went wrong. */
static inline const char *app_thread_start(app_thread *thread, void *(*body)(void *argument), void *argument)
{
#if defined(_WIN32)
    thread->body = body;
    thread->argument = argument;
    thread->handle = CreateThread(NULL, 0, app_thread_main, thread, 0, NULL);
    return thread->handle != NULL ? NULL : "CreateThread failed";
#else
    int error = pthread_create(&thread->handle, NULL, body, argument);
    return error != 0 ? strerror(error) : NULL;
#endif
}

static inline void app_thread_join(app_thread *thread)
{
#if defined(_WIN32)
    WaitForSingleObject(thread->handle, INFINITE);
    CloseHandle(thread->handle);
#else
    pthread_join(thread->handle, NULL);
#endif
}

#endif /* APP_COMMON_H */
