"""The ``/docs`` page: the OpenAPI document as one server-rendered HTML page.

No script and no asset from anywhere (a CDN cannot be reached from many of the networks Parley runs
in): operations first, each with its parameters and bodies linked to their schemas, then every
schema as JSON, each ``$ref`` a link to the schema it names.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2.5rem;border-bottom:1px solid #ccc}
.op{margin:.6rem 0;padding:.4rem .6rem;border-left:4px solid #888;background:#f7f7f7}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
.get{border-color:#2a7}.post{border-color:#27c}.put{border-color:#c80}.delete{border-color:#c33}
code,pre{font:13px ui-monospace,monospace}pre{background:#f3f3f3;padding:.5rem;overflow:auto}
small{color:#555}
"""
REF = re.compile(r"&quot;#/components/schemas/([^&]+)&quot;")


def _link(name: str) -> str:
    return f'<a href="#schema-{html.escape(name)}">{html.escape(name)}</a>'


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def _content(content: dict[str, Any]) -> str:
    parts = []
    for media, spec in content.items():
        schema = spec.get("x-event-schema") or spec.get("schema", {})
        name = _ref_name(schema)
        shown = _link(name) if name else html.escape(json.dumps(schema))
        parts.append(f"<code>{html.escape(media)}</code> {shown}")
    return "; ".join(parts)


def _operation(path: str, method: str, spec: dict[str, Any]) -> str:
    rows = [
        f'<div class="op {method}"><span class="m">{method}</span> <code>{html.escape(path)}</code> '
        f"<small>{html.escape(spec.get('summary', ''))}</small>"
    ]
    for parameter in spec.get("parameters", []):
        schema = html.escape(json.dumps(parameter.get("schema", {})))
        rows.append(f"<br><small>{parameter['in']}</small> <code>{html.escape(parameter['name'])}</code> "
                    f"<small>{schema}</small>")  # fmt: skip
    body = spec.get("requestBody")
    if body is not None:
        rows.append(f"<br><small>body</small> {_content(body['content'])}")
    for status, answer in spec["responses"].items():
        rows.append(f"<br><small>{html.escape(status)}</small> {_content(answer.get('content', {}))}")
    return "".join(rows) + "</div>"


def _schema(name: str, schema: Any) -> str:
    text = REF.sub(lambda m: f'"#/components/schemas/{_link(m.group(1))}"',
                   html.escape(json.dumps(schema, indent=1)))  # fmt: skip
    return (
        f'<details id="schema-{html.escape(name)}"><summary><code>{html.escape(name)}</code></summary>'
        f"<pre>{text}</pre></details>"
    )


def render_docs(document: dict[str, Any]) -> str:
    info = document["info"]
    operations = [
        _operation(path, method, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if not method.startswith("x-")
    ]
    schemas = [_schema(name, schema) for name, schema in sorted(document["components"]["schemas"].items())]
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(info['title'])} API"
        f"</title><style>{STYLE}</style></head><body><h1>{html.escape(info['title'])} "
        f"<small>{html.escape(info['version'])}</small></h1><p>{html.escape(info['description'])} "
        'The machine-readable document: <a href="/openapi.json">/openapi.json</a>.</p>'
        f"<h2>Operations</h2>{''.join(operations)}<h2>Schemas</h2>{''.join(schemas)}</body></html>"
    )
