/*
 * hello - the smallest app: initializes the runtime, allocates a string, reports.
 *
 * {"app": "hello", "pid": ..., "instance": ..., "runtime_path": ..., "version": ...,
 *  "message": "Hello from Runtime.Base", "cpu_count": N, "runtime_agrees": true}
 *
 * runtime_agrees: the runtime's own idea of its path (RhGetModuleFileName) matches the
 * module this app is bound to.
 */
#include "app_common.h"

int main(int argc, char **argv)
{
    app_context app;
    app_start(&app, "hello", argc, argv);

    static const char greeting[] = "Hello from Runtime.Base";
    const int32_t length = (int32_t)(sizeof greeting - 1);
    RhString *string = RhNewString(NULL, length);
    if (string == NULL)
        app_fail(&app, 2, "cannot allocate a string");
    for (int32_t i = 0; i < length; i++)
        RH_STRING_CHARS(string)[i] = (uint16_t)(unsigned char)greeting[i];

    char message[sizeof greeting];
    for (uint32_t i = 0; i < string->length; i++)
        message[i] = (char)RH_STRING_CHARS(string)[i];
    message[string->length] = '\0';

    char own_path[APP_PATH_MAX];
    size_t own_length = RhGetModuleFileName(NULL, own_path, sizeof own_path);
    int agrees = own_length > 0 && own_length < sizeof own_path && strcmp(own_path, app.runtime_path) == 0;

    app_json json;
    app_json_begin(&json, &app);
    json_key_string(&json, "message", message);
    json_key_int(&json, "cpu_count", RhGetProcessCpuCount());
    json_key_bool(&json, "runtime_agrees", agrees);
    app_finish(&json, &app);
    return 0;
}
