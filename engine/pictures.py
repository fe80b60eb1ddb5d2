"""The pictures of the reports, as inline SVG: the Staircase of Relationships with the step marked,
Figure 1 (Armistead & Pettigrew) with the regions the rules draw and the points placed on it.

Why inline SVG: a report is one self-contained file (no script, no image to fetch) that prints and
scales to a phone. Every picture carries its text alternative (`role="img"`, a `<title>` and a
`<desc>` that say in words what the picture shows, figures included), so nothing is only a picture.

Colours: the Okabe–Ito palette (distinguishable with the common colour-vision deficiencies), and
never colour alone — each organisation also has its own marker shape (and hatch in bar charts), the
marked step is dark with white text against light steps, and every point and region is labelled in
words, so the pictures read in greyscale too. Output is deterministic (fixed hash salt, no dates),
so identical input still gives byte-identical reports.
"""
from __future__ import annotations

import html
import io
import re
from dataclasses import dataclass
from typing import Any, Callable

# Okabe & Ito (2008), "Color Universal Design": blue, vermillion, bluish green, reddish purple,
# orange, sky blue; black is kept for the whole partnership. Yellow is left out (too light on white).
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "h"]
HATCHES = ["", "//", "..", "xx", "\\\\", "--", "oo", "++"]
REGION_COLOURS = ["#fde0dd", "#fff3c4", "#d9f0d3", "#dbe9f6", "#eeeeee"]
INK = "#222222"


def colour(n: int) -> str:
    """Colour of the n-th organisation (0-based); the palette repeats, the marker does not (8 kinds)."""
    return PALETTE[n % len(PALETTE)]


def short_label(ident: str) -> str:
    """A region or step label for a picture: the last part of the conclusion id, capitalised."""
    return ident.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _e(text: str) -> str:
    return html.escape(text, quote=True)


# ---- the Staircase of Relationships (hand-written SVG) -------------------------------------------

def staircase_svg(steps: list[tuple[str, str]], here: str | None, key: str = "stair") -> str:
    """The steps bottom to top, left to right, as a staircase; the partnership's step dark and
    marked "here". `steps` are (conclusion id, title); `key` keeps element ids unique on a page."""
    n = len(steps)
    if n == 0:
        return ""
    width, height, pad, top = 560, 190, 8, 30
    w = (width - 2 * pad) / n
    rise = (height - top - pad - 24) / n
    parts = []
    for i, (ident, title) in enumerate(steps):
        x, h = pad + i * w, (i + 1) * rise + 24
        y = height - pad - h
        mine = ident == here
        fill, ink = ("#0b4f7c", "#ffffff") if mine else ("#e8e8e8", INK)
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{w - 3:.1f}" height="{h:.1f}" fill="{fill}" '
                     f'stroke="{INK}" stroke-width="{2.5 if mine else 1}"><title>{_e(title)}</title></rect>')
        parts.append(f'<text x="{x + (w - 3) / 2:.1f}" y="{y + 18:.1f}" text-anchor="middle" font-size="14" '
                     f'font-weight="{"bold" if mine else "normal"}" fill="{ink}">{_e(short_label(ident))}</text>')
        if mine:
            parts.append(f'<text x="{x + (w - 3) / 2:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="13" '
                         f'font-weight="bold" fill="{INK}">▼ here</text>')
    where = next((k for k, (ident, _) in enumerate(steps) if ident == here), None)
    title = "Staircase of Relationships"
    desc = (f"The partnership is on step {where + 1} of {n}: {steps[where][1]}." if where is not None
            else "Not enough answers to place the partnership on a step.")
    desc += " Steps from bottom to top: " + "; ".join(short_label(i) for i, _ in steps) + "."
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
            f'aria-labelledby="{key}-title {key}-desc" style="width:100%;height:auto;max-width:{width}px" '
            f'font-family="DejaVu Sans, system-ui, sans-serif"><title id="{key}-title">{_e(title)}</title>'
            f'<desc id="{key}-desc">{_e(desc)}</desc>' + "".join(parts) + "</svg>")


# ---- matplotlib figures as inline SVG ------------------------------------------------------------

