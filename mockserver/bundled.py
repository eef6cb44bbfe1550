"""Where the bundled scenarios live, from a checkout and after ``pip install .``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["bundled_dir"]

#: The package the build ships ``fixtures/scenarios`` in (wired by the packaging).
PACKAGE = "streamctl_fixtures"


def bundled_dir() -> Path:
    """The directory of bundled scenario files.

    An installed ``streamctl_fixtures`` package (its ``scenarios`` folder, or the package folder
    itself) wins; otherwise the repository's ``fixtures/scenarios`` beside this package.
    """
    try:
        root = resources.files(PACKAGE)
    except ModuleNotFoundError:
        pass
    else:
        for candidate in (root / "scenarios", root):
            if isinstance(candidate, Path) and candidate.is_dir():
                return candidate
    return Path(__file__).resolve().parent.parent / "fixtures" / "scenarios"
