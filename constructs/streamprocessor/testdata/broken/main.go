package main

// Does not compile: the construct must report the compiler message.
func main() {
	undefinedThing()
}
