// Package duosig implements Duo's HMAC request signing ("canonicalization"
// versions 1, 2, 4 and 5 with HMAC-SHA1 or HMAC-SHA512) for both sides of
// the wire: Verifier checks incoming Auth/Admin API requests the way Duo's
// many clients actually sign them, and Signer produces requests the way
// duo_api_golang does, for Assent's own tools.
//
// The server side is deliberately lenient where real clients disagree
// (whether the signed host carries its port, which date header carries the
// timestamp, the "Basic:" scheme sent by PowerShell scripts, SHA1 versus
// SHA512) and strict where it matters: every accepted request must carry a
// valid HMAC under the integration's secret key, compared in constant time,
// over one of the server's own configured names and a date within the
// clock-skew window. Only routes that opt in (WithUndatedV1) accept the
// undated, replayable version 1.
//
// The protocol is described in the project's Duo wire-protocol
// specification, section 1 (request signing) and §5.3 (device requests).
package duosig
