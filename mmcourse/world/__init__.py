"""The course world: generated scenes, language, sound and speakers with exact ground truth."""

from .catalog import COLOUR_NAMES, COLOURS, COUNT_WORDS, SCENE_TYPES, SHAPES, SIZES, SYNONYMS

__all__ = ["COLOUR_NAMES", "COLOURS", "COUNT_WORDS", "SCENE_TYPES", "SHAPES", "SIZES", "SYNONYMS"]
