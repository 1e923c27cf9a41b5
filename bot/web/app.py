"""The console's web app: sign-in, the queue, a case; every read checked against the person's role.

A moderator asking for an officers' case (a disclosure, staff conduct, anything routed to the officer)
gets the same 404 as for a case that does not exist; an officer's every view of one is in the audit log.
Every response carries a Content-Security-Policy without inline script or style, and pages are never
cached. The access log names the route, never the path (a link's token) or anything a learner wrote.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.clock import Clock
from bot.config import Settings
from bot.outbox import decide_on_web
from bot.store import Store
from bot.store.groups import GROUP_MODES
from bot.web.auth import ABSOLUTE_LIFETIME, Attempts, Person, csrf_matches, redeem, signed_in
from bot.web.groups import group_page, groups_page
from bot.web.learners import learner_page, subject_access, subject_access_pdf
from bot.web.views import case_page, policy_page, queue_page, visible_case
from moderation.policy import GROUP_TUNABLE, Policy

__all__ = ["COOKIE", "create_app"]

logger = logging.getLogger(__name__)
access = logging.getLogger("bot.web.access")

COOKIE = "classmod_session"
_HERE = Path(__file__).parent
_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


class _Headers:
    """Security headers on every response, and an access log line naming the route, never the path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers += [(name.encode(), value.encode()) for name, value in _HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "(no route)")
            access.info(
                "%s %s %s %.0f ms", scope["method"], template, status, (time.monotonic() - started) * 1000
            )


def _said(request: Request) -> dict[str, str]:
    """What the last form's redirect said (recorded, or refused and why), cut to a line."""
    return {key: request.query_params.get(key, "")[:200] for key in ("recorded", "refused")}


