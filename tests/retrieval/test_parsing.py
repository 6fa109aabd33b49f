"""Text extraction from real files of every format, and the errors a vector-store file reports."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from pypdf import PdfWriter

from parley.retrieval.parsing import UnparseableFile, extract_text

FIXTURES = Path(__file__).parent / "fixtures"


def parse(name: str, filename: str | None = None, content_type: str | None = None) -> str:
    return extract_text((FIXTURES / name).read_bytes(), filename or name, content_type)


def refusal(data: bytes, filename: str, content_type: str | None = None) -> UnparseableFile:
    with pytest.raises(UnparseableFile) as info:
        extract_text(data, filename, content_type)
    return info.value


def test_pdf_pages_in_order() -> None:
    text = parse("sample.pdf")
    assert "quarterly report shows revenue grew 15 percent" in text
    assert text.index("Parley Vector Stores") < text.index("Cheetahs are the fastest")
    assert "\n\n" in text  # pages stay apart


def test_docx_paragraphs_and_table_cells_in_document_order() -> None:
    lines = parse("sample.docx").splitlines()
    assert lines == [
        "Onboarding guide",
        "Employees are entitled to 25 days of paid annual leave.",
        "Office | City",
        "Headquarters | Lisbon",
        "Ask the help desk for a laptop.",
    ]


def test_html_keeps_visible_text_and_block_breaks() -> None:
    lines = parse("page.html").splitlines()
    assert lines == [
        "Shipping FAQ",
        "Shipping questions",
        "Orders to Canadian addresses usually arrive within 5 to 8 business days.",
        "Tracking is emailed",
        "Returns are free",
        "Country | Days",
        "Canada | 5-8",
    ]


def test_json_is_flattened_to_paths() -> None:
    lines = parse("data.json").splitlines()
    assert "maintainers[0].email: ada@example.com" in lines
    assert "maintainers[1].name: Grace" in lines
    assert {"product: Parley", "version: 1.5", "open_source: true", "notes: null", "tags[1]: rag"} <= set(
        lines
    )


def test_json_lines_records_are_separated() -> None:
    assert parse("records.jsonl") == "id: 1\ntext: first record\n\nid: 2\ntext: second record"


def test_csv_rows_carry_their_column_names() -> None:
    lines = parse("data.csv").splitlines()
    assert lines[0] == "name | role | city"
    assert lines[2] == "name: Grace Hopper | role: admiral | city: Arlington, Virginia"
    assert lines[3] == "name: Alan Turing | city: Wilmslow"  # blank line skipped, empty cell dropped


def test_tab_separated_values() -> None:
    assert extract_text(b"a\tb\n1\t2\n", "t.tsv").splitlines() == ["a | b", "a: 1 | b: 2"]


@pytest.mark.parametrize("name", ["notes.md", "sample.py"])
def test_markdown_and_code_are_kept_verbatim(name: str) -> None:
    assert parse(name) == (FIXTURES / name).read_text().strip()


def test_text_that_is_not_utf8_falls_back_to_windows_1252() -> None:
    assert parse("cp1252.txt") == "Café crème \u2013 100€ price list"


def test_utf8_bom_and_utf16_are_decoded() -> None:
    assert extract_text("\ufeffnaïve".encode(), "a.txt") == "naïve"
    assert extract_text("naïve".encode("utf-16"), "a.txt") == "naïve"


@pytest.mark.parametrize("name", ["empty.txt", "blank.md"])
def test_empty_file_is_invalid(name: str) -> None:
    error = refusal((FIXTURES / name).read_bytes(), name)
    assert (error.code, error.reason) == ("invalid_file", "The file is empty")


def test_corrupt_pdf_is_invalid_with_pypdfs_reason() -> None:
    error = refusal((FIXTURES / "corrupt.pdf").read_bytes(), "corrupt.pdf")
    assert error.code == "invalid_file"
    assert error.reason.startswith("The PDF could not be read: ")
    assert len(error.reason) > len("The PDF could not be read: ")


def test_pdf_without_text_is_invalid() -> None:
    error = refusal((FIXTURES / "image_only.pdf").read_bytes(), "scan.pdf")
    assert error.code == "invalid_file"
    assert "no extractable text" in error.reason


def test_corrupt_docx_is_invalid() -> None:
    assert refusal(b"PK\x03\x04 not really a zip", "x.docx").code == "invalid_file"


def test_invalid_json_is_invalid() -> None:
    error = refusal(b'{"a": 1,', "broken.json")
    assert error.code == "invalid_file"
    assert "not valid JSON" in error.reason


def test_binary_data_is_unsupported() -> None:
    assert refusal((FIXTURES / "image.dat").read_bytes(), "image.dat").code == "unsupported_file"
    assert refusal((FIXTURES / "image.dat").read_bytes(), "notes.txt").code == "unsupported_file"


@pytest.mark.parametrize("name", ["slides.pptx", "photo.PNG", "legacy.doc"])
def test_formats_parley_does_not_read_are_unsupported(name: str) -> None:
    assert refusal(b"anything", name).code == "unsupported_file"


def test_html_with_only_scripts_has_no_text() -> None:
    error = refusal(b"<html><script>var a = 1;</script></html>", "x.html")
    assert (error.code, error.reason) == ("invalid_file", "The file has no extractable text")


def test_content_type_decides_when_the_name_has_no_extension() -> None:
    html = (FIXTURES / "page.html").read_bytes()
    assert parse("page.html", "download", "text/html; charset=utf-8").startswith("Shipping FAQ")
    assert extract_text(html, "download").startswith("<!doctype html>")  # unknown: plain text
    assert parse("sample.pdf", "download", "application/pdf").startswith("Parley Vector Stores")


@pytest.mark.parametrize(("name", "expected"), [("sample.pdf", "Cheetahs"), ("sample.docx", "Lisbon")])
def test_formats_are_sniffed_without_name_or_content_type(name: str, expected: str) -> None:
    assert expected in parse(name, "upload.bin", None)


def test_a_zip_that_is_not_a_docx_is_unsupported() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert refusal(buffer.getvalue(), "archive").code == "unsupported_file"


@pytest.mark.parametrize(("user_password", "readable"), [("", True), ("secret", False)])
def test_encrypted_pdf_opens_only_without_a_user_password(user_password: str, readable: bool) -> None:
    writer = PdfWriter(clone_from=io.BytesIO((FIXTURES / "sample.pdf").read_bytes()))
    writer.encrypt(user_password, owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    if readable:
        assert "Cheetahs" in extract_text(buffer.getvalue(), "locked.pdf")
    else:
        error = refusal(buffer.getvalue(), "locked.pdf")
        assert (error.code, error.reason) == ("invalid_file", "The PDF is encrypted with a password")
