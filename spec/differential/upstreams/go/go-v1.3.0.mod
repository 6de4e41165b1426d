module mcp-oauth2/differential-upstream

go 1.23.0

require github.com/modelcontextprotocol/go-sdk v1.3.0

require (
	github.com/google/jsonschema-go v0.4.2 // indirect
	github.com/yosida95/uritemplate/v3 v3.0.2 // indirect
)
