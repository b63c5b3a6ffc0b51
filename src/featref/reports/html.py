"""A self-contained HTML page: inline CSS, figures embedded as base64 PNG data URIs.

The page loads no script, font or stylesheet from anywhere, so it can be mailed, archived or opened
offline; the PNG/PDF files written next to it are the same figures at full resolution.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

from featref.reports.tables import Table

__all__ = ["HtmlPage", "png_data_uri", "table_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: right; }
th { background: #eef2f7; } td:first-child, th:first-child { text-align: left; }
caption { caption-side: bottom; text-align: left; font-size: .85em; color: #555;
          padding-top: .3em; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; margin-top: .3em; }
.notes { background: #fff8e1; border-left: 4px solid #E69F00; padding: .5em 1em; }
.meta { color: #555; font-size: .9em; }
pre { background: #f6f8fa; padding: .8em; overflow-x: auto; }
"""


def png_data_uri(png: bytes | str | Path) -> str:
    """``data:image/png;base64,...`` for PNG bytes or a PNG file."""
    data = png if isinstance(png, bytes) else Path(png).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def table_html(table: Table) -> str:
    """An HTML ``<table>`` of the table's formatted cells, with its caption."""
    cols, rows = table.shown()
    esc = html.escape
    head = "".join(f"<th>{esc(str(c))}</th>" for c in cols)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    cap = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>"


@dataclass
class HtmlPage:
    """Collects HTML fragments in order and renders one self-contained page.

    Attributes:
        title: Page title and top heading.
        parts: HTML fragments, in order.
    """

    title: str
    parts: list[str] = field(default_factory=list)

    def heading(self, text: str, level: int = 2, anchor: str | None = None) -> None:
        """Add ``<h{level}>``."""
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        self.parts.append(f"<h{level}{ident}>{html.escape(text)}</h{level}>")

    def paragraph(self, text: str, css_class: str | None = None) -> None:
        """Add a paragraph of plain text."""
        cls = f' class="{css_class}"' if css_class else ""
        self.parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def notes(self, lines: list[str], *, at: int | None = None) -> None:
        """Add a highlighted list of notes (skipped figures, warnings), at the end or at ``at``."""
        if lines:
            items = "".join(f"<li>{html.escape(s)}</li>" for s in lines)
            fragment = f'<div class="notes"><strong>Notes</strong><ul>{items}</ul></div>'
            self.parts.insert(len(self.parts) if at is None else at, fragment)

    def table(self, table: Table, *, collapsed: bool = False) -> None:
        """Add a table with its title; ``collapsed`` puts it in a ``<details>`` element."""
        inner = table_html(table)
        if collapsed:
            n = len(table.rows)
            summary = f"{html.escape(table.title)} ({n} rows)"
            self.parts.append(f"<details><summary>{summary}</summary>{inner}</details>")
        else:
            self.parts.append(f"<h3>{html.escape(table.title)}</h3>{inner}")

    def figure(
        self,
        png: bytes | str | Path,
        *,
        alt: str,
        caption: str = "",
        width_px: int | None = None,
    ) -> None:
        """Embed a PNG as a data URI with a caption.

        Args:
            png: PNG bytes or file.
            alt: Alternative text.
            caption: Caption under the figure.
            width_px: Display width in CSS pixels (e.g. the figure's width in inches times 96),
                so that figures share one text scale; never wider than the page.
        """
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        style = f' style="width: {int(width_px)}px"' if width_px else ""
        self.parts.append(
            f'<figure><img src="{png_data_uri(png)}" alt="{html.escape(alt)}"{style}>{cap}</figure>'
        )

    def preformatted(self, text: str, *, summary: str | None = None) -> None:
        """Add preformatted text, optionally collapsed under ``summary``."""
        block = f"<pre>{html.escape(text)}</pre>"
        if summary:
            block = f"<details><summary>{html.escape(summary)}</summary>{block}</details>"
        self.parts.append(block)

    def raw(self, fragment: str) -> None:
        """Add an HTML fragment as is (callers escape their own text)."""
        self.parts.append(fragment)

    def render(self) -> str:
        """The complete page."""
        body = "\n".join(self.parts)
        title = html.escape(self.title)
        return (
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
            f"<h1>{title}</h1>\n{body}\n</body>\n</html>\n"
        )
