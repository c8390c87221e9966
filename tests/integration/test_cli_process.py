"""`mmbot run` as a real process on the wall clock: SIGTERM stops it cleanly with exit 0."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import tomli_w

from bot.kernel.store import Store
from tests.kit import child_env, small_config_dict

ROOT = Path(__file__).resolve().parents[2]


def test_sigterm_cancels_everything_and_exits_zero(tmp_path):
    data = small_config_dict("sqlite:///bot.sqlite", venues=("va",))
    data["bot"]["clock"] = "wall"
    data["bot"]["log_format"] = "json"
    data["bot"]["ops"] = {"port": 0}  # a taken fixed port would stop the start (bot.ops.optional)
    config_path = tmp_path / "bot.toml"
    config_path.write_text(tomli_w.dumps(data))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=child_env(),
    )
    try:
        store = Store(f"sqlite:///{tmp_path}/bot.sqlite")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not store.open_orders():
            time.sleep(0.2)
        assert store.open_orders(), "the bot never quoted"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    assert '"msg": "stopped: 0 open orders left' in err
    assert store.open_orders() == []
    assert [e.kind for e in store.events()][-1] == "stop"
