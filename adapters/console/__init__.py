"""The console platform: a local class chat in a terminal, moderated by the real pipeline."""
