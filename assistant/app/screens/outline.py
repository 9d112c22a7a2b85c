"""Outline: the document's sections; plan them with the model, then add, remove, rename and reorder."""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, OptionList, Static
from textual.widgets.option_list import Option

from assistant.app import core
from assistant.app.base import DraftpadScreen, attached_only
from assistant.app.stream_relay import StreamRelay
from assistant.app.widgets.dialogs import ConfirmScreen, PromptScreen

STATUS_MARKS = {"planned": ("○", "dim"), "drafted": ("◐", "yellow"), "accepted": ("●", "green")}


def required_keys(template: Any) -> set[str]:
    return {s.id for s in template.sections if s.required} if template is not None else set()


def section_label(section: Any, required: bool) -> Text:
    mark, style = STATUS_MARKS.get(section.status, ("○", "dim"))
    return Text.assemble((f"{mark} ", style), (f"{section.position}. ", "dim"), (section.title, "bold"),
                         ("  required" if required else "", "italic dim"), (f"  {section.status}", style))


def planner_view(raw: str) -> Text:
    """The titles read so far from the model's finished lines, then what it is writing now."""
    from assistant.drafting import parse_titles

    done, _, current = raw.rpartition("\n")
    titles = parse_titles(done)
    view = Text("Proposed so far:\n" if titles else "", style="bold")
    for title in titles:
        view.append(f"  • {title}\n", style="")
    view.append(current, style="dim italic")
    return view


