// The differential catalogue on the MCP Go SDK: its Streamable HTTP handler, stateless, on
// 127.0.0.1. Built once per module file by spec/differential/upstreams/install.ts: go.mod (the
// current release), go-v1.3.0.mod (before the SDK decoded member names case-sensitively) and
// go-v1.4.0.mod (before it stopped reading "name\u0000" as "name").
//
// Usage: server --catalogue <catalogue.json> --ran-log <file>; prints
// "listening <port> github.com/modelcontextprotocol/go-sdk <version>" once bound. Every request that reaches
// the handler, every method the SDK dispatches and every catalogue entry that runs is appended to
// the ran log (see spec/differential/ran-log.ts for the format).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const caseHeader = "X-Differential-Case"

// itemMember names the params member that carries the item of an item-carrying method.
var itemMember = map[string]string{
	"tools/call":            "name",
	"prompts/get":           "name",
	"resources/read":        "uri",
	"resources/subscribe":   "uri",
	"resources/unsubscribe": "uri",
}

type catalogue struct {
	Tools []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tools"`
	Resources []struct {
		URI  string `json:"uri"`
		Name string `json:"name"`
		Text string `json:"text"`
	} `json:"resources"`
	ResourceTemplates []struct {
		URITemplate string `json:"uriTemplate"`
		Name        string `json:"name"`
	} `json:"resourceTemplates"`
	Prompts []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"prompts"`
}

type ranLog struct {
	mu   sync.Mutex
	file *os.File
}

func (l *ranLog) record(caseID, event, method, item string) {
	entry := map[string]string{"case": caseID, "event": event, "method": method}
	if item != "" {
		entry["item"] = item
	}
	line, _ := json.Marshal(entry)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, err := l.file.Write(append(line, '\n')); err != nil {
		log.Fatalf("ran log: %v", err)
	}
}

func caseOf(header http.Header) string {
	if value := header.Get(caseHeader); value != "" {
		return value
	}
	return "untagged"
}

func caseOfRequest(req mcp.Request) string {
	if extra := req.GetExtra(); extra != nil {
		return caseOf(extra.Header)
	}
	return "untagged"
}

// itemOf reads the item from the params as the SDK decoded them, by marshalling them back: the
// same on every SDK version, whatever its params types.
func itemOf(method string, params mcp.Params) string {
	member, ok := itemMember[method]
	if !ok || params == nil {
		return ""
	}
	encoded, err := json.Marshal(params)
	if err != nil {
		return ""
	}
	var decoded map[string]any
	if json.Unmarshal(encoded, &decoded) != nil {
		return ""
	}
	item, _ := decoded[member].(string)
	return item
}

type cityInput struct {
	City string `json:"city,omitempty"`
}

func newServer(entries catalogue, ran *ranLog) *mcp.Server {
	acceptSubscription := func(context.Context, *mcp.SubscribeRequest) error { return nil }
	acceptUnsubscription := func(context.Context, *mcp.UnsubscribeRequest) error { return nil }
	server := mcp.NewServer(&mcp.Implementation{Name: "differential-go", Version: "1.0.0"}, &mcp.ServerOptions{
		SubscribeHandler:   acceptSubscription,
		UnsubscribeHandler: acceptUnsubscription,
	})
	for _, tool := range entries.Tools {
		name := tool.Name
		mcp.AddTool(server, &mcp.Tool{Name: name, Description: tool.Description}, func(_ context.Context, req *mcp.CallToolRequest, _ cityInput) (*mcp.CallToolResult, any, error) {
			ran.record(caseOfRequest(req), "served", "tools/call", name)
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: name + " ran"}}}, nil, nil
		})
	}
	readResource := func(text string) mcp.ResourceHandler {
		return func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			ran.record(caseOfRequest(req), "served", "resources/read", req.Params.URI)
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: req.Params.URI, MIMEType: "text/plain", Text: text}}}, nil
		}
	}
	for _, resource := range entries.Resources {
		server.AddResource(&mcp.Resource{URI: resource.URI, Name: resource.Name, MIMEType: "text/plain"}, readResource(resource.Text))
	}
	for _, template := range entries.ResourceTemplates {
		server.AddResourceTemplate(&mcp.ResourceTemplate{URITemplate: template.URITemplate, Name: template.Name, MIMEType: "text/plain"}, readResource(template.Name+" file"))
	}
	for _, prompt := range entries.Prompts {
		name, description := prompt.Name, prompt.Description
		server.AddPrompt(&mcp.Prompt{Name: name, Description: description}, func(_ context.Context, req *mcp.GetPromptRequest) (*mcp.GetPromptResult, error) {
			ran.record(caseOfRequest(req), "served", "prompts/get", name)
			return &mcp.GetPromptResult{Messages: []*mcp.PromptMessage{{Role: "user", Content: &mcp.TextContent{Text: description}}}}, nil
		})
	}
	// Receiving middleware sees every request and notification after the SDK decoded it, right
	// before its handler runs.
	server.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			ran.record(caseOfRequest(req), "dispatch", method, itemOf(method, req.GetParams()))
			return next(ctx, method, req)
		}
	})
	return server
}

const sdkModule = "github.com/modelcontextprotocol/go-sdk"

// sdkVersion is the SDK version this binary was built with.
func sdkVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dependency := range info.Deps {
			if dependency.Path == sdkModule {
				return dependency.Version
			}
		}
	}
	return "unknown"
}

func main() {
	cataloguePath := flag.String("catalogue", "", "the catalogue the server serves (catalogue.json)")
	ranPath := flag.String("ran-log", "", "file the ran records are appended to")
	flag.Parse()
	if *cataloguePath == "" || *ranPath == "" {
		log.Fatal("usage: server --catalogue <catalogue.json> --ran-log <file>")
	}
	catalogueText, err := os.ReadFile(*cataloguePath)
	if err != nil {
		log.Fatalf("catalogue: %v", err)
	}
	var entries catalogue
	if err := json.Unmarshal(catalogueText, &entries); err != nil {
		log.Fatalf("catalogue: %v", err)
	}
	file, err := os.OpenFile(*ranPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatalf("ran log: %v", err)
	}
	ran := &ranLog{file: file}
	server := newServer(entries, ran)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	fmt.Printf("listening %d %s %s\n", listener.Addr().(*net.TCPAddr).Port, sdkModule, sdkVersion())
	log.Fatal(http.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.record(caseOf(r.Header), "http", r.Method, "")
		handler.ServeHTTP(w, r)
	})))
}
