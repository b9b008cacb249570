/*
 * plugin_host - linked against the runtime like every app; loads plugins/libplugin_a.so and
 * plugins/libplugin_b.so from beside its own executable and asks each to describe the
 * runtime it sees. All three must report the same instance and runtime path.
 *
 * Keys after the common ones:
 *   "plugins": [{"name": "a", "instance": "...", "runtime_path": "..."}, {...}]
 * Exit 3 if a plugin cannot be loaded or lacks plugin_describe, 2 on a runtime failure.
 */
#include "app_common.h"

#include <libgen.h>

static const char *const plugin_names[] = { "a", "b" };
#define PLUGIN_COUNT (sizeof plugin_names / sizeof plugin_names[0])

static app_context app;

/* Directory of this executable, from /proc/self/exe. */
static void exe_directory(char *out, size_t size)
{
    char *exe = realpath("/proc/self/exe", NULL);
    if (exe == NULL)
        app_fail(&app, 3, "cannot resolve /proc/self/exe");
    int fits = strlen(exe) < size;
    if (fits)
        strcpy(out, dirname(exe));
    free(exe);
    if (!fits)
        app_fail(&app, 3, "executable path too long");
}

static plugin_describe_fn load_plugin(const char *directory, const char *name)
{
    char path[APP_PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/plugins/libplugin_%s.so", directory, name);
    if (n < 0 || (size_t)n >= sizeof path)
        app_fail(&app, 3, "plugin path too long");
    void *module = dlopen(path, RTLD_NOW | RTLD_LOCAL); /* kept loaded until exit */
    if (module == NULL)
        app_fail(&app, 3, "cannot load %s: %s", path, dlerror());
    void *symbol = dlsym(module, PLUGIN_DESCRIBE);
    if (symbol == NULL)
        app_fail(&app, 3, "%s has no %s: %s", path, PLUGIN_DESCRIBE, dlerror());
    plugin_describe_fn describe;
    memcpy(&describe, &symbol, sizeof describe);
    return describe;
}

int main(int argc, char **argv)
{
    app_start(&app, "plugin_host", argc, argv);

    char directory[APP_PATH_MAX];
    exe_directory(directory, sizeof directory);
    static plugin_report reports[PLUGIN_COUNT];
    for (size_t i = 0; i < PLUGIN_COUNT; i++) {
        plugin_describe_fn describe = load_plugin(directory, plugin_names[i]);
        reports[i].size = sizeof reports[i];
        int result = describe(&reports[i]);
        if (result != 0)
            app_fail(&app, 2, "%s", reports[i].error[0] ? reports[i].error : "a plugin failed");
    }

    app_json json;
    app_json_begin(&json, &app);
    json_key(&json, "plugins");
    json_open(&json, "[");
    for (size_t i = 0; i < PLUGIN_COUNT; i++) {
        json_element(&json);
        json_open(&json, "{");
        json_key_string(&json, "name", reports[i].name);
        json_key_hex64(&json, "instance", reports[i].instance);
        json_key_string(&json, "runtime_path", reports[i].runtime_path);
        json_close(&json, "}");
    }
    json_close(&json, "]");
    app_finish(&json, &app);
    return 0;
}
