// One uploaded file: its metadata and a preview of its content. Also the small helpers the
// vector-store pages share with it (sizes, attributes, file links).
import { api, authHeaders, facts, failure, failureOf, h, pageSignal, when } from "./ui.js";

const PREVIEW_BYTES = 64 * 1024;

/** A byte count people can read; the exact count stays in the title for those who need it. */
export function size(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit ? `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}` : `${bytes} bytes`;
  return h("span", { title: `${bytes} bytes` }, shown);
}

export function fileLink(id, filename) {
  return h("a", { href: `#/files/${encodeURIComponent(id)}` }, filename || id);
}

/** Attributes as compact ``key: value`` text; empty when there are none. */
export function attributeText(attributes) {
  const entries = Object.entries(attributes ?? {});
  return entries.map(([key, value]) => `${key}: ${JSON.stringify(value)}`).join(", ");
}

/** Up to ``limit`` bytes of a streamed body; the rest is not downloaded. */
async function firstBytes(response, limit) {
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  while (length < limit) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
  }
  if (length >= limit) await reader.cancel();
  const bytes = new Uint8Array(Math.min(length, limit));
  let offset = 0;
  for (const chunk of chunks) {
    const room = bytes.length - offset;
    if (room <= 0) break;
    bytes.set(chunk.subarray(0, room), offset);
    offset += Math.min(chunk.length, room);
  }
  return bytes;
}

/** The bytes as text if they are UTF-8 without NULs (a cut-off last character is fine), else null. */
function asText(bytes) {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: true });
    return text.includes("\u0000") ? null : text;
  } catch {
    return null;
  }
}

async function preview(file) {
  const response = await fetch(`/v1/files/${encodeURIComponent(file.id)}/content`, {
    headers: authHeaders(), signal: pageSignal(),
  });
  if (!response.ok) return failure(await failureOf(response));
  const bytes = await firstBytes(response, PREVIEW_BYTES);
  if (!bytes.length) return h("p", { class: "muted" }, "The file is empty.");
  const text = asText(bytes);
  if (text === null) return h("p", { class: "muted" }, `Binary content, ${file.bytes} bytes: not shown.`);
  const cut = file.bytes > bytes.length
    ? h("p", { class: "muted" }, `Showing the first ${bytes.length} of ${file.bytes} bytes.`) : null;
  return [cut, h("pre", { class: "file-preview", tabindex: "0", "aria-label": `Content of ${file.filename}` }, text)];
}

export async function renderFile(id) {
  const file = await api(`/v1/files/${encodeURIComponent(id)}`);
  return [
    h("h1", {}, file.filename || file.id),
    facts([
      ["Filename", file.filename],
      ["ID", h("code", {}, file.id)],
      ["Size", size(file.bytes)],
      ["Purpose", file.purpose],
      ["Status", file.status],
      ["Created", when(file.created_at)],
      ["Expires", when(file.expires_at)],
    ]),
    h("section", { "aria-labelledby": "content-heading" },
      h("h2", { id: "content-heading" }, "Content"), await preview(file)),
  ];
}
