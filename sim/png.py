"""PNG files of figures, their text drawn one string at a time.

Matplotlib 3.11 rasterises text glyph by glyph, in Python: about 0.14 ms a glyph, the larger
part of the cost of a figure with an event key (about 1,200 glyphs a figure; see
benchmarks/figures.py, where matplotlib 3.10.8 drew the same text four times faster).
:func:`save_png` draws each string as matplotlib up to 3.10 did: laid out and rendered into one
bitmap by FreeType (``FT2Font.draw_glyphs_to_bitmap``), then blended once. The text looks the
same (a string may move by up to a pixel) and a PNG takes about 40% less time. Text with
mathtext, font features or a language set takes matplotlib's own path, as does all text under
matplotlib releases without the glyph-by-glyph drawing, and all text from the first string that the
private methods used here fail to draw (a later matplotlib). matplotlib's own fix (pull request
32120, "Text rendering speedups", merged in July 2026) will make this module unnecessary once
released."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def save_png(fig: Figure, path: str | Path, **options: Any) -> None:
    """``fig.savefig(path, **options)`` as PNG, each string drawn in one pass where that helps."""
    canvas = _canvas_class()
    if canvas is None:
        fig.savefig(path, format="png", **options)
        return
    before = fig.canvas
    canvas(fig)
    try:
        fig.savefig(path, format="png", **options)
    finally:
        fig.set_canvas(before)


def _canvas_class() -> type | None:
    """An Agg canvas whose renderer draws strings whole, or None where matplotlib does already."""
    global _CANVAS
    if _CANVAS is not False:
        return _CANVAS
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
    from matplotlib.ft2font import FT2Font

    if not hasattr(RendererAgg, "_draw_text_glyphs_and_boxes") or not hasattr(
        FT2Font, "draw_glyphs_to_bitmap"
    ):
        _CANVAS = None  # matplotlib < 3.11 draws each string in one pass itself
        return None

    class StringRenderer(RendererAgg):
        def draw_text(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):  # noqa: ANN001, ANN202
            if (
                _broken
                or ismath
                or (mtext is not None and (mtext.get_fontfeatures() or mtext.get_language()))
            ):
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            try:
                self._draw_string(gc, x, y, s, prop, angle)
            except Exception:  # noqa: BLE001 (a matplotlib whose internals moved: its own path from now)
                _fail()
                return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
            return None

        def _draw_string(self, gc, x, y, s, prop, angle):  # noqa: ANN001, ANN202
            font = self._prepare_font(prop)
            # angle 0 here: the bitmap is rotated (in raster space) by draw_text_image
            font.set_text(s, 0, flags=get_hinting_flag())
            font.draw_glyphs_to_bitmap(antialiased=gc.get_antialiased())
            descent = font.get_descent() / 64
            xo, yo = font.get_bitmap_offset()
            x = round(x + xo / 64 + descent * math.sin(math.radians(angle)))
            y = round(y + yo / 64 + descent * math.cos(math.radians(angle)))
            self._renderer.draw_text_image(font.get_image(), x, y + 1, angle, gc)

        def get_text_width_height_descent(self, s, prop, ismath):  # noqa: ANN001, ANN202
            # the same strings (the event key, the caption, tick labels) in every figure of a run
            if ismath:
                return super().get_text_width_height_descent(s, prop, ismath)
            rc = matplotlib.rcParams
            key = (s, prop.copy(), self.dpi, rc["text.hinting"], rc["text.hinting_factor"])
            if key not in _METRICS:
                if len(_METRICS) > 10_000:  # a long-lived process: forget rather than grow
                    _METRICS.clear()
                _METRICS[key] = super().get_text_width_height_descent(s, prop, ismath)
            return _METRICS[key]

    class StringCanvas(FigureCanvasAgg):
        def get_renderer(self):  # noqa: ANN202
            w, h = self.get_width_height(physical=True)
            key = w, h, self.figure.dpi
            if self._lastKey != key:  # as FigureCanvasAgg: one renderer while the size stays
                self.renderer = StringRenderer(w, h, self.figure.dpi)
                self._lastKey = key
            return self.renderer

    _CANVAS = StringCanvas
    return _CANVAS


_CANVAS: type | None | bool = False  # not looked at yet
#: Set when drawing a string whole failed (matplotlib's private methods changed): every string then
#: goes through matplotlib's own path, which is slower but always right.
_broken = False


def _fail() -> None:
    global _broken
    _broken = True


#: Width, height and descent of strings drawn before, by (text, font, dpi, hinting, its factor).
_METRICS: dict[tuple, tuple[float, float, float]] = {}
