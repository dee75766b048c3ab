"""The single ``authgate`` command.

Each part owns its subcommands; this module only mounts them, importing each
part lazily so that ``authgate login`` never pays for aiohttp or kopf imports.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> (module, attribute) of a click command or group.
_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "proxy": ("authgate.proxy.cli", "proxy_command"),
    "quickstart": ("authgate.proxy.cli", "quickstart_command"),
    "operator": ("authgate.operator.cli", "operator_command"),
}
# The auth command group (login, status, token, refresh, logout, config) is
# mounted at the top level, as `authgate login`.
_AUTH_GROUP = ("authgate.client.cli", "auth_group")


class _LazyGroup(click.Group):
    def _auth(self) -> click.Group | None:
        try:
            module = importlib.import_module(_AUTH_GROUP[0])
        except ModuleNotFoundError:
            return None
        group: click.Group = getattr(module, _AUTH_GROUP[1])
        return group

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(_SUBCOMMANDS)
        auth = self._auth()
        if auth is not None:
            names.update(auth.list_commands(ctx))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _SUBCOMMANDS:
            module_name, attr = _SUBCOMMANDS[cmd_name]
            module = importlib.import_module(module_name)
            command: click.Command = getattr(module, attr)
            return command
        auth = self._auth()
        return auth.get_command(ctx, cmd_name) if auth is not None else None


@click.group(cls=_LazyGroup)
@click.version_option(package_name="authgate")
def main(**_: Any) -> None:
    """authgate: verified identity on every request."""
