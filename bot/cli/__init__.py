"""The ``classmod`` command line (Typer + Rich), one module per command group.

Typer shows the commands' docstrings as their help, as written: keep them free of markup. The help
lists commands in the order they are registered: the top-level commands by the order of the imports
below (check, replay, demo, run, status, purge, learn), the groups by the ``add_typer`` calls.
"""

from __future__ import annotations

from bot.app import load_scorer
from bot.cli import check, replay, run  # noqa: F401  (their commands register on import)
from bot.cli.cases import cases_app
from bot.cli.common import app
from bot.cli.console import console_app
from bot.cli.database import db_app, keys_app
from bot.cli.groups import consent_app, groups_app
from bot.cli.model import model_app
from bot.cli.policy import policy_app
from bot.cli.safeguarding import safeguarding_app

__all__ = ["app", "load_scorer"]

app.add_typer(cases_app, name="cases")
app.add_typer(policy_app, name="policy")
app.add_typer(model_app, name="model")
app.add_typer(groups_app, name="groups")
app.add_typer(consent_app, name="consent")
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(safeguarding_app, name="safeguarding")
app.add_typer(console_app, name="console")
