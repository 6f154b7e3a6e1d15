package cfg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsNeverPrinted prints a parsed configuration every way a
// program might and looks for the secrets from the file.
func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	c, _ := mustParseFile(t, "all_keys.cfg")
	secrets := []string{"svcpass", "upstream", "auto0auto1auto2auto3auto4auto5auto6auto7", "net1secret", "net2secret",
		"chal0chal1chal2chal3chal4chal5chal6chal7", "v6secret", "concatsecret", "duoonlysecret"}

	var outputs []string
	for _, v := range []any{c, *c, c.Servers, *c.Servers[0], c.Servers[0].Networks, c.ADClients, *c.ADClients["ad_client"],
		c.RadiusClients, *c.RadiusClients["radius_client"], c.Servers[0].SKey, []any{c.Servers[0].Networks[0]}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3f"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs = append(outputs, string(js))
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(h)
		l.Info("config", "cfg", c, "server", c.Servers[0], "skey", c.Servers[0].SKey, "secret", c.RadiusClients["radius_client"].Secret)
	}
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Fatalf("secret %q printed in %.300s", s, out)
			}
		}
	}
	if !strings.Contains(logs.String(), "[redacted]") {
		t.Errorf("no placeholder in logs: %s", logs.String())
	}
	if got := c.RadiusClients["radius_client"].Secret.Reveal(); got != "upstream" {
		t.Errorf("Reveal = %q", got)
	}
	var empty Secret
	if fmt.Sprint(empty) != `""` || empty.IsSet() {
		t.Errorf("empty secret prints %v", empty)
	}
}
