"""The environments a learner can use list the same packages.

pyproject.toml holds the ranges, requirements/constraints.txt the tested versions and
environment.yml the conda environment; these tests keep them in step.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONDA_NAMES = {"soundfile": "pysoundfile"}  # PyPI name -> conda-forge name where they differ


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"]["optional-dependencies"].values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def _environment_yml() -> dict[str, str]:
    found: dict[str, str] = {}
    text = (ROOT / "environment.yml").read_text()
    body = text.split("dependencies:", 1)[1]
    for line in body.splitlines():
        item = re.match(r"^\s*-\s+([^#]+?)\s*$", line)
        if not item or item.group(1).startswith("-e") or item.group(1) in ("pip", "pip:"):
            continue
        text = item.group(1).replace("=", "==", 1) if re.match(r"^[\w.\-]+=[^=<>]", item.group(1)) else item.group(1)
        name, spec = _split(text)
        found[name] = spec
    return found


def test_environment_yml_lists_every_pyproject_dependency_with_the_same_minimum():
    conda = _environment_yml()
    for name, spec in _pyproject().items():
        conda_name = CONDA_NAMES.get(name, name)
        assert conda_name in conda, f"environment.yml lacks {conda_name} (from pyproject.toml)"
        assert conda[conda_name] == spec, f"{conda_name}: environment.yml says {conda[conda_name]!r}, pyproject {spec!r}"


def test_environment_yml_has_nothing_pyproject_lacks():
    known = {CONDA_NAMES.get(n, n) for n in _pyproject()} | {"python"}
    extra = set(_environment_yml()) - known
    assert not extra, f"environment.yml lists packages that pyproject.toml does not: {sorted(extra)}"


def test_constraints_pin_every_dependency_within_its_range():
    from packaging.specifiers import SpecifierSet

    pins = {}
    for line in (ROOT / "requirements" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    for name, spec in _pyproject().items():
        assert name in pins, f"requirements/constraints.txt does not pin {name}"
        assert pins[name] in SpecifierSet(spec), f"{name}=={pins[name]} is outside pyproject's range {spec}"


def test_nothing_downloads_at_run_time():
    """No lesson or module asks a library to fetch data or weights from the network."""
    forbidden = [r"download\s*=\s*True", r"librosa\.ex\(", r"weights\s*=\s*['\"]", r"\.from_pretrained\(",
                 r"torch\.hub\.", r"urlretrieve", r"requests\.get"]
    files = list((ROOT / "mmcourse").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb"))
    for path in files:
        text = path.read_text(encoding="utf-8")
        for pattern in forbidden:
            assert not re.search(pattern, text), f"{path.relative_to(ROOT)} matches {pattern!r}: nothing may download"
