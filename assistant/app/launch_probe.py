"""`python -m assistant.app.launch_probe [--model SPEC]`: how soon the app is usable after launch.

Runs the real app headless and prints seconds since process start (interpreter start-up and
imports included) until the first screen is drawn, until the home screen shows the person's
documents, and until the model has loaded in the background.
"""

from __future__ import annotations

import argparse
import time

from assistant.app.app import DraftpadApp, process_age


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant.app.launch_probe")
    parser.add_argument("--model", default="default")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    marks: dict[str, float] = {}

    async def watch(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        started = time.monotonic()
        while time.monotonic() - started < args.timeout:
            if "first screen drawn" not in marks and app.launch_seconds:
                marks["first screen drawn"] = app.launch_seconds
            if "home screen filled" not in marks and any(getattr(s, "loaded", False) for s in app.screen_stack):
                marks["home screen filled"] = process_age()
            if "model" not in marks and app.host.state in ("ready", "failed"):
                marks["model"] = process_age()
            if len(marks) == 3:
                break
            await pilot.pause(0.02)
        if app.host.error:
            print(f"model failed: {app.host.error}")
        app.exit()

    DraftpadApp(model=args.model, resume=False).run(headless=True, auto_pilot=watch)
    for name, seconds in marks.items():
        label = "model loaded" if name == "model" else name
        print(f"{label:<20} {seconds:6.2f} s after process start")


if __name__ == "__main__":
    main()
