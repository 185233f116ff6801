// The Vercel AI SDK (ai + @ai-sdk/openai) against qlaud: prints one JSON line with what each call got back.
//
//   QLAUD_URL=http://127.0.0.1:PORT QLAUD_KEY=qk_... node gateway/tests/clients/ai_sdk.mjs
//
// Models (catalog ids): MODEL_TEXT (plain text), MODEL_TOOL (answers with a tool call), MODEL_AGENT (a tool call,
// then text once the tool result comes back). Packages come from .tools/node_modules (QLAUD_TOOLS overrides it):
//   npm install --prefix .tools --no-audit --no-fund ai @ai-sdk/openai zod
// Node's ESM loader ignores NODE_PATH, so the packages are loaded through createRequire (their CommonJS builds).
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const tools = process.env.QLAUD_TOOLS || path.resolve(here, "../../../.tools");
const require = createRequire(path.join(tools, "package.json"));
const { generateText, streamText, tool, stepCountIs } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");
const { z } = require("zod");

const env = (name, fallback) => process.env[name] || fallback;
const openai = createOpenAI({ baseURL: env("QLAUD_URL") + "/v1", apiKey: env("QLAUD_KEY") });
const TEXT = env("MODEL_TEXT", "m-text");
const TOOL = env("MODEL_TOOL", "m-tool");
const AGENT = env("MODEL_AGENT", "m-agent");

const weather = (execute) =>
  tool({
    description: "The weather in a city.",
    inputSchema: z.object({ city: z.string() }),
    ...(execute ? { execute } : {}),
  });
const calls = (toolCalls) => toolCalls.map((c) => ({ id: c.toolCallId, name: c.toolName, input: c.input }));

const steps = {
  // openai(MODEL) speaks the Responses API (POST /v1/responses).
  async generate() {
    const r = await generateText({ model: openai(TEXT), prompt: "hi", maxRetries: 0 });
    return { text: r.text, finishReason: r.finishReason, usage: r.usage };
  },
  async stream() {
    const r = streamText({ model: openai(TEXT), prompt: "hi", maxRetries: 0, onError: () => {} });
    const deltas = [];
    for await (const delta of r.textStream) deltas.push(delta);
    return { text: await r.text, deltas: deltas.length, finishReason: await r.finishReason, usage: await r.usage };
  },
  async tool() {
    const r = await generateText({
      model: openai(TOOL),
      prompt: "What is the weather in Paris?",
      tools: { get_weather: weather() },
      maxRetries: 0,
    });
    return { toolCalls: calls(r.toolCalls), finishReason: r.finishReason };
  },
  async streamTool() {
    const r = streamText({
      model: openai(TOOL),
      prompt: "What is the weather in Paris?",
      tools: { get_weather: weather() },
      maxRetries: 0,
      onError: () => {},
    });
    for await (const _ of r.fullStream);
    return { toolCalls: calls(await r.toolCalls), finishReason: await r.finishReason };
  },
  // Two steps: the second request resends the history (input messages without a `type`, the function_call and
  // its function_call_output).
  async agent() {
    const r = await generateText({
      model: openai(AGENT),
      prompt: "What is the weather in Paris?",
      tools: { get_weather: weather(async ({ city }) => `Sunny in ${city}.`) },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    return {
      text: r.text,
      steps: r.steps.length,
      toolCalls: calls(r.steps[0].toolCalls),
      toolResults: r.steps[0].toolResults.map((t) => t.output),
    };
  },
  // A conversation with a system prompt and an earlier assistant turn (sent as input messages without a `type`).
  async history() {
    const r = await generateText({
      model: openai(TEXT),
      system: "Be brief.",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "again" },
      ],
      maxRetries: 0,
    });
    return { text: r.text, finishReason: r.finishReason, usage: r.usage };
  },
  // openai.chat(MODEL) speaks Chat Completions (POST /v1/chat/completions).
  async chat() {
    const r = await generateText({ model: openai.chat(TEXT), prompt: "hi", maxRetries: 0 });
    return { text: r.text, finishReason: r.finishReason, usage: r.usage };
  },
};

const only = (process.env.STEPS || Object.keys(steps).join(",")).split(",");
const out = {};
for (const name of only) {
  try {
    out[name] = await steps[name]();
  } catch (error) {
    out[name] = { error: String(error?.message || error), status: error?.statusCode, body: error?.responseBody };
  }
}
process.stdout.write(JSON.stringify(out) + "\n");
