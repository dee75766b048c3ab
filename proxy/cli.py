"""The proxy's commands, mounted by ``authgate`` as ``proxy`` and ``quickstart``.

``authgate proxy --config FILE`` validates the whole document first and
exits 2 listing *every* error with its path, before opening any socket.
"""

from __future__ import annotations

import os
import sys

import click

from authgate.core.config import is_loopback_host, load_config
from authgate.core.errors import ConfigError

from .accesslog import setup_logging

__all__ = ["proxy_command", "quickstart_command"]


@click.command("proxy")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=str),
    help="ProxyConfig YAML; watched and hot-reloaded when it changes.",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
)
def proxy_command(config_path: str, log_level: str) -> None:
    """Run the authenticating sidecar proxy."""
    setup_logging(log_level)
    env = dict(os.environ)
    try:
        config = load_config(config_path, env)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    from .runner import run

    try:
        code = run(config, config_path=config_path, env=env, log_level=log_level)
    except OSError as exc:  # e.g. the listen or admin port is taken
        click.echo(f"authgate proxy: cannot start: {exc.strerror or exc}", err=True)
        sys.exit(1)
    sys.exit(code)


@click.command("quickstart")
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--force-non-loopback",
    is_flag=True,
    help="Allow a non-loopback --host. Quickstart accepts unsigned tokens!",
)
@click.option(
    "--engine", default="aiohttp", show_default=True, type=click.Choice(["aiohttp", "lean", "auto"])
)
def quickstart_command(port: int, host: str, force_non_loopback: bool, engine: str) -> None:
    """Serve the demo service behind the proxy in quickstart mode (no IdP)."""
    if not is_loopback_host(host) and not force_non_loopback:
        raise click.UsageError(
            f"refusing to listen on {host!r}: quickstart accepts unsigned tokens, so it "
            "serves loopback only. Pass --force-non-loopback to override (dangerous)."
        )
    setup_logging("WARNING")
    from .quickstart import run_quickstart
    from .runner import run_coroutine

    try:
        run_coroutine(
            run_quickstart(
                host=host, port=port, force_non_loopback=force_non_loopback, engine=engine
            )
        )
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    except OSError as exc:
        click.echo(
            f"authgate quickstart: cannot listen on {host}:{port}: "
            f"{exc.strerror or exc} (try --port)",
            err=True,
        )
        sys.exit(1)
