"""What every draftpad screen shares: header, status bar, footer, and a name for resuming."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

from assistant.app.status_bar import StatusBar

if TYPE_CHECKING:
    from assistant.app.main import DraftpadApp


class DraftpadScreen(Screen):
    """Subclasses implement compose_body(); `place_name` is what app_state.json records."""

    place_name = "home"
    HELP = ""

    @property
    def dp(self) -> "DraftpadApp":
        return cast("DraftpadApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="✎")
        yield from self.compose_body()
        yield StatusBar(self.dp.host)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        return iter(())

    def on_screen_resume(self) -> None:
        self.dp.remember(self)
