package contract

import "strings"

// CompareSequenceNumbers orders Kinesis sequence numbers, the decimal
// strings of up to 128 bits (no leading zeros) that Kinesis, the event
// source mapping's batchItemFailures and the on-failure message carry. It
// returns -1, 0 or +1 as a is before, equal to or after b. A shorter number
// is smaller; numbers of one length compare as strings.
func CompareSequenceNumbers(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}
