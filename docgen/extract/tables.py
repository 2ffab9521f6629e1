"""Tables on a page: ruled tables found from the page's strokes by pdfplumber's grid algorithm (or
PyMuPDF's finder), their cells read from the page's own text fragments so right-to-left cells
read right, and written as Markdown tables, the form page records keep them in."""

from __future__ import annotations

import functools

from docgen.core.text import is_rtl
from docgen.extract.layout import fragments, join


def markdown_table(rows: list[list[str]]) -> str:
    """A GitHub-style Markdown table; the first row is the header."""

    def cell(c):
        return " ".join((c or "").split()).replace("|", "\\|")

    width = max(len(r) for r in rows)
    rows = [[cell(c) for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)


def parse_markdown_table(md: str) -> list[list[str]]:
    """The rows of a table written by :func:`markdown_table` (header first, rule line dropped)."""
    rows = []
    for i, line in enumerate(md.strip().splitlines()):
        if i == 1:
            continue
        cells = line.strip().strip("|").replace("\\|", "\0").split("|")
        rows.append([c.strip().replace("\0", "|") for c in cells])
    return rows


def cell_text(frags: list[dict], rect) -> str:
    """Text inside one table cell (fragments whose centre is in it), joined as visual lines so RTL
    cells read right. MuPDF breaks lines at ruling lines, so fragments do not cross cells."""
    x0, y0, x1, y1 = rect
    inside = [
        f
        for f in frags
        if x0 <= (f["bbox"][0] + f["bbox"][2]) / 2 <= x1
        and y0 <= (f["bbox"][1] + f["bbox"][3]) / 2 <= y1
    ]
    if not inside:
        return ""
    rtl = is_rtl("".join(f["text"] for f in inside))
    inside.sort(key=lambda f: (round(f["bbox"][1] / 4), -f["bbox"][2] if rtl else f["bbox"][0]))
    return join(inside)


def ruling_edges(page, shown=None) -> list[dict]:
    """The page's horizontal and vertical strokes and rectangle sides, as pdfplumber's edges
    (``x0 x1 top bottom width height orientation``), from MuPDF's vector paths. ``shown``: the
    page's display list, when it has one: a page that draws no path at all (most pages of text)
    is known to have none without reading the page again."""
    if shown is not None and not draws_paths(shown):
        return []
    edges = []

    def edge(x0, y0, x1, y1, kind):
        x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        if abs(y1 - y0) < 1:
            orientation = "h"
        elif abs(x1 - x0) < 1:
            orientation = "v"
        else:
            return
        box = {"x0": x0, "x1": x1, "top": y0, "bottom": y1, "width": x1 - x0, "height": y1 - y0}
        edges.append({**box, "orientation": orientation, "object_type": kind})

    for path in page.get_cdrawings():
        for item in path.get("items", ()):
            if item[0] == "l":
                (ax, ay), (bx, by) = item[1], item[2]
                edge(ax, ay, bx, by, "line")
            elif item[0] == "re":
                x0, y0, x1, y1 = item[1]
                for a, b, c, d in ((x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1),
                                   (x1, y0, x1, y1)):  # fmt: skip
                    edge(a, b, c, d, "rect_edge")
    return edges


def draws_paths(shown) -> bool:
    """Whether a display list fills or strokes any vector path: the only drawing that
    ``get_cdrawings`` reports. Replaying the list to a device that only counts them costs a
    tenth of ``get_cdrawings``, which reads the page's content anew. One difference: MuPDF
    leaves out of a display list a path its clip hides entirely, which ``get_cdrawings``
    reports; a page whose every path is hidden so has no ruling lines (no page of the
    benchmark's 830 is one)."""
    from pymupdf import mupdf

    device = _path_counter()()
    everywhere = mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE)
    mupdf.fz_run_display_list(shown.this, device, mupdf.FzMatrix(), everywhere, mupdf.FzCookie())
    mupdf.fz_close_device(device)
    return device.paths > 0


@functools.cache
def _path_counter():
    """A MuPDF device class that counts filled and stroked paths and ignores everything else."""
    from pymupdf import mupdf

    class PathCounter(mupdf.FzDevice2):
        def __init__(self):
            super().__init__()
            self.use_virtual_fill_path()
            self.use_virtual_stroke_path()
            self.paths = 0

        def fill_path(self, *args):
            self.paths += 1

        def stroke_path(self, *args):
            self.paths += 1

    return PathCounter


def grid_possible(edges: list[dict]) -> bool:
    """Enough horizontal and vertical edges for a ruled table of two rows and two columns."""
    horizontal = sum(e["orientation"] == "h" for e in edges)
    return horizontal >= 3 and len(edges) - horizontal >= 3


def plumber_grids(edges: list[dict]) -> list[list[list[tuple | None]]]:
    """Cell boxes of ruled tables by pdfplumber's algorithm (snap and join the edges, find their
    intersections, cells, then tables), fed with MuPDF's geometry: the same grids as
    ``pdfplumber.Page.find_tables`` with its default settings, without pdfminer parsing the
    whole page (which cost ~0.3 s a page)."""
    from pdfplumber.table import (
        Table,
        cells_to_tables,
        edges_to_intersections,
        intersections_to_cells,
        merge_edges,
    )
    from pdfplumber.utils import filter_edges

    edges = merge_edges(edges, snap_x_tolerance=3, snap_y_tolerance=3, join_x_tolerance=3,
                        join_y_tolerance=3)  # fmt: skip
    edges = filter_edges(edges, min_length=3)
    cells = intersections_to_cells(edges_to_intersections(edges, 3, 3))
    return [
        [list(row.cells) for row in Table(None, group).rows] for group in cells_to_tables(cells)
    ]


def tables(page, text: dict, method: str, rtl: bool, edges: list[dict] | None = None) -> list[str]:
    """The page's tables as Markdown; on RTL pages columns are put back in reading order.

    ``pdfplumber``'s grid finding is more reliable on ruled tables than PyMuPDF's finder (which
    merges rows of Arabic tables); either way the cell text is MuPDF's, which is in logical order
    where pdfplumber's own text is Arabic reversed. Pages without a grid of ruling lines skip the
    finders altogether.
    """
    edges = ruling_edges(page) if edges is None else edges
    if method == "off" or not grid_possible(edges):
        return []
    if method == "pdfplumber":
        grids = plumber_grids(edges)
    else:
        grids = [[list(row.cells) for row in t.rows] for t in page.find_tables().tables]
    frags = fragments(text)
    out = []
    for grid in grids:
        rows = [[cell_text(frags, c) if c else "" for c in row] for row in grid]
        rows = [r for r in rows if any(c.strip() for c in r)]
        if len(rows) >= 2 and max(len(r) for r in rows) >= 2:
            out.append(markdown_table([list(reversed(r)) if rtl else r for r in rows]))
    return out
