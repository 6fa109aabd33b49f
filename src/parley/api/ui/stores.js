// Vector stores: the owner's stores a page at a time (the API's cursors), a new store, and one
// store with its files (upload, ingestion state, errors) and a search over it. A file's own page
// lives in files.js.
import { api, facts, failure, h, listPage, pager, when } from "./ui.js";
import { size } from "./files.js";
import { filesSection } from "./store_files.js";
import { searchSection } from "./store_search.js";

export { renderFile } from "./files.js";

function storeLink(store) {
  return h("a", { href: `#/vector_stores/${encodeURIComponent(store.id)}` }, store.id);
}

/** The file counts in words, leaving out the states no file is in. */
function counts(fileCounts) {
  const { completed = 0, in_progress: indexing = 0, failed = 0, cancelled = 0, total = 0 } = fileCounts ?? {};
  const parts = [`${completed} completed`];
  if (indexing) parts.push(`${indexing} in progress`);
  if (failed) parts.push(h("span", { class: "error" }, `${failed} failed`));
  if (cancelled) parts.push(`${cancelled} cancelled`);
  const shown = [];
  for (const part of parts) shown.push(shown.length ? ", " : "", part);
  return h("span", {}, shown, ` of ${total}`);
}

function lifetime(store) {
  if (store.expires_at) return `expires ${when(store.expires_at)}`;
  return store.last_active_at ? `active ${when(store.last_active_at)}` : "";
}

function newStoreForm() {
  const notice = h("div", {});
  const form = h("form", { class: "store-form new-store", "aria-label": "New vector store" },
    h("label", {}, "Name ", h("input", { name: "name", size: "30", required: true })),
    h("button", { type: "submit" }, "Create vector store"),
    notice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const store = await api("/v1/vector_stores", { method: "POST", body: { name: form.elements.name.value } });
      location.hash = `#/vector_stores/${encodeURIComponent(store.id)}`;
    } catch (error) {
      notice.replaceChildren(failure(error));
    }
  });
  return h("section", { "aria-labelledby": "new-store-heading" },
    h("h2", { id: "new-store-heading" }, "New vector store"), form);
}

function storesTable(stores, older) {
  const rows = stores.map((store) =>
    h("tr", {},
      h("td", {}, store.name || h("span", { class: "muted" }, "(unnamed)")),
      h("td", {}, storeLink(store)),
      h("td", { class: `status-${store.status}` }, store.status),
      h("td", {}, counts(store.file_counts)),
      h("td", {}, size(store.usage_bytes)),
      h("td", {}, when(store.created_at)),
      h("td", {}, lifetime(store))));
  return h("table", {},
    h("caption", {}, older ? "Older vector stores" : "Newest vector stores"),
    h("thead", {}, h("tr", {}, ["Name", "ID", "Status", "Files", "Usage", "Created", "Expires / last active"]
      .map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

export async function renderStores(params) {
  const after = params.get("after");
  const page = await listPage("/v1/vector_stores", params);
  const empty = after ? "No older vector stores." : "No vector stores yet: create one below.";
  return [
    h("h1", {}, "Vector stores"),
    page.data.length ? storesTable(page.data, after) : h("p", { class: "muted" }, empty),
    pager("vector_stores", page, params),
    newStoreForm(),
  ];
}

function storeFacts(store) {
  const metadata = Object.entries(store.metadata ?? {}).map(([key, value]) => `${key}: ${value}`).join(", ");
  const expiry = store.expires_after ? `${store.expires_after.days} days after last activity` : "never";
  return facts([
    ["ID", h("code", {}, store.id)],
    ["Name", store.name],
    ["Status", h("span", { class: `status-${store.status}` }, store.status)],
    ["Files", counts(store.file_counts)],
    ["Usage", size(store.usage_bytes)],
    ["Created", when(store.created_at)],
    ["Last active", when(store.last_active_at)],
    ["Expires", store.expires_at ? when(store.expires_at) : expiry],
    ["Metadata", metadata],
  ]);
}

export async function renderStore(id) {
  const path = `/v1/vector_stores/${encodeURIComponent(id)}`;
  const store = await api(path);
  let shown = storeFacts(store);
  // Each finished upload changes the counts and usage: the facts are read again then.
  const refresh = async () => {
    try {
      const fresh = storeFacts(await api(path));
      shown.replaceWith(fresh);
      shown = fresh;
    } catch {
      // The page was left, or the store went: the table already says how the file ended.
    }
  };
  return [
    h("p", { class: "muted" }, h("a", { href: "#/vector_stores" }, "All vector stores")),
    h("h1", {}, store.name || store.id),
    shown,
    await filesSection(store.id, refresh),
    searchSection(store.id),
  ];
}
