module example.com/orders

go 1.26.0

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/streamproc/streamproc v0.0.0
)

// streamproc is not tagged yet: build against the checkout two levels up.
replace github.com/streamproc/streamproc => ../..
