"""The course's explorers: small interactive views built on ipywidgets, one per lesson.

A lesson builds one and makes it the last expression of a cell::

    from mmcourse.widgets import SpectrogramExplorer

    explorer = SpectrogramExplorer(clips, sample_rate=16000)
    explorer

============================  ======  ===============================================
explorer                      lesson  what you move, what you see
============================  ======  ===============================================
:class:`WorldExplorer`        00      a scene: its picture, sound, captions, recipe
:class:`NeighbourExplorer`    01      a word: its nearest neighbours
:class:`TagExplorer`          02      a query: the nearest images; an image: its tags
:class:`RecipeExplorer`       03      a recipe (steps, their order): the nearest dishes
:class:`AttentionExplorer`    04      a word of a caption: where the captioner looked
:class:`TextToImageExplorer`  05      two captions and a slider: the text walk; new noise
:class:`VQAExplorer`          06      a scene and a question: the answers
:class:`SpectrogramExplorer`  07      STFT settings: the spectrogram, and the sound
:class:`SoundNetExplorer`     08      a clip, or a new mix: teachers (frame) vs student (sound)
:class:`LocalizationExplorer` 10      which objects sound: the clip and the localization map
:class:`VoiceFaceExplorer`    09      a held-out voice: its true face and the face drawn from it
============================  ======  ===============================================

Every explorer shows a status line that says in words what is shown (``explorer.line``
holds it as text). The shared plumbing is in :mod:`mmcourse.widgets.base`.
"""

from .attention import AttentionExplorer, peak_cell
from .audio import SpectrogramExplorer, wav_bytes
from .localization import LocalizationExplorer
from .recipes import RecipeExplorer
from .base import Explorer, new_figure, overlay, png_bytes, to_pixels, upsample_map
from .soundnet import SoundNetExplorer
from .tagging import ImageTagsExplorer, TagExplorer, TagSearchExplorer
from .speech2face import VoiceFaceExplorer
from .gan import TextToImageExplorer
from .vqa import VQAExplorer
from .word2vec import NeighbourExplorer
from .world import WorldExplorer

__all__ = [
    "AttentionExplorer",
    "Explorer",
    "ImageTagsExplorer",
    "LocalizationExplorer",
    "NeighbourExplorer",
    "RecipeExplorer",
    "SoundNetExplorer",
    "SpectrogramExplorer",
    "TagExplorer",
    "TagSearchExplorer",
    "TextToImageExplorer",
    "VQAExplorer",
    "VoiceFaceExplorer",
    "WorldExplorer",
    "new_figure",
    "overlay",
    "peak_cell",
    "png_bytes",
    "to_pixels",
    "upsample_map",
    "wav_bytes",
]
