// The playground's request as code to run elsewhere: a curl command and a Python script with the
// openai SDK. Both send it without streaming and print the answer, whatever the page itself does
// (it streams); both read the key from OPENAI_API_KEY, never the one in this tab.
import { authHeaders, h } from "./ui.js";

const OWNER = "Parley-Owner";

/** ``text`` as one sh word: single-quoted, each ``'`` closed, escaped and reopened. */
export function shellQuoted(text) {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

export function curlOf(body, origin) {
  const lines = [
    `curl ${origin}/v1/responses`,
    '-H "Authorization: Bearer $OPENAI_API_KEY"',
    '-H "Content-Type: application/json"',
  ];
  const owner = authHeaders()[OWNER];
  if (owner) lines.push(`-H ${shellQuoted(`${OWNER}: ${owner}`)}`);
  lines.push(`-d ${shellQuoted(JSON.stringify(body, null, 2))}`);
  return lines.join(" \\\n  ");
}

/** A JSON value as a Python literal. JSON's string escapes are all valid in Python strings. */
export function pythonLiteral(value, indent = "") {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value !== "object") return JSON.stringify(value);
  const inner = `${indent}    `;
  const entries = Array.isArray(value)
    ? value.map((item) => pythonLiteral(item, inner))
    : Object.entries(value).map(([key, item]) => `${JSON.stringify(key)}: ${pythonLiteral(item, inner)}`);
  const [open, close] = Array.isArray(value) ? ["[", "]"] : ["{", "}"];
  if (!entries.length) return `${open}${close}`;
  return `${open}\n${entries.map((entry) => `${inner}${entry},`).join("\n")}\n${indent}${close}`;
}

export function pythonOf(body, origin) {
  const owner = authHeaders()[OWNER];
  const headers = owner ? `, default_headers=${pythonLiteral({ [OWNER]: owner })}` : "";
  const kwargs = Object.entries(body).map(([name, value]) => `    ${name}=${pythonLiteral(value, "    ")},`);
  return [
    "from openai import OpenAI",
    "",
    "# The key comes from the OPENAI_API_KEY environment variable.",
    `client = OpenAI(base_url=${JSON.stringify(`${origin}/v1`)}${headers})`,
    "",
    "response = client.responses.create(",
    ...kwargs,
    ")",
    "print(response.output_text)",
    "",
  ].join("\n");
}

async function copy(pre, status) {
  try {
    if (!navigator.clipboard) throw new Error("no clipboard");
    await navigator.clipboard.writeText(pre.textContent);
    status.textContent = "Copied";
  } catch {
    // No clipboard (a page not served over https or localhost, or permission refused): select it.
    getSelection().selectAllChildren(pre);
    status.textContent = "Select the text and copy it";
  }
}

function snippet(id, title) {
  const pre = h("pre", { id, tabindex: 0, "aria-label": title });
  const status = h("span", { role: "status", class: "muted" });
  const button = h("button", { type: "button", onclick: () => copy(pre, status) }, `Copy ${title}`);
  return { pre, block: h("details", { class: "pg-snippet" }, h("summary", {}, title), h("div", {}, button, " ", status), pre) };
}

/** The two snippets, and ``show(body)`` to write a request into them. */
export function snippetsSection() {
  const curl = snippet("pg-curl", "curl");
  const python = snippet("pg-python", "Python");
  const note = h("p", { class: "muted" },
    "The request the form would send now (the page streams it; these ask for the whole answer at once).");
  const section = h("section", { "aria-labelledby": "pg-copy-heading" },
    h("h2", { id: "pg-copy-heading" }, "Copy the request"), note, curl.block, python.block);
  const show = (body) => {
    curl.pre.textContent = curlOf(body, location.origin);
    python.pre.textContent = pythonOf(body, location.origin);
  };
  return { section, show };
}
