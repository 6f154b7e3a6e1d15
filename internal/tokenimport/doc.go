// Package tokenimport reads hardware-token files as vendors and Duo's
// Admin Panel take them: CSV lines (ParseCSV) and RFC 6030 PSKC key
// containers, plain or encrypted with a pre-shared key (ParsePSKC). It
// returns the tokens to create; it knows nothing of the store, which the
// caller fills (serials it already holds are the caller's business).
//
// Token types are Duo's: h6 and h8 (HOTP, 6 or 8 digits), t6 and t8 (TOTP,
// with a time step), yk (YubiKey OTP: private identity and AES key).
// Secrets are hexadecimal, as Duo's token import and Admin API take them;
// base32 is accepted where a vendor's file uses it (see ParseCSV).
//
// Parsers of untrusted files: sizes are bounded, every problem is reported
// with its line (all of them, not only the first; see Error), and nothing
// is returned when anything is wrong, so an import is all or nothing.
// Secrets never appear in error messages.
package tokenimport
