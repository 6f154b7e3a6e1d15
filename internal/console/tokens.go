package console

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/tokenimport"
)

// maxImportBody bounds an import form: a token file as `assent token
// import` reads one, and the form's other fields.
const maxImportBody = tokenimport.MaxFileSize + 64<<10

var tokenDone = map[string]string{
	"assigned":   "The token was assigned.",
	"unassigned": "The token was unassigned.",
	"resynced":   "The token was resynchronized.",
	"deleted":    "The token was deleted.",
}

// tokenRows names each token's user.
func (c *Console) tokenRows(r *http.Request, list []store.Token) ([]tokenRow, error) {
	names := map[string]string{}
	out := make([]tokenRow, 0, len(list))
	for _, t := range list {
		row := tokenRow{Token: t}
		if t.UserID != "" {
			name, ok := names[t.UserID]
			if !ok {
				u, err := c.Core.User(r.Context(), t.UserID)
				if err != nil && !auth.IsKind(err, auth.KindNotFound) {
					return nil, err
				}
				name, names[t.UserID] = u.Username, u.Username
			}
			row.Username = name
		}
		out = append(out, row)
	}
	return out, nil
}

func (c *Console) tokens(w http.ResponseWriter, r *http.Request, p *page) error {
	if m, ok := tokenDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.renderTokens(w, r, p, http.StatusOK)
}

func (c *Console) renderTokens(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	list, err := c.Core.HardwareTokens(r.Context())
	if err != nil {
		return err
	}
	rows, err := c.tokenRows(r, list)
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.Apps = "Hardware tokens", "tokens", "tokens", &appsView{Tokens: rows}
	return c.render(w, status, "tokens", p)
}

// importFile reads the uploaded file, or else the pasted text.
func importFile(r *http.Request) ([]byte, string, error) {
	f, h, err := r.FormFile("file")
	if err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, tokenimport.MaxFileSize+1))
		if err != nil {
			return nil, "", err
		}
		if len(b) > tokenimport.MaxFileSize {
			return nil, "", errors.New("the file is larger than 8 MiB")
		}
		if len(b) > 0 {
			return b, h.Filename, nil
		}
	}
	return []byte(r.PostFormValue("text")), "", nil
}

// importTokens adds the tokens of a CSV or PSKC file, as `assent token
// import`: all of them, or none with every problem listed.
func (c *Console) importTokens(w http.ResponseWriter, r *http.Request, p *page) error {
	again := func(msg string) error {
		p.Message, p.MessageKind = msg, "error"
		return c.renderTokens(w, r, p, http.StatusBadRequest)
	}
	data, name, err := importFile(r)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return again("The file is too large.")
	}
	if err != nil {
		return again("The file could not be read: " + err.Error())
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return again("Choose a file or paste its contents.")
	}
	format := r.PostFormValue("format")
	if format == "" || format == "auto" {
		format = "csv"
		lower := strings.ToLower(name)
		if strings.HasSuffix(lower, ".xml") || strings.HasSuffix(lower, ".pskc") || bytes.HasPrefix(bytes.TrimSpace(data), []byte("<")) {
			format = "pskc"
		}
	}
	var list []tokenimport.Token
	switch format {
	case "csv":
		opts := tokenimport.Options{Type: r.PostFormValue("type"), SecretEncoding: r.PostFormValue("secret_encoding")}
		if s := strings.TrimSpace(r.PostFormValue("step")); s != "" {
			if opts.Step, err = strconv.Atoi(s); err != nil {
				return again("The time step must be a number of seconds.")
			}
		}
		list, err = tokenimport.ParseCSV(bytes.NewReader(data), opts)
	case "pskc":
		key, pw := strings.TrimSpace(r.PostFormValue("key")), r.PostFormValue("password")
		switch {
		case key != "" && pw != "":
			return again("Give the pre-shared key or the password, not both.")
		case pw != "":
			list, err = tokenimport.ParsePSKCPassword(bytes.NewReader(data), pw)
		default:
			var k []byte
			if key != "" {
				if k, err = hex.DecodeString(strings.ReplaceAll(key, " ", "")); err != nil {
					return again("The pre-shared key must be hex.")
				}
			}
			list, err = tokenimport.ParsePSKC(bytes.NewReader(data), k)
		}
	default:
		return again("The format must be CSV or PSKC.")
	}
	if err != nil {
		return again(err.Error())
	}
	nts := make([]auth.NewToken, 0, len(list))
	for _, t := range list {
		nts = append(nts, auth.NewToken{Kind: store.TokenKind(t.Type), Serial: t.Serial, Secret: t.Secret,
			Counter: t.Counter, Step: t.Step, PublicID: t.PublicID, PrivateID: t.PrivateID, AESKey: t.AESKey})
	}
	added, err := c.Core.AddTokens(r.Context(), nts)
	if msg := userMessage(err); msg != "" {
		return again(msg)
	}
	if err != nil {
		return err
	}
	p.Message, p.MessageKind = strconv.Itoa(len(added))+" token(s) imported, unassigned.", "success"
	return c.renderTokens(w, r, p, http.StatusOK)
}

