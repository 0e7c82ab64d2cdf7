/* view.c — the entry point of the view: options, format names, and the dispatch to the
 * renderer of each format (text.c, mermaid.c, svg.c, json.c).
 */
#include <ctype.h>
#include <string.h>

#include "view/view.h"
#include "view/view_internal.h"

static const char *const format_names[] = {
    [TCPW_FMT_TEXT] = "text",
    [TCPW_FMT_MERMAID] = "mermaid",
    [TCPW_FMT_SVG] = "svg",
    [TCPW_FMT_JSON] = "json",
};

void tcpw_view_opts_default(tcpw_view_opts *o) {
    o->format = TCPW_FMT_TEXT;
    o->absolute = false;
    o->color = false;
    o->explain = false;
    o->lang = "en";
    o->title = NULL;
}

static bool same_word(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return false;
    return *a == *b;
}

int tcpw_format_parse(const char *s, tcpw_format *out) {
    if (!s || !out) return -1;
    for (size_t i = 0; i < sizeof format_names / sizeof format_names[0]; i++) {
        if (same_word(s, format_names[i])) {
            *out = (tcpw_format)i;
            return 0;
        }
    }
    return -1;
}

const char *tcpw_format_name(tcpw_format f) {
    return (unsigned)f < sizeof format_names / sizeof format_names[0] ? format_names[f] : "?";
}

int tcpw_view_render(FILE *out, const tcpw_recording *r, const tcpw_view_opts *o) {
    if (!out || !r) return -1;
    view_ctx c;
    if (view_ctx_init(&c, r, o) < 0) return -1;
    switch (c.o.format) {
    case TCPW_FMT_MERMAID: view_render_mermaid(out, &c); break;
    case TCPW_FMT_SVG: view_render_svg(out, &c); break;
    case TCPW_FMT_JSON: view_render_json(out, &c); break;
    case TCPW_FMT_TEXT:
    default: view_render_text(out, &c); break;
    }
    view_ctx_free(&c);
    if (fflush(out) != 0 || ferror(out)) return -1;
    return 0;
}

void tcpw_view_print_wrapped(FILE *out, const char *text, size_t col, size_t indent, size_t width) {
    const char *p = text ? text : "";
    fputc(' ', out);
    col++;
    while (*p) {
        const char *next;
        size_t n = view_wrap(p, width > col ? width - col : 1, &next);
        fwrite(p, 1, n, out);
        p = next;
        if (*p) {
            fprintf(out, "\n%*s", (int)indent, "");
            col = indent;
        }
    }
    fputc('\n', out);
}