def create_app(*, store: Store, policy: Policy, settings: Settings, clock: Clock) -> Starlette:
    """The console over a store (SQLite or PostgreSQL, the bots' own)."""
    templates = Jinja2Templates(directory=_HERE / "templates")
    attempts = Attempts()
    is_https = settings.console_url.startswith("https://")

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        return templates.TemplateResponse(request, name, context, status_code=status)

    async def audit(person: Person, case_ids: list[int], action: str, at: datetime) -> None:
        """Write the console's entry in the audit log (a view, a decision, a note, an export, an erasure)."""
        await asyncio.to_thread(
            partial(store.record_views, case_ids, actor=person.actor, action=action, at=at, via="console")
        )

    async def person_of(request: Request) -> Person | None:
        return await asyncio.to_thread(signed_in, store, request.cookies.get(COOKIE), clock.now())

    def signed_out(request: Request) -> Response:
        return render(
            request,
            "message.html",
            {
                "person": None,
                "title": "Sign in",
                "text": "Send /console to the bot in a private chat for a link.",
            },
            401,
        )

    def not_found(request: Request, person: Person | None) -> Response:
        return render(
            request, "message.html", {"person": person, "title": "Not found", "text": "No such page."}, 404
        )

    async def signin_page(request: Request) -> Response:
        # A GET only shows the button: link previews and prefetchers must not use the link up.
        return render(request, "signin.html", {"person": None, "token": request.path_params["token"]})

    async def signin(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        if not attempts.allow(client):
            return render(
                request,
                "message.html",
                {"person": None, "title": "Too many tries", "text": "Wait a minute."},
                429,
            )
        form = await request.form()
        token = form.get("token")
        done = await asyncio.to_thread(redeem, store, token if isinstance(token, str) else "", clock.now())
        if done is None:
            text = "This link was used, has expired or is not ours. Ask the bot for a new one (/console)."
            return render(
                request, "message.html", {"person": None, "title": "Link refused", "text": text}, 400
            )
        cookie, person = done
        logger.info("console: %s signed in as %s", person.actor, person.role.value)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=int(ABSOLUTE_LIFETIME.total_seconds()),
            httponly=True,
            secure=is_https,
            samesite="strict",
            path="/",
        )
        return response

    async def signout(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        form = await request.form()
        if not csrf_matches(person, form.get("csrf")):
            return render(
                request, "message.html", {"person": person, "title": "Refused", "text": "Form expired."}, 403
            )
        await asyncio.to_thread(store.revoke_console_sessions, person.platform, person.user_id, clock.now())
        logger.info("console: %s signed out everywhere", person.actor)
        response = render(
            request, "message.html", {"person": None, "title": "Signed out", "text": "Signed out everywhere."}
        )
        response.delete_cookie(COOKIE, path="/")
        return response

    async def queue(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        context = await asyncio.to_thread(queue_page, store, person, request.query_params, clock.now())
        return render(request, "queue.html", {"person": person, **context})

    async def case(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        context = await asyncio.to_thread(
            case_page, store, policy, person, request.path_params["case_id"], clock.now()
        )
        if context is None:
            return not_found(request, person)
        said = _said(request)
        return render(request, "case.html", {"person": person, "said": said, **context})

    async def form_of(request: Request) -> tuple[Person | None, Any, Response | None]:
        """The signed-in person and their form, or the answer refusing it (signed out, no form token)."""
        person = await person_of(request)
        if person is None:
            return None, None, signed_out(request)
        form = await request.form()
        if not csrf_matches(person, form.get("csrf")):
            text = "This form has expired or was not sent from the console."
            context = {"person": person, "title": "Refused", "text": text}
            return person, form, render(request, "message.html", context, 403)
        return person, form, None

    async def decide(request: Request) -> Response:
        person, form, refusal = await form_of(request)
        if refusal is not None or person is None:
            return refusal or signed_out(request)
        case_id = request.path_params["case_id"]
        if await asyncio.to_thread(visible_case, store, person, case_id) is None:
            return not_found(request, person)
        verb = form.get("verb")
        verdict = await asyncio.to_thread(
            lambda: decide_on_web(
                store,
                policy,
                settings,
                case_id=case_id,
                verb=verb if isinstance(verb, str) else "",
                platform=person.platform,
                user_id=person.user_id,
                name=person.actor,
                now=clock.now(),
            )
        )
        if verdict.accepted:  # every decision in the audit log, as every view of an officers' case
            action = f"decide-{verdict.verb.value if verdict.verb else verb}"
            await audit(person, [case_id], action, clock.now())
        said = "recorded" if verdict.accepted else "refused"
        return RedirectResponse(f"/cases/{case_id}?{said}={quote(verdict.message[:200])}", status_code=303)

    async def add_note(request: Request) -> Response:
        person, form, refusal = await form_of(request)
        if refusal is not None or person is None:
            return refusal or signed_out(request)
        case_id = request.path_params["case_id"]
        found = await asyncio.to_thread(visible_case, store, person, case_id)
        if found is None:  # whoever may see a case may note on it
            return not_found(request, person)
        text = form.get("note")
        try:
            await asyncio.to_thread(
                lambda: store.add_note(
                    case_id,
                    actor=person.user_id,
                    actor_name=person.actor,
                    text=str(text or ""),
                    at=clock.now(),
                )
            )
        except ValueError:
            said = quote("A note needs some text.")
            return RedirectResponse(f"/cases/{case_id}?refused={said}", status_code=303)
        await audit(person, [case_id], "note", clock.now())
        return RedirectResponse(f"/cases/{case_id}?recorded={quote('Note added.')}", status_code=303)

    async def learner(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        platform, user_id = request.path_params["platform"], request.path_params["user_id"]
        context = await asyncio.to_thread(learner_page, store, policy, person, platform, user_id, clock.now())
        if context is None:
            return not_found(request, person)
        said = _said(request)
        return render(request, "learner.html", {"person": person, "said": said, **context})

    async def export(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        platform, user_id = request.path_params["platform"], request.path_params["user_id"]
        kind = request.path_params["kind"]
        found = await asyncio.to_thread(store.cases_for_author, platform, user_id, limit=1)
        if not person.is_officer or not found or kind not in ("json", "pdf"):
            return not_found(request, person)
        now = clock.now()
        data = await asyncio.to_thread(
            lambda: subject_access(store, policy, platform, user_id, now=now, by=person.actor)
        )
        case_ids = [item["case"] for item in data["cases"]]
        await audit(person, case_ids, f"export-{kind}", now)
        name = f"classmod-{platform}-{user_id}"
        if kind == "json":
            body = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
            media = "application/json"
        else:
            body = await asyncio.to_thread(subject_access_pdf, data, settings.pdf_font)
            media = "application/pdf"
        disposition = f'attachment; filename="{quote(name)}.{kind}"'
        return Response(body, media_type=media, headers={"content-disposition": disposition})

    async def erase(request: Request) -> Response:
        person, _, refusal = await form_of(request)
        if refusal is not None or person is None:
            return refusal or signed_out(request)
        platform, user_id = request.path_params["platform"], request.path_params["user_id"]
        cases = await asyncio.to_thread(store.cases_for_author, platform, user_id, limit=500)
        if not person.is_officer or not cases:
            return not_found(request, person)
        now = clock.now()
        erased = await asyncio.to_thread(lambda: store.erase_author_texts(platform, user_id, now=now))
        await audit(person, [case.id for case in cases], "erase", now)
        logger.info("console: %s erased the texts of %s case(s) of one learner", person.actor, erased)
        said = quote(f"The words of {erased} case(s) erased; the cases and decisions stay.")
        return RedirectResponse(
            f"/learners/{quote(platform)}/{quote(user_id)}?recorded={said}", status_code=303
        )

    async def groups(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        context = await asyncio.to_thread(groups_page, store, person, clock.now())
        return render(request, "groups.html", {"person": person, **context})

    async def group(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        platform, chat_id = request.path_params["platform"], request.path_params["chat_id"]
        context = await asyncio.to_thread(group_page, store, policy, person, platform, chat_id, clock.now())
        if context is None:
            return not_found(request, person)
        said = _said(request)
        return render(request, "group.html", {"person": person, "said": said, **context})

    async def group_mode(request: Request) -> Response:
        person, form, refusal = await form_of(request)
        if refusal is not None or person is None:
            return refusal or signed_out(request)
        platform, chat_id = request.path_params["platform"], request.path_params["chat_id"]
        mode = form.get("mode")
        if mode not in GROUP_MODES:
            return not_found(request, person)
        if not await asyncio.to_thread(store.set_group_mode, platform, chat_id, str(mode)):
            return not_found(request, person)
        logger.info("console: %s put group %s %s in %s mode", person.actor, platform, chat_id, mode)
        said = quote(f"This group is now in {mode} mode.")
        return RedirectResponse(
            f"/groups/{quote(platform)}/{quote(chat_id)}?recorded={said}", status_code=303
        )

    async def policy_view(request: Request) -> Response:
        person = await person_of(request)
        if person is None:
            return signed_out(request)
        return render(request, "policy.html", {"person": person, **policy_page(policy)})

    async def group_thresholds(request: Request) -> Response:
        person, form, refusal = await form_of(request)
        if refusal is not None or person is None:
            return refusal or signed_out(request)
        platform, chat_id = request.path_params["platform"], request.path_params["chat_id"]
        if not any(
            g.platform == platform and g.chat_id == chat_id for g in await asyncio.to_thread(store.groups)
        ):
            return not_found(request, person)
        chosen: dict[str, float | None] = {}
        for category in sorted(GROUP_TUNABLE):
            given = str(form.get(f"threshold_{category.value}") or "").strip()
            try:
                value = float(given) if given else None
            except ValueError:
                value = -1.0
            if value is not None and not 0.05 <= value <= 0.99:
                said = quote(f"{category.value}: a threshold is a number from 0.05 to 0.99, or empty.")
                return RedirectResponse(
                    f"/groups/{quote(platform)}/{quote(chat_id)}?refused={said}", status_code=303
                )
            chosen[category.value] = value
        now = clock.now()
        for name, value in chosen.items():
            await asyncio.to_thread(
                partial(store.set_group_threshold, platform, chat_id, name, value, by=person.actor, at=now)
            )
        logger.info("console: %s set group %s %s's thresholds", person.actor, platform, chat_id)
        said = quote("This group's thresholds are saved; the bot uses them within 30 seconds.")
        return RedirectResponse(
            f"/groups/{quote(platform)}/{quote(chat_id)}?recorded={said}", status_code=303
        )

    routes = [
        Route("/", queue),
        Route("/groups/{platform:str}/{chat_id:str}/thresholds", group_thresholds, methods=["POST"]),
        Route("/policy", policy_view),
        Route("/groups", groups),
        Route("/groups/{platform:str}/{chat_id:str}", group),
        Route("/groups/{platform:str}/{chat_id:str}/mode", group_mode, methods=["POST"]),
        Route("/learners/{platform:str}/{user_id:str}", learner),
        Route("/learners/{platform:str}/{user_id:str}/export.{kind:str}", export),
        Route("/learners/{platform:str}/{user_id:str}/erase", erase, methods=["POST"]),
        Route("/cases/{case_id:int}", case),
        Route("/cases/{case_id:int}/decide", decide, methods=["POST"]),
        Route("/cases/{case_id:int}/notes", add_note, methods=["POST"]),
        Route("/signin/{token}", signin_page),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Mount("/static", StaticFiles(directory=_HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(_Headers)
    return app
