package emulator

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// SecretsManager is a local stand-in for AWS Secrets Manager's GetSecretValue: an
// http.Handler speaking AWS JSON 1.1 (X-Amz-Target secretsmanager.<Operation>).
type SecretsManager struct {
	faults faults

	mu      sync.Mutex
	secrets map[string]string // name -> SecretString
	arns    map[string]string // name -> ARN, for secrets added by ARN
	created time.Time
}

// NewSecretsManager returns a stand-in holding secrets by name.
func NewSecretsManager(secrets map[string]string) *SecretsManager {
	if secrets == nil {
		secrets = map[string]string{}
	}
	return &SecretsManager{secrets: maps.Clone(secrets), created: time.Now().UTC()}
}

// ARN is the ARN the stand-in gives the named secret; GetSecretValue accepts it as
// SecretId, as it accepts the name.
func (m *SecretsManager) ARN(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.arn(name)
}

func (m *SecretsManager) arn(name string) string {
	if arn, ok := m.arns[name]; ok {
		return arn
	}
	// Real ARNs end in a dash and six random characters.
	return "arn:aws:secretsmanager:us-east-1:000000000000:secret:" + name + "-AbCdEf"
}

// AddSecret holds value as the secret whose ARN is arn, as a deployed stack's
// secret is known by its ARN (the Ref of an AWS::SecretsManager::Secret):
// arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>.
// GetSecretValue then accepts the ARN or the name in it.
func (m *SecretsManager) AddSecret(arn, value string) error {
	_, rest, ok := strings.Cut(arn, ":secretsmanager:")
	_, named, ok2 := strings.Cut(rest, ":secret:")
	i := strings.LastIndexByte(named, '-')
	if !ok || !ok2 || i <= 0 || len(named)-i != 7 {
		return fmt.Errorf("secret ARN %q: want arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters>", arn)
	}
	name := named[:i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.arns == nil {
		m.arns = map[string]string{}
	}
	m.secrets[name] = value
	m.arns[name] = arn
	return nil
}

// Calls is how many requests of op (e.g. "GetSecretValue") arrived, faulted ones included.
func (m *SecretsManager) Calls(op string) int { return m.faults.count(op) }

// FailNext makes the next n calls of op answer with f.
func (m *SecretsManager) FailNext(op string, n int, f Fault) { m.faults.add(op, n, f) }

var smProtocol = awsProtocol{
	target:      "secretsmanager",
	contentType: "application/x-amz-json-1.1",
	messageKey:  "Message",
}

func (m *SecretsManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, ok := smProtocol.operation(w, r)
	if !ok {
		return
	}
	if f, faulted := m.faults.take(op); faulted {
		smProtocol.fault(w, r, f)
		return
	}
	var out any
	var err error
	switch op {
	case "GetSecretValue":
		out, err = m.getSecretValue(body)
	default:
		err = awsErrorf(http.StatusBadRequest, "UnknownOperationException", "operation %s is not supported by the stand-in", op)
	}
	smProtocol.respond(w, out, err)
}

func (m *SecretsManager) getSecretValue(body []byte) (any, error) {
	var in struct {
		SecretID string `json:"SecretId"`
	}
	if err := smProtocol.decode(body, &in); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, v := range m.secrets {
		if in.SecretID == name || in.SecretID == m.arn(name) {
			return map[string]any{
				"ARN":           m.arn(name),
				"Name":          name,
				"SecretString":  v,
				"VersionId":     "00000000-0000-4000-8000-000000000001",
				"VersionStages": []string{"AWSCURRENT"},
				"CreatedDate":   awsTime(m.created),
			}, nil
		}
	}
	return nil, awsErrorf(http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}
