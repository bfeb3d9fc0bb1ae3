package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// depError names the dependency an error came from, so that the answer GitLab
// shows under the hook's "Recent events" can say what went wrong in a user's
// words; the error itself (AWS error strings, API URLs) goes to the log only.
type depError struct {
	dep string
	err error
}

func (e *depError) Error() string { return e.err.Error() }
func (e *depError) Unwrap() error { return e.err }

// The dependencies, as an answer names them.
const (
	depCodePipeline = "CodePipeline"
	depGitLab       = "GitLab"
	depStore        = "pipegate's DynamoDB table"
	depQueue        = "the retry queue (SQS)"
)

func in(dep string, err error) error {
	if err == nil {
		return nil
	}
	return &depError{dep: dep, err: err}
}

func inCodePipeline(err error) error { return in(depCodePipeline, err) }
func inGitLab(err error) error       { return in(depGitLab, err) }
func inStore(err error) error        { return in(depStore, err) }
func inQueue(err error) error        { return in(depQueue, err) }

// trouble is one dependency that failed, and whether it did by not answering.
type trouble struct {
	dep      string
	timedOut bool
}

// troubles lists the dependencies named in err's tree, each once, in order.
func troubles(err error) []trouble {
	var out []trouble
	var walk func(error)
	walk = func(e error) {
		if e == nil {
			return
		}
		if d, ok := e.(*depError); ok {
			t := trouble{d.dep, errors.Is(d.err, context.DeadlineExceeded)}
			for i, o := range out {
				if o.dep == t.dep {
					out[i].timedOut = o.timedOut || t.timedOut
					return
				}
			}
			out = append(out, t)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// troubleWords says what failed, for an answer: "CodePipeline did not answer
// in time", "GitLab answered with an error; the retry queue (SQS) did not
// answer in time".
func troubleWords(err error) string {
	ts := troubles(err)
	if len(ts) == 0 {
		if errors.Is(err, context.DeadlineExceeded) {
			return "AWS or GitLab did not answer in time"
		}
		return "AWS or GitLab answered with an error"
	}
	parts := make([]string, len(ts))
	for i, t := range ts {
		verb := "answered with an error"
		if t.timedOut {
			verb = "did not answer in time"
		}
		parts[i] = fmt.Sprintf("%s %s", t.dep, verb)
	}
	return strings.Join(parts, "; ")
}

// troubleSubject names what failed, for "... when X answers again".
func troubleSubject(err error) string {
	ts := troubles(err)
	if len(ts) == 0 {
		return "AWS and GitLab"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.dep
	}
	return strings.Join(names, " and ")
}
