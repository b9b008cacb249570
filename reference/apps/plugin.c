/*
 * plugin - one source, built twice (libplugin_a.so / libplugin_b.so, on Windows plugin_a.dll /
 * plugin_b.dll) with PLUGIN_NAME "a" and "b". Linked against the runtime like an app; loaded
 * by plugin_host with dlopen (LoadLibraryExW).
 *
 * Exports one function, plugin_describe(): the plugin initializes the runtime itself (which
 * must give the instance the host already started), uses it, and reports its instance id and
 * the path of the runtime module as seen from inside the plugin, the address space that runtime
 * reserved for its GC heap, and its collection count once the plugin has made it collect.
 */
#include "app_common.h"

#ifndef PLUGIN_NAME
#  error "PLUGIN_NAME is not defined: build with -DPLUGIN_NAME=\"a\" (a C string literal)"
#endif

static const RhMethodTable plugin_type = {
    0, 0, 3 * sizeof(void *), NULL, "Plugin." PLUGIN_NAME, NULL, NULL, 0, 0,
};

static const RhMethodTable garbage_type = {
    1, RH_MT_FLAG_IS_ARRAY, sizeof(RhArray), NULL, "Byte[]", NULL, NULL, 0, 0,
};

static int plugin_error(plugin_report *report, int code, const char *message)
{
    snprintf(report->error, sizeof report->error, "plugin %s: %s", PLUGIN_NAME, message);
    return code;
}

APP_EXPORT int plugin_describe(plugin_report *report)
{
    if (report == NULL || report->size != sizeof *report)
        return 1;
    snprintf(report->name, sizeof report->name, "%s", PLUGIN_NAME);
    if (app_initialize_runtime((const void *)(uintptr_t)&plugin_describe, &report->instance) != 0)
        return plugin_error(report, 2, "the runtime refused to initialize");

    /* Use the shared runtime: an object in a handle, and a string. */
    void *object = RhpNewFast(&plugin_type);
    RhHandle handle = object != NULL ? RhpHandleAlloc(object, RH_HANDLE_NORMAL) : NULL;
    if (handle == NULL)
        return plugin_error(report, 2, "allocation failed");
    RhString *name = RhNewString(NULL, 1);
    int ok = name != NULL && RhHandleGet(handle) == object &&
             ((const RhObject *)object)->method_table == &plugin_type;
    if (name != NULL)
        RH_STRING_CHARS(name)[0] = (uint16_t)PLUGIN_NAME[0];
    RhHandleFree(handle);
    if (!ok)
        return plugin_error(report, 2, "the runtime misbehaved");

    /* Garbage until the runtime collects: its GC runs for this plugin (a few 1 MiB segments). */
    RhGcMemoryInfo info;
    RhGetMemoryInfo(&info, 0);
    for (int i = 0; i < 64 && info.collection_count == 0; i++) {
        if (RhpNewArray(&garbage_type, 256 * 1024) == NULL)
            return plugin_error(report, 2, "allocation failed");
        RhGetMemoryInfo(&info, 0);
    }
    if (info.collection_count == 0)
        return plugin_error(report, 2, "16 MiB of garbage and the runtime never collected");
    report->heap_reserved = info.reserved_bytes;
    report->collections = info.collection_count;
    if (app_runtime_path(report->runtime_path, sizeof report->runtime_path) != 0)
        return plugin_error(report, 2, "cannot find the path of the loaded runtime module");
    return 0;
}
