"""Turn an uploaded file's bytes into the plain text that gets chunked and searched.

The format is chosen by extension, then by content type, then by sniffing the
bytes (``%PDF-``, a zip holding ``word/document.xml``), so a file named
``report`` still parses. Anything that cannot yield text raises
``UnparseableFile``, which becomes the vector-store file's ``last_error``:
``invalid_file`` when the file is broken or empty, ``unsupported_file`` when it
is a format Parley does not read. Foreign parser errors (pypdf, python-docx,
json) are translated here, once, keeping the parser's own reason.

Structured formats are written as one fact per line with its context spelled
out (``user.address.city: Paris``, ``name: Ada | role: engineer``): a chunk cut
from the middle of a large JSON or CSV file then still says what each value is,
which a pretty-printed fragment with its parents cut off would not.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the parsers load on first use: a server that never reads a file never pays for them
    from docx.table import Table

__all__ = ["UnparseableFile", "extract_text"]


class UnparseableFile(Exception):
    """A file that yields no text; ``code`` and ``reason`` become its ``last_error``."""

    def __init__(self, reason: str, code: str = "invalid_file") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


_CODE_EXTENSIONS = (  # noqa: SIM905 (a word list reads better than 80 quoted strings)
    "txt text log md markdown rst adoc org tex bib py pyi js mjs cjs jsx ts tsx java kt kts scala groovy "
    "c h cc cpp cxx hpp hh cs go rs rb php pl pm swift m mm r jl lua dart ex exs erl hs ml clj sh bash zsh "
    "fish ps1 bat sql css scss sass less vue svelte xml yaml yml toml ini cfg conf properties env gradle "
    "dockerfile makefile cmake proto graphql gql ipynb"
).split()
_UNSUPPORTED_EXTENSIONS = (  # noqa: SIM905
    "doc pptx ppt xls xlsx odt ods odp rtf epub png jpg jpeg gif webp bmp tiff svg ico mp3 wav mp4 mov "
    "zip gz tar 7z rar exe dll so bin"
).split()
_CONTENT_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/json": "json",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
_FORMAT_BY_EXTENSION = {
    **dict.fromkeys(_CODE_EXTENSIONS, "text"),
    **dict.fromkeys(_UNSUPPORTED_EXTENSIONS, "unsupported"),
    "pdf": "pdf", "docx": "docx", "html": "html", "htm": "html", "xhtml": "html",
    "json": "json", "jsonl": "jsonl", "ndjson": "jsonl", "csv": "csv", "tsv": "tsv",
}  # fmt: skip


def extract_text(data: bytes, filename: str, content_type: str | None = None) -> str:
    """The searchable text of a file; raises ``UnparseableFile`` when there is none."""
    if not data.strip():
        raise UnparseableFile("The file is empty")
    kind = _format(data, filename, content_type)
    if kind == "unsupported":
        raise UnparseableFile(f"Files of this type are not supported: {filename!r}", "unsupported_file")
    text = _READERS[kind](data).strip()
    if not text:
        raise UnparseableFile("The file has no extractable text")
    return text


def _format(data: bytes, filename: str, content_type: str | None) -> str:
    """Extension first, then the declared content type, then the bytes themselves."""
    path = PurePosixPath(filename.replace("\\", "/").lower())
    extension = path.suffix.removeprefix(".") or path.name  # "Makefile", "Dockerfile"
    by_name = _FORMAT_BY_EXTENSION.get(extension)
    if by_name is not None and by_name != "unsupported":
        return by_name
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in _CONTENT_TYPES:
        return _CONTENT_TYPES[mime]
    if data.startswith(b"%PDF-"):  # a mislabelled document still parses
        return "pdf"
    if data.startswith(b"PK\x03\x04") and _is_docx(data):
        return "docx"
    if by_name == "unsupported" or data.startswith(b"PK\x03\x04"):
        return "unsupported"
    return "text"


def _is_docx(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 with a BOM, else Windows-1252; binary data is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if _looks_binary(data[:8192]):
        raise UnparseableFile("The file looks binary, not text", "unsupported_file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_CONTROL = bytes(range(32)).translate(None, b"\t\n\r\f\b\x1b")


def _looks_binary(sample: bytes) -> bool:
    """NUL bytes or many control characters: what ``file`` and git treat as binary."""
    if b"\x00" in sample:
        return True
    return len(sample.translate(None, _CONTROL)) < len(sample) * 0.9


def _read_html(data: bytes) -> str:
    """Visible text, one block element per line; scripts, styles and markup dropped."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode_text(data))
    tree.strip_tags(["script", "style", "noscript", "template", "svg"])
    for node in tree.css(
        "p, div, li, tr, br, h1, h2, h3, h4, h5, h6, pre, blockquote, section, article, "
        "header, footer, table, ul, ol, dl, dt, dd, hr, title, form, figure, figcaption"
    ):
        node.insert_before("\u2029")
        node.insert_after("\u2029")
    for node in tree.css("td, th"):
        node.insert_after(" \u2028 ")
    root = tree.root
    text = root.text(deep=True) if root is not None else ""
    # Markers out first: \s matches U+2028/U+2029 too. Whitespace collapses as a browser would.
    text = re.sub(r"\s+", " ", text.replace("\u2029", "\0").replace("\u2028", "|"))
    lines = (line.strip(" |") for line in text.split("\0"))
    return "\n".join(line for line in lines if line)


