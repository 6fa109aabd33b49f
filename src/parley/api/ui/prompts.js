// Prompts: the owner's stored prompt templates and a new one, and one prompt with its versions,
// which version is the default, and an edit that saves a new version (the API never changes one).
import { api, facts, failure, h, refresh, when } from "./ui.js";

function promptPath(id) {
  return `/v1/prompts/${encodeURIComponent(id)}`;
}

function promptLink(id) {
  return h("a", { href: `#/prompts/${encodeURIComponent(id)}` }, id);
}

/** Shows ``hash``: a page already there (the same action twice) is rendered again. */
function go(hash) {
  if (location.hash === hash) refresh();
  else location.hash = hash;
}

function variablesText(variables) {
  return variables?.length ? variables.join(", ") : "";
}

/** "a, b ,c" as the API's list; an empty field declares none. */
function parseVariables(text) {
  return text.split(",").map((name) => name.trim()).filter(Boolean);
}

/** The fields a template is made of, shared by the new-prompt and edit forms. */
function templateFields(prefix, version) {
  const field = (label, control, hint) => {
    control.setAttribute("aria-describedby", `${control.id}-hint`);
    return h("p", {}, h("label", { for: control.id }, label), control,
      h("span", { class: "muted", id: `${control.id}-hint` }, ` ${hint}`));
  };
  const text = h("textarea", { id: `${prefix}-prompt`, name: "prompt", rows: "6", required: true }, version?.prompt ?? "");
  const variables = h("input", { id: `${prefix}-variables`, name: "variables", size: "40",
    value: variablesText(version?.variables) });
  const model = h("input", { id: `${prefix}-model`, name: "model", size: "30", value: version?.model ?? "" });
  return [
    field("Template", text, "placeholders are written {{name}}"),
    field("Variables", variables, "comma-separated"),
    field("Model", model, "optional: used when a response names none"),
  ];
}

/** The template a form describes, as the API's body; ``tools`` come along unchanged (the form
 * does not edit them, and a new version without them would silently drop them). */
function templateBody(form, tools) {
  const body = { prompt: form.elements.prompt.value, variables: parseVariables(form.elements.variables.value) };
  if (form.elements.model.value.trim()) body.model = form.elements.model.value.trim();
  if (tools) body.tools = tools;
  return body;
}

/** A form that sends its body and, on an API refusal, shows the API's message as an alert. */
function apiForm(label, fields, submit, send) {
  const notice = h("div", {});
  const form = h("form", { class: "prompt-form", "aria-label": label }, fields,
    h("button", { type: "submit" }, submit), notice);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    notice.replaceChildren();
    try {
      await send(form);
    } catch (error) {
      notice.replaceChildren(failure(error));
    }
  });
  return form;
}

function newPromptSection() {
  const form = apiForm("New prompt", templateFields("new", null), "Create prompt", async (form) => {
    const created = await api("/v1/prompts", { method: "POST", body: templateBody(form, null) });
    location.hash = `#/prompts/${encodeURIComponent(created.prompt_id)}`;
  });
  return h("section", { "aria-labelledby": "new-prompt-heading" },
    h("h2", { id: "new-prompt-heading" }, "New prompt"), form);
}

function promptsTable(prompts) {
  const rows = prompts.map((prompt) =>
    h("tr", {},
      h("td", {}, promptLink(prompt.prompt_id)),
      h("td", {}, String(prompt.version)),
      h("td", {}, variablesText(prompt.variables)),
      h("td", {}, prompt.model ?? ""),
      h("td", {}, when(prompt.created_at))));
  return h("table", { class: "prompts" },
    h("caption", {}, "Prompts, newest first"),
    h("thead", {}, h("tr", {}, ["Prompt", "Default version", "Variables", "Model", "Created"]
      .map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

export async function renderPrompts() {
  const { data } = await api("/v1/prompts");
  const empty = h("p", { class: "muted" }, "No prompts yet: create one below.");
  return [h("h1", {}, "Prompts"), data.length ? promptsTable(data) : empty, newPromptSection()];
}

function versionFacts(version) {
  return facts([
    ["Default version", String(version.version)],
    ["Variables", variablesText(version.variables) || h("span", { class: "muted" }, "none")],
    ["Model", version.model ?? h("span", { class: "muted" }, "none")],
    ["Tools", version.tools?.length ? version.tools.map((tool) => tool.name ?? tool.type).join(", ") : ""],
    ["Created", when(version.created_at)],
  ]);
}

function makeDefaultButton(id, version) {
  const notice = h("span", {});
  const button = h("button", { type: "button", "aria-label": `Make version ${version.version} the default` },
    "Make default");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await api(`${promptPath(id)}/set-default-version`, { method: "POST", body: { version: version.version } });
      go(`#/prompts/${encodeURIComponent(id)}?default=${version.version}`);
    } catch (error) {
      notice.replaceChildren(failure(error));
      button.disabled = false;
    }
  });
  return [button, notice];
}

function versionsSection(id, versions) {
  const rows = versions.map((version) =>
    h("tr", { class: version.is_default ? "default-version" : null },
      h("th", { scope: "row" }, String(version.version)),
      h("td", {}, version.is_default ? h("strong", {}, "default") : makeDefaultButton(id, version)),
      h("td", {}, when(version.created_at)),
      h("td", {}, h("pre", {}, version.prompt))));
  const table = h("table", { class: "prompt-versions" },
    h("caption", {}, `${versions.length} version${versions.length === 1 ? "" : "s"}, oldest first`),
    h("thead", {}, h("tr", {}, ["Version", "Default", "Created", "Template"]
      .map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
  return h("section", { "aria-labelledby": "versions-heading" }, h("h2", { id: "versions-heading" }, "Versions"), table);
}

function editSection(id, latest) {
  const fields = templateFields("edit", latest);
  const form = apiForm("Edit prompt", fields, "Save as a new version", async (form) => {
    const body = { ...templateBody(form, latest.tools), version: latest.version };
    const saved = await api(promptPath(id), { method: "POST", body });
    go(`#/prompts/${encodeURIComponent(id)}?saved=${saved.version}`);
  });
  return h("section", { "aria-labelledby": "edit-heading" },
    h("h2", { id: "edit-heading" }, "Edit"),
    h("p", { class: "muted" }, `Starts from version ${latest.version}, the latest; saving makes version `,
      `${latest.version + 1} and makes it the default.`),
    form);
}

/** What the last action on this page did, said once the page shows its result. */
function doneNotice(params) {
  const saved = params.get("saved");
  const made = params.get("default");
  const text = saved ? `Saved version ${saved}; it is now the default.` : made ? `Version ${made} is now the default.` : "";
  return text ? h("p", { role: "status", class: "done" }, text) : null;
}

export async function renderPrompt(id, params) {
  const [current, { data: versions }] = await Promise.all([api(promptPath(id)), api(`${promptPath(id)}/versions`)]);
  const latest = versions.reduce((a, b) => (b.version > a.version ? b : a), current);
  return [
    h("h1", {}, current.prompt_id),
    doneNotice(params),
    versionFacts(current),
    h("pre", { class: "prompt-template", "aria-label": "Default version's template" }, current.prompt),
    h("p", {}, h("a", { href: "#/prompts" }, "All prompts")),
    versionsSection(id, versions),
    editSection(id, latest),
  ].filter(Boolean);
}
