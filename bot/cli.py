"""The `mmbot` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, load_config, masked_config


def _secret_env_names(config_data: dict) -> list[str]:
    names: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith("_env") and isinstance(value, str):
                    names.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(config_data)
    return names


DEFAULT_CONFIG = Path(__file__).with_name("default_config.toml")


def _config_location(arg: str | None) -> tuple[Path, Path]:
    """The config file and the folder relative paths (the SQLite store) resolve against.

    Without --config the embedded paper-trading default is used and its store goes in the
    current directory, never inside the installed package.
    """
    if arg is None:
        return DEFAULT_CONFIG, Path.cwd()
    path = Path(arg)
    return path, path.resolve().parent


def cmd_check_config(args: argparse.Namespace) -> int:
    load_config(args.path)
    print(f"{args.path}: ok")
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    print(json.dumps(masked_config(load_config(args.path)), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app import run_bot
    from bot.logs import setup_logging

    path, base_dir = _config_location(args.config)
    config = load_config(path)
    setup_logging(
        config.bot.log_format, config.bot.log_level, _secret_env_names(config.model_dump(mode="json"))
    )
    run_bot(config, base_dir, args.duration)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from bot.status import collect_status, format_status
    from bot.store import Store, resolve_database_url

    path, base_dir = _config_location(args.config)
    config = load_config(path)
    store = Store(resolve_database_url(config.bot.database_url, base_dir))
    try:
        status = collect_status(store)
    finally:
        store.close()
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmbot", description="Cross-venue market maker and LP manager")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the bot until SIGINT/SIGTERM or --duration")
    p.add_argument("--config", help="TOML config (default: the embedded paper-trading config)")
    p.add_argument(
        "--duration", type=float, default=None, help="seconds (simulated seconds on the simulated clock)"
    )
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("check-config", help="validate a config file; exit 1 naming each bad field")
    p.add_argument("path")
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("show-config", help="print the effective config with secrets masked")
    p.add_argument("path")
    p.set_defaults(func=cmd_show_config)
    p = sub.add_parser("status", help="open orders, fills, inventory and PnL per market from the store")
    p.add_argument("--config", help="TOML config (default: the embedded paper-trading config)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
