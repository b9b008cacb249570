/* plugin-host [--hold]: dlopens every NativeAOT plugin library in the plugins/ folder beside the
 * executable (samples/plugins/plugin, copied once per plugin), calls each one's plugin_report, and
 * prints one JSON line in the sample apps' contract (reference/apps/app_common.h). The host itself
 * carries no runtime ("instance" 0, "runtime_path" ""); each plugin is its own runtime: its
 * "instance" is the library's load address, its "runtime_path" the library.
 *   {"app": "plugin-host", "pid": N, "instance": "0000000000000000", "runtime_path": "", "version": "",
 *    "plugins": [{"name": "plugin1", "instance": "...", "runtime_path": "...", "gc": {...}}], "ok": true}
 * --hold: then read stdin to its end, so the caller can measure the process with every plugin's
 * runtime alive. Exit codes: 0 success, 2 bad usage or a plugin that does not load or report. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*report_fn)(char *buffer, int size);

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    static char report[4096], dir[PATH_MAX], path[PATH_MAX + 256];
    static char *names[256];
    int hold = argc == 2 && strcmp(argv[1], "--hold") == 0, count = 0;
    if (argc > 2 || (argc == 2 && !hold)) {
        fprintf(stderr, "usage: %s [--hold]\n", argv[0]);
        return 2;
    }
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0 || strrchr(dir, '/') == NULL) {
        fprintf(stderr, "plugin-host: cannot find its own path\n");
        return 2;
    }
    strcpy(strrchr(dir, '/'), "/plugins");
    DIR *listing = opendir(dir);
    if (listing == NULL) {
        fprintf(stderr, "plugin-host: no plugins folder %s\n", dir);
        return 2;
    }
    for (struct dirent *e; (e = readdir(listing)) != NULL && count < 256;) {
        size_t len = strlen(e->d_name);
        if (len > 3 && strcmp(e->d_name + len - 3, ".so") == 0)
            names[count++] = strdup(e->d_name);
    }
    closedir(listing);
    qsort(names, count, sizeof names[0], by_name);
    printf("{\"app\": \"plugin-host\", \"pid\": %d, \"instance\": \"%016x\", \"runtime_path\": \"\", "
           "\"version\": \"\", \"plugins\": [", (int)getpid(), 0);
    for (int i = 0; i < count; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        void *plugin = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        report_fn fn = plugin ? (report_fn)dlsym(plugin, "plugin_report") : NULL;
        Dl_info info;
        if (fn == NULL || dladdr((void *)fn, &info) == 0) {
            fprintf(stderr, "plugin-host: %s: %s\n", path, dlerror());
            return 2;
        }
        if (fn(report, sizeof report) < 0) {
            fprintf(stderr, "plugin-host: %s: report does not fit\n", path);
            return 2;
        }
        *strrchr(names[i], '.') = '\0';
        printf("%s{\"name\": \"%s\", \"instance\": \"%016llx\", \"runtime_path\": \"%s\", \"gc\": %s}",
               i ? ", " : "", names[i], (unsigned long long)(uintptr_t)info.dli_fbase, path, report);
    }
    printf("], \"ok\": %s}\n", count ? "true" : "false");
    fflush(stdout);
    if (hold)
        while (getchar() != EOF)
            ;
    return count ? 0 : 1;
}
