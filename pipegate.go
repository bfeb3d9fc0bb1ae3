// Package pipegate carries the routing file bundled into pipegate's binaries.
//
// AWS SAM's go1.x build packages only the bootstrap binary, so the routing file
// that deploys is the one embedded here, as sam build finds it. PIPEGATE_CONFIG
// names another file for local runs (pipegate dev, sam local invoke); the
// template sets it empty. What template.yaml needs of the routing file comes
// through its parameters: `pipegate params --write` puts them into samconfig.toml.
package pipegate

import _ "embed"

//go:embed pipegate.yaml
var defaultRouting []byte

// DefaultRouting returns the bundled routing file (a fresh copy each call).
func DefaultRouting() []byte { return append([]byte(nil), defaultRouting...) }
