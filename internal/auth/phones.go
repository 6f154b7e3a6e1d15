package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Phones as Duo's Admin API manages them. An activated device is a phone;
// so is a phone an administrator created (add_phone) that waits for a
// device: a store.PendingPhone, which has its phone ID from the start. An
// activation code issued for it (PhoneActivation) makes the device that
// uses it take that ID, so scripts that kept the ID keep working.

// Phone is a phone as the Admin API shows it.
type Phone struct {
	ID        string // "DP" + 18
	UserID    string // "" for a pending phone without a user
	Name      string
	Type      string // Duo's display value: Mobile, Unknown
	Platform  string
	Number    string // E.164; "" for none
	Extension string
	Predelay  string
	Postdelay string
	Activated bool
	// SMS and Calls: the phone receives SMS passcodes (a mobile number,
	// with an SMS provider configured) and phone calls (a number, with a
	// SIP trunk configured). Always false for a pending phone.
	SMS, Calls bool
	Created    time.Time
	LastSeen   time.Time // zero: never (always for a pending phone)
}

func (s *Service) phoneOfDevice(d store.Device) Phone {
	typ := phoneMobile
	if d.PhoneType == store.PhoneLandline {
		typ = phoneLandline
	}
	return Phone{ID: d.ID, UserID: d.UserID, Name: d.Name, Type: typ, Platform: d.Platform, Activated: hasApp(d),
		Number: d.Number, Extension: d.Extension, Predelay: d.Predelay, Postdelay: d.Postdelay, Created: d.Created, LastSeen: d.LastSeen,
		SMS: s.smsCapable(d), Calls: s.phoneCapable(d)}
}

func phoneOfPending(p store.PendingPhone) Phone {
	return Phone{ID: p.ID, UserID: p.UserID, Name: p.Name, Type: p.Type, Platform: p.Platform, Number: p.Number,
		Extension: p.Extension, Predelay: p.Predelay, Postdelay: p.Postdelay, Created: p.Created}
}

const (
	phoneMobile   = "Mobile"
	phoneLandline = "Landline"
	phoneUnknown  = "Unknown"
	maxPhoneName  = 64
	maxPhoneDelay = 3600
)

// phoneTypes are the types Duo accepts (any case), as Duo shows them. A
// landline is called (factor=phone) and never texted, and never runs an
// app.
var phoneTypes = map[string]string{"mobile": phoneMobile, "landline": phoneLandline, "unknown": phoneUnknown}

// phonePlatforms are Duo's platform values (any case), as Duo shows them.
var phonePlatforms = map[string]string{
	"unknown": "Unknown", "google android": "Google Android", "apple ios": "Apple iOS", "windows phone": "Windows Phone",
	"rim blackberry": "RIM BlackBerry", "java j2me": "Java J2ME", "palm webos": "Palm WebOS", "symbian os": "Symbian OS",
	"windows mobile": "Windows Mobile", "generic smartphone": "Generic Smartphone",
}

// PhoneFields are the fields of add_phone and update_phone; nil fields are
// absent (AddPhone: defaults; ModifyPhone: unchanged).
type PhoneFields struct {
	Name, Type, Platform, Number, Extension, Predelay, Postdelay *string
}

// check validates and normalizes the fields present, reporting every
// problem at once.
func (f PhoneFields) check() (PhoneFields, error) {
	var errs []error
	if f.Name != nil {
		n := strings.TrimSpace(*f.Name)
		if utf8.RuneCountInString(n) > maxPhoneName || !utf8.ValidString(n) || strings.IndexFunc(n, unicode.IsControl) >= 0 {
			errs = append(errs, invalid("name", fmt.Sprintf("must be at most %d printable characters", maxPhoneName)))
		}
		f.Name = &n
	}
	if f.Type != nil {
		key := strings.ToLower(strings.TrimSpace(*f.Type))
		v, ok := phoneTypes[key]
		if !ok {
			errs = append(errs, invalid("type", "must be mobile, landline or unknown"))
		}
		f.Type = &v
	}
	if f.Platform != nil {
		v, ok := phonePlatforms[strings.ToLower(strings.TrimSpace(*f.Platform))]
		if !ok {
			names := make([]string, 0, len(phonePlatforms))
			for k := range phonePlatforms {
				names = append(names, k)
			}
			slices.Sort(names)
			errs = append(errs, invalid("platform", "must be one of "+strings.Join(names, ", ")))
		}
		f.Platform = &v
	}
	if f.Number != nil {
		n, err := normalizeNumber(*f.Number)
		errs = append(errs, err)
		f.Number = &n
	}
	if f.Extension != nil {
		e := strings.TrimSpace(*f.Extension)
		if len(e) > 20 || strings.Trim(e, "0123456789*#") != "" {
			errs = append(errs, invalid("extension", "must be at most 20 digits (and * or #)"))
		}
		f.Extension = &e
	}
	for _, d := range []struct {
		name string
		v    *string
	}{{"predelay", f.Predelay}, {"postdelay", f.Postdelay}} {
		if d.v == nil || *d.v == "" {
			continue
		}
		if n, err := strconv.Atoi(*d.v); err != nil || n < 0 || n > maxPhoneDelay {
			errs = append(errs, invalid(d.name, fmt.Sprintf("must be a whole number of seconds from 0 to %d", maxPhoneDelay)))
		}
	}
	return f, errors.Join(errs...)
}

