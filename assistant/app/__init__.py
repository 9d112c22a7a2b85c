"""The draftpad terminal app. The only package allowed to import textual."""

from __future__ import annotations


def run(model: str = "default", device: str = "auto", dtype: str = "auto") -> int:
    # Imported here so `draftpad --help` and the CLI never pay for textual.
    from assistant.app.app import DraftpadApp

    app = DraftpadApp(model=model, device=device, dtype=dtype)
    app.run()
    return app.return_code or 0
