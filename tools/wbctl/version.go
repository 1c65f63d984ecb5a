package main

// version is wbctl's version, printed by "wbctl --version". Release and CI
// builds set it: go build -ldflags "-X main.version=v0.1.0".
var version = "dev"
