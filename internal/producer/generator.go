package producer

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Kind says what a generated record is meant to exercise.
type Kind int

const (
	// Valid is a new, valid reading with an event id not used before.
	Valid Kind = iota
	// Duplicate re-sends an earlier Valid reading byte for byte (same
	// event_id), as a producer retry would. Apply it once, never twice.
	Duplicate
	// Invalid is a payload the processor must reject and quarantine.
	Invalid
)

func (k Kind) String() string {
	switch k {
	case Valid:
		return "valid"
	case Duplicate:
		return "duplicate"
	case Invalid:
		return "invalid"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Reading is the content of a generated valid reading, in the processor's
// input contract:
//
//	{"event_id":"...","sensor_id":"...","ts":<epoch ms>,"temperature":<°C>,"humidity":<%>}
//
// Temperature has two decimals and humidity one, so the decimal text is exact
// and tests can sum them without floating-point doubt (use the Centi/Deci
// integers).
type Reading struct {
	EventID     string
	SensorID    string
	TS          int64   // event time, Unix milliseconds
	Temperature float64 // °C, two decimals
	Humidity    float64 // % relative humidity, one decimal; only if HasHumidity
	HasHumidity bool
	TempCenti   int64 // Temperature * 100, exact
	HumDeci     int64 // Humidity * 10, exact
}

// Record is one generated Kinesis record and what it stands for.
type Record struct {
	Entry           // partition key (the sensor id) and payload
	Kind    Kind    // Valid, Duplicate or Invalid
	Reading Reading // for Valid and Duplicate
	Late    bool    // event time moved back (out of order) when it was generated
	Reason  string  // for Invalid: what is wrong with it
	Seq     int64   // 0-based position in the generated sequence
}

// GenOptions configure a Generator. Fractions are probabilities in [0, 1]
// applied independently per record: a record is a duplicate with probability
// Duplicates, otherwise invalid with probability Invalid, otherwise a new
// valid reading, late with probability OutOfOrder.
type GenOptions struct {
	// Seed makes the sequence reproducible: the same options give the same
	// records, byte for byte.
	// Default: 0
	Seed uint64
	// RunID prefixes every event id ("<RunID>-<n>"), so runs do not collide.
	// Default: "run<Seed>"
	RunID string
	// Sensors is the number of distinct sensors ("sensor-0001", ...); each
	// reading picks one at random.
	// Default: 100
	Sensors int
	// Start and Step fix event times: reading n has ts = Start + n*Step
	// (before any out-of-order shift). With a zero Start the event time is the
	// wall clock when the reading is generated.
	// Default: wall clock
	Start time.Time
	// Step is the event-time spacing used with Start.
	// Default: 10ms
	Step time.Duration
	// OutOfOrder is the fraction of valid readings whose event time is moved
	// back by a random amount up to MaxLateness.
	// Default: 0
	OutOfOrder float64
	// MaxLateness bounds the out-of-order shift.
	// Default: 30s
	MaxLateness time.Duration
	// Duplicates is the fraction of records that re-send an earlier valid
	// reading (same event id and payload).
	// Default: 0
	Duplicates float64
	// Invalid is the fraction of records that are invalid readings.
	// Default: 0
	Invalid float64
}

// Generator produces realistic sensor readings deterministically from a seed:
// each sensor has its own baseline temperature and humidity with a slow daily
// swing and noise. It is not safe for concurrent use.
type Generator struct {
	o        GenOptions
	rng      *rand.Rand
	n        int64 // records generated
	valid    int64 // valid readings generated (event id counter)
	sensors  []sensorModel
	recent   []Reading // ring of recent valid readings, for duplicates
	recentAt int
	now      func() time.Time
}

type sensorModel struct {
	id     string
	baseT  float64
	baseH  float64
	phase  float64
	hasHum bool
}

const recentRing = 1024

// NewGenerator returns a generator for o.
func NewGenerator(o GenOptions) *Generator {
	if o.RunID == "" {
		o.RunID = "run" + strconv.FormatUint(o.Seed, 10)
	}
	if o.Sensors <= 0 {
		o.Sensors = 100
	}
	if o.Step <= 0 {
		o.Step = 10 * time.Millisecond
	}
	if o.MaxLateness <= 0 {
		o.MaxLateness = 30 * time.Second
	}
	g := &Generator{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed5eed)), now: time.Now}
	width := len(strconv.Itoa(o.Sensors))
	if width < 4 {
		width = 4
	}
	for i := range o.Sensors {
		id := strconv.Itoa(i + 1)
		for len(id) < width {
			id = "0" + id
		}
		g.sensors = append(g.sensors, sensorModel{
			id:     "sensor-" + id,
			baseT:  12 + g.rng.Float64()*14, // 12-26 °C
			baseH:  30 + g.rng.Float64()*40, // 30-70 %
			phase:  g.rng.Float64() * 2 * math.Pi,
			hasHum: g.rng.Float64() < 0.9, // some sensors have no hygrometer
		})
	}
	return g
}

// Options returns the options in effect (defaults filled in).
func (g *Generator) Options() GenOptions { return g.o }

// Next generates the next record.
func (g *Generator) Next() Record {
	seq := g.n
	g.n++
	r := g.rng.Float64()
	switch {
	case r < g.o.Duplicates && g.valid > 0:
		rd := g.pickRecent()
		return Record{Entry: Entry{PartitionKey: rd.SensorID, Data: encode(nil, rd)}, Kind: Duplicate, Reading: rd, Seq: seq}
	case r < g.o.Duplicates+g.o.Invalid:
		return g.invalid(seq)
	}
	rd, late := g.reading()
	g.remember(rd)
	return Record{Entry: Entry{PartitionKey: rd.SensorID, Data: encode(nil, rd)}, Kind: Valid, Reading: rd, Late: late, Seq: seq}
}

