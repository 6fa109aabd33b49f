"""Image ``data:`` URLs, checked on the way in as OpenAI checks them.

A malformed one (not base64, not an image, bytes that do not decode, nothing in it) is the
caller's 400 naming the part (``input[0].content[1].image_url``), in OpenAI's words, rather than
something a provider chokes on later. Other URLs are the provider's to fetch.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError


def data_url_problem(url: str) -> str | None:
    """What is wrong with an image ``data:`` URL, as the end of OpenAI's sentence, or None."""
    header, comma, payload = url[5:].partition(",")
    media_type, *params = header.split(";")
    if not comma or "base64" not in (param.strip().lower() for param in params):
        return "a data URL that is not base64-encoded"
    if not media_type.strip().lower().startswith("image/"):
        return f"unsupported MIME type '{media_type.strip()[:100]}'"
    try:
        decoded = base64.b64decode(payload.strip(), validate=True)
    except binascii.Error:
        return "invalid base64-encoded bytes"
    return None if decoded else "empty base64-encoded bytes"


def _checked(url: str) -> str:
    if url[:5].lower() != "data:":
        return url
    problem = data_url_problem(url)
    if problem is not None:
        raise PydanticCustomError(
            "invalid_value",
            "Expected a base64-encoded data URL with an image MIME type "
            "(e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got {problem}",
            {"problem": problem},
        )
    return url


ImageUrl = Annotated[str, AfterValidator(_checked)]
"""An ``input_image``'s ``image_url``: any URL, and a ``data:`` URL only when it holds an image."""