// normalizeNumber is Duo's reading of a phone number: dashes, spaces, dots
// and parentheses are ignored, and a number without a leading plus sign is
// a North American one (+1 is added). "" stays "".
func normalizeNumber(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(" -.()", r) {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return "", nil
	}
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || len(digits) > 20 || strings.Trim(digits, "0123456789") != "" {
		return "", invalid("number", "must be a phone number, E.164 recommended (+15555550100)")
	}
	if !strings.HasPrefix(s, "+") {
		return "+1" + digits, nil
	}
	return s, nil
}

func deref(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

// AddPhone creates a phone that waits for activation (type Mobile and
// platform Unknown unless given), in one transaction with its
// administrator-log row.
func (s *Service) AddPhone(ctx context.Context, f PhoneFields) (Phone, error) {
	f, err := f.check()
	if err != nil {
		return Phone{}, err
	}
	p := store.PendingPhone{ID: ids.New(ids.Device), Name: deref(f.Name, ""), Type: deref(f.Type, phoneMobile),
		Platform: deref(f.Platform, phoneUnknown), Number: deref(f.Number, ""), Extension: deref(f.Extension, ""),
		Predelay: deref(f.Predelay, ""), Postdelay: deref(f.Postdelay, ""), Created: s.now()}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreatePendingPhone(ctx, p); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_create", p.ID, map[string]any{"name": p.Name, "type": p.Type, "platform": p.Platform,
			"number": MaskNumber(p.Number), "extension": p.Extension})
	})
	if err != nil {
		return Phone{}, wrap("add phone", err)
	}
	s.opts.Logger.Info("phone created", "phone_id", p.ID)
	return phoneOfPending(p), nil
}

var errNoPhone = notFound("no phone with that ID")

// phone reads a phone, pending or activated.
func (s *Service) phone(ctx context.Context, q store.Queries, id string) (Phone, error) {
	if !strings.HasPrefix(id, ids.Device) || len(id) != 20 {
		return Phone{}, errNoPhone
	}
	p, err := q.GetPendingPhone(ctx, id)
	if err == nil {
		return phoneOfPending(p), nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Phone{}, err
	}
	d, err := q.GetDevice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return Phone{}, errNoPhone
	}
	if err != nil {
		return Phone{}, err
	}
	return s.phoneOfDevice(d), nil
}

// Phone finds a phone by ID, pending or activated.
func (s *Service) Phone(ctx context.Context, id string) (Phone, error) {
	p, err := s.phone(ctx, s.st, id)
	var ae *Error
	if err != nil && !errors.As(err, &ae) {
		return Phone{}, wrap("phone", err)
	}
	return p, err
}

// PhoneQuery selects phones: every one, or those with a number.
type PhoneQuery struct {
	Number    string // "": any; else only phones with that number: pending ones, then devices
	Extension string // with Number: that extension too
	Offset    int
	Limit     int // > 0
}

