"""Parley's error hierarchy.

Every failure Parley knows about is one of these, so the API layer can map a
class to an HTTP status and an OpenAI error ``type``/``code`` in one table
(``api/errors.py``) and the engine can map it to a terminal stream event.
Foreign exceptions (httpx2, sqlite3, pydantic) are translated once, where they
enter Parley.

    ParleyError
    ├── ClientError                 the caller's mistake: 4xx, never retried
    │   ├── InvalidRequest          400, names the offending ``param``
    │   │   ├── ContextLengthExceeded  the provider found the input too long
    │   │   └── PayloadTooLarge     413: an upload over the configured size limit
    │   ├── NotFound                404
    │   └── TooManyRequests         429: a limit of this server; retry later
    ├── ServiceUnavailable          503: Parley is not configured for this
    │   └── DatabaseUnavailable     its database cannot be reached: retry later
    ├── UpstreamError               the inference provider failed: 502
    │   ├── UpstreamTimeout         504
    │   ├── UpstreamStatus          the provider answered 4xx/5xx (body kept)
    │   ├── UpstreamProtocolError   the provider's answer could not be parsed
    │   └── ModelOutputInvalid      the answer broke what the request required,
    │                               which its server could not enforce
    ├── ToolFailed                  a server-side tool crashed
    ├── LimitReached                max_output_tokens / max_tool_calls: ends as
    │                               ``response.incomplete``, not as an error
    └── RecordingMissing            replay mode found no recording for a request
"""

from __future__ import annotations


class ParleyError(Exception):
    """Base of every error Parley raises on purpose."""

    code: str | None = None

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ClientError(ParleyError):
    """The request is wrong; repeating it unchanged will fail again."""


class InvalidRequest(ClientError):
    """400: malformed body, wrong type, inconsistent items."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.param = param


class ContextLengthExceeded(InvalidRequest):
    """The provider refused the input as longer than the model's context (truncation is disabled)."""

    def __init__(self, upstream_message: str) -> None:
        super().__init__(
            f"The input exceeds the model's context window: {upstream_message[:2000]}",
            param="input",
            code="context_length_exceeded",
        )


class PayloadTooLarge(InvalidRequest):
    """413: the body (an uploaded file) is larger than this server accepts."""

    def __init__(self, limit: int, *, param: str | None = "file") -> None:
        super().__init__(
            f"File exceeds the maximum upload size of {limit} bytes.", param=param, code="file_too_large"
        )
        self.limit = limit


class NotFound(ClientError):
    """404: the id names nothing this caller may see."""

    code = "not_found"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.param = param


class TooManyRequests(ClientError):
    """429: a limit of this server (queued background responses, say) is reached; retry later."""

    code = "rate_limit_exceeded"


class ServiceUnavailable(ParleyError):
    """503: the server is up but not set up to serve this request."""


class DatabaseUnavailable(ServiceUnavailable):
    """503: the database (PostgreSQL) is down or unreachable; nothing was written, retry later."""

    code = "database_unavailable"


class UpstreamError(ParleyError):
    """The inference provider (or another outbound service) failed."""

    code = "upstream_error"


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"


class UpstreamStatus(UpstreamError):
    """The provider answered with an error status; its body is kept verbatim."""

    code = "upstream_status"

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"Upstream provider answered HTTP {status}: {body[:2000]}")
        self.status = status
        self.body = body


class UpstreamProtocolError(UpstreamError):
    """The provider's answer was not the chat-completions shape it promised."""

    code = "upstream_protocol_error"


class ModelOutputInvalid(UpstreamError):
    """The model's answer broke what the request required (a tool call, a JSON Schema), checked by
    Parley because the provider's server could not enforce it; asked again once, it still did."""

    code = "model_output_invalid"


class ToolFailed(ParleyError):
    code = "tool_failed"


class LimitReached(ParleyError):
    """A response limit stopped the loop; ``reason`` is the incomplete_details reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Response stopped early: {reason}")
        self.reason = reason


class RecordingMissing(ParleyError):
    """Replay mode has no recording for a request; the message shows the request."""

    code = "recording_missing"
