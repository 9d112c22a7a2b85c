"""What every draftpad screen shares: header, status bar, footer, and a name for resuming."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, TypeVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header

from assistant.app import core
from assistant.app.stream_relay import StreamRelay
from assistant.app.widgets.dialogs import TextViewScreen
from assistant.app.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from assistant.app.app import DraftpadApp


Method = TypeVar("Method", bound=Callable[..., Any])


def attached_only(method: Method) -> Method:
    """For UI updates a worker thread sends back: if the person has left the screen meanwhile,
    the update is dropped instead of failing on widgets that are gone. A screen leaves the stack
    before its widgets are removed, and stays attached while they go, so both are checked; and a
    widget can be gone while its screen is still stacked (seen in a test: the screen torn down with
    the app), so a lookup that finds nothing drops the update too."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        screen = self.screen if self.is_attached else None
        if screen is None or screen not in self.app.screen_stack:
            return None
        try:
            return method(self, *args, **kwargs)
        except NoMatches:
            return None

    return cast(Method, wrapper)


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

    @on(StreamRelay.Arrived)
    def _stream_arrived(self, message: StreamRelay.Arrived) -> None:
        wait = message.relay.due_in()
        if wait > 0:
            self.set_timer(wait, message.relay.flush)
        else:
            message.relay.flush()

    @work(thread=True, group="document")
    def read_document(self, path: str) -> None:
        """Open a library document (an example or a search hit) in a reader, off the UI thread."""
        try:
            with core.library() as lib:
                document = lib.document(path)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, core.message_of(exc), severity="error")
            return
        self.app.call_from_thread(self.app.push_screen,
                                  TextViewScreen(f"{document.title} — {document.path}", document.text))
