package totals

// SetMaxOrders lowers the per-customer cap so a test can reach it quickly.
func SetMaxOrders(s *Store, n int64) { s.maxOrders = n }
