"""Show the source code of mmcourse objects in a notebook, highlighted."""

from __future__ import annotations

import inspect
from typing import Any


def _highlighted_html(code: str) -> str | None:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:  # pragma: no cover - pygments comes with Jupyter
        return None
    formatter = HtmlFormatter(noclasses=True, style="friendly")
    return highlight(code, PythonLexer(), formatter)


class Source:
    """Source text that renders highlighted in Jupyter and as plain text elsewhere."""

    def __init__(self, code: str, name: str, location: str) -> None:
        self.code = code
        self.name = name
        self.location = location

    def _repr_html_(self) -> str:
        body = _highlighted_html(self.code)
        if body is None:
            import html

            body = f"<pre>{html.escape(self.code)}</pre>"
        return f"<div style='font-size:85%'><b>{self.name}</b> <i>({self.location})</i>{body}</div>"

    def __repr__(self) -> str:
        return f"# {self.name} ({self.location})\n{self.code}"


def show_source(obj: Any) -> Source:
    """Return the source of a function, class or method, shown highlighted in a notebook.

    >>> from mmcourse.runtime import seed_everything
    >>> "def seed_everything" in show_source(seed_everything).code
    True
    """
    if isinstance(obj, str):
        raise TypeError("obj must be a function, class or method, not a string")
    try:
        code = inspect.getsource(obj)
        file = inspect.getsourcefile(obj) or "?"
        _, line = inspect.getsourcelines(obj)
    except (TypeError, OSError) as error:
        raise TypeError(f"obj must be a Python function, class or method with source code ({error})") from None
    module = getattr(obj, "__module__", "?")
    name = getattr(obj, "__qualname__", getattr(obj, "__name__", repr(obj)))
    return Source(code.rstrip() + "\n", f"{module}.{name}", f"{module.replace('.', '/')}.py, line {line}")
