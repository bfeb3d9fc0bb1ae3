package params

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pipegate/pipegate/internal/routing"
)

func fixture(t *testing.T) *routing.Config {
	t.Helper()
	b, err := os.ReadFile("testdata/routing.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := routing.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// line is the routing file line of a service.
func line(t *testing.T, cfg *routing.Config, name string) int {
	t.Helper()
	s, ok := cfg.Named(name)
	if !ok {
		t.Fatalf("no service %s", name)
	}
	return s.Line
}

func TestFromRouting(t *testing.T) {
	cfg := fixture(t)
	v, err := FromRouting(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"web-pipeline", "billing.pipeline", "search_pipeline", "legacy-pipeline", "nightly-pipeline"}; !reflect.DeepEqual(v.PipelineNames, want) {
		t.Errorf("PipelineNames %q, want %q", v.PipelineNames, want)
	}
	// Each service's own production approval: billing overrides the action.
	if want := []string{
		"web-pipeline/Prod/Approve",
		"billing.pipeline/Prod/ApproveRelease",
		"search_pipeline/Prod/Approve",
		"legacy-pipeline/Prod/Approve",
		"nightly-pipeline/Prod/Approve",
	}; !reflect.DeepEqual(v.ProductionApprovals, want) {
		t.Errorf("ProductionApprovals %q, want %q", v.ProductionApprovals, want)
	}
	// The first branch named literally; the service's own source action and
	// staging stage; no entry for what a CodeConnections source cannot take.
	if want := []string{
		"web-pipeline|web|acme/web|main|Source|Staging|Prod|Approve",
		"billing.pipeline|billing|acme/platform|main|Source|Staging|Prod|ApproveRelease",
		"search_pipeline|search|acme/platform|main|Checkout|QA|Prod|Approve",
	}; !reflect.DeepEqual(v.PipelineSources, want) {
		t.Errorf("PipelineSources %q, want %q", v.PipelineSources, want)
	}
	wantNotes := []Note{
		{Service: "legacy", Line: line(t, cfg, "legacy"), Text: "project 4711 is a numeric id"},
		{Service: "nightly", Line: line(t, cfg, "nightly"), Text: "names no branch literally"},
	}
	if len(v.Notes) != len(wantNotes) {
		t.Fatalf("notes %+v, want %d", v.Notes, len(wantNotes))
	}
	for i, w := range wantNotes {
		n := v.Notes[i]
		if n.Service != w.Service || n.Line != w.Line || !strings.Contains(n.Text, w.Text) || !strings.Contains(n.Text, "CreatePipelines") {
			t.Errorf("note %d: %+v, want %+v (and what it means for CreatePipelines)", i, n, w)
		}
	}
	if got := v.Map(); got[PipelineNames] != "web-pipeline,billing.pipeline,search_pipeline,legacy-pipeline,nightly-pipeline" || len(got) != 3 {
		t.Errorf("Map %q", got)
	}
	if got, want := v.Overrides(), "PipelineNames=web-pipeline,billing.pipeline,search_pipeline,legacy-pipeline,nightly-pipeline "+
		"ProductionApprovals=web-pipeline/Prod/Approve,billing.pipeline/Prod/ApproveRelease,search_pipeline/Prod/Approve,legacy-pipeline/Prod/Approve,nightly-pipeline/Prod/Approve "+
		"PipelineSources=web-pipeline|web|acme/web|main|Source|Staging|Prod|Approve,billing.pipeline|billing|acme/platform|main|Source|Staging|Prod|ApproveRelease,search_pipeline|search|acme/platform|main|Checkout|QA|Prod|Approve"; got != want {
		t.Errorf("Overrides:\n%s\nwant\n%s", got, want)
	}
}

func TestSources(t *testing.T) {
	v, err := FromRouting(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Sources()
	if err != nil {
		t.Fatal(err)
	}
	want := Source{Pipeline: "search_pipeline", Service: "search", Project: "acme/platform", Branch: "main",
		SourceAction: "Checkout", StagingStage: "QA", ProductionStage: "Prod", ApprovalAction: "Approve"}
	if len(got) != 3 || got[2] != want {
		t.Errorf("Sources %+v, want the third %+v", got, want)
	}
	if got[2].String() != v.PipelineSources[2] {
		t.Errorf("String %q, want %q", got[2].String(), v.PipelineSources[2])
	}
	for _, bad := range []string{"", "a|b", "a|b|c|d|e|f|g|h|i", "a||c|d|e|f|g|h"} {
		if _, err := ParseSource(bad); err == nil {
			t.Errorf("ParseSource(%q): no error", bad)
		}
	}
}

func TestFromRoutingRefuses(t *testing.T) {
	for _, tc := range []struct{ name, routing, want string }{
		{"a pipeline name CodePipeline refuses", "services:\n  - name: a\n    project: acme/a\n    pipeline: a pipeline\n",
			`service a (routing file line 2): pipeline "a pipeline"`},
		{"a stage name CodePipeline refuses", "services:\n  - name: a\n    project: acme/a\n    pipeline: a\n    production: {stage: Prod/1}\n",
			`service a (routing file line 2): production stage "Prod/1"`},
		{"an approval action CodePipeline refuses", "services:\n  - name: a\n    project: acme/a\n    pipeline: a\n    production: {approval_action: \"Go,now\"}\n",
			`production approval_action "Go,now"`},
		{"two pipelines one stack", "services:\n  - name: a\n    project: acme/a\n    pipeline: a-pipeline\n  - name: b\n    project: acme/b\n    pipeline: a.pipeline\n",
			"service b (routing file line 5): pipeline a.pipeline and a-pipeline (service a, line 2) would both be the nested stack apipelineStack"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := routing.Parse([]byte(tc.routing))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := FromRouting(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestSourceNotes(t *testing.T) {
	for _, tc := range []struct{ name, service, want string }{
		{"a service name the pipeline template refuses", "  - name: Web_App\n    project: acme/web\n    pipeline: web\n", `service name "Web_App"`},
		{"a branch with a comma", "  - name: web\n    project: acme/web\n    pipeline: web\n    branches: [\"a,b\"]\n", `branch "a,b"`},
		{"no branches at all", "  - name: web\n    project: acme/web\n    pipeline: web\n    branches: []\n", "names no branch literally"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := routing.Parse([]byte("services:\n" + tc.service))
			if err != nil {
				t.Fatal(err)
			}
			v, err := FromRouting(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(v.PipelineSources) != 0 || len(v.Notes) != 1 || !strings.Contains(v.Notes[0].Text, tc.want) {
				t.Errorf("sources %q notes %+v, want no source and a note with %q", v.PipelineSources, v.Notes, tc.want)
			}
		})
	}
}
