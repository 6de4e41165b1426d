import { createHash } from "node:crypto";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult, GetPromptResult } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";

/** What the catalog needs to know about the server it runs in. */
export interface CatalogContext {
  /** Number of open MCP sessions, for `admin_list_sessions`. */
  readonly countSessions: () => number;
}

/** Request headers that identify the caller to the gateway and must never be echoed back. */
const CREDENTIAL_HEADERS = new Set(["authorization", "cookie", "proxy-authorization"]);

const WEATHER_CONDITIONS = ["clear", "partly cloudy", "overcast", "light rain", "showers", "windy"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const ISO_DATE = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date as YYYY-MM-DD");

/**
 * Registers the demo's 22 tools, 3 resources and 3 prompts. Tool names share a prefix per group
 * (`weather_`, `math_`, `text_`, `time_`, `units_`, `hash_`, `identity_`, `admin_`) so that
 * tool-name globs such as `tools/call:weather_*` or `tools/call:admin_*` select whole groups.
 * Every tool is deterministic except `time_now`, and none has side effects.
 */
export function registerDemoCatalog(server: McpServer, context: CatalogContext): void {
  registerWeatherTools(server);
  registerMathTools(server);
  registerTextTools(server);
  registerTimeTools(server);
  registerUnitAndHashTools(server);
  registerIdentityAndAdminTools(server, context);
  registerResources(server);
  registerPrompts(server);
}

function registerWeatherTools(server: McpServer): void {
  server.registerTool(
    "weather_current",
    { description: "Current weather for a city (simulated, stable per city).", inputSchema: { city: z.string().min(1) } },
    ({ city }) => reply(`${city}: ${simulateWeather(city, 0)}`),
  );
  server.registerTool(
    "weather_forecast",
    {
      description: "Daily forecast for a city (simulated, stable per city).",
      inputSchema: { city: z.string().min(1), days: z.number().int().min(1).max(7).default(3) },
    },
    ({ city, days }) => reply(Array.from({ length: days }, (_, day) => `Day ${day + 1}: ${simulateWeather(city, day + 1)}`).join("\n")),
  );
  server.registerTool(
    "weather_alerts",
    { description: "Active weather alerts for a region (simulated).", inputSchema: { region: z.string().min(1) } },
    ({ region }) => reply(seedOf(region) % 3 === 0 ? `Wind advisory for ${region} until 18:00.` : `No active alerts for ${region}.`),
  );
}

function registerMathTools(server: McpServer): void {
  const operands = { a: z.number(), b: z.number() };
  server.registerTool("math_add", { description: "a + b", inputSchema: operands }, ({ a, b }) => reply(String(a + b)));
  server.registerTool("math_subtract", { description: "a - b", inputSchema: operands }, ({ a, b }) => reply(String(a - b)));
  server.registerTool("math_multiply", { description: "a × b", inputSchema: operands }, ({ a, b }) => reply(String(a * b)));
  server.registerTool("math_divide", { description: "a ÷ b", inputSchema: operands }, ({ a, b }) =>
    b === 0 ? fail("division by zero") : reply(String(a / b)),
  );
  server.registerTool(
    "math_power",
    { description: "base raised to exponent", inputSchema: { base: z.number(), exponent: z.number() } },
    ({ base, exponent }) => reply(String(base ** exponent)),
  );
}

function registerTextTools(server: McpServer): void {
  const input = { text: z.string() };
  server.registerTool("text_reverse", { description: "Reverses the characters of a text.", inputSchema: input }, ({ text }) =>
    reply([...text].reverse().join("")),
  );
  server.registerTool("text_uppercase", { description: "Upper-cases a text.", inputSchema: input }, ({ text }) => reply(text.toUpperCase()));
  server.registerTool("text_lowercase", { description: "Lower-cases a text.", inputSchema: input }, ({ text }) => reply(text.toLowerCase()));
  server.registerTool("text_word_count", { description: "Counts the words of a text.", inputSchema: input }, ({ text }) =>
    reply(String(text.split(/\s+/).filter(Boolean).length)),
  );
  server.registerTool("text_slugify", { description: "Turns a text into a URL slug.", inputSchema: input }, ({ text }) =>
    reply(
      text
        .normalize("NFKD")
        .replace(/[\u0300-\u036f]/g, "")
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, "-")
        .replace(/^-|-$/g, ""),
    ),
  );
}

function registerTimeTools(server: McpServer): void {
  server.registerTool(
    "time_now",
    { description: "The current time in an IANA time zone.", inputSchema: { timezone: z.string().default("UTC") } },
    ({ timezone }) => {
      try {
        return reply(`${new Date().toLocaleString("sv-SE", { timeZone: timezone })} (${timezone})`);
      } catch {
        return fail(`unknown time zone: ${timezone}`);
      }
    },
  );
  server.registerTool(
    "time_add_days",
    { description: "Adds (or subtracts) days to a date.", inputSchema: { date: ISO_DATE, days: z.number().int() } },
    ({ date, days }) => {
      const day = parseIsoDate(date);
      if (day === undefined) return fail(`not a calendar date: ${date}`);
      day.setUTCDate(day.getUTCDate() + days);
      return reply(day.toISOString().slice(0, 10));
    },
  );
  server.registerTool("time_day_of_week", { description: "The weekday of a date.", inputSchema: { date: ISO_DATE } }, ({ date }) => {
    const day = parseIsoDate(date);
    return day === undefined ? fail(`not a calendar date: ${date}`) : reply(WEEKDAYS[day.getUTCDay()] ?? "");
  });
}

