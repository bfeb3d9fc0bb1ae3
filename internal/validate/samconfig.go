package validate

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/pipegate/pipegate/internal/params"
)

// Samconfig checks samconfig.toml, the values sam deploy passes: its
// parameter_overrides have exactly the parameters the routing file makes, its
// capabilities are what the template needs, SAM CLI is told to expand the
// template's loops, and CreatePipelines=true is not asked of a routing file whose
// services' pipelines the template cannot all create. sc.Data nil: there is no
// samconfig.toml.
func Samconfig(routes Routes, values params.Values, tpl, sc File) []Check {
	c := Check{Name: sc.Path + "'s parameter_overrides are what " + routes.Path + " makes"}
	if sc.Data == nil {
		c.problem(sc.Path, 0, "no such file: sam deploy would get none of the parameters the routing file makes; %s", fix)
		return []Check{c}
	}
	s, err := params.ReadSamconfig(sc.Data)
	if err != nil {
		c.problem(sc.Path, lineOf(err), "%v", err)
		return []Check{c}
	}
	root, _ := parseYAML(tpl.Data) // the template's own checks report a bad one
	return []Check{
		overrides(routes, values, sc.Path, s),
		capabilities(tpl.Path, root, sc.Path, s),
		languageExtensions(tpl.Path, root, sc.Path, s),
		createPipelinesPossible(routes, values, sc.Path, s),
	}
}

func overrides(routes Routes, values params.Values, file string, s params.Samconfig) Check {
	c := Check{Name: file + "'s parameter_overrides are what " + routes.Path + " makes"}
	got, at, ok := s.ParameterOverrides()
	if !ok {
		where := s.Table
		c.problem(file, where, "[%s] has no parameter_overrides: sam deploy would pass none of the parameters the routing file makes; %s", params.DeployTable, fix)
		return c
	}
	want := values.Map()
	for _, name := range params.Names {
		have, ok := got[name]
		if !ok {
			c.problem(file, at, "parameter_overrides lacks %s, which %s makes: %s", name, routes.Path, fix)
			continue
		}
		if have == want[name] {
			continue
		}
		for _, d := range differences(routes, name, split(have), split(want[name])) {
			c.problem(file, at, "%s %s; %s", name, d, fix)
		}
	}
	return c
}

func split(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ",")
}

// differences says how samconfig.toml's list differs from the computed one,
// naming the service of each item.
func differences(routes Routes, name string, have, want []string) []string {
	key := func(item string) string { // the pipeline an item is about
		return strings.SplitN(strings.SplitN(item, "|", 2)[0], "/", 2)[0]
	}
	byKey := func(list []string) map[string]string {
		m := map[string]string{}
		for _, x := range list {
			m[key(x)] = x
		}
		return m
	}
	hm, wm := byKey(have), byKey(want)
	var out []string
	for _, w := range want {
		s, _ := routes.service(key(w))
		h, ok := hm[key(w)]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("lacks %s, of service %s (%s)", w, s.Name, routes.at(s)))
		case h != w:
			out = append(out, fmt.Sprintf("has %s, but service %s (%s) makes %s", h, s.Name, routes.at(s), w))
		}
	}
	for _, h := range have {
		if _, ok := wm[key(h)]; !ok {
			out = append(out, fmt.Sprintf("has %s, which no service of %s makes", h, routes.Path))
		}
	}
	if len(out) == 0 { // the same items, another order or a repeat
		out = append(out, fmt.Sprintf("is %s, not %s as %s makes it", strings.Join(have, ","), strings.Join(want, ","), routes.Path))
	}
	return out
}

