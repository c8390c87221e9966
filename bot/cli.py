"""The `mmbot` command line."""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

# Before numpy is imported (it reads this once). numpy asks the kernel for transparent huge pages
# on every large array; where THP defrag is "madvise" (the default of many distributions and VMs)
# the first touch of each such page may compact memory synchronously. On our 2-core VM a 96 MB
# array's first write took 0.22 s instead of 0.04 s, and a 2 M-row backtest spent ~0.9 s of 14 s
# so. An operator's own NUMPY_MADVISE_HUGEPAGE setting wins.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

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
    """The file, then (unless --file-only) what `run` needs from the machine: the same lines."""
    from bot.app.config import load_config

    config = load_config(args.path)
    if not args.file_only:
        from bot.app.preflight import preflight_problems

        _, config_dir = _config_location(args.path)
        problems = preflight_problems(config, config_dir)
        if problems:
            from bot.core.config_base import ConfigError

            raise ConfigError(str(args.path), problems)
    print(f"{args.path}: ok")
    return 0


def cmd_show_config(args: argparse.Namespace) -> int:
    from bot.app.config import load_config, masked_config

    print(json.dumps(masked_config(load_config(args.path)), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from bot.app.launch import run_command

    path, base_dir = _config_location(args.config)
    return run_command(path, base_dir, args.duration, path if args.config else None)


def cmd_cancel_all(args: argparse.Namespace) -> int:
    """Through the running bot's ops endpoint when it runs; else offline, on live venues only."""
    from bot.app.config import load_config, secret_env_names
    from bot.app.offline import cancel_all_offline, live_venues, paper_venues
    from bot.ops.client import OpsRefused, cancel_all_through_ops
    from bot.ops.logs import setup_logging

    path, base_dir = _config_location(args.config)
    config = load_config(path)
    try:
        done = cancel_all_through_ops(config.bot.ops, config.bot.instance_id, config.bot.stop_timeout_s)
    except OpsRefused as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if done is not None:
        # A running bot that is not paused quotes again at once: what is left are its new quotes.
        print(f"open orders of ours left: {done.open_orders_left} (cancelled by the running bot, {done.url})")
        return 0
    paper = paper_venues(config)
    if paper and not live_venues(config):
        print(
            f"cancel-all: no running bot answers for {config.bot.instance_id} and its venues "
            f"({', '.join(paper)}) are paper venues whose orders live only inside a running bot; "
            "nothing to cancel, the store is left as it is",
            file=sys.stderr,
        )
        return 1
    setup_logging(config.bot.log_format, "INFO", secret_env_names(config))
    left = cancel_all_offline(config, base_dir)
    skipped = f" (paper venues {', '.join(paper)} left alone)" if paper else ""
    print(f"open orders of ours left: {left}{skipped}")
    return 0 if left == 0 else 1


def cmd_report(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime, timedelta

    from bot.app.config import load_config
    from bot.kernel.store import Store, resolve_database_url
    from bot.reports.report import write_report

    path, base_dir = _config_location(args.config)
    config = load_config(path)
    if args.since:
        since = datetime.fromisoformat(args.since)
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
    else:
        since = datetime.now(UTC) - timedelta(days=1)
    store = Store(resolve_database_url(config.bot.database_url, base_dir), config.bot.instance_id)
    try:
        paths = write_report(store, int(since.timestamp() * 1e9), Path(args.out))
    finally:
        store.close()
    for kind, p in paths.items():
        print(f"{kind}: {p}")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    # The imports allocate ~150k objects that live until the process ends: no collection passes
    # over them meanwhile, and none after (frozen; bot.backtest.runner freezes the rest of what
    # exists when the run starts). Collections scanning them took 0.1-0.2 s of each start.
    gc.disable()
    try:
        from bot.app.config import load_config, secret_env_names
        from bot.backtest.runner import run_backtest
        from bot.ops.logs import setup_logging
        from connectors.replay.events import EventFileError
        from connectors.replay.recorded_latency import SessionTimingError

        path = Path(args.config)
        config = load_config(path)
        gc.freeze()
    finally:
        gc.enable()  # a bad config raises: the caller (a test) keeps its collector
    setup_logging(config.bot.log_format, args.log_level, secret_env_names(config))
    data = Path(args.data) if args.data else None
    session = None
    if args.compare:
        from bot.backtest.compare import parse_session_store

        session = parse_session_store(args.compare, config.bot.instance_id)  # checked before the run
    try:
        progress = not args.quiet and sys.stderr.isatty()
        config_dir = path.resolve().parent
        summary = run_backtest(config, config_dir, Path(args.out), data, str(path), progress=progress)
    except EventFileError as exc:
        print(f"--data: {exc}", file=sys.stderr)
        return 2
    except SessionTimingError as exc:  # a file that is there but not a session's timing
        print(str(exc), file=sys.stderr)
        return 2
    # What the run left, its cyclic garbage included (~19k objects), is left to the OS when the
    # command ends rather than scanned (0.03 s); a later run_backtest in this process unfreezes it.
    gc.freeze()
    print(json.dumps(summary.to_dict(), indent=2))
    print(f"report: {Path(args.out) / 'report.md'}")
    if session is not None:
        from bot.backtest.compare import write_comparison
        from bot.backtest.runner import backtest_config

        ran = backtest_config(config, config_dir, Path(args.out), data, str(path))
        _, md = write_comparison(session, ran, Path(args.out))
        print(md.read_text(), end="")
        print(f"comparison: {md}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from bot.backtest.sweep import SweepError, run_sweep_command

    try:
        return run_sweep_command(args)
    except SweepError as exc:
        print(str(exc), file=sys.stderr)
        return 2


def cmd_status(args: argparse.Namespace) -> int:
    """The config's instance, from the store; with --all every instance that uses the store."""
    from bot.app.config import load_config
    from bot.kernel.store import Store, resolve_database_url
    from bot.reports.status import collect_status, format_status

    path, base_dir = _config_location(args.config)
    config = load_config(path)
    url = resolve_database_url(config.bot.database_url, base_dir)
    if args.all:
        return _fleet_status(url, args.json)
    store = Store(url, config.bot.instance_id)
    try:
        status = collect_status(store)
    finally:
        store.close()
    print(json.dumps(status, indent=2) if args.json else format_status(status))
    return 0


def _fleet_status(url: str, as_json: bool) -> int:
    import time

    from bot.app.instance_lock import instance_running
    from bot.kernel.store import Store
    from bot.reports.fleet import collect_fleet, format_fleet

    store = Store(url)
    try:
        fleet = collect_fleet(store, time.time_ns(), lambda instance: instance_running(url, instance))
    finally:
        store.close()
    print(json.dumps(fleet, indent=2) if as_json else format_fleet(fleet))
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    """Bring the config's store to the newest schema revision (every start does it too)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    from bot.app.config import load_config
    from bot.kernel.schema import upgrade_schema
    from bot.kernel.store import resolve_database_url

    path, base_dir = _config_location(args.config)
    url = resolve_database_url(load_config(path).bot.database_url, base_dir)
    engine = create_engine(url)
    try:
        before, after = upgrade_schema(engine)
    finally:
        engine.dispose()
    shown = make_url(url).render_as_string(hide_password=True)
    if before == after:
        print(f"{shown}: at revision {after} already")
    else:
        print(f"{shown}: upgraded from {before or 'no revision'} to {after}")
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
    # listed here, parsed by the facade's own parser (`parse_args`)
    sub.add_parser("mock-exchange", help="serve a mock venue as a Binance-compatible REST + WS API")
    p = sub.add_parser(
        "check-config",
        help="validate a config file and what run needs (credentials, database, ops port); "
        "exit 2 naming each bad field",
    )
    p.add_argument("path")
    p.add_argument(
        "--file-only",
        action="store_true",
        help="check the file alone, not credentials, database or port (e.g. an edit while the bot runs)",
    )
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("show-config", help="print the effective config with secrets masked")
    p.add_argument("path")
    p.set_defaults(func=cmd_show_config)
    p = sub.add_parser("status", help="open orders, fills, inventory and PnL per market from the store")
    p.add_argument("--config", help="TOML config (default: the embedded paper-trading config)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--all", action="store_true", help="every bot that uses the store: one line each")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("report", help="daily risk report from the store: Markdown, JSON, PNG charts")
    p.add_argument("--config", help="TOML config (default: the embedded paper-trading config)")
    p.add_argument("--since", help="ISO date/time (UTC if no zone); default: 24 hours ago")
    p.add_argument("--out", default="report", help="output directory (default: ./report)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("backtest", help="run the config's strategies on a replay venue; write the report")
    p.add_argument("--config", required=True, help='TOML config with a venue of kind = "replay"')
    p.add_argument("--data", help="L2 event file (.npz); overrides the replay venue's data")
    p.add_argument("--out", default="backtest", help="output directory (default: ./backtest)")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    p.add_argument("--quiet", action="store_true", help="no progress line (it shows only on a terminal)")
    p.add_argument(
        "--compare",
        metavar="STORE[:INSTANCE]",
        help="the live or paper session the data was recorded from (store URL or SQLite file; "
        "instance default: the config's): its fills and PnL over the same span, and the differences",
    )
    p.set_defaults(func=cmd_backtest)
    p = sub.add_parser("sweep", help="backtest a parameter grid in parallel on Ray; rank the points")
    p.add_argument("--config", required=True, help='TOML config with a venue of kind = "replay"')
    p.add_argument(
        "--data", help="L2 event file (.npz) of the one replay venue (default: each replay venue's data)"
    )
    p.add_argument(
        "--grid",
        required=True,
        help='TOML: dotted config path = [values], e.g. "strategies.mm.half_spread_bps" = [2, 3]',
    )
    p.add_argument(
        "--address",
        help="an existing Ray cluster, host:port (default: start a local one); with token "
        "authentication set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN_PATH (or RAY_AUTH_TOKEN)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="at most this many points at once (default: the cluster's CPUs)",
    )
    p.add_argument(
        "--resource",
        action="append",
        metavar="NAME[=AMOUNT]",
        help="a custom Ray resource each point asks for (repeatable): runs points only on the nodes "
        "started with it, e.g. ray start --resources '{\"sweep\": 8}'",
    )
    p.add_argument("--out", default="sweep", help="output directory (default: ./sweep)")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser(
        "cancel-all",
        help="cancel every open order of ours: through the running bot's ops endpoint, or offline on "
        "live (ccxt) venues when no bot runs",
    )
    p.add_argument("--config", help="TOML config (default: the embedded paper-trading config)")
    p.set_defaults(func=cmd_cancel_all)
    db = sub.add_parser("db", help="the store's schema").add_subparsers(dest="db_command", required=True)
    p = db.add_parser("upgrade", help="migrate the config's store to the newest schema (Alembic)")
    p.add_argument("--config", help="TOML config (default: the embedded paper-trading config)")
    p.set_defaults(func=cmd_db_upgrade)
    from bot.backtest.data.cli import add_data_commands

    add_data_commands(sub)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["mock-exchange"]:
        # imported for this command only: its web server (aiohttp) costs every other command,
        # a backtest's start-up included, 0.15 s of CPU
        from connectors.mock.facade import server

        args = server.build_parser().parse_args(argv[1:])
        args.func = server.run
        return args
    return build_parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    # Everything this module needs is imported here, not at its import: the parsers' imports
    # (pydantic, numpy) run with the collector off, as a backtest's own imports then do
    # (cmd_backtest); collections passing over them cost ~0.03 s of each command's start.
    gc.disable()
    try:
        from bot.core.config_base import ConfigError
        from bot.core.exit_codes import ExitCode, StartupError

        args = parse_args(argv)
    finally:
        gc.enable()
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return int(ExitCode.CONFIG)
    except StartupError as exc:  # one line naming the cause, no traceback
        print(str(exc), file=sys.stderr)
        return int(exc.exit_code)


def entry() -> None:
    """The `mmbot` command (and `python -m bot.cli`): `main`, then the process ends."""
    code = main()
    gc.freeze()  # spares the interpreter's final collection a pass over everything (0.17 s after a backtest)
    sys.exit(code)


if __name__ == "__main__":
    entry()
