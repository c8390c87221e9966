"""Config fuzzer: one-place mutations of valid configs; every answer is a load or a one-line error.

For each mutation the loader either returns a config or raises ConfigError (never another
exception) whose every line is `path: message` with a path that points at the mutation or at a
field of the mutated file. Mutations the schema must refuse (an unknown key, NaN, a boolean for
a number, a duplicated market, a wrong `kind`...) are checked to be refused. `mmbot check-config`
gives the same answer on the file: exit 2 and one stderr line per problem, no traceback.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings

from bot.app.config import load_config, validate_config
from bot.cli import main
from bot.core.config_base import ConfigError
from tests.kit import child_env
from tests.reliability.config_mutations import BASES, Mutation, mutations, parse_path, resolves

_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*")'
PROBLEM = re.compile(rf"^(?P<path>{_KEY}(?:\.{_KEY}|\[\d+\])*): (?P<msg>\S.*)$")


def answer(mutation: Mutation) -> list[str] | None:
    """The problems of the mutated config, None when it is valid."""
    try:
        validate_config(mutation.data, "fuzz.toml")
    except ConfigError as exc:
        return exc.problems
    return None


def check_problems(mutation: Mutation, problems: list[str]) -> None:
    assert problems, mutation
    for problem in problems:
        match = PROBLEM.match(problem)
        assert match, (mutation, problem)
        path = parse_path(match["path"])
        related = path[: len(mutation.path)] == mutation.path or mutation.path[: len(path)] == path
        assert related or resolves(mutation.data, path), (mutation, problem)


def toml_text(data: dict) -> str:
    return tomli_w.dumps(data)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_every_mutation_loads_or_fails_with_one_line_per_problem_naming_the_field(mutation: Mutation) -> None:
    problems = answer(mutation)  # any exception other than ConfigError fails the test here
    if problems is None:
        assert not mutation.must_fail, f"{mutation.base}: {mutation.what} at {mutation.where} was accepted"
        return
    check_problems(mutation, problems)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=mutations())
def test_check_config_answers_with_exit_2_and_one_stderr_line_per_problem(
    mutation: Mutation, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fuzz.toml"
    try:
        path.write_text(toml_text(mutation.data), encoding="utf-8")
    except (TypeError, ValueError):
        return  # not expressible in TOML (None, mixed tables in arrays): a file can't hold it
    expected = answer(mutation)
    code = main(["check-config", "--file-only", str(path)])  # the file: credentials etc. elsewhere
    out, err = capsys.readouterr()
    if expected is None:
        assert (code, out, err) == (0, f"{path}: ok\n", "")
        return
    assert code == 2 and out == ""
    # The file says the same as the dict (TOML round trip), one line per problem, no traceback.
    assert err.splitlines() == [f"{path}: {p}" for p in load_problems(path)]
    assert len(err.splitlines()) == len(expected) and "Traceback" not in err


def load_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value.problems


@pytest.mark.parametrize(
    ("mutate", "line"),
    [
        # Each of these loaded before (pydantic's lax mode) and broke the running bot later.
        (
            lambda d: d["bot"].update(summary_interval_s=1e300),
            "bot.summary_interval_s: must be at most 1e+09",
        ),
        (
            lambda d: d["strategies"]["mm"].update(half_spread_bps="inf"),
            "strategies.mm.half_spread_bps: must be",
        ),
        (
            lambda d: d["strategies"]["mm"].update(skew_bps_per_unit_inventory_fraction=float("nan")),
            "strategies.mm.skew_bps_per_unit_inventory_fraction: must be a finite number",
        ),
        (lambda d: d["strategies"]["mm"].update(n_levels=True), "strategies.mm.n_levels: expected a number"),
        (lambda d: d["venues"]["sim_a"].update(seed=-1), "venues.sim_a.seed: Input should be greater than"),
        (
            lambda d: d["venues"]["sim_a"]["markets"][0].update(symbol="XRP/USDT"),
            "markets[0].symbol: 'BTC/USDT' is not a market of venue sim_a",
        ),
        (
            lambda d: d["venues"]["sim_a"].update(markets=[1]),
            "venues.sim_a.markets[0]: Input should be a table",
        ),
        (lambda d: d["bot"].update({"x.y": 1}), 'bot."x.y": Extra inputs are not permitted'),
    ],
)
def test_found_by_the_fuzzer(mutate, line: str) -> None:
    data = copy.deepcopy(BASES["example"])
    mutate(data)
    with pytest.raises(ConfigError) as info:
        validate_config(data, "example.toml")
    assert str(info.value).startswith(f"example.toml: {line}"), str(info.value)
    assert "\n" not in str(info.value)


def test_undecodable_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b"[bot]\ninstance_id = '\xe9'\n")
    assert load_problems(path) == ["not UTF-8 text: byte 21 cannot be decoded"]


def test_check_config_as_a_process_on_a_bad_and_a_good_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    data = copy.deepcopy(BASES["example"])
    data["strategies"]["glft"]["gamma"] = "high"
    bad.write_text(toml_text(data))
    good = tmp_path / "good.toml"
    good.write_text(toml_text(BASES["every_kind"]))
    procs = [  # both at once: each spends seconds importing
        subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "check-config", "--file-only", str(p)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for p in (bad, good)
    ]
    (bad_out, bad_err), (good_out, good_err) = (p.communicate(timeout=60) for p in procs)
    assert (procs[0].returncode, bad_out) == (2, "")
    problem = "strategies.glft.gamma: Input should be a valid number, unable to parse string as a number"
    assert bad_err == f"{bad}: {problem}\n"
    assert (procs[1].returncode, good_out, good_err) == (0, f"{good}: ok\n", "")
