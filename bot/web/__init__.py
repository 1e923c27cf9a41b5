"""The moderators' web console (``classmod console``): cases, learners and groups in a browser.

Server-rendered (Starlette and Jinja2, autoescaped), no script of its own: every page works as plain HTML
forms. Sign-in is a one-time link (:mod:`bot.web.auth`); every page checks the person's role before it
reads a case (:mod:`bot.web.app`).
"""
