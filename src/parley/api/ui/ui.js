// The UI's shell: the key, the API calls and the router. Pages render with DOM calls and
// textContent only, so nothing a response holds is ever parsed as HTML.
const KEY = "parley.key";
const OWNER = "parley.owner";
const main = document.getElementById("main");
let current = new AbortController();

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** The headers every call to the API carries: the session's key and, for an admin key, the owner
 * it acts for. XHR uploads and streamed responses use them too. */
export function authHeaders() {
  const headers = {};
  const key = sessionStorage.getItem(KEY);
  const owner = sessionStorage.getItem(OWNER);
  if (key) headers.Authorization = `Bearer ${key}`;
  if (owner) headers["Parley-Owner"] = owner;
  return headers;
}

/** Aborted when the user leaves the page: a page's streams and polls stop with it. */
export function pageSignal() {
  return current.signal;
}

export async function failureOf(response) {
  const body = await response.json().catch(() => ({}));
  return new ApiError(response.status, body.error?.message ?? `${response.status} ${response.statusText}`);
}

/** A JSON call to the API: ``body`` (an object) is sent as JSON, ``form`` (FormData) as multipart. */
export async function api(path, { method = "GET", body, form, signal } = {}) {
  const headers = authHeaders();
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const payload = body !== undefined ? JSON.stringify(body) : form;
  const response = await fetch(path, { method, headers, body: payload, signal: signal ?? pageSignal() });
  if (!response.ok) throw await failureOf(response);
  return response.json();
}

const PAGE = 20;

/** One page of a list, newest first, after the cursor in ``params`` (``?after=``); ``query`` adds
 * the list's own parameters (the log's filters). */
export function listPage(path, params, query = new URLSearchParams()) {
  query.set("limit", String(PAGE));
  query.set("order", "desc");
  if (params.get("after")) query.set("after", params.get("after"));
  return api(`${path}?${query}`);
}

/** The Newest and Older links of a list ``page`` shown at ``#/<section>``; ``kept`` names the
 * parameters of ``params`` (filters) that every page keeps. */
export function pager(section, page, params, kept = []) {
  const link = (after, label, rel) => {
    const query = new URLSearchParams();
    for (const name of kept) if (params.get(name)) query.set(name, params.get(name));
    if (after) query.set("after", after);
    return h("a", { href: `#/${section}?${query}`, rel }, label);
  };
  return h("nav", { class: "pager", "aria-label": "Pages" },
    params.get("after") ? link(null, "Newest") : null,
    page.has_more ? link(page.last_id, "Older", "next") : null);
}

/** Every object of a list, following the API's cursors a hundred at a time. */
export async function allPages(path, order = "asc") {
  const found = [];
  let after = null;
  do {
    const query = new URLSearchParams({ limit: "100", order });
    if (after) query.set("after", after);
    const page = await api(`${path}?${query}`);
    found.push(...page.data);
    after = page.has_more ? page.last_id : null;
  } while (after);
  return found;
}

/** An element: attributes (``on*`` are listeners) and children (strings become text). */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** Unix seconds as a UTC time; nothing for none. */
export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toISOString().replace("T", " ").replace(".000Z", " UTC") : "";
}

/** A definition list of ``[name, value]`` pairs, leaving out those without a value. */
export function facts(pairs) {
  const shown = pairs.filter(([, value]) => value !== "" && value !== null && value !== undefined);
  return h("dl", { class: "facts" }, shown.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value)]));
}

/** An error as the page shows it: an alert, with what to do about a missing key. */
export function failure(error) {
  const hint = error.status === 401 ? " Enter an API key above." : "";
  return h("p", { class: "error", role: "alert" }, `${error.message}${hint}`);
}

/** Renders the page again, as after a change the page itself made (a response finished). */
export function refresh() {
  route();
}

function show(...nodes) {
  main.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
}

// Each route: the hash's first segment; the module of its pages, loaded when first shown (a page
// loads only what it uses); and the names of its page without an id after it and with one.
const PAGES = {
  responses: ["./responses.js", "renderResponsesLog", "renderResponse"],
  playground: ["./playground.js", "renderPlayground", null],
  vector_stores: ["./stores.js", "renderStores", "renderStore"],
  files: ["./stores.js", null, "renderFile"],
  conversations: ["./conversations.js", "renderConversations", "renderConversation"],
  prompts: ["./prompts.js", "renderPrompts", "renderPrompt"],
};

/** The page for a section, with an id or without; an unknown one is the responses log. */
async function pageFor(section, id) {
  const [path, list, one] = PAGES[section] ?? PAGES.responses;
  const pages = await import(path);
  if (id && one) return (params) => pages[one](decodeURIComponent(id), params);
  if (list) return pages[list];
  return (await import("./responses.js")).renderResponsesLog;
}

async function route() {
  current.abort();
  current = new AbortController();
  const signal = current.signal;
  const [path, query] = location.hash.slice(1).split("?");
  const [section = "responses", id] = (path || "/responses").split("/").filter(Boolean);
  const params = new URLSearchParams(query ?? "");
  show(h("p", { class: "muted" }, "Loading…"));
  for (const link of document.querySelectorAll("header nav a")) {
    if (link.getAttribute("href") === `#/${section}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    const nodes = await (await pageFor(section, id))(params);
    if (signal.aborted) return;
    show(...nodes);
    const heading = main.querySelector("h1");
    if (heading) document.title = `${heading.textContent} · Parley`;
  } catch (error) {
    if (!signal.aborted) show(failure(error));
  }
}

function setUpKey() {
  const form = document.getElementById("key-form");
  const state = document.getElementById("key-state");
  const describe = () => {
    const owner = sessionStorage.getItem(OWNER);
    state.textContent = sessionStorage.getItem(KEY) ? `key in use${owner ? `, as ${owner}` : ""}` : "no key";
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const { key, owner } = form.elements;
    if (key.value) sessionStorage.setItem(KEY, key.value);
    if (owner.value) sessionStorage.setItem(OWNER, owner.value);
    else sessionStorage.removeItem(OWNER);
    key.value = "";
    describe();
    route();
  });
  document.getElementById("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(OWNER);
    form.elements.owner.value = "";
    describe();
    route();
  });
  form.elements.owner.value = sessionStorage.getItem(OWNER) ?? "";
  describe();
}

setUpKey();
window.addEventListener("hashchange", route);
route();
