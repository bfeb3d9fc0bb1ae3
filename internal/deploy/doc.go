// Package deploy has no code of its own: its tests check the AWS SAM template
// (template.yaml at the repository root) against what pipegate's functions read and
// call, and check the local events in events/ that `sam local invoke` uses.
//
// Run them with go test ./internal/deploy after changing the template, the
// routing file pipegate.yaml, or the environment the functions read.
package deploy