// Phones lists one page of phones, the pending ones first (by creation),
// then the activated ones (by activation), and how many match.
func (s *Service) Phones(ctx context.Context, pq PhoneQuery) ([]Phone, int, error) {
	pending, err := s.st.ListPendingPhones(ctx, "")
	if err != nil {
		return nil, 0, wrap("list phones", err)
	}
	var list []Phone
	if pq.Number != "" {
		number, err := normalizeNumber(pq.Number)
		if err != nil {
			return nil, 0, err
		}
		for _, p := range pending {
			if p.Number == number && (pq.Extension == "" || p.Extension == pq.Extension) {
				list = append(list, phoneOfPending(p))
			}
		}
		devices, err := s.st.ListDevicesByNumber(ctx, number)
		if err != nil {
			return nil, 0, wrap("list phones", err)
		}
		for _, d := range devices {
			if pq.Extension == "" || d.Extension == pq.Extension {
				list = append(list, s.phoneOfDevice(d))
			}
		}
		if pq.Offset >= len(list) {
			return nil, len(list), nil
		}
		return list[pq.Offset:min(len(list), pq.Offset+pq.Limit)], len(list), nil
	}
	for i := pq.Offset; i < len(pending) && len(list) < pq.Limit; i++ {
		list = append(list, phoneOfPending(pending[i]))
	}
	devOffset := max(0, pq.Offset-len(pending))
	devices, n, err := s.st.ListDevicesPage(ctx, devOffset, max(1, pq.Limit-len(list)))
	if err != nil {
		return nil, 0, wrap("list phones", err)
	}
	if len(list) < pq.Limit {
		for _, d := range devices {
			list = append(list, s.phoneOfDevice(d))
		}
	}
	return list, len(pending) + n, nil
}

// UserPhones lists a user's phones: activated devices, then pending ones.
func (s *Service) UserPhones(ctx context.Context, nameOrID string) ([]Phone, error) {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	devices, err := s.st.ListDevices(ctx, u.ID)
	if err != nil {
		return nil, wrap("list phones", err)
	}
	pending, err := s.st.ListPendingPhones(ctx, u.ID)
	if err != nil {
		return nil, wrap("list phones", err)
	}
	out := make([]Phone, 0, len(devices)+len(pending))
	for _, d := range devices {
		out = append(out, s.phoneOfDevice(d))
	}
	for _, p := range pending {
		out = append(out, phoneOfPending(p))
	}
	return out, nil
}

// ModifyPhone changes a phone, in one transaction with its
// administrator-log row. A pending phone takes every field; a phone with a
// user keeps the platform its device reported, and one with an app stays a
// mobile.
func (s *Service) ModifyPhone(ctx context.Context, id string, f PhoneFields) (Phone, error) {
	f, err := f.check()
	if err != nil {
		return Phone{}, err
	}
	var out Phone
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if _, err := s.phone(ctx, q, id); err != nil {
			return err
		}
		desc := map[string]any{}
		set := func(key string, dst *string, v *string) {
			if v != nil {
				*dst, desc[key] = *v, *v
			}
		}
		d, err := q.GetDevice(ctx, id)
		switch {
		case err == nil:
			if f.Platform != nil && *f.Platform != "" && *f.Platform != d.Platform {
				return invalid("platform", "a phone with a user shows the platform its device reported")
			}
			if f.Type != nil {
				switch {
				case *f.Type == phoneLandline && hasApp(d):
					return invalid("type", "this phone runs an authenticator app, so it is a mobile: a landline has no app")
				case *f.Type == phoneLandline:
					d.PhoneType, desc["type"] = store.PhoneLandline, *f.Type
				default: // Mobile or Unknown: a mobile number
					d.PhoneType, desc["type"] = "", phoneMobile
				}
			}
			set("name", &d.Name, f.Name)
			set("number", &d.Number, f.Number)
			set("extension", &d.Extension, f.Extension)
			set("predelay", &d.Predelay, f.Predelay)
			set("postdelay", &d.Postdelay, f.Postdelay)
			if !hasApp(d) && d.Number == "" {
				return invalid("number", "a phone without an app needs its number")
			}

			if err := q.UpdateDevice(ctx, d); err != nil {
				return err
			}
			out = s.phoneOfDevice(d)
		case !errors.Is(err, store.ErrNotFound):
			return err
		default:
			p, err := q.GetPendingPhone(ctx, id)
			if err != nil {
				return err
			}
			set("name", &p.Name, f.Name)
			set("type", &p.Type, f.Type)
			set("platform", &p.Platform, f.Platform)
			set("number", &p.Number, f.Number)
			set("extension", &p.Extension, f.Extension)
			set("predelay", &p.Predelay, f.Predelay)
			set("postdelay", &p.Postdelay, f.Postdelay)
			if err := q.UpdatePendingPhone(ctx, p); err != nil {
				return err
			}
			out = phoneOfPending(p)
		}
		if n, ok := desc["number"].(string); ok {
			desc["number"] = MaskNumber(n) // never logged in full
		}
		return s.adminLog(ctx, q, "phone_update", id, desc)
	})
	var ae *Error
	if errors.As(err, &ae) {
		return Phone{}, err
	}
	if err != nil {
		return Phone{}, wrap("modify phone", err)
	}
	return out, nil
}

