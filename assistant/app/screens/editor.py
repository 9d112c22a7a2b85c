"""Section editor: write, generate, accept; versions, $EDITOR, examples from the library, findings."""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from assistant.app import buffers, core
from assistant.app.base import DraftpadScreen, attached_only
from assistant.app.stream_relay import StreamRelay
from assistant.app.widgets.dialogs import ConfirmScreen, PickScreen
from assistant.app.widgets.ghost_text import GhostTextArea
from assistant.app.suggestion_source import continuations

SAVE_DELAY = 0.4  # seconds of quiet before the buffer file is rewritten


def findings_text(findings: list[Any]) -> Text:
    if not findings:
        return Text("✓ no problems found in this section", style="green")
    text = Text()
    for finding in findings:
        style = "red" if finding.severity == "error" else "yellow"
        text.append(f"{'✗' if finding.severity == 'error' else '!'} {finding.message}\n", style=style)
    return text


class EditorScreen(DraftpadScreen):
    place_name = "editor"
    HELP = ("Write the section or press Ctrl+G to draft it with the model. Pause while typing to see a "
            "suggestion in grey: Tab accepts it, Alt+N / Alt+P show the others, Esc dismisses, Alt+S lists all.")
    EXTRA_KEYS = (("ctrl+z / ctrl+y", "Undo / redo"), ("tab", "Accept the ghost-text suggestion"),
                  ("alt+n / alt+p (alt+] / alt+[)", "Next / previous suggestion"),
                  ("alt+s", "List all suggestions"), ("escape", "Dismiss the suggestion, or stop generating"))
    BINDINGS = [
        Binding("ctrl+g", "generate", "Generate", tooltip="Draft (or redraft) this section with the model"),
        Binding("escape", "stop", "Stop", show=False, tooltip="Stop the generation (its text is kept)"),
        Binding("ctrl+r", "accept", "Accept", tooltip="Accept this section's text"),
        Binding("ctrl+s", "save", "Save", tooltip="Store the text as a new version now (it autosaves too)"),
        Binding("ctrl+t", "versions", "Versions", tooltip="Browse, diff and revert versions of this section"),
        Binding("f8", "external_editor", "$EDITOR", tooltip="Edit this section in your $EDITOR"),
        Binding("ctrl+o", "outline", "Outline", tooltip="Back to the outline"),
        Binding("alt+down", "neighbour(1)", "Next section", show=False, tooltip="Open the next section"),
        Binding("alt+up", "neighbour(-1)", "Previous section", show=False, tooltip="Open the previous section"),
    ]
    DEFAULT_CSS = """
    EditorScreen #editor-main { height: 1fr; }
    EditorScreen #editor-left { width: 3fr; padding: 0 1; }
    EditorScreen #editor-right { width: 1fr; min-width: 28; padding: 0 1; }
    EditorScreen #editor-text { height: 1fr; }
    EditorScreen #editor-findings { height: auto; max-height: 6; }
    EditorScreen #editor-examples { height: 1fr; }
    EditorScreen #editor-state { color: $text-muted; height: 1; }
    """

    def __init__(self, session_id: int, section_id: int) -> None:
        super().__init__()
        self.session_id = session_id
        # The stable id: the CLI may move sections while this screen is open, and every save must
        # still land in this section.
        self.section_id = section_id
        self.session: Any = None
        self.section: Any = None
        self.template: Any = None
        self.examples: list[Any] = []
        self.saved_text = ""  # the text of the current stored version
        self.base_version = 0  # the stored version the editor's text starts from (0: none yet)
        self.generating = False
        self.cancel = threading.Event()
        self.relay = StreamRelay(self, self.streamed)  # a new one per generation
        self.generation: Any = None  # the last DraftResult
        self.preface = ""  # template wording shown before the streamed prose
        self._buffer_timer: Timer | None = None
        self._loading = True
        self._latest: str | None = None  # the text as of the last change, readable after unmount

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="editor-main"):
            with Vertical(id="editor-left"):
                yield Label("", id="editor-title", classes="heading")
                yield GhostTextArea("", provider=self.suggest, id="editor-text", soft_wrap=True)
                yield Static("", id="editor-state")
                yield Static("", id="editor-findings")
            with Vertical(id="editor-right"):
                yield Label("Examples from your library", classes="heading")
                yield OptionList(id="editor-examples")

    def on_mount(self) -> None:
        area = self.query_one(GhostTextArea)
        area.loading = True
        area.focus()
        self.load()

    @property
    def area(self) -> GhostTextArea:
        return self.query_one(GhostTextArea)

    @property
    def position(self) -> int:
        """Where the section was when last read: for display only (0 before it is loaded)."""
        return self.section.position if self.section is not None else 0

    # -- loading --------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="editor-load")
    def load(self) -> None:
        try:
            drafting = core.drafting()
            session = drafting.get_session(self.session_id)
            section = session.by_id(self.section_id)
            template = drafting.get_template(session.template_id)
            unsaved = buffers.read_buffer_entry(section.id)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Could not open the section: {core.message_of(exc)}",
                                      severity="error")
            self.app.call_from_thread(self.dp.action_home)
            return
        self.app.call_from_thread(self.show, session, section, template, unsaved)
        self.refresh_side_panels(session, section, template)

    @attached_only
    def show(self, session: Any, section: Any, template: Any, unsaved: buffers.Buffer | None) -> None:
        self.session, self.section, self.template = session, section, template
        self.saved_text = section.text
        self.base_version = section.current.version if section.current else 0
        self.sub_title = session.title
        self.update_title()
        pending = unsaved is not None and unsaved.text != section.text
        if pending and unsaved.base_version != self.base_version:
            # Typed on top of another version than the one stored now (the CLI changed it since, or
            # the buffer's base is unknown): restoring it silently would overwrite that change.
            self._put_text(section.text)
            self.ask_about_stale_buffer(unsaved)
        else:
            self._put_text(unsaved.text if pending else section.text)
            if pending:
                self.notify("Restored unsaved edits from your last session.")
        self.dp.remember(self)

    def _put_text(self, text: str) -> None:
        area = self.area
        self._loading = True
        area.load_text(text)
        area.loading = False
        area.move_cursor(area.document.end)
        self._loading = False

    def ask_about_stale_buffer(self, unsaved: buffers.Buffer) -> None:
        based = f"v{unsaved.base_version}" if unsaved.base_version else "an older version"
        if unsaved.base_version is None:
            based = "a version of unknown age"
        now = f"v{self.base_version}" if self.base_version else "no text"
        section_id = self.section.id

        def answered(restore: bool | None) -> None:
            if restore:
                self._put_text(unsaved.text)
                self._latest = unsaved.text
                self.notify(f"Restored your unsaved edits (they replace {now} when saved; {now} stays in the "
                            "history).")
            else:
                # The person chose the stored text: the buffer goes, and only then.
                buffers.drop_buffer(section_id)
                self.notify(f"Kept {now}.")

        self.app.push_screen(ConfirmScreen(
            f"You have unsaved edits of this section typed on {based}, but it has changed since "
            f"(now {now}). Restore your edits?", yes="Restore", no="Keep stored"), answered)

    def update_title(self) -> None:
        section = self.section
        required = any(s.id == section.key and s.required for s in self.template.sections)
        self.query_one("#editor-title", Label).update(Text.assemble(
            (f"{section.position}. {section.title}", "bold"), ("  required" if required else "", "italic dim"),
            (f"  {section.status}", "dim")))

    def refresh_side_panels(self, session: Any, section: Any, template: Any) -> None:
        """Runs in a worker: examples from the library and this section's validation findings."""
        examples: list[Any] = []
        try:
            with core.library() as lib:
                examples = lib.examples(template.kind, section.title, section.text[:500], k=3)
        except Exception:  # noqa: BLE001 - no library or an empty one: the panel says so
            examples = []
        try:
            findings = [f for f in core.drafting().validate(self.session_id) if f.section == section.position]
        except Exception as exc:  # noqa: BLE001
            findings = []
            self.app.call_from_thread(self.notify, f"Validation failed: {core.message_of(exc)}", severity="warning")
        self.app.call_from_thread(self.show_side_panels, examples, findings)

    @attached_only
    def show_side_panels(self, examples: list[Any], findings: list[Any]) -> None:
        self.examples = examples
        listing = self.query_one("#editor-examples", OptionList)
        listing.clear_options()
        if not examples:
            listing.add_option(Option(Text("No examples: import past documents in the Library (F3).", style="dim"),
                                      disabled=True))
        for index, example in enumerate(examples):
            where = example.title + (f" › {example.heading}" if example.heading else "")
            label = Text.assemble((where, "bold"), "\n",
                                  (Path(example.path).name, "dim italic"), "\n",
                                  (_preview(example.text), ""))
            listing.add_option(Option(label, id=f"example:{index}"))
        self.query_one("#editor-findings", Static).update(findings_text(findings))

    @work(thread=True, exclusive=True, group="editor-side")
    def refresh_side(self) -> None:
        try:
            session = core.drafting().get_session(self.session_id)
            section = session.by_id(self.section_id)
        except Exception:  # noqa: BLE001
            return
        self.refresh_side_panels(session, section, self.template)

    @on(OptionList.OptionSelected, "#editor-examples")
    def open_example(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            self.read_document(self.examples[int(event.option.id.split(":")[1])].path)

    # -- saving ---------------------------------------------------------------------------
    @on(GhostTextArea.Changed)
    def changed(self) -> None:
        if self._loading or self.section is None:
            return
        self._latest = self.area.text
        if self._latest == self.saved_text:
            return  # e.g. the Changed message of loading the stored text
        if self._buffer_timer is not None:
            self._buffer_timer.stop()
        self._buffer_timer = self.set_timer(SAVE_DELAY, self.write_buffer)
        if not self.generating:
            self.query_one("#editor-state", Static).update("edited")

    def write_buffer(self) -> None:
        self._buffer_timer = None
        if self.section is None or self.generating:
            return
        text = self.current_text()
        try:
            if text == self.saved_text:
                buffers.drop_buffer(self.section.id)
            else:
                buffers.write_buffer(self.section.id, text, self.base_version)
        except OSError as exc:
            self.notify(f"Could not autosave: {exc}", severity="error")
            return
        # Said only now that the file is on disk.
        if self.is_attached and not self.generating and text != self.saved_text:
            self.query_one("#editor-state", Static).update("edited · autosaved")

    def current_text(self) -> str:
        if self._latest is not None:
            return self._latest
        return self.area.text if self.is_attached else self.saved_text

    def save(self, quiet: bool = True) -> bool:
        """Store the editor's text as a version if it differs from the stored one."""
        if self.section is None or self.generating:
            return False
        text = self.current_text()
        if text == self.saved_text:
            if not quiet:
                self.notify("Nothing changed since the last version.")
            return True
        try:
            version = core.drafting().edit_section(self.session_id, self.section_id, text)
        except Exception as exc:  # noqa: BLE001 - the buffer file still holds the text
            self.notify(f"Could not save: {core.message_of(exc)}", severity="error")
            return False
        self.saved_text = version.text
        self.base_version = version.version
        buffers.drop_buffer(self.section.id)
        if self.is_attached:
            self.query_one("#editor-state", Static).update(f"saved as v{version.version}")
        if not quiet:
            self.notify(f"Saved as version {version.version}.")
        return True

    def action_save(self) -> None:
        self.save(quiet=False)

    def on_screen_suspend(self) -> None:
        self.save()

    def on_unmount(self) -> None:
        # Quitting from here: a running generation stops (the core keeps its partial text) and
        # what was typed is stored (the buffer file already has it).
        self.cancel.set()
        try:
            self.save()
        except Exception:  # noqa: BLE001 - the buffer is the safety net
            pass

    # -- generation -----------------------------------------------------------------------
    def action_generate(self) -> None:
        if self.generating or self.section is None:
            return
        host = self.dp.host
        # A first draft of a section whose facts are given is those facts, written without the
        # model (a server's larger model adds to them); asked again, the model adds to them.
        extend = self.section.current is not None or host.server is not None
        try:
            needs = core.drafting().needs_model(self.session_id, self.section_id, extend)
        except Exception:  # noqa: BLE001 - the draft itself reports what is wrong
            needs = True
        if needs and host.error:
            self.notify(f"No model: {host.error}", severity="error")
            return
        if not self.save():
            return
        self.generating = True
        self.cancel = threading.Event()
        area = self.area
        area.cancel_suggestions()
        area.read_only = True
        self.preface = self.wording_before_draft() if needs else ""
        self.start_preview()
        self.query_one("#editor-state", Static).update(
            "writing from your facts…" if not needs else
            "waiting for the model to load…" if not host.ready else "generating… (Esc stops)")
        self.relay = StreamRelay(self, self.streamed)
        self.run_generation(self.cancel, self.relay, extend, needs)

    def wording_before_draft(self) -> str:
        """For a section whose template wording wraps the model's prose, the words that come before
        it: shown first, so the streamed prose reads in place (the stored text replaces it at the end)."""
        try:
            return core.drafting().wording_before_draft(self.session_id, self.section_id)
        except Exception:  # noqa: BLE001 - only a preview
            return ""

    @work(thread=True, exclusive=True, group="generate")
    def run_generation(self, cancel: threading.Event, relay: StreamRelay, extend: bool, needs_model: bool = True) -> None:
        # Captured now: once the person leaves this screen, self.app no longer resolves from this
        # thread, and the text streamed so far must still reach the store.
        app, host = self.app, self.dp.host
        if needs_model and (not host.wait() or cancel.is_set()):
            app.call_from_thread(self.generated, None, host.error or "stopped before the model was ready")
            return
        try:
            if not needs_model:
                result = core.drafting().draft_section(self.session_id, self.section_id, None, extend=False)
            else:
                app.call_from_thread(self.set_state, "generating… (Esc stops)")
                with host.job(f"drafting “{self.section.title}”…"):
                    result = core.drafting().draft_section(
                        self.session_id, self.section_id, host.lm, cancel=cancel,
                        max_new_tokens=self.dp.section_tokens, extend=extend,
                        on_text=relay.push, on_retry=lambda: app.call_from_thread(self.retrying))
        except Exception as exc:  # noqa: BLE001
            kept = None
            if getattr(exc, "partial", None) is not None:  # a server failed mid-way: its text so far is a version
                try:
                    kept = core.drafting().history(self.session_id, self.section_id)[-1].text
                except Exception:  # noqa: BLE001 - then the editor shows what it had
                    kept = None
            app.call_from_thread(self.generated, None, core.message_of(exc), kept)
            return
        app.call_from_thread(self.generated, result, "")

    @attached_only
    def set_state(self, text: str) -> None:
        self.query_one("#editor-state", Static).update(text)

    @attached_only
    def streamed(self, chunk: str) -> None:
        area = self.area
        area.insert(chunk, area.document.end)
        area.scroll_cursor_visible()

    @attached_only
    def retrying(self) -> None:
        """The first draft was unusable and a second one starts: the preview starts again too (the
        worker waits for this, so none of the second draft's text is lost in the reset)."""
        self.relay.flush()
        self.start_preview()
        self.query_one("#editor-state", Static).update("the first draft was unusable: trying once more… (Esc stops)")

    def start_preview(self) -> None:
        """The editor shows only the template's wording before the model's prose, which streams after it."""
        self.area.clear()
        self.area.insert(self.preface)

    @attached_only
    def generated(self, result: Any, error: str, kept: str | None = None) -> None:
        self.relay.flush()  # text still queued goes in first, so none lands after the final text
        self.generating = False
        area = self.area
        area.read_only = False
        if kept is not None:
            self.saved_text = kept
        if error:
            self.query_one("#editor-state", Static).update("")
            self.notify(f"Generation failed: {error}", severity="error")
            area.load_text(self.saved_text)  # the last stored version: nothing is lost
            return
        self.generation = result
        version = result.version
        if version is None:  # stopped before the model wrote anything: nothing new was stored
            area.load_text(self.saved_text)
            self.query_one("#editor-state", Static).update("stopped before any text was written")
            return
        if area.text != version.text:  # mixed sections wrap the prose in the template's wording
            area.replace(version.text, (0, 0), area.document.end)
        self.saved_text = version.text
        self.base_version = version.version
        buffers.drop_buffer(self.section.id)
        stats = (result.run_stats if result.kept else version.stats) or {}
        if stats:
            self.dp.host.record_dict(stats)
        if result.kept:
            state = f"nothing usable was written: v{version.version} is kept (ctrl+g to try again)"
        elif version.method == core.drafting().FROM_FACTS:
            state = f"written from your facts as v{version.version} (ctrl+g again: the model adds to them)"
        elif not version.text.strip():
            state = f"v{version.version}: nothing usable was written (type it, or ctrl+g to try again)"
        else:
            state = f"{'stopped, partial text kept' if result.cancelled else 'drafted'} as v{version.version}"
        self.query_one("#editor-state", Static).update(state)
        for bar in self.query("StatusBar"):
            bar.refresh_figures()  # type: ignore[attr-defined]
        self.section = core.drafting().get_session(self.session_id).by_id(self.section_id)
        self.update_title()
        self.refresh_side()

    def action_stop(self) -> None:
        if self.generating:
            self.cancel.set()

    # -- accept, versions, external editor ------------------------------------------------
    def action_accept(self) -> None:
        if self.generating or not self.save():
            return
        try:
            session = core.drafting().accept(self.session_id, self.section_id)
        except Exception as exc:  # noqa: BLE001 - e.g. nothing to accept yet: said, not raised
            self.notify(core.message_of(exc), severity=core.severity_of(exc))
            return
        self.section = session.by_id(self.section_id)
        self.update_title()
        self.notify(f"Accepted “{self.section.title}”.")

    def action_versions(self) -> None:
        from assistant.app.screens.versions import VersionsScreen

        if self.generating or not self.save():
            return
        try:
            versions = core.drafting().history(self.session_id, self.section_id)
        except Exception as exc:  # noqa: BLE001
            self.notify(core.message_of(exc), severity="error")
            return
        if not versions:
            self.notify("No versions yet.")
            return
        self.app.push_screen(VersionsScreen(self.section.title, versions), self.revert_to)

    def revert_to(self, number: int | None) -> None:
        if number is None:
            return

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            try:
                version = core.drafting().revert(self.session_id, self.section_id, number)
            except Exception as exc:  # noqa: BLE001
                self.notify(core.message_of(exc), severity="error")
                return
            self.area.replace(version.text, (0, 0), self.area.document.end)
            self.saved_text = version.text
            self.base_version = version.version
            buffers.drop_buffer(self.section.id)
            self.notify(f"Reverted to v{number} (stored as v{version.version}).")

        self.app.push_screen(ConfirmScreen(f"Replace the text with version {number}? (the current text stays in "
                                           "the history)", yes="Revert"), confirmed)

    def action_external_editor(self) -> None:
        if self.generating:
            return
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
        if not editor:
            self.notify("Set $EDITOR (e.g. export EDITOR=nano) to edit in your own editor.", severity="warning")
            return
        with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False, encoding="utf-8") as handle:
            handle.write(self.area.text)
            path = Path(handle.name)
        try:
            # Headless (tests, scripts) there is no terminal to hand over.
            with contextlib.nullcontext() if self.app.is_headless else self.app.suspend():
                code = subprocess.call([*shlex.split(editor), str(path)])
            if code != 0:
                self.notify(f"{editor} exited with {code}; the text is unchanged.", severity="warning")
                return
            text = path.read_text(encoding="utf-8")
        except Exception as exc:  # noqa: BLE001
            self.notify(f"Could not run {editor}: {exc}", severity="error")
            return
        finally:
            path.unlink(missing_ok=True)
        if text != self.area.text:
            self.area.replace(text, (0, 0), self.area.document.end)
            self.save(quiet=False)

    # -- suggestions ----------------------------------------------------------------------
    def suggest(self, prefix: str, cancel: threading.Event) -> list[str]:
        """Runs in the ghost-text worker thread."""
        if self.generating:
            return []
        return continuations(self.dp.host, prefix, cancel, document=self._document_text, heading=self._heading)

    @property
    def _heading(self) -> str:
        if self.session is None or self.section is None:
            return ""
        return core.drafting().section_heading(self.session.title, self.section.title)

    @property
    def _document_text(self) -> str:
        # Read on the UI thread's last render; a slightly stale copy only affects scoring.
        return self.area.text if self.is_attached else ""

    @on(GhostTextArea.ListRequested)
    def list_suggestions(self, event: GhostTextArea.ListRequested) -> None:
        area = event.area

        def picked(index: int | None) -> None:
            if index is not None:
                area.use_choice(event.choices[index])

        self.app.push_screen(PickScreen("Suggestions (Enter inserts one)", event.choices), picked)

    # -- navigation -----------------------------------------------------------------------
    def action_outline(self) -> None:
        self.app.pop_screen()

    def action_neighbour(self, step: int) -> None:
        if self.session is None:
            return
        try:  # the outline as it is now: the CLI may have changed it since this screen opened
            sections = core.drafting().get_session(self.session_id).sections
        except Exception as exc:  # noqa: BLE001
            self.notify(core.message_of(exc), severity="error")
            return
        ids = [s.id for s in sections]
        if self.section_id not in ids:
            return
        target = ids.index(self.section_id) + step
        if 0 <= target < len(ids):
            self.app.switch_screen(EditorScreen(self.session_id, ids[target]))


def _preview(text: str, limit: int = 160) -> str:
    """The start of an example, its list items kept on their own lines."""
    lines = "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())
    return lines if len(lines) <= limit else lines[:limit].rstrip() + "…"
