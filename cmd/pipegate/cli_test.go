package main

import (
	"context"
	"io"
)

// dev and validateCmd run those commands as the command line does, for the
// tests written before the command table.
func dev(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return run(ctx, append([]string{"dev"}, args...), getenv, stdout, stderr)
}

func validateCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return run(context.Background(), append([]string{"validate"}, args...), getenv, stdout, stderr)
}

func paramsCmd(args []string, stdout, stderr io.Writer) error {
	return run(context.Background(), append([]string{"params"}, args...), func(string) string { return "" }, stdout, stderr)
}
