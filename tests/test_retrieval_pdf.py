"""PDF import and the finer document kind (form), on PDFs written in the test with fpdf2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from retrieval.parsing import FORMS, ParsedDocument, ParsedSection, Skip, form_for_title, guess_form, parse_bytes

fpdf = pytest.importorskip("fpdf")


def lease_pdf(title_metadata: bool = True) -> bytes:
    """Three pages: a preamble, numbered and ALL-CAPS headings, a running footer and page numbers."""
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.set_auto_page_break(True, margin=30)
    if title_metadata:
        pdf.set_title("Leave and Licence Agreement")
        pdf.set_author("A. Sharma")
    pages = [
        ("LEAVE AND LICENCE AGREEMENT", "This agreement is made at Pune on 1 March 2024 between Mr Arun Sharma, "
         "the Licensor, and Ms Beena Rao, the Licensee, for the flat described in the schedule. ", 3,
         "1. Licence Fee", "The Licensee shall pay a monthly licence fee of Rs. 25,000 on or before the fifth "
         "day of every month by bank transfer to the account of the Licensor. "),
        ("SECURITY DEPOSIT", "The Licensee has paid an interest-free refundable deposit of Rs. 1,00,000, returned "
         "within fifteen days of vacating the flat after deducting unpaid electricity bills. ", 4, None, None),
        ("TERMINATION", "Either party may end this licence by giving the other one month's notice in writing; "
         "the keys are handed back on the last day of the notice period. ", 3, None, None),
    ]
    for number, (head, body, times, head2, body2) in enumerate(pages, start=1):
        pdf.add_page()
        pdf.cell(text=head, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, body * times)
        if head2:
            pdf.cell(text=head2, new_x="LMARGIN", new_y="NEXT")
            pdf.multi_cell(0, 6, body2 * 3)
        pdf.set_auto_page_break(False)  # the footer sits in the bottom margin
        pdf.set_y(-25)
        pdf.cell(text="Confidential - Sharma/Rao licence", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(text=f"Page {number} of {len(pages)}")
        pdf.set_auto_page_break(True, margin=30)
    return bytes(pdf.output())


def scanned_pdf(tmp_path: Path) -> bytes:
    """Two pages that are only pictures (what a scanner makes): no text layer at all."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (400, 200), "white")
    ImageDraw.Draw(image).text((20, 80), "AFFIDAVIT of Ramesh Kumar", fill="black")
    picture = tmp_path / "page.png"
    image.save(picture)
    pdf = fpdf.FPDF()
    for _ in range(2):
        pdf.add_page()
        pdf.image(str(picture), x=10, y=10, w=180)
    return bytes(pdf.output())


def test_text_pdf_sections_pages_and_metadata():
    doc = parse_bytes(Path("leases/flat.pdf"), lease_pdf())
    assert doc.title == "Leave and Licence Agreement"
    assert doc.kind == "legal" and doc.form == "rent-agreement"
    assert doc.metadata["pages"] == 3 and doc.metadata["author"] == "A. Sharma"
    heads = [(s.heading, s.page, s.page_end) for s in doc.sections]
    assert heads == [("", 1, 1), ("1. Licence Fee", 1, 1), ("SECURITY DEPOSIT", 2, 2), ("TERMINATION", 3, 3)]
    fee = doc.sections[1].text
    assert "Rs. 25,000" in fee and "Page 1" not in fee
    # The running footer is on every page: it is furniture, not text of any section.
    assert not any("Confidential - Sharma/Rao" in s.text for s in doc.sections)


def test_an_adr_printed_to_pdf_keeps_its_title_case_headings_and_kind():
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.cell(text="Use SQLite for the desktop client", new_x="LMARGIN", new_y="NEXT")
    for head, body in (("Status", "Accepted"), ("Context", "Notes are JSON files; search is slow. " * 3),
                       ("Decision", "Store all notes in one SQLite database per user. " * 3),
                       ("Consequences", "Search gets fast; a migration tool is needed. " * 3)):
        pdf.cell(text=head, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, body)
    doc = parse_bytes(Path("exports/record.pdf"), bytes(pdf.output()))
    assert [s.heading for s in doc.sections] == ["Status", "Context", "Decision", "Consequences"]
    assert doc.kind == "adr" and doc.sections[2].text.startswith("Store all notes")