// findToken reads the hardware token of the path's {id}.
func (c *Console) findToken(r *http.Request) (store.Token, error) {
	id := r.PathValue("id")
	if len(id) != 20 || !strings.HasPrefix(id, "DH") {
		return store.Token{}, errNotFound
	}
	return c.Core.HardwareTokenByID(r.Context(), id)
}

func (c *Console) token(w http.ResponseWriter, r *http.Request, p *page) error {
	if m, ok := tokenDone[r.URL.Query().Get("done")]; ok {
		p.Message, p.MessageKind = m, "success"
	}
	return c.renderToken(w, r, p, http.StatusOK)
}

func (c *Console) renderToken(w http.ResponseWriter, r *http.Request, p *page, status int) error {
	t, err := c.findToken(r)
	if err != nil {
		return err
	}
	rows, err := c.tokenRows(r, []store.Token{t})
	if err != nil {
		return err
	}
	p.Title, p.Page, p.Nav, p.Apps = "Token "+t.Serial, "token", "tokens", &appsView{Token: &rows[0]}
	return c.render(w, status, "token", p)
}

// assignToken gives the token to the user named in the form, or takes it
// from its user when the form says unassign.
func (c *Console) assignToken(w http.ResponseWriter, r *http.Request, p *page) error {
	t, err := c.findToken(r)
	if err != nil {
		return err
	}
	user, done := strings.TrimSpace(r.PostFormValue("username")), "assigned"
	if r.PostFormValue("unassign") != "" {
		user, done = "", "unassigned"
	} else if user == "" {
		p.Message, p.MessageKind = "Type a username.", "error"
		return c.renderToken(w, r, p, http.StatusBadRequest)
	}
	_, err = c.Core.AssignToken(r.Context(), t.Serial, user)
	if auth.IsKind(err, auth.KindNotFound) && user != "" {
		p.Message, p.MessageKind = "There is no user "+user+".", "error"
		return c.renderToken(w, r, p, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/tokens/"+t.ID+"?done="+done, http.StatusSeeOther)
	return nil
}

func (c *Console) resyncToken(w http.ResponseWriter, r *http.Request, p *page) error {
	t, err := c.findToken(r)
	if err != nil {
		return err
	}
	_, err = c.Core.ResyncToken(r.Context(), t.Serial, r.PostFormValue("code1"), r.PostFormValue("code2"))
	if msg := userMessage(err); msg != "" {
		p.Message, p.MessageKind = msg, "error"
		return c.renderToken(w, r, p, http.StatusBadRequest)
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/tokens/"+t.ID+"?done=resynced", http.StatusSeeOther)
	return nil
}

// deleteToken needs the serial typed again.
func (c *Console) deleteToken(w http.ResponseWriter, r *http.Request, p *page) error {
	t, err := c.findToken(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(r.PostFormValue("confirm")) != t.Serial {
		p.Message, p.MessageKind = "Type the token's serial exactly to delete it.", "error"
		return c.renderToken(w, r, p, http.StatusBadRequest)
	}
	if err := c.Core.DeleteToken(r.Context(), t.Serial); err != nil {
		return err
	}
	http.Redirect(w, r, "/admin/tokens?done=deleted", http.StatusSeeOther)
	return nil
}
