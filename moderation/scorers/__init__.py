"""Scorers in the core's sense: the ``Scorer`` protocols, the detectors that need no model, the fallback.

The models themselves (Detoxify, the sentence encoder) are loaded and served by ``moderation.serving``.
"""
