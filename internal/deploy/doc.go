// Package deploy has no code of its own: its tests check the AWS SAM template
// (template.yaml at the repository root) against what pipegate's functions read and
// call, check the local events in events/ that `sam local invoke` uses, and check
// the per-service pipeline (pipelines/service-pipeline.yaml), the nested stacks
// template.yaml creates from it, and their agreement with the routing file.
//
// Run them with go test ./internal/deploy after changing a template, the
// routing file pipegate.yaml, or the environment the functions read.
package deploy
