package sqsfake

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"sort"
	"strings"
)

// md5Hex is the MD5OfMessageBody / MD5OfBody of a message body.
func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Transport type codes of the message-attribute MD5 algorithm.
const (
	transportString     = 1 // String and Number (and their custom subtypes)
	transportBinary     = 2 // Binary
	transportStringList = 3 // reserved by SQS for list values
	transportBinaryList = 4
)

// md5OfAttributes computes MD5OfMessageAttributes (and, for system attributes,
// MD5OfMessageSystemAttributes) as AWS documents it:
//
//	for each attribute, sorted by name (byte order):
//	  len(name) as 4-byte big-endian, name (UTF-8)
//	  len(dataType) as 4-byte big-endian, dataType (UTF-8)
//	  one transport byte: 1 String/Number, 2 Binary (3/4 for the list kinds)
//	  len(value) as 4-byte big-endian, value (UTF-8 for strings, raw bytes for binary)
//	MD5 of the concatenation, lower-case hex.
//
// It returns "" for no attributes; SQS then leaves the field out.
// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation
func md5OfAttributes(attrs map[string]AttributeValue) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	h := md5.New()
	var lenBuf [4]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint32(lenBuf[:], uint32(len(b)))
		h.Write(lenBuf[:])
		h.Write(b)
	}
	for _, n := range names {
		v := attrs[n]
		put([]byte(n))
		put([]byte(v.DataType))
		switch {
		case v.StringValue != nil:
			h.Write([]byte{transportString})
			put([]byte(*v.StringValue))
		case v.BinaryValue != nil:
			h.Write([]byte{transportBinary})
			put(v.BinaryValue)
		case len(v.StringListValues) > 0:
			h.Write([]byte{transportStringList})
			for _, s := range v.StringListValues {
				put([]byte(s))
			}
		case len(v.BinaryListValues) > 0:
			h.Write([]byte{transportBinaryList})
			for _, b := range v.BinaryListValues {
				put(b)
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// baseType is "String", "Number" or "Binary" for a data type such as "Number.int".
func baseType(dataType string) string {
	base, _, _ := strings.Cut(dataType, ".")
	return base
}
