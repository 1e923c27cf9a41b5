"""Scorers: the text model (Detoxify or the fallback) and the detectors that need no model."""
