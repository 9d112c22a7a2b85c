"""PDF through LibreOffice: the real conversion when `soffice` is installed, one clear line when not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from assistant import drafting
from assistant.drafting import pdf
from assistant.cli import main
from engine.errors import UserError
from tests.test_export import FULL_RENT, fixed_rent_session

needs_soffice = pytest.mark.skipif(pdf.soffice() is None, reason="LibreOffice (soffice) is not installed")


def page_texts(path: Path) -> list[str]:
    return [" ".join((page.extract_text() or "").split()) for page in PdfReader(str(path)).pages]


@needs_soffice
def test_rent_agreement_as_pdf(tmp_path: Path):
    sid = fixed_rent_session({**FULL_RENT, "start_date": "2027-01-01"})
    out = drafting.export(sid, "pdf", tmp_path / "lease.pdf")
    assert out.read_bytes().startswith(b"%PDF")
    pages = page_texts(out)
    assert len(pages) >= 2
    assert pages[0].startswith("RENT AGREEMENT")
    text = " ".join(pages)
    assert "1st day of January, 2027" in text and "Rupees Twenty-Eight Thousand only" in text
    # The footer fields were filled in by the layout: "Page i of N" on every page.
    assert [re.search(r"Page (\d+) of (\d+)", p).groups() for p in pages] == [
        (str(i), str(len(pages))) for i in range(1, len(pages) + 1)]
    assert "LESSOR" in pages[-1] or "LESSOR" in pages[-2]


def test_without_libreoffice_pdf_export_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("DRAFTPAD_SOFFICE", str(tmp_path / "no-such-soffice"))
    sid = fixed_rent_session()
    with pytest.raises(UserError, match=r"PDF export needs LibreOffice \(soffice\), which is not installed"):
        drafting.export(sid, "pdf", tmp_path / "lease.pdf")
    assert not (tmp_path / "lease.pdf").exists() and not list(tmp_path.glob(".lease.pdf.*"))
    code = main(["export", str(sid), "--format", "pdf", "-o", str(tmp_path / "lease.pdf")])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "apt install libreoffice-writer-nogui" in err
