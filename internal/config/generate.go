package config

// README.md's configuration reference is generated from the settings table.
//go:generate go run ../../cmd/assent config reference --markdown --update ../../README.md