// AddUserPhone associates a phone with a user, in one transaction with its
// administrator-log row. A phone belongs to one user in Assent: a phone of
// another user is refused (remove it from that user first); the user's own
// phone is accepted as it is.
func (s *Service) AddUserPhone(ctx context.Context, nameOrID, phoneID string) error {
	if phoneID == "" {
		return invalid("phone_id", "is required")
	}
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return err
	}
	err = s.st.InTx(ctx, func(q store.Queries) error {
		ph, err := s.phone(ctx, q, phoneID)
		if err != nil {
			return err
		}
		switch {
		case ph.UserID == u.ID:
			return nil
		case ph.UserID != "":
			return invalid("phone_id", "the phone belongs to another user; in Assent a phone has one user: remove it from that user first")
		}
		p, err := q.GetPendingPhone(ctx, phoneID)
		if err != nil {
			return err
		}
		p.UserID = u.ID
		if p.Number != "" {
			// A phone with a number and a user receives SMS passcodes: it
			// becomes a device without an app, keeping its ID.
			if err := q.DeletePendingPhone(ctx, p.ID); err != nil {
				return err
			}
			if err := q.CreateDevice(ctx, numberPhoneOf(p)); err != nil {
				return err
			}
		} else if err := q.UpdatePendingPhone(ctx, p); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_associate", phoneID, map[string]any{"user_id": u.ID, "username": u.Username})
	})
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no user " + nameOrID) // deleted meanwhile
	}
	if err != nil {
		return wrap("add user phone", err)
	}
	return nil
}

// RemovePhone deletes a phone, pending or activated (with its pending
// pushes), in one transaction with its administrator-log row. userID, when
// not empty, must be the phone's user.
func (s *Service) RemovePhone(ctx context.Context, userID, id string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		ph, err := s.phone(ctx, q, id)
		if err != nil {
			return err
		}
		if userID != "" && ph.UserID != userID {
			return errNoPhone
		}
		if ph.Activated {
			err = q.DeleteDevice(ctx, id)
		} else {
			err = q.DeletePendingPhone(ctx, id)
		}
		if err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_delete", id, map[string]any{"user_id": ph.UserID, "name": ph.Name, "activated": ph.Activated})
	})
	var ae *Error
	if errors.As(err, &ae) {
		return err
	}
	if err != nil {
		return wrap("remove phone", err)
	}
	s.opts.Logger.Info("phone removed", "phone_id", id)
	return nil
}

// PhoneActivation issues an activation code for a phone (Duo's
// create_activation_url), in one transaction with its administrator-log
// row. The phone must have a user. The device that uses the code takes the
// phone's ID: a pending phone becomes that device; an activated phone is
// reactivated (the new device replaces the old one, which stops working).
func (s *Service) PhoneActivation(ctx context.Context, phoneID string, valid time.Duration) (Enrollment, error) {
	switch {
	case valid == 0:
		valid = DefaultEnrollValid
	case valid < 0 || valid > maxEnrollValid:
		return Enrollment{}, invalid("valid_secs", "must be between 1 and 2592000 (30 days)")
	}
	now := s.now()
	code := ids.Random(activationCodeLen, skeyAlphabet)
	out := Enrollment{Code: code, Expires: now.Add(valid), ActivationCode: s.activationCode(code)}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		ph, err := s.phone(ctx, q, phoneID)
		if err != nil {
			return err
		}
		switch {
		case ph.UserID == "":
			return invalid("phone_id", "the phone has no user yet: associate it with one first (POST /admin/v1/users/{user_id}/phones)")
		case ph.Type != phoneMobile:
			return invalid("phone_id", "only a phone of type mobile can be activated: set its type first")
		}
		u, err := q.GetUser(ctx, ph.UserID)
		if err != nil {
			return err
		}
		out.UserID, out.Username = u.ID, u.Username
		if err := q.CreateActivation(ctx, store.Activation{CodeHash: s.activationHash(code), UserID: u.ID, Expires: out.Expires,
			Created: now, PhoneID: ph.ID}); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "phone_activation_url", phoneID, map[string]any{"user_id": u.ID, "valid_secs": int(valid / time.Second),
			"reactivation": ph.Activated})
	})
	var ae *Error
	if errors.As(err, &ae) {
		return Enrollment{}, err
	}
	if err != nil {
		return Enrollment{}, wrap("phone activation", err)
	}
	s.opts.Logger.Info("activation code issued for a phone", "phone_id", phoneID, "user_id", out.UserID, "expires", out.Expires)
	return out, nil
}
