package gitlabhook_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pipegate/pipegate/internal/gitlabhook"
)

// BenchmarkDecode decodes GitLab's documented push payload, the webhook's hot path.
func BenchmarkDecode(b *testing.B) {
	body, err := os.ReadFile(filepath.Join("testdata", "webhook_push.json"))
	if err != nil {
		b.Fatal(err)
	}
	h := headers("Push Hook", "Idempotency-Key", "5ac4a1c5-2f4e-4bd1-a8d0-6c0a5dd1f3a0")
	b.ReportAllocs()
	for b.Loop() {
		ev, err := gitlabhook.Decode(h, body)
		if err != nil || ev.Kind != gitlabhook.PushKind {
			b.Fatalf("Decode: kind %v, %v", ev.Kind, err)
		}
	}
}
