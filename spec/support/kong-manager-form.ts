// Kong Manager's plugin form (Kong's published Vue components, mounted by the spec/kong-manager
// sub-package) driven in Debian's Chromium through playwright-core. Both come from that sub-package,
// installed apart from the main one (npm ci --legacy-peer-deps --prefix spec/kong-manager), so the
// main package types only the part of Playwright it uses and loads it from there at run time.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { findNewestModification } from "./newest-modification";

/** The sub-package with the form page, its Vite build and playwright-core. */
const FORM_PACKAGE_DIRECTORY = join(__dirname, "..", "kong-manager");

/** Where the built page lands (gitignored, rebuilt when a source is newer). */
export const FORM_PAGE_DIRECTORY = join(FORM_PACKAGE_DIRECTORY, "dist");

/** Screenshots of the form, kept as test artifacts (spec/artifacts is gitignored). */
const FORM_ARTIFACTS_DIRECTORY = join(__dirname, "..", "artifacts", "kong-manager");

/** Debian's Chromium; KONG_MANAGER_TEST_CHROMIUM points elsewhere (a missing path makes the suite skip). */
const CHROMIUM_PATH = process.env["KONG_MANAGER_TEST_CHROMIUM"] ?? "/usr/bin/chromium";

// Headless and quiet: without the background-networking flags Chromium keeps calling Google services.
const CHROMIUM_ARGUMENTS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const BUILD_TIMEOUT_MS = 180_000;
const ACTION_TIMEOUT_MS = 15_000;
const PAGE_LOAD_TIMEOUT_MS = 30_000;

/** The Playwright Locator methods used here (playwright-core's own types live in the sub-package). */
interface Locator {
  click(): Promise<void>;
  check(): Promise<void>;
  fill(value: string): Promise<void>;
  inputValue(): Promise<string>;
  getAttribute(name: string): Promise<string | null>;
  locator(selector: string): Locator;
  isChecked(): Promise<boolean>;
  textContent(): Promise<string | null>;
  count(): Promise<number>;
  nth(index: number): Locator;
  waitFor(options?: { state?: "attached" | "visible" }): Promise<void>;
}

interface Page {
  goto(url: string, options: { timeout: number }): Promise<unknown>;
  locator(selector: string): Locator;
  getByText(text: string, options: { exact: boolean }): Locator;
  keyboard: { press(key: string): Promise<void> };
  screenshot(options: { path: string; fullPage: boolean }): Promise<unknown>;
  setDefaultTimeout(timeoutMs: number): void;
  on(event: "pageerror", listener: (error: Error) => void): void;
  on(event: "console", listener: (message: { type(): string; text(): string }) => void): void;
}

interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface Playwright {
  chromium: {
    launchPersistentContext(
      userDataDirectory: string,
      options: { executablePath: string; args: string[]; timeout: number; viewport: { width: number; height: number } },
    ): Promise<BrowserContext>;
  };
}

/** Why the form cannot be shown here, or undefined when Chromium and the sub-package are installed. */
export function findMissingFormPrerequisite(): string | undefined {
  if (!existsSync(CHROMIUM_PATH)) return `Chromium is not installed at ${CHROMIUM_PATH} (apt-get install chromium)`;
  const resolve = createRequire(join(FORM_PACKAGE_DIRECTORY, "package.json")).resolve;
  for (const dependency of ["vite/package.json", "playwright-core", "@kong-ui-public/entities-plugins"]) {
    try {
      resolve(dependency);
    } catch {
      return `spec/kong-manager is not installed (npm ci --legacy-peer-deps --prefix spec/kong-manager): ${dependency.replace("/package.json", "")} is missing`;
    }
  }
  return undefined;
}

/** Whether the built page is older than its sources or the installed packages. */
function isFormPageStale(): boolean {
  const builtPage = join(FORM_PAGE_DIRECTORY, "index.html");
  if (!existsSync(builtPage)) return true;
  const sources = ["index.html", "vite.config.ts", "src", "package-lock.json", join("node_modules", ".package-lock.json")];
  const newestSource = Math.max(...sources.map((source) => findNewestModification(join(FORM_PACKAGE_DIRECTORY, source))));
  return newestSource > statSync(builtPage).mtimeMs;
}

