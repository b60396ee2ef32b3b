/* The status page (net/status.html) as read-only bytes, status_page to
 * status_page_end: the page stays an ordinary HTML file to edit and test
 * (tests/unit/status_page_js.py runs its BLAKE2b under node), and the
 * freestanding build needs no generator to embed it. The Makefile makes
 * this object depend on the file (.incbin is invisible to -MMD). */
    .section .rodata.status_page, "a"
    .globl status_page
    .globl status_page_end
status_page:
    .incbin "net/status.html"
status_page_end:
