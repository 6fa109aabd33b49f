"""Record / replay of outbound HTTP, at the httpx2 transport seam.

Wrap any outbound client's transport in ``RecordingTransport`` to record real
provider traffic to a ``RecordingStore`` and replay it later, keyed by
``request_key`` of the normalized request (host- and generated-id-independent).
"""

from __future__ import annotations

from parley.recording.normalize import request_key
from parley.recording.store import RecordingStore
from parley.recording.transport import RecordingMode, RecordingTransport

__all__ = ["RecordingMode", "RecordingStore", "RecordingTransport", "request_key"]