/**
 * Builds the page with the sub-package's Vite unless the last build is current; stops the build
 * after BUILD_TIMEOUT_MS and rejects with Vite's output on failure.
 */
export function buildFormPage(): Promise<void> {
  if (!isFormPageStale()) return Promise.resolve();
  const vite = join(dirname(createRequire(join(FORM_PACKAGE_DIRECTORY, "package.json")).resolve("vite/package.json")), "bin", "vite.js");
  return new Promise((resolve, reject) => {
    const build = spawn(process.execPath, [vite, "build"], { cwd: FORM_PACKAGE_DIRECTORY, stdio: ["ignore", "pipe", "pipe"] });
    const output: Buffer[] = [];
    build.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    build.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    const timer = setTimeout(() => build.kill("SIGKILL"), BUILD_TIMEOUT_MS);
    build.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    build.once("close", (exitCode, signal) => {
      clearTimeout(timer);
      if (exitCode === 0) resolve();
      else reject(new Error(`vite build ended with ${signal ?? `exit code ${String(exitCode)}`}:\n${Buffer.concat(output).toString("utf8").slice(-3000)}`));
    });
  });
}

/** `config-<field>` for a top-level field, `config-<array>-<field>-<index>` inside an array of records. */
export function formFieldId(path: readonly string[], index?: number): string {
  return ["config", ...path, ...(index === undefined ? [] : [String(index)])].join("-");
}

/**
 * The plugin form in a fresh Chromium profile. Reads what an operator sees (labels, the description
 * in each label's tooltip, input values) and edits it the way an operator does.
 */
export class KongManagerFormPage {
  /** Uncaught exceptions and console errors of the page, in order. */
  readonly pageErrors: string[] = [];

