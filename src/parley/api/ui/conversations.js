// Conversations: the owner's conversations a page at a time (GET /v1/conversations, Parley's
// extension, newest first), and one conversation with its items oldest first, as the model reads
// them on the next turn.
import { api, facts, failure, h, listPage, pager, when } from "./ui.js";
import { renderItem } from "./items.js";

const ITEMS_PAGE = 100;

function conversationLink(id) {
  return h("a", { href: `#/conversations/${encodeURIComponent(id)}` }, id);
}

/** Metadata as ``key: value`` lines; a conversation without any says so rather than showing nothing. */
function metadata(pairs) {
  const entries = Object.entries(pairs ?? {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "metadata" }, entries.map(([key, value]) => h("li", {}, `${key}: ${value}`)));
}

function conversationsTable(conversations, older) {
  const rows = conversations.map((conversation) =>
    h("tr", {},
      h("td", {}, conversationLink(conversation.id)),
      h("td", {}, when(conversation.created_at)),
      h("td", {}, metadata(conversation.metadata))));
  return h("table", { class: "conversations" },
    h("caption", {}, older ? "Older conversations" : "Newest conversations"),
    h("thead", {}, h("tr", {}, ["ID", "Created", "Metadata"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows));
}

export async function renderConversations(params) {
  const after = params.get("after");
  const page = await listPage("/v1/conversations", params);
  const empty = after
    ? "No older conversations."
    : "No conversations yet: create one with POST /v1/conversations, or send a response with a conversation.";
  return [
    h("h1", {}, "Conversations"),
    page.data.length ? conversationsTable(page.data, Boolean(after)) : h("p", { class: "muted" }, empty),
    pager("conversations", page, params),
  ];
}

function conversationFacts(conversation) {
  return facts([
    ["ID", conversation.id],
    ["Created", when(conversation.created_at)],
    ["Metadata", metadata(conversation.metadata)],
  ]);
}

function itemsPage(id, after) {
  const query = new URLSearchParams({ limit: String(ITEMS_PAGE), order: "asc" });
  if (after) query.set("after", after);
  return api(`/v1/conversations/${encodeURIComponent(id)}/items?${query}`);
}

/** The items, a page shown at once and a button for each further page: a conversation may hold
 * thousands of items, and the first hundred are what one usually opens it for. */
function itemsSection(id, first) {
  const heading = h("h2", { id: "items-heading" });
  const list = h("div", { class: "conversation-items" });
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { type: "button" }, "Load more items");
  const notice = h("div", {});
  let shown = 0;
  const show = (page) => {
    list.append(...page.data.map(renderItem));
    shown += page.data.length;
    heading.textContent = `Items (${shown}${page.has_more ? "+" : ""})`;
    status.textContent = page.has_more ? `Showing the first ${shown} items, oldest first.` : "";
    more.hidden = !page.has_more;
    more.dataset.after = page.last_id ?? "";
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      show(await itemsPage(id, more.dataset.after));
      notice.replaceChildren();
    } catch (error) {
      notice.replaceChildren(failure(error));
    } finally {
      more.disabled = false;
    }
  });
  show(first);
  const empty = shown ? null : h("p", { class: "muted" }, "This conversation has no items yet.");
  return h("section", { "aria-labelledby": "items-heading" }, heading, empty, list, status, more, notice);
}

export async function renderConversation(id) {
  const [conversation, first] = await Promise.all([
    api(`/v1/conversations/${encodeURIComponent(id)}`),
    itemsPage(id, null),
  ]);
  return [
    h("h1", {}, conversation.id),
    conversationFacts(conversation),
    h("p", {}, h("a", { href: "#/conversations" }, "All conversations")),
    itemsSection(conversation.id, first),
  ];
}
