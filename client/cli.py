"""The auth commands as one reusable click group: ``auth_group``.

``authgate`` mounts every command of this group at its top level
(``authgate login``); a platform CLI mounts the group itself::

    from authgate.client.cli import auth_group
    platform_cli.add_command(auth_group, name="auth")   # nemo auth login, nemo auth status

Each command runs behind one error boundary (:class:`AuthCommand`): our
exceptions become ``error: <message>`` plus a hint on stderr and the documented
exit code, Ctrl-C exits 130, and no bad input ever shows a traceback. Hints name
the command as the user typed it (``nemo auth login`` when mounted).

The commands live by concern: the boundary and shared options in :mod:`.commands`,
``login`` in :mod:`.cli_login`, ``status``/``token``/``refresh``/``logout`` in
:mod:`.cli_tokens`, ``config ...`` in :mod:`.cli_config`. This module only assembles them.
"""

from __future__ import annotations

import click

from authgate.client.access_keys import access_keys_group
from authgate.client.cli_config import config_group
from authgate.client.cli_login import login_command
from authgate.client.cli_tokens import (
    logout_command,
    refresh_command,
    status_command,
    token_command,
)
from authgate.client.commands import (
    DEBUG_ENV,
    AuthCommand,
    AuthGroup,
    context_option,
    mark_root,
    output_option,
)

__all__ = ["DEBUG_ENV", "AuthCommand", "AuthGroup", "auth_group", "context_option", "output_option"]


@click.group("auth", cls=AuthGroup)
def auth_group() -> None:
    """Log in to an authgate platform and manage your tokens."""


mark_root(auth_group)
for _command in (
    login_command,
    status_command,
    token_command,
    refresh_command,
    logout_command,
    config_group,
    access_keys_group,
):
    auth_group.add_command(_command)