def _read_json(data: bytes) -> str:
    try:
        value = json.loads(decode_text(data))
    except json.JSONDecodeError as exc:
        raise UnparseableFile(f"The file is not valid JSON: {exc}") from None
    return "\n".join(_flatten(value, ""))


def _read_json_lines(data: bytes) -> str:
    lines: list[str] = []
    for number, line in enumerate(decode_text(data).splitlines(), 1):
        if line.strip():
            try:
                lines.extend(_flatten(json.loads(line), ""))
            except json.JSONDecodeError as exc:
                raise UnparseableFile(f"Line {number} is not valid JSON: {exc}") from None
            lines.append("")
    return "\n".join(lines)


def _flatten(value: object, path: str) -> Iterator[str]:
    """``path: value`` per scalar, e.g. ``items[2].name: Ada``; a bare scalar is its own line."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flatten(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _flatten(item, f"{path}[{index}]")
    else:
        scalar = value if isinstance(value, str) else json.dumps(value)
        yield f"{path}: {scalar}" if path else scalar


def _read_csv(data: bytes, delimiter: str | None = None) -> str:
    """The header line, then every row as ``column: value`` pairs so each line stands alone."""
    text = decode_text(data)
    if delimiter is None:
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        rows = [
            row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip() for c in row)
        ]
    except csv.Error as exc:
        raise UnparseableFile(f"The file is not valid CSV: {exc}") from None
    if not rows:
        return ""
    header = [name.strip() or f"column {i + 1}" for i, name in enumerate(rows[0])]
    lines = [" | ".join(header)]
    for row in rows[1:]:
        cells = zip(header + [f"column {i + 1}" for i in range(len(header), len(row))], row, strict=False)
        lines.append(" | ".join(f"{name}: {cell.strip()}" for name, cell in cells if cell.strip()))
    return "\n".join(lines)


# What pypdf raises on a broken file besides its own errors (it parses untrusted structure directly).
_PDF_ERRORS = (
    NotImplementedError,  # an encryption or stream filter pypdf does not implement
    ValueError,
    KeyError,
    IndexError,
    TypeError,
    AssertionError,
    zlib.error,
    RecursionError,
)


def _read_pdf(data: bytes) -> str:
    import pypdf
    from pypdf.errors import PyPdfError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise UnparseableFile("The PDF is encrypted with a password")
        pages = [page.extract_text() for page in reader.pages]
    except (PyPdfError, *_PDF_ERRORS) as exc:
        raise UnparseableFile(f"The PDF could not be read: {exc or type(exc).__name__}") from None
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise UnparseableFile("The PDF has no extractable text (a scanned PDF needs OCR first)")
    return text


def _read_docx(data: bytes) -> str:
    """Paragraphs and table rows in document order; a merged cell is written once."""
    from docx import Document
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = Document(io.BytesIO(data))
        lines: list[str] = []
        for block in document.iter_inner_content():
            if isinstance(block, Table):
                lines.extend(_table_rows(block))
            else:
                lines.append(block.text)
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnparseableFile(f"The DOCX file could not be read: {exc or type(exc).__name__}") from None
    return "\n".join(line for line in lines if line.strip())


def _table_rows(table: Table) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        yield " | ".join(cells)


_READERS: dict[str, Callable[[bytes], str]] = {
    "text": decode_text,
    "html": _read_html,
    "json": _read_json,
    "jsonl": _read_json_lines,
    "csv": _read_csv,
    "tsv": lambda data: _read_csv(data, "\t"),
    "pdf": _read_pdf,
    "docx": _read_docx,
}
