package localesm

import "testing"

func TestFilterCriteria(t *testing.T) {
	rec := func(key, data string) *Record {
		return &Record{PartitionKey: key, SequenceNumber: "1", Data: []byte(data)}
	}
	for _, tc := range []struct {
		name     string
		patterns []string
		r        *Record
		pass     bool
	}{
		{"no filters", nil, rec("k", "x"), true},
		{"equality", []string{`{"data":{"kind":["reading"]}}`}, rec("k", `{"kind":"reading"}`), true},
		{"equality miss", []string{`{"data":{"kind":["reading"]}}`}, rec("k", `{"kind":"other"}`), false},
		{"non-JSON data cannot match a data pattern", []string{`{"data":{"kind":["reading"]}}`}, rec("k", `not json`), false},
		{"metadata prefix", []string{`{"partitionKey":[{"prefix":"sensor-"}]}`}, rec("sensor-1", `x`), true},
		{"numeric range", []string{`{"data":{"t":[{"numeric":[">",0,"<=",50]}]}}`}, rec("k", `{"t":21.5}`), true},
		{"numeric out of range", []string{`{"data":{"t":[{"numeric":[">",0,"<=",50]}]}}`}, rec("k", `{"t":80}`), false},
		{"exists false", []string{`{"data":{"h":[{"exists":false}]}}`}, rec("k", `{"t":1}`), true},
		{"anything-but", []string{`{"data":{"s":[{"anything-but":["bad","worse"]}]}}`}, rec("k", `{"s":"good"}`), true},
		{"any filter of several", []string{`{"data":{"a":[1]}}`, `{"data":{"b":[2]}}`}, rec("k", `{"b":2}`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, err := compileFilters(tc.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := fs.pass(tc.r); got != tc.pass {
				t.Fatalf("pass = %v, want %v", got, tc.pass)
			}
		})
	}
	if _, err := compileFilter(`{"data":{"a":[{"wildcard":"x*"}]}}`); err == nil {
		t.Fatal("an unsupported operator must be an error, not ignored")
	}
}