function registerUnitAndHashTools(server: McpServer): void {
  server.registerTool(
    "units_celsius_to_fahrenheit",
    { description: "Converts °C to °F.", inputSchema: { celsius: z.number() } },
    ({ celsius }) => reply(String((celsius * 9) / 5 + 32)),
  );
  server.registerTool(
    "units_kilometers_to_miles",
    { description: "Converts kilometres to miles.", inputSchema: { kilometers: z.number() } },
    ({ kilometers }) => reply(String(Math.round((kilometers / 1.609344) * 1000) / 1000)),
  );
  server.registerTool("hash_sha256", { description: "SHA-256 of a UTF-8 text, hex-encoded.", inputSchema: { text: z.string() } }, ({ text }) =>
    reply(createHash("sha256").update(text, "utf8").digest("hex")),
  );
}

function registerIdentityAndAdminTools(server: McpServer, context: CatalogContext): void {
  server.registerTool(
    "identity_whoami",
    { description: "The request headers this server received (credentials withheld): what the gateway forwards upstream." },
    (extra) => {
      const headers = Object.entries(extra.requestInfo?.headers ?? {}).map(([name, value]) =>
        CREDENTIAL_HEADERS.has(name.toLowerCase()) ? [name, "(withheld)"] : [name, value],
      );
      return reply(JSON.stringify(Object.fromEntries(headers), null, 2));
    },
  );
  server.registerTool("admin_clear_cache", { description: "Clears the server cache (the demo keeps none)." }, () =>
    reply("Cache cleared: 0 entries removed."),
  );
  server.registerTool("admin_list_sessions", { description: "Counts the open MCP sessions." }, () =>
    reply(`${context.countSessions()} open session(s)`),
  );
}

function registerResources(server: McpServer): void {
  server.registerResource(
    "readme",
    "docs://readme",
    { title: "Demo README", description: "What this demo MCP server offers.", mimeType: "text/markdown" },
    (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: "text/markdown",
          text: [
            "# mcp-oauth2 demo server",
            "",
            "22 tools in groups: weather_, math_, text_, time_, units_, hash_, identity_, admin_.",
            "Resources: docs://readme, docs://changelog, config://app. Prompts: summarize_text, weather_report, explain_scopes.",
            "The gateway in front of this server checks every request; the server itself trusts it.",
          ].join("\n"),
        },
      ],
    }),
  );
  server.registerResource(
    "changelog",
    "docs://changelog",
    { title: "Changelog", mimeType: "text/markdown" },
    (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/markdown", text: "## 1.0.0\n\n- First demo release." }] }),
  );
  server.registerResource(
    "app-config",
    "config://app",
    { title: "Application configuration", mimeType: "application/json" },
    (uri) => ({
      contents: [
        {
          uri: uri.href,
          mimeType: "application/json",
          text: JSON.stringify({ name: "mcp-oauth2-demo", version: "1.0.0", units: "metric", defaultTimezone: "UTC" }, null, 2),
        },
      ],
    }),
  );
}

function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    "summarize_text",
    { description: "Asks for a three-sentence summary of a text.", argsSchema: { text: z.string() } },
    ({ text }) => askUser(`Summarize the following text in three sentences:\n\n${text}`),
  );
  server.registerPrompt(
    "weather_report",
    { description: "Asks for a weather report built with the weather_ tools.", argsSchema: { city: z.string() } },
    ({ city }) => askUser(`Use weather_current, weather_forecast and weather_alerts to write a short weather report for ${city}.`),
  );
  server.registerPrompt("explain_scopes", { description: "Asks what the mcp:tools and mcp:resources scopes allow." }, () =>
    askUser("Explain what the OAuth scopes mcp:tools and mcp:resources allow on this server."),
  );
}

function reply(text: string): CallToolResult {
  return { content: [{ type: "text", text }] };
}

function fail(message: string): CallToolResult {
  return { content: [{ type: "text", text: message }], isError: true };
}

function askUser(text: string): GetPromptResult {
  return { messages: [{ role: "user", content: { type: "text", text } }] };
}

/** A small stable number per name, so simulated weather stays the same across calls and runs. */
function seedOf(name: string): number {
  return [...name.toLowerCase()].reduce((sum, character) => (sum * 31 + character.charCodeAt(0)) % 9973, 7);
}

function simulateWeather(city: string, day: number): string {
  const seed = seedOf(city) + day * 17;
  const condition = WEATHER_CONDITIONS[seed % WEATHER_CONDITIONS.length] ?? "clear";
  return `${8 + (seed % 20)}°C, ${condition}`;
}

function parseIsoDate(date: string): Date | undefined {
  const day = new Date(`${date}T00:00:00Z`);
  return Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== date ? undefined : day;
}
