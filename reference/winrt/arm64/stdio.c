/*
 * stdio.c - the printf functions the sources use. ucrtbase.dll does not export them: the
 * Windows SDK's headers (and mingw-w64's libucrt) implement them over its __stdio_common_*
 * functions, as these do.
 */
#include <stdarg.h>
#include <stdio.h>

int vsnprintf(char *restrict buffer, size_t size, const char *restrict format, va_list args)
{
    /* C99 semantics: always NUL-terminated, returns the length the whole text would have. */
    return __stdio_common_vsprintf(_CRT_INTERNAL_PRINTF_STANDARD_SNPRINTF_BEHAVIOR, buffer, size, format, NULL, args);
}

int snprintf(char *restrict buffer, size_t size, const char *restrict format, ...)
{
    va_list args;
    va_start(args, format);
    int length = vsnprintf(buffer, size, format, args);
    va_end(args);
    return length;
}

int vfprintf(FILE *restrict stream, const char *restrict format, va_list args)
{
    return __stdio_common_vfprintf(0, stream, format, NULL, args);
}

int fprintf(FILE *restrict stream, const char *restrict format, ...)
{
    va_list args;
    va_start(args, format);
    int length = vfprintf(stream, format, args);
    va_end(args);
    return length;
}
