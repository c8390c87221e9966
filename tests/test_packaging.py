"""The distribution is ours: its own name (not PyPI's `mmbot`), extras that refer to it, and
README install commands that install this checkout."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _normal(name: str) -> str:  # PEP 503
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_distribution_name_is_not_the_other_projects_and_the_command_stays() -> None:
    assert _normal(PROJECT["name"]) == "mmbot-market-maker"
    assert PROJECT["scripts"] == {"mmbot": "bot.cli:entry"}


def test_extras_that_refer_to_a_distribution_of_ours_use_its_name() -> None:
    extras = PROJECT["optional-dependencies"]
    self_refs = [
        req for reqs in extras.values() for req in reqs if _normal(re.split(r"[\[<>=!~; ]", req)[0])
        in {"mmbot", _normal(PROJECT["name"])}
    ]  # fmt: skip
    assert self_refs, "sweep and dev extend other extras"
    for req in self_refs:
        name, extra = re.fullmatch(r"([A-Za-z0-9._-]+)\[([a-z]+)\]", req).groups()  # type: ignore[union-attr]
        assert name == PROJECT["name"] and extra in extras, req


def test_every_readme_install_command_installs_this_checkout() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"pip install[^`\n]*", readme)
    assert len(commands) >= 4
    for command in commands:
        match = re.fullmatch(r"pip install -e (\.|'\.\[([a-z]+)\]'|/\S+)(?: .*)?", command.strip())
        assert match, command
        assert match.group(2) is None or match.group(2) in PROJECT["optional-dependencies"], command
