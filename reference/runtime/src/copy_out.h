/* snprintf-style copy-out shared by the PALs: truncates, terminates, returns the full length. */
#ifndef RUNTIME_BASE_COPY_OUT_H
#define RUNTIME_BASE_COPY_OUT_H

#include <stddef.h>
#include <string.h>

static size_t pal_copy_out(const char *text, char *buffer, size_t size)
{
    size_t length = strlen(text);
    if (buffer != NULL && size > 0) {
        size_t n = length < size - 1 ? length : size - 1;
        memcpy(buffer, text, n);
        buffer[n] = '\0';
    }
    return length;
}

#endif
