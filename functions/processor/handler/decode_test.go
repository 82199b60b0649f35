package handler

import (
	"strings"
	"testing"

	"github.com/streamproc/streamproc/functions/kinesisbatch"
)

// TestDecodePanicFailsOnlyThatRecord: a decoder that panics fails the record
// it panicked on, transiently, and decoding resumes with the next one.
func TestDecodePanicFailsOnlyThatRecord(t *testing.T) {
	recs := []kinesisbatch.Record{{Index: 0, Data: []byte(`x`)}, {Index: 1, Data: []byte(`y`)}, {Index: 2, Data: []byte(`z`)}}
	b := &kinesisbatch.Batch{Attempt: 1}
	for i := range recs {
		b.Records = append(b.Records, &recs[i])
	}
	st := &engineState{} // a nil decoder panics on every record
	calls := 0
	for i := 0; i < len(b.Records); calls++ {
		i = st.decode(b, i, 0)
	}
	if calls != 3 || len(st.recs) != 0 {
		t.Fatalf("%d calls, %d records decoded: want 3 calls (one per panic), none decoded", calls, len(st.recs))
	}
	for _, r := range b.Records {
		err := b.Err(r)
		if err == nil || !strings.Contains(err.Error(), "panic decoding the reading") || kinesisbatch.IsPermanent(err) {
			t.Errorf("record %d: %v, want a transient panic error", r.Index, err)
		}
	}
}
