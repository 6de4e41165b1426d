"""The MCP Python SDK's own OAuth client (OAuthClientProvider) through the gate, driven over stdio.

Usage: python oauth_client.py --mcp-url <url> --redirect-uri <uri>

Discovery (RFC 9728), dynamic registration and the authorization code flow with PKCE are the SDK's.
The browser is the caller's: for each authorization the script prints `authorize <url>` and reads
one line back, the redirect the browser was sent to. It then lists the tools, calls weather_now,
reads file:///srv/public/readme.txt (a 403 at first, which the SDK answers with a step-up) and
prints one `result <json>` line per step, then `done`.
"""

import argparse
import asyncio
import json
import sys
from urllib.parse import parse_qs, urlparse

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

parser = argparse.ArgumentParser()
parser.add_argument("--mcp-url", required=True)
parser.add_argument("--redirect-uri", required=True)
arguments = parser.parse_args()


class MemoryStorage:
    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def emit(kind, value):
    print(f"{kind} {value}", flush=True)


redirects = []


async def open_browser(authorization_url: str) -> None:
    emit("authorize", authorization_url)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    redirects.append(line.strip())


async def receive_callback() -> AuthorizationCodeResult:
    query = parse_qs(urlparse(redirects[-1]).query)
    return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0], iss=query.get("iss", [None])[0])


async def main() -> None:
    storage = MemoryStorage()
    provider = OAuthClientProvider(
        server_url=arguments.mcp_url,
        client_metadata=OAuthClientMetadata(
            client_name="mcp-oauth2 differential Python client",
            redirect_uris=[arguments.redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=open_browser,
        callback_handler=receive_callback,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
        async with Client(streamable_http_client(arguments.mcp_url, http_client=http)) as client:
            tools = await client.list_tools()
            emit("result", json.dumps({"step": "tools/list", "tools": sorted(tool.name for tool in tools.tools)}))
            called = await client.call_tool("weather_now", {"city": "Lyon"})
            emit("result", json.dumps({"step": "tools/call", "text": called.content[0].text, "scope": storage.tokens.scope}))
            read = await client.read_resource("file:///srv/public/readme.txt")
            emit("result", json.dumps({"step": "resources/read", "text": read.contents[0].text, "scope": storage.tokens.scope}))
    emit("done", json.dumps({"client_id": storage.client_info.client_id}))


asyncio.run(main())
