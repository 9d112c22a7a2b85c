"""New document: the template's questions as a form, then a review of the answers before creating it."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Label, Markdown, Static, TextArea

from assistant.app import core
from assistant.drafting import check_all, check_answer
from assistant.app.base import DraftpadScreen, attached_only

TYPE_HINTS = {"date": "date", "money": "amount", "number": "number", "person": "name and details",
              "address": "address", "list": "one per line", "long_text": "a paragraph", "text": ""}


def review_markdown(template: Any, title: str, values: dict[str, str]) -> str:
    rows = [f"## Review: {title}", "", f"Template: **{template.name}**", "", "| question | answer |", "|---|---|"]
    for spec in template.fields:
        answer = values.get(spec.name, "").strip().replace("\n", " / ").replace("|", "\\|") or "_(empty)_"
        rows.append(f"| {spec.label} | {answer} |")
    rows += ["", "Press **Create** (Ctrl+S) to create the document and plan its outline, or **Back** to change answers."]
    return "\n".join(rows)


class NewDocumentScreen(DraftpadScreen):
    place_name = "new"
    HELP = "Answer the template's questions (Tab moves between them), then review and create the document."
    BINDINGS = [
        Binding("ctrl+s", "next", "Review / Create", tooltip="Review the answers, then create the document"),
        Binding("escape", "back", "Back", tooltip="Back to the answers, or to the home screen"),
        # Priority: the app routes each key to the field focused when the key arrives, and a plain
        # Tab moves focus only once it bubbles back from that field; keys typed right after it
        # (fast typing, a paste, a busy moment while the model loads) landed in the field before.
        Binding("tab", "app.focus_next", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", show=False, priority=True),
    ]
    DEFAULT_CSS = """
    NewDocumentScreen #new-form { height: 1fr; padding: 0 2; }
    NewDocumentScreen .question { margin-top: 1; text-style: bold; }
    NewDocumentScreen .help { color: $text-muted; }
    NewDocumentScreen .problem { color: $error; height: auto; }
    NewDocumentScreen TextArea { height: 5; }
    NewDocumentScreen #new-review { height: 1fr; padding: 0 2; display: none; }
    NewDocumentScreen #new-buttons { height: auto; padding: 0 2; align-horizontal: right; }
    NewDocumentScreen #new-buttons Button { margin-left: 1; }
    """

    def __init__(self, template: Any) -> None:
        super().__init__()
        self.template = template
        self.reviewing = False

    def compose_body(self) -> ComposeResult:
        template = self.template
        with VerticalScroll(id="new-form"):
            yield Label(f"[b]{escape(template.name)}[/b]: {escape(template.description)}")
            if template.field("title") is None:
                yield Label("Document title", classes="question")
                yield Input(template.name, id="title")
            for spec in template.fields:
                hint = TYPE_HINTS.get(spec.type, "")
                label = escape(spec.label) + (" *" if spec.required else "") + (f"  [dim]({hint})[/dim]" if hint else "")
                yield Label(label, classes="question")
                if spec.help:
                    yield Static(spec.help, classes="help", markup=False)
                if spec.type in ("long_text", "list", "address"):
                    yield TextArea(spec.default, id=f"field-{spec.name}", classes="answer")
                else:
                    yield Input(spec.default, id=f"field-{spec.name}", classes="answer")
                yield Static("", id=f"problem-{spec.name}", classes="problem")
        with VerticalScroll(id="new-review"):
            yield Markdown("", id="new-review-text")
        with Horizontal(id="new-buttons"):
            yield Button("Back", id="new-back")
            yield Button("Review", id="new-next", variant="primary")

    def on_mount(self) -> None:
        self.first_input().focus()

    def first_input(self) -> Input | TextArea:
        return self.query(".answer, #title").first()  # type: ignore[return-value]

    def values(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for spec in self.template.fields:
            widget = self.query_one(f"#field-{spec.name}")
            found[spec.name] = widget.text if isinstance(widget, TextArea) else widget.value  # type: ignore[attr-defined]
        return found

    @on(Input.Changed, ".answer")
    def recheck(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("field-")
        spec = self.template.field(name)
        if spec is not None:
            self.query_one(f"#problem-{name}", Static).update(check_answer(spec, event.value) if event.value else "")

    @on(Button.Pressed, "#new-next")
    def action_next(self) -> None:
        if self.reviewing:
            self.create()
            return
        values = self.values()
        problems = check_all(self.template.fields, values)
        for spec in self.template.fields:
            self.query_one(f"#problem-{spec.name}", Static).update(problems.get(spec.name, ""))
        if problems:
            first = next(iter(problems))
            self.query_one(f"#field-{first}").focus()
            self.notify(f"{len(problems)} answer(s) need attention", severity="warning")
            return
        self.reviewing = True
        self.query_one("#new-review-text", Markdown).update(review_markdown(self.template, self.title_value(), values))
        self.query_one("#new-form").display = False
        self.query_one("#new-review").display = True
        self.query_one("#new-next", Button).label = "Create"
        self.query_one("#new-next", Button).focus()

    def title_value(self) -> str:
        own = self.query("#title")
        value = own.first(Input).value if own else self.values().get("title", "")
        return value.strip() or core.drafting().default_title(self.template, self.values())

    @on(Button.Pressed, "#new-back")
    def action_back(self) -> None:
        if self.reviewing:
            self.reviewing = False
            self.query_one("#new-form").display = True
            self.query_one("#new-review").display = False
            self.query_one("#new-next", Button).label = "Review"
            self.first_input().focus()
        else:
            self.app.pop_screen()

    @work(thread=True, exclusive=True, group="create")
    def create(self) -> None:
        values = {k: v for k, v in self.values().items() if v.strip()}
        try:
            session = core.drafting().new_session(self.template.id, self.title_value(), values)
        except Exception as exc:  # noqa: BLE001
            self.app.call_from_thread(self.notify, f"Could not create the document: {core.message_of(exc)}",
                                      severity="error")
            return
        self.app.call_from_thread(self.created, session.id)

    @attached_only
    def created(self, session_id: int) -> None:
        from assistant.app.screens.outline import OutlineScreen

        self.app.pop_screen()
        self.dp._go(OutlineScreen(session_id, plan_now=True))
