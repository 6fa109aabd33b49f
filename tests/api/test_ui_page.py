"""``/ui`` as served: the page and its assets ship in the package, need no key (they hold no data),
reference nothing outside this server, and the page may load and connect to this server only."""

from __future__ import annotations

import re
from collections.abc import Callable

from parley.api.ui import ASSETS
from parley.config import ConfiguredKey
from tests.conftest import Harness

ASSET_NAMES = sorted(path.name for path in ASSETS.iterdir() if path.suffix in (".js", ".css"))


async def test_the_page_and_its_assets_need_no_key_and_come_with_their_types(
    harness_factory: Callable[..., Harness],
) -> None:
    keyed = harness_factory(api_keys=(ConfiguredKey("sk-ui-page-test", "alice"),))
    page = await keyed.client.get("/ui")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "script-src 'self'" in policy
    for name in ASSET_NAMES:
        asset = await keyed.client.get(f"/ui/assets/{name}")
        assert asset.status_code == 200, name
        expected = "text/css" if name.endswith(".css") else "text/javascript"
        assert asset.headers["content-type"].startswith(expected), (name, asset.headers["content-type"])
    assert (await keyed.client.get("/ui/assets/nope.js")).status_code == 404
    assert (await keyed.client.get("/v1/responses")).status_code == 401  # the data still needs one


def test_nothing_in_the_assets_reaches_beyond_this_server() -> None:
    """No CDN, font or script from elsewhere: every URL the assets name is this server's."""
    for path in ASSETS.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://", text), path.name
        assert "innerHTML" not in text, path.name  # text is put in as text, never parsed as HTML
        for linked in re.findall(r'(?:src|href)="([^"#]+)"', text):
            assert linked.startswith(("/", "data:")), (path.name, linked)  # this server's, or inline
