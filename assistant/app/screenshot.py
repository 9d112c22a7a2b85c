"""`python -m assistant.app.screenshot OUT.svg [--model SPEC]`: the README's picture of the section
editor mid-generation, taken from the real app in a throw-away data directory."""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

EXAMPLE = {
    "title": "Use PostgreSQL for the case database",
    "context": "The eligibility service stores cases, matches and audit records for many states. We need "
               "transactions, per-state isolation and a managed service the team already knows how to operate.",
    "decision": "Use the cloud provider's managed PostgreSQL, with one logical database per state.",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant.app.screenshot")
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", default="default")
    parser.add_argument("--chars", type=int, default=260, help="take the picture once this much text has streamed")
    parser.add_argument("--library", type=Path, default=None,
                        help="a folder of past records to import first, so the examples panel is filled")
    args = parser.parse_args()
    os.environ["DRAFTPAD_HOME"] = tempfile.mkdtemp(prefix="draftpad-shot-")

    from assistant import drafting
    from assistant.app.app import DraftpadApp

    if args.library is not None:
        from retrieval import open_library

        library = open_library()
        try:
            library.add_paths([args.library], kind="adr")
        finally:
            library.close()
    session = drafting.new_session("adr-nygard", EXAMPLE["title"], EXAMPLE)
    section_id = next(s.id for s in session.sections if s.title == "Context")
    out = args.out.resolve()

    async def shoot(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        while app.host.state not in ("ready", "failed"):
            await pilot.pause(0.1)
        if not app.host.ready:
            raise SystemExit(f"model failed: {app.host.error}")
        app.open_session(session.id, section_id)
        started = time.monotonic()
        while type(app.screen).__name__ != "EditorScreen" or app.screen.section is None:
            await pilot.pause(0.05)
        editor = app.screen
        while not editor.examples:  # the side panel fills from the library in a worker
            if args.library is None or time.monotonic() - started > 60:
                break
            await pilot.pause(0.1)
        await pilot.press("ctrl+g")
        started = time.monotonic()
        while len(editor.area.text) < args.chars and editor.generating and time.monotonic() - started < 300:
            await pilot.pause(0.05)
        if len(editor.area.text) < args.chars:
            notes = "; ".join(n.message for n in app._notifications)
            raise SystemExit(f"only {len(editor.area.text)} characters streamed before the picture ({notes})")
        for widget in app.screen.query("TextArea"):
            widget.cursor_blink = False
        app.save_screenshot(out.name, str(out.parent))
        await pilot.press("escape")
        while editor.generating:
            await pilot.pause(0.05)
        app.exit()

    DraftpadApp(model=args.model, resume=False).run(headless=True, size=(120, 36), auto_pilot=shoot)
    print(out)


if __name__ == "__main__":
    main()
