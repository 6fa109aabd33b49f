"""API keys and owners: every route under two keys, each owner blind to the other's objects.

The matrix makes one object of every kind as alice, then calls every route as bob twice: once
naming alice's objects and once naming ids that never existed. The two answers must be the same
(status and body, ids aside): another owner's object is indistinguishable from no object.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from starlette.routing import Route

from parley.app import ROUTES
from parley.config import ConfiguredKey
from tests.conftest import Harness

ALICE, BOB, ROOT = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef", "sk-root-0123456789abcdef"
KEYS = (ConfiguredKey(ALICE, "alice"), ConfiguredKey(BOB, "bob"), ConfiguredKey(ROOT, "root", admin=True))
Json = dict[str, Any]


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", **headers}


@pytest.fixture
def keyed(harness_factory: Callable[..., Harness]) -> Harness:
    return harness_factory(api_keys=KEYS)


@dataclass
class Objects:
    """One object of every kind, made by alice (or ids of the same shapes that name nothing)."""

    response: str
    conversation: str
    item: str
    prompt: str
    file: str
    store: str
    batch: str


NOBODY_S = Objects(
    response="resp_" + "0" * 48,
    conversation="conv_" + "0" * 48,
    item="msg_" + "0" * 48,
    prompt="pmpt_" + "0" * 48,
    file="file-" + "0" * 48,
    store="vs_" + "0" * 48,
    batch="vsfb_" + "0" * 48,
)


async def ok(response: httpx2.Response) -> Json:
    assert response.status_code == 200, response.text
    body: Json = response.json()
    return body


async def make_objects(h: Harness, owner_key: str = ALICE) -> Objects:
    c, key = h.client, auth(owner_key)
    response = await ok(
        await c.post("/v1/responses", json={"model": "fake-model", "input": "hi"}, headers=key)
    )
    items = [{"type": "message", "role": "user", "content": "hello"}]
    conversation = await ok(await c.post("/v1/conversations", json={"items": items}, headers=key))
    listed = await ok(await c.get(f"/v1/conversations/{conversation['id']}/items", headers=key))
    prompt = await ok(
        await c.post("/v1/prompts", json={"prompt": "Be {{role}}.", "variables": ["role"]}, headers=key)
    )
    upload = {"file": ("notes.txt", b"Saturn has rings.")}
    file = await ok(await c.post("/v1/files", files=upload, data={"purpose": "assistants"}, headers=key))
    store = await ok(await c.post("/v1/vector_stores", json={"file_ids": [file["id"]]}, headers=key))
    batch = await ok(
        await c.post(
            f"/v1/vector_stores/{store['id']}/file_batches", json={"file_ids": [file["id"]]}, headers=key
        )
    )
    return Objects(
        response["id"],
        conversation["id"],
        listed["data"][0]["id"],
        prompt["prompt_id"],
        file["id"],
        store["id"],
        batch["id"],
    )


def calls(o: Objects) -> list[tuple[str, str, Any]]:
    """(method, path, JSON body) for every route that names an object; ``ROUTE_COVERAGE`` checks."""
    vs, f = f"/v1/vector_stores/{o.store}", o.file
    conv = f"/v1/conversations/{o.conversation}"
    return [
        ("GET", f"/v1/responses/{o.response}", None),
        ("GET", f"/v1/responses/{o.response}/input_items", None),
        ("GET", f"/v1/responses/{o.response}?stream=true", None),
        ("POST", f"/v1/responses/{o.response}/cancel", None),
        (
            "POST",
            "/v1/responses",
            {"model": "fake-model", "input": "more", "previous_response_id": o.response},
        ),
        ("POST", "/v1/responses", {"model": "fake-model", "input": "more", "conversation": o.conversation}),
        ("POST", "/v1/responses", {"model": "fake-model", "prompt": {"id": o.prompt}, "input": "x"}),
        ("POST", "/v1/responses/compact", {"model": "fake-model", "previous_response_id": o.response}),
        ("GET", conv, None),
        ("POST", conv, {"metadata": {"k": "v"}}),
        ("POST", f"{conv}/items", {"items": [{"type": "message", "role": "user", "content": "x"}]}),
        ("GET", f"{conv}/items", None),
        ("GET", f"{conv}/items/{o.item}", None),
        ("DELETE", f"{conv}/items/{o.item}", None),
        ("GET", f"/v1/prompts/{o.prompt}", None),
        ("POST", f"/v1/prompts/{o.prompt}", {"prompt": "Be {{role}}!", "variables": ["role"], "version": 1}),
        ("POST", f"/v1/prompts/{o.prompt}/set-default-version", {"version": 1}),
        ("GET", f"/v1/prompts/{o.prompt}/versions", None),
        ("GET", f"/v1/files/{f}", None),
        ("GET", f"/v1/files/{f}/content", None),
        ("GET", vs, None),
        ("POST", vs, {"name": "renamed"}),
        ("POST", f"{vs}/search", {"query": "rings"}),
        ("POST", f"{vs}/files", {"file_id": f}),
        ("GET", f"{vs}/files", None),
        ("GET", f"{vs}/files/{f}", None),
        ("POST", f"{vs}/files/{f}", {"attributes": {"k": "v"}}),
        ("GET", f"{vs}/files/{f}/content", None),
        ("POST", f"{vs}/file_batches", {"file_ids": [f]}),
        ("GET", f"{vs}/file_batches/{o.batch}", None),
        ("POST", f"{vs}/file_batches/{o.batch}/cancel", None),
        ("GET", f"{vs}/file_batches/{o.batch}/files", None),
        ("POST", "/v1/responses", file_search_request(o.store)),
        ("POST", "/v1/responses", file_input_request(f)),
        ("DELETE", f"{vs}/files/{f}", None),
        ("DELETE", f"{conv}", None),
        ("DELETE", f"/v1/prompts/{o.prompt}", None),
        ("DELETE", vs, None),
        ("DELETE", f"/v1/files/{f}", None),
        ("DELETE", f"/v1/responses/{o.response}", None),
    ]


def file_search_request(store: str) -> Json:
    tool = {"type": "file_search", "vector_store_ids": [store]}
    return {"model": "fake-model", "input": "rings?", "tools": [tool]}


def file_input_request(file_id: str) -> Json:
    content = [{"type": "input_file", "file_id": file_id}, {"type": "input_text", "text": "summarise"}]
    return {"model": "fake-model", "input": [{"role": "user", "content": content}]}


LISTS = ["/v1/responses", "/v1/prompts", "/v1/files", "/v1/vector_stores", "/v1/conversations"]
OPEN = {"/health", "/openapi.json", "/docs", "/ui"}
UNOWNED = {*OPEN, "/v1/models", "/v1/chat/completions", "/v1/embeddings"}
ID = re.compile(r"(resp|conv|msg|pmpt|vs|vsfb)_[0-9a-f]{48}|file-[0-9a-f]{48}")


def shape(response: httpx2.Response) -> tuple[int, str]:
    """The answer with every id blanked, so answers about different ids compare equal."""
    return response.status_code, ID.sub("<id>", response.text)


async def test_every_owned_route_treats_another_owners_object_as_missing(keyed: Harness) -> None:
    alices = await make_objects(keyed)
    for (method, path, body), (_, unknown_path, unknown_body) in zip(
        calls(alices), calls(NOBODY_S), strict=True
    ):
        theirs = await keyed.client.request(method, path, json=body, headers=auth(BOB))
        unknown = await keyed.client.request(method, unknown_path, json=unknown_body, headers=auth(BOB))
        assert shape(theirs) == shape(unknown), (method, path)
        assert theirs.status_code in (400, 404), (method, path, body, theirs.text[:300])
    for path in LISTS:
        assert (await ok(await keyed.client.get(path, headers=auth(BOB))))["data"] == [], path


async def test_another_owners_id_as_a_list_cursor_is_an_id_that_never_existed(keyed: Harness) -> None:
    """Looked up among every owner's rows, alice's id as bob's ``after`` would place bob's page (his
    objects made after hers would show) and so tell him that her id exists."""
    alices = await make_objects(keyed)
    await make_objects(keyed, BOB)  # after alice's: in ascending order, past her cursor
    cursors = {
        "/v1/responses": (alices.response, NOBODY_S.response),
        "/v1/conversations": (alices.conversation, NOBODY_S.conversation),
        "/v1/files": (alices.file, NOBODY_S.file),
        "/v1/vector_stores": (alices.store, NOBODY_S.store),
    }
    for path, (theirs, unknown) in cursors.items():
        pages = [
            await ok(
                await keyed.client.get(path, params={"after": cursor, "order": "asc"}, headers=auth(BOB))
            )
            for cursor in (theirs, unknown)
        ]
        assert pages[0] == pages[1], path
        assert pages[0]["data"] == [], path


async def test_the_owner_reaches_every_route(keyed: Harness) -> None:
    alices = await make_objects(keyed)
    for method, path, body in calls(alices):
        r = await keyed.client.request(method, path, json=body, headers=auth(ALICE))
        assert r.status_code not in (401, 403, 404), (method, path, r.text)
        assert r.status_code < 500, (method, path, r.text)


def test_the_matrix_covers_every_route() -> None:
    named = {(m, re.sub(r"\{[a-z_]+\}", "{}", ID.sub("{}", p))) for m, p, _ in calls(NOBODY_S)}
    for route in ROUTES:
        if not isinstance(route, Route) or route.path in UNOWNED:
            continue
        template = re.sub(r"\{[a-z_]+\}", "{}", route.path)
        methods = (route.methods or set()) - {"HEAD", "PUT"}
        if template in LISTS:
            methods -= {"GET"}  # the list checks
        if template in ("/v1/files", "/v1/vector_stores", "/v1/prompts", "/v1/conversations"):
            methods -= {"POST"}  # creating: make_objects
        for method in methods:
            assert (method, template) in named, (method, route.path)


async def test_without_a_key_every_route_but_the_open_ones_is_401(keyed: Harness) -> None:
    for path in OPEN:
        assert (await keyed.client.get(path)).status_code == 200
    for route in ROUTES:
        if isinstance(route, Route) and route.path not in OPEN:
            path = route.path.replace("{", "").replace("}", "")
            for method in (route.methods or set()) - {"HEAD"}:
                r = await keyed.client.request(method, path)
                assert r.status_code == 401, (method, path)
                assert r.json()["error"]["type"] == "invalid_request_error"
                assert r.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_key_is_401_invalid_api_key_and_never_echoed_whole(keyed: Harness) -> None:
    wrong = "sk-wrong-key-0123456789-secret"
    r = await keyed.client.get("/v1/responses", headers=auth(wrong))
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["code"] == "invalid_api_key"
    assert wrong not in r.text
    assert error["message"].endswith("cret.")


async def test_the_openai_sdk_sees_authentication_errors(keyed: Harness) -> None:
    import openai

    client = openai.AsyncOpenAI(
        base_url="http://parley.test/v1",
        api_key="sk-nope-000000000000",
        http_client=keyed.client,
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError):
        await client.responses.create(model="fake-model", input="hi")


async def test_an_admin_key_acts_for_the_owner_it_names(keyed: Harness) -> None:
    alices = await make_objects(keyed)
    path = f"/v1/responses/{alices.response}"
    assert (await keyed.client.get(path, headers=auth(ROOT))).status_code == 404  # root's own view
    assert (await keyed.client.get(path, headers=auth(ROOT, **{"parley-owner": "alice"}))).status_code == 200
    refused = await keyed.client.get(path, headers=auth(BOB, **{"parley-owner": "alice"}))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "permission_denied")
    own = await keyed.client.get(path, headers=auth(ALICE, **{"parley-owner": "alice"}))
    assert own.status_code == 200  # naming oneself is no escalation


async def test_a_server_without_keys_belongs_to_anonymous(harness: Harness) -> None:
    made = await ok(await harness.create(input="hi"))
    r = await harness.client.get(f"/v1/responses/{made['id']}", headers=auth("anything-at-all"))
    assert r.status_code == 200


async def test_keys_made_and_revoked_while_serving_take_effect(keyed: Harness) -> None:
    from parley import keys as key_admin
    from parley.api import auth as auth_module

    settings = keyed.app.state.settings
    record, secret = await key_admin.create(settings, "carol", admin=False, name="")
    assert (await keyed.client.get("/v1/responses", headers=auth(secret))).status_code == 200
    assert await key_admin.revoke(settings, record.id)
    await asyncio.sleep(auth_module.REFRESH_SECONDS + 0.05)
    assert (await keyed.client.get("/v1/responses", headers=auth(secret))).status_code == 401


def test_a_websocket_needs_a_key_and_works_for_its_owner(tmp_path: Any) -> None:
    import orjson
    from starlette.testclient import TestClient, WebSocketDenialResponse

    from parley.app import create_app
    from parley.testing.fake_upstream import FakeUpstream
    from tests.conftest import make_settings

    upstream = httpx2.ASGITransport(app=FakeUpstream(None).app)
    app = create_app(make_settings(tmp_path, api_keys=KEYS), transport_factory=lambda cfg: upstream)
    with TestClient(app) as client:
        with pytest.raises(WebSocketDenialResponse) as denied, client.websocket_connect("/v1/responses"):
            pass
        assert denied.value.status_code == 401
        assert denied.value.json()["error"]["type"] == "invalid_request_error"
        with client.websocket_connect("/v1/responses", headers=auth(ALICE)) as ws:
            ws.send_text(
                orjson.dumps({"type": "response.create", "model": "fake-model", "input": "hi"}).decode()
            )
            while (event := orjson.loads(ws.receive_text()))["type"] != "response.completed":
                pass
        response_id = event["response"]["id"]
        assert client.get(f"/v1/responses/{response_id}", headers=auth(ALICE)).status_code == 200
        assert client.get(f"/v1/responses/{response_id}", headers=auth(BOB)).status_code == 404
