// Package notmain is not a main package: Entry pointing here is rejected.
package notmain