class OutlineScreen(DraftpadScreen):
    place_name = "outline"
    HELP = ("The document's sections. Required sections (from the template) cannot be removed. "
            "Enter opens a section in the editor.")
    BINDINGS = [
        Binding("p", "plan", "Plan", tooltip="Let the model propose the section titles"),
        Binding("a", "add", "Add", tooltip="Add a section after the highlighted one"),
        Binding("r", "rename", "Rename", tooltip="Rename the highlighted section"),
        Binding("delete,x", "remove", "Remove", tooltip="Remove the highlighted section (not required ones)"),
        Binding("ctrl+up,K", "move(-1)", "Move up", tooltip="Move the highlighted section up"),
        Binding("ctrl+down,J", "move(1)", "Move down", tooltip="Move the highlighted section down"),
        Binding("e", "export", "Export", tooltip="Export the document to Markdown or Word"),
        Binding("v", "validate", "Check", tooltip="Check the document for missing facts and sections"),
        Binding("escape", "stop_or_back", "Back", tooltip="Stop planning, or go back"),
    ]
    DEFAULT_CSS = """
    OutlineScreen #outline-main { height: 1fr; }
    OutlineScreen #outline-left { width: 2fr; padding: 0 1; }
    OutlineScreen #outline-right { width: 1fr; padding: 0 1; }
    OutlineScreen #outline-list { height: 1fr; }
    OutlineScreen #outline-buttons { height: auto; }
    OutlineScreen #outline-buttons Button { min-width: 8; margin-right: 1; }
    OutlineScreen #plan-stream { height: 1fr; border: round $primary-darken-2; padding: 0 1; }
    """

    def __init__(self, session_id: int, plan_now: bool = False) -> None:
        super().__init__()
        self.session_id = session_id
        self.plan_now = plan_now
        self.session: Any = None
        self.template: Any = None
        self.cancel = threading.Event()
        self.relay = StreamRelay(self, self.streamed)  # a new one per planning run
        self.planning = False
        self.plan_text = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="outline-main"):
            with Vertical(id="outline-left"):
                yield Label("Outline", id="outline-title", classes="heading")
                yield OptionList(id="outline-list")
                with Horizontal(id="outline-buttons"):
                    yield Button("Add", id="btn-add")
                    yield Button("Rename", id="btn-rename")
                    yield Button("Remove", id="btn-remove")
                    yield Button("↑", id="btn-up")
                    yield Button("↓", id="btn-down")
                    yield Button("Plan", id="btn-plan", variant="primary")
            with Vertical(id="outline-right"):
                yield Label("Planner", classes="heading")
                with VerticalScroll(id="plan-stream"):
                    yield Static("Press P to let the model propose section titles for this document.",
                                 id="plan-text", markup=False)

    def on_mount(self) -> None:
        self.query_one("#outline-list", OptionList).focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self.session is not None:
            self.reload()

    # -- data -----------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="outline-load")
    def reload(self, keep: int | None = None) -> None:
        try:
            drafting = core.drafting()
            session = drafting.get_session(self.session_id)
            template = drafting.get_template(session.template_id)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Could not open the document: {core.message_of(exc)}",
                                      severity="error")
            self.app.call_from_thread(self.dp.action_home)
            return
        self.app.call_from_thread(self.show, session, template, keep)

    @attached_only
    def show(self, session: Any, template: Any, keep: int | None = None) -> None:
        self.session, self.template = session, template
        self.sub_title = session.title
        self.query_one("#outline-title", Label).update(f"Outline of “{session.title}” ({template.name})")
        listing = self.query_one("#outline-list", OptionList)
        previous = listing.highlighted if keep is None else keep
        required = required_keys(template)
        listing.clear_options()
        listing.add_options([Option(section_label(s, s.key in required), id=f"section:{s.id}")
                             for s in session.sections])
        if session.sections:
            listing.highlighted = min(previous or 0, len(session.sections) - 1)
        if self.plan_now:
            self.plan_now = False
            self.action_plan()

    def apply(self, change: Any, keep: int | None = None) -> None:
        """Run one outline change through the drafting core (it commits), then redraw."""
        try:
            session = change()
        except Exception as exc:  # noqa: BLE001
            self.notify(core.message_of(exc), severity="error")
            return
        self.show(session, self.template, keep)

    def highlighted(self) -> Any:
        listing = self.query_one("#outline-list", OptionList)
        if self.session is None or listing.highlighted is None or not self.session.sections:
            return None
        return self.session.sections[listing.highlighted]

    # -- outline editing ------------------------------------------------------------------
    @on(OptionList.OptionSelected, "#outline-list")
    def open_section(self, event: OptionList.OptionSelected) -> None:
        from assistant.app.screens.editor import EditorScreen

        if self.planning:
            self.notify("Planning is running: wait for it or press Esc.", severity="warning")
            return
        if not event.option.id:
            return
        section_id = int(event.option.id.split(":")[1])  # the stable id: the CLI may move sections meanwhile
        self.app.push_screen(EditorScreen(self.session_id, section_id))

    @on(Button.Pressed, "#btn-add")
    def action_add(self) -> None:
        section = self.highlighted()
        at = section.position + 1 if section is not None else None

        def done(title: str | None) -> None:
            if title and title.strip():
                self.apply(lambda: core.drafting().add_section(self.session_id, title, position=at),
                           keep=(at - 1) if at else None)

        self.app.push_screen(PromptScreen("Title of the new section", placeholder="e.g. Risks"), done)

    @on(Button.Pressed, "#btn-rename")
    def action_rename(self) -> None:
        section = self.highlighted()
        if section is None:
            return

        def done(title: str | None) -> None:
            if title and title.strip():
                self.apply(lambda: core.drafting().rename_section(self.session_id, section.id, title))

        self.app.push_screen(PromptScreen("New title", value=section.title), done)

    @on(Button.Pressed, "#btn-remove")
    def action_remove(self) -> None:
        section = self.highlighted()
        if section is None:
            return
        if section.key in required_keys(self.template):
            self.notify(f"“{section.title}” is required by the template and cannot be removed.", severity="warning")
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.apply(lambda: core.drafting().remove_section(self.session_id, section.id))

        self.app.push_screen(ConfirmScreen(f"Remove “{section.title}” from the outline? (its text stays in the history)",
                                           yes="Remove"), done)

    @on(Button.Pressed, "#btn-up")
    def move_up(self) -> None:
        self.action_move(-1)

    @on(Button.Pressed, "#btn-down")
    def move_down(self) -> None:
        self.action_move(1)

    def action_move(self, step: int) -> None:
        section = self.highlighted()
        if section is None:
            return
        target = section.position + step
        if not 1 <= target <= len(self.session.sections):
            return
        self.apply(lambda: core.drafting().move_section(self.session_id, section.id, target), keep=target - 1)

    # -- planning -------------------------------------------------------------------------
    @on(Button.Pressed, "#btn-plan")
    def action_plan(self) -> None:
        if self.planning:
            return
        if not self.dp.host.ready:
            if self.dp.host.error:
                self.notify(f"No model: {self.dp.host.error}", severity="error")
                return
            self.query_one("#plan-text", Static).update("Waiting for the model to finish loading…")
        self.planning = True
        self.plan_text = ""
        self.cancel = threading.Event()
        self.relay = StreamRelay(self, self.streamed)
        self.run_plan(self.cancel, self.relay)

    @work(thread=True, exclusive=True, group="plan")
    def run_plan(self, cancel: threading.Event, relay: StreamRelay) -> None:
        app, host = self.app, self.dp.host  # self.app no longer resolves here once the screen is left
        if not host.wait() or cancel.is_set():
            app.call_from_thread(self.planned, None, "planning cancelled" if cancel.is_set() else host.error)
            return
        app.call_from_thread(self.streamed, "")
        try:
            with host.job("planning…"):
                result = core.drafting().plan(self.session_id, host.lm, cancel=cancel, on_text=relay.push)
        except Exception as exc:  # noqa: BLE001
            app.call_from_thread(self.planned, None, core.message_of(exc))
            return
        app.call_from_thread(self.planned, result, "")

    @attached_only
    def streamed(self, chunk: str) -> None:
        self.plan_text += chunk
        self.query_one("#plan-text", Static).update(planner_view(self.plan_text))

    @attached_only
    def planned(self, result: Any, error: str) -> None:
        self.relay.flush()  # the plan's last words before the outline replaces it
        self.planning = False
        if error:
            self.notify(f"Planning failed: {error}", severity="error")
            return
        if result.notice:
            self.notify(result.notice, severity="warning")
        elif result.added:
            self.notify(f"Added {len(result.added)} proposed section(s): {', '.join(result.added)}")
        else:
            self.notify("Outline planned.")
        self.show(result.session, self.template)

    def on_unmount(self) -> None:
        self.cancel.set()  # leaving or quitting stops the model instead of leaving it running

    def action_stop_or_back(self) -> None:
        if self.planning:
            self.cancel.set()
        else:
            self.app.action_home()

    # -- whole document -------------------------------------------------------------------
    def action_export(self) -> None:
        from assistant.app.screens.export import ExportScreen

        if self.session is not None:
            self.app.push_screen(ExportScreen(self.session))

    def action_validate(self) -> None:
        self.validate()

    @work(thread=True, exclusive=True, group="validate")
    def validate(self) -> None:
        try:
            findings = core.drafting().validate(self.session_id)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, core.message_of(exc), severity="error")
            return
        self.app.call_from_thread(self.show_findings, findings)

    @attached_only
    def show_findings(self, findings: list[Any]) -> None:
        from assistant.app.widgets.dialogs import TextViewScreen

        if not findings:
            self.notify("No problems found.")
            return
        lines = [f"- **{f.severity}**" + (f" (section {f.section})" if f.section else "") + f": {f.message}"
                 for f in findings]
        self.app.push_screen(TextViewScreen(f"{len(findings)} finding(s)", "\n".join(lines)))
