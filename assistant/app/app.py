"""The draftpad Textual app: screens, global bindings, the background model, resume on restart."""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from assistant.app import core
from assistant.app.commands import DraftpadCommands, run_action
from assistant.app.widgets.dialogs import TextViewScreen
from assistant.app.last_place import Place, load_place, save_place
from assistant.app.model_host import ModelHost


def process_age() -> float:
    """Seconds since this process started (Linux /proc); 0.0 where that is unknown."""
    try:
        with open("/proc/self/stat", encoding="ascii") as handle:
            start_ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime", encoding="ascii") as handle:
            uptime = float(handle.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


class DraftpadApp(App):
    TITLE = "draftpad"
    SUB_TITLE = "local, private drafting"
    COMMANDS = App.COMMANDS | {DraftpadCommands}
    CSS = """
    Screen { background: $background; }
    .muted { color: $text-muted; }
    .heading { text-style: bold; color: $accent; margin: 1 0 0 0; }
    """
    BINDINGS = [
        Binding("f1", "help", "Help", tooltip="List every key of this screen"),
        Binding("f2", "home", "Home", tooltip="Go to the home screen"),
        Binding("f3", "library", "Library", tooltip="Import and search your documents"),
        Binding("f4", "ask", "Ask", tooltip="Ask the local model a question"),
        Binding("f6", "generation_log", "Log", show=False, tooltip="Prompts and responses of past model calls"),
        Binding("f9", "next_theme", "Theme", show=False, tooltip="Switch to the next colour theme"),
        Binding("ctrl+q", "quit", "Quit", tooltip="Quit (everything is already saved)", priority=True),
    ]

    def __init__(self, model: str = "default", device: str = "auto", dtype: str = "auto",
                 load_model: bool = True, resume: bool = True, section_tokens: int | None = None,
                 server: object = None) -> None:
        super().__init__()
        self.host = ModelHost(model, device, dtype, server=server)
        self.section_tokens = section_tokens  # None: each template section's own budget
        self.should_load_model = load_model
        self.should_resume = resume
        self.launch_seconds = 0.0  # process start -> first screen mounted
        self._mounted_at = 0.0
        self.place = Place()
        self._place_read = False

    # -- start-up -------------------------------------------------------------------------
    def on_mount(self) -> None:
        from assistant.app.screens.home import HomeScreen

        self.push_screen(HomeScreen())

    def first_screen_shown(self) -> None:
        """Called once the home screen has been drawn: the app is interactive from here."""
        if self.launch_seconds:
            return
        self.launch_seconds = process_age()
        self.log(f"first screen drawn {self.launch_seconds:.2f}s after process start")
        # Importing torch holds the interpreter for seconds: start only once the screen is up.
        if self.should_load_model:
            self.load_model()

    def load_model(self) -> None:
        def loaded() -> None:
            if self.is_running:
                self.call_from_thread(self._model_loaded)

        self.host.start(loaded)  # a daemon thread: quitting never waits for the load

    def _model_loaded(self) -> None:
        if self.host.error:
            self.notify(f"Could not load the model: {self.host.error}", severity="error", timeout=10)
        else:
            self.notify(f"Model ready: {self.host.describe()} ({self.host.loaded_seconds:.1f}s)", timeout=3)
        for status in self.screen.query("StatusBar"):
            status.refresh_figures()  # type: ignore[attr-defined]

    def resume_last_place(self) -> None:
        """Called by the home screen once the data layer is loaded (it lives in a worker)."""
        if self._place_read:
            return
        place = load_place()
        self.place = place
        self._place_read = True
        if not self.should_resume:
            return
        if place.theme and place.theme in self.available_themes:
            self.theme = place.theme
        if place.screen == "library":
            self.action_library()
        elif place.screen == "ask":
            self.action_ask()
        elif place.screen in ("outline", "editor") and place.session_id is not None:
            self.open_session(place.session_id, place.section if place.screen == "editor" else None)

    def remember(self, screen: Screen) -> None:
        """Record where the person is, so a restart returns there."""
        if not self.is_running or not self._place_read:
            # Shutting down pops screens, and start-up mounts some before the saved place is read:
            # neither is the person moving.
            return
        if screen is not self.screen:
            return  # a screen resumed on its way under another one
        name = getattr(screen, "place_name", "home")
        session_id = getattr(screen, "session_id", None)
        section = getattr(screen, "section_id", None)  # stable: the outline may change before the restart
        self.place = Place(name, session_id, str(section) if section is not None else None, self.theme)
        self._save_place()

    def watch_theme(self, theme: str) -> None:
        # Only the theme changes: the place stays what the last real screen recorded.
        if self._place_read and self.place.theme != theme:
            self.place = replace(self.place, theme=theme)
            self._save_place()

    def _save_place(self) -> None:
        try:
            save_place(self.place)
        except OSError as exc:
            self.notify(f"Could not save the app state: {exc}", severity="warning")

    # -- navigation -----------------------------------------------------------------------
    def _go(self, screen: Screen) -> None:
        from assistant.app.screens.home import HomeScreen

        while len(self.screen_stack) > 2 or (len(self.screen_stack) == 2 and not isinstance(self.screen, HomeScreen)):
            self.pop_screen()
        self.push_screen(screen)

    def action_home(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_library(self) -> None:
        from assistant.app.screens.library import LibraryScreen

        self._go(LibraryScreen())

    def action_ask(self) -> None:
        from assistant.app.screens.ask import AskScreen

        self._go(AskScreen())

    def action_generation_log(self) -> None:
        self.read_generation_log()

    @work(thread=True, exclusive=True, group="generation-log")
    def read_generation_log(self) -> None:
        from assistant.drafting import open_log

        try:
            log = open_log()
            try:
                entries, enabled = log.recent(200), log.enabled
            finally:
                log.close()
        except Exception as exc:  # noqa: BLE001 - a notification, not a crash
            self.call_from_thread(self.notify, f"Could not read the generation log: {core.first_line(exc)}",
                                  severity="error")
            return
        self.call_from_thread(self._show_generation_log, entries, enabled)

    def _show_generation_log(self, entries: list[Any], enabled: bool) -> None:
        from assistant.app.screens.generation_log import GenerationLogScreen

        self.push_screen(GenerationLogScreen(entries, enabled))

    def action_new_document(self) -> None:
        from assistant.app.screens.home import HomeScreen

        self.action_home()
        if isinstance(self.screen, HomeScreen):
            self.screen.action_new()

    def open_session(self, session_id: int, section_id: str | int | None = None) -> None:
        """The session's outline, and with `section_id` (a section's stable id) its editor on top."""
        from assistant.app.screens.outline import OutlineScreen

        self._go(OutlineScreen(session_id))
        if section_id is not None:
            from assistant.app.screens.editor import EditorScreen

            self.push_screen(EditorScreen(session_id, int(section_id)))

    def action_help(self) -> None:
        self.push_screen(TextViewScreen("Keys", self.help_markdown(self.screen)))

    def action_next_theme(self) -> None:
        names = sorted(self.available_themes)
        self.theme = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else names[0]
        self.notify(f"Theme: {self.theme}", timeout=2)

    # -- palette and help -----------------------------------------------------------------
    def help_markdown(self, screen: Screen) -> str:
        lines = [f"# {getattr(screen, 'place_name', 'draftpad').capitalize()}", ""]
        intro = getattr(screen, "HELP", "")
        if intro:
            lines += [intro, ""]
        lines += ["| key | action | what it does |", "|---|---|---|"]
        seen: set[tuple[str, str]] = set()
        # The screen's and the app's own keys; widgets' cursor keys are the usual ones.
        for key, active in screen.active_bindings.items():
            binding = active.binding
            if active.node is not screen and active.node is not self:
                continue
            if binding.system or (binding.action, key) in seen:
                continue
            seen.add((binding.action, key))
            lines.append(f"| `{key}` | {binding.description or binding.action} | {binding.tooltip} |")
        extra = getattr(screen, "EXTRA_KEYS", ())
        for key, text in extra:
            lines.append(f"| `{key}` | {text} | |")
        lines += ["", "Ctrl+P opens the command palette with every action; F9 switches theme."]
        return "\n".join(lines)

    def palette_commands(self, screen: Screen) -> list[tuple[str, str, Any]]:
        """(name, help, callback) for every key binding of the screen and the app, plus actions
        that have no key of their own."""
        commands: list[tuple[str, str, Any]] = []
        seen: set[str] = set()
        for active in screen.active_bindings.values():
            binding, node = active.binding, active.node
            name = binding.description or binding.action
            if binding.system or (node is not screen and node is not self) or name in seen:
                continue
            seen.add(name)
            commands.append((name, binding.tooltip, run_action(self, node, binding.action)))
        if "New document" not in seen:
            commands.append(("New document", "Start a document from a template", self.action_new_document))
        return commands