func (g *Generator) eventTime() int64 {
	if g.o.Start.IsZero() {
		return g.now().UnixMilli()
	}
	return g.o.Start.Add(time.Duration(g.n-1) * g.o.Step).UnixMilli()
}

func (g *Generator) reading() (Reading, bool) {
	s := &g.sensors[g.rng.IntN(len(g.sensors))]
	ts := g.eventTime()
	late := false
	if g.o.OutOfOrder > 0 && g.rng.Float64() < g.o.OutOfOrder {
		ts -= 1 + g.rng.Int64N(g.o.MaxLateness.Milliseconds())
		late = true
	}
	day := float64(ts%86_400_000) / 86_400_000 * 2 * math.Pi
	t := s.baseT + 3*math.Sin(day+s.phase) + g.rng.NormFloat64()*0.3
	tc := int64(math.Round(t * 100))
	g.valid++
	rd := Reading{
		EventID:     g.o.RunID + "-" + strconv.FormatInt(g.valid, 10),
		SensorID:    s.id,
		TS:          ts,
		TempCenti:   tc,
		Temperature: float64(tc) / 100,
	}
	if s.hasHum {
		h := s.baseH - 5*math.Sin(day+s.phase) + g.rng.NormFloat64()
		hd := int64(math.Round(math.Min(100, math.Max(0, h)) * 10))
		rd.HumDeci, rd.Humidity, rd.HasHumidity = hd, float64(hd)/10, true
	}
	return rd, late
}

func (g *Generator) remember(rd Reading) {
	if len(g.recent) < recentRing {
		g.recent = append(g.recent, rd)
		return
	}
	g.recent[g.recentAt] = rd
	g.recentAt = (g.recentAt + 1) % recentRing
}

func (g *Generator) pickRecent() Reading { return g.recent[g.rng.IntN(len(g.recent))] }

// The kinds of invalid record, chosen in turn at random. Each carries a
// distinct event id so a test can find it in the quarantine.
var invalidKinds = []struct {
	reason string
	make   func(g *Generator, id, sensor string, ts int64) []byte
}{
	{"not JSON", func(_ *Generator, id, _ string, _ int64) []byte {
		return []byte(`{"event_id":"` + id + `","sensor_id":`)
	}},
	{"missing sensor_id", func(_ *Generator, id, _ string, ts int64) []byte {
		return []byte(`{"event_id":"` + id + `","ts":` + strconv.FormatInt(ts, 10) + `,"temperature":20.5}`)
	}},
	{"temperature out of range", func(_ *Generator, id, sensor string, ts int64) []byte {
		return []byte(`{"event_id":"` + id + `","sensor_id":"` + sensor + `","ts":` + strconv.FormatInt(ts, 10) + `,"temperature":999.9}`)
	}},
	{"temperature not a number", func(_ *Generator, id, sensor string, ts int64) []byte {
		return []byte(`{"event_id":"` + id + `","sensor_id":"` + sensor + `","ts":` + strconv.FormatInt(ts, 10) + `,"temperature":"warm"}`)
	}},
	{"event time far in the future", func(_ *Generator, id, sensor string, ts int64) []byte {
		return []byte(`{"event_id":"` + id + `","sensor_id":"` + sensor + `","ts":` + strconv.FormatInt(ts+365*86_400_000, 10) + `,"temperature":20.5}`)
	}},
	{"missing event_id", func(_ *Generator, _, sensor string, ts int64) []byte {
		return []byte(`{"sensor_id":"` + sensor + `","ts":` + strconv.FormatInt(ts, 10) + `,"temperature":20.5}`)
	}},
}

func (g *Generator) invalid(seq int64) Record {
	k := invalidKinds[g.rng.IntN(len(invalidKinds))]
	s := g.sensors[g.rng.IntN(len(g.sensors))].id
	id := g.o.RunID + "-bad-" + strconv.FormatInt(seq, 10)
	return Record{Entry: Entry{PartitionKey: s, Data: k.make(g, id, s, g.eventTime())}, Kind: Invalid, Reason: k.reason, Seq: seq,
		Reading: Reading{EventID: id, SensorID: s}}
}

// encode appends the JSON of rd to b. Ids are generated from a safe alphabet,
// so they need no escaping.
func encode(b []byte, rd Reading) []byte {
	b = append(b, `{"event_id":"`...)
	b = append(b, rd.EventID...)
	b = append(b, `","sensor_id":"`...)
	b = append(b, rd.SensorID...)
	b = append(b, `","ts":`...)
	b = strconv.AppendInt(b, rd.TS, 10)
	b = append(b, `,"temperature":`...)
	b = appendFixed(b, rd.TempCenti, 2)
	if rd.HasHumidity {
		b = append(b, `,"humidity":`...)
		b = appendFixed(b, rd.HumDeci, 1)
	}
	return append(b, '}')
}

// appendFixed writes v / 10^decimals exactly, e.g. (2150, 2) -> "21.50".
func appendFixed(b []byte, v int64, decimals int) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	div := int64(1)
	for range decimals {
		div *= 10
	}
	b = strconv.AppendInt(b, v/div, 10)
	b = append(b, '.')
	frac := strconv.FormatInt(v%div, 10)
	for len(frac) < decimals {
		frac = "0" + frac
	}
	return append(b, frac...)
}
