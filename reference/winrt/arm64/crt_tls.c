/*
 * crt_tls.c - the PE TLS directory that _Thread_local variables need (tlssup.c in other C
 * runtimes). The compiler addresses a thread-local variable as an offset into the .tls
 * section, in the block the loader allocates for this module's slot _tls_index; the loader
 * finds the section's template and the slot through _tls_used, which the linker makes the
 * TLS directory.
 */
#include <windows.h>

ULONG _tls_index = 0;

/* The linker orders .tls, .tls$ (the variables), .tls$ZZZ: these two bytes bracket the data. */
__attribute__((section(".tls"))) char _tls_start = 0;
__attribute__((section(".tls$ZZZ"))) char _tls_end = 0;

const IMAGE_TLS_DIRECTORY _tls_used = {
    (ULONG_PTR)&_tls_start, /* StartAddressOfRawData */
    (ULONG_PTR)&_tls_end,   /* EndAddressOfRawData */
    (ULONG_PTR)&_tls_index, /* AddressOfIndex */
    0,                      /* AddressOfCallBacks: none */
    0,                      /* SizeOfZeroFill */
    0,                      /* Characteristics */
};
