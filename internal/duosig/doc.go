// Package duosig implements Duo's HMAC request signing ("canonicalization"
// versions 1, 2, 4 and 5 with HMAC-SHA1 or HMAC-SHA512) for both sides of
// the wire: Verifier checks incoming Auth/Admin API requests the way Duo's
// many clients actually sign them, and Signer produces requests the way
// duo_api_golang does, for Assent's own tools.
//
// The server side is deliberately lenient where real clients disagree
// (which host string is signed, which date header carries the timestamp,
// the "Basic:" scheme sent by PowerShell scripts, SHA1 versus SHA512) and
// strict where it matters: every accepted request must carry a valid HMAC
// under the integration's secret key, compared in constant time, and any
// date header present must be within the clock-skew window.
//
// The protocol is described in the project's Duo wire-protocol
// specification, section 1 (request signing) and §5.3 (device requests).
package duosig
