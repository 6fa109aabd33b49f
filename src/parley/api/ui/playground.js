// The playground: a request built in a form, sent streamed, its answer and events shown as they
// arrive; the next Send continues the chain (previous_response_id), answering any function calls
// or MCP approval requests the last response left; the request can be copied as curl or Python.
import { ApiError, api, authHeaders, failure, failureOf, h, pageSignal } from "./ui.js";
import { renderItem } from "./items.js";
import { responseLink } from "./responses.js";
import { answerWriter, raiseIfError, serverSentEvents } from "./sse.js";
import { FormProblem, formControls, requestOf } from "./playground_form.js";
import { snippetsSection } from "./playground_snippets.js";

const TERMINAL = ["response.completed", "response.incomplete", "response.failed"];

/** Aborted when either is: the page left, or Stop pressed. */
function either(first, second) {
  const both = new AbortController();
  for (const signal of [first, second]) {
    if (signal.aborted) both.abort();
    else signal.addEventListener("abort", () => both.abort(), { once: true });
  }
  return both.signal;
}

function outputText(response) {
  return (response.output ?? []).filter((item) => item.type === "message")
    .flatMap((item) => item.content ?? []).filter((part) => part.type === "output_text")
    .map((part) => part.text).join("\n\n");
}

function usageText(usage) {
  return usage ? `${usage.input_tokens} in, ${usage.output_tokens} out, ${usage.total_tokens} tokens` : "";
}

// --- What the last response asked back: function outputs to type, MCP calls to approve. ---

function callOutput(item) {
  const id = `pg-call-${item.call_id}`;
  const box = h("textarea", { id, rows: 2 });
  const node = h("div", { class: "pg-field" },
    h("label", { for: id }, `Output of ${item.name} (${item.call_id})`),
    h("code", { class: "muted" }, `${item.name}(${item.arguments})`), box);
  return { node, answer: () => ({ type: "function_call_output", call_id: item.call_id, output: box.value }) };
}

function approval(item) {
  const name = `pg-approve-${item.id}`;
  const choice = (value, label) => h("label", { class: "pg-check" }, h("input", { type: "radio", name, value }), ` ${label}`);
  const node = h("fieldset", { class: "pg-tool" },
    h("legend", {}, `Run ${item.name} on ${item.server_label}?`),
    h("code", { class: "muted" }, item.arguments ?? ""), " ", choice("yes", "Approve"), choice("no", "Deny"));
  const answer = () => {
    const picked = node.querySelector("input:checked");
    return picked ? { type: "mcp_approval_response", approval_request_id: item.id, approve: picked.value === "yes" } : null;
  };
  return { node, answer };
}

function askedBack(response) {
  return (response.output ?? []).map((item) => {
    if (item.type === "function_call") return callOutput(item);
    if (item.type === "mcp_approval_request") return approval(item);
    return null;
  }).filter(Boolean);
}

// --- The page. ---

function layout(controls) {
  const view = {
    continuing: h("p", { class: "muted" }),
    turns: h("ol", { class: "pg-turns" }),
    pending: h("div", { class: "pg-pending" }),
    problem: h("div", {}),
    send: h("button", { type: "submit" }, "Send"),
    stop: h("button", { type: "button", disabled: true }, "Stop"),
    fresh: h("button", { type: "button" }, "New chat"),
    status: h("p", { role: "status" }),
    live: h("div", { class: "pg-live", "aria-live": "polite", "aria-label": "Answer so far" }),
    result: h("div", {}),
    events: h("ol", { class: "pg-events" }),
    snippets: snippetsSection(),
  };
  view.form = h("form", { class: "pg-form", "aria-label": "Request" },
    view.pending, ...controls, view.problem,
    h("div", { class: "pg-actions" }, view.send, view.stop, view.fresh));
  return view;
}

function sections(view) {
  const section = (id, title, ...children) =>
    h("section", { "aria-labelledby": id }, h("h2", { id }, title), children);
  // Side by side on a wide screen: the form on the left, what came back on the right.
  return [
    h("h1", {}, "Playground"),
    view.continuing,
    h("div", { class: "pg-layout" },
      h("div", {}, view.form),
      h("div", {},
        section("pg-turns-heading", "Turns", view.turns),
        section("pg-answer-heading", "Answer", view.status, view.live, view.result),
        section("pg-events-heading", "Events", view.events))),
    view.snippets.section,
  ];
}

class Playground {
  constructor(view) {
    this.view = view;
    this.previous = null;
    this.asked = [];
    this.stopper = null;
  }

  /** The input of the next Send: the typed text, after the answers to what was asked back. */
  input() {
    const text = this.view.form.elements.input.value;
    const items = this.asked.map((asked) => asked.answer()).filter(Boolean);
    if (!items.length) return text.trim() ? text : undefined;
    if (text.trim()) items.push({ type: "message", role: "user", content: text });
    return items;
  }

  request() {
    return requestOf(this.view.form, this.input(), this.previous);
  }

  showSnippets() {
    try {
      this.view.snippets.show(this.request());
    } catch (error) {
      if (!(error instanceof FormProblem)) throw error;  // the alert comes with Send
    }
  }

  setAsked(asked) {
    this.asked = asked;
    const box = h("fieldset", { class: "pg-tools" }, h("legend", {}, "Answer the last response's calls"), asked.map((a) => a.node));
    this.view.pending.replaceChildren(...(asked.length ? [box] : []));
  }

