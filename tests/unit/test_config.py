import copy
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app.config import load_config, masked_config, validate_config
from bot.cli import main
from bot.core.config_base import ConfigError
from tests.kit import child_env, small_config_dict

ROOT = Path(__file__).resolve().parents[2]


def problems(data) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.problems


def base():
    return copy.deepcopy(small_config_dict("sqlite:///x.sqlite"))


def test_example_config_is_valid_and_is_the_embedded_default():
    config = load_config(ROOT / "config.example.toml")
    order_book = {name for name, v in config.venues.items() if v.kind == "mock"}
    assert len(order_book) == 2 and len(config.markets) >= 4
    assert {m.venue for m in config.markets} == order_book
    assert [v.kind for v in config.venues.values()].count("sim_pool") == 1
    assert (ROOT / "config.example.toml").read_bytes() == (ROOT / "bot" / "default_config.toml").read_bytes()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["strategies"]["mm"].update(half_spread_bps=-1),
            "strategies.mm.half_spread_bps: Input should be greater than or equal to 0",
        ),
        (
            lambda d: d["strategies"]["mm"].update(half_spread_bps="wide"),
            "strategies.mm.half_spread_bps: Input should be a valid number",
        ),
        (
            lambda d: d["venues"]["va"]["markets"][1].update(tick_size="0"),
            "venues.va.markets[1].tick_size: Input should be greater than 0",
        ),
        (lambda d: d["bot"].update(colour="blue"), "bot.colour: Extra inputs are not permitted"),
        (lambda d: d["strategies"]["mm"].update(kind="martingale"), "strategies.mm: Input tag 'martingale'"),
        (lambda d: d["markets"][0].pop("order_size"), "markets[0].order_size: Field required"),
        (lambda d: d["markets"][0].update(venue="nowhere"), "markets[0].venue: no venue named 'nowhere'"),
        (
            lambda d: d["strategies"]["mm"]["markets"].append("va:DOGE/USDT"),
            "strategies.mm.markets: 'va:DOGE/USDT' is not in [[markets]]",
        ),
        (lambda d: d["bot"].update(instance_id="Bad-Id"), "bot.instance_id: instance_id must be"),
        (lambda d: d.pop("venues"), "venues: Field required"),
    ],
)
def test_each_bad_field_is_named_with_what_is_wrong(mutate, expected):
    data = base()
    mutate(data)
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_literal_secrets_are_refused_and_env_names_are_masked(monkeypatch):
    data = base()
    data["venues"]["va"]["api_key"] = "AKIA-REAL-KEY"
    assert problems(data) == [
        "venues.va.api_key: secrets are never written in the config; put the value in an environment "
        "variable and name it with api_key_env"
    ]
    data = base()
    data["bot"]["database_url"] = "postgresql://bot:hunter2@db.local/mm"
    monkeypatch.setenv("MMBOT_OPS_TOKEN", "s3cret-token")
    shown = str(masked_config(validate_config(data)))
    assert "hunter2" not in shown and "s3cret-token" not in shown
    assert "MMBOT_OPS_TOKEN (set)" in shown and "postgresql://bot:***@db.local/mm" in shown


def test_check_config_cli_exit_codes_and_message(tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text((ROOT / "config.example.toml").read_text())
    assert main(["check-config", "--file-only", str(good)]) == 0  # port 8780 may be anyone's here
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (ROOT / "config.example.toml").read_text().replace("half_spread_bps = 3", "half_spread_bps = -1")
    )
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "strategies.mm.half_spread_bps: Input should be greater than or equal to 0" in err
    assert "Traceback" not in err
    broken = tmp_path / "broken.toml"
    broken.write_text("[bot\n")
    assert main(["check-config", str(broken)]) == 2
    assert "TOML syntax" in capsys.readouterr().err
    assert main(["check-config", str(tmp_path / "missing.toml")]) == 2


def test_console_script_runs_as_a_process(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "show-config", str(ROOT / "config.example.toml")],
        capture_output=True,
        text=True,
        check=True,
        env=child_env(),
    )
    assert '"instance_id": "mm1"' in out.stdout


def test_config_error_survives_pickling_with_its_problems() -> None:
    """Sweep and benchmark workers send errors back pickled (multiprocessing, Ray)."""
    import pickle

    from bot.core.config_base import ConfigError

    error = pickle.loads(pickle.dumps(ConfigError("bt.toml", ["strategies.mm.gamma: must be > 0"])))
    assert error.source == "bt.toml"
    assert error.problems == ["strategies.mm.gamma: must be > 0"]
    assert str(error) == "bt.toml: strategies.mm.gamma: must be > 0"
