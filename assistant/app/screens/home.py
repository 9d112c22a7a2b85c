"""Home: resume a recent document, start a new one from a template, see the library at a glance."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from assistant.app import core
from assistant.app.base import DraftpadScreen, attached_only

FIRST_RUN = (
    "Welcome to draftpad. Pick a template on the right (Enter) to start a document: answer a few "
    "questions, let the model propose an outline, then draft, edit and accept each section. "
    "Everything stays on this machine."
)


def template_options(templates: list[Any]) -> list[Option | None]:
    """Templates grouped by kind, each with its description under its name."""
    options: list[Option | None] = []
    for kind in sorted({t.kind for t in templates}):
        if options:
            options.append(None)
        options.append(Option(Text(kind.upper(), style="bold"), disabled=True))
        for template in (t for t in templates if t.kind == kind):
            label = Text.assemble((template.name, "bold"), "\n", (template.description or template.id, "dim"))
            options.append(Option(label, id=f"template:{template.id}"))
    return options


def session_label(summary: Any, now: float | None = None) -> Text:
    age = max(0.0, (now or time.time()) - summary.updated)
    when = "just now" if age < 60 else f"{age / 60:.0f} min ago" if age < 3600 else (
        f"{age / 3600:.0f} h ago" if age < 86400 else time.strftime("%Y-%m-%d", time.localtime(summary.updated)))
    return Text.assemble((summary.title, "bold"), "\n",
                         (f"{summary.template_id} · {summary.accepted}/{summary.sections} accepted · {when}", "dim"))


class HomeScreen(DraftpadScreen):
    place_name = "home"
    HELP = "Resume a document on the left or start one from a template on the right."
    BINDINGS = [
        Binding("n", "new", "New document", tooltip="Start a document from a template"),
        Binding("r", "recent", "Recent", tooltip="Focus the recent documents"),
        Binding("l", "app.library", "Library", show=False, tooltip="Import and search your documents"),
        Binding("a", "app.ask", "Ask", show=False, tooltip="Ask the local model a question"),
    ]
    DEFAULT_CSS = """
    HomeScreen #home-columns { height: 1fr; }
    HomeScreen .home-column { width: 1fr; padding: 0 1; }
    HomeScreen OptionList { height: 1fr; }
    HomeScreen #home-guide { margin: 1 0; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.templates: list[Any] = []
        self.sessions: list[Any] = []
        self.loaded = False

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="home-columns"):
            with Vertical(classes="home-column"):
                yield Label("Recent documents", classes="heading")
                yield OptionList(id="home-sessions")
            with Vertical(classes="home-column"):
                yield Label("New document", classes="heading")
                yield OptionList(id="home-templates")
            with Vertical(classes="home-column"):
                yield Label("Library", classes="heading")
                yield Static("Loading…", id="home-library", classes="muted")
                yield Static("", id="home-guide")

    def on_mount(self) -> None:
        self.query_one("#home-sessions", OptionList).loading = True
        self.query_one("#home-templates", OptionList).loading = True
        self.call_after_refresh(self.first_paint)

    def first_paint(self) -> None:
        self.dp.first_screen_shown()
        self.load_data()

    def on_screen_resume(self) -> None:
        # Textual also runs DraftpadScreen.on_screen_resume (handlers are called along the MRO).
        if self.loaded:
            self.load_data()

    @work(thread=True, exclusive=True, group="home")
    def load_data(self) -> None:
        try:
            drafting = core.drafting()
            templates = drafting.list_templates()
            sessions = drafting.list_sessions()
            errors = drafting.template_errors()
        except Exception as exc:  # noqa: BLE001 - shown, never raised
            self.app.call_from_thread(self.notify, f"Could not read your documents: {core.message_of(exc)}",
                                      severity="error")
            templates, sessions, errors = [], [], []
        summary = core.library_summary()
        self.app.call_from_thread(self.show_data, templates, sessions, errors, summary)

    @attached_only
    def show_data(self, templates: list[Any], sessions: list[Any], errors: list[str], summary: str) -> None:
        first_load = not self.loaded
        self.templates, self.sessions, self.loaded = templates, sessions, True
        recent = self.query_one("#home-sessions", OptionList)
        recent.loading = False
        recent.clear_options()
        for summary_row in sessions:
            recent.add_option(Option(session_label(summary_row), id=f"session:{summary_row.id}"))
        if not sessions:
            recent.add_option(Option(Text("No documents yet: start one from a template →", style="dim"),
                                     disabled=True))
        chooser = self.query_one("#home-templates", OptionList)
        chooser.loading = False
        chooser.clear_options()
        chooser.add_options(template_options(templates))
        self.query_one("#home-library", Static).update(summary)
        guide = FIRST_RUN if not sessions else "Enter resumes the highlighted document; N starts a new one."
        self.query_one("#home-guide", Static).update(guide)
        for error in errors:
            self.notify(f"Template skipped: {error}", severity="warning", timeout=8)
        if sessions:
            recent.highlighted = 0  # "Enter resumes the highlighted document": one is highlighted
        (recent if sessions else chooser).focus()
        if first_load:
            self.dp.resume_last_place()

    @on(OptionList.OptionSelected, "#home-sessions")
    def resume(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.dp.open_session(int(event.option.id.split(":", 1)[1]))

    @on(OptionList.OptionSelected, "#home-templates")
    def start(self, event: OptionList.OptionSelected) -> None:
        if not event.option.id:
            return
        template_id = event.option.id.split(":", 1)[1]
        template = next((t for t in self.templates if t.id == template_id), None)
        if template is not None:
            from assistant.app.screens.new_document import NewDocumentScreen

            self.app.push_screen(NewDocumentScreen(template))

    def action_new(self) -> None:
        chooser = self.query_one("#home-templates", OptionList)
        chooser.focus()
        if chooser.highlighted is None:
            chooser.action_first()
            if chooser.highlighted is not None and chooser.get_option_at_index(chooser.highlighted).disabled:
                chooser.action_cursor_down()

    def action_recent(self) -> None:
        recent = self.query_one("#home-sessions", OptionList)
        recent.focus()
        if recent.highlighted is None and self.sessions:
            recent.highlighted = 0
