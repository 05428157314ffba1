"""Which widgets the browser tests move, lesson by lesson.

`make test-browser` opens every notebook listed in LESSONS in JupyterLab (headless
Chromium), runs all its cells, then for each entry: finds the control by its
``description``, reads the text of its output, moves the control, and fails unless that
text changes (and shows no traceback).

To register a widget, add one line under its lesson, using the helper for its kind::

    "07_stft_and_spectrograms.ipynb": [
        slider("window length"),                 # IntSlider/FloatSlider/SelectionSlider: one step right
        dropdown("window", option="hamming"),    # picks ``option`` (default: the next option)
        text("word", type="cat"),                # types into a Text box and presses Enter
        checkbox("log scale"),                   # clicks
        toggle("play"),                          # a ToggleButton, found by its label
        button("resample"),                      # a Button, found by its label
        toggle_buttons("mode", option="mel"),    # ToggleButtons: clicks ``option`` (default: another one)
        radio("scale", option="dB"),             # RadioButtons: the same
    ],

The output whose text must change is, by default, every ``ipywidgets.Output`` in the cell
that displays the control (what ``interactive_output`` and ``with out: print(...)`` make).
Pass ``output=`` a CSS selector to pick others, ``scope="notebook"`` when the output is
shown by another cell, ``nth=`` when several controls share a description (0 = first),
``timeout=`` (seconds) for a slow callback.

Only lessons that exist may be listed: a missing notebook is an error, never a skip.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("slider", "dropdown", "text", "checkbox", "toggle", "button", "toggle_buttons", "radio")
SCOPES = ("cell", "notebook")


@dataclass(frozen=True)
class Widget:
    """One control to move and the output text that must change when it moves."""

    description: str
    kind: str
    output: str = ".widget-output"
    scope: str = "cell"
    value: str | None = None
    nth: int | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if not isinstance(self.description, str) or not self.description.strip():
            raise ValueError(f"description must be the control's non-empty label text, got {self.description!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.output, str) or not self.output.strip():
            raise ValueError(f"output must be a CSS selector, got {self.output!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"scope must be one of {SCOPES}, got {self.scope!r}")
        if self.value is not None and not isinstance(self.value, str):
            raise TypeError(f"value must be a string (an option label or text to type), got {type(self.value).__name__}")
        if self.value is not None and self.kind in ("slider", "checkbox", "toggle", "button"):
            raise ValueError(f"value is not used by a {self.kind}; leave it out")
        if self.nth is not None and (not isinstance(self.nth, int) or self.nth < 0):
            raise ValueError(f"nth must be an int >= 0 (which of several controls with that description), got {self.nth!r}")
        if not isinstance(self.timeout, (int, float)) or self.timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")

    @property
    def id(self) -> str:
        """Short name used in test ids and messages, e.g. ``slider[window length]``."""
        return f"{self.kind}[{self.description}]" + ("" if self.nth is None else f"#{self.nth}")


def slider(description: str, **options) -> Widget:
    """A slider (Int/Float/Selection slider): moved one step with the arrow keys."""
    return Widget(description, "slider", **options)


def dropdown(description: str, option: str | None = None, **options) -> Widget:
    """A Dropdown: selects ``option`` (its label), by default the option after the current one."""
    return Widget(description, "dropdown", value=option, **options)


def text(description: str, type: str | None = None, **options) -> Widget:  # noqa: A002 - reads well at the call
    """A Text (or number) box: replaced by ``type`` (default: the current text plus "x", or number + 1), then Enter."""
    return Widget(description, "text", value=type, **options)


def checkbox(description: str, **options) -> Widget:
    """A Checkbox: clicked once."""
    return Widget(description, "checkbox", **options)


def toggle(description: str, **options) -> Widget:
    """A ToggleButton (its label is its description): clicked once."""
    return Widget(description, "toggle", **options)


def button(description: str, **options) -> Widget:
    """A Button (its label is its description): clicked once."""
    return Widget(description, "button", **options)


def toggle_buttons(description: str, option: str | None = None, **options) -> Widget:
    """ToggleButtons: clicks ``option``, by default the first one not selected."""
    return Widget(description, "toggle_buttons", value=option, **options)


def radio(description: str, option: str | None = None, **options) -> Widget:
    """RadioButtons: clicks ``option``, by default the first one not selected."""
    return Widget(description, "radio", value=option, **options)


# Lesson notebooks in notebooks/ -> their widgets. Add a lesson when its notebook exists.
LESSONS: dict[str, list[Widget]] = {
    "00_multimodal_world.ipynb": [  # the scene explorer; its first line names the scene and answers a question
        slider("scene"),
    ],
    "01_word2vec_skipgram.ipynb": [  # a word and its nearest neighbours
        dropdown("word"),
        toggle_buttons("vectors", option="sentence"),
    ],
    "02_joint_embedding_tagging.ipynb": [  # tags -> images (a typed query) and image -> tags
        text("query", type="crimson sparkle"),
        checkbox("read through the label words"),
        slider("image"),
    ],
    "03_joint_embedding_recipes.ipynb": [  # a recipe and its steps' order -> dishes; a dish -> recipes
        dropdown("recipe"),
        dropdown("model"),
        dropdown("dish", output=".recipe-reverse-search"),  # the dish's recipes, not the status line
    ],
    "04_captioning_show_attend_tell.ipynb": [  # the attention explorer; its status line is in an Output
        slider("word"),
        dropdown("image"),
        button("new scene"),
    ],
    "05_text_to_image_gan.ipynb": [  # the text-interpolation widget; its status line is an Output
        slider("A -> B"),
        text("caption B", type="a large green square in the forest"),
        button("new noise"),
        dropdown("model"),
    ],
    "06_visual_question_answering.ipynb": [  # the question widget; its status line is an Output
        dropdown("scene"),
        text("question", type="how many stars are there?"),
        dropdown("model"),
        button("new scene"),
    ],
    "07_stft_and_spectrograms.ipynb": [  # the spectrogram explorer; its status line is an Output
        dropdown("clip"),
        dropdown("n_fft"),
        dropdown("hop"),
        toggle_buttons("window"),
        toggle_buttons("scale"),
    ],
    "08_soundnet.ipynb": [  # the SoundNet explorer; its status line is an Output
        dropdown("clip"),
        dropdown("scene"),
        checkbox("object 1"),
    ],
    "09_speech2face.ipynb": [  # the voice-to-face widget; its status line is an Output
        dropdown("person"),
        slider("seconds"),
    ],
    "10_sound_source_localization.ipynb": [  # which objects sound -> the map; its status line is an Output
        checkbox("object 1"),
        checkbox("object 2"),
        dropdown("model"),
        dropdown("scene"),
    ],
}


# The tests' own notebooks in tests/browser/fixtures/, which prove the driver itself.
FIXTURES: dict[str, list[Widget]] = {
    "widget_demo.ipynb": [
        slider("frequency"),
        dropdown("waveform"),
        text("label", type="chirp"),
        slider("gain"),
        checkbox("loud"),
        toggle("invert"),
        toggle_buttons("window"),
        radio("mode", option="magnitude"),
        button("count"),
    ],
}

# Controls whose callbacks are broken on purpose: the driver must report each one.
# widget id -> a fragment of the failure message it must give.
BROKEN_FIXTURE = "widget_broken.ipynb"
BROKEN: list[tuple[Widget, str]] = [
    (slider("level"), "traceback"),  # the callback raises
    (dropdown("colour", timeout=4), "did not change"),  # prints the same text whatever the choice
    (text("name", type="b", timeout=4), "did not change"),  # prints nothing at all
    (slider("missing control", timeout=2), "no slider"),  # a registry entry with a typo
]
