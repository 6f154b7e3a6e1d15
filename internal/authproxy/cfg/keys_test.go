package cfg

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// normKey turns numbered keys into their stem form: radius_ip_3 → radius_ip_N.
func normKey(k string) string {
	if i := strings.LastIndexByte(k, '_'); i > 0 && strings.Trim(k[i+1:], "0123456789") == "" {
		return k[:i] + "_N"
	}
	return k
}

// TestKnownKeysAreRead ties the key list (used for suggestions and the
// docs) to the decoders: the fixtures that parse without errors set every
// listed key, so every listed key is really accepted.
func TestKnownKeysAreRead(t *testing.T) {
	t.Parallel()
	seen := map[string]map[string]bool{}
	for _, name := range []string{"all_keys.cfg", "aliases.cfg", "numbered.cfg"} {
		mustParseFile(t, name) // no unknown keys
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		f, _, _ := parseINI(name, data)
		for _, s := range f.Sections {
			fam := sectionBase(s.ID)
			for _, e := range s.Entries {
				k := normKey(e.Key)
				if e.Key == "host_1" || e.Key == "port_1" {
					k = strings.TrimSuffix(e.Key, "_1")
				}
				for _, f := range []string{fam, "server"} {
					if f == "server" && !strings.HasPrefix(fam, "radius_server_") {
						continue
					}
					if seen[f] == nil {
						seen[f] = map[string]bool{}
					}
					seen[f][k] = true
				}
			}
		}
	}
	for fam, keys := range knownKeys {
		for _, k := range keys {
			if !seen[fam][k] {
				t.Errorf("[%s] %s is listed but no fixture sets it", fam, k)
			}
		}
	}
}

// TestDocsListEveryKey keeps docs/authproxy-config.md complete.
func TestDocsListEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "authproxy-config.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	for fam, keys := range knownKeys {
		if fam != "server" && !strings.Contains(doc, "["+fam+"]") {
			t.Errorf("section [%s] not documented", fam)
		}
		for _, k := range keys {
			alt := strings.TrimSuffix(k, "_N") + "_2"
			if !strings.Contains(doc, "`"+k+"`") && !strings.Contains(doc, "`"+alt+"`") {
				t.Errorf("[%s] %s not documented", fam, k)
			}
		}
	}
	for base := range unsupportedSections {
		if !strings.Contains(doc, "`["+base+"]`") {
			t.Errorf("unsupported section [%s] not documented", base)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	cands := []string{"radius_ip_1", "radius_secret_1", "delimiter", "failmode", "api_timeout"}
	for word, want := range map[string]string{
		"raduis_ip_1":    "radius_ip_1",
		"radius_secet_1": "radius_secret_1",
		"delimeter":      "delimiter",
		"failmod":        "failmode",
		"api_timout":     "api_timeout",
		"port":           "",
		"completely":     "",
	} {
		if got := suggest(word, cands); got != want {
			t.Errorf("suggest(%q) = %q, want %q", word, got, want)
		}
	}
}
