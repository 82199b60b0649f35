package kinesisbatch

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecode holds the Decoder to its contract: it never panics, every input
// is either decoded or rejected with a *SyntaxError carrying an offset and a
// reason, and on every object encoding/json accepts into events.KinesisEvent
// it accepts too and decodes the same values (and it accepts nothing
// encoding/json rejects).
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("testdata/kinesis-event.json"); err == nil {
		f.Add(b)
	}
	f.Add(genEvent(3))
	f.Add(bytes.ReplaceAll(genEvent(2), []byte(`"kinesisSchemaVersion":"1.0",`), []byte(`"kinesisSchemaVersion":"1.0","encryptionType":"KMS",`)))
	for _, s := range []string{
		`{}`, `{"Records":[]}`, `{"Records":null}`, `{"Records":[null,{}]}`,
		`{"Records":[{"kinesis":{"data":"aGk=","sequenceNumber":"1","approximateArrivalTimestamp":1.5}}]}`,
		`{"Records":[{"eventID":"sh\u0061rd:\"1\"","kinesis":{"partitionKey":"\ud83d\ude00","data":"aG\u006b="}}]}`,
		`{"records":[{"KINESIS":{"Data":"aGk="}}],"x":[1,{"y":[true,false,null,-0.5e+3]}]}`,
		"{\"Records\":[{\"kinesis\":{\"partitionKey\":\"a\xffb\"}}]}",
		`{"Records":[{"eventID":"a:1"},{"eventID":"b:2"}],"Records":[{"awsRegion":"r"}]}`,
	} {
		f.Add([]byte(s))
	}
	var d Decoder // reused on purpose: state must not leak between inputs
	f.Fuzz(func(t *testing.T, payload []byte) {
		compareWithStdlib(t, &d, payload)
	})
}
