package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/cfn"
)

// buildCommit is the commit the buildspec runs at in checkBuild.
const buildCommit = "9c1e4b7d2a5f8e3c6b0d9a4f7e2c5b8d1a6f3e0c"

// Stand-ins for the AWS CLI and Docker that the buildspec calls: each logs its
// arguments; aws ecr describe-images exits with STUB_DESCRIBE_EXIT (0: the image
// is in ECR, 254: the CLI's exit code for ImageNotFoundException).
const (
	stubAWS = `#!/bin/sh
echo "aws $*" >> "$STUB_LOG"
case "$*" in
*"ecr describe-images"*) exit "$STUB_DESCRIBE_EXIT" ;;
*"ecr get-login-password"*) echo stub-password ;;
esac
`
	stubDocker = `#!/bin/sh
echo "docker $*" >> "$STUB_LOG"
if [ "$1" = login ]; then cat > /dev/null; fi
`
)

// checkBuild runs BuildProject's buildspec (its phases' commands in one shell,
// as CodeBuild runs them, with the project's environment variables) against
// stand-ins for aws and docker, once with the commit's image missing from ECR
// and once with it there: the build pushes the image only when it is missing
// (a second push of the tag fails on an IMMUTABLE repository), and writes
// imagedefinitions.json naming <repository URI>:<commit> either way.
func checkBuild(dir string, tpl map[string]any) []string {
	var problems []string
	errorf := func(format string, args ...any) {
		problems = append(problems, pipelineTemplate+": BuildProject: "+fmt.Sprintf(format, args...))
	}
	ev, err := cfn.NewEvaluator(tpl, pipelineParams())
	if err != nil {
		return []string{err.Error()}
	}
	props, err := ev.Eval(cfn.Lookup(tpl, "Resources", "BuildProject", "Properties"))
	if err != nil {
		return nil // reported by evalResources
	}
	text, _ := cfn.Lookup(props, "Source", "BuildSpec").(string)
	var spec struct {
		Phases map[string]struct {
			Commands []string `yaml:"commands"`
		} `yaml:"phases"`
	}
	if err := yaml.Unmarshal([]byte(text), &spec); err != nil {
		errorf("BuildSpec: %v", err)
		return problems
	}
	var script []string
	for _, phase := range []string{"install", "pre_build", "build", "post_build"} {
		script = append(script, spec.Phases[phase].Commands...)
	}
	env := []string{"AWS_REGION=" + cfn.Region, "CODEBUILD_RESOLVED_SOURCE_VERSION=" + buildCommit}
	vars := map[string]string{}
	list, _ := cfn.Lookup(props, "Environment", "EnvironmentVariables").([]any)
	for _, v := range list {
		name, value := fmt.Sprint(cfn.Lookup(v, "Name")), fmt.Sprint(cfn.Lookup(v, "Value"))
		vars[name] = value
		env = append(env, name+"="+value)
	}
	image := vars["REPOSITORY_URI"] + ":" + buildCommit
	for _, exists := range []bool{false, true} {
		state := map[bool]string{false: "missing from ECR", true: "in ECR already"}[exists]
		work := filepath.Join(dir, fmt.Sprintf("build-%v", exists))
		bin := filepath.Join(work, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			return append(problems, err.Error())
		}
		for name, body := range map[string]string{"aws": stubAWS, "docker": stubDocker} {
			if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
				return append(problems, err.Error())
			}
		}
		log := filepath.Join(work, "calls.log")
		code := map[bool]string{false: "254", true: "0"}[exists]
		cmd := exec.Command("/bin/sh", "-c", "set -e\n"+strings.Join(script, "\n"))
		cmd.Dir = work
		cmd.Env = append([]string{"PATH=" + bin + ":/usr/bin:/bin", "STUB_LOG=" + log, "STUB_DESCRIBE_EXIT=" + code}, env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			errorf("the buildspec fails with the image %s: %v\n%s", state, err, out)
			continue
		}
		data, _ := os.ReadFile(log)
		calls := strings.Split(strings.TrimSpace(string(data)), "\n")
		asked := fmt.Sprintf("aws ecr describe-images --repository-name %s --image-ids imageTag=%s", pipelineParams()["EcrRepository"], buildCommit)
		pushed := slices.Contains(calls, "docker push "+image)
		if !slices.Contains(calls, asked) {
			errorf("the buildspec does not ask ECR whether the image is there (%q); it called %q", asked, calls)
		}
		switch {
		case exists && pushed:
			errorf("the buildspec pushes %s although it is %s: an IMMUTABLE repository refuses the push and fails the build", image, state)
		case !exists && !pushed:
			errorf("the buildspec does not push %s, which is %s; it called %q", image, state, calls)
		}
		var defs []struct{ Name, ImageURI string }
		b, err := os.ReadFile(filepath.Join(work, "imagedefinitions.json"))
		if err == nil {
			err = json.Unmarshal(b, &defs)
		}
		if want := vars["CONTAINER_NAME"]; err != nil || len(defs) != 1 || defs[0].Name != want || defs[0].ImageURI != image {
			errorf("imagedefinitions.json with the image %s: %s %v, want [{name: %s, imageUri: %s}]", state, b, err, want, image)
		}
	}
	return problems
}
