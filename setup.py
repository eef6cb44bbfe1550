"""Packaging glue that pyproject.toml cannot express: ship ``fixtures/`` as a package.

The repository keeps its bundled streams in the top-level ``fixtures/`` folder; installed, they
live in the ``streamctl_fixtures`` package, where ``mockserver.bundled`` finds them. Everything
else about the build is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["streamctl*", "mockserver*"]), "streamctl_fixtures"],
    package_dir={"streamctl_fixtures": "fixtures"},
    package_data={
        "streamctl": ["py.typed"],
        "mockserver": ["py.typed", "static/*"],
        "streamctl_fixtures": ["README.md", "scenarios/*.json", "scenarios/*.jsonl"],
    },
)
