#!/usr/bin/env bash
# Runs every pipegate test on a fresh machine with Go and Node.js/npm:
#   - installs the test tools (dynalite, a DynamoDB stand-in) with npm into tools/;
#   - vets and runs all Go tests, among them the DynamoDB store against dynalite and the
#     end-to-end test that drives the built functions through the Lambda Runtime
#     Interface Emulator (built from go.mod's tool line);
#   - runs each benchmark briefly, so that they keep compiling and working.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --prefix tools --no-audit --no-fund --loglevel=error
go vet ./...
go test -count=1 ./...
go test -count=1 -run '^$' -bench . -benchtime 100x ./...
