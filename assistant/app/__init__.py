"""The draftpad terminal app. The only package allowed to import textual."""

from __future__ import annotations


def run(model: str = "default", device: str = "auto", dtype: str = "auto", server: object = None) -> int:
    """`server`: engine ServerSettings to draft through an OpenAI-compatible server instead."""
    # Imported here so `draftpad --help` and the CLI never pay for textual.
    from assistant.app.app import DraftpadApp

    app = DraftpadApp(model=model, device=device, dtype=dtype, server=server)
    app.run()
    code = app.return_code or 0
    if app.host.loading:
        # Quit while the model was still loading: everything the person did is already committed,
        # and the half-loaded model is only memory. Leave now rather than wait for torch.
        import os
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
