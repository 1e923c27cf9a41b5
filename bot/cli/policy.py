"""``classmod policy``: check a policy file, and show the one in use."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot import views
from bot.cli import common
from bot.cli.common import _fail, _settings
from bot.languages import ENGLISH, catalogue, translation_gaps
from moderation.errors import ModerationError
from moderation.policy import Policy, load_policy

__all__ = ["policy_app"]

policy_app = typer.Typer(help="Policy files.", no_args_is_help=True)


@policy_app.command("validate")
def policy_validate(file: Annotated[Path, typer.Argument(help="policy YAML file")]) -> None:
    """Check a policy file; errors name the line."""
    try:
        policy = load_policy(file)
    except ModerationError as exc:
        raise _fail(str(exc), code=1) from exc
    enforced = sum(1 for clause in policy.clauses if clause.is_enforced)
    common.out.print(
        f"{file}: OK ({len(policy.clauses)} clauses, {enforced} enforced, {len(policy.detectors)} detectors)",
        markup=False,
    )
    shipped = catalogue().languages
    states = [
        f"{code} ({'reviewed' if language.reviewed and _policy_reviewed(policy, code) else 'draft'})"
        for code, language in shipped.items()
        if code != ENGLISH
    ]
    common.out.print(
        f"languages: en, {', '.join(states)} (draft: not yet checked by a speaker)", markup=False
    )
    for gap in translation_gaps(policy):
        common.out.print(f"warning: {gap} (sent in English)", markup=False)


def _policy_reviewed(policy: Policy, code: str) -> bool:
    translation = policy.translations.get(code)
    return translation is not None and translation.reviewed


@policy_app.command("show")
def policy_show(ctx: typer.Context) -> None:
    """Print the policy's clauses as a table."""
    try:
        policy = load_policy(_settings(ctx).policy_file)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    views.print_policy(common.out, policy)
