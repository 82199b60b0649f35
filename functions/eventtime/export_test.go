package eventtime

import (
	"context"
	"encoding/base64"
)

// DecodeDynamoWindow decodes a window item of the DynamoStore's table as
// Scan returns it (tests list the table with it).
func DecodeDynamoWindow(it map[string]any) (WindowKey, WindowState, error) {
	conv := item{}
	for name, v := range it {
		m, _ := v.(map[string]any)
		var a attr
		if s, ok := m["S"].(string); ok {
			a.S = &s
		}
		if n, ok := m["N"].(string); ok {
			a.N = &n
		}
		if b, ok := m["B"].(string); ok {
			dec, err := base64Decode(b)
			if err != nil {
				return WindowKey{}, WindowState{}, err
			}
			a.B = dec
		}
		conv[name] = a
	}
	k, err := windowKeyOf(conv)
	if err != nil {
		return k, WindowState{}, err
	}
	s, err := decodeWindow(conv)
	return k, s, err
}

func base64Decode(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// PutOrphanDue writes k's due item (and lowers lowDue) without the window:
// what a window creation that failed after its due entry leaves.
func PutOrphanDue(ctx context.Context, d *DynamoStore, k WindowKey) error {
	b := d.bucket(k.Window.End)
	if err := d.db.Call(ctx, "PutItem", map[string]any{"TableName": d.cfg.Table, "Item": d.dueItem(b, k)}, nil); err != nil {
		return err
	}
	return d.lowerDue(ctx, b)
}
