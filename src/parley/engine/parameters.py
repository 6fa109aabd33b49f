"""What becomes of a create request's top-level names OpenAI does not know, on the provider's route.

By default such a name is refused as OpenAI refuses it (400 ``unknown_parameter``): a typo such as
``max_tokens`` must not be silently dropped. A route configured to ignore them (clients newer than
this server add fields before it knows them) drops each one, logging each name once. A name the
provider's config lists as a vendor extension (vLLM's ``guided_choice``, ``chat_template_kwargs``,
sent through the SDK's ``extra_body``) goes on to the provider's chat request, whatever the policy.
"""

from __future__ import annotations

import logging
from typing import Any

from parley.providers.base import ChatProvider
from parley.wire.parameters import unknown_parameter
from parley.wire.request import CreateResponseRequest

log = logging.getLogger(__name__)

_logged: set[str] = set()
"""Names already logged as ignored, so a client that sends one on every request logs it once."""
_MAX_LOGGED = 1000
"""Past this many distinct names (a client sending random ones), no more are logged or remembered."""


def vendor_parameters(request: CreateResponseRequest, provider: ChatProvider) -> dict[str, Any]:
    """The request's unknown names the provider takes, to add to its chat request; the others are
    refused or ignored as the provider's route says."""
    extra = request.extra_parameters
    if not extra:
        return {}
    capabilities = provider.capabilities
    passed = {name: value for name, value in extra.items() if name in capabilities.extra_parameters}
    unknown = [name for name in extra if name not in passed]
    if unknown and capabilities.unknown_parameters == "error":
        raise unknown_parameter(unknown)
    for name in unknown:
        if name not in _logged and len(_logged) < _MAX_LOGGED:
            _logged.add(name)
            log.warning("ignoring unknown parameter %r (provider %s)", name, provider.name)
    return passed
