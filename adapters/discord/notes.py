"""Officers' notes on Discord: an "Add a note" button on the safeguarding card opens a form (a modal).

The note is kept by the desk (:meth:`bot.desk.Desk.add_note`), as a reply to the card is on either
platform; the button, like the case buttons, survives restarts (its case is in its ``custom_id``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.buttons import NOTE_BUTTON_PATTERN, note_button_data
from bot.desk import MAX_NOTE

__all__ = ["NoteButton", "NoteModal"]

NoteHandler = Callable[[discord.Interaction[Any], int], Awaitable[None]]


class NoteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=NOTE_BUTTON_PATTERN,
):
    """The "Add a note" button on an officer's card."""

    handler: NoteHandler | None = None

    def __init__(self, case_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Add a note", style=discord.ButtonStyle.primary, custom_id=note_button_data(case_id)
            )
        )
        self.case_id = case_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NoteButton:
        """Rebuild the button from a press, whatever process posted the card."""
        return cls(int(match["case"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the bot."""
        if NoteButton.handler is not None:
            await NoteButton.handler(interaction, self.case_id)


class NoteModal(discord.ui.Modal):
    """The form for one note; ``save`` keeps it and returns what to tell the officer."""

    def __init__(self, case_id: int, save: Callable[[str], Awaitable[str]]) -> None:
        super().__init__(title=f"Note on case #{case_id}", custom_id=f"note-{case_id}", timeout=900)
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label="Note (kept in the case's chronology)",
            style=discord.TextStyle.paragraph,
            max_length=MAX_NOTE,
            custom_id="note",
        )
        self.add_item(self.note)
        self._save = save

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Keep the note; tell only the officer."""
        await interaction.response.send_message(await self._save(self.note.value), ephemeral=True)
