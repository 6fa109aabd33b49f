"""Input parts that name an uploaded file by ``file_id``, and tool outputs holding images, as the
provider receives them: what a strict chat-completions server accepts, with the bytes inline."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from parley.config import ConfiguredKey
from parley.testing.fake_upstream import Reply
from tests.api.test_errors import assert_error
from tests.conftest import Harness

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
PDF = b"%PDF-1.4 hello"
ALICE, BOB = "sk-alice-0123456789abcdef", "sk-bob-0123456789abcdef"
KEYS = (ConfiguredKey(ALICE, "alice"), ConfiguredKey(BOB, "bob"))


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


async def upload(h: Harness, name: str, data: bytes, key: str | None = None) -> str:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    r = await h.client.post(
        "/v1/files", data={"purpose": "user_data"}, files={"file": (name, data)}, headers=headers
    )
    assert r.status_code == 200, r.text
    file_id: str = r.json()["id"]
    return file_id


def asking(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "input_text", "text": "What is this?"}, *parts]}]


async def test_an_image_file_id_is_sent_as_a_data_url(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="A tiny image.")])
    file_id = await upload(h, "pixel.png", PNG)
    r = await h.create(input=asking({"type": "input_image", "file_id": file_id, "detail": "low"}))
    assert r.status_code == 200, r.text
    [message] = h.fake.requests[0]["messages"]
    assert message["content"][1] == {
        "type": "image_url",
        "image_url": {"url": data_url("image/png", PNG), "detail": "low"},
    }
    # What is stored and listed is what the caller sent: the id, not the bytes.
    items = (await h.client.get(f"/v1/responses/{r.json()['id']}/input_items")).json()["data"]
    assert items[0]["content"][1]["file_id"] == file_id
    assert "image_url" not in items[0]["content"][1] or items[0]["content"][1]["image_url"] is None


async def test_a_file_id_is_sent_as_the_chat_file_part(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="A PDF."), Reply(text="Still a PDF.")])
    file_id = await upload(h, "report.pdf", PDF)
    first = await h.create(input=asking({"type": "input_file", "file_id": file_id}))
    assert first.status_code == 200, first.text
    expected = {
        "type": "file",
        "file": {"file_data": data_url("application/pdf", PDF), "filename": "report.pdf"},
    }
    assert h.fake.requests[0]["messages"][0]["content"][1] == expected
    # Read again from the stored chain on the next turn.
    again = await h.create(previous_response_id=first.json()["id"], input="And now?")
    assert again.status_code == 200, again.text
    assert h.fake.requests[1]["messages"][0]["content"][1] == expected


async def test_an_unknown_file_id_is_a_404_naming_it(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="never")])
    missing = "file-" + "0" * 24
    for part in ({"type": "input_image", "file_id": missing}, {"type": "input_file", "file_id": missing}):
        r = await h.create(input=asking(part))
        error = assert_error(r, 404, param="input[0].content[1].file_id")
        assert error["message"] == f"No such File object: {missing}"
    assert h.fake.requests == []


async def test_another_owners_file_is_as_unknown(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="A tiny image.")], api_keys=KEYS)
    file_id = await upload(h, "pixel.png", PNG, key=ALICE)
    body = {"model": "fake-model", "input": asking({"type": "input_image", "file_id": file_id})}
    bobs = await h.client.post("/v1/responses", json=body, headers={"authorization": f"Bearer {BOB}"})
    error = assert_error(bobs, 404, param="input[0].content[1].file_id")
    assert error["message"] == f"No such File object: {file_id}"
    alices = await h.client.post("/v1/responses", json=body, headers={"authorization": f"Bearer {ALICE}"})
    assert alices.status_code == 200, alices.text


async def test_a_file_deleted_from_the_history_becomes_a_note(
    harness_factory: Callable[..., Harness],
) -> None:
    h = harness_factory([Reply(text="A tiny image."), Reply(text="I remember it.")])
    file_id = await upload(h, "pixel.png", PNG)
    first = await h.create(input=asking({"type": "input_image", "file_id": file_id}))
    assert (await h.client.delete(f"/v1/files/{file_id}")).status_code == 200
    again = await h.create(previous_response_id=first.json()["id"], input="What was it?")
    assert again.status_code == 200, again.text
    assert h.fake.requests[1]["messages"][0]["content"] == (
        f"What is this?[input_image {file_id}: the file no longer exists]"
    )


async def test_a_tool_outputs_image_goes_in_a_user_message(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="A cat.")])
    file_id = await upload(h, "shot.png", PNG)
    shot = {"type": "function", "name": "screenshot", "parameters": {"type": "object", "properties": {}}}
    r = await h.create(
        tools=[shot],
        input=[
            {"role": "user", "content": "What is on screen?"},
            {"type": "function_call", "call_id": "s1", "name": "screenshot", "arguments": "{}"},
            {"type": "function_call", "call_id": "s2", "name": "screenshot", "arguments": "{}"},
            {
                "type": "function_call_output",
                "call_id": "s1",
                "output": [
                    {"type": "input_text", "text": "Screen 1:"},
                    {"type": "input_image", "file_id": file_id},
                ],
            },
            {"type": "function_call_output", "call_id": "s2", "output": "Screen 2 is off."},
        ],
    )
    assert r.status_code == 200, r.text
    messages = h.fake.requests[0]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert messages[2] == {"role": "tool", "tool_call_id": "s1", "content": "Screen 1:"}
    assert messages[3] == {"role": "tool", "tool_call_id": "s2", "content": "Screen 2 is off."}
    assert messages[4] == {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": data_url("image/png", PNG)}}],
    }


async def test_a_tool_outputs_unknown_file_is_a_404(harness_factory: Callable[..., Harness]) -> None:
    h = harness_factory([Reply(text="never")])
    r = await h.create(
        input=[
            {"role": "user", "content": "Look."},
            {"type": "function_call", "call_id": "s1", "name": "screenshot", "arguments": "{}"},
            {
                "type": "function_call_output",
                "call_id": "s1",
                "output": [{"type": "input_image", "file_id": "file-x"}],
            },
        ],
    )
    assert_error(r, 404, param="input[2].output[0].file_id")
