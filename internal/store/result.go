package store

import (
	"fmt"
	"time"
)

// Environments a Result is kept for: the last staging and the last production
// deployment of each service, which its status badge shows.
const (
	Staging    = "staging"
	Production = "production"
)

// Result is how the last deployment of a service to one environment ended.
type Result struct {
	Service     string
	Environment string    // Staging or Production
	State       string    // GitLab state: success, failed, canceled, skipped
	Commit      string    // the commit deployed
	At          time.Time // when it ended (the event's time): the newer result wins
}

// checkResult refuses a result that could never be read back or ordered.
func checkResult(r Result) error {
	switch {
	case r.Service == "":
		return fmt.Errorf("put result: no service")
	case r.Environment != Staging && r.Environment != Production:
		return fmt.Errorf("put result %s: environment %q, want %s or %s", r.Service, r.Environment, Staging, Production)
	case r.At.IsZero():
		return fmt.Errorf("put result %s/%s: no time", r.Service, r.Environment)
	}
	return nil
}

// environments are the environments Results reads, in the order it returns them.
func environments() [2]string { return [2]string{Staging, Production} }
