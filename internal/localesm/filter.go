package localesm

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Event filtering, a subset of the Lambda filter rule syntax.
// https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
//
// A Kinesis record is filtered as the object
//
//	{"partitionKey": ..., "sequenceNumber": ..., "data": <the payload, if it is a JSON object>}
//
// Supported: nested objects, arrays of alternatives (equality on strings,
// numbers, booleans, null), {"prefix"}, {"suffix"}, {"exists"},
// {"anything-but": value or [values]}, {"numeric": [op, n, (op, n)]},
// {"equals-ignore-case"}. A record passes when any filter matches; a record
// whose data is not JSON cannot match a pattern on "data" (as on AWS).
type filter struct{ pattern map[string]any }

func compileFilter(p string) (*filter, error) {
	var m map[string]any
	if err := json.Unmarshal([]byte(p), &m); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if err := checkPattern(m); err != nil {
		return nil, err
	}
	return &filter{pattern: m}, nil
}

func checkPattern(m map[string]any) error {
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any:
			if err := checkPattern(v); err != nil {
				return err
			}
		case []any:
			for _, alt := range v {
				if op, ok := alt.(map[string]any); ok {
					if len(op) != 1 {
						return fmt.Errorf("key %q: an operator object must have exactly one operator", k)
					}
					for name := range op {
						switch name {
						case "prefix", "suffix", "exists", "anything-but", "numeric", "equals-ignore-case":
						default:
							return fmt.Errorf("key %q: operator %q is not supported by the local poller", k, name)
						}
					}
				}
			}
		default:
			return fmt.Errorf("key %q: a pattern value must be an object or an array of alternatives", k)
		}
	}
	return nil
}

func (f *filter) match(ev map[string]any) bool { return matchObject(f.pattern, ev) }

func matchObject(pattern, ev map[string]any) bool {
	for k, p := range pattern {
		v, present := ev[k]
		switch p := p.(type) {
		case map[string]any:
			sub, ok := v.(map[string]any)
			if !ok || !matchObject(p, sub) {
				return false
			}
		case []any:
			if !matchAlternatives(p, v, present) {
				return false
			}
		}
	}
	return true
}

func matchAlternatives(alts []any, v any, present bool) bool {
	values := []any{v}
	if arr, ok := v.([]any); ok { // an array value matches if any element does
		values = arr
	}
	for _, alt := range alts {
		if op, ok := alt.(map[string]any); ok {
			if matchOperator(op, values, present) {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, x := range values {
			if equalJSON(alt, x) {
				return true
			}
		}
	}
	return false
}

func matchOperator(op map[string]any, values []any, present bool) bool {
	for name, arg := range op {
		if name == "exists" {
			want, _ := arg.(bool)
			return want == present
		}
		if !present {
			return false
		}
		for _, x := range values {
			if matchOne(name, arg, x) {
				return true
			}
		}
	}
	return false
}

func matchOne(name string, arg, x any) bool {
	switch name {
	case "prefix":
		s, ok := x.(string)
		a, _ := arg.(string)
		return ok && strings.HasPrefix(s, a)
	case "suffix":
		s, ok := x.(string)
		a, _ := arg.(string)
		return ok && strings.HasSuffix(s, a)
	case "equals-ignore-case":
		s, ok := x.(string)
		a, _ := arg.(string)
		return ok && strings.EqualFold(s, a)
	case "anything-but":
		if list, ok := arg.([]any); ok {
			for _, a := range list {
				if equalJSON(a, x) {
					return false
				}
			}
			return true
		}
		return !equalJSON(arg, x)
	case "numeric":
		n, ok := x.(float64)
		list, _ := arg.([]any)
		if !ok || len(list)%2 != 0 {
			return false
		}
		for i := 0; i < len(list); i += 2 {
			o, _ := list[i].(string)
			b, _ := list[i+1].(float64)
			var r bool
			switch o {
			case "=":
				r = n == b
			case "<":
				r = n < b
			case "<=":
				r = n <= b
			case ">":
				r = n > b
			case ">=":
				r = n >= b
			}
			if !r {
				return false
			}
		}
		return true
	}
	return false
}

func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case string, float64, bool:
		return a == b
	}
	return false
}

// filterSet is the compiled FilterCriteria of a mapping.
type filterSet []*filter

func compileFilters(patterns []string) (filterSet, error) {
	var fs filterSet
	for _, p := range patterns {
		f, err := compileFilter(p)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, nil
}

// pass reports whether the record should be delivered.
func (fs filterSet) pass(r *Record) bool {
	if len(fs) == 0 {
		return true
	}
	ev := map[string]any{
		"partitionKey":         r.PartitionKey,
		"sequenceNumber":       r.SequenceNumber,
		"kinesisSchemaVersion": "1.0",
	}
	var data map[string]any
	if json.Unmarshal(r.Data, &data) == nil {
		ev["data"] = data
	}
	for _, f := range fs {
		if f.match(ev) {
			return true
		}
	}
	return false
}
