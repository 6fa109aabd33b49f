// Server-sent events read from a fetch Response as they arrive (EventSource cannot send the key).
// Events may be split across chunks or share one; each ends at a blank line.
import { ApiError } from "./ui.js";

/** Yields each event's parsed JSON data (the Responses API's events carry their type inside). */
export async function* serverSentEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const data = dataOf(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (data !== null && data !== "[DONE]") yield JSON.parse(data);
    }
  }
}

function dataOf(block) {
  const lines = block.split("\n").filter((line) => line.startsWith("data:"));
  if (!lines.length) return null;
  return lines.map((line) => line.slice(line.startsWith("data: ") ? 6 : 5)).join("\n");
}

/** A writer of an answer as it streams: ``write(event)`` appends each text delta to ``node``, a
 * blank line between output items. */
export function answerWriter(node) {
  let output = null;
  return (event) => {
    if (event.type !== "response.output_text.delta") return;
    if (output !== null && output !== event.output_index) node.append("\n\n");
    output = event.output_index;
    node.append(event.delta);
  };
}

/** Throws what an ``error`` event reports (the stream ends with it); other events pass. */
export function raiseIfError(event) {
  if (event.type === "error") throw new ApiError(500, event.message ?? event.error?.message ?? "The stream failed.");
}
