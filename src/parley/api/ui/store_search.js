// Search one vector store as file_search would: a query, an optional attribute filter (OpenAI's
// comparison/compound JSON) and Parley's ranking options; the answer is a list of scored chunks.
import { api, failure, h } from "./ui.js";
import { attributeText, fileLink } from "./files.js";

const MODES = ["hybrid", "vector", "keyword"];
const RANKERS = ["auto", "rrf", "weighted", "none"];

function field(label, control, help) {
  return h("label", {}, `${label} `, control, help ? h("span", { class: "muted hint" }, ` ${help}`) : null);
}

function choice(name, values) {
  return h("select", { name }, values.map((value) => h("option", { value }, value)));
}

function searchForm() {
  return h("form", { class: "store-form store-search", role: "search", "aria-label": "Search this store" },
    field("Query", h("input", { type: "search", name: "query", required: true, size: "40" })),
    field("Max results", h("input", { type: "number", name: "max_num_results", min: "1", max: "50", value: "10" })),
    field("Search mode", choice("search_mode", MODES)),
    h("fieldset", {}, h("legend", {}, "Ranking"),
      field("Ranker", choice("ranker", RANKERS)),
      field("Score threshold", h("input", { type: "number", name: "score_threshold", min: "0", max: "1", step: "0.01", value: "0" })),
      field("Vector share (alpha)", h("input", { type: "number", name: "alpha", min: "0", max: "1", step: "0.05", value: "0.5" }),
        "(weighted ranker only)")),
    field("Filter (JSON, optional)",
      h("textarea", { name: "filters", rows: "3", cols: "60", spellcheck: "false",
        placeholder: '{"type": "eq", "key": "region", "value": "us"}' })),
    h("button", { type: "submit" }, "Search"));
}

/** The search request the form describes; throws when the filter is not a JSON object. */
function searchBody(form) {
  const value = (name) => form.elements[name].value;
  const ranking = { ranker: value("ranker"), score_threshold: Number(value("score_threshold") || 0) };
  if (ranking.ranker === "weighted") ranking.alpha = Number(value("alpha") || 0.5);
  const body = {
    query: value("query"),
    max_num_results: Number(value("max_num_results") || 10),
    search_mode: value("search_mode"),
    ranking_options: ranking,
  };
  const filter = value("filters").trim();
  if (filter) {
    try {
      body.filters = JSON.parse(filter);
    } catch (error) {
      throw new Error(`The filter is not valid JSON: ${error.message}`);
    }
    if (body.filters === null || typeof body.filters !== "object" || Array.isArray(body.filters)) {
      throw new Error("The filter must be a JSON object: a comparison or a compound filter.");
    }
  }
  return body;
}

function chunk(result) {
  const attributes = attributeText(result.attributes);
  return h("li", { class: "chunk" },
    h("p", { class: "chunk-head" },
      fileLink(result.file_id, result.filename),
      h("span", { class: "muted" }, ` · score ${result.score.toFixed(3)}`),
      attributes ? h("span", { class: "muted" }, ` · ${attributes}`) : null),
    (result.content ?? []).map((part) => h("blockquote", { class: "chunk-text" }, part.text)));
}

function results(page) {
  const found = page.data;
  return [
    h("h3", {}, `Results for “${page.search_query.join(" · ")}” (${found.length})`),
    found.length ? h("ol", { class: "chunks" }, found.map(chunk)) : h("p", { class: "muted" }, "No results."),
  ];
}

export function searchSection(storeId) {
  const form = searchForm();
  const answer = h("div", { class: "search-results", "aria-live": "polite" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let body;
    try {
      body = searchBody(form);
    } catch (error) {
      answer.replaceChildren(failure(error));
      return;
    }
    answer.replaceChildren(h("p", { class: "muted" }, "Searching…"));
    try {
      const page = await api(`/v1/vector_stores/${encodeURIComponent(storeId)}/search`, { method: "POST", body });
      answer.replaceChildren(...results(page));
    } catch (error) {
      answer.replaceChildren(failure(error));
    }
  });
  return h("section", { "aria-labelledby": "search-heading" },
    h("h2", { id: "search-heading" }, "Search"), form, answer);
}
