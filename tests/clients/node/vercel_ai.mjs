// The Vercel AI SDK against Parley: `node vercel_ai.mjs <scenario>` with PARLEY_BASE_URL set.
// Prints one JSON line that tests/clients/test_vercel_ai.py checks; the upstream answers are
// scripted by the test. @ai-sdk/openai's `openai(model)` speaks the Responses API by default.
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, stepCountIs, streamText, tool } from "ai";
import { z } from "zod";

// Every request body the SDK sends, so the test sees what reached Parley and not only upstream.
const sent = [];
async function recordingFetch(url, init) {
  if (init?.method === "POST") sent.push(JSON.parse(init.body));
  return fetch(url, init);
}

const openai = createOpenAI({ baseURL: process.env.PARLEY_BASE_URL, apiKey: "test", fetch: recordingFetch });
const model = openai(process.env.PARLEY_MODEL ?? "fake-model");

const tools = {
  get_weather: tool({
    description: "Current weather for a city.",
    inputSchema: z.object({ city: z.string() }),
    execute: async ({ city }) => `${city}: 21 C and sunny`,
  }),
};

function summary(steps) {
  return steps.map((step) => ({
    finishReason: step.finishReason,
    toolCalls: step.toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input })),
    toolResults: step.toolResults.map((r) => ({ id: r.toolCallId, output: r.output })),
    text: step.text,
    responseId: step.response.id,
  }));
}

async function generate(prompt) {
  const result = await generateText({ model, tools, prompt, stopWhen: stepCountIs(3), maxRetries: 0 });
  return { text: result.text, usage: result.totalUsage, steps: summary(result.steps), sent };
}

async function stream(prompt) {
  const result = streamText({ model, tools, prompt, stopWhen: stepCountIs(3), maxRetries: 0 });
  const parts = [];
  const deltas = [];
  for await (const part of result.fullStream) {
    if (part.type === "error") throw part.error;
    parts.push(part.type);
    if (part.type === "text-delta") deltas.push(part.text);
  }
  return { text: await result.text, deltas, parts, steps: summary(await result.steps), sent };
}

const scenarios = { generate, stream };
const [name, prompt] = process.argv.slice(2);
const out = await scenarios[name](prompt);
process.stdout.write(JSON.stringify(out) + "\n");
