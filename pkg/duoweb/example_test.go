package duoweb_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/assent-auth/assent/pkg/duoweb"
)

// Keys of a websdk integration (ikey, skey) and the application's own
// secret (akey, at least 40 random characters, never sent anywhere).
const (
	ikey = "DIXXXXXXXXXXXXXXXXXX"
	skey = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"
	akey = "useacustomerprovidedapplicationsecretkey"
)

// After the password check, sign a request for the user and render it into
// the page that loads Duo-Web-v2.js.
func ExampleSignRequest() {
	sigRequest, err := duoweb.SignRequest(ikey, skey, akey, "alice")
	if err != nil {
		// err.Error() is the SDKs' "ERR|…" text.
		fmt.Println(err)
		return
	}
	tx, app, _ := strings.Cut(sigRequest, ":")
	fmt.Println(strings.HasPrefix(tx, "TX|"), strings.HasPrefix(app, "APP|"))

	_, err = duoweb.SignRequest(ikey, skey, akey, "in|valid")
	fmt.Println(err)
	// Output:
	// true true
	// ERR|The username passed to sign_request() is invalid.
}

// When the page posts sig_response back, verify it: the result is the user
// who completed the second factor.
func ExampleVerifyResponse() {
	// A clock fixed for the example; applications use the package functions.
	sdk := duoweb.SDK{Now: func() time.Time { return time.Unix(2247140621, 0) }}
	sigRequest, _ := sdk.SignRequest(ikey, skey, akey, "testuser")
	_, app, _ := strings.Cut(sigRequest, ":")

	// What the prompt posted (Duo's published test response for "testuser").
	auth := "AUTH|dGVzdHVzZXJ8RElYWFhYWFhYWFhYWFhYWFhYWFh8MjI0NzE0MDkyMQ==|d5fa72f8ba5f3d37d70dad615ff4901a77d46989"
	user, err := sdk.VerifyResponse(ikey, skey, akey, auth+":"+app)
	fmt.Println(user, err)
	// Output: testuser <nil>
}

// The prompt server's side: read the ikey from the TX half to find the
// integration, verify the half with its secret key, and answer AUTH.
func ExampleVerifyValue() {
	now := time.Unix(2247140621, 0)
	tx := "TX|dGVzdHVzZXJ8RElYWFhYWFhYWFhYWFhYWFhYWFh8MjI0NzE0MDkyMQ==|3e2f18ea774989947e0f47351eed55db9680be7d"

	peek, err := duoweb.PeekValue(tx) // untrusted until verified
	if err != nil {
		fmt.Println(err)
		return
	}
	// … look up the integration peek.IKey and its secret key …
	v, err := duoweb.VerifyValue(skey, tx, duoweb.PrefixTX, peek.IKey, now)
	if err != nil {
		fmt.Println(err)
		return
	}
	answer := duoweb.Value{Prefix: duoweb.PrefixAuth, Username: v.Username, IKey: v.IKey, Expires: now.Add(duoweb.DuoExpire)}
	fmt.Println(answer.Sign(skey))
	// Output: AUTH|dGVzdHVzZXJ8RElYWFhYWFhYWFhYWFhYWFhYWFh8MjI0NzE0MDkyMQ==|d5fa72f8ba5f3d37d70dad615ff4901a77d46989
}
