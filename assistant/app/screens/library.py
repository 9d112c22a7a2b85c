"""Library: import a folder with progress and a summary, search it live, read a document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Input, Label, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from assistant.app import core
from assistant.app.base import DraftpadScreen, attached_only
from assistant.app.widgets.dialogs import PromptScreen

SEARCH_DELAY = 0.25  # seconds after the last keystroke before searching


def summary_line(summary: Any) -> str:
    parts = [f"{len(summary.added)} added", f"{len(summary.updated)} updated", f"{len(summary.unchanged)} unchanged"]
    if summary.skipped:
        parts.append(f"{len(summary.skipped)} skipped")
    return "Imported: " + ", ".join(parts) + f" in {summary.seconds:.1f}s"


def hit_label(hit: Any) -> Text:
    where = f"{hit.title}" + (f" › {hit.heading}" if hit.heading else "")
    return Text.assemble((where, "bold"), (f"  {hit.kind}", "dim"), "\n",
                         (hit.snippet.replace("\n", " ")[:200], ""), "\n", (Path(hit.path).name, "dim italic"))


class LibraryScreen(DraftpadScreen):
    place_name = "library"
    HELP = "Search your imported documents as you type; Enter opens one. Ctrl+O imports a folder."
    BINDINGS = [
        Binding("ctrl+o", "import", "Import folder", tooltip="Import a folder (or file) of past documents"),
        Binding("ctrl+f", "focus_search", "Search", tooltip="Focus the search box"),
        Binding("escape", "app.home", "Back", tooltip="Back to the home screen"),
    ]
    DEFAULT_CSS = """
    LibraryScreen #library-main { padding: 0 1; height: 1fr; }
    LibraryScreen #library-import { height: auto; display: none; }
    LibraryScreen #library-import.-active { display: block; }
    LibraryScreen #library-results { height: 1fr; }
    LibraryScreen #library-stats { color: $text-muted; height: auto; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.hits: list[Any] = []
        self._search_timer: Timer | None = None
        self.importing = False
        self.summary: Any = None  # of the last import

    def compose_body(self) -> ComposeResult:
        with Vertical(id="library-main"):
            yield Static("Loading…", id="library-stats")
            with Horizontal(id="library-import"):
                yield Label("Importing ", id="library-import-label")
                yield ProgressBar(id="library-progress", show_eta=False)
            yield Input(placeholder="Search your documents (e.g. 'security deposit refund')", id="library-search")
            yield OptionList(id="library-results")

    def on_mount(self) -> None:
        self.query_one("#library-search", Input).focus()
        self.load_stats()

    @work(thread=True, exclusive=True, group="library-stats")
    def load_stats(self) -> None:
        self.app.call_from_thread(self.show_stats, core.library_summary())

    @attached_only
    def show_stats(self, text: str) -> None:
        self.query_one("#library-stats", Static).update(text)

    # -- search ---------------------------------------------------------------------------
    @on(Input.Changed, "#library-search")
    def typed(self) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY, self.start_search)

    @on(Input.Submitted, "#library-search")
    def start_search(self) -> None:
        self._search_timer = None
        query = self.query_one("#library-search", Input).value.strip()
        if query:
            self.search(query)
        else:
            self.show_hits("", [])

    @work(thread=True, exclusive=True, group="library-search")
    def search(self, query: str) -> None:
        try:
            with core.library() as lib:
                hits = lib.search(query, k=20)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Search failed: {core.message_of(exc)}", severity="error")
            return
        self.app.call_from_thread(self.show_hits, query, hits)

    @attached_only
    def show_hits(self, query: str, hits: list[Any]) -> None:
        if query != self.query_one("#library-search", Input).value.strip():
            return  # a newer query is on its way
        self.hits = hits
        results = self.query_one("#library-results", OptionList)
        results.clear_options()
        for index, hit in enumerate(hits):
            results.add_option(Option(hit_label(hit), id=f"hit:{index}"))
        if query and not hits:
            results.add_option(Option(Text("No matches.", style="dim"), disabled=True))

    @on(OptionList.OptionSelected, "#library-results")
    def open_hit(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.read_document(self.hits[int(event.option.id.split(":")[1])].path)

    def action_focus_search(self) -> None:
        self.query_one("#library-search", Input).focus()

    # -- import ---------------------------------------------------------------------------
    def action_import(self) -> None:
        if self.importing:
            self.notify("An import is already running.", severity="warning")
            return

        def chosen(path: str | None) -> None:
            if path and path.strip():
                self.start_import(Path(path.strip()).expanduser())

        self.app.push_screen(PromptScreen("Folder or file to import", value=str(Path.cwd()),
                                          placeholder="~/Documents/adrs"), chosen)

    def start_import(self, path: Path) -> None:
        if not path.exists():
            self.notify(f"{path} does not exist.", severity="error")
            return
        self.importing = True
        box = self.query_one("#library-import")
        box.add_class("-active")
        self.query_one("#library-progress", ProgressBar).update(total=None, progress=0)
        self.run_import(path)

    @work(thread=True, exclusive=True, group="library-import")
    def run_import(self, path: Path) -> None:
        def progress(done: int, total: int, current: str) -> None:
            self.app.call_from_thread(self.show_progress, done, total, current)

        try:
            with core.library() as lib:
                summary = lib.add_paths([path], progress=progress)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.imported, None, core.message_of(exc))
            return
        self.app.call_from_thread(self.imported, summary, "")
        self.refresh_suggestions()

    def refresh_suggestions(self) -> None:
        """Imported text feeds the editor's suggestions: count it into the n-gram store now."""
        host = self.dp.host
        if not host.ready:
            return
        try:
            core.drafting().refresh_suggestions(host.lm)
        except Exception as exc:  # noqa: BLE001 - suggestions keep working with the old store
            self.app.call_from_thread(self.notify, f"Suggestions not updated: {core.message_of(exc)}",
                                      severity="warning")

    @attached_only
    def show_progress(self, done: int, total: int, current: str) -> None:
        self.query_one("#library-progress", ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#library-import-label", Label).update(f"Importing {Path(current).name} ")

    @attached_only
    def imported(self, summary: Any, error: str) -> None:
        self.importing = False
        self.query_one("#library-import").remove_class("-active")
        if error:
            self.notify(f"Import failed: {error}", severity="error")
            return
        self.summary = summary
        self.notify(summary_line(summary), timeout=8)
        for path, reason in summary.skipped[:5]:
            self.notify(f"Skipped {Path(path).name}: {reason}", severity="warning")
        self.load_stats()
        if self.query_one("#library-search", Input).value.strip():
            self.start_search()
