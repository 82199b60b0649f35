package sqsfake

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// AttributeValue is a message attribute as the JSON protocol carries it
// (BinaryValue is base64 on the wire, raw bytes here).
type AttributeValue struct {
	DataType         string   `json:"DataType"`
	StringValue      *string  `json:"StringValue,omitempty"`
	BinaryValue      []byte   `json:"BinaryValue,omitempty"`
	StringListValues []string `json:"StringListValues,omitempty"`
	BinaryListValues [][]byte `json:"BinaryListValues,omitempty"`
}

func cloneAttrs(in map[string]AttributeValue) map[string]AttributeValue {
	if in == nil {
		return nil
	}
	out := make(map[string]AttributeValue, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// Queue attribute names the fake knows, with their defaults and, for the
// numeric ones, the range SQS accepts.
type attrSpec struct {
	def      string
	min, max int
	numeric  bool
}

// The fake defaults MaximumMessageSize to 256 KiB, the limit every queue had
// until 2025 and the one this project designs for (contract.MaxQuarantineChunk),
// even though AWS now allows up to 1 MiB.
var settableAttrs = map[string]attrSpec{
	"DelaySeconds":                  {"0", 0, 900, true},
	"MaximumMessageSize":            {"262144", 1024, 1048576, true},
	"MessageRetentionPeriod":        {"345600", 60, 1209600, true},
	"ReceiveMessageWaitTimeSeconds": {"0", 0, 20, true},
	"VisibilityTimeout":             {"30", 0, 43200, true},
	// Stored and echoed; not enforced by the fake.
	"RedrivePolicy":                {def: ""},
	"RedriveAllowPolicy":           {def: ""},
	"Policy":                       {def: ""},
	"KmsMasterKeyId":               {def: ""},
	"KmsDataKeyReusePeriodSeconds": {def: ""},
	"SqsManagedSseEnabled":         {def: ""},
}

var readOnlyAttrs = map[string]bool{
	"ApproximateNumberOfMessages":           true,
	"ApproximateNumberOfMessagesNotVisible": true,
	"ApproximateNumberOfMessagesDelayed":    true,
	"CreatedTimestamp":                      true,
	"LastModifiedTimestamp":                 true,
	"QueueArn":                              true,
}

type queue struct {
	name     string
	created  time.Time
	attrs    map[string]string // settable attributes that were set
	messages []*message        // in the order sent
	byID     map[string]*message
	wake     chan struct{} // closed and replaced whenever messages are added or made visible
	deleted  bool
}

func newQueue(name string, attrs map[string]string, now time.Time) *queue {
	return &queue{name: name, created: now, attrs: attrs, byID: map[string]*message{}, wake: make(chan struct{})}
}

func (q *queue) intAttr(name string) int {
	v, ok := q.attrs[name]
	if !ok {
		v = settableAttrs[name].def
	}
	n, _ := strconv.Atoi(v)
	return n
}

func (q *queue) visibility() time.Duration {
	return time.Duration(q.intAttr("VisibilityTimeout")) * time.Second
}

// notify wakes every long poll waiting on this queue.
func (q *queue) notify() {
	close(q.wake)
	q.wake = make(chan struct{})
}

// expire drops messages older than the retention period.
func (q *queue) expire(now time.Time) {
	keep := time.Duration(q.intAttr("MessageRetentionPeriod")) * time.Second
	kept := q.messages[:0]
	for _, m := range q.messages {
		if now.Sub(m.sent) >= keep {
			delete(q.byID, m.id)
			continue
		}
		kept = append(kept, m)
	}
	for i := len(kept); i < len(q.messages); i++ {
		q.messages[i] = nil
	}
	q.messages = kept
}

func (q *queue) add(m *message) {
	q.messages = append(q.messages, m)
	q.byID[m.id] = m
	q.notify()
}

func (q *queue) remove(m *message) {
	delete(q.byID, m.id)
	for i, x := range q.messages {
		if x == m {
			q.messages = append(q.messages[:i], q.messages[i+1:]...)
			return
		}
	}
}

// nextVisible is the earliest time after now at which a stored message becomes
// receivable (its delay or visibility timeout ends), or the zero time.
func (q *queue) nextVisible(now time.Time) time.Time {
	var next time.Time
	for _, m := range q.messages {
		if t := m.visibleAt; t.After(now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	return next
}

type message struct {
	id         string
	body       string
	md5Body    string
	attrs      map[string]AttributeValue
	sysAttrs   map[string]AttributeValue // AWSTraceHeader
	sent       time.Time
	delayUntil time.Time
	visibleAt  time.Time // receivable from this time on (delay or visibility timeout)

	receiveCount int
	firstReceive time.Time
	handle       string // receipt handle of the latest receive; "" before the first
}

func (m *message) delayed(now time.Time) bool { return now.Before(m.delayUntil) }

func (m *message) inFlight(now time.Time) bool {
	return m.handle != "" && now.Before(m.visibleAt) && !m.delayed(now)
}

func (m *message) receivable(now time.Time) bool { return !now.Before(m.visibleAt) }

// messageSize is how SQS counts a message against MaximumMessageSize: the body
// plus, for each attribute, its name, data type and value.
func messageSize(body string, attrs map[string]AttributeValue) int {
	n := len(body)
	for name, v := range attrs {
		n += len(name) + len(v.DataType)
		if v.StringValue != nil {
			n += len(*v.StringValue)
		}
		n += len(v.BinaryValue)
	}
	return n
}

// validBody reports whether s has only the characters SQS allows:
// #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF.
func validBody(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return false
		}
	}
	return true
}

// validateAttrs checks message attributes as SendMessage does.
func validateAttrs(attrs map[string]AttributeValue) error {
	if len(attrs) > 10 {
		return errInvalidParameterValue("Number of message attributes [%d] exceeds the allowed maximum [10].", len(attrs))
	}
	for name, v := range attrs {
		if err := validateAttrName(name); err != nil {
			return err
		}
		base := baseType(v.DataType)
		if base != "String" && base != "Number" && base != "Binary" {
			return errInvalidParameterValue("The type of message (user) attribute '%s' is invalid. You must use only the following supported type prefixes: Binary, Number, String.", name)
		}
		if len(v.DataType) > 256 {
			return errInvalidParameterValue("Message (user) attribute '%s' has a data type longer than 256 characters.", name)
		}
		if len(v.StringListValues) > 0 || len(v.BinaryListValues) > 0 {
			return errInvalidParameterValue("Message (user) attribute '%s': list values are reserved for future use and not supported.", name)
		}
		switch base {
		case "String", "Number":
			if v.StringValue == nil || *v.StringValue == "" {
				return errInvalidParameterValue("Message (user) attribute '%s' must contain a non-empty value of type '%s'.", name, base)
			}
			if base == "Number" {
				if _, err := strconv.ParseFloat(strings.TrimSpace(*v.StringValue), 64); err != nil {
					return errInvalidParameterValue("Can't cast the value of message (user) attribute '%s' to a number.", name)
				}
			}
			if !validBody(*v.StringValue) {
				return errInvalidMessageContents()
			}
		case "Binary":
			if len(v.BinaryValue) == 0 {
				return errInvalidParameterValue("Message (user) attribute '%s' must contain a non-empty value of type 'Binary'.", name)
			}
		}
	}
	return nil
}

func validateAttrName(name string) error {
	bad := name == "" || len(name) > 256 || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") ||
		strings.Contains(name, "..")
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "aws.") || strings.HasPrefix(lower, "amazon.") {
		bad = true
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			bad = true
		}
	}
	if bad {
		return errInvalidParameterValue("Message (user) attribute name '%s' is invalid: use up to 256 of A-Z a-z 0-9 _ - ., not starting with AWS. or Amazon., no leading, trailing or repeated periods.", name)
	}
	return nil
}

// validQueueName: 1-80 of alphanumerics, hyphens and underscores.
func validQueueName(name string) bool {
	if name == "" || len(name) > 80 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validBatchID: 1-80 of alphanumerics, hyphens and underscores.
func validBatchID(id string) bool { return validQueueName(id) }

// selectAttrs keeps the attributes whose names match one of the requested
// names: "All", ".*", an exact name, or a prefix ending in ".*".
func selectAttrs(attrs map[string]AttributeValue, names []string) map[string]AttributeValue {
	if len(attrs) == 0 || len(names) == 0 {
		return nil
	}
	out := map[string]AttributeValue{}
	for k, v := range attrs {
		for _, n := range names {
			if n == "All" || n == ".*" || n == k ||
				(strings.HasSuffix(n, ".*") && strings.HasPrefix(k, strings.TrimSuffix(n, "*"))) {
				out[k] = v
				break
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