  private constructor(
    private readonly context: BrowserContext,
    private readonly page: Page,
    private readonly profileDirectory: string,
  ) {
    page.setDefaultTimeout(ACTION_TIMEOUT_MS);
    page.on("pageerror", (error) => this.pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") this.pageErrors.push(message.text());
    });
  }

  /** Opens the built page from `siteUrl`, talking to the Admin API at `adminApiUrl`, and waits for the form. */
  static async open(siteUrl: string, adminApiUrl: string): Promise<KongManagerFormPage> {
    const playwright = createRequire(join(FORM_PACKAGE_DIRECTORY, "package.json"))("playwright-core") as Playwright;
    const profileDirectory = mkdtempSync(join(tmpdir(), "mcp-oauth2-chromium-"));
    let context: BrowserContext;
    try {
      context = await playwright.chromium.launchPersistentContext(profileDirectory, {
        executablePath: CHROMIUM_PATH,
        args: CHROMIUM_ARGUMENTS,
        timeout: PAGE_LOAD_TIMEOUT_MS,
        viewport: { width: 1280, height: 900 },
      });
    } catch (error) {
      rmSync(profileDirectory, { recursive: true, force: true });
      throw error;
    }
    const form = new KongManagerFormPage(context, await context.newPage(), profileDirectory);
    await form.reload(siteUrl, adminApiUrl);
    return form;
  }

  /** Loads the form afresh; errors are counted from this load on. */
  async reload(siteUrl: string, adminApiUrl: string): Promise<void> {
    this.pageErrors.length = 0;
    await this.page.goto(`${siteUrl}/?adminApi=${encodeURIComponent(adminApiUrl)}`, { timeout: PAGE_LOAD_TIMEOUT_MS });
    await this.page.locator(`#${formFieldId(["metadata_path"])}`).waitFor();
  }

  async close(): Promise<void> {
    await this.context.close();
    rmSync(this.profileDirectory, { recursive: true, force: true });
  }

  /** The label text Kong generated for the field with this id. */
  async label(fieldId: string): Promise<string> {
    return ((await this.page.locator(`label[for="${fieldId}"] .icon-wrapper`).textContent()) ?? "").trim();
  }

  /** The text of the tooltip behind the label's info icon (Kong renders the description as Markdown). */
  async description(fieldId: string): Promise<string> {
    return ((await this.page.locator(`label[for="${fieldId}"] [role="tooltip"]`).textContent()) ?? "").trim();
  }

  async inputValue(fieldId: string): Promise<string> {
    return this.page.locator(`#${fieldId}`).inputValue();
  }

  /** The input's type attribute: "password" for fields Kong masks. */
  async inputType(fieldId: string): Promise<string | null> {
    return this.page.locator(`#${fieldId}`).getAttribute("type");
  }

  /** The text an operator reads in the field's own group: label, description, hints such as a vault lookup. */
  async fieldText(fieldId: string): Promise<string> {
    return ((await this.page.locator(`#${fieldId}`).locator("xpath=ancestor::div[contains(@class, 'form-group')][1]").textContent()) ?? "").trim();
  }

  /** Opens a one_of field's select and picks `value`. */
  async select(fieldId: string, value: string): Promise<void> {
    await this.page.locator(`#${fieldId}`).click();
    await this.page.locator(`[data-testid="${fieldId}-items"] button[value="${value}"]`).click();
  }

  async isChecked(fieldId: string): Promise<boolean> {
    return this.page.locator(`#${fieldId}`).isChecked();
  }

  /** How many entries an array field shows (each entry has at least one input). */
  async entryCount(fieldId: string): Promise<number> {
    return this.page.locator(`#${fieldId} .array-card-container, #${fieldId} .kong-form-array-field-item`).count();
  }

  /** Clicks the array field's "New Item" / "+ Add" button. */
  async addEntry(fieldId: string): Promise<void> {
    await this.page.locator(`[data-testid="add-${fieldId}"]`).click();
  }

  async fill(fieldId: string, value: string): Promise<void> {
    await this.page.locator(`#${fieldId}`).fill(value);
  }

  async check(fieldId: string): Promise<void> {
    await this.page.locator(`#${fieldId}`).check();
  }

  /** Adds one entry per value to an array of strings and types the values in. */
  async fillStrings(fieldId: string, values: readonly string[]): Promise<void> {
    const first = await this.entryCount(fieldId);
    for (const [offset, value] of values.entries()) {
      await this.addEntry(fieldId);
      await this.page.locator(`#${fieldId} input`).nth(first + offset).fill(value);
    }
  }

  /** Picks protocols in the Protocols multiselect, then closes it. */
  async selectProtocols(protocols: readonly string[]): Promise<void> {
    await this.page.locator("#protocols").click();
    for (const protocol of protocols) await this.page.locator(`[data-testid="protocols-items"] button[value="${protocol}"]`).click();
    await this.page.keyboard.press("Escape");
  }

  /** Expands "Show additional settings", where optional fields without a default are. */
  async showAdditionalSettings(): Promise<void> {
    await this.page.getByText("Show additional settings", { exact: true }).click();
  }

  /** Clicks Save and resolves to what the page reports: the saved plugin's line or the error. */
  async save(): Promise<string> {
    await this.page.locator('[data-testid="plugin-create-form-submit"]').click();
    const outcome = this.page.locator('[data-testid="plugin-saved"], [data-testid="plugin-form-error"]');
    await outcome.waitFor({ state: "visible" });
    return ((await outcome.textContent()) ?? "").trim();
  }

  /** The message Kong Manager's form shows in its danger alert after a save Kong refused. */
  async formError(): Promise<string> {
    return ((await this.page.locator('[data-testid="form-error"]').textContent()) ?? "").trim();
  }

  /** Writes a full-page screenshot to spec/artifacts/kong-manager/<name>.png. */
  async screenshot(name: string): Promise<void> {
    mkdirSync(FORM_ARTIFACTS_DIRECTORY, { recursive: true });
    await this.page.screenshot({ path: join(FORM_ARTIFACTS_DIRECTORY, `${name}.png`), fullPage: true });
  }
}
