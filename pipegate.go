// Package pipegate carries the files bundled into pipegate's binaries: the routing
// file of the functions, and the sample events `pipegate demo` replays.
//
// AWS SAM's go1.x build packages only the bootstrap binary, so the routing file
// that deploys is the one embedded here, as sam build finds it. PIPEGATE_CONFIG
// names another file for local runs (pipegate dev, sam local invoke); the
// template sets it empty. What template.yaml needs of the routing file comes
// through its parameters: `pipegate params --write` puts them into samconfig.toml.
package pipegate

import (
	"embed"
	"fmt"
)

//go:embed pipegate.yaml
var defaultRouting []byte

// DefaultRouting returns the bundled routing file (a fresh copy each call).
func DefaultRouting() []byte { return append([]byte(nil), defaultRouting...) }

//go:embed events/push.json events/merge-request-approved.json
var samples embed.FS

// SampleEvent returns one of the sample API Gateway events of events/ that the
// demo replays: "push.json" or "merge-request-approved.json".
func SampleEvent(name string) ([]byte, error) {
	b, err := samples.ReadFile("events/" + name)
	if err != nil {
		return nil, fmt.Errorf("sample event %s: %w", name, err)
	}
	return b, nil
}
