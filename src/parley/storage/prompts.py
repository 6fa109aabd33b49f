"""Repository interface of stored prompts: versioned templates a response can name.

The conventions of ``storage/base.py`` hold: every row has an owner and every lookup is scoped by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PromptTemplate:
    """What one version of a stored prompt holds: the text with ``{{name}}`` placeholders, the
    variables it declares, and (a Parley extension) the model and tools a response uses when its
    request names none."""

    prompt: str
    variables: list[str]
    model: str | None = None
    tools: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class PromptVersion:
    prompt_id: str
    version: int
    template: PromptTemplate
    created_at: int
    is_default: bool

    def wire(self) -> dict[str, Any]:
        """The peer's (ogx) ``Prompt`` shape, plus ``model``, ``tools`` and ``created_at``."""
        return {
            "prompt_id": self.prompt_id,
            "version": self.version,
            "prompt": self.template.prompt,
            "variables": self.template.variables,
            "is_default": self.is_default,
            "model": self.template.model,
            "tools": self.template.tools,
            "created_at": self.created_at,
        }


class PromptStore(Protocol):
    """Stored prompts and their numbered versions (1, 2, ...), scoped by owner; one version of
    each prompt is its default, the one a response gets when it names no version."""

    async def create(
        self, prompt_id: str, template: PromptTemplate, created_at: int, owner: str
    ) -> PromptVersion:
        """Write the prompt with its version 1, the default."""

    async def add_version(
        self, prompt_id: str, template: PromptTemplate, owner: str, *, replaces: int, make_default: bool
    ) -> PromptVersion | int | None:
        """Write version ``replaces + 1`` in one transaction, and make it the default if asked.

        Writes nothing and returns the latest version number when ``replaces`` is not the latest
        (another writer got there first); None when the prompt is missing.
        """

    async def get(self, prompt_id: str, owner: str, version: int | None = None) -> PromptVersion | None:
        """That version, or the default one; None when either is missing."""

    async def versions(self, prompt_id: str, owner: str) -> list[PromptVersion] | None:
        """Every version, oldest first; None when the prompt is missing."""

    async def list(self, owner: str) -> list[PromptVersion]:
        """The default version of every prompt, the newest prompt first."""

    async def set_default(self, prompt_id: str, version: int, owner: str) -> PromptVersion | None:
        """Make ``version`` the default; None (nothing changed) when it or the prompt is missing."""

    async def delete(self, prompt_id: str, owner: str) -> bool:
        """Remove the prompt and every version of it."""
