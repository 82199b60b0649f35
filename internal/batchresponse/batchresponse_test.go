package batchresponse

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	seqs := []string{"10", "20", "30"}
	for _, tc := range []struct {
		body   string
		lowest int
		failed []string
		err    string // "" none, "object" ErrNotAnObject, else a substring
	}{
		{body: ``, lowest: -1},
		{body: ` null `, lowest: -1},
		{body: `{}`, lowest: -1},
		{body: `{"batchItemFailures":null}`, lowest: -1},
		{body: `{"batchItemFailures":[]}`, lowest: -1},
		{body: `{"batchItemFailures":[{"itemIdentifier":"30"},{"itemIdentifier":"20"}]}`, lowest: 1, failed: []string{"30", "20"}},
		{body: `{"batchItemFailures":[{"itemIdentifier":"10"}],"other":1}`, lowest: 0, failed: []string{"10"}},
		{body: `{"batchItemFailures":[{"itemIdentifier":null}]}`, lowest: -1, err: "null or empty"},
		{body: `{"batchItemFailures":[{"itemIdentifier":""}]}`, lowest: -1, err: "null or empty"},
		{body: `{"batchItemFailures":[{"itemIdentifer":"10"}]}`, lowest: -1, err: "null or empty"}, // misspelt key: a bad key name
		{body: `{"batchItemFailures":[{"itemIdentifier":"99"}]}`, lowest: -1, err: `"99" is not a sequence number`},
		{body: `{not json`, lowest: -1, err: "batchItemFailures"},
		{body: `not json`, lowest: -1, err: "not valid JSON"},
		{body: `{"batchItemFailures":[{"itemIdentifier":20}]}`, lowest: -1, err: "batchItemFailures"},
		{body: `{"batchItemFailures":{"itemIdentifier":"20"}}`, lowest: -1, err: "batchItemFailures"},
		{body: `{"batchItemFailures":"20"}`, lowest: -1, err: "batchItemFailures"},
		{body: `"ok"`, lowest: -1, err: "object"},
		{body: `[1]`, lowest: -1, err: "object"},
	} {
		lowest, failed, err := Parse([]byte(tc.body), seqs)
		switch {
		case tc.err == "" && err != nil,
			tc.err == "object" && !errors.Is(err, ErrNotAnObject),
			tc.err != "" && tc.err != "object" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: err = %v, want %q", tc.body, err, tc.err)
		}
		if lowest != tc.lowest || !slices.Equal(failed, tc.failed) {
			t.Errorf("%s: = %d %q, want %d %q", tc.body, lowest, failed, tc.lowest, tc.failed)
		}
	}
}
