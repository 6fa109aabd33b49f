// A vector store's files: the table (status, last_error, attributes) and the upload form, which
// sends each file with a progress bar, attaches it, and follows its ingestion until it settles.
import { ApiError, allPages, api, authHeaders, failure, h, pageSignal } from "./ui.js";
import { attributeText, fileLink, size } from "./files.js";

const POLL_MS = 300;

function storePath(storeId, fileId = "") {
  const base = `/v1/vector_stores/${encodeURIComponent(storeId)}/files`;
  return fileId ? `${base}/${encodeURIComponent(fileId)}` : base;
}

/** Filenames by file id, fetched in parallel; a file deleted since it was attached has none. */
async function filenames(ids) {
  const found = await Promise.all(ids.map((id) =>
    api(`/v1/files/${encodeURIComponent(id)}`).then((file) => file.filename, () => null)));
  return new Map(ids.map((id, n) => [id, found[n]]));
}

function lastError(record) {
  const error = record.last_error;
  return error ? h("span", { class: "error" }, `${error.code}: ${error.message}`) : "";
}

/** One file's row; ``filename`` is null for a file deleted since it was attached. */
function fileRow(record, filename, remove) {
  const name = filename === null ? h("span", { class: "muted" }, "(file deleted)") : filename;
  const button = h("button", { type: "button", "aria-label": `Remove ${filename || record.id}` }, "Remove");
  button.addEventListener("click", () => remove(record.id, button));
  return h("tr", { "data-file-id": record.id },
    h("td", {}, fileLink(record.id)),
    h("td", {}, name ?? ""),
    h("td", { class: `status-${record.status}` }, record.status),
    h("td", {}, lastError(record)),
    h("td", {}, attributeText(record.attributes)),
    h("td", {}, size(record.usage_bytes)),
    h("td", {}, button));
}

/** The files table; ``put`` adds or replaces one file's row as its state changes. */
function filesTable(storeId, notice) {
  const rows = new Map();
  const body = h("tbody", {});
  const empty = h("p", { class: "muted" }, "No files in this store yet.");
  const table = h("table", { class: "store-files" },
    h("caption", {}, "The store's files, newest first"),
    h("thead", {}, h("tr", {}, ["File", "Filename", "Status", "Last error", "Attributes", "Usage", ""]
      .map((name) => h("th", { scope: "col" }, name)))),
    body);
  const remove = async (fileId, button) => {
    button.disabled = true;
    try {
      await api(storePath(storeId, fileId), { method: "DELETE" });
      rows.get(fileId)?.remove();
      rows.delete(fileId);
      empty.hidden = rows.size > 0;
      notice.replaceChildren(h("p", { role: "status" }, `Removed ${fileId} from the store.`));
    } catch (error) {
      button.disabled = false;
      notice.replaceChildren(failure(error));
    }
  };
  const put = (record, filename) => {
    const row = fileRow(record, filename, remove);
    if (rows.has(record.id)) rows.get(record.id).replaceWith(row);
    else body.prepend(row);
    rows.set(record.id, row);
    empty.hidden = true;
  };
  empty.hidden = false;
  return { nodes: [table, empty], put };
}

/** ``POST /v1/files`` with XMLHttpRequest, the one browser API that reports upload progress. */
function sendFile(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.responseType = "json";
    xhr.upload.addEventListener("progress", (event) => onProgress(event.loaded, event.lengthComputable ? event.total : 0));
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response?.error?.message ?? `${xhr.status} ${xhr.statusText}`));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "The upload did not reach the server.")));
    xhr.addEventListener("abort", () => reject(new DOMException("The page was left.", "AbortError")));
    pageSignal().addEventListener("abort", () => xhr.abort(), { once: true });
    const form = new FormData();
    form.append("purpose", "assistants"); // before the file, so the server reads it first
    form.append("file", file);
    xhr.send(form);
  });
}

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

/** One upload's line: a progress bar and, for those who do not see it, the same as text. */
function uploadLine(file) {
  const bar = h("progress", { max: String(file.size || 1), value: "0", "aria-label": `Upload of ${file.name}` });
  const state = h("span", { class: "upload-state" }, "waiting");
  const line = h("li", {}, h("span", { class: "upload-name" }, file.name), " ", bar, " ", state);
  const say = (text, bad = false) => {
    state.textContent = text;
    state.classList.toggle("error", bad);
  };
  const progress = (loaded, total) => {
    if (total) bar.max = total;
    bar.value = Math.min(loaded, bar.max);
    say(`uploading, ${Math.round((100 * bar.value) / bar.max)}% (${loaded} of ${total || file.size} bytes)`);
  };
  return { line, say, progress, done: () => { bar.value = bar.max; } };
}

async function uploadOne(storeId, file, attributes, ui, table, onSettled) {
  const signal = pageSignal();
  try {
    ui.say("uploading");
    const uploaded = await sendFile(file, ui.progress);
    ui.done();
    ui.say(`uploaded as ${uploaded.id}; attaching`);
    let record = await api(storePath(storeId), { method: "POST", body: { file_id: uploaded.id, attributes } });
    table.put(record, uploaded.filename);
    while (record.status === "in_progress") {
      ui.say("uploaded; indexing");
      await pause(POLL_MS, signal);
      record = await api(storePath(storeId, uploaded.id), { signal });
      table.put(record, uploaded.filename);
    }
    const error = record.last_error;
    ui.say(error ? `${record.status}: ${error.code}: ${error.message}` : record.status, record.status !== "completed");
    onSettled();
  } catch (error) {
    if (!signal.aborted) ui.say(`failed: ${error.message}`, true);
  }
}

/** The attributes field as an object, or an Error saying why it is not one. */
function attributesOf(text) {
  if (!text.trim()) return undefined;
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return new Error(`The attributes are not valid JSON: ${error.message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return new Error('The attributes must be a JSON object, such as {"region": "eu"}.');
  }
  return value;
}

function uploadForm(storeId, table, onSettled) {
  const notice = h("div", {});
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads", "aria-live": "polite" });
  const form = h("form", { class: "store-form upload" },
    h("label", {}, "Files to upload ", h("input", { type: "file", name: "files", multiple: true, required: true })),
    h("label", {}, "Attributes (JSON object, optional) ",
      h("textarea", { name: "attributes", rows: "2", cols: "40", placeholder: '{"region": "eu"}', spellcheck: "false" })),
    h("button", { type: "submit" }, "Upload"),
    notice);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const attributes = attributesOf(form.elements.attributes.value);
    if (attributes instanceof Error) {
      notice.replaceChildren(failure(attributes));
      return;
    }
    notice.replaceChildren();
    const files = [...form.elements.files.files];
    for (const file of files) {
      const ui = uploadLine(file);
      uploads.append(ui.line);
      uploadOne(storeId, file, attributes, ui, table, onSettled);
    }
    form.elements.files.value = "";
  });
  return [form, uploads];
}

/** The store's files section: its table and the upload form; ``onSettled`` runs as each upload ends. */
export async function filesSection(storeId, onSettled) {
  const records = await allPages(storePath(storeId), "desc");
  const names = await filenames(records.map((record) => record.id));
  const notice = h("div", {});
  const table = filesTable(storeId, notice);
  for (const record of [...records].reverse()) table.put(record, names.get(record.id));
  return h("section", { "aria-labelledby": "files-heading" },
    h("h2", { id: "files-heading" }, "Files"),
    notice, table.nodes,
    h("h3", {}, "Upload"), uploadForm(storeId, table, onSettled));
}
