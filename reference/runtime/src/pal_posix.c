/*
 * pal_posix.c - the platform abstraction layer for Linux (glibc).
 */
#if !defined(_WIN32)

#define _GNU_SOURCE 1 /* dladdr1, dl_iterate_phdr, RTLD_NOLOAD, sched_getaffinity */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__has_include)
#  if __has_include(<sys/random.h>)
#    include <sys/random.h>
#    define PAL_HAVE_GETRANDOM 1
#  endif
#endif
#if defined(__aarch64__)
#  include <sys/auxv.h>
#  include <asm/hwcap.h>
#endif

#include "copy_out.h"
#include "cpu_x86.h"
#include "pal.h"
#include "RuntimeBase.h"

/* --- Memory ------------------------------------------------------------------------------ */

size_t pal_page_size(void)
{
    static size_t cached;
    size_t size = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (size == 0) {
        long value = sysconf(_SC_PAGESIZE);
        size = value > 0 ? (size_t)value : 4096u;
        __atomic_store_n(&cached, size, __ATOMIC_RELAXED);
    }
    return size;
}

void *pal_reserve(size_t size)
{
    void *address = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return address == MAP_FAILED ? NULL : address;
}

int pal_commit(void *address, size_t size)
{
    return mprotect(address, size, PROT_READ | PROT_WRITE) == 0 ? 0 : -1;
}

int pal_decommit(void *address, size_t size)
{
    /* Replacing the pages drops their contents and gives the memory back at once. */
    void *result = mmap(address, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    return result == MAP_FAILED ? -1 : 0;
}

void pal_release(void *address, size_t size)
{
    munmap(address, size);
}

/* --- Threads ----------------------------------------------------------------------------- */

uint64_t pal_current_thread_id(void)
{
    return (uint64_t)syscall(SYS_gettid);
}

uint32_t pal_cpu_count(void)
{
    /* The affinity mask, which honours taskset and cgroup cpusets; grow it for big machines. */
    for (size_t cpus = 1024; cpus <= 65536; cpus *= 2) {
        cpu_set_t *set = CPU_ALLOC(cpus);
        if (set == NULL)
            break;
        size_t bytes = CPU_ALLOC_SIZE(cpus);
        CPU_ZERO_S(bytes, set);
        if (sched_getaffinity(0, bytes, set) == 0) {
            int count = CPU_COUNT_S(bytes, set);
            CPU_FREE(set);
            if (count > 0)
                return (uint32_t)count;
            break;
        }
        int error = errno;
        CPU_FREE(set);
        if (error != EINVAL)
            break;
    }
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (uint32_t)online : 1u;
}

int pal_thread_yield(void)
{
    return sched_yield() == 0;
}

static pthread_key_t pal_exit_key;

int pal_thread_exit_init(void (*callback)(void *value))
{
    return pthread_key_create(&pal_exit_key, callback) == 0 ? 0 : -1;
}

int pal_thread_exit_arm(void *value)
{
    return pthread_setspecific(pal_exit_key, value) == 0 ? 0 : -1;
}

uint64_t pal_monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* --- Randomness and CPU ------------------------------------------------------------------ */

static int pal_urandom(unsigned char *out, size_t size)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (size > 0) {
        ssize_t got = read(fd, out, size);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            close(fd);
            return -1;
        }
        out += got;
        size -= (size_t)got;
    }
    close(fd);
    return 0;
}

int pal_random_bytes(void *buffer, size_t size)
{
    unsigned char *out = buffer;
#if defined(PAL_HAVE_GETRANDOM)
    while (size > 0) {
        ssize_t got = getrandom(out, size, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOSYS)
                return pal_urandom(out, size);
            return -1;
        }
        out += got;
        size -= (size_t)got;
    }
    return 0;
#else
    return pal_urandom(out, size);
#endif
}

int32_t pal_cpu_features(void)
{
    int32_t features = 0;
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    features = cpu_x86_features();
#elif defined(__aarch64__)
    unsigned long hwcap = getauxval(AT_HWCAP);
    if (hwcap & HWCAP_ASIMD)
        features |= RH_CPU_ARM64_ADVSIMD;
    if (hwcap & HWCAP_AES)
        features |= RH_CPU_ARM64_AES;
    if (hwcap & HWCAP_CRC32)
        features |= RH_CPU_ARM64_CRC32;
    if (hwcap & HWCAP_ATOMICS)
        features |= RH_CPU_ARM64_ATOMICS;
#endif
    return features;
}

/* --- Modules ----------------------------------------------------------------------------- */

static struct link_map *pal_link_map_of(const void *address)
{
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1(address, &info, (void **)&map, RTLD_DL_LINKMAP) == 0)
        return NULL;
    return map;
}

/* The file of a loaded module: the main program has no name in the link map. */
static const char *pal_map_file(const struct link_map *map)
{
    return map->l_name == NULL || map->l_name[0] == '\0' ? "/proc/self/exe" : map->l_name;
}

static size_t pal_canonical_path(const char *file, char *buffer, size_t size)
{
    char *resolved = realpath(file, NULL);
    if (resolved == NULL)
        return file[0] == '/' ? pal_copy_out(file, buffer, size) : 0;
    size_t length = pal_copy_out(resolved, buffer, size);
    free(resolved);
    return length;
}

