// Package bench measures Assent: a load driver (Run) with per-request
// latency histograms, the scenarios `assent bench` and the Go benchmarks
// use, a bare Go TLS "hello" server that is the ceiling Assent is compared
// with, and in-process Assent servers with benchmark fixtures.
//
// Scenarios:
//   - auth: signed POST /auth/v2/preauth then /auth/v2/auth factor=passcode
//     with an unlimited-use bypass code (each a request of its own);
//   - hello: GET / against StartHello's server;
//   - pushes: Count async pushes left pending, or Count synchronous push
//     requests held open, and the server's memory (/proc/PID/status) then;
//   - approve: the time from a device's approval to the waiting synchronous
//     /auth/v2/auth answering.
//
// Everything is bounded (MaxConcurrency, MaxDuration, MaxPushes, …) and
// talks only to the host it is given or to servers it starts on 127.0.0.1.
// The performance targets are checked by benchmarks and docs/benchmarks.md,
// never by timing assertions in tests.
package bench
