// A stand-in for the browser that mcp-remote opens (its BROWSER): signs in on the authorization
// server's page as the next user of HEADLESS_BROWSER_USERS (a JSON array of {username, password};
// HEADLESS_BROWSER_STATE counts the sign-ins) and delivers the redirect to mcp-remote's callback.
import { readFileSync, writeFileSync } from "node:fs";
import { loginHeadlessly, type LoginCredentials } from "./headless-login";

async function main(): Promise<void> {
  const [authorizationUrl] = process.argv.slice(2);
  const { HEADLESS_BROWSER_USERS: usersJson, HEADLESS_BROWSER_STATE: stateFile } = process.env;
  if (authorizationUrl === undefined || usersJson === undefined || stateFile === undefined) throw new Error("usage: BROWSER=<this> with HEADLESS_BROWSER_USERS and HEADLESS_BROWSER_STATE set");
  let signIns = 0;
  try {
    signIns = Number(readFileSync(stateFile, "utf8"));
  } catch {
    // No sign-in yet.
  }
  const users = JSON.parse(usersJson) as LoginCredentials[];
  const user = users[signIns];
  if (user === undefined) throw new Error(`sign-in number ${signIns + 1} was not expected`);
  writeFileSync(stateFile, String(signIns + 1));
  const { redirectUrl } = await loginHeadlessly(authorizationUrl, user);
  const delivered = await fetch(redirectUrl, { signal: AbortSignal.timeout(15_000) });
  await delivered.body?.cancel();
}

main().catch((error: unknown) => {
  console.error(`headless browser: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
