package batchresponse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotAnObject is returned by Parse for a body that is valid
// JSON but not an object (a string, a number, an array). Lambda's
// documentation does not say what it makes of one; each caller decides.
var ErrNotAnObject = errors.New("the function's answer is JSON but not an object")

// Parse applies Lambda's partial batch response rules for
// Kinesis (ReportBatchItemFailures) to a function's answer for a batch whose
// sequence numbers are seqs, in batch order.
// https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
//
//   - success: an empty or null answer, an empty object, or an empty or null
//     batchItemFailures list: lowest is -1;
//   - otherwise Lambda checkpoints at the lowest failed sequence number:
//     lowest is its index in seqs and failed lists the reported identifiers;
//   - complete failure: an itemIdentifier that is null, empty or not a
//     sequence number of the batch, an object that is not a batch response
//     (batchItemFailures not a list of {itemIdentifier: string}), or an
//     answer that is not JSON: the error says why.
func Parse(body []byte, seqs []string) (lowest int, failed []string, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || string(body) == "null" {
		return -1, nil, nil
	}
	var resp struct {
		BatchItemFailures []struct {
			ItemIdentifier *string `json:"itemIdentifier"`
		} `json:"batchItemFailures"`
	}
	if body[0] != '{' {
		if json.Valid(body) {
			return -1, nil, ErrNotAnObject
		}
		return -1, nil, errors.New("the function's answer is not valid JSON")
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		// An object, but not a batch response: Lambda cannot read the
		// failures, so the whole batch failed.
		return -1, nil, fmt.Errorf(`the function's answer is not {"batchItemFailures":[{"itemIdentifier":"<sequence number>"}]}: %w`, err)
	}
	if len(resp.BatchItemFailures) == 0 {
		return -1, nil, nil
	}
	index := make(map[string]int, len(seqs))
	for i, s := range seqs {
		index[s] = i
	}
	lowest = -1
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == nil || *f.ItemIdentifier == "" {
			return -1, nil, errors.New("batchItemFailures has a null or empty itemIdentifier")
		}
		i, ok := index[*f.ItemIdentifier]
		if !ok {
			return -1, nil, fmt.Errorf("itemIdentifier %q is not a sequence number of the batch", *f.ItemIdentifier)
		}
		failed = append(failed, *f.ItemIdentifier)
		if lowest == -1 || i < lowest {
			lowest = i
		}
	}
	return lowest, failed, nil
}
