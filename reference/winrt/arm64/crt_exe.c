/*
 * crt_exe.c - an EXE's entry point, mainCRTStartup: the part of a C runtime's start-up code
 * that the apps need, on ucrtbase.dll (which initializes itself as it loads).
 */
#include <stdlib.h>

/* ucrtbase.dll's start-up interface (corecrt_startup.h in the Windows SDK). */
#define CRT_ARGV_UNEXPANDED_ARGUMENTS 1 /* _crt_argv_unexpanded_arguments: no wildcard expansion */
#define CRT_CONSOLE_APP 1               /* _crt_console_app: errors go to stderr, not a message box */
_CRTIMP int __cdecl _configure_narrow_argv(int mode);
_CRTIMP void __cdecl _set_app_type(int type);

int main(int argc, char **argv);

/* Split the command line by the C runtime's rules, run main, and leave through exit() so that
 * stdio buffers are flushed. */
int mainCRTStartup(void)
{
    _set_app_type(CRT_CONSOLE_APP);
    if (_configure_narrow_argv(CRT_ARGV_UNEXPANDED_ARGUMENTS) != 0)
        abort();
    exit(main(*__p___argc(), *__p___argv()));
}
