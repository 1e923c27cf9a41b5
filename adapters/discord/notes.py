"""Notes on Discord: a reply to a card in a staff channel, or the officer's card's "Add a note" form.

The note is kept by the desk (:meth:`bot.desk.Desk.add_note`), as a reply to the card is on Telegram;
the button, like the case buttons, survives restarts (its case is in its ``custom_id``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord

from bot.buttons import NOTE_BUTTON_PATTERN, note_button_data
from bot.cards import case_id_in
from bot.desk import MAX_NOTE

if TYPE_CHECKING:
    from adapters.discord.app import DiscordBot

__all__ = ["NoteButton", "NoteModal", "OfficersNotes"]

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


class OfficersNotes:
    """Takes officers' notes for the bot: replies to cards, and the button's form."""

    def __init__(self, bot: DiscordBot) -> None:
        self._bot = bot

    def is_note(self, message: discord.Message) -> bool:
        """A reply to a card in a staff channel: a note on its case."""
        settings = self._bot.settings
        return (
            message.channel.id in (settings.discord_safeguarding_channel, settings.discord_moderators_channel)
            and message.reference is not None
            and message.reference.message_id is not None
            and not message.author.bot
        )

    async def add_from_reply(self, message: discord.Message) -> None:
        """Keep the reply as a note on the card's case; answer in the channel."""
        from adapters.discord.adapter import roles_of  # the adapter renders this module's button

        reference = message.reference
        card = reference.resolved if reference is not None else None
        if not isinstance(card, discord.Message) and reference is not None and reference.message_id:
            try:
                card = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                card = None
        me = self._bot.client.user
        is_ours = isinstance(card, discord.Message) and me is not None and card.author.id == me.id
        title = card.embeds[0].title if isinstance(card, discord.Message) and card.embeds else None
        reply = await self._bot.desk.add_note(
            case_id_in(title or "") if is_ours else None,
            message.content,
            by_id=str(message.author.id),
            by_name=message.author.display_name,
            roles=roles_of(message.author),
        )
        await self._bot.attempt(message.channel.send(reply.text, reference=message, mention_author=False))

    async def on_button(self, interaction: discord.Interaction[Any], case_id: int) -> None:
        """An officer pressed "Add a note": the form opens; the note is kept when they submit it."""
        by_id, by_name = str(interaction.user.id), interaction.user.display_name
        desk = self._bot.desk
        if by_id not in desk.staff.safeguarding_officers:
            answer = "Only the safeguarding team can add notes to a case."
            await self._bot.attempt(interaction.response.send_message(answer, ephemeral=True))
            return

        async def save(text: str) -> str:
            return (await desk.add_note(case_id, text, by_id=by_id, by_name=by_name)).text

        await self._bot.attempt(interaction.response.send_modal(NoteModal(case_id, save)))
