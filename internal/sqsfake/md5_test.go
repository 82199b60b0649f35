package sqsfake

import "testing"

func str(s string) *string { return &s }

// The expected digests are published samples of the SQS message-attribute MD5
// algorithm (AWS documentation and SDK test suites), not computed by this code.
func TestMD5OfAttributesKnownVectors(t *testing.T) {
	cases := []struct {
		name  string
		attrs map[string]AttributeValue
		want  string
	}{
		{"one string", map[string]AttributeValue{
			"SellerName": {DataType: "String", StringValue: str("Example Store")},
		}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{"two strings, unsorted input", map[string]AttributeValue{
			"test_attribute_name_2": {DataType: "String", StringValue: str("test_attribute_value_2")},
			"test_attribute_name_1": {DataType: "String", StringValue: str("test_attribute_value_1")},
		}, "d53f3b558fe951154770f25cb63dbba9"},
		{"binary", map[string]AttributeValue{
			"test_attribute_name": {DataType: "Binary", BinaryValue: []byte("test_attribute_value")},
		}, "23f6bd27ea87aab7dfeadcc9aebee495"},
		{"number and string", map[string]AttributeValue{
			"ordinal":  {DataType: "Number", StringValue: str("1")},
			"category": {DataType: "String", StringValue: str("test")},
		}, "d21ae90c49061e927f57df5f5d72be1f"},
	}
	for _, c := range cases {
		if got := md5OfAttributes(c.attrs); got != c.want {
			t.Errorf("%s: md5OfAttributes = %s, want %s", c.name, got, c.want)
		}
	}
	if got := md5OfAttributes(nil); got != "" {
		t.Errorf("no attributes: got %q, want empty", got)
	}
}

func TestValidBody(t *testing.T) {
	for s, want := range map[string]bool{
		"plain":         true,
		"tab\tnl\ncr\r": true,
		"emoji 🙂":       true,
		"nul\x00":       false,
		"bell\x07":      false,
		"\xff\xfe":      false,
		"\uFFFE":        false,
	} {
		if got := validBody(s); got != want {
			t.Errorf("validBody(%q) = %v, want %v", s, got, want)
		}
	}
}
