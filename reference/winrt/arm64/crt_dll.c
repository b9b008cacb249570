/*
 * crt_dll.c - a DLL's entry point, _DllMainCRTStartup. Nothing to set up: ucrtbase.dll
 * initializes itself, and the runtime needs no per-thread notifications (thread exit comes
 * from fiber-local storage callbacks).
 */
#include <windows.h>

BOOL WINAPI _DllMainCRTStartup(HINSTANCE instance, DWORD reason, void *reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
