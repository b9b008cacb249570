/*
 * chkstk.c - __chkstk, which the compiler calls before it allocates a stack frame larger than
 * a page: it touches the new pages from the top down, so that each touch meets the guard page
 * that grows the stack. Windows on arm64 convention: x15 holds the frame size / 16; only x16
 * and x17 may change; the caller moves sp itself.
 */
__asm__(".text\n"
        ".def __chkstk\n"
        ".scl 2\n"
        ".type 32\n"
        ".endef\n"
        ".globl __chkstk\n"
        ".p2align 2\n"
        "__chkstk:\n"
        "    lsl x16, x15, #4\n"   /* bytes to probe */
        "    mov x17, sp\n"
        "1:\n"
        "    sub x17, x17, #4096\n"
        "    subs x16, x16, #4096\n"
        "    ldr xzr, [x17]\n"     /* touch the page */
        "    b.gt 1b\n"
        "    ret\n");
