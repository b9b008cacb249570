/*
 * plugin_host - linked against the runtime like every app; loads plugins/libplugin_a.so and
 * plugins/libplugin_b.so (plugins\plugin_a.dll and plugins\plugin_b.dll on Windows) from
 * beside its own executable and asks each to describe the runtime it sees. Against the shared
 * runtime all three must report the same instance and runtime path.
 *
 * Keys after the common ones:
 *   "heap_reserved_bytes": N (address space the host's runtime reserved for its GC heap),
 *   "collections": N (collections the host's runtime ran: the plugins' garbage, if they share it),
 *   "plugins": [{"name": "a", "instance": "...", "runtime_path": "...", "heap_reserved_bytes": N,
 *                "collections": N}, {...}]
 * Self-contained (ci.checks.twins: each module with a private runtime) they report one instance
 * and one heap per module instead.
 * Exit 3 if a plugin cannot be loaded or lacks plugin_describe, 2 on a runtime failure.
 */
#include "app_common.h"

static const char *const plugin_names[] = { "a", "b" };
#define PLUGIN_COUNT (sizeof plugin_names / sizeof plugin_names[0])

static app_context app;

static plugin_describe_fn load_plugin(const char *directory, const char *name)
{
    char path[APP_PATH_MAX];
    int n = snprintf(path, sizeof path, APP_PLUGIN_FILE, directory, name);
    if (n < 0 || (size_t)n >= sizeof path)
        app_fail(&app, 3, "plugin path too long");
    char why[APP_PATH_MAX + 256];
    void *symbol = app_plugin_symbol(path, PLUGIN_DESCRIBE, why, sizeof why);
    if (symbol == NULL)
        app_fail(&app, 3, "%s", why);
    plugin_describe_fn describe;
    memcpy(&describe, &symbol, sizeof describe);
    return describe;
}

int main(int argc, char **argv)
{
    app_start(&app, "plugin_host", argc, argv);

    char directory[APP_PATH_MAX];
    const char *failure = app_exe_directory(directory, sizeof directory);
    if (failure != NULL)
        app_fail(&app, 3, "%s", failure);
    static plugin_report reports[PLUGIN_COUNT];
    for (size_t i = 0; i < PLUGIN_COUNT; i++) {
        plugin_describe_fn describe = load_plugin(directory, plugin_names[i]);
        reports[i].size = sizeof reports[i];
        int result = describe(&reports[i]);
        if (result != 0)
            app_fail(&app, 2, "%s", reports[i].error[0] ? reports[i].error : "a plugin failed");
    }

    RhGcMemoryInfo info;
    RhGetMemoryInfo(&info, 0);
    app_json json;
    app_json_begin(&json, &app);
    json_key_uint(&json, "heap_reserved_bytes", info.reserved_bytes);
    json_key_uint(&json, "collections", info.collection_count);
    json_key(&json, "plugins");
    json_open(&json, "[");
    for (size_t i = 0; i < PLUGIN_COUNT; i++) {
        json_element(&json);
        json_open(&json, "{");
        json_key_string(&json, "name", reports[i].name);
        json_key_hex64(&json, "instance", reports[i].instance);
        json_key_string(&json, "runtime_path", reports[i].runtime_path);
        json_key_uint(&json, "heap_reserved_bytes", reports[i].heap_reserved);
        json_key_uint(&json, "collections", reports[i].collections);
        json_close(&json, "}");
    }
    json_close(&json, "]");
    app_finish(&json, &app);
    return 0;
}
