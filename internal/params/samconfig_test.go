package params

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadSamconfig(t *testing.T) {
	sc, err := ReadSamconfig(readFixture(t, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.Keys["capabilities"]; got.Line != 8 || !reflect.DeepEqual(got.Values, []string{"CAPABILITY_IAM CAPABILITY_AUTO_EXPAND"}) {
		t.Errorf("capabilities %+v", got)
	}
	ov, line, ok := sc.ParameterOverrides()
	if !ok || line != 11 {
		t.Fatalf("parameter_overrides at %d, %v; want line 11", line, ok)
	}
	if want := map[string]string{"LogLevel": "debug", "PipelineNames": "old-pipeline"}; !reflect.DeepEqual(ov, want) {
		t.Errorf("overrides %q, want %q", ov, want)
	}
	if e, ok := sc.Deploy("stack_name"); !ok || e.Line != 5 || e.Values[0] != "pipegate" {
		t.Errorf("stack_name from the global table: %+v %v", e, ok)
	}
	if e, ok := sc.Deploy("confirm_changeset"); !ok || e.Line != 9 || len(e.Values) != 0 || e.Raw != "true" {
		t.Errorf("confirm_changeset (a boolean: no strings): %+v %v", e, ok)
	}
	if _, ok := sc.Deploy("env_vars"); ok {
		t.Error("env_vars of local_invoke read as deploy's")
	}
	if sc.Table != 7 {
		t.Errorf("table at line %d, want 7", sc.Table)
	}
}

func TestReadSamconfigForms(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       map[string]string
		line       int
	}{
		{"one string", "[default.deploy.parameters]\nparameter_overrides = \"A=1 B=x,y\"\n", map[string]string{"A": "1", "B": "x,y"}, 2},
		{"a literal string", "[default.deploy.parameters]\nparameter_overrides = 'A=1'\n", map[string]string{"A": "1"}, 2},
		{"an array over lines, with comments", "[default.deploy.parameters]\nparameter_overrides = [\n  \"A=1\", # the first\n  \"B=2 C=3\",\n] # done\n",
			map[string]string{"A": "1", "B": "2", "C": "3"}, 2},
		{"CloudFormation's form", "[default.deploy.parameters]\nparameter_overrides = \"ParameterKey=A,ParameterValue=1 ParameterKey=B,ParameterValue=2\"\n",
			map[string]string{"A": "1", "B": "2"}, 2},
		{"quoted values", "[default.deploy.parameters]\nparameter_overrides = \"A=\\\"x y\\\" B='z'\"\n", map[string]string{"A": "x y", "B": "z"}, 2},
		{"another table's key is not ours", "[default.build.parameters]\nparameter_overrides = \"A=1\"\n[default.deploy.parameters]\nx = 1\n", nil, 0},
		{"a quoted table name and key", "[ \"default\" . deploy.parameters ]\n\"parameter_overrides\" = \"A=1\"\n", map[string]string{"A": "1"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, err := ReadSamconfig([]byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			ov, line, ok := sc.ParameterOverrides()
			if ok != (tc.want != nil) || line != tc.line || (tc.want != nil && !reflect.DeepEqual(ov, tc.want)) {
				t.Errorf("overrides %q at %d (%v), want %q at %d", ov, line, ok, tc.want, tc.line)
			}
		})
	}
}

func TestReadSamconfigRefuses(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{
		{"an unterminated string", "[default.deploy.parameters]\nparameter_overrides = \"A=1\n", "line 2: unterminated string"},
		{"an unterminated array", "[default.deploy.parameters]\nparameter_overrides = [\"A=1\"\n", "line 2: unterminated array"},
		{"a multi-line string", "[default.deploy.parameters]\nparameter_overrides = \"\"\"A=1\"\"\"\n", "line 2: multi-line strings"},
		{"a number", "[default.deploy.parameters]\nparameter_overrides = 1\n", "line 2: parameter_overrides: want a string or an array of strings"},
		{"no Key=Value", "[default.deploy.parameters]\nparameter_overrides = \"A\"\n", `line 2: parameter_overrides: "A" is not Key=Value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSamconfig([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestWriteSamconfig(t *testing.T) {
	v, err := FromRouting(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	in := readFixture(t, "samconfig.toml")
	out, err := WriteSamconfig(in, v)
	if err != nil {
		t.Fatal(err)
	}
	// Only the parameter_overrides line changes: the team's own override stays
	// where it was, ours replace the stale one and follow in order.
	want := strings.Replace(string(in), `parameter_overrides = "LogLevel=debug PipelineNames=old-pipeline"`,
		`parameter_overrides = "LogLevel=debug `+v.Overrides()+`"`, 1)
	if string(out) != want {
		t.Errorf("wrote\n%s\nwant\n%s", out, want)
	}
	// Writing again changes nothing.
	again, err := WriteSamconfig(out, v)
	if err != nil || string(again) != string(out) {
		t.Errorf("second write changed the file (%v):\n%s", err, again)
	}
	sc, err := ReadSamconfig(out)
	if err != nil {
		t.Fatal(err)
	}
	ov, _, _ := sc.ParameterOverrides()
	for name, value := range v.Map() {
		if ov[name] != value {
			t.Errorf("read back %s=%q, want %q", name, ov[name], value)
		}
	}
}

func TestWriteSamconfigAdds(t *testing.T) {
	v := Values{PipelineNames: []string{"p"}, ProductionApprovals: []string{"p/Production/Approve"}}
	const line = `parameter_overrides = "PipelineNames=p ProductionApprovals=p/Production/Approve PipelineSources="`
	for _, tc := range []struct{ name, in, want string }{
		{"to the table, after its last key",
			"version = 0.1\n[default.deploy.parameters]\ncapabilities = \"CAPABILITY_IAM\" # why\n\n# next\n[default.local_invoke.parameters]\nx = 1\n",
			"version = 0.1\n[default.deploy.parameters]\ncapabilities = \"CAPABILITY_IAM\" # why\n" + line + "\n\n# next\n[default.local_invoke.parameters]\nx = 1\n"},
		{"the table at the end", "version = 0.1\n", "version = 0.1\n\n[default.deploy.parameters]\n" + line + "\n"},
		{"an array made one string", "[default.deploy.parameters]\nparameter_overrides = [\n  \"X=\\\"a b\\\"\",\n  \"PipelineNames=old\",\n]\nz = 1\n",
			"[default.deploy.parameters]\nparameter_overrides = \"X=\\\"a b\\\" PipelineNames=p ProductionApprovals=p/Production/Approve PipelineSources=\"\nz = 1\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := WriteSamconfig([]byte(tc.in), v)
			if err != nil || string(out) != tc.want {
				t.Errorf("wrote (%v)\n%s\nwant\n%s", err, out, tc.want)
			}
		})
	}
}
