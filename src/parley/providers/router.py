"""Which provider serves a model: a `provider/model` prefix, then glob patterns, then the default."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from parley.errors import NotFound, ServiceUnavailable
from parley.providers.base import ChatProvider

NO_PROVIDER_HELP = (
    "No inference provider is configured. Start Parley with --provider-url URL (or set PARLEY_PROVIDER_URL) "
    "pointing at any OpenAI-compatible server, e.g. `parley serve --provider-url http://localhost:11434/v1`, "
    "or declare providers in a config file (--config)."
)


class Router:
    def __init__(self, routes: Sequence[tuple[ChatProvider, tuple[str, ...]]]) -> None:
        self._routes = list(routes)
        self._by_name = {provider.name: provider for provider, _ in self._routes}
        self._fallback = next((p for p, patterns in self._routes if not patterns), None)

    @property
    def providers(self) -> list[ChatProvider]:
        return [provider for provider, _ in self._routes]

    def resolve(self, model: str) -> tuple[ChatProvider, str]:
        if not self._routes:
            raise ServiceUnavailable(NO_PROVIDER_HELP, code="no_provider_configured")
        prefix, _, rest = model.partition("/")
        if rest and prefix in self._by_name:
            return self._by_name[prefix], rest
        for provider, patterns in self._routes:
            if any(fnmatchcase(model, pattern) for pattern in patterns):
                return provider, model
        if self._fallback is not None:
            return self._fallback, model
        raise NotFound(
            f"The model '{model}' does not exist: no configured provider serves it.",
            param="model",
            code="model_not_found",
        )
