// One input or output item as HTML: messages with their annotations as links, tool calls with
// their arguments and results, reasoning with its summary; anything else as its JSON.
import { h } from "./ui.js";

function json(value) {
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return h("pre", {}, value);
    }
  }
  return h("pre", {}, JSON.stringify(value, null, 2));
}

function annotation(note) {
  if (note.type === "url_citation") return h("li", {}, h("a", { href: note.url, rel: "noreferrer" }, note.title || note.url));
  if (note.type === "file_citation" || note.type === "container_file_citation") {
    return h("li", {}, h("a", { href: `#/files/${encodeURIComponent(note.file_id)}`, class: "file-citation" }, note.filename || note.file_id));
  }
  return h("li", {}, note.type);
}

function part(content) {
  if (content.type === "output_text" || content.type === "input_text" || content.type === "text") {
    const notes = content.annotations ?? [];
    return h("div", { class: "part" }, h("p", {}, content.text),
      notes.length ? h("ul", { class: "annotations", "aria-label": "Sources" }, notes.map(annotation)) : null);
  }
  if (content.type === "refusal") return h("p", { class: "error" }, `Refusal: ${content.refusal}`);
  return json(content);
}

function message(item) {
  const parts = typeof item.content === "string" ? [h("p", {}, item.content)] : item.content.map(part);
  return [`${item.role} message`, parts];
}

function call(label, item, input, output) {
  return [`${label}: ${item.name ?? ""}`, [
    item.call_id ? h("p", { class: "muted" }, `call_id ${item.call_id}`) : null,
    input !== undefined ? [h("h5", {}, "Arguments"), json(input)] : null,
    output !== undefined && output !== null ? [h("h5", {}, "Result"), json(output)] : null,
    item.error ? h("p", { class: "error" }, `Error: ${typeof item.error === "string" ? item.error : JSON.stringify(item.error)}`) : null,
  ]];
}

const RENDERERS = {
  message,
  function_call: (item) => call("Function call", item, item.arguments),
  function_call_output: (item) => [`Function result for ${item.call_id}`, json(item.output)],
  custom_tool_call: (item) => call("Custom tool call", item, item.input),
  custom_tool_call_output: (item) => [`Custom tool result for ${item.call_id}`, json(item.output)],
  file_search_call: (item) => ["File search", [h("p", {}, `Queries: ${(item.queries ?? []).join(" · ")}`),
    item.results ? json(item.results) : null]],
  web_search_call: (item) => ["Web search", json(item.action ?? {})],
  mcp_call: (item) => call(`MCP call on ${item.server_label}`, item, item.arguments, item.output),
  mcp_list_tools: (item) => [`MCP tools of ${item.server_label}`,
    h("ul", {}, (item.tools ?? []).map((tool) => h("li", {}, tool.name)))],
  mcp_approval_request: (item) => call(`MCP approval request on ${item.server_label}`, item, item.arguments),
  mcp_approval_response: (item) => [`MCP approval ${item.approve ? "granted" : "refused"}`,
    h("p", { class: "muted" }, `for ${item.approval_request_id}`)],
  reasoning: (item) => {
    const summary = (item.summary ?? []).map((s) => h("p", {}, s.text));
    const text = (item.content ?? []).map((c) => h("pre", { class: "reasoning-text" }, c.text));
    return ["Reasoning", summary.length || text.length
      ? [summary.length ? [h("h5", {}, "Summary"), summary] : null, text]
      : h("p", { class: "muted" }, "(no summary)")];
  },
};

export function renderItem(item) {
  const render = RENDERERS[item.type];
  const [title, body] = render ? render(item) : [item.type, json(item)];
  const status = item.status ? h("span", { class: `muted status-${item.status}` }, ` · ${item.status}`) : null;
  return h("article", { class: `item item-${item.type}`, "data-id": item.id ?? "" },
    h("h4", {}, title, status), body);
}
