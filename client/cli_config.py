"""``config``: show the config file (tokens redacted) and switch contexts."""

from __future__ import annotations

import json
from typing import Any

import click
import yaml

from authgate.client.commands import AuthGroup, output_option
from authgate.client.errors import NotLoggedIn, command
from authgate.client.output import emit, table
from authgate.client.store import ConfigStore
from authgate.client.tokens import identity

__all__ = ["config_group"]


@click.group("config", cls=AuthGroup)
def config_group() -> None:
    """Show and switch contexts in the config file."""


def _redacted(document: dict[str, Any]) -> dict[str, Any]:
    for entry in document.get("users", []):
        user = entry.get("user", {})
        for key in ("access_token", "refresh_token", "id_token", "client_secret"):
            if key in user:
                user[key] = "REDACTED"
    return document


@config_group.command("view")
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
)
def config_view(output: str) -> None:
    """Print the config file with tokens redacted."""
    store = ConfigStore()
    document = _redacted(store.load().to_document())
    if output == "json":
        click.echo(json.dumps(document, indent=2))
    else:
        click.echo(f"# {store.path}")
        click.echo(yaml.safe_dump(document, sort_keys=False).rstrip())


@config_group.command("use-context")
@click.argument("name")
def config_use_context(name: str) -> None:
    """Make NAME the current context."""
    store = ConfigStore()
    with store.edit() as config:
        if name not in config.contexts:
            known = ", ".join(sorted(config.contexts)) or "none"
            raise NotLoggedIn(
                f"no context named {name!r} (known: {known})",
                hint="create it with: " + command(f"login --context {name} --base-url URL"),
            )
        config.current_context = name
    click.echo(f"Switched to context {name!r}.")


@config_group.command("current-context")
def config_current_context() -> None:
    """Print the current context's name."""
    store = ConfigStore()
    current = store.load().current_context
    if not current:
        raise NotLoggedIn("no current context", hint="run: " + command("login --base-url URL"))
    click.echo(current)


@config_group.command("get-contexts")
@output_option
def config_get_contexts(output: str) -> None:
    """List contexts: name, platform, user, logged in or not."""
    config = ConfigStore().load()
    rows = []
    for name, entry in sorted(config.contexts.items()):
        cluster = config.clusters.get(entry.cluster)
        tokens = config.users.get(entry.user)
        rows.append(
            {
                "current": name == config.current_context,
                "name": name,
                "base_url": cluster.base_url if cluster else None,
                "user": identity(tokens) if tokens else None,
                "logged_in": tokens is not None,
            }
        )
    human = table(
        ["CURRENT", "NAME", "PLATFORM", "USER"],
        [
            [
                "*" if r["current"] else "",
                str(r["name"]),
                str(r["base_url"] or "-"),
                str(r["user"] or "-"),
            ]
            for r in rows
        ],
    )
    emit({"contexts": rows}, output, human)
