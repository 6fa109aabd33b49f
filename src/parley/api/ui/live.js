// A background response still running, watched as it runs: its stream resumed from the start
// (GET /v1/responses/<id>?stream=true), the answer growing as it is written. When the stream ends
// the page shows the stored response. One created without stream=true kept no events to resume,
// so its status is polled instead.
import { api, authHeaders, failure, failureOf, h, pageSignal, refresh } from "./ui.js";
import { answerWriter, raiseIfError, serverSentEvents } from "./sse.js";

const RUNNING = ["queued", "in_progress"];
const POLL_MS = 500;

export function liveSection(response) {
  if (!response.background || !RUNNING.includes(response.status)) return null;
  const state = h("p", { role: "status" }, `${response.status}; watching…`);
  const text = h("div", { class: "live-text", role: "log", "aria-label": "Answer so far" });
  const cancel = h("button", { type: "button", onclick: () => cancelResponse(response.id, state) }, "Cancel");
  watch(response.id, text, state);
  return h("section", { "aria-labelledby": "live-heading", class: "live" },
    h("h2", { id: "live-heading" }, "Live"), state, text, cancel);
}

async function watch(id, text, state) {
  const signal = pageSignal();
  try {
    const stream = await fetch(`/v1/responses/${encodeURIComponent(id)}?stream=true`, { headers: authHeaders(), signal });
    if (stream.ok) await follow(stream, text, state);
    else if (stream.status === 400) await poll(id, state, signal);
    else throw await failureOf(stream);
    if (!signal.aborted) refresh();
  } catch (error) {
    if (!signal.aborted) state.replaceWith(failure(error));
  }
}

async function follow(stream, text, state) {
  let count = 0;
  const write = answerWriter(text);
  for await (const event of serverSentEvents(stream)) {
    count += 1;
    write(event);
    raiseIfError(event);
    state.textContent = `${event.type} (${count} events)`;
  }
}

async function poll(id, state, signal) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (signal.aborted) return;
    const found = await api(`/v1/responses/${encodeURIComponent(id)}`, { signal });
    if (!RUNNING.includes(found.status)) return;
    state.textContent = `${found.status}; checking every ${POLL_MS / 1000} s…`;
  }
}

async function cancelResponse(id, state) {
  try {
    await api(`/v1/responses/${encodeURIComponent(id)}/cancel`, { method: "POST" });
    state.textContent = "Cancelling…";
  } catch (error) {
    state.replaceWith(failure(error));
  }
}