  reset() {
    this.stopper?.abort();
    this.previous = null;
    this.setAsked([]);
    const { view } = this;
    for (const node of [view.continuing, view.turns, view.problem, view.status, view.live, view.result, view.events]) node.replaceChildren();
    if (location.hash.includes("?")) history.replaceState(null, "", "#/playground");
    this.showSnippets();
  }

  async submit() {
    this.view.problem.replaceChildren();
    let body;
    try {
      body = this.request();
      if (body.input === undefined) throw new FormProblem("Type an input (or answer the calls above) first.");
    } catch (error) {
      if (!(error instanceof FormProblem)) throw error;
      this.view.problem.replaceChildren(failure(error));
      return;
    }
    this.view.snippets.show(body);
    await this.run(body);
  }

  async run(body) {
    const { view } = this;
    this.stopper = new AbortController();
    const stopped = this.stopper.signal;
    view.send.disabled = true;
    view.stop.disabled = false;
    for (const node of [view.live, view.result, view.events]) node.replaceChildren();
    view.status.textContent = "Sending…";
    try {
      const final = await this.stream(body, either(pageSignal(), stopped));
      if (final) this.finish(body, final);
    } catch (error) {
      if (pageSignal().aborted) return;
      if (stopped.aborted) view.status.textContent = "Stopped.";
      else view.problem.replaceChildren(failure(error));
    } finally {
      view.send.disabled = false;
      view.stop.disabled = true;
    }
  }

  async stream(body, signal) {
    const headers = { ...authHeaders(), "Content-Type": "application/json" };
    const answer = await fetch("/v1/responses", { method: "POST", headers, body: JSON.stringify({ ...body, stream: true }), signal });
    if (!answer.ok) throw await failureOf(answer);
    const write = answerWriter(this.view.live);
    for await (const event of serverSentEvents(answer)) {
      this.log(event);
      if (event.type === "response.created") this.view.status.textContent = `${event.response.id}: ${event.response.status}…`;
      write(event);
      raiseIfError(event);
      if (TERMINAL.includes(event.type)) return event.response;
    }
    throw new ApiError(502, "The stream ended before the response did.");
  }

  log(event) {
    const json = h("pre", {});
    const entry = h("details", {}, h("summary", {}, h("code", {}, `#${event.sequence_number ?? "?"} ${event.type}`)), json);
    // The JSON is written only when opened: a long answer has hundreds of delta events.
    entry.addEventListener("toggle", () => { if (entry.open && !json.textContent) json.textContent = JSON.stringify(event, null, 2); });
    this.view.events.append(h("li", {}, entry));
  }

  finish(body, response) {
    const { view } = this;
    view.status.replaceChildren(responseLink(response.id), " · ",
      h("span", { class: `status-${response.status}` }, response.status),
      response.usage ? ` · ${usageText(response.usage)}` : "");
    if (response.error) view.problem.replaceChildren(failure(new ApiError(500, response.error.message)));
    view.result.replaceChildren(h("h3", {}, `Output (${response.output.length})`), ...response.output.map(renderItem));
    const asked = typeof body.input === "string" ? body.input : describeInput(body.input);
    this.addTurn(asked, response);
    const chained = body.store !== false && response.status !== "failed";
    if (chained) this.previous = response.id;
    if (body.store === false) {
      this.previous = null;  // nothing stored to continue from
      view.continuing.textContent = "That response was not stored: the next Send starts a new chain.";
    }
    this.setAsked(chained ? askedBack(response) : []);
    view.form.elements.input.value = "";
    this.showSnippets();
  }

  addTurn(asked, response) {
    const calls = (response.output ?? []).filter((item) => item.name).map((item) => `${item.type} ${item.name}(${item.arguments ?? ""})`);
    const answer = outputText(response) || calls.join(", ") || response.status;
    this.view.turns.append(h("li", { class: "pg-turn" },
      asked ? h("p", { class: "pg-asked" }, h("strong", {}, "You: "), asked) : null,
      h("p", {}, h("strong", {}, "Answer: "), answer, " (", responseLink(response.id), ")")));
  }

  /** Starts from a stored response, as the response page's "continue" link asks. */
  async continueFrom(id) {
    this.previous = id;
    this.view.continuing.replaceChildren("Continuing ", responseLink(id));
    try {
      const response = await api(`/v1/responses/${encodeURIComponent(id)}`);
      const model = this.view.form.elements.model;
      if ([...model.options].some((option) => option.value === response.model)) model.value = response.model;
      this.addTurn(null, response);
      this.setAsked(askedBack(response));
    } catch (error) {
      this.view.continuing.append(" ", failure(error));
    }
  }
}

function describeInput(items) {
  return items.map((item) => (item.type === "message" ? item.content
    : item.type === "function_call_output" ? `[output for ${item.call_id}] ${item.output}`
      : `[${item.approve ? "approved" : "denied"} ${item.approval_request_id}]`)).join(" · ");
}

function wire(playground) {
  const { view } = playground;
  view.form.addEventListener("submit", (event) => {
    event.preventDefault();
    playground.submit().catch((error) => view.problem.replaceChildren(failure(error)));
  });
  view.stop.addEventListener("click", () => playground.stopper?.abort());
  view.fresh.addEventListener("click", () => playground.reset());
  view.form.addEventListener("input", () => playground.showSnippets());
  view.form.addEventListener("change", () => playground.showSnippets());
}

export async function renderPlayground(params) {
  const view = layout(await formControls());
  const playground = new Playground(view);
  wire(playground);
  const previous = params.get("previous_response_id");
  if (previous) await playground.continueFrom(previous);
  playground.showSnippets();
  return sections(view);
}
