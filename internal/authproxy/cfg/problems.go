package cfg

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one finding about the file: an error (in Errors) or a
// warning. Line is 0 for findings about the whole file.
type Problem struct {
	File    string
	Line    int
	Section string // as written in the file, without brackets; "" for file-level
	Key     string
	Msg     string
}

// Warning is a finding that does not stop the proxy from starting.
type Warning = Problem

func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Section != "" {
		fmt.Fprintf(&b, "[%s] ", p.Section)
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Errors is every error found in one pass over the file. Parse and Load
// return it (as *Errors) whenever the file is not usable.
type Errors struct {
	Problems []Problem
}

func (e *Errors) Error() string {
	var b strings.Builder
	n := len(e.Problems)
	fmt.Fprintf(&b, "invalid authproxy configuration (%d problem", n)
	if n != 1 {
		b.WriteString("s")
	}
	b.WriteString("):")
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// sortProblems orders by line, keeping discovery order within a line.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}

// suggest returns the candidate closest to word when it is close enough
// to be a likely typo, else "".
func suggest(word string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(word, c)
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(word) >= 12 {
		limit = 3
	}
	if bestD < 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau–Levenshtein (optimal string alignment)
// distance, so a swap of two letters counts as one typo.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
