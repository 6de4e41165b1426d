"""The differential catalogue on the MCP Python SDK: MCPServer's Streamable HTTP app, stateless,
under uvicorn on 127.0.0.1.

Usage: python server.py --ran-log <file>; prints "listening <port> mcp <version>" once bound.
Every request that reaches the app, every handler the SDK dispatches and every catalogue entry that
runs is appended to the ran log (see spec/differential/ran-log.ts for the format).
"""

import argparse
import contextvars
import importlib.metadata
import json
import socket
import threading
from pathlib import Path

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp_types import EmptyResult, SubscribeRequestParams, UnsubscribeRequestParams

CASE_HEADER = "x-differential-case"
ITEM_MEMBER = {
    "tools/call": "name",
    "prompts/get": "name",
    "resources/read": "uri",
    "resources/subscribe": "uri",
    "resources/unsubscribe": "uri",
}
REQUEST_METHODS = [
    "ping", "server/discover", "prompts/list", "prompts/get", "resources/list", "resources/templates/list",
    "resources/read", "resources/subscribe", "resources/unsubscribe", "subscriptions/listen", "tools/list",
    "tools/call", "logging/setLevel", "completion/complete",
]
NOTIFICATION_METHODS = ["notifications/roots/list_changed", "notifications/progress"]

parser = argparse.ArgumentParser()
parser.add_argument("--ran-log", required=True)
arguments = parser.parse_args()
catalogue = json.loads((Path(__file__).parent.parent / "catalogue.json").read_text())
log_lock = threading.Lock()
log_file = open(arguments.ran_log, "a", encoding="utf-8")
# The case of the message being dispatched: set by the dispatch wrapper, read by catalogue entries
# that run inside it (static resources get no Context).
current_case = contextvars.ContextVar("current_case", default="untagged")


def record(case, event, method, item=None):
    entry = {"case": case, "event": event, "method": method}
    if isinstance(item, str):
        entry["item"] = item
    with log_lock:
        log_file.write(json.dumps(entry) + "\n")
        log_file.flush()


def case_of_headers(headers):
    return headers.get(CASE_HEADER, "untagged") if headers is not None else "untagged"


mcp = MCPServer("differential-python", log_level="WARNING")


def add_tool(name, description):
    def run(city: str = "", ctx: Context = None) -> str:
        record(current_case.get(), "served", "tools/call", name)
        return f"{name} ran"

    mcp.add_tool(run, name=name, description=description)


def add_resource(uri, text):
    def read() -> str:
        record(current_case.get(), "served", "resources/read", uri)
        return text

    mcp.resource(uri, name=uri.rsplit("/", 1)[-1], mime_type="text/plain")(read)


def add_template(uri_template, name):
    def read(name: str) -> str:
        uri = uri_template.replace("{name}", name)
        record(current_case.get(), "served", "resources/read", uri)
        return f"{uri_template} file"

    mcp.resource(uri_template, name=name, mime_type="text/plain")(read)


def add_prompt(name, description):
    def get() -> str:
        record(current_case.get(), "served", "prompts/get", name)
        return description

    mcp.prompt(name=name, description=description)(get)


for tool in catalogue["tools"]:
    add_tool(tool["name"], tool["description"])
for resource in catalogue["resources"]:
    add_resource(resource["uri"], resource["text"])
for template in catalogue["resourceTemplates"]:
    add_template(template["uriTemplate"], template["name"])
for prompt in catalogue["prompts"]:
    add_prompt(prompt["name"], prompt["description"])

# MCPServer reaches its handlers through this low-level server (no public accessor).
lowlevel = mcp._lowlevel_server


async def accept_subscription(ctx, params):
    return EmptyResult()


lowlevel.add_request_handler("resources/subscribe", SubscribeRequestParams, accept_subscription)
lowlevel.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, accept_subscription)


def wrap_handler(method, handler):
    async def dispatch(ctx, params):
        case = case_of_headers(getattr(ctx.request, "headers", None))
        current_case.set(case)
        member = ITEM_MEMBER.get(method)
        record(case, "dispatch", method, getattr(params, member, None) if member else None)
        return await handler(ctx, params)

    return dispatch


for method in REQUEST_METHODS:
    entry = lowlevel.get_request_handler(method)
    if entry is not None:
        lowlevel.add_request_handler(method, entry.params_type, wrap_handler(method, entry.handler))
for method in NOTIFICATION_METHODS:
    entry = lowlevel.get_notification_handler(method)
    if entry is not None:
        lowlevel.add_notification_handler(method, entry.params_type, wrap_handler(method, entry.handler))


async def record_initialize(ctx, call_next):
    """initialize and notifications/initialized are the runner's own: observed here, after they succeed."""
    result = await call_next(ctx)
    if ctx.method in ("initialize", "notifications/initialized"):
        record(case_of_headers(getattr(ctx.request, "headers", None)), "dispatch", ctx.method)
    return result


mcp.middleware.append(record_initialize)
app = mcp.streamable_http_app(stateless_http=True, json_response=True)


async def recorded_app(scope, receive, send):
    if scope["type"] == "http":
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        record(headers.get(CASE_HEADER, "untagged"), "http", scope["method"])
    await app(scope, receive, send)


listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
server = uvicorn.Server(uvicorn.Config(recorded_app, log_level="warning", lifespan="on"))
original_startup = server.startup


async def startup(sockets=None):
    await original_startup(sockets=sockets)
    print(f"listening {listener.getsockname()[1]} mcp {importlib.metadata.version('mcp')}", flush=True)


server.startup = startup
server.run(sockets=[listener])
