"""The error boundary and shared options of the auth commands.

:mod:`authgate.client.cli` (the ``auth`` group) and :mod:`authgate.client.access_keys`
(its ``access-keys`` subgroup) both build on this module, so neither imports the
other's internals and the client package stays acyclic (see ``make lint``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from authgate.client.errors import ClientError, ExitCode, command_prefix
from authgate.client.output import FORMATS, Console

__all__ = ["DEBUG_ENV", "AuthCommand", "AuthGroup", "context_option", "mark_root", "output_option"]

#: The groups whose command path prefixes hints (``nemo auth``); cli.py marks ``auth_group``.
_ROOTS: list[click.Group] = []


def mark_root(group: click.Group) -> None:
    """Hints name this group's path when it is mounted as a subgroup of a platform CLI."""
    _ROOTS.append(group)


DEBUG_ENV = "AUTHGATE_DEBUG"


def _prefix(ctx: click.Context) -> str:
    """``authgate`` when mounted flat, ``nemo auth`` when mounted as a group."""
    node: click.Context | None = ctx
    while node is not None:
        if any(node.command is root for root in _ROOTS):
            return node.command_path
        node = node.parent
    return ctx.find_root().command_path or "authgate"


class AuthCommand(click.Command):
    """A command whose failures are one clear line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        token = command_prefix.set(_prefix(ctx))
        console = Console()
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # surface a closed pipe here, not at interpreter exit
            return result
        except BrokenPipeError:
            # `authgate token | head`: the reader left; that is not an error to report.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            ctx.exit(int(ExitCode.PIPE_CLOSED))
        except ClientError as exc:
            console.error(exc.message, exc.hint)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            console.info("\nInterrupted.")
            ctx.exit(int(ExitCode.INTERRUPTED))
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            console.error(
                f"unexpected {exc.__class__.__name__}: {exc}",
                f"this is a bug; rerun with {DEBUG_ENV}=1 for details",
            )
            ctx.exit(int(ExitCode.UNEXPECTED))
        finally:
            command_prefix.reset(token)


class AuthGroup(click.Group):
    command_class = AuthCommand
    group_class = type  # subgroups are AuthGroup too


F = TypeVar("F", bound=Callable[..., Any])


def output_option(function: F) -> F:
    """The ``--output/-o table|json`` option."""
    decorate: Callable[[F], F] = click.option(
        "--output",
        "-o",
        "output",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Human table or JSON for scripts.",
    )
    return decorate(function)


context_option = click.option(
    "--context",
    "context",
    envvar="AUTHGATE_CONTEXT",
    help="Context in the config file (default: current-context).",
)