def test_pdf_without_title_metadata_takes_its_first_line():
    doc = parse_bytes(Path("x/scan-0001.pdf"), lease_pdf(title_metadata=False))
    assert doc.title == "LEAVE AND LICENCE AGREEMENT"
    assert doc.sections[0].text.startswith("This agreement is made at Pune")


def test_a_title_repeated_as_the_running_head_of_every_page_is_still_the_title():
    pdf = fpdf.FPDF()
    pdf.set_font("Helvetica", size=11)
    for number in range(1, 5):
        pdf.add_page()
        pdf.cell(text="Shared Storage Guide", new_x="LMARGIN", new_y="NEXT")  # the running head
        if number == 1:
            pdf.cell(text="Platform Group", new_x="LMARGIN", new_y="NEXT")
        pdf.cell(text=f"{number}. Chapter {number}", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, "Volumes are mounted read-only unless the job asks for write access. " * 4)
    doc = parse_bytes(Path("x/guide.pdf"), bytes(pdf.output()))
    assert doc.title == "Shared Storage Guide"
    assert [s.heading for s in doc.sections if s.heading][:2] == ["1. Chapter 1", "2. Chapter 2"]


def test_scanned_pdf_is_reported_as_such(tmp_path: Path):
    with pytest.raises(Skip, match="scanned PDF: its 2 pages hold images"):
        parse_bytes(Path("x/affidavit.pdf"), scanned_pdf(tmp_path))


