"""The house rules as tests: lint and complexity, types, layer contracts, module size.

They run through the README's test command, so CI fails on a broken rule as on broken behaviour.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE_PACKAGES = ("bot", "connectors", "amm", "strategies")
MAX_MODULE_LINES = 400


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )


def test_ruff_finds_nothing() -> None:
    """Lint, import order and function complexity (C901 over 15) across the tree."""
    result = _run("-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_layer_contracts_hold() -> None:
    """import-linter contracts of pyproject.toml, TYPE_CHECKING imports included."""
    result = _run("-c", "from importlinter.cli import lint_imports_command; lint_imports_command()")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def test_mypy_finds_no_error_in_the_source_tree() -> None:
    result = _run("-m", "mypy", "--no-error-summary")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_source_module_has_at_most_400_lines() -> None:
    too_long = {
        str(path.relative_to(ROOT)): n
        for package in SOURCE_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert too_long == {}
