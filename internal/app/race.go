//go:build race

package app

// raceBuild is set in a binary built with the race detector, which slows
// the engines some fifty times: timing them says nothing of the machine.
const raceBuild = true
