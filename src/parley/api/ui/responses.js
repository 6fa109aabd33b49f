// The responses log (newest first, a page at a time with the API's cursors) and one response:
// its input and output items in order, usage, latency, and the previous_response_id chain.
import { allPages, api, facts, h, listPage, pager, when } from "./ui.js";
import { renderItem } from "./items.js";
import { liveSection } from "./live.js";

const CHAIN_DEPTH = 25;

function latency(response) {
  // Both times are whole seconds, as the API gives them.
  const done = response.completed_at;
  if (!done) return "";
  const seconds = done - response.created_at;
  return seconds < 1 ? "under 1 s" : `${seconds} s`;
}

export function responseLink(id) {
  return h("a", { href: `#/responses/${encodeURIComponent(id)}` }, id);
}

const STATUSES = ["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"];
const FILTERS = ["model", "status", "from", "to"];

/** The API's query for the log's filters: dates (UTC days) become inclusive unix seconds. */
function filterQuery(params) {
  const query = new URLSearchParams();
  if (params.get("model")) query.set("model", params.get("model"));
  if (params.get("status")) query.set("status", params.get("status"));
  if (params.get("from")) query.set("created_after", String(Date.parse(`${params.get("from")}T00:00:00Z`) / 1000));
  if (params.get("to")) query.set("created_before", String(Date.parse(`${params.get("to")}T23:59:59Z`) / 1000));
  return query;
}

function filterForm(params) {
  const field = (name, label, control) => h("label", {}, `${label} `, control);
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter responses" },
    field("model", "Model", h("input", { name: "model", value: params.get("model") ?? "" })),
    field("status", "Status", h("select", { name: "status" }, h("option", { value: "" }, "any"),
      STATUSES.map((status) => h("option", { value: status, selected: params.get("status") === status }, status)))),
    field("from", "From", h("input", { name: "from", type: "date", value: params.get("from") ?? "" })),
    field("to", "To", h("input", { name: "to", type: "date", value: params.get("to") ?? "" })),
    h("button", { type: "submit" }, "Filter"),
    h("a", { href: "#/responses" }, "Clear"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = new URLSearchParams();
    for (const name of FILTERS) if (form.elements[name].value) chosen.set(name, form.elements[name].value);
    location.hash = `#/responses?${chosen}`;
  });
  return form;
}

export async function renderResponsesLog(params) {
  const page = await listPage("/v1/responses", params, filterQuery(params));
  const rows = page.data.map((r) =>
    h("tr", {},
      h("td", {}, when(r.created_at)),
      h("td", {}, responseLink(r.id)),
      h("td", {}, r.model),
      h("td", { class: `status-${r.status}` }, r.status),
      h("td", {}, r.usage ? r.usage.total_tokens : ""),
      h("td", {}, latency(r)),
    ));
  const table = h("table", {},
    h("caption", {}, params.get("after") ? "Older responses" : "Newest responses"),
    h("thead", {}, h("tr", {}, ...["Created", "ID", "Model", "Status", "Tokens", "Latency"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
  const filtered = FILTERS.some((name) => params.get(name));
  const nothing = filtered ? "No stored responses match." : params.get("after") ? "No older responses." : "No stored responses yet.";
  const empty = page.data.length ? null : h("p", { class: "muted" }, nothing);
  return [h("h1", {}, "Responses"), filterForm(params), empty ?? table, pager("responses", page, params, FILTERS)];
}


function responseFacts(response) {
  const usage = response.usage;
  return facts([
    ["Status", h("span", { class: `status-${response.status}` }, response.status)],
    ["Model", response.model],
    ["Created", when(response.created_at)],
    ["Latency", latency(response)],
    ["Usage", usage ? `${usage.input_tokens} in (${usage.input_tokens_details?.cached_tokens ?? 0} cached), ${usage.output_tokens} out (${usage.output_tokens_details?.reasoning_tokens ?? 0} reasoning), ${usage.total_tokens} total` : ""],
    ["Background", response.background ? "yes" : ""],
    ["Conversation", response.conversation
      ? h("a", { href: `#/conversations/${encodeURIComponent(response.conversation.id)}` }, response.conversation.id) : ""],
    ["Instructions", typeof response.instructions === "string" ? response.instructions : ""],
    ["Error", response.error ? `${response.error.code}: ${response.error.message}` : ""],
  ]);
}

async function chain(response) {
  const earlier = [];
  let previous = response.previous_response_id;
  while (previous && earlier.length < CHAIN_DEPTH) {
    try {
      const found = await api(`/v1/responses/${encodeURIComponent(previous)}`);
      earlier.push(found);
      previous = found.previous_response_id;
    } catch {
      earlier.push({ id: previous, missing: true });
      break;
    }
  }
  if (!earlier.length) return null;
  const steps = [...earlier].reverse().map((r) =>
    h("li", {}, responseLink(r.id), r.missing ? " (not found)" : ` · ${when(r.created_at)} · ${r.status}`));
  steps.push(h("li", { "aria-current": "page" }, response.id, " (this response)"));
  return h("section", { "aria-labelledby": "chain-heading" },
    h("h2", { id: "chain-heading" }, "Chain"), h("ol", { class: "chain" }, steps));
}

export async function renderResponse(id) {
  const response = await api(`/v1/responses/${encodeURIComponent(id)}`);
  const [inputs, timeline] = await Promise.all([
    allPages(`/v1/responses/${encodeURIComponent(id)}/input_items`),
    chain(response),
  ]);
  const next = new URLSearchParams({ previous_response_id: response.id });
  return [
    h("h1", {}, response.id),
    responseFacts(response),
    h("p", {}, h("a", { href: `#/playground?${next}` }, "Continue in the playground")),
    liveSection(response),
    timeline,
    h("section", { "aria-labelledby": "input-heading" },
      h("h2", { id: "input-heading" }, `Input (${inputs.length})`), inputs.map(renderItem)),
    h("section", { "aria-labelledby": "output-heading" },
      h("h2", { id: "output-heading" }, `Output (${response.output.length})`), response.output.map(renderItem)),
  ];
}
