package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/assent-auth/assent/internal/config"
)

// flagKeys is every flag that sets a configuration key, with the key.
func flagKeys() map[string]string {
	m := map[string]string{}
	for _, fm := range []map[string]string{configFlags, serverFlags} {
		for f, k := range fm {
			m[f] = k
		}
	}
	return m
}

// README.md's configuration reference is checked against the settings
// table by internal/config's TestREADMEReference, its *SIGHUP* marks by
// TestReloadableDocumented there.

// TestConfigFlags checks the flag → key maps of root.go against the
// command tree: every mapped key exists and its flag is defined, and no
// command defines a flag named like a key that the maps leave out (it
// would be silently ignored).
func TestConfigFlags(t *testing.T) {
	keys := config.Keys()
	flags := flagKeys()
	for f, k := range flags {
		if !slices.Contains(keys, k) {
			t.Errorf("flag --%s maps to %q, not a configuration key", f, k)
		}
	}
	defined := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		visit := func(fl *pflag.Flag) {
			defined[fl.Name] = true
			key := strings.ReplaceAll(fl.Name, "-", "_")
			if slices.Contains(keys, key) && flags[fl.Name] != key {
				t.Errorf("%s: flag --%s is named like the key %q but the settings table (internal/config/settings.go) gives it no Flag", c.CommandPath(), fl.Name, key)
			}
		}
		c.LocalFlags().VisitAll(visit)
		c.PersistentFlags().VisitAll(visit)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(&env{}))
	for f := range flags {
		if !defined[f] {
			t.Errorf("flag --%s is in the flag → key maps but no command defines it", f)
		}
	}
}