def test_damaged_pdf_is_skipped_with_a_reason():
    data = lease_pdf()
    with pytest.raises(Skip, match="not a readable PDF"):
        parse_bytes(Path("x/broken.pdf"), data[: len(data) // 3])


def test_forms_from_titles_match_the_templates():
    # The templates' names go through the same rules as imported documents' titles.
    assert form_for_title("Residential Rent Agreement (11 months)") == "rent-agreement"
    assert form_for_title("Affidavit") == "affidavit"
    assert form_for_title("Power of Attorney") == "power-of-attorney"
    assert form_for_title("Agreement to Sell (immovable property)") == "agreement-to-sell"
    assert form_for_title("Mutual Non-Disclosure Agreement") == "nda"
    assert form_for_title("Architecture Decision Record (MADR)", "adr") == "adr"
    assert form_for_title("Shopping list") == ""
    assert set(FORMS.values()) <= {"adr", "legal", "patent"}


def doc(title: str, text: str, kind: str = "legal", heading: str = "") -> ParsedDocument:
    return ParsedDocument(title=title, kind=kind, sections=[ParsedSection(heading, 1 if heading else 0, text)])


def test_form_from_first_heading_path_and_wording():
    assert guess_form(doc("Untitled", "The deponent states ...", heading="AFFIDAVIT OF RESIDENCE")) == "affidavit"
    assert guess_form(doc("Sample", "hello there", kind="legal"), Path("deeds/gift-deed-2019.md")) == "gift-deed"
    wording = ("The lessor lets the premises to the lessee. The monthly rent is due on the fifth. The tenant pays "
               "the security deposit. The lessee keeps the premises clean. Rent rises by five percent.")
    assert guess_form(doc("Document 7", wording)) == "rent-agreement"
    # Legal text that names no form of its own is a contract, not a guess.
    assert guess_form(doc("Master services", "The parties agree to the terms below.")) == "contract"
    assert guess_form(doc("Notes", "hello", kind="other")) == ""


def test_given_form_sets_kind_and_a_named_legal_form_corrects_a_content_guess():
    data = b"RENT AGREEMENT\n\nThe lessor and lessee agree.\n"
    parsed = parse_bytes(Path("x/a.txt"), data, kind="affidavit")
    assert (parsed.kind, parsed.form) == ("legal", "affidavit")
    parsed = parse_bytes(Path("x/a.txt"), data, kind="legal")
    assert (parsed.kind, parsed.form) == ("legal", "rent-agreement")
    # Claims and embodiments in a deed's checklist made the content look like a patent.
    deed = ("# Family Settlement Deed\n\n" + "The claims of each member and the embodiments of the settlement. " * 6
            + "wherein the prior art of partition ...\n").encode()
    assert parse_bytes(Path("guides/settlement.md"), deed).kind == "legal"
    assert parse_bytes(Path("patents/settlement.md"), deed).kind == "patent"


def test_pdf_reader_roundtrip_is_real():
    """The fixture is a real PDF: pypdf reads three pages of text from it."""
    import pypdf

    reader = pypdf.PdfReader(io.BytesIO(lease_pdf()))
    assert len(reader.pages) == 3 and "SECURITY DEPOSIT" in reader.pages[1].extract_text()


# --- the library: a PDF imported, found, cited -----------------------------------------------

@pytest.fixture
def pdf_library(tmp_path: Path):
    from retrieval.library import open_library
    from tests.fixtures_library import write_docs

    docs = write_docs(tmp_path / "docs")
    (docs / "leases" / "pune-licence.pdf").write_bytes(lease_pdf())
    (docs / "scans").mkdir()
    (docs / "scans" / "affidavit.pdf").write_bytes(scanned_pdf(tmp_path))
    lib = open_library(tmp_path / "lib.db")
    summary = lib.add_paths([docs])
    yield lib, summary, docs
    lib.close()


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_a_pdf_imports_and_its_sections_are_found_with_their_pages(pdf_library):
    lib, summary, docs = pdf_library
    pdf_path = str((docs / "leases" / "pune-licence.pdf").resolve())
    assert pdf_path in summary.added
    skipped = dict(summary.skipped)
    assert "scanned PDF" in skipped[str((docs / "scans" / "affidavit.pdf").resolve())]

    hits = lib.search("licence fee paid by bank transfer before the fifth of each month", k=3)
    assert hits[0].path == pdf_path and hits[0].heading == "1. Licence Fee" and hits[0].page == 1
    assert hits[0].form == "rent-agreement" and hits[0].kind == "legal"
    # Both leases have a deposit clause; the PDF's is found, on its page.
    hits = lib.search("interest-free deposit, what is deducted for unpaid electricity bills", k=3)
    mine = [h for h in hits[:2] if h.path == pdf_path]
    assert mine and mine[0].heading == "SECURITY DEPOSIT" and mine[0].page == 2

    document = lib.document(pdf_path)
    assert [(s.heading, s.page) for s in document.sections][1:] == [("1. Licence Fee", 1), ("SECURITY DEPOSIT", 2),
                                                                    ("TERMINATION", 3)]
    found = lib.examples("legal", "Termination", "notice period to end the licence", k=2, form="rent-agreement")
    cited = [e for e in found if e.path == pdf_path]
    assert cited and cited[0].page == 3 and cited[0].citation == "Leave and Licence Agreement › TERMINATION, p. 3"


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_examples_keep_to_the_form_asked_for(pdf_library):
    lib, _summary, docs = pdf_library
    assert lib.stats()["by_form"] == {"adr": 2, "rent-agreement": 2}
    leases = lib.examples("legal", "Security deposit", "refundable deposit", k=3, form="rent-agreement")
    assert leases and {Path(e.path).parent.name for e in leases} == {"leases"}
    assert lib.examples("legal", "Security deposit", "refundable deposit", k=3, form="affidavit") == []
    assert all(h.form == "rent-agreement" for h in lib.search("deposit", k=5, kind="rent-agreement"))


@pytest.mark.real_model  # loads the MiniLM embedding model
def test_a_library_from_before_forms_is_upgraded_and_rechunked(tmp_path: Path):
    """Schema 1 had no forms or pages and embedded only each section's head: opening it adds the
    columns and guesses the forms; importing the same files again re-chunks them."""
    import sqlite3

    from retrieval.library import open_library
    from tests.fixtures_library import write_docs

    docs = write_docs(tmp_path / "docs")
    lib = open_library(tmp_path / "lib.db")
    lib.add_paths([docs])
    lib.close()
    conn = sqlite3.connect(tmp_path / "lib.db")
    conn.execute("UPDATE library_documents SET form = '', chunking = 1")
    conn.commit()
    conn.close()
    lib = open_library(tmp_path / "lib.db")
    again = lib.add_paths([docs])
    assert len(again.updated) == 3 and not again.unchanged
    assert lib.stats()["by_form"] == {"adr": 2, "rent-agreement": 1}
    assert len(lib.add_paths([docs]).unchanged) == 3
    lib.close()
