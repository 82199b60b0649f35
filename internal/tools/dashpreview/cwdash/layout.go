package cwdash

import (
	"fmt"
	"sort"
)

// Rect is a widget's place on the grid, in grid units.
type Rect struct{ X, Y, W, H int }

// Rect returns the widget's place on the grid.
func (w Widget) Rect() Rect { return Rect{w.X, w.Y, w.Width, w.Height} }

// Overlaps reports whether two rectangles share a grid cell.
func (a Rect) Overlaps(b Rect) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// CheckLayout returns every layout problem of the widgets: a size or position
// outside the 24-column grid, or two widgets sharing a cell.
func CheckLayout(ws []Widget) []error {
	var errs []error
	for i, w := range ws {
		r := w.Rect()
		switch {
		case r.W < 1 || r.W > GridColumns:
			errs = append(errs, fmt.Errorf("widget %d %q: width %d not in 1..%d", i, w.Title(), r.W, GridColumns))
		case r.X < 0 || r.X+r.W > GridColumns:
			errs = append(errs, fmt.Errorf("widget %d %q: x %d + width %d exceeds %d columns", i, w.Title(), r.X, r.W, GridColumns))
		}
		if r.H < 1 || r.Y < 0 {
			errs = append(errs, fmt.Errorf("widget %d %q: y %d height %d", i, w.Title(), r.Y, r.H))
		}
		for j := 0; j < i; j++ {
			if r.Overlaps(ws[j].Rect()) {
				errs = append(errs, fmt.Errorf("widget %d %q overlaps widget %d %q", i, w.Title(), j, ws[j].Title()))
			}
		}
	}
	return errs
}

// Title is the widget's title, or the first line of a text widget.
func (w Widget) Title() string {
	if w.Properties.Title != "" {
		return w.Properties.Title
	}
	md := w.Properties.Markdown
	for i, c := range md {
		if c == '\n' {
			return md[:i]
		}
	}
	return md
}

// Rows is the grid height used by the widgets (the bottom edge of the lowest one).
func Rows(ws []Widget) int {
	n := 0
	for _, w := range ws {
		if b := w.Y + w.Height; b > n {
			n = b
		}
	}
	return n
}

// InReadingOrder returns the widgets sorted top to bottom, left to right.
func InReadingOrder(ws []Widget) []Widget {
	out := append([]Widget(nil), ws...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Y != out[j].Y {
			return out[i].Y < out[j].Y
		}
		return out[i].X < out[j].X
	})
	return out
}
