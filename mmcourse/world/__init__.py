"""The course world: generated scenes, language, sound and speakers with exact ground truth."""

from .catalog import COLOUR_NAMES, COLOURS, COUNT_WORDS, SCENE_TYPES, SHAPES, SIZES, SYNONYMS

__all__ = ["COLOUR_NAMES", "COLOURS", "COUNT_WORDS", "SCENE_TYPES", "SHAPES", "SIZES", "SYNONYMS"]

from .language import (
    QUESTION_TYPES,
    RECIPE_CATEGORIES,
    RELATIONS,
    Question,
    Recipe,
    answer_vocabulary,
    captions,
    parse_recipe_steps,
    questions,
    recipe_category,
    recipe_scene_type,
    recipes,
    render_recipe,
    spatial_relations,
)
from .vocab import SPECIALS, Vocabulary, course_vocabulary, tokenize

__all__ += [
    "QUESTION_TYPES", "RECIPE_CATEGORIES", "RELATIONS", "Question", "Recipe", "answer_vocabulary", "captions",
    "parse_recipe_steps", "questions", "recipe_category", "recipe_scene_type", "recipes", "render_recipe",
    "spatial_relations", "SPECIALS", "Vocabulary", "course_vocabulary", "tokenize",
]

from .sound import (
    AMBIENCE_DESIGN,
    SAMPLE_RATE,
    SHAPE_SOUND_DESIGN,
    SIZE_GAIN,
    ambience,
    read_wav,
    scene_clips,
    shape_sound,
    write_wav,
)
from .speakers import (
    AGES,
    BUILDS,
    GLASSES,
    HAIR,
    HAIRSTYLES,
    PITCH_HZ,
    SEXES,
    SKIN,
    TRACT_CM,
    VOWEL_RATIOS,
    VOWELS,
    People,
    estimate_pitch,
    formants,
    pitch_track,
    render_faces,
    sample_people,
    synthesize_voices,
)

__all__ += [
    "AMBIENCE_DESIGN", "SAMPLE_RATE", "SHAPE_SOUND_DESIGN", "SIZE_GAIN", "ambience", "read_wav",
    "scene_clips", "shape_sound", "write_wav",
    "AGES", "BUILDS", "GLASSES", "HAIR", "HAIRSTYLES", "PITCH_HZ", "SEXES", "SKIN", "TRACT_CM",
    "VOWEL_RATIOS", "VOWELS", "People", "estimate_pitch", "formants", "pitch_track", "render_faces",
    "sample_people", "synthesize_voices",
]

from .scenes import GENERATOR_VERSION, Rendered, SceneBatch, make_scene, render, sample_scenes, to_tensor

__all__ += ["GENERATOR_VERSION", "Rendered", "SceneBatch", "make_scene", "render", "sample_scenes", "to_tensor"]

from .datasets import (
    ATTRIBUTES,
    SPLITS,
    TAGS,
    AudioVisualDataset,
    CaptionDataset,
    QuestionDataset,
    RecipeDataset,
    SceneData,
    VoiceFaceDataset,
    collate,
    recipe_text,
    split_seed,
)

__all__ += [
    "ATTRIBUTES", "SPLITS", "TAGS", "AudioVisualDataset", "CaptionDataset", "QuestionDataset", "RecipeDataset",
    "SceneData", "VoiceFaceDataset", "collate", "recipe_text", "split_seed",
]
