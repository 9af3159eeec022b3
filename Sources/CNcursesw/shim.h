#ifndef PIPETOP_CNCURSESW_SHIM_H
#define PIPETOP_CNCURSESW_SHIM_H
// ncursesw for Swift (see shared/TERMINAL-NOTES.md): the wide-character API needs these two
// defines before <curses.h>; macros Swift cannot import are wrapped in static inline functions.
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <wchar.h>
#include <curses.h>

static inline attr_t pt_a_normal(void) { return A_NORMAL; }
static inline attr_t pt_a_bold(void) { return A_BOLD; }
static inline attr_t pt_a_dim(void) { return A_DIM; }
static inline attr_t pt_a_italic(void) { return A_ITALIC; }
static inline attr_t pt_a_underline(void) { return A_UNDERLINE; }
static inline attr_t pt_a_reverse(void) { return A_REVERSE; }

static inline int pt_maxy(WINDOW *w) { return getmaxy(w); }
static inline int pt_maxx(WINDOW *w) { return getmaxx(w); }
static inline WINDOW *pt_stdscr(void) { return stdscr; }
static inline int pt_colors(void) { return COLORS; }
static inline int pt_color_pairs(void) { return COLOR_PAIRS; }

/// Writes one cell: a grapheme given as a NUL-terminated wide string (base + combining marks).
static inline int pt_put(WINDOW *w, int y, int x, const wchar_t *text, attr_t attrs, int pair) {
    cchar_t cell;
    if (setcchar(&cell, text, attrs, 0, &pair) == ERR) return ERR;
    return mvwadd_wch(w, y, x, &cell);
}

/// Writes `n` cells from (y, x) in one call, each one scalar one column wide (no combining marks,
/// nothing wide: `wadd_wchnstr` places cells by their width), with its own attributes and pair.
static inline int pt_put_narrow(WINDOW *w, int y, int x, const wchar_t *chars, const attr_t *attrs, const int *pairs, int n) {
    if (n <= 0) return OK;
    cchar_t cells[n];
    for (int i = 0; i < n; i++) {
        wchar_t text[2] = { chars[i], 0 };
        int pair = pairs[i];
        if (setcchar(&cells[i], text, attrs[i], 0, &pair) == ERR) return ERR;
    }
    return mvwadd_wchnstr(w, y, x, cells, n);
}
#endif
