"""Who is asking: API keys checked before any route runs, and the owner every route scopes by.

With keys (in the config file, or made with ``parley keys create``), every path but ``/health``,
the API's description (``/openapi.json``, ``/docs``) and the UI's page and assets (``/ui``) needs
``Authorization: Bearer <key>``.
The key's owner is the one every stored object is read and written under
(``api/common.principal``), so another owner's objects look exactly like objects that do not exist.
An admin key may act for any owner by naming it in the ``Parley-Owner`` header. Without keys,
everything belongs to ``anonymous`` (and ``parley serve`` listens on loopback only).

The middleware is plain ASGI: a dictionary lookup of the key's digest per request, keys re-read
from the store at most once a second (and at once, rate-limited, on an unknown key, so a key made
while the server runs works straight away and a revoked one stops within a second).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.config import ConfiguredKey
from parley.storage.keys import KeyStore, digest

ANONYMOUS = "anonymous"
OPEN_PATHS = frozenset({"/health", "/openapi.json", "/docs"})
"""Paths anyone may read: liveness, and the API's description (no data; a browser opening
``/docs`` sends no key)."""
OWNER_HEADER = b"parley-owner"
REFRESH_SECONDS = 1.0
MISS_REFRESH_SECONDS = 0.05
SCOPE_KEY = "parley.principal"


@dataclass(frozen=True)
class Principal:
    owner: str
    admin: bool = False


NOBODY = Principal(ANONYMOUS)
"""Whoever calls a server that has no keys."""


class KeyRing:
    """The keys in force, by digest: those of the config file and the store's active ones."""

    def __init__(self, store: KeyStore, configured: Iterable[ConfiguredKey] = ()) -> None:
        self._store = store
        self._configured = {digest(k.key): Principal(k.owner, k.admin) for k in configured}
        self._keys = dict(self._configured)
        self._loaded_at = float("-inf")

    @property
    def enabled(self) -> bool:
        """Whether callers must present a key (as of the last read of the store)."""
        return bool(self._keys)

    async def refresh(self) -> None:
        active = await self._store.active()
        self._keys = self._configured | {d: Principal(k.owner, k.admin) for d, k in active.items()}
        self._loaded_at = time.monotonic()

    async def principal(self, secret: str | None) -> Principal | None:
        """Whom ``secret`` speaks for: ``NOBODY`` when there are no keys, None when it is refused."""
        now = time.monotonic()
        if now - self._loaded_at > REFRESH_SECONDS:
            await self.refresh()
        if not self._keys:
            return NOBODY
        if secret is None:
            return None
        found = self._keys.get(digest(secret))
        if found is None and now - self._loaded_at > MISS_REFRESH_SECONDS:
            await self.refresh()
            found = self._keys.get(digest(secret))
        return found


def _open(path: str) -> bool:
    """The UI's page and assets are open too: they hold no data, and the page asks the API for it
    with the key the user gives it."""
    return path in OPEN_PATHS or path == "/ui" or path.startswith("/ui/")


class Authentication:
    """ASGI middleware: puts the caller's ``Principal`` in the scope, or answers 401/403 itself."""

    def __init__(self, app: ASGIApp, keys: KeyRing) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or _open(scope["path"]):
            await self.app(scope, receive, send)
            return
        secret, owner = _credentials(scope["headers"])
        principal = await self.keys.principal(secret)
        if principal is None:
            await _refuse(scope, send, 401, _unauthenticated(secret))
            return
        if owner is not None and owner != principal.owner:
            if not principal.admin:
                await _refuse(scope, send, 403, _not_admin())
                return
            principal = Principal(owner, admin=True)
        scope[SCOPE_KEY] = principal
        await self.app(scope, receive, send)


def scope_principal(scope: Scope) -> Principal:
    principal: Principal = scope.get(SCOPE_KEY, NOBODY)
    return principal


def _credentials(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, str | None]:
    """The bearer token and the ``Parley-Owner`` header, if given."""
    secret = owner = None
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                secret = token.strip()
        elif name == OWNER_HEADER:
            owner = value.decode("latin-1").strip() or None
    return secret, owner


def _unauthenticated(secret: str | None) -> dict[str, object]:
    if secret is None:
        message = (
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
        return _error(message, None)
    return _error(f"Incorrect API key provided: {_masked(secret)}.", "invalid_api_key")


def _not_admin() -> dict[str, object]:
    message = "Only an admin key may act for another owner (the Parley-Owner header)."
    return _error(message, "permission_denied")


def _error(message: str, code: str | None) -> dict[str, object]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}}


def _masked(secret: str) -> str:
    """Enough of a wrong key for its owner to recognise it, as OpenAI shows: never the whole key."""
    if len(secret) <= 8:
        return "*" * len(secret)
    return f"{secret[:3]}{'*' * (len(secret) - 7)}{secret[-4:]}"


async def _refuse(scope: Scope, send: Send, status: int, body: dict[str, object]) -> None:
    """An HTTP error answer; for a WebSocket, the same answer as the handshake's denial."""
    prefix = "websocket.http.response" if scope["type"] == "websocket" else "http.response"
    if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close", "code": 1008})
        return
    content = orjson.dumps(body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="parley"'))
    start: Message = {"type": f"{prefix}.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": f"{prefix}.body", "body": content})
