"""Operator commands: ``flask seed-demo``, ``flask users …``."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.accounts import operations as accounts
from app.accounts.roles import ROLE_CODES
from app.audit.actor import Actor, acting_as
from app.demo import DEMO_PASSWORD, seed_demo
from app.errors import DomainError
from app.uow import unit_of_work

CLI_ACTOR = Actor(None, "cli")

users = AppGroup("users", help="Manage user accounts.")


@click.command("seed-demo")
def seed_demo_command() -> None:
    """Load the demo estate and one account per role (does nothing if present)."""
    with acting_as(CLI_ACTOR), unit_of_work():
        project, demo_accounts, created = seed_demo()
    click.echo(("Created" if created else "Already present:") + f" demo project {project.name}")
    click.echo(f"Demo accounts (password: {DEMO_PASSWORD}):")
    for account in demo_accounts:
        click.echo(f"  {account.username:<12} {account.role.value}")


@users.command("create")
@click.argument("username")
@click.option("--name", "display_name", default="", help="Display name.")
@click.option("--role", "roles", multiple=True, type=click.Choice(sorted(ROLE_CODES)),
              help="Role (repeat for several).")
@click.option("--project", "projects", multiple=True, type=int, help="Granted project id.")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def create_user_command(username: str, display_name: str, roles: tuple[str, ...],
                        projects: tuple[int, ...], password: str) -> None:
    """Create a user account."""
    try:
        with acting_as(CLI_ACTOR), unit_of_work():
            user = accounts.create_user(username, password, display_name or username, roles,
                                        projects)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Created user {user.username} (id {user.id}) with roles {', '.join(roles)}")


@users.command("set-password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
def set_password_command(username: str, password: str) -> None:
    """Set a user's password."""
    with acting_as(CLI_ACTOR), unit_of_work():
        user = accounts.find_user(username)
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        try:
            accounts.reset_password(user, password)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
    click.echo(f"Password of {username} changed")


def init_app(app: Flask) -> None:
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(users)
