"""Plain PDFs for staff's records (a case's chronology, a subject access export): headings and lines.

fpdf2 with a system TrueType font that has every script's letters (DejaVu Sans where installed, or the
one ``CLASSMOD_PDF_FONT`` names); without one, Latin letters only, and the PDF says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF

__all__ = ["FONT_PATHS", "text_pdf"]

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),  # Debian, Ubuntu (fonts-dejavu-core)
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),  # Fedora
    Path("/usr/share/fonts/TTF/DejaVuSans.ttf"),  # Arch
    Path("/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf"),
)
"""Where a font with every script's letters is looked for."""


def text_pdf(
    title: str, sections: Sequence[tuple[str, Sequence[str]]], font: Path | None = None
) -> tuple[bytes, bool]:
    """A PDF of a title and (heading, lines) sections; and whether every script's letters could be shown."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    chosen = font if font is not None else next((path for path in FONT_PATHS if path.is_file()), None)
    is_unicode = chosen is not None and chosen.is_file()
    if is_unicode:
        pdf.add_font("Body", "", str(chosen))
    family = "Body" if is_unicode else "Helvetica"

    def line(text: str, size: float, height: float) -> None:
        shown = text if is_unicode else text.encode("latin-1", "replace").decode("latin-1")
        pdf.set_font(family, size=size)
        pdf.multi_cell(pdf.epw, height, shown, new_x="LMARGIN", new_y="NEXT")

    line(title, 15, 8)
    if not is_unicode:
        line(
            "No font with every script was found (set CLASSMOD_PDF_FONT): letters outside Latin show as ?.",
            9,
            5,
        )
    for heading, lines in sections:
        pdf.ln(3)
        if heading:
            line(heading, 12, 6)
        for text in lines:
            line(text, 9.5, 5)
    return bytes(pdf.output()), is_unicode
