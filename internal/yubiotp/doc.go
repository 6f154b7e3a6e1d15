// Package yubiotp parses and validates YubiKey OTPs (Yubico OTP mode)
// locally, without Yubico's cloud: an OTP is a modhex public identity of 0
// to 16 bytes followed by 32 modhex characters, one AES-128 block encrypted
// with the key's AES key (ECB, a single block). The plaintext carries the
// 6-byte private identity, a 15-bit use counter (the top bit records the
// caps-lock state), a 24-bit timestamp, an 8-bit session counter, 16 random
// bits and a CRC-16 (ISO 13239) whose residue over the whole block is
// 0xf0b8.
//
// The package is a leaf: it knows nothing of users or storage. A validator
// looks the token up by public identity, calls Verify with the token's AES
// key and private identity, and accepts the OTP only when Newer reports that
// its counters are past the last ones accepted (a replay is refused).
//
// The format and the test vectors come from Yubico's yubico-c library
// (test-vectors.txt and tests/selftest.c).
package yubiotp
