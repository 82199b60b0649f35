package sensor

// appendRFC3339 appends Unix ms as RFC 3339 UTC: with milliseconds
// (TimeLayout, "2026-11-25T10:07:03.120Z") or with seconds only
// ("2026-11-25T10:07:00Z"). It gives the same text as time.Time.AppendFormat
// for years 0-9999, without the layout interpretation (formatting is a
// measurable part of building an item).
func appendRFC3339(b []byte, ms int64, millis bool) []byte {
	secs := ms / 1000
	frac := ms % 1000
	if frac < 0 {
		frac += 1000
		secs--
	}
	days := secs / 86400
	sod := secs % 86400
	if sod < 0 {
		sod += 86400
		days--
	}
	// civil_from_days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if mp >= 10 {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	b = append(b,
		byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+m/10), byte('0'+m%10), '-',
		byte('0'+d/10), byte('0'+d%10), 'T',
		byte('0'+sod/36000), byte('0'+sod/3600%10), ':',
		byte('0'+sod%3600/600), byte('0'+sod%600/60), ':',
		byte('0'+sod%60/10), byte('0'+sod%10))
	if millis {
		b = append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	}
	return append(b, 'Z')
}

// AppendTime appends Unix ms in TimeLayout.
func AppendTime(b []byte, ms int64) []byte { return appendRFC3339(b, ms, true) }

// AppendWindowStart appends a window start as the table's sort key.
func AppendWindowStart(b []byte, ms int64) []byte { return appendRFC3339(b, ms, false) }
