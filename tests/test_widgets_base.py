"""mmcourse.widgets.base: the status line, the re-entrancy guard, PNG pictures, attention overlays."""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pytest
import torch
from PIL import Image

from mmcourse.widgets import Explorer, new_figure, overlay, png_bytes, to_pixels, upsample_map


class Counter(Explorer):
    """A slider whose callback moves the slider itself (as a redraw that resets a control does)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.level = widgets.IntSlider(value=0, min=0, max=10, description="level")
        self.reset = widgets.Button(description="reset")
        self.watch([self.level], self.show)
        self.on_click(self.reset, self.zero)
        self.widget = widgets.VBox([self.level, self.reset, self.status])
        self.run(self.show)

    def show(self) -> None:
        self.calls += 1
        if self.level.value == 7:
            self.level.value = 3  # must not start a second call of show
        self.set_status(f"level {self.level.value}", [f"calls {self.calls}"])

    def zero(self) -> None:
        self.level.value = 0
        self.show()


def test_status_line_and_details_go_to_the_output():
    ex = Counter()
    assert ex.line == "level 0" and ex.status.outputs[0]["text"] == "level 0\ncalls 1\n"
    ex.level.value = 5
    assert ex.line == "level 5" and ex.calls == 2
    with pytest.raises(ValueError, match="line must be one line"):
        ex.set_status("two\nlines")


def test_a_callback_that_moves_a_control_does_not_run_again():
    ex = Counter()
    ex.level.value = 7
    assert ex.calls == 2 and ex.level.value == 3 and ex.line == "level 3"
    ex.reset.click()
    assert ex.calls == 3 and ex.line == "level 0"
    with ex.quiet():
        ex.level.value = 9
    assert ex.calls == 3  # changes inside quiet() call nothing
    ex.level.value = 8
    assert ex.calls == 4


def test_png_bytes_of_an_image_and_of_a_figure():
    image = np.zeros((4, 6, 3), np.uint8)
    image[0, 0] = (255, 0, 0)
    data = png_bytes(image, zoom=3)
    decoded = np.asarray(Image.open(io.BytesIO(data)))  # (12, 18, 3)
    assert decoded.shape == (12, 18, 3) and (decoded[:3, :3] == (255, 0, 0)).all() and (decoded[3:, 3:] == 0).all()
    assert png_bytes(np.zeros((5, 5), np.uint8))[:4] == b"\x89PNG"
    fig = new_figure(2, 1, dpi=50)
    fig.subplots().plot([0, 1])
    assert Image.open(io.BytesIO(png_bytes(fig))).size == (100, 50)
    with pytest.raises(ValueError, match="picture must be a uint8 image"):
        png_bytes(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="picture must be a NumPy image"):
        png_bytes(torch.zeros(4, 4, 3, dtype=torch.uint8))
    with pytest.raises(ValueError, match="zoom"):
        png_bytes(image, zoom=0)
    with pytest.raises(ValueError, match="zoom must be 1 for a figure"):
        png_bytes(fig, zoom=2)


def test_to_pixels_moves_channels_last():
    t = torch.arange(2 * 3 * 4 * 4, dtype=torch.uint8).view(2, 3, 4, 4)  # (N, 3, S, S)
    px = to_pixels(t)
    assert px.shape == (2, 4, 4, 3) and px[1, 2, 3, 0] == t[1, 0, 2, 3]
    assert to_pixels(px) is px
    with pytest.raises(ValueError, match="images must be"):
        to_pixels(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="images must be a tensor"):
        to_pixels(torch.zeros(4, 4, 4, dtype=torch.uint8))


def test_upsample_map_and_overlay():
    alpha = torch.zeros(16)
    alpha[4 * 1 + 2] = 1.0  # row 1, col 2 of a 4x4 grid
    up = upsample_map(alpha, 32)  # (32, 32)
    assert up.shape == (32, 32) and up.max() == pytest.approx(1.0)
    row, col = np.unravel_index(up.argmax(), up.shape)
    assert row // 8 == 1 and col // 8 == 2
    with pytest.raises(ValueError, match="square grid"):
        upsample_map(torch.ones(10), 32)
    image = np.zeros((32, 32, 3), np.uint8)
    fig = new_figure(2, 1)
    smooth, blocks = fig.subplots(1, 2)
    overlay(smooth, image, alpha)
    overlay(blocks, image, alpha, smooth=False, cmap="magma", opacity=0.6)
    assert smooth.images[1].get_array().shape == (32, 32) and blocks.images[1].get_array().shape == (4, 4)
    with pytest.raises(ValueError, match="opacity"):
        overlay(smooth, image, alpha, opacity=2)
    with pytest.raises(ValueError, match="weights must hold a square grid"):
        overlay(smooth, image, torch.ones(5))
