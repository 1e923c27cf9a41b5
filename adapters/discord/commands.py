"""Discord's slash commands: each a thin call into the shared desk, answered only to whoever used it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from adapters.discord.adapter import message_parts, roles_of
from adapters.discord.authorisation import permission_problems
from bot.desk import Reply

if TYPE_CHECKING:
    from adapters.discord.app import DiscordBot

__all__ = ["SlashCommands"]


class SlashCommands:
    """/policy, /mycases, /appeal, /language, /authorise, /mode, /console and /consent."""

    def __init__(self, bot: DiscordBot) -> None:
        self.bot = bot

    def register(self, tree: app_commands.CommandTree[Any]) -> None:
        """Add every command to the client's tree (synced with Discord when the client is ready)."""

        @tree.command(name="policy", description="The group's rules, in brief")
        async def policy(interaction: discord.Interaction[Any]) -> None:
            await self.respond(interaction, Reply(self.bot.desk.policy_text(await self.reader(interaction))))

        @tree.command(name="mycases", description="Your own cases and strikes")
        async def my_cases(interaction: discord.Interaction[Any]) -> None:
            language = await self.reader(interaction)
            await self.respond(interaction, await self.bot.desk.my_cases(str(interaction.user.id), language))

        @tree.command(name="appeal", description="Ask the moderators to look at one of your cases again")
        @app_commands.describe(case="the case number", reason="why it should be looked at again")
        async def appeal(interaction: discord.Interaction[Any], case: str, reason: str | None = None) -> None:
            user, language = interaction.user, await self.reader(interaction)
            await self.respond(
                interaction,
                await self.bot.desk.appeal(str(user.id), user.display_name, case, reason, language),
            )

        @tree.command(name="language", description="The language I write to you in (staff: this server's)")
        @app_commands.describe(code="a language code, e.g. pl, ar, uk; leave out to see the choices")
        async def language(interaction: discord.Interaction[Any], code: str | None = None) -> None:
            await self.respond(interaction, await self.choose_language(interaction, code))

        @tree.command(
            name="authorise", description="Staff: moderate this server under the social media policy"
        )
        async def authorise(interaction: discord.Interaction[Any]) -> None:
            guild = interaction.guild
            if guild is None:
                await self.respond(interaction, Reply("Use /authorise in the class server."))
                return
            self.bot.authorising(guild, interaction.id)
            reply = await self.bot.desk.authorise(
                str(guild.id),
                guild.name,
                by_id=str(interaction.user.id),
                by_name=interaction.user.display_name,
                roles=roles_of(interaction.user),
            )
            await self.respond(interaction, reply)
            if reply.is_done:
                await self.bot.watch_from_now(guild)
                for problem in permission_problems(guild):
                    await self.bot.tell_moderators(problem)

        @tree.command(
            name="mode", description="Staff: enforce the policy here, or shadow (record, do nothing)"
        )
        @app_commands.describe(mode="enforce or shadow; leave out to see this server's")
        async def mode(interaction: discord.Interaction[Any], mode: str | None = None) -> None:
            guild = interaction.guild
            if guild is None:
                await self.respond(interaction, Reply("Use /mode in the class server."))
                return
            reply = await self.bot.desk.set_mode(
                str(guild.id),
                mode.lower() if mode else None,
                by_id=str(interaction.user.id),
                roles=roles_of(interaction.user),
            )
            await self.respond(interaction, reply)

        @tree.command(
            name="console", description="Moderators and officers: a sign-in link to the web console"
        )
        async def console(interaction: discord.Interaction[Any]) -> None:
            await self.respond(interaction, await self.bot.desk.console_link(str(interaction.user.id)))

        @tree.command(name="consent", description="Tutors: record a learner's written photo consent")
        async def consent(interaction: discord.Interaction[Any], learner: discord.Member) -> None:
            reply = await self.bot.desk.consent(
                str(learner.id),
                learner.display_name,
                by_id=str(interaction.user.id),
                roles=roles_of(interaction.user),
            )
            await self.respond(interaction, reply)

    async def reader(self, interaction: discord.Interaction[Any]) -> str:
        """The language of whoever used a command: their choice, their Discord's, the server's."""
        guild = interaction.guild
        return await self.bot.desk.language_of(
            str(interaction.user.id),
            str(guild.id) if guild is not None else None,
            locale=str(interaction.locale.value),
        )

    async def choose_language(self, interaction: discord.Interaction[Any], code: str | None) -> Reply:
        """``/language``: staff with a code in a server set the server's; anyone else sets their own."""
        user, guild = interaction.user, interaction.guild
        roles = roles_of(user)
        if guild is not None and code and self.bot.desk.is_staff(str(user.id), roles):
            return await self.bot.desk.set_group_language(
                str(guild.id), code, by_id=str(user.id), roles=roles
            )
        return await self.bot.desk.choose_language(str(user.id), code, locale=str(interaction.locale.value))

    async def respond(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        """Answer a command, seen only by its user; then the reply's notice and card, if it has them."""
        first, *more = message_parts(reply.text)
        await self.bot.attempt(interaction.response.send_message(first, ephemeral=True))
        for part in more:  # a long answer in two languages: the rest as follow-ups only they see
            await self.bot.attempt(interaction.followup.send(part, ephemeral=True))
        await self.bot.tell_moderators(reply.notice)
        if reply.card is not None:
            await self.bot.attempt(self.bot.adapter.post_card(reply.card))
