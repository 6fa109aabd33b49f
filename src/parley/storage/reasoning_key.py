"""Repository interface of the reasoning key replicas share: servers over one database seal
reasoning for stateless clients (``sealing.py``) under one key, so that what one sealed another
opens. Each replica has a data dir of its own, where a server alone keeps the key instead.
"""

from __future__ import annotations

from typing import Protocol


class ReasoningKeyStore(Protocol):
    async def reasoning_key(self) -> bytes:
        """The database's key (32 bytes): made and stored by whichever server asks first; every
        server asking after, or at the same moment, gets that same one."""
        ...
