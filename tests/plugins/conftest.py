"""The example processor package (``examples/mailroom-keyword-cases``), built and installed the
way an administrator installs one, into a directory of its own put on ``sys.path`` for these
tests: mailroom finds it through its entry point, as it would in the project's environment."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailroom.pipeline.processors.registry import registered

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mailroom-keyword-cases"


@pytest.fixture(scope="session")
def installed_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    uv = shutil.which("uv")
    assert uv is not None, "the tests run with uv (scripts/test installs it)"
    # Built from a copy: a build leaves its by-products (build/, *.egg-info) beside the source.
    source = tmp_path_factory.mktemp("example") / EXAMPLE.name
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(source)],
        check=True,
    )
    assert any(target.glob("mailroom_keyword_cases-*.dist-info/entry_points.txt"))
    return target


@pytest.fixture
def plugin(installed_example: Path) -> Iterator[None]:
    """The example on ``sys.path`` for one test (the registry reloaded before and after), so
    that no other test sees it."""
    sys.path.insert(0, str(installed_example))
    importlib.invalidate_caches()
    registered.cache_clear()
    try:
        yield
    finally:
        sys.path.remove(str(installed_example))
        for name in [m for m in sys.modules if m.startswith("mailroom_keyword_cases")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        registered.cache_clear()
