package producer

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// GeneratorSource yields g's records without end (bound it with
// Config.Count or Config.Duration). If observe is not nil it sees every
// record before it is sent, e.g. to tally the expected totals.
func GeneratorSource(g *Generator, observe func(Record)) Source {
	return &genSource{g: g, observe: observe}
}

type genSource struct {
	g       *Generator
	observe func(Record)
}

func (s *genSource) Next() (Entry, error) {
	r := s.g.Next()
	if s.observe != nil {
		s.observe(r)
	}
	return r.Entry, nil
}

// SliceSource yields the entries given, then io.EOF.
func SliceSource(entries []Entry) Source { return &sliceSource{entries: entries} }

type sliceSource struct {
	entries []Entry
	i       int
}

func (s *sliceSource) Next() (Entry, error) {
	if s.i == len(s.entries) {
		return Entry{}, io.EOF
	}
	s.i++
	return s.entries[s.i-1], nil
}

// Generate returns the next n records of g, for tests that want the whole set
// before sending it (send them with SliceSource(Entries(recs))).
func Generate(g *Generator, n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// Entries returns the entries of records.
func Entries(recs []Record) []Entry {
	out := make([]Entry, len(recs))
	for i, r := range recs {
		out[i] = r.Entry
	}
	return out
}

// NDJSONSource reads one record per line from r and sends each line as it is
// (without the line break; blank lines are skipped). The partition key is the
// line's top-level "sensor_id" string when it has one, and otherwise the MD5
// of the line, which spreads such records evenly over the shards. A line
// longer than 1 MiB is an error that names its line number.
func NDJSONSource(r io.Reader) Source { return NDJSONSourceMax(r, MaxRecordBytes) }

// NDJSONSourceMax is NDJSONSource for a stream whose records may be up to
// maxBytes (its MaxRecordSizeInKiB x 1024).
func NDJSONSourceMax(r io.Reader, maxBytes int) Source {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxBytes+1)
	return &ndjsonSource{sc: sc, max: maxBytes}
}

type ndjsonSource struct {
	sc   *bufio.Scanner
	line int
	max  int
}

func (s *ndjsonSource) Next() (Entry, error) {
	for s.sc.Scan() {
		s.line++
		b := bytes.TrimRight(s.sc.Bytes(), "\r")
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		data := append([]byte(nil), b...)
		return Entry{PartitionKey: partitionKeyOf(data), Data: data}, nil
	}
	if err := s.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Entry{}, fmt.Errorf("line %d is longer than the stream's %d KiB record limit", s.line+1, s.max>>10)
		}
		return Entry{}, fmt.Errorf("after line %d: %w", s.line, err)
	}
	return Entry{}, io.EOF
}

func partitionKeyOf(line []byte) string {
	var v struct {
		SensorID *string `json:"sensor_id"`
	}
	if json.Unmarshal(line, &v) == nil && v.SensorID != nil && *v.SensorID != "" && len(*v.SensorID) <= MaxPartitionKeyLen {
		return *v.SensorID
	}
	sum := md5.Sum(line)
	return hex.EncodeToString(sum[:])
}
