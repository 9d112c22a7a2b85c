"""`python -m assistant.app.launch_probe [--model SPEC]`: how soon the app is usable after launch.

Runs the real app headless and prints seconds since process start (interpreter start-up and
imports included) until the first screen is mounted, until the home screen shows the person's
documents, and until the model has loaded in the background.
"""

from __future__ import annotations

import argparse
import time

from assistant.app.main import DraftpadApp, process_age


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m assistant.app.launch_probe")
    parser.add_argument("--model", default="default")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    marks: dict[str, float] = {}

    async def watch(pilot) -> None:  # type: ignore[no-untyped-def]
        app = pilot.app
        marks["first screen mounted"] = app.launch_seconds
        started = time.monotonic()
        while time.monotonic() - started < args.timeout:
            if "home screen filled" not in marks and any(getattr(s, "loaded", False) for s in app.screen_stack):
                marks["home screen filled"] = process_age()
            if app.host.state in ("ready", "failed") and "model ready" not in marks:
                marks["model ready" if app.host.ready else f"model failed ({app.host.error})"] = process_age()
            if len(marks) >= 3:
                break
            await pilot.pause(0.02)
        app.exit()

    DraftpadApp(model=args.model, resume=False).run(headless=True, auto_pilot=watch)
    for name, seconds in marks.items():
        print(f"{name:<22} {seconds:6.2f} s after process start")


if __name__ == "__main__":
    main()
