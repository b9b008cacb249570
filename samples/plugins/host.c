/* host PLUGIN...: dlopens each NativeAOT plugin library (samples/plugins/plugin), calls its
 * plugin_report, prints one JSON line, then reads stdin to its end so the caller can measure the
 * process while every plugin's runtime is alive.
 *   {"app": "plugin-host", "pid": N, "plugins": [{"path": "...", "report": {...}}, ...], "ok": true}
 * Exit codes: 0 success, 2 bad usage or a plugin that does not load or report. */
#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>

typedef int (*report_fn)(char *buffer, int size);

int main(int argc, char **argv)
{
    static char report[4096];
    if (argc < 2) {
        fprintf(stderr, "usage: %s PLUGIN...\n", argv[0]);
        return 2;
    }
    printf("{\"app\": \"plugin-host\", \"pid\": %d, \"plugins\": [", (int)getpid());
    for (int i = 1; i < argc; i++) {
        void *plugin = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);
        report_fn fn = plugin ? (report_fn)dlsym(plugin, "plugin_report") : NULL;
        if (fn == NULL) {
            fprintf(stderr, "host: %s: %s\n", argv[i], dlerror());
            return 2;
        }
        if (fn(report, sizeof report) < 0) {
            fprintf(stderr, "host: %s: report does not fit\n", argv[i]);
            return 2;
        }
        printf("%s{\"path\": \"%s\", \"report\": %s}", i > 1 ? ", " : "", argv[i], report);
    }
    printf("], \"ok\": true}\n");
    fflush(stdout);
    while (getchar() != EOF)
        ;
    return 0;
}
