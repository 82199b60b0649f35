package awsjson

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NewFromEnv builds a Client from the standard AWS variables. It honours:
//
//	region: AWS_REGION, else AWS_DEFAULT_REGION (error naming both if neither is set)
//	credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN) (error naming them if missing)
//	endpoint: AWS_ENDPOINT_URL_<EndpointID>, else AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true;
//	          else https://<HostPrefix>.<region>.amazonaws.com (".amazonaws.com.cn" for cn-* regions; an error
//	          for the isolated and sovereign partitions, us-iso-*, us-isob-*, eusc-*, ...)
//	AWS_CA_BUNDLE: if set, replaces the root CAs for TLS (as the SDKs do)
//	AWS_MAX_ATTEMPTS: MaxAttempts, a positive integer (default 3)
//	AWS_RETRY_MODE: standard or legacy (both mean this package's one retry policy); adaptive is refused
//	AWS_USE_FIPS_ENDPOINT, AWS_USE_DUALSTACK_ENDPOINT: refused when true without an explicit endpoint
//	HTTPS_PROXY, HTTP_PROXY, NO_PROXY: through net/http, as the SDK's default transport
//
// Everything else is ignored, notably AWS_PROFILE, AWS_CONFIG_FILE,
// AWS_SHARED_CREDENTIALS_FILE and the shared config and credentials files
// themselves (~/.aws/config, ~/.aws/credentials), and every other credential
// source (SSO, web identity, container, IMDS).
//
// It runs in Lambda INIT, so it only reads variables: no TLS or CA work unless
// AWS_CA_BUNDLE is set (parsing a full system bundle of ~150 certificates
// takes several milliseconds; Lambda does not set it). The default endpoint cannot honour
// AWS_USE_FIPS_ENDPOINT or AWS_USE_DUALSTACK_ENDPOINT; rather than silently
// ignoring them it returns an error asking for an explicit endpoint.
func NewFromEnv(svc Service) (*Client, error) {
	c := &Client{Service: svc, MaxAttempts: defaultMaxAttempts, Now: time.Now}

	regionVar := "AWS_REGION"
	c.Region = os.Getenv(regionVar)
	if c.Region == "" {
		regionVar = "AWS_DEFAULT_REGION"
		c.Region = os.Getenv(regionVar)
	}
	if c.Region == "" {
		return nil, errors.New("awsjson: AWS_REGION is not set: set AWS_REGION (Lambda sets it) or AWS_DEFAULT_REGION")
	}
	if !validHostLabel(c.Region) {
		return nil, fmt.Errorf("awsjson: %s=%q is not a region name: set it to one such as eu-west-1", regionVar, c.Region)
	}

	c.Credentials = Credentials{
		AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
	}
	var missing []string
	if c.Credentials.AccessKeyID == "" {
		missing = append(missing, "AWS_ACCESS_KEY_ID")
	}
	if c.Credentials.SecretAccessKey == "" {
		missing = append(missing, "AWS_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		verb := " is"
		if len(missing) == 2 {
			verb = " are"
		}
		return nil, fmt.Errorf("awsjson: %s%s not set: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials; "+
			"Lambda sets all three from the execution role); awsjson reads credentials from the environment only", strings.Join(missing, " and "), verb)
	}

	var err error
	if c.Endpoint, err = endpointFromEnv(svc, c.Region); err != nil {
		return nil, err
	}
	if c.MaxAttempts, err = retryFromEnv(); err != nil {
		return nil, err
	}

	if path := os.Getenv("AWS_CA_BUNDLE"); path != "" {
		roots, err := loadCABundle(path)
		if err != nil {
			return nil, err
		}
		c.HTTPClient = newHTTPClient(roots)
	} else {
		c.HTTPClient = defaultHTTPClient()
	}
	return c, nil
}

func endpointFromEnv(svc Service, region string) (string, error) {
	ignore, err := envBool("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
	if err != nil {
		return "", err
	}
	if !ignore {
		for _, name := range []string{"AWS_ENDPOINT_URL_" + svc.EndpointID, "AWS_ENDPOINT_URL"} {
			if v := os.Getenv(name); v != "" && name != "AWS_ENDPOINT_URL_" {
				if _, err := parseEndpoint(v); err != nil {
					return "", fmt.Errorf("awsjson: %s=%w; fix or unset %s", name, err, name)
				}
				return v, nil
			}
		}
	}
	for _, name := range []string{"AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT"} {
		on, err := envBool(name)
		if err != nil {
			return "", err
		}
		if on {
			return "", fmt.Errorf("awsjson: %s=true is not supported: unset it and set AWS_ENDPOINT_URL_%s to the endpoint wanted", name, svc.EndpointID)
		}
	}
	if svc.HostPrefix == "" {
		return "", fmt.Errorf("awsjson: service %q has no HostPrefix for a default endpoint: set AWS_ENDPOINT_URL_%s", svc.Name, svc.EndpointID)
	}
	if isolatedPartition(region) {
		return "", fmt.Errorf("awsjson: region %s is in an isolated or sovereign AWS partition, whose endpoints awsjson does not know: "+
			"set AWS_ENDPOINT_URL_%s to the %s endpoint", region, svc.EndpointID, svc.Name)
	}
	suffix := ".amazonaws.com" // partitions aws and aws-us-gov
	if strings.HasPrefix(region, "cn-") {
		suffix = ".amazonaws.com.cn" // aws-cn
	}
	return "https://" + svc.HostPrefix + "." + region + suffix, nil
}

// isolatedPartition reports a region of a partition other than aws, aws-cn
// and aws-us-gov (the partitions of aws-sdk-go-v2's
// internal/endpoints/awsrulesfn/partitions.json): aws-iso (us-iso-*),
// aws-iso-b (us-isob-*), aws-iso-e (eu-isoe-*), aws-iso-f (us-isof-*), and
// future iso ones, whose second label starts with "iso", and aws-eusc
// (eusc-*). Their DNS suffixes differ (c2s.ic.gov, amazonaws.eu, ...), so
// the default host would be wrong. Other unknown regions get amazonaws.com,
// as the SDK's fallback to the aws partition does.
func isolatedPartition(region string) bool {
	_, rest, _ := strings.Cut(region, "-")
	return strings.HasPrefix(region, "eusc-") || strings.HasPrefix(rest, "iso")
}

// retryFromEnv reads AWS_MAX_ATTEMPTS and checks AWS_RETRY_MODE. The SDK's
// adaptive mode adds client-side rate limiting, which this package does not
// have: refusing it is better than silently retrying without it.
func retryFromEnv() (int, error) {
	switch v := os.Getenv("AWS_RETRY_MODE"); {
	case v == "" || strings.EqualFold(v, "standard") || strings.EqualFold(v, "legacy"):
	case strings.EqualFold(v, "adaptive"):
		return 0, errors.New("awsjson: AWS_RETRY_MODE=adaptive is not supported (awsjson has no client-side rate limiting): set it to standard, or unset it")
	default:
		return 0, fmt.Errorf("awsjson: AWS_RETRY_MODE=%q is not a retry mode: set it to standard, or unset it", v)
	}
	v := os.Getenv("AWS_MAX_ATTEMPTS")
	if v == "" {
		return defaultMaxAttempts, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("awsjson: AWS_MAX_ATTEMPTS=%q is not a positive integer: set it to the number of attempts per call (1 = no retries), or unset it for %d", v, defaultMaxAttempts)
	}
	return n, nil
}

// envBool reads a true/false variable (case-insensitive, as the SDK's config); unset is false.
func envBool(name string) (bool, error) {
	switch v := os.Getenv(name); {
	case v == "" || strings.EqualFold(v, "false"):
		return false, nil
	case strings.EqualFold(v, "true"):
		return true, nil
	default:
		return false, fmt.Errorf("awsjson: %s=%q is not a boolean: set it to true or false, or unset it", name, v)
	}
}

// validHostLabel: the region becomes part of the default host name.
func validHostLabel(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-' && i > 0 && i < len(s)-1) {
			return false
		}
	}
	return s != "" && len(s) <= 63
}

