// Package deploy has no code of its own: its tests check the AWS SAM template
// (template.yaml at the repository root) against what pipegate's functions read and
// call, check the local events in events/ that `sam local invoke` uses, and check
// the per-service pipeline (pipelines/service-pipeline.yaml), the nested stacks
// template.yaml creates from it, and their agreement with a routing file.
//
// The routing file is this package's own (testdata/routing.yaml), never the
// bundled pipegate.yaml: the template's parameters are computed from it with the
// code `pipegate params` uses, and the template is checked as CloudFormation
// processes it for those values (its Fn::ForEach loops expanded by package cfn,
// since goformation cannot read them). A team's edits to pipegate.yaml break no
// test here; `pipegate validate` checks that file against the template.
//
// Run them with go test ./internal/deploy after changing a template or the
// environment the functions read.
package deploy
