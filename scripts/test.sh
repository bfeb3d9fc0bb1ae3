#!/usr/bin/env bash
# Runs every pipegate test on a fresh machine with Go, Node.js/npm and cfn-lint:
#   - lints both CloudFormation templates with cfn-lint (Python: pip install
#     cfn-lint), and template.yaml once more as CloudFormation processes it for a
#     team's routing file (internal/deploy/testdata/routing.yaml): cfn-lint alone
#     expands its Fn::ForEach loops with the parameters' defaults only, which never
#     makes the pipelines' nested stacks as a deploy does;
#   - installs the test tools (dynalite, a DynamoDB stand-in) with npm into tools/;
#   - vets and runs all Go tests, among them the DynamoDB store against dynalite and the
#     end-to-end test that drives the built functions through the Lambda Runtime
#     Interface Emulator (built from go.mod's tool line);
#   - runs each benchmark briefly, so that they keep compiling and working.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cfn-lint >/dev/null 2>&1; then
	echo "scripts/test.sh: cfn-lint is not installed; install it with: pip install cfn-lint" >&2
	exit 1
fi
cfn-lint template.yaml pipelines/service-pipeline.yaml
expanded="$(mktemp -d)"
trap 'rm -rf "$expanded"' EXIT
parameters="$(go run ./internal/deploy/testdata/expand internal/deploy/testdata/routing.yaml template.yaml "$expanded/template.json")"
# One Key=Value word per parameter; no value has a space.
# shellcheck disable=SC2086
cfn-lint "$expanded/template.json" --parameters $parameters

npm ci --prefix tools --no-audit --no-fund --loglevel=error
go vet ./...
go test -count=1 ./...
go test -count=1 -run '^$' -bench . -benchtime 100x ./...