size_t pal_module_path(const void *address, char *buffer, size_t size)
{
    struct link_map *map = pal_link_map_of(address);
    if (map == NULL)
        return 0;
    return pal_canonical_path(pal_map_file(map), buffer, size);
}

void *pal_module_base(const void *address)
{
    Dl_info info;
    if (dladdr(address, &info) == 0)
        return NULL;
    return info.dli_fbase;
}

void *pal_symbol_start(const void *address)
{
    Dl_info info;
    if (dladdr(address, &info) == 0)
        return NULL;
    return info.dli_saddr;
}

int pal_pin_module(const void *address)
{
    struct link_map *map = pal_link_map_of(address);
    if (map == NULL)
        return -1;
    if (map->l_name == NULL || map->l_name[0] == '\0')
        return 0; /* the main program is never unloaded */
    void *handle = dlopen(map->l_name, RTLD_LAZY | RTLD_NOLOAD | RTLD_NODELETE);
    if (handle == NULL)
        return -1;
    dlclose(handle); /* RTLD_NODELETE stays */
    return 0;
}

struct pal_names {
    char **names;
    size_t count;
    size_t capacity;
    int failed;
};

static int pal_collect_name(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct pal_names *list = data;
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 32;
        char **grown = realloc(list->names, capacity * sizeof *grown);
        if (grown == NULL) {
            list->failed = 1;
            return 1;
        }
        list->names = grown;
        list->capacity = capacity;
    }
    char *name = strdup(info->dlpi_name != NULL ? info->dlpi_name : "");
    if (name == NULL) {
        list->failed = 1;
        return 1;
    }
    list->names[list->count++] = name;
    return 0;
}

static void *pal_open_loaded(const struct link_map *map)
{
    if (map->l_name == NULL || map->l_name[0] == '\0')
        return dlopen(NULL, RTLD_LAZY);
    return dlopen(map->l_name, RTLD_LAZY | RTLD_NOLOAD);
}

/* The module that itself defines `symbol` as found from `handle`, and the symbol's address.
 * A main program's PLT slot standing in for the function (an undefined symbol with a value,
 * as non-PIE programs have) is not a definition. */
static struct link_map *pal_definer(void *handle, const char *symbol, void **address_out)
{
    void *address = dlsym(handle, symbol);
    if (address == NULL)
        return NULL;
    Dl_info info;
    struct link_map *map = NULL;
    const ElfW(Sym) *entry = NULL;
    if (dladdr1(address, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL)
        return NULL;
    if (dladdr1(address, &info, (void **)&entry, RTLD_DL_SYMENT) == 0 || entry == NULL)
        return NULL;
    if (entry->st_shndx == SHN_UNDEF || info.dli_saddr != address)
        return NULL;
    if (address_out != NULL)
        *address_out = address;
    return map;
}

int pal_for_each_other_copy(const void *own_address, const char *entry_symbol, const char *header_symbol,
                            pal_copy_visitor visit, void *context)
{
    struct link_map *own = pal_link_map_of(own_address);
    struct pal_names list = { NULL, 0, 0, 0 };
    /* Collect first: dlopen must not run under dl_iterate_phdr's loader lock. */
    dl_iterate_phdr(pal_collect_name, &list);

    struct link_map **seen = calloc(list.count ? list.count : 1, sizeof *seen);
    size_t seen_count = 0;
    int visited = 0;
    int stop = 0;
    for (size_t i = 0; i < list.count && !stop && seen != NULL; i++) {
        const char *name = list.names[i];
        void *handle = name[0] == '\0' ? dlopen(NULL, RTLD_LAZY) : dlopen(name, RTLD_LAZY | RTLD_NOLOAD);
        if (handle == NULL)
            continue;
        struct link_map *map = pal_definer(handle, entry_symbol, NULL);
        dlclose(handle);
        if (map == NULL || map == own)
            continue;
        int known = 0;
        for (size_t k = 0; k < seen_count; k++)
            known |= seen[k] == map;
        if (known)
            continue;
        seen[seen_count++] = map;

        /* Its own header: looked up from a handle on that very module, whose own definitions
         * come first in its lookup scope. */
        const void *header = NULL;
        void *module = pal_open_loaded(map);
        if (module != NULL) {
            void *found = NULL;
            if (pal_definer(module, header_symbol, &found) == map)
                header = found;
            dlclose(module);
        }
        char *path = realpath(pal_map_file(map), NULL);
        visited++;
        stop = visit(context, path != NULL ? path : pal_map_file(map), header);
        free(path);
    }
    free(seen);
    for (size_t i = 0; i < list.count; i++)
        free(list.names[i]);
    free(list.names);
    (void)dlerror(); /* leave no stale error from the lookups above for the caller's dlerror() */
    return visited;
}

/* --- Debugging --------------------------------------------------------------------------- */

int pal_debugger_attached(void)
{
    char status[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t used = 0;
    for (;;) {
        ssize_t got = read(fd, status + used, sizeof status - 1 - used);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        used += (size_t)got;
        if (used == sizeof status - 1)
            break;
    }
    close(fd);
    status[used] = '\0';
    const char *tracer = strstr(status, "TracerPid:");
    if (tracer == NULL)
        return 0;
    return strtol(tracer + strlen("TracerPid:"), NULL, 10) != 0;
}

void pal_debug_break(void)
{
    raise(SIGTRAP);
}

#else /* _WIN32: see pal_windows.c */
typedef int pal_posix_not_used_on_this_platform;
#endif
