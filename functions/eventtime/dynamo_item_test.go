package eventtime

import (
	"reflect"
	"testing"
)

// TestWindowItemRoundTrip: every field of a window state, the pending
// result's reservation time included, survives its DynamoDB item.
func TestWindowItemRoundTrip(t *testing.T) {
	k := WindowKey{Key: "k", Window: Window{Start: 60_000, End: 120_000}}
	s := WindowState{Version: 3, Agg: []byte(`{"count":2}`), Applied: []uint64{1, 7}, Late: []uint64{9}, Closed: true,
		DataVersion: 4, PublishedData: 2, Revisions: 1,
		Pending: &PendingResult{Revision: 1, DataVersion: 4, Agg: []byte(`{"count":2}`), Closed: true, ReservedAt: 1_796_083_321_094}}
	got, err := decodeWindow(encodeWindow(k, s, s.Version, 99))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Errorf("round trip:\n got %+v %+v\nwant %+v %+v", got, *got.Pending, s, *s.Pending)
	}
}
