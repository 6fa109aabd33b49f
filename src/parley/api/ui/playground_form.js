// The playground's form: the model, instructions, input, tools and store, and the request body they
// make. The body holds only what the user set, so the copied snippets show nothing the API would
// have defaulted anyway.
import { allPages, api, failure, h } from "./ui.js";

/** A mistake in the form, shown next to it; nothing is sent. */
export class FormProblem extends Error {}

async function modelIds() {
  const listed = await api("/v1/models");
  return (listed.data ?? []).map((model) => model.id);
}

function field(label, control, hint) {
  return h("div", { class: "pg-field" }, h("label", { for: control.id }, label), control,
    hint ? h("span", { class: "muted pg-hint", id: `${control.id}-hint` }, hint) : null);
}

function checkbox(name, label, checked = false) {
  return h("label", { class: "pg-check" }, h("input", { type: "checkbox", name, checked }), ` ${label}`);
}

function modelField(ids, problem) {
  const select = h("select", { id: "pg-model", name: "model", required: true },
    ids.map((id) => h("option", { value: id }, id)));
  return h("div", {}, field("Model", select), problem ? failure(problem) : null);
}

function fileSearchFields(stores, problem) {
  const choices = h("select", { id: "pg-stores", name: "vector_stores", multiple: true, size: Math.min(Math.max(stores.length, 2), 6) },
    stores.map((store) => h("option", { value: store.id }, store.name ? `${store.name} (${store.id})` : store.id)));
  const most = h("input", { id: "pg-max-results", name: "max_num_results", type: "number", min: 1, max: 50, inputmode: "numeric" });
  return h("fieldset", { class: "pg-tool" }, h("legend", {}, checkbox("file_search", "File search")),
    problem ? failure(problem) : null,
    stores.length ? field("Vector stores", choices) : h("p", { class: "muted" }, "No vector stores yet."),
    field("Max results", most, "1 to 50; empty for the server's default"));
}

function mcpFields() {
  const approval = h("select", { id: "pg-mcp-approval", name: "mcp_approval" },
    h("option", { value: "never" }, "never"), h("option", { value: "always" }, "always"));
  return h("fieldset", { class: "pg-tool" }, h("legend", {}, "MCP server"),
    field("Server label", h("input", { id: "pg-mcp-label", name: "mcp_label", pattern: "[A-Za-z0-9_\\-]{1,64}" })),
    field("Server URL", h("input", { id: "pg-mcp-url", name: "mcp_url", type: "url", size: 40 })),
    field("Require approval", approval));
}

const FUNCTION_HINT = 'A JSON array of {"type": "function", "name": …, "parameters": {…}}; empty for none.';

function toolFields(stores, storesProblem) {
  const functions = h("textarea", { id: "pg-functions", name: "functions", rows: 4, spellcheck: "false",
    "aria-describedby": "pg-functions-hint" });
  return h("fieldset", { class: "pg-tools" }, h("legend", {}, "Tools"),
    field("Function tools (JSON)", functions, FUNCTION_HINT),
    fileSearchFields(stores, storesProblem),
    h("div", { class: "pg-tool" }, checkbox("web_search", "Web search")),
    mcpFields());
}

/** The form's controls, with the models and vector stores the API lists for this key. A list that
 * cannot be read is an alert in its place; the rest of the form still works. */
export async function formControls() {
  const [models, stores] = await Promise.allSettled([modelIds(), allPages("/v1/vector_stores", "desc")]);
  const ids = models.status === "fulfilled" ? models.value : [];
  const listed = stores.status === "fulfilled" ? stores.value : [];
  return [
    modelField(ids, models.status === "rejected" ? models.reason : null),
    field("Instructions", h("textarea", { id: "pg-instructions", name: "instructions", rows: 3 })),
    field("Input", h("textarea", { id: "pg-input", name: "input", rows: 4 })),
    toolFields(listed, stores.status === "rejected" ? stores.reason : null),
    h("div", { class: "pg-field" }, checkbox("store", "Store the response (needed to continue the chain)", true)),
  ];
}

function functionTools(text) {
  if (!text.trim()) return [];
  let tools;
  try {
    tools = JSON.parse(text);
  } catch (error) {
    throw new FormProblem(`Function tools are not valid JSON: ${error.message}`);
  }
  if (!Array.isArray(tools)) throw new FormProblem("Function tools must be a JSON array of tool objects.");
  tools.forEach((tool, index) => {
    if (tool === null || typeof tool !== "object" || Array.isArray(tool) || tool.type !== "function" || typeof tool.name !== "string") {
      throw new FormProblem(`Function tool ${index + 1} must be an object with "type": "function" and a "name".`);
    }
  });
  return tools;
}

function fileSearchTool(elements) {
  if (!elements.file_search.checked) return [];
  const chosen = elements.vector_stores ? [...elements.vector_stores.selectedOptions].map((o) => o.value) : [];
  if (!chosen.length) throw new FormProblem("File search needs at least one vector store chosen.");
  const tool = { type: "file_search", vector_store_ids: chosen };
  const most = elements.max_num_results.value;
  if (most) tool.max_num_results = Number(most);
  return [tool];
}

function mcpTool(elements) {
  const label = elements.mcp_label.value.trim();
  const url = elements.mcp_url.value.trim();
  if (!label && !url) return [];
  if (!label || !url) throw new FormProblem("An MCP server needs both a label and a URL.");
  return [{ type: "mcp", server_label: label, server_url: url, require_approval: elements.mcp_approval.value }];
}

/** The tools the form describes, in the order the form shows them. */
export function toolsOf(form) {
  const { elements } = form;
  return [
    ...functionTools(elements.functions.value),
    ...fileSearchTool(elements),
    ...(elements.web_search.checked ? [{ type: "web_search" }] : []),
    ...mcpTool(elements),
  ];
}

/** The request body the form makes with ``input`` (a string or items) after ``previous`` (a
 * response id or null). Fields left empty stay out; ``store`` appears only when turned off. */
export function requestOf(form, input, previous) {
  const { elements } = form;
  const body = { model: elements.model.value };
  if (elements.instructions.value.trim()) body.instructions = elements.instructions.value;
  if (input !== undefined) body.input = input;
  const tools = toolsOf(form);
  if (tools.length) body.tools = tools;
  if (previous) body.previous_response_id = previous;
  if (!elements.store.checked) body.store = false;
  return body;
}
