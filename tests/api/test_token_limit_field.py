"""``max_output_tokens`` reaches each provider under the name it reads: ``max_completion_tokens``
for OpenAI's own API (its reasoning models refuse ``max_tokens``), ``max_tokens`` elsewhere, and
what a provider's config says where it says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from parley.config import ProviderConfig, load_settings
from parley.providers.profiles import profile, server_of_url
from tests.conftest import Harness


@pytest.mark.parametrize(
    ("provider", "field"),
    [
        pytest.param(ProviderConfig("default", "http://upstream.test/v1"), "max_tokens", id="local-default"),
        pytest.param(
            ProviderConfig("default", "https://api.openai.com/v1"),
            "max_completion_tokens",
            id="openai-default",
        ),
        pytest.param(
            ProviderConfig(
                "default", "https://api.openai.com/v1", capabilities={"max_completion_tokens": False}
            ),
            "max_tokens",
            id="openai-told-otherwise",
        ),
        pytest.param(
            ProviderConfig(
                "default", "http://upstream.test/v1", capabilities={"max_completion_tokens": True}
            ),
            "max_completion_tokens",
            id="local-told-so",
        ),
    ],
)
async def test_the_output_limit_goes_under_the_providers_name_for_it(
    harness_factory: Callable[..., Harness], provider: ProviderConfig, field: str
) -> None:
    h = harness_factory(providers=(provider,))
    r = await h.create(input="Say hi.", max_output_tokens=64)
    assert r.status_code == 200, r.text
    sent = h.fake.requests[0]
    assert sent[field] == 64
    other = {"max_tokens", "max_completion_tokens"} - {field}
    assert not other & set(sent)


async def test_no_limit_sends_neither(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory(providers=(ProviderConfig("default", "https://api.openai.com/v1"),))
    assert (await h.create(input="Say hi.")).status_code == 200
    assert not {"max_tokens", "max_completion_tokens"} & set(h.fake.requests[0])


def test_the_config_file_sets_it_per_provider(tmp_path: Path) -> None:
    config = tmp_path / "parley.toml"
    config.write_text(
        '[[providers]]\nname = "a"\nurl = "http://localhost:8000/v1"\nmax_completion_tokens = true\n'
        '[[providers]]\nname = "b"\nurl = "https://api.openai.com/v1"\nmodels = ["gpt-*"]\n'
        '[[providers]]\nname = "c"\nurl = "https://api.openai.com/v1"\nmodels = ["o*"]\n'
        "max_completion_tokens = false\n"
    )
    providers = load_settings({"config": str(config)}, environ={}).providers
    assert [p.capabilities.get("max_completion_tokens") for p in providers] == [True, None, False]
    rows = [profile(p.server or server_of_url(p.url) or "generic", p.capabilities) for p in providers]
    assert [row.max_completion_tokens for row in rows] == [True, True, False]