def mpl_text(text: str) -> str:
    """Text as matplotlib draws it literally: `$` would start mathtext."""
    return text.replace("$", r"\$")


def figure(width: float, height: float):
    import matplotlib
    matplotlib.use("Agg")                  # never a GUI backend, even if pyplot is imported elsewhere
    matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "partnerdx",
                                "font.family": "DejaVu Sans", "font.size": 9})
    from matplotlib.figure import Figure   # no pyplot: no GUI backend, no global figure state
    return Figure(figsize=(width, height), layout="constrained")


def svg(fig, label: str, desc: str = "") -> str:
    """The figure as inline SVG, scaled to its container, with its text alternative: `aria-label`
    (short) and a `<desc>` (the figures in words)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    out = buf.getvalue()
    out = out[out.index("<svg"):]
    out = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"',
                 lambda m: f'<svg{m.group(1)} role="img" aria-label="{html.escape(label)}" '
                           'style="width:100%;height:auto"', out, count=1)
    if desc:
        out = re.sub(r"(<svg[^>]*>)", lambda m: f"{m.group(1)}<desc>{html.escape(desc)}</desc>", out, count=1)
    return out


def _label_points(grid: list[float], cells: list[list[int]], index: int) -> tuple[float, float] | None:
    """Where to write a region's name: its cell farthest from any other region (coarse grid)."""
    step = max(1, len(grid) // 20)
    mine = [(r, c) for r in range(0, len(grid), step) for c in range(0, len(grid), step) if cells[r][c] == index]
    other = [(r, c) for r in range(0, len(grid), step) for c in range(0, len(grid), step) if cells[r][c] != index]
    if not mine:
        return None
    last = len(grid) - 1

    def room(p: tuple[int, int]) -> float:
        edge = min(p[0], p[1], last - p[0], last - p[1]) ** 2
        return min([edge, *((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 for q in other)])
    best = max(mine, key=lambda p: (room(p), -p[0], p[1]))
    return grid[best[1]], grid[best[0]]


@dataclass
class Axis:
    score: str
    low: str
    high: str


def figure1_svg(regions: tuple[list[float], list[str], list[list[int]]], x: Axis, y: Axis, title: str,
                label: str, desc: str, draw: Callable[[Any], None], size: tuple[float, float] = (6.4, 6.0)) -> str:
    """Figure 1: the mode regions the rules draw, labelled, then whatever `draw` puts on the axes."""
    grid, modes, cells = regions
    fig = figure(*size)
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    for index, _ in enumerate(modes):   # vector regions (no raster image: the page fetches nothing)
        mask = [[1.0 if v == index else 0.0 for v in row] for row in cells]
        ax.contourf(grid, grid, mask, levels=[0.5, 1.5], colors=[REGION_COLOURS[index % len(REGION_COLOURS)]])
    for index, mode in enumerate(modes):
        at = _label_points(grid, cells, index)
        if at:
            ax.text(at[0], at[1], short_label(mode), ha="center", va="center", fontsize=13, color="#555555",
                    alpha=0.75, fontweight="bold", gid=f"region-{index}", zorder=1)
    draw(ax)
    ax.set_xlim(1, 5)
    ax.set_ylim(1, 5)
    ax.set_xticks([1, 2, 3, 4, 5])
    ax.set_yticks([1, 2, 3, 4, 5])
    ax.set_xlabel(f"{x.low}  ←  {x.score}  →  {x.high}")
    ax.set_ylabel(f"{y.low}  ←  {y.score}  →  {y.high}")
    ax.set_title(title)
    return svg(fig, label, desc)


def point_on_figure1(x: float, y: float, name: str) -> Callable[[Any], None]:
    """One diagnosis on Figure 1: a black star, labelled."""
    def draw(ax: Any) -> None:
        ax.scatter([x], [y], s=220, marker="*", color="#000000", edgecolors="white", linewidths=0.8, zorder=5)
        ax.annotate(mpl_text(name), (x, y), xytext=(9, 4), textcoords="offset points", fontsize=9,
                    color="#000000", zorder=4.5, bbox=LABEL_BOX)
    return draw


LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.75}


def wrap(text: str, width: int) -> str:
    words, lines, line = text.split(), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    return "\n".join([*lines, line])
