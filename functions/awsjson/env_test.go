package awsjson

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var envVars = []string{
	"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
	"AWS_CA_BUNDLE", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
}

// setEnv sets exactly vars among the variables NewFromEnv reads (the others empty).
func setEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	for _, k := range envVars {
		t.Setenv(k, vars[k])
	}
}

func TestNewFromEnv(t *testing.T) {
	creds := map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range creds {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	noPEM := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(noPEM, []byte("not a certificate\n"), 0o600)

	cases := []struct {
		name     string
		svc      Service
		env      map[string]string
		region   string
		endpoint string
		err      string // substring of the error; "" = success
	}{
		{"lambda", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_SESSION_TOKEN": "TOKEN"}),
			"eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com", ""},
		{"default region", SQS, with(map[string]string{"AWS_DEFAULT_REGION": "us-east-2"}), "us-east-2", "https://sqs.us-east-2.amazonaws.com", ""},
		{"china", DynamoDB, with(map[string]string{"AWS_REGION": "cn-north-1"}), "cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn", ""},
		{"govcloud", SQS, with(map[string]string{"AWS_REGION": "us-gov-west-1"}), "us-gov-west-1", "https://sqs.us-gov-west-1.amazonaws.com", ""},
		{"iso with explicit endpoint", DynamoDB, with(map[string]string{"AWS_REGION": "us-iso-east-1", "AWS_ENDPOINT_URL_DYNAMODB": "https://dynamodb.us-iso-east-1.c2s.ic.gov"}),
			"us-iso-east-1", "https://dynamodb.us-iso-east-1.c2s.ic.gov", ""},
		{"service endpoint wins", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4567", "AWS_ENDPOINT_URL": "http://127.0.0.1:9999"}), "eu-west-1", "http://127.0.0.1:4567", ""},
		{"global endpoint", SQS, with(map[string]string{"AWS_REGION": "eu-west-1",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4567", "AWS_ENDPOINT_URL": "https://localhost:9999/"}), "eu-west-1", "https://localhost:9999/", ""},
		{"endpoints ignored", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "TRUE",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4567"}), "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com", ""},
		{"endpoints not ignored", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "false",
			"AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:4567"}), "eu-west-1", "http://127.0.0.1:4567", ""},
		{"fips with explicit endpoint", DynamoDB, with(map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_FIPS_ENDPOINT": "true",
			"AWS_ENDPOINT_URL_DYNAMODB": "https://dynamodb-fips.us-east-1.amazonaws.com"}), "us-east-1", "https://dynamodb-fips.us-east-1.amazonaws.com", ""},

		{"retry mode standard", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_RETRY_MODE": "standard"}), "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com", ""},
		{"retry mode legacy", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_RETRY_MODE": "Legacy"}), "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com", ""},

		{"no region", DynamoDB, creds, "", "", "awsjson: AWS_REGION is not set: set AWS_REGION (Lambda sets it) or AWS_DEFAULT_REGION"},
		{"bad region", DynamoDB, with(map[string]string{"AWS_REGION": "eu west 1"}), "", "", `AWS_REGION="eu west 1" is not a region name`},
		{"bad default region", DynamoDB, with(map[string]string{"AWS_DEFAULT_REGION": "eu-west-1.evil.com"}), "", "", `AWS_DEFAULT_REGION="eu-west-1.evil.com"`},
		{"no credentials", DynamoDB, map[string]string{"AWS_REGION": "eu-west-1"}, "", "",
			"awsjson: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{"no secret", DynamoDB, map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID"}, "", "", "awsjson: AWS_SECRET_ACCESS_KEY is not set"},
		{"no key id", DynamoDB, map[string]string{"AWS_REGION": "eu-west-1", "AWS_SECRET_ACCESS_KEY": "S", "AWS_SESSION_TOKEN": "T"}, "", "", "awsjson: AWS_ACCESS_KEY_ID is not set"},
		{"endpoint without scheme", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_DYNAMODB": "localhost:8000"}), "", "",
			`awsjson: AWS_ENDPOINT_URL_DYNAMODB="localhost:8000" is not a valid endpoint: its scheme must be http or https`},
		{"endpoint ftp", SQS, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "ftp://h"}), "", "", `AWS_ENDPOINT_URL="ftp://h"`},
		{"endpoint without host", SQS, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_SQS": "http://:4566"}), "", "", "it has no host"},
		{"endpoint with path", SQS, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_SQS": "http://localhost:4566/queue"}), "", "", "must not have a path"},
		{"endpoint unparsable", SQS, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_ENDPOINT_URL_SQS": "http://[::1"}), "", "", `AWS_ENDPOINT_URL_SQS="http://[::1" is not a URL`},
		{"ignore not a bool", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "yes"}), "", "",
			`AWS_IGNORE_CONFIGURED_ENDPOINT_URLS="yes" is not a boolean: set it to true or false`},
		{"fips", DynamoDB, with(map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_FIPS_ENDPOINT": "true"}), "", "",
			"AWS_USE_FIPS_ENDPOINT=true is not supported: unset it and set AWS_ENDPOINT_URL_DYNAMODB"},
		{"dualstack", SQS, with(map[string]string{"AWS_REGION": "us-east-1", "AWS_USE_DUALSTACK_ENDPOINT": "True"}), "", "", "AWS_USE_DUALSTACK_ENDPOINT=true is not supported"},
		{"iso", DynamoDB, with(map[string]string{"AWS_REGION": "us-iso-east-1"}), "", "", "region us-iso-east-1 is in an isolated or sovereign AWS partition"},
		{"iso-b", SQS, with(map[string]string{"AWS_REGION": "us-isob-east-1"}), "", "", "region us-isob-east-1 is in an isolated or sovereign AWS partition, " +
			"whose endpoints awsjson does not know: set AWS_ENDPOINT_URL_SQS to the SQS endpoint"},
		{"eusc", DynamoDB, with(map[string]string{"AWS_REGION": "eusc-de-east-1"}), "", "", "region eusc-de-east-1 is in an isolated or sovereign AWS partition"},
		{"max attempts zero", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_MAX_ATTEMPTS": "0"}), "", "", `awsjson: AWS_MAX_ATTEMPTS="0" is not a positive integer`},
		{"max attempts not a number", SQS, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_MAX_ATTEMPTS": "three"}), "", "", `AWS_MAX_ATTEMPTS="three" is not a positive integer`},
		{"adaptive retry mode", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_RETRY_MODE": "adaptive"}), "", "",
			"awsjson: AWS_RETRY_MODE=adaptive is not supported (awsjson has no client-side rate limiting): set it to standard, or unset it"},
		{"unknown retry mode", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_RETRY_MODE": "fast"}), "", "", `AWS_RETRY_MODE="fast" is not a retry mode`},
		{"ca bundle missing", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_CA_BUNDLE": "/nonexistent/ca.pem"}), "", "",
			"awsjson: AWS_CA_BUNDLE: open /nonexistent/ca.pem"},
		{"ca bundle not pem", DynamoDB, with(map[string]string{"AWS_REGION": "eu-west-1", "AWS_CA_BUNDLE": noPEM}), "", "", "holds no PEM certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			c, err := NewFromEnv(tc.svc)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Region != tc.region || c.Endpoint != tc.endpoint || c.Service != tc.svc {
				t.Errorf("region %q endpoint %q service %v; want %q %q %v", c.Region, c.Endpoint, c.Service.Name, tc.region, tc.endpoint, tc.svc.Name)
			}
			want := Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET", SessionToken: tc.env["AWS_SESSION_TOKEN"]}
			if c.Credentials != want {
				t.Errorf("credentials %+v, want %+v", c.Credentials, want)
			}
			if c.MaxAttempts != 3 || c.Now == nil || c.HTTPClient == nil {
				t.Errorf("defaults not filled: %+v", c)
			}
		})
	}
}

// TestDefaultEndpointsFollowSDKPartitions checks the default endpoint of every
// region in aws-sdk-go-v2's partitions.json (from the module cache): the
// partition's DNS suffix for aws, aws-cn and aws-us-gov, an error elsewhere.
func TestMaxAttemptsFromEnv(t *testing.T) {
	for v, want := range map[string]int{"": 3, "1": 1, "7": 7} {
		setEnv(t, map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S", "AWS_MAX_ATTEMPTS": v})
		c, err := NewFromEnv(SQS)
		if err != nil {
			t.Errorf("AWS_MAX_ATTEMPTS=%q: %v", v, err)
		} else if c.MaxAttempts != want {
			t.Errorf("AWS_MAX_ATTEMPTS=%q: MaxAttempts %d, want %d", v, c.MaxAttempts, want)
		}
	}
}

func TestDefaultEndpointsFollowSDKPartitions(t *testing.T) {
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go-v2").Output()
	if err != nil || len(strings.TrimSpace(string(dir))) == 0 {
		t.Skipf("aws-sdk-go-v2 not in the module cache (%v)", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "internal", "endpoints", "awsrulesfn", "partitions.json"))
	if err != nil {
		t.Skip(err)
	}
	var doc struct {
		Partitions []struct {
			ID          string
			RegionRegex string
			Regions     map[string]json.RawMessage
			Outputs     struct{ DNSSuffix string }
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range doc.Partitions {
		re := regexp.MustCompile(p.RegionRegex)
		for region := range p.Regions {
			if !re.MatchString(region) { // pseudo regions such as aws-global
				continue
			}
			seen[p.ID] = true
			setEnv(t, map[string]string{"AWS_REGION": region, "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S"})
			c, err := NewFromEnv(DynamoDB)
			got := ""
			if c != nil {
				got = c.Endpoint
			}
			switch p.ID {
			case "aws", "aws-cn", "aws-us-gov":
				if want := "https://dynamodb." + region + "." + p.Outputs.DNSSuffix; err != nil || got != want {
					t.Errorf("%s (%s): endpoint %q, error %v; want %s", region, p.ID, got, err, want)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), region) || !strings.Contains(err.Error(), "AWS_ENDPOINT_URL_DYNAMODB") {
					t.Errorf("%s (%s, DNS suffix %s): got endpoint %q, error %v; want an error asking for AWS_ENDPOINT_URL_DYNAMODB",
						region, p.ID, p.Outputs.DNSSuffix, got, err)
				}
			}
		}
	}
	for _, id := range []string{"aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-eusc"} {
		if !seen[id] {
			t.Errorf("partitions.json has no region of partition %s", id)
		}
	}
}

func TestDefaultHTTPClient(t *testing.T) {
	setEnv(t, map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S"})
	c, err := NewFromEnv(DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPClient != defaultHTTPClient() {
		t.Error("clients without a CA bundle should share the default HTTP client")
	}
	tr := c.HTTPClient.Transport.(*http.Transport)
	if c.HTTPClient.Timeout != 5*time.Second || tr.MaxIdleConnsPerHost != 32 || !tr.ForceAttemptHTTP2 || tr.Proxy == nil {
		t.Errorf("timeout %v, idle per host %d, http2 %v, proxy %v", c.HTTPClient.Timeout, tr.MaxIdleConnsPerHost, tr.ForceAttemptHTTP2, tr.Proxy != nil)
	}
	if tr.TLSClientConfig != nil && tr.TLSClientConfig.RootCAs != nil {
		t.Error("root CAs set without AWS_CA_BUNDLE")
	}
	if tr == http.DefaultTransport {
		t.Error("http.DefaultTransport modified instead of cloned")
	}
}

// BenchmarkNewFromEnv: it runs in Lambda INIT and should stay in microseconds.
func BenchmarkNewFromEnv(b *testing.B) {
	for _, k := range envVars {
		b.Setenv(k, "")
	}
	b.Setenv("AWS_REGION", "eu-west-1")
	b.Setenv("AWS_ACCESS_KEY_ID", "A")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "S")
	for b.Loop() {
		if _, err := NewFromEnv(DynamoDB); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewHTTPClient(b *testing.B) {
	for b.Loop() {
		newHTTPClient(nil)
	}
}
