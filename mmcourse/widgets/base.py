"""What every explorer of the course shares: the status line, PNG pictures, attention overlays.

An explorer is a small interactive view built from ipywidgets: some controls, a picture or
two, and a status line that says in words what is shown. A lesson builds one and makes it
the last expression of a cell::

    explorer = SpectrogramExplorer(clips, sample_rate=16000)
    explorer            # shows the controls, the picture and the status line

A subclass of :class:`Explorer` builds its controls, connects them with :meth:`Explorer.watch`
(or :meth:`Explorer.on_click` for a button), puts them and ``self.status`` into ``self.widget``,
and reports what it shows with :meth:`Explorer.set_status`.

The pictures are PNG bytes for an ``ipywidgets.Image``: :func:`png_bytes` encodes a NumPy
image or a matplotlib figure, :func:`new_figure` makes a figure that is not tied to pyplot
(so redrawing never piles up open figures), and :func:`overlay` draws an attention map over
an image, either smoothly upsampled (:func:`upsample_map`) or cell by cell.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from torch.nn import functional as F


class Explorer:
    """The base of every explorer: a status line, callbacks that do not re-enter, display.

    Attributes:
        status: the ``ipywidgets.Output`` that holds the status line (and any detail lines).
        line: the last status line as plain text (what tests and lessons read).
        widget: the whole view; a subclass replaces it with its own layout, which
            includes ``status``.
    """

    def __init__(self) -> None:
        self.status = widgets.Output()
        self.line = ""
        self.widget: widgets.Widget = widgets.VBox([self.status])
        self._busy = False

    # -- callbacks ------------------------------------------------------------------------

    def watch(self, controls: Iterable[widgets.Widget], callback: Callable[[], object]) -> None:
        """Call ``callback()`` whenever the value of one of ``controls`` changes."""
        for control in controls:
            control.observe(lambda change: self.run(callback), names="value")

    def on_click(self, button: widgets.Button, callback: Callable[[], object]) -> None:
        """Call ``callback()`` when ``button`` is clicked."""
        button.on_click(lambda _: self.run(callback))

    def run(self, callback: Callable[[], object]) -> None:
        """Run ``callback()`` unless a callback is already running.

        This is the re-entrancy guard: a callback that moves a control itself (say, puts a
        slider back to 0 after a new image was picked) does not start a second redraw in
        the middle of its own."""
        if self._busy:
            return
        with self.quiet():
            callback()

    @contextmanager
    def quiet(self) -> Iterator[None]:
        """Inside this block, moving a control calls no callback."""
        was_busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = was_busy

    # -- the status line ------------------------------------------------------------------

    def set_status(self, line: str, details: Sequence[str] = ()) -> str:
        """Show ``line`` (and ``details``, one per line below it) in the status area; return ``line``."""
        if not isinstance(line, str) or "\n" in line:
            raise ValueError(f"line must be one line of text, got {line!r}")
        self.line = line
        text = "\n".join([line, *details]) + "\n"
        # set the output area's content directly (not `with self.status: print(...)`), which
        # also works where no front end captures outputs, e.g. a headless notebook run
        self.status.outputs = ({"output_type": "stream", "name": "stdout", "text": text},)
        return line

    def _ipython_display_(self) -> None:
        display(self.widget)


# ----------------------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------------------


def new_figure(width: float, height: float, dpi: int = 72) -> Figure:
    """A matplotlib figure of ``width`` x ``height`` inches drawn off screen (not by pyplot)."""
    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def to_pixels(images: np.ndarray | torch.Tensor) -> np.ndarray:
    """uint8 images as NumPy ``(..., S, S, 3)``, the layout PIL and ``imshow`` want.

    A torch tensor is taken to be the course's ``(..., 3, S, S)`` layout and moved channel-last;
    a NumPy array must already be channel-last."""
    if torch.is_tensor(images):
        if images.dim() < 3 or images.shape[-3] != 3:
            raise ValueError(f"images must be a tensor (..., 3, S, S), got shape {tuple(images.shape)}")
        images = images.movedim(-3, -1).cpu().numpy()  # (..., S, S, 3)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim < 3 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 (..., S, S, 3) or a tensor (..., 3, S, S), "
                         f"got {images.dtype} {images.shape}")
    return images


def png_bytes(picture: np.ndarray | Figure, zoom: int = 1, compress_level: int = 6) -> bytes:
    """PNG bytes of a NumPy image or of a matplotlib figure, for an ``ipywidgets.Image``.

    Args:
        picture: a uint8 image ``(H, W, 3)`` (RGB) or ``(H, W)`` (grey), or a figure.
        zoom: for an image, how many times to enlarge it (nearest neighbour: every pixel
            becomes a ``zoom`` x ``zoom`` block).
        compress_level: for an image, PNG compression from 0 (fastest) to 9 (smallest).
    """
    buffer = io.BytesIO()
    if isinstance(picture, Figure):
        if zoom != 1:
            raise ValueError(f"zoom must be 1 for a figure (set its size or dpi instead), got {zoom!r}")
        picture.savefig(buffer, format="png")
        return buffer.getvalue()
    if not isinstance(picture, np.ndarray):
        raise ValueError(f"picture must be a NumPy image (H, W, 3) or a matplotlib Figure, got {type(picture).__name__}")
    if picture.dtype != np.uint8 or not (picture.ndim == 2 or (picture.ndim == 3 and picture.shape[2] == 3)):
        raise ValueError(f"picture must be a uint8 image (H, W, 3) or (H, W), got {picture.dtype} {picture.shape}")
    if isinstance(zoom, bool) or not isinstance(zoom, int) or zoom < 1:
        raise ValueError(f"zoom must be a positive integer, got {zoom!r}")
    if not 0 <= compress_level <= 9:
        raise ValueError(f"compress_level must be between 0 and 9, got {compress_level!r}")
    pixels = picture.repeat(zoom, 0).repeat(zoom, 1) if zoom > 1 else picture  # (zoom * H, zoom * W, 3)
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", compress_level=compress_level)
    return buffer.getvalue()


def upsample_map(alpha: torch.Tensor | np.ndarray, size: int) -> np.ndarray:
    """An attention map (L,) over a square grid, bilinearly upsampled to (size, size), max 1."""
    a = torch.as_tensor(alpha, dtype=torch.float32).flatten()  # (L,)
    grid = int(round(a.numel() ** 0.5))
    if grid * grid != a.numel():
        raise ValueError(f"alpha must hold a square grid of weights, got {a.numel()} values")
    up = F.interpolate(a.view(1, 1, grid, grid), size=(size, size), mode="bilinear", align_corners=False)  # (1, 1, S, S)
    up = up[0, 0].numpy()  # (S, S)
    return up / max(float(up.max()), 1e-12)  # (S, S)


def overlay(ax: Axes, image: np.ndarray, weights: torch.Tensor | np.ndarray, smooth: bool = True,
            cmap: str = "gray", opacity: float = 0.65) -> None:
    """Draw ``image`` ``(S, S, 3)`` on ``ax`` and an attention map ``weights`` (L,) over it.

    ``smooth=True`` upsamples the map bilinearly and scales it to its maximum (1 = the most
    looked-at place); ``smooth=False`` paints each grid cell as one block in the map's own
    colour range. ``opacity`` is how much of the map covers the image (0 to 1)."""
    w = torch.as_tensor(weights, dtype=torch.float32).flatten()  # (L,)
    side = int(round(w.numel() ** 0.5))
    if side * side != w.numel():
        raise ValueError(f"weights must hold a square grid of weights, got {w.numel()} values")
    if not 0 <= opacity <= 1:
        raise ValueError(f"opacity must be between 0 and 1, got {opacity!r}")
    ax.imshow(image)
    if smooth:
        ax.imshow(upsample_map(w, image.shape[0]), cmap=cmap, alpha=opacity, vmin=0, vmax=1)
    else:
        height, width = image.shape[:2]
        ax.imshow(w.view(side, side).numpy(), cmap=cmap, alpha=opacity, interpolation="nearest",
                  extent=(-0.5, width - 0.5, height - 0.5, -0.5))
