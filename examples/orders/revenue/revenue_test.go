package revenue_test

import (
	"math/rand/v2"
	"testing"

	"example.com/orders/revenue"
)

// Merging the same orders in any grouping and order gives the same revenue,
// equal to Add one by one and to the sums computed here.
func TestMergeInAnyOrderIsTheSame(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		n := 1 + rng.IntN(40)
		amounts := make([]int64, n)
		var want revenue.Revenue
		for i := range amounts {
			amounts[i] = 1 + rng.Int64N(100_000_000)
			want.Orders++
			want.Cents += amounts[i]
			want.LargestCents = max(want.LargestCents, amounts[i])
		}

		var added revenue.Revenue
		for i, a := range amounts {
			added = added.Add(int64(i), a)
		}
		if added != want {
			t.Fatalf("round %d: Add one by one = %+v, want %+v", round, added, want)
		}

		// Shuffle, cut into random parts, aggregate each, merge the parts
		// in a random order and a random tree shape.
		rng.Shuffle(n, func(i, j int) { amounts[i], amounts[j] = amounts[j], amounts[i] })
		var parts []revenue.Revenue
		for len(amounts) > 0 {
			k := 1 + rng.IntN(len(amounts))
			var p revenue.Revenue
			for _, a := range amounts[:k] {
				p = p.Add(0, a)
			}
			parts, amounts = append(parts, p), amounts[k:]
		}
		for len(parts) > 1 {
			i, j := rng.IntN(len(parts)), rng.IntN(len(parts)-1)
			if j >= i {
				j++
			}
			m := parts[i].Merge(parts[j])
			parts[i] = m
			parts = append(parts[:j], parts[j+1:]...)
		}
		if parts[0] != want {
			t.Fatalf("round %d: merged in a shuffled tree = %+v, want %+v", round, parts[0], want)
		}
	}
}

func TestZeroIsTheIdentity(t *testing.T) {
	r := revenue.Revenue{Orders: 3, Cents: 700, LargestCents: 400}
	if got := r.Merge(revenue.Revenue{}); got != r {
		t.Errorf("r.Merge(zero) = %+v", got)
	}
	if got := (revenue.Revenue{}).Merge(r); got != r {
		t.Errorf("zero.Merge(r) = %+v", got)
	}
}
