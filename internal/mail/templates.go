package mail

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

// Kind names one message; its templates are the files KIND.subject.txt,
// KIND.txt and KIND.html.
type Kind string

// The messages Assent sends.
const (
	// Enrollment carries a link that lets the user enroll a device.
	Enrollment Kind = "enrollment"
	// DeviceAdded tells the user that a device or authenticator was added
	// to their account.
	DeviceAdded Kind = "device_added"
	// BypassCodes tells the user that bypass codes were issued for them
	// (never the codes).
	BypassCodes Kind = "bypass_codes"
	// FraudReported tells the user that a login request was reported as
	// fraud from one of their devices.
	FraudReported Kind = "fraud_reported"
	// Test is what `assent mail test-send` sends.
	Test Kind = "test"
)

// Kinds lists every message.
var Kinds = []Kind{Enrollment, DeviceAdded, BypassCodes, FraudReported, Test}

// The parts of a message, as file suffixes.
const (
	partSubject = ".subject.txt"
	partText    = ".txt"
	partHTML    = ".html"
)

var parts = []string{partSubject, partText, partHTML}

// Data is what templates can use (see docs/email.md); each message fills
// the fields that concern it.
type Data struct {
	// Product is the name of the service ("Assent"); Hostname is the
	// server's public host name.
	Product  string
	Hostname string
	// Username and RealName name the user the message is about.
	Username string
	RealName string
	// Time is when the event happened.
	Time time.Time

	// Enrollment: the link and when it stops working (zero: unknown, for
	// an external portal).
	Link    string
	Expires time.Time

	// DeviceAdded: the device's name, its platform and the kind of
	// authenticator ("mobile device", "authenticator app", "security key").
	DeviceName     string
	DevicePlatform string
	DeviceKind     string

	// BypassCodes: how many codes, how many uses each (0: unlimited) and
	// when they expire (zero: never).
	Count       int
	Uses        int
	CodesExpire time.Time

	// FraudReported: the address the login came from and the application.
	IP          string
	Application string
}

// SampleData fills every field, to check templates and to preview them.
func SampleData() Data {
	t := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
	return Data{Product: "Assent", Hostname: "assent.example.com", Username: "alice", RealName: "Alice Example", Time: t,
		Link: "https://assent.example.com/portal/enroll/sample", Expires: t.Add(24 * time.Hour),
		DeviceName: "Alice's phone", DevicePlatform: "Android", DeviceKind: "mobile device",
		Count: 10, Uses: 1, CodesExpire: t.Add(7 * 24 * time.Hour), IP: "192.0.2.10", Application: "VPN"}
}

//go:embed templates
var defaults embed.FS

// funcs are the functions templates may call.
var funcs = map[string]any{
	// date formats a time for people, in UTC.
	"date": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2 January 2006, 15:04 UTC")
	},
}

// Templates are the parsed templates of every message.
type Templates struct {
	subject map[Kind]*texttemplate.Template
	text    map[Kind]*texttemplate.Template
	html    map[Kind]*htmltemplate.Template
	// Overridden lists the files taken from the override directory.
	Overridden []string
}

// LoadTemplates parses the built-in templates, each replaced by the file of
// the same name in dir when dir is not empty, and renders every one with
// SampleData. Its error is Problems listing every file that is unknown,
// unreadable, does not parse or fails to render (with the template and
// the error).
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{subject: map[Kind]*texttemplate.Template{}, text: map[Kind]*texttemplate.Template{},
		html: map[Kind]*htmltemplate.Template{}}
	var ps Problems
	override := map[string][]byte{}
	if dir != "" {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, Problems{{File: dir, Err: "mail_templates_dir: " + err.Error()}}
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasPrefix(name, ".") {
				continue
			}
			if !known(name) {
				ps = append(ps, Problem{File: filepath.Join(dir, name), Err: "not a template Assent uses; expected KIND.subject.txt, KIND.txt or KIND.html with KIND one of " + kindList()})
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				ps = append(ps, Problem{File: filepath.Join(dir, name), Err: err.Error()})
				continue
			}
			override[name] = b
			t.Overridden = append(t.Overridden, name)
		}
	}
	for _, k := range Kinds {
		for _, part := range parts {
			name := string(k) + part
			src, file := override[name], filepath.Join(dir, name)
			if src == nil {
				b, err := fs.ReadFile(defaults, "templates/"+name)
				if err != nil {
					ps = append(ps, Problem{File: "(built-in) " + name, Err: err.Error()}) // a build mistake
					continue
				}
				src, file = b, "(built-in) "+name
			}
			if err := t.parse(k, part, name, string(src)); err != nil {
				ps = append(ps, Problem{File: file, Template: templateName(err, name), Err: err.Error()})
				continue
			}
			if _, err := t.render(k, part, SampleData()); err != nil {
				ps = append(ps, Problem{File: file, Template: templateName(err, name), Err: err.Error()})
			}
		}
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return t, nil
}

// templateName is the template an error is in, from the "template: NAME:"
// both template packages start their errors with.
func templateName(err error, def string) string {
	s, ok := strings.CutPrefix(err.Error(), "template: ")
	if !ok {
		return def
	}
	if i := strings.IndexByte(s, ':'); i > 0 {
		return s[:i]
	}
	return def
}

func known(name string) bool {
	for _, k := range Kinds {
		for _, p := range parts {
			if name == string(k)+p {
				return true
			}
		}
	}
	return false
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// parse parses one part; an unknown field is an error when rendering
// (Data is a struct), which LoadTemplates does with SampleData.
func (t *Templates) parse(k Kind, part, name, src string) error {
	switch part {
	case partHTML:
		h, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
		if err != nil {
			return err
		}
		t.html[k] = h
	default:
		x, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(src)
		if err != nil {
			return err
		}
		if part == partSubject {
			t.subject[k] = x
		} else {
			t.text[k] = x
		}
	}
	return nil
}

func (t *Templates) render(k Kind, part string, d Data) (string, error) {
	var b bytes.Buffer
	var err error
	switch part {
	case partHTML:
		err = t.html[k].Execute(&b, d)
	case partSubject:
		err = t.subject[k].Execute(&b, d)
		if err == nil && strings.TrimSpace(b.String()) == "" {
			err = errors.New("the subject is empty")
		}
	default:
		err = t.text[k].Execute(&b, d)
	}
	return b.String(), err
}

// Render makes the message of kind k to the address to.
func (t *Templates) Render(k Kind, to string, d Data) (Message, error) {
	if !slices.Contains(Kinds, k) {
		return Message{}, fmt.Errorf("mail: unknown message %q", k)
	}
	m := Message{To: to}
	var err error
	if m.Subject, err = t.render(k, partSubject, d); err != nil {
		return Message{}, fmt.Errorf("mail %s subject: %w", k, err)
	}
	if m.Text, err = t.render(k, partText, d); err != nil {
		return Message{}, fmt.Errorf("mail %s text: %w", k, err)
	}
	if m.HTML, err = t.render(k, partHTML, d); err != nil {
		return Message{}, fmt.Errorf("mail %s html: %w", k, err)
	}
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	return m, nil
}
