/* view.h — draws a recorded run (view/recording.h) for people and for tools.
 *
 * One renderer serves `tcpwave sim`, the TUN driver and the capture analyzer, so that the
 * same run looks the same whatever produced it:
 *   text     a ladder diagram for a 100-column terminal: time, arrows, both endpoints' states
 *   mermaid  a mermaid sequenceDiagram, in the style of the blog posts that teach TCP
 *   svg      a standalone SVG ladder: slanted arrows, states along the timelines, timers
 *   json     one JSON object per line (schema: docs/trace-json.md)
 * With `explain`, every step is annotated in plain words (English or Chinese) with the RFC
 * section behind it.
 */
#ifndef TCPW_VIEW_H
#define TCPW_VIEW_H

#include <stdbool.h>
#include <stdio.h>

#include "view/recording.h"

typedef enum { TCPW_FMT_TEXT, TCPW_FMT_MERMAID, TCPW_FMT_SVG, TCPW_FMT_JSON } tcpw_format;

typedef struct tcpw_view_opts {
    tcpw_format format;
    bool absolute;     /* raw seq/ack instead of relative */
    bool color;        /* ANSI colour, text only */
    bool explain;      /* plain-words annotation of each step with RFC section */
    const char *lang;  /* "en" (default) or "zh" */
    const char *title; /* optional heading; NULL for none */
} tcpw_view_opts;

/* Text format, relative numbers, no colour, no explanations, English, no title. */
void tcpw_view_opts_default(tcpw_view_opts *o);

/* Draws r in the format o asks for (o NULL: the defaults). Returns 0, or -1 when writing to
 * out failed (or out or r is NULL). Any recording can be drawn, including an empty one. */
int tcpw_view_render(FILE *out, const tcpw_recording *r, const tcpw_view_opts *o);

/* "text", "mermaid", "svg" or "json" (any case) -> *out; 0, or -1 for anything else. */
int tcpw_format_parse(const char *s, tcpw_format *out);

/* The name tcpw_format_parse() accepts for f ("text", ...). */
const char *tcpw_format_name(tcpw_format f);

/* Writes text (UTF-8) wrapped at `width` terminal columns, the way the text ladder wraps its
 * own: lines break at spaces, or between Chinese characters (which take two columns), never
 * inside "RFC 9293" or before "§". The first line goes on from column `col` after a space;
 * the next ones start at column `indent`. Ends with a newline. For headings above a ladder. */
void tcpw_view_print_wrapped(FILE *out, const char *text, size_t col, size_t indent, size_t width);

#endif
