// The UI's shell: the key, the API calls and the router. Pages render with DOM calls and
// textContent only, so nothing a response holds is ever parsed as HTML.
import { renderResponse, renderResponsesLog } from "./responses.js";

const KEY = "parley.key";
const main = document.getElementById("main");

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path) {
  const key = sessionStorage.getItem(KEY);
  const response = await fetch(path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, body.error?.message ?? `${response.status} ${response.statusText}`);
  }
  return body;
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

function show(...nodes) {
  main.replaceChildren(...nodes);
}

function failure(error) {
  const hint = error.status === 401 ? " Enter an API key above." : "";
  return h("p", { class: "error", role: "alert" }, `${error.message}${hint}`);
}

async function route() {
  const [path, query] = location.hash.slice(1).split("?");
  const parts = (path || "/responses").split("/").filter(Boolean);
  const params = new URLSearchParams(query ?? "");
  show(h("p", { class: "muted" }, "Loading…"));
  try {
    if (parts[0] === "responses" && parts[1]) show(...(await renderResponse(decodeURIComponent(parts[1]))));
    else show(...(await renderResponsesLog(params)));
    const heading = main.querySelector("h1");
    if (heading) document.title = `${heading.textContent} · Parley`;
  } catch (error) {
    show(failure(error));
  }
}

function setUpKey() {
  const form = document.getElementById("key-form");
  const input = document.getElementById("key");
  const state = document.getElementById("key-state");
  const describe = () => (state.textContent = sessionStorage.getItem(KEY) ? "key in use" : "no key");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.value) sessionStorage.setItem(KEY, input.value);
    input.value = "";
    describe();
    route();
  });
  document.getElementById("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    describe();
    route();
  });
  describe();
}

setUpKey();
window.addEventListener("hashchange", route);
route();
