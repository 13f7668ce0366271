#!/usr/bin/env python3
"""Renders a terminal capture with ANSI colours (tmux capture-pane -p -e) as an SVG for the README.

Usage: tmux capture-pane -p -e -t SESSION | python3 scripts/ansi-to-svg.py TITLE > docs/images/NAME.svg
"""
import html
import re
import sys

# xterm's 16 colours, on a dark background.
BASIC = ["#1e1e1e", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
         "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff"]
FG, BG = "#d4d4d4", "#1e1e1e"
CHAR_W, LINE_H, PAD = 8.4, 18, 14


def xterm256(n):
    if n < 16:
        return BASIC[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return "#%02x%02x%02x" % (steps[n // 36], steps[n // 6 % 6], steps[n % 6])
    g = 8 + (n - 232) * 10
    return "#%02x%02x%02x" % (g, g, g)


def parse(line):
    """Splits one line into (text, colour, bold) runs."""
    runs, colour, bold, pos = [], FG, False, 0
    for m in re.finditer(r"\x1b\[([0-9;]*)m", line):
        if m.start() > pos:
            runs.append((line[pos:m.start()], colour, bold))
        codes = [int(c) if c else 0 for c in m.group(1).split(";")]
        i = 0
        while i < len(codes):
            c = codes[i]
            if c == 0:
                colour, bold = FG, False
            elif c == 1:
                bold = True
            elif c == 22:
                bold = False
            elif 30 <= c <= 37:
                colour = BASIC[c - 30]
            elif 90 <= c <= 97:
                colour = BASIC[c - 90 + 8]
            elif c == 39:
                colour = FG
            elif c == 38 and i + 2 < len(codes) and codes[i + 1] == 5:
                colour = xterm256(codes[i + 2])
                i += 2
            elif c == 38 and i + 4 < len(codes) and codes[i + 1] == 2:
                colour = "#%02x%02x%02x" % tuple(codes[i + 2:i + 5])
                i += 4
            i += 1
        pos = m.end()
    if pos < len(line):
        runs.append((line[pos:], colour, bold))
    return runs


def main():
    title = sys.argv[1] if len(sys.argv) > 1 else "terminal"
    lines = sys.stdin.read().rstrip("\n").split("\n")
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in lines]
    cols = max(len(l) for l in plain)
    width, height = int(cols * CHAR_W + 2 * PAD), int(len(lines) * LINE_H + 2 * PAD + 24)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
           f"<title>{html.escape(title)}</title>",
           f'<rect width="100%" height="100%" rx="6" fill="{BG}"/>',
           '<circle cx="16" cy="14" r="5" fill="#ff5f57"/><circle cx="32" cy="14" r="5" fill="#febc2e"/><circle cx="48" cy="14" r="5" fill="#28c840"/>',
           f'<g font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="14" xml:space="preserve">']
    for row, line in enumerate(lines):
        y = PAD + 24 + row * LINE_H + 13
        x = 0
        spans = []
        for text, colour, bold in parse(line):
            weight = ' font-weight="bold"' if bold else ""
            spans.append(f'<tspan x="{PAD + x * CHAR_W:.1f}" fill="{colour}"{weight}>{html.escape(text)}</tspan>')
            x += len(text)
        out.append(f'<text y="{y}">{"".join(spans)}</text>')
    out.append("</g></svg>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
