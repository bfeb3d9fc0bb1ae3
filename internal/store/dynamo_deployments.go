package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// deploymentItem is one execution's deployment to one environment: pk
// "deploy#<project>#<environment>#<sha>", sk "exec#<pipeline>#<execution>".
// Neither GitLab project paths nor environment names may hold "#".
type deploymentItem struct {
	record
	Project        string    `dynamodbav:"project"`
	Environment    string    `dynamodbav:"environment"`
	CommitSHA      string    `dynamodbav:"commit_sha"`
	Pipeline       string    `dynamodbav:"pipeline"`
	ExecutionID    string    `dynamodbav:"execution_id"`
	Ref            string    `dynamodbav:"ref,omitempty"`
	Tag            bool      `dynamodbav:"tag"`
	ExecutionStart time.Time `dynamodbav:"execution_start,omitempty"`
	State          string    `dynamodbav:"state,omitempty"`
	At             time.Time `dynamodbav:"at,omitempty"`
	Began          time.Time `dynamodbav:"began,omitempty"`
	Approved       bool      `dynamodbav:"approved"`
	Want           string    `dynamodbav:"want,omitempty"`
	ID             int64     `dynamodbav:"deployment_id"`
	Creating       time.Time `dynamodbav:"creating,omitempty"`
	Posted         string    `dynamodbav:"posted,omitempty"`
	Refused        string    `dynamodbav:"refused,omitempty"`
	UpdatedAt      time.Time `dynamodbav:"updated_at,omitempty"`
	Version        int64     `dynamodbav:"version"`
}

func deploymentPK(project, environment, sha string) string {
	return "deploy#" + project + "#" + environment + "#" + sha
}

func deploymentKey(k DeploymentKey) itemKey {
	return itemKey{PK: deploymentPK(k.Project, k.Environment, k.CommitSHA), SK: "exec#" + k.Pipeline + "#" + k.ExecutionID}
}

func (it deploymentItem) deployment() Deployment {
	return Deployment{
		Key: DeploymentKey{Project: it.Project, Environment: it.Environment, CommitSHA: it.CommitSHA, Pipeline: it.Pipeline, ExecutionID: it.ExecutionID},
		Ref: it.Ref, Tag: it.Tag,
		ExecutionStart: it.ExecutionStart, State: it.State, At: it.At, Began: it.Began, Approved: it.Approved, Want: it.Want,
		ID: it.ID, Creating: it.Creating, Posted: it.Posted, Refused: it.Refused, UpdatedAt: it.UpdatedAt, Version: it.Version,
	}
}

// GetDeployment returns the deployment recorded for key; when there is none,
// a Deployment with only Key set (Version 0).
func (d *Dynamo) GetDeployment(ctx context.Context, key DeploymentKey) (Deployment, bool, error) {
	var it deploymentItem
	found, err := d.get(ctx, deploymentKey(key), clock(d.Now), &it)
	if err != nil {
		return Deployment{Key: key}, false, fmt.Errorf("get deployment %s: %w", key, err)
	}
	if !found {
		return Deployment{Key: key}, false, nil
	}
	return it.deployment(), true, nil
}

// PutDeployment stores r if the recorded version is still r.Version (0:
// nothing recorded) and returns r with its new Version and UpdatedAt;
// otherwise it returns ErrConflict.
func (d *Dynamo) PutDeployment(ctx context.Context, r Deployment) (Deployment, error) {
	now := clock(d.Now)
	next := r
	next.Version++
	next.UpdatedAt = now
	k := r.Key
	item := deploymentItem{
		record:  d.record(deploymentKey(k), now),
		Project: k.Project, Environment: k.Environment, CommitSHA: k.CommitSHA, Pipeline: k.Pipeline, ExecutionID: k.ExecutionID,
		Ref: r.Ref, Tag: r.Tag,
		ExecutionStart: r.ExecutionStart, State: r.State, At: r.At, Began: r.Began, Approved: r.Approved, Want: r.Want,
		ID: r.ID, Creating: r.Creating, Posted: r.Posted, Refused: r.Refused, UpdatedAt: now, Version: next.Version,
	}
	cond := absent(now)
	if r.Version != 0 {
		cond = live(now).And(expression.Name("version").Equal(expression.Value(r.Version)))
	}
	err := d.put(ctx, item, cond)
	if conditionFailed(err) {
		return Deployment{}, fmt.Errorf("put deployment %s version %d: %w", k, r.Version, ErrConflict)
	}
	if err != nil {
		return Deployment{}, fmt.Errorf("put deployment %s: %w", k, err)
	}
	return next, nil
}

// Deployments returns every execution's deployment record for one project,
// environment and commit: one Query.
func (d *Dynamo) Deployments(ctx context.Context, project, environment, sha string) ([]Deployment, error) {
	items, err := query[deploymentItem](ctx, d, expression.Key("pk").Equal(expression.Value(deploymentPK(project, environment, sha))))
	if err != nil {
		return nil, fmt.Errorf("read deployments of %s %s@%s: %w", project, environment, sha, err)
	}
	now := clock(d.Now)
	var out []Deployment
	for _, it := range items {
		if it.liveAt(now) {
			out = append(out, it.deployment())
		}
	}
	return out, nil
}
