"""`ringwatch keys create|revoke|list`: API keys (docs/security.md).

`create` writes the key, and only the key, to stdout so a script can capture it
(`KEY=$(ringwatch keys create --role ingest)`); everything meant for people goes to stderr.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ringwatch.cli.common import console, services
from ringwatch.services.keys import Role
from ringwatch.settings import Settings

keys_app = typer.Typer(help="Create, revoke and list API keys.", no_args_is_help=True)


@keys_app.command("create")
def create(
    role: Annotated[Role, typer.Option(help="What the key may call.", case_sensitive=False)],
    name: Annotated[str, typer.Option(help="Who or what holds the key.")] = "",
    rate_limit: Annotated[
        int | None, typer.Option(min=1, help="Requests per second; default: the role's limit.")
    ] = None,
) -> None:
    """Create a key and print it once: it is stored hashed and cannot be shown again."""
    with services() as svc:
        new = svc.keys.create(role, name, rate_limit, created_by="cli")
    console.print(f"created key {new.info.key_id} (role {new.info.role.value}); store it now:")
    typer.echo(new.token)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).")]) -> None:
    """Revoke a key; requests with it are refused from now on."""
    with services() as svc:
        info = svc.keys.revoke(key_id)
    console.print(f"revoked {info.key_id} ({info.role.value}, {info.name or 'no name'})")


@keys_app.command("list")
def list_keys(
    all_keys: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List keys: ids, roles, names, dates. Never secrets."""
    with services() as svc:
        infos = svc.keys.list()
    table = Table()
    # Ids are what `revoke` takes: never wrapped, so they can be copied whole.
    table.add_column("id", no_wrap=True, min_width=16)
    for header in ("role", "name", "created", "rate limit", "revoked"):
        table.add_column(header)
    for k in infos:
        if k.revoked and not all_keys:
            continue
        limit = str(k.rate_limit) if k.rate_limit is not None else "role default"
        table.add_row(k.key_id, k.role.value, k.name, k.created_at, limit, k.revoked_at or "")
    # A listing is for reading, not capturing, so it goes where the rest of the chatter goes.
    console.print(table)


def announce_bootstrap_key(settings: Settings) -> None:
    """For `ringwatch serve`: in development, the first start with no keys makes an admin key.

    Without it a fresh checkout would have an API that refuses everything and no obvious way in.
    Production never gets one: there, keys are made deliberately with `ringwatch keys create`.
    """
    if settings.env != "development":
        return
    from ringwatch.services.context import Services  # heavy: see `common.services`

    svc = Services(settings, release_engine=False)  # `serve` keeps the engine for the API
    try:
        new = svc.keys.bootstrap_admin()
    finally:
        svc.close()
    if new is not None:
        console.print(
            f"[bold]First start: created admin API key {new.info.key_id}. It is shown only once:"
            f"[/bold]\n  {new.token}\n"
            "Send it as `Authorization: Bearer <key>`; make narrower keys with "
            "`ringwatch keys create --role ROLE`."
        )


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
