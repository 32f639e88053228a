"""One screen per mode; each owns its keys, its help and its part of the status line."""

from tracer.tui.screens.base import TraceScreen
from tracer.tui.screens.live import LiveScreen
from tracer.tui.screens.replay import ReplayScreen, ScrubBar
from tracer.tui.screens.viewer import ViewerScreen
from tracer.tui.screens.walkthrough import WalkthroughScreen

MODE_SCREENS: dict[str, type[TraceScreen]] = {
    "live": LiveScreen,
    "walkthrough": WalkthroughScreen,
    "replay": ReplayScreen,
    "viewer": ViewerScreen,
}

__all__ = ["MODE_SCREENS", "LiveScreen", "ReplayScreen", "ScrubBar", "TraceScreen",
           "ViewerScreen", "WalkthroughScreen"]