func loadCABundle(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("awsjson: AWS_CA_BUNDLE: %w: set it to a PEM file of CA certificates, or unset it", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("awsjson: AWS_CA_BUNDLE=%q holds no PEM certificate: set it to a PEM file of CA certificates, or unset it", path)
	}
	return roots, nil
}

// defaultHTTPClient is shared by all Clients without a CA bundle, built on
// first use. Cloning the Transport is cheap; system roots load at the first
// TLS handshake.
var defaultHTTPClient = sync.OnceValue(func() *http.Client { return newHTTPClient(nil) })

// newHTTPClient: http.DefaultTransport's settings (proxy from the
// environment, HTTP/2, dial and TLS handshake timeouts) with more idle
// connections per host, since a function calls one host concurrently; and a
// 5 s limit per attempt.
func newHTTPClient(roots *x509.CertPool) *http.Client {
	t, ok := http.DefaultTransport.(*http.Transport)
	if ok {
		t = t.Clone()
	} else { // replaced by someone: start from the same essentials
		t = &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, MaxIdleConns: 100, IdleConnTimeout: 90 * time.Second}
	}
	t.MaxIdleConnsPerHost = 32
	if roots != nil { // Clone set up HTTP/2 in TLSClientConfig (NextProtos): keep it
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.RootCAs = roots
	}
	return &http.Client{Transport: t, Timeout: 5 * time.Second}
}
