"""The Textual TUI (the only part of tracer/ that imports Textual).

``BootflowApp(source, mode="live"|"walkthrough"|"replay", gate=None, title=None)``;
a source has ``start(on_event)`` / ``stop()`` (see ``tracer.tui.sources``). The app
holds the feed (``tracer.model.feed``); each mode has its own screen
(``tracer.tui.screens``) with its own keys and help.
"""

from tracer.tui.app import BootflowApp
from tracer.tui.sources import EventSource, ListSource, PushSource, ReplaySource

__all__ = ["BootflowApp", "EventSource", "ListSource", "PushSource", "ReplaySource"]
