package console_test

import (
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

type authNewToken = auth.NewToken

func newIntegration(name string) auth.NewIntegration {
	return auth.NewIntegration{Name: name, Type: store.TypeAuthAPI}
}

func newGroup(name string) auth.NewGroup { return auth.NewGroup{Name: name} }

func newApp() auth.NewTOTPApp { return auth.NewTOTPApp{Confirmed: true} }

func hotpToken(serial string) auth.NewToken {
	return auth.NewToken{Kind: store.TokenKind("h6"), Serial: serial, Secret: []byte("12345678901234567890")}
}