// capabilities checks that sam deploy acknowledges what the template needs:
// CAPABILITY_IAM for the roles and policies it creates, CAPABILITY_AUTO_EXPAND for
// its transforms and nested stacks (sam deploy's reference: applications with
// nested stacks need it).
func capabilities(tplFile string, root *yaml.Node, file string, s params.Samconfig) Check {
	c := Check{Name: file + "'s capabilities are what " + tplFile + " needs"}
	var need []string
	var why []string
	if hasType(root, "AWS::IAM::", "AWS::Serverless::Function") {
		need = append(need, "CAPABILITY_IAM")
		why = append(why, "it creates IAM roles and policies")
	}
	tr, trKey := get(root, "Transform")
	if tr != nil || hasType(root, "AWS::CloudFormation::Stack", "AWS::Serverless::Application") {
		need = append(need, "CAPABILITY_AUTO_EXPAND")
		why = append(why, fmt.Sprintf("it has transforms (%s:%d) and nested stacks", tplFile, line(trKey)))
	}
	e, ok := s.Deploy("capabilities")
	if !ok {
		c.problem(file, s.Table, "no capabilities: sam deploy would fail with InsufficientCapabilities; want capabilities = %q (%s)", strings.Join(need, " "), strings.Join(why, "; "))
		return c
	}
	var have []string
	for _, v := range e.Values {
		have = append(have, strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })...)
	}
	for i, n := range need {
		if slices.Contains(have, n) || n == "CAPABILITY_IAM" && slices.Contains(have, "CAPABILITY_NAMED_IAM") {
			continue
		}
		c.problem(file, e.Line, "capabilities %s lack %s, which %s needs (%s): sam deploy would fail with InsufficientCapabilities; want capabilities = %q",
			strings.Join(have, " "), n, tplFile, why[i], strings.Join(need, " "))
	}
	return c
}

// hasType reports whether a resource of the template (in a loop too) has a type
// with one of the prefixes.
func hasType(root *yaml.Node, prefixes ...string) bool {
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n == nil || found {
			return
		}
		if t := literal(path(n, "Type")); t != "" && slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(t, p) }) {
			found = true
			return
		}
		for _, x := range n.Content {
			walk(x)
		}
	}
	walk(path(root, "Resources"))
	return found
}

// languageExtensions checks that SAM CLI expands the template's Fn::ForEach
// loops when it packages: it uploads a nested stack's template (TemplateURL)
// written inside a loop only with its language_extensions setting (SAM CLI
// 1.160 and later); without it CloudFormation gets the local path and refuses it.
func languageExtensions(tplFile string, root *yaml.Node, file string, s params.Samconfig) Check {
	c := Check{Name: file + " has SAM CLI expand " + tplFile + "'s loops"}
	loopLine := 0
	names, _ := entries(path(root, "Resources"))
	for _, k := range names {
		if strings.HasPrefix(k.Value, "Fn::ForEach::") {
			loopLine = k.Line
			break
		}
	}
	if loopLine == 0 {
		c.Skip = tplFile + " has no Fn::ForEach in Resources"
		return c
	}
	e, ok := s.Deploy("language_extensions")
	switch {
	case !ok:
		c.problem(file, s.Table, "no language_extensions = true: sam deploy would not upload the pipeline template of the loop at %s:%d, and CloudFormation would refuse its local TemplateURL; set it in [%s] (SAM CLI 1.160 or later)",
			tplFile, loopLine, params.GlobalTable)
	case e.Raw != "true":
		c.problem(file, e.Line, "language_extensions = %s: sam deploy would not upload the pipeline template of the loop at %s:%d; want true", e.Raw, tplFile, loopLine)
	}
	return c
}

// createPipelinesPossible checks that samconfig.toml does not ask the template
// to create pipelines it cannot create.
func createPipelinesPossible(routes Routes, values params.Values, file string, s params.Samconfig) Check {
	c := Check{Name: "the pipelines " + file + " has the template create can be made"}
	ov, at, _ := s.ParameterOverrides()
	if ov[createPipelines] != "true" {
		c.Skip = "CreatePipelines is not true: the pipelines are made elsewhere"
		return c
	}
	for _, n := range values.Notes {
		c.problem(file, at, "CreatePipelines=true, but %s:%d: service %s: %s", routes.Path, n.Line, n.Service, n.Text)
	}
	return c
}
