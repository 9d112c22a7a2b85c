"""Small modal screens: yes/no confirmation, one-line text entry, a list to pick from, help."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Markdown, OptionList, Static

MODAL_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 72; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 1 2; }}
{name} .dialog-buttons {{ height: auto; align-horizontal: right; margin-top: 1; }}
{name} .dialog-buttons Button {{ margin-left: 1; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Returns True only on an explicit yes."""

    DEFAULT_CSS = MODAL_CSS.format(name="ConfirmScreen")
    BINDINGS = [Binding("escape", "answer(False)", "Cancel"), Binding("y", "answer(True)", "Yes", show=False)]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.no, id="no")
                yield Button(self.yes, id="yes", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptScreen(ModalScreen[str | None]):
    """Asks for one line of text; None when cancelled."""

    DEFAULT_CSS = MODAL_CSS.format(name="PromptScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")

    @on(Input.Submitted)
    def submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[int | None]):
    """Pick one of several strings (e.g. all ghost-text suggestions); returns its index."""

    DEFAULT_CSS = MODAL_CSS.format(name="PickScreen")
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, choices: list[str]) -> None:
        super().__init__()
        self.title_text, self.choices = title, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield OptionList(*[c.replace("\n", "⏎") for c in self.choices], id="pick-list")

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)


class TextViewScreen(ModalScreen[None]):
    """Read-only Markdown: a whole library document, a diff, the help page."""

    DEFAULT_CSS = MODAL_CSS.format(name="TextViewScreen") + """
    TextViewScreen > Vertical { width: 90%; height: 90%; }
    TextViewScreen VerticalScroll { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self, title: str, markdown: str) -> None:
        super().__init__()
        self.title_text, self.markdown = title, markdown

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"[b]{self.title_text}[/b]  (Esc closes)")
            with VerticalScroll():
                yield Markdown(self.markdown)

    def action_close(self) -> None:
        self.dismiss(None)
