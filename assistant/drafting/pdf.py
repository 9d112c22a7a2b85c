"""PDF through LibreOffice: the DOCX is written to a private folder and converted there with
`soffice --headless --convert-to pdf`, so the PDF shows exactly what Word would print."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Callable

from engine.errors import UserError

KNOWN_PLACES = ("/usr/bin/soffice", "/usr/lib/libreoffice/program/soffice", "/opt/libreoffice/program/soffice",
                "/Applications/LibreOffice.app/Contents/MacOS/soffice")
TIMEOUT_S = 180


def soffice() -> str | None:
    """LibreOffice's command: $DRAFTPAD_SOFFICE, else soffice/libreoffice on PATH, else a usual place."""
    named = os.environ.get("DRAFTPAD_SOFFICE", "").strip()
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("soffice") or shutil.which("libreoffice") or next(
        (p for p in KNOWN_PLACES if Path(p).is_file()), None)


def docx_to_pdf(write_docx: Callable[[Path], None], out: Path) -> None:
    """Write the DOCX with `write_docx` and convert it into `out`."""
    command = soffice()
    if command is None:
        raise UserError("PDF export needs LibreOffice (soffice), which is not installed: install it "
                        "(Debian/Ubuntu: apt install libreoffice-writer-nogui) or export --format docx")
    with tempfile.TemporaryDirectory(prefix="draftpad-pdf-") as folder:
        work = Path(folder)
        source = work / "document.docx"
        write_docx(source)
        # A profile of its own: a LibreOffice the person has open does not block or share state.
        profile = (work / "profile").as_uri()
        try:
            done = subprocess.run([command, f"-env:UserInstallation={profile}", "--headless", "--norestore",
                                   "--convert-to", "pdf", "--outdir", str(work), str(source)],
                                  capture_output=True, text=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise UserError(f"LibreOffice did not finish converting to PDF within {TIMEOUT_S} s") from None
        except OSError as exc:
            raise UserError(f"cannot run LibreOffice ({command}): {exc.strerror or exc}") from None
        pdf = work / "document.pdf"
        if done.returncode != 0 or not pdf.is_file():
            detail = (done.stderr or done.stdout).strip().splitlines()
            reason = detail[-1] if detail else f"exit status {done.returncode}"
            raise UserError(f"LibreOffice could not convert the document to PDF: {reason}")
        shutil.copyfile(pdf, out)
