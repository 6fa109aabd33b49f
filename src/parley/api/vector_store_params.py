"""Request-body checks shared by the vector-store routes, with OpenAI's limits and wordings.

Each check raises ``InvalidRequest`` naming the exact parameter (``files[2].attributes``), so a
caller's mistake is a 400 that says what to fix, never a crash further in.
"""

from __future__ import annotations

from typing import Any

from parley.errors import InvalidRequest
from parley.retrieval.chunking import parse_chunking_strategy
from parley.retrieval.index import Attributes
from parley.retrieval.library import FileSpec

MAX_KEYS, MAX_KEY_LENGTH, MAX_VALUE_LENGTH = 16, 64, 512
MAX_BATCH_FILES = 2000


def invalid(param: str, message: str, code: str = "invalid_value") -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def body_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.", code="invalid_type")
    return raw


def string(body: dict[str, Any], key: str, default: str | None = None) -> str | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, str):
        raise invalid(key, f"Invalid type for '{key}': expected a string.", "invalid_type")
    return value


def _mapping(raw: Any, param: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise invalid(param, f"Invalid type for '{param}': expected an object.", "invalid_type")
    if len(raw) > MAX_KEYS:
        raise invalid(param, f"Invalid '{param}': at most {MAX_KEYS} keys are allowed, got {len(raw)}.")
    for key in raw:
        if len(key) > MAX_KEY_LENGTH:
            raise invalid(param, f"Invalid '{param}': key {key[:80]!r} is longer than {MAX_KEY_LENGTH}.")
    return raw


def _child(param: str, key: str) -> str:
    """``metadata.team``; a key that is not a plain name (``a b``, ``x.y``) names the object itself."""
    return f"{param}.{key}" if key.isascii() and key.isidentifier() else param


def metadata(raw: Any, param: str = "metadata") -> dict[str, str]:
    """Up to 16 string values (None means empty)."""
    values = _mapping({} if raw is None else raw, param)
    for key, value in values.items():
        if not isinstance(value, str) or len(value) > MAX_VALUE_LENGTH:
            raise invalid(
                _child(param, key),
                f"Invalid '{param}.{key}': expected a string of at most {MAX_VALUE_LENGTH} characters.",
            )
    return values


def attributes(raw: Any, param: str = "attributes") -> Attributes:
    """Up to 16 values, each a string (<= 512), a number or a boolean (None means empty)."""
    values = _mapping({} if raw is None else raw, param)
    for key, value in values.items():
        string_ok = isinstance(value, str) and len(value) <= MAX_VALUE_LENGTH
        if not (string_ok or isinstance(value, bool | int | float)):
            raise invalid(
                _child(param, key),
                f"Invalid '{param}.{key}': expected a string (<= {MAX_VALUE_LENGTH}), number or boolean.",
            )
    return values


def expires_after_days(raw: Any, param: str = "expires_after") -> int | None:
    """``{"anchor": "last_active_at", "days": 1..365}``; None means never."""
    if raw is None:
        return None
    body = _mapping(raw, param)
    if body.get("anchor") != "last_active_at":
        raise invalid(f"{param}.anchor", f"Invalid '{param}.anchor': expected 'last_active_at'.")
    days = body.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
        raise invalid(
            f"{param}.days", f"Invalid '{param}.days': expected an integer from 1 to 365, got {days!r}."
        )
    return days


def file_ids(raw: Any, param: str = "file_ids", *, least: int = 0) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(fid, str) and fid for fid in raw):
        raise invalid(param, f"Invalid type for '{param}': expected an array of file ids.", "invalid_type")
    if not least <= len(raw) <= MAX_BATCH_FILES:
        raise invalid(
            param, f"Invalid '{param}': expected {least} to {MAX_BATCH_FILES} files, got {len(raw)}."
        )
    return list(dict.fromkeys(raw))


def store_specs(body: dict[str, Any]) -> list[FileSpec]:
    """A new store's ``file_ids``; its ``chunking_strategy`` is checked even when there are none."""
    chunking = parse_chunking_strategy(body.get("chunking_strategy"))
    return [FileSpec(fid, {}, chunking) for fid in file_ids(body.get("file_ids", []))]


def file_spec(body: dict[str, Any], param: str = "") -> FileSpec:
    """One ``{file_id, attributes, chunking_strategy}``; ``param`` prefixes nested names."""
    prefix = f"{param}." if param else ""
    file_id = body.get("file_id")
    if file_id is None:
        raise invalid(
            f"{prefix}file_id",
            f"Missing required parameter: '{prefix}file_id'.",
            "missing_required_parameter",
        )
    if not isinstance(file_id, str) or not file_id:
        raise invalid(
            f"{prefix}file_id",
            f"Invalid '{prefix}file_id': expected a file id, got {file_id!r}.",
            "invalid_type",
        )
    return FileSpec(
        file_id,
        attributes(body.get("attributes"), f"{prefix}attributes"),
        parse_chunking_strategy(body.get("chunking_strategy"), f"{prefix}chunking_strategy"),
    )


def batch_specs(body: dict[str, Any]) -> list[FileSpec]:
    """``file_ids`` sharing one attributes/chunking, or ``files`` each with its own: exactly one."""
    if ("file_ids" in body) == ("files" in body):
        raise invalid(
            "file_ids", "Provide exactly one of 'file_ids' or 'files'.", "missing_required_parameter"
        )
    if "file_ids" in body:
        shared = file_spec({**body, "file_id": "-"})
        ids = file_ids(body["file_ids"], least=1)
        return [FileSpec(fid, shared.attributes, shared.chunking) for fid in ids]
    files = body["files"]
    if not isinstance(files, list) or not files or len(files) > MAX_BATCH_FILES:
        raise invalid("files", f"Invalid 'files': expected 1 to {MAX_BATCH_FILES} objects.", "invalid_type")
    specs = [file_spec(_mapping(f, f"files[{i}]"), f"files[{i}]") for i, f in enumerate(files)]
    return list({spec.file_id: spec for spec in specs}.values())
